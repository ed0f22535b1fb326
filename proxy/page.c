/*
 * page.c - the status page (see page.h): history from the store's events,
 * then HTML in the request's language.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/hex.h"
#include "proxy/page.h"
#include "verify/isotime.h"

enum page_msgid {
	PM_TITLE = 0, PM_AS_OF, PM_ROOT_KEPT,
	PM_OK, PM_WARN, PM_CRITICAL, PM_NOT_KEPT,
	PM_SUMMARY, PM_SERVES, PM_NEWEST, PM_PINNED_ADMIN, PM_PINNED_BY, PM_UNTIL, PM_UNTIL_UNPINNED,
	PM_PIN_REASON, PM_NOTHING, PM_IN_1, PM_IN_N, PM_AGO_1, PM_AGO_N, PM_STAMPED, PM_4107,
	PM_TIMELINE, PM_TL_NOTE, PM_LEG_SERVED, PM_LEG_PINNED, PM_LEG_ADMITTED, PM_LEG_QUARANTINED,
	PM_LEG_ROLLBACK, PM_LEG_PIN, PM_LEG_UNPIN, PM_IV_TITLE, PM_IV_TITLE_PINNED, PM_NOW,
	PM_OLDER_OMITTED,
	PM_UPSTREAMS, PM_NO_POLL, PM_NO_UPSTREAM, PM_COL_UPSTREAM, PM_COL_KIND, PM_COL_ATTEMPT,
	PM_COL_SUCCESS, PM_COL_RESULT, PM_COL_FAILURES, PM_NEVER, PM_RES_OK, PM_RES_OLDER,
	PM_RES_FAILED, PM_RES_FAILED_NO_ANSWER,
	PM_VERSIONS, PM_RECENT_OF, PM_ALL_OF, PM_SHOW_ALL, PM_SHOW_RECENT, PM_COL_SEQ,
	PM_COL_THIS_UPDATE, PM_COL_FIRST_SEEN, PM_COL_STATUS, PM_COL_REASON, PM_COL_SHA,
	PM_NO_VERSIONS, PM_ST_ADMITTED, PM_ST_SERVED, PM_ST_PINNED, PM_ST_QUARANTINED,
	PM_ST_ROLLBACK, PM_LIST_SEP,
	PM_COUNT
};

static const char *const page_msgids[PM_COUNT] = {
	[PM_TITLE] = N_("ctlmirror status"),
	[PM_AS_OF] = N_("As of %s."),
	[PM_ROOT_KEPT] = N_("The daemon keeps root privileges on purpose (user = root): a flaw in it "
	    "would give away the whole machine. Run it as its own user."),
	[PM_OK] = N_("ok"),
	[PM_WARN] = N_("warning"),
	[PM_CRITICAL] = N_("critical"),
	[PM_NOT_KEPT] = N_("not kept: neither fetched nor judged"),
	[PM_SUMMARY] = N_("At a glance"),
	[PM_SERVES] = N_("serves sequence %s"),
	[PM_NEWEST] = N_("the newest verified version"),
	[PM_PINNED_ADMIN] = N_("pinned by the administrator"),
	[PM_PINNED_BY] = N_("pinned by %s"),
	[PM_UNTIL] = N_("until %s"),
	[PM_UNTIL_UNPINNED] = N_("until unpinned"),
	[PM_PIN_REASON] = N_("reason: %s"),
	[PM_NOTHING] = N_("Nothing servable: clients get 503"),
	[PM_IN_1] = N_("signer certificate expires in 1 day"),
	[PM_IN_N] = N_("signer certificate expires in %s days"),
	[PM_AGO_1] = N_("signer certificate expired 1 day ago"),
	[PM_AGO_N] = N_("signer certificate expired %s days ago"),
	[PM_STAMPED] = N_("time-stamped: it does not expire for clients"),
	[PM_4107] = N_("clients log CAPI2 event 4107"),
	[PM_TIMELINE] = N_("Timeline: the last 12 months"),
	[PM_TL_NOTE] = N_("Bars: the version served, from when to when. Marks below them: what arrived."),
	[PM_LEG_SERVED] = N_("served"),
	[PM_LEG_PINNED] = N_("served by a pin"),
	[PM_LEG_ADMITTED] = N_("admitted"),
	[PM_LEG_QUARANTINED] = N_("quarantined"),
	[PM_LEG_ROLLBACK] = N_("rollback refused"),
	[PM_LEG_PIN] = N_("pinned"),
	[PM_LEG_UNPIN] = N_("unpinned"),
	[PM_IV_TITLE] = N_("sequence %s served from %s to %s"),
	[PM_IV_TITLE_PINNED] = N_("sequence %s served by a pin from %s to %s"),
	[PM_NOW] = N_("now"),
	[PM_OLDER_OMITTED] = N_("older history left out"),
	[PM_UPSTREAMS] = N_("Upstream sync"),
	[PM_NO_POLL] = N_("This daemon does not poll its upstreams (poll_interval = 0)."),
	[PM_NO_UPSTREAM] = N_("No upstream is configured."),
	[PM_COL_UPSTREAM] = N_("upstream"),
	[PM_COL_KIND] = N_("list"),
	[PM_COL_ATTEMPT] = N_("last sync attempt"),
	[PM_COL_SUCCESS] = N_("last success"),
	[PM_COL_RESULT] = N_("result"),
	[PM_COL_FAILURES] = N_("consecutive failures"),
	[PM_NEVER] = N_("never"),
	[PM_RES_OK] = N_("succeeded (HTTP %s)"),
	[PM_RES_OLDER] = N_("verified, but older than this mirror"),
	[PM_RES_FAILED] = N_("failed (HTTP %s)"),
	[PM_RES_FAILED_NO_ANSWER] = N_("failed: no answer"),
	[PM_VERSIONS] = N_("Stored versions"),
	[PM_RECENT_OF] = N_("the newest %s of %s"),
	[PM_ALL_OF] = N_("all %s"),
	[PM_SHOW_ALL] = N_("Show every version"),
	[PM_SHOW_RECENT] = N_("Back to the summary"),
	[PM_COL_SEQ] = N_("sequence"),
	[PM_COL_THIS_UPDATE] = N_("issued"),
	[PM_COL_FIRST_SEEN] = N_("first seen"),
	[PM_COL_STATUS] = N_("status"),
	[PM_COL_REASON] = N_("verdict"),
	[PM_COL_SHA] = N_("SHA-256"),
	[PM_NO_VERSIONS] = N_("no versions stored"),
	[PM_ST_ADMITTED] = N_("admitted"),
	[PM_ST_SERVED] = N_("served"),
	[PM_ST_PINNED] = N_("pinned"),
	[PM_ST_QUARANTINED] = N_("quarantined"),
	[PM_ST_ROLLBACK] = N_("rollback"),
	/* TRANSLATORS: between the parts of a pin's description */
	[PM_LIST_SEP] = N_(", "),
};

