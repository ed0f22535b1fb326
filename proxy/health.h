/*
 * health.h - is a kind healthy? (docs/operations.md, "Health")
 *
 * One judgement for `ctlmirror status`, /_ctlmirror/healthz, the metrics and
 * the status page:
 *   critical  nothing servable; the served chain has expired (clients log
 *             CAPI2 event 4107), unless a verified timestamp fixes its time
 *   warn      the served chain expires within warn_days; a copy newer than
 *             the served one failed verification; upstream unreachable for
 *             longer than stale_after; a pin holds back newer verified versions;
 *             the upstream serves an older version than this mirror (a stale
 *             edge, or a parent that pins while this mirror does not follow it)
 *   ok        otherwise
 */
#ifndef CTLMIRROR_HEALTH_H
#define CTLMIRROR_HEALTH_H

#include <time.h>

#include "proxy/lang.h"
#include "proxy/served.h"
#include "store/store.h"

enum health_level { HEALTH_OK = 0, HEALTH_WARN, HEALTH_CRITICAL };

/*
 * How a sync round records, as the last_error of an upstream cab URL's state
 * (store_upstream_put), that the copy it answered verified but is older than
 * this mirror's newest admitted version: this prefix, then "sequence X".
 * report.c reads it back (report_upstream_older), so `status` and the daemon
 * judge from the store alike.
 */
#define HEALTH_OLDER_MARK "older than this mirror: "
#define HEALTH_OLDER_LEN 640

#define HEALTH_MAX_REASONS 4
#define HEALTH_REASON_ARGS 4

/*
 * One reason, in any language: a template (one of health_msgs' msgids, "%s"
 * for each argument; lang_fill) and its arguments, words of no language
 * (times, numbers, sequences, URLs, verify's reason codes and details).
 * The English text is kind_health's reasons[] (status.json, metrics, logs).
 */
struct health_reason {
	const char *tmpl;
	char args[HEALTH_REASON_ARGS][416];
	size_t n_args;
};

struct kind_health {
	enum ctl_kind kind;
	int kept;			/* the config's `kinds` names it: judged; else always ok */
	enum health_level level;
	char reasons[HEALTH_MAX_REASONS][512];	/* English */
	struct health_reason why[HEALTH_MAX_REASONS];	/* the same, for any language */
	size_t n_reasons;
	size_t n_versions;		/* how many versions of the kind are stored */
	int has_served;
	struct version served;
	int pinned;
	struct pin_info pin;		/* when pinned */
	size_t newer_held;		/* pinned: verified versions newer than the pinned one */
	int expires;			/* 0 when a verified timestamp fixes the time */
	time_t signer_not_after;	/* the served chain's earliest notAfter */
	long days_left;			/* whole days from now to signer_not_after (negative: past) */
	int has_quarantined;		/* newest quarantined copy newer than the served one */
	struct version newest_quarantined;
};

/* "ok", "warn", "critical". */
const char *health_level_str(enum health_level level);

/* Every template a reason may use (N_() marked), for the daemon's lang_pack. */
extern const struct lang_msgs health_msgs;

/*
 * Reason i of h in a language: tmpl_tr is h->why[i].tmpl translated (gettext's
 * _() in a command, lang_tr() in the daemon). Returns out.
 */
char *health_reason_text(const struct kind_health *h, size_t i, const char *tmpl_tr,
    char *out, size_t len);

/*
 * Judges out->kind (set by the caller) at `now`, from the served set's entry
 * for it and the stored versions (list[0..n), any kinds; status filled as
 * store_list does). last_success is the last good sync for the kind (0:
 * never, or no polling): with stale_after > 0, a sync older than that warns.
 * older (NULL or "": none) says which upstream's last answer was a verified
 * copy older than this mirror's newest ("URL offers sequence X"): it warns
 * "upstream serves an older version than this mirror".
 */
void health_of(const struct served_kind *sk, const struct version *list, size_t n,
    time_t now, unsigned long warn_days, time_t last_success,
    unsigned long stale_after, const char *older, struct kind_health *out);

/*
 * The mirror's health as one level, for healthz, the status exit code, the
 * metrics and the page: the worst level of the kinds it keeps (the config's
 * `kinds`; a kept kind with nothing servable is critical).
 */
enum health_level health_overall(const struct kind_health h[KIND_COUNT]);

#endif
