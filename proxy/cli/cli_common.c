/*
 * cli_common.c - what the admin commands share: config, store, trust, output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/cli/cli.h"
#include "proxy/hex.h"
#include "proxy/lang.h"
#include "proxy/trust.h"
#include "verify/isotime.h"

int
cli_config(struct config *cfg, const char *path, const char *cmd)
{
	char err[512];

	if (path == NULL)
		return 0;
	if (config_load(cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "ctlmirror %s: %s\n", cmd, err);
		return EXIT_USAGE;
	}
	return 0;
}

const char *
cli_config_path(const struct cli_opts *o)
{
	const char *env;

	if (o->config != NULL)
		return o->config;
	if ((env = getenv("CTLMIRROR_CONFIG")) != NULL)
		return *env != '\0' ? env : NULL;
	return access(CONFIG_DEFAULT_FILE, F_OK) == 0 ? CONFIG_DEFAULT_FILE : NULL;
}

int
cli_common_option(int c, struct cli_opts *o)
{
	switch (c) {
	case 'c':
		o->config = optarg;
		return 1;
	case 'S':
		o->store = optarg;
		return 1;
	case 'j':
		o->json = 1;
		return 1;
	case 'h':
		o->help = 1;
		return 1;
	case 'L':
		o->lang = optarg;
		return 1;
	default:
		return 0;
	}
}

int
cli_setup(const struct cli_opts *o, struct config *cfg, const char *cmd,
    void (*usage)(FILE *))
{
	int rc;

	if (o->lang != NULL && lang_select(o->lang) != 0) {
		fprintf(stderr, "ctlmirror %s: --lang takes ja or en, not '%s'\n", cmd, o->lang);
		return EXIT_USAGE;
	}
	if (o->help) {
		usage(stdout);
		return -1;
	}
	config_defaults(cfg);
	if ((rc = cli_config(cfg, cli_config_path(o), cmd)) != 0)
		return rc;
	if (o->store != NULL) {
		if (strlen(o->store) >= sizeof(cfg->store)) {
			fprintf(stderr, "ctlmirror %s: --store path too long\n", cmd);
			return EXIT_USAGE;
		}
		snprintf(cfg->store, sizeof(cfg->store), "%s", o->store);
	}
	return 0;
}

int
cli_parse(int argc, char **argv, const struct option *extra, cli_take_fn take,
    void *ctx, struct cli_opts *o, struct config *cfg, const char *cmd,
    void (*usage)(FILE *))
{
	static const struct option common[] = { CLI_COMMON_OPTIONS };
	struct option all[32];
	size_t n = 0, i;
	int c, rc;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		all[n++] = common[i];
	for (i = 0; extra != NULL && extra[i].name != NULL && n < 31; i++)
		all[n++] = extra[i];
	memset(&all[n], 0, sizeof(all[n]));
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, all, NULL)) != -1) {
		if (cli_common_option(c, o))
			continue;
		if (c == '?' || c == ':' || take == NULL) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if ((rc = take(c, optarg, ctx)) != 0)
			return rc;
	}
	return cli_setup(o, cfg, cmd, usage);
}

const struct option cli_kind_option[] = {
	{ "kind", required_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 },
};

int
cli_take_kind(int c, const char *arg, void *ctx)
{
	enum ctl_kind *kind = ctx;

	if (c != 'k' || (*kind = ctl_kind_parse(arg)) == KIND_UNKNOWN) {
		fprintf(stderr, "ctlmirror: --kind must be authroot, disallowed or pinrules\n");
		return EXIT_USAGE;
	}
	return 0;
}

const struct option cli_trust_options[] = {
	{ "at", required_argument, NULL, 't' },
	{ "anchors", required_argument, NULL, 'a' },
	{ "pin", required_argument, NULL, 'p' },
	{ "kind", required_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 },
};

int
cli_take_trust(int c, const char *arg, void *ctx)
{
	struct cli_trust_opts *t = ctx;

	switch (c) {
	case 't':
		t->at = arg;
		return 0;
	case 'a':
		t->anchors = arg;
		return 0;
	case 'p':
		t->pins[t->n_pins++] = (char *)arg;
		return 0;
	case 'k':
		t->kind = arg;
		return 0;
	default:
		return EXIT_USAGE;
	}
}

static time_t
real_clock(void *arg)
{
	(void)arg;
	return time(NULL);
}

int
cli_store_open(const struct config *cfg, int readonly, struct store **s,
    const char *cmd)
{
	char err[512];
	enum store_err rc;

	size_t lapsed;

	rc = store_open(cfg->store, cfg->map_size_mb, readonly, s, err, sizeof(err));
	if (rc != STORE_OK) {
		fprintf(stderr, "ctlmirror %s: %s\n", cmd, err);
		return EXIT_IO;
	}
	/* events say when they happened, whatever --at judged them at */
	store_set_clock(*s, real_clock, NULL);
	/* failed copies keep their bytes within the configured budget */
	store_set_failed_budget(*s, cfg->failed_keep, config_failed_budget_bytes(cfg));
	/* a pin whose end has come lapses at the first write that sees it */
	if (!readonly && store_pin_lapse(*s, time(NULL), &lapsed) == STORE_OK && lapsed > 0)
		fprintf(stderr, "ctlmirror %s: %zu pin%s lapsed: the newest verified version is "
		    "served again\n", cmd, lapsed, lapsed == 1 ? "" : "s");
	return 0;
}