const struct lang_msgs page_msgs = { page_msgids, PM_COUNT };

/* ---- history: served intervals and marks from the events ---- */

struct replay {
	char newest[80];		/* highest admitted sequence; "" none */
	int pinned;
	char pin_seq[80];
	int has_cur;			/* an interval is open */
	char cur[80];
	int cur_pinned;
	time_t cur_from;
	size_t n_iv, n_ev;		/* counted, kept or not */
};

/* Keeps item number i of total when it is among the newest max. */
static int
keep(size_t i, size_t total, size_t max)
{
	return total <= max || i >= total - max;
}

static void
add_interval(struct page_kind_history *k, struct replay *r, time_t to, size_t total)
{
	struct page_interval *iv;

	if (total != (size_t)-1 && keep(r->n_iv, total, PAGE_MAX_INTERVALS) &&
	    k->n_iv < PAGE_MAX_INTERVALS) {
		iv = &k->iv[k->n_iv++];
		iv->from = r->cur_from;
		iv->to = to;
		iv->pinned = r->cur_pinned;
		snprintf(iv->sequence, sizeof(iv->sequence), "%s", r->cur);
	}
	r->n_iv++;
}

static void
add_mark(struct page_kind_history *k, struct replay *r, const struct store_event *e,
    enum page_mark type, size_t total)
{
	struct page_event *pe;

	if (total != (size_t)-1 && keep(r->n_ev, total, PAGE_MAX_MARKS) &&
	    k->n_ev < PAGE_MAX_MARKS) {
		pe = &k->ev[k->n_ev++];
		pe->when = e->when;
		pe->type = type;
		snprintf(pe->sequence, sizeof(pe->sequence), "%s", e->sequence);
	}
	r->n_ev++;
}

/*
 * One pass over the events; with totals (size_t)-1 it only counts, else it
 * keeps the newest of each. Returns with the open interval (if any) in r.
 */
