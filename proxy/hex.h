/*
 * hex.h - bytes as hex text, and the names built from it.
 *
 * The one encoder for thumbprints, hashes, ETags and `<SHA1>.crt` names, so
 * every place that shows or looks up a hash writes it the same way.
 */
#ifndef CTLMIRROR_HEX_H
#define CTLMIRROR_HEX_H

#include <stddef.h>

/* A `<SHA1>.crt` name: 40 upper-case hex digits, ".crt", NUL. */
#define HEX_CRT_NAME_LEN 45
/* A quoted SHA-256 entity tag: '"', 64 hex digits, '"', NUL. */
#define HEX_ETAG_LEN 67

/* n bytes as 2n hex digits (upper-case if upper) plus a NUL into out (2n+1 bytes). */
void hex_encode(const unsigned char *p, size_t n, int upper, char *out);

/* The name a root certificate is served under: "<SHA1 upper-case>.crt". */
void hex_crt_name(const unsigned char sha1[20], char out[HEX_CRT_NAME_LEN]);

/* The strong ETag of a file, from its SHA-256: "\"<lower-case hex>\"". */
void hex_etag(const unsigned char sha256[32], char out[HEX_ETAG_LEN]);

#endif
