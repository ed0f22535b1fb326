/* test_store.c - the LMDB store: admission, the served rule, pins, gc, errors. */
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
#include <openssl/x509.h>

#include "store/store.h"
#include "store/store_codec.h"

/* One fresh directory per test; the store lives in tmp/st (created by store_open). */
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
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/st", f->tmp);
	assert_int_equal(store_open(f->dir, 64, 0, &f->s, err, sizeof(err)), STORE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	chmod(f->tmp, 0700);	/* a test may have taken write access away */
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Reopens the fixture's store (after raw LMDB edits, or to change mode). */
static enum store_err
reopen(struct fx *f, size_t mb, int readonly, char *err, size_t err_len)
{
	store_close(f->s);
	f->s = NULL;
	return store_open(f->dir, mb, readonly, &f->s, err, err_len);
}

static struct verdict
mkv(enum ctl_kind kind, const char *seq, enum vfy_reason reason, time_t valid_to)
{
	struct verdict v;

	memset(&v, 0, sizeof(v));
	v.kind = kind;
	v.reason = reason;
	snprintf(v.sequence, sizeof(v.sequence), "%s", seq);
	if (reason != VFY_OK)
		snprintf(v.detail, sizeof(v.detail), "signer expired before the test time");
	v.this_update = 1000;
	v.next_update = 5000;
	v.n_entries = 3;
	v.signer = signer_name;
	v.has_chain = 1;
	v.chain_valid_from = 500;
	v.chain_valid_to = valid_to;
	return v;
}

static void
sha256_of(const void *b, size_t n, unsigned char out[32])
{
	assert_int_equal(EVP_Digest(b, n, out, NULL, EVP_sha256(), NULL), 1);
}

/*
 * Admits the bytes of `text` with verdict v at now; returns the result. The
 * bytes start as a CAB does ("MSCF", prepended unless text has it): only a
 * CAB is servable.
 */
static enum admit_result
admit(struct store *s, const char *text, const struct verdict *v, time_t now,
    struct version *out)
{
	enum admit_result r;
	struct version tmp;
	char cab[256];

	snprintf(cab, sizeof(cab), "%s%s", strncmp(text, "MSCF", 4) == 0 ? "" : "MSCF", text);
	assert_int_equal(store_admit(s, (const unsigned char *)cab, strlen(cab),
	    v, now, "import:test", &r, out ? out : &tmp), STORE_OK);
	return r;
}

static enum admit_result
admit_seq(struct store *s, const char *text, enum ctl_kind kind,
    const char *seq, enum vfy_reason reason, time_t valid_to, time_t now,
    struct version *out)
{
	struct verdict v = mkv(kind, seq, reason, valid_to);

	return admit(s, text, &v, now, out);
}

/* The status store_list reports for sha256. */
static enum version_status
status_of(struct store *s, const unsigned char sha[32])
{
	struct version *list;
	size_t n, i;
	enum version_status st = (enum version_status)-1;

	assert_int_equal(store_list(s, KIND_UNKNOWN, &list, &n), STORE_OK);
	for (i = 0; i < n; i++)
		if (memcmp(list[i].sha256, sha, 32) == 0)
			st = list[i].status;
	free(list);
	assert_int_not_equal(st, -1);
	return st;
}

static size_t
count_events(struct store *s)
{
	struct store_event *ev;
	size_t n;

	assert_int_equal(store_events(s, 0, &ev, &n), STORE_OK);
	free(ev);
	return n;
}

static void
admit_is_served(void **state)
{
	struct fx *f = *state;
	struct version v, sv;
	unsigned char *buf;
	size_t len;
	int pinned = -1;
	struct verdict vd = mkv(KIND_AUTHROOT, "1401DAA61B07AD8601", VFY_OK, 9000);

	vd.timestamp_verified = 1;
	vd.timestamp = 777;
	assert_int_equal(admit(f->s, "file one", &vd, 2000, &v), ADMIT_ADMITTED);
	assert_int_equal(v.status, VS_SERVED);
	assert_int_equal(v.order, 1);
	assert_string_equal(v.source, "import:test");
	assert_string_equal(v.signer, signer_name);
	assert_int_equal(v.first_seen, 2000);
	assert_int_equal(v.size, 12);

	assert_int_equal(store_served_blob(f->s, KIND_AUTHROOT, &sv, &pinned, &buf,
	    &len), STORE_OK);
	assert_memory_equal(sv.sha256, v.sha256, 32);
	assert_int_equal(pinned, 0);
	assert_int_equal(sv.status, VS_SERVED);
	assert_string_equal(sv.sequence, "1401DAA61B07AD8601");
	assert_int_equal(sv.chain_valid_to, 9000);
	assert_int_equal(sv.chain_valid_from, 500);
	assert_int_equal(sv.this_update, 1000);
	assert_int_equal(sv.next_update, 5000);
	assert_int_equal(sv.n_entries, 3);
	assert_int_equal(sv.timestamp_verified, 1);
	assert_int_equal(sv.timestamp, 777);
	assert_int_equal(sv.has_chain, 1);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "MSCFfile one", 12);
	free(buf);
	/* other kinds have nothing to serve */
	assert_int_equal(store_served(f->s, KIND_DISALLOWED, &sv, NULL), STORE_ERR_NOTFOUND);
}

static void
duplicate_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct version v1, v2;
	uint64_t gen;
	size_t nev;

	assert_int_equal(admit_seq(f->s, "same", KIND_AUTHROOT, "10", VFY_OK, 9000,
	    100, &v1), ADMIT_ADMITTED);
	gen = store_generation(f->s);
	nev = count_events(f->s);
	/* a different verdict and time: still the same bytes */
	assert_int_equal(admit_seq(f->s, "same", KIND_AUTHROOT, "99", VFY_EXPIRED,
	    9000, 200, &v2), ADMIT_DUPLICATE);
	assert_int_equal(store_generation(f->s), gen);
	assert_int_equal(count_events(f->s), nev);
	assert_memory_equal(v2.sha256, v1.sha256, 32);
	assert_string_equal(v2.sequence, "10");
	assert_int_equal(v2.first_seen, 100);
	assert_int_equal(v2.status, VS_SERVED);
}

