/*
 * main.c - ctlmirror: a verifying mirror for Windows' certificate trust lists.
 * Dispatches to the admin commands in cli_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "ctlmirror_version.h"
#include "proxy/cli/cli.h"
#include "proxy/lang.h"

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} commands[] = {
	{ "serve", cli_serve, "run the mirror: serve verified lists to Windows clients" },
	{ "sync", cli_sync, "fetch the lists from upstream now, verify, record" },
	{ "verify", cli_verify, "check CTL files (.cab or .stl) and explain the verdict" },
	{ "import", cli_import, "verify files and record them in the store" },
	{ "versions", cli_versions, "list every stored version with its status" },
	{ "show", cli_show, "everything known about one version" },
	{ "status", cli_status, "what is served per kind, signer expiry, health" },
	{ "reverify", cli_reverify, "verify again what was quarantined for want of trust" },
	{ "pin", cli_pin, "serve one admitted version until unpinned" },
	{ "unpin", cli_unpin, "serve the newest verified version again" },
	{ "diff", cli_diff, "roots added, removed and changed between two versions" },
	{ "export", cli_export, "write the served files as a static RootDirURL tree" },
	{ "events", cli_events, "the audit log" },
	{ "gc", cli_gc, "remove old versions, keeping served, pinned and the newest" },
	{ "client-setup", cli_client_setup, "a .reg file or PowerShell script pointing a Windows client here" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: ctlmirror COMMAND [OPTIONS] [ARGS]\n"
	    "\n"
	    "A local mirror for the certificate trust lists Windows downloads from\n"
	    "ctldl.windowsupdate.com: it serves clients only copies whose signatures verify.\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
	    "\n"
	    "Every command reads -c CONFIG, else /etc/ctlmirror/ctlmirror.conf when it\n"
	    "exists ($CTLMIRROR_CONFIG names another file; empty: none, the embedded defaults).\n"
	    "Messages for people are in English or Japanese: --lang ja|en, else LANG/LC_MESSAGES.\n"
	    "Run 'ctlmirror COMMAND --help' for a command's options.\n"
	    "Exit status: 0 success, 1 a check failed, 2 usage error, 3 input unreadable.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	lang_init();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ctlmirror %s\n", CTLMIRROR_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ctlmirror: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
