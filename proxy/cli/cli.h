/*
 * cli.h - the admin commands of the one `ctlmirror` binary, and what they share.
 *
 * Each command takes its own argv (argv[0] is the command name) and returns
 * the process exit status:
 *   0  success
 *   1  the command ran, but what it reports is a failure (a file did not
 *      verify or was quarantined, a pin was refused, health is not ok)
 *   2  usage error (unknown option, bad value, bad config)
 *   3  an input, the anchors or the store could not be read or written
 */
#ifndef CTLMIRROR_CLI_H
#define CTLMIRROR_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include <openssl/x509.h>

#include "proxy/config.h"
#include "proxy/json.h"
#include "proxy/trust.h"
#include "store/store.h"
#include "verify/anchors.h"

#define EXIT_VERIFY_FAILED 1
#define EXIT_USAGE 2
#define EXIT_IO 3

/* A CTL file is under 1 MB in practice; twice the member bound leaves room for odd CABs. */
#define CLI_FILE_MAX (2u * 16 * 1024 * 1024)

int cli_verify(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_versions(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_events(int argc, char **argv);
int cli_pin(int argc, char **argv);
int cli_unpin(int argc, char **argv);
int cli_gc(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_sync(int argc, char **argv);
int cli_reverify(int argc, char **argv);
int cli_client_setup(int argc, char **argv);

/* The options every command takes. */
struct cli_opts {
	const char *config;	/* -c, --config */
	const char *store;	/* --store: overrides `store =` */
	int json;		/* --json */
	int help;		/* -h, --help */
	const char *lang;	/* --lang: ja or en, over LANG/LC_MESSAGES */
};

#define CLI_COMMON_OPTIONS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "store", required_argument, NULL, 'S' }, \
	{ "json", no_argument, NULL, 'j' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "lang", required_argument, NULL, 'L' }
#define CLI_COMMON_SHORT "c:h"

/*
 * The config file a command reads: -c's, else $CTLMIRROR_CONFIG's (empty: none),
 * else CONFIG_DEFAULT_FILE when it exists, else none (the embedded defaults).
 */
const char *cli_config_path(const struct cli_opts *o);

/* Takes getopt's c if it is a common option; returns 1 if it was. */
int cli_common_option(int c, struct cli_opts *o);

/*
 * After option parsing: prints usage for --help (returns -1: exit 0), or
 * loads the config and applies --store (returns 0, or an exit status).
 */
int cli_setup(const struct cli_opts *o, struct config *cfg, const char *cmd,
    void (*usage)(FILE *));

/* A command's own option: returns 0, or an exit status (bad value). */
typedef int (*cli_take_fn)(int c, const char *arg, void *ctx);

/*
 * Parses argv: the common options plus extra (terminated by a zero entry;
 * may be NULL), handing the latter to take(ctx). Then cli_setup(). Returns 0
 * to go on (optind is the first operand), -1 after printing --help (exit 0),
 * or an exit status.
 */
int cli_parse(int argc, char **argv, const struct option *extra,
    cli_take_fn take, void *ctx, struct cli_opts *o, struct config *cfg,
    const char *cmd, void (*usage)(FILE *));

/* The --kind K option: cli_kind_option with cli_take_kind (ctx: enum ctl_kind *). */
extern const struct option cli_kind_option[];
int cli_take_kind(int c, const char *arg, void *ctx);

/* --at, --anchors, --pin (repeatable), --kind: the options of verify and import. */
struct cli_trust_opts {
	const char *at;
	const char *anchors;
	char **pins;		/* sized for argc entries by the caller */
	size_t n_pins;
	const char *kind;
};
extern const struct option cli_trust_options[];
int cli_take_trust(int c, const char *arg, void *ctx);

/* Loads CONFIG over the defaults; prints "ctlmirror CMD: file:line: ..." and returns EXIT_USAGE on error. */
int cli_config(struct config *cfg, const char *path, const char *cmd);

/* Opens cfg->store; prints a clear message and returns EXIT_IO on failure. */
int cli_store_open(const struct config *cfg, int readonly, struct store **s,
    const char *cmd);

/*
 * The trust set (trust.h): built-in pins, cfg's and extra pins, the
 * certificates in dir (cfg->anchors when dir is NULL), the pinned roots the
 * store s holds (s may be NULL), cfg's intermediates. Prints and returns
 * EXIT_USAGE/EXIT_IO on failure (trust_free t all the same); warns, saying
 * what to do, when no anchor was kept.
 */
int cli_trust_load(const struct config *cfg, const char *dir,
    char *const *pins, size_t n_pins, struct store *s, struct trust *t,
    const char *cmd);

/* Parses --at; prints and returns EXIT_USAGE if it is not ISO 8601. */
int cli_time(const char *text, time_t *t, const char *cmd);

/* The JSON fields of a version record (inside an object the caller opened). */
void cli_json_version(struct json *j, const struct version *v);

/* Reports a store error for cmd and returns EXIT_IO (or 1 for refusals and not-found). */
int cli_store_fail(struct store *s, enum store_err err, const char *cmd);

#endif
