/*
 * test_strict.c - the strict request checks: every lenient request nginx
 * answers 400 is found in the parsed headers (duplicates, a name with a
 * space, Transfer-Encoding, HTTP/1.1 without Host, a body on GET or HEAD),
 * well-formed ones pass; the raw-byte scanner finds folded lines, in which
 * head, however the bytes are split, and not in a head's first line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>

#include <cmocka.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proxy/serve/strict.h"

/* The end of check()'s pairs: a typed null, as a variadic sentinel must be. */
#define END ((const char *)NULL)

/* Headers from "Name: value" pairs, END-terminated; checked as HTTP/major.minor. */
static enum strict_reason
check(int major, int minor, int bodyless, ...)
{
	struct evkeyvalq h;
	const char *k, *v;
	enum strict_reason r;
	va_list ap;

	TAILQ_INIT(&h);
	va_start(ap, bodyless);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		assert_int_equal(evhttp_add_header(&h, k, v), 0);
	}
	va_end(ap);
	r = strict_check(&h, major, minor, bodyless);
	evhttp_clear_headers(&h);
	return r;
}

static void
well_formed_requests_pass(void **state)
{
	(void)state;
	assert_int_equal(check(1, 1, 1, "Host", "ctldl.windowsupdate.com", "Accept", "*/*", END), STRICT_OK);
	assert_int_equal(check(1, 1, 1, "host", "a", "Content-Length", "0", END), STRICT_OK);
	assert_int_equal(check(1, 1, 1, "Host", "a", "Content-Length", "000", END), STRICT_OK);
	/* HTTP/1.0 needs no Host */
	assert_int_equal(check(1, 0, 1, "Accept", "*/*", END), STRICT_OK);
	/* a body on another method is the method's problem (405), not this check's */
	assert_int_equal(check(1, 1, 0, "Host", "a", "Content-Length", "5", END), STRICT_OK);
	assert_string_equal(strict_str(STRICT_OK), "ok");
}

static void
lenient_requests_are_refused(void **state)
{
	(void)state;
	assert_int_equal(check(1, 1, 1, "Host", "a", "Content-Length", "0", "Content-Length", "5", END),
	    STRICT_DUP_CONTENT_LENGTH);
	assert_int_equal(check(1, 1, 1, "Host", "a", "content-length", "0", "Content-Length", "0", END),
	    STRICT_DUP_CONTENT_LENGTH);
	assert_int_equal(check(1, 1, 1, "Host", "a", "HOST", "b", END), STRICT_DUP_HOST);
	assert_int_equal(check(1, 1, 1, "Host", "a", "Transfer-Encoding", "chunked", END),
	    STRICT_TRANSFER_ENCODING);
	assert_int_equal(check(1, 1, 0, "Host", "a", "transfer-encoding", "identity", END),
	    STRICT_TRANSFER_ENCODING);
	/* "Transfer-Encoding : chunked": libevent keeps the name with its space */
	assert_int_equal(check(1, 1, 1, "Host", "a", "Transfer-Encoding ", "chunked", END),
	    STRICT_HEADER_NAME);
	assert_int_equal(check(1, 1, 1, "Host\t", "a", END), STRICT_HEADER_NAME);
	assert_int_equal(check(1, 1, 1, "Host", "a", "", "x", END), STRICT_HEADER_NAME);
	assert_int_equal(check(1, 1, 1, "Accept", "*/*", END), STRICT_NO_HOST);
	assert_int_equal(check(2, 0, 1, "Accept", "*/*", END), STRICT_NO_HOST);
	assert_int_equal(check(1, 1, 1, "Host", "a", "Content-Length", "5", END), STRICT_BODY);
	assert_int_equal(check(1, 0, 1, "Content-Length", "x", END), STRICT_BODY);
	/* each reason has its words */
	assert_string_equal(strict_str(STRICT_DUP_CONTENT_LENGTH), "duplicate Content-Length");
	assert_string_equal(strict_str(STRICT_FOLDED), "obsolete line folding");
}

static void
feed_all(struct strict_scan *s, const char *p, size_t step)
{
	size_t n = strlen(p), i;

	for (i = 0; i < n; i += step)
		strict_scan_feed(s, p + i, n - i < step ? n - i : step);
}

static void
scanner_finds_folded_lines(void **state)
{
	const char *two =
	    "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n"
	    "GET /c HTTP/1.1\r\nHost: a\r\nX-B: 1\r\n 2\r\n\r\n";
	size_t step;

	(void)state;
	for (step = 1; step <= 64; step *= 2) {
		struct strict_scan s;

		memset(&s, 0, sizeof(s));
		feed_all(&s, two, step);
		assert_int_equal(s.heads, 3);
		assert_false(strict_scan_folded(&s, 0));
		assert_true(strict_scan_folded(&s, 1));
		assert_false(strict_scan_folded(&s, 2));	/* the first one only: the connection closes */
	}
}

static void
scanner_passes_clean_heads(void **state)
{
	struct strict_scan s;

	(void)state;
	memset(&s, 0, sizeof(s));
	/* empty lines before a request line, bare LF line ends, spaces inside values and the request line */
	feed_all(&s, "\r\n\r\nGET /a%20b HTTP/1.1\r\nHost: a\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n\r\n"
	    "GET / HTTP/1.0\nAccept: */*\n\n", 3);
	assert_int_equal(s.heads, 2);
	assert_int_equal(s.folded, 0);
	assert_false(strict_scan_folded(&s, 0));
	assert_false(strict_scan_folded(&s, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(well_formed_requests_pass),
		cmocka_unit_test(lenient_requests_are_refused),
		cmocka_unit_test(scanner_finds_folded_lines),
		cmocka_unit_test(scanner_passes_clean_heads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
