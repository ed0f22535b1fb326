/*
 * test_health.c - the health rules of health.h, one by one, and how the
 * kinds add up to the mirror's one level.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/health.h"

#define DAY 86400
static const time_t NOW = 1717200000;	/* 2024-06-01T00:00:00Z */

/* A version of kind with this sequence and reason, its chain ending at valid_to. */
static struct version
ver(enum ctl_kind kind, const char *seq, enum vfy_reason reason, time_t valid_to)
{
	struct version v;

	memset(&v, 0, sizeof(v));
	v.kind = kind;
	snprintf(v.sequence, sizeof(v.sequence), "%s", seq);
	v.reason = reason;
	v.status = reason == VFY_OK ? VS_SERVED : VS_QUARANTINED;
	v.has_chain = 1;
	v.chain_valid_from = NOW - 400 * DAY;
	v.chain_valid_to = valid_to;
	v.sha256[0] = seq[0] != '\0' ? (unsigned char)seq[strlen(seq) - 1] : 0;
	return v;
}

static struct served_kind
served(const struct version *v, int pinned)
{
	struct served_kind sk;

	memset(&sk, 0, sizeof(sk));
	if (v != NULL) {
		sk.present = 1;
		sk.pinned = pinned;
		sk.v = *v;
		sk.has_newest = 1;
		sk.newest = *v;
	}
	return sk;
}

/*
 * health_of for kind over list, with out filled with garbage first: the
 * caller sets only out->kind.
 */
static struct kind_health
judge(enum ctl_kind kind, const struct served_kind *sk, const struct version *list,
    size_t n, unsigned long warn_days, time_t last_success, unsigned long stale_after)
{
	struct kind_health h;

	memset(&h, 0xA5, sizeof(h));
	h.kind = kind;
	health_of(sk, list, n, NOW, warn_days, last_success, stale_after, NULL, &h);
	assert_int_equal(h.kind, kind);
	assert_true(h.n_reasons <= HEALTH_MAX_REASONS);
	return h;
}

/* Some reason of h contains text. */
static int
has_reason(const struct kind_health *h, const char *text)
{
	size_t i;

	for (i = 0; i < h->n_reasons; i++)
		if (strstr(h->reasons[i], text) != NULL)
			return 1;
	return 0;
}

static void
level_names(void **state)
{
	(void)state;
	assert_string_equal(health_level_str(HEALTH_OK), "ok");
	assert_string_equal(health_level_str(HEALTH_WARN), "warn");
	assert_string_equal(health_level_str(HEALTH_CRITICAL), "critical");
}

static void
nothing_servable_is_critical(void **state)
{
	struct served_kind none = served(NULL, 0);
	struct version q = ver(KIND_DISALLOWED, "10", VFY_BAD_SIGNATURE, NOW + 100 * DAY);
	struct kind_health h;

	(void)state;
	h = judge(KIND_DISALLOWED, &none, NULL, 0, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.has_served, 0);
	assert_int_equal(h.n_versions, 0);
	assert_int_equal(h.n_reasons, 1);
	assert_true(has_reason(&h, "nothing servable"));
	assert_true(has_reason(&h, "disallowed"));
	assert_int_equal(h.days_left, 0);
	assert_int_equal(h.has_quarantined, 0);

	/* only a quarantined copy: still critical, and the failed copy is named */
	h = judge(KIND_DISALLOWED, &none, &q, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.n_versions, 1);
	assert_int_equal(h.has_quarantined, 1);
	assert_string_equal(h.newest_quarantined.sequence, "10");
	assert_int_equal(h.n_reasons, 2);
	assert_true(has_reason(&h, "nothing servable"));
	assert_true(has_reason(&h, "BAD_SIGNATURE"));
}

static void
healthy_is_ok(void **state)
{
	struct version v = ver(KIND_AUTHROOT, "1401DA9B62E449E800", VFY_OK, NOW + 100 * DAY + 3600);
	struct served_kind sk = served(&v, 1);
	struct kind_health h;

	(void)state;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, NOW - 60, 3600);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.n_reasons, 0);
	assert_int_equal(h.has_served, 1);
	assert_int_equal(h.pinned, 1);
	assert_string_equal(h.served.sequence, "1401DA9B62E449E800");
	assert_int_equal(h.expires, 1);
	assert_int_equal(h.signer_not_after, NOW + 100 * DAY + 3600);
	assert_int_equal(h.days_left, 100);
	assert_int_equal(h.n_versions, 1);
	assert_int_equal(h.has_quarantined, 0);
}

