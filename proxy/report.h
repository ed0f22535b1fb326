/*
 * report.h - the status report, as text, JSON and HTML.
 *
 * One source for `ctlmirror status`, /_ctlmirror/status.json and
 * /_ctlmirror/status, so the three always agree.
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
};

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

/* The HTML status page: served versions, expiry countdowns, history timelines. */
enum store_err report_html(struct store *s, const struct config *cfg,
    time_t now, const struct report_sync *sync, FILE *out);

#endif
