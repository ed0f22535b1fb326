/*
 * test_upstream_pin.c - a parent's status.json parsed: pins, no pins, and
 * every way a document can be wrong (each fails whole, saying what is wrong).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/upstream_pin.h"

#define SHA_A "b33efcb95235aa00112233445566778899aabbccddeeff00112233445566778f"
#define SHA_B "00000000000000000000000000000000000000000000000000000000000000ff"

static enum upin_err
parse(const char *doc, struct upstream_pins *p, char *err, size_t err_len)
{
	memset(p, 0xA5, sizeof(*p));
	return upstream_pin_parse((const unsigned char *)doc, strlen(doc), p, err, err_len);
}

/* Nothing is reported pinned and no kind present: what a failed parse leaves. */
static void
says_nothing(const struct upstream_pins *p)
{
	int k;

	for (k = 0; k < KIND_COUNT; k++) {
		assert_int_equal(p->kinds[k].present, 0);
		assert_int_equal(p->kinds[k].pinned, 0);
	}
}

/* The shape report.c writes: a pin with its sha256, until and reason. */
static void
parent_pins(void **state)
{
	static const char doc[] =
	    "{\"authroot\":{\"served\":{\"sequence\":\"1401DAA61B07AD8601\",\"sha256\":\"" SHA_B "\"},"
	    "\"pinned\":true,\"pin\":{\"sha256\":\"" SHA_A "\",\"since\":\"2024-06-01T00:00:00Z\","
	    "\"until\":\"2024-07-01T00:00:00Z\",\"reason\":\"rolling back\",\"by\":null,"
	    "\"newer_held_back\":1},\"kept\":true,\"health\":\"warn\"},"
	    "\"disallowed\":{\"served\":null,\"pinned\":false,\"pin\":null},"
	    "\"pinrules\":{\"served\":{\"sequence\":\"12\",\"sha256\":\"" SHA_B "\"},\"pinned\":false,"
	    "\"pin\":null}}\n";
	struct upstream_pins p;
	char err[256];

	(void)state;
	assert_int_equal(parse(doc, &p, err, sizeof(err)), UPIN_OK);
	assert_int_equal(p.kinds[KIND_AUTHROOT].present, 1);
	assert_int_equal(p.kinds[KIND_AUTHROOT].pinned, 1);
	/* the pin's own sha256 wins over served's */
	assert_int_equal(p.kinds[KIND_AUTHROOT].sha256[0], 0xb3);
	assert_int_equal(p.kinds[KIND_AUTHROOT].sha256[31], 0x8f);
	assert_string_equal(p.kinds[KIND_AUTHROOT].sequence, "1401DAA61B07AD8601");
	assert_int_equal(p.kinds[KIND_AUTHROOT].until, 1719792000);
	assert_string_equal(p.kinds[KIND_AUTHROOT].reason, "rolling back");
	assert_int_equal(p.kinds[KIND_DISALLOWED].present, 1);
	assert_int_equal(p.kinds[KIND_DISALLOWED].pinned, 0);
	assert_int_equal(p.kinds[KIND_PINRULES].present, 1);
	assert_int_equal(p.kinds[KIND_PINRULES].pinned, 0);
	assert_string_equal(p.kinds[KIND_PINRULES].sequence, "12");
	assert_int_equal(p.kinds[KIND_UNKNOWN].present, 0);
}

/* An older parent writes no pin.sha256: served.sha256 is the pinned version. */
static void
served_sha_when_pin_has_none(void **state)
{
	static const char doc[] =
	    "{\"authroot\":{\"served\":{\"sequence\":\"AB\",\"sha256\":\"" SHA_B "\"},"
	    "\"pinned\":true,\"pin\":{\"until\":null,\"reason\":null}}}";
	struct upstream_pins p;
	char err[256];

	(void)state;
	assert_int_equal(parse(doc, &p, err, sizeof(err)), UPIN_OK);
	assert_int_equal(p.kinds[KIND_AUTHROOT].pinned, 1);
	assert_int_equal(p.kinds[KIND_AUTHROOT].sha256[31], 0xff);
	assert_int_equal(p.kinds[KIND_AUTHROOT].sha256[0], 0);
	assert_int_equal(p.kinds[KIND_AUTHROOT].until, 0);
	assert_string_equal(p.kinds[KIND_AUTHROOT].reason, "");
	/* kinds the parent does not name: no word on them */
	assert_int_equal(p.kinds[KIND_DISALLOWED].present, 0);
	assert_int_equal(p.kinds[KIND_PINRULES].present, 0);
}

/* A sequence that is not hex is dropped (it is only shown), the rest holds. */
static void
odd_sequence_dropped(void **state)
{
	static const char doc[] =
	    "{\"authroot\":{\"served\":{\"sequence\":\"<script>\",\"sha256\":\"" SHA_B "\"},"
	    "\"pinned\":false}}";
	struct upstream_pins p;
	char err[256];

	(void)state;
	assert_int_equal(parse(doc, &p, err, sizeof(err)), UPIN_OK);
	assert_int_equal(p.kinds[KIND_AUTHROOT].present, 1);
	assert_string_equal(p.kinds[KIND_AUTHROOT].sequence, "");
}

struct bad_case {
	const char *doc;
	enum upin_err want;
	const char *says;	/* in the error text */
};

