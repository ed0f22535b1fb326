/*
 * report.h - the status report, as text and JSON.
 *
 * One source for `ctlmirror status` and /_ctlmirror/status.json; the status
 * page (page.h) shows the same judgement (report_judge), so all three agree.
 */
#ifndef CTLMIRROR_REPORT_H
#define CTLMIRROR_REPORT_H

#include <stdio.h>
#include <time.h>

#include "proxy/config.h"
#include "proxy/health.h"
#include "store/store.h"

/* Sync facts per kind the report shows (all zero when the daemon does not poll). */
struct report_sync {
	time_t last_success[KIND_COUNT];
	unsigned failures[KIND_COUNT];
	/*
	 * From the store, not the daemon's memory (report_upstream_older; the
	 * store-reading functions here fill it themselves): "" or which upstream
	 * last answered with a copy older than this mirror's newest.
	 */
	char older[KIND_COUNT][HEALTH_OLDER_LEN];
};

/*
 * Fills sync->older from the upstream state the last sync rounds recorded
 * (HEALTH_OLDER_MARK): for each kind kept, the upstream whose last answer was
 * an older verified copy, unless another upstream answered with the newest in
 * the same or a later round, or the kind is pinned by that upstream (it
 * follows the upstream's pin: the pin explains the older copy). set is the
 * served set read with it.
 */
void report_upstream_older(struct store *s, const struct config *cfg,
    const struct served_set *set, struct report_sync *sync);

/*
 * Judges every kind at `now` and writes the report to out: text, or with
 * json one object keyed by kind (the shape docs/admin.md gives). *overall
 * (if not NULL) gets health_overall() of the same judgement. sync (may be
 * NULL) adds the daemon's upstream facts.
 */
enum store_err report_status(struct store *s, const struct config *cfg,
    time_t now, const struct report_sync *sync, int json, FILE *out,
    enum health_level *overall);

/* The health of every kind at once (for healthz and metrics). */
enum store_err report_health(struct store *s, const struct config *cfg,
    time_t now, const struct report_sync *sync, struct kind_health h[KIND_COUNT]);

/*
 * report_health's judgement from inputs already read, with no store access:
 * set's kinds, and the stored versions list[0..n) (any kinds, as store_list
 * gives them; health_of says what of them it uses). For a caller that keeps
 * what it read and judges again as time passes (the daemon, ops.h).
 */
void report_judge(const struct served_set *set, const struct version *list, size_t n,
    const struct config *cfg, time_t now, const struct report_sync *sync,
    struct kind_health h[KIND_COUNT]);

/* report_status's output from a judgement already made. */
void report_status_write(const struct kind_health h[KIND_COUNT],
    const struct report_sync *sync, int json, FILE *out);

#endif
