/*
 * http.c - answering requests: the served files and the operator endpoints.
 *
 * Every request is routed (route.c), answered from the cache (cache.c) or a
 * report, counted (metrics.c) and logged. Files get ETag, Last-Modified,
 * Cache-Control, conditional 304s, single byte ranges (206/416) and HEAD.
 */
#define _GNU_SOURCE	/* strptime, timegm */
#include <inttypes.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "proxy/serve/route.h"
#include "proxy/serve/server.h"
#include "verify/isotime.h"

#define HTTP_DATE_LEN 32

/* The last time formatted as an HTTP date, and its text. */
struct date_memo {
	time_t t;
	char text[HTTP_DATE_LEN];
};

/*
 * An HTTP date. The same few times come back on every request (this second
 * for Date, the served version's admission for Last-Modified): each worker
 * thread keeps one memo for each and formats only when its time changes.
 */
static const char *
http_date(struct date_memo *m, time_t t)
{
	struct tm tm;

	if (t != m->t || m->text[0] == '\0') {
		gmtime_r(&t, &tm);
		strftime(m->text, sizeof(m->text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		m->t = t;
	}
	return m->text;
}

static _Thread_local struct date_memo date_now, date_modified;

static int
parse_http_date(const char *s, time_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	*t = timegm(&tm);
	return 1;
}

/* If-None-Match: a list of entity tags, or "*"; weak ones compare by value. */
static int
etag_matches(const char *header, const char *etag)
{
	const char *p = header;
	size_t elen = strlen(etag);

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' ||
		    p[elen] == ' ' || p[elen] == '\t'))
			return 1;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return 0;
}

/*
 * Range: one "bytes=first-last", "bytes=first-" or "bytes=-suffix". Returns
 * 1 with [*from, *to] set, 0 to ignore the header (malformed or several
 * ranges: the whole file is sent), -1 when unsatisfiable (416).
 */
static int
parse_range(const char *h, size_t len, size_t *from, size_t *to)
{
	unsigned long long a = 0, b = 0;
	const char *p;
	char *end;
	int has_a, has_b;

	if (strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	p = h + 6;
	has_a = *p >= '0' && *p <= '9';
	if (has_a) {
		a = strtoull(p, &end, 10);
		p = end;
	}
	if (*p++ != '-')
		return 0;
	has_b = *p >= '0' && *p <= '9';
	if (has_b) {
		b = strtoull(p, &end, 10);
		p = end;
	}
	if (*p != '\0' || (!has_a && !has_b) || (has_a && has_b && b < a))
		return 0;
	if (!has_a) {		/* the last b bytes */
		if (b == 0 || len == 0)
			return -1;
		*from = b >= len ? 0 : len - (size_t)b;
		*to = len - 1;
		return 1;
	}
	if (a >= len)
		return -1;
	*from = (size_t)a;
	*to = !has_b || b >= len ? len - 1 : (size_t)b;
	return 1;
}

static void
blob_cleanup(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	blob_unref(arg);
}

struct reply {
	int code;
	uint64_t bytes;
};

/*
 * libevent neither frames a reply to CONNECT (no Content-Length) nor closes
 * its connection, whatever the Connection header says: close it ourselves
 * once the reply is written, so a refused CONNECT never holds a connection.
 */
static void
close_after_connect(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev;

	(void)arg;
	if (con != NULL && (bev = evhttp_connection_get_bufferevent(con)) != NULL &&
	    bufferevent_getfd(bev) >= 0)
		shutdown(bufferevent_getfd(bev), SHUT_RDWR);
}

static void
send_text(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, const char *body, struct reply *r)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	size_t len = strlen(body);
	char n[32];

	evhttp_add_header(out, "Content-Type", ctype);
	evhttp_add_header(out, "Cache-Control", "no-store");
	/* set here, not by libevent, which leaves it out for CONNECT */
	snprintf(n, sizeof(n), "%zu", buf != NULL || evhttp_request_get_command(req) ==
	    EVHTTP_REQ_HEAD ? len : 0);
	evhttp_add_header(out, "Content-Length", n);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT)
		evhttp_request_set_on_complete_cb(req, close_after_connect, NULL);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && buf != NULL) {
		evbuffer_add(buf, body, len);
		r->bytes = len;
	}
	evhttp_send_reply(req, code, reason, buf);
	r->code = code;
	if (buf != NULL)
		evbuffer_free(buf);
}

