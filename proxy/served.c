/*
 * served.c - the served set (see served.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "proxy/served.h"
#include "verify/verify.h"

struct blob *
blob_new(const void *data, size_t len)
{
	struct blob *b = malloc(sizeof(*b) + len);

	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->len = len;
	memcpy(b->data, data, len);
	return b;
}

struct blob *
blob_ref(struct blob *b)
{
	if (b != NULL)
		b->refs++;
	return b;
}

void
blob_unref(struct blob *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

size_t
served_seqfile(const struct version *v, char *buf, size_t len)
{
	size_t i, n = 0;

	for (i = 0; v->sequence[i] != '\0' && n + 1 < len; i++)
		buf[n++] = (char)(v->sequence[i] >= 'a' && v->sequence[i] <= 'f' ?
		    v->sequence[i] - 'a' + 'A' : v->sequence[i]);
	if (len > 0)
		buf[n] = '\0';
	return n;
}

static int
sha1_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 20);
}

/* Per kind: the served version and why, and the newest admitted one. */
static enum store_err
read_kinds(struct store_snap *snap, struct served_kind kinds[KIND_COUNT])
{
	enum store_err e;
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		struct served_kind *sk = &kinds[k];

		e = store_snap_served(snap, (enum ctl_kind)k, 0, &sk->v, &sk->pinned);
		if (e == STORE_ERR_NOTFOUND)
			continue;
		if (e != STORE_OK)
			return e;
		sk->present = 1;
		hex_etag(sk->v.sha256, sk->etag);
		/* a store from before served-since was kept: the version's first sight */
		sk->modified = sk->v.served_since != 0 ? sk->v.served_since : sk->v.first_seen;
		if (sk->pinned && ((e = store_snap_pin(snap, (enum ctl_kind)k, &sk->pin)) != STORE_OK ||
		    (e = store_snap_newer(snap, &sk->v, &sk->newer_held)) != STORE_OK))
			return e;
		e = store_snap_served(snap, (enum ctl_kind)k, 1, &sk->newest, NULL);
		if (e == STORE_OK)
			sk->has_newest = 1;
		else if (e != STORE_ERR_NOTFOUND)
			return e;
	}
	return STORE_OK;
}

/* Marks each listed root stored or not, as the snapshot has it. */
static enum store_err
mark_stored(struct store_snap *snap, struct served_set *set)
{
	enum store_err e;
	size_t i;

	set->n_missing = 0;
	for (i = 0; i < set->n_listed; i++) {
		if ((e = store_snap_has_cert(snap, set->listed[i].sha1,
		    &set->listed[i].stored)) != STORE_OK)
			return e;
		set->n_missing += !set->listed[i].stored;
	}
	return STORE_OK;
}

/* The thumbprints the served authroot CTL lists, sorted for bsearch. */
static enum store_err
read_listed(struct store_snap *snap, const unsigned char *cab, size_t len,
    struct served_set *set)
{
	struct verdict v;
	size_t i;

	vfy_read_entries(cab, len, KIND_AUTHROOT, &v);
	if (v.n_entries > 0 &&
	    (set->listed = calloc(v.n_entries, sizeof(*set->listed))) == NULL) {
		verdict_free(&v);
		return STORE_ERR_NOMEM;
	}
	for (i = 0; i < v.n_entries; i++)
		if (v.entries[i].id_len == 20)
			memcpy(set->listed[set->n_listed++].sha1, v.entries[i].id, 20);
	verdict_free(&v);
	qsort(set->listed, set->n_listed, sizeof(*set->listed), sha1_cmp);
	return mark_stored(snap, set);
}

/* What the set is: per kind the served and newest versions and the pin; the stored roots. */
static void
digest_of(struct served_set *set)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char flags[4];
	size_t i;
	int k;

	memset(set->digest, 0, sizeof(set->digest));
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		const struct served_kind *sk = &set->kinds[k];

		flags[0] = (unsigned char)sk->present;
		flags[1] = (unsigned char)sk->pinned;
		flags[2] = (unsigned char)sk->has_newest;
		flags[3] = 0;
		EVP_DigestUpdate(ctx, flags, sizeof(flags));
		EVP_DigestUpdate(ctx, sk->present ? sk->v.sha256 : set->digest, 32);
		EVP_DigestUpdate(ctx, sk->has_newest ? sk->newest.sha256 : set->digest, 32);
		EVP_DigestUpdate(ctx, &sk->modified, sizeof(sk->modified));
	}
	for (i = 0; i < set->n_listed; i++) {
		flags[0] = (unsigned char)set->listed[i].stored;
		EVP_DigestUpdate(ctx, set->listed[i].sha1, 20);
		EVP_DigestUpdate(ctx, flags, 1);
	}
	EVP_DigestFinal_ex(ctx, set->digest, NULL);
out:
	EVP_MD_CTX_free(ctx);
}

