/*
 * store_codec.h - the store's record layer (private to store/).
 *
 * store_codec.c holds what has no rule in it: the byte layout of records,
 * reading and writing single records inside a caller's transaction, error
 * details. store_records.c has the public functions that only move records
 * (certificates, events, upstream state). store.c holds opening and the rules
 * (admission, the served rule, reverification, gc; store_rules.h), which
 * store_pins.c (pins) and store_snap.c (read snapshots) ask.
 *
 * Records are explicit byte layouts, never struct images: a format byte,
 * fixed-width little-endian integers and strings as a 16-bit length plus the
 * bytes (no NUL). Decoding checks every length against what is left and every
 * enum against its range, so a short or foreign record is reported, never
 * read past. The key (sha256, event counter) is not repeated in the value.
 */
#ifndef CTLMIRROR_STORE_CODEC_H
#define CTLMIRROR_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store/store.h"

struct store {
	MDB_env *env;
	MDB_dbi meta, blobs, versions, pins, certs, upstream, events;
	int readonly;
	char *dir;
	time_t (*clock)(void *arg);	/* store_set_clock; NULL: the operation's time */
	void *clock_arg;
	size_t failed_keep;		/* store_set_failed_budget */
	uint64_t failed_budget;
};

/*
 * The detail of the last error, per thread like errno: the server's workers
 * share one handle (one LMDB environment per process), and an error in one
 * thread must not garble another's message.
 */
extern _Thread_local char store_tls_err[1024];

#define STORE_MIB ((size_t)1024 * 1024)

/* Upper bounds of the encoded records; store_codec.c asserts they hold. */
#define STORE_VERSION_REC_MAX	2048
#define STORE_EVENT_REC_MAX	1280
#define STORE_UPSTREAM_REC_MAX	768

/* Encoders return the record's length, or 0 if buf (cap bytes) is too small. */
size_t store_enc_version(unsigned char *buf, size_t cap, const struct version *v);
size_t store_enc_event(unsigned char *buf, size_t cap, const struct store_event *ev);
size_t store_enc_upstream(unsigned char *buf, size_t cap, const struct upstream_state *st);
size_t store_enc_pin(unsigned char *buf, size_t cap, const struct pin_info *p);

/*
 * Decoders return 0, or -1 when the record does not decode (short, trailing
 * bytes, a string too long for its field, an enum out of range). The version's
 * sha256 comes from its key; status is left as VS_ADMITTED for the caller.
 */
int store_dec_version(const unsigned char sha256[32], const unsigned char *val,
    size_t len, struct version *v);
int store_dec_event(uint64_t id, const unsigned char *val, size_t len,
    struct store_event *ev);
int store_dec_upstream(const unsigned char *val, size_t len, struct upstream_state *st);
int store_dec_pin(const unsigned char *val, size_t len, struct pin_info *p);

/* Event keys: big-endian, so LMDB's byte order is the counter's order. */
void store_put_be64(unsigned char out[8], uint64_t x);
uint64_t store_get_be64(const unsigned char in[8]);
void store_put_le64(unsigned char out[8], uint64_t x);
uint64_t store_get_le64(const unsigned char in[8]);


/* Copies src (NULL = "") into dst[cap], cutting only between UTF-8 characters. */
void store_copy_text(char *dst, size_t cap, const char *src);

/* Hex of in[n] into out (2n + 1 bytes). */
void store_hex(char *out, const unsigned char *in, size_t n, int upper);

/* Sets the handle's error detail. */
void store_seterr(struct store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Maps an LMDB code to a store_err with a detail; `what` says what was being done. */
enum store_err store_fail(struct store *s, int rc, const char *what);
/* A record that does not decode: STORE_ERR_CORRUPT naming the record. */
enum store_err store_corrupt(struct store *s, const char *what);
enum store_err store_nomem(struct store *s);

/* Begins a transaction (write: refused on a read-only handle); commits and forgets one. */
enum store_err store_txn_begin(struct store *s, int write, MDB_txn **txn);
enum store_err store_txn_commit(struct store *s, MDB_txn **txn);

MDB_val store_val(const void *p, size_t n);

/* "SEQUENCE (sha256 0123456789ab)" for messages. */
const char *store_label(const struct version *v, char *buf, size_t cap);

/*
 * Single records inside txn. Getters return STORE_ERR_NOTFOUND without a
 * detail (the caller knows what was missing), STORE_ERR_CORRUPT, or an LMDB
 * failure.
 */
enum store_err store_rec_get_version(struct store *s, MDB_txn *txn,
    const unsigned char sha256[32], struct version *v);
enum store_err store_rec_put_version(struct store *s, MDB_txn *txn,
    const struct version *v);
enum store_err store_rec_get_pin(struct store *s, MDB_txn *txn,
    enum ctl_kind kind, unsigned char sha256[32]);
/* The whole pin record (an old 32-byte one is a pin with no end and no reason). */
enum store_err store_rec_get_pin_info(struct store *s, MDB_txn *txn,
    enum ctl_kind kind, struct pin_info *out);
enum store_err store_rec_put_pin(struct store *s, MDB_txn *txn,
    enum ctl_kind kind, const struct pin_info *pin);
/*
 * A little-endian 64-bit meta value under key (klen bytes); what names it in
 * errors. get: *found 0 and *x 0 when absent; a value not 8 bytes is corrupt.
 */
enum store_err store_meta_get_u64(struct store *s, MDB_txn *txn, const void *key,
    size_t klen, const char *what, uint64_t *x, int *found);
enum store_err store_meta_put_u64(struct store *s, MDB_txn *txn, const void *key,
    size_t klen, const char *what, uint64_t x);
/* When the served version of kind became the served one (0: unknown). */
enum store_err store_rec_get_since(struct store *s, MDB_txn *txn,
    enum ctl_kind kind, time_t *since);
enum store_err store_rec_put_since(struct store *s, MDB_txn *txn,
    enum ctl_kind kind, time_t since);
/* The store's clock (store_set_clock), or fallback when none is set. */
time_t store_clock(const struct store *s, time_t fallback);
/* Copies a blob into a malloc'd buffer. */
enum store_err store_rec_copy_blob(struct store *s, MDB_txn *txn,
    const unsigned char sha256[32], unsigned char **buf, size_t *len);
/* The next admission order (meta "order", u64 little-endian), stored incremented. */
enum store_err store_rec_next_order(struct store *s, MDB_txn *txn, uint64_t *order);
/* All versions (every kind if all, else of kind); *out malloc'd. */
enum store_err store_rec_load_versions(struct store *s, MDB_txn *txn, int all,
    enum ctl_kind kind, struct version **out, size_t *n);

/* Fills an event about v (NULL: about no version); text from fmt. */
void store_make_event(struct store_event *ev, time_t when, enum event_type type,
    const struct version *v, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Appends ev under the next counter (last key + 1), setting ev->id. */
enum store_err store_rec_append_event(struct store *s, MDB_txn *txn,
    struct store_event *ev);

#endif
