/*
 * conns.c - a worker's open connections (see conns.h): a set keyed by the
 * connection's bufferevent, open addressing with tombstones; per entry its
 * deadline timer, its keeper, its strict scanner; a list of the idle ones,
 * oldest first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "proxy/serve/conns.h"
#include "proxy/serve/strict.h"

enum conn_state { C_PENDING = 0, C_IDLE, C_HEAD, C_BUSY };

struct conn {
	struct bufferevent *bev;
	struct evhttp_connection *con;		/* set at admission */
	struct conn_table *table;
	struct event *timer, *keeper;
	struct evbuffer_cb_entry *input_cb;
	struct conn *next_pending;
	struct conn *idle_prev, *idle_next;
	struct client_key key;
	int counted;				/* key is counted in clients */
	int in_idle;
	enum conn_state state;
	int fresh;				/* no request handed over yet */
	unsigned long requests;			/* requests handed over */
	struct strict_scan scan;
};

/* A tombstone keeps probe chains intact after a removal. */
static struct conn tombstone;

static void
count(uint64_t *counter)
{
	__atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}

/* ---- the set ---- */

static size_t
slot_of(const struct conn_table *t, const struct bufferevent *bev)
{
	size_t cap = t->cap;

	/* callers hold a table (cap > 0); 0 for an empty one keeps this total */
	if (cap == 0)
		return 0;
	/* clang-tidy 14's analyzer reports cap 0 here right after noting it is not */
	return (size_t)(((uintptr_t)bev >> 4) * 2654435761u % cap);	/* NOLINT(clang-analyzer-core.DivideZero) */
}

/* The slot holding bev's connection, or NULL. */
static struct conn **
find(const struct conn_table *t, const struct bufferevent *bev)
{
	size_t i, n;

	if (t->cap == 0)
		return NULL;
	for (i = slot_of(t, bev), n = 0; t->slots[i] != NULL && n < t->cap;
	    i = (i + 1) % t->cap, n++)
		if (t->slots[i] != &tombstone && t->slots[i]->bev == bev)
			return &t->slots[i];
	return NULL;
}

/*
 * Moves the live entries into a table of cap slots: drops the tombstones
 * (long runs of closes would otherwise lengthen every probe), and grows the
 * table when SIGHUP raised max. Returns 0, or -1 (the table is unchanged).
 */
static int
rehash(struct conn_table *t, size_t cap)
{
	struct conn **old = t->slots;
	size_t i, j, old_cap = t->cap;

	if ((t->slots = calloc(cap, sizeof(*t->slots))) == NULL) {
		t->slots = old;
		return -1;
	}
	t->cap = cap;
	for (i = 0; i < old_cap; i++) {
		if (old[i] == NULL || old[i] == &tombstone)
			continue;
		for (j = slot_of(t, old[i]->bev); t->slots[j] != NULL; j = (j + 1) % t->cap)
			;
		t->slots[j] = old[i];
	}
	t->n_tombs = 0;
	free(old);
	return 0;
}

/* Adds c: the table has 2 * max + 1 slots (grown when max was raised) and stays at most half full. */
static int
insert(struct conn_table *t, struct conn *c)
{
	size_t i, want = 2 * t->max + 1;

	if (t->cap < want && rehash(t, want) != 0 && t->n >= t->cap / 2)
		return -1;
	if (t->cap == 0 || t->n >= t->cap / 2)
		return -1;
	if (t->n_tombs > t->cap / 4)
		rehash(t, t->cap);
	for (i = slot_of(t, c->bev); t->slots[i] != NULL && t->slots[i] != &tombstone;
	    i = (i + 1) % t->cap)
		;
	if (t->slots[i] == &tombstone)
		t->n_tombs--;
	t->slots[i] = c;
	t->n++;
	return 0;
}

/* ---- idle list ---- */

static void
idle_remove(struct conn *c)
{
	struct conn_table *t = c->table;

	if (!c->in_idle)
		return;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		t->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		t->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->in_idle = 0;
}

static void
idle_append(struct conn *c)
{
	struct conn_table *t = c->table;

	idle_remove(c);
	c->idle_prev = t->idle_tail;
	if (t->idle_tail != NULL)
		t->idle_tail->idle_next = c;
	else
		t->idle_head = c;
	t->idle_tail = c;
	c->in_idle = 1;
}

/* ---- states ---- */

/* Waiting for a request's first byte: a new connection has header_timeout, a kept one keepalive_timeout. */
static void
become_idle(struct conn *c)
{
	c->state = C_IDLE;
	idle_append(c);
	if (c->timer != NULL)
		event_add(c->timer, c->fresh ? &c->table->header_timeout : &c->table->keepalive_timeout);
}

