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

/* The three lists Windows fetches (docs/verify.md, "The kind, and step 5"). */
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
	VFY_WRONG_USAGE,	/* CTL subjectUsage lacks the kind's OID, or the signer's EKU lacks the list signer's */
	VFY_NOT_YET_VALID,	/* a chain certificate is not yet valid at the verification time */
	VFY_EXPIRED,		/* a chain certificate has expired at the verification time */
	VFY_INTERNAL,		/* out of memory or a library failure: not the file's fault */
};
#define VFY_REASON_COUNT 11

/*
 * Bound on a subjectIdentifier: a DNS name (pin rules) is at most 253 bytes,
 * the longest hash seen 48 (disallowed). A CTL with a longer one is NOT_CTL.
 */
#define CTL_ENTRY_ID_MAX	255
/* Room for ctl_entry_id_text() of any entry, NUL included. */
#define CTL_ENTRY_ID_STRLEN	(2 * CTL_ENTRY_ID_MAX + 1)

/* One trusted subject of the CTL. */
struct ctl_entry {
	unsigned char id[CTL_ENTRY_ID_MAX]; /* subjectIdentifier, id_len bytes */
	size_t id_len;		/* 1..CTL_ENTRY_ID_MAX */
	int id_is_text;		/* a DNS name (pin rules), printable ASCII: show as text */
	char *friendly_name;	/* attribute 1.3.6.1.4.1.311.10.11.11 as UTF-8, or NULL */
	unsigned char der_sha256[32];	/* SHA-256 of the entry's DER: same id, other digest = changed */
	unsigned char *attrs;	/* DER of the attribute SET (tag included), or NULL when absent; walk with ctl_attr_next() */
	size_t attrs_len;	/* 0 when absent; all entries' copies together are smaller than the CTL */
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

	/*
	 * UNTRUSTED_ROOT only: the self-signed certificate the chain ends at,
	 * so an operator can decide to pin it (config anchor_pin).
	 */
	int has_untrusted_root;
	char *untrusted_root;	/* its RFC 2253 subject, or NULL */
	unsigned char untrusted_root_sha256[32]; /* SHA-256 of its DER: the pin */
	char *out_of_validity;	/* subject of the certificate outside its validity period */

	int has_timestamp;	/* a countersignature with a signingTime is present */
	int timestamp_verified;	/* ...and it verified to an anchor, so its time was used */
	time_t timestamp;
	char timestamp_detail[256]; /* why a present countersignature was not used, else "" */
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

/*
 * Writes one sentence into a caller's detail buffer of len bytes, like
 * snprintf (truncating). A NULL buffer or len 0 is accepted and ignored, so
 * that callers may pass detail through without checking it. Every verify/
 * module reports its details through this one function.
 */
void vfy_detail(char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * How every printer shows an entry's identifier: the text itself when
 * e->id_is_text (a pin rule's DNS name), else upper-case hex (a SHA-1
 * thumbprint, a disallowed hash). Writes into buf of len bytes
 * (CTL_ENTRY_ID_STRLEN always suffices; less truncates) and returns buf.
 */
const char *ctl_entry_id_text(const struct ctl_entry *e, char *buf, size_t len);

/* Releases what a verdict owns and zeroes it; safe on a zeroed verdict. */
void verdict_free(struct verdict *v);

/*
 * Does a failure with this reason depend on the local trust set (the anchors
 * and intermediates this machine has) rather than on the file's bytes? Such
 * a copy may verify once the trust set changes: NO_CHAIN, UNTRUSTED_ROOT.
 */
int vfy_reason_trust_dependent(enum vfy_reason reason);

#endif
