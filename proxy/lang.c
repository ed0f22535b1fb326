/*
 * lang.c - the locale and the message catalogs, set once per process.
 */
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/lang.h"

/* The language the environment asks for: the first of LC_ALL, LC_MESSAGES, LANG set. */
static const char *
env_language(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v != NULL && *v != '\0')
			return v;
	}
	return "C";
}

static int
is_japanese(const char *lang)
{
	return strncmp(lang, "ja", 2) == 0 && (lang[2] == '\0' || lang[2] == '_' || lang[2] == '.');
}

/* The catalogs of a build tree (BINDIR/locale), else the installed ones. */
static void
bind_catalogs(void)
{
	char exe[PATH_MAX], dir[PATH_MAX + 16];
	struct stat st;
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(dir, sizeof(dir), "%s/locale", exe);
			if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
				bindtextdomain(LANG_DOMAIN, dir);
				return;
			}
		}
	}
	bindtextdomain(LANG_DOMAIN, CTLMIRROR_LOCALEDIR);
}

static char current[3] = "en";

/*
 * Japanese without the ja_JP.UTF-8 locale: gettext ignores LANGUAGE only
 * under the "C" locale, so messages run under C.UTF-8 with LANGUAGE=ja.
 */
static void
speak(int japanese)
{
	const char *now = setlocale(LC_MESSAGES, NULL);

	if (japanese && (now == NULL || strcmp(now, "C") == 0 || strcmp(now, "POSIX") == 0))
		setlocale(LC_MESSAGES, "C.UTF-8");
	setenv("LANGUAGE", japanese ? "ja" : "en", 1);
	/* a new text domain call makes gettext drop the translations it cached */
	textdomain(LANG_DOMAIN);
	snprintf(current, sizeof(current), "%s", japanese ? "ja" : "en");
}

void
lang_init(void)
{
	/* messages only: numbers, ctype and time stay "C" for what machines read */
	setlocale(LC_MESSAGES, "");
	bind_catalogs();
	bind_textdomain_codeset(LANG_DOMAIN, "UTF-8");
	textdomain(LANG_DOMAIN);
	/* only Japanese and English exist: any other language prints English */
	speak(is_japanese(env_language()));
}

int
lang_select(const char *lang)
{
	if (is_japanese(lang))
		speak(1);
	else if (strcmp(lang, "en") == 0 || strncmp(lang, "en_", 3) == 0 ||
	    strcmp(lang, "C") == 0 || strcmp(lang, "POSIX") == 0)
		speak(0);
	else
		return -1;
	return 0;
}

const char *
lang_current(void)
{
	return current;
}

/* ---- templates ---- */

/* Appends n bytes of s to out[*o..len-1], never splitting a UTF-8 character. */
static void
put(char *out, size_t len, size_t *o, const char *s, size_t n)
{
	size_t room = len - 1 - *o;

	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;	/* s[n] continues a character: cut before its start */
	}
	memcpy(out + *o, s, n);
	*o += n;
}

char *
lang_fill(char *out, size_t len, const char *tmpl, const char *const *args, size_t n_args)
{
	size_t o = 0, next = 0;
	const char *p = tmpl;

	if (len == 0)
		return out;
	while (*p != '\0' && o < len - 1) {
		const char *pct = strchr(p, '%');
		size_t idx;

		if (pct == NULL) {
			put(out, len, &o, p, strlen(p));
			break;
		}
		put(out, len, &o, p, (size_t)(pct - p));
		p = pct + 1;
		if (*p == '%') {
			put(out, len, &o, "%", 1);
			p++;
			continue;
		}
		if (*p == 's') {
			idx = next++;
			p++;
		} else if (*p >= '1' && *p <= '9' && p[1] == '$' && p[2] == 's') {
			idx = (size_t)(*p - '1');
			p += 3;
		} else {
			put(out, len, &o, "%", 1);	/* not ours: copied as it is */
			continue;
		}
		if (idx < n_args && args[idx] != NULL)
			put(out, len, &o, args[idx], strlen(args[idx]));
	}
	out[o] = '\0';
	return out;
}

/* ---- the daemon's pack ---- */

struct lang_pack_entry {
	const char *msgid;		/* the module's own string */
	char *tr[LANG_COUNT];		/* translations; NULL: as msgid */
};

