/*
 * cli_admin.c - the commands that change the store or write files:
 * pin, unpin, gc, export.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/cli/cli.h"
#include "proxy/cli/export.h"
#include "proxy/hex.h"
#include "verify/isotime.h"

/* ---- pin / unpin ---- */

static void
pin_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror pin [-c CONFIG] [--store DIR] [--until TIME] [--reason TEXT]\n"
	    "                     [--force] VERSION\n"
	    "\n"
	    "Serves VERSION (a sequence number or a sha256 prefix) for its kind until\n"
	    "'ctlmirror unpin' or TIME, whatever newer versions arrive. Any version that\n"
	    "verified when first seen can be pinned, whatever order it arrived in (an\n"
	    "older list that still holds a root the site needs, say); a quarantined copy is\n"
	    "refused with its reason. A version whose signing chain has already expired\n"
	    "needs --force: Windows clients log CAPI2 event 4107 for it.\n"
	    "\n"
	    "  --until TIME   the pin lapses by itself at TIME (ISO 8601), logged\n"
	    "  --reason TEXT  why, shown by status, the status page and the metrics\n"
	    "  --force        pin a version whose signing chain has expired\n");
}

struct pin_args {
	const char *until, *reason;
	int force;
};

static int
take_pin(int c, const char *arg, void *ctx)
{
	struct pin_args *pa = ctx;

	switch (c) {
	case 'u':
		pa->until = arg;
		return 0;
	case 'r':
		pa->reason = arg;
		return 0;
	case 'F':
		pa->force = 1;
		return 0;
	default:
		return EXIT_USAGE;
	}
}

int
cli_pin(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "until", required_argument, NULL, 'u' },
		{ "reason", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct pin_args pa = { NULL, NULL, 0 };
	struct pin_opts po;
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	struct version v;
	enum store_err err;
	time_t now = time(NULL);
	char t[ISOTIME_LEN];
	int status;

	status = cli_parse(argc, argv, extra, take_pin, &pa, &o, &cfg, "pin", pin_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc - 1) {
		pin_usage(stderr);
		return EXIT_USAGE;
	}
	memset(&po, 0, sizeof(po));
	po.reason = pa.reason;
	po.force = pa.force;
	if (pa.until != NULL && (status = cli_time(pa.until, &po.until, "pin")) != 0)
		return status;
	if ((status = cli_store_open(&cfg, 0, &s, "pin")) != 0)
		return status;
	if ((err = store_find(s, argv[optind], &v)) != STORE_OK ||
	    (err = store_pin(s, v.sha256, now, &po)) != STORE_OK) {
		status = cli_store_fail(s, err, "pin");
		goto out;
	}
	if (po.until != 0)
		printf("pinned %s %s: it is served until %s, or 'ctlmirror unpin --kind %s'\n",
		    ctl_kind_str(v.kind), v.sequence, isotime_format(po.until, t, sizeof(t)),
		    ctl_kind_str(v.kind));
	else
		printf("pinned %s %s: it is served until 'ctlmirror unpin --kind %s'\n",
		    ctl_kind_str(v.kind), v.sequence, ctl_kind_str(v.kind));
	if (v.has_chain && !v.timestamp_verified && v.chain_valid_to < now)
		printf("warning: its signing chain expired at %s: Windows clients log CAPI2 "
		    "event 4107 for it and keep the list they have\n",
		    isotime_format(v.chain_valid_to, t, sizeof(t)));
out:
	store_close(s);
	return status;
}

static void
unpin_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror unpin [-c CONFIG] [--store DIR] [--kind K]\n"
	    "\n"
	    "Removes the pin of kind K (default authroot): the newest verified version is\n"
	    "served again.\n");
}

int
cli_unpin(int argc, char **argv)
{
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	enum ctl_kind kind = KIND_AUTHROOT;
	enum store_err err;
	int status;

	status = cli_parse(argc, argv, cli_kind_option, cli_take_kind, &kind, &o, &cfg, "unpin", unpin_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		unpin_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 0, &s, "unpin")) != 0)
		return status;
	if ((err = store_unpin(s, kind, time(NULL))) != STORE_OK) {
		if (err == STORE_ERR_NOTFOUND)
			fprintf(stderr, "ctlmirror unpin: no %s version is pinned\n", ctl_kind_str(kind));
		status = err == STORE_ERR_NOTFOUND ? 1 : cli_store_fail(s, err, "unpin");
		goto out;
	}
	printf("unpinned %s: the newest verified version is served\n", ctl_kind_str(kind));
