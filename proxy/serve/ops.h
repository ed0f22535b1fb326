/*
 * ops.h - the operator endpoints under /_ctlmirror/: status (HTML),
 * status.json, metrics (Prometheus text) and healthz.
 *
 * Each is rendered from the one health judgement (report.c, health.c), so
 * healthz, the metrics, the page and `ctlmirror status` always agree.
 */
#ifndef CTLMIRROR_OPS_H
#define CTLMIRROR_OPS_H

#include <event2/http.h>

#include "proxy/serve/reply.h"
#include "proxy/serve/route.h"
#include "proxy/serve/worker.h"

/* Answers req for target t (RT_HEALTHZ, RT_STATUS_JSON, RT_STATUS_HTML, RT_METRICS). */
void ops_serve(struct worker *w, struct evhttp_request *req, enum route_target t,
    struct reply *r);

#endif
