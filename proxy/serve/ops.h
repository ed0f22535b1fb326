/*
 * ops.h - the operator endpoints under /_ctlmirror/: status (HTML),
 * status.json, metrics (Prometheus text) and healthz.
 *
 * Each is rendered from the one health judgement (report.c, health.c), so
 * healthz, the metrics, the page and `ctlmirror status` always agree.
 *
 * Who may read them: with `operator_allow =` lines, only peers inside one of
 * those addresses or prefixes (cidr.h); every other peer gets 403 (counted
 * and logged as any reply). Without such lines, everyone. The prefixes are
 * parsed once per config the worker holds, not per request.
 *
 * What a request costs: O(1) in the number of stored versions. Each worker
 * keeps its own cache (struct ops_cache, reached from struct worker, touched
 * by that worker's thread only, so nothing is shared or locked):
 *   - per store generation (store_generation(): any commit changes it), what
 *     the judgement needs from the version list: per kind the count, the
 *     count by status and the newest quarantined copy. Read again on the
 *     first request after a commit, so an import or a pin shows at once.
 *   - per store generation, when the status page is first asked for, its
 *     history summarised once (page.h: served intervals and marks, the
 *     upstreams' last answers; the page's one O(versions) part); the page
 *     text itself is cached per language and per `?all=1`.
 *   - per key, the judgement (with what the store says of the upstreams'
 *     last answers, report_upstream_older: O(kinds x upstreams)) and each
 *     endpoint's text, written when first asked for. The key is the store
 *     generation, the sync facts of the last round, the config keys the
 *     judgement reads (warn_days, stale_after, poll_interval, kinds) and
 *     `now` in whole seconds. Health depends on the clock (days left, expiry,
 *     stale_after), and the key's `now` makes the judgement again in each new
 *     second it is asked in: what a request sees is never judged more than a
 *     second before it (nor does any other config change take longer).
 * A request then copies the cached text; the metrics add the live counters
 * (metrics.h), summed over the workers, in front of it.
 */
#ifndef CTLMIRROR_OPS_H
#define CTLMIRROR_OPS_H

#include <event2/http.h>

#include "proxy/serve/reply.h"
#include "proxy/serve/route.h"
#include "proxy/serve/worker.h"

/*
 * Answers req for target t (RT_HEALTHZ, RT_STATUS_JSON, RT_STATUS_HTML,
 * RT_METRICS): 403 for a peer operator_allow leaves out, 500 when the store
 * cannot be read (logged), else the endpoint. Runs in w's thread.
 */
void ops_serve(struct worker *w, struct evhttp_request *req, enum route_target t,
    struct reply *r);

/* Releases w's cache (w->ops); for the worker's teardown. */
void ops_free(struct worker *w);

#endif
