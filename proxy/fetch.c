/*
 * fetch.c - libcurl multi on a libevent loop, after curl's multi-event.c.
 *
 * Redirects are never followed by libcurl: a 3xx ends the transfer, its
 * target (CURLINFO_REDIRECT_URL) is checked here, and only a target the
 * limits allow becomes the next hop (see fetch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "ctlmirror_version.h"
#include "proxy/fetch.h"
#include "proxy/hex.h"

struct transfer;

struct fetcher {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct transfer *running;	/* list, to abort them on free */
};

struct transfer {
	struct fetcher *f;
	struct transfer *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	fetch_done_fn done;
	void *arg;
	unsigned char *body;
	size_t len, cap, max;
	int too_large;
	char etag[256];
	char last_modified[64];
	char errbuf[CURL_ERROR_SIZE];
	/* redirects: whether to follow, where to, how many so far, in how long */
	int follow;
	int hops;
	long total_ms;			/* all hops together; 0: no limit */
	struct timespec started;
	size_t n_origins;
	char origins[FETCH_MAX_ORIGINS][FETCH_ORIGIN_MAX];
};

/* One socket curl watches: its event. */
struct sockctx {
	struct event *ev;
};

static void
unlink_transfer(struct transfer *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		t->f->running = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
}

static void
transfer_free(struct transfer *t)
{
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t->body);
	free(t);
}

/* s in lower case, for scheme and host names (ASCII; not locale dependent). */
static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * url parsed by libcurl's own URL parser, as a transfer to it would be:
 * *scheme (lower case; any scheme parses), and for http and https the
 * origin "scheme://host:port" and, when canon is not NULL, the URL as libcurl
 * writes it back (curl_free it). Returns 0; -1 when url does not parse, or
 * (-2) its scheme is not http or https, or it names no host.
 */
static int
split_url(const char *url, char *scheme, size_t scheme_len, char *origin,
    size_t origin_len, char **canon)
{
	CURLU *u;
	char *s = NULL, *h = NULL, *p = NULL, *z = NULL;
	int rc = -1, n;

	scheme[0] = origin[0] = '\0';
	if (canon != NULL)
		*canon = NULL;
	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
		goto out;
	snprintf(scheme, scheme_len, "%s", s);
	lower(scheme);
	rc = -2;
	if ((strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || h[0] == '\0' ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	/* an IPv6 zone makes another address: part of the origin */
	if (curl_url_get(u, CURLUPART_ZONEID, &z, 0) != CURLUE_OK)
		z = NULL;
	n = snprintf(origin, origin_len, "%s://%s%s%s:%s", scheme, h, z ? "%" : "",
	    z ? z : "", p);
	if (n < 0 || (size_t)n >= origin_len)
		goto out;
	lower(origin);
	if (canon != NULL && curl_url_get(u, CURLUPART_URL, canon, 0) != CURLUE_OK)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		origin[0] = '\0';
	curl_free(s);
	curl_free(h);
	curl_free(p);
	curl_free(z);
	curl_url_cleanup(u);
	return rc;
}

int
fetch_origin(const char *url, char *out, size_t len)
{
	char scheme[16];

	return split_url(url, scheme, sizeof(scheme), out, len, NULL) == 0 ? 0 : -1;
}

/* A URL from the network, fit for a message: bytes outside printable ASCII escaped, clipped. */
static void
shown_url(const char *url, char *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)url;
	size_t o = 0, max = len < 124 ? len : 124;	/* a message has room for the reason too */

	for (; *p != '\0'; p++) {
		size_t need = *p > 0x20 && *p < 0x7f ? 1 : 3;

		if (o + need + 4 > max) {	/* room for "..." and the NUL */
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1)
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, len - o, "%%%02X", *p);
	}
	out[o] = '\0';
}

static long
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

/*
 * A redirect to target: starts the next hop when the limits allow it and
 * returns 1 (t runs again); else returns 0 with why the redirect is refused
 * in err. Nothing is asked of target unless it passed every check.
 */
