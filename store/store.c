/*
 * store.c - every version ever seen, in one LMDB environment (store.h).
 *
 * Each public function is one transaction: a read transaction for questions,
 * one write transaction for a change, so a crash or a full map leaves all of
 * a change or none of it. The served rule lives in served_txn() alone; every
 * question that depends on it (served, list, find, admit, gc, and the pins and
 * snapshots of store_pins.c and store_snap.c, through store_rules.h) calls it
 * inside its own transaction, so the answer matches the data it was computed
 * from. Record layouts and single-record access are in store_codec.c; the
 * environment's opening and closing in store_env.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "store/store.h"
#include "store/store_budget.h"
#include "store/store_codec.h"
#include "store/store_rules.h"


/*
 * The served rule's order between two servable copies: nonzero if a wins
 * over b. Highest sequence; among re-signed copies of one sequence the chain
 * that ends last (clients stop logging 4107 longest); then the earliest seen.
 */
static int
serves_before(const struct version *a, const struct version *b)
{
	int c = ctl_seq_cmp(a->sequence, b->sequence);

	if (c != 0)
		return c > 0;
	if (a->chain_valid_to != b->chain_valid_to)
		return a->chain_valid_to > b->chain_valid_to;
	if (a->first_seen != b->first_seen)
		return a->first_seen < b->first_seen;
	return a->order < b->order;
}

/*
 * Only a CAB can be served: Windows clients unpack what they fetch, and a
 * bare .stl under a .cab name fails there (CAPI2 event 4107). Verification
 * checks the cab's one member and its name; this checks the container.
 */
int
is_cab(struct store *s, MDB_txn *txn, const unsigned char sha256[32])
{
	MDB_val k = store_val(sha256, 32), d;

	return mdb_get(txn, s->blobs, &k, &d) == 0 && d.mv_size >= 4 &&
	    memcmp(d.mv_data, "MSCF", 4) == 0;
}

/*
 * THE served rule (store.h, store_served): the one place it is decided.
 * ignore_pin asks for the newest admitted version alone: what a new copy is
 * compared with to tell a stale edge, whatever an administrator pinned.
 */
enum store_err
served_txn(struct store *s, MDB_txn *txn, enum ctl_kind kind, int ignore_pin,
    struct version *out, int *pinned)
{
	unsigned char sha[32];
	struct version cur;
	MDB_cursor *c = NULL;
	MDB_val k, d;
	enum store_err e;
	int rc, have = 0;

	*pinned = 0;
	e = ignore_pin ? STORE_ERR_NOTFOUND : store_rec_get_pin(s, txn, kind, sha);
	if (e == STORE_OK) {
		/* a pin whose version is gone no longer decides */
		e = store_rec_get_version(s, txn, sha, out);
		if (e == STORE_OK) {
			out->status = VS_PINNED;
			*pinned = 1;
			goto out;
		}
	}
	if (e != STORE_ERR_NOTFOUND)
		goto out;
	if ((rc = mdb_cursor_open(txn, s->versions, &c)) != 0) {
		e = store_fail(s, rc, "opening the versions");
		goto out;
	}
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
		if (k.mv_size != 32 ||
		    store_dec_version(k.mv_data, d.mv_data, d.mv_size, &cur) != 0) {
			e = store_corrupt(s, "version");
			goto out;
		}
		if (cur.kind != kind || cur.reason != VFY_OK || cur.rollback)
			continue;
		if ((!have || serves_before(&cur, out)) && is_cab(s, txn, cur.sha256)) {
			*out = cur;
			have = 1;
		}
	}
	if (rc != MDB_NOTFOUND) {
		e = store_fail(s, rc, "reading the versions");
		goto out;
	}
	if (!have) {
		store_seterr(s, "no %s version can be served", ctl_kind_str(kind));
		e = STORE_ERR_NOTFOUND;
		goto out;
	}
	out->status = VS_SERVED;
	e = STORE_OK;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (e == STORE_OK && !ignore_pin)
		e = store_rec_get_since(s, txn, kind, &out->served_since);
	return e;
}

