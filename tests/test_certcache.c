/*
 * test_certcache.c - the memory of failed root-certificate fetches (expiry,
 * renewal, forgetting, the bound and which entry makes room) and the client
 * fetch rate's token bucket (burst, refill, retry time, a clock set back, a
 * rate lowered, rate 0), and the transfers known to run (claims, the bound,
 * the listener told when one ends).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/certcache.h"

#define T0 ((time_t)1717200000)	/* 2024-06-01 */

static void
name(unsigned char sha1[20], unsigned n)
{
	memset(sha1, 0, 20);
	sha1[0] = (unsigned char)(n >> 8);
	sha1[1] = (unsigned char)n;
	sha1[19] = 0xaa;
}

static int
setup(void **state)
{
	struct certcache *c = malloc(sizeof(*c));

	assert_non_null(c);
	certcache_init(c);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

static void
failure_lasts_retry_after(void **state)
{
	struct certcache *c = *state;
	unsigned char a[20], b[20];

	name(a, 1);
	name(b, 2);
	assert_int_equal(certcache_failed(c, a, T0), 0);
	certcache_note_failure(c, a, T0, 600);
	assert_int_equal(certcache_failed(c, a, T0), 1);
	assert_int_equal(certcache_failed(c, a, T0 + 599), 1);
	assert_int_equal(certcache_failed(c, b, T0 + 1), 0);	/* only the one that failed */
	assert_int_equal(certcache_failed(c, a, T0 + 600), 0);	/* expired, and dropped */
	assert_int_equal(c->n, 0);
}

static void
second_failure_moves_the_end(void **state)
{
	struct certcache *c = *state;
	unsigned char a[20];

	name(a, 1);
	certcache_note_failure(c, a, T0, 600);
	certcache_note_failure(c, a, T0 + 500, 600);
	assert_int_equal(c->n, 1);
	assert_int_equal(certcache_failed(c, a, T0 + 1000), 1);
	assert_int_equal(certcache_failed(c, a, T0 + 1100), 0);
}

static void
forget_and_zero_retry(void **state)
{
	struct certcache *c = *state;
	unsigned char a[20], b[20];

	name(a, 1);
	name(b, 2);
	certcache_note_failure(c, a, T0, 600);
	certcache_note_failure(c, b, T0, 600);
	certcache_forget(c, a);
	assert_int_equal(certcache_failed(c, a, T0 + 1), 0);
	assert_int_equal(certcache_failed(c, b, T0 + 1), 1);
	certcache_forget(c, a);		/* not there: nothing happens */
	assert_int_equal(c->n, 1);
	name(a, 3);
	certcache_note_failure(c, a, T0, 0);	/* cert_retry_after 0: no memory */
	assert_int_equal(certcache_failed(c, a, T0), 0);
	assert_int_equal(c->n, 1);
}

static void
bounded_soonest_makes_room(void **state)
{
	struct certcache *c = *state;
	unsigned char s[20];
	unsigned i;

	/* entry i ends at T0 + 1000 + i, except 700, which ends first */
	for (i = 0; i < CERTCACHE_MAX; i++) {
		name(s, i);
		certcache_note_failure(c, s, T0, i == 700 ? 10 : 1000 + i);
	}
	assert_int_equal(c->n, CERTCACHE_MAX);
	name(s, 5000);
	certcache_note_failure(c, s, T0 + 1, 5000);
	assert_int_equal(c->n, CERTCACHE_MAX);
	assert_int_equal(certcache_failed(c, s, T0 + 2), 1);
	name(s, 700);
	assert_int_equal(certcache_failed(c, s, T0 + 2), 0);	/* it made room */
	name(s, 0);
	assert_int_equal(certcache_failed(c, s, T0 + 2), 1);	/* the others stay */
	name(s, CERTCACHE_MAX - 1);
	assert_int_equal(certcache_failed(c, s, T0 + 2), 1);
	/* with none expired the soonest goes: entry 0 now (T0 + 1000) */
	name(s, 5001);
	certcache_note_failure(c, s, T0 + 3, 5000);
	name(s, 0);
	assert_int_equal(certcache_failed(c, s, T0 + 4), 0);
	assert_int_equal(c->n, CERTCACHE_MAX);
}

static void
bucket_burst_then_refill(void **state)
{
	struct certcache *c = *state;
	unsigned long retry = 0;
	int i;

	/* 2 a minute: a burst of 2, then one every 30 s */
	assert_int_equal(certcache_take(c, 2, T0, &retry), 1);
	assert_int_equal(certcache_take(c, 2, T0, &retry), 1);
	assert_int_equal(certcache_take(c, 2, T0, &retry), 0);
	assert_int_equal(retry, 30);
	assert_int_equal(certcache_take(c, 2, T0 + 29, &retry), 0);
	assert_int_equal(retry, 1);
	assert_int_equal(certcache_take(c, 2, T0 + 30, &retry), 1);
	assert_int_equal(certcache_take(c, 2, T0 + 30, &retry), 0);
	/* an hour idle refills a minute's worth, no more */
	for (i = 0; i < 2; i++)
		assert_int_equal(certcache_take(c, 2, T0 + 3600, NULL), 1);
	assert_int_equal(certcache_take(c, 2, T0 + 3600, NULL), 0);
}

static void
bucket_many_requests_few_fetches(void **state)
{
	struct certcache *c = *state;
	int i, taken = 0;

	/* 500 asks in 10 seconds at 60 a minute: the burst plus 10 s of refill */
	for (i = 0; i < 500; i++)
		taken += certcache_take(c, 60, T0 + i / 50, NULL);
	assert_int_equal(taken, 60 + 9);
}

static void
bucket_clock_back_and_rate_changes(void **state)
{
	struct certcache *c = *state;
	unsigned long retry = 0;

	assert_int_equal(certcache_take(c, 1, T0, &retry), 1);
	assert_int_equal(certcache_take(c, 1, T0, &retry), 0);
	assert_int_equal(retry, 60);
	/* set back an hour: no fetch for it, the refill starts again there */
	assert_int_equal(certcache_take(c, 1, T0 - 3600, &retry), 0);
	assert_int_equal(certcache_take(c, 1, T0 - 3600 + 60, &retry), 1);
	/* raised to 120 a minute: refills at the new rate, up to its burst */
	assert_int_equal(certcache_take(c, 120, T0 + 100000, NULL), 1);
	assert_true(c->tokens == 119 * 60);
	/* lowered to 1 a minute: never more than its own burst */
	assert_int_equal(certcache_take(c, 1, T0 + 100000, NULL), 1);
	assert_int_equal(certcache_take(c, 1, T0 + 100000, NULL), 0);
	/* 0: clients cause no fetch at all */
	assert_int_equal(certcache_take(c, 0, T0 + 200000, &retry), 0);
	/* an absurd rate does not overflow */
	assert_int_equal(certcache_take(c, (unsigned long)-1, T0 + 300000, NULL), 1);
}

static void
busy_claims_and_ends(void **state)
{
	struct certcache *c = *state;
	unsigned char a[20], b[20];
	unsigned i;

	name(a, 1);
	name(b, 2);
	assert_int_equal(certcache_busy(c, a), 0);
	assert_int_equal(certcache_begin(c, a), 1);
	assert_int_equal(certcache_begin(c, a), 0);	/* running: the second caller waits */
	assert_int_equal(certcache_busy(c, a), 1);
	assert_int_equal(certcache_busy(c, b), 0);
	certcache_end(c, a, 1);
	assert_int_equal(certcache_busy(c, a), 0);
	assert_int_equal(certcache_begin(c, a), 1);
	certcache_end(c, a, 0);
	/* full: not tracked, the caller still goes ahead */
	for (i = 0; i < CERTCACHE_BUSY; i++) {
		name(b, 100 + i);
		assert_int_equal(certcache_begin(c, b), 1);
	}
	assert_int_equal(certcache_begin(c, a), 1);
	assert_int_equal(certcache_busy(c, a), 0);
	certcache_end(c, a, 0);		/* not tracked: nothing to release */
	assert_int_equal(c->n_busy, CERTCACHE_BUSY);
}

static unsigned ended_calls;
static int ended_stored;

static void
ended(void *arg, const unsigned char sha1[20], int stored)
{
	assert_int_equal(sha1[1], 7);
	assert_ptr_equal(arg, &ended_calls);
	ended_calls++;
	ended_stored = stored;
}

static void
end_tells_the_listener(void **state)
{
	struct certcache *c = *state;
	unsigned char a[20];

	name(a, 7);
	c->ended = ended;
	c->ended_arg = &ended_calls;
	assert_int_equal(certcache_begin(c, a), 1);
	certcache_end(c, a, 1);
	assert_int_equal(ended_calls, 1);
	assert_int_equal(ended_stored, 1);
	assert_int_equal(certcache_busy(c, a), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(failure_lasts_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(second_failure_moves_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(forget_and_zero_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(bounded_soonest_makes_room, setup, teardown),
		cmocka_unit_test_setup_teardown(bucket_burst_then_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(bucket_many_requests_few_fetches, setup, teardown),
		cmocka_unit_test_setup_teardown(bucket_clock_back_and_rate_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(busy_claims_and_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(end_tells_the_listener, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
