/*
 * chain.h - build the signer's chain to a pinned anchor and check it at a time.
 *
 * Building and timing are separate: chain_build() finds the chain with time
 * checks off (so NO_CHAIN and UNTRUSTED_ROOT do not depend on the clock) and
 * records its validity window; chain_check_time() then says whether a given
 * time T falls inside it (docs/verify.md, steps 4 and 6).
 */
#ifndef CTLMIRROR_CHAIN_H
#define CTLMIRROR_CHAIN_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "verify/anchors.h"
#include "verify/verdict.h"

struct chain {
	time_t valid_from;	/* latest notBefore, leaf to anchor */
	time_t valid_to;	/* earliest notAfter */
	char *root;		/* RFC 2253 subject of the anchor */
	char *from_subject;	/* the certificate whose notBefore is valid_from */
	char *to_subject;	/* the certificate whose notAfter is valid_to */

	/* VFY_UNTRUSTED_ROOT: the self-signed certificate the chain ends at. */
	char *untrusted_root;	/* its RFC 2253 subject, or NULL */
	unsigned char untrusted_root_sha256[32];
};

/*
 * Builds leaf's chain from the untrusted certificates (may be NULL) to one of
 * the anchors. Returns VFY_OK and fills *out (release with chain_free()),
 * VFY_NO_CHAIN (an issuer is missing, or a certificate in the chain is not a
 * usable CA or its signature fails) or VFY_UNTRUSTED_ROOT (the chain ends at
 * a self-signed certificate that is not a pinned anchor). For
 * VFY_UNTRUSTED_ROOT, untrusted_root and its SHA-256 name that certificate
 * and detail says how to pin it ("anchor_pin = <64 upper-case hex>"); the
 * other fields stay zero. Release *out with chain_free() whatever the result.
 */
enum vfy_reason chain_build(X509 *leaf, STACK_OF(X509) *untrusted,
    const struct anchors *anchors, struct chain *out, char *detail,
    size_t detail_len);

/*
 * VFY_OK if valid_from <= at <= valid_to; VFY_NOT_YET_VALID or VFY_EXPIRED
 * otherwise, with detail naming the certificate out of its validity period.
 * *culprit (if not NULL) is set to that certificate's subject (borrowed).
 */
enum vfy_reason chain_check_time(const struct chain *c, time_t at,
    const char **culprit, char *detail, size_t detail_len);

/* RFC 2253 one-line subject of a certificate (malloc'd), or NULL. */
char *chain_subject(X509 *cert);

void chain_free(struct chain *c);

#endif
