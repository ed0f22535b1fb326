/*
 * server.c - the daemon's start, signals and stop (see server.h).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "proxy/page.h"
#include "proxy/serve/http.h"
#include "proxy/serve/ops.h"
#include "proxy/serve/privs.h"
#include "proxy/serve/server.h"
#include "proxy/serve/worker.h"
#include "proxy/trust.h"

#if defined(__SANITIZE_THREAD__)
#define CTLMIRROR_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CTLMIRROR_UNDER_TSAN 1
#endif
#endif
#ifndef CTLMIRROR_UNDER_TSAN
#define CTLMIRROR_UNDER_TSAN 0
#endif

/* How long in-flight responses get after SIGTERM before the loops stop. */
#define DRAIN_SECONDS 2
#define LISTEN_BACKLOG 1024
/*
 * Accepted connections waiting for admission (conns.h) before a worker stops
 * accepting until they are admitted or refused: the accept loop would
 * otherwise take the whole backlog at once, and hold its fds.
 */
#define ADMIT_BATCH 64
/* After accept fails (the open-file limit), how long the listeners stay off. */
#define ACCEPT_PAUSE_MS 250
/* Pauses this close together are one episode, logged once. */
#define PAUSE_EPISODE_SECONDS 5
/*
 * Open files besides the connections: the store, the logs, upstream
 * transfers, and per worker its loop, its listeners and a batch of accepts.
 */
#define FD_RESERVE 32
#define FD_RESERVE_PER_WORKER (ADMIT_BATCH + 8)

/* The worker this thread runs: a listener's error callback is given only the evhttp. */
static _Thread_local struct worker *this_worker;

/*
 * The soft open-file limit raised toward the hard one until max_connections
 * fits: 0, or -1 with why in err.
 */
static int
fit_open_files(unsigned long max_conns, size_t n_workers, char *err, size_t errlen)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_conns + FD_RESERVE + (rlim_t)n_workers * FD_RESERVE_PER_WORKER;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, errlen, "cannot read the open-file limit: %s", strerror(errno));
		return -1;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			/* an unlimited hard limit is still bounded by the kernel's nr_open */
			rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
		if (rl.rlim_cur > was)
			server_log("open-file limit raised from %llu to %llu",
			    (unsigned long long)was, (unsigned long long)rl.rlim_cur);
	}
	if (rl.rlim_cur < want) {
		snprintf(err, errlen, "max_connections = %lu needs %llu open files (%llu more for "
		    "the store, logs, upstream transfers and %zu worker%s), but the open-file "
		    "limit is %llu (hard limit %llu): lower max_connections, or raise the limit "
		    "(LimitNOFILE= in the systemd unit, ulimit -n)", max_conns,
		    (unsigned long long)want, (unsigned long long)(want - max_conns), n_workers,
		    n_workers == 1 ? "" : "s", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
		return -1;
	}
	return 0;
}

static void
listeners_enable(struct worker *w, int on)
{
	size_t i;

	for (i = 0; i < w->n_bound; i++) {
		struct evconnlistener *l = evhttp_bound_socket_get_listener(w->bound[i]);

		if (on)
			evconnlistener_enable(l);
		else
			evconnlistener_disable(l);
	}
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->accept_paused = 0;
	if (!w->draining)
		listeners_enable(w, 1);
}

/*
 * accept() failed, at the open-file limit most likely: libevent's listener
 * would retry at once, for ever. Stop accepting for a moment, close the
 * oldest idle connection to make room, and say so once per episode.
 */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct worker *w = this_worker;
	struct timeval pause = { 0, ACCEPT_PAUSE_MS * 1000 };
	struct timespec now;
	int err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	if (w == NULL) {
		evconnlistener_disable(l);	/* never spin, even without a worker to resume it */
		return;
	}
	listeners_enable(w, 0);
	w->accept_paused = 1;
	event_add(w->resume, &pause);
	__atomic_store_n(&w->metrics.accept_paused, w->metrics.accept_paused + 1,
	    __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->last_pause == 0 || now.tv_sec - w->last_pause >= PAUSE_EPISODE_SECONDS)
		server_log(err == EMFILE || err == ENFILE ?
		    "open-file limit reached: not accepting for now (%s); idle connections are "
		    "closed to make room" : "accept failed: not accepting for now (%s)",
		    strerror(err));
	w->last_pause = now.tv_sec > 0 ? now.tv_sec : 1;
	conns_close_idle(&w->conns, NULL);
}

