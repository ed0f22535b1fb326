/*
 * reply.c - HTTP replies (see reply.h).
 */
#define _GNU_SOURCE	/* strptime, timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proxy/serve/reply.h"

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

const char *
reply_date(time_t t)
{
	return http_date(&date_now, t);
}

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

void
reply_text(struct evhttp_request *req, int code, const char *reason,
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
void
reply_file(struct evhttp_request *req, struct blob *b, const char *ctype,
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
			reply_text(req, 416, "Range Not Satisfiable", "text/plain",
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
		reply_text(req, 500, "Internal Server Error", "text/plain", "out of memory\n", r);
		return;
	}
	r->bytes = to - from + 1;
	evhttp_send_reply(req, r->code, partial ? "Partial Content" : "OK", body);
	evbuffer_free(body);
}

void
reply_unavailable(struct evhttp_request *req, enum ctl_kind kind, struct reply *r)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
	    "503 no verified %s list is available from this mirror yet\n", ctl_kind_str(kind));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "300");
	reply_text(req, 503, "Service Unavailable", "text/plain", msg, r);
}