static void
replay(const struct store_event *ev, size_t n_ev, struct page_history *out,
    struct replay r[KIND_COUNT], const size_t total_iv[KIND_COUNT],
    const size_t total_ev[KIND_COUNT])
{
	size_t i;

	memset(r, 0, sizeof(*r) * KIND_COUNT);
	for (i = 0; i < n_ev; i++) {
		const struct store_event *e = &ev[i];
		struct page_kind_history *k;
		struct replay *p;
		const char *served;
		int admits = 0;

		if ((unsigned)e->kind >= KIND_COUNT)
			continue;
		k = &out->k[e->kind];
		p = &r[e->kind];
		switch (e->type) {
		case EV_ADMITTED:
			admits = 1;
			add_mark(k, p, e, PAGE_MARK_ADMITTED, total_ev[e->kind]);
			break;
		case EV_REVERIFIED:	/* store.c words the result: "now admitted" or a rollback */
			admits = strstr(e->text, "now admitted") != NULL;
			add_mark(k, p, e, admits ? PAGE_MARK_ADMITTED : PAGE_MARK_ROLLBACK,
			    total_ev[e->kind]);
			break;
		case EV_QUARANTINED:
			add_mark(k, p, e, PAGE_MARK_QUARANTINED, total_ev[e->kind]);
			break;
		case EV_ROLLBACK:
			add_mark(k, p, e, PAGE_MARK_ROLLBACK, total_ev[e->kind]);
			break;
		case EV_PINNED:
			p->pinned = 1;
			snprintf(p->pin_seq, sizeof(p->pin_seq), "%s", e->sequence);
			add_mark(k, p, e, PAGE_MARK_PINNED, total_ev[e->kind]);
			break;
		case EV_UNPINNED:
			p->pinned = 0;
			add_mark(k, p, e, PAGE_MARK_UNPINNED, total_ev[e->kind]);
			break;
		default:
			continue;
		}
		if (admits && e->sequence[0] != '\0' &&
		    (p->newest[0] == '\0' || ctl_seq_cmp(e->sequence, p->newest) > 0))
			snprintf(p->newest, sizeof(p->newest), "%s", e->sequence);
		served = p->pinned ? p->pin_seq : p->newest;
		if (p->has_cur && strcmp(p->cur, served) == 0 && p->cur_pinned == p->pinned)
			continue;
		if (p->has_cur)
			add_interval(k, p, e->when, total_iv[e->kind]);
		p->has_cur = served[0] != '\0';
		if (p->has_cur) {
			snprintf(p->cur, sizeof(p->cur), "%s", served);
			p->cur_pinned = p->pinned;
			p->cur_from = e->when;
		}
	}
}

void
page_history_build(const struct version *list, size_t n, const struct store_event *ev,
    size_t n_ev, struct page_history *out)
{
	size_t total_iv[KIND_COUNT], total_ev[KIND_COUNT], none[KIND_COUNT];
	struct replay r[KIND_COUNT];
	size_t i, j;
	int k;

	memset(out, 0, sizeof(*out));
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		none[k] = (size_t)-1;
	replay(ev, n_ev, out, r, none, none);
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		total_iv[k] = r[k].n_iv + (size_t)r[k].has_cur;
		total_ev[k] = r[k].n_ev;
		out->k[k].dropped_iv = total_iv[k] > PAGE_MAX_INTERVALS ?
		    total_iv[k] - PAGE_MAX_INTERVALS : 0;
		out->k[k].dropped_ev = total_ev[k] > PAGE_MAX_MARKS ? total_ev[k] - PAGE_MAX_MARKS : 0;
	}
	replay(ev, n_ev, out, r, total_iv, total_ev);
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (r[k].has_cur)
			add_interval(&out->k[k], &r[k], 0, total_iv[k]);

	/* the recent versions: the end of each kind's run */
	for (i = 0; i < n; i++) {
		if ((unsigned)list[i].kind < KIND_COUNT)
			out->k[list[i].kind].n_versions++;
	}
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		struct page_kind_history *h = &out->k[k];
		size_t skip = h->n_versions > PAGE_RECENT ? h->n_versions - PAGE_RECENT : 0, seen = 0;

		for (i = 0, j = 0; i < n && j < PAGE_RECENT; i++) {
			if (list[i].kind != (enum ctl_kind)k || seen++ < skip)
				continue;
			h->recent[j++] = list[i];
		}
		h->n_recent = j;
	}
}

/* ---- HTML ---- */

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

static const char *
tr(const struct lang_pack *pack, enum lang_id lang, enum page_msgid id)
{
	return lang_tr(pack, lang, page_msgids[id]);
}

/* Message id with arguments, filled in buf; "%s" in it are the arguments. */
static const char *
fill(const struct lang_pack *pack, enum lang_id lang, enum page_msgid id, char *buf,
    size_t len, const char *a1, const char *a2, const char *a3)
{
	const char *args[3] = { a1, a2, a3 };

	return lang_fill(buf, len, tr(pack, lang, id), args, 3);
}

#define T(v, id) tr((v)->pack, (v)->lang, (id))
#define F(v, id, buf, a1, a2, a3) fill((v)->pack, (v)->lang, (id), (buf), sizeof(buf), (a1), (a2), (a3))

/* A filled template, escaped, with one argument as data: split at "%s". */
static void
html_with_data(FILE *out, const char *tmpl_filled_before, const char *data, const char *after)
{
	html(out, tmpl_filled_before);
	fputs("<code class=\"data\">", out);
	html(out, data);
	fputs("</code>", out);
	html(out, after);
}

