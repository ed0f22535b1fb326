/*
 * conns.c - a worker's open connections: a set keyed by the evhttp
 * connection, open addressing with tombstones, each entry with its keeper.
 */
#include <stdint.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy/serve/conns.h"

struct conn {
	struct evhttp_connection *con;
	struct bufferevent *bev;
	struct event *keeper;
	const struct conn_table *table;
};

/* A tombstone keeps probe chains intact after a removal. */
static struct conn tombstone;

static size_t
slot_of(const struct conn_table *t, const struct evhttp_connection *con)
{
	size_t cap = t->cap;

	/* callers hold a table (cap > 0); 0 for an empty one keeps this total */
	if (cap == 0)
		return 0;
	/* clang-tidy 14's analyzer reports cap 0 here right after noting it is not */
	return (size_t)(((uintptr_t)con >> 4) * 2654435761u % cap);	/* NOLINT(clang-analyzer-core.DivideZero) */
}

/* The slot holding con, or NULL. */
static struct conn **
find(const struct conn_table *t, const struct evhttp_connection *con)
{
	size_t i, n;

	if (t->cap == 0)
		return NULL;
	for (i = slot_of(t, con), n = 0; t->slots[i] != NULL && n < t->cap;
	    i = (i + 1) % t->cap, n++)
		if (t->slots[i] != &tombstone && t->slots[i]->con == con)
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
		for (j = slot_of(t, old[i]->con); t->slots[j] != NULL; j = (j + 1) % t->cap)
			;
		t->slots[j] = old[i];
	}
	t->n_tombs = 0;
	free(old);
	return 0;
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
arm(struct conn *c)
{
	if (c->keeper != NULL && !event_pending(c->keeper, EV_READ, NULL))
		event_add(c->keeper, NULL);
}

/* A new entry for con, with its keeper when one can be made. */
static struct conn *
conn_new(const struct conn_table *t, struct evhttp_connection *con)
{
	struct conn *c = calloc(1, sizeof(*c));
	evutil_socket_t fd;

	if (c == NULL)
		return NULL;
	c->table = t;
	c->con = con;
	c->bev = evhttp_connection_get_bufferevent(con);
	if (c->bev != NULL && (fd = bufferevent_getfd(c->bev)) >= 0)
		c->keeper = event_new(bufferevent_get_base(c->bev), fd, EV_READ | EV_PERSIST,
		    on_readable, c);
	return c;
}

static void
conn_free(struct conn *c)
{
	if (c->keeper != NULL)
		event_free(c->keeper);
	free(c);
}

enum conn_admit
conns_admit(struct conn_table *t, size_t max, struct evhttp_connection *con)
{
	struct conn **known, *c;
	size_t i;

	if (con == NULL)
		return CONN_UNTRACKED;
	if ((known = find(t, con)) != NULL) {
		arm(*known);
		return CONN_KNOWN;
	}
	if (t->n >= max)
		return CONN_REFUSED;
	/* at most half full of live entries: 2 * max + 1 slots, grown when max was raised */
	if (t->cap < 2 * max + 1 && rehash(t, 2 * max + 1) != 0 && t->n >= t->cap / 2)
		return t->cap == 0 ? CONN_UNTRACKED : CONN_REFUSED;
	if (t->cap == 0)
		return CONN_UNTRACKED;	/* no table could be made */
	if (t->n_tombs > t->cap / 4)
		rehash(t, t->cap);
	if ((c = conn_new(t, con)) == NULL)
		return CONN_UNTRACKED;
	for (i = slot_of(t, con); t->slots[i] != NULL && t->slots[i] != &tombstone;
	    i = (i + 1) % t->cap)
		;
	if (t->slots[i] == &tombstone)
		t->n_tombs--;
	t->slots[i] = c;
	t->n++;
	arm(c);
	return CONN_NEW;
}

void
conns_forget(struct conn_table *t, struct evhttp_connection *con)
{
	struct conn **slot = find(t, con);

	if (slot == NULL)
		return;
	conn_free(*slot);
	*slot = &tombstone;
	t->n--;
	t->n_tombs++;
}

void
conns_free(struct conn_table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		if (t->slots[i] != NULL && t->slots[i] != &tombstone)
			conn_free(t->slots[i]);
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = t->n_tombs = 0;
}
