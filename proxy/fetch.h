/*
 * fetch.h - upstream HTTP transfers on libcurl's multi interface, driven by
 * a libevent loop (curl's socket and timer callbacks become events), so no
 * transfer ever blocks the loop and there is no thread per request.
 *
 * Every transfer is bounded: connect and total timeouts, a low-speed abort,
 * and a maximum body size enforced while the bytes arrive.
 *
 * Every transfer goes only where it is sent: http and https only, and libcurl
 * never follows a redirect by itself. A 3xx answer (other than 304) with a
 * Location is a failed fetch, unless the limits allow following it: then the
 * fetcher itself checks the target's origin against the allowed list and only
 * then starts the next hop, so nothing ever connects to a host, port or
 * scheme that is not allowed (no SSRF through a hostile upstream).
 */
#ifndef CTLMIRROR_FETCH_H
#define CTLMIRROR_FETCH_H

#include <stddef.h>

#include <event2/event.h>

#include "proxy/config.h"

struct fetcher;

#define FETCH_MAX_REDIRECTS 3		/* hops followed at most, when following */
#define FETCH_MAX_ORIGINS CONFIG_MAX_LIST
#define FETCH_ORIGIN_MAX 272		/* "https://" + a host name or [IPv6] + ":65535" */

struct fetch_limits {
	long connect_timeout;	/* seconds */
	long total_timeout;	/* seconds */
	long low_speed_bytes;	/* abort below this many bytes/s ... */
	long low_speed_time;	/* ... for this many seconds */
	size_t max_body;	/* bytes */
	const char *proxy;	/* outbound HTTP proxy URL, or "" / NULL for direct */
	/*
	 * Redirects. follow_redirects 0: a redirect (a 3xx other than 304, with
	 * a Location) is a failed fetch, "redirected to URL; not followed
	 * (follow_redirects = no)". 1: at most FETCH_MAX_REDIRECTS hops are
	 * followed, each only when its target's scheme is http or https and its
	 * origin (fetch_origin) is one of origins[0 .. n_origins-1]; otherwise
	 * the fetch fails, its error naming the target and why, before anything
	 * connects there. The hops share total_timeout. fetch_start copies the
	 * list; fetch_limits_of fills it with the config's upstreams.
	 */
	int follow_redirects;
	char origins[FETCH_MAX_ORIGINS][FETCH_ORIGIN_MAX];
	size_t n_origins;
};

struct fetch_result {
	int transferred;	/* a complete HTTP response arrived (0 for a redirect not followed) */
	long status;		/* HTTP status, 0 if none (a redirect not followed: its 3xx) */
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
 * config's max_download): timeouts, the low-speed abort, the outbound proxy,
 * and redirects: followed only with follow_redirects = yes, and then only to
 * the origins of the config's upstreams.
 */
void fetch_limits_of(const struct config *cfg, size_t max, struct fetch_limits *lim);

/*
 * The origin of url as the redirect check compares it: "scheme://host:port",
 * scheme and host in lower case, the scheme's default port when url names
 * none (http://Example.COM/x -> http://example.com:80). Returns 0, or -1 when
 * url is not an absolute http or https URL with a host (or out is too small).
 */
int fetch_origin(const char *url, char *out, size_t len);

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
