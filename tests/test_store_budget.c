/*
 * test_store_budget.c - the failed-copy budget: copies that fail verification
 * keep their bytes only within it, verified copies never lose theirs, and a
 * full map never refuses a verified copy while failed copies hold bytes.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <openssl/evp.h>

#include "store/store.h"
#include "store/store_codec.h"

struct fx {
	char tmp[64];
	char dir[96];
	struct store *s;
};

static char signer_name[] = "CN=Test CTL Signer, O=Test";

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
open_fx(void **state, size_t mb)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_budget.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/st", f->tmp);
	assert_int_equal(store_open(f->dir, mb, 0, &f->s, err, sizeof(err)), STORE_OK);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return open_fx(state, 64);
}

/* A 1 MiB map: a few hundred KiB of garbage fill it. */
static int
setup_small(void **state)
{
	return open_fx(state, 1);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct verdict
mkv(enum ctl_kind kind, const char *seq, enum vfy_reason reason)
{
	struct verdict v;

	memset(&v, 0, sizeof(v));
	v.kind = kind;
	v.reason = reason;
	snprintf(v.sequence, sizeof(v.sequence), "%s", seq);
	if (reason != VFY_OK)
		snprintf(v.detail, sizeof(v.detail), "broken on purpose");
	v.this_update = 1000;
	v.next_update = 5000;
	v.signer = signer_name;
	v.has_chain = 1;
	v.chain_valid_from = 500;
	v.chain_valid_to = 9000;
	return v;
}

/* len bytes that start as a CAB does, distinct per tag. */
static unsigned char *
body(size_t len, unsigned tag)
{
	unsigned char *b = malloc(len);

	assert_non_null(b);
	assert_true(len >= 8);
	memset(b, (int)(tag * 7 + 1), len);
	memcpy(b, "MSCF", 4);	/* NOLINT(bugprone-not-null-terminated-result): CAB magic, no NUL */
	b[4] = (unsigned char)tag;
	b[5] = (unsigned char)(tag >> 8);
	return b;
}

static enum admit_result
admit(struct store *s, size_t len, unsigned tag, const struct verdict *v,
    time_t now, struct version *out)
{
	unsigned char *b = body(len, tag);
	enum admit_result r;
	struct version tmp;

	enum store_err e = store_admit(s, b, len, v, now, "http://upstream.test/x.cab",
	    &r, out ? out : &tmp);

	if (e != STORE_OK)
		fprintf(stderr, "admitting %zu bytes: %s\n", len, store_last_error(s));
	assert_int_equal(e, STORE_OK);
	free(b);
	return r;
}

static int
has_bytes(struct store *s, const struct version *v)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	enum store_err e = store_blob(s, v->sha256, &buf, &len);

	free(buf);
	if (e == STORE_ERR_NOTFOUND)
		return 0;
	assert_int_equal(e, STORE_OK);
	assert_int_equal(len, v->size);
	return 1;
}

/* The record as stored now (bytes_dropped may have changed since admission). */
static struct version
now_of(struct store *s, const struct version *v)
{
	struct version *list, out;
	size_t n, i;

	memset(&out, 0, sizeof(out));
	assert_int_equal(store_list(s, KIND_UNKNOWN, &list, &n), STORE_OK);
	for (i = 0; i < n; i++)
		if (memcmp(list[i].sha256, v->sha256, 32) == 0)
			out = list[i];
	free(list);
	assert_memory_equal(out.sha256, v->sha256, 32);
	return out;
}

static size_t
count_events(struct store *s, enum event_type type, const char *text)
{
	struct store_event *ev;
	size_t n, i, hits = 0;

	assert_int_equal(store_events(s, 0, &ev, &n), STORE_OK);
	for (i = 0; i < n; i++)
		hits += ev[i].type == type && strstr(ev[i].text, text) != NULL;
	free(ev);
	return hits;
}

