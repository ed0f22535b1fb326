/*
 * worker.c - what the daemon's threads share, behind its locks (see worker.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "proxy/serve/worker.h"
#include "verify/isotime.h"

void
server_log(const char *fmt, ...)
{
	char t[ISOTIME_LEN];
	va_list ap;

	fprintf(stderr, "%s ctlmirror: ", isotime_format(time(NULL), t, sizeof(t)));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
server_access(struct server *sv, const char *line)
{
	pthread_mutex_lock(&sv->log_lock);
	fputs(line, sv->access_log != NULL ? sv->access_log : stdout);
	pthread_mutex_unlock(&sv->log_lock);
}

time_t
server_now(const struct server *sv)
{
	return time(NULL) + sv->skew;
}

void
server_sync_facts(struct server *sv, struct report_sync *out)
{
	pthread_mutex_lock(&sv->sync_lock);
	*out = sv->sync;
	pthread_mutex_unlock(&sv->sync_lock);
}

void
server_config_copy(struct server *sv, struct config *dst)
{
	pthread_mutex_lock(&sv->cfg_lock);
	*dst = sv->cfg;
	pthread_mutex_unlock(&sv->cfg_lock);
}

void
server_config_set(struct server *sv, const struct config *cfg)
{
	pthread_mutex_lock(&sv->cfg_lock);
	sv->cfg = *cfg;
	pthread_mutex_unlock(&sv->cfg_lock);
}

void
worker_refresh(struct worker *w)
{
	enum store_err err;
	int changed;

	if ((err = served_refresh(w->sv->store, &w->served, &changed)) != STORE_OK)
		server_log("store read failed, serving the copy in memory: %s: %s",
		    store_strerror(err), store_last_error(w->sv->store));
}
