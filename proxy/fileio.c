/*
 * fileio.c - bounded whole-file reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/fileio.h"

/* An anchor certificate is a few KB; a directory entry larger than this is not one. */
#define ANCHOR_FILE_MAX (1024 * 1024)

int
fileio_read(const char *path, size_t max, unsigned char **buf, size_t *len)
{
	struct stat st;
	unsigned char *p = NULL;
	size_t got = 0, cap;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
		err = EFBIG;
		goto out;
	}
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	if ((p = malloc(cap)) == NULL) {
		err = ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (got == cap) {
			unsigned char *q;

			if (cap > max) {
				err = EFBIG;
				goto out;
			}
			cap *= 2;
			if ((q = realloc(p, cap)) == NULL) {
				err = ENOMEM;
				goto out;
			}
			p = q;
		}
		n = read(fd, p + got, cap - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			err = EFBIG;
			goto out;
		}
	}
	if (got == cap) {	/* room for the terminating NUL */
		unsigned char *q;

		if ((q = realloc(p, cap + 1)) == NULL) {
			err = ENOMEM;
			goto out;
		}
		p = q;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	p = NULL;
out:
	free(p);
	close(fd);
	return err;
}

int
fileio_load_anchors(const char *dir, struct anchors *a, size_t *kept)
{
	DIR *d;
	struct dirent *de;

	*kept = 0;
	if ((d = opendir(dir)) == NULL)
		return errno;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		unsigned char *buf;
		size_t len, added;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (fileio_read(path, ANCHOR_FILE_MAX, &buf, &len) != 0)
			continue;
		if (anchors_offer(a, buf, len, &added) == ANCHORS_OK)
			*kept += added;
		free(buf);
	}
	closedir(d);
	return 0;
}
