/*
 * store_budget.h - the failed-copy budget (private to store/; store.h,
 * store_set_failed_budget, says what it promises).
 *
 * Its state lives in the meta database, written in the caller's transaction:
 *   "failed_bytes"          u64 LE: the bytes of the failed copies that hold them
 *   "failed_seq"            u64 LE: the last counter handed out below
 *   "failed/" + be64 count  one per failed copy that holds its bytes, oldest
 *                           first: sha256 (32), u8 kind, u8 reason, u64 LE size
 * Only failed copies with bytes are listed, and the budget keeps at most
 * `keep` per kind and reason, so reading the list is cheap; the versions are
 * scanned once, by the first write that finds no "failed_bytes" (a store
 * written before the budget existed).
 */
#ifndef CTLMIRROR_STORE_BUDGET_H
#define CTLMIRROR_STORE_BUDGET_H

#include <stdint.h>
#include <time.h>

#include <lmdb.h>

#include "store/store.h"

#define STORE_FAILED_KEEP_DEFAULT 3
#define STORE_FAILED_BUDGET_DEFAULT ((uint64_t)64 * 1024 * 1024)

/* A failed copy's len bytes were just stored: it is the newest. In txn. */
enum store_err budget_add(struct store *s, MDB_txn *txn, const struct version *rec,
    uint64_t len);

/*
 * A version leaves the failed copies with bytes (gc removed it, or it
 * verified again): its bytes no longer count. Nothing if it was not listed.
 */
enum store_err budget_forget(struct store *s, MDB_txn *txn,
    const unsigned char sha256[32]);

/*
 * Applies the budget in txn: drops the bytes of failed copies beyond the
 * newest keep per kind and reason, then the oldest until the rest fit the
 * budget, then (need > 0, making room in a full map) the oldest until need
 * bytes were dropped. A dropped copy keeps its record, with bytes_dropped set.
 * If anything was dropped, one EV_GC event says how many and why (`why`, a
 * phrase, or NULL for the budget). *dropped (may be NULL) gets the count.
 */
enum store_err budget_apply(struct store *s, MDB_txn *txn, uint64_t need,
    time_t now, const char *why, size_t *dropped);

/*
 * Rewrites the running total as it is: a write that lets the next
 * transaction reuse the pages an earlier one freed (LMDB reuses a
 * transaction's freed pages only two transactions later, keeping the last
 * committed state whole).
 */
enum store_err budget_touch(struct store *s, MDB_txn *txn);

/* The failed copies that hold bytes, and those bytes (read or write txn). */
enum store_err budget_read(struct store *s, MDB_txn *txn, size_t *copies,
    uint64_t *bytes);

#endif