/* The limits on clients; applied at start and on SIGHUP. */
static void
apply_limits(struct worker *w)
{
	size_t input_max = 2 * (size_t)w->cfg.max_header_size + 4096;

	w->max_conns = (w->cfg.max_connections + w->sv->n_workers - 1) / w->sv->n_workers;
	w->conns.max = w->max_conns;
	w->conns.per_client = config_per_client_max(&w->cfg);
	w->conns.max_addrs = w->cfg.max_connections;
	w->conns.header_timeout.tv_sec = (time_t)w->cfg.header_timeout;
	w->conns.keepalive_timeout.tv_sec = (time_t)w->cfg.keepalive_timeout;
	/*
	 * Unread input a connection may hold (pipelined requests behind the one
	 * being answered): twice the largest request evhttp accepts, at least 64 KB.
	 */
	w->conns.input_max = input_max < 65536 ? 65536 : input_max;
	evhttp_set_max_headers_size(w->http, (ev_ssize_t)w->cfg.max_header_size);
	evhttp_set_max_body_size(w->http, 4096);	/* GET and HEAD carry no body */
	evhttp_set_timeout(w->http, (int)w->cfg.timeout);
}

/* "127.0.0.1:8080" or "[::1]:8080" (port 0: any free port) to a sockaddr. */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, int *sslen)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *h = addr;
	char *end;
	unsigned long port;
	size_t n;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = addr + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return -1;
		n = (size_t)(colon - addr);
	}
	if (n == 0 || n >= sizeof(host) || colon[1] == '\0')
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*in6);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*in);
		return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
	}
}

/* One listening socket of one worker for one address. */
static int
bind_one(struct worker *w, const char *addr)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), one = 1;
	struct evconnlistener *l;
	struct evhttp_bound_socket *b;

	if (parse_addr(addr, &ss, &sslen) != 0) {
		server_log("listen '%s' is not an IPv4 address:port or [IPv6 address]:port", addr);
		return -1;
	}
	l = evconnlistener_new_bind(w->base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG, (struct sockaddr *)&ss, sslen);
	if (l == NULL) {
		server_log("cannot listen on %s: %s", addr, strerror(errno));
		return -1;
	}
	/*
	 * Accepted sockets inherit TCP_NODELAY on Linux: without it the body
	 * written after the headers waits for a delayed ACK (40 ms).
	 */
	setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evconnlistener_set_error_cb(l, on_accept_error);
	if ((b = evhttp_bind_listener(w->http, l)) == NULL) {
		evconnlistener_free(l);
		server_log("cannot serve HTTP on %s", addr);
		return -1;
	}
	w->bound[w->n_bound++] = b;
	return 0;
}

/*
 * Port 0 asks the kernel for a free port: the first worker's socket gets one,
 * and the address is rewritten so the other workers share that port.
 */
