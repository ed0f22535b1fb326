/*
 * report.c - the status report as text and JSON (the page is page.c).
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/fetch.h"
#include "proxy/hex.h"
#include "proxy/json.h"
#include "proxy/lang.h"
#include "proxy/report.h"
#include "verify/isotime.h"

static void
status_json(struct json *j, const struct kind_health *h, const struct report_sync *sync)
{
	char sha[65];
	size_t i;

	json_begin(j, ctl_kind_str(h->kind), '{');
	if (h->has_served) {
		hex_encode(h->served.sha256, 32, 0, sha);
		json_begin(j, "served", '{');
		json_str(j, "sequence", h->served.sequence);
		json_str(j, "sha256", sha);
		json_time(j, "this_update", h->served.this_update, h->served.this_update != 0);
		json_time(j, "first_seen", h->served.first_seen, 1);
		json_time(j, "served_since", h->served.served_since, h->served.served_since != 0);
		json_time(j, "signer_not_after", h->signer_not_after, h->served.has_chain);
		if (h->expires)
			json_int(j, "days_left", h->days_left);
		else
			json_null(j, "days_left");
		json_bool(j, "timestamp_verified", h->served.timestamp_verified);
		json_end(j, '}');
	} else {
		json_null(j, "served");
	}
	json_bool(j, "pinned", h->pinned);
	if (h->pinned) {
		json_begin(j, "pin", '{');
		hex_encode(h->pin.sha256, 32, 0, sha);
		json_str(j, "sha256", sha);	/* what a child that follows this pin pins */
		json_time(j, "since", h->pin.since, h->pin.since != 0);
		json_time(j, "until", h->pin.until, h->pin.until != 0);
		json_str(j, "reason", h->pin.reason[0] ? h->pin.reason : NULL);
		json_str(j, "by", h->pin.by[0] ? h->pin.by : NULL);
		json_int(j, "newer_held_back", (long long)h->newer_held);
		json_end(j, '}');
	} else {
		json_null(j, "pin");
	}
	json_bool(j, "kept", h->kept);
	json_str(j, "health", health_level_str(h->level));
	json_begin(j, "health_reasons", '[');
	for (i = 0; i < h->n_reasons; i++)
		json_str(j, NULL, h->reasons[i]);
	json_end(j, ']');
	if (h->has_quarantined) {
		hex_encode(h->newest_quarantined.sha256, 32, 0, sha);
		json_begin(j, "newest_quarantined", '{');
		json_str(j, "sequence", h->newest_quarantined.sequence[0] ?
		    h->newest_quarantined.sequence : NULL);
		json_str(j, "sha256", sha);
		json_str(j, "reason", vfy_reason_str(h->newest_quarantined.reason));
		json_end(j, '}');
	} else {
		json_null(j, "newest_quarantined");
	}
	json_int(j, "versions", (long long)h->n_versions);
	if (sync != NULL) {
		json_time(j, "last_sync", sync->last_success[h->kind], sync->last_success[h->kind] != 0);
		json_int(j, "sync_failures", (long long)sync->failures[h->kind]);
	}
	json_end(j, '}');
}

/* The health level in the reader's language (status text; JSON keeps "ok", ...). */
static const char *
level_word(enum health_level l)
{
	switch (l) {
	case HEALTH_OK: return _("ok");
	case HEALTH_WARN: return _("warn");
	default: return _("critical");
	}
}

/* `ctlmirror status`'s text, in the reader's language (lang.h). */
static void
status_text(FILE *out, const struct kind_health *h)
{
	char t[ISOTIME_LEN], u[ISOTIME_LEN], why[1024];
	size_t i;

	if (!h->kept) {
		fprintf(out, _("%s: not kept (kinds =): neither fetched nor judged\n"),
		    ctl_kind_str(h->kind));
		return;
	}
	fprintf(out, "%s: %s\n", ctl_kind_str(h->kind), level_word(h->level));
	if (h->has_served) {
		fprintf(out, h->pinned ? _("  served      %s (pinned), thisUpdate %s\n") :
		    _("  served      %s (newest verified), thisUpdate %s\n"), h->served.sequence,
		    h->served.this_update ? isotime_format(h->served.this_update, t, sizeof(t)) : "-");
		isotime_format(h->signer_not_after, t, sizeof(t));
		if (!h->expires)
			fputs(_("  chain ends  never for clients: a verified timestamp fixes its time\n"), out);
		else if (h->days_left >= 0)
			fprintf(out, ngettext("  chain ends  %s (%ld day left)\n",
			    "  chain ends  %s (%ld days left)\n", (unsigned long)h->days_left),
			    t, h->days_left);
		else
			fprintf(out, ngettext("  chain ends  %s (expired %ld day ago)\n",
			    "  chain ends  %s (expired %ld days ago)\n", (unsigned long)-h->days_left),
			    t, -h->days_left);
	}
	if (h->pinned) {
		isotime_format(h->pin.until, u, sizeof(u));
		if (h->pin.by[0] != '\0' && h->pin.until != 0)
			fprintf(out, _("  pinned      by %s, until %s"), h->pin.by, u);
		else if (h->pin.by[0] != '\0')
			fprintf(out, _("  pinned      by %s, until unpinned"), h->pin.by);
		else if (h->pin.until != 0)
			fprintf(out, _("  pinned      by the administrator, until %s"), u);
		else
			fputs(_("  pinned      by the administrator, until unpinned"), out);
		if (h->pin.reason[0])
			fprintf(out, ": %s", h->pin.reason);
		fputc('\n', out);
	}
	if (h->has_quarantined)
		fprintf(out, _("  quarantined %s (%s), newer than the served version\n"),
		    h->newest_quarantined.sequence[0] ? h->newest_quarantined.sequence : "-",
		    vfy_reason_str(h->newest_quarantined.reason));
	for (i = 0; i < h->n_reasons; i++)
		fprintf(out, "  - %s\n", health_reason_text(h, i, _(h->why[i].tmpl), why, sizeof(why)));
}

