/*
 * certcache.h - what the daemon remembers about root-certificate fetches:
 * the ones that failed (a negative cache), and how many fetches clients may
 * still cause (a token bucket).
 *
 * Shared by the daemon's certificate broker (fetches a client caused) and by
 * sync's rounds (the pinned roots the trust set lacks, the listed roots the
 * store lacks), all on the main thread's loop: no locking. Pure: no I/O, and
 * time is always an argument (the caller's clock, never read here).
 *
 * It also knows which certificates are being fetched right now (begin/end),
 * so a round and the broker never fetch the same one twice at once: a round
 * skips what the broker fetches, and the broker hears (ended) when a round's
 * transfer it waits for ends.
 *
 * All are bounded: at most CERTCACHE_MAX failures are remembered (when full,
 * expired ones go first, then the one that would expire soonest), at most
 * CERTCACHE_BUSY transfers are known, and the bucket never holds more than a
 * minute's worth of fetches.
 */
#ifndef CTLMIRROR_CERTCACHE_H
#define CTLMIRROR_CERTCACHE_H

#include <stdint.h>
#include <time.h>

/* Failures remembered at once; more than the roots any real CTL lists. */
#define CERTCACHE_MAX 1024
/* Transfers known to run at once (sync's few and the broker's). */
#define CERTCACHE_BUSY 64

struct certcache_entry {
	unsigned char sha1[20];
	time_t until;		/* asked again from this time on */
};

struct certcache {
	struct certcache_entry e[CERTCACHE_MAX];
	size_t n;
	/* the token bucket: in sixtieths of a fetch (a second adds `rate` of them) */
	uint64_t tokens;
	time_t refilled;	/* when tokens was last brought up to date */
	int primed;		/* 0: the bucket starts full at the first take */
	unsigned char busy[CERTCACHE_BUSY][20];	/* being fetched now */
	size_t n_busy;
	/* called by certcache_end (NULL: nobody listens) */
	void (*ended)(void *arg, const unsigned char sha1[20], int stored);
	void *ended_arg;
};

/* Empties c: nothing remembered, the bucket full. */
void certcache_init(struct certcache *c);

/*
 * 1 if a fetch of sha1 failed and its memory lasts past now (do not ask
 * upstream again yet), else 0. An expired memory is forgotten here.
 */
int certcache_failed(struct certcache *c, const unsigned char sha1[20], time_t now);

/*
 * Remembers that fetching sha1 failed at now, until now + retry_after
 * seconds (retry_after 0: nothing is remembered). A second failure moves the
 * end. When CERTCACHE_MAX are remembered, the expired or soonest-expiring
 * entry makes room.
 */
void certcache_note_failure(struct certcache *c, const unsigned char sha1[20], time_t now,
    unsigned long retry_after);

/* Forgets sha1 (it was fetched after all, or arrived by import). */
void certcache_forget(struct certcache *c, const unsigned char sha1[20]);

/*
 * Takes one fetch from the bucket at now: rate fetches a minute, at most
 * rate in a burst (the bucket starts full). Returns 1 if a fetch may start,
 * 0 if the rate is spent (rate 0: always 0); then *retry_in (may be NULL)
 * is the seconds until one may (at least 1). A clock set back starts the
 * refill again from now, never adding time.
 */
int certcache_take(struct certcache *c, unsigned long rate, time_t now, unsigned long *retry_in);

/*
 * Claims sha1 for a transfer about to start. Returns 1: go ahead (it is
 * known as busy until certcache_end; with CERTCACHE_BUSY known already it is
 * not tracked, and the caller goes ahead anyway); 0: a transfer for it runs.
 */
int certcache_begin(struct certcache *c, const unsigned char sha1[20]);

/* 1 if a transfer for sha1 runs (claimed by certcache_begin). */
int certcache_busy(const struct certcache *c, const unsigned char sha1[20]);

/*
 * The transfer claimed for sha1 ended (stored: the store has it now):
 * releases the claim, then calls c->ended, if set. Remembering a failure is
 * the caller's choice (certcache_note_failure).
 */
void certcache_end(struct certcache *c, const unsigned char sha1[20], int stored);

#endif