static void
expired_chain_is_critical(void **state)
{
	struct version v = ver(KIND_AUTHROOT, "20", VFY_OK, NOW - 10 * DAY);
	struct served_kind sk = served(&v, 0);
	struct kind_health h;

	(void)state;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.expires, 1);
	assert_int_equal(h.days_left, -10);
	assert_int_equal(h.signer_not_after, NOW - 10 * DAY);
	assert_int_equal(h.n_reasons, 1);
	assert_true(has_reason(&h, "expired"));
	assert_true(has_reason(&h, "4107"));
	assert_true(has_reason(&h, "2024-05-22T00:00:00Z"));

	/* expired one second ago: critical; whole days truncate toward zero */
	sk.v.chain_valid_to = NOW - 1;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 0, 0, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.days_left, 0);
	sk.v.chain_valid_to = NOW - 36 * 3600;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 0, 0, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.days_left, -1);

	/* valid until exactly now: not expired yet, and with no warning window ok */
	sk.v.chain_valid_to = NOW;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 0, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 1, 0, 0);
	assert_int_equal(h.level, HEALTH_WARN);
}

static void
verified_timestamp_never_expires(void **state)
{
	struct version v = ver(KIND_AUTHROOT, "21", VFY_OK, NOW - 1000 * DAY);
	struct served_kind sk;
	struct kind_health h;

	(void)state;
	v.timestamp_verified = 1;
	v.timestamp = NOW - 1500 * DAY;
	sk = served(&v, 0);
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.expires, 0);
	assert_int_equal(h.n_reasons, 0);
	assert_int_equal(h.signer_not_after, NOW - 1000 * DAY);
	/* nor does it warn when its chain ends soon */
	sk.v.chain_valid_to = NOW + DAY;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.expires, 0);
	/* the same copy without the timestamp: critical */
	sk.v.timestamp_verified = 0;
	sk.v.chain_valid_to = NOW - 1000 * DAY;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.expires, 1);
}

