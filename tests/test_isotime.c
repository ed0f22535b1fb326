/* test_isotime.c - ISO 8601 parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "verify/isotime.h"

static void
parses_the_accepted_forms(void **state)
{
	time_t t;
	char buf[ISOTIME_LEN];

	(void)state;
	assert_true(isotime_parse("2024-05-14T16:23:18Z", &t));
	assert_int_equal(t, 1715703798);
	assert_string_equal(isotime_format(t, buf, sizeof(buf)), "2024-05-14T16:23:18Z");
	assert_true(isotime_parse("20240514162318Z", &t));
	assert_int_equal(t, 1715703798);
	assert_true(isotime_parse("2024-05-14", &t));
	assert_int_equal(t, 1715644800);
	assert_true(isotime_parse("2024-05-14 16:23", &t));
	assert_int_equal(t, 1715703780);
	assert_true(isotime_parse("2024-05-14T18:23:18+02:00", &t));
	assert_int_equal(t, 1715703798);
	assert_true(isotime_parse("2024-05-14T16:23:18.250Z", &t));
	assert_int_equal(t, 1715703798);
	assert_true(isotime_parse("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
}

static void
refuses_malformed_times(void **state)
{
	static const char *bad[] = {
		"", "2024", "2024-13-01", "2024-02-30", "2024-05-14T25:00:00Z",
		"2024-05-14T16:23:18Zjunk", "2024-05-14T16", "24-05-14",
		"2024-05-14T16:23:18+2", "20240514162318", "yesterday",
		"2024-05-14T16:23:18+02:00:00",
	};
	size_t i;
	time_t t = 42;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(isotime_parse(bad[i], &t));
		assert_int_equal(t, 42);
	}
	assert_false(isotime_parse(NULL, &t));
}

static void
converts_asn1_times(void **state)
{
	ASN1_TIME *a = ASN1_TIME_new();
	time_t t;

	(void)state;
	assert_non_null(a);
	assert_true(ASN1_TIME_set_string(a, "061214172303Z"));
	assert_true(isotime_from_asn1(a, &t));
	assert_int_equal(t, 1166116983);	/* 2006-12-14T17:23:03Z */
	assert_true(ASN1_TIME_set_string(a, "20500101000000Z"));
	assert_true(isotime_from_asn1(a, &t));
	assert_int_equal(t, 2524608000);
	assert_false(isotime_from_asn1(NULL, &t));
	ASN1_TIME_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_the_accepted_forms),
		cmocka_unit_test(refuses_malformed_times),
		cmocka_unit_test(converts_asn1_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
