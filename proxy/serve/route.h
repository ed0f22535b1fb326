/*
 * route.h - which file or endpoint an HTTP request asks for.
 *
 * Clients reach ctlmirror three ways (docs/operations.md, "What clients get"): as a
 * forward proxy (absolute URI naming a mirrored host), by DNS (Host: a
 * mirrored host, upstream's path), or flat under flat_prefix (RootDirURL).
 * The request target is parsed by libevent (evhttp_uri); this module only
 * decides. Query strings are ignored: Windows appends a random one. Anything
 * that is not exactly a known name is refused before it reaches the store.
 */
#ifndef CTLMIRROR_ROUTE_H
#define CTLMIRROR_ROUTE_H

#include "proxy/config.h"
#include "verify/verdict.h"

/* The path upstream serves the lists under. */
#define ROUTE_UPSTREAM_PATH "/msdownload/update/v3/static/trustedr/en/"

enum route_target {
	RT_CAB = 0,		/* the served cab of a kind */
	RT_SEQ,			/* authrootseq.txt, generated */
	RT_CRT,			/* <SHA1>.crt */
	RT_HEALTHZ,		/* /_ctlmirror/healthz */
	RT_STATUS_JSON,		/* /_ctlmirror/status.json */
	RT_STATUS_HTML,		/* /_ctlmirror/status */
	RT_METRICS,		/* /_ctlmirror/metrics */
	RT_PAC,			/* /_ctlmirror/proxy.pac: for every client (pac.h) */
	RT_NOT_FOUND,		/* 404 */
	RT_FORBIDDEN,		/* 403: an absolute URI for a host we do not mirror */
	RT_BAD_METHOD,		/* 405: CONNECT, POST, ... */
	RT_BAD_REQUEST,		/* 400: unparseable or hostile target */
};
#define RT_COUNT 12

enum route_way { WAY_PROXY = 0, WAY_DNS, WAY_FLAT, WAY_OPERATOR };

struct route {
	enum route_target target;
	enum route_way way;
	enum ctl_kind kind;		/* for RT_CAB, RT_SEQ (authroot), RT_CRT (authroot) */
	unsigned char sha1[20];		/* for RT_CRT */
};

/* A short name for metrics and logs: "cab", "seq", "crt", "healthz", ... */
const char *route_target_str(enum route_target t);
const char *route_way_str(enum route_way w);

/*
 * Routes one request. method is the HTTP method as text, target the request
 * target as received, host the Host header (may be NULL).
 */
void route_request(const struct config *cfg, const char *method,
    const char *target, const char *host, struct route *out);

#endif
