/*
 * store_codec.c - encoding and bounded decoding of the store's records.
 *
 * Layouts (all integers little-endian; str = u16 length + bytes, no NUL):
 *   version  u8 format=1, u8 kind, str sequence, i64 this_update,
 *            i64 next_update, u64 size, i64 first_seen, str source,
 *            u32 reason, str detail, u8 has_chain, i64 chain_valid_from,
 *            i64 chain_valid_to, u8 timestamp_verified, i64 timestamp,
 *            u32 n_entries, str signer, u8 rollback, u64 order
 *            format=2: the same, then u8 bytes_dropped = 1 (only a copy
 *            whose bytes were dropped is written so: one encoding per record)
 *   event    u8 format=1, i64 when, u8 type, u8 kind, 32 bytes sha256,
 *            str sequence, str text
 *   upstream u8 format=1, str etag, str last_modified, i64 last_attempt,
 *            i64 last_success, i32 last_status, str last_error,
 *            u32 consecutive_failures
 * A new field means a new format byte, and old formats keep decoding.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "store/store_codec.h"

#define REC_FORMAT 1
/* Version records of failed copies whose bytes were dropped (failed-copy budget). */
#define VERSION_FORMAT_DROPPED 2
/* Events since the verification time was kept apart from when they happened. */
#define EVENT_FORMAT_AT 2
/* Pin records: a format byte, then the fields (an old pin is a bare sha256). */
#define PIN_FORMAT 1
#define STORE_PIN_REC_MAX 1024

/* Encoded size of a string field of struct member m: length + longest text. */
#define STR_MAX(type, m) (2 + sizeof(((type *)0)->m) - 1)

_Static_assert(1 + 1 + STR_MAX(struct version, sequence) + 8 + 8 + 8 + 8 +
    STR_MAX(struct version, source) + 4 + STR_MAX(struct version, detail) +
    1 + 8 + 8 + 1 + 8 + 4 + STR_MAX(struct version, signer) + 1 + 8 + 1 <=
    STORE_VERSION_REC_MAX, "a version record fits STORE_VERSION_REC_MAX");
_Static_assert(1 + 8 + 8 + 1 + 1 + 32 + STR_MAX(struct store_event, sequence) +
    STR_MAX(struct store_event, text) <= STORE_EVENT_REC_MAX,
    "an event record fits STORE_EVENT_REC_MAX");
_Static_assert(1 + STR_MAX(struct upstream_state, etag) +
    STR_MAX(struct upstream_state, last_modified) + 8 + 8 + 4 +
    STR_MAX(struct upstream_state, last_error) + 4 <= STORE_UPSTREAM_REC_MAX,
    "an upstream record fits STORE_UPSTREAM_REC_MAX");
/* String lengths are stored in 16 bits. */
_Static_assert(sizeof(((struct version *)0)->source) < 65536, "u16 lengths");

struct wbuf {
	unsigned char *p;
	size_t len;
	size_t cap;
	int over;	/* a put did not fit: the record is void */
};

struct rbuf {
	const unsigned char *p;
	size_t left;
	int bad;	/* a get ran short or saw a bad value: the record is void */
};

static void
put_le(struct wbuf *w, uint64_t x, size_t n)
{
	size_t i;

	if (w->over || w->cap - w->len < n) {
		w->over = 1;
		return;
	}
	for (i = 0; i < n; i++)
		w->p[w->len++] = (unsigned char)(x >> (8 * i));
}

static void
put_time(struct wbuf *w, time_t t)
{
	put_le(w, (uint64_t)(int64_t)t, 8);
}

