/*
 * metrics.h - request counters and the Prometheus text exposition.
 *
 * The text has two parts. The live counters (struct metrics, summed over the
 * workers) are written afresh for every scrape: metrics_write_live, cheap.
 * The store's state (served versions, health, versions by status, sync
 * facts) changes only with the store, the sync facts or the clock's passing
 * a health boundary: metrics_write_state, which ops.c writes once per such
 * change and keeps. A new counter goes in struct metrics and its lines in
 * metrics_write_live; a new fact about the store goes in metrics_write_state.
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

/* The live counters: one per worker, written by its thread only. */
struct metrics {
	uint64_t requests[RT_COUNT][METRICS_CODES];
	uint64_t bytes[RT_COUNT];
	uint64_t refused_connections;
	/* .crt requests for a listed root the store lacks (certbroker.h) */
	uint64_t cert_fetches;		/* upstream fetches started for clients */
	uint64_t cert_fetch_failures;	/* of those, the ones every upstream failed */
	uint64_t cert_coalesced;	/* requests that shared another's fetch */
	uint64_t cert_remembered;	/* 404 at once: failed within cert_retry_after */
	uint64_t cert_rate_limited;	/* 503: over cert_fetch_rate */
	/* connections (conns.h, server.c); refused_connections: over the worker's share */
	uint64_t refused_per_client;	/* over max_connections_per_client */
	uint64_t idle_closed;		/* idle ones closed to make room */
	uint64_t header_timeouts;	/* closed: no whole request within header_timeout */
	uint64_t keepalive_closes;	/* closed: idle for keepalive_timeout */
	uint64_t accept_paused;		/* times accepting paused (open-file limit) */
	uint64_t strict_refused;	/* 400: a lenient request (strict.h) */
	time_t started;
	int root_kept;			/* a gauge, set by the writer: `user = root` kept root */
};

/* Adds src's counters to dst (src may be another thread's: relaxed atomic reads). */
void metrics_add(struct metrics *dst, const struct metrics *src);

/* Counts one response (only the owning thread writes a struct metrics). */
void metrics_count(struct metrics *m, enum route_target t, int code, uint64_t bytes);

/*
 * Writes the live counters' part of the Prometheus text: requests by route
 * and code, bytes by route, refused connections, the start time.
 */
void metrics_write_live(const struct metrics *m, FILE *out);

/*
 * Writes the store's part: served sequence and signer expiry per kind,
 * health per kind and overall, pins, whether a newer copy than the served
 * one failed, store versions by kind and status (rollbacks refused among
 * them), and per kind the last successful sync and the failures since (sync
 * may be NULL: not polling). No counter: it may be kept and written again.
 */
void metrics_write_state(const struct kind_health h[KIND_COUNT],
    const size_t by_status[KIND_COUNT][5], const struct report_sync *sync, FILE *out);

#endif
