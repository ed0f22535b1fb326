/*
 * clients.h - open connections per client address, across all workers.
 *
 * Workers are threads each accepting on its own SO_REUSEPORT socket, so one
 * address's connections are spread over all of them: the count per address
 * is kept here, behind one mutex, for max_connections_per_client.
 *
 * The key is the address as 16 bytes: an IPv4 address (or an IPv4-mapped
 * IPv6 one) as ::ffff:a.b.c.d, an IPv6 address by its /64 prefix, since a
 * single host usually holds a whole /64. An address leaves the table when
 * its last connection closes.
 *
 * Bounded: the table holds at most max_addrs addresses (the callers pass
 * max_connections: no more addresses can have a connection open), in at
 * most 4 * max_addrs slots; the hash is seeded, so a client cannot choose
 * addresses that collide.
 *
 * Thread-safe.
 */
#ifndef CTLMIRROR_CLIENTS_H
#define CTLMIRROR_CLIENTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct client_key {
	unsigned char b[16];
};

struct client_ent;

struct clients {
	pthread_mutex_t lock;
	struct client_ent *slots;	/* open addressing, linear probing */
	size_t cap, n;
	uint64_t seed;
};

enum clients_res {
	CLIENTS_OK = 0,		/* counted */
	CLIENTS_AT_CAP,		/* this address already holds cap connections */
	CLIENTS_FULL,		/* max_addrs addresses, or out of memory */
};

/* The key of a peer address; -1 for a family without one (AF_UNIX). */
int client_key_of(const struct sockaddr *sa, socklen_t len, struct client_key *k);

/* An empty table; seed makes its hash unpredictable. 0, or -1. */
int clients_init(struct clients *c, uint64_t seed);
void clients_destroy(struct clients *c);

/* Counts one more connection of k, unless it holds cap already (cap 0: no cap). */
enum clients_res clients_acquire(struct clients *c, const struct client_key *k, size_t cap,
    size_t max_addrs);

/* One connection of k closed (after a CLIENTS_OK acquire). */
void clients_release(struct clients *c, const struct client_key *k);

/* The connections k holds now; the addresses held. For tests and metrics. */
size_t clients_count(struct clients *c, const struct client_key *k);
size_t clients_addresses(struct clients *c);

#endif