static void
put_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->over || w->cap - w->len < n) {
		w->over = 1;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

/* A string field of `field` bytes: bounded even if the caller left it unterminated. */
static void
put_str(struct wbuf *w, const char *s, size_t field)
{
	size_t n = strnlen(s, field - 1);

	put_le(w, n, 2);
	put_bytes(w, s, n);
}

static uint64_t
get_le(struct rbuf *r, size_t n)
{
	uint64_t x = 0;
	size_t i;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		x |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->left -= n;
	return x;
}

/* An unsigned value that must be below limit (enums, flags). */
static unsigned
get_small(struct rbuf *r, size_t n, unsigned limit)
{
	uint64_t x = get_le(r, n);

	if (x >= limit) {
		r->bad = 1;
		return 0;
	}
	return (unsigned)x;
}

static int64_t
get_i64(struct rbuf *r)
{
	uint64_t u = get_le(r, 8);

	/* two's complement back to signed without implementation-defined casts */
	return u > INT64_MAX ? -(int64_t)(~u) - 1 : (int64_t)u;
}

static time_t
get_time(struct rbuf *r)
{
	int64_t x = get_i64(r);

	if ((int64_t)(time_t)x != x) {
		r->bad = 1;
		return 0;
	}
	return (time_t)x;
}

static void
get_bytes(struct rbuf *r, void *out, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
}

/* A string into dst[cap]: it must fit with its NUL and hold no NUL itself. */
static void
get_str(struct rbuf *r, char *dst, size_t cap)
{
	size_t n = (size_t)get_le(r, 2);

	dst[0] = '\0';
	if (r->bad || n >= cap || r->left < n || memchr(r->p, '\0', n) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	r->left -= n;
}

static int
get_done(const struct rbuf *r)
{
	return r->bad || r->left != 0 ? -1 : 0;
}

size_t
store_enc_version(unsigned char *buf, size_t cap, const struct version *v)
{
	struct wbuf w = { buf, 0, cap, 0 };

	put_le(&w, v->bytes_dropped ? VERSION_FORMAT_DROPPED : REC_FORMAT, 1);
	put_le(&w, (uint64_t)v->kind, 1);
	put_str(&w, v->sequence, sizeof(v->sequence));
	put_time(&w, v->this_update);
	put_time(&w, v->next_update);
	put_le(&w, v->size, 8);
	put_time(&w, v->first_seen);
	put_str(&w, v->source, sizeof(v->source));
	put_le(&w, (uint64_t)v->reason, 4);
	put_str(&w, v->detail, sizeof(v->detail));
	put_le(&w, v->has_chain != 0, 1);
	put_time(&w, v->chain_valid_from);
	put_time(&w, v->chain_valid_to);
	put_le(&w, v->timestamp_verified != 0, 1);
	put_time(&w, v->timestamp);
	put_le(&w, v->n_entries, 4);
	put_str(&w, v->signer, sizeof(v->signer));
	put_le(&w, v->rollback != 0, 1);
	put_le(&w, v->order, 8);
	if (v->bytes_dropped)
		put_le(&w, 1, 1);
	return w.over ? 0 : w.len;
}

int
store_dec_version(const unsigned char sha256[32], const unsigned char *val,
    size_t len, struct version *v)
{
	struct rbuf r = { val, len, 0 };
	uint64_t format;

	memset(v, 0, sizeof(*v));
	memcpy(v->sha256, sha256, sizeof(v->sha256));
	if ((format = get_le(&r, 1)) != REC_FORMAT && format != VERSION_FORMAT_DROPPED)
		return -1;
	v->kind = (enum ctl_kind)get_small(&r, 1, KIND_COUNT);
	get_str(&r, v->sequence, sizeof(v->sequence));
	v->this_update = get_time(&r);
	v->next_update = get_time(&r);
	v->size = get_le(&r, 8);
	v->first_seen = get_time(&r);
	get_str(&r, v->source, sizeof(v->source));
	v->reason = (enum vfy_reason)get_small(&r, 4, VFY_REASON_COUNT);
	get_str(&r, v->detail, sizeof(v->detail));
	v->has_chain = (int)get_small(&r, 1, 2);
	v->chain_valid_from = get_time(&r);
	v->chain_valid_to = get_time(&r);
	v->timestamp_verified = (int)get_small(&r, 1, 2);
	v->timestamp = get_time(&r);
	v->n_entries = (uint32_t)get_le(&r, 4);
	get_str(&r, v->signer, sizeof(v->signer));
	v->rollback = (int)get_small(&r, 1, 2);
	v->order = get_le(&r, 8);
	/* format 2 exists to say the bytes were dropped: it carries 1, never 0 */
	if (format == VERSION_FORMAT_DROPPED && get_le(&r, 1) != 1)
		r.bad = 1;
	v->bytes_dropped = format == VERSION_FORMAT_DROPPED;
	v->status = VS_ADMITTED;
	return get_done(&r);
}

size_t
store_enc_event(unsigned char *buf, size_t cap, const struct store_event *ev)
{
	struct wbuf w = { buf, 0, cap, 0 };

	put_le(&w, EVENT_FORMAT_AT, 1);
	put_time(&w, ev->when);
	put_time(&w, ev->at);
	put_le(&w, (uint64_t)ev->type, 1);
	put_le(&w, (uint64_t)ev->kind, 1);
	put_bytes(&w, ev->sha256, sizeof(ev->sha256));
	put_str(&w, ev->sequence, sizeof(ev->sequence));
	put_str(&w, ev->text, sizeof(ev->text));
	return w.over ? 0 : w.len;
}

int
store_dec_event(uint64_t id, const unsigned char *val, size_t len,
    struct store_event *ev)
{
	struct rbuf r = { val, len, 0 };

	uint64_t format;

	memset(ev, 0, sizeof(*ev));
	ev->id = id;
	if ((format = get_le(&r, 1)) != REC_FORMAT && format != EVENT_FORMAT_AT)
		return -1;
	ev->when = get_time(&r);
	ev->at = format == EVENT_FORMAT_AT ? get_time(&r) : ev->when;
	ev->type = (enum event_type)get_small(&r, 1, EV_COUNT);
	ev->kind = (enum ctl_kind)get_small(&r, 1, KIND_COUNT);
	get_bytes(&r, ev->sha256, sizeof(ev->sha256));
	get_str(&r, ev->sequence, sizeof(ev->sequence));
	get_str(&r, ev->text, sizeof(ev->text));
	return get_done(&r);
}

size_t
store_enc_pin(unsigned char *buf, size_t cap, const struct pin_info *p)
{
	struct wbuf w = { buf, 0, cap, 0 };

	put_le(&w, PIN_FORMAT, 1);
	put_bytes(&w, p->sha256, sizeof(p->sha256));
	put_time(&w, p->since);
	put_time(&w, p->until);
	put_str(&w, p->reason, sizeof(p->reason));
	put_str(&w, p->by, sizeof(p->by));
	return w.over ? 0 : w.len;
}

int
store_dec_pin(const unsigned char *val, size_t len, struct pin_info *p)
{
	struct rbuf r = { val, len, 0 };

	memset(p, 0, sizeof(*p));
	if (len == 32) {		/* written before pins had more than the version */
		memcpy(p->sha256, val, 32);
		return 0;
	}
	if (get_le(&r, 1) != PIN_FORMAT)
		return -1;
	get_bytes(&r, p->sha256, sizeof(p->sha256));
	p->since = get_time(&r);
	p->until = get_time(&r);
	get_str(&r, p->reason, sizeof(p->reason));
	get_str(&r, p->by, sizeof(p->by));
	return get_done(&r);
}

size_t
store_enc_upstream(unsigned char *buf, size_t cap, const struct upstream_state *st)
{
	struct wbuf w = { buf, 0, cap, 0 };

	put_le(&w, REC_FORMAT, 1);
	put_str(&w, st->etag, sizeof(st->etag));
	put_str(&w, st->last_modified, sizeof(st->last_modified));
	put_time(&w, st->last_attempt);
	put_time(&w, st->last_success);
	put_le(&w, (uint32_t)(int32_t)st->last_status, 4);
	put_str(&w, st->last_error, sizeof(st->last_error));
	put_le(&w, st->consecutive_failures, 4);
	return w.over ? 0 : w.len;
}

int
store_dec_upstream(const unsigned char *val, size_t len, struct upstream_state *st)
{
	struct rbuf r = { val, len, 0 };
	uint32_t status;

	memset(st, 0, sizeof(*st));
	if (get_le(&r, 1) != REC_FORMAT)
		return -1;
	get_str(&r, st->etag, sizeof(st->etag));
	get_str(&r, st->last_modified, sizeof(st->last_modified));
	st->last_attempt = get_time(&r);
	st->last_success = get_time(&r);
	status = (uint32_t)get_le(&r, 4);
	st->last_status = status > INT32_MAX ? -(int)(~status) - 1 : (int)status;
	get_str(&r, st->last_error, sizeof(st->last_error));
	st->consecutive_failures = (uint32_t)get_le(&r, 4);
	return get_done(&r);
}

void
store_put_be64(unsigned char out[8], uint64_t x)
{
	int i;

	for (i = 7; i >= 0; i--, x >>= 8)
		out[i] = (unsigned char)x;
}

uint64_t
store_get_be64(const unsigned char in[8])
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < 8; i++)
		x = x << 8 | in[i];
	return x;
}

