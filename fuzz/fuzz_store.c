/*
 * fuzz_store.c - libFuzzer: the store's record decoders on hostile records.
 *
 * The first byte picks the decoder (modulo 3: version, event, upstream
 * state), the rest is the record as LMDB would hand it back. A record that
 * decodes must encode within its STORE_*_REC_MAX, that encoding must decode,
 * and encode to the same bytes again: what the store reads it writes back
 * unchanged. (The input's own bytes may differ: an older record format
 * decodes too, and is written in the new one.)
 * store_codec.h is private to store/; this target is its one outside reader.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"

#define FUZZ_MAX_LEN (8u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
version_round_trip(const unsigned char *val, size_t len)
{
	static const unsigned char key[32] = { 0x5a };
	unsigned char buf[STORE_VERSION_REC_MAX], again[STORE_VERSION_REC_MAX];
	struct version v;
	size_t n;

	if (store_dec_version(key, val, len, &v) != 0)
		return;
	if ((n = store_enc_version(buf, sizeof(buf), &v)) == 0 ||
	    store_dec_version(key, buf, n, &v) != 0 ||
	    store_enc_version(again, sizeof(again), &v) != n ||
	    memcmp(buf, again, n) != 0)
		abort();
}

static void
event_round_trip(const unsigned char *val, size_t len)
{
	unsigned char buf[STORE_EVENT_REC_MAX], again[STORE_EVENT_REC_MAX];
	struct store_event ev;
	size_t n;

	if (store_dec_event(42, val, len, &ev) != 0)
		return;
	if ((n = store_enc_event(buf, sizeof(buf), &ev)) == 0 ||
	    store_dec_event(42, buf, n, &ev) != 0 ||
	    store_enc_event(again, sizeof(again), &ev) != n ||
	    memcmp(buf, again, n) != 0)
		abort();
}

static void
upstream_round_trip(const unsigned char *val, size_t len)
{
	unsigned char buf[STORE_UPSTREAM_REC_MAX], again[STORE_UPSTREAM_REC_MAX];
	struct upstream_state st;
	size_t n;

	if (store_dec_upstream(val, len, &st) != 0)
		return;
	if ((n = store_enc_upstream(buf, sizeof(buf), &st)) == 0 ||
	    store_dec_upstream(buf, n, &st) != 0 ||
	    store_enc_upstream(again, sizeof(again), &st) != n ||
	    memcmp(buf, again, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_LEN)
		return 0;
	switch (data[0] % 3) {
	case 0:
		version_round_trip(data + 1, size - 1);
		break;
	case 1:
		event_round_trip(data + 1, size - 1);
		break;
	default:
		upstream_round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
