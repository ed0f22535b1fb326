/*
 * metrics.c - counters and their Prometheus text form.
 */
#include <stddef.h>
#include <string.h>

#include "proxy/serve/metrics.h"

static const int codes[METRICS_CODES] = {
	200, 206, 304, 400, 403, 404, 405, 416, 500, 503, 0 /* any other */
};

void
metrics_count(struct metrics *m, enum route_target t, int code, uint64_t bytes)
{
	int i;

	if ((unsigned)t >= RT_COUNT)
		return;
	for (i = 0; i < METRICS_CODES - 1 && codes[i] != code; i++)
		;
	__atomic_store_n(&m->requests[t][i], m->requests[t][i] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&m->bytes[t], m->bytes[t] + bytes, __ATOMIC_RELAXED);
}

/* The plain counters of struct metrics, by name: summed and written alike. */
static const struct {
	size_t off;
	const char *name, *help;
} counters[] = {
#define C(f, n, h) { offsetof(struct metrics, f), n, h }
	C(refused_connections, "ctlmirror_refused_connections_total",
	    "Connections closed because max_connections was reached."),
	C(refused_per_client, "ctlmirror_refused_per_client_total",
	    "Connections closed because their address held max_connections_per_client."),
	C(idle_closed, "ctlmirror_idle_closed_total",
	    "Idle connections closed to make room for a new one."),
	C(header_timeouts, "ctlmirror_header_timeouts_total",
	    "Connections closed: no whole request header within header_timeout."),
	C(keepalive_closes, "ctlmirror_keepalive_closes_total",
	    "Idle keep-alive connections closed after keepalive_timeout."),
	C(accept_paused, "ctlmirror_accept_paused_total",
	    "Times accepting paused at the open-file limit."),
	C(strict_refused, "ctlmirror_strict_refused_total",
	    "Requests refused 400 for a lenient header (duplicate, folded, smuggling)."),
	C(cert_fetches, "ctlmirror_cert_fetches_total",
	    "Upstream .crt fetches started for clients."),
	C(cert_fetch_failures, "ctlmirror_cert_fetch_failures_total",
	    "Of those, the ones every upstream failed."),
	C(cert_coalesced, "ctlmirror_cert_coalesced_total",
	    ".crt requests that shared another request's fetch."),
	C(cert_remembered, "ctlmirror_cert_remembered_total",
	    ".crt requests answered 404 at once: their fetch failed within cert_retry_after."),
	C(cert_rate_limited, "ctlmirror_cert_rate_limited_total",
	    ".crt requests answered 503: over cert_fetch_rate."),
#undef C
};

static uint64_t *
counter(struct metrics *m, int i)
{
	return (uint64_t *)(void *)((char *)m + counters[i].off);
}

static const uint64_t *
counter_c(const struct metrics *m, int i)
{
	return (const uint64_t *)(const void *)((const char *)m + counters[i].off);
}

void
metrics_add(struct metrics *dst, const struct metrics *src)
{
	int t, i;

	for (t = 0; t < RT_COUNT; t++) {
		for (i = 0; i < METRICS_CODES; i++)
			dst->requests[t][i] += __atomic_load_n(&src->requests[t][i], __ATOMIC_RELAXED);
		dst->bytes[t] += __atomic_load_n(&src->bytes[t], __ATOMIC_RELAXED);
	}
	for (i = 0; i < (int)(sizeof(counters) / sizeof(counters[0])); i++)
		*counter(dst, i) += __atomic_load_n(counter_c(src, i), __ATOMIC_RELAXED);
}

/* A label value in the exposition format: backslash, quote and newline escaped. */
static void
label(FILE *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

/* ---- the live counters: written for every scrape ---- */

void
metrics_write_live(const struct metrics *m, FILE *out)
{
	int t, i;

	fprintf(out, "# HELP ctlmirror_requests_total HTTP responses by route and status code.\n"
	    "# TYPE ctlmirror_requests_total counter\n");
	for (t = 0; t < RT_COUNT; t++)
		for (i = 0; i < METRICS_CODES; i++)
			if (m->requests[t][i] > 0) {
				if (codes[i] != 0)
					fprintf(out, "ctlmirror_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
					    route_target_str((enum route_target)t), codes[i],
					    (unsigned long long)m->requests[t][i]);
				else
					fprintf(out, "ctlmirror_requests_total{route=\"%s\",code=\"other\"} %llu\n",
					    route_target_str((enum route_target)t),
					    (unsigned long long)m->requests[t][i]);
			}
	fprintf(out, "# HELP ctlmirror_response_bytes_total Body bytes sent by route.\n"
	    "# TYPE ctlmirror_response_bytes_total counter\n");
	for (t = 0; t < RT_COUNT; t++)
		if (m->bytes[t] > 0)
			fprintf(out, "ctlmirror_response_bytes_total{route=\"%s\"} %llu\n",
			    route_target_str((enum route_target)t), (unsigned long long)m->bytes[t]);
	for (i = 0; i < (int)(sizeof(counters) / sizeof(counters[0])); i++)
		fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
		    counters[i].help, counters[i].name, counters[i].name,
		    (unsigned long long)*counter_c(m, i));
	fprintf(out, "# HELP ctlmirror_running_as_root 1 when `user = root` keeps the daemon root on purpose.\n"
	    "# TYPE ctlmirror_running_as_root gauge\n"
	    "ctlmirror_running_as_root %d\n", m->root_kept);
	fprintf(out, "# HELP ctlmirror_start_time_seconds When this process started.\n"
	    "# TYPE ctlmirror_start_time_seconds gauge\n"
	    "ctlmirror_start_time_seconds %lld\n", (long long)m->started);
}

