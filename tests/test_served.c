/*
 * test_served.c - the served set over a real store of forged CTLs: what is
 * served and why, its bytes and validators, the listed roots, the digest that
 * tells a changed set from a bookkeeping commit, pins, the newest rule and
 * the `.crt` rule.
 *
 * Usage: test_served FIXTURES (forge's output directory).
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

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proxy/served.h"
#include "store/store.h"
#include "tests/testutil.h"
#include "verify/isotime.h"
#include "verify/verify.h"

static const char *fixtures;

/* The forged cases used here (cases.tsv): name, sequence, entries. */
#define OK_SEQ "1401DA9B62E449E800"		/* authroot-ok, authroot-resigned */
#define SHA1_SEQ "1401DA9B6B460E5000"		/* authroot-sha1: newer */
#define FLIPPED_SEQ "1401DA9B952EE45800"	/* flipped-byte: newer still, DIGEST_MISMATCH */

struct fx {
	char tmp[64];
	char dir[96];
	struct store *s;
	struct anchors anchors;
	time_t at;		/* cases.tsv's verification time */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The fixture PKI's anchors, as the CLI trusts them with pins.txt. */
static void
load_anchors(struct anchors *a)
{
	static const char *files[] = { "anchors/root.pem", "anchors/legacy-root.pem" };
	unsigned char *buf;
	size_t len, i, added, total = 0;
	char *line, *save = NULL;

	assert_int_equal(anchors_init(a), ANCHORS_OK);
	buf = test_read(fixtures, "pins.txt", &len);
	buf[len] = '\0';
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		assert_int_equal(anchors_add_pin(a, line), ANCHORS_OK);
	free(buf);
	for (i = 0; i < 2; i++) {
		buf = test_read(fixtures, files[i], &len);
		assert_int_equal(anchors_offer(a, buf, len, &added), ANCHORS_OK);
		total += added;
		free(buf);
	}
	assert_int_equal(total, 2);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_served.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/st", f->tmp);
	assert_int_equal(store_open(f->dir, 64, 0, &f->s, err, sizeof(err)), STORE_OK);
	load_anchors(&f->anchors);
	assert_true(isotime_parse("2024-06-01T00:00:00Z", &f->at));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	anchors_free(&f->anchors);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* The bytes of cases/<name>.cab. */
static unsigned char *
case_bytes(const char *name, size_t *len)
{
	char file[256];

	snprintf(file, sizeof(file), "cases/%s.cab", name);
	return test_read(fixtures, file, len);
}

/* Verifies cases/<name>.cab as the CLI does and records it; returns the result. */
static enum admit_result
import(struct fx *f, const char *name, struct version *out)
{
	struct vfy_params p;
	struct verdict v;
	struct version tmp;
	enum admit_result r;
	unsigned char *buf;
	size_t len;

	memset(&p, 0, sizeof(p));
	p.at = f->at;
	p.anchors = &f->anchors;
	buf = case_bytes(name, &len);
	vfy_verify(buf, len, &p, &v);
	assert_int_equal(store_admit(f->s, buf, len, &v, f->at, "import:test", &r,
	    out != NULL ? out : &tmp), STORE_OK);
	verdict_free(&v);
	free(buf);
	return r;
}

/* The DER of a PEM certificate in the fixtures, and its SHA-1. */
static unsigned char *
cert_der(const char *pem, size_t *len, unsigned char sha1[20])
{
	char path[4096];
	unsigned char *der = NULL;
	X509 *x;
	FILE *fp;
	int n;

	snprintf(path, sizeof(path), "%s/%s", fixtures, pem);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(x = PEM_read_X509(fp, NULL, NULL, NULL));
	fclose(fp);
	assert_true((n = i2d_X509(x, &der)) > 0);
	X509_free(x);
	*len = (size_t)n;
	assert_int_equal(EVP_Digest(der, *len, sha1, NULL, EVP_sha1(), NULL), 1);
	return der;
}

/* "\"<lower-case hex SHA-256 of b>\"" */
static void
etag_of(const unsigned char *b, size_t len, char out[HEX_ETAG_LEN])
{
	unsigned char md[32];
	size_t i;

	assert_int_equal(EVP_Digest(b, len, md, NULL, EVP_sha256(), NULL), 1);
	out[0] = '"';
	for (i = 0; i < 32; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
	out[65] = '"';
	out[66] = '\0';
}

static void
put_cert(struct fx *f, const char *pem, int expect_added)
{
	unsigned char sha1[20], *der;
	size_t len;
	int added = -1;

	der = cert_der(pem, &len, sha1);
	assert_int_equal(store_put_cert(f->s, der, len, f->at, &added), STORE_OK);
	assert_int_equal(added, expect_added);
	free(der);
}

static void
refresh(struct fx *f, struct served_set *set, int expect_changed)
{
	int changed = -1;

	assert_int_equal(served_refresh(f->s, set, &changed), STORE_OK);
	assert_int_equal(changed, expect_changed);
	assert_int_equal(set->loaded, 1);
	/* either way the set is now known to be current */
	assert_true(set->generation == store_generation(f->s));
}

static void
empty_store_serves_nothing(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	struct version v;
	unsigned char sha1[20], *der;
	size_t len;
	int k;

	assert_int_equal(served_load(f->s, SERVED_BYTES | SERVED_LISTED, &set), STORE_OK);
	assert_int_equal(set.loaded, 1);
	assert_int_equal(set.flags, SERVED_BYTES | SERVED_LISTED);
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		assert_int_equal(set.kinds[k].present, 0);
		assert_int_equal(set.kinds[k].has_newest, 0);
		assert_null(set.kinds[k].bytes);
	}
	assert_null(set.seq);
	assert_null(set.listed);
	assert_int_equal(set.n_listed, 0);
	assert_int_equal(set.n_missing, 0);

	der = cert_der("anchors/root.pem", &len, sha1);
	assert_null(served_listed(&set, sha1));
	assert_false(served_crt_ok(&set, sha1, der, len));
	free(der);
	memset(&v, 0, sizeof(v));
	v.kind = KIND_AUTHROOT;
	snprintf(v.sequence, sizeof(v.sequence), "01");
	assert_false(served_is_newest(&set, &v));

	refresh(f, &set, 0);
	served_free(&set);
	assert_int_equal(set.loaded, 0);
}

static void
admitted_authroot_is_served(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	struct version ver;
	struct verdict vd;
	const struct served_kind *sk;
	char etag[HEX_ETAG_LEN], seq_etag[HEX_ETAG_LEN];
	unsigned char *buf, *der, root[20], legacy[20], untrusted[20];
	size_t len, dlen, i, j;
	const struct listed_root *lr;

	assert_int_equal(import(f, "authroot-ok", &ver), ADMIT_ADMITTED);
	assert_int_equal(served_load(f->s, SERVED_BYTES | SERVED_LISTED, &set), STORE_OK);
	sk = &set.kinds[KIND_AUTHROOT];
	assert_int_equal(sk->present, 1);
	assert_int_equal(sk->pinned, 0);
	assert_memory_equal(sk->v.sha256, ver.sha256, 32);
	assert_string_equal(sk->v.sequence, OK_SEQ);
	assert_int_equal(sk->has_newest, 1);
	assert_memory_equal(sk->newest.sha256, ver.sha256, 32);
	for (i = KIND_DISALLOWED; i < KIND_COUNT; i++)
		assert_int_equal(set.kinds[i].present, 0);

	/* the file itself, and its strong ETag */
	buf = case_bytes("authroot-ok", &len);
	assert_non_null(sk->bytes);
	assert_int_equal(sk->bytes->refs, 1);
	assert_int_equal(sk->bytes->len, len);
	assert_memory_equal(sk->bytes->data, buf, len);
	etag_of(buf, len, etag);
	assert_string_equal(sk->etag, etag);

	/* authrootseq.txt: the sequence, upper-case; its ETag follows the cab's */
	assert_non_null(set.seq);
	assert_int_equal(set.seq->len, strlen(OK_SEQ));
	assert_memory_equal(set.seq->data, OK_SEQ, strlen(OK_SEQ));
	snprintf(seq_etag, sizeof(seq_etag), "\"seq-%.40s\"", etag + 1);
	assert_string_equal(set.seq_etag, seq_etag);

	/* the listed roots: the CTL's thumbprints, sorted, none stored yet */
	memset(&vd, 0, sizeof(vd));
	vfy_read_entries(buf, len, KIND_AUTHROOT, &vd);
	assert_int_equal(vd.n_entries, 4);
	assert_int_equal(set.n_listed, vd.n_entries);
	assert_int_equal(set.n_missing, set.n_listed);
	for (i = 0; i < set.n_listed; i++) {
		assert_int_equal(set.listed[i].stored, 0);
		if (i > 0)
			assert_true(memcmp(set.listed[i - 1].sha1, set.listed[i].sha1, 20) < 0);
	}
	for (j = 0; j < vd.n_entries; j++) {
		assert_int_equal(vd.entries[j].id_len, 20);
		assert_non_null(lr = served_listed(&set, vd.entries[j].id));
		assert_memory_equal(lr->sha1, vd.entries[j].id, 20);
	}
	verdict_free(&vd);
	free(buf);

	/* the two fixture roots are listed, the untrusted one is not */
	free(cert_der("anchors/root.pem", &dlen, root));
	free(cert_der("anchors/legacy-root.pem", &dlen, legacy));
	der = cert_der("untrusted/root.pem", &dlen, untrusted);
	assert_non_null(served_listed(&set, root));
	assert_non_null(served_listed(&set, legacy));
	assert_null(served_listed(&set, untrusted));
	free(der);
	served_free(&set);

	/* without flags: the versions only */
	assert_int_equal(served_load(f->s, 0, &set), STORE_OK);
	assert_int_equal(set.kinds[KIND_AUTHROOT].present, 1);
	assert_string_equal(set.kinds[KIND_AUTHROOT].etag, etag);
	assert_null(set.kinds[KIND_AUTHROOT].bytes);
	assert_null(set.seq);
	assert_int_equal(set.n_listed, 0);
	assert_null(served_listed(&set, root));
	served_free(&set);

	/* SERVED_LISTED alone: the roots without the bytes */
	assert_int_equal(served_load(f->s, SERVED_LISTED, &set), STORE_OK);
	assert_null(set.kinds[KIND_AUTHROOT].bytes);
	assert_int_equal(set.n_listed, 4);
	assert_non_null(served_listed(&set, root));
	served_free(&set);
}

static void
stored_root_changes_the_set(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	unsigned char root[20], legacy[20];
	size_t len;
	struct blob *bytes;

	free(cert_der("anchors/root.pem", &len, root));
	free(cert_der("anchors/legacy-root.pem", &len, legacy));
	assert_int_equal(import(f, "authroot-ok", NULL), ADMIT_ADMITTED);
	assert_int_equal(served_load(f->s, SERVED_BYTES | SERVED_LISTED, &set), STORE_OK);
	assert_int_equal(set.n_missing, 4);
	assert_int_equal(served_listed(&set, root)->stored, 0);

	put_cert(f, "anchors/root.pem", 1);
	refresh(f, &set, 1);
	assert_int_equal(set.n_listed, 4);
	assert_int_equal(set.n_missing, 3);
	assert_int_equal(served_listed(&set, root)->stored, 1);
	assert_int_equal(served_listed(&set, legacy)->stored, 0);
	assert_int_equal(set.kinds[KIND_AUTHROOT].present, 1);
	assert_non_null(set.kinds[KIND_AUTHROOT].bytes);
	assert_non_null(set.seq);
	refresh(f, &set, 0);

	/* the same certificate again writes nothing; an unlisted one changes no listed flag */
	put_cert(f, "anchors/root.pem", 0);
	refresh(f, &set, 0);
	bytes = set.kinds[KIND_AUTHROOT].bytes;
	put_cert(f, "untrusted/root.pem", 1);
	refresh(f, &set, 0);
	assert_ptr_equal(set.kinds[KIND_AUTHROOT].bytes, bytes);	/* not reloaded */
	assert_int_equal(set.n_missing, 3);

	put_cert(f, "anchors/legacy-root.pem", 1);
	refresh(f, &set, 1);
	assert_int_equal(set.n_missing, 2);
	assert_int_equal(served_listed(&set, legacy)->stored, 1);
	served_free(&set);
}

/* Commits that leave the set as it is cost a snapshot, not a reload. */
static void
bookkeeping_commits_leave_the_set(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	struct upstream_state up;
	struct store_event ev;
	struct version ver;
	struct blob *bytes, *seq;
	uint64_t gen;

	assert_int_equal(import(f, "authroot-sha1", NULL), ADMIT_ADMITTED);
	assert_int_equal(served_load(f->s, SERVED_BYTES | SERVED_LISTED, &set), STORE_OK);
	bytes = set.kinds[KIND_AUTHROOT].bytes;
	seq = set.seq;

	/* no commit at all */
	refresh(f, &set, 0);

	memset(&up, 0, sizeof(up));
	snprintf(up.etag, sizeof(up.etag), "\"abc\"");
	up.last_attempt = up.last_success = f->at;
	up.last_status = 200;
	gen = store_generation(f->s);
	assert_int_equal(store_upstream_put(f->s, "http://ctldl.example/authrootstl.cab", &up),
	    STORE_OK);
	assert_true(store_generation(f->s) != gen);	/* it did commit */
	refresh(f, &set, 0);

	memset(&ev, 0, sizeof(ev));
	ev.when = f->at;
	ev.type = EV_SYNC;
	ev.kind = KIND_AUTHROOT;
	snprintf(ev.text, sizeof(ev.text), "unchanged");
	gen = store_generation(f->s);
	assert_int_equal(store_log(f->s, &ev), STORE_OK);
	assert_true(store_generation(f->s) != gen);
	refresh(f, &set, 0);

	/* a newer copy that fails, and an older one that verifies: neither is served */
	assert_int_equal(import(f, "flipped-byte", &ver), ADMIT_QUARANTINED);
	assert_string_equal(ver.sequence, FLIPPED_SEQ);
	refresh(f, &set, 0);
	assert_int_equal(import(f, "authroot-ok", &ver), ADMIT_ROLLBACK);
	refresh(f, &set, 0);

	/* same blobs all along: nothing was copied */
	assert_ptr_equal(set.kinds[KIND_AUTHROOT].bytes, bytes);
	assert_ptr_equal(set.seq, seq);
	assert_string_equal(set.kinds[KIND_AUTHROOT].v.sequence, SHA1_SEQ);

	/* another kind appearing does change it */
	assert_int_equal(import(f, "disallowed-ok", &ver), ADMIT_ADMITTED);
	refresh(f, &set, 1);
	assert_int_equal(set.kinds[KIND_DISALLOWED].present, 1);
	assert_memory_equal(set.kinds[KIND_DISALLOWED].v.sha256, ver.sha256, 32);
	assert_non_null(set.kinds[KIND_DISALLOWED].bytes);
	assert_string_equal(set.kinds[KIND_AUTHROOT].v.sequence, SHA1_SEQ);
	/* and so does a pin of another kind, though what it serves is the same */
	assert_int_equal(store_pin(f->s, ver.sha256, f->at, NULL), STORE_OK);
	refresh(f, &set, 1);
	assert_int_equal(set.kinds[KIND_DISALLOWED].pinned, 1);
	assert_int_equal(set.kinds[KIND_AUTHROOT].pinned, 0);
	served_free(&set);
}

static void
pin_serves_the_older_version(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	struct version old, new;
	const struct served_kind *sk = &set.kinds[KIND_AUTHROOT];
	char etag[HEX_ETAG_LEN];
	unsigned char *buf;
	size_t len;

	assert_int_equal(import(f, "authroot-ok", &old), ADMIT_ADMITTED);
	assert_int_equal(import(f, "authroot-sha1", &new), ADMIT_ADMITTED);
	assert_int_equal(served_load(f->s, SERVED_BYTES | SERVED_LISTED, &set), STORE_OK);
	assert_memory_equal(sk->v.sha256, new.sha256, 32);
	assert_string_equal(sk->v.sequence, SHA1_SEQ);
	assert_int_equal(sk->pinned, 0);
	assert_memory_equal(set.seq->data, SHA1_SEQ, strlen(SHA1_SEQ));

	assert_int_equal(store_pin(f->s, old.sha256, f->at, NULL), STORE_OK);
	refresh(f, &set, 1);
	assert_int_equal(sk->present, 1);
	assert_int_equal(sk->pinned, 1);
	assert_memory_equal(sk->v.sha256, old.sha256, 32);
	assert_string_equal(sk->v.sequence, OK_SEQ);
	/* newest is still the newest, pins aside */
	assert_int_equal(sk->has_newest, 1);
	assert_memory_equal(sk->newest.sha256, new.sha256, 32);
	/* what is sent is the pinned file, and the sequence file agrees with it */
	buf = case_bytes("authroot-ok", &len);
	etag_of(buf, len, etag);
	assert_string_equal(sk->etag, etag);
	assert_int_equal(sk->bytes->len, len);
	assert_memory_equal(sk->bytes->data, buf, len);
	free(buf);
	assert_int_equal(set.seq->len, strlen(OK_SEQ));
	assert_memory_equal(set.seq->data, OK_SEQ, strlen(OK_SEQ));
	assert_int_equal(set.n_listed, 4);
	assert_true(served_is_newest(&set, &new));
	assert_false(served_is_newest(&set, &old));

	assert_int_equal(store_unpin(f->s, KIND_AUTHROOT, f->at), STORE_OK);
	refresh(f, &set, 1);
	assert_int_equal(sk->pinned, 0);
	assert_memory_equal(sk->v.sha256, new.sha256, 32);
	assert_memory_equal(set.seq->data, SHA1_SEQ, strlen(SHA1_SEQ));
	served_free(&set);
}

static void
newest_is_the_newest_admitted(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	struct version sha1v, okv, bad, dis, v;

	assert_int_equal(import(f, "authroot-sha1", &sha1v), ADMIT_ADMITTED);
	assert_int_equal(import(f, "authroot-ok", &okv), ADMIT_ROLLBACK);
	assert_int_equal(import(f, "flipped-byte", &bad), ADMIT_QUARANTINED);
	assert_int_equal(served_load(f->s, 0, &set), STORE_OK);
	assert_true(served_is_newest(&set, &sha1v));
	assert_int_equal(okv.rollback, 1);
	assert_false(served_is_newest(&set, &okv));		/* a rollback */
	assert_false(served_is_newest(&set, &bad));		/* quarantined, though newer */
	/* the rollback flag alone decides: the same record otherwise admitted is older */
	v = okv;
	v.rollback = 0;
	assert_false(served_is_newest(&set, &v));
	/* a kind with nothing admitted, and a kind out of range */
	memset(&dis, 0, sizeof(dis));
	dis.kind = KIND_DISALLOWED;
	snprintf(dis.sequence, sizeof(dis.sequence), "FFFF");
	assert_false(served_is_newest(&set, &dis));
	v = sha1v;
	v.kind = (enum ctl_kind)KIND_COUNT;
	assert_false(served_is_newest(&set, &v));
	served_free(&set);

	/* once a newer copy is admitted, the old newest is not */
	assert_int_equal(import(f, "legacy-anchor-ok", &v), ADMIT_ADMITTED);
	assert_int_equal(served_load(f->s, 0, &set), STORE_OK);
	assert_true(served_is_newest(&set, &v));
	assert_false(served_is_newest(&set, &sha1v));
	served_free(&set);
}

/*
 * Microsoft re-signs under the same sequence: of two admitted copies the
 * store serves the one whose chain ends last. Only that copy is the newest.
 */
static void
newest_among_resigned_copies(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	struct version a, b;
	const struct version *newest, *other;

	assert_int_equal(import(f, "authroot-ok", &a), ADMIT_ADMITTED);
	assert_int_equal(import(f, "authroot-resigned", &b), ADMIT_ADMITTED);
	assert_string_equal(a.sequence, b.sequence);
	assert_memory_not_equal(a.sha256, b.sha256, 32);
	assert_int_equal(served_load(f->s, 0, &set), STORE_OK);
	newest = memcmp(set.kinds[KIND_AUTHROOT].newest.sha256, a.sha256, 32) == 0 ? &a : &b;
	other = newest == &a ? &b : &a;
	assert_memory_equal(set.kinds[KIND_AUTHROOT].v.sha256, newest->sha256, 32);
	assert_true(served_is_newest(&set, newest));
	assert_false(served_is_newest(&set, other));
	served_free(&set);
}

static void
crt_only_for_listed_and_matching(void **state)
{
	struct fx *f = *state;
	struct served_set set;
	unsigned char root[20], legacy[20], untrusted[20], *rder, *lder, *uder;
	size_t rlen, llen, ulen;

	rder = cert_der("anchors/root.pem", &rlen, root);
	lder = cert_der("anchors/legacy-root.pem", &llen, legacy);
	uder = cert_der("untrusted/root.pem", &ulen, untrusted);
	assert_int_equal(import(f, "authroot-ok", NULL), ADMIT_ADMITTED);
	assert_int_equal(served_load(f->s, SERVED_LISTED, &set), STORE_OK);

	assert_true(served_crt_ok(&set, root, rder, rlen));
	assert_true(served_crt_ok(&set, legacy, lder, llen));
	/* a listed name with other bytes */
	assert_false(served_crt_ok(&set, root, lder, llen));
	assert_false(served_crt_ok(&set, legacy, rder, rlen));
	rder[rlen / 2] ^= 1;
	assert_false(served_crt_ok(&set, root, rder, rlen));
	rder[rlen / 2] ^= 1;
	assert_false(served_crt_ok(&set, root, rder, rlen - 1));
	assert_false(served_crt_ok(&set, root, rder, 0));
	/* a certificate the CTL does not list, under its own right name */
	assert_false(served_crt_ok(&set, untrusted, uder, ulen));
	served_free(&set);

	/* a set loaded without the listed roots allows none */
	assert_int_equal(served_load(f->s, SERVED_BYTES, &set), STORE_OK);
	assert_false(served_crt_ok(&set, root, rder, rlen));
	served_free(&set);
	free(rder);
	free(lder);
	free(uder);
}

static void
seqfile_is_upper_case(void **state)
{
	struct version v;
	char buf[80];

	(void)state;
	memset(&v, 0, sizeof(v));
	snprintf(v.sequence, sizeof(v.sequence), "1401da9b62e449e8ff");
	assert_int_equal(served_seqfile(&v, buf, sizeof(buf)), 18);
	assert_string_equal(buf, "1401DA9B62E449E8FF");
	/* cut to the buffer, always terminated */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(served_seqfile(&v, buf, 5), 4);
	assert_string_equal(buf, "1401");
	buf[0] = 'x';
	assert_int_equal(served_seqfile(&v, buf, 0), 0);
	assert_int_equal(buf[0], 'x');
	v.sequence[0] = '\0';
	assert_int_equal(served_seqfile(&v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void
blobs_count_references(void **state)
{
	static const char text[] = "authrootstl.cab bytes";
	struct blob *b, *r;

	(void)state;
	assert_non_null(b = blob_new(text, sizeof(text)));
	assert_int_equal(b->refs, 1);
	assert_int_equal(b->len, sizeof(text));
	assert_memory_equal(b->data, text, sizeof(text));
	assert_ptr_not_equal(b->data, text);
	r = blob_ref(b);
	assert_ptr_equal(r, b);
	assert_int_equal(b->refs, 2);
	blob_unref(b);
	assert_int_equal(r->refs, 1);
	blob_unref(r);		/* freed: ASan reports a leak otherwise */
	assert_null(blob_ref(NULL));
	blob_unref(NULL);
	assert_non_null(b = blob_new("", 0));
	assert_int_equal(b->len, 0);
	blob_unref(b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_store_serves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(admitted_authroot_is_served, setup, teardown),
		cmocka_unit_test_setup_teardown(stored_root_changes_the_set, setup, teardown),
		cmocka_unit_test_setup_teardown(bookkeeping_commits_leave_the_set, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_serves_the_older_version, setup, teardown),
		cmocka_unit_test_setup_teardown(newest_is_the_newest_admitted, setup, teardown),
		cmocka_unit_test_setup_teardown(newest_among_resigned_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(crt_only_for_listed_and_matching, setup, teardown),
		cmocka_unit_test(seqfile_is_upper_case),
		cmocka_unit_test(blobs_count_references),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURES\n", argv[0]);
		return 2;
	}
	fixtures = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
