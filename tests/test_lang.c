/*
 * test_lang.c - templates, the daemon's language pack, Accept-Language.
 *
 * test_lang LOCALEDIR: the build tree's compiled catalogs (locale/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/health.h"
#include "proxy/lang.h"

static const char *localedir;

static void
fill_sequential_and_positional(void **state)
{
	const char *args[] = { "A", "B" };
	char out[64];

	(void)state;
	assert_string_equal(lang_fill(out, sizeof(out), "%s then %s", args, 2), "A then B");
	assert_string_equal(lang_fill(out, sizeof(out), "%2$s then %1$s", args, 2), "B then A");
	assert_string_equal(lang_fill(out, sizeof(out), "100%% %s", args, 1), "100% A");
	/* a missing argument is empty; a directive that is not ours is copied */
	assert_string_equal(lang_fill(out, sizeof(out), "%s %s %s", args, 2), "A B ");
	assert_string_equal(lang_fill(out, sizeof(out), "%d %n %9$s", args, 2), "%d %n ");
	assert_string_equal(lang_fill(out, sizeof(out), "tail %", args, 2), "tail %");
}

static void
fill_cuts_at_characters(void **state)
{
	const char *args[] = { "\xe6\x97\xa5\xe6\x9c\xac" };	/* two 3-byte characters */
	char out[6];

	(void)state;
	/* room for 5 bytes: "x" and one whole character, never half of the second */
	assert_string_equal(lang_fill(out, sizeof(out), "x%s", args, 1), "x\xe6\x97\xa5");
	assert_string_equal(lang_fill(out, 1, "abc", args, 1), "");
}

static void
negotiate(void **state)
{
	(void)state;
	assert_int_equal(lang_negotiate(NULL, NULL), LANG_EN);
	assert_int_equal(lang_negotiate(NULL, "ja"), LANG_JA);
	assert_int_equal(lang_negotiate(NULL, "ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7"), LANG_JA);
	assert_int_equal(lang_negotiate(NULL, "en-US,en;q=0.9,ja;q=0.8"), LANG_EN);
	assert_int_equal(lang_negotiate(NULL, "fr, ja;q=0.5"), LANG_JA);
	assert_int_equal(lang_negotiate(NULL, "ja;q=0, en;q=0.1"), LANG_EN);
	assert_int_equal(lang_negotiate(NULL, "ja;q=0"), LANG_EN);
	assert_int_equal(lang_negotiate(NULL, "*, ja"), LANG_EN);	/* a tie: the first wins */
	assert_int_equal(lang_negotiate(NULL, "ja, *"), LANG_JA);
	assert_int_equal(lang_negotiate(NULL, "jav, japanese"), LANG_EN);	/* not "ja" */
	assert_int_equal(lang_negotiate(NULL, "JA-jp"), LANG_JA);
	assert_int_equal(lang_negotiate("en", "ja"), LANG_EN);
	assert_int_equal(lang_negotiate("ja", "en"), LANG_JA);
	assert_int_equal(lang_negotiate("xx", "ja"), LANG_JA);	/* an unknown ?lang= is ignored */
}

static void
negotiate_bounded(void **state)
{
	char *big = malloc(200000);

	(void)state;
	assert_non_null(big);
	memset(big, ',', 199999);
	big[199999] = '\0';
	memcpy(big + 150000, "ja", 2);		/* beyond the 1024 bytes read */
	assert_int_equal(lang_negotiate(NULL, big), LANG_EN);
	free(big);
}

static void
pack_translates_and_stays(void **state)
{
	static const char *const ids[] = { "ok", "critical", "no such message" };
	const struct lang_msgs lists[] = { { ids, 3 }, { ids, 1 }, health_msgs };
	struct lang_pack p;

	(void)state;
	lang_init();
	bindtextdomain(LANG_DOMAIN, localedir);
	assert_int_equal(lang_select("en"), 0);
	assert_int_equal(lang_pack_build(&p, lists, 3), 0);
	assert_string_equal(lang_tr(&p, LANG_JA, "critical"), "\xe9\x87\x8d\xe5\xa4\xa7");	/* 重大 */
	assert_string_equal(lang_tr(&p, LANG_EN, "critical"), "critical");
	assert_string_equal(lang_tr(&p, LANG_JA, "no such message"), "no such message");
	assert_string_equal(lang_tr(&p, LANG_JA, "not in the pack"), "not in the pack");
	assert_string_not_equal(lang_tr(&p, LANG_JA, health_msgs.msgids[0]), health_msgs.msgids[0]);
	/* building the pack leaves the process's own language as it was */
	assert_string_equal(lang_current(), "en");
	assert_string_equal(gettext("critical"), "critical");
	lang_pack_free(&p);
	assert_string_equal(lang_tr(&p, LANG_JA, "critical"), "critical");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fill_sequential_and_positional),
		cmocka_unit_test(fill_cuts_at_characters),
		cmocka_unit_test(negotiate),
		cmocka_unit_test(negotiate_bounded),
		cmocka_unit_test(pack_translates_and_stays),
	};

	localedir = argc > 1 ? argv[1] : "locale";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
