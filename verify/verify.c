/*
 * verify.c - the verification steps of docs/verify.md, in order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "verify/cab.h"
#include "verify/chain.h"
#include "verify/ctl.h"
#include "verify/pkcs7.h"
#include "verify/verify.h"

/*
 * Step 5, per kind (docs/verify.md, "The kind, and step 5"): the OID the CTL's subjectUsage
 * must carry, and the EKUs a signer may carry. The same Microsoft
 * "Certificate Trust List Publisher" certificates (EKU 10.3.9) sign all three
 * lists, so the kind is told by subjectUsage, never by the signer;
 * szOID_PIN_RULES_SIGNER (10.3.31) is on no real signer but is accepted too.
 */
static const struct {
	const char *ctl_usage;
} usage_rules[KIND_COUNT] = {
	[KIND_AUTHROOT] = { OID_ROOT_LIST_SIGNER },
	[KIND_DISALLOWED] = { OID_DISALLOWED_LIST },
	[KIND_PINRULES] = { OID_PIN_RULES_CTL },
};

static const char *const signer_ekus[] = {
	OID_ROOT_LIST_SIGNER,
	OID_PIN_RULES_SIGNER,
};

static enum vfy_reason fail(struct verdict *, enum vfy_reason, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static enum vfy_reason
fail(struct verdict *v, enum vfy_reason reason, const char *fmt, ...)
{
	va_list ap;

	v->reason = reason;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	return reason;
}

static enum ctl_kind
kind_from_member(const char *name)
{
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (strcasecmp(name, ctl_kind_member_name((enum ctl_kind)k)) == 0)
			return (enum ctl_kind)k;
	return KIND_UNKNOWN;
}

static enum ctl_kind
kind_from_usage(const struct ctl *ctl)
{
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (ctl_has_usage(ctl, usage_rules[k].ctl_usage))
			return (enum ctl_kind)k;
	return KIND_UNKNOWN;
}

/* Whether cert's extendedKeyUsage lists oid; a certificate without the extension lists nothing. */
static int
has_eku(X509 *cert, const char *oid)
{
	EXTENDED_KEY_USAGE *eku;
	char buf[80];
	int i, found = 0;

	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku) && !found; i++) {
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1);
		found = strcmp(buf, oid) == 0;
	}
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return found;
}

static int
signer_has_eku(X509 *cert)
{
	size_t j;

	for (j = 0; j < sizeof(signer_ekus) / sizeof(signer_ekus[0]); j++)
		if (has_eku(cert, signer_ekus[j]))
			return 1;
	return 0;
}

/* The file's certificates plus the configured intermediates (a new stack that borrows). */
static STACK_OF(X509) *
untrusted_set(const struct signed_ctl *sc, STACK_OF(X509) *extra)
{
	STACK_OF(X509) *s;
	int i;

	if ((s = sk_X509_new_null()) == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(sc->certs); i++)
		if (!sk_X509_push(s, sk_X509_value(sc->certs, i)))
			goto err;
	for (i = 0; i < sk_X509_num(extra); i++)
		if (!sk_X509_push(s, sk_X509_value(extra, i)))
			goto err;
	return s;
err:
	sk_X509_free(s);
	return NULL;
}

/*
 * Step 6: a countersignature's time replaces T when the countersignature
 * verifies, its signer carries the time-stamping EKU and chains to an
 * anchor, valid at that time. When one is present but falls short, the
 * verdict says why in timestamp_detail and T stays the caller's.
 */
static void
check_timestamp(const struct signed_ctl *sc, STACK_OF(X509) *untrusted,
    const struct anchors *anchors, struct verdict *v)
{
	struct countersig cs;
	struct chain tc;
	char *who = NULL;
	char why[sizeof(v->timestamp_detail)];

	memset(&tc, 0, sizeof(tc));
	p7_countersignature(sc, &cs);
	if (!cs.present || !cs.has_time)
		return;
	v->has_timestamp = 1;
	v->timestamp = cs.when;
	if (!cs.signature_ok) {
		vfy_detail(v->timestamp_detail, sizeof(v->timestamp_detail), "%s",
		    cs.detail);
		goto out;
	}
	if (!has_eku(cs.tsa, OID_TIME_STAMPING)) {
		who = chain_subject(cs.tsa);
		vfy_detail(v->timestamp_detail, sizeof(v->timestamp_detail),
		    "the countersigner '%s' lacks the time-stamping extended key usage "
		    OID_TIME_STAMPING, who != NULL ? who : "?");
		goto out;
	}
	if (chain_build(cs.tsa, untrusted, anchors, &tc, why,
	    sizeof(why)) != VFY_OK) {
		vfy_detail(v->timestamp_detail, sizeof(v->timestamp_detail),
		    "the countersigner's chain: %s", why);
		goto out;
	}
	if (chain_check_time(&tc, cs.when, NULL, why, sizeof(why)) != VFY_OK) {
		vfy_detail(v->timestamp_detail, sizeof(v->timestamp_detail),
		    "the countersigner's chain at its own time: %s", why);
		goto out;
	}
	v->timestamp_verified = 1;
out:
	free(who);
	chain_free(&tc);
}

