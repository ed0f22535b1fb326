/*
 * reply.h - writing HTTP replies: text, and served files with their validators.
 *
 * Files get ETag, Last-Modified, Cache-Control, conditional 304s
 * (If-None-Match wins over If-Modified-Since), single byte ranges (206/416)
 * and HEAD; every reply carries Content-Length, which libevent leaves out for
 * HEAD, HTTP/1.0 and CONNECT. A file's bytes are referenced, not copied, until
 * the reply is sent.
 */
#ifndef CTLMIRROR_REPLY_H
#define CTLMIRROR_REPLY_H

#include <stdint.h>
#include <time.h>

#include <event2/http.h>

#include "proxy/served.h"

/* What was answered, for the counters and the access log. */
struct reply {
	int code;
	uint64_t bytes;
};

/* A plain reply with body (ctype its Content-Type), never cached. */
void reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, const char *body, struct reply *r);

/* 503 with Retry-After: nothing of kind can be served yet. */
void reply_unavailable(struct evhttp_request *req, enum ctl_kind kind, struct reply *r);

/*
 * A file: b's bytes with validators etag and modified (0: no Last-Modified),
 * answering the request's conditionals and Range.
 */
void reply_file(struct evhttp_request *req, struct blob *b, const char *ctype,
    const char *etag, time_t modified, const char *cache_control, struct reply *r);

/* The Date header of a reply sent at t (formatted once per second per thread). */
const char *reply_date(time_t t);

#endif
