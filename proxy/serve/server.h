/*
 * server.h - the daemon's state, shared by its modules (http.c, server.c).
 *
 * Each worker thread owns an event loop with its own listening sockets
 * (SO_REUSEPORT: the kernel spreads connections), its own copy of the config,
 * its own served-file cache and its own counters, so requests never share
 * mutable state. The main thread's loop is worker 0's, and also carries the
 * signals and timers. The store (LMDB) is shared: its read transactions are
 * safe from any thread.
 */
#ifndef CTLMIRROR_SERVER_H
#define CTLMIRROR_SERVER_H

#include <pthread.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>

#include "proxy/config.h"
#include "proxy/fetch.h"
#include "proxy/report.h"
#include "proxy/serve/cache.h"
#include "proxy/serve/conns.h"
#include "proxy/serve/metrics.h"
#include "proxy/sync.h"
#include "store/store.h"

#define SERVER_MAX_WORKERS 64

struct server;

struct worker {
	struct server *sv;
	size_t index;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound[CONFIG_MAX_LIST];
	size_t n_bound;
	struct config cfg;		/* this thread's copy; replaced on SIGHUP */
	struct cache cache;
	struct metrics metrics;		/* written by this thread only */
	struct fetcher *fetcher;	/* on-demand .crt fetches, created when first needed */
	struct cert_wait *waits;	/* .crt requests waiting for a fetch */
	struct conn_table conns;	/* open connections */
	size_t max_conns;		/* this worker's share of max_connections */
	int draining;
};

struct server {
	struct config cfg;		/* the main thread's copy */
	const char *config_path;	/* re-read on SIGHUP; NULL: defaults */
	struct store *store;
	struct worker workers[SERVER_MAX_WORKERS];
	size_t n_workers;
	pthread_mutex_t sync_lock;	/* guards sync, which workers read for health */
	struct report_sync sync;	/* a copy of sync_state after each round */
	struct report_sync sync_state;	/* the main thread's, written during rounds */
	struct sync_ctx syncer;		/* main thread: polls upstream */
	struct event *poll_timer;
	struct anchors anchors;
	pthread_mutex_t log_lock;	/* guards access_log (reopened on SIGHUP) */
	FILE *access_log;		/* NULL: stdout */
	time_t started;
	time_t skew;			/* serve --now: added to the clock, 0 otherwise */
};

/* The request callback for evhttp (arg: struct worker *). */
void http_handle(struct evhttp_request *req, void *arg);

/* Frees the .crt requests still waiting (after evhttp_free closed their connections). */
void http_release_waits(struct worker *w);

/* The daemon's "now": the clock, moved by serve --now. */
time_t server_now(const struct server *sv);

/* A copy of the sync facts for health (thread-safe). */
void server_sync_facts(struct server *sv, struct report_sync *out);

/* Writes one access-log line (thread-safe). */
void server_access(struct server *sv, const char *line);

/* Logs an operational message with a timestamp to stderr. */
void server_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
