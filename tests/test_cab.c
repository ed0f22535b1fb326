/* test_cab.c - CAB unpacking from memory: the bounds and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/testutil.h"
#include "verify/cab.h"

static const char *fixtures;

static enum cab_err
unpack(const char *file, const char *want, size_t max, size_t *out_len, char *name)
{
	size_t len;
	unsigned char *buf = test_read(fixtures, file, &len), *out = NULL;
	char detail[256] = "";
	enum cab_err rc;

	rc = cab_unpack(buf, len, want, max, &out, out_len, name, name ? 64 : 0,
	    detail, sizeof(detail));
	if (rc != CAB_OK)
		assert_true(detail[0] != '\0');	/* every refusal says why */
	else
		assert_non_null(out);
	free(out);
	free(buf);
	return rc;
}

static void
unpacks_the_one_member(void **state)
{
	size_t n;
	char name[64];

	(void)state;
	assert_int_equal(unpack("cases/authroot-ok.cab", "authroot.stl", CAB_MAX_MEMBER, &n, NULL), CAB_OK);
	assert_true(n > 100);
	assert_int_equal(unpack("cases/authroot-ok.cab", "AUTHROOT.STL", CAB_MAX_MEMBER, &n, NULL), CAB_OK);
	assert_int_equal(unpack("cases/pinrules-ok.cab", NULL, CAB_MAX_MEMBER, &n, name), CAB_OK);
	assert_string_equal(name, "pinrules.stl");
	assert_int_equal(unpack("cases/disallowed-ok.cab", NULL, CAB_MAX_MEMBER, &n, name), CAB_OK);
	assert_string_equal(name, "disallowedcert.stl");
}

static void
refuses_wrong_shapes(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(unpack("cases/authroot-ok.cab", "disallowedcert.stl", CAB_MAX_MEMBER, &n, NULL), CAB_ERR_NAME);
	/* another kind's cab: its member is named for that kind */
	assert_int_equal(unpack("cases/pinrules-ok.cab", "disallowedcert.stl", CAB_MAX_MEMBER, &n, NULL), CAB_ERR_NAME);
	assert_int_equal(unpack("cases/disallowed-ok.cab", "pinrules.stl", CAB_MAX_MEMBER, &n, NULL), CAB_ERR_NAME);
	assert_int_equal(unpack("cases/two-member.cab", "authroot.stl", CAB_MAX_MEMBER, &n, NULL), CAB_ERR_MEMBERS);
	assert_int_equal(unpack("cases/wrong-member-name.cab", "authroot.stl", CAB_MAX_MEMBER, &n, NULL), CAB_ERR_NAME);
	assert_int_equal(unpack("cases/garbage.cab", NULL, CAB_MAX_MEMBER, &n, NULL), CAB_ERR_FORMAT);
	assert_int_equal(unpack("cases/truncated.cab", NULL, CAB_MAX_MEMBER, &n, NULL), CAB_ERR_FORMAT);
}

static void
bounds_the_member_size(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(unpack("cases/oversized.cab", "authroot.stl", CAB_MAX_MEMBER, &n, NULL), CAB_ERR_TOO_LARGE);
	/* a member within the header's size but above the caller's bound */
	assert_int_equal(unpack("cases/authroot-ok.cab", "authroot.stl", 100, &n, NULL), CAB_ERR_TOO_LARGE);
}

static void
every_truncation_fails_cleanly(void **state)
{
	size_t len, cut, n;
	unsigned char *buf = test_read(fixtures, "cases/authroot-ok.cab", &len), *out;

	(void)state;
	for (cut = 0; cut < len; cut += cut < 512 ? 1 : 97) {
		assert_int_not_equal(cab_unpack(buf, cut, "authroot.stl", CAB_MAX_MEMBER,
		    &out, &n, NULL, 0, NULL, 0), CAB_OK);
		assert_null(out);
	}
	free(buf);
}

static void
every_flipped_header_byte_is_safe(void **state)
{
	size_t len, i, n;
	unsigned char *buf = test_read(fixtures, "cases/authroot-ok.cab", &len), *out;

	(void)state;
	/* Whatever libmspack makes of a damaged header, the result is bounded and clean. */
	for (i = 0; i < 200 && i < len; i++) {
		buf[i] ^= 0xff;
		if (cab_unpack(buf, len, "authroot.stl", CAB_MAX_MEMBER, &out, &n,
		    NULL, 0, NULL, 0) == CAB_OK) {
			assert_true(n <= CAB_MAX_MEMBER);
			free(out);
		}
		buf[i] ^= 0xff;
	}
	free(buf);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unpacks_the_one_member),
		cmocka_unit_test(refuses_wrong_shapes),
		cmocka_unit_test(bounds_the_member_size),
		cmocka_unit_test(every_truncation_fails_cleanly),
		cmocka_unit_test(every_flipped_header_byte_is_safe),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_cab FIXTURES_DIR\n");
		return 2;
	}
	fixtures = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
