/*
 * json.h - a small JSON writer for the CLI's --json output.
 *
 * Objects are written flat, key by key; nesting is done with json_begin()/
 * json_end() on the same writer. Strings are escaped per RFC 8259; bytes that
 * are not valid UTF-8 are written as U+FFFD.
 */
#ifndef CTLMIRROR_JSON_H
#define CTLMIRROR_JSON_H

#include <stdio.h>
#include <time.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	int first[JSON_MAX_DEPTH];	/* no member written yet at this depth */
};

void json_init(struct json *j, FILE *f);

/* Opens an object ('{') or array ('['); key is NULL inside arrays and at top level. */
void json_begin(struct json *j, const char *key, char bracket);
void json_end(struct json *j, char bracket);

void json_str(struct json *j, const char *key, const char *value);	/* NULL writes null */
void json_int(struct json *j, const char *key, long long value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);
/* An ISO 8601 UTC time, or null when present is 0. */
void json_time(struct json *j, const char *key, time_t t, int present);

#endif