static size_t
hash_str(const char *s)
{
	size_t h = 5381;

	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static struct lang_pack_entry *
slot_of(const struct lang_pack *p, const char *msgid)
{
	size_t i;

	if (p->cap == 0)
		return NULL;
	for (i = hash_str(msgid) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
		struct lang_pack_entry *e = &p->slots[i];

		if (e->msgid == NULL || strcmp(e->msgid, msgid) == 0)
			return e;
	}
}

void
lang_pack_free(struct lang_pack *p)
{
	size_t i;
	int l;

	for (i = 0; i < p->cap; i++)
		for (l = 0; l < LANG_COUNT; l++)
			free(p->slots[i].tr[l]);
	free(p->slots);
	memset(p, 0, sizeof(*p));
}

int
lang_pack_build(struct lang_pack *p, const struct lang_msgs *lists, size_t n_lists)
{
	char was[3];
	size_t total = 0, i, j;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < n_lists; i++)
		total += lists[i].n;
	for (p->cap = 16; p->cap < 2 * total + 1; p->cap *= 2)
		;
	if ((p->slots = calloc(p->cap, sizeof(*p->slots))) == NULL) {
		p->cap = 0;
		return -1;
	}
	snprintf(was, sizeof(was), "%s", current);
	speak(1);
	for (i = 0; i < n_lists; i++)
		for (j = 0; j < lists[i].n; j++) {
			const char *id = lists[i].msgids[j];
			struct lang_pack_entry *e = slot_of(p, id);
			const char *t;

			if (e->msgid != NULL)
				continue;	/* two modules share a message */
			e->msgid = id;
			p->n++;
			t = gettext(id);
			if (t != id && strcmp(t, id) != 0 && (e->tr[LANG_JA] = strdup(t)) == NULL)
				goto out;
		}
	rc = 0;
out:
	speak(strcmp(was, "ja") == 0);
	if (rc != 0)
		lang_pack_free(p);
	return rc;
}

const char *
lang_tr(const struct lang_pack *p, enum lang_id l, const char *msgid)
{
	const struct lang_pack_entry *e;

	if (l == LANG_EN || l >= LANG_COUNT || (e = slot_of(p, msgid)) == NULL ||
	    e->msgid == NULL || e->tr[l] == NULL)
		return msgid;
	return e->tr[l];
}

const char *
lang_code(enum lang_id l)
{
	return l == LANG_JA ? "ja" : "en";
}

/* q of one Accept-Language range's parameters (";q=0.5"), as 0..1000; 1000 without one. */
static int
quality(const char *params, size_t n)
{
	size_t i = 0;
	int q = 0, scale = 100;

	while (i < n && (params[i] == ' ' || params[i] == ';'))
		i++;
	if (n - i < 3 || (params[i] != 'q' && params[i] != 'Q') || params[i + 1] != '=')
		return 1000;
	i += 2;
	if (params[i] == '1')
		return 1000;
	if (params[i] != '0')
		return 0;
	if (++i < n && params[i] == '.')
		for (i++; i < n && scale > 0 && params[i] >= '0' && params[i] <= '9'; i++) {
			q += (params[i] - '0') * scale;
			scale /= 10;
		}
	return q;
}

/* Is the range tag[0..n) the language code (two letters), alone or with a subtag? */
static int
range_is(const char *tag, size_t n, const char *code)
{
	return n >= 2 && strncasecmp(tag, code, 2) == 0 && (n == 2 || tag[2] == '-');
}

enum lang_id
lang_negotiate(const char *query_lang, const char *accept)
{
	int best_q[LANG_COUNT] = { 0, 0 };
	size_t best_at[LANG_COUNT] = { SIZE_MAX, SIZE_MAX };
	size_t len, i = 0, at = 0;

	if (query_lang != NULL) {
		if (strcmp(query_lang, "ja") == 0)
			return LANG_JA;
		if (strcmp(query_lang, "en") == 0)
			return LANG_EN;
	}
	if (accept == NULL)
		return LANG_EN;
	len = strnlen(accept, 1024);
	for (; i < len; at++) {
		size_t start, tag_end;
		int q, l;

		while (i < len && (accept[i] == ' ' || accept[i] == ','))
			i++;
		start = i;
		while (i < len && accept[i] != ',' && accept[i] != ';' && accept[i] != ' ')
			i++;
		tag_end = i;
		while (i < len && accept[i] != ',')
			i++;
		if (range_is(accept + start, tag_end - start, "ja"))
			l = LANG_JA;
		else if (range_is(accept + start, tag_end - start, "en") ||
		    (tag_end - start == 1 && accept[start] == '*'))
			l = LANG_EN;
		else
			continue;
		q = quality(accept + tag_end, i - tag_end);
		if (q > best_q[l]) {
			best_q[l] = q;
			best_at[l] = at;
		}
	}
	if (best_q[LANG_JA] > best_q[LANG_EN] ||
	    (best_q[LANG_JA] > 0 && best_q[LANG_JA] == best_q[LANG_EN] &&
	    best_at[LANG_JA] < best_at[LANG_EN]))
		return LANG_JA;
	return LANG_EN;
}
