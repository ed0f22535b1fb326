/*
 * ops.c - the operator endpoints (see ops.h): judged and rendered once per
 * change, kept per worker, then copied into each reply.
 */
#define _GNU_SOURCE	/* open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/keyvalq_struct.h>

#include "proxy/cidr.h"
#include "proxy/health.h"
#include "proxy/page.h"
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

/* the page: one text per language, and per language with ?all=1 */
enum ops_text {
	TEXT_JSON = 0, TEXT_HEALTHZ, TEXT_METRICS, TEXT_HTML,
	TEXT_COUNT = TEXT_HTML + 2 * LANG_COUNT
};

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

	/* what the page shows of the store (page.h), at hist_generation */
	struct page_history *hist;
	uint64_t hist_generation;
	/* ?all=1: every version per language and kind, at all_generation (NULL: not yet) */
	char *all_rows[LANG_COUNT][KIND_COUNT];
	int all_loaded;
	uint64_t all_generation;
	/* the upstreams' last answers, read for each page written */
	struct page_upstream up[CONFIG_MAX_LIST * KIND_COUNT];

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
drop_all_rows(struct ops_cache *c)
{
	int l, k;

	for (l = 0; l < LANG_COUNT; l++)
		for (k = 0; k < KIND_COUNT; k++) {
			free(c->all_rows[l][k]);
			c->all_rows[l][k] = NULL;
		}
	c->all_loaded = 0;
}

