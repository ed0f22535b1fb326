/*
 * conns.h - a worker's open connections: counted from accept, under
 * deadlines, fair between clients, and kept watched.
 *
 * Counted from accept. evhttp asks the worker for each new connection's
 * bufferevent (evhttp_set_bevcb) the moment it has accepted it: the caller
 * hands that bufferevent to conns_accepted(), and the table admits the
 * connection a moment later, once evhttp has set it up (an event made
 * active, run in the same pass of the loop, before the connection can be
 * read). Admission decides, in this order:
 *   - the worker already holds max connections (its share of
 *     max_connections): refused;
 *   - the client's address already holds per_client connections, across
 *     all workers (clients.h): the worker closes that address's oldest idle
 *     connection, if it has one, to make room; else refused.
 * A refused connection gets a short 503 written straight to its socket
 * (what it sent is read and dropped first, so it sees the reply, not a
 * reset) and is closed; it never reaches the HTTP parser.
 *
 * Under deadlines. Each admitted connection is in one of three states:
 *   - idle: no byte of a request yet. A new connection has header_timeout
 *     from accept for its whole first request head; after a reply, the
 *     connection may stay idle for keepalive_timeout;
 *   - reading a head: from its first byte (after a reply) the request's
 *     whole head, and the body if it announced one, must arrive within
 *     header_timeout: a deadline, not reset by each byte as evhttp's own
 *     timeout is, so a client sending a byte a second is closed at it;
 *   - busy: the request was handed to the caller (conns_request) and is
 *     being answered; evhttp's timeout guards the reply's progress.
 * When a deadline passes the connection is closed without a reply.
 *
 * Strict. Every byte a connection sends goes through its strict.h scanner,
 * which spots folded header lines before evhttp's parser erases them.
 *
 * Kept watched: evhttp turns a connection's read event off when a request
 * arrives and on again when the reply is queued. libevent asks epoll to
 * change what it watches only when the number of read events on a socket
 * goes to or from zero, so each busy connection also holds one read event
 * of its own, its keeper, and evhttp's off-and-on then costs no system
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
 * One table per worker thread; not thread-safe (clients.h is).
 */
#ifndef CTLMIRROR_CONNS_H
#define CTLMIRROR_CONNS_H

#include <stddef.h>
#include <sys/time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "proxy/serve/clients.h"
#include "proxy/serve/metrics.h"

struct conn;

struct conn_table {
	struct conn **slots;	/* open addressing by bufferevent; NULL empty, a tombstone after removal */
	size_t cap, n, n_tombs;
	struct conn *pending;	/* accepted, not yet admitted */
	size_t n_pending;
	struct conn *idle_head, *idle_tail;	/* idle connections, oldest first */
	struct event *admit;	/* runs the admissions */

	/* set by the owner before the first conns_accepted (and again on SIGHUP) */
	size_t max;		/* this worker's share of max_connections */
	size_t per_client;	/* per address, all workers together; 0: no cap */
	size_t max_addrs;	/* the addresses clients may hold (max_connections) */
	struct timeval header_timeout, keepalive_timeout;
	size_t input_max;	/* unread input per connection before its reading stops;
				   above the largest request evhttp accepts, so a
				   request still arriving is never stopped */
	struct clients *clients;	/* shared per-address counts; NULL: none */
	struct metrics *metrics;	/* the refusals and closes are counted here; NULL: not */
	/* called when an admitted connection closes, after the table forgot it */
	void (*on_close)(struct evhttp_connection *con, void *arg);
	void *on_close_arg;
};

enum conn_admit {
	CONN_KNOWN,		/* a request on an admitted connection */
	CONN_UNTRACKED,		/* not in the table (out of memory at accept): serve it */
};

/* A table on base; the owner then sets the limits. 0, or -1. */
int conns_init(struct conn_table *t, struct event_base *base);

/*
 * evhttp accepted a connection and will use bev for it (call from the
 * evhttp_set_bevcb callback, with the bufferevent it returns). Returns how
 * many accepted connections wait for admission: the caller may stop
 * accepting for a moment when they pile up (the admission runs once the
 * accept loop yields), so that refused connections do not pile up fds.
 */
size_t conns_accepted(struct conn_table *t, struct bufferevent *bev);

/*
 * A request on con reached the caller: the connection is busy until its
 * reply has gone out (then idle, or reading its next head). *folded is set
 * when the scanner found a folded line in this request's head.
 */
enum conn_admit conns_request(struct conn_table *t, struct evhttp_request *req, int *folded);

/*
 * Closes the oldest idle connection of key's address (NULL: of any address)
 * to make room. Returns 1 if one was closed, 0 if none was idle.
 */
int conns_close_idle(struct conn_table *t, const struct client_key *key);

/* Frees the table and whatever it still holds (after evhttp_free). */
void conns_free(struct conn_table *t);

#endif
