/*
 * forge_cab.c - the wrapping around a test CTL: Microsoft's PKCS#7 envelope
 * and the cabinet (stored blocks only), plus shared byte helpers.
 *
 * The verifier's first steps (docs/verify.md, steps 1-3 and 6-7) are tested
 * against files built here, so every field is written as the formats say,
 * CFDATA checksums included, rather than left for readers to forgive.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "tests/forge_cab.h"

#define OID_CTL			"1.3.6.1.4.1.311.10.1"
#define OID_SPC_SP_OPUS_INFO	"1.3.6.1.4.1.311.2.1.12"
#define OID_NESTED_SIGNATURE	"1.3.6.1.4.1.311.2.4.1"

/* ---- bytes ---- */

int
forge_fail(const char *what)
{
	fprintf(stderr, "forge: %s\n", what);
	ERR_print_errors_fp(stderr);
	return -1;
}

void
forge_blob_free(struct forge_blob *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

int
forge_blob_set(struct forge_blob *b, const unsigned char *p, size_t len)
{
	if ((b->p = malloc(len > 0 ? len : 1)) == NULL)
		return forge_fail("out of memory");
	if (len > 0)
		memcpy(b->p, p, len);
	b->len = len;
	return 0;
}

int
forge_encode(const void *obj, const ASN1_ITEM *it, struct forge_blob *out)
{
	unsigned char *der = NULL;
	int len, ret;

	if ((len = ASN1_item_i2d((const ASN1_VALUE *)obj, &der, it)) <= 0)
		return forge_fail("DER encoding failed");
	ret = forge_blob_set(out, der, (size_t)len);
	OPENSSL_free(der);
	return ret;
}

int
forge_attr_add(STACK_OF(X509_ATTRIBUTE) **attrs, const char *oid, int type,
    const unsigned char *p, int len)
{
	ASN1_OBJECT *obj;
	int ok;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return forge_fail("OBJ_txt2obj");
	ok = X509at_add1_attr_by_OBJ(attrs, obj, type, p, len) != NULL;
	ASN1_OBJECT_free(obj);
	return ok ? 0 : forge_fail("X509at_add1_attr_by_OBJ");
}

/* ---- the PKCS#7 envelope ---- */

/* The contents octets of a DER TLV: what Microsoft's messageDigest covers. */
static int
contents_of(const struct forge_blob *der, const unsigned char **body,
    size_t *len)
{
	const unsigned char *p = der->p;
	long l;
	int tag, cls;

	if (ASN1_get_object(&p, &l, &tag, &cls, (long)der->len) & 0x80 ||
	    (size_t)(p - der->p) + (size_t)l != der->len)
		return forge_fail("CTL is not one DER object");
	*body = p;
	*len = (size_t)l;
	return 0;
}

/*
 * The encapsulated content. For a CTL: type szOID_CTL and, under [0]
 * EXPLICIT, the CTL SEQUENCE itself, held by OpenSSL as an ANY whose
 * SEQUENCE value is written out as is. For not-ctl: ordinary pkcs7-data.
 */
static PKCS7 *
content_of(const struct forge_blob *ctl, int as_data)
{
	PKCS7 *inner;
	ASN1_STRING *seq = NULL;

	if ((inner = PKCS7_new()) == NULL)
		return NULL;
	if (as_data) {
		if (!PKCS7_set_type(inner, NID_pkcs7_data) ||
		    !ASN1_OCTET_STRING_set(inner->d.data, ctl->p, (int)ctl->len))
			goto err;
		return inner;
	}
	if ((inner->type = OBJ_txt2obj(OID_CTL, 1)) == NULL ||
	    (inner->d.other = ASN1_TYPE_new()) == NULL ||
	    (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL ||
	    !ASN1_STRING_set(seq, ctl->p, (int)ctl->len))
		goto err;
	ASN1_TYPE_set(inner->d.other, V_ASN1_SEQUENCE, seq);
	return inner;
err:
	ASN1_STRING_free(seq);
	PKCS7_free(inner);
	return NULL;
}

/*
 * PKCS #9 countersignature, as on the 2006-2010 files: a SHA-1 SignerInfo by
 * the TSA whose messageDigest is the hash of the outer signature value and
 * whose signingTime is the time the verifier must then check the chain at.
 */
static int
countersign(PKCS7_SIGNER_INFO *si, const struct forge_sign_spec *s)
{
	PKCS7_SIGNER_INFO *cs;
	ASN1_UTCTIME *when = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen;
	int len, ret = -1;

	if ((cs = PKCS7_SIGNER_INFO_new()) == NULL ||
	    PKCS7_SIGNER_INFO_set(cs, s->tsa, s->tsa_key, EVP_sha1()) <= 0 ||
	    !EVP_Digest(si->enc_digest->data, (size_t)si->enc_digest->length,
	    md, &mdlen, EVP_sha1(), NULL) ||
	    (when = ASN1_UTCTIME_set(NULL, s->ts_time)) == NULL) {
		forge_fail("countersignature");
		goto out;
	}
	if (X509at_add1_attr_by_NID(&cs->auth_attr, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, (const unsigned char *)OBJ_nid2obj(NID_pkcs7_data),
	    -1) == NULL ||
	    X509at_add1_attr_by_NID(&cs->auth_attr, NID_pkcs9_signingTime,
	    V_ASN1_UTCTIME, (const unsigned char *)when, -1) == NULL ||
	    X509at_add1_attr_by_NID(&cs->auth_attr, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, md, (int)mdlen) == NULL ||
	    PKCS7_SIGNER_INFO_sign(cs) <= 0) {
		forge_fail("countersignature attributes");
		goto out;
	}
	/* timestamp-bad: the TSA's signature no longer verifies. */
	if (s->ts_corrupt)
		cs->enc_digest->data[cs->enc_digest->length / 2] ^= 0x01;
	if ((len = i2d_PKCS7_SIGNER_INFO(cs, &der)) <= 0 ||
	    X509at_add1_attr_by_NID(&si->unauth_attr,
	    NID_pkcs9_countersignature, V_ASN1_SEQUENCE, der, len) == NULL) {
		forge_fail("countersignature encoding");
		goto out;
	}
	ret = 0;
out:
	OPENSSL_free(der);
	ASN1_UTCTIME_free(when);
	PKCS7_SIGNER_INFO_free(cs);
	return ret;
}

/*
 * Nested signature (1.3.6.1.4.1.311.2.4.1, as on the 2011-2022 files): a
 * whole second ContentInfo. Microsoft's are detached SHA-256 signatures;
 * this one is the same CTL signed again by the same signer, with
 * spec->nested_md (SHA-1 unless set), a complete and valid SignedData. The
 * verifier only reports how many there are (docs/verify.md, step 7), so
 * either form serves.
 */
static int
add_nested(PKCS7_SIGNER_INFO *si, const struct forge_blob *ctl,
    const struct forge_sign_spec *s)
{
	struct forge_sign_spec inner = *s;
	struct forge_blob der = { NULL, 0 };
	int ret;

	inner.md = s->nested_md != NULL ? s->nested_md : EVP_sha1();
	inner.tsa = NULL;
	inner.tsa_key = NULL;
	inner.nested = 0;
	if (forge_sign_ctl(ctl, &inner, &der) != 0)
		return -1;
	ret = forge_attr_add(&si->unauth_attr, OID_NESTED_SIGNATURE,
	    V_ASN1_SEQUENCE, der.p, (int)der.len);
	forge_blob_free(&der);
	return ret;
}

/*
 * The digest is computed here rather than by PKCS7_dataFinal(), which would
 * hash the ANY content with its tag and length: Microsoft's messageDigest
 * covers the contents octets only. PKCS7_SIGNER_INFO_sign() then signs the
 * attributes as SET OF, and adds no signingTime of its own.
 */
int
forge_sign_ctl(const struct forge_blob *ctl, const struct forge_sign_spec *s,
    struct forge_blob *out)
{
	PKCS7 *p7 = NULL, *inner = NULL;
	PKCS7_SIGNER_INFO *si;
	const unsigned char *body;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t len, i;
	int ret = -1;

	if (s->as_data) {
		body = ctl->p;
		len = ctl->len;
	} else if (contents_of(ctl, &body, &len) != 0)
		return -1;
	if (!EVP_Digest(body, len, md, &mdlen, s->md, NULL))
		return forge_fail("EVP_Digest");

	if ((inner = content_of(ctl, s->as_data)) == NULL ||
	    (p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_set_content(p7, inner)) {
		forge_fail("PKCS7 SignedData");
		goto out;
	}
	inner = NULL;			/* p7 owns it now */
	/* issuerAndSerialNumber, digestAlgorithm, rsaEncryption; version 1. */
	if ((si = PKCS7_add_signature(p7, s->signer, s->key, s->md)) == NULL) {
		forge_fail("PKCS7_add_signature");
		goto out;
	}
	for (i = 0; i < FORGE_MAX_CERTS && s->certs[i] != NULL; i++)
		if (!PKCS7_add_certificate(p7, s->certs[i])) {
			forge_fail("PKCS7_add_certificate");
			goto out;
		}
	/* contentType, messageDigest, SpcSpOpusInfo = SEQUENCE {}; no time. */
	if (X509at_add1_attr_by_NID(&si->auth_attr, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, (const unsigned char *)p7->d.sign->contents->type,
	    -1) == NULL ||
	    X509at_add1_attr_by_NID(&si->auth_attr, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, md, (int)mdlen) == NULL ||
	    forge_attr_add(&si->auth_attr, OID_SPC_SP_OPUS_INFO, V_ASN1_SEQUENCE,
	    (const unsigned char *)"\x30\x00", 2) != 0 ||
	    PKCS7_SIGNER_INFO_sign(si) <= 0) {
		forge_fail("signed attributes");
		goto out;
	}
	/* Unsigned attributes come after: the signature does not cover them. */
	if ((s->tsa != NULL && countersign(si, s) != 0) ||
	    (s->nested && add_nested(si, ctl, s) != 0))
		goto out;
	if (forge_encode(p7, ASN1_ITEM_rptr(PKCS7), out) != 0)
		goto out;
	ret = 0;
out:
	PKCS7_free(inner);
	PKCS7_free(p7);
	return ret;
}

/* ---- the cabinet ---- */

#define CFHEADER_SIZE	36
#define CFFOLDER_SIZE	8
#define CFFILE_SIZE	16	/* without the name */
#define CFDATA_SIZE	8	/* without the data */

#define CAB_VERSION_MINOR	3
#define CAB_VERSION_MAJOR	1
#define CAB_ATTRIB_ARCH		0x20
#define CAB_COMPRESS_NONE	0
#define CAB_NAME_MAX		255

/* "MSCF", four bytes with no NUL. */
static const unsigned char cab_signature[4] = { 'M', 'S', 'C', 'F' };

/* MS-DOS date and time of 2024-05-14 12:00:00, the same for every member. */
#define CAB_DOS_DATE	(((2024 - 1980) << 9) | (5 << 5) | 14)
#define CAB_DOS_TIME	((12 << 11) | (0 << 5) | 0)

static unsigned char *
put16(unsigned char *p, unsigned int v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	return p + 2;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
	return p + 4;
}

unsigned int
forge_cab_checksum(const unsigned char *buf, size_t len, unsigned int seed)
{
	uint32_t sum = seed, tail = 0;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4)
		sum ^= (uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8 |
		    (uint32_t)buf[i + 2] << 16 | (uint32_t)buf[i + 3] << 24;
	/* The 1-3 trailing bytes go in high to low, as libmspack reads them. */
	for (; i < len; i++)
		tail = tail << 8 | buf[i];
	return sum ^ tail;
}

int
forge_cab_build(const struct forge_cab_member *members, size_t n,
    struct forge_blob *out)
{
	unsigned char *buf = NULL, *p;
	size_t i, total = 0, names = 0, blocks, size, off, done;

	if (n == 0 || n > 0xffff)
		return forge_fail("cab: no members, or too many");
	for (i = 0; i < n; i++) {
		size_t nl = strlen(members[i].name);

		if (nl == 0 || nl > CAB_NAME_MAX)
			return forge_fail("cab: bad member name");
		/* The folder offsets and the cabinet size are 32-bit fields. */
		if (members[i].len > UINT32_MAX - total)
			return forge_fail("cab: members too large");
		total += members[i].len;
		names += nl + 1;
	}
	blocks = (total + FORGE_CAB_BLOCK - 1) / FORGE_CAB_BLOCK;
	if (blocks > 0xffff)
		return forge_fail("cab: too many blocks");
	size = CFHEADER_SIZE + CFFOLDER_SIZE + n * CFFILE_SIZE + names +
	    blocks * CFDATA_SIZE + total;
	if (size > UINT32_MAX)
		return forge_fail("cab: too large");
	if ((buf = malloc(size)) == NULL)
		return forge_fail("out of memory");

	/* CFHEADER: one folder, n files, no flags (no reserve, no spanning). */
	p = buf;
	memcpy(p, cab_signature, sizeof(cab_signature));
	p += sizeof(cab_signature);
	p = put32(p, 0);			/* reserved1 */
	p = put32(p, (uint32_t)size);		/* cbCabinet */
	p = put32(p, 0);			/* reserved2 */
	p = put32(p, CFHEADER_SIZE + CFFOLDER_SIZE); /* coffFiles */
	p = put32(p, 0);			/* reserved3 */
	*p++ = CAB_VERSION_MINOR;
	*p++ = CAB_VERSION_MAJOR;
	p = put16(p, 1);			/* cFolders */
	p = put16(p, (unsigned int)n);		/* cFiles */
	p = put16(p, 0);			/* flags */
	p = put16(p, 0);			/* setID */
	p = put16(p, 0);			/* iCabinet */

	/* CFFOLDER: where its CFDATA blocks start, how many, stored. */
	p = put32(p, (uint32_t)(CFHEADER_SIZE + CFFOLDER_SIZE +
	    n * CFFILE_SIZE + names));
	p = put16(p, (unsigned int)blocks);
	p = put16(p, CAB_COMPRESS_NONE);

	/* CFFILE: each member's place in the folder's uncompressed stream. */
	off = 0;
	for (i = 0; i < n; i++) {
		size_t nl = strlen(members[i].name);

		p = put32(p, (uint32_t)members[i].len);	/* cbFile */
		p = put32(p, (uint32_t)off);		/* uoffFolderStart */
		p = put16(p, 0);			/* iFolder */
		p = put16(p, CAB_DOS_DATE);
		p = put16(p, CAB_DOS_TIME);
		p = put16(p, CAB_ATTRIB_ARCH);
		memcpy(p, members[i].name, nl + 1);
		p += nl + 1;
		off += members[i].len;
	}

	/*
	 * CFDATA: the members' bytes back to back, cut into full blocks; a
	 * block may span two members. The checksum covers the data, then
	 * cbData and cbUncomp (the header after the checksum field).
	 */
	i = 0;
	off = 0;
	for (done = 0; done < total; ) {
		unsigned char *hdr = p, *data = p + CFDATA_SIZE;
		size_t want = total - done, got = 0;
		unsigned int sum;

		if (want > FORGE_CAB_BLOCK)
			want = FORGE_CAB_BLOCK;
		while (got < want) {
			size_t take = members[i].len - off;

			if (take > want - got)
				take = want - got;
			if (take > 0)
				memcpy(data + got, members[i].data + off, take);
			got += take;
			off += take;
			if (off == members[i].len) {
				i++;
				off = 0;
			}
		}
		put16(hdr + 4, (unsigned int)want);	/* cbData */
		put16(hdr + 6, (unsigned int)want);	/* cbUncomp */
		sum = forge_cab_checksum(data, want, 0);
		sum = forge_cab_checksum(hdr + 4, 4, sum);
		put32(hdr, sum);
		p = data + want;
		done += want;
	}

	out->p = buf;
	out->len = size;
	return 0;
}
