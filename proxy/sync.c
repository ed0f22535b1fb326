/*
 * sync.c - a sync round as callbacks on the event loop (see sync.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proxy/sync.h"
#include "verify/verify.h"

/* Certificates fetched at once after a new authroot version. */
#define CERT_PARALLEL 4
#define SEQ_MAX 1024
#define CERT_MAX (64 * 1024)

struct round;
struct kind_job;

/*
 * A transfer's argument lives in its round (not malloc'd per transfer): a
 * round dropped with transfers in flight (sync_free, then fetcher_free, whose
 * callbacks do not run) leaves nothing behind.
 */
struct cab_fetch {
	struct kind_job *j;
	char plain[600];
};

struct kind_job {
	struct round *r;
	enum ctl_kind kind;
	size_t upstream;	/* index of the upstream being tried */
	int settled;
	char seq_file[80];	/* what upstream's sequence file said, "" if unknown */
	char cab_seq[80];	/* the sequence of the cab fetched from upstream[0] */
	char errors[384];
	struct cab_fetch cf;	/* the cab transfer running for this kind (one at a time) */
};

struct cert_job {
	struct round *r;
	unsigned char sha1[20];
	size_t upstream;
};

struct round {
	struct sync_ctx *ctx;
	time_t now;
	struct kind_job jobs[KIND_COUNT];
	size_t pending;		/* transfers not yet finished */
	unsigned char (*want)[20];
	struct cert_job *cert_jobs;	/* one per wanted certificate */
	size_t n_want, next_want;
	int certs_started;
};

