/* testutil.h - small helpers shared by the cmocka tests (header-only). */
#ifndef CTLMIRROR_TESTUTIL_H
#define CTLMIRROR_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

/* Reads dir/name whole into a malloc'd buffer; fails the test if it cannot. */
static inline unsigned char *
test_read(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	unsigned char *buf = NULL;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		abort();
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
