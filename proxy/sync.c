/*
 * sync.c - a sync round as callbacks on the event loop (see sync.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "proxy/certfetch.h"
#include "proxy/hex.h"
#include "proxy/reverify.h"
#include "proxy/served.h"
#include "proxy/sync.h"
#include "proxy/sync_round.h"
#include "verify/verify.h"

/* Certificates fetched at once after a new authroot version. */
#define CERT_PARALLEL 4
#define SEQ_MAX 1024

/* Sets a kind's outcome. result and seq may be o's own: they are copied first. */
static void __attribute__((format(printf, 5, 6)))
outcome(struct sync_outcome *o, int ok, const char *result, const char *seq,
    const char *fmt, ...)
{
	char r[sizeof(o->result)], q[sizeof(o->sequence)];
	va_list ap;

	snprintf(r, sizeof(r), "%s", result);
	snprintf(q, sizeof(q), "%s", seq != NULL ? seq : "");
	o->ok = ok;
	memcpy(o->result, r, sizeof(r));
	memcpy(o->sequence, q, sizeof(q));
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

/* base + name, plus the random query string when configured. */
static void
make_url(const struct config *cfg, size_t upstream, const char *name,
    char *url, size_t len, char *plain, size_t plain_len)
{
	fetch_url(cfg->upstream[upstream], name, cfg->random_query, url, len, plain, plain_len);
}

/* Remembers what an upstream URL answered (health; validators: see keep_validators). */
static void
note_upstream(struct round *r, const char *plain, const struct fetch_result *res, int good)
{
	struct upstream_state st;

	if (store_upstream_get(r->ctx->store, plain, &st) != STORE_OK)
		memset(&st, 0, sizeof(st));
	st.last_attempt = r->now;
	st.last_status = (int)res->status;
	if (good) {
		st.last_success = r->now;
		st.consecutive_failures = 0;
		st.last_error[0] = '\0';
	} else {
		st.consecutive_failures++;
		snprintf(st.last_error, sizeof(st.last_error), "%s",
		    res->error[0] ? res->error : "unexpected HTTP status");
	}
	store_upstream_put(r->ctx->store, plain, &st);
}

/*
 * The conditional-GET validators of a URL (res NULL: forget them). They are
 * kept only while the URL's copy is the newest admitted version: a 304 ends
 * the kind's round, so validators for a copy that failed verification or fell
 * behind would let a stale upstream hide a newer copy on the next one.
 */
static void
keep_validators(struct round *r, const char *plain, const struct fetch_result *res)
{
	struct upstream_state st;

	if (store_upstream_get(r->ctx->store, plain, &st) != STORE_OK) {
		if (res == NULL)
			return;
		memset(&st, 0, sizeof(st));
	}
	snprintf(st.etag, sizeof(st.etag), "%s", res != NULL ? res->etag : "");
	snprintf(st.last_modified, sizeof(st.last_modified), "%s",
	    res != NULL ? res->last_modified : "");
	store_upstream_put(r->ctx->store, plain, &st);
}

/* A new version came from upstream `from`: the others' validators name older copies. */
static void
forget_other_validators(struct kind_job *j, size_t from)
{
	const struct config *cfg = j->r->ctx->cfg;
	char url[640], plain[600];
	size_t u;

	for (u = 0; u < cfg->n_upstream; u++)
		if (u != from) {
			make_url(cfg, u, ctl_kind_cab_name(j->kind), url, sizeof(url),
			    plain, sizeof(plain));
			keep_validators(j->r, plain, NULL);
		}
}

/*
 * The upstream's copy verified but is older than this mirror's newest: said
 * in its state (HEALTH_OLDER_MARK), where the health judgement reads it.
 */
static void
mark_older(struct round *r, const char *plain, const struct version *ver)
{
	struct upstream_state st;

	if (store_upstream_get(r->ctx->store, plain, &st) != STORE_OK)
		return;
	snprintf(st.last_error, sizeof(st.last_error), "%ssequence %.80s", HEALTH_OLDER_MARK,
	    ver->sequence[0] ? ver->sequence : "unknown");
	store_upstream_put(r->ctx->store, plain, &st);
}

/* Is ver the version this mirror pins because upstream u pins it? */
static int
pinned_by(struct sync_ctx *ctx, size_t u, const struct version *ver)
{
	struct pin_info pin;

	return ctx->cfg->upstream_follow_pin[u] &&
	    store_pin_info(ctx->store, ver->kind, &pin) == STORE_OK &&
	    memcmp(pin.sha256, ver->sha256, 32) == 0 &&
	    strcmp(pin.by, ctx->cfg->upstream[u]) == 0;
}

/* Is this stored copy the newest admitted version of its kind (pins aside)? */
static int
is_newest(struct store *s, const struct version *ver)
{
	struct served_set set;
	int newest = 0;

	if (served_load(s, 0, &set) == STORE_OK)
		newest = served_is_newest(&set, ver);
	served_free(&set);
	return newest;
}

static void start_cab(struct kind_job *j);
static int trust_refresh(struct sync_ctx *ctx, time_t now, char *err, size_t err_len);
static void schedule(struct sync_ctx *ctx);
static void pump_certs(struct round *r);

void
sync_round_check_done(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	time_t now = r->now;

	if (r->pending > 0)
		return;
	/* every kind's cab is settled: now a followed upstream's pins can name what came */
	if (!r->followed) {
		r->followed = 1;
		sync_follow_apply(r);
		if (r->pending > 0)
			return;
	}
	ctx->running = 0;
	ctx->round = NULL;
	free(r->certs);
	free(r);
	if (ctx->trust_stale) {
		char err[512];

		trust_refresh(ctx, now, err, sizeof(err));
	}
	if (ctx->done != NULL)
		ctx->done(ctx, ctx->done_arg);
	schedule(ctx);
}

void
sync_log_event(struct round *r, enum event_type type, enum ctl_kind kind,
    const char *sequence, const char *fmt, ...)
{
	struct store_event ev;
	va_list ap;

	memset(&ev, 0, sizeof(ev));
	ev.when = r->now;
	ev.type = type;
	ev.kind = kind;
	snprintf(ev.sequence, sizeof(ev.sequence), "%s", sequence);
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	store_log(r->ctx->store, &ev);
}

/* The kind's round is over: record health, compare the sequence file. */
static void
settle(struct kind_job *j)
{
	struct round *r = j->r;
	struct sync_ctx *ctx = r->ctx;
	struct sync_outcome *o = &ctx->outcome[j->kind];

	j->settled = 1;
	if (j->kind == KIND_AUTHROOT && j->seq_file[0] != '\0' && j->cab_seq[0] != '\0' &&
	    strcasecmp(j->seq_file, j->cab_seq) != 0) {
		sync_log_event(r, EV_INCONSISTENT, KIND_AUTHROOT, j->cab_seq,
		    "upstream %.100s says sequence %.40s but its cab holds %.40s; the cab decides",
		    ctx->cfg->upstream[0], j->seq_file, j->cab_seq);
		strncat(o->text, "; sequence file disagrees with the cab", sizeof(o->text) - strlen(o->text) - 1);
	}
	if (ctx->state != NULL) {
		if (o->ok) {
			if (ctx->state->failures[j->kind] > 0)
				sync_log_event(r, EV_SYNC, j->kind, "",
				    "upstream reachable again after %u failed rounds",
				    ctx->state->failures[j->kind]);
			ctx->state->last_success[j->kind] = r->now;
			ctx->state->failures[j->kind] = 0;
		} else {
			if (ctx->state->failures[j->kind]++ == 0)
				sync_log_event(r, EV_SYNC, j->kind, "", "sync failed: %s", o->text);
		}
	}
	/*
	 * The daemon's rounds (they remember failures: certcache): whatever came
	 * of authroot (new, unchanged, failed), every root the served CTL lists
	 * must be stored, so a round cut short, or a fetch that failed, is made
	 * good here, with no `sync --certs`. A command's round, which remembers
	 * nothing between runs, does it when it admitted a version (--certs: any
	 * time), or every run would ask again for every root the upstream lacks.
	 */
	if (j->kind == KIND_AUTHROOT && (ctx->certcache != NULL || strcmp(o->result, "admitted") == 0))
		sync_start_certs(r);
}

/* Move on to the next upstream, or settle with what was seen. */
static void
next_upstream(struct kind_job *j, int ok, const char *result, const char *seq)
{
	struct sync_outcome *o = &j->r->ctx->outcome[j->kind];

	if (++j->upstream < j->r->ctx->cfg->n_upstream) {
		/* remember the best so far in case the others fail */
		if (ok)
			outcome(o, ok, result, seq, "%s", j->errors);
		start_cab(j);
		return;
	}
	if (!o->ok || !ok)
		outcome(o, ok || o->ok, ok ? result : (o->ok ? o->result : "failed"),
		    ok ? seq : o->sequence, "%s", j->errors);
	settle(j);
}

void
sync_append_part(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t n = strlen(buf);

	if (n > 0 && n < size - 2) {
		strcat(buf, "; ");
		n += 2;
	}
	vsnprintf(buf + n, size - n, fmt, ap);
}

static void __attribute__((format(printf, 2, 3)))
append_error(struct kind_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sync_append_part(j->errors, sizeof(j->errors), fmt, ap);
	va_end(ap);
}

static void
on_cab(const struct fetch_result *res, void *arg)
{
	struct cab_fetch *cf = arg;
	struct kind_job *j = cf->j;
	struct round *r = j->r;
	struct sync_ctx *ctx = r->ctx;
	struct vfy_params p;
	struct verdict v;
	struct version ver;
	enum admit_result ar, again;
	enum store_err err;

	r->pending--;
	if (!res->transferred || (res->status != 200 && res->status != 304)) {
		note_upstream(r, cf->plain, res, 0);
		if (res->transferred)
			append_error(j, "%s: HTTP %ld", cf->plain, res->status);
		else
			append_error(j, "%s: %s", cf->plain, res->error);
		next_upstream(j, 0, NULL, NULL);
		goto out;
	}
	note_upstream(r, cf->plain, res, 1);
	if (res->status == 304) {
		outcome(&ctx->outcome[j->kind], 1, "unchanged", NULL, "%s: not modified", cf->plain);
		settle(j);
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.kind = j->kind;
	p.at = r->now;
	p.anchors = &ctx->trust.anchors;
	p.intermediates = ctx->trust.intermediates;
	p.require_cab = 1;	/* only a CAB is ever served as one */
	vfy_verify(res->body, res->len, &p, &v);
	if (j->upstream == 0 && v.sequence[0] != '\0')
		snprintf(j->cab_seq, sizeof(j->cab_seq), "%s", v.sequence);
	err = store_admit(ctx->store, res->body, res->len, &v, r->now, cf->plain, &ar, &ver);
	if (err != STORE_OK) {
		append_error(j, "store: %s: %s", store_strerror(err), store_last_error(ctx->store));
		outcome(&ctx->outcome[j->kind], 0, "failed", v.sequence, "%s", j->errors);
		verdict_free(&v);
		settle(j);
		goto out;
	}
	/* a copy quarantined before because of this mirror's trust set is judged again */
	if (ar == ADMIT_DUPLICATE && vfy_reason_trust_dependent(ver.reason) &&
	    reverify_one(ctx->store, &ctx->trust, &ver, r->now, &again, &ver) == STORE_OK &&
	    again != ADMIT_QUARANTINED)
		ar = again;
	switch (ar) {
	case ADMIT_ADMITTED:
		keep_validators(r, cf->plain, res);
		forget_other_validators(j, j->upstream);
		outcome(&ctx->outcome[j->kind], 1, "admitted", ver.sequence,
		    "%s: new version %s admitted", cf->plain, ver.sequence);
		settle(j);	/* authroot: its listed roots are fetched from there */
		break;
	case ADMIT_DUPLICATE:
		if (pinned_by(ctx, j->upstream, &ver)) {
			/* what this mirror serves because it follows this upstream's pin */
			keep_validators(r, cf->plain, res);
			outcome(&ctx->outcome[j->kind], 1, "unchanged", ver.sequence,
			    "%s: version %s, pinned here as this upstream pins it", cf->plain,
			    ver.sequence);
			settle(j);
			break;
		}
		if (is_newest(ctx->store, &ver)) {
			keep_validators(r, cf->plain, res);
			outcome(&ctx->outcome[j->kind], 1, "unchanged", ver.sequence,
			    "%s: version %s already stored%s", cf->plain, ver.sequence,
			    ctx->reverified.admitted > 0 ? " (admitted this round: the trust set "
			    "changed, and the copies quarantined for want of it were verified "
			    "again)" : "");
			settle(j);
			break;
		}
		/* a copy seen before that failed or is behind: a stale edge, try the next */
		keep_validators(r, cf->plain, NULL);
		if (ver.reason == VFY_OK)
			mark_older(r, cf->plain, &ver);
		append_error(j, "%s: still offers %s %s (%s)", cf->plain,
		    ver.reason != VFY_OK ? "quarantined" : "older", ver.sequence[0] ? ver.sequence : "copy",
		    ver.reason != VFY_OK ? vfy_reason_str(ver.reason) : "a stale edge");
		next_upstream(j, 1, "unchanged", ver.sequence);
		break;
	case ADMIT_QUARANTINED:
		keep_validators(r, cf->plain, NULL);
		append_error(j, "%s: quarantined %s (%s)", cf->plain,
		    ver.sequence[0] ? ver.sequence : "copy", vfy_reason_str(ver.reason));
		if (vfy_reason_trust_dependent(ver.reason) && ctx->trust.kept == 0) {
			char advice[CONFIG_PATH_MAX + 256];

			append_error(j, "no Microsoft root is trusted yet: %s",
			    trust_advice(ctx->cfg, advice, sizeof(advice)));
		}
		next_upstream(j, 1, "quarantined", ver.sequence);
		break;
	case ADMIT_ROLLBACK:
		keep_validators(r, cf->plain, NULL);
		mark_older(r, cf->plain, &ver);
		append_error(j, "%s: refused rollback to %s (a stale edge)", cf->plain, ver.sequence);
		next_upstream(j, 1, "rollback", ver.sequence);
		break;
	}
	verdict_free(&v);
out:
	sync_round_check_done(r);
}

static void
start_cab(struct kind_job *j)
{
	struct round *r = j->r;
	struct sync_ctx *ctx = r->ctx;
	struct upstream_state st;
	struct fetch_limits lim;
	struct cab_fetch *cf;
	char url[640];

	cf = &j->cf;
	memset(cf, 0, sizeof(*cf));
	cf->j = j;
	make_url(ctx->cfg, j->upstream, ctl_kind_cab_name(j->kind), url, sizeof(url),
	    cf->plain, sizeof(cf->plain));
	if (store_upstream_get(ctx->store, cf->plain, &st) != STORE_OK)
		memset(&st, 0, sizeof(st));
	fetch_limits_of(ctx->cfg, 32u * 1024 * 1024, &lim);
	r->pending++;
	if (fetch_start(ctx->fetcher, url, st.etag, st.last_modified, &lim, on_cab, cf) != 0) {
		r->pending--;
		append_error(j, "%s: cannot start the transfer", url);
		next_upstream(j, 0, NULL, NULL);
	}
}

static void
on_seq(const struct fetch_result *res, void *arg)
{
	struct kind_job *j = arg;
	struct round *r = j->r;
	size_t i, n = 0;

	r->pending--;
	/* "parsers accept surrounding white space and either case" (docs/operations.md, "Sync") */
	if (res->transferred && res->status == 200 && res->len < sizeof(j->seq_file)) {
		for (i = 0; i < res->len; i++)
			if (!isspace(res->body[i]))
				j->seq_file[n++] = (char)toupper(res->body[i]);
		j->seq_file[n] = '\0';
		for (i = 0; i < n; i++)
			if (!isxdigit((unsigned char)j->seq_file[i]))
				j->seq_file[0] = '\0';
	}
	/* the cab may have settled first: compare now */
	if (j->settled && j->seq_file[0] != '\0' && j->cab_seq[0] != '\0')
		settle(j);
	sync_round_check_done(r);
}

/* ---- root certificates ---- */

static void
on_cert(struct certfetch *cf, int stored, const char *why)
{
	struct round *r = cf->arg;

	(void)why;
	r->pending--;
	/*
	 * A round's own failures are not remembered: rounds come a poll interval
	 * apart, and the next one should ask again. Clients' are (certbroker).
	 */
	if (stored) {
		r->ctx->certs_fetched++;
		if (r->ctx->certcache != NULL)
			certcache_forget(r->ctx->certcache, cf->sha1);
	} else {
		r->ctx->certs_failed++;
	}
	if (r->ctx->certcache != NULL)	/* clients waiting for this transfer hear of it */
		certcache_end(r->ctx->certcache, cf->sha1, stored);
	pump_certs(r);
	sync_round_check_done(r);
}

/* Is the certificate stored now (by a client's fetch or an import since the round began)? */
static int
cert_stored(struct store *s, const unsigned char sha1[20])
{
	struct store_snap *snap;
	int has = 0;

	if (store_snap_begin(s, &snap) != STORE_OK)
		return 0;
	if (store_snap_has_cert(snap, sha1, &has) != STORE_OK)
		has = 0;
	store_snap_end(snap);
	return has;
}

/* Keeps CERT_PARALLEL certificate transfers running until all are done. */
static void
pump_certs(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;

	while (r->next_want < r->n_want && r->pending < CERT_PARALLEL + KIND_COUNT * 2) {
		struct certfetch *cf = &r->certs[r->next_want++];

		/* one a client asked for is being fetched already: that transfer stores it */
		if (ctx->certcache != NULL && !certcache_begin(ctx->certcache, cf->sha1))
			continue;
		/* the round's list was made at its start: a client's fetch may have stored it since */
		if (cert_stored(ctx->store, cf->sha1)) {
			if (ctx->certcache != NULL)
				certcache_end(ctx->certcache, cf->sha1, 1);
			continue;
		}
		r->pending++;
		if (certfetch_start(cf, ctx->fetcher, ctx->store, ctx->cfg, cf->sha1, NULL,
		    r->now, on_cert, r) != 0) {
			r->pending--;
			ctx->certs_failed++;
			if (ctx->certcache != NULL)
				certcache_end(ctx->certcache, cf->sha1, 0);
		}
	}
}

/* The roots the served authroot CTL lists and the store lacks (sync_round.h). */
void
sync_start_certs(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	struct served_set set;
	size_t i;

	if (r->certs_started || ctx->cfg->n_upstream == 0)
		return;
	r->certs_started = 1;
	if (served_load(ctx->store, SERVED_LISTED, &set) != STORE_OK)
		return;
	/* skipped: the ones whose fetch failed within cert_retry_after (certcache.h) */
	if (set.n_missing > 0 && (r->certs = calloc(set.n_missing, sizeof(*r->certs))) != NULL)
		for (i = 0; i < set.n_listed; i++)
			if (!set.listed[i].stored && (ctx->certcache == NULL ||
			    !certcache_failed(ctx->certcache, set.listed[i].sha1, r->now)))
				memcpy(r->certs[r->n_want++].sha1, set.listed[i].sha1, 20);
	served_free(&set);
	pump_certs(r);
}

/* Each kind's cab from the upstreams in order, and authroot's sequence file. */
static void
start_kinds(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		struct kind_job *j = &r->jobs[k];

		j->r = r;
		j->kind = (enum ctl_kind)k;
		if (!config_keeps(ctx->cfg, ctl_kind_str(j->kind))) {
			outcome(&ctx->outcome[k], 1, "skipped", NULL,
			    "not kept by this mirror (kinds =)");
			continue;
		}
		if (k == KIND_AUTHROOT) {
			struct fetch_limits lim;
			char url[640], plain[600];

			make_url(ctx->cfg, 0, ctl_kind_seq_name(KIND_AUTHROOT), url,
			    sizeof(url), plain, sizeof(plain));
			fetch_limits_of(ctx->cfg, SEQ_MAX, &lim);
			r->pending++;
			/* unconditional: it is tiny, and the comparison needs its text */
			if (fetch_start(ctx->fetcher, url, NULL, NULL, &lim, on_seq, j) != 0)
				r->pending--;
		}
		start_cab(j);
	}
	sync_follow_start(r);
}

/* ---- the pinned roots, when the trust set lacks them ---- */

static void
on_anchor(struct certfetch *cf, int stored, const char *why)
{
	struct round *r = cf->arg;
	struct sync_ctx *ctx = r->ctx;
	char err[512];

	(void)why;
	r->pending--;
	ctx->anchors_fetched += stored != 0;
	/* a pinned root the upstream lacks is not asked again every round */
	if (ctx->certcache != NULL && stored)
		certcache_forget(ctx->certcache, cf->sha1);
	else if (ctx->certcache != NULL)
		certcache_note_failure(ctx->certcache, cf->sha1, r->now, ctx->cfg->cert_retry_after);
	if (--r->anchors_pending > 0) {
		sync_round_check_done(r);
		return;
	}
	/* all answered: trust what came, then judge the lists with it */
	if (ctx->anchors_fetched > 0 && trust_refresh(ctx, r->now, err, sizeof(err)) < 0)
		sync_log_event(r, EV_SYNC, KIND_AUTHROOT, "", "trust set not reloaded: %s", err);
	start_kinds(r);
	sync_round_check_done(r);
}

/*
 * Fetches the built-in roots the trust set lacks; returns how many
 * transfers started (0: none missing, or none could start).
 */
static size_t
start_anchors(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	unsigned char sha1[ANCHOR_FETCH_MAX][20], sha256[ANCHOR_FETCH_MAX][32];
	size_t n, i;

	n = trust_missing(&ctx->trust, sha1, sha256, ANCHOR_FETCH_MAX);
	for (i = 0; i < n && i < ANCHOR_FETCH_MAX; i++) {
		struct certfetch *cf = &r->anchors[r->anchors_pending];

		/* failed within cert_retry_after: the next round after that asks again */
		if (ctx->certcache != NULL && certcache_failed(ctx->certcache, sha1[i], r->now))
			continue;
		r->pending++;
		r->anchors_pending++;
		if (certfetch_start(cf, ctx->fetcher, ctx->store, ctx->cfg, sha1[i], sha256[i],
		    r->now, on_anchor, r) != 0) {
			r->pending--;
			r->anchors_pending--;
		}
	}
	return r->anchors_pending;
}

/* sync_trust_refresh, whether a round runs or not (the round itself calls this). */
static int
trust_refresh(struct sync_ctx *ctx, time_t now, char *err, size_t err_len)
{
	struct trust fresh;
	int rc = 1;

	ctx->trust_stale = 0;
	if (trust_load(ctx->cfg, NULL, NULL, 0, ctx->store, &fresh, err, err_len) != TRUST_OK) {
		if (ctx->trust_loaded) {
			trust_free(&fresh);
			return -1;
		}
		/* nothing held yet: verify with what could be read; copies heal later */
		rc = -1;
	} else if (ctx->trust_loaded && memcmp(fresh.digest, ctx->trust.digest, 32) == 0) {
		trust_free(&fresh);
		return 0;
	}
	trust_free(&ctx->trust);
	ctx->trust = fresh;
	ctx->trust_loaded = 1;
	if (reverify_all(ctx->store, &ctx->trust, KIND_UNKNOWN, now, &ctx->reverified) != STORE_OK &&
	    rc > 0) {
		snprintf(err, err_len, "verifying quarantined copies again: %s",
		    store_last_error(ctx->store));
		rc = -1;
	}
	return rc;
}

int
sync_trust_refresh(struct sync_ctx *ctx, time_t now, char *err, size_t err_len)
{
	if (ctx->running) {
		ctx->trust_stale = 1;
		return 0;
	}
	return trust_refresh(ctx, now, err, err_len);
}

int
sync_start(struct sync_ctx *ctx, time_t now)
{
	struct round *r;
	char err[512];
	int k;

	if (ctx->running || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	memset(&ctx->reverified, 0, sizeof(ctx->reverified));
	trust_refresh(ctx, now, err, sizeof(err));	/* a failure keeps the set held */
	r->ctx = ctx;
	r->now = now;
	ctx->running = 1;
	ctx->round = r;
	ctx->certs_fetched = ctx->certs_failed = ctx->anchors_fetched = 0;
	memset(ctx->outcome, 0, sizeof(ctx->outcome));
	r->pending++;	/* held while starting, so no callback ends the round early */
	if (ctx->certs_only) {
		sync_start_certs(r);
	} else if (ctx->cfg->n_upstream == 0) {
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
			outcome(&ctx->outcome[k], 0, "failed", NULL, "no upstream configured");
	} else if (start_anchors(r) == 0) {
		start_kinds(r);
	}
	r->pending--;
	sync_round_check_done(r);
	return 0;
}

void
sync_free(struct sync_ctx *ctx)
{
	trust_free(&ctx->trust);
	ctx->trust_loaded = 0;
	struct round *r = ctx->round;

	if (r != NULL) {
		free(r->certs);
		free(r);
	}
	ctx->round = NULL;
	ctx->running = 0;
	if (ctx->poll_timer != NULL)
		event_free(ctx->poll_timer);
	ctx->poll_timer = NULL;
}

/* ---- polling ---- */

/* Seconds to the next round: the poll interval with jitter, or a back-off after failures. */
static long
next_delay(const struct sync_ctx *ctx)
{
	unsigned fails = 0;
	long poll = (long)ctx->cfg->poll_interval, d;
	int k;

	for (k = KIND_AUTHROOT; ctx->state != NULL && k < KIND_COUNT; k++)
		if (ctx->state->failures[k] > fails)
			fails = ctx->state->failures[k];
	if (fails > 0) {
		d = 30L << (fails > 8 ? 7 : fails - 1);	/* 30 s, 1 min, 2 min, ... */
		return d < poll ? d : poll;
	}
	/* +-10 %: many mirrors started together do not poll together */
	return poll - poll / 10 + (poll >= 5 ? random() % (poll / 5 + 1) : 0);
}

static void
schedule(struct sync_ctx *ctx)
{
	struct timeval tv = { 0, 0 };

	if (ctx->poll_timer == NULL)
		return;
	tv.tv_sec = next_delay(ctx);
	evtimer_add(ctx->poll_timer, &tv);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct sync_ctx *ctx = arg;

	(void)fd;
	(void)what;
	if (sync_start(ctx, ctx->clock(ctx->clock_arg)) != 0)
		schedule(ctx);		/* cannot start (out of memory): try again later */
}

int
sync_poll_start(struct sync_ctx *ctx, struct event_base *base,
    time_t (*clock)(void *arg), void *clock_arg)
{
	struct timeval soon = { 1, 0 };

	ctx->clock = clock;
	ctx->clock_arg = clock_arg;
	if ((ctx->poll_timer = evtimer_new(base, on_poll, ctx)) == NULL ||
	    evtimer_add(ctx->poll_timer, &soon) != 0)
		return -1;
	return 0;
}
