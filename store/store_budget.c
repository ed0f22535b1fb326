/*
 * store_budget.c - the failed-copy budget (store_budget.h).
 *
 * Copies that fail verification are evidence, not content: an upstream (or
 * anyone on its plain-HTTP path) can send as many as it likes, so their bytes
 * are kept within a budget and the records alone are kept for ever. The list
 * of failed copies that hold bytes is bounded by the budget itself, so each
 * step reads it whole and decides in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_budget.h"
#include "store/store_codec.h"

#define PREFIX "failed/"
#define PREFIX_LEN 7
#define KEY_LEN (PREFIX_LEN + 8)
#define VAL_LEN (32 + 1 + 1 + 8)

struct entry {
	unsigned char key[KEY_LEN];
	unsigned char sha256[32];
	unsigned kind, reason;
	uint64_t size;
	int drop;
};

static enum store_err
get_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t *x, int *found)
{
	return store_meta_get_u64(s, txn, name, strlen(name), "failed-copy budget", x, found);
}

static enum store_err
put_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t x)
{
	return store_meta_put_u64(s, txn, name, strlen(name), "failed-copy budget", x);
}

static enum store_err
put_entry(struct store *s, MDB_txn *txn, uint64_t seq, const unsigned char sha[32],
    unsigned kind, unsigned reason, uint64_t size)
{
	unsigned char key[KEY_LEN], val[VAL_LEN];
	MDB_val k, d;
	int rc;

	/* a byte key, not a string: no NUL */
	memcpy(key, PREFIX, PREFIX_LEN);	/* NOLINT(bugprone-not-null-terminated-result) */
	store_put_be64(key + PREFIX_LEN, seq);
	memcpy(val, sha, 32);
	val[32] = (unsigned char)kind;
	val[33] = (unsigned char)reason;
	store_put_le64(val + 34, size);
	k = store_val(key, sizeof(key));
	d = store_val(val, sizeof(val));
	if ((rc = mdb_put(txn, s->meta, &k, &d, 0)) != 0)
		return store_fail(s, rc, "listing a failed copy");
	return STORE_OK;
}

/* The listed failed copies, oldest first; *out malloc'd (NULL when none). */
static enum store_err
load_entries(struct store *s, MDB_txn *txn, struct entry **out, size_t *n)
{
	struct entry *arr = NULL, *grown;
	size_t cap = 0, cnt = 0;
	MDB_cursor *c = NULL;
	MDB_val k = store_val(PREFIX, PREFIX_LEN), d;
	enum store_err e;
	const unsigned char *v;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = mdb_cursor_open(txn, s->meta, &c)) != 0) {
		e = store_fail(s, rc, "opening the failed-copy list");
		goto out;
	}
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size < PREFIX_LEN || memcmp(k.mv_data, PREFIX, PREFIX_LEN) != 0)
			break;
		v = d.mv_data;
		if (k.mv_size != KEY_LEN || d.mv_size != VAL_LEN || v[32] >= KIND_COUNT ||
		    v[33] >= VFY_REASON_COUNT) {
			e = store_corrupt(s, "failed-copy list");
			goto out;
		}
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			if ((grown = realloc(arr, cap * sizeof(*arr))) == NULL) {
				e = store_nomem(s);
				goto out;
			}
			arr = grown;
		}
		memcpy(arr[cnt].key, k.mv_data, KEY_LEN);
		memcpy(arr[cnt].sha256, v, 32);
		arr[cnt].kind = v[32];
		arr[cnt].reason = v[33];
		arr[cnt].size = store_get_le64(v + 34);
		arr[cnt].drop = 0;
		cnt++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		e = store_fail(s, rc, "reading the failed-copy list");
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

static int
by_order(const void *pa, const void *pb)
{
	const struct version *a = pa, *b = pb;

	return (a->order > b->order) - (a->order < b->order);
}

/* Is this version a failed copy that holds its bytes? (blob present) */
static int
holds_bytes(struct store *s, MDB_txn *txn, const struct version *v)
{
	MDB_val k = store_val(v->sha256, 32), d;

	return v->reason != VFY_OK && !v->bytes_dropped &&
	    mdb_get(txn, s->blobs, &k, &d) == 0;
}

