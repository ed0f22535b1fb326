/*
 * certfetch.h - fetching one root certificate, `<SHA1>.crt`, from upstream.
 *
 * The one certificate fetcher, for sync (the listed roots the store lacks)
 * and for the daemon (a client asked for a listed root the store lacks).
 * The upstreams are tried in order; a body is kept only when its SHA-1 is
 * the name asked for, and then stored (store_put_cert) before the caller
 * hears of it, so whoever waits can answer from the store.
 *
 * The caller owns the struct certfetch and keeps it alive until done runs:
 * nothing is allocated per transfer, so dropping a fetcher with transfers in
 * flight (fetcher_free, whose callbacks do not run) leaves nothing behind.
 */
#ifndef CTLMIRROR_CERTFETCH_H
#define CTLMIRROR_CERTFETCH_H

#include <stddef.h>
#include <time.h>

#include "proxy/config.h"
#include "proxy/fetch.h"
#include "store/store.h"

/* A root certificate is a few KB. */
#define CERTFETCH_MAX (64 * 1024)

struct certfetch;

/* stored: the certificate is in the store now; else every upstream failed (why: in words). */
typedef void (*certfetch_done_fn)(struct certfetch *cf, int stored, const char *why);

struct certfetch {
	unsigned char sha1[20];
	int pinned;			/* also require SHA-256 == pin */
	unsigned char pin[32];
	void *arg;			/* the caller's */
	/* internal */
	struct fetcher *fetcher;
	struct store *store;
	const struct config *cfg;
	time_t now;
	size_t upstream;
	certfetch_done_fn done;
};

/*
 * Starts fetching the certificate sha1 on f from cfg's upstreams; with pin
 * (not NULL) the bytes must also have that SHA-256 (a trust anchor is taken
 * only by its pin). Its first sight in the store is recorded as now. done(cf) is called exactly once,
 * from the loop. Returns 0, or -1 if no transfer could start (done is then
 * not called).
 */
int certfetch_start(struct certfetch *cf, struct fetcher *f, struct store *s,
    const struct config *cfg, const unsigned char sha1[20],
    const unsigned char *pin, time_t now, certfetch_done_fn done, void *arg);

#endif
