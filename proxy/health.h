/*
 * health.h - is a kind healthy? (DESIGN.md, "Admission and serving": Health)
 *
 * One judgement for `ctlmirror status`, /_ctlmirror/healthz, the metrics and
 * the status page:
 *   critical  nothing servable; the served chain has expired (clients log
 *             CAPI2 event 4107), unless a verified timestamp fixes its time
 *   warn      the served chain expires within warn_days; a copy newer than
 *             the served one failed verification; upstream unreachable for
 *             longer than stale_after; a pin holds back newer verified versions
 *   ok        otherwise
 */
#ifndef CTLMIRROR_HEALTH_H
#define CTLMIRROR_HEALTH_H

#include <time.h>

#include "proxy/served.h"
#include "store/store.h"

enum health_level { HEALTH_OK = 0, HEALTH_WARN, HEALTH_CRITICAL };

#define HEALTH_MAX_REASONS 4

struct kind_health {
	enum ctl_kind kind;
	int kept;			/* the config's `kinds` names it: judged; else always ok */
	enum health_level level;
	char reasons[HEALTH_MAX_REASONS][512];
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

/*
 * Judges out->kind (set by the caller) at `now`, from the served set's entry
 * for it and the stored versions (list[0..n), any kinds; status filled as
 * store_list does). last_success is the last good sync for the kind (0:
 * never, or no polling): with stale_after > 0, a sync older than that warns.
 */
void health_of(const struct served_kind *sk, const struct version *list, size_t n,
    time_t now, unsigned long warn_days, time_t last_success,
    unsigned long stale_after, struct kind_health *out);

/*
 * The mirror's health as one level, for healthz, the status exit code, the
 * metrics and the page: the worst level of the kinds it keeps (the config's
 * `kinds`; a kept kind with nothing servable is critical).
 */
enum health_level health_overall(const struct kind_health h[KIND_COUNT]);

#endif
