/*
 * ctl.h - parse a Certificate Trust List (the content of authroot.stl).
 *
 * Bytes in, struct out; no I/O. The input is the DER of the CTL SEQUENCE
 * (tag and length included) as it sits inside the PKCS#7 SignedData.
 *
 * The three lists shape their entries differently (docs/verify.md, "The CTL"): authroot
 * names each by a 20-byte SHA-1 with OCTET STRING attributes; disallowed by
 * 16- or 48-byte hashes with no attribute SET at all; pin rules by an ASCII
 * DNS name (up to 253 bytes) with INTEGER attribute values. All parse: an
 * attribute value of any type is checked to be well-formed DER within its
 * SET; the friendly name is decoded, and each entry keeps a copy of its
 * attribute SET (entry->attrs) for ctl_attr_next() to walk, so that diff can
 * say what changed (verify/ctlattr.h names and renders the values).
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

/* Room for an attribute's dotted OID, NUL included. */
#define CTL_OID_MAX 80
/* struct ctl_attr's oid when OpenSSL cannot decode it or it needs more room. */
#define CTL_OID_INVALID "(invalid OID)"

/*
 * One attribute of an entry: SEQUENCE { type OID, values SET OF ANY }.
 * values points into the walked bytes at the SET's contents: zero or more
 * complete DER elements, read one by one with ctl_value_next().
 */
struct ctl_attr {
	char oid[CTL_OID_MAX];		/* dotted, e.g. "1.3.6.1.4.1.311.10.11.9", or CTL_OID_INVALID */
	const unsigned char *oid_der;	/* the OID's contents octets: compare these */
	size_t oid_der_len;
	const unsigned char *values;	/* contents of the SET OF values */
	size_t values_len;
};

/* One value of an attribute: a whole DER element and its contents. */
struct ctl_value {
	int tag;			/* universal tag number (V_ASN1_OCTET_STRING is 4), -1 for another class */
	const unsigned char *der;	/* the element, tag and length included */
	size_t der_len;
	const unsigned char *data;	/* its contents octets */
	size_t len;
};

/*
 * A reading position in bytes nobody vouches for: the next byte and how
 * many remain. Start one at an entry's attribute SET with ctl_attrs_begin(),
 * or at an attribute's values as { a.values, a.values_len }.
 */
struct ctl_cursor {
	const unsigned char *p;
	size_t left;
};

/*
 * Starts a walk of e's attributes: checks that e->attrs is one DER SET that
 * fills e->attrs_len and sets *c to its contents. Returns 1, or 0 when the
 * bytes are not such a SET; an entry without attributes (disallowed) gives
 * an empty walk and 1.
 */
int ctl_attrs_begin(const struct ctl_entry *e, struct ctl_cursor *c);

/*
 * The next attribute at *c: returns 1 with *out filled (pointing into the
 * walked bytes) and *c moved past it, 0 at the end, -1 when the bytes there
 * are not an attribute (a SEQUENCE of an OID and a SET of complete DER
 * elements, exactly filling it: the checks ctl_parse() made). Entries that
 * ctl_parse() returned never give -1.
 */
int ctl_attr_next(struct ctl_cursor *c, struct ctl_attr *out);

/*
 * The next value at *c (a cursor over an attribute's values): 1 with *out
 * filled, 0 at the end, -1 when the bytes are not a complete DER element
 * with a definite length.
 */
int ctl_value_next(struct ctl_cursor *c, struct ctl_value *out);

/*
 * UTF-16LE (as Windows stores friendly names), up to a NUL or the end, to
 * a malloc'd NUL-terminated UTF-8 string (surrogate pairs joined; an unpaired
 * surrogate is copied as its code point). NULL when out of memory.
 */
char *ctl_utf16le_to_utf8(const unsigned char *p, size_t len);

#endif
