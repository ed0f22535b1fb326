/*
 * health.c - the health rules, in one place.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/health.h"
#include "verify/isotime.h"

const char *
health_level_str(enum health_level level)
{
	switch (level) {
	case HEALTH_OK:
		return "ok";
	case HEALTH_WARN:
		return "warn";
	default:
		return "critical";
	}
}

/* The reasons' templates: English, "%s" for each argument. */
enum {
	R_NOTHING, R_EXPIRED, R_EXPIRES, R_QUARANTINED, R_QUARANTINED_DETAIL,
	R_HELD_ONE, R_HELD_MANY, R_HELD_ONE_BY, R_HELD_MANY_BY, R_OLDER, R_STALE,
	R_COUNT
};

static const char *const templates[R_COUNT] = {
	[R_NOTHING] = N_("nothing servable: no verified %s version in the store"),
	[R_EXPIRED] = N_("the served version's signing chain expired at %s: clients log CAPI2 event 4107"),
	[R_EXPIRES] = N_("the served version's signing chain expires at %s, in %s days"),
	[R_QUARANTINED] = N_("a newer copy (sequence %s) failed verification: %s"),
	[R_QUARANTINED_DETAIL] = N_("a newer copy (sequence %s) failed verification: %s: %s"),
	[R_HELD_ONE] = N_("pinned; %s newer verified version held back"),
	[R_HELD_MANY] = N_("pinned; %s newer verified versions held back"),
	[R_HELD_ONE_BY] = N_("pinned by %s; %s newer verified version held back"),
	[R_HELD_MANY_BY] = N_("pinned by %s; %s newer verified versions held back"),
	[R_OLDER] = N_("upstream serves an older version than this mirror: %s"),
	[R_STALE] = N_("no successful sync since %s"),
};

const struct lang_msgs health_msgs = { templates, R_COUNT };

/* Adds reason r with its n arguments (strings), raising h's level to level. */
static void
reason(struct kind_health *h, enum health_level level, int r, size_t n, ...)
{
	struct health_reason *why;
	const char *args[HEALTH_REASON_ARGS];
	va_list ap;
	size_t i;

	if (level > h->level)
		h->level = level;
	if (h->n_reasons == HEALTH_MAX_REASONS)
		return;
	why = &h->why[h->n_reasons];
	why->tmpl = templates[r];
	why->n_args = n < HEALTH_REASON_ARGS ? n : HEALTH_REASON_ARGS;
	va_start(ap, n);
	for (i = 0; i < why->n_args; i++) {
		snprintf(why->args[i], sizeof(why->args[i]), "%s", va_arg(ap, const char *));
		args[i] = why->args[i];
	}
	va_end(ap);
	lang_fill(h->reasons[h->n_reasons], sizeof(h->reasons[0]), why->tmpl, args, why->n_args);
	h->n_reasons++;
}

char *
health_reason_text(const struct kind_health *h, size_t i, const char *tmpl_tr, char *out,
    size_t len)
{
	const char *args[HEALTH_REASON_ARGS];
	size_t a;

	for (a = 0; a < h->why[i].n_args; a++)
		args[a] = h->why[i].args[a];
	return lang_fill(out, len, tmpl_tr, args, h->why[i].n_args);
}

void
health_of(const struct served_kind *sk, const struct version *list, size_t n,
    time_t now, unsigned long warn_days, time_t last_success,
    unsigned long stale_after, const char *older, struct kind_health *out)
{
	enum ctl_kind kind = out->kind;
	char when[ISOTIME_LEN], num[32];
	size_t i;

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->kept = 1;
	out->has_served = sk->present;
	if (sk->present) {
		out->served = sk->v;
		out->pinned = sk->pinned;
		out->pin = sk->pin;
		out->newer_held = sk->newer_held;
	}
	for (i = 0; i < n; i++) {
		if (list[i].kind != kind)
			continue;
		out->n_versions++;
		if (list[i].status != VS_QUARANTINED)
			continue;
		if (out->has_served && ctl_seq_cmp(list[i].sequence, out->served.sequence) <= 0)
			continue;
		if (!out->has_quarantined ||
		    ctl_seq_cmp(list[i].sequence, out->newest_quarantined.sequence) >= 0) {
			out->newest_quarantined = list[i];
			out->has_quarantined = 1;
		}
	}

	if (!out->has_served) {
		reason(out, HEALTH_CRITICAL, R_NOTHING, 1, ctl_kind_str(kind));
	} else {
		out->expires = !out->served.timestamp_verified;
		out->signer_not_after = out->served.chain_valid_to;
		out->days_left = (long)((out->signer_not_after - now) / 86400);
		if (out->expires && out->signer_not_after < now)
			reason(out, HEALTH_CRITICAL, R_EXPIRED, 1,
			    isotime_format(out->signer_not_after, when, sizeof(when)));
		else if (out->expires &&
		    out->signer_not_after - now < (time_t)warn_days * 86400) {
			snprintf(num, sizeof(num), "%ld", out->days_left);
			reason(out, HEALTH_WARN, R_EXPIRES, 2,
			    isotime_format(out->signer_not_after, when, sizeof(when)), num);
		}
	}
	if (out->has_quarantined)
		/* a trust reason is this mirror's to fix: say how (the detail names the root) */
		reason(out, HEALTH_WARN,
		    vfy_reason_trust_dependent(out->newest_quarantined.reason) ?
		    R_QUARANTINED_DETAIL : R_QUARANTINED, 3,
		    out->newest_quarantined.sequence[0] ? out->newest_quarantined.sequence : "?",
		    vfy_reason_str(out->newest_quarantined.reason),
		    out->newest_quarantined.detail);
	if (out->pinned && out->newer_held > 0) {
		snprintf(num, sizeof(num), "%zu", out->newer_held);
		if (out->pin.by[0] != '\0')
			reason(out, HEALTH_WARN, out->newer_held == 1 ? R_HELD_ONE_BY : R_HELD_MANY_BY,
			    2, out->pin.by, num);
		else
			reason(out, HEALTH_WARN, out->newer_held == 1 ? R_HELD_ONE : R_HELD_MANY,
			    1, num);
	}
	if (older != NULL && older[0] != '\0')
		reason(out, HEALTH_WARN, R_OLDER, 1, older);
	if (stale_after > 0 && last_success != 0 &&
	    now - last_success > (time_t)stale_after)
		reason(out, HEALTH_WARN, R_STALE, 1,
		    isotime_format(last_success, when, sizeof(when)));
}

enum health_level
health_overall(const struct kind_health h[KIND_COUNT])
{
	enum health_level worst = HEALTH_OK;
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (h[k].kept && h[k].level > worst)
			worst = h[k].level;
	return worst;
}
