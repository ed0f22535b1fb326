/*
 * cli_serve.c - `ctlmirror serve`: its options, then the daemon (server.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proxy/cli/cli.h"
#include "proxy/serve/server.h"
#include "verify/isotime.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror serve [-c CONFIG] [--store DIR] [--listen ADDR]... [--now TIME]\n"
	    "\n"
	    "Runs the mirror: serves the verified lists from the store to Windows clients\n"
	    "as a forward proxy, by DNS (Host: ctldl.windowsupdate.com) and under the flat\n"
	    "prefix (RootDirURL), plus /_ctlmirror/{status,status.json,metrics,healthz}.\n"
	    "\n"
	    "  --listen ADDR  host:port or [v6addr]:port; repeatable; replaces 'listen ='\n"
	    "  --now TIME     run as if the clock read TIME (ISO 8601) at start; it runs on\n"
	    "                 from there: for rehearsals and tests, never in production\n"
	    "\n"
	    "Signals: TERM/INT drain and exit; HUP re-reads the config and reopens the log.\n");
}

/* --listen values, kept apart until the config is read, and --now. */
struct serve_opts {
	struct config listen;
	const char *now;
};

static int
take_opt(int c, const char *arg, void *ctx)
{
	struct serve_opts *so = ctx;
	struct config *listen = &so->listen;

	if (c == 'n') {
		so->now = arg;
		return 0;
	}
	if (c != 'l')
		return EXIT_USAGE;
	if (listen->n_listen == CONFIG_MAX_LIST || strlen(arg) >= sizeof(listen->listen[0])) {
		fprintf(stderr, "ctlmirror serve: too many or too long --listen\n");
		return EXIT_USAGE;
	}
	snprintf(listen->listen[listen->n_listen++], sizeof(listen->listen[0]), "%s", arg);
	return 0;
}

int
cli_serve(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "now", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	static struct serve_opts so;	/* large: a whole config */
	static struct config cfg;
	struct cli_opts o;
	time_t skew = 0;
	int status;

	memset(&so, 0, sizeof(so));
	status = cli_parse(argc, argv, extra, take_opt, &so, &o, &cfg, "serve", usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (so.listen.n_listen > 0) {
		memcpy(cfg.listen, so.listen.listen, sizeof(cfg.listen));
		cfg.n_listen = so.listen.n_listen;
	}
	if (so.now != NULL) {
		time_t t;

		if (!isotime_parse(so.now, &t)) {
			fprintf(stderr, "ctlmirror serve: --now: not an ISO 8601 time: %s\n", so.now);
			return EXIT_USAGE;
		}
		skew = t - time(NULL);
	}
	return server_run(&cfg, cli_config_path(&o), skew) == 0 ? 0 : EXIT_IO;
}
