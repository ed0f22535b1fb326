/*
 * store_rules.h - the served rule and what depends on it (private to store/).
 *
 * store.c decides what is served (served_txn, the one place) and keeps when
 * it changed (note_served); store_snap.c and store_pins.c ask it inside their
 * own transactions, so every answer matches the data it was computed from.
 */
#ifndef CTLMIRROR_STORE_RULES_H
#define CTLMIRROR_STORE_RULES_H

#include <lmdb.h>

#include "store/store.h"

/* The served version of each kind, as decided once inside a transaction. */
struct served {
	int have;
	int pinned;
	unsigned char sha256[32];
};

/* Are the stored bytes of this version a CAB? Only a CAB can be served. */
int is_cab(struct store *s, MDB_txn *txn, const unsigned char sha256[32]);

/*
 * THE served rule (store.h, store_served) inside txn. ignore_pin asks for
 * the newest admitted version alone. *pinned says whether a pin decided.
 */
enum store_err served_txn(struct store *s, MDB_txn *txn, enum ctl_kind kind,
    int ignore_pin, struct version *out, int *pinned);

/* The served version of every kind inside txn. */
enum store_err served_all(struct store *s, MDB_txn *txn, struct served ss[KIND_COUNT]);

/*
 * After a write that may change what is served: records when each kind's
 * served version changed since before (never stepping back). In txn.
 */
enum store_err note_served(struct store *s, MDB_txn *txn,
    const struct served before[KIND_COUNT], time_t now);

#endif
