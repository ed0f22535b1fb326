/*
 * certbroker.h - root certificates fetched on clients' behalf, one transfer
 * per certificate for all the daemon's workers.
 *
 * A worker whose client asks for a listed root the store lacks asks the
 * broker (certbroker_ask, from the worker's thread). The broker lives on the
 * main thread's loop, as sync does; there it decides, per certificate (SHA-1):
 *   - a transfer for it is running, the broker's or a sync round's (the
 *     certcache knows which run): the ask joins it (coalesced);
 *   - the store has it now (another fetch or an import stored it): stored;
 *   - a fetch of it failed within cert_retry_after (certcache.h): remembered,
 *     and upstream is not asked;
 *   - clients' fetches are over cert_fetch_rate a minute (the certcache's
 *     token bucket), or CERTBROKER_MAX_JOBS transfers already run: limited,
 *     with the seconds after which asking again may help;
 *   - otherwise it starts certfetch (every upstream in order, SHA-1 checked,
 *     stored before anyone hears of it); a failure is remembered.
 * Every ask gets exactly one answer, delivered on the asking worker's own
 * loop (its client's event is made active from the main thread), where the
 * worker answers its waiting requests from the store, or 404, or 503.
 *
 * Ownership: an ask is one struct certbroker_answer, allocated by
 * certbroker_ask and handed to the client's callback, which may read it only
 * during the call (it is freed after). Answers not yet delivered when the
 * broker or a client is freed are freed with them; the callbacks do not run.
 * Free the broker only once no worker loop runs, and before its clients.
 */
#ifndef CTLMIRROR_CERTBROKER_H
#define CTLMIRROR_CERTBROKER_H

#include <time.h>

#include <event2/event.h>

#include "proxy/certcache.h"
#include "proxy/config.h"
#include "store/store.h"

/* Client-caused transfers running at once, whatever the rate allows. */
#define CERTBROKER_MAX_JOBS 32

struct certbroker;
struct certbroker_client;

enum certbroker_result {
	CERTBROKER_STORED,	/* the store has it now: answer from the store */
	CERTBROKER_FAILED,	/* fetched now, and every upstream failed */
	CERTBROKER_REMEMBERED,	/* failed within cert_retry_after: not asked again */
	CERTBROKER_LIMITED,	/* over cert_fetch_rate (or too many running): not asked */
	CERTBROKER_NONE,	/* clients cause no fetches (no upstream, cert_fetch_rate = 0) */
};

struct certbroker_answer {
	struct certbroker_answer *next;		/* internal */
	struct certbroker_client *client;	/* internal */
	unsigned char sha1[20];
	enum certbroker_result result;
	int started;			/* this ask started the upstream transfer */
	int joined;			/* this ask joined a transfer already running */
	unsigned long retry_after;	/* CERTBROKER_LIMITED: seconds */
};

/* Runs on the client's loop with each answer (read it during the call only). */
typedef void (*certbroker_answer_fn)(void *arg, const struct certbroker_answer *a);

/* One per worker; the fields are the broker's. */
struct certbroker_client {
	struct certbroker *broker;	/* NULL: not set up */
	struct event *wake;		/* on the worker's loop */
	struct certbroker_answer *answers;	/* delivered, not yet handed over (broker's lock) */
	certbroker_answer_fn fn;
	void *arg;
};

/*
 * A broker on base (the main thread's loop), fetching into s with cfg's
 * upstreams, fetch limits, cert_fetch_rate and cert_retry_after (cfg is read
 * on base's thread only, each time: a SIGHUP's new values apply), and
 * remembering failures in cache (shared with sync, same thread; the broker
 * sets cache->ended to hear of sync's transfers). clock(arg)
 * is the time of each decision and of each certificate's first sight.
 * Returns NULL when out of memory.
 */
struct certbroker *certbroker_new(struct event_base *base, struct store *s,
    const struct config *cfg, struct certcache *cache,
    time_t (*clock)(void *arg), void *clock_arg);

/* Aborts running transfers, drops undelivered asks (no callback runs). NULL is fine. */
void certbroker_free(struct certbroker *b);

/*
 * Sets up c on base (the worker's loop; call it from that loop's thread, or
 * before it runs): fn(arg, answer) will run there. Returns 0, or -1.
 */
int certbroker_client_init(struct certbroker_client *c, struct certbroker *b,
    struct event_base *base, certbroker_answer_fn fn, void *arg);

/* Drops c's undelivered answers and its event (after the broker is freed). A zeroed c is fine. */
void certbroker_client_free(struct certbroker_client *c);

/*
 * Asks for the certificate sha1 (from c's loop thread). Returns 0: exactly
 * one answer will come to c's callback; -1: out of memory (none will).
 */
int certbroker_ask(struct certbroker_client *c, const unsigned char sha1[20]);

#endif
