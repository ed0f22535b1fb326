/*
 * ops.c - the operator endpoints (see ops.h): rendered into memory, then sent.
 */
#define _GNU_SOURCE	/* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/health.h"
#include "proxy/report.h"
#include "proxy/serve/ops.h"

/* Versions by kind and status, and the Prometheus text. */
static enum store_err
write_metrics(struct worker *w, const struct report_sync *facts, FILE *f)
{
	size_t by_status[KIND_COUNT][5];
	struct kind_health h[KIND_COUNT];
	struct version *list = NULL;
	struct metrics sum;
	enum store_err err;
	size_t n = 0, i;

	memset(&sum, 0, sizeof(sum));
	sum.started = w->sv->started;
	for (i = 0; i < w->sv->n_workers; i++)
		metrics_add(&sum, &w->sv->workers[i].metrics);
	memset(by_status, 0, sizeof(by_status));
	err = report_health(w->sv->store, &w->cfg, server_now(w->sv), facts, h);
	if (err == STORE_OK)
		err = store_list(w->sv->store, KIND_UNKNOWN, &list, &n);
	for (i = 0; err == STORE_OK && i < n; i++)
		if ((unsigned)list[i].kind < KIND_COUNT && (unsigned)list[i].status < 5)
			by_status[list[i].kind][list[i].status]++;
	free(list);
	if (err == STORE_OK)
		metrics_write(&sum, h, (const size_t (*)[5])by_status,
		    w->cfg.poll_interval > 0 ? facts : NULL, f);
	return err;
}

void
ops_serve(struct worker *w, struct evhttp_request *req, enum route_target t,
    struct reply *r)
{
	struct kind_health h[KIND_COUNT];
	struct report_sync facts;
	enum health_level overall;
	char *text = NULL;
	size_t len = 0;
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
	case RT_HEALTHZ:
		err = report_health(w->sv->store, &w->cfg, server_now(w->sv), &facts, h);
		if (err == STORE_OK) {
			overall = health_overall(h);
			fprintf(f, "%s\n", health_level_str(overall));
			code = overall == HEALTH_CRITICAL ? 503 : 200;
		}
		break;
	case RT_METRICS:
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		err = write_metrics(w, &facts, f);
		break;
	default:
		break;
	}
out:
	if (f != NULL)
		fclose(f);
	if (err != STORE_OK) {
		server_log("report failed: %s: %s", store_strerror(err), store_last_error(w->sv->store));
		reply_text(req, 500, "Internal Server Error", "text/plain", "500 store error\n", r);
	} else {
		reply_text(req, code, code == 200 ? "OK" : "Service Unavailable", ctype, text, r);
	}
	free(text);
}