static void
quarantined_never_served(void **state)
{
	struct fx *f = *state;
	struct version q, a, sv;

	assert_int_equal(admit_seq(f->s, "bad", KIND_AUTHROOT, "20", VFY_EXPIRED,
	    9000, 100, &q), ADMIT_QUARANTINED);
	assert_int_equal(q.status, VS_QUARANTINED);
	assert_int_equal(q.reason, VFY_EXPIRED);
	assert_string_equal(q.detail, "signer expired before the test time");
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_ERR_NOTFOUND);
	/* a lower good copy is served, the higher bad one still not */
	assert_int_equal(admit_seq(f->s, "good", KIND_AUTHROOT, "10", VFY_OK, 9000,
	    200, &a), ADMIT_ADMITTED);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, a.sha256, 32);
	assert_int_equal(status_of(f->s, q.sha256), VS_QUARANTINED);
}

static void
higher_sequence_replaces(void **state)
{
	struct fx *f = *state;
	struct version a, b, sv;

	assert_int_equal(admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000,
	    100, &a), ADMIT_ADMITTED);
	assert_int_equal(admit_seq(f->s, "eleven", KIND_AUTHROOT, "11", VFY_OK,
	    9000, 200, &b), ADMIT_ADMITTED);
	assert_int_equal(b.order, 2);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, b.sha256, 32);
	assert_int_equal(status_of(f->s, a.sha256), VS_ADMITTED);
	assert_int_equal(status_of(f->s, b.sha256), VS_SERVED);
}

static void
lower_after_higher_is_rollback(void **state)
{
	struct fx *f = *state;
	struct version a, b, sv;
	struct store_event *ev;
	size_t n;

	assert_int_equal(admit_seq(f->s, "eleven", KIND_AUTHROOT, "11", VFY_OK,
	    9000, 100, &a), ADMIT_ADMITTED);
	assert_int_equal(admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9999,
	    200, &b), ADMIT_ROLLBACK);
	assert_int_equal(b.rollback, 1);
	assert_int_equal(b.status, VS_ROLLBACK);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, a.sha256, 32);
	assert_int_equal(status_of(f->s, b.sha256), VS_ROLLBACK);
	assert_int_equal(store_events(f->s, 0, &ev, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ev[1].type, EV_ROLLBACK);
	assert_string_equal(ev[1].sequence, "10");
	assert_non_null(strstr(ev[1].text, "11"));
	free(ev);
	/* the same sequence as the served one is not a rollback */
	assert_int_equal(admit_seq(f->s, "eleven again", KIND_AUTHROOT, "11",
	    VFY_OK, 100, 300, NULL), ADMIT_ADMITTED);
}

/* Copies of one sequence: the chain that ends later wins, whatever came first. */
static void
same_sequence_later_chain_wins(void **state)
{
	struct fx *f = *state;
	struct version early, late, sv;
	char err[512];
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			/* a second, empty store for the other arrival order */
			store_close(f->s);
			snprintf(f->dir, sizeof(f->dir), "%s/st2", f->tmp);
			assert_int_equal(store_open(f->dir, 64, 0, &f->s, err,
			    sizeof(err)), STORE_OK);
		}
		if (pass == 0) {
			admit_seq(f->s, "copy A", KIND_AUTHROOT, "20", VFY_OK, 2000, 100, &early);
			assert_int_equal(admit_seq(f->s, "copy B", KIND_AUTHROOT, "20",
			    VFY_OK, 3000, 200, &late), ADMIT_ADMITTED);
		} else {
			admit_seq(f->s, "copy B", KIND_AUTHROOT, "20", VFY_OK, 3000, 100, &late);
			assert_int_equal(admit_seq(f->s, "copy A", KIND_AUTHROOT, "20",
			    VFY_OK, 2000, 200, &early), ADMIT_ADMITTED);
		}
		assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
		assert_memory_equal(sv.sha256, late.sha256, 32);
		assert_int_equal(status_of(f->s, early.sha256), VS_ADMITTED);
	}
}

static void
sequence_compare_is_numeric(void **state)
{
	struct fx *f = *state;
	struct version ff, big, sv;

	assert_true(ctl_seq_cmp("FF", "0100") < 0);
	assert_true(ctl_seq_cmp("0100", "ff") > 0);
	assert_int_equal(ctl_seq_cmp("00abc", "ABC"), 0);
	assert_true(ctl_seq_cmp("A", "9") > 0);
	assert_true(ctl_seq_cmp("", "1") < 0);

	assert_int_equal(admit_seq(f->s, "ff", KIND_DISALLOWED, "FF", VFY_OK, 9000,
	    100, &ff), ADMIT_ADMITTED);
	assert_int_equal(admit_seq(f->s, "0100", KIND_DISALLOWED, "0100", VFY_OK,
	    9000, 200, &big), ADMIT_ADMITTED);
	assert_int_equal(store_served(f->s, KIND_DISALLOWED, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, big.sha256, 32);
	/* and the other way round: a two-digit number after a three-digit one */
	assert_int_equal(admit_seq(f->s, "fe", KIND_DISALLOWED, "fe", VFY_OK, 9999,
	    300, NULL), ADMIT_ROLLBACK);
}

static void
pin_older_version(void **state)
{
	struct fx *f = *state;
	struct version a, b, sv;
	struct store_event *ev;
	size_t n;
	int pinned = 0;

	admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000, 100, &a);
	admit_seq(f->s, "eleven", KIND_AUTHROOT, "11", VFY_OK, 9000, 200, &b);
	assert_int_equal(store_pin(f->s, a.sha256, 300, NULL), STORE_OK);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, &pinned), STORE_OK);
	assert_memory_equal(sv.sha256, a.sha256, 32);
	assert_int_equal(pinned, 1);
	assert_int_equal(sv.status, VS_PINNED);
	assert_int_equal(status_of(f->s, a.sha256), VS_PINNED);
	assert_int_equal(status_of(f->s, b.sha256), VS_ADMITTED);
	assert_int_equal(store_events(f->s, 300, &ev, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].type, EV_PINNED);
	assert_memory_equal(ev[0].sha256, a.sha256, 32);
	free(ev);
}