/* The newest `keep` per kind and reason hold their bytes; older ones keep the record. */
static void
keep_per_kind_and_reason(void **state)
{
	struct fx *f = *state;
	struct verdict bad = mkv(KIND_AUTHROOT, "", VFY_CAB_MALFORMED);
	struct verdict sig = mkv(KIND_AUTHROOT, "10", VFY_BAD_SIGNATURE);
	struct verdict dis = mkv(KIND_DISALLOWED, "", VFY_CAB_MALFORMED);
	struct version v[4], vs, vd, cur;
	struct store_budget_info bi;
	unsigned i;

	store_set_failed_budget(f->s, 2, 1 << 20);
	for (i = 0; i < 4; i++)
		assert_int_equal(admit(f->s, 100 + i, i, &bad, 100 + i, &v[i]),
		    ADMIT_QUARANTINED);
	assert_int_equal(admit(f->s, 200, 10, &sig, 200, &vs), ADMIT_QUARANTINED);
	assert_int_equal(admit(f->s, 300, 11, &dis, 201, &vd), ADMIT_QUARANTINED);
	for (i = 0; i < 4; i++) {
		cur = now_of(f->s, &v[i]);
		/* the two oldest malformed authroot copies lost their bytes */
		assert_int_equal(cur.bytes_dropped, i < 2);
		assert_int_equal(has_bytes(f->s, &cur), i >= 2);
		/* what was wrong stays */
		assert_int_equal(cur.reason, VFY_CAB_MALFORMED);
		assert_string_equal(cur.detail, "broken on purpose");
		assert_int_equal(cur.size, 100 + i);
		assert_int_equal(cur.status, VS_QUARANTINED);
	}
	assert_true(has_bytes(f->s, &vs));
	assert_true(has_bytes(f->s, &vd));
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.copies, 4);
	assert_int_equal(bi.bytes, 102 + 103 + 200 + 300);
	assert_int_equal(bi.keep, 2);
	/* one event per admission that dropped something: the third and the fourth */
	assert_int_equal(count_events(f->s, EV_GC, "dropped the bytes of 1 failed copy"), 2);
	/* the record says why a file cannot be read */
	{
		unsigned char *buf = NULL;
		size_t len;

		assert_int_equal(store_blob(f->s, v[0].sha256, &buf, &len), STORE_ERR_NOTFOUND);
		assert_non_null(strstr(store_last_error(f->s), "failed-copy budget"));
	}
}

/* The bytes of all failed copies stay within the byte budget, after every admission. */
static void
byte_budget_never_exceeded(void **state)
{
	struct fx *f = *state;
	struct verdict bad = mkv(KIND_PINRULES, "", VFY_NOT_CTL);
	struct store_budget_info bi;
	struct version v[12], big, cur;
	unsigned i;

	store_set_failed_budget(f->s, 100, 10000);
	for (i = 0; i < 12; i++) {
		assert_int_equal(admit(f->s, 3000, i, &bad, 100 + i, &v[i]), ADMIT_QUARANTINED);
		assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
		assert_true(bi.bytes <= 10000);
		assert_int_equal(bi.copies, i < 3 ? i + 1 : 3);
	}
	for (i = 0; i < 12; i++) {
		cur = now_of(f->s, &v[i]);
		assert_int_equal(has_bytes(f->s, &cur), i >= 9);
	}
	/* a copy larger than the whole budget is a record from the start */
	assert_int_equal(admit(f->s, 20000, 99, &bad, 300, &big), ADMIT_QUARANTINED);
	assert_true(big.bytes_dropped);
	assert_false(has_bytes(f->s, &big));
	assert_int_equal(count_events(f->s, EV_QUARANTINED,
	    "bytes not kept: the failed-copy budget"), 1);
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.bytes, 9000);
}

/* Verified copies are never dropped, even with no budget at all. */
static void
verified_never_dropped(void **state)
{
	struct fx *f = *state;
	struct verdict ok2 = mkv(KIND_AUTHROOT, "20", VFY_OK);
	struct verdict ok1 = mkv(KIND_AUTHROOT, "10", VFY_OK);
	struct verdict bad = mkv(KIND_AUTHROOT, "", VFY_CAB_MALFORMED);
	struct version a, b, q;
	struct store_budget_info bi;
	unsigned i;

	store_set_failed_budget(f->s, 0, 0);
	assert_int_equal(admit(f->s, 500, 1, &ok2, 100, &a), ADMIT_ADMITTED);
	assert_int_equal(admit(f->s, 400, 2, &ok1, 101, &b), ADMIT_ROLLBACK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(admit(f->s, 300, 10 + i, &bad, 102 + i, &q), ADMIT_QUARANTINED);
		assert_true(q.bytes_dropped);
		assert_false(has_bytes(f->s, &q));
	}
	assert_true(has_bytes(f->s, &a));
	assert_true(has_bytes(f->s, &b));
	assert_false(now_of(f->s, &a).bytes_dropped);
	assert_false(now_of(f->s, &b).bytes_dropped);
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.copies, 0);
	assert_int_equal(bi.bytes, 0);
}