void
ops_free(struct worker *w)
{
	if (w->ops == NULL)
		return;
	drop_texts(w->ops);
	drop_all_rows(w->ops);
	free(w->ops->hist);
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

/* The page's history (served intervals, marks, recent versions), once per generation. */
static enum store_err
load_history(struct ops_cache *c, struct store *s)
{
	struct store_event *ev = NULL;
	struct version *list = NULL;
	size_t n = 0, n_ev = 0;
	enum store_err err;

	if (c->hist == NULL && (c->hist = malloc(sizeof(*c->hist))) == NULL) {
		err = STORE_ERR_NOMEM;
		goto out;
	}
	if ((err = store_list(s, KIND_UNKNOWN, &list, &n)) != STORE_OK ||
	    (err = store_events(s, 0, &ev, &n_ev)) != STORE_OK)
		goto out;
	page_history_build(list, n, ev, n_ev, c->hist);
	c->hist_generation = c->generation;
out:
	if (err != STORE_OK) {
		free(c->hist);
		c->hist = NULL;
	}
	free(ev);
	free(list);
	return err;
}

/* ?all=1: every version of each kind as the page's rows, per language, once per generation. */
static enum store_err
load_all_rows(struct ops_cache *c, struct worker *w)
{
	struct version *list = NULL;
	enum store_err err;
	size_t n = 0, i, j, len;
	FILE *f;
	int k, l;

	drop_all_rows(c);
	if ((err = store_list(w->sv->store, KIND_UNKNOWN, &list, &n)) != STORE_OK)
		goto out;
	/* sorted by kind first: each kind is one run */
	for (i = 0, k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		while (i < n && (unsigned)list[i].kind < (unsigned)k)
			i++;
		for (j = i; j < n && list[j].kind == (enum ctl_kind)k; j++)
			;
		for (l = 0; l < LANG_COUNT; l++) {
			if ((f = open_memstream(&c->all_rows[l][k], &len)) == NULL) {
				err = STORE_ERR_NOMEM;
				goto out;
			}
			page_versions_write(&w->sv->lang, (enum lang_id)l, list + i, j - i, f);
			if (fclose(f) != 0) {
				err = STORE_ERR_NOMEM;
				goto out;
			}
		}
		i = j;
	}
	c->all_generation = c->generation;
	c->all_loaded = 1;
out:
	if (err != STORE_OK)
		drop_all_rows(c);
	free(list);
	return err;
}

/* Each kept kind's cab URL at each upstream, with what the store says of its last answer. */
static size_t
gather_upstreams(struct worker *w, struct ops_cache *c)
{
	const struct config *cfg = &w->cfg;
	char url[640];
	size_t i, n = 0;
	int k;

	for (i = 0; i < cfg->n_upstream; i++)
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
			struct page_upstream *u = &c->up[n];

			if (!config_keeps(cfg, ctl_kind_str((enum ctl_kind)k)) ||
			    n >= sizeof(c->up) / sizeof(c->up[0]))
				continue;
			fetch_url(cfg->upstream[i], ctl_kind_cab_name((enum ctl_kind)k), 0, url,
			    sizeof(url), u->url, sizeof(u->url));
			u->kind = (enum ctl_kind)k;
			u->known = store_upstream_get(w->sv->store, u->url, &u->st) == STORE_OK;
			if (!u->known)
				memset(&u->st, 0, sizeof(u->st));
			n++;
		}
	return n;
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
	enum health_level overall;
	struct page_view v;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&c->text[i], &len)) == NULL)
		return -1;
	c->code[i] = 200;
	switch (i) {
	case TEXT_JSON:
		report_status_write(c->h, &c->facts, 1, f);
		break;
	case TEXT_HEALTHZ:
		overall = health_overall(c->h);
		fprintf(f, "%s\n", health_level_str(overall));
		c->code[i] = overall == HEALTH_CRITICAL ? 503 : 200;
		break;
	case TEXT_METRICS:
		metrics_write_state(c->h, (const size_t (*)[5])c->by_status,
		    w->cfg.poll_interval > 0 ? &c->facts : NULL, f);
		break;
	default:	/* the page, in language (i - TEXT_HTML) % LANG_COUNT */
		memset(&v, 0, sizeof(v));
		v.pack = &w->sv->lang;
		v.lang = (enum lang_id)((i - TEXT_HTML) % LANG_COUNT);
		v.h = c->h;
		v.hist = c->hist;
		v.n_up = gather_upstreams(w, c);
		v.up = c->up;
		v.polling = w->cfg.poll_interval > 0;
		v.now = c->key.now;
		v.kept_root = w->sv->privs.kept_root;
		v.all_rows = i >= TEXT_HTML + LANG_COUNT ?
		    (const char *const *)c->all_rows[v.lang] : NULL;
		page_write(&v, f);
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

/*
 * Which text: for the page, its language (?lang=, then Accept-Language) and
 * whether ?all=1 asks for every version.
 */
static enum ops_text
text_of(struct evhttp_request *req, enum route_target t, enum lang_id *lang)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	const char *ql = NULL, *all = NULL;
	struct evkeyvalq q;
	enum ops_text i;
	int parsed;

	switch (t) {
	case RT_STATUS_JSON: return TEXT_JSON;
	case RT_HEALTHZ: return TEXT_HEALTHZ;
	case RT_STATUS_HTML: break;
	default: return TEXT_METRICS;
	}
	/* the request line is bounded (strict.h), so is the query; it inits q */
	parsed = query != NULL && evhttp_parse_query_str(query, &q) == 0;
	if (parsed) {
		ql = evhttp_find_header(&q, "lang");
		all = evhttp_find_header(&q, "all");
	}
	*lang = lang_negotiate(ql, evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Accept-Language"));
	i = (enum ops_text)(TEXT_HTML + *lang + (all != NULL && strcmp(all, "1") == 0 ? LANG_COUNT : 0));
	if (parsed)
		evhttp_clear_headers(&q);
	return i;
}

void
ops_serve(struct worker *w, struct evhttp_request *req, enum route_target t,
    struct reply *r)
{
	static const char *const ctypes[TEXT_HTML] = {
		"application/json", "text/plain; charset=utf-8",
		"text/plain; version=0.0.4; charset=utf-8",
	};
	enum lang_id lang = LANG_EN;
	enum ops_text i = text_of(req, t, &lang);
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
	if (i >= TEXT_HTML && (c->hist == NULL || c->hist_generation != c->generation)) {
		if ((err = load_history(c, w->sv->store)) != STORE_OK)
			goto out;
		drop_texts(c);	/* a page written before holds the older history */
	}
	if (i >= TEXT_HTML + LANG_COUNT && (!c->all_loaded || c->all_generation != c->generation)) {
		if ((err = load_all_rows(c, w)) != STORE_OK)
			goto out;
		drop_texts(c);
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
		if (i >= TEXT_HTML) {
			struct evkeyvalq *h = evhttp_request_get_output_headers(req);

			evhttp_add_header(h, "Vary", "Accept-Language");
			evhttp_add_header(h, "Content-Language", lang_code(lang));
		}
		reply_text(req, c->code[i], c->code[i] == 200 ? "OK" : "Service Unavailable",
		    i >= TEXT_HTML ? "text/html; charset=utf-8" : ctypes[i],
		    metrics != NULL ? metrics : c->text[i], r);
	}
	free(metrics);
}
