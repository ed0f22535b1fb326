/*
 * ctl.c - decode a Certificate Trust List with OpenSSL's ASN.1 templates and
 * copy what the rest of ctlmirror needs into a plain struct ctl.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "verify/ctl.h"
#include "verify/ctl_asn1.h"
#include "verify/isotime.h"

ASN1_SEQUENCE(CTL_ENTRY_ASN1) = {
	ASN1_SIMPLE(CTL_ENTRY_ASN1, id, ASN1_OCTET_STRING),
	ASN1_SET_OF_OPT(CTL_ENTRY_ASN1, attrs, X509_ATTRIBUTE),
} ASN1_SEQUENCE_END(CTL_ENTRY_ASN1)

ASN1_SEQUENCE(CTL_ASN1) = {
	ASN1_OPT(CTL_ASN1, version, ASN1_INTEGER),
	ASN1_SEQUENCE_OF(CTL_ASN1, subject_usage, ASN1_OBJECT),
	ASN1_OPT(CTL_ASN1, list_id, ASN1_OCTET_STRING),
	ASN1_OPT(CTL_ASN1, sequence, ASN1_INTEGER),
	ASN1_SIMPLE(CTL_ASN1, this_update, ASN1_TIME),
	ASN1_OPT(CTL_ASN1, next_update, ASN1_TIME),
	ASN1_SIMPLE(CTL_ASN1, subject_alg, X509_ALGOR),
	ASN1_SEQUENCE_OF_OPT(CTL_ASN1, entries, CTL_ENTRY_ASN1),
	ASN1_EXP_SEQUENCE_OF_OPT(CTL_ASN1, extensions, X509_EXTENSION, 0),
} ASN1_SEQUENCE_END(CTL_ASN1)

IMPLEMENT_ASN1_FUNCTIONS(CTL_ENTRY_ASN1)
IMPLEMENT_ASN1_FUNCTIONS(CTL_ASN1)

/*
 * The decoder's view: the same shape as CTL_ASN1, with each trusted subject
 * kept as raw DER. Decoding 500 entries' attributes through templates costs
 * tens of thousands of allocations; read_entry() walks them with
 * ASN1_get_object() instead. test_ctl round-trips CTL_ASN1 through this.
 */
typedef struct ctl_raw_st {
	ASN1_INTEGER *version;
	STACK_OF(ASN1_OBJECT) *subject_usage;
	ASN1_OCTET_STRING *list_id;
	ASN1_INTEGER *sequence;
	ASN1_TIME *this_update;
	ASN1_TIME *next_update;
	X509_ALGOR *subject_alg;
	STACK_OF(ASN1_TYPE) *entries;
	STACK_OF(X509_EXTENSION) *extensions;
} CTL_RAW;

DECLARE_ASN1_FUNCTIONS(CTL_RAW)

ASN1_SEQUENCE(CTL_RAW) = {
	ASN1_OPT(CTL_RAW, version, ASN1_INTEGER),
	ASN1_SEQUENCE_OF(CTL_RAW, subject_usage, ASN1_OBJECT),
	ASN1_OPT(CTL_RAW, list_id, ASN1_OCTET_STRING),
	ASN1_OPT(CTL_RAW, sequence, ASN1_INTEGER),
	ASN1_SIMPLE(CTL_RAW, this_update, ASN1_TIME),
	ASN1_OPT(CTL_RAW, next_update, ASN1_TIME),
	ASN1_SIMPLE(CTL_RAW, subject_alg, X509_ALGOR),
	ASN1_SEQUENCE_OF_OPT(CTL_RAW, entries, ASN1_ANY),
	ASN1_EXP_SEQUENCE_OF_OPT(CTL_RAW, extensions, X509_EXTENSION, 0),
} ASN1_SEQUENCE_END(CTL_RAW)

IMPLEMENT_ASN1_FUNCTIONS(CTL_RAW)

