/*
 * test_conns.c - a worker's connection table: the bound, known connections,
 * slots freed by closes, tombstones and rehashes over many cycles, max raised
 * or lowered by SIGHUP, and each connection's keeper event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "proxy/serve/conns.h"

struct fx {
	struct event_base *base;
	struct conn_table t;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	f->t.input_max = 65536;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	conns_free(&f->t);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* A connection object to use as a key; it never connects. */
static struct evhttp_connection *
mkcon(struct fx *f)
{
	struct evhttp_connection *c = evhttp_connection_base_new(f->base, NULL, "127.0.0.1", 9);

	assert_non_null(c);
	return c;
}

static void
mkcons(struct fx *f, struct evhttp_connection **c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = mkcon(f);
}

/* Closes a connection as evhttp would: the table forgets it first. */
static void
close_con(struct fx *f, struct evhttp_connection *c)
{
	conns_forget(&f->t, c);
	evhttp_connection_free(c);
}

static void
close_all(struct fx *f, struct evhttp_connection **c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != NULL)
			close_con(f, c[i]);
}

static void
admits_up_to_max_then_refuses(void **state)
{
	struct fx *f = *state;
	struct evhttp_connection *c[5];
	size_t i;

	mkcons(f, c, 5);
	for (i = 0; i < 3; i++) {
		assert_int_equal(conns_admit(&f->t, 3, c[i]), CONN_NEW);
		assert_int_equal(f->t.n, i + 1);
	}
	assert_int_equal(f->t.cap, 7);	/* 2 * max + 1 */
	assert_int_equal(conns_admit(&f->t, 3, c[3]), CONN_REFUSED);
	assert_int_equal(conns_admit(&f->t, 3, c[4]), CONN_REFUSED);
	assert_int_equal(f->t.n, 3);
	/* a refused connection was not counted: it is refused again, not known */
	assert_int_equal(conns_admit(&f->t, 3, c[3]), CONN_REFUSED);
	/* later requests on counted connections are known, even at the bound */
	for (i = 0; i < 3; i++)
		assert_int_equal(conns_admit(&f->t, 3, c[i]), CONN_KNOWN);
	assert_int_equal(f->t.n, 3);
	/* no connection: served untracked */
	assert_int_equal(conns_admit(&f->t, 3, NULL), CONN_UNTRACKED);
	assert_int_equal(f->t.n, 3);
	/* max 0 refuses everything new */
	assert_int_equal(conns_admit(&f->t, 0, c[4]), CONN_REFUSED);
	close_all(f, c, 5);
	assert_int_equal(f->t.n, 0);
}

static void
forget_frees_a_slot(void **state)
{
	struct fx *f = *state;
	struct evhttp_connection *c[4];

	mkcons(f, c, 4);
	assert_int_equal(conns_admit(&f->t, 2, c[0]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 2, c[1]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 2, c[2]), CONN_REFUSED);
	conns_forget(&f->t, c[0]);
	assert_int_equal(f->t.n, 1);
	/* forgetting it again, or one never counted, changes nothing */
	conns_forget(&f->t, c[0]);
	conns_forget(&f->t, c[3]);
	assert_int_equal(f->t.n, 1);
	assert_int_equal(conns_admit(&f->t, 2, c[2]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 2, c[1]), CONN_KNOWN);
	assert_int_equal(conns_admit(&f->t, 2, c[2]), CONN_KNOWN);
	assert_int_equal(conns_admit(&f->t, 2, c[3]), CONN_REFUSED);
	/* a forgotten connection's next request is a new one */
	conns_forget(&f->t, c[1]);
	assert_int_equal(conns_admit(&f->t, 2, c[0]), CONN_NEW);
	assert_int_equal(f->t.n, 2);
	conns_forget(&f->t, c[2]);
	conns_forget(&f->t, c[0]);
	assert_int_equal(f->t.n, 0);
	close_all(f, c, 4);
}

/*
 * Connections open and close for a long time, a window of them open at
 * once, so tombstones pile up and rehashes clear them: the count stays
 * exact, every open one stays known, the table stays at its size.
 */
