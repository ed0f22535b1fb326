/*
 * trust.h - the trust material verification needs, from the config.
 *
 * The built-in SHA-256 pins of the Microsoft roots (verify/anchors.c), the
 * operator's extra pins, the certificates of the anchors directory that
 * match a pin, and the extra intermediates file. Shared by the admin
 * commands and the daemon, which say what went wrong in their own way.
 */
#ifndef CTLMIRROR_TRUST_H
#define CTLMIRROR_TRUST_H

#include <stddef.h>

#include <openssl/x509.h>

#include "proxy/config.h"
#include "verify/anchors.h"

enum trust_err {
	TRUST_OK = 0,
	TRUST_BAD_PIN,		/* a pin is not 64 hex digits: a usage error */
	TRUST_IO,		/* the anchors directory or intermediates file cannot be read */
};

/*
 * Adds cfg's pins and pins[0..n_pins) to a, then the certificates in dir
 * (cfg->anchors when dir is NULL), and loads cfg's intermediates into
 * *intermediates (NULL when none are configured; the caller frees it with
 * sk_X509_pop_free). *kept gets the number of anchors that matched a pin.
 * On failure err says what, naming the pin or the path.
 */
enum trust_err trust_load(const struct config *cfg, const char *dir,
    char *const *pins, size_t n_pins, struct anchors *a,
    STACK_OF(X509) **intermediates, size_t *kept, char *err, size_t err_len);

#endif