static void
resolve_port(struct worker *w, char *addr, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(w->bound[w->n_bound - 1]);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(addr, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(addr, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

/*
 * Each connection's bufferevent, made here so a whole cab (up to a few hundred
 * KB) goes out in one writev instead of libevent's default 16 KB per pass.
 */
static struct bufferevent *
make_bufferevent(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct bufferevent *bev;

	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) != NULL)
		bufferevent_set_max_single_write(bev, 1 << 20);
	/* counted from accept (conns.h); a pile of them waits for their admission */
	if (conns_accepted(&w->conns, bev) >= ADMIT_BATCH && !w->accept_paused) {
		listeners_enable(w, 0);
		event_active(w->resume, EV_TIMEOUT, 1);
	}
	return bev;
}

static int
worker_init(struct server *sv, struct worker *w, size_t index)
{
	struct event_config *ecfg;
	size_t i;

	w->sv = sv;
	w->index = index;
	w->metrics.started = sv->started;
	/*
	 * Coalesce epoll_ctl calls: evhttp toggles write interest on every
	 * response. Not under ThreadSanitizer: the change list applies a deleted
	 * connection's EPOLL_CTL_DEL after its close, when another thread may
	 * already hold the same fd number; harmless (the DEL meets an epoll set
	 * the new descriptor is not in, and ENOENT is ignored), but TSan reports
	 * it as an fd race, or fails its own CHECK while reporting it.
	 */
	if ((ecfg = event_config_new()) != NULL && !CTLMIRROR_UNDER_TSAN)
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ecfg);
	if (ecfg != NULL)
		event_config_free(ecfg);
	if (w->base == NULL || (w->http = evhttp_new(w->base)) == NULL) {
		server_log("cannot create an event loop");
		return -1;
	}
	/* every method reaches http_handle, which answers 405 itself */
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(w->http, http_handle, w);
	evhttp_set_bevcb(w->http, make_bufferevent, w);
	if (conns_init(&w->conns, w->base) != 0 ||
	    (w->resume = evtimer_new(w->base, on_resume, w)) == NULL) {
		server_log("cannot create an event loop");
		return -1;
	}
	w->conns.clients = &sv->clients;
	w->conns.metrics = &w->metrics;
	w->conns.on_close = http_conn_closed;
	w->conns.on_close_arg = w;
	w->cfg = sv->cfg;
	w->served.flags = SERVED_BYTES | SERVED_LISTED;
	apply_limits(w);
	for (i = 0; i < sv->cfg.n_listen; i++) {
		if (bind_one(w, sv->cfg.listen[i]) != 0)
			return -1;
		if (index == 0)
			resolve_port(w, sv->cfg.listen[i], sizeof(sv->cfg.listen[i]));
	}
	return 0;
}

static void
worker_free(struct worker *w)
{
	if (w->http != NULL)
		evhttp_free(w->http);	/* closes connections: waiters learn it first */
	http_release_waits(w);
	certbroker_client_free(&w->certs);	/* after the broker: nothing delivers now */
	conns_free(&w->conns);
	if (w->resume != NULL)
		event_free(w->resume);
	if (w->base != NULL)
		event_base_free(w->base);
	served_free(&w->served);
	ops_free(w);
	memset(w, 0, sizeof(*w));
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	this_worker = w;
	event_base_dispatch(w->base);
	return NULL;
}

/*
 * Whom to run as (privs.h): after binding and opening the store, before any
 * thread; the store's own files go to that user first.
 */
static int
drop_privileges(struct server *sv, const struct privs *pv)
{
	char err[CONFIG_PATH_MAX + 256];

	if (privs_chown_store(pv, sv->cfg.store, err, sizeof(err)) != PRIVS_OK ||
	    privs_drop(pv, err, sizeof(err)) != PRIVS_OK) {
		server_log("%s", err);
		return -1;
	}
	if (pv->kept_root)
		server_log("user = root: running as root on purpose; without 'user =' the "
		    "daemon would drop to ctlmirror or nobody");
	return 0;
}

static int
open_access_log(struct server *sv)
{
	FILE *f = NULL;
	int rc = 0;

	if (sv->cfg.access_log[0] != '\0') {
		if ((f = fopen(sv->cfg.access_log, "a")) == NULL) {
			server_log("cannot open access log %s: %s", sv->cfg.access_log, strerror(errno));
			rc = -1;
		} else {
			setvbuf(f, NULL, _IOFBF, 1 << 16);
		}
	}
	pthread_mutex_lock(&sv->log_lock);
	if (sv->access_log != NULL)
		fclose(sv->access_log);
	sv->access_log = f;
	fflush(stdout);
	pthread_mutex_unlock(&sv->log_lock);
	return rc;
}

/*
 * Every second: the access log is block-buffered (a second is as stale as it
 * gets), and a pin whose end has come lapses (a read, unless one has).
 */
static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct server *sv = arg;
	size_t lapsed;

	(void)fd;
	(void)what;
	if (sv->store != NULL && store_pin_lapse(sv->store, server_now(sv), &lapsed) == STORE_OK &&
	    lapsed > 0)
		server_log("%zu pin%s lapsed: the newest verified version is served again",
		    lapsed, lapsed == 1 ? "" : "s");
	pthread_mutex_lock(&sv->log_lock);
	fflush(sv->access_log != NULL ? sv->access_log : stdout);
	pthread_mutex_unlock(&sv->log_lock);
}

