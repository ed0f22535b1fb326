/*
 * store.h - every version ever seen, in one LMDB environment.
 *
 * Named databases:
 *   meta      "schema" -> STORE_SCHEMA; checked at open
 *   blobs     sha256 (32 bytes) -> the file's bytes, each distinct file once
 *   versions  sha256 (32 bytes) -> version record (struct version, encoded)
 *   pins      kind (1 byte) -> sha256 of the pinned version
 *   certs     SHA-1 (20 bytes) -> DER of a root certificate (<SHA1>.crt)
 *   upstream  URL -> struct upstream_state, encoded
 *   events    big-endian uint64 counter -> struct store_event, encoded (append-only)
 * and in meta the failed-copy budget's state: "failed_bytes" (the bytes of the
 * failed copies that still hold them) and "failed/" + counter, one per such
 * copy, oldest first (store_budget.h).
 *
 * Every change (an admission, a pin, a gc) is one write transaction, so a
 * crash leaves either all of it or none. Readers use read transactions and
 * never block the writer; many processes may have the store open at once.
 *
 * All functions return a store_err; store_strerror() says it in words. Times
 * are time_t UTC passed in by the caller: the store never reads the clock.
 * The served version of a kind is decided in one place, store_served(), and
 * everything (CLI, server) asks it.
 */
#ifndef CTLMIRROR_STORE_H
#define CTLMIRROR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/verdict.h"

#define STORE_SCHEMA "ctlmirror-store-1"

enum store_err {
	STORE_OK = 0,
	STORE_ERR_MISSING,	/* the store directory does not exist (read-only open) */
	STORE_ERR_ACCESS,	/* the directory or its files cannot be read or written */
	STORE_ERR_SCHEMA,	/* written by another version of ctlmirror */
	STORE_ERR_FULL,		/* MDB_MAP_FULL: raise map_size_mb; nothing was written */
	STORE_ERR_NOTFOUND,	/* no such version, pin, blob or record */
	STORE_ERR_AMBIGUOUS,	/* a version reference matches more than one version */
	STORE_ERR_REFUSED,	/* the operation is not allowed (see the detail) */
	STORE_ERR_CORRUPT,	/* a record does not decode */
	STORE_ERR_NOMEM,
	STORE_ERR_LMDB,		/* any other LMDB error (see the detail) */
};

/* What a version is now (computed from the record, the pins and the served rule). */
enum version_status {
	VS_SERVED = 0,		/* the served version of its kind, by the newest-admitted rule */
	VS_PINNED,		/* the served version of its kind, because it is pinned */
	VS_ADMITTED,		/* verified at first sight, not (or no longer) served */
	VS_QUARANTINED,		/* failed verification at first sight: never served */
	VS_ROLLBACK,		/* verified, but older than the newest admitted version when first seen */
};

struct version {
	unsigned char sha256[32];
	enum ctl_kind kind;
	char sequence[80];		/* upper-case hex, "" if the file did not parse */
	time_t this_update;		/* 0 if unknown */
	time_t next_update;
	uint64_t size;			/* bytes of the stored file */
	time_t first_seen;
	char source[256];		/* "import:PATH" or the URL it was fetched from */
	enum vfy_reason reason;		/* verdict at first sight */
	char detail[512];		/* the verdict's, whole */
	int has_chain;
	time_t chain_valid_from;
	time_t chain_valid_to;		/* earliest notAfter: when clients start logging 4107 */
	int timestamp_verified;		/* a verified countersignature fixes the time: never expires */
	time_t timestamp;
	uint32_t n_entries;
	char signer[256];
	int rollback;			/* older than the newest admitted version when first seen */
	uint64_t order;			/* admission order, from 1 */
	time_t served_since;		/* the served version: when it became the served one, else 0 */
	int bytes_dropped;		/* a failed copy whose bytes were dropped (failed-copy
					 * budget, store_set_failed_budget): record and hash only */
	enum version_status status;	/* filled by the read functions */
};