static void
bad_documents_fail_whole(void **state)
{
	static const struct bad_case cases[] = {
		{ "", UPIN_NOT_JSON, "" },
		{ "{\"authroot\":", UPIN_NOT_JSON, "" },
		{ "not json", UPIN_NOT_JSON, "" },
		{ "{} {}", UPIN_NOT_JSON, "after the JSON value" },
		{ "[1,2]", UPIN_BAD_SHAPE, "not a JSON object" },
		{ "{\"authroot\":1}", UPIN_BAD_SHAPE, "\"authroot\" is not an object" },
		{ "{\"authroot\":{}}", UPIN_BAD_SHAPE, "\"pinned\"" },
		{ "{\"authroot\":{\"pinned\":\"yes\"}}", UPIN_BAD_SHAPE, "\"pinned\"" },
		{ "{\"authroot\":{\"pinned\":true}}", UPIN_BAD_SHAPE, "names no SHA-256" },
		{ "{\"authroot\":{\"pinned\":true,\"pin\":{\"sha256\":\"abc\"}}}", UPIN_BAD_SHAPE,
		    "names no SHA-256" },
		{ "{\"authroot\":{\"pinned\":true,\"pin\":{\"sha256\":\"" SHA_A "\"}},"
		    "\"pinrules\":{\"pinned\":true,\"pin\":{\"sha256\":7}}}", UPIN_BAD_SHAPE,
		    "\"pinrules\" is pinned" },
		{ "{\"authroot\":{\"pinned\":true,\"pin\":{\"sha256\":\""
		    "zz3efcb95235aa00112233445566778899aabbccddeeff00112233445566778f\"}}}",
		    UPIN_BAD_SHAPE, "names no SHA-256" },
		{ "{\"authroot\":{\"pinned\":true,\"pin\":{\"sha256\":\"" SHA_A "\","
		    "\"until\":\"tomorrow\"}}}", UPIN_BAD_SHAPE, "\"until\" is not a time" },
		{ "{\"authroot\":{\"pinned\":true,\"pin\":{\"sha256\":\"" SHA_A "\","
		    "\"reason\":[]}}}", UPIN_BAD_SHAPE, "\"reason\"" },
		{ "{\"authroot\":{\"pinned\":false,\"pin\":[]}}", UPIN_BAD_SHAPE, "not an object" },
		{ "{\"authroot\":{\"pinned\":false,\"served\":{\"sequence\":5}}}", UPIN_BAD_SHAPE,
		    "\"sequence\"" },
	};
	struct upstream_pins p;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum upin_err e = parse(cases[i].doc, &p, err, sizeof(err));

		if (e != cases[i].want || strstr(err, cases[i].says) == NULL)
			fail_msg("case %zu (%s): %s (%s), want %s with \"%s\"", i, cases[i].doc,
			    upin_strerror(e), err, upin_strerror(cases[i].want), cases[i].says);
		assert_true(err[0] != '\0');
		says_nothing(&p);
	}
}

/* Bounds: the size cap, and nesting deeper than UPSTREAM_PIN_MAX_DEPTH. */
static void
bounded(void **state)
{
	struct upstream_pins p;
	char err[256], *doc;
	size_t i, n = UPSTREAM_PIN_MAX_BYTES + 1;

	(void)state;
	doc = malloc(n);
	assert_non_null(doc);
	memset(doc, ' ', n);
	doc[0] = '{';
	doc[n - 1] = '}';
	assert_int_equal(upstream_pin_parse((unsigned char *)doc, n, &p, err, sizeof(err)),
	    UPIN_TOO_LARGE);
	says_nothing(&p);
	/* the same within the cap parses (an object naming no kind) */
	doc[n - 2] = '}';
	assert_int_equal(upstream_pin_parse((unsigned char *)doc, n - 1, &p, err, sizeof(err)),
	    UPIN_OK);
	/* deep nesting */
	for (i = 0; i < 100; i++)
		doc[i] = '[';
	for (i = 0; i < 100; i++)
		doc[100 + i] = ']';
	assert_int_equal(upstream_pin_parse((unsigned char *)doc, 200, &p, err, sizeof(err)),
	    UPIN_NOT_JSON);
	/* a NUL inside: not JSON (the length is explicit, not the C string) */
	assert_int_equal(upstream_pin_parse((const unsigned char *)"{}\0{}", 5, &p, err, sizeof(err)),
	    UPIN_NOT_JSON);
	free(doc);
}

static void
status_url_is_at_the_origin(void **state)
{
	char url[300];

	(void)state;
	assert_int_equal(upstream_pin_url("http://127.0.0.1:8080/", url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:8080/_ctlmirror/status.json");
	assert_int_equal(upstream_pin_url("http://Parent.Example/msdownload/update/v3/static/"
	    "trustedr/en/", url, sizeof(url)), 0);
	assert_string_equal(url, "http://parent.example:80/_ctlmirror/status.json");
	assert_int_equal(upstream_pin_url("https://p.example:8443/x/", url, sizeof(url)), 0);
	assert_string_equal(url, "https://p.example:8443/_ctlmirror/status.json");
	assert_int_equal(upstream_pin_url("ftp://p.example/", url, sizeof(url)), -1);
	assert_int_equal(upstream_pin_url("not a url", url, sizeof(url)), -1);
	assert_int_equal(upstream_pin_url("http://127.0.0.1:8080/", url, 10), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parent_pins),
		cmocka_unit_test(served_sha_when_pin_has_none),
		cmocka_unit_test(odd_sequence_dropped),
		cmocka_unit_test(bad_documents_fail_whole),
		cmocka_unit_test(bounded),
		cmocka_unit_test(status_url_is_at_the_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
