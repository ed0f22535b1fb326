/*
 * sync_follow.c - a round's pins of the upstreams this mirror follows
 * (follow_upstream_pin): each followed upstream's /_ctlmirror/status.json is
 * read with the kinds' cabs, and once everything else in the round is
 * settled its pins are applied (see sync_round.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/hex.h"
#include "proxy/sync.h"
#include "proxy/sync_round.h"
#include "proxy/upstream_pin.h"

/* Adds to a kind's outcome text what following did. */
static void __attribute__((format(printf, 3, 4)))
outcome_note(struct sync_ctx *ctx, enum ctl_kind kind, const char *fmt, ...)
{
	struct sync_outcome *o = &ctx->outcome[kind];
	va_list ap;

	va_start(ap, fmt);
	sync_append_part(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

/*
 * A pin of upstream's that this mirror does not take: said in the outcome
 * every round, and as an event once per version the upstream pins (not
 * every round: the log would fill with the same line).
 */
static void __attribute__((format(printf, 4, 5)))
follow_refused(struct round *r, enum ctl_kind kind, const struct upstream_kind_pin *kp,
    const char *fmt, ...)
{
	struct sync_ctx *ctx = r->ctx;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	outcome_note(ctx, kind, "%s", text);
	if (memcmp(ctx->follow_noted[kind], kp->sha256, 32) != 0) {
		memcpy(ctx->follow_noted[kind], kp->sha256, 32);
		sync_log_event(r, EV_SYNC, kind, kp->sequence, "%s", text);
	}
}

/* One kind: pin what upstream u pins, unpin what it no longer pins. */
static void
follow_kind(struct round *r, size_t u, enum ctl_kind kind, const struct upstream_kind_pin *kp)
{
	struct sync_ctx *ctx = r->ctx;
	const char *url = ctx->cfg->upstream[u];
	const char *seq = kp->sequence[0] ? kp->sequence : "(sequence not given)";
	char hex[65], why[320];
	struct pin_info cur;
	struct pin_opts po;
	struct version v;
	enum store_err err;
	int has, pinned = kp->pinned;

	if (!kp->present)
		return;		/* the upstream says nothing of the kind: nothing changes */
	if ((err = store_pin_info(ctx->store, kind, &cur)) != STORE_OK && err != STORE_ERR_NOTFOUND) {
		outcome_note(ctx, kind, "upstream pin not followed: store: %s", store_strerror(err));
		return;
	}
	has = err == STORE_OK;
	if (pinned && kp->until != 0 && kp->until <= r->now)
		pinned = 0;	/* its pin lapses now */
	if (!pinned) {
		memset(ctx->follow_noted[kind], 0, sizeof(ctx->follow_noted[kind]));
		if (has && strcmp(cur.by, url) == 0) {
			if ((err = store_unpin(ctx->store, kind, r->now)) == STORE_OK)
				outcome_note(ctx, kind, "unpinned: upstream %s no longer pins", url);
			else
				outcome_note(ctx, kind, "upstream %s no longer pins, but unpinning failed: "
				    "%s: %s", url, store_strerror(err), store_last_error(ctx->store));
		}
		return;
	}
	if (has && memcmp(cur.sha256, kp->sha256, 32) == 0)
		return;		/* pinned here already */
	if (has && strcmp(cur.by, url) != 0) {
		/* an administrator's own pin (or another upstream's) is never replaced by following */
		hex_encode(cur.sha256, 32, 0, hex);
		follow_refused(r, kind, kp, "upstream %.200s pins %s %s; not followed: this "
		    "mirror's pin by %.200s (sha256 %.16s) stays until it is unpinned here",
		    url, ctl_kind_str(kind), seq, cur.by[0] ? cur.by : "the administrator", hex);
		return;
	}
	hex_encode(kp->sha256, 32, 0, hex);
	if ((err = store_find(ctx->store, hex, &v)) != STORE_OK || v.kind != kind) {
		follow_refused(r, kind, kp, "upstream %.200s pins %s %s (sha256 %.16s), but no copy "
		    "of it %s here: not followed", url, ctl_kind_str(kind), seq, hex,
		    err == STORE_OK ? "of that kind is stored" : "came or is stored");
		return;
	}
	snprintf(why, sizeof(why), "followed from upstream%s%.250s", kp->reason[0] ? ": " : "",
	    kp->reason);
	memset(&po, 0, sizeof(po));
	po.until = kp->until;
	po.reason = why;
	po.by = url;
	/* never forced: this mirror verifies for itself, as with every copy */
	if ((err = store_pin(ctx->store, v.sha256, r->now, &po)) != STORE_OK) {
		follow_refused(r, kind, kp, "upstream %.200s pins %s %s; not followed: %s: %.200s",
		    url, ctl_kind_str(kind), v.sequence, store_strerror(err),
		    store_last_error(ctx->store));
		return;
	}
	memset(ctx->follow_noted[kind], 0, sizeof(ctx->follow_noted[kind]));
	outcome_note(ctx, kind, "pinned %s as upstream %s pins it", v.sequence, url);
	if (kind == KIND_AUTHROOT)
		sync_start_certs(r);		/* the roots the pinned version lists */
}

/* After every kind settled: apply what the followed upstreams pin, in upstream order. */
void
sync_follow_apply(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	size_t u;
	int k;

	for (u = 0; u < ctx->cfg->n_upstream && u < CONFIG_MAX_LIST; u++) {
		struct follow_fetch *f = &r->follow[u];

		if (!f->asked)
			continue;
		if (!f->ok && !ctx->follow_failing[u])
			sync_log_event(r, EV_SYNC, KIND_UNKNOWN, "", "upstream pins not read, nothing "
			    "changed: %s", f->error);
		else if (f->ok && ctx->follow_failing[u])
			sync_log_event(r, EV_SYNC, KIND_UNKNOWN, "", "upstream pins read again from %s",
			    f->url);
		ctx->follow_failing[u] = !f->ok;
		for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
			if (!config_keeps(ctx->cfg, ctl_kind_str((enum ctl_kind)k)))
				continue;
			if (f->ok)
				follow_kind(r, u, (enum ctl_kind)k, &f->pins.kinds[k]);
			else
				outcome_note(ctx, (enum ctl_kind)k, "upstream pins not read: %s",
				    f->error);
		}
	}
}

static void
on_follow(const struct fetch_result *res, void *arg)
{
	struct follow_fetch *f = arg;
	struct round *r = f->r;
	char err[256];
	enum upin_err e;

	r->pending--;
	if (!res->transferred)
		snprintf(f->error, sizeof(f->error), "%s: %s", f->url, res->error);
	else if (res->status != 200)
		snprintf(f->error, sizeof(f->error), "%s: HTTP %ld (is the upstream a ctlmirror?)",
		    f->url, res->status);
	else if ((e = upstream_pin_parse(res->body, res->len, &f->pins, err, sizeof(err))) != UPIN_OK)
		snprintf(f->error, sizeof(f->error), "%s: %s: %s", f->url, upin_strerror(e), err);
	else
		f->ok = 1;
	sync_round_check_done(r);
}

/* The status.json of each upstream this mirror follows, beside the cabs. */
void
sync_follow_start(struct round *r)
{
	struct sync_ctx *ctx = r->ctx;
	struct fetch_limits lim;
	size_t u;

	for (u = 0; u < ctx->cfg->n_upstream && u < CONFIG_MAX_LIST; u++) {
		struct follow_fetch *f = &r->follow[u];

		if (!ctx->cfg->upstream_follow_pin[u])
			continue;
		f->r = r;
		f->upstream = u;
		f->asked = 1;
		if (upstream_pin_url(ctx->cfg->upstream[u], f->url, sizeof(f->url)) != 0) {
			snprintf(f->error, sizeof(f->error), "%.300s: not an http or https URL",
			    ctx->cfg->upstream[u]);
			continue;
		}
		fetch_limits_of(ctx->cfg, UPSTREAM_PIN_MAX_BYTES, &lim);
		r->pending++;
		if (fetch_start(ctx->fetcher, f->url, NULL, NULL, &lim, on_follow, f) != 0) {
			r->pending--;
			snprintf(f->error, sizeof(f->error), "%.300s: cannot start the transfer",
			    ctx->cfg->upstream[u]);
		}
	}
}