/* A file from the cache: validators, conditionals, ranges, HEAD. */
static void
send_blob(struct evhttp_request *req, struct blob *b, const char *ctype,
    const char *etag, time_t modified, const char *cache_control, struct reply *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(in, "If-None-Match");
	const char *ims = evhttp_find_header(in, "If-Modified-Since");
	const char *range = evhttp_find_header(in, "Range");
	const char *if_range = evhttp_find_header(in, "If-Range");
	char n[64];
	size_t from = 0, to = b->len ? b->len - 1 : 0;
	int head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD, partial = 0;
	struct evbuffer *body;
	time_t since;

	evhttp_add_header(out, "ETag", etag);
	if (modified != 0)
		evhttp_add_header(out, "Last-Modified", http_date(&date_modified, modified));
	evhttp_add_header(out, "Cache-Control", cache_control);
	evhttp_add_header(out, "Accept-Ranges", "bytes");
	/* RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since */
	if ((inm != NULL && etag_matches(inm, etag)) ||
	    (inm == NULL && ims != NULL && modified != 0 &&
	    parse_http_date(ims, &since) && modified <= since)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		r->code = 304;
		return;
	}
	if (range != NULL && (if_range == NULL || strcmp(if_range, etag) == 0)) {
		switch (parse_range(range, b->len, &from, &to)) {
		case -1:
			snprintf(n, sizeof(n), "bytes */%zu", b->len);
			evhttp_add_header(out, "Content-Range", n);
			send_text(req, 416, "Range Not Satisfiable", "text/plain",
			    "requested range not satisfiable\n", r);
			return;
		case 1:
			partial = 1;
			snprintf(n, sizeof(n), "bytes %zu-%zu/%zu", from, to, b->len);
			evhttp_add_header(out, "Content-Range", n);
			break;
		default:
			break;
		}
	}
	evhttp_add_header(out, "Content-Type", ctype);
	/* set here: libevent leaves it out for HEAD and for HTTP/1.0 without keep-alive */
	snprintf(n, sizeof(n), "%zu", b->len ? to - from + 1 : 0);
	evhttp_add_header(out, "Content-Length", n);
	r->code = partial ? 206 : 200;
	if (head || b->len == 0) {
		evhttp_send_reply(req, r->code, partial ? "Partial Content" : "OK", NULL);
		return;
	}
	/* no copy: the response references the cached bytes until it is sent */
	if ((body = evbuffer_new()) != NULL && evbuffer_add_reference(body, b->data + from,
	    to - from + 1, blob_cleanup, blob_ref(b)) != 0) {
		blob_unref(b);	/* the cleanup that would have dropped it never runs */
		evbuffer_free(body);
		body = NULL;
	}
	if (body == NULL) {
		send_text(req, 500, "Internal Server Error", "text/plain", "out of memory\n", r);
		return;
	}
	r->bytes = to - from + 1;
	evhttp_send_reply(req, r->code, partial ? "Partial Content" : "OK", body);
	evbuffer_free(body);
}

static void
send_unavailable(struct evhttp_request *req, enum ctl_kind kind, struct reply *r)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
	    "503 no verified %s list is available from this mirror yet\n", ctl_kind_str(kind));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "300");
	send_text(req, 503, "Service Unavailable", "text/plain", msg, r);
}

static void
serve_crt(struct worker *w, struct evhttp_request *req, const struct route *rt,
    struct reply *r)
{
	unsigned char *der = NULL, md[32];
	unsigned char sha1[20];
	size_t len = 0;
	struct blob *b;
	char etag[72];
	static const char hex[] = "0123456789abcdef";
	size_t i;

