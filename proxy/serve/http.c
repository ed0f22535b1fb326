/*
 * http.c - answering requests (see http.h).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <openssl/evp.h>

#include "proxy/serve/http.h"
#include "proxy/serve/ops.h"
#include "proxy/serve/pac.h"
#include "proxy/serve/reply.h"
#include "proxy/serve/route.h"
#include "proxy/serve/strict.h"
#include "verify/isotime.h"

static void finish_request(struct worker *w, struct evhttp_request *req,
    const struct route *rt, const struct reply *r, const struct timeval *start);
static void write_now(struct evhttp_request *req);

/* A listed root, from the store: only bytes that hash to the name (the .crt rule, served.c). */
static void
serve_crt(struct worker *w, struct evhttp_request *req, const struct route *rt,
    struct reply *r)
{
	unsigned char *der = NULL, md[32];
	char etag[HEX_ETAG_LEN];
	size_t len = 0;
	struct blob *b;

	if (store_get_cert(w->sv->store, rt->sha1, &der, &len) != STORE_OK ||
	    !served_crt_ok(&w->served, rt->sha1, der, len) ||
	    !EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL) ||
	    (b = blob_new(der, len)) == NULL) {
		free(der);
		reply_text(req, 404, "Not Found", "text/plain",
		    "404 this root is not listed by the served CTL or not stored\n", r);
		return;
	}
	free(der);
	hex_etag(md, etag);
	reply_file(req, b, "application/pkix-cert", etag,
	    w->served.kinds[KIND_AUTHROOT].modified, "public, max-age=86400", r);
	blob_unref(b);
}

/*
 * A listed root the store lacks: the broker fetches it (certbroker.h: one
 * transfer for all workers, failures remembered, client-caused fetches rate
 * limited); the requests for the same file in this worker wait on one ask,
 * and are answered from the store when the broker's answer comes.
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
	unsigned char sha1[20];
	struct waiter *waiters;
};

static void
count_cert(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, *counter + n, __ATOMIC_RELAXED);
}

/* Over cert_fetch_rate: come back later (a 404 would read as "no such root"). */
static void
reply_cert_limited(struct evhttp_request *req, unsigned long retry_after, struct reply *r)
{
	char secs[24];

	snprintf(secs, sizeof(secs), "%lu", retry_after > 0 ? retry_after : 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", secs);
	reply_text(req, 503, "Service Unavailable", "text/plain",
	    "503 too many root certificates fetched upstream for clients; try again later\n", r);
}

/* The broker's answer for one certificate, on this worker's loop. */
static void
on_cert_answer(void *arg, const struct certbroker_answer *a)
{
	struct worker *w = arg;
	struct cert_wait *cw = NULL, **pp;
	struct waiter *wt;
	size_t n = 0;

	for (pp = &w->waits; *pp != NULL; pp = &(*pp)->next)
		if (memcmp((*pp)->sha1, a->sha1, 20) == 0) {
			cw = *pp;
			*pp = cw->next;
			break;
		}
	if (a->started)
		count_cert(&w->metrics.cert_fetches, 1);
	if (a->joined)
		count_cert(&w->metrics.cert_coalesced, 1);
	if (a->started && a->result == CERTBROKER_FAILED)
		count_cert(&w->metrics.cert_fetch_failures, 1);
	if (cw == NULL)
		return;
	worker_refresh(w);	/* the set marks the root stored now */
	while ((wt = cw->waiters) != NULL) {
		struct reply r = { 0, 0 };

		cw->waiters = wt->next;
		if (wt->req != NULL) {
			if (a->result == CERTBROKER_LIMITED)
				reply_cert_limited(wt->req, a->retry_after, &r);
			else
				serve_crt(w, wt->req, &wt->rt, &r);
			finish_request(w, wt->req, &wt->rt, &r, &wt->start);
		}
		n++;
		free(wt);
	}
	if (a->result == CERTBROKER_REMEMBERED)
		count_cert(&w->metrics.cert_remembered, n);
	else if (a->result == CERTBROKER_LIMITED)
		count_cert(&w->metrics.cert_rate_limited, n);
	if (n > 1 && (a->started || a->joined))	/* the requests that shared this worker's ask */
		count_cert(&w->metrics.cert_coalesced, n - 1);
	free(cw);
}

/* Returns 1 if the request now waits for the broker (it is answered later). */
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
		if ((w->certs.broker == NULL && certbroker_client_init(&w->certs, w->sv->certs,
		    w->base, on_cert_answer, w) != 0) ||
		    (cw = calloc(1, sizeof(*cw))) == NULL ||
		    certbroker_ask(&w->certs, rt->sha1) != 0) {
			free(cw);
			free(wt);
			return 0;
		}
		memcpy(cw->sha1, rt->sha1, 20);
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

/* ---- connections: counted from accept by conns.c; closes reported here ---- */

void
http_conn_closed(struct evhttp_connection *con, void *arg)
{
	struct worker *w = arg;
	struct cert_wait *cw;
	struct waiter *wt;

	/* a request waiting for a certificate on this connection is gone with it */
	for (cw = w->waits; cw != NULL; cw = cw->next)
		for (wt = cw->waiters; wt != NULL; wt = wt->next)
			if (wt->con == con)
				wt->req = NULL;
}

/*
 * The connection is busy with this request now (conns.h); what is wrong with
 * the request by strict.h's rules, STRICT_OK when nothing is.
 */
static enum strict_reason
conn_request(struct worker *w, struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int folded = 0;

	conns_request(&w->conns, req, &folded);
	if (folded)
		return STRICT_FOLDED;
	return strict_check(evhttp_request_get_input_headers(req), req->major, req->minor,
	    cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD);
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

/* One access-log line; why (or NULL) says why a request was refused. */
static void
access_log(struct worker *w, struct evhttp_request *req, const struct route *rt,
    const struct reply *r, const struct timeval *start, const char *why)
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
		    "\"route\":\"%s\",\"way\":\"%s\",\"status\":%d,\"bytes\":%" PRIu64 ",\"ms\":%lld.%03lld%s%s%s}\n",
		    t, peer ? peer : "-", method, route_target_str(rt->target),
		    route_way_str(rt->way), r->code, r->bytes, us / 1000, us % 1000,
		    why ? ",\"reason\":\"" : "", why ? why : "", why ? "\"" : "");
	else
		snprintf(line, sizeof(line), "%s %s %s %s %s %d %" PRIu64 " %lld.%03lldms%s%s%s\n", t,
		    peer ? peer : "-", method, route_target_str(rt->target),
		    route_way_str(rt->way), r->code, r->bytes, us / 1000, us % 1000,
		    why ? " reason=\"" : "", why ? why : "", why ? "\"" : "");
	server_access(w->sv, line);
}

