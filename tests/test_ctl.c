/* test_ctl.c - CertificateTrustList parsing: fields, bounds, damaged input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "verify/ctl.h"
#include "verify/ctl_asn1.h"
#include "verify/ctlattr.h"

/* "Test Root" as UTF-16LE with its NUL, as Windows stores friendly names. */
static const unsigned char friendly[] = {
	'T', 0, 'e', 0, 's', 0, 't', 0, ' ', 0, 'R', 0, 'o', 0, 'o', 0, 't', 0,
	0xe9, 0, 0, 0,
};

static X509_ATTRIBUTE *
octet_attr(const char *oid, const unsigned char *data, int len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_ATTRIBUTE *a;

	assert_non_null(os);
	assert_true(ASN1_OCTET_STRING_set(os, data, len));
	a = X509_ATTRIBUTE_create(OBJ_txt2nid(oid) != NID_undef ? OBJ_txt2nid(oid) :
	    OBJ_create(oid, NULL, NULL), V_ASN1_OCTET_STRING, os);
	assert_non_null(a);
	return a;
}

/* What an entry's attribute SET holds. */
enum attrs {
	A_FRIENDLY,	/* a friendly name (OCTET STRING), as authroot */
	A_ABSENT,	/* no SET at all, as disallowed */
	A_EMPTY,	/* an empty SET */
	A_INTEGER,	/* two INTEGER-valued attributes, as pin rules */
	A_FRIENDLY_INT,	/* the friendly-name OID with an INTEGER value */
};

/* The shape of a test CTL; zero fields take authroot's. */
struct shape {
	const char *usage;		/* NULL: 10.3.9 */
	const unsigned char *seq;	/* NULL: absent */
	int seq_len;
	const char *subject_alg;	/* NULL: sha1 */
	int n;
	enum attrs attrs;
	const unsigned char *id;	/* NULL: 20 bytes of the entry's index */
	int id_len;
	const unsigned char *list_id;	/* NULL: absent */
	int list_id_len;
	int next_update;		/* add one */
	int extensions;			/* a critical 10.3.33 and a plain 10.3.35 */
};

static X509_ATTRIBUTE *
int_attr(const char *oid, long value)
{
	ASN1_INTEGER *i = ASN1_INTEGER_new();
	X509_ATTRIBUTE *a;

	assert_non_null(i);
	assert_true(ASN1_INTEGER_set(i, value));
	a = X509_ATTRIBUTE_create(OBJ_txt2nid(oid) != NID_undef ? OBJ_txt2nid(oid) :
	    OBJ_create(oid, NULL, NULL), V_ASN1_INTEGER, i);
	assert_non_null(a);
	return a;
}

static void
add_ext(CTL_ASN1 *c, const char *oid, int critical)
{
	static const unsigned char value[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	X509_EXTENSION *e;

	assert_non_null(os);
	assert_non_null(obj);
	assert_true(ASN1_OCTET_STRING_set(os, value, sizeof(value)));
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os);
	assert_non_null(e);
	if (c->extensions == NULL)
		c->extensions = sk_X509_EXTENSION_new_null();
	assert_true(sk_X509_EXTENSION_push(c->extensions, e));
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
}

/* A CTL of the given shape. Returns OPENSSL_malloc'd DER. */
static unsigned char *
build(const struct shape *sh, int *len)
{
	CTL_ASN1 *c = CTL_ASN1_new();
	unsigned char *der = NULL;
	int i;

	assert_non_null(c);
	assert_true(sk_ASN1_OBJECT_push(c->subject_usage,
	    OBJ_txt2obj(sh->usage ? sh->usage : OID_ROOT_LIST_SIGNER, 1)));
	if (sh->list_id != NULL) {
		c->list_id = ASN1_OCTET_STRING_new();
		assert_true(ASN1_OCTET_STRING_set(c->list_id, sh->list_id, sh->list_id_len));
	}
	if (sh->seq != NULL) {
		c->sequence = ASN1_INTEGER_new();
		assert_true(ASN1_STRING_set(c->sequence, sh->seq, sh->seq_len));
	}
	assert_true(ASN1_TIME_set_string(c->this_update, "240514162318Z"));
	if (sh->next_update) {
		c->next_update = ASN1_TIME_new();
		assert_true(ASN1_TIME_set_string(c->next_update, "250514162318Z"));
	}
	X509_ALGOR_set0(c->subject_alg, sh->subject_alg ?
	    OBJ_txt2obj(sh->subject_alg, 1) : OBJ_nid2obj(NID_sha1), V_ASN1_NULL, NULL);
	c->entries = sk_CTL_ENTRY_ASN1_new_null();
	for (i = 0; i < sh->n; i++) {
		CTL_ENTRY_ASN1 *e = CTL_ENTRY_ASN1_new();
		unsigned char id[20];

		memset(id, i, sizeof(id));
		if (sh->id != NULL)
			assert_true(ASN1_OCTET_STRING_set(e->id, sh->id, sh->id_len));
		else
			assert_true(ASN1_OCTET_STRING_set(e->id, id, sizeof(id)));
		switch (sh->attrs) {
		case A_ABSENT:
			break;
		case A_EMPTY:
			e->attrs = sk_X509_ATTRIBUTE_new_null();
			break;
		case A_FRIENDLY:
			e->attrs = sk_X509_ATTRIBUTE_new_null();
			assert_true(sk_X509_ATTRIBUTE_push(e->attrs,
			    octet_attr(OID_FRIENDLY_NAME, friendly, sizeof(friendly))));
			break;
		case A_INTEGER:
			e->attrs = sk_X509_ATTRIBUTE_new_null();
			assert_true(sk_X509_ATTRIBUTE_push(e->attrs,
			    int_attr("1.3.6.1.4.1.311.10.4.2", 1)));
			assert_true(sk_X509_ATTRIBUTE_push(e->attrs,
			    int_attr("1.3.6.1.4.1.311.10.4.3", 300 + i)));
			break;
		case A_FRIENDLY_INT:
			e->attrs = sk_X509_ATTRIBUTE_new_null();
			assert_true(sk_X509_ATTRIBUTE_push(e->attrs,
			    int_attr(OID_FRIENDLY_NAME, 5)));
			break;
		}
		assert_true(sk_CTL_ENTRY_ASN1_push(c->entries, e));
	}
	if (sh->extensions) {
		add_ext(c, OID_PIN_RULES_EXT, 1);
		add_ext(c, OID_PIN_RULES_LOG_END_DATE, 0);
	}
	*len = i2d_CTL_ASN1(c, &der);
	assert_true(*len > 0);
	CTL_ASN1_free(c);
	return der;
}

