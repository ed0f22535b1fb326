/*
 * pkcs7.c - SignedData checks done by hand (see pkcs7.h for why).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "verify/ctl.h"
#include "verify/isotime.h"
#include "verify/pkcs7.h"

static int
obj_is(const ASN1_OBJECT *obj, const char *dotted)
{
	char buf[80];

	if (obj == NULL || OBJ_obj2txt(buf, sizeof(buf), obj, 1) <= 0)
		return 0;
	return strcmp(buf, dotted) == 0;
}

enum vfy_reason
p7_parse(const unsigned char *der, size_t len, struct signed_ctl *out,
    char *detail, size_t detail_len)
{
	const unsigned char *p = der, *q;
	PKCS7_SIGNED *sd;
	PKCS7 *inner;
	ASN1_STRING *seq;
	long clen;
	int tag, xclass, ret;

	memset(out, 0, sizeof(out[0]));
	if (len > LONG_MAX || len == 0) {
		vfy_detail(detail, detail_len, "file is empty or too large");
		return VFY_NOT_CTL;
	}
	if ((out->p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL) {
		vfy_detail(detail, detail_len, "not a DER PKCS#7 ContentInfo");
		goto fail;
	}
	if (p != der + len) {
		vfy_detail(detail, detail_len, "trailing bytes after the PKCS#7 ContentInfo");
		goto fail;
	}
	if (!PKCS7_type_is_signed(out->p7) || (sd = out->p7->d.sign) == NULL) {
		vfy_detail(detail, detail_len, "PKCS#7 content is not signedData");
		goto fail;
	}
	inner = sd->contents;
	if (inner == NULL || !obj_is(inner->type, OID_CTL)) {
		vfy_detail(detail, detail_len,
		    "encapsulated content type is not szOID_CTL (" OID_CTL ")");
		goto fail;
	}
	/* PKCS#7 v1.5: [0] EXPLICIT ANY, here the CTL SEQUENCE itself. */
	if (inner->d.other == NULL || inner->d.other->type != V_ASN1_SEQUENCE) {
		vfy_detail(detail, detail_len, "encapsulated CTL is absent or not a SEQUENCE");
		goto fail;
	}
	seq = inner->d.other->value.sequence;
	q = seq->data;
	ret = ASN1_get_object(&q, &clen, &tag, &xclass, seq->length);
	if ((ret & 0x80) || ret != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    xclass != V_ASN1_UNIVERSAL ||
	    q + clen != seq->data + seq->length) {
		vfy_detail(detail, detail_len, "encapsulated CTL has a bad DER header");
		goto fail;
	}
	out->ctl_der = seq->data;
	out->ctl_der_len = (size_t)seq->length;
	out->ctl_content = q;
	out->ctl_content_len = (size_t)clen;

	if (sk_PKCS7_SIGNER_INFO_num(sd->signer_info) != 1) {
		vfy_detail(detail, detail_len, "SignedData must have exactly one SignerInfo, it has %d",
		    sk_PKCS7_SIGNER_INFO_num(sd->signer_info));
		goto fail;
	}
	out->si = sk_PKCS7_SIGNER_INFO_value(sd->signer_info, 0);
	out->certs = sd->cert;
	if (out->si->issuer_and_serial != NULL)
		out->signer = X509_find_by_issuer_and_serial(out->certs,
		    out->si->issuer_and_serial->issuer,
		    out->si->issuer_and_serial->serial);
	out->md = EVP_get_digestbyobj(out->si->digest_alg->algorithm);
	OBJ_obj2txt(out->digest_name, sizeof(out->digest_name),
	    out->si->digest_alg->algorithm, 0);
	if (out->md != NULL)
		snprintf(out->digest_name, sizeof(out->digest_name), "%s",
		    OBJ_nid2ln(EVP_MD_get_type(out->md)));
	ERR_clear_error();
	return VFY_OK;
fail:
	ERR_clear_error();
	p7_free(out);
	return VFY_NOT_CTL;
}

/* The messageDigest attribute must equal md(data). */
static int
digest_matches(STACK_OF(X509_ATTRIBUTE) *attrs, const EVP_MD *md,
    const unsigned char *data, size_t len, unsigned char *digest,
    size_t *digest_len)
{
	ASN1_OCTET_STRING *want;
	unsigned int n = 0;

	if (!EVP_Digest(data, len, digest, &n, md, NULL))
		return 0;
	*digest_len = n;
	want = PKCS7_digest_from_attributes(attrs);
	return want != NULL && (unsigned int)want->length == n &&
	    memcmp(want->data, digest, n) == 0;
}

enum vfy_reason
p7_check_digest(const struct signed_ctl *sc,
    unsigned char digest[EVP_MAX_MD_SIZE], size_t *digest_len, char *detail,
    size_t detail_len)
{
	ASN1_TYPE *ct;

	*digest_len = 0;
	if (sc->md == NULL) {
		vfy_detail(detail, detail_len, "unsupported digest algorithm %s",
		    sc->digest_name);
		return VFY_DIGEST_MISMATCH;
	}
	if (sk_X509_ATTRIBUTE_num(sc->si->auth_attr) <= 0) {
		vfy_detail(detail, detail_len, "SignerInfo has no signed attributes");
		return VFY_DIGEST_MISMATCH;
	}
	ct = PKCS7_get_signed_attribute(sc->si, NID_pkcs9_contentType);
	if (ct == NULL || ct->type != V_ASN1_OBJECT ||
	    !obj_is(ct->value.object, OID_CTL)) {
		vfy_detail(detail, detail_len,
		    "signed contentType attribute is missing or not szOID_CTL");
		return VFY_NOT_CTL;
	}
	if (!digest_matches(sc->si->auth_attr, sc->md, sc->ctl_content,
	    sc->ctl_content_len, digest, digest_len)) {
		vfy_detail(detail, detail_len,
		    "the %s digest of the CTL does not match the signed messageDigest attribute",
		    sc->digest_name);
		return VFY_DIGEST_MISMATCH;
	}
	return VFY_OK;
}

