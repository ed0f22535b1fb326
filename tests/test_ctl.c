/* test_ctl.c - CertificateTrustList parsing: fields, bounds, damaged input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/objects.h>

#include "verify/ctl.h"
#include "verify/ctl_asn1.h"

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

/* A CTL with n entries; usage and sequence bytes as given. Returns malloc'd DER. */
static unsigned char *
make_ctl(const char *usage, const unsigned char *seq, int seq_len, int n,
    int *len)
{
	CTL_ASN1 *c = CTL_ASN1_new();
	unsigned char *der = NULL;
	int i;

	assert_non_null(c);
	assert_true(sk_ASN1_OBJECT_push(c->subject_usage, OBJ_txt2obj(usage, 1)));
	if (seq != NULL) {
		c->sequence = ASN1_INTEGER_new();
		assert_true(ASN1_STRING_set(c->sequence, seq, seq_len));
	}
	assert_true(ASN1_TIME_set_string(c->this_update, "240514162318Z"));
	X509_ALGOR_set0(c->subject_alg, OBJ_nid2obj(NID_sha1), V_ASN1_NULL, NULL);
	c->entries = sk_CTL_ENTRY_ASN1_new_null();
	for (i = 0; i < n; i++) {
		CTL_ENTRY_ASN1 *e = CTL_ENTRY_ASN1_new();
		unsigned char id[20];

		memset(id, i, sizeof(id));
		assert_true(ASN1_OCTET_STRING_set(e->id, id, sizeof(id)));
		e->attrs = sk_X509_ATTRIBUTE_new_null();
		assert_true(sk_X509_ATTRIBUTE_push(e->attrs,
		    octet_attr(OID_FRIENDLY_NAME, friendly, sizeof(friendly))));
		assert_true(sk_CTL_ENTRY_ASN1_push(c->entries, e));
	}
	*len = i2d_CTL_ASN1(c, &der);
	assert_true(*len > 0);
	CTL_ASN1_free(c);
	return der;
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_fields),
		cmocka_unit_test(entries_can_be_taken),
		cmocka_unit_test(every_truncation_fails_cleanly),
		cmocka_unit_test(refuses_trailing_bytes_and_garbage),
		cmocka_unit_test(refuses_bad_sequence_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
