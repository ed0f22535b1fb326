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
#include <openssl/evp.h>

#include "proxy/serve/http.h"
#include "proxy/serve/ops.h"
#include "proxy/serve/reply.h"
#include "proxy/serve/route.h"
#include "verify/isotime.h"

static void finish_request(struct worker *w, struct evhttp_request *req,
    const struct route *rt, const struct reply *r, const struct timeval *start);

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
 * A listed root the store lacks: fetch it from upstream (certfetch.c; the
 * requests for the same file in this worker share one transfer), then answer
 * every waiting request from the store.
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
	struct certfetch fetch;
	struct waiter *waiters;
};

static void
on_cert_fetched(struct certfetch *cf, int stored, const char *why)
{
	struct cert_wait *cw = cf->arg, **pp;
	struct worker *w = cw->w;
	struct waiter *wt;

	(void)stored;	/* the waiters are answered from the store either way */
	(void)why;
	for (pp = &w->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cw) {
			*pp = cw->next;
			break;
		}
	worker_refresh(w);	/* the set marks the root stored now */
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

/* Returns 1 if the request now waits for a fetch (it is answered later). */
static int
wait_for_cert(struct worker *w, struct evhttp_request *req, const struct route *rt,
    const struct timeval *start)
{
	struct cert_wait *cw;
	struct waiter *wt;

	if (w->draining || w->cfg.n_upstream == 0 || (wt = calloc(1, sizeof(*wt))) == NULL)
		return 0;
	for (cw = w->waits; cw != NULL && memcmp(cw->fetch.sha1, rt->sha1, 20) != 0; cw = cw->next)
		;
	if (cw == NULL) {
		if ((cw = calloc(1, sizeof(*cw))) == NULL ||
		    (w->fetcher == NULL && (w->fetcher = fetcher_new(w->base)) == NULL) ||
		    certfetch_start(&cw->fetch, w->fetcher, w->sv->store, &w->cfg, rt->sha1,
		    NULL, server_now(w->sv), on_cert_fetched, cw) != 0) {
			free(cw);
			free(wt);
			return 0;
		}
		cw->w = w;
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

	gettimeofday(&start, NULL);
	evhttp_add_header(out, "Server", "ctlmirror");
	/* libevent would format Date itself for every HTTP/1.1 reply */
	evhttp_add_header(out, "Date", reply_date(start.tv_sec));
	if (!conn_admit(w, evhttp_request_get_connection(req))) {
		evhttp_add_header(out, "Connection", "close");
		evhttp_add_header(out, "Retry-After", "5");
		reply_text(req, 503, "Service Unavailable", "text/plain",
		    "503 too many connections\n", &r);
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
	access_log(w, req, rt, r, start);
	write_now(req);
}
