/*
 * ops.c - the operator endpoints (see ops.h): judged and rendered once per
 * change, kept per worker, then copied into each reply.
 */
#define _GNU_SOURCE	/* open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/cidr.h"
#include "proxy/health.h"
#include "proxy/report.h"
#include "proxy/serve/ops.h"

/* What a judgement was made from: equal keys, equal texts. */
struct ops_key {
	uint64_t generation;
	time_t now;
	struct report_sync facts;
	unsigned long warn_days, stale_after, poll_interval;
	int kept[KIND_COUNT];
};

enum ops_text { TEXT_JSON = 0, TEXT_HTML, TEXT_HEALTHZ, TEXT_METRICS, TEXT_COUNT };

struct ops_cache {
	/* operator_allow, parsed; allow_text is what it was parsed from */
	int allow_parsed;
	size_t n_allow;
	char allow_text[CONFIG_MAX_LIST][64];
	struct cidr allow[CONFIG_MAX_LIST];
	int allow_ok[CONFIG_MAX_LIST];

	/* from the version list, at store generation `generation` */
	int loaded;
	uint64_t generation;
	size_t n_versions[KIND_COUNT];
	size_t by_status[KIND_COUNT][5];
	struct version quarantined[KIND_COUNT];	/* per kind the newest quarantined copy */
	int has_quarantined[KIND_COUNT];

	/* each kind's history on the status page, at timeline_generation */
	int timeline_loaded;
	uint64_t timeline_generation;
	char *timeline[KIND_COUNT];

	/* the judgement for key, and the texts written from it (NULL: not yet) */
	int judged;
	struct ops_key key;
	struct report_sync facts;	/* key.facts, with what the store says of the upstreams */
	struct kind_health h[KIND_COUNT];
	char *text[TEXT_COUNT];
	int code[TEXT_COUNT];
};

static void
drop_texts(struct ops_cache *c)
{
	int i;

	for (i = 0; i < TEXT_COUNT; i++) {
		free(c->text[i]);
		c->text[i] = NULL;
	}
}

static void
drop_timelines(struct ops_cache *c)
{
	int k;

	for (k = 0; k < KIND_COUNT; k++) {
		free(c->timeline[k]);
		c->timeline[k] = NULL;
	}
	c->timeline_loaded = 0;
}

void
ops_free(struct worker *w)
{
	if (w->ops == NULL)
		return;
	drop_texts(w->ops);
	drop_timelines(w->ops);
	free(w->ops);
	w->ops = NULL;
}

/* ---- who may read: operator_allow ---- */

static int
allow_current(const struct ops_cache *c, const struct config *cfg)
{
	size_t i;

	if (!c->allow_parsed || c->n_allow != cfg->n_operator_allow)
		return 0;
	for (i = 0; i < c->n_allow; i++)
		if (strcmp(c->allow_text[i], cfg->operator_allow[i]) != 0)
			return 0;
	return 1;
}

/* Parses the config's lines, once per config (a SIGHUP may bring new ones). */
static void
allow_parse(struct ops_cache *c, const struct config *cfg)
{
	size_t i;

	c->n_allow = cfg->n_operator_allow;
	for (i = 0; i < c->n_allow; i++) {
		snprintf(c->allow_text[i], sizeof(c->allow_text[i]), "%s", cfg->operator_allow[i]);
		/* config.c refused bad lines already; one that slipped through allows nobody */
		c->allow_ok[i] = cidr_parse(cfg->operator_allow[i], &c->allow[i]) == 0;
		if (!c->allow_ok[i])
			server_log("operator_allow '%s' is not an address or prefix: ignored",
			    cfg->operator_allow[i]);
	}
	c->allow_parsed = 1;
}

static int
allowed(struct ops_cache *c, const struct config *cfg, struct evhttp_request *req)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	const struct sockaddr *sa;
	size_t i;

	if (cfg->n_operator_allow == 0)
		return 1;
	if (!allow_current(c, cfg))
		allow_parse(c, cfg);
	if (con == NULL || (sa = evhttp_connection_get_addr(con)) == NULL)
		return 0;
	for (i = 0; i < c->n_allow; i++)
		if (c->allow_ok[i] && cidr_match(&c->allow[i], sa))
			return 1;
	return 0;
}

