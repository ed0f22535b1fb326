/*
 * test_conns.c - a worker's connection table on a real evhttp over loopback:
 * counted from accept (idle ones too), the worker's share refused with a
 * 503, the per-address cap closing the oldest idle connection first, the
 * header deadline (not reset by each byte), the keep-alive timeout, the
 * folded-line verdict handed to the request; and the per-address counts
 * (clients.c): cap, release, many addresses, the IPv6 /64 key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "proxy/serve/clients.h"
#include "proxy/serve/conns.h"

struct fx {
	struct event_base *base;
	struct evhttp *http;
	struct conn_table t;
	struct clients clients;
	struct metrics m;
	int port;
	int folded_seen, requests;
};

static struct bufferevent *
bevcb(struct event_base *base, void *arg)
{
	struct fx *f = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	conns_accepted(&f->t, bev);
	return bev;
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct fx *f = arg;
	struct evbuffer *b = evbuffer_new();
	int folded = 0;

	assert_int_equal(conns_request(&f->t, req, &folded), CONN_KNOWN);
	f->folded_seen += folded;
	f->requests++;
	evbuffer_add(b, "ok\n", 3);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct evhttp_bound_socket *s;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->http = evhttp_new(f->base));
	assert_int_equal(conns_init(&f->t, f->base), 0);
	assert_int_equal(clients_init(&f->clients, 12345), 0);
	f->t.max = 100;
	f->t.max_addrs = 100;
	f->t.header_timeout.tv_sec = 10;
	f->t.keepalive_timeout.tv_sec = 10;
	f->t.clients = &f->clients;
	f->t.metrics = &f->m;
	evhttp_set_bevcb(f->http, bevcb, f);
	evhttp_set_gencb(f->http, handle, f);
	assert_non_null(s = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0));
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	evhttp_free(f->http);
	conns_free(&f->t);
	clients_destroy(&f->clients);
	event_base_free(f->base);
	free(f);
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop for about secs. */
static void
spin(struct fx *f, double secs)
{
	double end = now_s() + secs;

	while (now_s() < end) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* A client socket from 127.0.0.1, or from src (another loopback address). */
static int
client(struct fx *f, const char *src)
{
	struct sockaddr_in sin;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	if (src != NULL) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, src, &sin.sin_addr), 1);
		assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	spin(f, 0.05);
	return s;
}

/* What the server sent so far, without waiting; *closed when it closed. */
static size_t
peek_reply(int s, char *buf, size_t len, int *closed)
{
	size_t n = 0;
	ssize_t r;

	*closed = 0;
	while (n + 1 < len && (r = recv(s, buf + n, len - 1 - n, MSG_DONTWAIT)) != 0) {
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				*closed = 1;
			break;
		}
		n += (size_t)r;
	}
	if (r == 0)
		*closed = 1;
	buf[n] = '\0';
	return n;
}

static void
send_str(int s, const char *str)
{
	assert_int_equal(send(s, str, strlen(str), MSG_NOSIGNAL), (ssize_t)strlen(str));
}

/* Idle connections are counted at accept; beyond max they get a 503 and are closed. */
static void
counted_from_accept(void **state)
{
	struct fx *f = *state;
	char buf[512];
	int s[3], closed, i;

	f->t.max = 2;
	f->t.per_client = 0;
	for (i = 0; i < 3; i++)
		s[i] = client(f, NULL);
	assert_int_equal(f->t.n, 2);
	assert_int_equal(f->m.refused_connections, 1);
	peek_reply(s[2], buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "HTTP/1.1 503 "));
	assert_non_null(strstr(buf, "503 too many connections\n"));
	assert_true(closed);
	/* the admitted ones are served */
	send_str(s[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	spin(f, 0.05);
	peek_reply(s[0], buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "HTTP/1.1 200 "));
	/* a close frees the slot */
	close(s[1]);
	spin(f, 0.05);
	assert_int_equal(f->t.n, 1);
	s[1] = client(f, NULL);
	assert_int_equal(f->t.n, 2);
	assert_int_equal(f->m.refused_connections, 1);
	for (i = 0; i < 3; i++)
		close(s[i]);
	spin(f, 0.05);
	assert_int_equal(f->t.n, 0);
	assert_int_equal(clients_addresses(&f->clients), 0);
}

/*
 * An address at its cap: its oldest idle connection is closed to make
 * room; one reading a request is not idle; another address is not affected.
 */
