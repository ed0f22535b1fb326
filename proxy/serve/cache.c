/*
 * cache.c - served files in memory, reloaded when the store changes.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/serve/cache.h"
#include "proxy/served.h"
#include "verify/verify.h"

static void
etag_of(const unsigned char sha256[32], char out[72])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	out[0] = '"';
	for (i = 0; i < 32; i++) {
		out[1 + 2 * i] = hex[sha256[i] >> 4];
		out[2 + 2 * i] = hex[sha256[i] & 15];
	}
	out[65] = '"';
	out[66] = '\0';
}

static int
sha1_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 20);
}

/* The thumbprints the served authroot CTL lists, sorted for bsearch. */
static int
load_listed(struct cache *c, const struct blob *cab)
{
	struct verdict v;
	size_t i;

	vfy_read_entries(cab->data, cab->len, KIND_AUTHROOT, &v);
	if (v.n_entries > 0 && (c->listed = calloc(v.n_entries, 20)) == NULL) {
		verdict_free(&v);
		return 0;
	}
	for (i = 0; i < v.n_entries; i++)
		if (v.entries[i].id_len == 20)
			memcpy(c->listed[c->n_listed++], v.entries[i].id, 20);
	qsort(c->listed, c->n_listed, 20, sha1_cmp);
	verdict_free(&v);
	return 1;
}

enum store_err
cache_refresh(struct cache *c, struct store *s)
{
	struct cache fresh;
	uint64_t gen = store_generation(s);
	enum store_err err = STORE_OK;
	int k;

	if (c->loaded && gen == c->generation)
		return STORE_OK;
	memset(&fresh, 0, sizeof(fresh));
	fresh.generation = gen;
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		struct served_file *f = &fresh.kinds[k];
		unsigned char *buf = NULL;
		size_t len;

		err = store_served_blob(s, (enum ctl_kind)k, &f->v, &f->pinned, &buf, &len);
		if (err == STORE_ERR_NOTFOUND)
			continue;
		if (err != STORE_OK)
			goto fail;
		f->blob = blob_new(buf, len);
		free(buf);
		if (f->blob == NULL) {
			err = STORE_ERR_NOMEM;
			goto fail;
		}
		f->present = 1;
		etag_of(f->v.sha256, f->etag);
	}
	if (fresh.kinds[KIND_AUTHROOT].present) {
		char seq[sizeof(fresh.kinds[0].v.sequence)];
		size_t n = served_seqfile(&fresh.kinds[KIND_AUTHROOT].v, seq, sizeof(seq));

		/* the sequence file changes exactly when the served cab does */
		snprintf(fresh.seq_etag, sizeof(fresh.seq_etag), "\"seq-%.40s\"",
		    fresh.kinds[KIND_AUTHROOT].etag + 1);
		if ((fresh.seq = blob_new(seq, n)) == NULL ||
		    !load_listed(&fresh, fresh.kinds[KIND_AUTHROOT].blob)) {
			err = STORE_ERR_NOMEM;
			goto fail;
		}
	}
	fresh.loaded = 1;
	cache_free(c);
	*c = fresh;
	return STORE_OK;
fail:
	cache_free(&fresh);
	return err;
}

int
cache_lists(const struct cache *c, const unsigned char sha1[20])
{
	return c->n_listed > 0 &&
	    bsearch(sha1, c->listed, c->n_listed, 20, sha1_cmp) != NULL;
}

void
cache_free(struct cache *c)
{
	int k;

	for (k = 0; k < KIND_COUNT; k++)
		blob_unref(c->kinds[k].blob);
	blob_unref(c->seq);
	free(c->listed);
	memset(c, 0, sizeof(*c));
}