static void
expiring_within_warn_days_warns(void **state)
{
	struct version v = ver(KIND_PINRULES, "30", VFY_OK, NOW + 10 * DAY + 3600);
	struct served_kind sk = served(&v, 0);
	struct kind_health h;

	(void)state;
	h = judge(KIND_PINRULES, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_WARN);
	assert_int_equal(h.days_left, 10);
	assert_int_equal(h.n_reasons, 1);
	assert_true(has_reason(&h, "expires"));
	assert_true(has_reason(&h, "in 10 days"));
	/* 10 days and an hour is outside a 10-day window, inside an 11-day one */
	h = judge(KIND_PINRULES, &sk, &v, 1, 10, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.n_reasons, 0);
	h = judge(KIND_PINRULES, &sk, &v, 1, 11, 0, 0);
	assert_int_equal(h.level, HEALTH_WARN);
	/* the window's edge: exactly warn_days away is ok, a second less warns */
	sk.v.chain_valid_to = NOW + 30 * DAY;
	h = judge(KIND_PINRULES, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	sk.v.chain_valid_to = NOW + 30 * DAY - 1;
	h = judge(KIND_PINRULES, &sk, &v, 1, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_WARN);
	assert_int_equal(h.days_left, 29);
	/* warn_days 0: no warning at all */
	sk.v.chain_valid_to = NOW + 1;
	h = judge(KIND_PINRULES, &sk, &v, 1, 0, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
}

static void
newer_quarantined_copy_warns(void **state)
{
	struct version list[5];
	struct served_kind sk;
	struct kind_health h;

	(void)state;
	list[0] = ver(KIND_AUTHROOT, "1401DA9B62E449E800", VFY_OK, NOW + 200 * DAY);
	list[1] = ver(KIND_AUTHROOT, "1401DA9B00000000", VFY_EXPIRED, NOW + 200 * DAY);	/* older */
	list[2] = ver(KIND_AUTHROOT, "1401DA9B62E449E800", VFY_NO_CHAIN, NOW + 200 * DAY);	/* same */
	sk = served(&list[0], 0);

	/* quarantined copies no newer than the served one do not warn */
	h = judge(KIND_AUTHROOT, &sk, list, 3, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.has_quarantined, 0);
	assert_int_equal(h.n_reasons, 0);
	assert_int_equal(h.n_versions, 3);

	/* a newer one does, with its sequence and reason; the newest of them is named */
	list[3] = ver(KIND_AUTHROOT, "1401DB0000000000000", VFY_WRONG_USAGE, NOW + 200 * DAY);
	list[4] = ver(KIND_AUTHROOT, "1401DA9B62E449E801", VFY_DIGEST_MISMATCH, NOW + 200 * DAY);
	h = judge(KIND_AUTHROOT, &sk, list, 5, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_WARN);
	assert_int_equal(h.has_quarantined, 1);
	assert_string_equal(h.newest_quarantined.sequence, "1401DB0000000000000");
	assert_int_equal(h.newest_quarantined.reason, VFY_WRONG_USAGE);
	assert_int_equal(h.n_reasons, 1);
	assert_true(has_reason(&h, "1401DB0000000000000"));
	assert_true(has_reason(&h, "WRONG_USAGE"));
	assert_false(has_reason(&h, "DIGEST_MISMATCH"));

	/* an admitted (not quarantined) newer copy is no failure */
	list[3].status = VS_ADMITTED;
	list[3].reason = VFY_OK;
	h = judge(KIND_AUTHROOT, &sk, list, 4, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.has_quarantined, 0);

	/* a quarantined copy of another kind, however new, is not this kind's */
	list[3] = ver(KIND_DISALLOWED, "FFFFFFFFFFFFFFFFFFFF", VFY_BAD_SIGNATURE, NOW + 200 * DAY);
	h = judge(KIND_AUTHROOT, &sk, list, 4, 30, 0, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.has_quarantined, 0);
	assert_int_equal(h.n_versions, 3);
}

static void
stale_sync_warns(void **state)
{
	struct version v = ver(KIND_AUTHROOT, "40", VFY_OK, NOW + 300 * DAY);
	struct served_kind sk = served(&v, 0);
	struct kind_health h;

	(void)state;
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, NOW - 7200, 3600);
	assert_int_equal(h.level, HEALTH_WARN);
	assert_int_equal(h.n_reasons, 1);
	assert_true(has_reason(&h, "no successful sync since 2024-05-31T22:00:00Z"));
	/* exactly stale_after ago is not yet stale */
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, NOW - 3600, 3600);
	assert_int_equal(h.level, HEALTH_OK);
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, NOW - 3601, 3600);
	assert_int_equal(h.level, HEALTH_WARN);
	/* stale_after 0: no polling, never stale */
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, NOW - 365 * DAY, 0);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.n_reasons, 0);
	/* last_success 0: never synced (imports only), not stale */
	h = judge(KIND_AUTHROOT, &sk, &v, 1, 30, 0, 3600);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.n_reasons, 0);
}

static void
reasons_add_up_and_are_bounded(void **state)
{
	struct version list[2];
	struct served_kind sk;
	struct kind_health h;

	(void)state;
	list[0] = ver(KIND_AUTHROOT, "50", VFY_OK, NOW - DAY);
	list[1] = ver(KIND_AUTHROOT, "51", VFY_EXPIRED, NOW - DAY);
	sk = served(&list[0], 0);
	/* expired, a newer copy failed, and no sync for a day: all three said, worst wins */
	h = judge(KIND_AUTHROOT, &sk, list, 2, 30, NOW - DAY, 3600);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.n_reasons, 3);
	assert_true(HEALTH_MAX_REASONS >= 3);
	assert_true(has_reason(&h, "4107"));
	assert_true(has_reason(&h, "EXPIRED"));
	assert_true(has_reason(&h, "no successful sync"));
	/* warnings alone stay a warning */
	sk.v.chain_valid_to = NOW + 5 * DAY;
	h = judge(KIND_AUTHROOT, &sk, list, 2, 30, NOW - DAY, 3600);
	assert_int_equal(h.level, HEALTH_WARN);
	assert_int_equal(h.n_reasons, 3);
	/* every reason is a terminated string within its buffer */
	for (size_t i = 0; i < h.n_reasons; i++)
		assert_true(memchr(h.reasons[i], '\0', sizeof(h.reasons[i])) != NULL);
}

