/*
 * conns.h - a worker's open connections: counted, and kept watched.
 *
 * Counted: a connection joins the table at its first request and leaves it
 * when evhttp closes it (the caller's close callback calls conns_forget), so
 * a worker holds at most its share of max_connections.
 *
 * Kept watched: evhttp turns a connection's read event off when a request
 * arrives and on again when the reply is queued. libevent asks epoll to
 * change what it watches only when the number of read events on a socket
 * goes to or from zero, so each connection in the table also holds one read
 * event of its own, its keeper, and evhttp's off-and-on then costs no system
 * call. The keeper does no reading. When it finds the connection not reading
 * (a request waits for a certificate fetch) while bytes are pending, it
 * stands down, or level-triggered epoll would report them on every pass of
 * the loop; the connection's next request arms it again.
 *
 * Bounded: while evhttp writes a reply it keeps reading, for close detection
 * only, and buffers whatever the client sends meanwhile, without limit: a
 * client that pipelines requests and reads no replies could fill the
 * daemon's memory. When a connection's unread input reaches input_max, its
 * keeper stops the reading; evhttp turns it on again once it has answered
 * what it holds.
 *
 * One table per worker thread; not thread-safe.
 */
#ifndef CTLMIRROR_CONNS_H
#define CTLMIRROR_CONNS_H

#include <stddef.h>

#include <event2/http.h>

struct conn;

struct conn_table {
	struct conn **slots;	/* open addressing; NULL empty, a tombstone after removal */
	size_t cap, n, n_tombs;
	size_t input_max;	/* unread input per connection before its reading stops;
				   the caller sets it, above the largest request evhttp
				   accepts, so a request still arriving is never stopped */
};

enum conn_admit {
	CONN_NEW,		/* first request: counted now; set the close callback */
	CONN_KNOWN,		/* a later request on a counted connection */
	CONN_UNTRACKED,		/* out of memory: served, but neither counted nor kept */
	CONN_REFUSED,		/* the worker already holds max connections */
};

/*
 * Called for every request on con. Counts a new connection unless max are
 * open, and arms the connection's keeper. The table has 2 * max + 1 slots
 * (grown when max was raised since) and stays at most half full.
 */
enum conn_admit conns_admit(struct conn_table *t, size_t max, struct evhttp_connection *con);

/* con is closing (call from its close callback, before its socket closes). */
void conns_forget(struct conn_table *t, struct evhttp_connection *con);

/* Frees the table and whatever it still holds (after evhttp_free). */
void conns_free(struct conn_table *t);

#endif