/* A CTL with n entries; usage and sequence bytes as given. Returns malloc'd DER. */
static unsigned char *
make_ctl(const char *usage, const unsigned char *seq, int seq_len, int n,
    int *len)
{
	struct shape sh;

	memset(&sh, 0, sizeof(sh));
	sh.usage = usage;
	sh.seq = seq;
	sh.seq_len = seq_len;
	sh.n = n;
	return build(&sh, len);
}

/* Where pat first occurs in buf, or NULL. */
static unsigned char *
find(unsigned char *buf, int len, const unsigned char *pat, int plen)
{
	int i;

	for (i = 0; i + plen <= len; i++)
		if (memcmp(buf + i, pat, (size_t)plen) == 0)
			return buf + i;
	return NULL;
}

static const unsigned char seq9[] = { 0x14, 0x01, 0xDA, 0xA6, 0x1B, 0x07, 0xAD, 0x86, 0x01 };

static void
parses_fields(void **state)
{
	struct ctl ctl;
	int len;
	unsigned char *der = make_ctl(OID_ROOT_LIST_SIGNER, seq9, sizeof(seq9), 3, &len);
	char detail[128];

	(void)state;
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, detail, sizeof(detail)), CTL_OK);
	assert_int_equal(ctl.version, 0);
	assert_int_equal(ctl.n_usages, 1);
	assert_true(ctl_has_usage(&ctl, OID_ROOT_LIST_SIGNER));
	assert_false(ctl_has_usage(&ctl, OID_DISALLOWED_LIST));
	assert_string_equal(ctl.sequence, "1401DAA61B07AD8601");
	assert_int_equal(ctl.this_update, 1715703798);
	assert_int_equal(ctl.next_update, 0);
	assert_string_equal(ctl.subject_alg, "1.3.14.3.2.26");
	assert_int_equal(ctl.n_entries, 3);
	assert_int_equal(ctl.entries[2].id_len, 20);
	assert_int_equal(ctl.entries[2].id[0], 2);
	assert_string_equal(ctl.entries[0].friendly_name, "Test Root\xc3\xa9");
	assert_memory_not_equal(ctl.entries[0].der_sha256, ctl.entries[1].der_sha256, 32);
	assert_false(ctl.has_list_id);
	ctl_free(&ctl);
	assert_null(ctl.entries);
	OPENSSL_free(der);
}

static void
entries_can_be_taken(void **state)
{
	struct ctl ctl;
	struct ctl_entry *e;
	size_t n;
	int len;
	unsigned char *der = make_ctl(OID_ROOT_LIST_SIGNER, seq9, sizeof(seq9), 2, &len);

	(void)state;
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	e = ctl_take_entries(&ctl, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ctl.n_entries, 0);
	ctl_free(&ctl);
	assert_string_equal(e[1].friendly_name, "Test Root\xc3\xa9");
	ctl_entries_free(e, n);
	OPENSSL_free(der);
}

static void
every_truncation_fails_cleanly(void **state)
{
	struct ctl ctl;
	int len, cut;
	unsigned char *der = make_ctl(OID_ROOT_LIST_SIGNER, seq9, sizeof(seq9), 4, &len);

	(void)state;
	for (cut = 0; cut < len; cut++) {
		unsigned char *copy = malloc((size_t)cut + 1);

		memcpy(copy, der, (size_t)cut);
		assert_int_not_equal(ctl_parse(copy, (size_t)cut, &ctl, NULL, 0), CTL_OK);
		assert_int_equal(ctl.n_entries, 0);
		assert_null(ctl.entries);
		free(copy);
	}
	OPENSSL_free(der);
}