enum store_err
served_all(struct store *s, MDB_txn *txn, struct served ss[KIND_COUNT])
{
	struct version v;
	enum store_err e;
	int k;

	for (k = 0; k < KIND_COUNT; k++) {
		memset(&ss[k], 0, sizeof(ss[k]));
		e = served_txn(s, txn, (enum ctl_kind)k, 0, &v, &ss[k].pinned);
		if (e == STORE_ERR_NOTFOUND)
			continue;
		if (e != STORE_OK)
			return e;
		ss[k].have = 1;
		memcpy(ss[k].sha256, v.sha256, 32);
	}
	store_tls_err[0] = '\0';
	return STORE_OK;
}

static void
set_status(struct version *v, const struct served ss[KIND_COUNT])
{
	const struct served *sv = &ss[v->kind];

	if (sv->have && memcmp(sv->sha256, v->sha256, 32) == 0)
		v->status = sv->pinned ? VS_PINNED : VS_SERVED;
	else if (v->rollback)
		v->status = VS_ROLLBACK;
	else if (v->reason != VFY_OK)
		v->status = VS_QUARANTINED;
	else
		v->status = VS_ADMITTED;
}

/*
 * After a write that may change what is served (admission, pin, unpin, a
 * lapse, gc, reverification): for each kind whose served version changed
 * since `before`, record when: the store's clock, never earlier than the last
 * change, so a served file's Last-Modified never steps back (a pin of an older
 * version included). In txn.
 */
enum store_err
note_served(struct store *s, MDB_txn *txn, const struct served before[KIND_COUNT],
    time_t now)
{
	struct served after[KIND_COUNT];
	enum store_err e;
	time_t when = store_clock(s, now), prev;
	int k;

	if ((e = served_all(s, txn, after)) != STORE_OK)
		return e;
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		if (before[k].have == after[k].have && before[k].pinned == after[k].pinned &&
		    (!after[k].have || memcmp(before[k].sha256, after[k].sha256, 32) == 0))
			continue;
		if ((e = store_rec_get_since(s, txn, (enum ctl_kind)k, &prev)) != STORE_OK ||
		    (e = store_rec_put_since(s, txn, (enum ctl_kind)k,
		    when > prev ? when : prev + 1)) != STORE_OK)
			return e;
	}
	return STORE_OK;
}

/* store_list's order: kind, sequence (as numbers), first seen, admission. */
static int
list_cmp(const void *pa, const void *pb)
{
	const struct version *a = pa, *b = pb;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((c = ctl_seq_cmp(a->sequence, b->sequence)) != 0)
		return c;
	if (a->first_seen != b->first_seen)
		return a->first_seen < b->first_seen ? -1 : 1;
	return (a->order > b->order) - (a->order < b->order);
}

/* gc's order: kind, then newest first (sequence, then latest seen, then latest admitted). */
static int
gc_cmp(const void *pa, const void *pb)
{
	const struct version *a = pa, *b = pb;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return -list_cmp(pa, pb);
}

static void
version_from_verdict(struct version *rec, const unsigned char sha[32],
    size_t len, const struct verdict *v, time_t now, const char *source)
{
	memset(rec, 0, sizeof(*rec));
	memcpy(rec->sha256, sha, 32);
	rec->kind = v->kind;
	store_copy_text(rec->sequence, sizeof(rec->sequence), v->sequence);
	rec->this_update = v->this_update;
	rec->next_update = v->next_update;
	rec->size = len;
	rec->first_seen = now;
	store_copy_text(rec->source, sizeof(rec->source), source);
	rec->reason = v->reason;
	store_copy_text(rec->detail, sizeof(rec->detail), v->detail);
	rec->has_chain = v->has_chain != 0;
	rec->chain_valid_from = v->chain_valid_from;
	rec->chain_valid_to = v->chain_valid_to;
	rec->timestamp_verified = v->timestamp_verified != 0;
	rec->timestamp = v->timestamp;
	rec->n_entries = v->n_entries > UINT32_MAX ? UINT32_MAX : (uint32_t)v->n_entries;
	store_copy_text(rec->signer, sizeof(rec->signer), v->signer);
}

/*
 * Writes a version record and its event, notes a change of what is served
 * since before, and (with_status) fills rec->status as the result stands.
 * In txn: the write step admission and reverification share.
 */