/* A stale edge is judged against the newest admitted copy, not against a pin. */
static void
rollback_ignores_the_pin(void **state)
{
	struct fx *f = *state;
	struct version a, b, c, sv;
	int pinned = 0;

	admit_seq(f->s, "five", KIND_AUTHROOT, "05", VFY_OK, 9000, 100, &a);
	admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000, 200, &b);
	assert_int_equal(store_pin(f->s, a.sha256, 300, NULL), STORE_OK);
	assert_int_equal(admit_seq(f->s, "seven", KIND_AUTHROOT, "07", VFY_OK, 9000, 400, &c),
	    ADMIT_ROLLBACK);
	assert_int_equal(status_of(f->s, c.sha256), VS_ROLLBACK);
	assert_int_equal(store_unpin(f->s, KIND_AUTHROOT, 500), STORE_OK);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, &pinned), STORE_OK);
	assert_memory_equal(sv.sha256, b.sha256, 32);
}

static void
pin_refused_unless_admitted(void **state)
{
	struct fx *f = *state;
	struct version q, good, rb, old, sv;
	struct pin_opts po;
	struct pin_info pin;
	unsigned char nosuch[32];
	size_t n;

	admit_seq(f->s, "bad", KIND_AUTHROOT, "1401", VFY_EXPIRED, 9000, 100, &q);
	admit_seq(f->s, "good", KIND_AUTHROOT, "20", VFY_OK, 9000, 200, &good);
	assert_int_equal(admit_seq(f->s, "old", KIND_AUTHROOT, "19", VFY_OK, 9000,
	    300, &rb), ADMIT_ROLLBACK);
	assert_int_equal(store_pin(f->s, q.sha256, 400, NULL), STORE_ERR_REFUSED);
	assert_non_null(strstr(store_last_error(f->s), "EXPIRED"));
	assert_non_null(strstr(store_last_error(f->s), "quarantined"));
	assert_non_null(strstr(store_last_error(f->s), "1401"));
	memset(nosuch, 0xab, sizeof(nosuch));
	assert_int_equal(store_pin(f->s, nosuch, 400, NULL), STORE_ERR_NOTFOUND);
	/* nothing was pinned by the refusals */
	assert_int_equal(store_unpin(f->s, KIND_AUTHROOT, 500), STORE_ERR_NOTFOUND);

	/* a rollback verified at first sight: pinnable, and served */
	memset(&po, 0, sizeof(po));
	po.reason = "a root the site needs";
	po.until = 1000;
	assert_int_equal(store_pin(f->s, rb.sha256, 600, &po), STORE_OK);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, rb.sha256, 32);
	assert_int_equal(store_pin_info(f->s, KIND_AUTHROOT, &pin), STORE_OK);
	assert_int_equal(pin.until, 1000);
	assert_int_equal(pin.since, 600);
	assert_string_equal(pin.reason, "a root the site needs");
	/* it lapses by itself: the newest is served again */
	assert_int_equal(store_pin_lapse(f->s, 999, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_pin_lapse(f->s, 1000, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, good.sha256, 32);
	assert_int_equal(store_pin_info(f->s, KIND_AUTHROOT, &pin), STORE_ERR_NOTFOUND);

	/* an expired chain: only with force (clients would log 4107) */
	admit_seq(f->s, "short", KIND_AUTHROOT, "18", VFY_OK, 1500, 1100, &old);
	assert_int_equal(store_pin(f->s, old.sha256, 2000, NULL), STORE_ERR_REFUSED);
	assert_non_null(strstr(store_last_error(f->s), "4107"));
	po.until = 0;
	po.force = 1;
	assert_int_equal(store_pin(f->s, old.sha256, 2000, &po), STORE_OK);
	/* an end before the start is refused */
	po.until = 1999;
	assert_int_equal(store_pin(f->s, good.sha256, 2000, &po), STORE_ERR_REFUSED);
}

/* The served version's validators: when it became the served one, growing at every change. */
static void
served_since_grows(void **state)
{
	struct fx *f = *state;
	struct version a, b, sv;
	time_t t1, t2, t3;

	admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000, 100, &a);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	t1 = sv.served_since;
	assert_int_equal(t1, 100);
	admit_seq(f->s, "eleven", KIND_AUTHROOT, "11", VFY_OK, 9000, 200, &b);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	t2 = sv.served_since;
	assert_true(t2 > t1);
	/* the older one pinned at an earlier time (--at): still later than the last change */
	assert_int_equal(store_pin(f->s, a.sha256, 150, NULL), STORE_OK);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, a.sha256, 32);
	t3 = sv.served_since;
	assert_true(t3 > t2);
	assert_int_equal(store_unpin(f->s, KIND_AUTHROOT, 160), STORE_OK);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_true(sv.served_since > t3);
}

static void
unpin_returns_to_newest(void **state)
{
	struct fx *f = *state;
	struct version a, b, sv;
	struct store_event *ev;
	size_t n;
	int pinned = 1;
	uint64_t gen;

	admit_seq(f->s, "ten", KIND_PINRULES, "10", VFY_OK, 9000, 100, &a);
	admit_seq(f->s, "eleven", KIND_PINRULES, "11", VFY_OK, 9000, 200, &b);
	assert_int_equal(store_pin(f->s, a.sha256, 300, NULL), STORE_OK);
	assert_int_equal(store_unpin(f->s, KIND_PINRULES, 400), STORE_OK);
	assert_int_equal(store_served(f->s, KIND_PINRULES, &sv, &pinned), STORE_OK);
	assert_memory_equal(sv.sha256, b.sha256, 32);
	assert_int_equal(pinned, 0);
	gen = store_generation(f->s);
	assert_int_equal(store_unpin(f->s, KIND_PINRULES, 500), STORE_ERR_NOTFOUND);
	assert_non_null(strstr(store_last_error(f->s), "pinrules"));
	assert_int_equal(store_generation(f->s), gen);
	assert_int_equal(store_events(f->s, 400, &ev, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].type, EV_UNPINNED);
	assert_memory_equal(ev[0].sha256, a.sha256, 32);
	free(ev);
}

