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
 * as an upstream inconsistency (the cab decides). When authroot's part of
 * every round ends, whatever came of it (a new version, unchanged, failed),
 * the root certificates the served authroot CTL lists and the store lacks are
 * fetched (a few at a time), so the mirror keeps working without its uplink,
 * and a round cut short (a sync killed mid-certificates) is made good by the next.
 *
 * A copy that verifies but is older than the newest admitted version (a
 * stale edge, or a parent that pins) is recorded in that URL's upstream
 * state (HEALTH_OLDER_MARK, health.h): the kind is `warn` ("upstream serves an
 * older version than this mirror") until an upstream serves the newest again.
 *
 * Following a parent's pins (follow_upstream_pin = yes on an upstream): each
 * round also reads that upstream's /_ctlmirror/status.json (at the root of
 * its origin; upstream_pin.h parses it) and, once every kind's cab has
 * settled (so a pinned copy fetched this round counts), applies it per kind:
 * the parent pins a version this mirror stores as verified at first sight:
 * it is pinned here, by = the upstream URL, reason "followed from upstream"
 * (with the parent's), until = the parent's; the parent no longer pins: a
 * pin here by that upstream is removed. An administrator's own pin here (or
 * another upstream's) is never replaced or removed: the outcome says so,
 * and an EV_SYNC event once per version the parent pins (per sync_ctx: a
 * daemon run, or one `ctlmirror sync`). A document that
 * cannot be read or parsed changes nothing (an event when that starts, and
 * when it ends). A copy of the version pinned that way, fetched again from
 * that upstream, is `unchanged`, not a stale edge.
 *
 * Everything runs as callbacks on the caller's event loop (fetch.c), and the
 * daemon's polling schedule lives here too (sync_poll_start).
 */
#ifndef CTLMIRROR_SYNC_H
#define CTLMIRROR_SYNC_H

#include <time.h>

#include <event2/event.h>
#include <openssl/x509.h>

#include "proxy/certcache.h"
#include "proxy/config.h"
#include "proxy/fetch.h"
#include "proxy/report.h"
#include "proxy/reverify.h"
#include "proxy/trust.h"
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
	struct trust trust;		/* sync_trust_refresh; every round refreshes it */
	struct fetcher *fetcher;
	struct report_sync *state;	/* last success and failures per kind (may be NULL) */
	int certs_only;			/* sync --certs: only the root certificates */
	/*
	 * Failed .crt fetches remembered (the daemon's, shared with its broker);
	 * NULL: none (a command asks every time). A pinned root that failed
	 * within cert_retry_after is not asked again, and its failure is noted;
	 * a listed root that failed recently is skipped; a fetched one forgotten.
	 */
	struct certcache *certcache;
	/* filled by a round */
	struct sync_outcome outcome[KIND_COUNT];
	size_t certs_fetched, certs_failed;
	size_t anchors_fetched;		/* pinned roots fetched from upstream */
	struct reverify_result reverified;	/* by the last trust change */
	int running;
	/* called once when the round (and its certificate fetches) ended */
	void (*done)(struct sync_ctx *ctx, void *arg);
	void *done_arg;
	/* internal */
	void *round;
	int trust_loaded;
	int trust_stale;		/* refresh once the running round ends */
	struct event *poll_timer;	/* sync_poll_start */
	unsigned char follow_noted[KIND_COUNT][32];	/* a parent pin not followed, said once */
	unsigned char follow_failing[CONFIG_MAX_LIST];	/* an upstream's pins not read */
	time_t (*clock)(void *arg);
	void *clock_arg;
};

/*
 * Loads the trust set (trust.h) from ctx->cfg and the store. When it differs
 * from the one held (or none was), it replaces it and every copy quarantined
 * for a trust reason is verified again (reverify.c; ctx->reverified says
 * what came of it). Returns 1 if the set changed, 0 if not, -1 with err set
 * when it could not be read (the set held is kept). While a round runs the
 * refresh waits for its end (returns 0).
 */
int sync_trust_refresh(struct sync_ctx *ctx, time_t now, char *err, size_t err_len);

/*
 * Starts a round at time now (the verification time and first-seen time of
 * what it admits). It first refreshes the trust set; when a pinned
 * Microsoft root is still missing, it fetches it from the upstreams as
 * <SHA1>.crt (kept only if its SHA-256 is the pin), so a mirror with no
 * anchors directory verifies within its first round. Returns 0, or -1 if a
 * round is already running.
 */
int sync_start(struct sync_ctx *ctx, time_t now);

/*
 * Polls on base: a round a second from now, then one every poll interval
 * (+-10 %, so mirrors started together do not poll together), sooner after
 * failed rounds (30 s, doubling, never later than the interval). done runs
 * after each round, before the next is scheduled. clock(clock_arg) gives each
 * round's time (the daemon's clock, which serve --now moves). A round due
 * while one still runs is not started twice. Returns 0, or -1.
 */
int sync_poll_start(struct sync_ctx *ctx, struct event_base *base,
    time_t (*clock)(void *arg), void *clock_arg);

/* Stops polling and drops a running round's state (its transfers are the fetcher's to abort). */
void sync_free(struct sync_ctx *ctx);

#endif
