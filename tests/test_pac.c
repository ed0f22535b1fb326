/* test_pac.c - the PAC file: the address it names, what reaches its JavaScript, its route. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/serve/pac.h"
#include "proxy/serve/route.h"

static void
address_from_host(void **state)
{
	char a[PAC_ADDR_MAX];

	(void)state;
	assert_int_equal(pac_address("mirror.corp:8080", NULL, a), 0);
	assert_string_equal(a, "mirror.corp:8080");
	assert_int_equal(pac_address("mirror.corp", NULL, a), 0);	/* HTTP's default port */
	assert_string_equal(a, "mirror.corp:80");
	assert_int_equal(pac_address("mirror.corp.:81", NULL, a), 0);	/* the root dot goes */
	assert_string_equal(a, "mirror.corp:81");
	assert_int_equal(pac_address("10.0.0.5:3128", NULL, a), 0);
	assert_string_equal(a, "10.0.0.5:3128");
	assert_int_equal(pac_address("[2001:db8::1]:8080", NULL, a), 0);
	assert_string_equal(a, "[2001:db8::1]:8080");
	assert_int_equal(pac_address("[::1]", NULL, a), 0);
	assert_string_equal(a, "[::1]:80");
}

static void
hostile_host_falls_back(void **state)
{
	static const char *const bad[] = {
		"a\";alert(1);//", "evil.test:80\"", "x y", "host:0", "host:65536",
		"host:80:80", "host:", ":80", "-lead.test", "trail-.test", "a..b",
		"[::1]x", "[zz::1]:80", "[::1", "ho\\st", "host:8o", "", ".",
		"a.b\r\nX-Evil: 1", "h\xc3\xa9.test",
	};
	char a[PAC_ADDR_MAX], longname[400];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pac_address(bad[i], "127.0.0.1:8080", a), 0);
		assert_string_equal(a, "127.0.0.1:8080");
		assert_int_equal(pac_address(bad[i], NULL, a), -1);
		assert_string_equal(a, "");
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pac_address(longname, NULL, a), -1);
	memset(longname, 'a', 64);		/* one label over 63 bytes */
	strcpy(longname + 64, ".test");
	assert_int_equal(pac_address(longname, NULL, a), -1);
	assert_int_equal(pac_address(NULL, "[::1]:9", a), 0);
	assert_string_equal(a, "[::1]:9");
}

static void
render(void **state)
{
	struct config cfg;
	char text[PAC_TEXT_MAX];
	size_t n;

	(void)state;
	config_defaults(&cfg);
	n = pac_render(&cfg, "mirror.corp:8080", text);
	assert_true(n > 0);
	assert_int_equal(n, strlen(text));
	assert_non_null(strstr(text, "function FindProxyForURL(url, host)"));
	assert_non_null(strstr(text, "h == \"ctldl.windowsupdate.com\""));
	assert_non_null(strstr(text, "h == \"www.download.windowsupdate.com\""));
	assert_non_null(strstr(text, "return \"PROXY mirror.corp:8080\";"));
	assert_non_null(strstr(text, "\"" ROUTE_UPSTREAM_PATH "\""));
	assert_non_null(strstr(text, "return \"DIRECT\";"));
	/* an address that is not one pac_address() would return never reaches the script */
	assert_int_equal(pac_render(&cfg, "a\";x=1;//:80", text), 0);
	assert_int_equal(pac_render(&cfg, "mirror.corp", text), 0);
	assert_int_equal(pac_render(&cfg, NULL, text), 0);
}

static void
render_hosts(void **state)
{
	struct config cfg;
	char text[PAC_TEXT_MAX];
	size_t i;

	(void)state;
	config_defaults(&cfg);
	snprintf(cfg.mirror_hosts[0], sizeof(cfg.mirror_hosts[0]), "CTL.Example.");
	snprintf(cfg.mirror_hosts[1], sizeof(cfg.mirror_hosts[1]), "bad\"host");
	cfg.n_mirror_hosts = 2;
	assert_true(pac_render(&cfg, "m:1", text) > 0);
	assert_non_null(strstr(text, "h == \"ctl.example\")"));	/* lower case, no root dot */
	assert_null(strstr(text, "bad"));
	/* no mirrored host at all: nothing goes to the proxy */
	cfg.n_mirror_hosts = 0;
	assert_true(pac_render(&cfg, "m:1", text) > 0);
	assert_non_null(strstr(text, "if (false)"));
	/* every slot full of the longest names still fits */
	for (i = 0; i < CONFIG_MAX_LIST; i++) {
		memset(cfg.mirror_hosts[i], 'a', 253);
		cfg.mirror_hosts[i][253] = '\0';
		cfg.mirror_hosts[i][10] = '.';
	}
	cfg.n_mirror_hosts = CONFIG_MAX_LIST;
	assert_true(pac_render(&cfg, "m:1", text) > 0);
	assert_non_null(strstr(text, "return \"PROXY m:1\";\n\treturn \"DIRECT\";\n}\n"));
}

static void
route(void **state)
{
	struct config cfg;
	struct route r;

	(void)state;
	config_defaults(&cfg);
	route_request(&cfg, "GET", "/_ctlmirror/proxy.pac", "mirror.corp:8080", &r);
	assert_int_equal(r.target, RT_PAC);
	assert_int_equal(r.way, WAY_OPERATOR);
	assert_string_equal(route_target_str(RT_PAC), "pac");
	route_request(&cfg, "GET", "/_ctlmirror/proxy.pac?x=1", NULL, &r);
	assert_int_equal(r.target, RT_PAC);
	/* through a mirrored name the operator paths are upstream's: not found */
	route_request(&cfg, "GET", "/_ctlmirror/proxy.pac", "ctldl.windowsupdate.com", &r);
	assert_int_equal(r.target, RT_NOT_FOUND);
	route_request(&cfg, "POST", "/_ctlmirror/proxy.pac", NULL, &r);
	assert_int_equal(r.target, RT_BAD_METHOD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(address_from_host),
		cmocka_unit_test(hostile_host_falls_back),
		cmocka_unit_test(render),
		cmocka_unit_test(render_hosts),
		cmocka_unit_test(route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