int
cli_trust_load(const struct config *cfg, const char *dir, char *const *pins,
    size_t n_pins, struct store *s, struct trust *t, const char *cmd)
{
	char err[CONFIG_PATH_MAX + 256];

	switch (trust_load(cfg, dir, pins, n_pins, s, t, err, sizeof(err))) {
	case TRUST_OK:
		break;
	case TRUST_BAD_PIN:
		fprintf(stderr, "ctlmirror %s: %s\n", cmd, err);
		return EXIT_USAGE;
	default:
		fprintf(stderr, "ctlmirror %s: %s\n", cmd, err);
		return EXIT_IO;
	}
	if (t->kept == 0)
		fprintf(stderr, "ctlmirror %s: warning: no certificate%s%s matches a pinned "
		    "anchor, so nothing can verify: %s\n", cmd, t->no_dir ? "" : " in ",
		    t->no_dir ? "" : dir != NULL ? dir : cfg->anchors,
		    trust_advice(cfg, err, sizeof(err)));
	return 0;
}

int
cli_time(const char *text, time_t *t, const char *cmd)
{
	if (!isotime_parse(text, t)) {
		fprintf(stderr, "ctlmirror %s: '%s' is not an ISO 8601 time (e.g. 2024-06-01T00:00:00Z)\n",
		    cmd, text);
		return EXIT_USAGE;
	}
	return 0;
}

void
cli_json_version(struct json *j, const struct version *v)
{
	char sha[65];

	hex_encode(v->sha256, sizeof(v->sha256), 0, sha);
	json_str(j, "kind", ctl_kind_str(v->kind));
	json_str(j, "sequence", v->sequence[0] ? v->sequence : NULL);
	json_str(j, "sha256", sha);
	json_time(j, "this_update", v->this_update, v->this_update != 0);
	json_time(j, "first_seen", v->first_seen, 1);
	json_str(j, "status", version_status_str(v->status));
	json_str(j, "reason", vfy_reason_str(v->reason));
	json_str(j, "detail", v->detail);
	json_str(j, "source", v->source);
	json_int(j, "size", (long long)v->size);
	json_bool(j, "bytes_dropped", v->bytes_dropped);
	json_int(j, "entries", (long long)v->n_entries);
	json_time(j, "chain_valid_from", v->chain_valid_from, v->has_chain);
	json_time(j, "chain_valid_to", v->chain_valid_to, v->has_chain);
}

int
cli_store_fail(struct store *s, enum store_err err, const char *cmd)
{
	const char *detail = s != NULL ? store_last_error(s) : "";

	fprintf(stderr, "ctlmirror %s: %s%s%s\n", cmd, store_strerror(err),
	    detail[0] ? ": " : "", detail);
	switch (err) {
	case STORE_ERR_REFUSED:
	case STORE_ERR_NOTFOUND:
	case STORE_ERR_AMBIGUOUS:
		return 1;
	default:
		return EXIT_IO;
	}
}