/* Writes message id with one data argument, the data in a class="data" element. */
static void
msg_data(const struct page_view *v, FILE *out, enum page_msgid id, const char *data)
{
	const char *t = T(v, id), *p = strstr(t, "%s");
	char before[512];

	if (p == NULL) {	/* a translation without the argument: the text, then it */
		html_with_data(out, t, data, "");
		return;
	}
	snprintf(before, sizeof(before), "%.*s", (int)(p - t), t);
	html_with_data(out, before, data, p + 2);
}

static const char *
level_text(const struct page_view *v, enum health_level l)
{
	return T(v, l == HEALTH_CRITICAL ? PM_CRITICAL : l == HEALTH_WARN ? PM_WARN : PM_OK);
}

static const char *
status_text(const struct lang_pack *pack, enum lang_id lang, enum version_status s)
{
	switch (s) {
	case VS_SERVED: return tr(pack, lang, PM_ST_SERVED);
	case VS_PINNED: return tr(pack, lang, PM_ST_PINNED);
	case VS_QUARANTINED: return tr(pack, lang, PM_ST_QUARANTINED);
	case VS_ROLLBACK: return tr(pack, lang, PM_ST_ROLLBACK);
	default: return tr(pack, lang, PM_ST_ADMITTED);
	}
}

static void
summary_kind(const struct page_view *v, const struct kind_health *h, FILE *out)
{
	char t[ISOTIME_LEN], buf[512], n[32], reason[2048];
	size_t i;

	fprintf(out, "<div class=\"row %s\" id=\"sum-%s\"><span class=\"kind data\">%s</span> ",
	    h->kept ? health_level_str(h->level) : "notkept", ctl_kind_str(h->kind),
	    ctl_kind_str(h->kind));
	if (!h->kept) {
		fputs("<span class=\"why\">", out);
		html(out, T(v, PM_NOT_KEPT));
		fputs("</span></div>\n", out);
		return;
	}
	fprintf(out, "<span class=\"badge\">");
	html(out, level_text(v, h->level));
	fputs("</span> ", out);
	if (h->has_served) {
		fputs("<span class=\"seq\">", out);
		msg_data(v, out, PM_SERVES, h->served.sequence);
		fputs("</span> <span class=\"why\">", out);
		if (!h->pinned) {
			html(out, T(v, PM_NEWEST));
		} else {
			if (h->pin.by[0])
				msg_data(v, out, PM_PINNED_BY, h->pin.by);
			else
				html(out, T(v, PM_PINNED_ADMIN));
			html(out, T(v, PM_LIST_SEP));
			if (h->pin.until)
				msg_data(v, out, PM_UNTIL, isotime_format(h->pin.until, t, sizeof(t)));
			else
				html(out, T(v, PM_UNTIL_UNPINNED));
			if (h->pin.reason[0]) {
				html(out, T(v, PM_LIST_SEP));
				msg_data(v, out, PM_PIN_REASON, h->pin.reason);
			}
		}
		fputs("</span> ", out);
		if (!h->expires) {
			fputs("<span class=\"expiry\">", out);
			html(out, T(v, PM_STAMPED));
		} else if (h->days_left >= 0) {
			snprintf(n, sizeof(n), "%ld", h->days_left);
			fputs("<span class=\"expiry\">", out);
			html(out, h->days_left == 1 ? T(v, PM_IN_1) : F(v, PM_IN_N, buf, n, NULL, NULL));
		} else {
			snprintf(n, sizeof(n), "%ld", -h->days_left);
			fputs("<span class=\"expiry expired\">", out);
			html(out, h->days_left == -1 ? T(v, PM_AGO_1) : F(v, PM_AGO_N, buf, n, NULL, NULL));
			fputs(" (", out);
			html(out, T(v, PM_4107));
			fputs(")", out);
		}
		if (h->expires)
			fprintf(out, " <time class=\"data\">%s</time>",
			    isotime_format(h->signer_not_after, t, sizeof(t)));
		fputs("</span>", out);
	} else {
		fputs("<span class=\"seq none\">", out);
		html(out, T(v, PM_NOTHING));
		fputs("</span>", out);
	}
	if (h->n_reasons > 0) {
		fputs("\n<ul class=\"reasons\">", out);
		for (i = 0; i < h->n_reasons; i++) {
			fputs("<li>", out);
			html(out, h->why[i].tmpl == NULL ? h->reasons[i] :
			    health_reason_text(h, i, lang_tr(v->pack, v->lang, h->why[i].tmpl),
			    reason, sizeof(reason)));
			fputs("</li>", out);
		}
		fputs("</ul>", out);
	}
	fputs("</div>\n", out);
}

/* ---- the timeline ---- */

#define TL_LEFT 110.0
#define TL_WIDTH 870.0
#define TL_LANE 48
#define TL_TOP 24

static double
tl_x(time_t t, time_t start)
{
	if (t < start)
		t = start;
	if (t > start + PAGE_WINDOW)
		t = start + PAGE_WINDOW;
	return TL_LEFT + (double)(t - start) * TL_WIDTH / (double)PAGE_WINDOW;
}