static void
refuses_trailing_bytes_and_garbage(void **state)
{
	struct ctl ctl;
	int len;
	unsigned char *der = make_ctl(OID_ROOT_LIST_SIGNER, seq9, sizeof(seq9), 1, &len);
	unsigned char *longer = malloc((size_t)len + 2);
	static const unsigned char garbage[] = { 0x04, 0x03, 'a', 'b', 'c' };
	char detail[128];

	(void)state;
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	longer[len + 1] = 0;
	assert_int_equal(ctl_parse(longer, (size_t)len + 2, &ctl, detail, sizeof(detail)),
	    CTL_ERR_DECODE);
	assert_non_null(strstr(detail, "trailing"));
	assert_int_equal(ctl_parse(garbage, sizeof(garbage), &ctl, detail, sizeof(detail)),
	    CTL_ERR_DECODE);
	free(longer);
	OPENSSL_free(der);
}

static void
refuses_bad_sequence_numbers(void **state)
{
	struct ctl ctl;
	unsigned char big[60];
	int len;
	unsigned char *der;
	char detail[128];

	(void)state;
	memset(big, 0x7f, sizeof(big));
	der = make_ctl(OID_ROOT_LIST_SIGNER, big, sizeof(big), 1, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, detail, sizeof(detail)), CTL_ERR_FIELD);
	assert_non_null(strstr(detail, "sequenceNumber"));
	OPENSSL_free(der);

	/* absent sequence number: allowed, reported as "" */
	der = make_ctl(OID_ROOT_LIST_SIGNER, NULL, 0, 1, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_string_equal(ctl.sequence, "");
	ctl_free(&ctl);
	OPENSSL_free(der);
}

/* Disallowed: 16- and 48-byte hashes with no attribute SET at all (absent, not empty). */
static void
absent_and_empty_attribute_sets(void **state)
{
	static const unsigned char h48[48] = { 0xAB, 0x01 };
	struct shape sh;
	struct ctl ctl;
	unsigned char *der;
	char text[CTL_ENTRY_ID_STRLEN];
	int len;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.usage = OID_DISALLOWED_LIST;
	sh.subject_alg = OID_DISALLOWED_HASH;
	sh.n = 3;
	sh.attrs = A_ABSENT;
	sh.id = h48;
	sh.id_len = sizeof(h48);
	der = build(&sh, &len);
	/* each entry is SEQUENCE { OCTET STRING (48) } and nothing else */
	assert_non_null(find(der, len, (const unsigned char *)"\x30\x32\x04\x30", 4));
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_int_equal(ctl.n_entries, 3);
	assert_int_equal(ctl.entries[0].id_len, 48);
	assert_null(ctl.entries[0].friendly_name);
	assert_false(ctl.entries[0].id_is_text);
	ctl_entry_id_text(&ctl.entries[0], text, sizeof(text));
	assert_int_equal(strlen(text), 96);
	assert_memory_equal(text, "AB01000000", 10);
	assert_string_equal(ctl.subject_alg, OID_DISALLOWED_HASH);
	ctl_free(&ctl);
	OPENSSL_free(der);

	sh.attrs = A_EMPTY;
	sh.id_len = 16;
	der = build(&sh, &len);
	assert_non_null(find(der, len, (const unsigned char *)"\x30\x14\x04\x10", 4));
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_int_equal(ctl.entries[2].id_len, 16);
	ctl_free(&ctl);
	OPENSSL_free(der);
}

/* Pin rules: attribute values are INTEGERs, not OCTET STRINGs; none is refused. */
static void
attribute_values_of_any_type(void **state)
{
	static const unsigned char attr_int[] = { 0x31, 0x04, 0x02, 0x02, 0x01, 0x2C };
	struct shape sh;
	struct ctl ctl;
	unsigned char *der, *at;
	char detail[160];
	int len;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.n = 2;
	sh.attrs = A_INTEGER;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_int_equal(ctl.n_entries, 2);
	assert_null(ctl.entries[0].friendly_name);
	ctl_free(&ctl);

	/* a value's length past the end of its SET: bounded, refused */
	at = find(der, len, attr_int, sizeof(attr_int));
	assert_non_null(at);
	at[3] = 0x05;
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, detail, sizeof(detail)),
	    CTL_ERR_FIELD);
	assert_non_null(strstr(detail, "CTL entry"));
	assert_null(ctl.entries);
	OPENSSL_free(der);

	/* the friendly-name OID with a value that is not an OCTET STRING: no name */
	sh.attrs = A_FRIENDLY_INT;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_null(ctl.entries[1].friendly_name);
	ctl_free(&ctl);
	OPENSSL_free(der);
}