/* The whole set as the snapshot has it. */
static enum store_err
load_in(struct store_snap *snap, int flags, struct served_set *out)
{
	enum store_err e;
	int k;

	memset(out, 0, sizeof(*out));
	out->flags = flags;
	out->generation = store_snap_generation(snap);
	if ((e = read_kinds(snap, out->kinds)) != STORE_OK)
		goto fail;
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		struct served_kind *sk = &out->kinds[k];
		int listed = (flags & SERVED_LISTED) && k == KIND_AUTHROOT;
		unsigned char *buf = NULL;
		size_t len = 0;

		if (!sk->present || (!(flags & SERVED_BYTES) && !listed))
			continue;
		if ((e = store_snap_blob(snap, sk->v.sha256, &buf, &len)) != STORE_OK)
			goto fail;
		if ((flags & SERVED_BYTES) && (sk->bytes = blob_new(buf, len)) == NULL)
			e = STORE_ERR_NOMEM;
		else if (listed)
			e = read_listed(snap, buf, len, out);
		free(buf);
		if (e != STORE_OK)
			goto fail;
	}
	if ((flags & SERVED_BYTES) && out->kinds[KIND_AUTHROOT].present) {
		char seq[sizeof(out->kinds[0].v.sequence)];
		size_t n = served_seqfile(&out->kinds[KIND_AUTHROOT].v, seq, sizeof(seq));

		/* the sequence file changes exactly when the served cab does */
		snprintf(out->seq_etag, sizeof(out->seq_etag), "\"seq-%.40s\"",
		    out->kinds[KIND_AUTHROOT].etag + 1);
		if ((out->seq = blob_new(seq, n)) == NULL) {
			e = STORE_ERR_NOMEM;
			goto fail;
		}
	}
	digest_of(out);
	out->loaded = 1;
	return STORE_OK;
fail:
	served_free(out);
	return e;
}

enum store_err
served_load(struct store *s, int flags, struct served_set *out)
{
	struct store_snap *snap;
	enum store_err e;

	memset(out, 0, sizeof(*out));
	if ((e = store_snap_begin(s, &snap)) != STORE_OK)
		return e;
	e = load_in(snap, flags, out);
	store_snap_end(snap);
	return e;
}

/*
 * The identity of the set as the snapshot has it, with the listed roots
 * taken from set (they depend on the served authroot alone). Returns 1 if
 * it is the same as set's, 0 if not (or it could not be told).
 */
static int
unchanged(struct store_snap *snap, const struct served_set *set)
{
	struct served_set probe;
	const struct served_kind *was = &set->kinds[KIND_AUTHROOT];
	int same = 0;

	memset(&probe, 0, sizeof(probe));
	if (read_kinds(snap, probe.kinds) != STORE_OK)
		goto out;
	if (probe.kinds[KIND_AUTHROOT].present != was->present ||
	    (was->present && memcmp(probe.kinds[KIND_AUTHROOT].v.sha256, was->v.sha256, 32) != 0))
		goto out;
	if (set->n_listed > 0) {
		if ((probe.listed = malloc(set->n_listed * sizeof(*probe.listed))) == NULL)
			goto out;
		memcpy(probe.listed, set->listed, set->n_listed * sizeof(*probe.listed));
		probe.n_listed = set->n_listed;
		if (mark_stored(snap, &probe) != STORE_OK)
			goto out;
	}
	digest_of(&probe);
	same = memcmp(probe.digest, set->digest, sizeof(probe.digest)) == 0;
out:
	free(probe.listed);
	return same;
}

enum store_err
served_refresh(struct store *s, struct served_set *set, int *changed)
{
	struct store_snap *snap;
	struct served_set fresh;
	enum store_err e;

	*changed = 0;
	if (set->loaded && store_generation(s) == set->generation)
		return STORE_OK;
	if ((e = store_snap_begin(s, &snap)) != STORE_OK)
		return e;
	if (set->loaded && unchanged(snap, set)) {
		set->generation = store_snap_generation(snap);
		store_snap_end(snap);
		return STORE_OK;
	}
	e = load_in(snap, set->flags, &fresh);
	store_snap_end(snap);
	if (e != STORE_OK)
		return e;
	served_free(set);
	*set = fresh;
	*changed = 1;
	return STORE_OK;
}

void
served_free(struct served_set *set)
{
	int k;

	for (k = 0; k < KIND_COUNT; k++)
		blob_unref(set->kinds[k].bytes);
	blob_unref(set->seq);
	free(set->listed);
	memset(set, 0, sizeof(*set));
}

const struct listed_root *
served_listed(const struct served_set *set, const unsigned char sha1[20])
{
	if (set->n_listed == 0)
		return NULL;
	return bsearch(sha1, set->listed, set->n_listed, sizeof(*set->listed), sha1_cmp);
}

int
served_crt_ok(const struct served_set *set, const unsigned char name[20],
    const unsigned char *der, size_t len)
{
	unsigned char sha1[20];

	return served_listed(set, name) != NULL &&
	    EVP_Digest(der, len, sha1, NULL, EVP_sha1(), NULL) &&
	    memcmp(sha1, name, 20) == 0;
}

int
served_is_newest(const struct served_set *set, const struct version *v)
{
	const struct served_kind *sk;

	if ((unsigned)v->kind >= KIND_COUNT || v->reason != VFY_OK || v->rollback)
		return 0;
	sk = &set->kinds[v->kind];
	/* the copy itself: of two re-signed copies of one sequence, one is the newest */
	return sk->has_newest && memcmp(v->sha256, sk->newest.sha256, 32) == 0;
}