	/* Only roots the served CTL lists, and only bytes that hash to the name. */
	if (!cache_lists(&w->cache, rt->sha1) ||
	    store_get_cert(w->sv->store, rt->sha1, &der, &len) != STORE_OK ||
	    !EVP_Digest(der, len, sha1, NULL, EVP_sha1(), NULL) ||
	    memcmp(sha1, rt->sha1, 20) != 0 ||
	    !EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL) ||
	    (b = blob_new(der, len)) == NULL) {
		free(der);
		send_text(req, 404, "Not Found", "text/plain",
		    "404 this root is not listed by the served CTL or not stored\n", r);
		return;
	}
	free(der);
	etag[0] = '"';
	for (i = 0; i < 32; i++) {
		etag[1 + 2 * i] = hex[md[i] >> 4];
		etag[2 + 2 * i] = hex[md[i] & 15];
	}
	etag[65] = '"';
	etag[66] = '\0';
	send_blob(req, b, "application/pkix-cert", etag,
	    w->cache.kinds[KIND_AUTHROOT].v.first_seen, "public, max-age=86400", r);
	blob_unref(b);
}

/*
 * A listed root the store lacks: fetch it from upstream (the requests for the
 * same file in this worker share one transfer), check SHA-1(DER) against the
 * name, store it, then answer every waiting request from the store.
 */
struct waiter {
	struct waiter *next;
	struct evhttp_connection *con;
	struct evhttp_request *req;	/* NULL once its connection closed */
	struct route rt;
	struct timeval start;
};

struct cert_wait {
	struct cert_wait *next;
	struct worker *w;
	unsigned char sha1[20];
	size_t upstream;
	struct waiter *waiters;
};

static void finish_request(struct worker *w, struct evhttp_request *req,
    const struct route *rt, const struct reply *r, const struct timeval *start);

static int cert_fetch_start(struct cert_wait *cw);

static void
on_cert_fetched(const struct fetch_result *res, void *arg)
{
	struct cert_wait *cw = arg, **pp;
	struct worker *w = cw->w;
	unsigned char sha1[20];
	struct waiter *wt;
	int added;

	if (res->transferred && res->status == 200 &&
	    EVP_Digest(res->body, res->len, sha1, NULL, EVP_sha1(), NULL) &&
	    memcmp(sha1, cw->sha1, 20) == 0 &&
	    store_put_cert(w->sv->store, res->body, res->len, server_now(w->sv), &added) == STORE_OK) {
		/* stored: the waiters are answered from the store below */
	} else if (++cw->upstream < w->cfg.n_upstream && cert_fetch_start(cw) == 0) {
		return;
	}
	for (pp = &w->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cw) {
			*pp = cw->next;
			break;
		}
	while ((wt = cw->waiters) != NULL) {
		struct reply r = { 0, 0 };

		cw->waiters = wt->next;
		if (wt->req != NULL) {
			serve_crt(w, wt->req, &wt->rt, &r);
			finish_request(w, wt->req, &wt->rt, &r, &wt->start);
		}
		free(wt);
	}
	free(cw);
}

static int
cert_fetch_start(struct cert_wait *cw)
{
	struct worker *w = cw->w;
	struct fetch_limits lim;
	const char *base = w->cfg.upstream[cw->upstream];
	char url[700];
	size_t i, n;

	n = (size_t)snprintf(url, sizeof(url), "%s%s", base,
	    base[0] && base[strlen(base) - 1] == '/' ? "" : "/");
	for (i = 0; i < 20 && n + 3 < sizeof(url); i++, n += 2)
		snprintf(url + n, 3, "%02X", cw->sha1[i]);
	snprintf(url + n, sizeof(url) - n, ".crt");
	memset(&lim, 0, sizeof(lim));
	lim.connect_timeout = 10;
	lim.total_timeout = (long)w->cfg.fetch_timeout;
	lim.low_speed_bytes = 512;
	lim.low_speed_time = 15;
	lim.max_body = 64 * 1024;	/* a root certificate is a few KB */
	lim.proxy = w->cfg.outbound_proxy;
	if (w->fetcher == NULL && (w->fetcher = fetcher_new(w->base)) == NULL)
		return -1;
	return fetch_start(w->fetcher, url, NULL, NULL, &lim, on_cert_fetched, cw);
}