static enum store_err
write_version(struct store *s, MDB_txn *txn, struct version *rec,
    struct store_event *ev, const struct served before[KIND_COUNT], time_t now,
    int with_status)
{
	struct served ss[KIND_COUNT];
	enum store_err e;

	if ((e = store_rec_put_version(s, txn, rec)) != STORE_OK ||
	    (e = store_rec_append_event(s, txn, ev)) != STORE_OK ||
	    (e = note_served(s, txn, before, now)) != STORE_OK)
		return e;
	if (with_status) {
		if ((e = served_all(s, txn, ss)) != STORE_OK)
			return e;
		set_status(rec, ss);
	}
	return STORE_OK;
}

/*
 * The same bytes again. A failed copy whose bytes were dropped takes them
 * back (unless the budget keeps none) as the newest failed copy, so it can be
 * verified again; anything else changes nothing. *wrote says whether txn
 * holds a change.
 */
static enum store_err
admit_again(struct store *s, MDB_txn *txn, struct version *rec,
    const unsigned char *bytes, size_t len, time_t now, int *wrote)
{
	struct served ss[KIND_COUNT];
	unsigned char sha[32];
	MDB_val k, d;
	enum store_err e;
	int rc;

	*wrote = 0;
	memcpy(sha, rec->sha256, 32);	/* rec is read again below, over itself */
	k = store_val(sha, 32);
	if (rec->bytes_dropped && s->failed_keep > 0 &&
	    len <= s->failed_budget) {
		d = store_val(len ? bytes : (const unsigned char *)"", len);
		rec->bytes_dropped = 0;
		if ((rc = mdb_put(txn, s->blobs, &k, &d, 0)) != 0)
			return store_fail(s, rc, "writing the file again");
		if ((e = store_rec_put_version(s, txn, rec)) != STORE_OK ||
		    (e = budget_add(s, txn, rec, len)) != STORE_OK ||
		    (e = budget_apply(s, txn, 0, now, NULL, NULL)) != STORE_OK ||
		    (e = store_rec_get_version(s, txn, sha, rec)) != STORE_OK)
			return e;
		*wrote = 1;
	}
	if ((e = served_all(s, txn, ss)) != STORE_OK)
		return e;
	set_status(rec, ss);
	return STORE_OK;
}

/* One try at store_admit, in one write transaction. */
static enum store_err
admit_once(struct store *s, const unsigned char *bytes, size_t len,
    const unsigned char sha[32], const struct verdict *v, time_t now,
    const char *source, enum admit_result *result, struct version *out)
{
	struct served before[KIND_COUNT];
	struct version rec, srv;
	struct store_event ev;
	MDB_txn *txn = NULL;
	MDB_val k, d;
	enum admit_result res;
	enum store_err e;
	int rc, pinned, wrote;
	const char *kept = "";
	char name[128];

	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK)
		goto out;
	e = store_rec_get_version(s, txn, sha, &rec);
	if (e == STORE_OK) {
		/* the same bytes again change nothing (but dropped bytes come back) */
		if ((e = admit_again(s, txn, &rec, bytes, len, now, &wrote)) != STORE_OK ||
		    (wrote && (e = store_txn_commit(s, &txn)) != STORE_OK))
			goto out;
		res = ADMIT_DUPLICATE;
		goto done;
	}
	if (e != STORE_ERR_NOTFOUND)
		goto out;

	if ((e = served_all(s, txn, before)) != STORE_OK)
		goto out;
	version_from_verdict(&rec, sha, len, v, now, source);
	e = served_txn(s, txn, rec.kind, 1, &srv, &pinned);
	if (e != STORE_OK && e != STORE_ERR_NOTFOUND)
		goto out;
	if (rec.reason != VFY_OK) {
		res = ADMIT_QUARANTINED;
		/* evidence within the budget: a copy larger than all of it is a record */
		if (s->failed_keep == 0 || len > s->failed_budget) {
			rec.bytes_dropped = 1;
			kept = " (bytes not kept: the failed-copy budget)";
		}
		store_make_event(&ev, now, EV_QUARANTINED, &rec, "quarantined (%s) from "
		    "%s: %s%s", vfy_reason_str(rec.reason), rec.source, rec.detail, kept);
	} else if (e == STORE_OK && ctl_seq_cmp(srv.sequence, rec.sequence) > 0) {
		/* a stale copy (a CDN edge behind): kept and logged, never served */
		res = ADMIT_ROLLBACK;
		rec.rollback = 1;
		store_make_event(&ev, now, EV_ROLLBACK, &rec, "rollback from %s: sequence "
		    "%s is older than the newest admitted %s", rec.source, rec.sequence,
		    store_label(&srv, name, sizeof(name)));
	} else {
		res = ADMIT_ADMITTED;
		store_make_event(&ev, now, EV_ADMITTED, &rec, "admitted from %s",
		    rec.source);
	}
	store_tls_err[0] = '\0';
	if ((e = store_rec_next_order(s, txn, &rec.order)) != STORE_OK)
		goto out;
	k = store_val(sha, 32);
	d = store_val(len ? bytes : (const unsigned char *)"", len);
	/* a blob without a record (never written by us) is the same bytes: keep it */
	rc = rec.bytes_dropped ? 0 : mdb_put(txn, s->blobs, &k, &d, MDB_NOOVERWRITE);
	if (rc != 0 && rc != MDB_KEYEXIST) {
		e = store_fail(s, rc, "writing the file");
		goto out;
	}
	if ((e = write_version(s, txn, &rec, &ev, before, now, out != NULL)) != STORE_OK)
		goto out;
	if (res == ADMIT_QUARANTINED && !rec.bytes_dropped) {
		/* the budget is applied where it grows, so it is never exceeded */
		if ((e = budget_add(s, txn, &rec, len)) != STORE_OK ||
		    (e = budget_apply(s, txn, 0, now, NULL, NULL)) != STORE_OK ||
		    (e = store_rec_get_version(s, txn, sha, &srv)) != STORE_OK)
			goto out;
		rec.bytes_dropped = srv.bytes_dropped;
	}
	if ((e = store_txn_commit(s, &txn)) != STORE_OK)
		goto out;
