/*
 * forge_cab.h - the wrapping around a test CTL: Microsoft's PKCS#7 envelope
 * and the cabinet around that, plus the few byte helpers both need.
 *
 * forge.c decides what to build (the PKI, the CTLs, the cases); this module
 * only turns DER into signed, packed files, exactly as Microsoft's are laid
 * out (docs/verify.md), so that the verifier's checks can be tested
 * one at a time on files broken in one place only.
 *
 * All functions return 0 on success and -1 on failure, after printing what
 * failed (and OpenSSL's error queue) to stderr. Nothing here reads the clock
 * or keeps state between calls.
 */
#ifndef CTLMIRROR_FORGE_CAB_H
#define CTLMIRROR_FORGE_CAB_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* ---- bytes ---- */

/* Bytes owned by whoever holds the struct; p is always malloc'd. */
struct forge_blob {
	unsigned char *p;
	size_t len;
};

/* Copies len bytes of p into b (which must be empty). */
int forge_blob_set(struct forge_blob *b, const unsigned char *p, size_t len);

/* Frees b's bytes and empties it; safe on an empty blob. */
void forge_blob_free(struct forge_blob *b);

/* Prints "forge: what" and OpenSSL's error queue; returns -1. */
int forge_fail(const char *what);

/* The DER of obj through its OpenSSL template it (e.g. CTL_ASN1) into out. */
int forge_encode(const void *obj, const ASN1_ITEM *it, struct forge_blob *out);

/*
 * Appends the attribute { oid, SET { value } } to *attrs (creating the
 * stack if needed). type and p/len are as for X509at_add1_attr_by_OBJ():
 * e.g. V_ASN1_OCTET_STRING with the bytes, or V_ASN1_SEQUENCE with the
 * complete DER of the value.
 */
int forge_attr_add(STACK_OF(X509_ATTRIBUTE) **attrs, const char *oid,
    int type, const unsigned char *p, int len);

/* ---- the PKCS#7 envelope ---- */

#define FORGE_MAX_CERTS 4

struct forge_sign_spec {
	const EVP_MD *md;	/* EVP_sha1() or EVP_sha256() */
	X509 *signer;		/* named by issuerAndSerialNumber */
	EVP_PKEY *key;		/* signs: the signer's key, or another */
	X509 *certs[FORGE_MAX_CERTS]; /* in the file, in order; NULL ends */
	X509 *tsa;		/* countersigner, NULL: no countersignature */
	EVP_PKEY *tsa_key;
	time_t ts_time;		/* the countersignature's signingTime */
	int ts_corrupt;		/* flip a bit of the countersignature */
	int nested;		/* add a nested signature (same CTL, same signer) */
	const EVP_MD *nested_md; /* its digest; NULL: SHA-1 */
	int as_data;		/* content type pkcs7-data, not szOID_CTL */
};

/*
 * Signs ctl, the DER of a CTL SEQUENCE, the way Microsoft signs authroot.stl
 * and writes the ContentInfo to out:
 *   SignedData v1, digestAlgorithms { md }, encapContentInfo { szOID_CTL,
 *   [0] EXPLICIT the CTL SEQUENCE itself }, certificates [0] (spec->certs),
 *   one SignerInfo v1: issuerAndSerialNumber, md, signed attributes
 *   contentType, messageDigest (over the CTL's contents octets, without its
 *   tag and length), SpcSpOpusInfo = SEQUENCE {}; rsaEncryption; the RSA
 *   PKCS#1 v1.5 signature over the attributes as SET OF; then, unsigned, an
 *   optional PKCS#9 countersignature (SHA-1; contentType pkcs7-data,
 *   signingTime, messageDigest of the outer signature value) and an optional
 *   nested signature (1.3.6.1.4.1.311.2.4.1).
 * With as_data the content is instead an ordinary pkcs7-data OCTET STRING
 * holding ctl, digested as such: a good signature over something not a CTL.
 */
int forge_sign_ctl(const struct forge_blob *ctl,
    const struct forge_sign_spec *spec, struct forge_blob *out);

/* ---- the cabinet ---- */

/*
 * One cabinet with one folder of stored (typeCompress 0) CFDATA blocks of at
 * most 32768 bytes, the members back to back, no reserve areas, no spanning,
 * real CFDATA checksums, every member dated 2024-05-14 12:00:00 with the
 * archive attribute, as Microsoft's cabs have. All integers little-endian:
 *   CFHEADER (36) | CFFOLDER (8) | CFFILE (16 + name + NUL)... |
 *   CFDATA (8 + data)...
 */

/* Largest CFDATA payload the format allows. */
#define FORGE_CAB_BLOCK 32768

struct forge_cab_member {
	const char *name;		/* stored as given (ASCII) */
	const unsigned char *data;	/* may be NULL when len is 0 */
	size_t len;
};

/*
 * Builds a cabinet of the n members (n >= 1, in order) into out. Fails when
 * n is 0, a name is empty or over 255 bytes, the cabinet would exceed the
 * format's limits (4 GiB, 65535 members or blocks), or memory runs out.
 */
int forge_cab_build(const struct forge_cab_member *members, size_t n,
    struct forge_blob *out);

/*
 * The CFDATA checksum: XOR of the little-endian 32-bit words of buf, the
 * 1-3 trailing bytes folded in high to low, starting from seed. A block's
 * checksum is that of its data, continued over its cbData and cbUncomp.
 */
unsigned int forge_cab_checksum(const unsigned char *buf, size_t len,
    unsigned int seed);

#endif