static void
versions_counted_per_kind(void **state)
{
	struct version list[7];
	struct served_kind sa, sd, none = served(NULL, 0);
	struct kind_health h;

	(void)state;
	list[0] = ver(KIND_AUTHROOT, "01", VFY_OK, NOW + 100 * DAY);
	list[1] = ver(KIND_AUTHROOT, "02", VFY_OK, NOW + 100 * DAY);
	list[2] = ver(KIND_DISALLOWED, "03", VFY_OK, NOW + 100 * DAY);
	list[3] = ver(KIND_DISALLOWED, "04", VFY_NO_CHAIN, NOW + 100 * DAY);
	list[4] = ver(KIND_DISALLOWED, "05", VFY_OK, NOW + 100 * DAY);
	list[5] = ver(KIND_AUTHROOT, "06", VFY_OK, NOW + 100 * DAY);
	list[6] = ver(KIND_UNKNOWN, "", VFY_CAB_MALFORMED, 0);
	sa = served(&list[5], 0);
	sd = served(&list[4], 0);
	h = judge(KIND_AUTHROOT, &sa, list, 7, 30, 0, 0);
	assert_int_equal(h.n_versions, 3);
	assert_int_equal(h.level, HEALTH_OK);
	h = judge(KIND_DISALLOWED, &sd, list, 7, 30, 0, 0);
	assert_int_equal(h.n_versions, 3);
	assert_int_equal(h.level, HEALTH_OK);	/* its quarantined copy is older */
	h = judge(KIND_PINRULES, &none, list, 7, 30, 0, 0);
	assert_int_equal(h.n_versions, 0);
	assert_int_equal(h.level, HEALTH_CRITICAL);
}

/* The three kinds judged: authroot and disallowed from the given versions, pinrules empty. */
static void
judge_all(struct kind_health h[KIND_COUNT], const struct version *a, const struct version *d)
{
	struct served_kind sa = served(a, 0), sd = served(d, 0), none = served(NULL, 0);
	struct version list[2];
	size_t n = 0;

	if (a != NULL)
		list[n++] = *a;
	if (d != NULL)
		list[n++] = *d;
	memset(h, 0xA5, KIND_COUNT * sizeof(*h));	/* h[KIND_UNKNOWN] is never read */
	h[KIND_AUTHROOT] = judge(KIND_AUTHROOT, &sa, list, n, 30, 0, 0);
	h[KIND_DISALLOWED] = judge(KIND_DISALLOWED, &sd, list, n, 30, 0, 0);
	h[KIND_PINRULES] = judge(KIND_PINRULES, &none, list, n, 30, 0, 0);
}

