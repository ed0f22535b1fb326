/*
 * fuzz_route.c - libFuzzer: route_request() on hostile request lines.
 *
 * The input is "METHOD\nTARGET\nHOST": up to the first newline the method,
 * up to the second the request target, the rest the Host header. With one
 * newline there is no Host header (NULL); with none the target is NULL too.
 * A NUL byte ends its field early, as it would in the C strings evhttp hands
 * over. The config is the embedded defaults.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/serve/route.h"

#define FUZZ_MAX_LEN (8u * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static struct config cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	config_defaults(&cfg);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *method, *target = NULL, *host = NULL, *nl;
	struct route r;

	if (size > FUZZ_MAX_LEN || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	method = buf;
	if ((nl = memchr(buf, '\n', size)) != NULL) {
		*nl = '\0';
		target = nl + 1;
		if ((nl = memchr(target, '\n', size - (size_t)(target - buf))) != NULL) {
			*nl = '\0';
			host = nl + 1;
		}
	}
	route_request(&cfg, method, target, host, &r);
	if ((unsigned)r.target >= RT_COUNT || (unsigned)r.kind >= KIND_COUNT ||
	    strcmp(route_target_str(r.target), "unknown") == 0 ||
	    strcmp(route_way_str(r.way), "unknown") == 0)
		abort();	/* route.h: one of the targets and ways */
	free(buf);
	return 0;
}
