/*
 * worker.h - the daemon's state: the server and its worker threads.
 *
 * Each worker thread owns an event loop with its own listening sockets
 * (SO_REUSEPORT: the kernel spreads connections), its own copy of the config,
 * its own served set and its own counters, so requests never share mutable
 * state. The main thread's loop is worker 0's, and also carries the signals,
 * the timers and the upstream polling. The store (LMDB) is shared: its read
 * transactions are safe from any thread.
 *
 * What threads do share is reached only through the functions below, each
 * of which takes its own lock: the config a SIGHUP installed, the sync facts
 * of the last round, the access log.
 */
#ifndef CTLMIRROR_WORKER_H
#define CTLMIRROR_WORKER_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "proxy/certcache.h"
#include "proxy/config.h"
#include "proxy/fetch.h"
#include "proxy/lang.h"
#include "proxy/report.h"
#include "proxy/serve/certbroker.h"
#include "proxy/serve/conns.h"
#include "proxy/serve/metrics.h"
#include "proxy/serve/privs.h"
#include "proxy/served.h"
#include "proxy/sync.h"
#include "store/store.h"

#define SERVER_MAX_WORKERS 64

struct server;
struct cert_wait;
struct ops_cache;

struct worker {
	struct server *sv;
	size_t index;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound[CONFIG_MAX_LIST];
	size_t n_bound;
	struct config cfg;		/* this thread's copy; replaced on SIGHUP */
	struct served_set served;	/* what this thread serves, reloaded when it changed */
	struct metrics metrics;		/* written by this thread only */
	struct certbroker_client certs;	/* on-demand .crt fetches (set up when first needed) */
	struct cert_wait *waits;	/* .crt requests waiting for the broker */
	struct conn_table conns;	/* open connections */
	size_t max_conns;		/* this worker's share of max_connections */
	struct event *resume;		/* accepting again after a pause (server.c) */
	int accept_paused;		/* the listeners are off until resume runs */
	time_t last_pause;		/* monotonic seconds of the last pause: one log line per episode */
	struct ops_cache *ops;		/* the operator endpoints' cache (ops.h); ops_free() */
	int draining;
};

struct server {
	struct config cfg;		/* the main thread's copy: read there freely */
	pthread_mutex_t cfg_lock;	/* guards cfg's writes (main) and copies (workers) */
	const char *config_path;	/* re-read on SIGHUP; NULL: defaults */
	struct store *store;
	struct worker workers[SERVER_MAX_WORKERS];
	size_t n_workers;
	pthread_mutex_t sync_lock;	/* guards sync, which workers read for health */
	struct report_sync sync;	/* a copy of sync_state after each round */
	struct report_sync sync_state;	/* the main thread's, written during rounds */
	struct sync_ctx syncer;		/* main thread: polls upstream, holds the trust set */
	struct certcache certcache;	/* main thread: failed .crt fetches, the client fetch rate */
	struct certbroker *certs;	/* main thread's loop: .crt fetches for every worker */
	struct clients clients;		/* open connections per client address, all workers */
	pthread_mutex_t log_lock;	/* guards access_log (reopened on SIGHUP) */
	FILE *access_log;		/* NULL: stdout */
	time_t started;
	time_t skew;			/* serve --now: added to the clock, 0 otherwise */
	struct privs privs;		/* whom the daemon runs as (privs.h) */
	struct lang_pack lang;		/* the page's languages: built at start, then read-only */
};

/* The daemon's "now": the clock, moved by serve --now. */
time_t server_now(const struct server *sv);

/* A copy of the sync facts for health (thread-safe). */
void server_sync_facts(struct server *sv, struct report_sync *out);

/* Copies the config the main thread installed into dst (thread-safe). */
void server_config_copy(struct server *sv, struct config *dst);

/* Installs a new config (main thread only; workers copy it with server_config_copy). */
void server_config_set(struct server *sv, const struct config *cfg);

/* Writes one access-log line (thread-safe). */
void server_access(struct server *sv, const char *line);

/* Logs an operational message with a timestamp to stderr. */
void server_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Brings w's served set up to date; on a store error keeps serving what it has. */
void worker_refresh(struct worker *w);

#endif
