/* test_config.c - the configuration file: defaults, shipped file, errors by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/config.h"

static const char *shipped;

static void
shipped_file_documents_the_defaults(void **state)
{
	struct config def, file;
	char err[256] = "";

	(void)state;
	config_defaults(&def);
	config_defaults(&file);
	if (config_load(&file, shipped, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* every value in etc/ctlmirror.conf is the embedded default */
	assert_memory_equal(&def, &file, sizeof(def));
	assert_string_equal(def.store, CONFIG_DEFAULT_STORE);
	assert_int_equal(def.n_upstream, 2);
	assert_int_equal(def.poll_interval, 3600);
}

static void
parses_values_and_lists(void **state)
{
	struct config c;
	char err[256];
	const char *text =
	    "# comment\n"
	    "  store = /tmp/x   # trailing comment\n"
	    "listen = 127.0.0.1:1\n"
	    "listen = [::1]:2\n"
	    "poll_interval = 15m\n"
	    "stale_after = 2d\n"
	    "timeout = 45\n"
	    "log_format = json\n"
	    "anchor_pin = AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
	    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\n";

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_parse(&c, "t", text, err, sizeof(err)), 0);
	assert_string_equal(c.store, "/tmp/x");
	assert_int_equal(c.n_listen, 2);
	assert_string_equal(c.listen[1], "[::1]:2");
	assert_int_equal(c.poll_interval, 900);
	assert_int_equal(c.stale_after, 172800);
	assert_int_equal(c.timeout, 45);
	assert_string_equal(c.log_format, "json");
	assert_int_equal(c.n_anchor_pins, 1);
	assert_int_equal(c.n_upstream, 2);	/* untouched lists keep the default */
}

static void
errors_name_the_line(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "store = /a\nbogus = 1\n", "t:2: unknown key 'bogus'" },
		{ "\n\npoll_interval = soon\n", "t:3: 'poll_interval' must be a duration" },
		{ "warn_days = -1\n", "t:1: 'warn_days' must be a non-negative number" },
		{ "log_format = xml\n", "t:1: log_format must be" },
		{ "just words\n", "t:1: expected 'key = value'" },
		{ "poll_interval = 5y\n", "t:1: 'poll_interval' must be a duration" },
		{ "timeout = 99999999999999999999\n", "t:1: 'timeout' must be" },
		{ "user = two words\n", "t:1: 'user' takes one word" },
		{ "listen = \n", "t:1: 'listen' value is empty" },
		{ "anchor_pin = AA:BB\n", "t:1: anchor_pin must be a SHA-256 fingerprint" },
		{ "anchor_pin = 847DF6A78497943F27FC72EB93F9A637320A02B561D0A91B09E87A7807ED7CZZ\n",
		  "t:1: anchor_pin must be" },
	};
	struct config c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		assert_int_equal(config_parse(&c, "t", bad[i].text, err, sizeof(err)), -1);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("for %s got '%s', want '%s...'", bad[i].text, err, bad[i].want);
	}
}

static void
bounds_lines_and_lists(void **state)
{
	struct config c;
	char err[256], text[4096];
	size_t i, n = 0;

	(void)state;
	memset(text, 'a', 3000);
	text[3000] = '\0';
	config_defaults(&c);
	assert_int_equal(config_parse(&c, "t", text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	for (i = 0; i < CONFIG_MAX_LIST + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "listen = 127.0.0.1:%zu\n", i + 1);
	config_defaults(&c);
	assert_int_equal(config_parse(&c, "t", text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many 'listen'"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/ctlmirror.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/ctlmirror.conf"));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_file_documents_the_defaults),
		cmocka_unit_test(parses_values_and_lists),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(bounds_lines_and_lists),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_config ETC_CTLMIRROR_CONF\n");
		return 2;
	}
	shipped = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