static void
find_by_sequence_and_prefix(void **state)
{
	struct fx *f = *state;
	struct version a, b, got;
	char hex[65], ref[16];
	int i;

	admit_seq(f->s, "ten", KIND_AUTHROOT, "1401DAA6", VFY_OK, 9000, 100, &a);
	admit_seq(f->s, "eleven", KIND_AUTHROOT, "1401DAA7", VFY_OK, 9000, 200, &b);
	assert_int_equal(store_find(f->s, "1401daa6", &got), STORE_OK);
	assert_memory_equal(got.sha256, a.sha256, 32);
	assert_int_equal(got.status, VS_ADMITTED);
	assert_int_equal(store_find(f->s, "01401DAA7", &got), STORE_OK);
	assert_memory_equal(got.sha256, b.sha256, 32);
	assert_int_equal(got.status, VS_SERVED);

	store_hex(hex, a.sha256, 32, 0);
	snprintf(ref, sizeof(ref), "%.8s", hex);
	assert_int_equal(store_find(f->s, ref, &got), STORE_OK);
	assert_memory_equal(got.sha256, a.sha256, 32);
	store_hex(hex, b.sha256, 32, 1);
	assert_int_equal(store_find(f->s, hex, &got), STORE_OK);
	assert_memory_equal(got.sha256, b.sha256, 32);

	assert_int_equal(store_find(f->s, "abc", &got), STORE_ERR_REFUSED);
	assert_non_null(strstr(store_last_error(f->s), "4 hex digits"));
	assert_int_equal(store_find(f->s, "not-hex", &got), STORE_ERR_REFUSED);
	assert_int_equal(store_find(f->s, "", &got), STORE_ERR_REFUSED);
	/* a prefix neither sha256 starts with */
	for (i = 0; i < 16; i++) {
		memset(ref, "0123456789abcdef"[i], 5);
		ref[5] = '\0';
		store_hex(hex, a.sha256, 32, 0);
		if (strncmp(hex, ref, 5) == 0)
			continue;
		store_hex(hex, b.sha256, 32, 0);
		if (strncmp(hex, ref, 5) != 0)
			break;
	}
	assert_int_equal(store_find(f->s, ref, &got), STORE_ERR_NOTFOUND);
}

static void
find_ambiguous(void **state)
{
	struct fx *f = *state;
	struct version v1, v2, got;
	char text[2][32], hex[2][65], ref[8];
	static unsigned first[65536];	/* by the first 2 sha256 bytes: try + 1 */
	unsigned char sha[32];
	unsigned i, idx, found = 0;

	/* brute force two files whose sha256 share 4 hex digits (birthday: ~300 tries) */
	memset(first, 0, sizeof(first));
	for (i = 0; i < 100000 && !found; i++) {
		snprintf(text[1], sizeof(text[1]), "MSCF blob %u", i);
		sha256_of(text[1], strlen(text[1]), sha);
		idx = (unsigned)sha[0] << 8 | sha[1];
		if (first[idx] != 0) {
			snprintf(text[0], sizeof(text[0]), "MSCF blob %u", first[idx] - 1);
			found = 1;
		} else {
			first[idx] = i + 1;
		}
	}
	assert_true(found);
	admit_seq(f->s, text[0], KIND_AUTHROOT, "0A", VFY_OK, 9000, 100, &v1);
	admit_seq(f->s, text[1], KIND_AUTHROOT, "0B", VFY_OK, 9000, 200, &v2);
	store_hex(hex[0], v1.sha256, 32, 0);
	store_hex(hex[1], v2.sha256, 32, 0);
	assert_memory_equal(hex[0], hex[1], 4);
	snprintf(ref, sizeof(ref), "%.4s", hex[0]);
	assert_int_equal(store_find(f->s, ref, &got), STORE_ERR_AMBIGUOUS);
	assert_non_null(strstr(store_last_error(f->s), "2 versions"));
	assert_int_equal(store_find(f->s, hex[1], &got), STORE_OK);
	assert_memory_equal(got.sha256, v2.sha256, 32);

	/* one sequence, two copies, none served: ambiguous */
	admit_seq(f->s, "q1", KIND_DISALLOWED, "30", VFY_EXPIRED, 9000, 300, NULL);
	admit_seq(f->s, "q2", KIND_DISALLOWED, "30", VFY_BAD_SIGNATURE, 9000, 400, NULL);
	assert_int_equal(store_find(f->s, "30", &got), STORE_ERR_AMBIGUOUS);
	/* ...unless one of them is served: then it is the one */
	admit_seq(f->s, "ok", KIND_DISALLOWED, "30", VFY_OK, 9000, 500, &v1);
	assert_int_equal(store_find(f->s, "30", &got), STORE_OK);
	assert_memory_equal(got.sha256, v1.sha256, 32);
	assert_int_equal(got.status, VS_SERVED);
}

