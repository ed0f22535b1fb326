/*
 * test_verify.c - vfy_verify() over every forged case in cases.tsv, plus the
 * properties that hold for any input: pins decide trust, time is a parameter,
 * and no changed CTL content ever verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tests/testutil.h"
#include "verify/isotime.h"
#include "verify/verify.h"

static const char *fixtures;

/* Anchors from the fixture PKI; with_pins = 0 leaves only the built-in Microsoft pins. */
static void
load_anchors(struct anchors *a, int with_pins)
{
	static const char *files[] = { "anchors/root.pem", "anchors/legacy-root.pem" };
	unsigned char *buf;
	size_t len, i, added, total = 0;
	char *line, *save = NULL;

	assert_int_equal(anchors_init(a), ANCHORS_OK);
	if (with_pins) {
		buf = test_read(fixtures, "pins.txt", &len);
		buf[len] = '\0';
		for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			assert_int_equal(anchors_add_pin(a, line), ANCHORS_OK);
		free(buf);
	}
	for (i = 0; i < 2; i++) {
		buf = test_read(fixtures, files[i], &len);
		assert_int_equal(anchors_offer(a, buf, len, &added), ANCHORS_OK);
		total += added;
		free(buf);
	}
	assert_int_equal(total, with_pins ? 2 : 0);
}

static enum vfy_reason
verify_with(const char *file, const char *kind, const char *at,
    const struct anchors *a, int keep_entries, int require_cab,
    struct verdict *v)
{
	struct vfy_params p;
	unsigned char *buf;
	size_t len;
	enum vfy_reason rc;

	memset(&p, 0, sizeof(p));
	p.kind = kind ? ctl_kind_parse(kind) : KIND_UNKNOWN;
	assert_true(isotime_parse(at, &p.at));
	p.anchors = a;
	p.keep_entries = keep_entries;
	p.require_cab = require_cab;
	buf = test_read(fixtures, file, &len);
	rc = vfy_verify(buf, len, &p, v);
	free(buf);
	assert_int_equal(rc, v->reason);
	return rc;
}

static enum vfy_reason
verify_file(const char *file, const char *kind, const char *at,
    const struct anchors *a, struct verdict *v)
{
	return verify_with(file, kind, at, a, 0, 0, v);
}

/* The DER SHA-256 of the first certificate of a PEM fixture, upper-case hex. */
static void
pem_sha256(const char *file, unsigned char md[32], char hex[65])
{
	unsigned char *buf;
	size_t len, i;
	unsigned int mdlen;
	BIO *bio;
	X509 *x;

	buf = test_read(fixtures, file, &len);
	bio = BIO_new_mem_buf(buf, (int)len);
	assert_non_null(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(x);
	assert_true(X509_digest(x, EVP_sha256(), md, &mdlen));
	assert_int_equal(mdlen, 32);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02X", md[i]);
	X509_free(x);
	BIO_free(bio);
	free(buf);
}

static void
every_forged_case_gets_its_verdict(void **state)
{
	struct anchors a;
	unsigned char *tsv;
	size_t len, n = 0;
	char *line, *save = NULL;

	(void)state;
	load_anchors(&a, 1);
	tsv = test_read(fixtures, "cases.tsv", &len);
	tsv[len] = '\0';
	strtok_r((char *)tsv, "\n", &save);	/* the header line */
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *f[12], *s2 = NULL, *tok;
		struct verdict v;
		char when[ISOTIME_LEN];
		int i = 0;

		for (tok = strtok_r(line, "\t", &s2); tok != NULL && i < 12;
		    tok = strtok_r(NULL, "\t", &s2))
			f[i++] = tok;
		if (i != 12) {
			fail_msg("cases.tsv: %d fields, want 12", i);
			break;	/* not reached: the analyzer does not know fail_msg ends the test */
		}
		verify_file(f[1], f[2], f[3], &a, &v);
		if (strcmp(vfy_reason_str(v.reason), f[4]) != 0)
			fail_msg("case %s: got %s (%s), want %s", f[0],
			    vfy_reason_str(v.reason), v.detail, f[4]);
		if (strcmp(f[5], "-") != 0)
			assert_string_equal(v.sequence, f[5]);
		if (strcmp(f[6], "-") != 0)
			assert_string_equal(isotime_format(v.this_update, when, sizeof(when)), f[6]);
		if (strcmp(f[7], "-") != 0)
			assert_int_equal(v.n_entries, strtoul(f[7], NULL, 10));
		if (strcmp(f[8], "-") != 0) {
			assert_true(v.has_timestamp);
			assert_string_equal(isotime_format(v.timestamp, when, sizeof(when)), f[8]);
		}
		if (strcmp(f[9], "-") != 0)
			assert_int_equal(v.nested_signatures, strtoul(f[9], NULL, 10));
		if (strcmp(f[10], "-") != 0)
			assert_string_equal(isotime_format(v.next_update, when, sizeof(when)), f[10]);
		else if (strcmp(f[5], "-") != 0)
			assert_int_equal(v.next_update, 0);
		if (strcmp(f[11], "-") != 0 && strstr(v.detail, f[11]) == NULL)
			fail_msg("case %s: detail '%s' lacks '%s'", f[0], v.detail, f[11]);
		if (v.reason == VFY_OK) {
			assert_true(v.has_chain);
			assert_non_null(v.signer);
			assert_true(v.content_digest_len >= 20);
		}
		if (v.reason == VFY_EXPIRED || v.reason == VFY_NOT_YET_VALID)
			assert_non_null(v.out_of_validity);
		assert_true(v.detail[0] != '\0');
		verdict_free(&v);
		n++;
	}
	assert_true(n >= 20);
	free(tsv);
	anchors_free(&a);
}