static int
next_hop(struct fetcher *f, struct transfer *t, const char *target, char *err,
    size_t err_len)
{
	char shown[128], scheme[16], origin[FETCH_ORIGIN_MAX], why[FETCH_ORIGIN_MAX + 64];
	char *canon = NULL;
	long left = 0;
	size_t i;
	int rc;

	shown_url(target, shown, sizeof(shown));
	rc = split_url(target, scheme, sizeof(scheme), origin, sizeof(origin), &canon);
	if (!t->follow)
		snprintf(why, sizeof(why), "follow_redirects = no");
	else if (t->hops >= FETCH_MAX_REDIRECTS)
		snprintf(why, sizeof(why), "more than %d redirects", FETCH_MAX_REDIRECTS);
	else if (rc == -1)
		snprintf(why, sizeof(why), "not a URL");
	else if (rc == -2 && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		snprintf(why, sizeof(why), "only http and https are followed, not %.16s", scheme);
	else if (rc != 0)
		snprintf(why, sizeof(why), "no host");
	else
		why[0] = '\0';
	for (i = 0; why[0] == '\0' && i < t->n_origins; i++)
		if (strcmp(origin, t->origins[i]) == 0)
			break;
	if (why[0] == '\0' && i == t->n_origins)
		snprintf(why, sizeof(why), "%s is not a configured upstream", origin);
	if (why[0] == '\0' && t->total_ms > 0 && (left = t->total_ms - elapsed_ms(&t->started)) <= 0)
		snprintf(why, sizeof(why), "fetch_timeout passed");
	if (why[0] == '\0') {
		curl_multi_remove_handle(f->multi, t->easy);
		t->len = 0;	/* the next hop's response is the one that counts */
		t->etag[0] = t->last_modified[0] = t->errbuf[0] = '\0';
		t->hops++;
		if (curl_easy_setopt(t->easy, CURLOPT_URL, canon) != CURLE_OK ||
		    (left > 0 && curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, left) != CURLE_OK) ||
		    curl_multi_add_handle(f->multi, t->easy) != CURLM_OK)
			snprintf(why, sizeof(why), "the next transfer could not start");
	}
	curl_free(canon);
	if (why[0] == '\0')
		return 1;
	snprintf(err, err_len, "redirected to %s; not followed (%s)", shown, why);
	return 0;
}

static int
is_redirect(long status)
{
	return status >= 300 && status < 400 && status != 304;
}

static void
finish(struct fetcher *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		struct transfer *t = NULL;
		struct fetch_result r;
		char *target = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		memset(&r, 0, sizeof(r));
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.transferred = msg->data.result == CURLE_OK;
		if (r.transferred && !t->too_large && is_redirect(r.status) &&
		    curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &target) == CURLE_OK &&
		    target != NULL) {
			if (next_hop(f, t, target, r.error, sizeof(r.error)))
				continue;	/* running again, to the next hop */
			r.transferred = 0;	/* a redirect not followed is a failed fetch */
		}
		r.too_large = t->too_large;
		if (t->too_large)
			snprintf(r.error, sizeof(r.error), "body larger than %zu bytes", t->max);
		else if (!r.transferred && r.error[0] == '\0')
			snprintf(r.error, sizeof(r.error), "%s", t->errbuf[0] ? t->errbuf :
			    curl_easy_strerror(msg->data.result));
		r.body = t->body;
		r.len = t->len;
		snprintf(r.etag, sizeof(r.etag), "%s", t->etag);
		snprintf(r.last_modified, sizeof(r.last_modified), "%s", t->last_modified);
		curl_multi_remove_handle(f->multi, t->easy);
		unlink_transfer(t);
		t->done(&r, t->arg);
		transfer_free(t);
	}
}

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int running, action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
	    (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(f->multi, fd, action, &running);
	finish(f);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish(f);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called after ms (-1: never). */
static int
timer_cb(CURLM *multi, long ms, void *arg)
{
	struct fetcher *f = arg;
	struct timeval tv;

	(void)multi;
	if (ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(f->timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch (or stop watching) a socket for curl. */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct fetcher *f = arg;
	struct sockctx *ctx = sockp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ctx != NULL) {
			event_free(ctx->ev);
			free(ctx);
			curl_multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (ctx == NULL) {
		if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
			return -1;
		curl_multi_assign(f->multi, s, ctx);
	} else {
		event_free(ctx->ev);
	}
	ctx->ev = event_new(f->base, s, kind, on_socket_event, f);
	if (ctx->ev == NULL || event_add(ctx->ev, NULL) != 0)
		return -1;
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (len > t->max - t->len) {	/* stop reading: the limit is the limit */
		t->too_large = 1;
		return 0;
	}
	if (t->len + len > t->cap) {
		size_t cap = t->cap ? t->cap : 65536;
		unsigned char *p;

		while (cap < t->len + len)
			cap *= 2;
		if (cap > t->max)
			cap = t->max;
		if ((p = realloc(t->body, cap)) == NULL)
			return 0;
		t->body = p;
		t->cap = cap;
	}
	memcpy(t->body + t->len, data, len);
	t->len += len;
	return len;
}

/* Keeps ETag and Last-Modified (of this hop's response: next_hop clears them). */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, vlen;
	const char *v;
	char *dst;
	size_t cap;

	if (len > 6 && strncasecmp(data, "ETag:", 5) == 0) {
		v = data + 5;
		dst = t->etag;
		cap = sizeof(t->etag);
	} else if (len > 15 && strncasecmp(data, "Last-Modified:", 14) == 0) {
		v = data + 14;
		dst = t->last_modified;
		cap = sizeof(t->last_modified);
	} else {
		return len;
	}
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(data + len - v);
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen < cap) {
		memcpy(dst, v, vlen);
		dst[vlen] = '\0';
	}
	return len;
}

struct fetcher *
fetcher_new(struct event_base *base)
{
	struct fetcher *f;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->base = base;
	if ((f->multi = curl_multi_init()) == NULL ||
	    (f->timer = evtimer_new(base, on_timeout, f)) == NULL) {
		fetcher_free(f);
		return NULL;
	}
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	return f;
}

int
fetch_start(struct fetcher *f, const char *url, const char *etag,
    const char *last_modified, const struct fetch_limits *lim,
    fetch_done_fn done, void *arg)
{
	struct transfer *t;
	char h[400];

	if ((t = calloc(1, sizeof(*t))) == NULL || (t->easy = curl_easy_init()) == NULL) {
		free(t);
		return -1;
	}
	t->f = f;
	t->done = done;
	t->arg = arg;
	t->max = lim->max_body;
	t->follow = lim->follow_redirects != 0;
	t->total_ms = lim->total_timeout > 0 ? lim->total_timeout * 1000 : 0;
	clock_gettime(CLOCK_MONOTONIC, &t->started);
	t->n_origins = lim->n_origins < FETCH_MAX_ORIGINS ? lim->n_origins : FETCH_MAX_ORIGINS;
	memcpy(t->origins, lim->origins, t->n_origins * sizeof(t->origins[0]));
	if (etag != NULL && etag[0] != '\0') {
		snprintf(h, sizeof(h), "If-None-Match: %s", etag);
		t->headers = curl_slist_append(t->headers, h);
	}
	if (last_modified != NULL && last_modified[0] != '\0') {
		snprintf(h, sizeof(h), "If-Modified-Since: %s", last_modified);
		t->headers = curl_slist_append(t->headers, h);
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "ctlmirror/" CTLMIRROR_VERSION);
	/* http and https only; libcurl never follows a redirect itself (next_hop does) */
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_MAXREDIRS, 0L);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT, lim->connect_timeout);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, lim->total_timeout);
	curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, lim->low_speed_bytes);
	curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME, lim->low_speed_time);
	curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_body);
	/* "" disables the environment's proxy variables: only the config decides */
	curl_easy_setopt(t->easy, CURLOPT_PROXY, lim->proxy != NULL ? lim->proxy : "");
	if (curl_multi_add_handle(f->multi, t->easy) != CURLM_OK) {
		curl_easy_cleanup(t->easy);
		curl_slist_free_all(t->headers);
		free(t);
		return -1;
	}
	t->next = f->running;
	if (f->running != NULL)
		f->running->prev = t;
	f->running = t;
	return 0;
}

