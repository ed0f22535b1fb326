/*
 * hex.c - the hex encoder (see hex.h).
 */
#include <string.h>

#include "proxy/hex.h"

void
hex_encode(const unsigned char *p, size_t n, int upper, char *out)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
hex_crt_name(const unsigned char sha1[20], char out[HEX_CRT_NAME_LEN])
{
	hex_encode(sha1, 20, 1, out);
	memcpy(out + 40, ".crt", 5);
}

void
hex_etag(const unsigned char sha256[32], char out[HEX_ETAG_LEN])
{
	out[0] = '"';
	hex_encode(sha256, 32, 0, out + 1);
	out[65] = '"';
	out[66] = '\0';
}