/* Pin rules name entries by DNS name, up to 253 bytes; the bound is 255. */
static void
long_identifiers_and_their_bound(void **state)
{
	static const int ok_lens[] = { 64, 65, 200, 253, CTL_ENTRY_ID_MAX };
	unsigned char id[CTL_ENTRY_ID_MAX + 1];
	struct shape sh;
	struct ctl ctl;
	unsigned char *der;
	char detail[160], text[CTL_ENTRY_ID_STRLEN];
	size_t i;
	int len;

	(void)state;
	memset(id, 'a', sizeof(id));
	id[0] = '.';
	memset(&sh, 0, sizeof(sh));
	sh.usage = OID_PIN_RULES_CTL;
	sh.subject_alg = OID_PIN_RULES_DOMAIN_NAME;
	sh.n = 1;
	sh.attrs = A_INTEGER;
	sh.id = id;
	for (i = 0; i < sizeof(ok_lens) / sizeof(ok_lens[0]); i++) {
		sh.id_len = ok_lens[i];
		der = build(&sh, &len);
		assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
		assert_int_equal(ctl.entries[0].id_len, (size_t)sh.id_len);
		assert_true(ctl.entries[0].id_is_text);
		assert_int_equal(strlen(ctl_entry_id_text(&ctl.entries[0], text,
		    sizeof(text))), (size_t)sh.id_len);
		ctl_free(&ctl);
		OPENSSL_free(der);
	}

	sh.id_len = CTL_ENTRY_ID_MAX + 1;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, detail, sizeof(detail)),
	    CTL_ERR_FIELD);
	assert_non_null(strstr(detail, "subjectIdentifier is 256 bytes"));
	OPENSSL_free(der);

	sh.id_len = 0;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, detail, sizeof(detail)),
	    CTL_ERR_FIELD);
	OPENSSL_free(der);
}

/* Text only for a DNS-name list, and only when every byte is printable ASCII. */
static void
which_identifiers_are_text(void **state)
{
	static const unsigned char name[] = ".files.1drv.com";
	static const unsigned char odd[] = { 'a', '.', 'b', 0x00 };
	static const unsigned char spaced[] = { 'a', ' ', 'b' };
	struct shape sh;
	struct ctl ctl;
	unsigned char *der;
	char text[CTL_ENTRY_ID_STRLEN];
	int len;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.usage = OID_PIN_RULES_CTL;
	sh.subject_alg = OID_PIN_RULES_DOMAIN_NAME;
	sh.n = 1;
	sh.attrs = A_INTEGER;
	sh.id = name;
	sh.id_len = (int)sizeof(name) - 1;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_true(ctl.entries[0].id_is_text);
	assert_string_equal(ctl_entry_id_text(&ctl.entries[0], text, sizeof(text)),
	    ".files.1drv.com");
	ctl_free(&ctl);
	OPENSSL_free(der);

	/* a NUL or a space: hex */
	sh.id = odd;
	sh.id_len = sizeof(odd);
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_false(ctl.entries[0].id_is_text);
	assert_string_equal(ctl_entry_id_text(&ctl.entries[0], text, sizeof(text)),
	    "612E6200");
	ctl_free(&ctl);
	OPENSSL_free(der);
	sh.id = spaced;
	sh.id_len = sizeof(spaced);
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_false(ctl.entries[0].id_is_text);
	ctl_free(&ctl);
	OPENSSL_free(der);

	/* printable bytes in a hash list stay hex */
	sh.subject_alg = NULL;
	sh.id = name;
	sh.id_len = (int)sizeof(name) - 1;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_false(ctl.entries[0].id_is_text);
	assert_string_equal(ctl_entry_id_text(&ctl.entries[0], text, sizeof(text)),
	    "2E66696C65732E316472762E636F6D");
	ctl_free(&ctl);
	OPENSSL_free(der);
}

/*
 * The pin-rules CTL's other fields: listIdentifier (an OCTET STRING holding
 * UTF-16LE), a bare 8-byte FILETIME sequence, nextUpdate, and ctlExtensions
 * of which one is critical (counted, not refused).
 */
static void
list_id_next_update_and_critical_extensions(void **state)
{
	static const unsigned char lid[] = {
		'P', 0, 'i', 0, 'n', 0, 'R', 0, 'u', 0, 'l', 0, 'e', 0, 's', 0,
	};
	static const unsigned char ft[] = { 0x01, 0xD6, 0xCF, 0x3F, 0x5A, 0xE9, 0xDD, 0xB8 };
	struct shape sh;
	struct ctl ctl;
	unsigned char *der;
	int len;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.usage = OID_PIN_RULES_CTL;
	sh.subject_alg = OID_PIN_RULES_DOMAIN_NAME;
	sh.seq = ft;
	sh.seq_len = sizeof(ft);
	sh.n = 1;
	sh.attrs = A_INTEGER;
	sh.list_id = lid;
	sh.list_id_len = sizeof(lid);
	sh.next_update = 1;
	sh.extensions = 1;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_true(ctl_has_usage(&ctl, OID_PIN_RULES_CTL));
	assert_true(ctl.has_list_id);
	assert_int_equal(ctl.list_id_len, sizeof(lid));
	assert_memory_equal(ctl.list_id, lid, sizeof(lid));
	assert_string_equal(ctl.sequence, "01D6CF3F5AE9DDB8");
	assert_int_equal(ctl.this_update, 1715703798);
	assert_int_equal(ctl.next_update, 1715703798 + 365 * 86400);
	assert_int_equal(ctl.n_extensions, 2);
	assert_int_equal(ctl.n_critical_extensions, 1);
	ctl_free(&ctl);
	OPENSSL_free(der);
}


/* ---- the attribute walk, names and renderings, attribute diffs ---- */

/* DER bytes being built: an attribute SET's contents, then the SET. */
struct blob {
	unsigned char b[4096];
	size_t n;
};