static const char *const mark_class[PAGE_MARK_COUNT] = {
	"admitted", "quarantined", "rollback", "pin", "unpin",
};

/* Opens a mark's element (its attributes to follow); returns its name, to close it. */
static const char *
mark_shape(FILE *out, enum page_mark type, double x, double y)
{
	switch (type) {
	case PAGE_MARK_ADMITTED:
		fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\"", x, y);
		return "circle";
	case PAGE_MARK_QUARANTINED:
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\"", x - 4, y - 4);
		return "rect";
	case PAGE_MARK_ROLLBACK:
		fprintf(out, "<path d=\"M%.1f %.1fl4 8h-8z\"", x, y - 4);
		return "path";
	default:
		fprintf(out, "<path d=\"M%.1f %.1fl4 4l-4 4l-4 -4z\"", x, y - 4);
		return "path";
	}
}

/* The legend's swatch for a class: a small inline SVG, so it needs no asset. */
static void
legend_item(FILE *out, const char *cls, const char *text, int bar)
{
	if (bar)
		fprintf(out, "<li><svg width=\"18\" height=\"10\" aria-hidden=\"true\"><rect class=\"%s\" "
		    "width=\"18\" height=\"10\"/></svg>", cls);
	else
		fprintf(out, "<li><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><circle class=\"m%s\" "
		    "cx=\"5\" cy=\"5\" r=\"4\"/></svg>", cls);
	html(out, text);
	fputs("</li>", out);
}

static void
timeline(const struct page_view *v, FILE *out)
{
	const time_t start = v->now - PAGE_WINDOW;
	char t1[ISOTIME_LEN], t2[ISOTIME_LEN], buf[512], label[8], month[32];
	int k, m, y, mo, height = TL_TOP + (KIND_COUNT - KIND_AUTHROOT) * TL_LANE + 4;
	time_t tick;
	struct tm tm;
	size_t i;

	fputs("<section id=\"timeline\"><h2>", out);
	html(out, T(v, PM_TIMELINE));
	fputs("</h2>\n", out);
	fprintf(out, "<svg class=\"timeline\" viewBox=\"0 0 1000 %d\" width=\"100%%\" role=\"img\" "
	    "preserveAspectRatio=\"xMinYMin meet\">\n", height);
	/* a line and a label at each month's start; a label every other month */
	if (gmtime_r(&start, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	y = tm.tm_year + 1900;
	mo = tm.tm_mon + 1;
	for (m = 0; m <= 12; m++) {
		if (++mo > 12) {
			mo = 1;
			y++;
		}
		snprintf(month, sizeof(month), "%04d-%02d-01T00:00:00Z", y % 10000, mo % 100);
		if (!isotime_parse(month, &tick) || tick > v->now)
			break;
		fprintf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>",
		    tl_x(tick, start), TL_TOP - 6, tl_x(tick, start), height - 2);
		if (m % 2 == 0) {
			snprintf(label, sizeof(label), "%.7s", month);
			fprintf(out, "<text class=\"axis\" x=\"%.1f\" y=\"%d\">%s</text>",
			    tl_x(tick, start) + 2, TL_TOP - 10, label);
		}
	}
	fputc('\n', out);
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		const struct page_kind_history *kh = &v->hist->k[k];
		int lane = TL_TOP + (k - KIND_AUTHROOT) * TL_LANE;

		fprintf(out, "<g class=\"lane\" id=\"tl-%s\"><text class=\"kind\" x=\"4\" y=\"%d\">%s</text>\n",
		    ctl_kind_str((enum ctl_kind)k), lane + 16, ctl_kind_str((enum ctl_kind)k));
		if (kh->dropped_iv > 0 || kh->dropped_ev > 0) {
			fprintf(out, "<text class=\"axis\" x=\"4\" y=\"%d\">", lane + 32);
			html(out, T(v, PM_OLDER_OMITTED));
			fputs("</text>", out);
		}
		for (i = 0; i < kh->n_iv; i++) {
			const struct page_interval *iv = &kh->iv[i];
			time_t to = iv->to != 0 ? iv->to : v->now;
			double x0, x1;

			if (to < start || iv->from > v->now)
				continue;	/* outside the window: not drawn */
			x0 = tl_x(iv->from, start);
			x1 = tl_x(to, start);
			if (x1 - x0 < 2) {	/* a short interval stays visible */
				x0 = x1 - 2 < TL_LEFT ? TL_LEFT : x1 - 2;
				x1 = x0 + 2;
			}
			fprintf(out, "<rect class=\"interval %s\" data-sequence=\"", iv->pinned ? "pinned" : "served");
			html(out, iv->sequence);
			fprintf(out, "\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"16\"><title>", x0,
			    lane + 4, x1 - x0);
			html(out, F(v, iv->pinned ? PM_IV_TITLE_PINNED : PM_IV_TITLE, buf, iv->sequence,
			    isotime_format(iv->from, t1, sizeof(t1)),
			    iv->to != 0 ? isotime_format(iv->to, t2, sizeof(t2)) : T(v, PM_NOW)));
			fputs("</title></rect>\n", out);
		}
		for (i = 0; i < kh->n_ev; i++) {
			const struct page_event *e = &kh->ev[i];
			const char *el;

			if (e->when < start || e->when > v->now)
				continue;
			el = mark_shape(out, e->type, tl_x(e->when, start), lane + 32);
			fprintf(out, " class=\"mark m%s\"><title>", mark_class[e->type]);
			html(out, T(v, e->type == PAGE_MARK_ADMITTED ? PM_LEG_ADMITTED :
			    e->type == PAGE_MARK_QUARANTINED ? PM_LEG_QUARANTINED :
			    e->type == PAGE_MARK_ROLLBACK ? PM_LEG_ROLLBACK :
			    e->type == PAGE_MARK_PINNED ? PM_LEG_PIN : PM_LEG_UNPIN));
			fprintf(out, " %s ", e->sequence);
			fputs(isotime_format(e->when, t1, sizeof(t1)), out);
			fprintf(out, "</title></%s>\n", el);
		}
		fputs("</g>\n", out);
	}
	fprintf(out, "<line class=\"nowline\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
	    TL_LEFT + TL_WIDTH, TL_TOP - 6, TL_LEFT + TL_WIDTH, height - 2);
	fputs("</svg>\n<ul class=\"legend\">", out);
	legend_item(out, "interval served", T(v, PM_LEG_SERVED), 1);
	legend_item(out, "interval pinned", T(v, PM_LEG_PINNED), 1);
	for (m = 0; m < PAGE_MARK_COUNT; m++)
		legend_item(out, mark_class[m], T(v, m == PAGE_MARK_ADMITTED ? PM_LEG_ADMITTED :
		    m == PAGE_MARK_QUARANTINED ? PM_LEG_QUARANTINED :
		    m == PAGE_MARK_ROLLBACK ? PM_LEG_ROLLBACK :
		    m == PAGE_MARK_PINNED ? PM_LEG_PIN : PM_LEG_UNPIN), 0);
	fputs("</ul>\n<p class=\"note\">", out);
	html(out, T(v, PM_TL_NOTE));
	fputs("</p>\n</section>\n", out);
}