/* Upper bound on entries: Microsoft's lists hold a few hundred. */
#define CTL_MAX_ENTRIES 100000

/* UTF-16LE, NUL-terminated, to UTF-8 (BMP plus surrogate pairs). */
char *
ctl_utf16le_to_utf8(const unsigned char *p, size_t len)
{
	char *out, *o;
	size_t i;

	if ((out = malloc(len / 2 * 3 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 1 < len; i += 2) {
		unsigned long c = p[i] | (p[i + 1] << 8);

		if (c == 0)
			break;
		if (c >= 0xD800 && c < 0xDC00 && i + 3 < len) {
			unsigned long lo = p[i + 2] | (p[i + 3] << 8);

			if (lo >= 0xDC00 && lo < 0xE000) {
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
				i += 2;
			}
		}
		if (c < 0x80) {
			*o++ = (char)c;
		} else if (c < 0x800) {
			*o++ = (char)(0xC0 | (c >> 6));
			*o++ = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			*o++ = (char)(0xE0 | (c >> 12));
			*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
			*o++ = (char)(0x80 | (c & 0x3F));
		} else {
			*o++ = (char)(0xF0 | (c >> 18));
			*o++ = (char)(0x80 | ((c >> 12) & 0x3F));
			*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
			*o++ = (char)(0x80 | (c & 0x3F));
		}
	}
	*o = '\0';
	return out;
}

/*
 * One DER element of the wanted universal tag at *p, within end: its contents
 * in *c and *clen, and *p moved past it. ASN1_get_object() checks the length
 * against what remains.
 */
static int
tlv(const unsigned char **p, const unsigned char *end, int want_tag,
    const unsigned char **c, long *clen)
{
	const unsigned char *q = *p;
	int tag, xclass, ret;

	if (q >= end)
		return 0;
	ret = ASN1_get_object(&q, clen, &tag, &xclass, end - q);
	/* DER: definite lengths; SEQUENCE and SET constructed, the rest primitive. */
	if ((ret & 0x80) || ret == 0x21 || xclass != V_ASN1_UNIVERSAL ||
	    tag != want_tag ||
	    !(ret & V_ASN1_CONSTRUCTED) != !(tag == V_ASN1_SEQUENCE || tag == V_ASN1_SET))
		return 0;
	*c = q;
	*p = q + *clen;
	return 1;
}

/* Whether p..end holds zero or more complete DER elements of any tag (definite lengths). */
static int
well_formed(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		const unsigned char *q = p;
		long len;
		int tag, xclass, ret;

		ret = ASN1_get_object(&q, &len, &tag, &xclass, end - p);
		if ((ret & 0x80) || ret == 0x21)
			return 0;
		p = q + len;
	}
	return 1;
}

/* A DNS name as pin rules give it: printable ASCII, no space. */
static int
is_name(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * TrustedSubject ::= SEQUENCE { subjectIdentifier OCTET STRING,
 *   subjectAttributes SET OF SEQUENCE { type OID, values SET OF ANY } OPTIONAL }
 * fn is the DER contents of the friendly-name OID; names says the CTL's
 * subjectAlgorithm names entries by DNS name. The SET may be absent
 * (disallowed) and values may be of any type (pin rules: INTEGER): each is
 * only checked to lie within its SET, except a friendly name's OCTET STRING.
 */
static enum ctl_err
read_entry(const ASN1_TYPE *t, const unsigned char *fn, size_t fn_len,
    int names, struct ctl_entry *out, char *detail, size_t detail_len)
{
	const unsigned char *p, *end, *c, *attrs, *attrs_end, *set;
	long clen;
	enum ctl_err rc = CTL_ERR_FIELD;
	int shape_ok = 0;	/* the entry's DER is as above */

	if (t->type != V_ASN1_SEQUENCE)
		goto out;
	p = t->value.sequence->data;
	end = p + t->value.sequence->length;
	if (!EVP_Digest(p, (size_t)(end - p), out->der_sha256, NULL, EVP_sha256(), NULL)) {
		rc = CTL_ERR_NOMEM;
		goto out;
	}
	if (!tlv(&p, end, V_ASN1_SEQUENCE, &c, &clen) || p != end)
		goto out;
	p = c;
	end = c + clen;
	if (!tlv(&p, end, V_ASN1_OCTET_STRING, &c, &clen))
		goto out;
	shape_ok = 1;
	if (clen <= 0 || (size_t)clen > sizeof(out->id)) {
		vfy_detail(detail, detail_len,
		    "a CTL entry's subjectIdentifier is %ld bytes, not 1 to %d",
		    clen, CTL_ENTRY_ID_MAX);
		goto out;
	}
	memcpy(out->id, c, (size_t)clen);
	out->id_len = (size_t)clen;
	out->id_is_text = names && is_name(out->id, out->id_len);
	if (p == end) {
		rc = CTL_OK;
		goto out;
	}
	shape_ok = 0;
	set = p;
	if (!tlv(&p, end, V_ASN1_SET, &attrs, &clen) || p != end)
		goto out;
	attrs_end = attrs + clen;
	while (attrs < attrs_end) {
		const unsigned char *a, *a_end, *oid, *vals, *v;
		long oid_len, vals_len, v_len;

		if (!tlv(&attrs, attrs_end, V_ASN1_SEQUENCE, &a, &clen))
			goto out;
		a_end = a + clen;
		if (!tlv(&a, a_end, V_ASN1_OBJECT, &oid, &oid_len) ||
		    !tlv(&a, a_end, V_ASN1_SET, &vals, &vals_len) || a != a_end ||
		    !well_formed(vals, vals + vals_len))
			goto out;
		if (out->friendly_name != NULL || (size_t)oid_len != fn_len ||
		    memcmp(oid, fn, fn_len) != 0)
			continue;
		if (tlv(&vals, vals + vals_len, V_ASN1_OCTET_STRING, &v, &v_len) &&
		    (out->friendly_name = ctl_utf16le_to_utf8(v, (size_t)v_len)) == NULL) {
			rc = CTL_ERR_NOMEM;
			goto out;
		}
	}
	/* The SET as it came, for ctl_attr_next(): p - set is within this entry. */
	if ((out->attrs = malloc((size_t)(p - set))) == NULL) {
		rc = CTL_ERR_NOMEM;
		goto out;
	}
	memcpy(out->attrs, set, (size_t)(p - set));
	out->attrs_len = (size_t)(p - set);
	shape_ok = 1;
	rc = CTL_OK;
out:
	if (rc == CTL_ERR_FIELD && !shape_ok)
		vfy_detail(detail, detail_len,
		    "a CTL entry is not a SEQUENCE of a subjectIdentifier and an optional SET of attributes");
	return rc;
}

enum ctl_err
ctl_parse(const unsigned char *der, size_t len, struct ctl *out, char *detail,
    size_t detail_len)
{
	const unsigned char *p = der;
	CTL_RAW *c = NULL;
	ASN1_OBJECT *fn = NULL;
	enum ctl_err rc = CTL_ERR_DECODE;
	int i, n, names;

	memset(out, 0, sizeof(*out));
	if (len > LONG_MAX) {
		vfy_detail(detail, detail_len, "CTL too large");
		return CTL_ERR_FIELD;
	}
	c = d2i_CTL_RAW(NULL, &p, (long)len);
	if (c == NULL) {
		vfy_detail(detail, detail_len,
		    "content is not a DER CertificateTrustList");
		goto out;
	}
	if (p != der + len) {
		vfy_detail(detail, detail_len,
		    "trailing bytes after the CertificateTrustList");
		goto out;
	}
	rc = CTL_ERR_FIELD;
	if (c->version != NULL) {
		int64_t v;

		if (!ASN1_INTEGER_get_int64(&v, c->version) || v < 0 || v > 255) {
			vfy_detail(detail, detail_len, "CTL version out of range");
			goto out;
		}
		out->version = (long)v;
	}

	n = sk_ASN1_OBJECT_num(c->subject_usage);
	if (n <= 0 || n > CTL_MAX_USAGES) {
		vfy_detail(detail, detail_len,
		    "CTL subjectUsage is empty or too long");
		goto out;
	}
	for (i = 0; i < n; i++)
		OBJ_obj2txt(out->usages[i], sizeof(out->usages[i]),
		    sk_ASN1_OBJECT_value(c->subject_usage, i), 1);
	out->n_usages = (size_t)n;

	if (c->list_id != NULL) {
		if ((size_t)c->list_id->length > sizeof(out->list_id)) {
			vfy_detail(detail, detail_len,
			    "CTL listIdentifier is too long");
			goto out;
		}
		memcpy(out->list_id, c->list_id->data,
		    (size_t)c->list_id->length);
		out->list_id_len = (size_t)c->list_id->length;
		out->has_list_id = 1;
	}

	if (c->sequence != NULL) {
		if (c->sequence->length <= 0 ||
		    (size_t)c->sequence->length * 2 >= sizeof(out->sequence) ||
		    (c->sequence->type & V_ASN1_NEG)) {
			vfy_detail(detail, detail_len,
			    "CTL sequenceNumber is negative, empty or too long");
			goto out;
		}
		for (i = 0; i < c->sequence->length; i++)
			snprintf(out->sequence + 2 * i, 3, "%02X",
			    c->sequence->data[i]);
	}

	if (!isotime_from_asn1(c->this_update, &out->this_update)) {
		vfy_detail(detail, detail_len, "CTL thisUpdate is not a valid time");
		goto out;
	}
	if (c->next_update != NULL &&
	    !isotime_from_asn1(c->next_update, &out->next_update)) {
		vfy_detail(detail, detail_len, "CTL nextUpdate is not a valid time");
		goto out;
	}
	OBJ_obj2txt(out->subject_alg, sizeof(out->subject_alg),
	    c->subject_alg->algorithm, 1);

	names = strcmp(out->subject_alg, OID_PIN_RULES_DOMAIN_NAME) == 0;

	n = sk_ASN1_TYPE_num(c->entries);
	if (n > CTL_MAX_ENTRIES) {
		vfy_detail(detail, detail_len, "CTL has too many entries");
		goto out;
	}
	if (n > 0) {
		rc = CTL_ERR_NOMEM;
		if ((out->entries = calloc((size_t)n, sizeof(*out->entries))) == NULL ||
		    (fn = OBJ_txt2obj(OID_FRIENDLY_NAME, 1)) == NULL)
			goto out;
		out->n_entries = (size_t)n;
		for (i = 0; i < n; i++) {
			rc = read_entry(sk_ASN1_TYPE_value(c->entries, i),
			    OBJ_get0_data(fn), OBJ_length(fn), names,
			    &out->entries[i], detail, detail_len);
			if (rc != CTL_OK)
				goto out;
		}
	}
	/* Counted only; a critical one is not refused (see struct ctl). */
	n = sk_X509_EXTENSION_num(c->extensions);
	for (i = 0; i < n; i++)
		if (X509_EXTENSION_get_critical(sk_X509_EXTENSION_value(c->extensions, i)))
			out->n_critical_extensions++;
	out->n_extensions = n > 0 ? (size_t)n : 0;
	rc = CTL_OK;
out:
	ASN1_OBJECT_free(fn);
	CTL_RAW_free(c);
	if (rc != CTL_OK)
		ctl_free(out);
	return rc;
}

int
ctl_has_usage(const struct ctl *ctl, const char *oid)
{
	size_t i;

	for (i = 0; i < ctl->n_usages; i++)
		if (strcmp(ctl->usages[i], oid) == 0)
			return 1;
	return 0;
}

void
ctl_entries_free(struct ctl_entry *entries, size_t n)
{
	size_t i;

	if (entries == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(entries[i].friendly_name);
		free(entries[i].attrs);
	}
	free(entries);
}

struct ctl_entry *
ctl_take_entries(struct ctl *ctl, size_t *n)
{
	struct ctl_entry *e = ctl->entries;

	*n = ctl->n_entries;
	ctl->entries = NULL;
	ctl->n_entries = 0;
	return e;
}

void
ctl_free(struct ctl *ctl)
{
	ctl_entries_free(ctl->entries, ctl->n_entries);
	memset(ctl, 0, sizeof(*ctl));
}

int
ctl_attrs_begin(const struct ctl_entry *e, struct ctl_cursor *c)
{
	const unsigned char *p = e->attrs, *contents;
	long clen;

	c->p = NULL;
	c->left = 0;
	if (e->attrs == NULL || e->attrs_len == 0)
		return 1;
	if (e->attrs_len > LONG_MAX ||
	    !tlv(&p, e->attrs + e->attrs_len, V_ASN1_SET, &contents, &clen) ||
	    p != e->attrs + e->attrs_len)
		return 0;
	c->p = contents;
	c->left = (size_t)clen;
	return 1;
}

int
ctl_attr_next(struct ctl_cursor *c, struct ctl_attr *out)
{
	const unsigned char *p = c->p, *end, *a, *a_end, *oid, *oid_tlv, *vals;
	long clen, oid_len, vals_len;
	ASN1_OBJECT *obj = NULL;
	int n;

	memset(out, 0, sizeof(*out));
	if (c->left == 0)
		return 0;
	if (c->left > LONG_MAX)
		return -1;
	end = p + c->left;
	if (!tlv(&p, end, V_ASN1_SEQUENCE, &a, &clen))
		return -1;
	a_end = a + clen;
	oid_tlv = a;
	if (!tlv(&a, a_end, V_ASN1_OBJECT, &oid, &oid_len) ||
	    !tlv(&a, a_end, V_ASN1_SET, &vals, &vals_len) || a != a_end ||
	    !well_formed(vals, vals + vals_len))
		return -1;
	/*
	 * The OID's text from OpenSSL's own decoder, bounded by the buffer.
	 * ctl_parse() checks only the OID's framing, so an encoding it cannot
	 * read is named, not refused.
	 */
	obj = d2i_ASN1_OBJECT(NULL, &oid_tlv, oid + oid_len - oid_tlv);
	n = obj != NULL ? OBJ_obj2txt(out->oid, sizeof(out->oid), obj, 1) : -1;
	ASN1_OBJECT_free(obj);
	if (n <= 0 || (size_t)n >= sizeof(out->oid))
		snprintf(out->oid, sizeof(out->oid), "%s", CTL_OID_INVALID);
	out->oid_der = oid;
	out->oid_der_len = (size_t)oid_len;
	out->values = vals;
	out->values_len = (size_t)vals_len;
	c->left -= (size_t)(p - c->p);
	c->p = p;
	return 1;
}

int
ctl_value_next(struct ctl_cursor *c, struct ctl_value *out)
{
	const unsigned char *q = c->p;
	long len;
	int tag, xclass, ret;

	memset(out, 0, sizeof(*out));
	if (c->left == 0)
		return 0;
	if (c->left > LONG_MAX)
		return -1;
	ret = ASN1_get_object(&q, &len, &tag, &xclass, (long)c->left);
	if ((ret & 0x80) || ret == 0x21)
		return -1;
	out->tag = xclass == V_ASN1_UNIVERSAL ? tag : -1;
	out->der = c->p;
	out->data = q;
	out->len = (size_t)len;
	out->der_len = (size_t)(q - c->p) + (size_t)len;
	c->p += out->der_len;
	c->left -= out->der_len;
	return 1;
}