static void
put_tlv(struct blob *o, int tag, const unsigned char *c, size_t n)
{
	assert_true(n < 65536 && o->n + 4 + n <= sizeof(o->b));
	o->b[o->n++] = (unsigned char)tag;
	if (n < 128) {
		o->b[o->n++] = (unsigned char)n;
	} else {
		o->b[o->n++] = 0x82;
		o->b[o->n++] = (unsigned char)(n >> 8);
		o->b[o->n++] = (unsigned char)n;
	}
	if (n > 0)
		memcpy(o->b + o->n, c, n);
	o->n += n;
}

/* Appends SEQUENCE { oid, SET { vtag v } } to set. */
static void
add_attr(struct blob *set, const char *oid, int vtag, const void *v, size_t vlen)
{
	struct blob a = { .n = 0 }, vals = { .n = 0 };
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	unsigned char *der = NULL;
	int len;

	assert_non_null(obj);
	len = i2d_ASN1_OBJECT(obj, &der);
	assert_true(len > 0 && (size_t)len <= sizeof(a.b));
	memcpy(a.b, der, (size_t)len);
	a.n = (size_t)len;
	OPENSSL_free(der);
	ASN1_OBJECT_free(obj);
	put_tlv(&vals, vtag, v, vlen);
	put_tlv(&a, 0x31, vals.b, vals.n);
	put_tlv(set, 0x30, a.b, a.n);
}

/* An entry whose attrs are the SET around set's contents (malloc'd, like ctl_parse's). */
static void
entry_of(const struct blob *set, struct ctl_entry *e)
{
	struct blob all = { .n = 0 };

	memset(e, 0, sizeof(*e));
	put_tlv(&all, 0x31, set->b, set->n);
	e->attrs = malloc(all.n);
	assert_non_null(e->attrs);
	memcpy(e->attrs, all.b, all.n);
	e->attrs_len = all.n;
}

/* The DER SEQUENCE OF OID an EKU property holds. */
static size_t
eku_der(const char *const *oids, size_t n, unsigned char *out, size_t room)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	unsigned char *der = NULL;
	size_t i;
	int len;

	assert_non_null(eku);
	for (i = 0; i < n; i++)
		assert_true(sk_ASN1_OBJECT_push(eku, OBJ_txt2obj(oids[i], 1)));
	len = i2d_EXTENDED_KEY_USAGE(eku, &der);
	assert_true(len > 0 && (size_t)len <= room);
	memcpy(out, der, (size_t)len);
	OPENSSL_free(der);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return (size_t)len;
}

/* 2016-04-19T00:00:00Z as a FILETIME, and 1234.5 us later. */
static const unsigned char ft_2016[] = { 0x00, 0x00, 0x87, 0x6A, 0xCE, 0x99, 0xD1, 0x01 };
static const unsigned char ft_2016b[] = { 0x39, 0x30, 0x87, 0x6A, 0xCE, 0x99, 0xD1, 0x01 };

/* Entries from ctl_parse() keep their attribute SET; the walk reads it back. */
static void
parsed_entries_keep_their_attributes(void **state)
{
	struct shape sh;
	struct ctl ctl;
	struct ctl_cursor c, vc;
	struct ctl_attr a;
	struct ctl_value v;
	unsigned char *der;
	int len;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.n = 1;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_non_null(ctl.entries[0].attrs);
	assert_int_equal(ctl.entries[0].attrs[0], 0x31);
	assert_true(ctl_attrs_begin(&ctl.entries[0], &c));
	assert_int_equal(ctl_attr_next(&c, &a), 1);
	assert_string_equal(a.oid, OID_FRIENDLY_NAME);
	vc.p = a.values;
	vc.left = a.values_len;
	assert_int_equal(ctl_value_next(&vc, &v), 1);
	assert_int_equal(v.tag, V_ASN1_OCTET_STRING);
	assert_int_equal(v.len, sizeof(friendly));
	assert_memory_equal(v.data, friendly, sizeof(friendly));
	assert_int_equal(v.der_len, sizeof(friendly) + 2);
	assert_int_equal(ctl_value_next(&vc, &v), 0);
	assert_int_equal(ctl_attr_next(&c, &a), 0);
	ctl_free(&ctl);
	OPENSSL_free(der);

	/* pin rules: two INTEGER-valued attributes */
	sh.attrs = A_INTEGER;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_true(ctl_attrs_begin(&ctl.entries[0], &c));
	assert_int_equal(ctl_attr_next(&c, &a), 1);
	assert_string_equal(a.oid, "1.3.6.1.4.1.311.10.4.2");
	vc.p = a.values;
	vc.left = a.values_len;
	assert_int_equal(ctl_value_next(&vc, &v), 1);
	assert_int_equal(v.tag, V_ASN1_INTEGER);
	assert_int_equal(ctl_attr_next(&c, &a), 1);
	assert_string_equal(a.oid, "1.3.6.1.4.1.311.10.4.3");
	assert_int_equal(ctl_attr_next(&c, &a), 0);
	ctl_free(&ctl);
	OPENSSL_free(der);

	/* disallowed: no SET, an empty walk; an empty SET, the same */
	sh.attrs = A_ABSENT;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_null(ctl.entries[0].attrs);
	assert_int_equal(ctl.entries[0].attrs_len, 0);
	assert_true(ctl_attrs_begin(&ctl.entries[0], &c));
	assert_int_equal(ctl_attr_next(&c, &a), 0);
	ctl_free(&ctl);
	OPENSSL_free(der);
	sh.attrs = A_EMPTY;
	der = build(&sh, &len);
	assert_int_equal(ctl_parse(der, (size_t)len, &ctl, NULL, 0), CTL_OK);
	assert_int_equal(ctl.entries[0].attrs_len, 2);
	assert_true(ctl_attrs_begin(&ctl.entries[0], &c));
	assert_int_equal(ctl_attr_next(&c, &a), 0);
	ctl_free(&ctl);
	OPENSSL_free(der);
}

