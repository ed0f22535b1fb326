/*
 * strict.h - requests parsed strictly: what nginx answers 400, so do we.
 *
 * libevent's parser is lenient where a front proxy and ctlmirror could read
 * one request two ways (request smuggling): the first of two Content-Length
 * headers wins, a header "Transfer-Encoding : chunked" is kept under a name
 * with a space, two Host headers are kept, HTTP/1.1 without Host passes, and
 * a folded line (one starting with SP or HTAB, RFC 9112 section 5.2) is
 * glued to the header before it. ctlmirror implements no request body, so
 * any Transfer-Encoding, and a body on GET or HEAD, is refused too.
 *
 * Two checks, both pure:
 *   - strict_check() over the headers libevent parsed (it keeps duplicates,
 *     and a name's trailing space);
 *   - the scanner, over the raw bytes as they arrive, for folding, which
 *     the parser erases. It counts request heads (a head ends at its empty
 *     line) and remembers the first head with a folded line.
 * A request that fails either is answered 400 with strict_str() as its
 * reason, and its connection closed.
 */
#ifndef CTLMIRROR_STRICT_H
#define CTLMIRROR_STRICT_H

#include <stddef.h>

struct evkeyvalq;

enum strict_reason {
	STRICT_OK = 0,
	STRICT_HEADER_NAME,		/* whitespace before a header's colon, or no name */
	STRICT_DUP_CONTENT_LENGTH,	/* Content-Length more than once */
	STRICT_DUP_HOST,		/* Host more than once */
	STRICT_TRANSFER_ENCODING,	/* any: we implement none */
	STRICT_NO_HOST,			/* HTTP/1.1 without Host (RFC 9112 section 3.2) */
	STRICT_BODY,			/* a Content-Length other than 0 on GET or HEAD */
	STRICT_FOLDED,			/* obsolete line folding (the scanner's) */
};

/* The reason in a few words, for the 400's body and the access log. */
const char *strict_str(enum strict_reason r);

/*
 * Checks one request's parsed headers: HTTP/major.minor, bodyless when the
 * method is GET or HEAD. Returns the first problem found, in the order of
 * the enum, or STRICT_OK. Never STRICT_FOLDED (the scanner's).
 */
enum strict_reason strict_check(const struct evkeyvalq *headers, int major, int minor,
    int bodyless);

/* The raw-byte scanner of one connection; zero it to start. */
struct strict_scan {
	int state;
	unsigned long heads;		/* request heads completed so far */
	unsigned long folded;		/* 1 + the index of the first head with a folded line; 0: none */
};

/*
 * Feeds the next n bytes the client sent. Bytes of a request body are read
 * as if they were a head: harmless, since a request with a body is refused
 * and its connection closed.
 */
void strict_scan_feed(struct strict_scan *s, const char *p, size_t n);

/* Whether head number i (0 for a connection's first request) had a folded line. */
int strict_scan_folded(const struct strict_scan *s, unsigned long i);

#endif