out:
	store_close(s);
	return status;
}

/* ---- gc ---- */

static void
gc_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror gc [-c CONFIG] [--store DIR] [--keep N]\n"
	    "\n"
	    "Removes old versions and their files, keeping for each kind the served, the\n"
	    "pinned and the newest N versions (default 3).\n");
}

static int
take_keep(int c, const char *arg, void *ctx)
{
	char *end;
	unsigned long n;

	if (c != 'k')
		return EXIT_USAGE;
	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || *arg == '-' || *arg == '\0' || n > 1000000) {
		fprintf(stderr, "ctlmirror gc: --keep takes a number\n");
		return EXIT_USAGE;
	}
	*(size_t *)ctx = n;
	return 0;
}

int
cli_gc(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "keep", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	size_t keep = 3, removed = 0;
	enum store_err err;
	int status;

	status = cli_parse(argc, argv, extra, take_keep, &keep, &o, &cfg, "gc", gc_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		gc_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 0, &s, "gc")) != 0)
		return status;
	if ((err = store_gc(s, keep, time(NULL), &removed)) != STORE_OK) {
		status = cli_store_fail(s, err, "gc");
		goto out;
	}
	printf("removed %zu version%s\n", removed, removed == 1 ? "" : "s");
out:
	store_close(s);
	return status;
}

/* ---- export ---- */

static void
export_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror export [-c CONFIG] [--store DIR] [--allow-missing] DIR\n"
	    "\n"
	    "Writes the served files (authrootstl.cab, authrootseq.txt,\n"
	    "disallowedcertstl.cab, pinrulesstl.cab and the listed roots' <SHA1>.crt) to\n"
	    "DIR, for any web server or file share to serve as RootDirURL. The tree is\n"
	    "built beside DIR and renamed into place: DIR is never half-written.\n"
	    "A listed root whose certificate the store lacks is named on stderr, and DIR\n"
	    "is left as it was (exit 1; 'ctlmirror sync --certs' fetches them), unless\n"
	    "--allow-missing: then the tree is written without them.\n"
	    "\n"
	    "Exit status: 0 written; 1 listed roots missing (not written); 2 usage error;\n"
	    "3 the store or DIR could not be read or written.\n");
}

static int
export_take(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c != 'M')
		return EXIT_USAGE;
	*(int *)ctx = 1;
	return 0;
}

int
cli_export(int argc, char **argv)
{
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	static const struct option extra[] = {
		{ "allow-missing", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_result r;
	char err[512], name[HEX_CRT_NAME_LEN];
	size_t i;
	int status, allow_missing = 0, rc;

	memset(&r, 0, sizeof(r));
	status = cli_parse(argc, argv, extra, export_take, &allow_missing, &o, &cfg, "export",
	    export_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc - 1) {
		export_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 1, &s, "export")) != 0)
		return status;
	rc = export_tree(s, argv[optind], allow_missing, &r, err, sizeof(err));
	for (i = 0; rc >= 0 && i < r.n_missing; i++) {
		hex_crt_name(r.missing[i], name);
		fprintf(stderr, "ctlmirror export: %s: missing %s (listed, not in the store)\n",
		    allow_missing ? "warning" : "error", name);
	}
	if (rc != 0) {
		fprintf(stderr, "ctlmirror export: %s%s\n", err, rc > 0 ?
		    "; 'ctlmirror sync --certs' fetches them, --allow-missing exports without them" : "");
		status = rc > 0 ? EXIT_VERIFY_FAILED : EXIT_IO;
		goto out;
	}
	printf("exported %zu list%s and %zu root certificate%s to %s", r.lists,
	    r.lists == 1 ? "" : "s", r.certs, r.certs == 1 ? "" : "s", argv[optind]);
	if (r.n_missing > 0)
		printf(" (%zu listed root%s missing)", r.n_missing, r.n_missing == 1 ? "" : "s");
	printf("\n");
	if (r.lists == 0)
		fprintf(stderr, "ctlmirror export: warning: nothing is servable; the tree is empty\n");
out:
	export_result_free(&r);
	store_close(s);
	return status;
}
