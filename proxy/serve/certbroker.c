/*
 * certbroker.c - one transfer per root certificate for all workers (see certbroker.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/certfetch.h"
#include "proxy/fetch.h"
#include "proxy/serve/certbroker.h"

/* Asked again after this many seconds when CERTBROKER_MAX_JOBS transfers run. */
#define BUSY_RETRY 5

/* One certificate being fetched, and the asks waiting for it. */
struct job {
	struct job *next;
	struct certbroker *b;
	struct certfetch cf;		/* riding: only its sha1 */
	int riding;			/* a sync round's transfer, not ours (certcache_busy) */
	struct certbroker_answer *waiting;
};

struct certbroker {
	struct event_base *base;
	struct store *store;
	const struct config *cfg;
	struct certcache *cache;
	time_t (*clock)(void *arg);
	void *clock_arg;
	struct fetcher *fetcher;
	struct event *inbox_ev;		/* made active by certbroker_ask */
	pthread_mutex_t lock;		/* guards inbox and every client's answers */
	struct certbroker_answer *inbox;
	struct job *jobs;		/* main thread only, as everything below the lock */
	size_t n_jobs;
};

static void
free_list(struct certbroker_answer *a)
{
	while (a != NULL) {
		struct certbroker_answer *next = a->next;

		free(a);
		a = next;
	}
}

/* Hands a to its client's loop (from the main thread). */
static void
deliver(struct certbroker *b, struct certbroker_answer *a)
{
	struct certbroker_client *c = a->client;
	struct event *wake;

	pthread_mutex_lock(&b->lock);
	a->next = c->answers;
	c->answers = a;
	wake = c->wake;
	pthread_mutex_unlock(&b->lock);
	event_active(wake, EV_TIMEOUT, 0);
}

static void
unlink_job(struct certbroker *b, struct job *j)
{
	struct job **pp;

	for (pp = &b->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			b->n_jobs -= !j->riding;
			break;
		}
}

/* Every ask waiting for j hears how it ended; j is freed. */
static void
finish_job(struct certbroker *b, struct job *j, int stored)
{
	struct certbroker_answer *a;

	while ((a = j->waiting) != NULL) {
		j->waiting = a->next;
		a->result = stored ? CERTBROKER_STORED : CERTBROKER_FAILED;
		deliver(b, a);
	}
	free(j);
}

static void
on_fetched(struct certfetch *cf, int stored, const char *why)
{
	struct job *j = cf->arg;
	struct certbroker *b = j->b;

	(void)why;
	unlink_job(b, j);
	if (stored)
		certcache_forget(b->cache, cf->sha1);
	else
		certcache_note_failure(b->cache, cf->sha1, b->clock(b->clock_arg),
		    b->cfg->cert_retry_after);
	certcache_end(b->cache, cf->sha1, stored);	/* j is unlinked: on_ended skips it */
	finish_job(b, j, stored);	/* certfetch touches cf no more after done */
}

/* A sync round's transfer ended (certcache_end): the asks riding on it hear of it. */
static void
on_ended(void *arg, const unsigned char sha1[20], int stored)
{
	struct certbroker *b = arg;
	struct job *j;

	for (j = b->jobs; j != NULL; j = j->next)
		if (j->riding && memcmp(j->cf.sha1, sha1, 20) == 0) {
			unlink_job(b, j);
			finish_job(b, j, stored);
			return;
		}
}