/*
 * The walk trusts no length: every truncation of a valid SET, each copied
 * into a buffer of exactly its size (so ASan sees any read past it), fails
 * at ctl_attrs_begin(), and damaged insides give -1.
 */
static void
attribute_walk_is_bounded(void **state)
{
	struct blob set = { .n = 0 };
	struct ctl_entry e, t;
	struct ctl_cursor c;
	struct ctl_attr a;
	size_t cut;
	int r, n;

	(void)state;
	add_attr(&set, OID_FRIENDLY_NAME, V_ASN1_OCTET_STRING, friendly, sizeof(friendly));
	add_attr(&set, OID_PROP_DISALLOWED, V_ASN1_OCTET_STRING, ft_2016, sizeof(ft_2016));
	entry_of(&set, &e);
	assert_true(ctl_attrs_begin(&e, &c));
	for (n = 0; (r = ctl_attr_next(&c, &a)) == 1; n++)
		;
	assert_int_equal(r, 0);
	assert_int_equal(n, 2);
	for (cut = 1; cut < e.attrs_len; cut++) {
		memset(&t, 0, sizeof(t));
		t.attrs = malloc(cut);
		assert_non_null(t.attrs);
		memcpy(t.attrs, e.attrs, cut);
		t.attrs_len = cut;
		assert_false(ctl_attrs_begin(&t, &c));
		free(t.attrs);
	}
	/* a SET whose first attribute claims more than it holds */
	e.attrs[3] = 0x7f;
	assert_true(ctl_attrs_begin(&e, &c));
	assert_int_equal(ctl_attr_next(&c, &a), -1);
	/* an attribute without its SET of values */
	{
		static const unsigned char bad[] = { 0x31, 0x05, 0x30, 0x03, 0x06, 0x01, 0x2a };
		static const unsigned char trail[] = {
			0x31, 0x09, 0x30, 0x07, 0x06, 0x01, 0x2a, 0x31, 0x00, 0x05, 0x00,
		};
		static const unsigned char junk_value[] = {
			0x31, 0x08, 0x30, 0x06, 0x06, 0x01, 0x2a, 0x31, 0x01, 0x04,
		};

		t.attrs = (unsigned char *)bad;
		t.attrs_len = sizeof(bad);
		assert_true(ctl_attrs_begin(&t, &c));
		assert_int_equal(ctl_attr_next(&c, &a), -1);
		t.attrs = (unsigned char *)trail;
		t.attrs_len = sizeof(trail);
		assert_true(ctl_attrs_begin(&t, &c));
		assert_int_equal(ctl_attr_next(&c, &a), -1);
		t.attrs = (unsigned char *)junk_value;
		t.attrs_len = sizeof(junk_value);
		assert_true(ctl_attrs_begin(&t, &c));
		assert_int_equal(ctl_attr_next(&c, &a), -1);
	}
	free(e.attrs);
}

/* Renders the first attribute of set. */
static const char *
render_first(const struct blob *set, char *buf, size_t len)
{
	struct ctl_entry e;
	struct ctl_cursor c;
	struct ctl_attr a;

	entry_of(set, &e);
	assert_true(ctl_attrs_begin(&e, &c));
	assert_int_equal(ctl_attr_next(&c, &a), 1);
	ctlattr_render(&a, buf, len);
	free(e.attrs);
	return buf;
}

