/*
 * cli_reverify.c - `ctlmirror reverify`: copies quarantined for want of
 * trust, verified again with the trust set as it is now.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proxy/cli/cli.h"
#include "proxy/reverify.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror reverify [-c CONFIG] [--store DIR] [--kind KIND] [--json]\n"
	    "\n"
	    "Verifies again, at the time each was first seen, every stored copy that was\n"
	    "quarantined for a reason of this machine's trust set (NO_CHAIN, UNTRUSTED_ROOT:\n"
	    "the anchors or intermediates it had then). One that verifies now is admitted\n"
	    "and served by the usual rule; an event names its old and new verdict. Copies\n"
	    "that failed for a reason of their own bytes are not looked at. The daemon does\n"
	    "this by itself whenever its trust set changes.\n"
	    "\n"
	    "Exit status: 0 done (whatever was admitted); 2 usage error; 3 the store or the\n"
	    "anchors could not be read.\n");
}

int
cli_reverify(int argc, char **argv)
{
	struct cli_opts o;
	struct config cfg;
	struct trust trust;
	struct reverify_result r;
	struct store *s = NULL;
	enum ctl_kind kind = KIND_UNKNOWN;
	enum store_err err;
	int status;

	memset(&trust, 0, sizeof(trust));
	status = cli_parse(argc, argv, cli_kind_option, cli_take_kind, &kind, &o, &cfg,
	    "reverify", usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 0, &s, "reverify")) != 0 ||
	    (status = cli_trust_load(&cfg, NULL, NULL, 0, s, &trust, "reverify")) != 0)
		goto out;
	if ((err = reverify_all(s, &trust, kind, time(NULL), &r)) != STORE_OK) {
		status = cli_store_fail(s, err, "reverify");
		goto out;
	}
	if (o.json)
		printf("{\"checked\":%zu,\"admitted\":%zu,\"rollbacks\":%zu,\"quarantined\":%zu,"
		    "\"skipped\":%zu}\n", r.checked, r.admitted, r.rollbacks,
		    r.checked - r.admitted - r.rollbacks, r.skipped);
	else
		printf("%zu quarantined cop%s verified again: %zu admitted, %zu rollback%s, "
		    "%zu still quarantined\n", r.checked, r.checked == 1 ? "y" : "ies",
		    r.admitted, r.rollbacks, r.rollbacks == 1 ? "" : "s",
		    r.checked - r.admitted - r.rollbacks);
	if (!o.json && r.skipped > 0)
		printf("%zu skipped: bytes dropped (failed-copy budget)\n", r.skipped);
out:
	trust_free(&trust);
	store_close(s);
	return status;
}