/*
 * The failed copies of a store written before the budget: counted once, in
 * admission order. With write, listed and the total written; else only counted.
 */
static enum store_err
scan_versions(struct store *s, MDB_txn *txn, int write, size_t *copies,
    uint64_t *bytes)
{
	struct version *all = NULL;
	size_t n = 0, i, cnt = 0;
	uint64_t total = 0;
	enum store_err e;

	if ((e = store_rec_load_versions(s, txn, 1, KIND_UNKNOWN, &all, &n)) != STORE_OK)
		goto out;
	if (n > 0)
		qsort(all, n, sizeof(*all), by_order);
	for (i = 0; i < n; i++) {
		if (!holds_bytes(s, txn, &all[i]))
			continue;
		cnt++;
		total += all[i].size;
		if (write && (e = put_entry(s, txn, cnt, all[i].sha256, all[i].kind,
		    all[i].reason, all[i].size)) != STORE_OK)
			goto out;
	}
	if (write && ((e = put_u64(s, txn, "failed_seq", cnt)) != STORE_OK ||
	    (e = put_u64(s, txn, "failed_bytes", total)) != STORE_OK))
		goto out;
	*copies = cnt;
	*bytes = total;
	e = STORE_OK;
out:
	free(all);
	return e;
}

/*
 * The running total, after listing an older store's failed copies if needed
 * (*scanned, may be NULL: the list was just made from what txn holds).
 */
static enum store_err
ready(struct store *s, MDB_txn *txn, uint64_t *total, int *scanned)
{
	enum store_err e;
	size_t copies;
	int found;

	if (scanned != NULL)
		*scanned = 0;
	if ((e = get_u64(s, txn, "failed_bytes", total, &found)) != STORE_OK || found)
		return e;
	if (scanned != NULL)
		*scanned = 1;
	return scan_versions(s, txn, 1, &copies, total);
}

enum store_err
budget_add(struct store *s, MDB_txn *txn, const struct version *rec, uint64_t len)
{
	uint64_t total, seq;
	enum store_err e;
	int found, scanned;

	/* a list made just now saw the new copy already */
	if ((e = ready(s, txn, &total, &scanned)) != STORE_OK || scanned)
		return e;
	if ((e = get_u64(s, txn, "failed_seq", &seq, &found)) != STORE_OK ||
	    (e = put_entry(s, txn, seq + 1, rec->sha256, rec->kind, rec->reason,
	    len)) != STORE_OK ||
	    (e = put_u64(s, txn, "failed_seq", seq + 1)) != STORE_OK)
		return e;
	return put_u64(s, txn, "failed_bytes", total + len);
}

