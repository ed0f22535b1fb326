/*
 * sync.h - one sync round: fetch each list from the upstreams, verify, admit.
 *
 * Per kind, upstream base URLs are tried in order: a conditional GET of the
 * cab (a random query string gets past stale caches in between, as Windows
 * does), then verify and record it (store_admit decides admitted, quarantined,
 * rollback or duplicate). A 304, a duplicate of the newest admitted version
 * or an admission ends the kind's round; a failure or a copy that does not
 * verify (or is older than the newest admitted one, seen before or not) moves
 * on to the next upstream. Conditional-GET validators are kept only for a
 * URL whose copy is the newest admitted version, so a 304 can't hide a stale
 * or failed copy. For authroot the sequence file
 * is fetched too and compared with the cab's CTL: a disagreement is logged
 * as an upstream inconsistency (the cab decides). After a new authroot
 * version is admitted, the listed root certificates the store lacks are
 * fetched (a few at a time), so the mirror keeps working without its uplink.
 *
 * Everything runs as callbacks on the caller's event loop (fetch.c).
 */
#ifndef CTLMIRROR_SYNC_H
#define CTLMIRROR_SYNC_H

#include <time.h>

#include <openssl/x509.h>

#include "proxy/config.h"
#include "proxy/fetch.h"
#include "proxy/report.h"
#include "store/store.h"
#include "verify/anchors.h"

/* What a round did for one kind, in words and as a code for --json. */
struct sync_outcome {
	int ok;				/* an upstream answered with something usable */
	char result[24];		/* admitted, unchanged, quarantined, rollback, failed */
	char sequence[80];		/* of the copy fetched, if any */
	char text[384];
};

struct sync_ctx {
	const struct config *cfg;
	struct store *store;
	const struct anchors *anchors;
	STACK_OF(X509) *intermediates;
	struct fetcher *fetcher;
	struct report_sync *state;	/* last success and failures per kind (may be NULL) */
	int certs_only;			/* sync --certs: only the root certificates */
	/* filled by a round */
	struct sync_outcome outcome[KIND_COUNT];
	size_t certs_fetched, certs_failed;
	int running;
	/* called once when the round (and its certificate fetches) ended */
	void (*done)(struct sync_ctx *ctx, void *arg);
	void *done_arg;
	/* internal */
	void *round;
};

/*
 * Starts a round at time now (the verification time and first-seen time of
 * what it admits). Returns 0, or -1 if a round is already running.
 */
int sync_start(struct sync_ctx *ctx, time_t now);

/* Starts fetching the served authroot's listed certificates the store lacks. */
int sync_certs(struct sync_ctx *ctx);

/* Drops a running round's state (its transfers are the fetcher's to abort). */
void sync_free(struct sync_ctx *ctx);

#endif