/* Returns 1 if the request now waits for a fetch (it is answered later). */
static int
wait_for_cert(struct worker *w, struct evhttp_request *req, const struct route *rt,
    const struct timeval *start)
{
	struct cert_wait *cw;
	struct waiter *wt;

	if (w->draining || w->cfg.n_upstream == 0 || (wt = calloc(1, sizeof(*wt))) == NULL)
		return 0;
	for (cw = w->waits; cw != NULL && memcmp(cw->sha1, rt->sha1, 20) != 0; cw = cw->next)
		;
	if (cw == NULL) {
		if ((cw = calloc(1, sizeof(*cw))) == NULL) {
			free(wt);
			return 0;
		}
		cw->w = w;
		memcpy(cw->sha1, rt->sha1, 20);
		if (cert_fetch_start(cw) != 0) {
			free(cw);
			free(wt);
			return 0;
		}
		cw->next = w->waits;
		w->waits = cw;
	}
	wt->req = req;
	wt->con = evhttp_request_get_connection(req);
	wt->rt = *rt;
	wt->start = *start;
	wt->next = cw->waiters;
	cw->waiters = wt;
	return 1;
}

/* ---- connections: counted, so max_connections holds (conns.c) ---- */

static void
conn_closed(struct evhttp_connection *con, void *arg)
{
	struct worker *w = arg;
	struct cert_wait *cw;
	struct waiter *wt;

	conns_forget(&w->conns, con);
	/* a request waiting for a certificate on this connection is gone with it */
	for (cw = w->waits; cw != NULL; cw = cw->next)
		for (wt = cw->waiters; wt != NULL; wt = wt->next)
			if (wt->con == con)
				wt->req = NULL;
}

/* Counts a connection at its first request; 0 when over the limit. */
static int
conn_admit(struct worker *w, struct evhttp_connection *con)
{
	switch (conns_admit(&w->conns, w->max_conns, con)) {
	case CONN_REFUSED:
		__atomic_store_n(&w->metrics.refused_connections,
		    w->metrics.refused_connections + 1, __ATOMIC_RELAXED);
		return 0;
	case CONN_NEW:
		evhttp_connection_set_closecb(con, conn_closed, w);
		return 1;
	default:
		return 1;
	}
}

void
http_release_waits(struct worker *w)
{
	while (w->waits != NULL) {
		struct cert_wait *cw = w->waits;

		w->waits = cw->next;
		while (cw->waiters != NULL) {
			struct waiter *wt = cw->waiters;

			cw->waiters = wt->next;
			free(wt);
		}
		free(cw);
	}
}

/* Does the store hold this certificate? */
static int
have_cert(struct worker *w, const unsigned char sha1[20])
{
	unsigned char *der;
	size_t len;

	if (store_get_cert(w->sv->store, sha1, &der, &len) != STORE_OK)
		return 0;
	free(der);
	return 1;
}

/* An operator report, rendered into memory then sent. */
static void
serve_report(struct worker *w, struct evhttp_request *req, enum route_target t,
    struct reply *r)
{
	struct kind_health h[KIND_COUNT];
	struct report_sync facts;
	char *text = NULL;
	size_t len = 0, k;
	FILE *f = open_memstream(&text, &len);
	enum store_err err = STORE_ERR_NOMEM;
	const char *ctype = "text/plain; charset=utf-8";
	int code = 200;