/* Runs in the worker's own thread: stop accepting, let responses finish. */
static void
worker_drain(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { DRAIN_SECONDS, 0 };
	size_t i;

	(void)fd;
	(void)what;
	w->draining = 1;
	event_del(w->resume);
	for (i = 0; i < w->n_bound; i++)
		evhttp_del_accept_socket(w->http, w->bound[i]);
	w->n_bound = 0;
	event_base_loopexit(w->base, &tv);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	struct server *sv = arg;
	size_t i;

	(void)what;
	server_log("signal %d: no new connections; exiting after in-flight responses",
	    (int)sig);
	for (i = 0; i < sv->n_workers; i++)
		event_base_once(sv->workers[i].base, -1, EV_TIMEOUT, worker_drain,
		    &sv->workers[i], NULL);
}

/* Runs in the worker's own thread: take the main thread's new config. */
static void
worker_reconfigure(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	server_config_copy(w->sv, &w->cfg);
	apply_limits(w);
}

/*
 * The trust set, loaded at start and after SIGHUP: when it changed, copies
 * quarantined for want of it were verified again (sync.c); say what came of it.
 */
static void
refresh_trust(struct server *sv, const char *when)
{
	char err[CONFIG_PATH_MAX + 256];
	const struct reverify_result *r = &sv->syncer.reverified;
	int rc = sync_trust_refresh(&sv->syncer, server_now(sv), err, sizeof(err));

	if (rc < 0)
		server_log("%s: trust set: %s", when, err);
	if (rc != 0 && r->checked > 0)
		server_log("%s: %zu quarantined cop%s verified again with the trust set: "
		    "%zu admitted, %zu rollback%s", when, r->checked, r->checked == 1 ? "y" : "ies",
		    r->admitted, r->rollbacks, r->rollbacks == 1 ? "" : "s");
	if (sv->syncer.trust_loaded && sv->syncer.trust.kept == 0)
		server_log("%s: no Microsoft root is trusted yet: %s", when,
		    trust_advice(&sv->cfg, err, sizeof(err)));
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *sv = arg;
	struct config fresh;
	char err[512];
	size_t i;

	(void)sig;
	(void)what;
	if (sv->config_path != NULL) {
		config_defaults(&fresh);
		if (config_load(&fresh, sv->config_path, err, sizeof(err)) != 0) {
			server_log("SIGHUP: keeping the running config: %s", err);
			open_access_log(sv);
			return;
		}
		if (strcmp(fresh.store, sv->cfg.store) != 0)
			server_log("SIGHUP: 'store' changed; it takes effect on restart");
		/* addresses, workers and the store stay as bound and opened */
		memcpy(fresh.listen, sv->cfg.listen, sizeof(fresh.listen));
		fresh.n_listen = sv->cfg.n_listen;
		fresh.workers = sv->cfg.workers;
		memcpy(fresh.store, sv->cfg.store, sizeof(fresh.store));
		if (fresh.max_connections != sv->cfg.max_connections &&
		    fit_open_files(fresh.max_connections, sv->n_workers, err, sizeof(err)) != 0) {
			server_log("SIGHUP: %s; keeping max_connections = %lu", err,
			    sv->cfg.max_connections);
			fresh.max_connections = sv->cfg.max_connections;
		}
		/*
		 * Workers copy it in their own threads (worker_reconfigure), maybe
		 * still the last SIGHUP's copy while this one arrives: under the lock.
		 */
		server_config_set(sv, &fresh);
		/* the store is written on this thread only */
		store_set_failed_budget(sv->store, sv->cfg.failed_keep,
		    config_failed_budget_bytes(&sv->cfg));
		for (i = 0; i < sv->n_workers; i++)
			event_base_once(sv->workers[i].base, -1, EV_TIMEOUT,
			    worker_reconfigure, &sv->workers[i], NULL);
	}
	open_access_log(sv);
	refresh_trust(sv, "SIGHUP");
	server_log("SIGHUP: config re-read, logs reopened");
}

