/*
 * trust.h - the trust set verification uses, from the config and the store.
 *
 * The built-in SHA-256 pins of the Microsoft roots (verify/anchors.c) and the
 * operator's extra pins; the certificates that match a pin, from the anchors
 * directory and from the store (a root fetched from upstream as <SHA1>.crt,
 * or imported, is kept there: no file needs to be placed by hand); and the
 * extra intermediates file. A digest of what was kept tells whether the set
 * changed since it was last loaded, which is when copies quarantined for a
 * trust reason are verified again (reverify.c).
 */
#ifndef CTLMIRROR_TRUST_H
#define CTLMIRROR_TRUST_H

#include <stddef.h>

#include <openssl/x509.h>

#include "proxy/config.h"
#include "store/store.h"
#include "verify/anchors.h"

enum trust_err {
	TRUST_OK = 0,
	TRUST_BAD_PIN,		/* a pin is not 64 hex digits: a usage error */
	TRUST_IO,		/* the anchors directory or intermediates file cannot be read */
};

struct trust {
	struct anchors anchors;
	STACK_OF(X509) *intermediates;	/* NULL when none are configured */
	size_t kept;			/* anchors that matched a pin */
	size_t from_store;		/* of those, taken from the store */
	int no_dir;			/* the anchors directory does not exist */
	unsigned char digest[32];	/* of the kept anchors, the pins and the intermediates */
};

/*
 * Loads the trust set into t (trust_free() it, also after a failure): cfg's
 * pins and pins[0..n_pins), the certificates in dir (cfg->anchors when dir
 * is NULL: then a missing directory is not an error, it is noted in no_dir,
 * since the roots may come from the store; a dir named by the caller must
 * exist), the
 * pinned roots the store s holds (s may be NULL), and cfg's intermediates.
 * On failure err says what, naming the pin or the path.
 */
enum trust_err trust_load(const struct config *cfg, const char *dir,
    char *const *pins, size_t n_pins, struct store *s, struct trust *t,
    char *err, size_t err_len);

void trust_free(struct trust *t);

/*
 * The built-in roots no kept anchor matches, by the SHA-1 the upstream
 * serves each under and its pinned SHA-256: up to max of them into sha1[]
 * and sha256[] (either may be NULL). Returns how many are missing.
 */
size_t trust_missing(const struct trust *t, unsigned char (*sha1)[20],
    unsigned char (*sha256)[32], size_t max);

/*
 * What to do when nothing can verify, in one sentence for messages: where
 * the roots can come from (the anchors directory, `ctlmirror import`, an
 * upstream).
 */
const char *trust_advice(const struct config *cfg, char *buf, size_t len);

#endif