/* ---- what the judgement needs from the store, once per generation ---- */

static enum store_err
load_versions(struct ops_cache *c, struct store *s, uint64_t generation)
{
	struct version *list = NULL;
	enum store_err err;
	size_t n = 0, i;
	unsigned k, st;

	if ((err = store_list(s, KIND_UNKNOWN, &list, &n)) != STORE_OK)
		goto out;
	memset(c->n_versions, 0, sizeof(c->n_versions));
	memset(c->by_status, 0, sizeof(c->by_status));
	memset(c->has_quarantined, 0, sizeof(c->has_quarantined));
	for (i = 0; i < n; i++) {
		k = (unsigned)list[i].kind;
		st = (unsigned)list[i].status;
		if (k >= KIND_COUNT)
			continue;
		c->n_versions[k]++;
		if (st < 5)
			c->by_status[k][st]++;
		/*
		 * health_of looks for the newest quarantined copy newer than the
		 * served one; the newest of all, chosen by its rule (the last of
		 * equals wins), is that copy if any is.
		 */
		if (list[i].status == VS_QUARANTINED && (!c->has_quarantined[k] ||
		    ctl_seq_cmp(list[i].sequence, c->quarantined[k].sequence) >= 0)) {
			c->quarantined[k] = list[i];
			c->has_quarantined[k] = 1;
		}
	}
	c->generation = generation;
	c->loaded = 1;
out:
	free(list);
	return err;
}

/* Each kind's history for the page, rendered once per generation. */
static enum store_err
load_timelines(struct ops_cache *c, struct store *s)
{
	struct version *list = NULL;
	enum store_err err;
	size_t n = 0, i, j, len;
	FILE *f;
	int k;

	drop_timelines(c);
	if ((err = store_list(s, KIND_UNKNOWN, &list, &n)) != STORE_OK)
		goto out;
	/* sorted by kind first: each kind is one run */
	for (i = 0, k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		while (i < n && (unsigned)list[i].kind < (unsigned)k)
			i++;
		for (j = i; j < n && list[j].kind == (enum ctl_kind)k; j++)
			;
		if ((f = open_memstream(&c->timeline[k], &len)) == NULL) {
			err = STORE_ERR_NOMEM;
			goto out;
		}
		report_html_timeline(list + i, j - i, f);
		if (fclose(f) != 0) {
			err = STORE_ERR_NOMEM;
			goto out;
		}
		i = j;
	}
	c->timeline_generation = c->generation;
	c->timeline_loaded = 1;
out:
	if (err != STORE_OK)
		drop_timelines(c);
	free(list);
	return err;
}

/* ---- the judgement, once per key ---- */

static void
make_key(struct worker *w, uint64_t generation, struct ops_key *key)
{
	int k;

	memset(key, 0, sizeof(*key));	/* padding too: keys compare with memcmp */
	key->generation = generation;
	key->now = server_now(w->sv);
	server_sync_facts(w->sv, &key->facts);
	key->warn_days = w->cfg.warn_days;
	key->stale_after = w->cfg.stale_after;
	key->poll_interval = w->cfg.poll_interval;
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		key->kept[k] = config_keeps(&w->cfg, ctl_kind_str((enum ctl_kind)k));
}

static void
judge(struct worker *w, struct ops_cache *c, const struct ops_key *key)
{
	struct version few[KIND_COUNT];
	size_t n = 0;
	int k;

	/* the newest quarantined copy per kind stands for the whole list ... */
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (c->has_quarantined[k])
			few[n++] = c->quarantined[k];
	/* O(kinds x upstreams) reads: once per key, like the judgement */
	memcpy(&c->facts, &key->facts, sizeof(c->facts));
	report_upstream_older(w->sv->store, &w->cfg, &w->served, &c->facts);
	report_judge(&w->served, few, n, &w->cfg, key->now, &c->facts, c->h);
	/* ... except in the counts */
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		c->h[k].n_versions = c->n_versions[k];
	drop_texts(c);
	memcpy(&c->key, key, sizeof(c->key));	/* padding too */
	c->judged = 1;
}