static void
per_client_cap_closes_the_oldest_idle(void **state)
{
	struct fx *f = *state;
	struct client_key k;
	struct sockaddr_in sin;
	char buf[512];
	int a, b, c, d, e, closed;

	f->t.per_client = 2;
	a = client(f, NULL);
	b = client(f, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(client_key_of((struct sockaddr *)&sin, sizeof(sin), &k), 0);
	assert_int_equal(clients_count(&f->clients, &k), 2);
	c = client(f, NULL);		/* a, the oldest idle, makes room */
	peek_reply(a, buf, sizeof(buf), &closed);
	assert_true(closed);
	assert_int_equal(buf[0], '\0');	/* closed without a reply */
	assert_int_equal(f->m.idle_closed, 1);
	assert_int_equal(clients_count(&f->clients, &k), 2);
	/* b starts a request: not idle; c is the only idle one, and goes next */
	send_str(b, "GET / HTTP/1.1\r\n");
	spin(f, 0.05);
	d = client(f, NULL);
	peek_reply(c, buf, sizeof(buf), &closed);
	assert_true(closed);
	peek_reply(b, buf, sizeof(buf), &closed);
	assert_false(closed);
	assert_int_equal(f->m.idle_closed, 2);
	/* b busy, d idle: d goes; then b and the new one are not idle: refused */
	send_str(d, "G");
	spin(f, 0.05);
	e = client(f, NULL);
	peek_reply(e, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "503 too many connections from your address\n"));
	assert_true(closed);
	assert_int_equal(f->m.refused_per_client, 1);
	close(e);
	/* another address is counted apart */
	e = client(f, "127.0.0.2");
	peek_reply(e, buf, sizeof(buf), &closed);
	assert_false(closed);
	assert_int_equal(f->t.n, 3);
	assert_int_equal(clients_addresses(&f->clients), 2);
	close(a);
	close(b);
	close(c);
	close(d);
	close(e);
	spin(f, 0.05);
	assert_int_equal(f->t.n, 0);
	assert_int_equal(clients_addresses(&f->clients), 0);
}

/* A head sent a byte at a time is closed at the deadline, not kept alive by each byte. */
static void
header_deadline_is_not_per_byte(void **state)
{
	struct fx *f = *state;
	const char *head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa";
	char buf[64], one[2] = { 0, 0 };
	double t0 = now_s();
	int s, closed = 0;
	size_t i;

	f->t.header_timeout.tv_sec = 0;
	f->t.header_timeout.tv_usec = 300000;
	s = client(f, NULL);
	for (i = 0; i < strlen(head) && !closed; i++) {
		one[0] = head[i];
		if (send(s, one, 1, MSG_NOSIGNAL) != 1)
			break;
		spin(f, 0.02);
		peek_reply(s, buf, sizeof(buf), &closed);
	}
	spin(f, 0.4);
	peek_reply(s, buf, sizeof(buf), &closed);
	assert_true(closed);
	assert_true(now_s() - t0 < 1.5);
	assert_int_equal(f->m.header_timeouts, 1);
	assert_int_equal(f->requests, 0);
	assert_int_equal(f->t.n, 0);
	close(s);
	/* a connection that sends nothing has the same deadline */
	s = client(f, NULL);
	spin(f, 0.45);
	peek_reply(s, buf, sizeof(buf), &closed);
	assert_true(closed);
	assert_int_equal(f->m.header_timeouts, 2);
	close(s);
}

/* After a reply, an idle keep-alive connection is closed after keepalive_timeout. */
static void
keepalive_timeout_closes_idle(void **state)
{
	struct fx *f = *state;
	char buf[512];
	int s, closed;

	f->t.keepalive_timeout.tv_sec = 0;
	f->t.keepalive_timeout.tv_usec = 200000;
	s = client(f, NULL);
	send_str(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	spin(f, 0.05);
	peek_reply(s, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "200 OK"));
	assert_false(closed);
	spin(f, 0.35);
	peek_reply(s, buf, sizeof(buf), &closed);
	assert_true(closed);
	assert_int_equal(f->m.keepalive_closes, 1);
	assert_int_equal(f->m.header_timeouts, 0);
	close(s);
}