/* RSA PKCS#1 v1.5 (or the key's own scheme) over the DER of the signed attributes as SET OF. */
static int
attrs_signature_ok(STACK_OF(X509_ATTRIBUTE) *attrs, const EVP_MD *md,
    X509 *cert, const ASN1_OCTET_STRING *sig)
{
	unsigned char *abuf = NULL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *pkey;
	int alen, ok = 0;

	if ((pkey = X509_get0_pubkey(cert)) == NULL)
		goto out;
	/* PKCS7_ATTR_VERIFY keeps the attributes in file order, re-tagged as SET. */
	alen = ASN1_item_i2d((ASN1_VALUE *)attrs, &abuf,
	    ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	if (alen <= 0 || (mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestVerifyInit(mctx, NULL, md, NULL, pkey) != 1)
		goto out;
	ok = EVP_DigestVerify(mctx, sig->data, (size_t)sig->length, abuf,
	    (size_t)alen) == 1;
out:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(abuf);
	ERR_clear_error();
	return ok;
}

enum vfy_reason
p7_check_signature(const struct signed_ctl *sc, char *detail, size_t detail_len)
{
	if (sc->signer == NULL) {
		vfy_detail(detail, detail_len,
		    "the signer's certificate is not in the file");
		return VFY_NO_CHAIN;
	}
	if (!attrs_signature_ok(sc->si->auth_attr, sc->md, sc->signer,
	    sc->si->enc_digest)) {
		vfy_detail(detail, detail_len,
		    "the signature over the signed attributes does not verify with the signer's key");
		return VFY_BAD_SIGNATURE;
	}
	return VFY_OK;
}

void
p7_countersignature(const struct signed_ctl *sc, struct countersig *cs)
{
	PKCS7_SIGNER_INFO *ts = NULL;
	const unsigned char *p;
	unsigned char digest[EVP_MAX_MD_SIZE];
	size_t dlen;
	const EVP_MD *md;
	ASN1_TYPE *t;

	memset(cs, 0, sizeof(*cs));
	t = PKCS7_get_attribute(sc->si, NID_pkcs9_countersignature);
	if (t == NULL)
		return;
	cs->present = 1;
	if (t->type != V_ASN1_SEQUENCE) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "countersignature is not a SignerInfo");
		goto out;
	}
	p = t->value.sequence->data;
	ts = d2i_PKCS7_SIGNER_INFO(NULL, &p, t->value.sequence->length);
	if (ts == NULL || p != t->value.sequence->data + t->value.sequence->length) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "countersignature is not a DER SignerInfo");
		goto out;
	}
	t = PKCS7_get_signed_attribute(ts, NID_pkcs9_signingTime);
	if (t != NULL && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME))
		cs->has_time = isotime_from_asn1(t->value.utctime, &cs->when);
	if (!cs->has_time) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "countersignature has no signingTime");
		goto out;
	}
	if (ts->issuer_and_serial != NULL)
		cs->tsa = X509_find_by_issuer_and_serial(sc->certs,
		    ts->issuer_and_serial->issuer, ts->issuer_and_serial->serial);
	if (cs->tsa == NULL) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "the time-stamp signer's certificate is not in the file");
		goto out;
	}
	if ((md = EVP_get_digestbyobj(ts->digest_alg->algorithm)) == NULL) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "countersignature uses an unsupported digest");
		goto out;
	}
	/* PKCS#9: the countersignature's messageDigest covers the outer signature value. */
	if (!digest_matches(ts->auth_attr, md, sc->si->enc_digest->data,
	    (size_t)sc->si->enc_digest->length, digest, &dlen)) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "countersignature's messageDigest does not match the signature it counter-signs");
		goto out;
	}
	if (!attrs_signature_ok(ts->auth_attr, md, cs->tsa, ts->enc_digest)) {
		vfy_detail(cs->detail, sizeof(cs->detail),
		    "countersignature's signature does not verify");
		goto out;
	}
	cs->signature_ok = 1;
out:
	PKCS7_SIGNER_INFO_free(ts);
	ERR_clear_error();
}

size_t
p7_nested_count(const struct signed_ctl *sc)
{
	ASN1_OBJECT *obj;
	size_t n = 0;
	int i;

	if ((obj = OBJ_txt2obj(OID_NESTED_SIGNATURE, 1)) == NULL)
		return 0;
	for (i = 0; i < sk_X509_ATTRIBUTE_num(sc->si->unauth_attr); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(sc->si->unauth_attr, i);

		if (OBJ_cmp(X509_ATTRIBUTE_get0_object(a), obj) == 0)
			n += (size_t)X509_ATTRIBUTE_count(a);
	}
	ASN1_OBJECT_free(obj);
	return n;
}

void
p7_free(struct signed_ctl *sc)
{
	PKCS7_free(sc->p7);
	memset(sc, 0, sizeof(*sc));
}