static void
events_in_order(void **state)
{
	struct fx *f = *state;
	struct store_event *ev, sync;
	struct version a;
	size_t n, i;
	const enum event_type want[] = { EV_ADMITTED, EV_QUARANTINED, EV_ROLLBACK,
	    EV_PINNED, EV_SYNC };

	admit_seq(f->s, "eleven", KIND_AUTHROOT, "11", VFY_OK, 9000, 100, &a);
	admit_seq(f->s, "bad", KIND_AUTHROOT, "12", VFY_EXPIRED, 9000, 200, NULL);
	admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000, 300, NULL);
	assert_int_equal(store_pin(f->s, a.sha256, 400, NULL), STORE_OK);
	memset(&sync, 0, sizeof(sync));
	sync.id = 999;	/* the store assigns ids */
	sync.when = 500;
	sync.type = EV_SYNC;
	sync.kind = KIND_AUTHROOT;
	snprintf(sync.text, sizeof(sync.text), "upstream 304 not modified");
	assert_int_equal(store_log(f->s, &sync), STORE_OK);

	assert_int_equal(store_events(f->s, 0, &ev, &n), STORE_OK);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++) {
		assert_int_equal(ev[i].type, want[i]);
		assert_int_equal(ev[i].id, i + 1);
		assert_int_equal(ev[i].when, (time_t)(100 * (i + 1)));
	}
	assert_string_equal(ev[1].sequence, "12");
	assert_non_null(strstr(ev[1].text, "EXPIRED"));
	assert_string_equal(ev[4].text, "upstream 304 not modified");
	assert_string_equal(event_type_str(ev[4].type), "sync");
	free(ev);
	assert_int_equal(store_events(f->s, 300, &ev, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].type, EV_ROLLBACK);
	free(ev);
	assert_int_equal(store_events(f->s, 501, &ev, &n), STORE_OK);
	assert_int_equal(n, 0);
	free(ev);
	sync.type = (enum event_type)77;
	assert_int_equal(store_log(f->s, &sync), STORE_ERR_REFUSED);
}

static void
gc_keeps_served_pinned_newest(void **state)
{
	struct fx *f = *state;
	struct version v[8], d1, d2, sv, *list;
	struct store_event *ev;
	unsigned char *buf;
	size_t removed, n, i, gcs = 0, len;
	char text[16], seq[8];
	uint64_t gen;

	/* authroot 01..06 admitted, 07 quarantined (newest by sequence) */
	for (i = 1; i <= 7; i++) {
		snprintf(text, sizeof(text), "auth %zu", i);
		snprintf(seq, sizeof(seq), "0%zu", i);
		admit_seq(f->s, text, KIND_AUTHROOT, seq, i == 7 ? VFY_EXPIRED :
		    VFY_OK, 9000, (time_t)(100 * i), &v[i]);
	}
	admit_seq(f->s, "dis 1", KIND_DISALLOWED, "01", VFY_OK, 9000, 100, &d1);
	admit_seq(f->s, "dis 2", KIND_DISALLOWED, "02", VFY_OK, 9000, 200, &d2);
	assert_int_equal(store_pin(f->s, v[2].sha256, 800, NULL), STORE_OK);

	/* keep 2: 07 and 06 (newest), 02 (pinned, so served); 01, 03-05 go */
	assert_int_equal(store_gc(f->s, 2, 900, &removed), STORE_OK);
	assert_int_equal(removed, 4);
	assert_int_equal(store_list(f->s, KIND_UNKNOWN, &list, &n), STORE_OK);
	assert_int_equal(n, 5);
	free(list);
	for (i = 1; i <= 7; i++) {
		enum store_err want = (i == 2 || i == 6 || i == 7) ? STORE_OK :
		    STORE_ERR_NOTFOUND;

		assert_int_equal(store_blob(f->s, v[i].sha256, &buf, &len), want);
		if (want == STORE_OK)
			free(buf);
	}
	assert_int_equal(store_blob(f->s, d1.sha256, &buf, &len), STORE_OK);
	free(buf);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, v[2].sha256, 32);
	assert_int_equal(store_events(f->s, 900, &ev, &n), STORE_OK);
	for (i = 0; i < n; i++)
		gcs += ev[i].type == EV_GC;
	assert_int_equal(gcs, 4);
	free(ev);

	/* nothing more to remove: nothing written */
	gen = store_generation(f->s);
	assert_int_equal(store_gc(f->s, 2, 1000, &removed), STORE_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(store_generation(f->s), gen);

	/* unpinned, keep 1: the served 06 stays with 07; 02 goes; disallowed keeps 02 */
	assert_int_equal(store_unpin(f->s, KIND_AUTHROOT, 1100), STORE_OK);
	assert_int_equal(store_gc(f->s, 1, 1200, &removed), STORE_OK);
	assert_int_equal(removed, 2);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, v[6].sha256, 32);
	assert_int_equal(store_served(f->s, KIND_DISALLOWED, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, d2.sha256, 32);
	assert_int_equal(store_blob(f->s, d1.sha256, &buf, &len), STORE_ERR_NOTFOUND);
}

static unsigned char *
make_cert(size_t *len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *der = NULL;
	int n;

	assert_non_null(key);
	assert_non_null(x);
	assert_true(X509_set_version(x, 2));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_set_pubkey(x, key));
	name = X509_get_subject_name(x);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Test Root", -1, -1, 0));
	assert_true(X509_set_issuer_name(x, name));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	X509_free(x);
	EVP_PKEY_free(key);
	*len = (size_t)n;
	return der;
}

static void
certs_put_get(void **state)
{
	struct fx *f = *state;
	unsigned char *der, *got, *longer, sha1[20];
	struct store_event *ev;
	size_t len, glen, n;
	char hex[41];
	int added = -1;

	der = make_cert(&len);
	assert_int_equal(store_put_cert(f->s, der, len, 100, &added), STORE_OK);
	assert_int_equal(added, 1);
	assert_int_equal(store_put_cert(f->s, der, len, 200, &added), STORE_OK);
	assert_int_equal(added, 0);
	assert_int_equal(EVP_Digest(der, len, sha1, NULL, EVP_sha1(), NULL), 1);
	assert_int_equal(store_get_cert(f->s, sha1, &got, &glen), STORE_OK);
	assert_int_equal(glen, len);
	assert_memory_equal(got, der, len);
	free(got);
	assert_int_equal(store_events(f->s, 0, &ev, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].type, EV_CERT_ADDED);
	store_hex(hex, sha1, 20, 1);
	assert_non_null(strstr(ev[0].text, hex));
	free(ev);

	/* not a certificate; a certificate with a byte after it */
	assert_int_equal(store_put_cert(f->s, (const unsigned char *)"junk", 4, 300,
	    &added), STORE_ERR_REFUSED);
	assert_int_equal(added, 0);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(store_put_cert(f->s, longer, len + 1, 300, &added),
	    STORE_ERR_REFUSED);
	sha1[0] ^= 1;
	assert_int_equal(store_get_cert(f->s, sha1, &got, &glen), STORE_ERR_NOTFOUND);
	free(longer);
	OPENSSL_free(der);
}

