/*
 * json.c - JSON output.
 */
#include "proxy/json.h"
#include "verify/isotime.h"

void
json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = 1;
}

static void
write_escaped(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p != '\0') {
		unsigned char c = *p;
		int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 :
		    (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		int i;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else if (n == 1) {
			fputc(c, f);
		} else {
			for (i = 1; i < n && (p[i] & 0xC0) == 0x80; i++)
				;
			if (n == 0 || i < n) {
				fputs("\\ufffd", f);
				p += i > 0 ? i : 1;
				continue;
			}
			fwrite(p, 1, (size_t)n, f);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', f);
}

static void
key(struct json *j, const char *k)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	if (k != NULL) {
		write_escaped(j->f, k);
		fputc(':', j->f);
	}
}

void
json_begin(struct json *j, const char *k, char bracket)
{
	if (j->depth > 0 || !j->first[0])
		key(j, k);
	fputc(bracket, j->f);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = 1;
}

void
json_end(struct json *j, char bracket)
{
	fputc(bracket, j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		j->first[0] = 1;
}

void
json_str(struct json *j, const char *k, const char *value)
{
	key(j, k);
	if (value == NULL)
		fputs("null", j->f);
	else
		write_escaped(j->f, value);
}

void
json_int(struct json *j, const char *k, long long value)
{
	key(j, k);
	fprintf(j->f, "%lld", value);
}

void
json_bool(struct json *j, const char *k, int value)
{
	key(j, k);
	fputs(value ? "true" : "false", j->f);
}

void
json_null(struct json *j, const char *k)
{
	key(j, k);
	fputs("null", j->f);
}

void
json_time(struct json *j, const char *k, time_t t, int present)
{
	char buf[ISOTIME_LEN];

	if (!present) {
		json_null(j, k);
		return;
	}
	json_str(j, k, isotime_format(t, buf, sizeof(buf)));
}