/* One ask, on the main thread: join, answer at once, or start a transfer. */
static void
decide(struct certbroker *b, struct certbroker_answer *a, time_t now)
{
	const struct config *cfg = b->cfg;
	unsigned char *der = NULL;
	size_t len = 0;
	struct job *j;

	for (j = b->jobs; j != NULL; j = j->next)
		if (memcmp(j->cf.sha1, a->sha1, 20) == 0) {
			a->joined = 1;
			a->next = j->waiting;
			j->waiting = a;
			return;
		}
	if (store_get_cert(b->store, a->sha1, &der, &len) == STORE_OK) {
		free(der);
		certcache_forget(b->cache, a->sha1);
		a->result = CERTBROKER_STORED;
	} else if (cfg->n_upstream == 0 || cfg->cert_fetch_rate == 0) {
		a->result = CERTBROKER_NONE;
	} else if (certcache_failed(b->cache, a->sha1, now)) {
		a->result = CERTBROKER_REMEMBERED;
	} else if (certcache_busy(b->cache, a->sha1)) {
		/* a sync round fetches it now: wait for that transfer (on_ended) */
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			a->result = CERTBROKER_FAILED;
		} else {
			j->b = b;
			j->riding = 1;
			memcpy(j->cf.sha1, a->sha1, 20);
			a->joined = 1;
			a->next = NULL;
			j->waiting = a;
			j->next = b->jobs;
			b->jobs = j;
			return;
		}
	} else if (b->n_jobs >= CERTBROKER_MAX_JOBS) {
		a->result = CERTBROKER_LIMITED;
		a->retry_after = BUSY_RETRY;
	} else if (!certcache_take(b->cache, cfg->cert_fetch_rate, now, &a->retry_after)) {
		a->result = CERTBROKER_LIMITED;
	} else if ((j = calloc(1, sizeof(*j))) == NULL) {
		a->result = CERTBROKER_FAILED;
	} else {
		j->b = b;
		a->started = 1;
		j->waiting = a;
		a->next = NULL;
		certcache_begin(b->cache, a->sha1);	/* not busy (above): claimed */
		if (certfetch_start(&j->cf, b->fetcher, b->store, cfg, a->sha1, NULL, now,
		    on_fetched, j) != 0) {
			/* no upstream would take a transfer: a failure like any other */
			certcache_note_failure(b->cache, a->sha1, now, cfg->cert_retry_after);
			certcache_end(b->cache, a->sha1, 0);
			free(j);
			a->result = CERTBROKER_FAILED;
		} else {
			j->next = b->jobs;
			b->jobs = j;
			b->n_jobs++;
			return;
		}
	}
	deliver(b, a);
}

static void
on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct certbroker *b = arg;
	struct certbroker_answer *list, *fifo = NULL, *a;
	time_t now = b->clock(b->clock_arg);

	(void)fd;
	(void)what;
	pthread_mutex_lock(&b->lock);
	list = b->inbox;
	b->inbox = NULL;
	pthread_mutex_unlock(&b->lock);
	while ((a = list) != NULL) {	/* asked first, decided first */
		list = a->next;
		a->next = fifo;
		fifo = a;
	}
	while ((a = fifo) != NULL) {
		fifo = a->next;
		decide(b, a, now);
	}
}

struct certbroker *
certbroker_new(struct event_base *base, struct store *s, const struct config *cfg,
    struct certcache *cache, time_t (*clock)(void *arg), void *clock_arg)
{
	struct certbroker *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->base = base;
	b->store = s;
	b->cfg = cfg;
	b->cache = cache;
	b->clock = clock;
	b->clock_arg = clock_arg;
	pthread_mutex_init(&b->lock, NULL);
	if ((b->fetcher = fetcher_new(base)) == NULL ||
	    (b->inbox_ev = event_new(base, -1, 0, on_inbox, b)) == NULL) {
		certbroker_free(b);
		return NULL;
	}
	cache->ended = on_ended;
	cache->ended_arg = b;
	return b;
}

void
certbroker_free(struct certbroker *b)
{
	if (b == NULL)
		return;
	if (b->cache != NULL && b->cache->ended_arg == b)
		b->cache->ended = NULL;
	fetcher_free(b->fetcher);	/* aborts the transfers; on_fetched does not run */
	while (b->jobs != NULL) {
		struct job *j = b->jobs;

		b->jobs = j->next;
		free_list(j->waiting);
		free(j);
	}
	free_list(b->inbox);
	if (b->inbox_ev != NULL)
		event_free(b->inbox_ev);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* On the client's loop: the answers delivered since the last wake. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct certbroker_client *c = arg;
	struct certbroker_answer *list, *a;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->broker->lock);
	list = c->answers;
	c->answers = NULL;
	pthread_mutex_unlock(&c->broker->lock);
	while ((a = list) != NULL) {
		list = a->next;
		c->fn(c->arg, a);
		free(a);
	}
}

int
certbroker_client_init(struct certbroker_client *c, struct certbroker *b,
    struct event_base *base, certbroker_answer_fn fn, void *arg)
{
	memset(c, 0, sizeof(*c));
	if (b == NULL || (c->wake = event_new(base, -1, 0, on_wake, c)) == NULL)
		return -1;
	c->fn = fn;
	c->arg = arg;
	c->broker = b;
	return 0;
}

void
certbroker_client_free(struct certbroker_client *c)
{
	free_list(c->answers);
	if (c->wake != NULL)
		event_free(c->wake);
	memset(c, 0, sizeof(*c));
}

int
certbroker_ask(struct certbroker_client *c, const unsigned char sha1[20])
{
	struct certbroker *b = c->broker;
	struct certbroker_answer *a;

	if (b == NULL || (a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	memcpy(a->sha1, sha1, 20);
	a->client = c;
	pthread_mutex_lock(&b->lock);
	a->next = b->inbox;
	b->inbox = a;
	pthread_mutex_unlock(&b->lock);
	event_active(b->inbox_ev, EV_TIMEOUT, 0);
	return 0;
}
