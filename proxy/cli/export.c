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
#include "verify/verify.h"

static int
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
write_certs(struct store *s, const char *tmp, const unsigned char *cab,
    size_t cab_len, struct export_result *r, char *err, size_t err_len)
{
	struct verdict v;
	size_t i;
	int rc = 0;

	vfy_read_entries(cab, cab_len, KIND_AUTHROOT, &v);
	for (i = 0; i < v.n_entries && rc == 0; i++) {
		unsigned char *der;
		size_t len, k;
		char name[64];

		if (v.entries[i].id_len != 20 ||
		    store_get_cert(s, v.entries[i].id, &der, &len) != STORE_OK)
			continue;
		for (k = 0; k < 20; k++)
			snprintf(name + 2 * k, 3, "%02X", v.entries[i].id[k]);
		strcat(name, ".crt");
		rc = write_file(tmp, name, der, len, err, err_len);
		free(der);
		r->certs += rc == 0;
	}
	verdict_free(&v);
	return rc;
}

static int
write_lists(struct store *s, const char *tmp, struct export_result *r,
    char *err, size_t err_len)
{
	int k, rc = 0;

	for (k = KIND_AUTHROOT; k < KIND_COUNT && rc == 0; k++) {
		struct version v;
		unsigned char *buf = NULL;
		size_t len;
		char seq[sizeof(v.sequence)];
		enum store_err e;

		e = store_served_blob(s, (enum ctl_kind)k, &v, NULL, &buf, &len);
		if (e == STORE_ERR_NOTFOUND)
			continue;
		if (e != STORE_OK)
			return fail(err, err_len, "store: %s: %s", store_strerror(e), store_last_error(s));
		rc = write_file(tmp, ctl_kind_cab_name((enum ctl_kind)k), buf, len, err, err_len);
		r->lists += rc == 0;
		if (rc == 0 && ctl_kind_seq_name((enum ctl_kind)k) != NULL)
			rc = write_file(tmp, ctl_kind_seq_name((enum ctl_kind)k),
			    (const unsigned char *)seq, served_seqfile(&v, seq, sizeof(seq)),
			    err, err_len);
		if (rc == 0 && k == KIND_AUTHROOT)
			rc = write_certs(s, tmp, buf, len, r, err, err_len);
		free(buf);
	}
	return rc;
}

int
export_tree(struct store *s, const char *dir, struct export_result *r,
    char *err, size_t err_len)
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
