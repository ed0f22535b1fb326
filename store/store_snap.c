/*
 * store_snap.c - read snapshots: one committed state of the store, read in
 * one LMDB read transaction (store.h, "A read snapshot").
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store/store.h"
#include "store/store_codec.h"
#include "store/store_rules.h"

struct store_snap {
	struct store *s;
	MDB_txn *txn;
};

enum store_err
store_snap_begin(struct store *s, struct store_snap **out)
{
	struct store_snap *snap;
	enum store_err e;

	store_tls_err[0] = '\0';
	*out = NULL;
	if ((snap = calloc(1, sizeof(*snap))) == NULL)
		return store_nomem(s);
	snap->s = s;
	if ((e = store_txn_begin(s, 0, &snap->txn)) != STORE_OK) {
		free(snap);
		return e;
	}
	*out = snap;
	return STORE_OK;
}

void
store_snap_end(struct store_snap *snap)
{
	if (snap == NULL)
		return;
	mdb_txn_abort(snap->txn);
	free(snap);
}

uint64_t
store_snap_generation(const struct store_snap *snap)
{
	return (uint64_t)mdb_txn_id(snap->txn);
}

enum store_err
store_snap_served(struct store_snap *snap, enum ctl_kind kind, int ignore_pin,
    struct version *out, int *pinned)
{
	int pin;

	store_tls_err[0] = '\0';
	if ((unsigned)kind >= KIND_COUNT) {
		store_seterr(snap->s, "no such kind %d", (int)kind);
		return STORE_ERR_NOTFOUND;
	}
	return served_txn(snap->s, snap->txn, kind, ignore_pin, out,
	    pinned != NULL ? pinned : &pin);
}

enum store_err
store_snap_pin(struct store_snap *snap, enum ctl_kind kind, struct pin_info *out)
{
	store_tls_err[0] = '\0';
	if ((unsigned)kind >= KIND_COUNT)
		return STORE_ERR_NOTFOUND;
	return store_rec_get_pin_info(snap->s, snap->txn, kind, out);
}

enum store_err
store_snap_newer(struct store_snap *snap, const struct version *v, size_t *n)
{
	struct version *all = NULL;
	enum store_err e;
	size_t cnt = 0, i;

	*n = 0;
	if ((e = store_rec_load_versions(snap->s, snap->txn, 0, v->kind, &all, &cnt)) != STORE_OK)
		return e;
	for (i = 0; i < cnt; i++)
		if (all[i].reason == VFY_OK && is_cab(snap->s, snap->txn, all[i].sha256) &&
		    ctl_seq_cmp(all[i].sequence, v->sequence) > 0)
			(*n)++;
	free(all);
	return STORE_OK;
}

enum store_err
store_snap_blob(struct store_snap *snap, const unsigned char sha256[32],
    unsigned char **buf, size_t *len)
{
	enum store_err e;

	store_tls_err[0] = '\0';
	e = store_rec_copy_blob(snap->s, snap->txn, sha256, buf, len);
	if (e == STORE_ERR_NOTFOUND) {
		store_seterr(snap->s, "a version has no stored file: the store is damaged");
		e = STORE_ERR_CORRUPT;
	}
	return e;
}

enum store_err
store_snap_has_cert(struct store_snap *snap, const unsigned char sha1[20], int *has)
{
	MDB_val k = store_val(sha1, 20), d;
	int rc;

	*has = 0;
	if ((rc = mdb_get(snap->txn, snap->s->certs, &k, &d)) == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_fail(snap->s, rc, "reading a certificate");
	*has = 1;
	return STORE_OK;
}