static void
upstream_round_trip(void **state)
{
	struct fx *f = *state;
	struct upstream_state st, got;
	const char *url = "http://ctldl.windowsupdate.com/msdownload/update/v3/"
	    "static/trustedr/en/authrootstl.cab";

	assert_int_equal(store_upstream_get(f->s, url, &got), STORE_ERR_NOTFOUND);
	memset(&st, 0, sizeof(st));
	snprintf(st.etag, sizeof(st.etag), "\"80e1b1a3c5d9d01:0\"");
	snprintf(st.last_modified, sizeof(st.last_modified),
	    "Tue, 28 Jan 2025 18:04:11 GMT");
	st.last_attempt = 1738000000;
	st.last_success = 1737990000;
	st.last_status = 304;
	snprintf(st.last_error, sizeof(st.last_error), "none");
	st.consecutive_failures = 3;
	assert_int_equal(store_upstream_put(f->s, url, &st), STORE_OK);
	assert_int_equal(store_upstream_get(f->s, url, &got), STORE_OK);
	assert_memory_equal(&got, &st, sizeof(st));
	st.last_status = -1;
	assert_int_equal(store_upstream_put(f->s, url, &st), STORE_OK);
	assert_int_equal(store_upstream_get(f->s, url, &got), STORE_OK);
	assert_int_equal(got.last_status, -1);
	assert_int_equal(store_upstream_put(f->s, "", &st), STORE_ERR_REFUSED);
}

/* Writes meta "schema" = value with raw LMDB (the store is closed meanwhile). */
static void
raw_put(const char *dir, const char *db, const void *key, size_t klen,
    const void *data, size_t dlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, d = { dlen, (void *)data };

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
schema_mismatch(void **state)
{
	struct fx *f = *state;
	char err[512];
	const char *other = "ctlmirror-store-0";

	store_close(f->s);
	f->s = NULL;
	raw_put(f->dir, "meta", "schema", 6, other, strlen(other));
	assert_int_equal(reopen(f, 64, 0, err, sizeof(err)), STORE_ERR_SCHEMA);
	assert_null(f->s);
	assert_non_null(strstr(err, other));
	assert_non_null(strstr(err, STORE_SCHEMA));
	assert_non_null(strstr(err, f->dir));
	assert_int_equal(reopen(f, 64, 1, err, sizeof(err)), STORE_ERR_SCHEMA);
	assert_non_null(strstr(err, other));
}

static void
readonly_open_errors(void **state)
{
	struct fx *f = *state;
	struct store *s = (struct store *)1;
	enum admit_result r;
	struct verdict v = mkv(KIND_AUTHROOT, "10", VFY_OK, 9000);
	char err[512], path[160];

	snprintf(path, sizeof(path), "%s/absent", f->tmp);
	assert_int_equal(store_open(path, 64, 1, &s, err, sizeof(err)),
	    STORE_ERR_MISSING);
	assert_null(s);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "ctlmirror import"));
	/* read-only never creates: the directory is still absent */
	assert_int_equal(access(path, F_OK), -1);

	/* a directory without data.mdb */
	assert_int_equal(mkdir(path, 0750), 0);
	assert_int_equal(store_open(path, 64, 1, &s, err, sizeof(err)),
	    STORE_ERR_MISSING);
	assert_non_null(strstr(err, path));

	/* a read-only handle on a real store reads, and refuses writes */
	admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000, 100, NULL);
	assert_int_equal(reopen(f, 64, 1, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_find(f->s, "10", &(struct version){ 0 }), STORE_OK);
	assert_int_equal(store_admit(f->s, (const unsigned char *)"x", 1, &v, 200,
	    "import:x", &r, NULL), STORE_ERR_REFUSED);
	assert_non_null(strstr(store_last_error(f->s), "read-only"));
}

static void
writable_open_without_access(void **state)
{
	struct fx *f = *state;
	struct store *s = (struct store *)1;
	enum store_err e;
	char err[512], path[256], file[160];
	FILE *fp;

	if (geteuid() == 0) {
		/* root ignores permissions: a parent that is a regular file instead */
		snprintf(file, sizeof(file), "%s/plain", f->tmp);
		assert_non_null(fp = fopen(file, "w"));
		fclose(fp);
		snprintf(path, sizeof(path), "%s/store", file);
		e = store_open(path, 64, 0, &s, err, sizeof(err));
		assert_true(e == STORE_ERR_ACCESS || e == STORE_ERR_MISSING);
		assert_null(s);
		assert_non_null(strstr(err, path));
		/* the store path itself a regular file */
		e = store_open(file, 64, 0, &s, err, sizeof(err));
		assert_int_equal(e, STORE_ERR_ACCESS);
		assert_non_null(strstr(err, "not a directory"));
		return;
	}
	snprintf(path, sizeof(path), "%s/new", f->tmp);
	assert_int_equal(chmod(f->tmp, 0500), 0);
	assert_int_equal(store_open(path, 64, 0, &s, err, sizeof(err)),
	    STORE_ERR_ACCESS);
	assert_null(s);
	assert_non_null(strstr(err, path));
	/* an existing store directory we may not write in */
	assert_int_equal(chmod(f->dir, 0500), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->dir, 64, 0, &s, err, sizeof(err)),
	    STORE_ERR_ACCESS);
	assert_non_null(strstr(err, f->dir));
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(chmod(f->tmp, 0700), 0);
}

