/*
 * fuzz_verify.c - libFuzzer: vfy_verify() and vfy_read_entries() on hostile
 * bytes (a .cab or a bare .stl).
 *
 * The anchors are forge's test roots when CTLMIRROR_FUZZ_FIXTURES names a
 * forge directory (its pins.txt and anchors/), so mutations of the good
 * fixtures get past the signature into the chain and validity checks; else
 * only the built-in Microsoft pins, and nothing chains. They are loaded once
 * and never change. The time is fixed (forge's VERIFY_AT): verification reads
 * no clock, and neither does the fuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/fileio.h"
#include "verify/isotime.h"
#include "verify/verify.h"

#define FUZZ_MAX_LEN (1024u * 1024)
/* An MSZIP bomb stops here rather than at CAB_MAX_MEMBER: one input stays fast. */
#define FUZZ_MAX_MEMBER (1024u * 1024)
#define FUZZ_AT "2024-06-01T00:00:00Z"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static struct anchors anchors;
static time_t at;

static void
die(const char *what, const char *dir)
{
	fprintf(stderr, "fuzz_verify: %s (CTLMIRROR_FUZZ_FIXTURES=%s)\n", what, dir);
	exit(1);
}

/* The fixture PKI's pins, then its anchor certificates. */
static void
load_fixtures(const char *dir)
{
	char path[4096], *line, *save = NULL;
	unsigned char *buf;
	size_t len, kept = 0;

	snprintf(path, sizeof(path), "%s/pins.txt", dir);
	if (fileio_read(path, 64 * 1024, &buf, &len) != 0)
		die("cannot read pins.txt", dir);
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (anchors_add_pin(&anchors, line) != ANCHORS_OK)
			die("a bad pin in pins.txt", dir);
	free(buf);
	snprintf(path, sizeof(path), "%s/anchors", dir);
	if (fileio_load_anchors(path, &anchors, &kept) != 0 || kept == 0)
		die("no pinned anchor in anchors/", dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("CTLMIRROR_FUZZ_FIXTURES");

	(void)argc;
	(void)argv;
	if (anchors_init(&anchors) != ANCHORS_OK || !isotime_parse(FUZZ_AT, &at))
		die("initialisation failed", dir != NULL ? dir : "");
	if (dir != NULL && dir[0] != '\0')
		load_fixtures(dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfy_params p;
	struct verdict v;

	if (size > FUZZ_MAX_LEN)
		return 0;
	memset(&p, 0, sizeof(p));
	p.kind = KIND_UNKNOWN;
	p.at = at;
	p.anchors = &anchors;
	p.max_member = FUZZ_MAX_MEMBER;
	p.keep_entries = 1;
	memset(&v, 0, sizeof(v));
	if (vfy_verify(data, size, &p, &v) != v.reason ||
	    (unsigned)v.reason >= VFY_REASON_COUNT)
		abort();	/* verify.h: returns v->reason, one of the codes */
	verdict_free(&v);

	memset(&v, 0, sizeof(v));
	(void)vfy_read_entries(data, size, KIND_UNKNOWN, &v);
	verdict_free(&v);
	return 0;
}
