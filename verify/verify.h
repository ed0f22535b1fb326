/*
 * verify.h - does this CTL file verify? (docs/verify.md)
 *
 * vfy_verify() takes the bytes of a .cab (or a bare .stl), the kind expected,
 * the pinned anchors and the time T, and fills a struct verdict. It reads no
 * clock, no file and no network: everything comes in as arguments.
 */
#ifndef CTLMIRROR_VERIFY_H
#define CTLMIRROR_VERIFY_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "verify/anchors.h"
#include "verify/verdict.h"

/*
 * The kind: given, a CAB whose member is named for another kind (or for
 * none) is CAB_MALFORMED, and a CTL whose subjectUsage is another kind's is
 * WRONG_USAGE. KIND_UNKNOWN takes it from the CAB member's name (then the
 * subjectUsage must agree, else WRONG_USAGE) or, for a bare .stl, from the
 * subjectUsage. The signer's EKU is the same for every kind (verify.c).
 */
struct vfy_params {
	enum ctl_kind kind;		/* KIND_UNKNOWN: take it from the member name or subjectUsage */
	time_t at;			/* T: the time the chain must be valid at */
	const struct anchors *anchors;
	STACK_OF(X509) *intermediates;	/* extra untrusted CA certificates, or NULL */
	size_t max_member;		/* 0: CAB_MAX_MEMBER */
	int keep_entries;		/* copy the entry list into the verdict */
	int require_cab;		/* bytes without the MSCF signature are CAB_MALFORMED
					 * (what the upstream serves); 0: a bare .stl is read too */
};

/*
 * Verifies buf[0..len). Always fills *v (release with verdict_free()), with
 * as many facts as could be read before the first failing step, and returns
 * v->reason: VFY_OK only if every step of docs/verify.md holds.
 */
enum vfy_reason vfy_verify(const unsigned char *buf, size_t len,
    const struct vfy_params *p, struct verdict *v);

/*
 * Reads a CTL file's facts and entries without judging its trust (no anchors:
 * the reason is at best NO_CHAIN). For listing and comparing stored versions.
 * Release v with verdict_free(); v->entries is NULL if the CTL did not parse.
 */
enum vfy_reason vfy_read_entries(const unsigned char *buf, size_t len,
    enum ctl_kind kind, struct verdict *v);

#endif