/* ---- upstream sync ---- */

static void
cell(FILE *out, const struct page_view *v, enum page_msgid head)
{
	fputs("<td data-label=\"", out);
	html(out, T(v, head));
	fputs("\">", out);
}

static void
when_cell(FILE *out, const struct page_view *v, enum page_msgid head, time_t t)
{
	char s[ISOTIME_LEN];

	cell(out, v, head);
	if (t != 0)
		fprintf(out, "<time class=\"data\">%s</time>", isotime_format(t, s, sizeof(s)));
	else
		html(out, T(v, PM_NEVER));
	fputs("</td>", out);
}

static void
upstreams(const struct page_view *v, FILE *out)
{
	const size_t mark = strlen(HEALTH_OLDER_MARK);
	char buf[256], n[32];
	size_t i;

	fputs("<section id=\"upstreams\"><h2>", out);
	html(out, T(v, PM_UPSTREAMS));
	fputs("</h2>\n", out);
	if (!v->polling) {
		fputs("<p class=\"note\">", out);
		html(out, T(v, PM_NO_POLL));
		fputs("</p>\n", out);
	}
	if (v->n_up == 0) {
		fputs("<p class=\"note\">", out);
		html(out, T(v, PM_NO_UPSTREAM));
		fputs("</p>\n</section>\n", out);
		return;
	}
	fputs("<table class=\"sync\"><thead><tr>", out);
	{
		static const enum page_msgid heads[] = {
			PM_COL_UPSTREAM, PM_COL_KIND, PM_COL_ATTEMPT, PM_COL_SUCCESS, PM_COL_RESULT,
			PM_COL_FAILURES,
		};
		for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
			fputs("<th>", out);
			html(out, T(v, heads[i]));
			fputs("</th>", out);
		}
	}
	fputs("</tr></thead>\n<tbody>\n", out);
	for (i = 0; i < v->n_up; i++) {
		const struct page_upstream *u = &v->up[i];
		const struct upstream_state *st = &u->st;
		int failed = u->known && st->last_success != st->last_attempt;

		fprintf(out, "<tr class=\"%s\">", !u->known ? "never" : failed ? "failed" : "ok");
		cell(out, v, PM_COL_UPSTREAM);
		fputs("<code class=\"data url\">", out);
		html(out, u->url);
		fputs("</code></td>", out);
		cell(out, v, PM_COL_KIND);
		fprintf(out, "<span class=\"data\">%s</span></td>", ctl_kind_str(u->kind));
		when_cell(out, v, PM_COL_ATTEMPT, u->known ? st->last_attempt : 0);
		when_cell(out, v, PM_COL_SUCCESS, u->known ? st->last_success : 0);
		cell(out, v, PM_COL_RESULT);
		snprintf(n, sizeof(n), "%d", st->last_status);
		if (!u->known) {
			html(out, T(v, PM_NEVER));
		} else if (!failed && strncmp(st->last_error, HEALTH_OLDER_MARK, mark) == 0) {
			html(out, T(v, PM_RES_OLDER));
			fputs(": <code class=\"data\">", out);
			html(out, st->last_error + mark);
			fputs("</code>", out);
		} else if (!failed) {
			html(out, F(v, PM_RES_OK, buf, n, NULL, NULL));
		} else {
			html(out, st->last_status != 0 ? F(v, PM_RES_FAILED, buf, n, NULL, NULL) :
			    T(v, PM_RES_FAILED_NO_ANSWER));
		}
		if (failed && st->last_error[0] != '\0') {
			fputs(" <code class=\"data\">", out);
			html(out, st->last_error);
			fputs("</code>", out);
		}
		fputs("</td>", out);
		cell(out, v, PM_COL_FAILURES);
		fprintf(out, "<span class=\"data\">%u</span></td></tr>\n",
		    u->known ? (unsigned)st->consecutive_failures : 0u);
	}
	fputs("</tbody></table>\n</section>\n", out);
}

