/*
 * store_records.c - the public store calls that only move records: root
 * certificates, the event log, upstream state, usage and generation.
 * Admission, the served rule, pins and gc are in store.c; record layouts in
 * store_codec.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "store/store_codec.h"


enum store_err
store_put_cert(struct store *s, const unsigned char *der, size_t len,
    time_t now, int *added)
{
	const unsigned char *p = der;
	unsigned char sha1[20];
	struct store_event ev;
	MDB_txn *txn = NULL;
	X509 *x = NULL;
	MDB_val k, d;
	enum store_err e;
	char hex[41];
	int rc;

	store_tls_err[0] = '\0';
	*added = 0;
	/* a .crt is served as is: it must be one whole certificate */
	if (len == 0 || len > LONG_MAX ||
	    (x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		ERR_clear_error();
		store_seterr(s, "not a DER certificate%s",
		    x != NULL ? " (bytes after its end)" : "");
		e = STORE_ERR_REFUSED;
		goto out;
	}
	if (EVP_Digest(der, len, sha1, NULL, EVP_sha1(), NULL) != 1) {
		e = store_nomem(s);
		goto out;
	}
	store_hex(hex, sha1, 20, 1);
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK)
		goto out;
	k = store_val(sha1, 20);
	d = store_val(der, len);
	if ((rc = mdb_put(txn, s->certs, &k, &d, MDB_NOOVERWRITE)) == MDB_KEYEXIST) {
		e = STORE_OK;	/* there already: the txn is aborted unwritten */
		goto out;
	}
	if (rc != 0) {
		e = store_fail(s, rc, "writing a certificate");
		goto out;
	}
	store_make_event(&ev, now, EV_CERT_ADDED, NULL, "certificate %s.crt "
	    "stored", hex);
	if ((e = store_rec_append_event(s, txn, &ev)) != STORE_OK ||
	    (e = store_txn_commit(s, &txn)) != STORE_OK)
		goto out;
	*added = 1;
out:
	X509_free(x);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_get_cert(struct store *s, const unsigned char sha1[20],
    unsigned char **der, size_t *len)
{
	MDB_txn *txn = NULL;
	MDB_val k = store_val(sha1, 20), d;
	enum store_err e;
	char hex[41];
	int rc;

	store_tls_err[0] = '\0';
	if ((e = store_txn_begin(s, 0, &txn)) != STORE_OK)
		goto out;
	if ((rc = mdb_get(txn, s->certs, &k, &d)) == MDB_NOTFOUND) {
		store_hex(hex, sha1, 20, 1);
		store_seterr(s, "no certificate %s in the store", hex);
		e = STORE_ERR_NOTFOUND;
		goto out;
	}
	if (rc != 0) {
		e = store_fail(s, rc, "reading a certificate");
		goto out;
	}
	if ((*der = malloc(d.mv_size)) == NULL) {
		e = store_nomem(s);
		goto out;
	}
	memcpy(*der, d.mv_data, d.mv_size);
	*len = d.mv_size;
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_events(struct store *s, time_t since, struct store_event **out, size_t *n)
{
	struct store_event *arr = NULL, *grown;
	size_t cap = 0, cnt = 0;
	MDB_cursor *c = NULL;
	MDB_txn *txn = NULL;
	MDB_val k, d;
	enum store_err e;
	int rc;

	store_tls_err[0] = '\0';
	*out = NULL;
	*n = 0;
	if ((e = store_txn_begin(s, 0, &txn)) != STORE_OK)
		goto out;
	if ((rc = mdb_cursor_open(txn, s->events, &c)) != 0) {
		e = store_fail(s, rc, "opening the event log");
		goto out;
	}
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 32;
			if ((grown = realloc(arr, cap * sizeof(*arr))) == NULL) {
				e = store_nomem(s);
				goto out;
			}
			arr = grown;
		}
		if (k.mv_size != 8 || store_dec_event(store_get_be64(k.mv_data),
		    d.mv_data, d.mv_size, &arr[cnt]) != 0) {
			e = store_corrupt(s, "event");
			goto out;
		}
		if (arr[cnt].when >= since)
			cnt++;
	}
	if (rc != MDB_NOTFOUND) {
		e = store_fail(s, rc, "reading the event log");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	e = STORE_OK;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(arr);
	return e;
}

enum store_err
store_log(struct store *s, const struct store_event *ev)
{
	struct store_event copy = *ev;
	MDB_txn *txn = NULL;
	enum store_err e;

	store_tls_err[0] = '\0';
	/* what could not be decoded later is not written now */
	if ((unsigned)ev->type >= EV_COUNT || (unsigned)ev->kind >= KIND_COUNT) {
		store_seterr(s, "event with type %d, kind %d cannot be stored",
		    (int)ev->type, (int)ev->kind);
		return STORE_ERR_REFUSED;
	}
	if ((e = store_txn_begin(s, 1, &txn)) == STORE_OK &&
	    (e = store_rec_append_event(s, txn, &copy)) == STORE_OK)
		e = store_txn_commit(s, &txn);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

/* An upstream key: 1 to LMDB's key limit bytes. */
static int
url_key(struct store *s, const char *url, MDB_val *k)
{
	size_t n = strlen(url);

	if (n == 0 || n > (size_t)mdb_env_get_maxkeysize(s->env)) {
		store_seterr(s, "URL of %zu bytes cannot be a store key (1 to %d)",
		    n, mdb_env_get_maxkeysize(s->env));
		return -1;
	}
	*k = store_val(url, n);
	return 0;
}

enum store_err
store_upstream_get(struct store *s, const char *url, struct upstream_state *out)
{
	MDB_txn *txn = NULL;
	MDB_val k, d;
	enum store_err e;
	int rc;

	store_tls_err[0] = '\0';
	if (url_key(s, url, &k) != 0)
		return STORE_ERR_NOTFOUND;
	if ((e = store_txn_begin(s, 0, &txn)) != STORE_OK)
		goto out;
	if ((rc = mdb_get(txn, s->upstream, &k, &d)) == MDB_NOTFOUND) {
		store_seterr(s, "no state for upstream %.200s yet", url);
		e = STORE_ERR_NOTFOUND;
		goto out;
	}
	if (rc != 0) {
		e = store_fail(s, rc, "reading upstream state");
		goto out;
	}
	if (store_dec_upstream(d.mv_data, d.mv_size, out) != 0) {
		e = store_corrupt(s, "upstream state");
		goto out;
	}
	e = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

enum store_err
store_upstream_put(struct store *s, const char *url,
    const struct upstream_state *st)
{
	unsigned char buf[STORE_UPSTREAM_REC_MAX];
	MDB_txn *txn = NULL;
	MDB_val k, d;
	enum store_err e;
	size_t len;
	int rc;

	store_tls_err[0] = '\0';
	if (url_key(s, url, &k) != 0)
		return STORE_ERR_REFUSED;
	if ((len = store_enc_upstream(buf, sizeof(buf), st)) == 0)
		return store_corrupt(s, "new upstream state");
	d = store_val(buf, len);
	if ((e = store_txn_begin(s, 1, &txn)) != STORE_OK)
		goto out;
	if ((rc = mdb_put(txn, s->upstream, &k, &d, 0)) != 0) {
		e = store_fail(s, rc, "writing upstream state");
		goto out;
	}
	e = store_txn_commit(s, &txn);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

uint64_t
store_generation(struct store *s)
{
	MDB_envinfo info;

	/* the last committed txn id, read from the shared meta page */
	if (mdb_env_info(s->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
}
