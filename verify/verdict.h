/*
 * verdict.h - what verify() says about one CTL file.
 *
 * A verdict is plain data owned by the caller: fill it with vfy_verify(),
 * release it with verdict_free(). The store keeps the facts from it; the CLI
 * and the server print them. Nothing here does I/O.
 */
#ifndef CTLMIRROR_VERDICT_H
#define CTLMIRROR_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The three lists Windows fetches (DESIGN.md, "The lists"). */
enum ctl_kind {
	KIND_UNKNOWN = 0,
	KIND_AUTHROOT,
	KIND_DISALLOWED,
	KIND_PINRULES,
};
#define KIND_COUNT 4

/*
 * Stable reason codes. The names printed by vfy_reason_str() are part of the
 * interface (JSON output, store records, metrics): never renumber or rename,
 * only append.
 */
enum vfy_reason {
	VFY_OK = 0,
	VFY_CAB_MALFORMED,	/* not a CAB, truncated, wrong member count/name, too large */
	VFY_NOT_CTL,		/* not PKCS#7 SignedData over a szOID_CTL content, or the CTL does not parse */
	VFY_DIGEST_MISMATCH,	/* messageDigest attribute missing or not the digest of the CTL */
	VFY_BAD_SIGNATURE,	/* signature over the signed attributes does not verify */
	VFY_NO_CHAIN,		/* signer certificate or an intermediate is missing */
	VFY_UNTRUSTED_ROOT,	/* the chain ends at a root that is not a pinned anchor */
	VFY_WRONG_USAGE,	/* signer EKU or CTL subjectUsage lacks the kind's OID */
	VFY_NOT_YET_VALID,	/* a chain certificate is not yet valid at the verification time */
	VFY_EXPIRED,		/* a chain certificate has expired at the verification time */
	VFY_INTERNAL,		/* out of memory or a library failure: not the file's fault */
};
#define VFY_REASON_COUNT 11

/* One trusted subject of the CTL. */
struct ctl_entry {
	unsigned char id[64];	/* subjectIdentifier: SHA-1 thumbprint for authroot */
	size_t id_len;
	char *friendly_name;	/* attribute 1.3.6.1.4.1.311.10.11.11 as UTF-8, or NULL */
	unsigned char der_sha256[32];	/* SHA-256 of the entry's DER: same id, other digest = changed */
};

struct verdict {
	enum vfy_reason reason;
	char detail[512];	/* one sentence in plain words: what failed, and where */

	enum ctl_kind kind;
	char sequence[80];	/* upper-case hex of sequenceNumber, "" when absent */
	time_t this_update;
	time_t next_update;	/* 0 when absent */
	size_t n_entries;
	struct ctl_entry *entries;
	char digest_alg[16];	/* "sha1", "sha256", ... ("" when unknown) */
	unsigned char content_digest[64];
	size_t content_digest_len;
	char *signer;		/* RFC 2253 subject of the signer, or NULL */

	int has_chain;		/* chain_valid_* are meaningful */
	time_t chain_valid_from;/* latest notBefore, signer to anchor */
	time_t chain_valid_to;	/* earliest notAfter, signer to anchor */
	char *chain_root;	/* RFC 2253 subject of the anchor */
	char *out_of_validity;	/* subject of the certificate outside its validity period */

	int has_timestamp;	/* a countersignature with a signingTime is present */
	int timestamp_verified;	/* ...and it verified to an anchor, so its time was used */
	time_t timestamp;
	time_t verified_at;	/* the time the chain was checked at (T or the timestamp) */

	size_t nested_signatures;
};

/* The name of a reason code, e.g. "DIGEST_MISMATCH". Never NULL. */
const char *vfy_reason_str(enum vfy_reason reason);

/* "authroot", "disallowed", "pinrules" or "unknown". */
const char *ctl_kind_str(enum ctl_kind kind);

/* Parses a kind name; returns KIND_UNKNOWN if it is none of the three. */
enum ctl_kind ctl_kind_parse(const char *name);

/* The file names of a kind: the CAB, the member inside it, the sequence file (NULL if none). */
const char *ctl_kind_cab_name(enum ctl_kind kind);
const char *ctl_kind_member_name(enum ctl_kind kind);
const char *ctl_kind_seq_name(enum ctl_kind kind);

/*
 * Compares two sequence numbers (hex, any length or case) as numbers:
 * negative, 0 or positive like strcmp. "" sorts lowest.
 */
int ctl_seq_cmp(const char *a, const char *b);

/* Releases what a verdict owns and zeroes it; safe on a zeroed verdict. */
void verdict_free(struct verdict *v);

#endif