void
store_put_le64(unsigned char out[8], uint64_t x)
{
	int i;

	for (i = 0; i < 8; i++, x >>= 8)
		out[i] = (unsigned char)x;
}

uint64_t
store_get_le64(const unsigned char in[8])
{
	uint64_t x = 0;
	int i;

	for (i = 7; i >= 0; i--)
		x = x << 8 | in[i];
	return x;
}

void
store_copy_text(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (cap == 0)
		return;
	if (src == NULL)
		src = "";
	n = strnlen(src, cap - 1);
	/* cut before the lead byte of a character that does not fit whole */
	if (src[n] != '\0')
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
store_hex(char *out, const unsigned char *in, size_t n, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* --- the record layer: errors, transactions, single records ------------- */

static const char *const status_names[] = {
	[VS_SERVED] = "served", [VS_PINNED] = "pinned", [VS_ADMITTED] = "admitted",
	[VS_QUARANTINED] = "quarantined", [VS_ROLLBACK] = "rollback",
};
static const char *const result_names[] = {
	[ADMIT_ADMITTED] = "admitted", [ADMIT_QUARANTINED] = "quarantined",
	[ADMIT_ROLLBACK] = "rollback", [ADMIT_DUPLICATE] = "duplicate",
};
static const char *const event_names[] = {
	[EV_ADMITTED] = "admitted", [EV_QUARANTINED] = "quarantined",
	[EV_ROLLBACK] = "rollback", [EV_DUPLICATE] = "duplicate",
	[EV_PINNED] = "pinned", [EV_UNPINNED] = "unpinned", [EV_GC] = "gc",
	[EV_CERT_ADDED] = "cert_added", [EV_SYNC] = "sync",
	[EV_INCONSISTENT] = "inconsistent",
	[EV_REVERIFIED] = "reverified",
};

const char *
store_strerror(enum store_err err)
{
	switch (err) {
	case STORE_OK: return "success";
	case STORE_ERR_MISSING: return "store does not exist";
	case STORE_ERR_ACCESS: return "store cannot be read or written";
	case STORE_ERR_SCHEMA: return "store was written by another version";
	case STORE_ERR_FULL: return "store is full (raise map_size_mb)";
	case STORE_ERR_NOTFOUND: return "not found";
	case STORE_ERR_AMBIGUOUS: return "reference matches more than one version";
	case STORE_ERR_REFUSED: return "operation refused";
	case STORE_ERR_CORRUPT: return "store record does not decode";
	case STORE_ERR_NOMEM: return "out of memory";
	case STORE_ERR_LMDB: return "LMDB error";
	}
	return "unknown store error";
}

const char *
version_status_str(enum version_status st)
{
	return (unsigned)st <= VS_ROLLBACK ? status_names[st] : "unknown";
}

const char *
admit_result_str(enum admit_result r)
{
	return (unsigned)r <= ADMIT_DUPLICATE ? result_names[r] : "unknown";
}

const char *
event_type_str(enum event_type t)
{
	return (unsigned)t < EV_COUNT ? event_names[t] : "unknown";
}

_Thread_local char store_tls_err[1024];

const char *
store_last_error(const struct store *s)
{
	(void)s;
	return store_tls_err;
}

void
store_seterr(struct store *s, const char *fmt, ...)
{
	va_list ap;

	(void)s;
	va_start(ap, fmt);
	vsnprintf(store_tls_err, sizeof(store_tls_err), fmt, ap);
	va_end(ap);
}

enum store_err
store_fail(struct store *s, int rc, const char *what)
{
	MDB_envinfo info;

	switch (rc) {
	case MDB_MAP_FULL:
		if (mdb_env_info(s->env, &info) != 0)
			info.me_mapsize = 0;
		store_seterr(s, "store %s is full (%zu MiB) while %s: raise "
		    "map_size_mb in the config; nothing was written", s->dir,
		    info.me_mapsize / STORE_MIB, what);
		return STORE_ERR_FULL;
	case MDB_NOTFOUND:
		store_seterr(s, "%s: not found", what);
		return STORE_ERR_NOTFOUND;
	case EACCES: case EPERM: case EROFS:
		store_seterr(s, "store %s: %s: %s", s->dir, what, mdb_strerror(rc));
		return STORE_ERR_ACCESS;
	case ENOMEM:
		store_seterr(s, "%s: out of memory", what);
		return STORE_ERR_NOMEM;
	case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID:
		store_seterr(s, "store %s is damaged (%s): %s", s->dir, what,
		    mdb_strerror(rc));
		return STORE_ERR_CORRUPT;
	default:
		store_seterr(s, "store %s: %s: %s", s->dir, what, mdb_strerror(rc));
		return STORE_ERR_LMDB;
	}
}

enum store_err
store_corrupt(struct store *s, const char *what)
{
	store_seterr(s, "store %s: a %s record does not decode: the store is "
	    "damaged", s->dir, what);
	return STORE_ERR_CORRUPT;
}

enum store_err
store_nomem(struct store *s)
{
	store_seterr(s, "out of memory");
	return STORE_ERR_NOMEM;
}

enum store_err
store_txn_begin(struct store *s, int write, MDB_txn **txn)
{
	unsigned flags = write ? 0 : MDB_RDONLY;
	int rc;

	*txn = NULL;
	if (write && s->readonly) {
		store_seterr(s, "store %s is open read-only", s->dir);
		return STORE_ERR_REFUSED;
	}
	rc = mdb_txn_begin(s->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* another process grew the map: adopt its size (no txn of ours is open) */
		if ((rc = mdb_env_set_mapsize(s->env, 0)) == 0)
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	if (rc != 0) {
		*txn = NULL;
		return store_fail(s, rc, "starting a transaction");
	}
	return STORE_OK;
}

enum store_err
store_txn_commit(struct store *s, MDB_txn **txn)
{
	/* LMDB frees the txn whatever the outcome */
	int rc = mdb_txn_commit(*txn);

	*txn = NULL;
	return rc == 0 ? STORE_OK : store_fail(s, rc, "committing");
}

MDB_val
store_val(const void *p, size_t n)
{
	MDB_val v = { n, (void *)p };

	return v;
}

const char *
store_label(const struct version *v, char *buf, size_t cap)
{
	char hex[65];

	store_hex(hex, v->sha256, 32, 0);
	snprintf(buf, cap, "%s (sha256 %.12s)", v->sequence[0] != '\0' ?
	    v->sequence : "without sequence", hex);
	return buf;
}

void
store_make_event(struct store_event *ev, time_t when, enum event_type type,
    const struct version *v, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	memset(ev, 0, sizeof(*ev));
	ev->when = when;
	ev->type = type;
	if (v != NULL) {
		ev->kind = v->kind;
		memcpy(ev->sha256, v->sha256, sizeof(ev->sha256));
		store_copy_text(ev->sequence, sizeof(ev->sequence), v->sequence);
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	store_copy_text(ev->text, sizeof(ev->text), text);
}

enum store_err
store_rec_append_event(struct store *s, MDB_txn *txn, struct store_event *ev)
{
	unsigned char key[8], buf[STORE_EVENT_REC_MAX];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	enum store_err e;
	size_t len;
	int rc;

	/* ev->when was the operation's time: that is when it was judged */
	ev->at = ev->when;
	ev->when = store_clock(s, ev->at);
	if ((rc = mdb_cursor_open(txn, s->events, &cur)) != 0) {
		e = store_fail(s, rc, "opening the event log");
		goto out;
	}
	ev->id = 1;
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == 0) {
		if (k.mv_size != 8) {
			e = store_corrupt(s, "event key");
			goto out;
		}
		ev->id = store_get_be64(k.mv_data) + 1;
	} else if (rc != MDB_NOTFOUND) {
		e = store_fail(s, rc, "reading the event log");
		goto out;
	}
	store_put_be64(key, ev->id);
	if ((len = store_enc_event(buf, sizeof(buf), ev)) == 0) {
		e = store_corrupt(s, "new event");
		goto out;
	}
	k = store_val(key, sizeof(key));
	d = store_val(buf, len);
	/* keys only grow, so APPEND is both right and cheap */
	if ((rc = mdb_cursor_put(cur, &k, &d, MDB_APPEND)) != 0) {
		e = store_fail(s, rc, "appending an event");
		goto out;
	}
	e = STORE_OK;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	return e;
}

enum store_err
store_rec_get_version(struct store *s, MDB_txn *txn,
    const unsigned char sha256[32], struct version *v)
{
	MDB_val k = store_val(sha256, 32), d;
	int rc;

	if ((rc = mdb_get(txn, s->versions, &k, &d)) == MDB_NOTFOUND)
		return STORE_ERR_NOTFOUND;
	if (rc != 0)
		return store_fail(s, rc, "reading a version");
	if (store_dec_version(sha256, d.mv_data, d.mv_size, v) != 0)
		return store_corrupt(s, "version");
	return STORE_OK;
}

enum store_err
store_rec_put_version(struct store *s, MDB_txn *txn, const struct version *v)
{
	unsigned char buf[STORE_VERSION_REC_MAX];
	MDB_val k = store_val(v->sha256, 32), d;
	size_t len;
	int rc;

	if ((len = store_enc_version(buf, sizeof(buf), v)) == 0)
		return store_corrupt(s, "new version");
	d = store_val(buf, len);
	if ((rc = mdb_put(txn, s->versions, &k, &d, 0)) != 0)
		return store_fail(s, rc, "writing a version");
	return STORE_OK;
}

enum store_err
store_rec_get_pin_info(struct store *s, MDB_txn *txn, enum ctl_kind kind,
    struct pin_info *out)
{
	unsigned char kb = (unsigned char)kind;
	MDB_val k = store_val(&kb, 1), d;
	int rc;

	if ((rc = mdb_get(txn, s->pins, &k, &d)) == MDB_NOTFOUND)
		return STORE_ERR_NOTFOUND;
	if (rc != 0)
		return store_fail(s, rc, "reading a pin");
	if (store_dec_pin(d.mv_data, d.mv_size, out) != 0)
		return store_corrupt(s, "pin");
	return STORE_OK;
}

enum store_err
store_rec_get_pin(struct store *s, MDB_txn *txn, enum ctl_kind kind,
    unsigned char sha256[32])
{
	struct pin_info p;
	enum store_err e;

	if ((e = store_rec_get_pin_info(s, txn, kind, &p)) == STORE_OK)
		memcpy(sha256, p.sha256, 32);
	return e;
}

enum store_err
store_rec_put_pin(struct store *s, MDB_txn *txn, enum ctl_kind kind,
    const struct pin_info *pin)
{
	unsigned char kb = (unsigned char)kind, buf[STORE_PIN_REC_MAX];
	MDB_val k = store_val(&kb, 1), d;
	size_t len;
	int rc;

	if ((len = store_enc_pin(buf, sizeof(buf), pin)) == 0)
		return store_corrupt(s, "new pin");
	d = store_val(buf, len);
	if ((rc = mdb_put(txn, s->pins, &k, &d, 0)) != 0)
		return store_fail(s, rc, "writing the pin");
	return STORE_OK;
}

/* meta "since" + kind byte -> u64 little-endian */
enum store_err
store_meta_get_u64(struct store *s, MDB_txn *txn, const void *key, size_t klen,
    const char *what, uint64_t *x, int *found)
{
	MDB_val k = store_val(key, klen), d;
	int rc;

	*x = 0;
	*found = 0;
	if ((rc = mdb_get(txn, s->meta, &k, &d)) == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_fail(s, rc, what);
	if (d.mv_size != 8)
		return store_corrupt(s, what);
	*x = store_get_le64(d.mv_data);
	*found = 1;
	return STORE_OK;
}

enum store_err
store_meta_put_u64(struct store *s, MDB_txn *txn, const void *key, size_t klen,
    const char *what, uint64_t x)
{
	unsigned char buf[8];
	MDB_val k = store_val(key, klen), d = store_val(buf, 8);
	int rc;

	store_put_le64(buf, x);
	if ((rc = mdb_put(txn, s->meta, &k, &d, 0)) != 0)
		return store_fail(s, rc, what);
	return STORE_OK;
}

enum store_err
store_rec_get_since(struct store *s, MDB_txn *txn, enum ctl_kind kind, time_t *since)
{
	char key[6] = { 's', 'i', 'n', 'c', 'e', (char)kind };
	uint64_t x;
	int found;
	enum store_err e;

	e = store_meta_get_u64(s, txn, key, sizeof(key), "served-since", &x, &found);
	*since = (time_t)x;
	return e;
}

enum store_err
store_rec_put_since(struct store *s, MDB_txn *txn, enum ctl_kind kind, time_t since)
{
	char key[6] = { 's', 'i', 'n', 'c', 'e', (char)kind };

	return store_meta_put_u64(s, txn, key, sizeof(key), "served-since", (uint64_t)since);
}

time_t
store_clock(const struct store *s, time_t fallback)
{
	return s->clock != NULL ? s->clock(s->clock_arg) : fallback;
}

enum store_err
store_rec_copy_blob(struct store *s, MDB_txn *txn, const unsigned char sha256[32],
    unsigned char **buf, size_t *len)
{
	MDB_val k = store_val(sha256, 32), d;
	int rc;

	if ((rc = mdb_get(txn, s->blobs, &k, &d)) == MDB_NOTFOUND) {
		store_seterr(s, "no stored file with that sha256");
		return STORE_ERR_NOTFOUND;
	}
	if (rc != 0)
		return store_fail(s, rc, "reading a file");
	/* one byte at least, so an empty file is not a NULL buffer */
	if ((*buf = malloc(d.mv_size ? d.mv_size : 1)) == NULL)
		return store_nomem(s);
	memcpy(*buf, d.mv_data, d.mv_size);
	*len = d.mv_size;
	return STORE_OK;
}

enum store_err
store_rec_next_order(struct store *s, MDB_txn *txn, uint64_t *order)
{
	unsigned char buf[8];
	MDB_val k = store_val("order", 5), d;
	int rc;

	*order = 1;
	rc = mdb_get(txn, s->meta, &k, &d);
	if (rc == 0) {
		if (d.mv_size != 8)
			return store_corrupt(s, "admission counter");
		*order = store_get_le64(d.mv_data) + 1;
	} else if (rc != MDB_NOTFOUND) {
		return store_fail(s, rc, "reading the admission counter");
	}
	store_put_le64(buf, *order);
	d = store_val(buf, sizeof(buf));
	if ((rc = mdb_put(txn, s->meta, &k, &d, 0)) != 0)
		return store_fail(s, rc, "writing the admission counter");
	return STORE_OK;
}

enum store_err
store_rec_load_versions(struct store *s, MDB_txn *txn, int all,
    enum ctl_kind kind, struct version **out, size_t *n)
{
	struct version *arr = NULL, *grown;
	size_t cap = 0, cnt = 0;
	MDB_cursor *c = NULL;
	MDB_val k, d;
	enum store_err e;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->versions, &c)) != 0) {
		e = store_fail(s, rc, "opening the versions");
		goto out;
	}
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			if ((grown = realloc(arr, cap * sizeof(*arr))) == NULL) {
				e = store_nomem(s);
				goto out;
			}
			arr = grown;
		}
		if (k.mv_size != 32 ||
		    store_dec_version(k.mv_data, d.mv_data, d.mv_size, &arr[cnt]) != 0) {
			e = store_corrupt(s, "version");
			goto out;
		}
		if (all || arr[cnt].kind == kind)
			cnt++;
	}
	if (rc != MDB_NOTFOUND) {
		e = store_fail(s, rc, "reading the versions");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	e = STORE_OK;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	free(arr);
	return e;
}