enum admit_result {
	ADMIT_ADMITTED = 0,	/* verified: may be served */
	ADMIT_QUARANTINED,	/* kept, never served */
	ADMIT_ROLLBACK,		/* verified but older than the newest admitted version (pins aside): kept, never served */
	ADMIT_DUPLICATE,	/* these bytes were stored already: nothing changed */
};

enum event_type {
	EV_ADMITTED = 0,
	EV_QUARANTINED,
	EV_ROLLBACK,
	EV_DUPLICATE,
	EV_PINNED,
	EV_UNPINNED,
	EV_GC,
	EV_CERT_ADDED,
	EV_SYNC,		/* a sync round's outcome for a kind (text says what) */
	EV_INCONSISTENT,	/* upstream's sequence file disagrees with its cab */
	EV_REVERIFIED,		/* a quarantined copy verified after the trust set changed */
	EV_COUNT
};

struct store_event {
	uint64_t id;
	time_t when;			/* when it happened (the store's clock, store_set_clock) */
	time_t at;			/* the time the operation was judged at (--at, --now); == when unless set */
	enum event_type type;
	enum ctl_kind kind;
	unsigned char sha256[32];	/* zero when not about one version */
	char sequence[80];
	char text[1024];
};

/* A pin: which version, since when, until when, why, by whom. */
struct pin_info {
	unsigned char sha256[32];
	time_t since;			/* when it was set */
	time_t until;			/* when it lapses by itself; 0: never */
	char reason[256];		/* the administrator's words, "" if none */
	char by[256];			/* "" an administrator; else "upstream URL" */
};

/* What a pin asks for, beyond the version. */
struct pin_opts {
	time_t until;			/* 0: until unpinned */
	const char *reason;		/* may be NULL */
	const char *by;			/* NULL: an administrator */
	int force;			/* pin even a version whose signing chain has expired at now */
};

/* Per upstream URL: conditional-GET state and the last result. */
struct upstream_state {
	char etag[256];
	char last_modified[64];
	time_t last_attempt;
	time_t last_success;
	int last_status;		/* HTTP status, or 0 when no response */
	char last_error[256];
	uint32_t consecutive_failures;
};

struct store;

const char *store_strerror(enum store_err err);
const char *version_status_str(enum version_status s);	/* "served", "pinned", ... */
const char *admit_result_str(enum admit_result r);	/* "admitted", ... */
const char *event_type_str(enum event_type t);		/* "admitted", "pinned", ... */

/*
 * Opens the store in dir. readonly = 0 creates dir (one level) and the
 * databases if missing; readonly = 1 requires them (STORE_ERR_MISSING
 * otherwise). map_size_mb bounds the store's size. On failure *out is NULL and
 * err (err_len bytes) says what is wrong, naming dir.
 */
enum store_err store_open(const char *dir, size_t map_size_mb, int readonly,
    struct store **out, char *err, size_t err_len);
void store_close(struct store *s);

/* The detail of this thread's last error on a store handle ("" if none). */
const char *store_last_error(const struct store *s);

/*
 * The failed-copy budget. Copies that fail verification are kept as evidence,
 * but only the newest `keep` per kind and reason keep their bytes, and the
 * bytes of all failed copies together never exceed `bytes`; older failed
 * copies keep their record and hash (and what was wrong: bytes_dropped is set)
 * but lose their bytes, oldest first. Verified copies (admitted, rollback)
 * never lose theirs. The budget is applied in the write transaction that adds
 * a failed copy, so it is never exceeded. Until called: 3 and 64 MiB.
 */
void store_set_failed_budget(struct store *s, size_t keep, uint64_t bytes);

/* What the failed copies hold now: copies with their bytes, and those bytes. */
struct store_budget_info {
	size_t keep;			/* the budget, as set */
	uint64_t budget;
	size_t copies;			/* failed copies that hold their bytes */
	uint64_t bytes;			/* their bytes together (<= budget) */
};
enum store_err store_budget_info(struct store *s, struct store_budget_info *out);