static void
many_cycles_keep_the_count(void **state)
{
	struct fx *f = *state;
	enum { MAX = 16, WINDOW = 11, ROUNDS = 5000 };
	struct evhttp_connection *live[WINDOW] = { 0 }, *extra[MAX - WINDOW + 1];
	size_t i, j, open = 0;

	for (i = 0; i < ROUNDS; i++) {
		struct evhttp_connection **slot = &live[i % WINDOW];

		if (*slot != NULL) {
			close_con(f, *slot);
			open--;
		}
		*slot = mkcon(f);
		assert_int_equal(conns_admit(&f->t, MAX, *slot), CONN_NEW);
		open++;
		assert_int_equal(f->t.n, open);
		assert_int_equal(f->t.cap, 2 * MAX + 1);
		assert_true(f->t.n + f->t.n_tombs < f->t.cap);
		assert_true(f->t.n_tombs <= f->t.cap / 4 + 1);
		if (i % 97 == 0)
			for (j = 0; j < WINDOW; j++)
				if (live[j] != NULL)
					assert_int_equal(conns_admit(&f->t, MAX, live[j]), CONN_KNOWN);
	}
	assert_int_equal(open, WINDOW);
	/* the bound still holds exactly after all that */
	for (i = 0; i < MAX - WINDOW; i++) {
		extra[i] = mkcon(f);
		assert_int_equal(conns_admit(&f->t, MAX, extra[i]), CONN_NEW);
	}
	extra[i] = mkcon(f);
	assert_int_equal(conns_admit(&f->t, MAX, extra[i]), CONN_REFUSED);
	assert_int_equal(f->t.n, MAX);
	for (j = 0; j < WINDOW; j++)
		assert_int_equal(conns_admit(&f->t, MAX, live[j]), CONN_KNOWN);
	close_all(f, extra, MAX - WINDOW + 1);
	close_all(f, live, WINDOW);
	assert_int_equal(f->t.n, 0);
}

/* SIGHUP raised max_connections: the table grows and admits up to the new max. */
static void
raised_max_admits_more(void **state)
{
	struct fx *f = *state;
	struct evhttp_connection *c[12];
	size_t i;

	mkcons(f, c, 12);
	assert_int_equal(conns_admit(&f->t, 2, c[0]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 2, c[1]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 2, c[2]), CONN_REFUSED);
	assert_int_equal(f->t.cap, 5);
	/* the first admission under the new max grows the table (else it fills, and probes spin) */
	assert_int_equal(conns_admit(&f->t, 10, c[2]), CONN_NEW);
	assert_true(f->t.cap >= 21);
	for (i = 3; i < 10; i++)
		assert_int_equal(conns_admit(&f->t, 10, c[i]), CONN_NEW);
	assert_int_equal(f->t.n, 10);
	assert_true(f->t.cap >= 21);
	assert_true(f->t.n <= f->t.cap / 2);
	assert_int_equal(conns_admit(&f->t, 10, c[10]), CONN_REFUSED);
	/* the connections counted before the growth are still known */
	for (i = 0; i < 10; i++)
		assert_int_equal(conns_admit(&f->t, 10, c[i]), CONN_KNOWN);
	/* and again, much higher */
	assert_int_equal(conns_admit(&f->t, 1000, c[10]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 1000, c[11]), CONN_NEW);
	assert_true(f->t.cap >= 2001);
	for (i = 0; i < 12; i++)
		assert_int_equal(conns_admit(&f->t, 1000, c[i]), CONN_KNOWN);
	assert_int_equal(f->t.n, 12);
	close_all(f, c, 12);
	assert_int_equal(f->t.n, 0);
}