enum vfy_reason
vfy_verify(const unsigned char *buf, size_t len, const struct vfy_params *p,
    struct verdict *v)
{
	struct signed_ctl sc;
	struct ctl ctl;
	struct chain chain;
	STACK_OF(X509) *untrusted = NULL;
	unsigned char *stl = NULL;
	const unsigned char *der;
	size_t der_len;
	char member[256], detail[sizeof(v->detail)];
	const char *culprit;
	enum ctl_kind kind = p->kind;
	enum vfy_reason rc;
	int by_member = 0;	/* the kind was told by the CAB member's name */

	memset(v, 0, sizeof(*v));
	memset(&sc, 0, sizeof(sc));
	memset(&ctl, 0, sizeof(ctl));
	memset(&chain, 0, sizeof(chain));
	v->kind = kind;
	v->verified_at = p->at;

	/* Step 1: a well-formed CAB with one member, named for the kind, bounded in size. */
	if (p->require_cab && !cab_is_cab(buf, len)) {
		rc = fail(v, VFY_CAB_MALFORMED, "not a CAB file (no MSCF signature)");
		goto out;
	}
	if (cab_is_cab(buf, len)) {
		switch (cab_unpack(buf, len, ctl_kind_member_name(kind),
		    p->max_member ? p->max_member : CAB_MAX_MEMBER, &stl,
		    &der_len, member, sizeof(member), detail, sizeof(detail))) {
		case CAB_OK:
			break;
		case CAB_ERR_NOMEM:
			rc = fail(v, VFY_INTERNAL, "out of memory unpacking the CAB");
			goto out;
		default:
			rc = fail(v, VFY_CAB_MALFORMED, "%s", detail);
			goto out;
		}
		if (kind == KIND_UNKNOWN) {
			by_member = 1;
			if ((kind = kind_from_member(member)) == KIND_UNKNOWN) {
				rc = fail(v, VFY_CAB_MALFORMED,
				    "CAB member '%.64s' is none of authroot.stl, disallowedcert.stl, pinrules.stl",
				    member);
				goto out;
			}
		}
		der = stl;
	} else if (len > 0 && buf[0] == 0x30) {
		der = buf;		/* a bare .stl */
		der_len = len;
	} else {
		rc = fail(v, VFY_CAB_MALFORMED, "neither a CAB nor a DER-encoded CTL");
		goto out;
	}

	/* Step 2: PKCS#7 SignedData over a szOID_CTL content, and the CTL itself. */
	if ((rc = p7_parse(der, der_len, &sc, detail, sizeof(detail))) != VFY_OK) {
		fail(v, rc, "%s", detail);
		goto out;
	}
	switch (ctl_parse(sc.ctl_der, sc.ctl_der_len, &ctl, detail, sizeof(detail))) {
	case CTL_OK:
		break;
	case CTL_ERR_NOMEM:
		rc = fail(v, VFY_INTERNAL, "out of memory parsing the CTL");
		goto out;
	default:
		rc = fail(v, VFY_NOT_CTL, "%s", detail);
		goto out;
	}
	if (kind == KIND_UNKNOWN)
		kind = kind_from_usage(&ctl);
	v->kind = kind;
	memcpy(v->sequence, ctl.sequence, sizeof(v->sequence));
	v->this_update = ctl.this_update;
	v->next_update = ctl.next_update;
	v->n_entries = ctl.n_entries;
	if (p->keep_entries)
		v->entries = ctl_take_entries(&ctl, &v->n_entries);
	snprintf(v->digest_alg, sizeof(v->digest_alg), "%s", sc.digest_name);
	v->nested_signatures = p7_nested_count(&sc);
	if (sc.signer != NULL)
		v->signer = chain_subject(sc.signer);
	if ((untrusted = untrusted_set(&sc, p->intermediates)) == NULL) {
		rc = fail(v, VFY_INTERNAL, "out of memory");
		goto out;
	}
	check_timestamp(&sc, untrusted, p->anchors, v);

	/* Step 2: signed attributes: contentType and messageDigest. */
	rc = p7_check_digest(&sc, v->content_digest, &v->content_digest_len,
	    detail, sizeof(detail));
	if (rc != VFY_OK) {
		fail(v, rc, "%s", detail);
		goto out;
	}