/*
 * Records bytes[0..len) as seen at `now` from `source`, with the verdict v
 * (computed by the caller at T = now, or --at). One write transaction: blob,
 * version record, event, and for a failed copy the failed-copy budget (whose
 * drops add one EV_GC event). The result says what happened; *out (if not
 * NULL) gets the record. Same bytes again: ADMIT_DUPLICATE and nothing is
 * written, except that a failed copy whose bytes were dropped takes them
 * back, as the newest failed copy of its kind and reason (so it can be
 * verified again).
 *
 * A full map (MDB_MAP_FULL) never blocks a copy while failed copies hold
 * bytes: their bytes are dropped, oldest first, in a transaction of its own
 * (with an EV_GC event), and the admission is tried again, within this call:
 * STORE_ERR_FULL only when nothing is left to drop (and nothing was
 * written). A failed copy larger than the whole budget, or with failed_keep
 * 0, is recorded without its bytes.
 */
enum store_err store_admit(struct store *s, const unsigned char *bytes,
    size_t len, const struct verdict *v, time_t now, const char *source,
    enum admit_result *result, struct version *out);

/*
 * THE served version of a kind: the pinned one if a pin is set, else the
 * admitted (non-rollback) version with the highest sequence number; among
 * equal sequences the one whose chain window ends last, then the earliest
 * seen. Only a CAB is servable: a bare .stl that verified (stored by an
 * older ctlmirror) is never served, since Windows clients cannot unpack it. STORE_ERR_NOTFOUND when nothing is servable. *pinned (if not NULL)
 * says whether a pin decided it.
 */
enum store_err store_served(struct store *s, enum ctl_kind kind,
    struct version *out, int *pinned);

/*
 * Like store_served(), and also copies the served file's bytes (*buf,
 * malloc'd, caller frees), all in one read transaction.
 */
enum store_err store_served_blob(struct store *s, enum ctl_kind kind,
    struct version *out, int *pinned, unsigned char **buf, size_t *len);

/*
 * A read snapshot: everything read through it comes from one committed state
 * of the store (one LMDB read transaction), so facts that depend on each
 * other (the served version, its bytes, which listed roots are stored) can't
 * disagree. Begin, read, end, in one thread; writers are never blocked.
 */
struct store_snap;

enum store_err store_snap_begin(struct store *s, struct store_snap **out);
void store_snap_end(struct store_snap *snap);

/* The generation (store_generation's counter) the snapshot reads. */
uint64_t store_snap_generation(const struct store_snap *snap);

/*
 * store_served() inside the snapshot. With ignore_pin, the newest admitted
 * version alone, whatever is pinned: what a new copy is judged against.
 */
enum store_err store_snap_served(struct store_snap *snap, enum ctl_kind kind,
    int ignore_pin, struct version *out, int *pinned);

/* The pin of a kind inside the snapshot (STORE_ERR_NOTFOUND: none). */
enum store_err store_snap_pin(struct store_snap *snap, enum ctl_kind kind,
    struct pin_info *out);

/* How many admitted versions of kind are newer (by sequence) than v. */
enum store_err store_snap_newer(struct store_snap *snap, const struct version *v,
    size_t *n);

/* The stored bytes of a version (by sha256), copied into *buf (malloc'd). */
enum store_err store_snap_blob(struct store_snap *snap,
    const unsigned char sha256[32], unsigned char **buf, size_t *len);

/* *has = 1 if the certificate whose SHA-1 is sha1 is stored, else 0. */
enum store_err store_snap_has_cert(struct store_snap *snap,
    const unsigned char sha1[20], int *has);

/*
 * All versions (kind KIND_UNKNOWN: every kind), sorted by kind, then
 * sequence, then first_seen; with their status. *out is malloc'd.
 */
enum store_err store_list(struct store *s, enum ctl_kind kind,
    struct version **out, size_t *n);

/*
 * Finds a version by reference: a full sequence number in hex (any case;
 * STORE_ERR_AMBIGUOUS if several copies carry it and none is served — the
 * served copy wins otherwise) or a unique sha256 prefix (at least 4 hex
 * digits).
 */