static void
map_full_writes_nothing(void **state)
{
	struct fx *f = *state;
	enum { BLOB = 300 * 1024, MAX = 20 };
	unsigned char *blob[MAX], *got, sha[32];
	struct version v, *list;
	struct verdict vd;
	enum admit_result r;
	enum store_err e = STORE_OK;
	char err[512], seq[8];
	size_t i, ok = 0, len, n;
	uint64_t gen = 0;

	store_close(f->s);
	snprintf(f->dir, sizeof(f->dir), "%s/small", f->tmp);
	assert_int_equal(store_open(f->dir, 1, 0, &f->s, err, sizeof(err)), STORE_OK);
	memset(blob, 0, sizeof(blob));
	for (i = 0; i < MAX; i++) {
		assert_non_null(blob[i] = malloc(BLOB));
		memset(blob[i], (int)i + 1, BLOB);
		snprintf(seq, sizeof(seq), "%02zX", i + 1);
		vd = mkv(KIND_AUTHROOT, seq, VFY_OK, 9000);
		gen = store_generation(f->s);
		e = store_admit(f->s, blob[i], BLOB, &vd, (time_t)(100 + i),
		    "import:big", &r, &v);
		if (e != STORE_OK)
			break;
		ok++;
	}
	assert_int_equal(e, STORE_ERR_FULL);
	assert_true(ok >= 1);
	assert_non_null(strstr(store_last_error(f->s), "map_size_mb"));
	assert_int_equal(store_generation(f->s), gen);
	/* the handle still answers */
	assert_int_equal(store_list(f->s, KIND_UNKNOWN, &list, &n), STORE_OK);
	assert_int_equal(n, ok);
	free(list);

	assert_int_equal(reopen(f, 1, 1, err, sizeof(err)), STORE_OK);
	for (i = 0; i < ok; i++) {
		sha256_of(blob[i], BLOB, sha);
		assert_int_equal(store_blob(f->s, sha, &got, &len), STORE_OK);
		assert_int_equal(len, BLOB);
		assert_memory_equal(got, blob[i], BLOB);
		free(got);
	}
	sha256_of(blob[ok], BLOB, sha);
	assert_int_equal(store_blob(f->s, sha, &got, &len), STORE_ERR_NOTFOUND);
	/* no record of the failed admission either: only the ok ones, whole */
	assert_int_equal(store_list(f->s, KIND_UNKNOWN, &list, &n), STORE_OK);
	assert_int_equal(n, ok);
	for (i = 0; i < n; i++)
		assert_int_equal(list[i].size, BLOB);
	free(list);
	assert_int_equal(count_events(f->s), ok);
	for (i = 0; i < MAX; i++)
		free(blob[i]);
}

static void
corrupt_record_reported(void **state)
{
	struct fx *f = *state;
	struct version v, *list = NULL;
	char err[512];
	size_t n = 0;

	admit_seq(f->s, "ten", KIND_AUTHROOT, "10", VFY_OK, 9000, 100, &v);
	store_close(f->s);
	f->s = NULL;
	raw_put(f->dir, "versions", v.sha256, 32, "\x01\x01\x02", 3);
	assert_int_equal(reopen(f, 64, 0, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_list(f->s, KIND_UNKNOWN, &list, &n), STORE_ERR_CORRUPT);
	assert_null(list);
	assert_non_null(strstr(store_last_error(f->s), "does not decode"));
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &v, NULL), STORE_ERR_CORRUPT);
	assert_int_equal(store_find(f->s, "10", &v), STORE_ERR_CORRUPT);
}

/* Every byte-length cut of a real record fails to decode, and never reads past it. */
static void
codec_rejects_truncation(void **state)
{
	struct version v, back;
	unsigned char buf[STORE_VERSION_REC_MAX], *cut;
	size_t len, i;

	(void)state;
	memset(&v, 0, sizeof(v));
	memset(v.sha256, 7, 32);
	v.kind = KIND_PINRULES;
	snprintf(v.sequence, sizeof(v.sequence), "ABCDEF");
	snprintf(v.source, sizeof(v.source), "http://example/pinrulesstl.cab");
	v.reason = VFY_NO_CHAIN;
	v.first_seen = -5;	/* before 1970 survives the round trip */
	v.chain_valid_to = (time_t)1 << 40;
	v.order = UINT64_MAX;
	v.status = VS_ADMITTED;	/* what the decoder leaves for the caller */
	len = store_enc_version(buf, sizeof(buf), &v);
	assert_true(len > 0);
	assert_int_equal(store_dec_version(v.sha256, buf, len, &back), 0);
	assert_memory_equal(&back, &v, sizeof(v));
	for (i = 0; i < len; i++) {
		/* an exact-size heap copy, so ASan sees any over-read */
		cut = malloc(i ? i : 1);
		assert_non_null(cut);
		memcpy(cut, buf, i);
		assert_int_equal(store_dec_version(v.sha256, cut, i, &back), -1);
		free(cut);
	}
	buf[1] = KIND_COUNT;	/* kind out of range */
	assert_int_equal(store_dec_version(v.sha256, buf, len, &back), -1);
	assert_int_equal(store_enc_version(buf, 10, &v), 0);
}

static void
long_fields_truncated(void **state)
{
	struct fx *f = *state;
	char signer[400];
	struct version v, got;
	struct verdict vd = mkv(KIND_AUTHROOT, "10", VFY_EXPIRED, 9000);
	size_t i;

	/* "é" is two bytes: 255 bytes of room must not end in half of one */
	for (i = 0; i + 2 < sizeof(signer); i += 2)
		memcpy(signer + i, "\xc3\xa9", 2);
	signer[i] = '\0';
	vd.signer = signer;
	memset(vd.detail, 'd', sizeof(vd.detail) - 1);
	vd.detail[sizeof(vd.detail) - 1] = '\0';
	admit(f->s, "long", &vd, 100, &v);
	assert_int_equal(store_find(f->s, "10", &got), STORE_OK);
	assert_int_equal(strlen(got.signer), 254);
	assert_int_equal(strlen(got.detail), sizeof(got.detail) - 1);
	assert_string_equal(version_status_str(got.status), "quarantined");
	assert_string_equal(admit_result_str(ADMIT_ROLLBACK), "rollback");
}

