/*
 * privs.h - whom the daemon runs as: least privilege by default.
 *
 * The rules, applied once at start, after the listening sockets are bound
 * and the store is opened, and before any worker thread exists:
 *
 *   started as   user =       runs as
 *   root         (empty)      `ctlmirror` where that user exists, else `nobody`
 *   root         NAME         NAME (a start error when NAME does not exist)
 *   root         root         root, on purpose: a warning at start (and in status)
 *   not root     (empty)      itself: nothing changes
 *   not root     its own name itself
 *   not root     another name a start error: only root can switch users
 *
 * A NAME whose uid is 0 counts as `root`. Dropping is setgroups (the user's
 * primary group only), setgid, setuid, in that order, then checked: the real
 * and effective uid and gid are the target's and setuid(0) fails; otherwise
 * the daemon refuses to start. glibc's setuid applies to every thread, but
 * the daemon drops before it starts any.
 *
 * The store stays usable by the daemon and by the admin commands: before the
 * drop, the store directory and its own files (data.mdb, lock.mdb; symlinks
 * are not followed) that root owns are given to the target user and its group;
 * the directory only when it holds nothing else (a `store =` naming a shared
 * directory is not given away). Files someone else owns are left alone. Root's admin commands can write the
 * store anyway (and a file they create is given back at the next start);
 * the target user's commands can, since the files are theirs.
 *
 * After the drop the daemon reads its config (SIGHUP), the anchors directory
 * and the access log as the target user: they must be readable (the access
 * log's directory writable) by that user.
 */
#ifndef CTLMIRROR_PRIVS_H
#define CTLMIRROR_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

#define PRIVS_NAME_MAX 64

struct privs {
	uid_t uid;			/* whom the daemon runs as, after privs_drop */
	gid_t gid;
	char name[PRIVS_NAME_MAX];	/* that user's name ("uid N" if it has none) */
	int drop;			/* 1: started as root and will drop to uid/gid */
	int kept_root;			/* 1: `user = root`, root kept on purpose */
};

enum privs_err {
	PRIVS_OK = 0,
	PRIVS_ERR_NOUSER,	/* the configured user does not exist, nor does `nobody` */
	PRIVS_ERR_SWITCH,	/* not root, and the config names another user */
	PRIVS_ERR_CHOWN,	/* the store could not be given to the user */
	PRIVS_ERR_DROP,		/* a set*id call failed, or the check after it */
};

/*
 * Decides whom to run as from `user =` (the config's value, "" when unset)
 * and the process's own uid, by the table above. Reads the user database; does
 * not change anything. err (err_len bytes) says what is wrong, naming the user.
 */
enum privs_err privs_resolve(const char *user, struct privs *out, char *err, size_t err_len);

/*
 * Gives the store directory dir (if it holds only the store's files) and its
 * files data.mdb and lock.mdb to p's user and group, each only if root owns
 * it. A no-op unless p->drop.
 */
enum privs_err privs_chown_store(const struct privs *p, const char *dir, char *err,
    size_t err_len);

/*
 * Drops to p's user and group and checks that it took and cannot be undone.
 * A no-op unless p->drop. Call it before any thread is started.
 */
enum privs_err privs_drop(const struct privs *p, char *err, size_t err_len);

/* "ctlmirror (uid 998)", for the start line and status; returns buf. */
const char *privs_describe(const struct privs *p, char *buf, size_t len);

#endif
