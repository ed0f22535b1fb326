/*
 * cache.h - the served files, held in memory between store changes.
 *
 * The server answers every request from here. cache_refresh() compares the
 * store's generation (LMDB's last committed transaction) with the one the
 * cache was built from and reloads only when something was committed, so an
 * `import` or `pin` from the CLI takes effect on the next request while an
 * unchanged store costs one lock-free read per request.
 */
#ifndef CTLMIRROR_CACHE_H
#define CTLMIRROR_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proxy/served.h"
#include "store/store.h"

struct served_file {
	int present;
	int pinned;
	struct version v;
	struct blob *blob;
	char etag[72];		/* "\"<sha256 hex>\"" */
};

struct cache {
	int loaded;
	uint64_t generation;
	struct served_file kinds[KIND_COUNT];
	struct blob *seq;	/* authrootseq.txt, or NULL when authroot has nothing */
	char seq_etag[72];
	unsigned char (*listed)[20];	/* sorted thumbprints of the served authroot CTL */
	size_t n_listed;
};

/* Reloads from the store if it changed since the last load. */
enum store_err cache_refresh(struct cache *c, struct store *s);

/* Does the served authroot CTL list this SHA-1 thumbprint? */
int cache_lists(const struct cache *c, const unsigned char sha1[20]);

void cache_free(struct cache *c);

#endif