/* Only a CAB is servable: a bare CTL that verified is kept but never served, nor pinned. */
static void
only_a_cab_is_served(void **state)
{
	struct fx *f = *state;
	struct verdict vd = mkv(KIND_AUTHROOT, "20", VFY_OK, 9000);
	struct version bare, cab, sv;
	enum admit_result r;

	assert_int_equal(store_admit(f->s, (const unsigned char *)"0\x82 bare stl", 12, &vd,
	    100, "import:bare.stl", &r, &bare), STORE_OK);
	assert_int_equal(r, ADMIT_ADMITTED);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_ERR_NOTFOUND);
	assert_int_equal(store_pin(f->s, bare.sha256, 150, NULL), STORE_ERR_REFUSED);
	assert_non_null(strstr(store_last_error(f->s), "not a CAB"));
	/* the cab of the same sequence is the one served */
	assert_int_equal(admit(f->s, "the cab", &vd, 200, &cab), ADMIT_ADMITTED);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, cab.sha256, 32);
}

/* A copy quarantined for want of trust is admitted when it verifies again. */
static void
reverify_admits_trust_quarantine(void **state)
{
	struct fx *f = *state;
	struct verdict nochain = mkv(KIND_AUTHROOT, "30", VFY_NO_CHAIN, 9000);
	struct verdict badsig = mkv(KIND_AUTHROOT, "31", VFY_BAD_SIGNATURE, 9000);
	struct verdict ok = mkv(KIND_AUTHROOT, "30", VFY_OK, 9000);
	struct version q, b, got, sv;
	struct store_event *ev = NULL;
	enum admit_result r;
	uint64_t gen;
	size_t n;

	assert_int_equal(admit(f->s, "needs a root", &nochain, 100, &q), ADMIT_QUARANTINED);
	assert_int_equal(admit(f->s, "bad bytes", &badsig, 110, &b), ADMIT_QUARANTINED);
	/* still failing: nothing is written */
	gen = store_generation(f->s);
	assert_int_equal(store_reverify(f->s, q.sha256, &nochain, 150, &r, &got), STORE_OK);
	assert_int_equal(r, ADMIT_QUARANTINED);
	assert_int_equal(store_generation(f->s), gen);
	/* a reason of the bytes is never judged again */
	assert_int_equal(store_reverify(f->s, b.sha256, &ok, 150, &r, &got), STORE_ERR_REFUSED);
	/* verifies now: admitted and served, first sight kept, event written */
	assert_int_equal(store_reverify(f->s, q.sha256, &ok, 200, &r, &got), STORE_OK);
	assert_int_equal(r, ADMIT_ADMITTED);
	assert_int_equal(got.reason, VFY_OK);
	assert_int_equal(got.first_seen, 100);
	assert_int_equal(got.status, VS_SERVED);
	assert_int_equal(store_served(f->s, KIND_AUTHROOT, &sv, NULL), STORE_OK);
	assert_memory_equal(sv.sha256, q.sha256, 32);
	assert_int_equal(store_events(f->s, 0, &ev, &n), STORE_OK);
	assert_true(n >= 3);
	assert_int_equal(ev[n - 1].type, EV_REVERIFIED);
	assert_int_equal(ev[n - 1].when, 200);
	assert_non_null(strstr(ev[n - 1].text, "NO_CHAIN"));
	free(ev);
	/* an admitted version is not judged again */
	assert_int_equal(store_reverify(f->s, q.sha256, &ok, 250, &r, &got), STORE_ERR_REFUSED);
}

/* Verified again but older than the newest admitted version: a rollback, as on admission. */
static void
reverify_older_is_rollback(void **state)
{
	struct fx *f = *state;
	struct verdict nochain = mkv(KIND_AUTHROOT, "10", VFY_UNTRUSTED_ROOT, 9000);
	struct verdict ok10 = mkv(KIND_AUTHROOT, "10", VFY_OK, 9000);
	struct verdict ok11 = mkv(KIND_AUTHROOT, "11", VFY_OK, 9000);
	struct version q, newer, got;
	enum admit_result r;

	assert_int_equal(admit(f->s, "old untrusted", &nochain, 100, &q), ADMIT_QUARANTINED);
	assert_int_equal(admit(f->s, "newer", &ok11, 200, &newer), ADMIT_ADMITTED);
	assert_int_equal(store_reverify(f->s, q.sha256, &ok10, 300, &r, &got), STORE_OK);
	assert_int_equal(r, ADMIT_ROLLBACK);
	assert_int_equal(got.rollback, 1);
	assert_int_equal(got.status, VS_ROLLBACK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(admit_is_served, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(quarantined_never_served, setup, teardown),
		cmocka_unit_test_setup_teardown(higher_sequence_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(lower_after_higher_is_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(same_sequence_later_chain_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(sequence_compare_is_numeric, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_older_version, setup, teardown),
		cmocka_unit_test_setup_teardown(rollback_ignores_the_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_refused_unless_admitted, setup, teardown),
		cmocka_unit_test_setup_teardown(unpin_returns_to_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(find_by_sequence_and_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(find_ambiguous, setup, teardown),
		cmocka_unit_test_setup_teardown(events_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(gc_keeps_served_pinned_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(certs_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(upstream_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(readonly_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(writable_open_without_access, setup, teardown),
		cmocka_unit_test_setup_teardown(map_full_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_record_reported, setup, teardown),
		cmocka_unit_test(codec_rejects_truncation),
		cmocka_unit_test_setup_teardown(only_a_cab_is_served, setup, teardown),
		cmocka_unit_test_setup_teardown(served_since_grows, setup, teardown),
		cmocka_unit_test_setup_teardown(reverify_admits_trust_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(reverify_older_is_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(long_fields_truncated, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
