/* test_route.c - the three ways in, the operator endpoints, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/serve/route.h"

static struct config cfg;

static struct route
go(const char *method, const char *target, const char *host)
{
	struct route r;

	route_request(&cfg, method, target, host, &r);
	return r;
}

#define UP "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/"

static void
forward_proxy(void **state)
{
	struct route r;

	(void)state;
	r = go("GET", UP "authrootstl.cab", NULL);
	assert_int_equal(r.target, RT_CAB);
	assert_int_equal(r.kind, KIND_AUTHROOT);
	assert_int_equal(r.way, WAY_PROXY);
	r = go("GET", UP "authrootseq.txt?a1b2c3", NULL);	/* Windows' random query */
	assert_int_equal(r.target, RT_SEQ);
	r = go("HEAD", "http://WWW.download.windowsupdate.com/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab", NULL);
	assert_int_equal(r.target, RT_CAB);
	assert_int_equal(r.kind, KIND_DISALLOWED);
	r = go("GET", "http://ctldl.windowsupdate.com:80/msdownload/update/v3/static/trustedr/en/pinrulesstl.cab", NULL);
	assert_int_equal(r.kind, KIND_PINRULES);
	/* never an open proxy */
	assert_int_equal(go("GET", "http://example.com/authrootstl.cab", NULL).target, RT_FORBIDDEN);
	assert_int_equal(go("GET", "https://ctldl.windowsupdate.com/x", NULL).target, RT_FORBIDDEN);
	assert_int_equal(go("GET", "http://ctldl.windowsupdate.com.evil.test/msdownload/update/v3/static/trustedr/en/authrootstl.cab", NULL).target, RT_FORBIDDEN);
	/* the operator endpoints are not reachable as a mirrored host */
	assert_int_equal(go("GET", "http://ctldl.windowsupdate.com/_ctlmirror/status", NULL).target, RT_NOT_FOUND);
	assert_int_equal(go("GET", UP "other.cab", NULL).target, RT_NOT_FOUND);
}

static void
dns_mode(void **state)
{
	struct route r;

	(void)state;
	r = go("GET", "/msdownload/update/v3/static/trustedr/en/authrootstl.cab?123", "ctldl.windowsupdate.com:8080");
	assert_int_equal(r.target, RT_CAB);
	assert_int_equal(r.way, WAY_DNS);
	r = go("GET", "/msdownload/update/v3/static/trustedr/en/0119E81BE9A14CD8E22F40AC118C687ECBA3F4D8.crt", "CTLDL.windowsupdate.com");
	assert_int_equal(r.target, RT_CRT);
	assert_int_equal(r.sha1[0], 0x01);
	assert_int_equal(r.sha1[19], 0xD8);
	/* certutil writes lower case */
	r = go("GET", "/msdownload/update/v3/static/trustedr/en/0119e81be9a14cd8e22f40ac118c687ecba3f4d8.crt", "ctldl.windowsupdate.com");
	assert_int_equal(r.target, RT_CRT);
	assert_int_equal(r.sha1[19], 0xD8);
}

static void
flat_and_operator(void **state)
{
	struct config prefixed = cfg;
	struct route r;

	(void)state;
	r = go("GET", "/authrootstl.cab", "ctlmirror.corp");
	assert_int_equal(r.target, RT_CAB);
	assert_int_equal(r.way, WAY_FLAT);
	assert_int_equal(go("GET", "/AuthRootSTL.cab", NULL).target, RT_CAB);
	assert_int_equal(go("GET", "/_ctlmirror/healthz", NULL).target, RT_HEALTHZ);
	assert_int_equal(go("GET", "/_ctlmirror/status.json", NULL).target, RT_STATUS_JSON);
	assert_int_equal(go("GET", "/_ctlmirror/status", NULL).target, RT_STATUS_HTML);
	assert_int_equal(go("GET", "/_ctlmirror/metrics?x", NULL).target, RT_METRICS);
	assert_int_equal(go("GET", "/_ctlmirror/other", NULL).target, RT_NOT_FOUND);
	assert_int_equal(go("GET", "/", NULL).target, RT_NOT_FOUND);
	assert_int_equal(go("GET", "/0119E81BE9A14CD8E22F40AC118C687ECBA3F4D.crt", NULL).target, RT_NOT_FOUND);
	assert_int_equal(go("GET", "/0119E81BE9A14CD8E22F40AC118C687ECBA3F4DG.crt", NULL).target, RT_NOT_FOUND);
	snprintf(prefixed.flat_prefix, sizeof(prefixed.flat_prefix), "/ctl/");
	route_request(&prefixed, "GET", "/ctl/authrootstl.cab", NULL, &r);
	assert_int_equal(r.target, RT_CAB);
	route_request(&prefixed, "GET", "/authrootstl.cab", NULL, &r);
	assert_int_equal(r.target, RT_NOT_FOUND);
	route_request(&prefixed, "GET", "/ctlx/authrootstl.cab", NULL, &r);
	assert_int_equal(r.target, RT_NOT_FOUND);
}

static void
refusals(void **state)
{
	static const char *hostile[] = {
		"/../authrootstl.cab", "/x/../authrootstl.cab", "/%2e%2e/etc/passwd",
		"/authrootstl.cab%00", "/a%2fb", "//authrootstl.cab", "/./authrootstl.cab",
		"/..", "/authroot\\stl.cab", "/msdownload/update/v3/static/trustedr/en/..",
		"http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/../../x",
		"http://ctldl.windowsupdate.com//etc/passwd", "", "/\x01",
	};
	char big[2048];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct route r = go("GET", hostile[i], "ctldl.windowsupdate.com");

		if (r.target != RT_BAD_REQUEST && r.target != RT_NOT_FOUND)
			fail_msg("'%s' routed to %s", hostile[i], route_target_str(r.target));
	}
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(go("GET", big, NULL).target, RT_BAD_REQUEST);
	assert_int_equal(go("CONNECT", "ctldl.windowsupdate.com:443", NULL).target, RT_BAD_METHOD);
	assert_int_equal(go("POST", "/authrootstl.cab", NULL).target, RT_BAD_METHOD);
	assert_int_equal(go("DELETE", "/authrootstl.cab", NULL).target, RT_BAD_METHOD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forward_proxy),
		cmocka_unit_test(dns_mode),
		cmocka_unit_test(flat_and_operator),
		cmocka_unit_test(refusals),
	};

	config_defaults(&cfg);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
