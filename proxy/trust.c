/*
 * trust.c - anchors, pins and intermediates from the config (see trust.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum trust_err
trust_load(const struct config *cfg, const char *dir, char *const *pins,
    size_t n_pins, struct anchors *a, STACK_OF(X509) **intermediates,
    size_t *kept, char *err, size_t err_len)
{
	size_t i;
	int e;

	*intermediates = NULL;
	*kept = 0;
	if (dir == NULL)
		dir = cfg->anchors;
	for (i = 0; i < cfg->n_anchor_pins + n_pins; i++) {
		const char *pin = i < cfg->n_anchor_pins ? cfg->anchor_pins[i] :
		    pins[i - cfg->n_anchor_pins];

		if (anchors_add_pin(a, pin) != ANCHORS_OK) {
			snprintf(err, err_len, "pin '%s' is not a SHA-256 fingerprint (64 hex digits)",
			    pin);
			return TRUST_BAD_PIN;
		}
	}
	if ((e = fileio_load_anchors(dir, a, kept)) != 0) {
		snprintf(err, err_len, "cannot read anchors directory %s: %s", dir, strerror(e));
		return TRUST_IO;
	}
	if (cfg->intermediates[0] != '\0' &&
	    (e = load_intermediates(cfg->intermediates, intermediates)) != 0) {
		snprintf(err, err_len, "cannot read %s: %s", cfg->intermediates, strerror(e));
		return TRUST_IO;
	}
	return TRUST_OK;
}
