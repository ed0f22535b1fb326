/*
 * sync_round.h - a sync round's state, shared by sync.c (the kinds, the
 * certificates, the schedule) and sync_follow.c (a parent mirror's pins).
 * Private to the sync modules: nothing else includes it.
 */
#ifndef CTLMIRROR_SYNC_ROUND_H
#define CTLMIRROR_SYNC_ROUND_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "proxy/certfetch.h"
#include "proxy/config.h"
#include "proxy/fetch.h"
#include "proxy/sync.h"
#include "proxy/upstream_pin.h"

/* Built-in roots fetched at once (there are four). */
#define ANCHOR_FETCH_MAX 8

struct round;
struct kind_job;

/*
 * A transfer's argument lives in its round (not malloc'd per transfer): a
 * round dropped with transfers in flight (sync_free, then fetcher_free, whose
 * callbacks do not run) leaves nothing behind.
 */
struct cab_fetch {
	struct kind_job *j;
	char plain[600];
};

struct kind_job {
	struct round *r;
	enum ctl_kind kind;
	size_t upstream;	/* index of the upstream being tried */
	int settled;
	char seq_file[80];	/* what upstream's sequence file said, "" if unknown */
	char cab_seq[80];	/* the sequence of the cab fetched from upstream[0] */
	char errors[384];
	struct cab_fetch cf;	/* the cab transfer running for this kind (one at a time) */
};

/* A following upstream's status.json this round (follow_upstream_pin). */
struct follow_fetch {
	struct round *r;
	size_t upstream;
	int asked;		/* the upstream is followed: its pins are read this round */
	int ok;			/* read and parsed */
	char url[FETCH_ORIGIN_MAX + 32];
	struct upstream_pins pins;
	char error[640];
};

struct round {
	struct sync_ctx *ctx;
	time_t now;
	struct kind_job jobs[KIND_COUNT];
	struct follow_fetch follow[CONFIG_MAX_LIST];
	int followed;		/* the followed pins were applied (once all else settled) */
	size_t pending;		/* transfers not yet finished */
	struct certfetch *certs;	/* one per listed root the store lacks */
	size_t n_want, next_want;
	int certs_started;
	struct certfetch anchors[ANCHOR_FETCH_MAX];	/* pinned roots the trust set lacks */
	size_t anchors_pending;
};

/* The round is over when nothing is pending: follow pins, then finish. */
void sync_round_check_done(struct round *r);

/* An event of this round in the audit log (text truncated to fit). */
void sync_log_event(struct round *r, enum event_type type, enum ctl_kind kind,
    const char *sequence, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Appends a formatted part to buf (size bytes), "; " after what is there. */
void sync_append_part(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Fetches the roots the served authroot CTL lists and the store lacks (once a round). */
void sync_start_certs(struct round *r);

/* Starts reading each followed upstream's status.json (sync_follow.c). */
void sync_follow_start(struct round *r);

/* Applies the followed upstreams' pins, once the kinds are settled (sync_follow.c). */
void sync_follow_apply(struct round *r);

#endif
