/*
 * served.h - the served set: what this mirror gives clients, decided once.
 *
 * For each kind: the served version and why (a pin, or the newest admitted
 * version), its bytes and validators, and the newest admitted version with
 * pins aside (what a new copy is judged against). For authroot also the
 * generated authrootseq.txt and the sorted thumbprints its CTL lists, each
 * marked stored or not. All of it is read in one store snapshot, so no part
 * can disagree with another, and every reader (the daemon's workers, export,
 * status and the status page, sync) takes it from here: nothing else
 * recomputes a part of it. The served rule itself stays in the store
 * (store_served); the `.crt` rule lives here.
 *
 * A set carries a digest of what it is (per kind the served and newest
 * versions, the pin and when the served one became served; the stored flags
 * of the listed roots), so a reader
 * that holds one can tell whether a store commit changed it and reload only
 * then (served_refresh): bookkeeping commits cost a snapshot, not a copy.
 */
#ifndef CTLMIRROR_SERVED_H
#define CTLMIRROR_SERVED_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/hex.h"
#include "store/store.h"

/*
 * Bytes shared by a set and the responses still being sent. Not atomic: a
 * blob belongs to one thread (each worker has its own set).
 */
struct blob {
	unsigned refs;
	size_t len;
	unsigned char data[];
};

/* A new blob holding a copy of data (refs = 1), or NULL. */
struct blob *blob_new(const void *data, size_t len);
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b);

struct served_kind {
	int present;			/* something of this kind is served */
	int pinned;			/* why: 1 a pin, 0 the newest admitted version */
	struct pin_info pin;		/* the pin, when pinned */
	size_t newer_held;		/* pinned: verified versions newer than it, held back */
	time_t modified;		/* Last-Modified: when it became the served file */
	struct version v;		/* the served version */
	struct blob *bytes;		/* its file (SERVED_BYTES), else NULL */
	char etag[HEX_ETAG_LEN];	/* the file's strong ETag, from its SHA-256 */
	int has_newest;			/* some admitted version exists ... */
	struct version newest;		/* ... and this is the newest, pins aside */
};

/* A root the served authroot CTL lists. */
struct listed_root {
	unsigned char sha1[20];
	int stored;			/* its certificate is in the store */
};

struct served_set {
	int loaded;
	int flags;			/* what was loaded (enum served_flags) */
	uint64_t generation;		/* the store generation it was read at */
	unsigned char digest[32];	/* what the set is (see above) */
	struct served_kind kinds[KIND_COUNT];
	struct blob *seq;		/* authrootseq.txt (SERVED_BYTES), NULL without authroot */
	char seq_etag[HEX_ETAG_LEN];
	struct listed_root *listed;	/* SERVED_LISTED: sorted by sha1 */
	size_t n_listed;
	size_t n_missing;		/* listed roots not stored */
};

enum served_flags {
	SERVED_BYTES = 1,		/* keep the files and the sequence file in memory */
	SERVED_LISTED = 2,		/* the listed roots and whether each is stored */
};

/*
 * Reads the served set into out (flags: what to load beyond the versions).
 * Release it with served_free(). STORE_OK even when nothing is served.
 */
enum store_err served_load(struct store *s, int flags, struct served_set *out);

/*
 * Brings a loaded set up to date: nothing when no write committed since it
 * was read; a snapshot and a digest when one did, and a reload (with the
 * set's flags) only when the digest differs. *changed says whether the set
 * was replaced. On error the set is left as it was.
 */
enum store_err served_refresh(struct store *s, struct served_set *set, int *changed);

void served_free(struct served_set *set);

/* The listed root with this thumbprint, or NULL (SERVED_LISTED). */
const struct listed_root *served_listed(const struct served_set *set,
    const unsigned char sha1[20]);

/*
 * The `.crt` rule: may der be served as `<name>.crt`? Only if SHA-1(der) is
 * the name and the served authroot CTL lists it (SERVED_LISTED).
 */
int served_crt_ok(const struct served_set *set, const unsigned char name[20],
    const unsigned char *der, size_t len);

/* Is v the newest admitted version of its kind, pins aside? */
int served_is_newest(const struct served_set *set, const struct version *v);

/*
 * The text of authrootseq.txt for a served version: its sequence number in
 * upper-case hex, as upstream writes it. Returns the length written.
 */
size_t served_seqfile(const struct version *v, char *buf, size_t len);

#endif
