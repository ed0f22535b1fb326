/*
 * store_pins.c - pins: set (any version that verified at first sight), read,
 * lapsed at their end, removed; each a transaction with its event, recording
 * when the served version changed (store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store/store.h"
#include "store/store_codec.h"
#include "store/store_rules.h"

enum store_err
store_pin(struct store *s, const unsigned char sha256[32], time_t now,
    const struct pin_opts *o)
{
	struct served before[KIND_COUNT];
	struct store_event ev;
	struct pin_info pin;
	struct version v;
	MDB_txn *txn = NULL;
	enum store_err e;
	char name[128], hex[65], until[64] = "";

	store_tls_err[0] = '\0';
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK)
		goto out;
	if ((e = store_rec_get_version(s, txn, sha256, &v)) != STORE_OK) {
		if (e == STORE_ERR_NOTFOUND) {
			store_hex(hex, sha256, 32, 0);
			store_seterr(s, "no version with sha256 %s", hex);
		}
		goto out;
	}
	/* a pin overrides the served rule, never verification */
	if (v.reason != VFY_OK) {
		store_seterr(s, "version %s is quarantined (%s): only a version that "
		    "verified when first seen can be pinned", store_label(&v, name, sizeof(name)),
		    vfy_reason_str(v.reason));
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if (!is_cab(s, txn, v.sha256)) {
		store_seterr(s, "version %s is a bare CTL, not a CAB: clients cannot "
		    "unpack it, so it cannot be served", store_label(&v, name, sizeof(name)));
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if (v.has_chain && !v.timestamp_verified && v.chain_valid_to < now &&
	    (o == NULL || !o->force)) {
		store_seterr(s, "version %s: its signing chain has expired, so Windows clients "
		    "will log CAPI2 event 4107 for it and keep the list they have; pin it "
		    "anyway with --force", store_label(&v, name, sizeof(name)));
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if (o != NULL && o->until != 0 && o->until <= now) {
		store_seterr(s, "the pin would end before it starts");
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if ((e = served_all(s, txn, before)) != STORE_OK)
		goto out;
	memset(&pin, 0, sizeof(pin));
	memcpy(pin.sha256, v.sha256, 32);
	pin.since = store_clock(s, now);
	pin.until = o != NULL ? o->until : 0;
	store_copy_text(pin.reason, sizeof(pin.reason), o != NULL ? o->reason : NULL);
	store_copy_text(pin.by, sizeof(pin.by), o != NULL ? o->by : NULL);
	if (pin.until != 0)
		snprintf(until, sizeof(until), " until %lld", (long long)pin.until);
	store_make_event(&ev, now, EV_PINNED, &v, "pinned %s%s%s%s%s%s%s",
	    store_label(&v, name, sizeof(name)), pin.until ? until : ": served until unpinned",
	    v.rollback ? " (older than the newest admitted version)" : "",
	    pin.by[0] ? " by " : "", pin.by, pin.reason[0] ? ": " : "", pin.reason);
	if ((e = store_rec_put_pin(s, txn, v.kind, &pin)) != STORE_OK ||
	    (e = store_rec_append_event(s, txn, &ev)) != STORE_OK ||
	    (e = note_served(s, txn, before, now)) != STORE_OK)
		goto out;
	e = store_txn_commit(s, &txn);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_pin_info(struct store *s, enum ctl_kind kind, struct pin_info *out)
{
	MDB_txn *txn = NULL;
	enum store_err e;

	store_tls_err[0] = '\0';
	if ((unsigned)kind >= KIND_COUNT)
		return STORE_ERR_NOTFOUND;
	if ((e = store_txn_begin(s, 0, &txn)) == STORE_OK)
		e = store_rec_get_pin_info(s, txn, kind, out);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

/* Removes the pin of kind in txn, with an event saying why. */
static enum store_err
drop_pin(struct store *s, MDB_txn *txn, enum ctl_kind kind, time_t now, const char *why)
{
	unsigned char kb = (unsigned char)kind, sha[32];
	struct store_event ev;
	struct version v;
	MDB_val k = store_val(&kb, 1);
	enum store_err e;
	int rc;

	if ((e = store_rec_get_pin(s, txn, kind, sha)) != STORE_OK)
		return e;
	if ((rc = mdb_del(txn, s->pins, &k, NULL)) != 0)
		return store_fail(s, rc, "removing the pin");
	/* the event names the version that was pinned, even if gc removed it */
	e = store_rec_get_version(s, txn, sha, &v);
	if (e == STORE_ERR_NOTFOUND) {
		memset(&v, 0, sizeof(v));
		memcpy(v.sha256, sha, 32);
		v.kind = kind;
	} else if (e != STORE_OK) {
		return e;
	}
	store_make_event(&ev, now, EV_UNPINNED, &v, "%s %s: the newest admitted version "
	    "is served again", why, ctl_kind_str(kind));
	return store_rec_append_event(s, txn, &ev);
}

enum store_err
store_pin_lapse(struct store *s, time_t now, size_t *lapsed)
{
	struct served before[KIND_COUNT];
	struct pin_info pin;
	MDB_txn *txn = NULL;
	enum store_err e;
	size_t n = 0;
	int k;

	store_tls_err[0] = '\0';
	*lapsed = 0;
	/* a read first: the common case (no pin has come to its end) writes nothing */
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (store_pin_info(s, (enum ctl_kind)k, &pin) == STORE_OK &&
		    pin.until != 0 && pin.until <= now)
			n++;
	if (n == 0)
		return STORE_OK;
	n = 0;
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK ||
	    (e = served_all(s, txn, before)) != STORE_OK)
		goto out;
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		e = store_rec_get_pin_info(s, txn, (enum ctl_kind)k, &pin);
		if (e == STORE_ERR_NOTFOUND)
			continue;
		if (e != STORE_OK)
			goto out;
		if (pin.until == 0 || pin.until > now)
			continue;
		if ((e = drop_pin(s, txn, (enum ctl_kind)k, now, "the pin lapsed for")) != STORE_OK)
			goto out;
		n++;
	}
	if ((e = note_served(s, txn, before, now)) != STORE_OK ||
	    (e = store_txn_commit(s, &txn)) != STORE_OK)
		goto out;
	*lapsed = n;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_unpin(struct store *s, enum ctl_kind kind, time_t now)
{
	struct served before[KIND_COUNT];
	MDB_txn *txn = NULL;
	enum store_err e;

	store_tls_err[0] = '\0';
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK)
		goto out;
	if ((unsigned)kind >= KIND_COUNT) {
		e = STORE_ERR_NOTFOUND;
	} else if ((e = served_all(s, txn, before)) == STORE_OK) {
		e = drop_pin(s, txn, kind, now, "unpinned");
	}
	if (e == STORE_ERR_NOTFOUND) {
		store_seterr(s, "no %s version is pinned", ctl_kind_str(kind));
		goto out;
	}
	if (e != STORE_OK || (e = note_served(s, txn, before, now)) != STORE_OK)
		goto out;
	e = store_txn_commit(s, &txn);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}
