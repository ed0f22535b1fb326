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
};

/*
 * Writes the served cabs, authrootseq.txt and the listed roots' .crt files
 * that the store holds into a new directory beside dir, then renames it into
 * place (swapping atomically with an existing dir). Returns 0, or -1 with err
 * saying what failed; dir is then left as it was.
 */
int export_tree(struct store *s, const char *dir, struct export_result *r,
    char *err, size_t err_len);

#endif