	/* Step 3: the signature over the signed attributes. */
	if ((rc = p7_check_signature(&sc, detail, sizeof(detail))) != VFY_OK) {
		fail(v, rc, "%s", detail);
		goto out;
	}

	/* Step 4: the signer's chain to a pinned anchor. */
	rc = chain_build(sc.signer, untrusted, p->anchors, &chain, detail,
	    sizeof(detail));
	if (rc != VFY_OK) {
		/* What an operator needs to decide to trust a new root. */
		if (chain.untrusted_root != NULL) {
			v->has_untrusted_root = 1;
			v->untrusted_root = chain.untrusted_root;
			chain.untrusted_root = NULL;
			memcpy(v->untrusted_root_sha256, chain.untrusted_root_sha256,
			    sizeof(v->untrusted_root_sha256));
		}
		fail(v, rc, "%s", detail);
		goto out;
	}
	v->has_chain = 1;
	v->chain_valid_from = chain.valid_from;
	v->chain_valid_to = chain.valid_to;
	v->chain_root = chain.root;
	chain.root = NULL;

	/* Step 5: the kind's OID in the CTL's subjectUsage and in the signer's EKU. */
	if (kind == KIND_UNKNOWN) {
		rc = fail(v, VFY_WRONG_USAGE,
		    "the CTL's subjectUsage (%s) names none of the three lists",
		    ctl.n_usages ? ctl.usages[0] : "empty");
		goto out;
	}
	if (!ctl_has_usage(&ctl, usage_rules[kind].ctl_usage)) {
		enum ctl_kind is = kind_from_usage(&ctl);

		if (is != KIND_UNKNOWN)
			rc = fail(v, VFY_WRONG_USAGE,
			    "the CTL's subjectUsage is %s (the %s list), not %s as the %s list requires%s",
			    usage_rules[is].ctl_usage, ctl_kind_str(is),
			    usage_rules[kind].ctl_usage, ctl_kind_str(kind),
			    by_member ? " (the kind its CAB member's name says)" : "");
		else
			rc = fail(v, VFY_WRONG_USAGE,
			    "the CTL's subjectUsage lacks %s, required for the %s list%s",
			    usage_rules[kind].ctl_usage, ctl_kind_str(kind),
			    by_member ? " (the kind its CAB member's name says)" : "");
		goto out;
	}
	if (!signer_has_eku(sc.signer)) {
		rc = fail(v, VFY_WRONG_USAGE,
		    "the signer's extended key usage lacks %s (or %s), required to sign the %s list",
		    OID_ROOT_LIST_SIGNER, OID_PIN_RULES_SIGNER, ctl_kind_str(kind));
		goto out;
	}

	/* Step 6: the chain is valid at T, or at the verified timestamp. */
	if (v->timestamp_verified)
		v->verified_at = v->timestamp;
	rc = chain_check_time(&chain, v->verified_at, &culprit, detail, sizeof(detail));
	if (rc != VFY_OK) {
		if (culprit != NULL)
			v->out_of_validity = strdup(culprit);
		/* A reader seeing a timestamp must learn why it did not count. */
		if (v->timestamp_detail[0] != '\0')
			fail(v, rc, "%s; the countersignature's time was not used: %s",
			    detail, v->timestamp_detail);
		else
			fail(v, rc, "%s", detail);
		goto out;
	}
	rc = VFY_OK;
	v->reason = VFY_OK;
	if (v->timestamp_verified)
		vfy_detail(v->detail, sizeof(v->detail),
		    "signature and chain verify at the countersignature's time");
	else if (v->timestamp_detail[0] != '\0')
		vfy_detail(v->detail, sizeof(v->detail),
		    "signature and chain verify at the given time; the countersignature's time was not used: %s",
		    v->timestamp_detail);
	else
		vfy_detail(v->detail, sizeof(v->detail), "signature and chain verify");
out:
	sk_X509_free(untrusted);
	chain_free(&chain);
	ctl_free(&ctl);
	p7_free(&sc);
	free(stl);
	ERR_clear_error();
	return rc;
}

enum vfy_reason
vfy_read_entries(const unsigned char *buf, size_t len, enum ctl_kind kind,
    struct verdict *v)
{
	struct anchors none;
	struct vfy_params p;
	enum vfy_reason rc;

	memset(&p, 0, sizeof(p));
	if (anchors_init(&none) != ANCHORS_OK) {
		memset(v, 0, sizeof(*v));
		return v->reason = VFY_INTERNAL;
	}
	p.kind = kind;
	p.anchors = &none;
	p.keep_entries = 1;
	rc = vfy_verify(buf, len, &p, v);
	anchors_free(&none);
	return rc;
}
