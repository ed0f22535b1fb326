/*
 * config.h - ctlmirror.conf: `key = value` lines, `#` comments.
 *
 * Every key has an embedded default, so ctlmirror runs with no file at all.
 * Unknown keys and bad values are errors that name the file and line.
 * The struct is filled once and passed down; nothing else holds settings.
 */
#ifndef CTLMIRROR_CONFIG_H
#define CTLMIRROR_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_LIST 16
#define CONFIG_PATH_MAX 1024

/* Embedded defaults for the directories. */
#define CONFIG_DEFAULT_STORE "/var/lib/ctlmirror"
#define CONFIG_DEFAULT_ANCHORS "/etc/ctlmirror/anchors"
/* The file commands read when no -c is given (and $CTLMIRROR_CONFIG is unset). */
#define CONFIG_DEFAULT_FILE "/etc/ctlmirror/ctlmirror.conf"

struct config {
	char store[CONFIG_PATH_MAX];		/* LMDB environment directory */
	char anchors[CONFIG_PATH_MAX];		/* anchor certificates directory */
	char anchor_pins[CONFIG_MAX_LIST][96];	/* operator-added SHA-256 pins */
	size_t n_anchor_pins;
	char intermediates[CONFIG_PATH_MAX];	/* extra intermediates (PEM), "" for none */
	char listen[CONFIG_MAX_LIST][128];	/* host:port, [v6]:port */
	size_t n_listen;
	char upstream[CONFIG_MAX_LIST][512];	/* base URLs, tried in order */
	size_t n_upstream;
	int upstream_follow_pin[CONFIG_MAX_LIST];	/* per upstream: follow its pins
						   (follow_upstream_pin after its line) */
	char mirror_hosts[CONFIG_MAX_LIST][256];
	size_t n_mirror_hosts;
	char flat_prefix[256];
	char outbound_proxy[512];		/* "" for none */
	int random_query;			/* append a random query string upstream */
	int follow_redirects;			/* follow upstream redirects (to the upstreams' origins only) */
	unsigned long fetch_timeout;		/* seconds per upstream transfer */
	unsigned long max_download;		/* bytes per upstream transfer */
	unsigned long poll_interval;		/* seconds; 0 = no polling */
	unsigned long warn_days;		/* warn this many days before the signer expires */
	unsigned long stale_after;		/* seconds without a good sync before warning */
	unsigned long workers;			/* serving threads; 0 = one per CPU */
	unsigned long max_connections;
	unsigned long max_header_size;
	unsigned long timeout;			/* client read/write timeout, seconds */
	unsigned long header_timeout;		/* a request's whole header within this, seconds */
	unsigned long keepalive_timeout;	/* idle keep-alive connections close after this */
	unsigned long max_connections_per_client; /* per client address; 0: automatic */
	char operator_allow[CONFIG_MAX_LIST][64];	/* who may read /_ctlmirror/; none: everyone */
	size_t n_operator_allow;
	unsigned long failed_keep;		/* failed copies kept whole, per kind and reason */
	unsigned long failed_budget_mb;		/* bytes of failed copies kept, in all */
	unsigned long cert_fetch_rate;		/* upstream .crt fetches clients may cause, per minute */
	unsigned long cert_retry_after;		/* seconds a failed .crt fetch is remembered */
	unsigned long map_size_mb;		/* LMDB map size */
	char log_format[16];			/* "text" or "json" */
	char access_log[CONFIG_PATH_MAX];	/* file; "" = standard output */
	char user[64];				/* drop privileges to this user, "" = don't */
	char kinds[CONFIG_MAX_LIST][16];	/* the lists this mirror keeps (fetches, judges) */
	size_t n_kinds;
};

/*
 * Does this mirror keep the list named kind ("authroot", "disallowed",
 * "pinrules")? A kind not kept is neither fetched nor judged.
 */
int config_keeps(const struct config *c, const char *kind);

/*
 * max_connections_per_client, or when 0 (the default) a sixteenth of
 * max_connections, at least 8: one address never holds every slot.
 */
unsigned long config_per_client_max(const struct config *c);

/* failed_budget_mb in bytes (saturating). */
unsigned long long config_failed_budget_bytes(const struct config *c);

/* Fills c with the embedded defaults. */
void config_defaults(struct config *c);

/*
 * Reads the file at path over the defaults already in c. Returns 0, or -1
 * with err (err_len bytes) saying "path:line: what is wrong".
 */
int config_load(struct config *c, const char *path, char *err, size_t err_len);

/* Parses text (the file's contents, named name in messages); same contract. */
int config_parse(struct config *c, const char *name, const char *text,
    char *err, size_t err_len);

#endif
