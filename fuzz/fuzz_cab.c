/*
 * fuzz_cab.c - libFuzzer: cab_unpack() on hostile bytes.
 *
 * The input is a whole .cab file. The member may grow to FUZZ_CAB_MAX (an
 * MSZIP bomb is cut there, as CAB_MAX_MEMBER cuts it in the daemon, only
 * sooner, so one input stays fast); a member that unpacks is unpacked once
 * more by the name it was found under, which takes the name-check path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/cab.h"

#define FUZZ_CAB_MAX (1024u * 1024)
#define FUZZ_MAX_LEN (1024u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL;
	size_t out_len = 0;
	char name[256], detail[256];
	enum cab_err rc;

	if (size > FUZZ_MAX_LEN)
		return 0;
	(void)cab_is_cab(data, size);
	name[0] = '\0';
	rc = cab_unpack(data, size, NULL, FUZZ_CAB_MAX, &out, &out_len,
	    name, sizeof(name), detail, sizeof(detail));
	if (rc == CAB_OK && out_len > FUZZ_CAB_MAX)
		abort();	/* the bound did not hold */
	free(out);
	out = NULL;
	if (rc == CAB_OK && memchr(name, '\0', sizeof(name)) != NULL &&
	    name[0] != '\0') {
		rc = cab_unpack(data, size, name, FUZZ_CAB_MAX, &out, &out_len,
		    NULL, 0, detail, sizeof(detail));
		if (rc != CAB_OK)
			abort();	/* found under that name, then not */
		free(out);
	}
	return 0;
}
