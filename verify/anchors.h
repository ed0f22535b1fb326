/*
 * anchors.h - the trust anchors, pinned by SHA-256.
 *
 * A certificate becomes an anchor only if the SHA-256 of its DER matches a
 * pin: the four Microsoft roots that sign the lists are pinned in source, an
 * operator may add pins (config `anchor_pin`, or `--pin`). Certificate bytes
 * come from wherever the caller read them (an anchors directory); bytes that
 * match no pin are ignored. No I/O here.
 */
#ifndef CTLMIRROR_ANCHORS_H
#define CTLMIRROR_ANCHORS_H

#include <stddef.h>

#include <openssl/x509.h>

#define ANCHORS_MAX_PINS 64

struct anchor_pin {
	unsigned char sha256[32];
	const char *name;	/* for messages; "operator pin" for added ones */
	int has_sha1;		/* built-in pins: the name the upstream serves it under */
	unsigned char sha1[20];
};

struct anchors {
	struct anchor_pin pins[ANCHORS_MAX_PINS];
	size_t n_pins;
	STACK_OF(X509) *certs;	/* certificates that matched a pin */
	size_t n_ignored;	/* certificates offered that matched no pin */
};

enum anchors_err {
	ANCHORS_OK = 0,
	ANCHORS_ERR_PIN,	/* not 64 hex digits (colons allowed) */
	ANCHORS_ERR_FULL,	/* too many pins */
	ANCHORS_ERR_PARSE,	/* bytes hold no certificate */
	ANCHORS_ERR_NOMEM,
};

/* Initialises with the built-in Microsoft pins; release with anchors_free(). */
enum anchors_err anchors_init(struct anchors *a);

/* Adds an operator pin, 64 hex digits, optionally colon-separated. */
enum anchors_err anchors_add_pin(struct anchors *a, const char *hex);

/*
 * Offers certificate bytes (DER, or PEM holding one or more certificates).
 * Each certificate is kept if it matches a pin and is not already kept.
 * *added (if not NULL) gets the number kept.
 */
enum anchors_err anchors_offer(struct anchors *a, const unsigned char *buf,
    size_t len, size_t *added);

/* Is this certificate one of the kept anchors (same DER)? */
int anchors_contains(const struct anchors *a, X509 *cert);

/* Does a kept certificate match pins[i]? */
int anchors_pin_kept(const struct anchors *a, size_t i);

void anchors_free(struct anchors *a);

#endif