/* A request's head has begun: its deadline runs (a new connection's from accept). */
static void
become_head(struct conn *c)
{
	int restart = c->state != C_IDLE || !c->fresh;

	c->state = C_HEAD;
	idle_remove(c);
	if (c->timer != NULL && restart)
		event_add(c->timer, &c->table->header_timeout);
}

/* Every byte the client sends, as it arrives: scanned, and it ends idleness. */
static void
on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	struct evbuffer_iovec v[8];
	struct evbuffer_ptr p;
	size_t len = evbuffer_get_length(buf), left, n;
	int i, nv;

	if (info->n_added == 0)
		return;
	left = info->n_added < len ? info->n_added : len;
	if (evbuffer_ptr_set(buf, &p, len - left, EVBUFFER_PTR_SET) != 0)
		return;
	while (left > 0 && (nv = evbuffer_peek(buf, (ev_ssize_t)left, &p, v, 8)) > 0) {
		for (i = 0, n = 0; i < nv && i < 8 && n < left; i++) {
			size_t k = v[i].iov_len < left - n ? v[i].iov_len : left - n;

			strict_scan_feed(&c->scan, v[i].iov_base, k);
			n += k;
		}
		left -= n;
		if (n == 0 || evbuffer_ptr_set(buf, &p, n, EVBUFFER_PTR_ADD) != 0)
			break;
	}
	if (c->state == C_IDLE)
		become_head(c);
}

/* A deadline passed: close without a reply. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct metrics *m = c->table->metrics;

	(void)fd;
	(void)what;
	if (m != NULL)
		count(c->state == C_IDLE && !c->fresh ? &m->keepalive_closes : &m->header_timeouts);
	evhttp_connection_free(c->con);		/* on_closed frees c */
}

/*
 * The socket is readable. evhttp's own read event does the reading. With too
 * much unread input, stop it; when the connection is not reading, stand down
 * until its next request.
 */
static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) >= c->table->input_max)
		bufferevent_disable(c->bev, EV_READ);
	if ((bufferevent_get_enabled(c->bev) & EV_READ) == 0)
		event_del(c->keeper);
}

static void
conn_free(struct conn *c)
{
	if (c->input_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->keeper != NULL)
		event_free(c->keeper);
	free(c);
}

/* evhttp is closing an admitted connection (before its socket closes). */
static void
on_closed(struct evhttp_connection *con, void *arg)
{
	struct conn *c = arg;
	struct conn_table *t = c->table;
	struct conn **slot = find(t, c->bev);

	if (slot != NULL) {
		*slot = &tombstone;
		t->n--;
		t->n_tombs++;
	}
	idle_remove(c);
	if (c->counted && t->clients != NULL)
		clients_release(t->clients, &c->key);
	conn_free(c);
	if (t->on_close != NULL)
		t->on_close(con, t->on_close_arg);
}

/* The reply went out: the connection reads its next request, or waits for one. */
static void
on_reply_done(struct evhttp_request *req, void *arg)
{
	struct conn *c = arg;

	(void)req;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		become_head(c);
	else
		become_idle(c);
}

/* ---- admission ---- */

static const char refusal_total[] =
    "HTTP/1.1 503 Service Unavailable\r\nServer: ctlmirror\r\nContent-Type: text/plain\r\n"
    "Content-Length: 25\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
    "503 too many connections\n";
static const char refusal_client[] =
    "HTTP/1.1 503 Service Unavailable\r\nServer: ctlmirror\r\nContent-Type: text/plain\r\n"
    "Content-Length: 43\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
    "503 too many connections from your address\n";

/* Writes the 503 straight to the socket and closes the connection; c is freed. */
static void
refuse(struct conn_table *t, struct conn *c, int per_client)
{
	struct bufferevent *bev = c->bev;
	evutil_socket_t fd = bufferevent_getfd(bev);
	const char *msg = per_client ? refusal_client : refusal_total;
	char drop[4096];
	int i;

	if (fd >= 0) {
		/* what the client sent already: read, so closing does not reset the reply */
		for (i = 0; i < 16 && recv(fd, drop, sizeof(drop), MSG_DONTWAIT) > 0; i++)
			;
		if (send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* nothing more to do: the connection closes anyway */
		}
	}
	if (t->metrics != NULL)
		count(per_client ? &t->metrics->refused_per_client : &t->metrics->refused_connections);
	evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->input_cb);
	c->input_cb = NULL;
	evhttp_connection_free(c->con);
	conn_free(c);
	bufferevent_decref(bev);
}

