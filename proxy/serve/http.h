/*
 * http.h - answering one request: route it, answer it, count and log it.
 *
 * Files come from the worker's served set (served.h): the cabs, the
 * generated authrootseq.txt, and `<SHA1>.crt` for the roots the served CTL
 * lists. A listed root the store lacks is fetched from upstream while the
 * request waits (one transfer per certificate for all workers, failures
 * remembered, the rate bounded: certbroker.h). The operator endpoints are ops.c's. Every answer is counted
 * (metrics.c), logged, and written at once.
 */
#ifndef CTLMIRROR_HTTP_H
#define CTLMIRROR_HTTP_H

#include <event2/http.h>

#include "proxy/serve/worker.h"

/* The request callback for evhttp (arg: struct worker *). */
void http_handle(struct evhttp_request *req, void *arg);

/*
 * A counted connection closed (conns.h's on_close, arg: struct worker *): a
 * .crt request still waiting on it is answered to no one.
 */
void http_conn_closed(struct evhttp_connection *con, void *arg);

/* Frees the .crt requests still waiting (after evhttp_free closed their connections). */
void http_release_waits(struct worker *w);

#endif