/* The scanner's verdict reaches the request whose head had the folded line, not the one before. */
static void
folded_line_reaches_its_request(void **state)
{
	struct fx *f = *state;
	char buf[1024];
	int s, closed;

	s = client(f, NULL);
	send_str(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	spin(f, 0.05);
	assert_int_equal(f->requests, 1);
	assert_int_equal(f->folded_seen, 0);
	send_str(s, "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n");
	spin(f, 0.05);
	peek_reply(s, buf, sizeof(buf), &closed);
	assert_int_equal(f->requests, 2);
	assert_int_equal(f->folded_seen, 1);
	close(s);
}

static void
key(struct client_key *k, uint32_t v4)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(v4);
	assert_int_equal(client_key_of((struct sockaddr *)&sin, sizeof(sin), k), 0);
}

/* Counts per address: the cap, the bound on addresses, release and reuse over many cycles. */
static void
clients_counts(void **state)
{
	struct clients c;
	struct client_key k[600];
	size_t i, j;

	(void)state;
	assert_int_equal(clients_init(&c, 99), 0);
	key(&k[0], 0x0a000001);
	assert_int_equal(clients_acquire(&c, &k[0], 2, 10), CLIENTS_OK);
	assert_int_equal(clients_acquire(&c, &k[0], 2, 10), CLIENTS_OK);
	assert_int_equal(clients_acquire(&c, &k[0], 2, 10), CLIENTS_AT_CAP);
	assert_int_equal(clients_count(&c, &k[0]), 2);
	clients_release(&c, &k[0]);
	assert_int_equal(clients_acquire(&c, &k[0], 2, 10), CLIENTS_OK);
	clients_release(&c, &k[0]);
	clients_release(&c, &k[0]);
	assert_int_equal(clients_addresses(&c), 0);
	/* at most max_addrs addresses */
	for (i = 0; i < 600; i++)
		key(&k[i], 0x0a000000 + (uint32_t)i * 7919);
	for (i = 0; i < 500; i++)
		assert_int_equal(clients_acquire(&c, &k[i], 0, 500), CLIENTS_OK);
	assert_int_equal(clients_acquire(&c, &k[500], 0, 500), CLIENTS_FULL);
	assert_true(c.cap <= 4 * 500);
	/* releases in another order: every count stays exact (backward shifts) */
	for (j = 0; j < 20; j++) {
		for (i = j; i < 500; i += 20)
			clients_release(&c, &k[i]);
		for (i = 0; i < 500; i++)
			if (i % 20 <= j)
				assert_int_equal(clients_count(&c, &k[i]), 0);
			else
				assert_int_equal(clients_count(&c, &k[i]), 1);
	}
	assert_int_equal(clients_addresses(&c), 0);
	assert_int_equal(clients_acquire(&c, &k[599], 0, 500), CLIENTS_OK);
	clients_destroy(&c);
}

/* Keys: IPv4 and IPv4-mapped IPv6 alike; IPv6 by its /64; AF_UNIX has none. */
static void
client_keys(void **state)
{
	struct sockaddr_in6 a, b;
	struct sockaddr_in v4;
	struct sockaddr un = { .sa_family = AF_UNIX };
	struct client_key ka, kb, k4;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	b = a;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::1", &a.sin6_addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &b.sin6_addr), 1);
	assert_int_equal(client_key_of((struct sockaddr *)&a, sizeof(a), &ka), 0);
	assert_int_equal(client_key_of((struct sockaddr *)&b, sizeof(b), &kb), 0);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:3::1", &b.sin6_addr), 1);
	assert_int_equal(client_key_of((struct sockaddr *)&b, sizeof(b), &kb), 0);
	assert_memory_not_equal(&ka, &kb, sizeof(ka));
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &a.sin6_addr), 1);
	assert_int_equal(client_key_of((struct sockaddr *)&a, sizeof(a), &ka), 0);
	memset(&v4, 0, sizeof(v4));
	v4.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr), 1);
	assert_int_equal(client_key_of((struct sockaddr *)&v4, sizeof(v4), &k4), 0);
	assert_memory_equal(&ka, &k4, sizeof(ka));
	assert_int_equal(client_key_of(&un, sizeof(un), &ka), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counted_from_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(per_client_cap_closes_the_oldest_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(header_deadline_is_not_per_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(keepalive_timeout_closes_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(folded_line_reaches_its_request, setup, teardown),
		cmocka_unit_test(clients_counts),
		cmocka_unit_test(client_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
