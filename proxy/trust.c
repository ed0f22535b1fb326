/*
 * trust.c - the trust set from the config and the store (see trust.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "proxy/fileio.h"
#include "proxy/trust.h"

/* Intermediates: a PEM file of any number of certificates, 4 MB at most. */
static int
load_intermediates(const char *path, STACK_OF(X509) **out)
{
	unsigned char *buf;
	size_t len;
	BIO *bio;
	X509 *c;
	int err;

	if ((err = fileio_read(path, 4 * 1024 * 1024, &buf, &len)) != 0)
		return err;
	*out = sk_X509_new_null();
	bio = BIO_new_mem_buf(buf, (int)len);
	while (bio != NULL && *out != NULL &&
	    (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(*out, c))
			X509_free(c);
	BIO_free(bio);
	free(buf);
	return *out == NULL ? ENOMEM : 0;
}

/* The pinned roots the store holds (fetched from upstream or imported). */
static void
load_stored(struct store *s, struct trust *t)
{
	size_t i, added;

	for (i = 0; i < t->anchors.n_pins; i++) {
		unsigned char *der;
		size_t len;

		if (!t->anchors.pins[i].has_sha1 || anchors_pin_kept(&t->anchors, i) ||
		    store_get_cert(s, t->anchors.pins[i].sha1, &der, &len) != STORE_OK)
			continue;
		/* anchors_offer keeps the bytes only if their SHA-256 is the pin */
		if (anchors_offer(&t->anchors, der, len, &added) == ANCHORS_OK && added > 0) {
			t->kept += added;
			t->from_store += added;
		}
		free(der);
	}
}

static int
cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/*
 * What the set is, whatever order the files were read in: the sorted SHA-256
 * of every pin, of every kept anchor and (marked apart) of every intermediate.
 */
static void
digest_of(struct trust *t)
{
	int na = sk_X509_num(t->anchors.certs), ni = sk_X509_num(t->intermediates);
	size_t n = 0, i, cap = t->anchors.n_pins + (size_t)(na > 0 ? na : 0) +
	    (size_t)(ni > 0 ? ni : 0);
	unsigned char (*all)[32] = calloc(cap > 0 ? cap : 1, 32);
	unsigned int len;
	int k;

	memset(t->digest, 0, sizeof(t->digest));
	if (all == NULL)
		return;
	for (i = 0; i < t->anchors.n_pins; i++)
		memcpy(all[n++], t->anchors.pins[i].sha256, 32);
	for (k = 0; k < na; k++)
		if (X509_digest(sk_X509_value(t->anchors.certs, k), EVP_sha256(), all[n], &len))
			all[n++][0] ^= 0x55;	/* a kept anchor is not the same as its pin */
	for (k = 0; k < ni; k++)
		if (X509_digest(sk_X509_value(t->intermediates, k), EVP_sha256(), all[n], &len))
			all[n++][0] ^= 0xaa;	/* nor an intermediate */
	qsort(all, n, 32, cmp32);
	EVP_Digest(all, n * 32, t->digest, NULL, EVP_sha256(), NULL);
	free(all);
}

enum trust_err
trust_load(const struct config *cfg, const char *dir, char *const *pins,
    size_t n_pins, struct store *s, struct trust *t, char *err, size_t err_len)
{
	size_t i;
	int e, explicit;

	memset(t, 0, sizeof(*t));
	if (anchors_init(&t->anchors) != ANCHORS_OK) {
		snprintf(err, err_len, "out of memory");
		return TRUST_IO;
	}
	/* the configured directory may be missing (the roots come from the store), a named one not */
	explicit = dir != NULL;
	if (dir == NULL)
		dir = cfg->anchors;
	for (i = 0; i < cfg->n_anchor_pins + n_pins; i++) {
		const char *pin = i < cfg->n_anchor_pins ? cfg->anchor_pins[i] :
		    pins[i - cfg->n_anchor_pins];

		if (anchors_add_pin(&t->anchors, pin) != ANCHORS_OK) {
			snprintf(err, err_len, "pin '%s' is not a SHA-256 fingerprint (64 hex digits)",
			    pin);
			return TRUST_BAD_PIN;
		}
	}
	if ((e = fileio_load_anchors(dir, &t->anchors, &t->kept)) == ENOENT && !explicit) {
		t->no_dir = 1;
	} else if (e != 0) {
		snprintf(err, err_len, "cannot read anchors directory %s: %s", dir, strerror(e));
		return TRUST_IO;
	}
	if (s != NULL)
		load_stored(s, t);
	if (cfg->intermediates[0] != '\0' &&
	    (e = load_intermediates(cfg->intermediates, &t->intermediates)) != 0) {
		snprintf(err, err_len, "cannot read %s: %s", cfg->intermediates, strerror(e));
		return TRUST_IO;
	}
	digest_of(t);
	return TRUST_OK;
}

void
trust_free(struct trust *t)
{
	anchors_free(&t->anchors);
	sk_X509_pop_free(t->intermediates, X509_free);
	memset(t, 0, sizeof(*t));
}

size_t
trust_missing(const struct trust *t, unsigned char (*sha1)[20],
    unsigned char (*sha256)[32], size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < t->anchors.n_pins; i++) {
		if (!t->anchors.pins[i].has_sha1 || anchors_pin_kept(&t->anchors, i))
			continue;
		if (n < max && sha1 != NULL)
			memcpy(sha1[n], t->anchors.pins[i].sha1, 20);
		if (n < max && sha256 != NULL)
			memcpy(sha256[n], t->anchors.pins[i].sha256, 32);
		n++;
	}
	return n;
}

const char *
trust_advice(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "give ctlmirror the Microsoft root certificates: put them in %s, "
	    "or 'ctlmirror import' their .crt files, or configure an 'upstream =' that "
	    "serves them as <SHA1>.crt (ctlmirror fetches them itself and keeps only "
	    "certificates whose SHA-256 is pinned)", cfg->anchors);
	return buf;
}