/* A refusal: the connection closes after it, as nginx does. */
static void
refuse(struct evhttp_request *req, int code, const char *reason, const char *body,
    struct reply *r)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	reply_text(req, code, reason, "text/plain", body, r);
}

void
http_handle(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct route rt;
	struct reply r = { 0, 0 };
	struct timeval start;
	struct served_kind *f;
	const struct listed_root *lr;
	enum strict_reason why;

	gettimeofday(&start, NULL);
	/*
	 * An absolute-URI request (a forward-proxy client) makes libevent close
	 * the connection after the reply unless the reply says Proxy-Connection:
	 * keep-alive, and without saying Connection: close. Ours are answered
	 * like any other request: keep-alive by the usual HTTP/1.x rules.
	 */
	req->flags &= ~EVHTTP_PROXY_REQUEST;
	evhttp_add_header(out, "Server", "ctlmirror");
	/* libevent would format Date itself for every HTTP/1.1 reply */
	evhttp_add_header(out, "Date", reply_date(start.tv_sec));
	if ((why = conn_request(w, req)) != STRICT_OK) {
		char body[128];

		/* a request read two ways by two parsers is how smuggling starts: 400, closed */
		snprintf(body, sizeof(body), "400 bad request: %s\n", strict_str(why));
		memset(&rt, 0, sizeof(rt));
		rt.target = RT_BAD_REQUEST;
		refuse(req, 400, "Bad Request", body, &r);
		__atomic_store_n(&w->metrics.strict_refused, w->metrics.strict_refused + 1,
		    __ATOMIC_RELAXED);
		metrics_count(&w->metrics, rt.target, r.code, r.bytes);
		access_log(w, req, &rt, &r, &start, strict_str(why));
		write_now(req);
		return;
	}
	route_request(&w->cfg, method_name(evhttp_request_get_command(req)),
	    evhttp_request_get_uri(req),
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Host"), &rt);
	if (w->draining)
		evhttp_add_header(out, "Connection", "close");
	if (rt.target <= RT_CRT)
		worker_refresh(w);
	switch (rt.target) {
	case RT_CAB:
		f = &w->served.kinds[rt.kind];
		if (!f->present)
			reply_unavailable(req, rt.kind, &r);
		else
			reply_file(req, f->bytes, "application/vnd.ms-cab-compressed", f->etag,
			    f->modified, "no-cache", &r);
		break;
	case RT_SEQ:
		if (w->served.seq == NULL)
			reply_unavailable(req, KIND_AUTHROOT, &r);
		else
			reply_file(req, w->served.seq, "text/plain", w->served.seq_etag,
			    w->served.kinds[KIND_AUTHROOT].modified, "no-cache", &r);
		break;
	case RT_CRT:
		if (!w->served.kinds[KIND_AUTHROOT].present) {
			reply_unavailable(req, KIND_AUTHROOT, &r);
		} else if ((lr = served_listed(&w->served, rt.sha1)) != NULL && !lr->stored &&
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
		ops_serve(w, req, rt.target, &r);
		break;
	case RT_PAC:
		pac_serve(w, req, &r);
		break;
	case RT_FORBIDDEN:
		refuse(req, 403, "Forbidden",
		    "403 this mirror serves only the certificate trust lists of its mirrored hosts\n", &r);
		break;
	case RT_BAD_METHOD:
		evhttp_add_header(out, "Allow", "GET, HEAD");
		refuse(req, 405, "Method Not Allowed",
		    "405 only GET and HEAD; this is not a tunnelling proxy\n", &r);
		break;
	case RT_BAD_REQUEST:
		refuse(req, 400, "Bad Request", "400 bad request target\n", &r);
		break;
	default:
		reply_text(req, 404, "Not Found", "text/plain", "404 not found\n", &r);
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
	access_log(w, req, rt, r, start, NULL);
	write_now(req);
}