	if (f == NULL)
		goto out;
	server_sync_facts(w->sv, &facts);
	switch (t) {
	case RT_STATUS_JSON:
		ctype = "application/json";
		err = report_status(w->sv->store, &w->cfg, server_now(w->sv), &facts, 1, f, NULL);
		break;
	case RT_STATUS_HTML:
		ctype = "text/html; charset=utf-8";
		err = report_html(w->sv->store, &w->cfg, server_now(w->sv), &facts, f);
		break;
	case RT_HEALTHZ: {
		enum health_level worst = HEALTH_OK;

		err = report_health(w->sv->store, &w->cfg, server_now(w->sv), &facts, h);
		for (k = KIND_AUTHROOT; err == STORE_OK && k < KIND_COUNT; k++)
			if (h[k].n_versions > 0 && h[k].level > worst)
				worst = h[k].level;
		/* nothing stored at all is as bad as it gets */
		if (err == STORE_OK && !h[KIND_AUTHROOT].has_served &&
		    !h[KIND_DISALLOWED].has_served && !h[KIND_PINRULES].has_served)
			worst = HEALTH_CRITICAL;
		fprintf(f, "%s\n", health_level_str(worst));
		code = worst == HEALTH_CRITICAL ? 503 : 200;
		break;
	}
	case RT_METRICS: {
		size_t by_status[KIND_COUNT][5];
		struct version *list = NULL;
		struct metrics sum;
		size_t n = 0, i;

		ctype = "text/plain; version=0.0.4; charset=utf-8";
		memset(&sum, 0, sizeof(sum));
		sum.started = w->sv->started;
		for (i = 0; i < w->sv->n_workers; i++)
			metrics_add(&sum, &w->sv->workers[i].metrics);
		memset(by_status, 0, sizeof(by_status));
		err = report_health(w->sv->store, &w->cfg, server_now(w->sv), &facts, h);
		if (err == STORE_OK)
			err = store_list(w->sv->store, KIND_UNKNOWN, &list, &n);
		for (i = 0; err == STORE_OK && i < n; i++)
			if ((unsigned)list[i].kind < KIND_COUNT && (unsigned)list[i].status < 5)
				by_status[list[i].kind][list[i].status]++;
		free(list);
		if (err == STORE_OK)
			metrics_write(&sum, h, (const size_t (*)[5])by_status,
			    w->cfg.poll_interval > 0 ? &facts : NULL, f);
		break;
	}
	default:
		break;
	}
out:
	if (f != NULL)
		fclose(f);
	if (err != STORE_OK) {
		server_log("report failed: %s: %s", store_strerror(err), store_last_error(w->sv->store));
		send_text(req, 500, "Internal Server Error", "text/plain", "500 store error\n", r);
	} else {
		send_text(req, code, code == 200 ? "OK" : "Service Unavailable", ctype, text, r);
	}
	free(text);
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	default: return "OTHER";
	}
}

static void
access_log(struct worker *w, struct evhttp_request *req, const struct route *rt,
    const struct reply *r, const struct timeval *start)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	const char *method = method_name(evhttp_request_get_command(req));
	static _Thread_local time_t last = -1;	/* the second t was formatted for */
	static _Thread_local char t[ISOTIME_LEN];
	char *peer = NULL, line[512];
	ev_uint16_t port = 0;
	struct timeval now;
	long long us;

	if (con != NULL)
		evhttp_connection_get_peer(con, &peer, &port);
	gettimeofday(&now, NULL);
	us = (long long)(now.tv_sec - start->tv_sec) * 1000000 + (now.tv_usec - start->tv_usec);
	if (us < 0)
		us = 0;		/* the clock was set back */
	if (now.tv_sec != last) {
		isotime_format(now.tv_sec, t, sizeof(t));
		last = now.tv_sec;
	}
	if (strcmp(w->cfg.log_format, "json") == 0)
		snprintf(line, sizeof(line), "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\","
		    "\"route\":\"%s\",\"way\":\"%s\",\"status\":%d,\"bytes\":%" PRIu64 ",\"ms\":%lld.%03lld}\n",
		    t, peer ? peer : "-", method, route_target_str(rt->target),
		    route_way_str(rt->way), r->code, r->bytes, us / 1000, us % 1000);
	else
		snprintf(line, sizeof(line), "%s %s %s %s %s %d %" PRIu64 " %lld.%03lldms\n", t,
		    peer ? peer : "-", method, route_target_str(rt->target),
		    route_way_str(rt->way), r->code, r->bytes, us / 1000, us % 1000);
	server_access(w->sv, line);
}