/*
 * Garbage fills a 1 MiB map (the budget, 64 MiB by default, is larger than
 * the map: a misconfiguration the budget alone cannot help): every failed
 * copy is still recorded (older garbage makes room), the next verified copy
 * is admitted and served, and the earlier verified copy keeps its bytes.
 */
static void
full_map_makes_room(void **state)
{
	struct fx *f = *state;
	struct verdict ok1 = mkv(KIND_AUTHROOT, "10", VFY_OK);
	struct verdict ok2 = mkv(KIND_AUTHROOT, "20", VFY_OK);
	struct verdict bad = mkv(KIND_AUTHROOT, "", VFY_CAB_MALFORMED);
	struct version first, v, served, q;
	struct store_budget_info bi;
	struct version *list;
	size_t n;
	unsigned i;
	int pinned;

	assert_int_equal(admit(f->s, 64 * 1024, 1, &ok1, 100, &first), ADMIT_ADMITTED);
	/* each failed admission succeeds: older garbage makes room */
	for (i = 0; i < 50; i++)
		assert_int_equal(admit(f->s, 150 * 1024, 100 + i, &bad, 200 + i, &q),
		    ADMIT_QUARANTINED);
	assert_true(count_events(f->s, EV_GC, "the store was full admitting a failed "
	    "authroot copy") >= 1);
	assert_int_equal(store_list(f->s, KIND_AUTHROOT, &list, &n), STORE_OK);
	free(list);
	assert_int_equal(n, 51);
	assert_int_equal(admit(f->s, 150 * 1024, 2, &ok2, 400, &v), ADMIT_ADMITTED);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &served, &pinned), STORE_OK);
	assert_memory_equal(served.sha256, v.sha256, 32);
	assert_true(has_bytes(f->s, &v));
	assert_true(has_bytes(f->s, &first));
	assert_int_equal(count_events(f->s, EV_GC, "the store was full admitting a "
	    "verified authroot copy"), 1);
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_true(bi.bytes < 1024 * 1024);
}

/* With no failed bytes to drop, a full map is still STORE_ERR_FULL, and says so. */
static void
full_map_without_failed_copies(void **state)
{
	struct fx *f = *state;
	struct verdict ok;
	unsigned char *b;
	enum admit_result r;
	struct version v;
	enum store_err e = STORE_OK;
	char seq[8];
	unsigned i;

	for (i = 0; i < 20 && e == STORE_OK; i++) {
		snprintf(seq, sizeof(seq), "%02X", i + 1);
		ok = mkv(KIND_AUTHROOT, seq, VFY_OK);
		b = body(300 * 1024, i);
		e = store_admit(f->s, b, 300 * 1024, &ok, 100 + i, "import:big", &r, &v);
		free(b);
	}
	assert_int_equal(e, STORE_ERR_FULL);
	assert_non_null(strstr(store_last_error(f->s), "map_size_mb"));
}

/*
 * A copy quarantined for want of trust whose bytes were dropped cannot be
 * verified again; the same bytes arriving again bring them back, and then it can.
 */
static void
dropped_copy_heals_when_seen_again(void **state)
{
	struct fx *f = *state;
	struct verdict untrusted = mkv(KIND_AUTHROOT, "30", VFY_UNTRUSTED_ROOT);
	struct verdict untrusted2 = mkv(KIND_AUTHROOT, "31", VFY_UNTRUSTED_ROOT);
	struct verdict ok = mkv(KIND_AUTHROOT, "30", VFY_OK);
	struct store_budget_info bi;
	struct version a, b, cur;
	enum admit_result r;

	store_set_failed_budget(f->s, 1, 1 << 20);
	assert_int_equal(admit(f->s, 1000, 1, &untrusted, 100, &a), ADMIT_QUARANTINED);
	assert_int_equal(admit(f->s, 1000, 2, &untrusted2, 101, &b), ADMIT_QUARANTINED);
	assert_true(now_of(f->s, &a).bytes_dropped);
	assert_int_equal(store_reverify(f->s, a.sha256, &ok, 200, &r, NULL),
	    STORE_ERR_REFUSED);
	assert_non_null(strstr(store_last_error(f->s), "cannot be checked again"));

	/* the same bytes again: a duplicate, with its bytes back, the other's gone */
	assert_int_equal(admit(f->s, 1000, 1, &untrusted, 300, &cur), ADMIT_DUPLICATE);
	assert_false(cur.bytes_dropped);
	assert_true(has_bytes(f->s, &cur));
	assert_true(now_of(f->s, &b).bytes_dropped);
	assert_int_equal(store_reverify(f->s, a.sha256, &ok, 301, &r, &cur), STORE_OK);
	assert_int_equal(r, ADMIT_ADMITTED);
	/* verified now: out of the budget's count, and never dropped */
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.copies, 0);
	assert_int_equal(bi.bytes, 0);
	assert_int_equal(admit(f->s, 1000, 3, &untrusted2, 302, &b), ADMIT_QUARANTINED);
	assert_int_equal(admit(f->s, 1000, 4, &untrusted2, 303, &b), ADMIT_QUARANTINED);
	assert_true(has_bytes(f->s, &a));
}

