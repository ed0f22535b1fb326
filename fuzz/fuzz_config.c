/*
 * fuzz_config.c - libFuzzer: config_parse() on hostile text.
 *
 * The input is a ctlmirror.conf, parsed over the embedded defaults as
 * config_load() does (which refuses a NUL byte before parsing: a NUL here
 * ends the text). On failure the message must be a string within err.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"

#define FUZZ_MAX_LEN (64u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	char *text, err[512];

	if (size > FUZZ_MAX_LEN)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	if ((c = malloc(sizeof(*c))) == NULL) {
		free(text);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(c);
	memset(err, 'x', sizeof(err));
	if (config_parse(c, "fuzz.conf", text, err, sizeof(err)) != 0) {
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();	/* config.h: err says what is wrong */
	} else if (c->n_anchor_pins > CONFIG_MAX_LIST || c->n_listen > CONFIG_MAX_LIST ||
	    c->n_upstream > CONFIG_MAX_LIST || c->n_mirror_hosts > CONFIG_MAX_LIST ||
	    memchr(c->flat_prefix, '\0', sizeof(c->flat_prefix)) == NULL ||
	    memchr(c->store, '\0', sizeof(c->store)) == NULL)
		abort();	/* a list past its array, a path without its NUL */
	free(c);
	free(text);
	return 0;
}
