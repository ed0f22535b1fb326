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

static void __attribute__((format(printf, 3, 4)))
reason(struct kind_health *h, enum health_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > h->level)
		h->level = level;
	if (h->n_reasons == HEALTH_MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(h->reasons[h->n_reasons++], sizeof(h->reasons[0]), fmt, ap);
	va_end(ap);
}

void
health_of(const struct served_kind *sk, const struct version *list, size_t n,
    time_t now, unsigned long warn_days, time_t last_success,
    unsigned long stale_after, struct kind_health *out)
{
	enum ctl_kind kind = out->kind;
	char when[ISOTIME_LEN];
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
		reason(out, HEALTH_CRITICAL, "nothing servable: no verified %s version in the store",
		    ctl_kind_str(kind));
	} else {
		out->expires = !out->served.timestamp_verified;
		out->signer_not_after = out->served.chain_valid_to;
		out->days_left = (long)((out->signer_not_after - now) / 86400);
		if (out->expires && out->signer_not_after < now)
			reason(out, HEALTH_CRITICAL,
			    "the served version's signing chain expired at %s: clients log CAPI2 event 4107",
			    isotime_format(out->signer_not_after, when, sizeof(when)));
		else if (out->expires &&
		    out->signer_not_after - now < (time_t)warn_days * 86400)
			reason(out, HEALTH_WARN,
			    "the served version's signing chain expires at %s, in %ld days",
			    isotime_format(out->signer_not_after, when, sizeof(when)),
			    out->days_left);
	}
	if (out->has_quarantined)
		/* a trust reason is this mirror's to fix: say how (the detail names the root) */
		reason(out, HEALTH_WARN, "a newer copy (sequence %s) failed verification: %s%s%.400s",
		    out->newest_quarantined.sequence[0] ? out->newest_quarantined.sequence : "unknown",
		    vfy_reason_str(out->newest_quarantined.reason),
		    vfy_reason_trust_dependent(out->newest_quarantined.reason) ? ": " : "",
		    vfy_reason_trust_dependent(out->newest_quarantined.reason) ?
		    out->newest_quarantined.detail : "");
	if (out->pinned && out->newer_held > 0)
		reason(out, HEALTH_WARN, "pinned%s%.200s; %zu newer verified version%s held back",
		    out->pin.by[0] ? " by " : "", out->pin.by,
		    out->newer_held, out->newer_held == 1 ? "" : "s");
	if (stale_after > 0 && last_success != 0 &&
	    now - last_success > (time_t)stale_after)
		reason(out, HEALTH_WARN, "no successful sync since %s",
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