/* After each round: say what changed, and publish the facts to the workers. */
static void
on_round_done(struct sync_ctx *ctx, void *arg)
{
	struct server *sv = arg;
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (!ctx->outcome[k].ok || (strcmp(ctx->outcome[k].result, "unchanged") != 0 &&
		    strcmp(ctx->outcome[k].result, "skipped") != 0))
			server_log("sync %s: %s: %s", ctl_kind_str((enum ctl_kind)k),
			    ctx->outcome[k].result, ctx->outcome[k].text);
	if (ctx->certs_fetched + ctx->certs_failed > 0)
		server_log("sync: %zu root certificates fetched, %zu failed", ctx->certs_fetched,
		    ctx->certs_failed);
	pthread_mutex_lock(&sv->sync_lock);
	sv->sync = sv->sync_state;
	pthread_mutex_unlock(&sv->sync_lock);
}

static time_t
clock_of(void *arg)
{
	return server_now(arg);
}

/* Upstream polling on the main thread's loop. */
static int
start_polling(struct server *sv, struct event_base *base)
{
	if ((sv->syncer.fetcher = fetcher_new(base)) == NULL ||
	    sync_poll_start(&sv->syncer, base, clock_of, sv) != 0) {
		server_log("cannot set up upstream polling");
		return -1;
	}
	return 0;
}

/* One line on what is served, so whoever started it knows where it stands. */
static void
announce(struct server *sv, const struct privs *pv)
{
	struct served_set set;
	char line[512], as[PRIVS_NAME_MAX + 32];
	size_t n = 0;
	int k, any = 0;

	if (served_load(sv->store, 0, &set) != STORE_OK) {
		server_log("store %s could not be read: %s", sv->cfg.store, store_last_error(sv->store));
		return;
	}
	for (k = KIND_AUTHROOT; k < KIND_COUNT && n < sizeof(line); k++) {
		const struct served_kind *f = &set.kinds[k];

		if (!f->present)
			continue;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %s%s", any ? ", " : "",
		    ctl_kind_str((enum ctl_kind)k), f->v.sequence, f->pinned ? " (pinned)" : "");
		any = 1;
	}
	served_free(&set);
	privs_describe(pv, as, sizeof(as));
	if (any)
		server_log("listening on http://%s/ with %zu worker%s; serving %s; running as %s",
		    sv->cfg.listen[0], sv->n_workers, sv->n_workers == 1 ? "" : "s", line, as);
	else
		server_log("listening on http://%s/; the store %s is empty: fill it with "
		    "'ctlmirror import --store %s FILE.cab' (or let it sync upstream); running as %s",
		    sv->cfg.listen[0], sv->cfg.store, sv->cfg.store, as);
}

static size_t
worker_count(const struct config *cfg)
{
	long n = cfg->workers > 0 ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SERVER_MAX_WORKERS ? SERVER_MAX_WORKERS : (size_t)n;
}

/* Opens the store the config names, writable: the daemon records what it fetches. */
static int
open_store(struct server *sv)
{
	char err[512];

	if (store_open(sv->cfg.store, sv->cfg.map_size_mb, 0, &sv->store, err,
	    sizeof(err)) != STORE_OK) {
		server_log("%s", err);
		return -1;
	}
	/* events and served-since on the daemon's clock (serve --now moves it) */
	store_set_clock(sv->store, clock_of, sv);
	store_set_failed_budget(sv->store, sv->cfg.failed_keep, config_failed_budget_bytes(&sv->cfg));
	return 0;
}

