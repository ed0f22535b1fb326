/*
 * ctlattr.c - names and renderings of CTL entry attributes, and the
 * attribute-level difference of two entries.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "verify/ctlattr.h"
#include "verify/isotime.h"

/* How a property's OCTET STRING value is shown. */
enum shape {
	SHOW_HEX = 0,
	SHOW_EKU,
	SHOW_TEXT,
	SHOW_FILETIME,
};

/* The properties seen on the real lists and named by Microsoft; 105 and 122 are seen without a known meaning. */
static const struct {
	const char *oid, *name;
	enum shape shape;
} props[] = {
	{ OID_PROP_EKU, "EKU restrictions", SHOW_EKU },
	{ OID_FRIENDLY_NAME, "friendly name", SHOW_TEXT },
	{ OID_PROP_KEY_ID, "key identifier", SHOW_HEX },
	{ OID_PROP_SUBJECT_MD5, "subject name MD5", SHOW_HEX },
	{ OID_PROP_ROOT_PROGRAM, "root program policies", SHOW_HEX },
	{ OID_PROP_SHA256, "certificate SHA-256", SHOW_HEX },
	{ OID_PROP_DISALLOWED, "disallowed since", SHOW_FILETIME },
	{ OID_PROP_NOT_BEFORE, "notBefore", SHOW_FILETIME },
	{ OID_PROP_NOT_BEFORE_EKU, "notBefore EKU", SHOW_EKU },
};

/* Extended key usages whose names are certain (RFC 5280 4.2.1.12, wincrypt.h). */
static const struct {
	const char *oid, *name;
} ekus[] = {
	{ "1.3.6.1.5.5.7.3.1", "server auth" },
	{ "1.3.6.1.5.5.7.3.2", "client auth" },
	{ "1.3.6.1.5.5.7.3.3", "code signing" },
	{ "1.3.6.1.5.5.7.3.4", "email protection" },
	{ "1.3.6.1.5.5.7.3.5", "IPsec end system" },
	{ "1.3.6.1.5.5.7.3.6", "IPsec tunnel" },
	{ "1.3.6.1.5.5.7.3.7", "IPsec user" },
	{ "1.3.6.1.5.5.7.3.8", "time stamping" },
	{ "1.3.6.1.5.5.7.3.9", "OCSP signing" },
	{ "1.3.6.1.4.1.311.10.3.4", "encrypting file system" },
	{ "1.3.6.1.4.1.311.10.3.12", "document signing" },
	{ "1.3.6.1.4.1.311.20.2.2", "smart card logon" },
	{ OID_ROOT_LIST_SIGNER, "root list signer" },
};

/* Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01. */
#define FILETIME_EPOCH_DELTA 11644473600LL
/* 9999-12-31T23:59:59Z in Unix seconds: the last time ISO text shows in four digits. */
#define YEAR_9999_END 253402300799LL