static void
names_and_renderings(void **state)
{
	static const char *const usages[] = {
		"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.3", "1.2.3.4.5",
	};
	static const unsigned char quoted[] = {
		'a', 0, '"', 0, '\\', 0, '\n', 0, 0xe9, 0, 0, 0,
	};
	unsigned char eku[128], big[200];
	char buf[CTLATTR_TEXT_MAX], small[12];
	struct blob set;
	size_t n, i;

	(void)state;
	assert_string_equal(ctlattr_name(OID_PROP_EKU), "EKU restrictions");
	assert_string_equal(ctlattr_name(OID_PROP_DISALLOWED), "disallowed since");
	assert_string_equal(ctlattr_name(OID_PROP_NOT_BEFORE), "notBefore");
	assert_string_equal(ctlattr_name(OID_PROP_NOT_BEFORE_EKU), "notBefore EKU");
	assert_string_equal(ctlattr_name(OID_FRIENDLY_NAME), "friendly name");
	assert_null(ctlattr_name("1.3.6.1.4.1.311.10.11.105"));
	assert_null(ctlattr_name("1.3.6.1.4.1.311.10.11.122"));
	assert_string_equal(ctlattr_eku_name("1.3.6.1.5.5.7.3.8"), "time stamping");
	assert_null(ctlattr_eku_name("1.2.3.4.5"));

	n = eku_der(usages, 3, eku, sizeof(eku));
	set.n = 0;
	add_attr(&set, OID_PROP_EKU, V_ASN1_OCTET_STRING, eku, n);
	assert_string_equal(render_first(&set, buf, sizeof(buf)),
	    "1.3.6.1.5.5.7.3.1 (server auth), 1.3.6.1.5.5.7.3.3 (code signing), 1.2.3.4.5");

	set.n = 0;
	add_attr(&set, OID_PROP_NOT_BEFORE, V_ASN1_OCTET_STRING, ft_2016, sizeof(ft_2016));
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "2016-04-19T00:00:00Z");
	/* not 8 bytes: hex */
	set.n = 0;
	add_attr(&set, OID_PROP_DISALLOWED, V_ASN1_OCTET_STRING, ft_2016, 7);
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "0000876ACE99D1");
	/* past year 9999: hex */
	set.n = 0;
	memset(big, 0xff, 8);
	add_attr(&set, OID_PROP_DISALLOWED, V_ASN1_OCTET_STRING, big, 8);
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "FFFFFFFFFFFFFFFF");

	set.n = 0;
	add_attr(&set, OID_FRIENDLY_NAME, V_ASN1_OCTET_STRING, quoted, sizeof(quoted));
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "\"a\\\"\\\\\\x0A\xc3\xa9\"");

	/* an unknown property: hex of the contents */
	set.n = 0;
	add_attr(&set, "1.3.6.1.4.1.311.10.11.105", V_ASN1_OCTET_STRING, "\x30\x00", 2);
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "3000");
	/* an EKU property that is not a SEQUENCE OF OID: hex */
	set.n = 0;
	add_attr(&set, OID_PROP_EKU, V_ASN1_OCTET_STRING, "\x01\x02", 2);
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "0102");
	/* a value that is not an OCTET STRING: its whole DER */
	set.n = 0;
	add_attr(&set, OID_PROP_NOT_BEFORE, V_ASN1_INTEGER, "\x05", 1);
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "020105");

	/* long values: the first bytes, the size and a digest prefix */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)i;
	set.n = 0;
	add_attr(&set, OID_PROP_ROOT_PROGRAM, V_ASN1_OCTET_STRING, big, sizeof(big));
	render_first(&set, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "000102030405060708090A0B0C0D0E0F"
	    "101112131415161718191A1B1C1D1E1F... (200 bytes, SHA-256 ", 88), 0);
	assert_int_equal(strlen(buf), 88 + 16 + 1);	/* 8 digest bytes and ")" */
	big[199] ^= 1;	/* differs past what is shown: the digest tells them apart */
	{
		char other[CTLATTR_TEXT_MAX];

		set.n = 0;
		add_attr(&set, OID_PROP_ROOT_PROGRAM, V_ASN1_OCTET_STRING, big, sizeof(big));
		assert_string_not_equal(render_first(&set, other, sizeof(other)), buf);
	}

	/* a small buffer: cut on a character boundary, "..." at the end */
	set.n = 0;
	add_attr(&set, OID_FRIENDLY_NAME, V_ASN1_OCTET_STRING, friendly, sizeof(friendly));
	assert_string_equal(render_first(&set, small, sizeof(small)), "\"Test Ro...");
	assert_string_equal(render_first(&set, buf, sizeof(buf)), "\"Test Root\xc3\xa9\"");
	assert_string_equal(render_first(&set, small, 1), "");
	/* the cut falls inside the two bytes of e-acute: both dropped */
	{
		char eleven[15];

		assert_string_equal(render_first(&set, eleven, sizeof(eleven)), "\"Test Root...");
	}

	/* two values; none */
	{
		struct blob a = { .n = 0 }, vals = { .n = 0 }, s2 = { .n = 0 };
		ASN1_OBJECT *obj = OBJ_txt2obj(OID_PROP_KEY_ID, 1);
		unsigned char *der = NULL;
		int len = i2d_ASN1_OBJECT(obj, &der);

		memcpy(a.b, der, (size_t)len);
		a.n = (size_t)len;
		put_tlv(&vals, V_ASN1_OCTET_STRING, (const unsigned char *)"\xab", 1);
		put_tlv(&vals, V_ASN1_OCTET_STRING, (const unsigned char *)"\xcd", 1);
		put_tlv(&a, 0x31, vals.b, vals.n);
		put_tlv(&s2, 0x30, a.b, a.n);
		assert_string_equal(render_first(&s2, buf, sizeof(buf)), "AB; CD");
		a.n = (size_t)len;
		put_tlv(&a, 0x31, NULL, 0);
		s2.n = 0;
		put_tlv(&s2, 0x30, a.b, a.n);
		assert_string_equal(render_first(&s2, buf, sizeof(buf)), "(none)");
		OPENSSL_free(der);
		ASN1_OBJECT_free(obj);
	}
}

/* What a diff callback saw: "oid|old|new" per change, old/new "-" when absent. */
struct seen {
	char lines[8][CTLATTR_TEXT_MAX * 2 + CTL_OID_MAX];
	size_t n;
};

static void
record(void *ctx, const struct ctl_attr *from, const struct ctl_attr *to)
{
	struct seen *s = ctx;
	char o[CTLATTR_TEXT_MAX] = "-", n[CTLATTR_TEXT_MAX] = "-";