/* The text of endpoint i from the judgement; 0, or -1 out of memory. */
static int
render(struct worker *w, struct ops_cache *c, enum ops_text i)
{
	const char *timeline[KIND_COUNT];
	enum health_level overall;
	size_t len = 0;
	FILE *f;
	int k;

	if ((f = open_memstream(&c->text[i], &len)) == NULL)
		return -1;
	c->code[i] = 200;
	switch (i) {
	case TEXT_JSON:
		report_status_write(c->h, &c->facts, 1, f);
		break;
	case TEXT_HTML:
		for (k = 0; k < KIND_COUNT; k++)
			timeline[k] = c->timeline[k];
		report_html_page(c->h, timeline, c->key.now, f);
		break;
	case TEXT_HEALTHZ:
		overall = health_overall(c->h);
		fprintf(f, "%s\n", health_level_str(overall));
		c->code[i] = overall == HEALTH_CRITICAL ? 503 : 200;
		break;
	default:
		metrics_write_state(c->h, (const size_t (*)[5])c->by_status,
		    w->cfg.poll_interval > 0 ? &c->facts : NULL, f);
		break;
	}
	if (fclose(f) != 0) {
		free(c->text[i]);
		c->text[i] = NULL;
		return -1;
	}
	return 0;
}

/* The metrics: the live counters of every worker, then the kept state. */
static char *
metrics_text(struct worker *w, const char *state)
{
	struct metrics sum;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	memset(&sum, 0, sizeof(sum));
	sum.started = w->sv->started;
	sum.root_kept = w->sv->privs.kept_root;
	for (i = 0; i < w->sv->n_workers; i++)
		metrics_add(&sum, &w->sv->workers[i].metrics);
	metrics_write_live(&sum, f);
	fputs(state, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static enum ops_text
text_of(enum route_target t)
{
	switch (t) {
	case RT_STATUS_JSON: return TEXT_JSON;
	case RT_STATUS_HTML: return TEXT_HTML;
	case RT_HEALTHZ: return TEXT_HEALTHZ;
	default: return TEXT_METRICS;
	}
}

void
ops_serve(struct worker *w, struct evhttp_request *req, enum route_target t,
    struct reply *r)
{
	static const char *const ctypes[TEXT_COUNT] = {
		"application/json", "text/html; charset=utf-8", "text/plain; charset=utf-8",
		"text/plain; version=0.0.4; charset=utf-8",
	};
	enum ops_text i = text_of(t);
	enum store_err err = STORE_ERR_NOMEM;
	struct ops_cache *c = w->ops;
	struct ops_key key;
	uint64_t generation;
	char *metrics = NULL;

	if (c == NULL && (c = w->ops = calloc(1, sizeof(*c))) == NULL)
		goto out;
	if (!allowed(c, &w->cfg, req)) {
		reply_text(req, 403, "Forbidden", "text/plain",
		    "403 the operator endpoints are not open to this address (operator_allow)\n", r);
		return;
	}
	/*
	 * The generation first: whatever is read after it is at least as new,
	 * and a commit after it is seen by the next request.
	 */
	generation = store_generation(w->sv->store);
	worker_refresh(w);
	if ((!c->loaded || c->generation != generation) &&
	    (err = load_versions(c, w->sv->store, generation)) != STORE_OK)
		goto out;
	if (i == TEXT_HTML && (!c->timeline_loaded || c->timeline_generation != c->generation)) {
		if ((err = load_timelines(c, w->sv->store)) != STORE_OK)
			goto out;
		drop_texts(c);	/* a page written before holds the older histories */
	}
	make_key(w, c->generation, &key);
	if (!c->judged || memcmp(&key, &c->key, sizeof(key)) != 0)
		judge(w, c, &key);
	err = STORE_ERR_NOMEM;
	if (c->text[i] == NULL && render(w, c, i) != 0)
		goto out;
	if (i == TEXT_METRICS && (metrics = metrics_text(w, c->text[i])) == NULL)
		goto out;
	err = STORE_OK;
out:
	if (err != STORE_OK) {
		server_log("report failed: %s: %s", store_strerror(err), store_last_error(w->sv->store));
		reply_text(req, 500, "Internal Server Error", "text/plain", "500 store error\n", r);
	} else {
		reply_text(req, c->code[i], c->code[i] == 200 ? "OK" : "Service Unavailable",
		    ctypes[i], metrics != NULL ? metrics : c->text[i], r);
	}
	free(metrics);
}