done:
	*result = res;
	if (out != NULL)
		*out = rec;
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

/*
 * A full map: drops failed copies' bytes, oldest first, until need bytes are
 * free, in a transaction of its own, then commits one small write more: LMDB
 * reuses the pages a transaction freed only two transactions later (the
 * last committed state stays whole). *dropped: how many.
 */
static enum store_err
make_room(struct store *s, uint64_t need, time_t now, const struct verdict *v,
    const char *source, size_t *dropped)
{
	MDB_txn *txn = NULL;
	enum store_err e;
	char why[400];
	int dead;

	*dropped = 0;
	/* readers of crashed processes hold old pages: let them go */
	(void)mdb_reader_check(s->env, &dead);
	snprintf(why, sizeof(why), "the store was full admitting a %s %s copy from %.256s",
	    v->reason == VFY_OK ? "verified" : "failed", ctl_kind_str(v->kind), source);
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK ||
	    (e = budget_apply(s, txn, need, now, why, dropped)) != STORE_OK)
		goto out;
	if (*dropped == 0 || (e = store_txn_commit(s, &txn)) != STORE_OK)
		goto out;
	/* if even this does not fit, the next try says the store is full */
	if (store_txn_begin(s, 1, &txn) == STORE_OK && budget_touch(s, txn) == STORE_OK)
		(void)store_txn_commit(s, &txn);
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_admit(struct store *s, const unsigned char *bytes, size_t len,
    const struct verdict *v, time_t now, const char *source,
    enum admit_result *result, struct version *out)
{
	unsigned char sha[32];
	enum store_err e;
	uint64_t need;
	size_t dropped;
	char full[sizeof(store_tls_err)];

	store_tls_err[0] = '\0';
	if ((unsigned)v->kind >= KIND_COUNT || (unsigned)v->reason >= VFY_REASON_COUNT) {
		store_seterr(s, "verdict with kind %d, reason %d cannot be stored",
		    (int)v->kind, (int)v->reason);
		return STORE_ERR_REFUSED;
	}
	if (EVP_Digest(len ? bytes : (const unsigned char *)"", len, sha, NULL,
	    EVP_sha256(), NULL) != 1) {
		store_seterr(s, "SHA-256 of the file failed");
		return STORE_ERR_NOMEM;
	}
	/* the file, its record and some slack; twice as much each round after */
	need = (uint64_t)len + len / 4 + 256 * 1024;
	for (;;) {
		e = admit_once(s, bytes, len, sha, v, now, source, result, out);
		if (e != STORE_ERR_FULL)
			return e;
		/* failed copies never block another copy while they hold bytes */
		snprintf(full, sizeof(full), "%s", store_tls_err);
		if ((e = make_room(s, need, now, v, source, &dropped)) != STORE_OK)
			return e;
		if (dropped == 0) {
			store_seterr(s, "%s", full);
			return STORE_ERR_FULL;
		}
		need = need > UINT64_MAX / 2 ? UINT64_MAX : 2 * need;
	}
}

