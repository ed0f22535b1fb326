/*
 * store_env.c - the LMDB environment: checking or making the directory,
 * opening the named databases, closing; the store's settings (the
 * failed-copy budget, the clock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "store/store.h"
#include "store/store_budget.h"
#include "store/store_codec.h"

/* Read-only open: the directory and data.mdb must be there and readable. */
static enum store_err
check_readonly_dir(struct store *s)
{
	char path[4096];
	struct stat st;

	if (stat(s->dir, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			store_seterr(s, "store %s does not exist: import a file first "
			    "(ctlmirror import) or check 'store =' in the config", s->dir);
			return STORE_ERR_MISSING;
		}
		store_seterr(s, "cannot reach store %s: %s: run as the user that owns "
		    "it or fix its permissions", s->dir, strerror(errno));
		return STORE_ERR_ACCESS;
	}
	if (!S_ISDIR(st.st_mode)) {
		store_seterr(s, "store %s is not a directory: check 'store =' in the "
		    "config", s->dir);
		return STORE_ERR_MISSING;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", s->dir);
	if (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
		store_seterr(s, "store %s has no data.mdb: import a file first "
		    "(ctlmirror import) or check 'store =' in the config", s->dir);
		return STORE_ERR_MISSING;
	}
	if (access(path, R_OK) != 0) {
		store_seterr(s, "cannot read %s: %s: run as the user that owns the "
		    "store or fix its permissions", path, strerror(errno));
		return STORE_ERR_ACCESS;
	}
	return STORE_OK;
}

/* Writable open: create the directory (one level) and make sure we may write in it. */
static enum store_err
prepare_writable_dir(struct store *s)
{
	struct stat st;

	if (mkdir(s->dir, 0750) != 0 && errno != EEXIST) {
		store_seterr(s, "cannot create store directory %s: %s: create it and "
		    "give it to the user ctlmirror runs as, or check 'store =' "
		    "in the config", s->dir, strerror(errno));
		return STORE_ERR_ACCESS;
	}
	if (stat(s->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		store_seterr(s, "store %s is not a directory: check 'store =' in the "
		    "config", s->dir);
		return STORE_ERR_ACCESS;
	}
	if (access(s->dir, W_OK | X_OK) != 0) {
		store_seterr(s, "store %s is not writable by this user: %s: run as the "
		    "user that owns it, or fix its permissions", s->dir,
		    strerror(errno));
		return STORE_ERR_ACCESS;
	}
	return STORE_OK;
}

/* Opens the named databases and checks (or, new, writes) the schema. */
static enum store_err
open_dbs(struct store *s)
{
	const struct { const char *name; MDB_dbi *dbi; } dbs[] = {
		{ "meta", &s->meta }, { "blobs", &s->blobs },
		{ "versions", &s->versions }, { "pins", &s->pins },
		{ "certs", &s->certs }, { "upstream", &s->upstream },
		{ "events", &s->events },
	};
	MDB_val k = store_val("schema", 6), d;
	MDB_txn *txn = NULL;
	enum store_err e;
	size_t i;
	int rc;

	if ((e = store_txn_begin(s, !s->readonly, &txn)) != STORE_OK)
		goto out;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, s->readonly ? 0 : MDB_CREATE,
		    dbs[i].dbi);
		if (rc == MDB_NOTFOUND) {
			store_seterr(s, "store %s has no '%s' database: it was not "
			    "written by ctlmirror (expected schema %s)", s->dir,
			    dbs[i].name, STORE_SCHEMA);
			e = STORE_ERR_SCHEMA;
			goto out;
		}
		if (rc != 0) {
			e = store_fail(s, rc, "opening its databases");
			goto out;
		}
	}
	rc = mdb_get(txn, s->meta, &k, &d);
	if (rc == MDB_NOTFOUND && !s->readonly) {
		/* a new store: say which layout it holds before anything else */
		d = store_val(STORE_SCHEMA, strlen(STORE_SCHEMA));
		if ((rc = mdb_put(txn, s->meta, &k, &d, 0)) != 0) {
			e = store_fail(s, rc, "writing its schema");
			goto out;
		}
	} else if (rc == MDB_NOTFOUND) {
		store_seterr(s, "store %s has no schema record: it was not written by "
		    "ctlmirror (expected schema %s)", s->dir, STORE_SCHEMA);
		e = STORE_ERR_SCHEMA;
		goto out;
	} else if (rc != 0) {
		e = store_fail(s, rc, "reading its schema");
		goto out;
	} else if (d.mv_size != strlen(STORE_SCHEMA) ||
	    memcmp(d.mv_data, STORE_SCHEMA, d.mv_size) != 0) {
		char found[65];
		size_t n = d.mv_size < sizeof(found) - 1 ? d.mv_size : sizeof(found) - 1;

		/* the value is not NUL-terminated and may be anything: copy, then tame */
		memcpy(found, d.mv_data, n);
		found[n] = '\0';
		for (i = 0; i < n; i++)
			if ((unsigned char)found[i] < 0x20 || (unsigned char)found[i] >= 0x7f)
				found[i] = '?';
		store_seterr(s, "store %s has schema '%s' but this ctlmirror reads '%s': "
		    "use the ctlmirror that wrote it, or a new store directory",
		    s->dir, found, STORE_SCHEMA);
		e = STORE_ERR_SCHEMA;
		goto out;
	}
	/* committing (read txns too) keeps the database handles for the env */
	e = store_txn_commit(s, &txn);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_open(const char *dir, size_t map_size_mb, int readonly,
    struct store **out, char *err, size_t err_len)
{
	struct store *s;
	enum store_err e;
	int rc;

	*out = NULL;
	if (err_len > 0)
		err[0] = '\0';
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		snprintf(err, err_len, "out of memory opening store %s", dir);
		return STORE_ERR_NOMEM;
	}
	s->readonly = readonly != 0;
	s->failed_keep = STORE_FAILED_KEEP_DEFAULT;
	s->failed_budget = STORE_FAILED_BUDGET_DEFAULT;
	e = s->readonly ? check_readonly_dir(s) : prepare_writable_dir(s);
	if (e != STORE_OK)
		goto out;
	if ((rc = mdb_env_create(&s->env)) != 0) {
		s->env = NULL;
		e = store_fail(s, rc, "creating the environment");
		goto out;
	}
	if (map_size_mb > SIZE_MAX / STORE_MIB) {
		store_seterr(s, "map_size_mb %zu is too large", map_size_mb);
		e = STORE_ERR_REFUSED;
		goto out;
	}
	/* one spare handle above the seven databases store.h lists */
	if ((rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
	    (map_size_mb > 0 && (rc = mdb_env_set_mapsize(s->env,
	    map_size_mb * STORE_MIB)) != 0)) {
		e = store_fail(s, rc, "configuring the environment");
		goto out;
	}
	/* NOTLS: read txns belong to the handle, not the thread (server loop) */
	rc = mdb_env_open(s->env, dir, MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0),
	    0640);
	if (rc == ENOENT) {
		store_seterr(s, "store %s is incomplete (%s): import a file first "
		    "(ctlmirror import) or check 'store =' in the config", dir,
		    mdb_strerror(rc));
		e = STORE_ERR_MISSING;
		goto out;
	}
	if (rc == EACCES || rc == EPERM || rc == EROFS) {
		store_seterr(s, "cannot open store %s: %s: run as the user that owns "
		    "it (readers also need write access to lock.mdb)", dir,
		    mdb_strerror(rc));
		e = STORE_ERR_ACCESS;
		goto out;
	}
	if (rc == MDB_VERSION_MISMATCH) {
		store_seterr(s, "store %s was written with another LMDB format: %s", dir,
		    mdb_strerror(rc));
		e = STORE_ERR_SCHEMA;
		goto out;
	}
	if (rc != 0) {
		e = store_fail(s, rc, "opening it");
		goto out;
	}
	e = open_dbs(s);
out:
	if (e != STORE_OK) {
		snprintf(err, err_len, "%s", store_tls_err);
		store_close(s);
		return e;
	}
	*out = s;
	return STORE_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s->dir);
	free(s);
}

/* The facts of a verdict, as the version record keeps them. */

void
store_set_failed_budget(struct store *s, size_t keep, uint64_t bytes)
{
	s->failed_keep = keep;
	s->failed_budget = bytes;
}

void
store_set_clock(struct store *s, time_t (*clock)(void *arg), void *arg)
{
	s->clock = clock;
	s->clock_arg = arg;
}
