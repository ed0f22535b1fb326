/*
 * page.h - the status page, /_ctlmirror/status: HTML for a glance, in
 * English or Japanese.
 *
 * Server-rendered HTML with inline CSS and SVG: no external asset, no script.
 * From the top:
 *   - a warning line when the daemon keeps root on purpose (`user = root`);
 *   - one line per kind: health, the served sequence, why (newest verified, or
 *     pinned by whom, until when, for what reason), the signer's expiry as
 *     "in N days" or "expired N days ago" (never a negative count), and the
 *     health reasons;
 *   - a timeline (SVG) of the last 12 months before `now`, one lane per kind:
 *     one bar (class "interval") per served interval, and one mark (class
 *     "mark" plus its type) per admission, quarantine, refused rollback, pin
 *     and unpin;
 *   - per upstream and kind kept: the last sync attempt, the last success, its
 *     result (HTTP status, error) and the consecutive failures;
 *   - per kind the last PAGE_RECENT versions, newest first, and a link to the
 *     same page with `?all=1`, which lists every stored version instead.
 * Below 700 px wide (a phone) the lines wrap and the tables become stacked
 * blocks: nothing scrolls sideways.
 *
 * Served intervals come from the store's events (store_events), replayed
 * oldest first, per kind: an admission (or a reverification that admitted)
 * of a sequence above every admitted one makes it the newest; a pin serves
 * its version until the unpin; after each event the served sequence is the
 * pinned one, else the newest. Each change of the served sequence (or of
 * whether it is pinned) closes one interval at the event's time (`when`: when
 * it happened) and opens the next; the last stays open until `now`. Two
 * versions of one sequence count as one. Events older than the window still
 * count: they say what was served when it begins.
 *
 * Every string a person reads is in page_msgs (English msgids, N_() marked;
 * po/ja.po translates them) and is looked up in the language pack the daemon
 * built at start (lang.h), so any thread may render either language. What is
 * data stays as it is, in an element of class "data": sequences, hashes,
 * URLs, times (ISO 8601 UTC), reason codes, config keys, error text from a
 * library, and an administrator's pin reason. The health reasons are shown
 * as health.c words them (health.h), translated when the pack has them.
 */
#ifndef CTLMIRROR_PAGE_H
#define CTLMIRROR_PAGE_H

#include <stdio.h>
#include <time.h>

#include "proxy/health.h"
#include "proxy/lang.h"
#include "store/store.h"

/* Every message of the page, for lang_pack_build. */
extern const struct lang_msgs page_msgs;

#define PAGE_RECENT 10			/* versions per kind on the page */
#define PAGE_MAX_INTERVALS 128		/* served intervals kept per kind: the newest */
#define PAGE_MAX_MARKS 256		/* events kept per kind for the marks: the newest */
#define PAGE_WINDOW (365L * 86400)	/* the timeline: 12 months before now */

enum page_mark {
	PAGE_MARK_ADMITTED = 0,
	PAGE_MARK_QUARANTINED,
	PAGE_MARK_ROLLBACK,		/* a verified copy refused: older than the newest */
	PAGE_MARK_PINNED,
	PAGE_MARK_UNPINNED,
	PAGE_MARK_COUNT
};

struct page_interval {
	time_t from, to;		/* to == 0: still served */
	char sequence[80];
	int pinned;
};

struct page_event {
	time_t when;
	enum page_mark type;
	char sequence[80];
};

struct page_kind_history {
	struct page_interval iv[PAGE_MAX_INTERVALS];	/* oldest first */
	size_t n_iv, dropped_iv;			/* dropped: older ones not kept */
	struct page_event ev[PAGE_MAX_MARKS];		/* oldest first */
	size_t n_ev, dropped_ev;
	struct version recent[PAGE_RECENT];		/* the newest stored, oldest first */
	size_t n_recent;
	size_t n_versions;				/* all stored versions of the kind */
};

/* What the page shows of the store: depends on the store only (~170 KB). */
struct page_history {
	struct page_kind_history k[KIND_COUNT];
};

/*
 * Fills *out from the stored versions list[0..n) (any kinds, as store_list
 * sorts them) and the events ev[0..n_ev) (store_events from 0, oldest
 * first), by the rules above. O(n + n_ev); bounded output.
 */
void page_history_build(const struct version *list, size_t n,
    const struct store_event *ev, size_t n_ev, struct page_history *out);

/* One upstream URL's last answers, for the sync table. */
struct page_upstream {
	char url[600];			/* as fetched, credentials left out */
	enum ctl_kind kind;
	int known;			/* 0: never fetched (store_upstream_get: none) */
	struct upstream_state st;
};

struct page_view {
	const struct lang_pack *pack;
	enum lang_id lang;
	const struct kind_health *h;		/* [KIND_COUNT]: the judgement */
	const struct page_history *hist;
	const struct page_upstream *up;		/* [n_up] */
	size_t n_up;
	int polling;				/* poll_interval > 0 */
	time_t now;				/* the daemon's clock */
	int kept_root;				/* `user = root`: root kept on purpose */
	/* ?all=1: per kind every version, as page_versions_write wrote it; NULL: the recent ones */
	const char *const *all_rows;		/* [KIND_COUNT] or NULL */
};

/* The whole page. */
void page_write(const struct page_view *v, FILE *out);

/*
 * One kind's versions as the page's table, newest first: list[0..n) are that
 * kind's versions in store_list's order (oldest first). O(n).
 */
void page_versions_write(const struct lang_pack *pack, enum lang_id lang,
    const struct version *list, size_t n, FILE *out);

#endif