static void
admit_one(struct conn_table *t, struct conn *c)
{
	struct bufferevent *bev = c->bev;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct event_base *base = bufferevent_get_base(bev);
	enum clients_res res;
	void *cbarg = NULL;
	evutil_socket_t fd;

	/* evhttp's callbacks on the bufferevent carry its connection; none: it let go already */
	bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
	if (cbarg == NULL || (fd = bufferevent_getfd(bev)) < 0) {
		conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	c->con = cbarg;
	if (t->n >= t->max) {
		refuse(t, c, 0);
		return;
	}
	if (t->clients != NULL && getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	    client_key_of((struct sockaddr *)&ss, sslen, &c->key) == 0) {
		res = clients_acquire(t->clients, &c->key, t->per_client, t->max_addrs);
		if (res == CLIENTS_AT_CAP && conns_close_idle(t, &c->key))
			res = clients_acquire(t->clients, &c->key, t->per_client, t->max_addrs);
		if (res != CLIENTS_OK) {
			refuse(t, c, res == CLIENTS_AT_CAP);
			return;
		}
		c->counted = 1;
	}
	c->timer = evtimer_new(base, on_deadline, c);
	c->keeper = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
	if (c->timer == NULL || insert(t, c) != 0) {
		/* out of memory: served, untracked */
		if (c->counted && t->clients != NULL)
			clients_release(t->clients, &c->key);
		conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	c->fresh = 1;
	evhttp_connection_set_closecb(c->con, on_closed, c);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		become_head(c);
	else
		become_idle(c);
	bufferevent_decref(bev);
}

static void
on_admit(evutil_socket_t fd, short what, void *arg)
{
	struct conn_table *t = arg;
	struct conn *c;

	(void)fd;
	(void)what;
	while ((c = t->pending) != NULL) {
		t->pending = c->next_pending;
		t->n_pending--;
		admit_one(t, c);
	}
}

/* ---- the interface ---- */

int
conns_init(struct conn_table *t, struct event_base *base)
{
	memset(t, 0, sizeof(*t));
	t->input_max = 65536;
	return (t->admit = event_new(base, -1, 0, on_admit, t)) != NULL ? 0 : -1;
}

size_t
conns_accepted(struct conn_table *t, struct bufferevent *bev)
{
	struct conn *c;

	if (bev == NULL || t->admit == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		return t->n_pending;
	c->bev = bev;
	c->table = t;
	if ((c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c)) == NULL) {
		free(c);
		return t->n_pending;
	}
	/* held until admission, so that a connection evhttp dropped meanwhile is seen as such */
	bufferevent_incref(bev);
	c->next_pending = t->pending;
	t->pending = c;
	if (t->n_pending++ == 0)
		event_active(t->admit, EV_TIMEOUT, 1);
	return t->n_pending;
}

enum conn_admit
conns_request(struct conn_table *t, struct evhttp_request *req, int *folded)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;
	struct conn **slot = bev != NULL ? find(t, bev) : NULL;
	struct conn *c;

	*folded = 0;
	if (slot == NULL)
		return CONN_UNTRACKED;
	c = *slot;
	*folded = strict_scan_folded(&c->scan, c->requests);
	c->requests++;
	c->fresh = 0;
	c->state = C_BUSY;
	idle_remove(c);
	event_del(c->timer);
	if (c->keeper != NULL && !event_pending(c->keeper, EV_READ, NULL))
		event_add(c->keeper, NULL);
	evhttp_request_set_on_complete_cb(req, on_reply_done, c);
	return CONN_KNOWN;
}

int
conns_close_idle(struct conn_table *t, const struct client_key *key)
{
	struct conn *c;

	for (c = t->idle_head; c != NULL; c = c->idle_next)
		if (key == NULL || (c->counted && memcmp(&c->key, key, sizeof(*key)) == 0)) {
			if (t->metrics != NULL)
				count(&t->metrics->idle_closed);
			evhttp_connection_free(c->con);		/* on_closed frees c */
			return 1;
		}
	return 0;
}

void
conns_free(struct conn_table *t)
{
	struct conn *c;
	size_t i;

	while ((c = t->pending) != NULL) {
		struct bufferevent *bev = c->bev;

		t->pending = c->next_pending;
		conn_free(c);
		bufferevent_decref(bev);
	}
	for (i = 0; i < t->cap; i++)
		if (t->slots[i] != NULL && t->slots[i] != &tombstone)
			conn_free(t->slots[i]);
	free(t->slots);
	if (t->admit != NULL)
		event_free(t->admit);
	t->slots = NULL;
	t->admit = NULL;
	t->pending = t->idle_head = t->idle_tail = NULL;
	t->cap = t->n = t->n_tombs = t->n_pending = 0;
}
