/*
 * ctlattr.h - what a CTL entry's attributes mean, in words: their names,
 * their values as text, and which of them differ between two entries.
 *
 * An authroot entry's attributes are Windows certificate properties, OID
 * 1.3.6.1.4.1.311.10.11.<property id>, each with one OCTET STRING value
 * (docs/verify.md, "The CTL"). This module knows the ones seen on the real lists and
 * how to show their values; any other attribute is shown by its dotted OID
 * and its value in hex. Pure functions over bytes walked by ctl_attr_next()
 * (verify/ctl.h); no I/O, no clock: a FILETIME is converted, never compared
 * with now. Used by `ctlmirror diff` to say what changed in an entry.
 */
#ifndef CTLMIRROR_CTLATTR_H
#define CTLMIRROR_CTLATTR_H

#include <stddef.h>

#include "verify/ctl.h"

/* Certificate property OIDs seen on the real lists (as seen on the real lists). */
#define OID_PROP_EKU		"1.3.6.1.4.1.311.10.11.9"
#define OID_PROP_KEY_ID		"1.3.6.1.4.1.311.10.11.20"
#define OID_PROP_SUBJECT_MD5	"1.3.6.1.4.1.311.10.11.29"
#define OID_PROP_ROOT_PROGRAM	"1.3.6.1.4.1.311.10.11.83"
#define OID_PROP_SHA256		"1.3.6.1.4.1.311.10.11.98"
#define OID_PROP_DISALLOWED	"1.3.6.1.4.1.311.10.11.104"
#define OID_PROP_NOT_BEFORE	"1.3.6.1.4.1.311.10.11.126"
#define OID_PROP_NOT_BEFORE_EKU	"1.3.6.1.4.1.311.10.11.127"

/*
 * Room for ctlattr_render()'s text, NUL included. Longer renderings end in
 * "..." (cut on a UTF-8 character boundary).
 */
#define CTLATTR_TEXT_MAX 512

/* A hex value longer than this many bytes is abbreviated (see ctlattr_render). */
#define CTLATTR_HEX_SHOWN 32

enum ctlattr_err {
	CTLATTR_OK = 0,
	CTLATTR_MALFORMED,	/* an entry's attribute bytes do not walk (ctl_attr_next() gave -1) */
	CTLATTR_NOMEM,
};

/* Words for an error code, e.g. "malformed attributes". Never NULL. */
const char *ctlattr_strerror(enum ctlattr_err err);

/*
 * The name of a known attribute OID (dotted), e.g. "EKU restrictions",
 * "disallowed since", "notBefore"; NULL for any other (show the OID).
 * Properties 105 and 122 are seen but their meaning is not known: NULL.
 */
const char *ctlattr_name(const char *oid);

/*
 * The name of an extended key usage OID when it is well known, e.g.
 * "server auth" for 1.3.6.1.5.5.7.3.1; NULL otherwise.
 */
const char *ctlattr_eku_name(const char *oid);

/*
 * An attribute's values as text, into buf of len bytes (CTLATTR_TEXT_MAX
 * suffices; less abbreviates; len 0 writes nothing). Returns buf. Values are
 * joined by "; ". An OCTET STRING value of a known property is shown as:
 *   EKU restrictions, notBefore EKU: the DER SEQUENCE OF OID inside, each
 *       dotted, with ctlattr_eku_name() in parentheses when known, joined by ", ";
 *   friendly name: the UTF-16LE text in double quotes, control characters,
 *       quotes and backslashes escaped as \xNN, \" and \\;
 *   disallowed since, notBefore: the 8-byte little-endian FILETIME as
 *       "YYYY-MM-DDTHH:MM:SSZ" (whole seconds), years 1601 to 9999;
 *   anything else, and a value that is not of that shape: upper-case hex of
 *       the contents.
 * Any other value (an INTEGER of the pin rules, say) is the hex of its whole
 * DER element. A hex rendering of more than CTLATTR_HEX_SHOWN bytes shows
 * that many and then "... (N bytes, SHA-256 XXXXXXXXXXXXXXXX)", the first 8
 * bytes of the value's SHA-256, so that two long values that differ do not
 * look the same. No values: "(none)"; bytes that do not walk: "(malformed)".
 */
const char *ctlattr_render(const struct ctl_attr *a, char *buf, size_t len);

/*
 * Called once per attribute that differs between two entries: from is the
 * attribute in the first entry, to in the second; from is NULL when the
 * attribute was added, to when it was removed. Both point into the entries'
 * attrs, valid for the call.
 */
typedef void (*ctlattr_change_fn)(void *ctx, const struct ctl_attr *from,
    const struct ctl_attr *to);

/*
 * Compares a's attributes with b's by OID, whatever their order: an
 * attribute whose values' DER differs is changed, one present on one side
 * only is added or removed; when one OID occurs several times in an entry,
 * its occurrences pair up in order. Calls fn for each difference, in the
 * order of the OIDs' DER (numeric order for the property ids), and sets
 * *n_changes (if not NULL) to the number of calls. Memory: one struct
 * ctl_attr per attribute of each entry, so bounded by the entries' size.
 * Returns CTLATTR_OK, or an error before any call.
 */
enum ctlattr_err ctlattr_diff(const struct ctl_entry *a, const struct ctl_entry *b,
    ctlattr_change_fn fn, void *ctx, size_t *n_changes);

#endif
