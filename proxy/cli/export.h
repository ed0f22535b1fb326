/*
 * export.h - the served files as a static tree (the RootDirURL layout).
 */
#ifndef CTLMIRROR_EXPORT_H
#define CTLMIRROR_EXPORT_H

#include <stddef.h>

#include "store/store.h"

struct export_result {
	size_t lists;	/* cabs written */
	size_t certs;	/* <SHA1>.crt written */
	size_t n_missing;		/* listed roots whose certificate the store lacks */
	unsigned char (*missing)[20];	/* their SHA-1s, sorted; export_result_free() */
};

/*
 * Writes the served cabs, authrootseq.txt and the listed roots' .crt files
 * that the store holds into a new directory beside dir, then renames it into
 * place (swapping atomically with an existing dir). The listed roots it could
 * not include are in r->missing either way; when there are any and
 * allow_missing is 0, nothing is renamed: dir is left as it was, and the
 * return is 1 (err says how many). Returns 0, 1, or -1 with err saying what
 * failed (dir left as it was). Release r with export_result_free() whatever
 * the return.
 */
int export_tree(struct store *s, const char *dir, int allow_missing,
    struct export_result *r, char *err, size_t err_len);

void export_result_free(struct export_result *r);

#endif
