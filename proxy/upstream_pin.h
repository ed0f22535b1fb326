/*
 * upstream_pin.h - what a parent ctlmirror pins, read from its status.json.
 *
 * A child mirror with `follow_upstream_pin = yes` on an upstream reads
 * <origin of that upstream>/_ctlmirror/status.json each round (the parent's
 * operator endpoints live at the root of its host and port, whatever path
 * the upstream URL has) and pins what the parent pins (sync.c does that).
 * This module is the parsing alone: bytes in, a plain struct out, no I/O.
 *
 * The document is untrusted: at most UPSTREAM_PIN_MAX_BYTES, nested at most
 * UPSTREAM_PIN_MAX_DEPTH deep, one JSON object keyed by kind. For each kind
 * it names, "pinned" must be a boolean; a pinned kind must give the pinned
 * version's SHA-256 (64 hex digits) as "pin"."sha256" or, from a parent
 * that does not write it there, "served"."sha256" (the parent serves its pin).
 * "pin"."until" (an ISO 8601 time or null), "pin"."reason" and
 * "served"."sequence" are optional; a wrong type there is an error too. Any
 * error fails the whole document: the caller then changes nothing.
 */
#ifndef CTLMIRROR_UPSTREAM_PIN_H
#define CTLMIRROR_UPSTREAM_PIN_H

#include <stddef.h>
#include <time.h>

#include "verify/verdict.h"

#define UPSTREAM_PIN_MAX_BYTES (256u * 1024)
#define UPSTREAM_PIN_MAX_DEPTH 16
#define UPSTREAM_PIN_PATH "/_ctlmirror/status.json"

enum upin_err {
	UPIN_OK = 0,
	UPIN_TOO_LARGE,		/* more than UPSTREAM_PIN_MAX_BYTES */
	UPIN_NOT_JSON,		/* not one well-formed JSON value (or nested too deep) */
	UPIN_BAD_SHAPE,		/* JSON, but not a ctlmirror status document (see err) */
};

/* One kind as the parent reports it. */
struct upstream_kind_pin {
	int present;			/* the document names the kind (else: no word on it) */
	int pinned;
	unsigned char sha256[32];	/* pinned: the version the parent pins */
	char sequence[80];		/* the served sequence, "" when not given */
	time_t until;			/* the parent's pin lapses then; 0: until unpinned */
	char reason[256];		/* the parent's reason, "" if none */
};

struct upstream_pins {
	struct upstream_kind_pin kinds[KIND_COUNT];
};

/* Words for an error code. */
const char *upin_strerror(enum upin_err e);

/*
 * Parses bytes[0..len) into *out (zeroed first). On an error err (err_len
 * bytes) says what is wrong, naming the field, and *out says nothing pinned.
 */
enum upin_err upstream_pin_parse(const unsigned char *bytes, size_t len,
    struct upstream_pins *out, char *err, size_t err_len);

/*
 * The status document's URL for an upstream base URL: its origin
 * (fetch_origin's "scheme://host:port") and UPSTREAM_PIN_PATH. Returns 0, or
 * -1 when base is not an absolute http(s) URL or out is too small.
 */
int upstream_pin_url(const char *base, char *out, size_t len);

#endif
