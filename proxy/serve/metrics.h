/*
 * metrics.h - request counters and the Prometheus text exposition.
 */
#ifndef CTLMIRROR_METRICS_H
#define CTLMIRROR_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "proxy/health.h"
#include "proxy/report.h"
#include "proxy/serve/route.h"

/* The status codes ctlmirror answers with, as counter columns. */
#define METRICS_CODES 11

struct metrics {
	uint64_t requests[RT_COUNT][METRICS_CODES];
	uint64_t bytes[RT_COUNT];
	uint64_t refused_connections;
	time_t started;
};

/* Adds src's counters to dst (src may be another thread's: relaxed atomic reads). */
void metrics_add(struct metrics *dst, const struct metrics *src);

/* Counts one response (only the owning thread writes a struct metrics). */
void metrics_count(struct metrics *m, enum route_target t, int code, uint64_t bytes);

/*
 * Writes the Prometheus text: requests by route and code, bytes by route,
 * served sequence and signer expiry per kind, health per kind, whether a
 * newer copy than the served one failed, store versions by kind and status
 * (rollbacks refused among them), and per kind the last successful sync and
 * the failures since (sync may be NULL: not polling).
 */
void metrics_write(const struct metrics *m, const struct kind_health h[KIND_COUNT],
    const size_t by_status[KIND_COUNT][5], const struct report_sync *sync, FILE *out);

#endif