/* ---- versions ---- */

void
page_versions_write(const struct lang_pack *pack, enum lang_id lang,
    const struct version *list, size_t n, FILE *out)
{
	static const enum page_msgid heads[] = {
		PM_COL_SEQ, PM_COL_THIS_UPDATE, PM_COL_FIRST_SEEN, PM_COL_STATUS, PM_COL_REASON,
		PM_COL_SHA,
	};
	const struct page_view v = { .pack = pack, .lang = lang };
	char t[ISOTIME_LEN], sha[65];
	size_t i;

	fputs("<table class=\"versions\"><thead><tr>", out);
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		fputs("<th>", out);
		html(out, tr(pack, lang, heads[i]));
		fputs("</th>", out);
	}
	fputs("</tr></thead>\n<tbody>\n", out);
	for (i = n; i-- > 0;) {	/* newest first */
		const struct version *x = &list[i];

		hex_encode(x->sha256, 32, 0, sha);
		fprintf(out, "<tr class=\"%s\">", version_status_str(x->status));
		cell(out, &v, PM_COL_SEQ);
		fputs("<code class=\"data\">", out);
		html(out, x->sequence[0] ? x->sequence : "-");
		fputs("</code></td>", out);
		cell(out, &v, PM_COL_THIS_UPDATE);
		fprintf(out, "<time class=\"data\">%s</time></td>",
		    x->this_update ? isotime_format(x->this_update, t, sizeof(t)) : "-");
		cell(out, &v, PM_COL_FIRST_SEEN);
		fprintf(out, "<time class=\"data\">%s</time></td>",
		    isotime_format(x->first_seen, t, sizeof(t)));
		cell(out, &v, PM_COL_STATUS);
		fprintf(out, "<span class=\"status\" data-status=\"%s\">", version_status_str(x->status));
		html(out, status_text(pack, lang, x->status));
		fputs("</span></td>", out);
		cell(out, &v, PM_COL_REASON);
		fputs("<code class=\"data\" title=\"", out);
		html(out, x->detail);
		fprintf(out, "\">%s</code></td>", vfy_reason_str(x->reason));
		cell(out, &v, PM_COL_SHA);
		fprintf(out, "<code class=\"data\">%.12s</code></td></tr>\n", sha);
	}
	if (n == 0) {
		fputs("<tr><td colspan=\"6\">", out);
		html(out, tr(pack, lang, PM_NO_VERSIONS));
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

static void
versions(const struct page_view *v, FILE *out)
{
	const char *lq = v->lang == LANG_JA ? "&amp;lang=ja" : "";
	char a[32], b[32], buf[256];
	int k;

	fputs("<section id=\"versions\"><h2>", out);
	html(out, T(v, PM_VERSIONS));
	fputs("</h2>\n", out);
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		const struct page_kind_history *kh = &v->hist->k[k];

		snprintf(a, sizeof(a), "%zu", kh->n_recent);
		snprintf(b, sizeof(b), "%zu", kh->n_versions);
		fprintf(out, "<h3 id=\"v-%s\"><span class=\"data\">%s</span> <small>",
		    ctl_kind_str((enum ctl_kind)k), ctl_kind_str((enum ctl_kind)k));
		html(out, v->all_rows != NULL ? F(v, PM_ALL_OF, buf, b, NULL, NULL) :
		    F(v, PM_RECENT_OF, buf, a, b, NULL));
		fputs("</small></h3>\n", out);
		if (v->all_rows != NULL)
			fputs(v->all_rows[k] != NULL ? v->all_rows[k] : "", out);
		else
			page_versions_write(v->pack, v->lang, kh->recent, kh->n_recent, out);
	}
	if (v->all_rows != NULL)
		fprintf(out, "<p><a class=\"more\" href=\"?lang=%s\">", lang_code(v->lang));
	else
		fprintf(out, "<p><a class=\"more\" href=\"?all=1%s\">", lq);
	html(out, T(v, v->all_rows != NULL ? PM_SHOW_RECENT : PM_SHOW_ALL));
	fputs("</a></p>\n</section>\n", out);
}

