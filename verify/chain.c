/*
 * chain.c - signer chain to pinned anchors, with OpenSSL's X509_verify_cert().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "verify/chain.h"
#include "verify/isotime.h"

char *
chain_subject(X509 *cert)
{
	BIO *bio;
	char *s = NULL;
	long n;
	char *p;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &p)) >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, p, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(bio);
	return s;
}

/*
 * Microsoft's 1997 root is a v3 certificate without basicConstraints, which
 * OpenSSL refuses as a CA. It is acceptable exactly when it is the pinned
 * anchor at the top of the chain (docs/verify.md, step 4).
 */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	const struct anchors *anchors;
	X509 *cert;
	int err;

	if (ok)
		return 1;
	err = X509_STORE_CTX_get_error(ctx);
	if (err != X509_V_ERR_INVALID_CA && err != X509_V_ERR_KEYUSAGE_NO_CERTSIGN)
		return 0;
	anchors = X509_STORE_CTX_get_app_data(ctx);
	cert = X509_STORE_CTX_get_current_cert(ctx);
	if (anchors == NULL || cert == NULL || !anchors_contains(anchors, cert) ||
	    X509_get_ext_by_NID(cert, NID_basic_constraints, -1) >= 0)
		return 0;
	return 1;
}

static int
window(STACK_OF(X509) *certs, struct chain *out)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		time_t nb, na;

		if (!isotime_from_asn1(X509_get0_notBefore(c), &nb) ||
		    !isotime_from_asn1(X509_get0_notAfter(c), &na))
			return 0;
		if (i == 0 || nb > out->valid_from) {
			out->valid_from = nb;
			free(out->from_subject);
			out->from_subject = chain_subject(c);
		}
		if (i == 0 || na < out->valid_to) {
			out->valid_to = na;
			free(out->to_subject);
			out->to_subject = chain_subject(c);
		}
	}
	return 1;
}

/*
 * The chain ends at top, not a pinned anchor. Microsoft may move list
 * signing to a new root: say which one, by SHA-256, and the config line
 * that would trust it, so an operator can check it and decide.
 */
static enum vfy_reason
untrusted_root(X509 *top, struct chain *out, char *detail, size_t detail_len)
{
	static const char digits[] = "0123456789ABCDEF";
	char fp[2 * sizeof(out->untrusted_root_sha256) + 1];
	unsigned int len;
	size_t i;
	char *s;

	/* Not self-signed: an issuer is missing rather than untrusted. */
	if (X509_check_issued(top, top) != X509_V_OK) {
		s = chain_subject(top);
		vfy_detail(detail, detail_len,
		    "the chain ends at '%s', which is not a pinned anchor",
		    s ? s : "?");
		free(s);
		return VFY_UNTRUSTED_ROOT;
	}
	if ((out->untrusted_root = chain_subject(top)) == NULL ||
	    !X509_digest(top, EVP_sha256(), out->untrusted_root_sha256, &len) ||
	    len != sizeof(out->untrusted_root_sha256)) {
		vfy_detail(detail, detail_len, "out of memory naming the chain's root");
		return VFY_INTERNAL;
	}
	for (i = 0; i < sizeof(out->untrusted_root_sha256); i++) {
		fp[2 * i] = digits[out->untrusted_root_sha256[i] >> 4];
		fp[2 * i + 1] = digits[out->untrusted_root_sha256[i] & 15];
	}
	fp[2 * i] = '\0';
	/* The pin line before the subject: a record that truncates keeps it. */
	vfy_detail(detail, detail_len,
	    "the chain ends at a root that is not a pinned anchor; to trust it, add "
	    "'anchor_pin = %s' (its SHA-256) to ctlmirror.conf and its certificate "
	    "to the anchors directory; the root is '%s'", fp, out->untrusted_root);
	return VFY_UNTRUSTED_ROOT;
}

enum vfy_reason
chain_build(X509 *leaf, STACK_OF(X509) *untrusted,
    const struct anchors *anchors, struct chain *out, char *detail,
    size_t detail_len)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *built = NULL;
	enum vfy_reason rc = VFY_INTERNAL;
	X509 *top;
	int i, err;

	memset(out, 0, sizeof(*out));
	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(anchors->certs); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(anchors->certs, i)))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto out;
	/* Time is checked afterwards against the window; see chain.h. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	X509_STORE_CTX_set_app_data(ctx, (void *)anchors);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);

	if (X509_verify_cert(ctx) == 1) {
		built = X509_STORE_CTX_get0_chain(ctx);
		top = sk_X509_value(built, sk_X509_num(built) - 1);
		if (!window(built, out) || (out->root = chain_subject(top)) == NULL)
			goto out;
		rc = VFY_OK;
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	built = X509_STORE_CTX_get0_chain(ctx);
	top = built != NULL && sk_X509_num(built) > 0 ?
	    sk_X509_value(built, sk_X509_num(built) - 1) : leaf;
	switch (err) {
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		rc = untrusted_root(top, out, detail, detail_len);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
		char issuer[256];

		X509_NAME_oneline(X509_get_issuer_name(top), issuer, sizeof(issuer));
		vfy_detail(detail, detail_len,
		    "no chain to a pinned anchor: the issuer '%s' is neither in the file nor among the anchors",
		    issuer);
		rc = VFY_NO_CHAIN;
		break;
	}
	default:
		vfy_detail(detail, detail_len, "no valid chain to a pinned anchor: %s",
		    X509_verify_cert_error_string(err));
		rc = VFY_NO_CHAIN;
		break;
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	if (rc != VFY_OK && rc != VFY_UNTRUSTED_ROOT)
		chain_free(out);
	return rc;
}

enum vfy_reason
chain_check_time(const struct chain *c, time_t at, const char **culprit,
    char *detail, size_t detail_len)
{
	char t1[ISOTIME_LEN], t2[ISOTIME_LEN];

	if (culprit != NULL)
		*culprit = NULL;
	if (at < c->valid_from) {
		vfy_detail(detail, detail_len,
		    "certificate '%s' is not valid until %s (checked at %s)",
		    c->from_subject ? c->from_subject : "?",
		    isotime_format(c->valid_from, t1, sizeof(t1)),
		    isotime_format(at, t2, sizeof(t2)));
		if (culprit != NULL)
			*culprit = c->from_subject;
		return VFY_NOT_YET_VALID;
	}
	if (at > c->valid_to) {
		vfy_detail(detail, detail_len,
		    "certificate '%s' expired at %s (checked at %s)",
		    c->to_subject ? c->to_subject : "?",
		    isotime_format(c->valid_to, t1, sizeof(t1)),
		    isotime_format(at, t2, sizeof(t2)));
		if (culprit != NULL)
			*culprit = c->to_subject;
		return VFY_EXPIRED;
	}
	return VFY_OK;
}

void
chain_free(struct chain *c)
{
	free(c->untrusted_root);
	free(c->root);
	free(c->from_subject);
	free(c->to_subject);
	memset(c, 0, sizeof(*c));
}
