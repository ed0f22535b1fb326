/*
 * fileio.h - whole-file reads with a size bound, and anchor directories.
 */
#ifndef CTLMIRROR_FILEIO_H
#define CTLMIRROR_FILEIO_H

#include <stddef.h>

#include "verify/anchors.h"

/*
 * Reads the file at path into a malloc'd buffer (*buf, *len), followed by a
 * NUL byte not counted in *len. Files larger than max bytes are refused. Returns 0, or an errno value (EFBIG when too
 * large).
 */
int fileio_read(const char *path, size_t max, unsigned char **buf, size_t *len);

/*
 * Offers every regular file in dir (PEM or DER certificates) to the anchors.
 * Returns 0, or an errno value if the directory cannot be read. Files that
 * are not certificates are skipped; *kept gets the number of anchors kept.
 */
int fileio_load_anchors(const char *dir, struct anchors *a, size_t *kept);

#endif