	assert_true(s->n < 8);
	if (from != NULL)
		ctlattr_render(from, o, sizeof(o));
	if (to != NULL)
		ctlattr_render(to, n, sizeof(n));
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s|%s|%s",
	    (to != NULL ? to : from)->oid, o, n);
}

static void
diff_names_each_changed_attribute(void **state)
{
	static const char *const one[] = { "1.3.6.1.5.5.7.3.1" };
	static const char *const two[] = { "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.3" };
	unsigned char eku1[64], eku2[64];
	size_t n1, n2, n;
	struct blob sa = { .n = 0 }, sb = { .n = 0 };
	struct ctl_entry a, b, bad;
	struct seen s;

	(void)state;
	n1 = eku_der(one, 1, eku1, sizeof(eku1));
	n2 = eku_der(two, 2, eku2, sizeof(eku2));
	/* a: name, EKU, 105, notBefore; b: the same name and 105 in another order, EKU grown, disallowed added, notBefore gone */
	add_attr(&sa, OID_FRIENDLY_NAME, V_ASN1_OCTET_STRING, friendly, sizeof(friendly));
	add_attr(&sa, OID_PROP_EKU, V_ASN1_OCTET_STRING, eku1, n1);
	add_attr(&sa, "1.3.6.1.4.1.311.10.11.105", V_ASN1_OCTET_STRING, "\x30\x00", 2);
	add_attr(&sa, OID_PROP_NOT_BEFORE, V_ASN1_OCTET_STRING, ft_2016, 8);
	add_attr(&sb, "1.3.6.1.4.1.311.10.11.105", V_ASN1_OCTET_STRING, "\x30\x00", 2);
	add_attr(&sb, OID_PROP_DISALLOWED, V_ASN1_OCTET_STRING, ft_2016b, 8);
	add_attr(&sb, OID_PROP_EKU, V_ASN1_OCTET_STRING, eku2, n2);
	add_attr(&sb, OID_FRIENDLY_NAME, V_ASN1_OCTET_STRING, friendly, sizeof(friendly));
	entry_of(&sa, &a);
	entry_of(&sb, &b);

	memset(&s, 0, sizeof(s));
	assert_int_equal(ctlattr_diff(&a, &b, record, &s, &n), CTLATTR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(s.n, 3);
	/* in OID order: .9, .104, .126 */
	assert_string_equal(s.lines[0], OID_PROP_EKU "|1.3.6.1.5.5.7.3.1 (server auth)|"
	    "1.3.6.1.5.5.7.3.1 (server auth), 1.3.6.1.5.5.7.3.3 (code signing)");
	assert_string_equal(s.lines[1], OID_PROP_DISALLOWED "|-|2016-04-19T00:00:00Z");
	assert_string_equal(s.lines[2], OID_PROP_NOT_BEFORE "|2016-04-19T00:00:00Z|-");

	/* the other way round, and an entry against itself */
	memset(&s, 0, sizeof(s));
	assert_int_equal(ctlattr_diff(&b, &a, record, &s, &n), CTLATTR_OK);
	assert_int_equal(n, 3);
	assert_string_equal(s.lines[1], OID_PROP_DISALLOWED "|2016-04-19T00:00:00Z|-");
	memset(&s, 0, sizeof(s));
	assert_int_equal(ctlattr_diff(&a, &a, record, &s, &n), CTLATTR_OK);
	assert_int_equal(n, 0);

	/* no attributes at all (disallowed) against some: all added */
	memset(&bad, 0, sizeof(bad));
	memset(&s, 0, sizeof(s));
	assert_int_equal(ctlattr_diff(&bad, &a, record, &s, &n), CTLATTR_OK);
	assert_int_equal(n, 4);
	assert_string_equal(s.lines[0], OID_PROP_EKU "|-|1.3.6.1.5.5.7.3.1 (server auth)");

	/* malformed bytes: an error, and no call */
	bad.attrs = (unsigned char *)"\x31\x05\x30\x03\x06\x01\x2a";
	bad.attrs_len = 7;
	memset(&s, 0, sizeof(s));
	assert_int_equal(ctlattr_diff(&a, &bad, record, &s, &n), CTLATTR_MALFORMED);
	assert_int_equal(s.n, 0);
	assert_string_equal(ctlattr_strerror(CTLATTR_MALFORMED), "malformed attributes");
	free(a.attrs);
	free(b.attrs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_fields),
		cmocka_unit_test(entries_can_be_taken),
		cmocka_unit_test(every_truncation_fails_cleanly),
		cmocka_unit_test(refuses_trailing_bytes_and_garbage),
		cmocka_unit_test(refuses_bad_sequence_numbers),
		cmocka_unit_test(absent_and_empty_attribute_sets),
		cmocka_unit_test(attribute_values_of_any_type),
		cmocka_unit_test(long_identifiers_and_their_bound),
		cmocka_unit_test(which_identifiers_are_text),
		cmocka_unit_test(list_id_next_update_and_critical_extensions),
		cmocka_unit_test(parsed_entries_keep_their_attributes),
		cmocka_unit_test(attribute_walk_is_bounded),
		cmocka_unit_test(names_and_renderings),
		cmocka_unit_test(diff_names_each_changed_attribute),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