static void
outcome(struct sync_outcome *o, int ok, const char *result, const char *seq,
    const char *fmt, ...)
{
	va_list ap;

	o->ok = ok;
	snprintf(o->result, sizeof(o->result), "%s", result);
	snprintf(o->sequence, sizeof(o->sequence), "%s", seq != NULL ? seq : "");
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

static void
limits(const struct config *cfg, size_t max, struct fetch_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->connect_timeout = 10;
	lim->total_timeout = (long)cfg->fetch_timeout;
	lim->low_speed_bytes = 512;	/* a slow drip is as good as a dead link */
	lim->low_speed_time = 15;
	lim->max_body = max < cfg->max_download ? max : cfg->max_download;
	lim->proxy = cfg->outbound_proxy;
}

/* base + name, plus the random query string when configured. */
static void
make_url(const struct config *cfg, size_t upstream, const char *name,
    char *url, size_t len, char *plain, size_t plain_len)
{
	const char *base = cfg->upstream[upstream];
	const char *slash = base[0] && base[strlen(base) - 1] == '/' ? "" : "/";
	unsigned char rnd[8];
	char q[20] = "";
	size_t i;

	snprintf(plain, plain_len, "%s%s%s", base, slash, name);
	if (cfg->random_query && RAND_bytes(rnd, sizeof(rnd)) == 1) {
		q[0] = '?';
		for (i = 0; i < sizeof(rnd); i++)
			snprintf(q + 1 + 2 * i, 3, "%02x", rnd[i]);
	}
	snprintf(url, len, "%s%s", plain, q);
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

/* Is this stored copy the newest admitted version of its kind (pins aside)? */
static int
is_newest(struct store *s, const struct version *ver)
{
	struct version *list = NULL;
	size_t n = 0, i;
	int newest = ver->reason == VFY_OK && !ver->rollback;

	if (newest && store_list(s, ver->kind, &list, &n) == STORE_OK)
		for (i = 0; i < n; i++)
			if (list[i].reason == VFY_OK && !list[i].rollback &&
			    ctl_seq_cmp(list[i].sequence, ver->sequence) > 0)
				newest = 0;
	free(list);
	return newest;
}

static void start_cab(struct kind_job *j);
static void start_certs(struct round *r);
static void pump_certs(struct round *r);

static void
round_check_done(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;

	if (r->pending > 0)
		return;
	ctx->running = 0;
	ctx->round = NULL;
	free(r->want);
	free(r->cert_jobs);
	free(r);
	if (ctx->done != NULL)
		ctx->done(ctx, ctx->done_arg);
}

/* An event of this round in the audit log (text truncated to fit). */
static void __attribute__((format(printf, 5, 6)))
log_event(struct round *r, enum event_type type, enum ctl_kind kind,
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
		log_event(r, EV_INCONSISTENT, KIND_AUTHROOT, j->cab_seq,
		    "upstream %.100s says sequence %.40s but its cab holds %.40s; the cab decides",
		    ctx->cfg->upstream[0], j->seq_file, j->cab_seq);
		strncat(o->text, "; sequence file disagrees with the cab", sizeof(o->text) - strlen(o->text) - 1);
	}
	if (ctx->state != NULL) {
		if (o->ok) {
			if (ctx->state->failures[j->kind] > 0)
				log_event(r, EV_SYNC, j->kind, "",
				    "upstream reachable again after %u failed rounds",
				    ctx->state->failures[j->kind]);
			ctx->state->last_success[j->kind] = r->now;
			ctx->state->failures[j->kind] = 0;
		} else {
			if (ctx->state->failures[j->kind]++ == 0)
				log_event(r, EV_SYNC, j->kind, "", "sync failed: %s", o->text);
		}
	}
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

static void
append_error(struct kind_job *j, const char *fmt, ...)
{
	size_t n = strlen(j->errors);
	va_list ap;

	if (n > 0 && n < sizeof(j->errors) - 2) {
		strcat(j->errors, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(j->errors + n, sizeof(j->errors) - n, fmt, ap);
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
	enum admit_result ar;
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
	p.anchors = ctx->anchors;
	p.intermediates = ctx->intermediates;
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
	switch (ar) {
	case ADMIT_ADMITTED:
		keep_validators(r, cf->plain, res);
		forget_other_validators(j, j->upstream);
		outcome(&ctx->outcome[j->kind], 1, "admitted", ver.sequence,
		    "%s: new version %s admitted", cf->plain, ver.sequence);
		settle(j);
		if (j->kind == KIND_AUTHROOT)
			start_certs(r);
		break;
	case ADMIT_DUPLICATE:
		if (is_newest(ctx->store, &ver)) {
			keep_validators(r, cf->plain, res);
			outcome(&ctx->outcome[j->kind], 1, "unchanged", ver.sequence,
			    "%s: version %s already stored", cf->plain, ver.sequence);
			settle(j);
			break;
		}
		/* a copy seen before that failed or is behind: a stale edge, try the next */
		keep_validators(r, cf->plain, NULL);
		append_error(j, "%s: still offers %s %s (%s)", cf->plain,
		    ver.reason != VFY_OK ? "quarantined" : "older", ver.sequence[0] ? ver.sequence : "copy",
		    ver.reason != VFY_OK ? vfy_reason_str(ver.reason) : "a stale edge");
		next_upstream(j, 1, "unchanged", ver.sequence);
		break;
	case ADMIT_QUARANTINED:
		keep_validators(r, cf->plain, NULL);
		append_error(j, "%s: quarantined %s (%s)", cf->plain,
		    ver.sequence[0] ? ver.sequence : "copy", vfy_reason_str(ver.reason));
		next_upstream(j, 1, "quarantined", ver.sequence);
		break;
	case ADMIT_ROLLBACK:
		keep_validators(r, cf->plain, NULL);
		append_error(j, "%s: refused rollback to %s (a stale edge)", cf->plain, ver.sequence);
		next_upstream(j, 1, "rollback", ver.sequence);
		break;
	}
	verdict_free(&v);
out:
	round_check_done(r);
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
	limits(ctx->cfg, 32u * 1024 * 1024, &lim);
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
	/* "parsers accept surrounding white space and either case" (PROTOCOL.md) */
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
	round_check_done(r);
}

/* ---- root certificates ---- */

static void
on_cert(const struct fetch_result *res, void *arg)
{
	struct cert_job *cj = arg;
	struct round *r = cj->r;
	struct sync_ctx *ctx = r->ctx;
	unsigned char sha1[20];
	int added;

	r->pending--;
	if (res->transferred && res->status == 200 &&
	    EVP_Digest(res->body, res->len, sha1, NULL, EVP_sha1(), NULL) &&
	    memcmp(sha1, cj->sha1, 20) == 0 &&
	    store_put_cert(ctx->store, res->body, res->len, r->now, &added) == STORE_OK) {
		ctx->certs_fetched++;
	} else if (++cj->upstream < ctx->cfg->n_upstream) {
		struct fetch_limits lim;
		char url[640], plain[600], name[48];
		size_t i;

		for (i = 0; i < 20; i++)
			snprintf(name + 2 * i, 3, "%02X", cj->sha1[i]);
		strcat(name, ".crt");
		make_url(ctx->cfg, cj->upstream, name, url, sizeof(url), plain, sizeof(plain));
		limits(ctx->cfg, CERT_MAX, &lim);
		r->pending++;
		if (fetch_start(ctx->fetcher, url, NULL, NULL, &lim, on_cert, cj) == 0) {
			round_check_done(r);
			return;
		}
		r->pending--;
		ctx->certs_failed++;
	} else {
		ctx->certs_failed++;
	}
	pump_certs(r);
	round_check_done(r);
}

/* Keeps CERT_PARALLEL certificate transfers running until all are done. */
static void
pump_certs(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;

	while (r->next_want < r->n_want && r->pending < CERT_PARALLEL + KIND_COUNT * 2) {
		struct cert_job *cj = &r->cert_jobs[r->next_want];
		struct fetch_limits lim;
		char url[640], plain[600], name[48];
		size_t i;

		cj->r = r;
		memcpy(cj->sha1, r->want[r->next_want++], 20);
		for (i = 0; i < 20; i++)
			snprintf(name + 2 * i, 3, "%02X", cj->sha1[i]);
		strcat(name, ".crt");
		make_url(ctx->cfg, 0, name, url, sizeof(url), plain, sizeof(plain));
		limits(ctx->cfg, CERT_MAX, &lim);
		r->pending++;
		if (fetch_start(ctx->fetcher, url, NULL, NULL, &lim, on_cert, cj) != 0) {
			r->pending--;
			ctx->certs_failed++;
		}
	}
}

/* The served authroot's listed roots that the store lacks. */
static void
start_certs(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	struct version v;
	struct verdict vd;
	unsigned char *buf = NULL, *der;
	size_t len, i, dlen;

	if (r->certs_started || ctx->cfg->n_upstream == 0)
		return;
	r->certs_started = 1;
	if (store_served_blob(ctx->store, KIND_AUTHROOT, &v, NULL, &buf, &len) != STORE_OK)
		return;
	vfy_read_entries(buf, len, KIND_AUTHROOT, &vd);
	free(buf);
	if (vd.n_entries > 0 && (r->want = calloc(vd.n_entries, 20)) != NULL &&
	    (r->cert_jobs = calloc(vd.n_entries, sizeof(*r->cert_jobs))) != NULL) {
		for (i = 0; i < vd.n_entries; i++) {
			if (vd.entries[i].id_len != 20)
				continue;
			if (store_get_cert(ctx->store, vd.entries[i].id, &der, &dlen) == STORE_OK) {
				free(der);
				continue;
			}
			memcpy(r->want[r->n_want++], vd.entries[i].id, 20);
		}
	}
	verdict_free(&vd);
	pump_certs(r);
}

int
sync_start(struct sync_ctx *ctx, time_t now)
{
	struct round *r;
	int k;

	if (ctx->running || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->ctx = ctx;
	r->now = now;
	ctx->running = 1;
	ctx->round = r;
	ctx->certs_fetched = ctx->certs_failed = 0;
	memset(ctx->outcome, 0, sizeof(ctx->outcome));
	r->pending++;	/* held while starting, so no callback ends the round early */
	if (ctx->certs_only) {
		start_certs(r);
	} else if (ctx->cfg->n_upstream == 0) {
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
			outcome(&ctx->outcome[k], 0, "failed", NULL, "no upstream configured");
	} else {
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
			struct kind_job *j = &r->jobs[k];

			j->r = r;
			j->kind = (enum ctl_kind)k;
			if (k == KIND_AUTHROOT) {
				struct fetch_limits lim;
				char url[640], plain[600];

				make_url(ctx->cfg, 0, ctl_kind_seq_name(KIND_AUTHROOT), url,
				    sizeof(url), plain, sizeof(plain));
				limits(ctx->cfg, SEQ_MAX, &lim);
				r->pending++;
				/* unconditional: it is tiny, and the comparison needs its text */
				if (fetch_start(ctx->fetcher, url, NULL, NULL, &lim, on_seq, j) != 0)
					r->pending--;
			}
			start_cab(j);
		}
	}
	r->pending--;
	round_check_done(r);
	return 0;
}

int
sync_certs(struct sync_ctx *ctx)
{
	int saved = ctx->certs_only, rc;

	ctx->certs_only = 1;
	rc = sync_start(ctx, time(NULL));
	ctx->certs_only = saved;
	return rc;
}

void
sync_free(struct sync_ctx *ctx)
{
	struct round *r = ctx->round;

	if (r != NULL) {
		free(r->want);
		free(r->cert_jobs);
		free(r);
	}
	ctx->round = NULL;
	ctx->running = 0;
}