static void
unpinned_anchors_are_ignored(void **state)
{
	struct anchors a;
	struct verdict v;

	(void)state;
	load_anchors(&a, 0);
	assert_int_equal(verify_file("cases/authroot-ok.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_NO_CHAIN);
	/* the facts read before the failing step are still reported */
	assert_true(v.n_entries > 0);
	assert_true(v.sequence[0] != '\0');
	verdict_free(&v);
	anchors_free(&a);
}

static void
time_is_a_parameter(void **state)
{
	struct anchors a;
	struct verdict v;

	(void)state;
	load_anchors(&a, 1);
	assert_int_equal(verify_file("cases/authroot-ok.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
	verdict_free(&v);
	assert_int_equal(verify_file("cases/authroot-ok.cab", "authroot",
	    "2025-06-01T00:00:00Z", &a, &v), VFY_EXPIRED);
	verdict_free(&v);
	assert_int_equal(verify_file("cases/authroot-ok.cab", "authroot",
	    "2023-06-01T00:00:00Z", &a, &v), VFY_NOT_YET_VALID);
	verdict_free(&v);
	/* the window's edges are inside it */
	assert_int_equal(verify_file("cases/authroot-ok.cab", "authroot",
	    "2024-01-01T00:00:00Z", &a, &v), VFY_OK);
	verdict_free(&v);
	/* a verified timestamp replaces T, long after the signer expired */
	assert_int_equal(verify_file("cases/timestamped-ok.cab", "authroot",
	    "2039-01-01T00:00:00Z", &a, &v), VFY_OK);
	assert_true(v.timestamp_verified);
	assert_int_equal(v.verified_at, v.timestamp);
	verdict_free(&v);
	anchors_free(&a);
}

/*
 * Step 6: only a time-stamping certificate's countersignature fixes the time.
 * timestamp-no-eku is timestamped-ok countersigned, validly and at the same
 * time, by a certificate of the test PKI without id-kp-timeStamping: its
 * time must not count, so after the signer's chain expired it is EXPIRED.
 */
static void
countersigner_needs_time_stamping_eku(void **state)
{
	static const char *after = "2039-01-01T00:00:00Z";
	struct anchors a;
	struct verdict v;
	time_t t;

	(void)state;
	assert_true(isotime_parse(after, &t));
	load_anchors(&a, 1);
	assert_int_equal(verify_file("cases/timestamped-ok.cab", "authroot",
	    after, &a, &v), VFY_OK);
	assert_true(v.has_timestamp);
	assert_true(v.timestamp_verified);
	assert_string_equal(v.timestamp_detail, "");
	verdict_free(&v);

	assert_int_equal(verify_file("cases/timestamp-no-eku.cab", "authroot",
	    after, &a, &v), VFY_EXPIRED);
	assert_true(v.has_chain);
	assert_true(v.chain_valid_to < t);
	assert_true(v.has_timestamp);
	assert_false(v.timestamp_verified);
	assert_int_equal(v.verified_at, t);
	assert_non_null(strstr(v.timestamp_detail, "1.3.6.1.5.5.7.3.8"));
	assert_non_null(strstr(v.timestamp_detail, "(no EKU)"));
	/* the reason a reader sees says why the timestamp did not save it */
	assert_non_null(strstr(v.detail, "1.3.6.1.5.5.7.3.8"));
	verdict_free(&v);

	/* inside its chain's window the file is fine, the timestamp still unused */
	assert_int_equal(verify_file("cases/timestamp-no-eku.cab", "authroot",
	    "2020-06-01T12:00:00Z", &a, &v), VFY_OK);
	assert_false(v.timestamp_verified);
	assert_non_null(strstr(v.timestamp_detail, "1.3.6.1.5.5.7.3.8"));
	verdict_free(&v);
	anchors_free(&a);
}

/*
 * docs/verify.md, step 5: one signer EKU (10.3.9, or 10.3.31) for every kind; the
 * kind is told by subjectUsage and the member name. The same publisher signs
 * the three forged lists, as Microsoft's does.
 */
static void
one_signer_signs_every_kind(void **state)
{
	static const struct {
		const char *file, *kind;
	} lists[] = {
		{ "cases/authroot-ok.cab", "authroot" },
		{ "cases/disallowed-ok.cab", "disallowed" },
		{ "cases/disallowed-sha256.cab", "disallowed" },
		{ "cases/pinrules-ok.cab", "pinrules" },
	};
	struct anchors a;
	struct verdict v;
	char *first = NULL;
	size_t i;

	(void)state;
	load_anchors(&a, 1);
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		/* given the kind, and told by the member name */
		assert_int_equal(verify_file(lists[i].file, lists[i].kind,
		    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
		verdict_free(&v);
		assert_int_equal(verify_file(lists[i].file, NULL,
		    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
		assert_string_equal(ctl_kind_str(v.kind), lists[i].kind);
		assert_non_null(v.signer);
		if (first == NULL)
			first = strdup(v.signer);
		else
			assert_string_equal(v.signer, first);
		verdict_free(&v);
	}
	free(first);

	/* a bare .stl: the kind from subjectUsage alone */
	assert_int_equal(verify_file("cases/disallowed-stl-as-pinrules.stl", NULL,
	    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
	assert_int_equal(v.kind, KIND_DISALLOWED);
	verdict_free(&v);
	assert_int_equal(verify_file("cases/pinrules-stl-as-authroot.stl", NULL,
	    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
	assert_int_equal(v.kind, KIND_PINRULES);
	verdict_free(&v);

	/* member named disallowedcert.stl, subjectUsage of the pin rules */
	assert_int_equal(verify_file("cases/pinrules-renamed.cab", NULL,
	    "2024-06-01T00:00:00Z", &a, &v), VFY_WRONG_USAGE);
	assert_int_equal(v.kind, KIND_DISALLOWED);
	assert_non_null(strstr(v.detail, "1.3.6.1.4.1.311.10.3.32 (the pinrules list)"));
	assert_non_null(strstr(v.detail, "CAB member's name"));
	verdict_free(&v);

	/* another kind's cab: refused by its member's name */
	assert_int_equal(verify_file("cases/pinrules-ok.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_CAB_MALFORMED);
	assert_non_null(strstr(v.detail, "pinrules.stl"));
	verdict_free(&v);
	anchors_free(&a);
}

/* The real pin-rules list is served long after its signer expired. */
static void
pin_rules_facts_and_expiry(void **state)
{
	struct anchors a;
	struct verdict v;

	(void)state;
	load_anchors(&a, 1);
	assert_int_equal(verify_file("cases/pinrules-ok.cab", "pinrules",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
	assert_int_equal(v.next_update - v.this_update, 365 * 86400);
	assert_string_equal(v.digest_alg, "sha1");
	assert_int_equal(v.nested_signatures, 1);
	assert_int_equal(strlen(v.sequence), 16);	/* a bare FILETIME */
	verdict_free(&v);
	assert_int_equal(verify_file("cases/pinrules-ok.cab", "pinrules",
	    "2025-06-01T00:00:00Z", &a, &v), VFY_EXPIRED);
	assert_true(v.has_chain);
	assert_non_null(v.out_of_validity);
	verdict_free(&v);
	anchors_free(&a);
}

/* Every printer shows identifiers by ctl_entry_id_text(): hex for hashes, text for DNS names. */
static void
entry_identifiers_print_by_kind(void **state)
{
	struct anchors a;
	struct verdict v;
	char text[CTL_ENTRY_ID_STRLEN], small[8];
	size_t i, n16 = 0, n48 = 0, longest = 0;

	(void)state;
	load_anchors(&a, 1);
	assert_int_equal(verify_with("cases/authroot-ok.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, 1, 0, &v), VFY_OK);
	assert_non_null(v.entries);
	for (i = 0; i < v.n_entries; i++) {
		assert_int_equal(v.entries[i].id_len, 20);
		assert_false(v.entries[i].id_is_text);
		ctl_entry_id_text(&v.entries[i], text, sizeof(text));
		assert_int_equal(strlen(text), 40);
		assert_int_equal(strspn(text, "0123456789ABCDEF"), 40);
	}
	verdict_free(&v);

	assert_int_equal(verify_with("cases/disallowed-ok.cab", "disallowed",
	    "2024-06-01T00:00:00Z", &a, 1, 0, &v), VFY_OK);
	for (i = 0; i < v.n_entries; i++) {
		assert_false(v.entries[i].id_is_text);
		assert_null(v.entries[i].friendly_name);
		ctl_entry_id_text(&v.entries[i], text, sizeof(text));
		assert_int_equal(strlen(text), 2 * v.entries[i].id_len);
		assert_int_equal(strspn(text, "0123456789ABCDEF"), strlen(text));
		n16 += v.entries[i].id_len == 16;
		n48 += v.entries[i].id_len == 48;
	}
	assert_true(n16 > 0 && n48 > 0 && n16 + n48 == v.n_entries);
	verdict_free(&v);

	assert_int_equal(verify_with("cases/pinrules-ok.cab", "pinrules",
	    "2024-06-01T00:00:00Z", &a, 1, 0, &v), VFY_OK);
	assert_true(v.n_entries >= 3);
	for (i = 0; i < v.n_entries; i++) {
		assert_true(v.entries[i].id_is_text);
		ctl_entry_id_text(&v.entries[i], text, sizeof(text));
		assert_int_equal(strlen(text), v.entries[i].id_len);
		assert_memory_equal(text, v.entries[i].id, v.entries[i].id_len);
		if (v.entries[i].id_len > longest)
			longest = v.entries[i].id_len;
	}
	assert_string_equal(ctl_entry_id_text(&v.entries[0], text, sizeof(text)),
	    ".files.1drv.com");
	assert_int_equal(longest, 253);
	/* a short buffer truncates, always NUL-terminated */
	assert_string_equal(ctl_entry_id_text(&v.entries[0], small, sizeof(small)),
	    ".files.");
	verdict_free(&v);
	anchors_free(&a);
}

/* vfy_params.require_cab: what the upstream serves must be a CAB. */
static void
require_cab_refuses_a_bare_stl(void **state)
{
	struct anchors a;
	struct verdict v;

	(void)state;
	load_anchors(&a, 1);
	assert_int_equal(verify_with("cases/bare-stl.stl", "authroot",
	    "2024-06-01T00:00:00Z", &a, 0, 0, &v), VFY_OK);
	verdict_free(&v);
	assert_int_equal(verify_with("cases/bare-stl.stl", "authroot",
	    "2024-06-01T00:00:00Z", &a, 0, 1, &v), VFY_CAB_MALFORMED);
	assert_string_equal(v.detail, "not a CAB file (no MSCF signature)");
	assert_int_equal(v.this_update, 0);	/* refused before anything else */
	verdict_free(&v);
	assert_int_equal(verify_with("cases/garbage.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, 0, 1, &v), VFY_CAB_MALFORMED);
	assert_string_equal(v.detail, "not a CAB file (no MSCF signature)");
	verdict_free(&v);
	assert_int_equal(verify_with("cases/authroot-ok.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, 0, 1, &v), VFY_OK);
	verdict_free(&v);
	anchors_free(&a);
}

/*
 * An unknown root (Microsoft may move list signing to a new one): the
 * verdict names it, by subject and SHA-256, with the config line that would
 * trust it; and that pin, with its certificate, does.
 */
static void
untrusted_root_says_how_to_trust_it(void **state)
{
	struct anchors a;
	struct verdict v;
	unsigned char md[32], *buf;
	char hex[65], line[96];
	size_t len, added;

	(void)state;
	pem_sha256("untrusted/root.pem", md, hex);
	snprintf(line, sizeof(line), "'anchor_pin = %s'", hex);
	load_anchors(&a, 1);
	assert_int_equal(verify_file("cases/untrusted-root.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_UNTRUSTED_ROOT);
	assert_true(v.has_untrusted_root);
	assert_non_null(v.untrusted_root);
	assert_non_null(strstr(v.untrusted_root, "CN=ctlmirror Test Root"));
	assert_memory_equal(v.untrusted_root_sha256, md, 32);
	assert_non_null(strstr(v.detail, line));
	/* ...early enough that a record keeping 255 bytes of detail keeps it */
	assert_true(strstr(v.detail, line) - v.detail + strlen(line) < 256);
	assert_non_null(strstr(v.detail, "CN=ctlmirror Test Root"));
	assert_non_null(strstr(v.detail, "anchors directory"));
	assert_false(v.has_chain);
	verdict_free(&v);
	anchors_free(&a);

	/* other failures say nothing of a root */
	load_anchors(&a, 1);
	assert_int_equal(verify_file("cases/missing-intermediate.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_NO_CHAIN);
	assert_false(v.has_untrusted_root);
	assert_null(v.untrusted_root);
	verdict_free(&v);
	assert_int_equal(verify_file("cases/authroot-ok.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
	assert_false(v.has_untrusted_root);
	verdict_free(&v);
	anchors_free(&a);

	/* doing what the detail says makes the file verify */
	assert_int_equal(anchors_init(&a), ANCHORS_OK);
	assert_int_equal(anchors_add_pin(&a, hex), ANCHORS_OK);
	buf = test_read(fixtures, "untrusted/root.pem", &len);
	assert_int_equal(anchors_offer(&a, buf, len, &added), ANCHORS_OK);
	assert_int_equal(added, 1);
	free(buf);
	assert_int_equal(verify_file("cases/untrusted-root.cab", "authroot",
	    "2024-06-01T00:00:00Z", &a, &v), VFY_OK);
	assert_false(v.has_untrusted_root);
	verdict_free(&v);
	anchors_free(&a);
}

static void
no_changed_content_verifies(void **state)
{
	struct anchors a;
	struct vfy_params p;
	struct verdict v, orig;
	unsigned char *buf;
	size_t len, i;

	(void)state;
	load_anchors(&a, 1);
	memset(&p, 0, sizeof(p));
	p.kind = KIND_AUTHROOT;
	p.anchors = &a;
	assert_true(isotime_parse("2024-06-01T00:00:00Z", &p.at));
	buf = test_read(fixtures, "cases/bare-stl.stl", &len);
	assert_int_equal(vfy_verify(buf, len, &p, &orig), VFY_OK);
	/*
	 * Some bytes lie outside what is signed (e.g. the SignedData version);
	 * flipping those may still verify, but then the CTL must be unchanged.
	 */
	for (i = 0; i < len; i++) {
		buf[i] ^= 0x01;
		if (vfy_verify(buf, len, &p, &v) == VFY_OK) {
			assert_int_equal(v.content_digest_len, orig.content_digest_len);
			assert_memory_equal(v.content_digest, orig.content_digest,
			    orig.content_digest_len);
			assert_string_equal(v.sequence, orig.sequence);
		}
		verdict_free(&v);
		buf[i] ^= 0x01;
	}
	verdict_free(&orig);
	free(buf);
	anchors_free(&a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_forged_case_gets_its_verdict),
		cmocka_unit_test(unpinned_anchors_are_ignored),
		cmocka_unit_test(time_is_a_parameter),
		cmocka_unit_test(countersigner_needs_time_stamping_eku),
		cmocka_unit_test(one_signer_signs_every_kind),
		cmocka_unit_test(pin_rules_facts_and_expiry),
		cmocka_unit_test(entry_identifiers_print_by_kind),
		cmocka_unit_test(require_cab_refuses_a_bare_stl),
		cmocka_unit_test(untrusted_root_says_how_to_trust_it),
		cmocka_unit_test(no_changed_content_verifies),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_verify FIXTURES_DIR\n");
		return 2;
	}
	fixtures = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
