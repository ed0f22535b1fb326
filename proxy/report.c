/*
 * report.c - the status report in its three forms.
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

/* Text for HTML: the five characters that matter escaped. */
static void
html(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

static void
html_kind(FILE *out, const struct kind_health *h, const char *timeline)
{
	char t[ISOTIME_LEN], t2[ISOTIME_LEN];
	size_t i;

	fprintf(out, "<section class=\"kind %s\" id=\"%s\">\n<h2>%s <span class=\"badge\">%s</span></h2>\n",
	    health_level_str(h->level), ctl_kind_str(h->kind), ctl_kind_str(h->kind),
	    health_level_str(h->level));
	if (h->has_served) {
		fprintf(out, "<p class=\"served\">Served: sequence <code>");
		html(out, h->served.sequence);
		fprintf(out, "</code> (%s), thisUpdate %s, first seen %s.</p>\n",
		    h->pinned ? "pinned" : "newest verified",
		    isotime_format(h->served.this_update, t, sizeof(t)),
		    isotime_format(h->served.first_seen, t2, sizeof(t2)));
		if (h->expires && h->days_left >= 0)
			fprintf(out, "<p class=\"countdown\" data-expires=\"%lld\">Signer chain expires "
			    "%s: <strong class=\"days\">%ld days</strong> left.</p>\n",
			    (long long)h->signer_not_after,
			    isotime_format(h->signer_not_after, t, sizeof(t)), h->days_left);
		else if (h->expires)
			fprintf(out, "<p class=\"countdown expired\" data-expires=\"%lld\">Signer chain "
			    "expired %s: <strong class=\"days\">expired %ld days ago</strong>; clients "
			    "log CAPI2 event 4107.</p>\n", (long long)h->signer_not_after,
			    isotime_format(h->signer_not_after, t, sizeof(t)), -h->days_left);
		else
			fprintf(out, "<p class=\"countdown\">Time-stamped: clients check it at its "
			    "timestamp, it does not expire.</p>\n");
	} else {
		fprintf(out, "<p class=\"served none\">Nothing servable: clients get 503.</p>\n");
	}
	if (h->pinned) {
		fprintf(out, "<p class=\"pin\">Pinned %s", h->pin.by[0] ? "by " : "by the administrator");
		html(out, h->pin.by);
		fprintf(out, ", %s%s", h->pin.until ? "until " : "until unpinned",
		    h->pin.until ? isotime_format(h->pin.until, t, sizeof(t)) : "");
		if (h->pin.reason[0]) {
			fputs(": ", out);
			html(out, h->pin.reason);
		}
		fprintf(out, ".</p>\n");
	}
	if (h->n_reasons > 0) {
		fprintf(out, "<ul class=\"reasons\">\n");
		for (i = 0; i < h->n_reasons; i++) {
			fprintf(out, "<li>");
			html(out, h->reasons[i]);
			fprintf(out, "</li>\n");
		}
		fprintf(out, "</ul>\n");
	}
	fputs(timeline, out);
	fprintf(out, "</section>\n");
}

void
report_html_timeline(const struct version *list, size_t n, FILE *out)
{
	char t[ISOTIME_LEN], t2[ISOTIME_LEN];
	size_t i;

	fprintf(out, "<table class=\"timeline\">\n<thead><tr><th>sequence</th><th>thisUpdate</th>"
	    "<th>first seen</th><th>status</th><th>reason</th><th>sha256</th></tr></thead>\n<tbody>\n");
	for (i = n; i-- > 0;) {	/* newest first */
		char sha[65];

		hex_encode(list[i].sha256, 32, 0, sha);
		fprintf(out, "<tr class=\"%s\"><td><code>", version_status_str(list[i].status));
		html(out, list[i].sequence[0] ? list[i].sequence : "-");
		fprintf(out, "</code></td><td>%s</td><td>%s</td><td>%s</td><td title=\"",
		    list[i].this_update ? isotime_format(list[i].this_update, t, sizeof(t)) : "-",
		    isotime_format(list[i].first_seen, t2, sizeof(t2)),
		    version_status_str(list[i].status));
		html(out, list[i].detail);
		fprintf(out, "\">%s</td><td><code>%.12s</code></td></tr>\n",
		    vfy_reason_str(list[i].reason), sha);
	}
	if (n == 0)
		fprintf(out, "<tr><td colspan=\"6\">no versions stored</td></tr>\n");
	fprintf(out, "</tbody>\n</table>\n");
}

void
report_html_page(const struct kind_health h[KIND_COUNT], const char *const timeline[KIND_COUNT],
    time_t now, FILE *out)
{
	char t[ISOTIME_LEN];
	int k;

	fprintf(out,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<title>ctlmirror status</title>\n"
	    "<style>\n"
	    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}\n"
	    "h1{font-size:1.5em}section{border:1px solid #ccc;border-radius:6px;padding:0 1em 1em;margin:1em 0}\n"
	    ".badge{font-size:.7em;padding:.1em .5em;border-radius:4px;color:#fff;background:#2a7}\n"
	    ".warn .badge{background:#d90}.critical .badge{background:#c33}\n"
	    "table{border-collapse:collapse;width:100%%}td,th{text-align:left;padding:.2em .6em;border-bottom:1px solid #eee}\n"
	    "tr.served td,tr.pinned td{font-weight:bold}tr.quarantined td{color:#c33}tr.rollback td{color:#888}\n"
	    "</style>\n</head>\n<body>\n<h1>ctlmirror status</h1>\n<p>As of %s.</p>\n",
	    isotime_format(now, t, sizeof(t)));
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		html_kind(out, &h[k], timeline[k] != NULL ? timeline[k] : "");
	/* on the daemon's clock (serve --now, a browser's skew), truncated as days_left is */
	fprintf(out, "<script>\n"
	    "/* keep the countdowns live while the page is open */\n"
	    "var now0=%lld*1000,t0=Date.now();\n"
	    "setInterval(function(){document.querySelectorAll('.countdown[data-expires]').forEach("
	    "function(p){var d=(p.dataset.expires*1000-(now0+Date.now()-t0))/86400000;"
	    "p.querySelector('.days').textContent=d>=0?Math.trunc(d)+' days':"
	    "'expired '+Math.trunc(-d)+' days ago';});},60000);\n"
	    "</script>\n</body>\n</html>\n", (long long)now);
}
