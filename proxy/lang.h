/*
 * lang.h - which language ctlmirror speaks to a person: English or Japanese.
 *
 * The translations are gettext catalogs (po/LANG.po, compiled by msgfmt into
 * LOCALEDIR/LANG/LC_MESSAGES/ctlmirror.mo); the msgids are the English text.
 * What a program prints for a machine (JSON, metrics, logs, events) stays
 * English: only the words meant for an administrator go through _().
 *
 * The language of a command comes from --lang, else from LC_ALL, LC_MESSAGES
 * or LANG (ja_* is Japanese). It does not need the ja_JP.UTF-8 locale to be
 * installed: when setlocale cannot load it, messages are still looked up in
 * the Japanese catalog (under the always-present C.UTF-8 locale, by
 * gettext's LANGUAGE list) and printed as UTF-8.
 *
 * Process-wide state (the locale, the environment): call from main, before
 * any thread starts.
 */
#ifndef CTLMIRROR_LANG_H
#define CTLMIRROR_LANG_H

#include <libintl.h>
#include <stddef.h>

#define LANG_DOMAIN "ctlmirror"

/* A translated message; N_ marks a message translated later, where it is printed. */
#define _(s) gettext(s)
#define N_(s) (s)

/*
 * Sets the locale from the environment and binds the catalogs: those beside
 * the running binary (BINDIR/locale, a build tree) when present, else the
 * installed ones.
 */
void lang_init(void);

/*
 * Speaks lang from now on: "ja" or "en" (also "ja_JP", "ja_JP.UTF-8", "C").
 * Returns 0, or -1 when lang is not one ctlmirror has (nothing changes).
 */
int lang_select(const char *lang);

/* "ja" or "en": the language messages are printed in now. */
const char *lang_current(void);

/*
 * Templates: a translated message with string arguments, filled without
 * printf, so a catalog's text can never be a format-string attack. "%s"
 * takes the next argument, "%N$s" the Nth (1-based; a translation may reorder
 * them), "%%" is a percent sign; anything else is copied. A missing argument
 * is "". Writes at most len bytes, NUL included, cutting at a UTF-8 character
 * boundary. Returns out.
 */
char *lang_fill(char *out, size_t len, const char *tmpl, const char *const *args, size_t n_args);

/*
 * The daemon's languages. Worker threads must not change the process's
 * language, so the daemon builds, once at start and before any thread
 * exists, a pack: every message a page may need (the lists the modules
 * register: page.h, health.h), looked up in each catalog. After that the
 * pack is immutable and any thread reads it.
 */
enum lang_id { LANG_EN = 0, LANG_JA, LANG_COUNT };

struct lang_pack_entry;

struct lang_pack {
	struct lang_pack_entry *slots;	/* open addressing by msgid; NULL when empty */
	size_t cap, n;
};

/* One module's messages: the English msgids (N_() marked), n of them. */
struct lang_msgs {
	const char *const *msgids;
	size_t n;
};

/*
 * Builds p from the lists (n_lists of them). Changes the process's language
 * while it runs and restores it: call from main's thread, before workers
 * start. Returns 0, or -1 out of memory (p is then empty: English only).
 */
int lang_pack_build(struct lang_pack *p, const struct lang_msgs *lists, size_t n_lists);

void lang_pack_free(struct lang_pack *p);

/* msgid in language l: its translation, or msgid itself (English, or not in the pack). */
const char *lang_tr(const struct lang_pack *p, enum lang_id l, const char *msgid)
    __attribute__((format_arg(3)));

/*
 * The language of one request: `?lang=ja|en` (query, may be NULL) wins, else
 * the Accept-Language header (may be NULL; the highest q among ja and en,
 * `*` counting as en; ties go to the earlier range), else English. Reads at
 * most 1024 bytes of the header.
 */
enum lang_id lang_negotiate(const char *query_lang, const char *accept_language);

/* "en" or "ja", for <html lang=...> and links. */
const char *lang_code(enum lang_id l);

#endif