static enum store_err
del_entry(struct store *s, MDB_txn *txn, const struct entry *en)
{
	MDB_val k = store_val(en->key, KEY_LEN);
	int rc;

	if ((rc = mdb_del(txn, s->meta, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		return store_fail(s, rc, "unlisting a failed copy");
	return STORE_OK;
}

enum store_err
budget_forget(struct store *s, MDB_txn *txn, const unsigned char sha256[32])
{
	struct entry *list = NULL;
	uint64_t total;
	enum store_err e;
	size_t n = 0, i;

	if ((e = ready(s, txn, &total, NULL)) != STORE_OK ||
	    (e = load_entries(s, txn, &list, &n)) != STORE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (memcmp(list[i].sha256, sha256, 32) != 0)
			continue;
		if ((e = del_entry(s, txn, &list[i])) != STORE_OK)
			goto out;
		total -= total < list[i].size ? total : list[i].size;
	}
	e = put_u64(s, txn, "failed_bytes", total);
out:
	free(list);
	return e;
}

/* The record keeps what was wrong and says its bytes are gone; the blob goes. */
static enum store_err
drop_bytes(struct store *s, MDB_txn *txn, const struct entry *en)
{
	MDB_val k = store_val(en->sha256, 32);
	struct version v;
	enum store_err e;
	int rc;

	e = store_rec_get_version(s, txn, en->sha256, &v);
	if (e == STORE_OK && v.reason == VFY_OK)
		return del_entry(s, txn, en);	/* verified since: never dropped */
	if (e == STORE_OK) {
		v.bytes_dropped = 1;
		if ((e = store_rec_put_version(s, txn, &v)) != STORE_OK)
			return e;
	} else if (e != STORE_ERR_NOTFOUND) {
		return e;
	}
	if ((rc = mdb_del(txn, s->blobs, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		return store_fail(s, rc, "dropping a failed copy's bytes");
	return del_entry(s, txn, en);
}

enum store_err
budget_apply(struct store *s, MDB_txn *txn, uint64_t need, time_t now,
    const char *why, size_t *dropped)
{
	size_t counts[KIND_COUNT][VFY_REASON_COUNT];
	struct entry *list = NULL;
	struct store_event ev;
	uint64_t total, rest, freed = 0;
	enum store_err e;
	size_t n = 0, i, cnt = 0;

	if (dropped != NULL)
		*dropped = 0;
	memset(counts, 0, sizeof(counts));
	if ((e = ready(s, txn, &total, NULL)) != STORE_OK ||
	    (e = load_entries(s, txn, &list, &n)) != STORE_OK)
		goto out;
	/* the newest keep per kind and reason hold their bytes */
	for (i = n; i-- > 0;)
		if (++counts[list[i].kind][list[i].reason] > s->failed_keep)
			list[i].drop = 1;
	rest = total;
	for (i = 0; i < n; i++)
		if (list[i].drop)
			rest -= rest < list[i].size ? rest : list[i].size;
	/* then all of them within the budget, oldest out first */
	for (i = 0; i < n && rest > s->failed_budget; i++) {
		if (list[i].drop)
			continue;
		list[i].drop = 1;
		rest -= rest < list[i].size ? rest : list[i].size;
	}
	freed = total - rest;
	/* and room in a full map, oldest out first */
	for (i = 0; i < n && freed < need; i++) {
		if (list[i].drop)
			continue;
		list[i].drop = 1;
		freed += list[i].size;
		rest -= rest < list[i].size ? rest : list[i].size;
	}
	for (i = 0; i < n; i++) {
		if (!list[i].drop)
			continue;
		if ((e = drop_bytes(s, txn, &list[i])) != STORE_OK)
			goto out;
		cnt++;
	}
	if (cnt == 0) {
		e = STORE_OK;
		goto out;
	}
	if ((e = put_u64(s, txn, "failed_bytes", rest)) != STORE_OK)
		goto out;
	store_make_event(&ev, now, EV_GC, NULL, "dropped the bytes of %zu failed "
	    "cop%s (%llu bytes), oldest first: %s; their records and hashes stay, "
	    "%llu bytes of failed copies are kept", cnt, cnt == 1 ? "y" : "ies",
	    (unsigned long long)(total - rest), why != NULL ? why :
	    "the failed-copy budget", (unsigned long long)rest);
	if ((e = store_rec_append_event(s, txn, &ev)) != STORE_OK)
		goto out;
	if (dropped != NULL)
		*dropped = cnt;
	e = STORE_OK;
out:
	free(list);
	return e;
}

enum store_err
budget_touch(struct store *s, MDB_txn *txn)
{
	uint64_t total;
	enum store_err e;

	if ((e = ready(s, txn, &total, NULL)) != STORE_OK)
		return e;
	return put_u64(s, txn, "failed_bytes", total);
}

enum store_err
budget_read(struct store *s, MDB_txn *txn, size_t *copies, uint64_t *bytes)
{
	struct entry *list = NULL;
	enum store_err e;
	int found;

	*copies = 0;
	if ((e = get_u64(s, txn, "failed_bytes", bytes, &found)) != STORE_OK)
		return e;
	if (!found)
		return scan_versions(s, txn, 0, copies, bytes);
	e = load_entries(s, txn, &list, copies);
	free(list);
	return e;
}