enum store_err
store_reverify(struct store *s, const unsigned char sha256[32],
    const struct verdict *v, time_t now, enum admit_result *result,
    struct version *out)
{
	struct served before[KIND_COUNT];
	struct version rec, fresh, srv;
	struct store_event ev;
	MDB_txn *txn = NULL;
	enum store_err e;
	char name[128], was[64];
	int pinned;

	store_tls_err[0] = '\0';
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK)
		goto out;
	if ((e = store_rec_get_version(s, txn, sha256, &rec)) != STORE_OK) {
		if (e == STORE_ERR_NOTFOUND)
			store_seterr(s, "no such version");
		goto out;
	}
	if (!vfy_reason_trust_dependent(rec.reason)) {
		store_seterr(s, "version %s is %s (%s): only a copy quarantined for a "
		    "reason of the local trust set is verified again",
		    store_label(&rec, name, sizeof(name)),
		    rec.reason == VFY_OK ? "admitted" : "quarantined",
		    vfy_reason_str(rec.reason));
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if (rec.bytes_dropped) {
		store_seterr(s, "version %s was quarantined (%s) and its bytes were "
		    "dropped (failed-copy budget): it cannot be checked again until "
		    "the same file arrives again", store_label(&rec, name, sizeof(name)),
		    vfy_reason_str(rec.reason));
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if (v->reason != VFY_OK || v->kind != rec.kind) {
		*result = ADMIT_QUARANTINED;	/* still failing: nothing to write */
		if (out != NULL)
			*out = rec;
		e = STORE_OK;
		goto out;
	}
	/* the verdict's facts; what was seen when and where stays */
	version_from_verdict(&fresh, rec.sha256, (size_t)rec.size, v, rec.first_seen,
	    rec.source);
	fresh.order = rec.order;
	snprintf(was, sizeof(was), "%s", vfy_reason_str(rec.reason));
	if ((e = served_all(s, txn, before)) != STORE_OK)
		goto out;
	e = served_txn(s, txn, rec.kind, 1, &srv, &pinned);
	if (e != STORE_OK && e != STORE_ERR_NOTFOUND)
		goto out;
	if (e == STORE_OK && ctl_seq_cmp(srv.sequence, fresh.sequence) > 0) {
		fresh.rollback = 1;
		*result = ADMIT_ROLLBACK;
	} else {
		*result = ADMIT_ADMITTED;
	}
	store_make_event(&ev, now, EV_REVERIFIED, &fresh, "verified again after the trust "
	    "set changed: was quarantined (%s: %s), now %s%s", was, rec.detail,
	    *result == ADMIT_ADMITTED ? "admitted" : "a rollback: older than ",
	    *result == ADMIT_ADMITTED ? "" : store_label(&srv, name, sizeof(name)));
	store_tls_err[0] = '\0';
	/* verified now: its bytes are content, out of the failed-copy budget */
	if ((e = write_version(s, txn, &fresh, &ev, before, now, out != NULL)) != STORE_OK ||
	    (e = budget_forget(s, txn, rec.sha256)) != STORE_OK)
		goto out;
	if (out != NULL)
		*out = fresh;
	e = store_txn_commit(s, &txn);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_served(struct store *s, enum ctl_kind kind, struct version *out,
    int *pinned)
{
	return store_served_blob(s, kind, out, pinned, NULL, NULL);
}

enum store_err
store_served_blob(struct store *s, enum ctl_kind kind, struct version *out,
    int *pinned, unsigned char **buf, size_t *len)
{
	struct version v;
	MDB_txn *txn = NULL;
	enum store_err e;
	int pin;

	store_tls_err[0] = '\0';
	if ((unsigned)kind >= KIND_COUNT) {
		store_seterr(s, "no such kind %d", (int)kind);
		return STORE_ERR_NOTFOUND;
	}
	if ((e = store_txn_begin(s, 0, &txn)) != STORE_OK)
		goto out;
	if ((e = served_txn(s, txn, kind, 0, &v, &pin)) != STORE_OK)
		goto out;
	if (buf != NULL && (e = store_rec_copy_blob(s, txn, v.sha256, buf, len)) != STORE_OK) {
		if (e == STORE_ERR_NOTFOUND) {
			store_seterr(s, "the served %s version has no stored file: the "
			    "store is damaged", ctl_kind_str(kind));
			e = STORE_ERR_CORRUPT;
		}
		goto out;
	}
	if (out != NULL)
		*out = v;
	if (pinned != NULL)
		*pinned = pin;
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_list(struct store *s, enum ctl_kind kind, struct version **out, size_t *n)
{
	struct served ss[KIND_COUNT];
	struct version *arr = NULL;
	MDB_txn *txn = NULL;
	enum store_err e;
	size_t cnt = 0, i;

	store_tls_err[0] = '\0';
	*out = NULL;
	*n = 0;
	if ((unsigned)kind >= KIND_COUNT) {
		store_seterr(s, "no such kind %d", (int)kind);
		return STORE_ERR_REFUSED;
	}
	if ((e = store_txn_begin(s, 0, &txn)) != STORE_OK ||
	    (e = store_rec_load_versions(s, txn, kind == KIND_UNKNOWN, kind,
	    &arr, &cnt)) != STORE_OK ||
	    (e = served_all(s, txn, ss)) != STORE_OK)
		goto out;
	for (i = 0; i < cnt; i++)
		set_status(&arr[i], ss);
	if (cnt > 0)
		qsort(arr, cnt, sizeof(*arr), list_cmp);
	*out = arr;
	*n = cnt;
	arr = NULL;
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(arr);
	return e;
}

static int
is_hex(const char *p)
{
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (strchr("0123456789abcdefABCDEF", *p) == NULL)
			return 0;
	return 1;
}

enum store_err
store_find(struct store *s, const char *ref, struct version *out)
{
	struct served ss[KIND_COUNT];
	struct version *all = NULL;
	MDB_txn *txn = NULL;
	size_t n = 0, i, hits = 0, served_hits = 0, pick = 0, served_pick = 0;
	size_t rlen = strlen(ref);
	enum store_err e;
	char hex[65];

	store_tls_err[0] = '\0';
	if (!is_hex(ref)) {
		store_seterr(s, "'%.80s' is neither a sequence number nor a sha256 "
		    "prefix (hex digits)", ref);
		return STORE_ERR_REFUSED;
	}
	if ((e = store_txn_begin(s, 0, &txn)) != STORE_OK ||
	    (e = store_rec_load_versions(s, txn, 1, KIND_UNKNOWN, &all, &n)) != STORE_OK ||
	    (e = served_all(s, txn, ss)) != STORE_OK)
		goto out;
	/* a sequence number first: it is what operators read in `versions` */
	for (i = 0; i < n; i++) {
		set_status(&all[i], ss);
		if (all[i].sequence[0] == '\0' ||
		    ctl_seq_cmp(all[i].sequence, ref) != 0)
			continue;
		pick = i;
		hits++;
		if (all[i].status == VS_SERVED || all[i].status == VS_PINNED) {
			served_pick = i;
			served_hits++;
		}
	}
	if (hits > 1 && served_hits == 1) {
		pick = served_pick;
	} else if (hits > 1) {
		store_seterr(s, "sequence %.80s matches %zu versions and none of "
		    "them is served: name one by its sha256 prefix", ref, hits);
		e = STORE_ERR_AMBIGUOUS;
		goto out;
	} else if (hits == 0) {
		if (rlen < 4) {
			store_seterr(s, "'%s' is no sequence number here and too "
			    "short for a sha256 prefix (4 hex digits at least)", ref);
			e = STORE_ERR_REFUSED;
			goto out;
		}
		for (i = 0; i < n && rlen <= 64; i++) {
			store_hex(hex, all[i].sha256, 32, 0);
			if (strncasecmp(hex, ref, rlen) == 0) {
				pick = i;
				hits++;
			}
		}
		if (hits == 0) {
			store_seterr(s, "no version has sequence or sha256 prefix "
			    "%.80s", ref);
			e = STORE_ERR_NOTFOUND;
			goto out;
		}
		if (hits > 1) {
			store_seterr(s, "sha256 prefix %s matches %zu versions: give "
			    "more digits", ref, hits);
			e = STORE_ERR_AMBIGUOUS;
			goto out;
		}
	}
	*out = all[pick];
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(all);
	return e;
}

enum store_err
store_blob(struct store *s, const unsigned char sha256[32], unsigned char **buf,
    size_t *len)
{
	MDB_txn *txn = NULL;
	enum store_err e;

	struct version v;
	char name[128];

	store_tls_err[0] = '\0';
	if ((e = store_txn_begin(s, 0, &txn)) == STORE_OK)
		e = store_rec_copy_blob(s, txn, sha256, buf, len);
	if (e == STORE_ERR_NOTFOUND && store_rec_get_version(s, txn, sha256, &v) ==
	    STORE_OK && v.bytes_dropped)
		store_seterr(s, "the bytes of failed copy %s were dropped (failed-copy "
		    "budget): only its record and hash are kept",
		    store_label(&v, name, sizeof(name)));
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_budget_info(struct store *s, struct store_budget_info *out)
{
	MDB_txn *txn = NULL;
	enum store_err e;

	store_tls_err[0] = '\0';
	memset(out, 0, sizeof(*out));
	out->keep = s->failed_keep;
	out->budget = s->failed_budget;
	if ((e = store_txn_begin(s, 0, &txn)) == STORE_OK)
		e = budget_read(s, txn, &out->copies, &out->bytes);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_gc(struct store *s, size_t keep, time_t now, size_t *removed)
{
	struct served ss[KIND_COUNT];
	struct store_event ev;
	struct version *all = NULL;
	MDB_txn *txn = NULL;
	MDB_val k;
	size_t n = 0, i, rank = 0, cnt = 0;
	enum store_err e;
	char name[128];
	int rc;

	store_tls_err[0] = '\0';
	*removed = 0;
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK ||
	    (e = store_rec_load_versions(s, txn, 1, KIND_UNKNOWN, &all, &n)) != STORE_OK ||
	    (e = served_all(s, txn, ss)) != STORE_OK)
		goto out;
	if (n > 0)
		qsort(all, n, sizeof(*all), gc_cmp);
	for (i = 0; i < n; i++) {
		/* rank = place among its kind, newest first */
		rank = i > 0 && all[i - 1].kind == all[i].kind ? rank + 1 : 0;
		set_status(&all[i], ss);
		/* the served version is the pinned one when a pin decides */
		if (rank < keep || all[i].status == VS_SERVED ||
		    all[i].status == VS_PINNED)
			continue;
		k = store_val(all[i].sha256, 32);
		if ((rc = mdb_del(txn, s->versions, &k, NULL)) != 0) {
			e = store_fail(s, rc, "removing a version");
			goto out;
		}
		/* the blob is keyed by the same sha256 and belongs to this record only */
		if ((rc = mdb_del(txn, s->blobs, &k, NULL)) != 0 && rc != MDB_NOTFOUND) {
			e = store_fail(s, rc, "removing a file");
			goto out;
		}
		if (all[i].reason != VFY_OK && !all[i].bytes_dropped &&
		    (e = budget_forget(s, txn, all[i].sha256)) != STORE_OK)
			goto out;
		store_make_event(&ev, now, EV_GC, &all[i], "gc removed %s %s %s, "
		    "keeping the newest %zu", version_status_str(all[i].status),
		    ctl_kind_str(all[i].kind), store_label(&all[i], name,
		    sizeof(name)), keep);
		if ((e = store_rec_append_event(s, txn, &ev)) != STORE_OK)
			goto out;
		cnt++;
	}
	/* nothing to remove: abort, so the generation does not move */
	if (cnt > 0 && ((e = note_served(s, txn, ss, now)) != STORE_OK ||
	    (e = store_txn_commit(s, &txn)) != STORE_OK))
		goto out;
	*removed = cnt;
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(all);
	return e;
}
