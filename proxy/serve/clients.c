/*
 * clients.c - per-address connection counts (see clients.h): linear probing
 * with backward-shift deletion, so no tombstones build up.
 */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "proxy/serve/clients.h"

struct client_ent {
	struct client_key k;
	size_t n;			/* 0: empty slot */
};

int
client_key_of(const struct sockaddr *sa, socklen_t len, struct client_key *k)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(k->b, mapped, sizeof(mapped));
		memcpy(k->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof(mapped)) == 0)
			memcpy(k->b, a, 16);
		else
			memcpy(k->b, a, 8);	/* the /64 */
		return 0;
	}
	return -1;
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static size_t
slot_of(const struct clients *c, const struct client_key *k)
{
	uint64_t a, b;

	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	return (size_t)(mix(mix(a ^ c->seed) ^ b) % c->cap);
}

/* The slot of k, or of the empty slot where it would go. The table is never full. */
static size_t
probe(const struct clients *c, const struct client_key *k)
{
	size_t i = slot_of(c, k);

	while (c->slots[i].n != 0 && memcmp(&c->slots[i].k, k, sizeof(*k)) != 0)
		i = (i + 1) % c->cap;
	return i;
}

static int
grow(struct clients *c, size_t cap)
{
	struct client_ent *old = c->slots;
	size_t i, old_cap = c->cap;

	if ((c->slots = calloc(cap, sizeof(*c->slots))) == NULL) {
		c->slots = old;
		return -1;
	}
	c->cap = cap;
	for (i = 0; i < old_cap; i++)
		if (old[i].n != 0)
			c->slots[probe(c, &old[i].k)] = old[i];
	free(old);
	return 0;
}

int
clients_init(struct clients *c, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	return pthread_mutex_init(&c->lock, NULL) == 0 ? 0 : -1;
}

void
clients_destroy(struct clients *c)
{
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
	memset(c, 0, sizeof(*c));
}

enum clients_res
clients_acquire(struct clients *c, const struct client_key *k, size_t cap, size_t max_addrs)
{
	enum clients_res res = CLIENTS_FULL;
	size_t i;

	pthread_mutex_lock(&c->lock);
	if (c->cap != 0) {
		i = probe(c, k);
		if (c->slots[i].n != 0) {
			if (cap != 0 && c->slots[i].n >= cap) {
				res = CLIENTS_AT_CAP;
			} else {
				c->slots[i].n++;
				res = CLIENTS_OK;
			}
			goto out;
		}
	}
	/* a new address: at most half full, and at most max_addrs of them */
	if (c->n >= max_addrs)
		goto out;
	if ((c->n + 1) * 2 > c->cap && grow(c, c->cap < 32 ? 64 : 2 * c->cap) != 0)
		goto out;
	i = probe(c, k);
	c->slots[i].k = *k;
	c->slots[i].n = 1;
	c->n++;
	res = CLIENTS_OK;
out:
	pthread_mutex_unlock(&c->lock);
	return res;
}

void
clients_release(struct clients *c, const struct client_key *k)
{
	size_t i, j, home;

	pthread_mutex_lock(&c->lock);
	if (c->cap == 0 || c->slots[i = probe(c, k)].n == 0)
		goto out;
	if (--c->slots[i].n > 0)
		goto out;
	c->n--;
	/* backward shift: move up every entry whose probe chain crossed the hole */
	for (j = (i + 1) % c->cap; c->slots[j].n != 0; j = (j + 1) % c->cap) {
		home = slot_of(c, &c->slots[j].k);
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			c->slots[i] = c->slots[j];
			i = j;
		}
	}
	c->slots[i].n = 0;
out:
	pthread_mutex_unlock(&c->lock);
}

size_t
clients_count(struct clients *c, const struct client_key *k)
{
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	if (c->cap != 0)
		n = c->slots[probe(c, k)].n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

size_t
clients_addresses(struct clients *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
