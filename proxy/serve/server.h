/*
 * server.h - the daemon: listening sockets, worker threads, signals, polling.
 *
 * Binds the listen addresses (one SO_REUSEPORT socket per address and
 * worker), drops privileges, opens the store, and runs the workers' event
 * loops (http.c answers). The main thread runs worker 0 plus the signals:
 * SIGTERM/SIGINT drain and exit, SIGHUP re-reads the config (limits and
 * settings; not the addresses, workers or store) and reopens the access log.
 * Upstream polling runs on the main thread's loop (sync.c).
 */
#ifndef CTLMIRROR_SERVER_H
#define CTLMIRROR_SERVER_H

#include <time.h>

#include "proxy/config.h"

/*
 * Runs the daemon on cfg until SIGTERM or SIGINT. config_path (NULL: the
 * embedded defaults) is what SIGHUP re-reads; skew moves the daemon's clock
 * (serve --now). Returns 0 after a clean stop, -1 when it could not start or
 * stopped after an error (said on stderr).
 */
int server_run(const struct config *cfg, const char *config_path, time_t skew);

#endif