/* ---- the store's state: written once per change (ops.c keeps it) ---- */

void
metrics_write_state(const struct kind_health h[KIND_COUNT],
    const size_t by_status[KIND_COUNT][5], const struct report_sync *sync, FILE *out)
{
	static const char *const statuses[5] = {
		"served", "pinned", "admitted", "quarantined", "rollback"
	};
	int i, k;

	fprintf(out, "# HELP ctlmirror_served_info The served version per kind (sequence as a label).\n"
	    "# TYPE ctlmirror_served_info gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].has_served)
			fprintf(out, "ctlmirror_served_info{kind=\"%s\",sequence=\"%s\",pinned=\"%s\"} 1\n",
			    ctl_kind_str((enum ctl_kind)k), h[k].served.sequence,
			    h[k].pinned ? "true" : "false");
	fprintf(out, "# HELP ctlmirror_served_this_update_seconds thisUpdate of the served version.\n"
	    "# TYPE ctlmirror_served_this_update_seconds gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].has_served)
			fprintf(out, "ctlmirror_served_this_update_seconds{kind=\"%s\"} %lld\n",
			    ctl_kind_str((enum ctl_kind)k), (long long)h[k].served.this_update);
	fprintf(out, "# HELP ctlmirror_signer_not_after_seconds When the served version's signing chain expires.\n"
	    "# TYPE ctlmirror_signer_not_after_seconds gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].has_served && h[k].served.has_chain)
			fprintf(out, "ctlmirror_signer_not_after_seconds{kind=\"%s\"} %lld\n",
			    ctl_kind_str((enum ctl_kind)k), (long long)h[k].signer_not_after);
	fprintf(out, "# HELP ctlmirror_health Health per kind: 0 ok, 1 warn, 2 critical.\n"
	    "# TYPE ctlmirror_health gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].kept)
			fprintf(out, "ctlmirror_health{kind=\"%s\"} %d\n",
			    ctl_kind_str((enum ctl_kind)k), (int)h[k].level);
	fprintf(out, "# HELP ctlmirror_health_overall The mirror's health, as healthz and status judge it.\n"
	    "# TYPE ctlmirror_health_overall gauge\n"
	    "ctlmirror_health_overall %d\n", (int)health_overall(h));
	fprintf(out, "# HELP ctlmirror_pin_until_seconds When the pin of a kind lapses (0: until unpinned).\n"
	    "# TYPE ctlmirror_pin_until_seconds gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].pinned)
			fprintf(out, "ctlmirror_pin_until_seconds{kind=\"%s\"} %lld\n",
			    ctl_kind_str((enum ctl_kind)k), (long long)h[k].pin.until);
	fprintf(out, "# HELP ctlmirror_pin_info A pin per kind, with its reason and who set it.\n"
	    "# TYPE ctlmirror_pin_info gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].pinned) {
			fprintf(out, "ctlmirror_pin_info{kind=\"%s\",reason=\"", ctl_kind_str((enum ctl_kind)k));
			label(out, h[k].pin.reason);
			fputs("\",by=\"", out);
			label(out, h[k].pin.by[0] ? h[k].pin.by : "administrator");
			fputs("\"} 1\n", out);
		}
	fprintf(out, "# HELP ctlmirror_pin_newer_held_back Verified versions newer than the pinned one.\n"
	    "# TYPE ctlmirror_pin_newer_held_back gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].pinned)
			fprintf(out, "ctlmirror_pin_newer_held_back{kind=\"%s\"} %zu\n",
			    ctl_kind_str((enum ctl_kind)k), h[k].newer_held);
	fprintf(out, "# HELP ctlmirror_quarantined_newer A copy newer than the served version failed verification (1) or not (0).\n"
	    "# TYPE ctlmirror_quarantined_newer gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		fprintf(out, "ctlmirror_quarantined_newer{kind=\"%s\"} %d\n",
		    ctl_kind_str((enum ctl_kind)k), h[k].has_quarantined ? 1 : 0);
	if (sync != NULL) {
		fprintf(out, "# HELP ctlmirror_sync_last_success_seconds When a sync round last ended well for the kind.\n"
		    "# TYPE ctlmirror_sync_last_success_seconds gauge\n");
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
			if (sync->last_success[k] != 0)
				fprintf(out, "ctlmirror_sync_last_success_seconds{kind=\"%s\"} %lld\n",
				    ctl_kind_str((enum ctl_kind)k), (long long)sync->last_success[k]);
		fprintf(out, "# HELP ctlmirror_sync_consecutive_failures Sync rounds failed for the kind since the last good one.\n"
		    "# TYPE ctlmirror_sync_consecutive_failures gauge\n");
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
			fprintf(out, "ctlmirror_sync_consecutive_failures{kind=\"%s\"} %u\n",
			    ctl_kind_str((enum ctl_kind)k), sync->failures[k]);
	}
	fprintf(out, "# HELP ctlmirror_store_versions Stored versions by kind and status.\n"
	    "# TYPE ctlmirror_store_versions gauge\n");
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		for (i = 0; i < 5; i++)
			fprintf(out, "ctlmirror_store_versions{kind=\"%s\",status=\"%s\"} %zu\n",
			    ctl_kind_str((enum ctl_kind)k), statuses[i], by_status[k][i]);
}