/* gc removing failed copies takes their bytes out of the count. */
static void
gc_updates_the_count(void **state)
{
	struct fx *f = *state;
	struct verdict bad = mkv(KIND_AUTHROOT, "", VFY_CAB_MALFORMED);
	struct store_budget_info bi;
	struct version v;
	size_t removed;
	unsigned i;

	store_set_failed_budget(f->s, 10, 1 << 20);
	for (i = 0; i < 5; i++)
		assert_int_equal(admit(f->s, 100, i, &bad, 100 + i, &v), ADMIT_QUARANTINED);
	assert_int_equal(store_gc(f->s, 2, 500, &removed), STORE_OK);
	assert_int_equal(removed, 3);
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.copies, 2);
	assert_int_equal(bi.bytes, 200);
}

/* A store written before the budget: its failed copies are counted once, then budgeted. */
static void
older_store_is_counted(void **state)
{
	struct fx *f = *state;
	struct verdict bad = mkv(KIND_AUTHROOT, "", VFY_CAB_MALFORMED);
	struct store_budget_info bi;
	struct version v[4];
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	unsigned i;
	int rc;

	store_set_failed_budget(f->s, 10, 1 << 20);
	for (i = 0; i < 4; i++)
		assert_int_equal(admit(f->s, 100, i, &bad, 100 + i, &v[i]), ADMIT_QUARANTINED);
	/* forget the budget's state, as an older ctlmirror never wrote it */
	assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, f->s->meta, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT))
		if (k.mv_size >= 6 && memcmp(k.mv_data, "failed", 6) == 0)
			assert_int_equal(mdb_cursor_del(c, 0), 0);
	mdb_cursor_close(c);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.copies, 4);
	assert_int_equal(bi.bytes, 400);
	store_set_failed_budget(f->s, 2, 1 << 20);
	assert_int_equal(admit(f->s, 100, 9, &bad, 200, NULL), ADMIT_QUARANTINED);
	for (i = 0; i < 4; i++)
		assert_int_equal(now_of(f->s, &v[i]).bytes_dropped, i < 3);
	assert_int_equal(store_budget_info(f->s, &bi), STORE_OK);
	assert_int_equal(bi.copies, 2);
}

/* Format 2 says the bytes were dropped; it round-trips, and only with that flag. */
static void
codec_dropped_flag(void **state)
{
	struct version v, back;
	unsigned char buf[STORE_VERSION_REC_MAX];
	size_t len1, len2;

	(void)state;
	memset(&v, 0, sizeof(v));
	memset(v.sha256, 3, 32);
	v.kind = KIND_AUTHROOT;
	v.reason = VFY_CAB_MALFORMED;
	v.status = VS_ADMITTED;
	len1 = store_enc_version(buf, sizeof(buf), &v);
	assert_int_equal(buf[0], 1);
	v.bytes_dropped = 1;
	len2 = store_enc_version(buf, sizeof(buf), &v);
	assert_int_equal(len2, len1 + 1);
	assert_int_equal(buf[0], 2);
	assert_int_equal(store_dec_version(v.sha256, buf, len2, &back), 0);
	assert_memory_equal(&back, &v, sizeof(v));
	assert_int_equal(store_dec_version(v.sha256, buf, len2 - 1, &back), -1);
	buf[len2 - 1] = 0;	/* format 2 without its flag is not a record we write */
	assert_int_equal(store_dec_version(v.sha256, buf, len2, &back), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(keep_per_kind_and_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(byte_budget_never_exceeded, setup, teardown),
		cmocka_unit_test_setup_teardown(verified_never_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(full_map_makes_room, setup_small, teardown),
		cmocka_unit_test_setup_teardown(full_map_without_failed_copies, setup_small,
		    teardown),
		cmocka_unit_test_setup_teardown(dropped_copy_heals_when_seen_again, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(gc_updates_the_count, setup, teardown),
		cmocka_unit_test_setup_teardown(older_store_is_counted, setup, teardown),
		cmocka_unit_test(codec_dropped_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
