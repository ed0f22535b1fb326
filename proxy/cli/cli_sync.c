/*
 * cli_sync.c - `ctlmirror sync`: one sync round from the command line, with
 * the same code the daemon runs on its timer.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "proxy/cli/cli.h"
#include "proxy/sync.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror sync [-c CONFIG] [--store DIR] [--now TIME] [--certs] [--json]\n"
	    "\n"
	    "Runs one sync round: fetches each list from the upstreams in order\n"
	    "(conditional GET), verifies what is new and records it, and reports per kind\n"
	    "what happened. --certs fetches the root certificates the served authroot CTL\n"
	    "lists and the store lacks, instead. --now sets the verification time.\n"
	    "\n"
	    "Exit status: 0 every kind reached an upstream; 1 some did not; 2 usage\n"
	    "error; 3 the store or the anchors could not be read.\n");
}

struct sync_opts {
	const char *now;
	int certs;
};

static int
take(int c, const char *arg, void *ctx)
{
	struct sync_opts *so = ctx;

	switch (c) {
	case 'n':
		so->now = arg;
		return 0;
	case 'C':
		so->certs = 1;
		return 0;
	default:
		return EXIT_USAGE;
	}
}

static void
on_done(struct sync_ctx *ctx, void *arg)
{
	(void)ctx;
	event_base_loopbreak(arg);
}

int
cli_sync(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "now", required_argument, NULL, 'n' },
		{ "certs", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o;
	struct sync_opts so = { NULL, 0 };
	struct config cfg;
	struct sync_ctx ctx;
	char err[CONFIG_PATH_MAX + 256];
	struct reverify_result healed;
	struct report_sync state;
	struct event_base *base = NULL;
	time_t now = time(NULL);
	int status, k, all_ok = 1;

	memset(&ctx, 0, sizeof(ctx));
	status = cli_parse(argc, argv, extra, take, &so, &o, &cfg, "sync", usage);
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto out;
	}
	if (optind != argc) {
		usage(stderr);
		status = EXIT_USAGE;
		goto out;
	}
	if (so.now != NULL && (status = cli_time(so.now, &now, "sync")) != 0)
		goto out;
	if ((status = cli_store_open(&cfg, 0, &ctx.store, "sync")) != 0)
		goto out;
	ctx.cfg = &cfg;
	/* the trust set; copies quarantined for want of it are verified again */
	if (sync_trust_refresh(&ctx, now, err, sizeof(err)) < 0) {
		fprintf(stderr, "ctlmirror sync: %s\n", err);
		status = EXIT_IO;
		goto out;
	}
	healed = ctx.reverified;
	status = EXIT_IO;
	if ((base = event_base_new()) == NULL || (ctx.fetcher = fetcher_new(base)) == NULL) {
		fprintf(stderr, "ctlmirror sync: cannot start the event loop or libcurl\n");
		goto out;
	}
	ctx.certs_only = so.certs;
	/* the daemon's events for a round: a kind that fails writes "sync failed" */
	memset(&state, 0, sizeof(state));
	ctx.state = &state;
	ctx.done = on_done;
	ctx.done_arg = base;
	if (sync_start(&ctx, now) != 0) {
		fprintf(stderr, "ctlmirror sync: cannot start the round\n");
		goto out;
	}
	if (ctx.running)
		event_base_dispatch(base);
	/* what the trust refresh before the round and the round itself healed */
	healed.checked += ctx.reverified.checked;
	healed.admitted += ctx.reverified.admitted;
	healed.rollbacks += ctx.reverified.rollbacks;
	if (so.certs) {
		if (o.json)
			printf("{\"certs_fetched\":%zu,\"certs_failed\":%zu}\n", ctx.certs_fetched,
			    ctx.certs_failed);
		else
			printf("certificates: %zu fetched, %zu failed\n", ctx.certs_fetched,
			    ctx.certs_failed);
		status = ctx.certs_failed == 0 ? 0 : 1;
		goto out;
	}
	if (o.json) {
		struct json j;

		json_init(&j, stdout);
		json_begin(&j, NULL, '{');
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
			json_begin(&j, ctl_kind_str((enum ctl_kind)k), '{');
			json_bool(&j, "ok", ctx.outcome[k].ok);
			json_str(&j, "result", ctx.outcome[k].result);
			json_str(&j, "sequence", ctx.outcome[k].sequence[0] ? ctx.outcome[k].sequence : NULL);
			json_str(&j, "text", ctx.outcome[k].text);
			json_end(&j, '}');
		}
		json_int(&j, "certs_fetched", (long long)ctx.certs_fetched);
		json_int(&j, "certs_failed", (long long)ctx.certs_failed);
		json_int(&j, "anchors_fetched", (long long)ctx.anchors_fetched);
		json_begin(&j, "reverified", '{');
		json_int(&j, "checked", (long long)healed.checked);
		json_int(&j, "admitted", (long long)healed.admitted);
		json_int(&j, "rollbacks", (long long)healed.rollbacks);
		json_end(&j, '}');
		json_end(&j, '}');
		putchar('\n');
	} else {
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
			printf("%-10s %-11s %s\n", ctl_kind_str((enum ctl_kind)k),
			    ctx.outcome[k].result, ctx.outcome[k].text);
		if (ctx.certs_fetched + ctx.certs_failed > 0)
			printf("certificates: %zu fetched, %zu failed\n", ctx.certs_fetched,
			    ctx.certs_failed);
		if (ctx.anchors_fetched > 0)
			printf("trust: %zu pinned root%s fetched from upstream\n",
			    ctx.anchors_fetched, ctx.anchors_fetched == 1 ? "" : "s");
		if (healed.checked > 0)
			printf("trust: %zu quarantined cop%s verified again, %zu admitted\n",
			    healed.checked, healed.checked == 1 ? "y" : "ies", healed.admitted);
	}
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		all_ok &= ctx.outcome[k].ok;
	status = all_ok ? 0 : 1;
out:
	sync_free(&ctx);
	fetcher_free(ctx.fetcher);
	if (base != NULL)
		event_base_free(base);
	store_close(ctx.store);
	return status;
}