void
report_judge(const struct served_set *set, const struct version *list, size_t n,
    const struct config *cfg, time_t now, const struct report_sync *sync,
    struct kind_health h[KIND_COUNT])
{
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		h[k].kind = (enum ctl_kind)k;
		health_of(&set->kinds[k], list, n, now, cfg->warn_days,
		    sync != NULL ? sync->last_success[k] : 0,
		    sync != NULL ? cfg->stale_after : 0, sync != NULL ? sync->older[k] : NULL, &h[k]);
		if (!config_keeps(cfg, ctl_kind_str((enum ctl_kind)k))) {
			/* not kept: shown as such, never judged */
			h[k].kept = 0;
			h[k].level = HEALTH_OK;
			h[k].n_reasons = 0;
		}
	}
}

void
report_upstream_older(struct store *s, const struct config *cfg,
    const struct served_set *set, struct report_sync *sync)
{
	const size_t mark = strlen(HEALTH_OLDER_MARK);
	struct upstream_state st;
	char url[640], plain[600];
	time_t t_old, t_good;
	size_t i;
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		const struct served_kind *sk = &set->kinds[k];

		sync->older[k][0] = '\0';
		if (!config_keeps(cfg, ctl_kind_str((enum ctl_kind)k)))
			continue;
		t_old = t_good = 0;
		for (i = 0; i < cfg->n_upstream; i++) {
			if (sk->pinned && strcmp(sk->pin.by, cfg->upstream[i]) == 0)
				continue;	/* following its pin: the pin explains it */
			fetch_url(cfg->upstream[i], ctl_kind_cab_name((enum ctl_kind)k), 0, url,
			    sizeof(url), plain, sizeof(plain));
			if (store_upstream_get(s, plain, &st) != STORE_OK ||
			    st.last_attempt == 0 || st.last_success != st.last_attempt)
				continue;
			if (strncmp(st.last_error, HEALTH_OLDER_MARK, mark) == 0) {
				if (st.last_attempt > t_old) {
					t_old = st.last_attempt;
					snprintf(sync->older[k], sizeof(sync->older[k]), "%.500s offers %.80s",
					    plain, st.last_error + mark);
				}
			} else if (st.last_error[0] == '\0' && st.last_attempt > t_good) {
				t_good = st.last_attempt;
			}
		}
		/* another upstream gave the newest in the same round or later: not behind */
		if (t_old == 0 || t_good >= t_old)
			sync->older[k][0] = '\0';
	}
}

enum store_err
report_health(struct store *s, const struct config *cfg, time_t now,
    const struct report_sync *sync, struct kind_health h[KIND_COUNT])
{
	struct report_sync facts;
	struct served_set set;
	struct version *list = NULL;
	enum store_err err;
	size_t n = 0;

	if ((err = served_load(s, 0, &set)) != STORE_OK)
		return err;
	if ((err = store_list(s, KIND_UNKNOWN, &list, &n)) == STORE_OK) {
		if (sync != NULL)
			facts = *sync;
		else
			memset(&facts, 0, sizeof(facts));
		report_upstream_older(s, cfg, &set, &facts);
		report_judge(&set, list, n, cfg, now, &facts, h);
	}
	free(list);
	served_free(&set);
	return err;
}

void
report_status_write(const struct kind_health h[KIND_COUNT], const struct report_sync *sync,
    int json, FILE *out)
{
	struct json j;
	int k;

	json_init(&j, out);
	if (json)
		json_begin(&j, NULL, '{');
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		if (json)
			status_json(&j, &h[k], sync);
		else
			status_text(out, &h[k]);
	}
	if (json) {
		json_end(&j, '}');
		fputc('\n', out);
	}
}

enum store_err
report_status(struct store *s, const struct config *cfg, time_t now,
    const struct report_sync *sync, int json, FILE *out, enum health_level *overall)
{
	struct kind_health h[KIND_COUNT];
	enum store_err err;

	if ((err = report_health(s, cfg, now, sync, h)) != STORE_OK)
		return err;
	report_status_write(h, sync, json, out);
	if (overall != NULL)
		*overall = health_overall(h);
	return STORE_OK;
}
