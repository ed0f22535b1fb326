/*
 * ctl.h - parse a Certificate Trust List (the content of authroot.stl).
 *
 * Bytes in, struct out; no I/O. The input is the DER of the CTL SEQUENCE
 * (tag and length included) as it sits inside the PKCS#7 SignedData.
 *
 * The three lists shape their entries differently (PROTOCOL.md): authroot
 * names each by a 20-byte SHA-1 with OCTET STRING attributes; disallowed by
 * 16- or 48-byte hashes with no attribute SET at all; pin rules by an ASCII
 * DNS name (up to 253 bytes) with INTEGER attribute values. All parse: an
 * attribute value of any type is checked to be well-formed DER within its
 * SET and otherwise ignored (only the friendly name is read).
 */
#ifndef CTLMIRROR_CTL_H
#define CTLMIRROR_CTL_H

#include <stddef.h>
#include <time.h>

#include "verify/verdict.h"

/* Object identifiers the lists use (wincrypt.h names). */
#define OID_CTL			"1.3.6.1.4.1.311.10.1"
#define OID_ROOT_LIST_SIGNER	"1.3.6.1.4.1.311.10.3.9"
#define OID_DISALLOWED_LIST	"1.3.6.1.4.1.311.10.3.30"
#define OID_PIN_RULES_SIGNER	"1.3.6.1.4.1.311.10.3.31"
#define OID_PIN_RULES_CTL	"1.3.6.1.4.1.311.10.3.32"
#define OID_PIN_RULES_EXT	"1.3.6.1.4.1.311.10.3.33"
#define OID_PIN_RULES_DOMAIN_NAME "1.3.6.1.4.1.311.10.3.34"
#define OID_PIN_RULES_LOG_END_DATE "1.3.6.1.4.1.311.10.3.35"
#define OID_DISALLOWED_HASH	"1.3.6.1.4.1.311.10.11.15"
#define OID_FRIENDLY_NAME	"1.3.6.1.4.1.311.10.11.11"
#define OID_NESTED_SIGNATURE	"1.3.6.1.4.1.311.2.4.1"

#define CTL_MAX_USAGES 8

struct ctl {
	long version;			/* 0 (v1) when absent */
	size_t n_usages;
	char usages[CTL_MAX_USAGES][64];/* subjectUsage OIDs, dotted */
	unsigned char list_id[128];
	size_t list_id_len;		/* 0 when absent */
	int has_list_id;
	char sequence[80];		/* upper-case hex of sequenceNumber, "" if absent */
	time_t this_update;
	time_t next_update;		/* 0 when absent */
	char subject_alg[64];		/* dotted OID of subjectAlgorithm */
	size_t n_entries;
	struct ctl_entry *entries;
	/*
	 * ctlExtensions are counted, not acted on: the pin rules' critical
	 * 1.3.6.1.4.1.311.10.3.33 is Windows' business, not a reason to refuse.
	 */
	size_t n_extensions;
	size_t n_critical_extensions;
};

enum ctl_err {
	CTL_OK = 0,
	CTL_ERR_DECODE,		/* not DER of a CertificateTrustList */
	CTL_ERR_FIELD,		/* decodes, but a field is out of bounds (see detail) */
	CTL_ERR_NOMEM,
};

/*
 * Parses the CTL in der[0..len). On CTL_OK, *out is filled and must be
 * released with ctl_free(). On error, detail (if not NULL) gets a sentence
 * and *out is left zeroed. An entry whose subjectIdentifier is empty or
 * longer than CTL_ENTRY_ID_MAX (255) bytes is CTL_ERR_FIELD. An entry's
 * id_is_text is set when subjectAlgorithm is szOID_PIN_RULES_DOMAIN_NAME
 * (1.3.6.1.4.1.311.10.3.34) and every byte is printable ASCII (0x21-0x7E).
 */
enum ctl_err ctl_parse(const unsigned char *der, size_t len, struct ctl *out,
    char *detail, size_t detail_len);

/* Does the CTL's subjectUsage carry this dotted OID? */
int ctl_has_usage(const struct ctl *ctl, const char *oid);

/* Releases what a struct ctl owns (entries) and zeroes it. */
void ctl_free(struct ctl *ctl);

/* Moves the entries out of the ctl (the caller owns them afterwards). */
struct ctl_entry *ctl_take_entries(struct ctl *ctl, size_t *n);

/* Releases an entry array returned by ctl_take_entries(). */
void ctl_entries_free(struct ctl_entry *entries, size_t n);

#endif