/* SIGHUP lowered it: the open ones stay, new ones wait until closes bring the count under. */
static void
lowered_max_keeps_the_open_ones(void **state)
{
	struct fx *f = *state;
	struct evhttp_connection *c[9];
	size_t i;

	mkcons(f, c, 9);
	for (i = 0; i < 6; i++)
		assert_int_equal(conns_admit(&f->t, 10, c[i]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 4, c[6]), CONN_REFUSED);
	for (i = 0; i < 6; i++)
		assert_int_equal(conns_admit(&f->t, 4, c[i]), CONN_KNOWN);
	assert_int_equal(f->t.n, 6);
	conns_forget(&f->t, c[0]);
	conns_forget(&f->t, c[1]);
	assert_int_equal(conns_admit(&f->t, 4, c[6]), CONN_REFUSED);	/* 4 open: at the bound */
	conns_forget(&f->t, c[2]);
	assert_int_equal(conns_admit(&f->t, 4, c[6]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 4, c[7]), CONN_REFUSED);
	assert_int_equal(f->t.n, 4);
	for (i = 3; i < 7; i++)
		assert_int_equal(conns_admit(&f->t, 4, c[i]), CONN_KNOWN);
	close_all(f, c, 9);
	assert_int_equal(f->t.n, 0);
}

static int
added_events(struct fx *f)
{
	return event_base_get_num_events(f->base, EVENT_BASE_COUNT_ADDED);
}

/*
 * A connection with a socket gets a keeper: an added read event, gone when
 * the connection is forgotten. While the connection is not reading (evhttp's
 * read disabled) and bytes are pending, the keeper stands down; the next
 * request arms it again.
 */
static void
keeper_follows_the_connection(void **state)
{
	struct fx *f = *state;
	struct bufferevent *bev;
	struct evhttp_connection *con;
	int sv[2], before;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	assert_non_null(bev = bufferevent_socket_new(f->base, sv[0], 0));
	bufferevent_disable(bev, EV_READ);
	assert_non_null(con = evhttp_connection_base_bufferevent_new(f->base, NULL, bev,
	    "127.0.0.1", 9));
	assert_int_equal(bufferevent_getfd(evhttp_connection_get_bufferevent(con)), sv[0]);

	before = added_events(f);
	assert_int_equal(conns_admit(&f->t, 4, con), CONN_NEW);
	assert_int_equal(added_events(f), before + 1);
	assert_int_equal(conns_admit(&f->t, 4, con), CONN_KNOWN);
	assert_int_equal(added_events(f), before + 1);	/* armed once */

	/* bytes arrive while the connection is not reading: the keeper stands down */
	assert_int_equal(write(sv[1], "GET / HTTP/1.1\r\n", 16), 16);
	assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(added_events(f), before);
	/* the next request arms it again */
	assert_int_equal(conns_admit(&f->t, 4, con), CONN_KNOWN);
	assert_int_equal(added_events(f), before + 1);

	conns_forget(&f->t, con);
	assert_int_equal(added_events(f), before);
	assert_int_equal(f->t.n, 0);
	evhttp_connection_free(con);	/* frees bev; closes sv[0] or not, by version */
	close(sv[1]);
}

/* conns_free releases what the table still holds, and the table can be used again. */
static void
free_releases_and_resets(void **state)
{
	struct fx *f = *state;
	struct evhttp_connection *c[3];
	size_t i;

	mkcons(f, c, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(conns_admit(&f->t, 3, c[i]), CONN_NEW);
	conns_free(&f->t);
	assert_null(f->t.slots);
	assert_int_equal(f->t.n, 0);
	assert_int_equal(f->t.cap, 0);
	assert_int_equal(f->t.n_tombs, 0);
	/* a forget after the free finds nothing; a fresh table works */
	conns_forget(&f->t, c[0]);
	assert_int_equal(conns_admit(&f->t, 1, c[0]), CONN_NEW);
	assert_int_equal(conns_admit(&f->t, 1, c[1]), CONN_REFUSED);
	close_all(f, c, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(admits_up_to_max_then_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(forget_frees_a_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(many_cycles_keep_the_count, setup, teardown),
		cmocka_unit_test_setup_teardown(raised_max_admits_more, setup, teardown),
		cmocka_unit_test_setup_teardown(lowered_max_keeps_the_open_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(keeper_follows_the_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(free_releases_and_resets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
