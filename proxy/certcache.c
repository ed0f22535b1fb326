/*
 * certcache.c - failed root-certificate fetches and the client fetch rate (see certcache.h).
 */
#include <string.h>

#include "proxy/certcache.h"

/* Rates above this many a minute are taken as this (no overflow below). */
#define RATE_MAX 1000000UL

void
certcache_init(struct certcache *c)
{
	memset(c, 0, sizeof(*c));
}

static size_t
find(const struct certcache *c, const unsigned char sha1[20])
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (memcmp(c->e[i].sha1, sha1, 20) == 0)
			return i;
	return c->n;
}

static void
drop(struct certcache *c, size_t i)
{
	c->e[i] = c->e[--c->n];
}

int
certcache_failed(struct certcache *c, const unsigned char sha1[20], time_t now)
{
	size_t i = find(c, sha1);

	if (i == c->n)
		return 0;
	if (now >= c->e[i].until) {
		drop(c, i);
		return 0;
	}
	return 1;
}

void
certcache_note_failure(struct certcache *c, const unsigned char sha1[20], time_t now,
    unsigned long retry_after)
{
	size_t i = find(c, sha1), j, victim;

	if (retry_after == 0)
		return;
	if (i == c->n) {
		if (c->n == CERTCACHE_MAX) {
			/* full: the first expired entry, else the one ending soonest */
			for (victim = 0, j = 0; j < c->n; j++) {
				if (c->e[j].until <= now) {
					victim = j;
					break;
				}
				if (c->e[j].until < c->e[victim].until)
					victim = j;
			}
			drop(c, victim);
		}
		i = c->n++;
		memcpy(c->e[i].sha1, sha1, 20);
	}
	c->e[i].until = now + (time_t)retry_after;
}

void
certcache_forget(struct certcache *c, const unsigned char sha1[20])
{
	size_t i = find(c, sha1);

	if (i < c->n)
		drop(c, i);
}

int
certcache_take(struct certcache *c, unsigned long rate, time_t now, unsigned long *retry_in)
{
	uint64_t r = rate > RATE_MAX ? RATE_MAX : rate, cap = r * 60;

	if (retry_in != NULL)
		*retry_in = 60;
	if (r == 0)
		return 0;
	if (!c->primed || now < c->refilled) {
		if (!c->primed)
			c->tokens = cap;
		c->primed = 1;
		c->refilled = now;
	} else if (now > c->refilled) {
		uint64_t secs = (uint64_t)(now - c->refilled);

		/* a minute refills the bucket whatever the rate: no overflow */
		c->tokens = secs >= 60 ? cap : c->tokens + secs * r;
		if (c->tokens > cap)
			c->tokens = cap;
		c->refilled = now;
	}
	if (c->tokens > cap)	/* the rate went down since (SIGHUP) */
		c->tokens = cap;
	if (c->tokens >= 60) {
		c->tokens -= 60;
		return 1;
	}
	if (retry_in != NULL)
		*retry_in = (unsigned long)((60 - c->tokens + r - 1) / r);
	return 0;
}

static size_t
find_busy(const struct certcache *c, const unsigned char sha1[20])
{
	size_t i;

	for (i = 0; i < c->n_busy; i++)
		if (memcmp(c->busy[i], sha1, 20) == 0)
			return i;
	return c->n_busy;
}

int
certcache_begin(struct certcache *c, const unsigned char sha1[20])
{
	if (find_busy(c, sha1) < c->n_busy)
		return 0;
	if (c->n_busy < CERTCACHE_BUSY)
		memcpy(c->busy[c->n_busy++], sha1, 20);
	return 1;
}

int
certcache_busy(const struct certcache *c, const unsigned char sha1[20])
{
	return find_busy(c, sha1) < c->n_busy;
}

void
certcache_end(struct certcache *c, const unsigned char sha1[20], int stored)
{
	size_t i = find_busy(c, sha1);

	if (i < c->n_busy)
		memcpy(c->busy[i], c->busy[--c->n_busy], 20);
	if (c->ended != NULL)
		c->ended(c->ended_arg, sha1, stored);
}