enum store_err store_find(struct store *s, const char *ref, struct version *out);

/*
 * Copies the stored bytes of a version (by sha256). STORE_ERR_NOTFOUND also
 * for a failed copy whose bytes were dropped (the detail says so).
 */
enum store_err store_blob(struct store *s, const unsigned char sha256[32],
    unsigned char **buf, size_t *len);

/*
 * Judges a quarantined version again with a new verdict v (computed by the
 * caller at the version's first-seen time, with a changed trust set). Only
 * a version quarantined for a reason that depends on the local trust
 * (vfy_reason_trust_dependent) is judged again; else STORE_ERR_REFUSED. If v
 * is OK the record takes v's facts and the version is admitted, or recorded
 * as a rollback when it is older than the newest admitted version (the
 * admission rule); an EV_REVERIFIED event names the old and new verdicts.
 * If v is not OK nothing is written. A copy whose bytes were dropped cannot be
 * checked again: STORE_ERR_REFUSED (it heals if the same bytes arrive again,
 * store_admit). *result: ADMIT_ADMITTED,
 * ADMIT_ROLLBACK or ADMIT_QUARANTINED; *out (if not NULL) the record.
 */
enum store_err store_reverify(struct store *s, const unsigned char sha256[32],
    const struct verdict *v, time_t now, enum admit_result *result,
    struct version *out);

/*
 * Pins a version (by sha256) at now: any version that verified at first
 * sight, whatever order it arrived in (a rollback too: rolling back to a list
 * that still holds a root the site needs is why one pins). Refused
 * (STORE_ERR_REFUSED): a quarantined version; a bare CTL (not a CAB); a
 * version whose signing chain has expired at now, unless o->force (clients
 * log CAPI2 event 4107 for it). o may be NULL.
 */
enum store_err store_pin(struct store *s, const unsigned char sha256[32], time_t now,
    const struct pin_opts *o);

/* The pin of a kind (STORE_ERR_NOTFOUND: none). */
enum store_err store_pin_info(struct store *s, enum ctl_kind kind, struct pin_info *out);

/* Removes the pins whose until has come (until <= now), each with an event. */
enum store_err store_pin_lapse(struct store *s, time_t now, size_t *lapsed);

/*
 * The clock that stamps when events happen and when a version became the
 * served one (NULL: the operation's own time). Not the verification time:
 * the store never reads a clock of its own.
 */
void store_set_clock(struct store *s, time_t (*clock)(void *arg), void *arg);

/* Removes the pin of a kind; STORE_ERR_NOTFOUND if none was set. */
enum store_err store_unpin(struct store *s, enum ctl_kind kind, time_t now);

/* Stores a root certificate under its SHA-1 (computed here). *added = 0 if it was there. */
enum store_err store_put_cert(struct store *s, const unsigned char *der,
    size_t len, time_t now, int *added);

/* Copies the certificate whose SHA-1 is sha1. */
enum store_err store_get_cert(struct store *s, const unsigned char sha1[20],
    unsigned char **der, size_t *len);

/* Events with when >= since, oldest first. *out is malloc'd. */
enum store_err store_events(struct store *s, time_t since,
    struct store_event **out, size_t *n);

/* Appends an event (for callers outside admission: sync results, inconsistencies). */
enum store_err store_log(struct store *s, const struct store_event *ev);

/*
 * Removes old versions: for each kind keeps the served, the pinned and the
 * newest `keep` versions (by sequence), and removes the others (record and
 * blob) in one transaction. *removed gets the count. The failed-copy budget's
 * count follows.
 */
enum store_err store_gc(struct store *s, size_t keep, time_t now, size_t *removed);

/* Upstream state by URL (STORE_ERR_NOTFOUND before the first fetch). */
enum store_err store_upstream_get(struct store *s, const char *url,
    struct upstream_state *out);
enum store_err store_upstream_put(struct store *s, const char *url,
    const struct upstream_state *st);

/* A change counter: differs whenever a write transaction committed since the last call's value. */
uint64_t store_generation(struct store *s);

#endif
