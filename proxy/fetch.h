/*
 * fetch.h - upstream HTTP transfers on libcurl's multi interface, driven by
 * a libevent loop (curl's socket and timer callbacks become events), so no
 * transfer ever blocks the loop and there is no thread per request.
 *
 * Every transfer is bounded: connect and total timeouts, a low-speed abort,
 * and a maximum body size enforced while the bytes arrive.
 */
#ifndef CTLMIRROR_FETCH_H
#define CTLMIRROR_FETCH_H

#include <stddef.h>

#include <event2/event.h>

#include "proxy/config.h"

struct fetcher;

struct fetch_limits {
	long connect_timeout;	/* seconds */
	long total_timeout;	/* seconds */
	long low_speed_bytes;	/* abort below this many bytes/s ... */
	long low_speed_time;	/* ... for this many seconds */
	size_t max_body;	/* bytes */
	const char *proxy;	/* outbound HTTP proxy URL, or "" / NULL for direct */
};

struct fetch_result {
	int transferred;	/* a complete HTTP response arrived */
	long status;		/* HTTP status, 0 if none */
	char error[256];	/* why not, in words */
	unsigned char *body;	/* owned by the fetcher; valid during the callback */
	size_t len;
	char etag[256];
	char last_modified[64];
	int too_large;		/* aborted: the body exceeded max_body */
};

typedef void (*fetch_done_fn)(const struct fetch_result *r, void *arg);

/* A fetcher on base; NULL on failure. */
struct fetcher *fetcher_new(struct event_base *base);

/*
 * Starts a GET of url with conditional headers (etag / last_modified may be
 * NULL or ""). done(arg) is called exactly once, from the loop, when it ends.
 * Returns 0, or -1 if it could not start (done is then not called).
 */
int fetch_start(struct fetcher *f, const char *url, const char *etag,
    const char *last_modified, const struct fetch_limits *lim,
    fetch_done_fn done, void *arg);

/*
 * The limits of an upstream transfer of at most max bytes (cut to the
 * config's max_download): timeouts, the low-speed abort, the outbound proxy.
 */
void fetch_limits_of(const struct config *cfg, size_t max, struct fetch_limits *lim);

/*
 * The URL of file name under upstream base: *plain without a query (what
 * the upstream's state is kept under), *url with a random query string when
 * random_query is set, as Windows adds one to get past stale caches.
 */
void fetch_url(const char *base, const char *name, int random_query, char *url,
    size_t len, char *plain, size_t plain_len);

/* Aborts running transfers (their callbacks are not called) and frees f. */
void fetcher_free(struct fetcher *f);

#endif