void
http_handle(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct route rt;
	struct reply r = { 0, 0 };
	struct timeval start;
	struct served_file *f;
	enum store_err err;

	gettimeofday(&start, NULL);
	evhttp_add_header(out, "Server", "ctlmirror");
	/* libevent would format Date itself for every HTTP/1.1 reply */
	evhttp_add_header(out, "Date", http_date(&date_now, start.tv_sec));
	if (!conn_admit(w, evhttp_request_get_connection(req))) {
		evhttp_add_header(out, "Connection", "close");
		evhttp_add_header(out, "Retry-After", "5");
		send_text(req, 503, "Service Unavailable", "text/plain",
		    "503 too many connections\n", &r);
		return;
	}
	route_request(&w->cfg, method_name(evhttp_request_get_command(req)),
	    evhttp_request_get_uri(req),
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Host"), &rt);
	if (w->draining)
		evhttp_add_header(out, "Connection", "close");
	if (rt.target <= RT_CRT && (err = cache_refresh(&w->cache, w->sv->store)) != STORE_OK) {
		/* keep answering from the copy already in memory */
		server_log("store read failed, serving the cached copy: %s: %s",
		    store_strerror(err), store_last_error(w->sv->store));
	}
	switch (rt.target) {
	case RT_CAB:
		f = &w->cache.kinds[rt.kind];
		if (!f->present)
			send_unavailable(req, rt.kind, &r);
		else
			send_blob(req, f->blob, "application/vnd.ms-cab-compressed", f->etag,
			    f->v.first_seen, "public, max-age=3600", &r);
		break;
	case RT_SEQ:
		if (w->cache.seq == NULL)
			send_unavailable(req, KIND_AUTHROOT, &r);
		else
			send_blob(req, w->cache.seq, "text/plain", w->cache.seq_etag,
			    w->cache.kinds[KIND_AUTHROOT].v.first_seen, "no-cache", &r);
		break;
	case RT_CRT:
		if (!w->cache.kinds[KIND_AUTHROOT].present) {
			send_unavailable(req, KIND_AUTHROOT, &r);
		} else if (cache_lists(&w->cache, rt.sha1) && !have_cert(w, rt.sha1) &&
		    wait_for_cert(w, req, &rt, &start)) {
			return;		/* answered when the fetch ends */
		} else {
			serve_crt(w, req, &rt, &r);
		}
		break;
	case RT_HEALTHZ:
	case RT_STATUS_JSON:
	case RT_STATUS_HTML:
	case RT_METRICS:
		serve_report(w, req, rt.target, &r);
		break;
	case RT_FORBIDDEN:
		evhttp_add_header(out, "Connection", "close");
		send_text(req, 403, "Forbidden", "text/plain",
		    "403 this mirror serves only the certificate trust lists of its mirrored hosts\n", &r);
		break;
	case RT_BAD_METHOD:
		evhttp_add_header(out, "Allow", "GET, HEAD");
		evhttp_add_header(out, "Connection", "close");
		send_text(req, 405, "Method Not Allowed", "text/plain",
		    "405 only GET and HEAD; this is not a tunnelling proxy\n", &r);
		break;
	case RT_BAD_REQUEST:
		evhttp_add_header(out, "Connection", "close");
		send_text(req, 400, "Bad Request", "text/plain", "400 bad request target\n", &r);
		break;
	default:
		send_text(req, 404, "Not Found", "text/plain", "404 not found\n", &r);
		break;
	}
	finish_request(w, req, &rt, &r, &start);
}

/*
 * evhttp writes a reply only when the loop next reports the socket writable:
 * one more pass through epoll_wait, and an epoll_ctl to turn write interest
 * on and another to turn it off, for every request. The socket almost always
 * has room, so write now. When everything went, tell evhttp the reply is
 * written, exactly as its own write callback would (it frees the request, and
 * the connection reads the next request or closes), and the write interest
 * it turned on is turned off again before the loop ever asks the kernel. What
 * did not fit stays in the buffer for evhttp's usual path.
 */
static void
write_now(struct evhttp_request *req)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;
	struct evbuffer *out;
	evutil_socket_t fd;

	if (bev == NULL || (fd = bufferevent_getfd(bev)) < 0)
		return;
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0 &&
	    evbuffer_get_length(out) == 0)
		bufferevent_trigger(bev, EV_WRITE, 0);
}

/* Counts and logs the answered request, then sends it: req is gone after. */
static void
finish_request(struct worker *w, struct evhttp_request *req, const struct route *rt,
    const struct reply *r, const struct timeval *start)
{
	metrics_count(&w->metrics, rt->target, r->code, r->bytes);
	access_log(w, req, rt, r, start);
	write_now(req);
}
