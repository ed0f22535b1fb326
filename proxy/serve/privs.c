/*
 * privs.c - whom the daemon runs as (see privs.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/serve/privs.h"

/* The users an unconfigured root start drops to, the first that exists. */
static const char *const default_users[] = { "ctlmirror", "nobody" };

static void
fill(struct privs *p, const struct passwd *pw)
{
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->name, sizeof(p->name), "%s", pw->pw_name);
}

/* The user database's answer for name; NULL with err set when it has none. */
static const struct passwd *
lookup(const char *name, char *err, size_t err_len)
{
	const struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		snprintf(err, err_len, "user '%s' does not exist%s%s: create it or change "
		    "'user =' in the config", name, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
	return pw;
}

enum privs_err
privs_resolve(const char *user, struct privs *out, char *err, size_t err_len)
{
	const struct passwd *pw = NULL;
	uid_t self = geteuid();
	size_t i;

	memset(out, 0, sizeof(*out));
	if (err_len > 0)
		err[0] = '\0';
	out->uid = self;
	out->gid = getegid();
	if ((pw = getpwuid(self)) != NULL)
		snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
	else
		snprintf(out->name, sizeof(out->name), "uid %lu", (unsigned long)self);
	if (self != 0) {
		/* not root: nothing changes, and nothing else is possible */
		if (user[0] == '\0')
			return PRIVS_OK;
		if ((pw = lookup(user, err, err_len)) == NULL)
			return PRIVS_ERR_NOUSER;
		if (pw->pw_uid != self) {
			snprintf(err, err_len, "user = %s, but the daemon runs as %s and only root "
			    "can switch users: start it as root or as %s, or remove 'user ='",
			    user, out->name, user);
			return PRIVS_ERR_SWITCH;
		}
		return PRIVS_OK;
	}
	if (user[0] != '\0') {
		if ((pw = lookup(user, err, err_len)) == NULL)
			return PRIVS_ERR_NOUSER;
	} else {
		pw = NULL;
		for (i = 0; i < sizeof(default_users) / sizeof(default_users[0]) && pw == NULL; i++)
			pw = getpwnam(default_users[i]);
		if (pw == NULL) {
			snprintf(err, err_len, "started as root and neither user 'ctlmirror' nor "
			    "'nobody' exists: create one, or set 'user =' (user = root keeps root)");
			return PRIVS_ERR_NOUSER;
		}
	}
	if (pw->pw_uid == 0) {
		out->kept_root = 1;
		return PRIVS_OK;
	}
	fill(out, pw);
	out->drop = 1;
	return PRIVS_OK;
}

/*
 * Gives one of the store's own entries to p's user if root owns it: name
 * relative to the directory dirfd ("" for the directory itself), no symlink.
 */
static enum privs_err
give(const struct privs *p, int dirfd, const char *dir, const char *name, char *err,
    size_t err_len)
{
	struct stat st;
	int self = name[0] == '\0';

	if ((self ? fstat(dirfd, &st) : fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) != 0) {
		if (errno == ENOENT)
			return PRIVS_OK;
		snprintf(err, err_len, "store %s%s%s: %s", dir, self ? "" : "/", name,
		    strerror(errno));
		return PRIVS_ERR_CHOWN;
	}
	if (st.st_uid != 0 || (!self && !S_ISREG(st.st_mode)))
		return PRIVS_OK;
	if ((self ? fchown(dirfd, p->uid, p->gid) :
	    fchownat(dirfd, name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW)) != 0) {
		snprintf(err, err_len, "cannot give store %s%s%s to user %s: %s", dir,
		    self ? "" : "/", name, p->name, strerror(errno));
		return PRIVS_ERR_CHOWN;
	}
	return PRIVS_OK;
}

/*
 * Whether the directory holds the store's files and nothing else: a `store =`
 * naming a shared directory (/var/lib) must not give it away. 0 when unsure.
 */
static int
only_store_files(int dirfd)
{
	const struct dirent *de;
	DIR *d;
	int fd, only = 1;

	if ((fd = dup(dirfd)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while (only && (de = readdir(d)) != NULL)
		only = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "data.mdb") == 0 || strcmp(de->d_name, "lock.mdb") == 0;
	closedir(d);
	return only;
}

enum privs_err
privs_chown_store(const struct privs *p, const char *dir, char *err, size_t err_len)
{
	static const char *const entries[] = { "", "data.mdb", "lock.mdb" };
	enum privs_err e = PRIVS_OK;
	size_t i;
	int fd;

	if (err_len > 0)
		err[0] = '\0';
	if (!p->drop)
		return PRIVS_OK;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, err_len, "store %s: %s", dir, strerror(errno));
		return PRIVS_ERR_CHOWN;
	}
	/* the directory itself only when it is the store's alone */
	for (i = only_store_files(fd) ? 0 : 1;
	    i < sizeof(entries) / sizeof(entries[0]) && e == PRIVS_OK; i++)
		e = give(p, fd, dir, entries[i], err, err_len);
	close(fd);
	return e;
}

enum privs_err
privs_drop(const struct privs *p, char *err, size_t err_len)
{
	gid_t groups[2];
	int n;

	if (err_len > 0)
		err[0] = '\0';
	if (!p->drop)
		return PRIVS_OK;
	/* groups first: after setuid there is no right left to change them */
	if (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0) {
		snprintf(err, err_len, "cannot drop privileges to %s: %s", p->name,
		    strerror(errno));
		return PRIVS_ERR_DROP;
	}
	n = getgroups(2, groups);
	if (getuid() != p->uid || geteuid() != p->uid || getgid() != p->gid ||
	    getegid() != p->gid || n != 1 || groups[0] != p->gid) {
		snprintf(err, err_len, "dropping privileges to %s did not take (uid %lu, euid "
		    "%lu, gid %lu, egid %lu): refusing to run", p->name, (unsigned long)getuid(),
		    (unsigned long)geteuid(), (unsigned long)getgid(), (unsigned long)getegid());
		return PRIVS_ERR_DROP;
	}
	if (setuid(0) == 0) {
		snprintf(err, err_len, "after dropping to %s, root could be regained: "
		    "refusing to run", p->name);
		return PRIVS_ERR_DROP;
	}
	return PRIVS_OK;
}

const char *
privs_describe(const struct privs *p, char *buf, size_t len)
{
	if (strncmp(p->name, "uid ", 4) == 0)
		snprintf(buf, len, "%s", p->name);
	else
		snprintf(buf, len, "%s (uid %lu)", p->name, (unsigned long)p->uid);
	return buf;
}
