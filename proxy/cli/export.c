/*
 * export.c - write the served files to a directory, never half-written.
 */
#define _GNU_SOURCE	/* renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/cli/export.h"
#include "proxy/served.h"

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int
write_file(const char *dir, const char *name, const unsigned char *buf,
    size_t len, char *err, size_t err_len)
{
	char path[PATH_MAX];
	size_t off = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return fail(err, err_len, "path too long: %s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return fail(err, err_len, "cannot create %s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return fail(err, err_len, "cannot write %s: %s", path, strerror(errno));
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0)
		return fail(err, err_len, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The listed roots of the served authroot CTL whose certificates the store holds. */
static int
write_certs(struct store *s, const struct served_set *set, const char *tmp,
    struct export_result *r, char *err, size_t err_len)
{
	size_t i;
	int rc = 0;

	if (set->n_listed > 0 && (r->missing = calloc(set->n_listed, sizeof(*r->missing))) == NULL)
		return fail(err, err_len, "out of memory");
	for (i = 0; i < set->n_listed && rc == 0; i++) {
		unsigned char *der;
		size_t len;
		char name[HEX_CRT_NAME_LEN];

		if (!set->listed[i].stored ||
		    store_get_cert(s, set->listed[i].sha1, &der, &len) != STORE_OK) {
			memcpy(r->missing[r->n_missing++], set->listed[i].sha1, 20);
			continue;
		}
		hex_crt_name(set->listed[i].sha1, name);
		rc = write_file(tmp, name, der, len, err, err_len);
		free(der);
		r->certs += rc == 0;
	}
	return rc;
}

/* The served set's files: each kind's cab, authrootseq.txt, the listed roots. */
static int
write_lists(struct store *s, const char *tmp, struct export_result *r,
    char *err, size_t err_len)
{
	struct served_set set;
	enum store_err e;
	int k, rc = 0;

	if ((e = served_load(s, SERVED_BYTES | SERVED_LISTED, &set)) != STORE_OK)
		return fail(err, err_len, "store: %s: %s", store_strerror(e), store_last_error(s));
	for (k = KIND_AUTHROOT; k < KIND_COUNT && rc == 0; k++) {
		const struct served_kind *sk = &set.kinds[k];

		if (!sk->present)
			continue;
		rc = write_file(tmp, ctl_kind_cab_name((enum ctl_kind)k), sk->bytes->data,
		    sk->bytes->len, err, err_len);
		r->lists += rc == 0;
	}
	if (rc == 0 && set.seq != NULL)
		rc = write_file(tmp, ctl_kind_seq_name(KIND_AUTHROOT), set.seq->data,
		    set.seq->len, err, err_len);
	if (rc == 0)
		rc = write_certs(s, &set, tmp, r, err, err_len);
	served_free(&set);
	return rc;
}

void
export_result_free(struct export_result *r)
{
	free(r->missing);
	r->missing = NULL;
	r->n_missing = 0;
}

int
export_tree(struct store *s, const char *dir, int allow_missing,
    struct export_result *r, char *err, size_t err_len)
{
	char tmp[PATH_MAX], copy[PATH_MAX], *parent, *base;
	struct stat st;
	int exists, fd, rc = -1;

	memset(r, 0, sizeof(*r));
	snprintf(copy, sizeof(copy), "%s", dir);
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	base = basename(strdupa(copy));
	parent = dirname(strdupa(copy));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-XXXXXX", parent, base) >= sizeof(tmp))
		return fail(err, err_len, "path too long: %s", dir);
	exists = stat(copy, &st) == 0;
	if (exists && !S_ISDIR(st.st_mode))
		return fail(err, err_len, "%s exists and is not a directory", copy);
	if (mkdtemp(tmp) == NULL)
		return fail(err, err_len, "cannot create a directory beside %s: %s", copy, strerror(errno));
	chmod(tmp, 0755);
	if (write_lists(s, tmp, r, err, err_len) != 0)
		goto out;
	if (r->n_missing > 0 && !allow_missing) {
		fail(err, err_len, "%zu listed root certificate%s not in the store: %s left as it was",
		    r->n_missing, r->n_missing == 1 ? " is" : "s are", copy);
		rc = 1;
		goto out;
	}
	if ((fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	if (!exists) {
		if (rename(tmp, copy) != 0) {
			fail(err, err_len, "cannot rename %s to %s: %s", tmp, copy, strerror(errno));
			goto out;
		}
	} else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, copy, RENAME_EXCHANGE) != 0) {
		fail(err, err_len, "cannot swap %s into place: %s", copy, strerror(errno));
		goto out;
	}
	rc = 0;		/* tmp now holds the old tree, or nothing */
out:
	rm_tree(tmp);
	return rc;
}