void
fetcher_free(struct fetcher *f)
{
	if (f == NULL)
		return;
	while (f->running != NULL) {
		struct transfer *t = f->running;

		curl_multi_remove_handle(f->multi, t->easy);
		f->running = t->next;
		if (f->running != NULL)
			f->running->prev = NULL;
		transfer_free(t);
	}
	if (f->multi != NULL)
		curl_multi_cleanup(f->multi);
	if (f->timer != NULL)
		event_free(f->timer);
	free(f);
}

void
fetch_limits_of(const struct config *cfg, size_t max, struct fetch_limits *lim)
{
	size_t i;

	memset(lim, 0, sizeof(*lim));
	lim->connect_timeout = 10;
	lim->total_timeout = (long)cfg->fetch_timeout;
	lim->low_speed_bytes = 512;	/* a slow drip is as good as a dead link */
	lim->low_speed_time = 15;
	lim->max_body = max < cfg->max_download ? max : cfg->max_download;
	lim->proxy = cfg->outbound_proxy;
	lim->follow_redirects = cfg->follow_redirects;
	for (i = 0; i < cfg->n_upstream && lim->n_origins < FETCH_MAX_ORIGINS; i++)
		if (fetch_origin(cfg->upstream[i], lim->origins[lim->n_origins],
		    sizeof(lim->origins[0])) == 0)
			lim->n_origins++;
}

void
fetch_url(const char *base, const char *name, int random_query, char *url,
    size_t len, char *plain, size_t plain_len)
{
	const char *slash = base[0] && base[strlen(base) - 1] == '/' ? "" : "/";
	unsigned char rnd[8];
	char q[18] = "";

	snprintf(plain, plain_len, "%s%s%s", base, slash, name);
	if (random_query && RAND_bytes(rnd, sizeof(rnd)) == 1) {
		q[0] = '?';
		hex_encode(rnd, sizeof(rnd), 0, q + 1);
	}
	snprintf(url, len, "%s%s", plain, q);
}