static void
overall_is_the_worst_kept_kind(void **state)
{
	struct kind_health h[KIND_COUNT];
	struct version ok_a = ver(KIND_AUTHROOT, "01", VFY_OK, NOW + 100 * DAY);
	struct version ok_d = ver(KIND_DISALLOWED, "02", VFY_OK, NOW + 100 * DAY);
	struct version warn_d = ver(KIND_DISALLOWED, "03", VFY_OK, NOW + 5 * DAY);
	struct version dead_d = ver(KIND_DISALLOWED, "04", VFY_OK, NOW - 5 * DAY);
	struct version bad_d = ver(KIND_DISALLOWED, "05", VFY_BAD_SIGNATURE, NOW + 100 * DAY);

	(void)state;
	/* pinrules, kept, has nothing servable: critical, versions or not */
	judge_all(h, &ok_a, &ok_d);
	assert_int_equal(h[KIND_PINRULES].level, HEALTH_CRITICAL);
	assert_int_equal(health_overall(h), HEALTH_CRITICAL);
	/* a kind the mirror does not keep (kinds =) is not judged */
	h[KIND_PINRULES].kept = 0;
	assert_int_equal(health_overall(h), HEALTH_OK);

	judge_all(h, &ok_a, &warn_d);
	h[KIND_PINRULES].kept = 0;
	assert_int_equal(h[KIND_DISALLOWED].level, HEALTH_WARN);
	assert_int_equal(health_overall(h), HEALTH_WARN);

	judge_all(h, &ok_a, &dead_d);
	assert_int_equal(health_overall(h), HEALTH_CRITICAL);

	/* a kind with versions but nothing servable counts as critical */
	memset(h, 0, sizeof(h));
	{
		struct served_kind sa = served(&ok_a, 0), none = served(NULL, 0);
		struct version list[2] = { ok_a, bad_d };

		h[KIND_AUTHROOT] = judge(KIND_AUTHROOT, &sa, list, 2, 30, 0, 0);
		h[KIND_DISALLOWED] = judge(KIND_DISALLOWED, &none, list, 2, 30, 0, 0);
		h[KIND_PINRULES] = judge(KIND_PINRULES, &none, list, 2, 30, 0, 0);
		assert_int_equal(h[KIND_DISALLOWED].n_versions, 1);
		assert_int_equal(health_overall(h), HEALTH_CRITICAL);
	}

	/* one kind alone, served and fine, the only one kept: ok */
	judge_all(h, &ok_a, NULL);
	assert_int_equal(health_overall(h), HEALTH_CRITICAL);
	h[KIND_DISALLOWED].kept = h[KIND_PINRULES].kept = 0;
	assert_int_equal(health_overall(h), HEALTH_OK);

	/* nothing stored at all: critical */
	judge_all(h, NULL, NULL);
	assert_int_equal(health_overall(h), HEALTH_CRITICAL);

	/* versions stored but none servable anywhere: critical */
	{
		struct served_kind none = served(NULL, 0);

		memset(h, 0, sizeof(h));
		h[KIND_DISALLOWED] = judge(KIND_DISALLOWED, &none, &bad_d, 1, 30, 0, 0);
		h[KIND_AUTHROOT] = judge(KIND_AUTHROOT, &none, &bad_d, 1, 30, 0, 0);
		h[KIND_PINRULES] = judge(KIND_PINRULES, &none, &bad_d, 1, 30, 0, 0);
		assert_int_equal(health_overall(h), HEALTH_CRITICAL);
	}
}

/* An upstream serving an older copy than this mirror's newest warns, and says which. */
static void
older_upstream_warns(void **state)
{
	struct version v = ver(KIND_AUTHROOT, "30", VFY_OK, NOW + 100 * DAY);
	struct served_kind sk = served(&v, 0);
	struct kind_health h;

	(void)state;
	memset(&h, 0xA5, sizeof(h));
	h.kind = KIND_AUTHROOT;
	health_of(&sk, &v, 1, NOW, 30, 0, 0, "http://parent.example/authrootstl.cab offers "
	    "sequence 20", &h);
	assert_int_equal(h.level, HEALTH_WARN);
	assert_int_equal(h.n_reasons, 1);
	assert_true(has_reason(&h, "upstream serves an older version than this mirror"));
	assert_true(has_reason(&h, "offers sequence 20"));

	/* "" and NULL: no such fact, ok */
	health_of(&sk, &v, 1, NOW, 30, 0, 0, "", &h);
	assert_int_equal(h.level, HEALTH_OK);
	assert_int_equal(h.n_reasons, 0);
	health_of(&sk, &v, 1, NOW, 30, 0, 0, NULL, &h);
	assert_int_equal(h.level, HEALTH_OK);

	/* does not hide a critical reason */
	sk.v.chain_valid_to = NOW - DAY;
	health_of(&sk, &v, 1, NOW, 30, 0, 0, "u offers sequence 20", &h);
	assert_int_equal(h.level, HEALTH_CRITICAL);
	assert_int_equal(h.n_reasons, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(level_names),
		cmocka_unit_test(nothing_servable_is_critical),
		cmocka_unit_test(healthy_is_ok),
		cmocka_unit_test(expired_chain_is_critical),
		cmocka_unit_test(verified_timestamp_never_expires),
		cmocka_unit_test(expiring_within_warn_days_warns),
		cmocka_unit_test(newer_quarantined_copy_warns),
		cmocka_unit_test(stale_sync_warns),
		cmocka_unit_test(reasons_add_up_and_are_bounded),
		cmocka_unit_test(versions_counted_per_kind),
		cmocka_unit_test(overall_is_the_worst_kept_kind),
		cmocka_unit_test(older_upstream_warns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
