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
verify_file(const char *file, const char *kind, const char *at,
    const struct anchors *a, struct verdict *v)
{
	struct vfy_params p;
	unsigned char *buf;
	size_t len;
	enum vfy_reason rc;

	memset(&p, 0, sizeof(p));
	p.kind = kind ? ctl_kind_parse(kind) : KIND_UNKNOWN;
	assert_true(isotime_parse(at, &p.at));
	p.anchors = a;
	buf = test_read(fixtures, file, &len);
	rc = vfy_verify(buf, len, &p, v);
	free(buf);
	assert_int_equal(rc, v->reason);
	return rc;
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
	line = strtok_r((char *)tsv, "\n", &save);	/* header */
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *f[10], *s2 = NULL, *tok;
		struct verdict v;
		char when[ISOTIME_LEN];
		int i = 0;

		for (tok = strtok_r(line, "\t", &s2); tok != NULL && i < 10;
		    tok = strtok_r(NULL, "\t", &s2))
			f[i++] = tok;
		assert_int_equal(i, 10);
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
		cmocka_unit_test(no_changed_content_verifies),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_verify FIXTURES_DIR\n");
		return 2;
	}
	fixtures = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
