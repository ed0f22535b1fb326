/*
 * fetch.c - libcurl multi on a libevent loop, after curl's multi-event.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static void
finish(struct fetcher *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		struct transfer *t = NULL;
		struct fetch_result r;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		memset(&r, 0, sizeof(r));
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.transferred = msg->data.result == CURLE_OK;
		r.too_large = t->too_large;
		if (t->too_large)
			snprintf(r.error, sizeof(r.error), "body larger than %zu bytes", t->max);
		else if (!r.transferred)
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

/* Keeps ETag and Last-Modified (the last response's, after redirects). */
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
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(t->easy, CURLOPT_MAXREDIRS, 3L);
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
	memset(lim, 0, sizeof(*lim));
	lim->connect_timeout = 10;
	lim->total_timeout = (long)cfg->fetch_timeout;
	lim->low_speed_bytes = 512;	/* a slow drip is as good as a dead link */
	lim->low_speed_time = 15;
	lim->max_body = max < cfg->max_download ? max : cfg->max_download;
	lim->proxy = cfg->outbound_proxy;
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
