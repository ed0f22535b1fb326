/*
 * pkcs7.h - the PKCS#7 v1.5 SignedData around a CTL.
 *
 * Microsoft's lists are SignedData whose encapsulated content is the CTL
 * SEQUENCE itself ([0] EXPLICIT ANY, not an OCTET STRING), so `openssl cms`
 * and PKCS7_verify() cannot check them. This module does the steps by hand,
 * in the order of docs/verify.md's steps: parse (step 2), digest and signed attributes (2),
 * signature (3), plus the countersignature (6) and nested signatures (7).
 */
#ifndef CTLMIRROR_PKCS7_H
#define CTLMIRROR_PKCS7_H

#include <stddef.h>
#include <time.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "verify/verdict.h"

/* A parsed SignedData. Pointers other than p7 borrow from p7. */
struct signed_ctl {
	PKCS7 *p7;
	const unsigned char *ctl_der;	/* the CTL SEQUENCE, tag and length included */
	size_t ctl_der_len;
	const unsigned char *ctl_content;/* its contents octets: what the digest covers */
	size_t ctl_content_len;
	PKCS7_SIGNER_INFO *si;
	STACK_OF(X509) *certs;		/* certificates in the file (may be empty) */
	X509 *signer;			/* from certs by issuer and serial, or NULL */
	const EVP_MD *md;		/* the signer's digest algorithm */
	char digest_name[16];
};

/*
 * RFC 5280 id-kp-timeStamping. A countersignature fixes the verification
 * time only when its signer's certificate carries it (docs/verify.md, step 6):
 * otherwise any certificate chaining to an anchor could stamp a file with a
 * time inside its chain's window and make it never expire.
 */
#define OID_TIME_STAMPING	"1.3.6.1.5.5.7.3.8"

/* The timestamp countersignature, if present. */
struct countersig {
	int present;		/* a countersignature attribute exists */
	int has_time;		/* it carries a signingTime */
	time_t when;
	int signature_ok;	/* its digest and signature verify */
	X509 *tsa;		/* borrowed from the outer certs, or NULL */
	char detail[160];	/* why it does not verify */
};

/* Step 2: parse ContentInfo/SignedData with a szOID_CTL content. VFY_OK or VFY_NOT_CTL. */
enum vfy_reason p7_parse(const unsigned char *der, size_t len,
    struct signed_ctl *out, char *detail, size_t detail_len);

/*
 * Step 2: contentType attribute is szOID_CTL (else VFY_NOT_CTL) and the
 * messageDigest attribute equals the digest of the CTL's contents octets
 * (else VFY_DIGEST_MISMATCH). The digest is copied to digest/digest_len.
 */
enum vfy_reason p7_check_digest(const struct signed_ctl *sc,
    unsigned char digest[EVP_MAX_MD_SIZE], size_t *digest_len, char *detail,
    size_t detail_len);

/* Step 3: the signature over the signed attributes. VFY_OK, VFY_NO_CHAIN (signer certificate absent) or VFY_BAD_SIGNATURE. */
enum vfy_reason p7_check_signature(const struct signed_ctl *sc, char *detail,
    size_t detail_len);

/*
 * Step 6: reads and checks the countersignature, if any (its signer's EKU
 * and chain are the caller's).
 */
void p7_countersignature(const struct signed_ctl *sc, struct countersig *cs);

/* Step 7: how many nested signatures the unsigned attributes carry. */
size_t p7_nested_count(const struct signed_ctl *sc);

void p7_free(struct signed_ctl *sc);

#endif