int
server_run(const struct config *cfg, const char *config_path, time_t skew)
{
	static struct server sv;	/* large (per-worker sets and counters) */
	/* the messages of every module the page shows, for sv.lang */
	const struct lang_msgs server_msgs[] = { health_msgs, page_msgs };
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL, *ev_flush = NULL;
	struct timeval second = { 1, 0 };
	struct event_base *main_base;
	struct privs pv;
	char err[512];
	uint64_t seed = 0;
	size_t i, started = 0;
	int status = -1;

	memset(&sv, 0, sizeof(sv));
	sv.cfg = *cfg;
	sv.skew = skew;
	sv.config_path = config_path;
	sv.started = server_now(&sv);
	pthread_mutex_init(&sv.log_lock, NULL);
	pthread_mutex_init(&sv.sync_lock, NULL);
	pthread_mutex_init(&sv.cfg_lock, NULL);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		server_log("libevent has no thread support");
		goto out;
	}
	if (privs_resolve(sv.cfg.user, &pv, err, sizeof(err)) != PRIVS_OK) {
		server_log("%s", err);
		goto out;
	}
	sv.n_workers = worker_count(&sv.cfg);
	if (fit_open_files(sv.cfg.max_connections, sv.n_workers, err, sizeof(err)) != 0) {
		server_log("cannot start: %s", err);
		goto out;
	}
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = ((uint64_t)random() << 32) ^ (uint64_t)random();
	if (clients_init(&sv.clients, seed) != 0) {
		server_log("cannot set up the per-client connection counts");
		goto out;
	}
	for (i = 0; i < sv.n_workers; i++)
		if (worker_init(&sv, &sv.workers[i], i) != 0)
			goto out;
	main_base = sv.workers[0].base;
	this_worker = &sv.workers[0];
	/* the access log after the drop: a SIGHUP reopens it as that user too */
	if (open_store(&sv) != 0 || drop_privileges(&sv, &pv) != 0 ||
	    open_access_log(&sv) != 0)
		goto out;
	ev_term = evsignal_new(main_base, SIGTERM, on_term, &sv);
	ev_int = evsignal_new(main_base, SIGINT, on_term, &sv);
	ev_hup = evsignal_new(main_base, SIGHUP, on_hup, &sv);
	ev_flush = event_new(main_base, -1, EV_PERSIST, on_flush, &sv);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL || ev_flush == NULL ||
	    event_add(ev_term, NULL) != 0 || event_add(ev_int, NULL) != 0 ||
	    event_add(ev_hup, NULL) != 0 || event_add(ev_flush, &second) != 0) {
		server_log("cannot install signal handlers");
		goto out;
	}
	sv.syncer.cfg = &sv.cfg;
	sv.syncer.store = sv.store;
	sv.syncer.state = &sv.sync_state;
	sv.syncer.done = on_round_done;
	sv.syncer.done_arg = &sv;
	/* one memory of failed .crt fetches for sync and the workers' broker (main loop) */
	certcache_init(&sv.certcache);
	sv.syncer.certcache = &sv.certcache;
	if ((sv.certs = certbroker_new(main_base, sv.store, &sv.cfg, &sv.certcache, clock_of,
	    &sv)) == NULL) {
		server_log("cannot set up certificate fetches");
		goto out;
	}
	sv.privs = pv;
	/* every language the page speaks, looked up now: workers never change the locale */
	if (lang_pack_build(&sv.lang, server_msgs, sizeof(server_msgs) / sizeof(server_msgs[0])) != 0)
		server_log("out of memory translating the page: it is in English only");
	refresh_trust(&sv, "start");
	announce(&sv, &pv);
	if (sv.cfg.poll_interval > 0 && start_polling(&sv, main_base) != 0)
		goto out;
	for (started = 1; started < sv.n_workers; started++)
		if (pthread_create(&sv.workers[started].thread, NULL, worker_run,
		    &sv.workers[started]) != 0) {
			server_log("cannot start worker %zu", started);
			break;
		}
	if (started == sv.n_workers && event_base_dispatch(main_base) == 0)
		status = 0;
	for (i = 1; i < started; i++) {
		event_base_loopexit(sv.workers[i].base, NULL);
		pthread_join(sv.workers[i].thread, NULL);
	}
	server_log(status == 0 ? "stopped" : "stopped after an error");
out:
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (ev_hup != NULL)
		event_free(ev_hup);
	if (ev_flush != NULL)
		event_free(ev_flush);
	sync_free(&sv.syncer);
	fetcher_free(sv.syncer.fetcher);
	certbroker_free(sv.certs);	/* aborts its transfers; before the workers' clients */
	for (i = 0; i < sv.n_workers; i++)
		worker_free(&sv.workers[i]);
	this_worker = NULL;
	clients_destroy(&sv.clients);
	store_close(sv.store);
	pthread_mutex_lock(&sv.log_lock);
	if (sv.access_log != NULL)
		fclose(sv.access_log);
	fflush(stdout);
	pthread_mutex_unlock(&sv.log_lock);
	pthread_mutex_destroy(&sv.log_lock);
	pthread_mutex_destroy(&sv.sync_lock);
	pthread_mutex_destroy(&sv.cfg_lock);
	lang_pack_free(&sv.lang);
	libevent_global_shutdown();
	return status;
}