static const char css[] =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:12px 16px;max-width:76em;color:#222;"
    "line-height:1.4;overflow-wrap:anywhere}\n"
    "header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:8px}"
    "h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}h3{font-size:1em}\n"
    ".rootwarn{background:#fde8e8;border:1px solid #c33;padding:8px;border-radius:6px}\n"
    ".row{border-left:6px solid #2a7;background:#f4faf6;padding:6px 10px;margin:6px 0;border-radius:4px}"
    ".row.warn{border-color:#d90;background:#fdf7e6}.row.critical{border-color:#c33;background:#fdecec}"
    ".row.notkept{border-color:#aaa;background:#f4f4f4}\n"
    ".row .kind{font-weight:bold;margin-right:.4em}"
    ".badge{font-size:.85em;padding:.05em .5em;border-radius:4px;color:#fff;background:#2a7}"
    ".warn .badge{background:#b70}.critical .badge{background:#c33}"
    ".row>span{margin-right:.6em}.expired{color:#c33;font-weight:bold}"
    ".reasons{margin:.3em 0 0;padding-left:1.4em}\n"
    "code{font-size:.92em}"
    "svg.timeline{display:block;max-width:100%;height:auto;background:#fafafa;border:1px solid #ddd}"
    "svg .grid{stroke:#ddd}svg .nowline{stroke:#888;stroke-dasharray:3 3}"
    "svg text{font-size:12px;fill:#555}svg text.kind{font-size:13px;fill:#222}"
    ".interval.served{fill:#2a7}.interval.pinned{fill:#36c}"
    ".madmitted{fill:#2a7}.mquarantined{fill:#c33}.mrollback{fill:#888}.mpin{fill:#36c}"
    ".munpin{fill:#fff;stroke:#36c;stroke-width:1.5}\n"
    ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.9em}"
    ".legend svg{vertical-align:middle;margin-right:4px}.note{color:#555;font-size:.9em}\n"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2em .5em;"
    "border-bottom:1px solid #eee;vertical-align:top}"
    "tr.served td,tr.pinned td{font-weight:bold}tr.quarantined td{color:#c33}tr.rollback td{color:#777}"
    "tr.failed td{color:#c33}\n"
    "@media (max-width:700px){body{padding:8px;font-size:14px}h1{font-size:1.15em}"
    "#summary h2{display:none}.row{padding:4px 8px;margin:4px 0}.reasons{padding-left:1.1em}"
    "thead{display:none}"
    "table,tbody,tr,td{display:block;width:100%}tr{border-bottom:1px solid #ccc;padding:4px 0}"
    "td{border:0;padding:1px 0}td[data-label]::before{content:attr(data-label) \": \";color:#666}}\n";

void
page_write(const struct page_view *v, FILE *out)
{
	char t[ISOTIME_LEN], buf[128];
	int k;

	fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	    lang_code(v->lang));
	html(out, T(v, PM_TITLE));
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header><h1>", css);
	html(out, T(v, PM_TITLE));
	fputs("</h1><p class=\"asof\">", out);
	html(out, F(v, PM_AS_OF, buf, isotime_format(v->now, t, sizeof(t)), NULL, NULL));
	/* the other language, by the page's own switch */
	fprintf(out, " · <a href=\"?lang=%s%s\" hreflang=\"%s\">", v->lang == LANG_JA ? "en" : "ja",
	    v->all_rows != NULL ? "&amp;all=1" : "", v->lang == LANG_JA ? "en" : "ja");
	fputs(v->lang == LANG_JA ? "English" : "日本語", out);	/* each in itself */
	fputs("</a></p></header>\n", out);
	/* the kinds first: a critical one is seen without scrolling, on a phone too */
	fputs("<section id=\"summary\"><h2>", out);
	html(out, T(v, PM_SUMMARY));
	fputs("</h2>\n", out);
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		summary_kind(v, &v->h[k], out);
	if (v->kept_root) {
		fputs("<p class=\"rootwarn\" id=\"rootwarn\">", out);
		html(out, T(v, PM_ROOT_KEPT));
		fputs("</p>\n", out);
	}
	fputs("</section>\n", out);
	timeline(v, out);
	upstreams(v, out);
	versions(v, out);
	fputs("</body>\n</html>\n", out);
}