const char *
ctlattr_strerror(enum ctlattr_err err)
{
	switch (err) {
	case CTLATTR_OK:
		return "ok";
	case CTLATTR_MALFORMED:
		return "malformed attributes";
	case CTLATTR_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

static int
prop_index(const char *oid)
{
	size_t i;

	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (strcmp(props[i].oid, oid) == 0)
			return (int)i;
	return -1;
}

const char *
ctlattr_name(const char *oid)
{
	int i = prop_index(oid);

	return i < 0 ? NULL : props[i].name;
}

const char *
ctlattr_eku_name(const char *oid)
{
	size_t i;

	for (i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++)
		if (strcmp(ekus[i].oid, oid) == 0)
			return ekus[i].name;
	return NULL;
}

/*
 * A bounded text writer: buf[len] always NUL-terminated; when the text
 * would not fit, it is cut on a UTF-8 character boundary and ends in "...".
 */
struct out {
	char *buf;
	size_t len, pos;
	int full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	size_t room;

	if (o->full || o->len == 0)
		return;
	room = o->len > 4 ? o->len - 4 : 0;	/* "..." and the NUL */
	if (o->pos + n <= room) {
		memcpy(o->buf + o->pos, s, n);
		o->pos += n;
		o->buf[o->pos] = '\0';
		return;
	}
	n = room > o->pos ? room - o->pos : 0;
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	/* drop a character the cut split (and the one before a run of continuations) */
	while (o->pos > 0 && ((unsigned char)o->buf[o->pos - 1] & 0xC0) == 0x80)
		o->pos--;
	if (o->pos > 0 && (unsigned char)o->buf[o->pos - 1] >= 0xC0)
		o->pos--;
	if (o->len > 4) {
		memcpy(o->buf + o->pos, "...", 3);
		o->pos += 3;
	}
	o->buf[o->pos] = '\0';
	o->full = 1;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_hex(struct out *o, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	char two[2];
	size_t i;

	for (i = 0; i < n && !o->full; i++) {
		two[0] = digits[p[i] >> 4];
		two[1] = digits[p[i] & 15];
		put(o, two, 2);
	}
}

/* Hex, abbreviated past CTLATTR_HEX_SHOWN bytes with the size and a digest prefix. */
static void
show_hex(struct out *o, const unsigned char *p, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char tail[64];

	if (n == 0) {
		puts_(o, "(empty)");
		return;
	}
	if (n <= CTLATTR_HEX_SHOWN) {
		put_hex(o, p, n);
		return;
	}
	put_hex(o, p, CTLATTR_HEX_SHOWN);
	snprintf(tail, sizeof(tail), "... (%zu bytes, SHA-256 ", n);
	puts_(o, tail);
	if (EVP_Digest(p, n, md, &md_len, EVP_sha256(), NULL) && md_len >= 8)
		put_hex(o, md, 8);
	else
		puts_(o, "?");
	puts_(o, ")");
}

/* The DER SEQUENCE OF OID inside an EKU property; 0 if it is not one. */
static int
show_eku(struct out *o, const unsigned char *p, size_t n)
{
	const unsigned char *q = p;
	EXTENDED_KEY_USAGE *eku;
	char oid[CTL_OID_MAX];
	int i, k, ok = 0;

	if (n > LONG_MAX)
		return 0;
	eku = d2i_EXTENDED_KEY_USAGE(NULL, &q, (long)n);
	if (eku == NULL)
		return 0;
	if (q != p + n)
		goto out;
	k = sk_ASN1_OBJECT_num(eku);
	if (k == 0)
		puts_(o, "(none)");
	for (i = 0; i < k; i++) {
		int len = OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1);
		const char *name;

		if (len <= 0 || (size_t)len >= sizeof(oid))
			snprintf(oid, sizeof(oid), "%s", CTL_OID_INVALID);
		if (i > 0)
			puts_(o, ", ");
		puts_(o, oid);
		if ((name = ctlattr_eku_name(oid)) != NULL) {
			puts_(o, " (");
			puts_(o, name);
			puts_(o, ")");
		}
	}
	ok = 1;
out:
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return ok;
}

/* A FILETIME: 100 ns since 1601-01-01, 8 bytes little-endian; 0 if out of shape or range. */
static int
show_filetime(struct out *o, const unsigned char *p, size_t n)
{
	uint64_t ft = 0;
	long long secs;
	char t[32];
	size_t i;

	if (n != 8)
		return 0;
	for (i = 8; i-- > 0;)
		ft = ft << 8 | p[i];
	secs = (long long)(ft / 10000000u) - FILETIME_EPOCH_DELTA;
	if (secs > YEAR_9999_END)
		return 0;
	puts_(o, isotime_format((time_t)secs, t, sizeof(t)));
	return 1;
}

/* UTF-16LE text in quotes, escaped; 0 when out of memory. */
static int
show_text(struct out *o, const unsigned char *p, size_t n)
{
	char *s = ctl_utf16le_to_utf8(p, n), esc[8];
	size_t i;

	if (s == NULL)
		return 0;
	puts_(o, "\"");
	for (i = 0; s[i] != '\0' && !o->full; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02X", c);
			puts_(o, esc);
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else {
			put(o, (const char *)&s[i], 1);
		}
	}
	puts_(o, "\"");
	free(s);
	return 1;
}

const char *
ctlattr_render(const struct ctl_attr *a, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	struct ctl_cursor c = { a->values, a->values_len };
	struct ctl_value v;
	enum shape shape = SHOW_HEX;
	int i = prop_index(a->oid), r, first = 1;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (i >= 0)
		shape = props[i].shape;
	while ((r = ctl_value_next(&c, &v)) == 1 && !o.full) {
		int shown = 0;

		if (!first)
			puts_(&o, "; ");
		first = 0;
		if (v.tag != V_ASN1_OCTET_STRING) {
			show_hex(&o, v.der, v.der_len);
			continue;
		}
		switch (shape) {
		case SHOW_EKU:
			shown = show_eku(&o, v.data, v.len);
			break;
		case SHOW_TEXT:
			shown = show_text(&o, v.data, v.len);
			break;
		case SHOW_FILETIME:
			shown = show_filetime(&o, v.data, v.len);
			break;
		case SHOW_HEX:
			break;
		}
		if (!shown)
			show_hex(&o, v.data, v.len);
	}
	if (r < 0)
		puts_(&o, first ? "(malformed)" : "; (malformed)");
	else if (first)
		puts_(&o, "(none)");
	return buf;
}

/* One attribute and where it stood, for a stable order among equal OIDs. */
struct slot {
	struct ctl_attr a;
	size_t index;
};

static int
slot_cmp(const void *x, const void *y)
{
	const struct slot *s = x, *t = y;
	size_t n = s->a.oid_der_len < t->a.oid_der_len ? s->a.oid_der_len : t->a.oid_der_len;
	int c = memcmp(s->a.oid_der, t->a.oid_der, n);

	if (c == 0)
		c = (s->a.oid_der_len > t->a.oid_der_len) - (s->a.oid_der_len < t->a.oid_der_len);
	if (c == 0)
		c = (s->index > t->index) - (s->index < t->index);
	return c;
}

static int
same_oid(const struct ctl_attr *a, const struct ctl_attr *b)
{
	return a->oid_der_len == b->oid_der_len &&
	    memcmp(a->oid_der, b->oid_der, a->oid_der_len) == 0;
}

/* e's attributes, sorted by OID; *slots NULL when there are none. */
static enum ctlattr_err
collect(const struct ctl_entry *e, struct slot **slots, size_t *n)
{
	struct ctl_cursor c;
	struct ctl_attr a;
	size_t count = 0, i = 0;

	*slots = NULL;
	*n = 0;
	if (!ctl_attrs_begin(e, &c))
		return CTLATTR_MALFORMED;
	{
		struct ctl_cursor k = c;
		int r;

		while ((r = ctl_attr_next(&k, &a)) == 1)
			count++;
		if (r < 0)
			return CTLATTR_MALFORMED;
	}
	if (count == 0)
		return CTLATTR_OK;
	/* count is at most attrs_len / 6 (the smallest attribute), so this does not overflow */
	if ((*slots = calloc(count, sizeof(**slots))) == NULL)
		return CTLATTR_NOMEM;
	while (i < count && ctl_attr_next(&c, &(*slots)[i].a) == 1) {
		(*slots)[i].index = i;
		i++;
	}
	qsort(*slots, count, sizeof(**slots), slot_cmp);
	*n = count;
	return CTLATTR_OK;
}

enum ctlattr_err
ctlattr_diff(const struct ctl_entry *a, const struct ctl_entry *b,
    ctlattr_change_fn fn, void *ctx, size_t *n_changes)
{
	struct slot *sa = NULL, *sb = NULL;
	size_t na = 0, nb = 0, i = 0, k = 0, changes = 0;
	enum ctlattr_err err;

	if (n_changes != NULL)
		*n_changes = 0;
	if ((err = collect(a, &sa, &na)) != CTLATTR_OK ||
	    (err = collect(b, &sb, &nb)) != CTLATTR_OK)
		goto out;
	/* a merge by OID; equal OIDs pair up in their order within the entry */
	while (i < na || k < nb) {
		int c;

		if (i == na)
			c = 1;
		else if (k == nb)
			c = -1;
		else if (same_oid(&sa[i].a, &sb[k].a))
			c = 0;
		else
			c = slot_cmp(&sa[i], &sb[k]);
		if (c < 0) {
			fn(ctx, &sa[i++].a, NULL);
			changes++;
		} else if (c > 0) {
			fn(ctx, NULL, &sb[k++].a);
			changes++;
		} else {
			if (sa[i].a.values_len != sb[k].a.values_len ||
			    memcmp(sa[i].a.values, sb[k].a.values, sa[i].a.values_len) != 0) {
				fn(ctx, &sa[i].a, &sb[k].a);
				changes++;
			}
			i++;
			k++;
		}
	}
	if (n_changes != NULL)
		*n_changes = changes;
	err = CTLATTR_OK;
out:
	free(sa);
	free(sb);
	return err;
}
