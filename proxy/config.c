/*
 * config.c - the configuration file, parsed line by line with bounds.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/cidr.h"
#include "proxy/config.h"
#include "proxy/fileio.h"

#define CONFIG_FILE_MAX (256 * 1024)
#define LINE_MAX_LEN 2048

enum vtype { V_PATH, V_LIST, V_ULONG, V_DURATION, V_WORD, V_BOOL };

static const struct key {
	const char *name;
	enum vtype type;
	size_t off;		/* of the value (for lists: of the array) */
	size_t size;		/* of one element */
	size_t count_off;	/* lists: of the count */
} keys[] = {
#define K(n, t, f) { #n, t, offsetof(struct config, f), sizeof(((struct config *)0)->f), 0 }
#define L(n, f, c) { #n, V_LIST, offsetof(struct config, f), sizeof(((struct config *)0)->f[0]), offsetof(struct config, c) }
	K(store, V_PATH, store),
	K(anchors, V_PATH, anchors),
	L(anchor_pin, anchor_pins, n_anchor_pins),
	K(intermediates, V_PATH, intermediates),
	L(listen, listen, n_listen),
	L(upstream, upstream, n_upstream),
	L(mirror_hosts, mirror_hosts, n_mirror_hosts),
	K(flat_prefix, V_PATH, flat_prefix),
	K(outbound_proxy, V_PATH, outbound_proxy),
	K(random_query, V_BOOL, random_query),
	K(follow_redirects, V_BOOL, follow_redirects),
	K(fetch_timeout, V_DURATION, fetch_timeout),
	K(max_download, V_ULONG, max_download),
	K(poll_interval, V_DURATION, poll_interval),
	K(warn_days, V_ULONG, warn_days),
	K(stale_after, V_DURATION, stale_after),
	K(workers, V_ULONG, workers),
	K(max_connections, V_ULONG, max_connections),
	K(max_header_size, V_ULONG, max_header_size),
	K(timeout, V_DURATION, timeout),
	K(header_timeout, V_DURATION, header_timeout),
	K(keepalive_timeout, V_DURATION, keepalive_timeout),
	K(max_connections_per_client, V_ULONG, max_connections_per_client),
	L(operator_allow, operator_allow, n_operator_allow),
	K(failed_keep, V_ULONG, failed_keep),
	K(failed_budget_mb, V_ULONG, failed_budget_mb),
	K(cert_fetch_rate, V_ULONG, cert_fetch_rate),
	K(cert_retry_after, V_DURATION, cert_retry_after),
	/* follow_upstream_pin: per upstream, handled in apply() */
	K(map_size_mb, V_ULONG, map_size_mb),
	K(log_format, V_WORD, log_format),
	K(access_log, V_PATH, access_log),
	K(user, V_WORD, user),
	L(kinds, kinds, n_kinds),
#undef K
#undef L
};

int
config_keeps(const struct config *c, const char *kind)
{
	size_t i;

	for (i = 0; i < c->n_kinds; i++)
		if (strcmp(c->kinds[i], kind) == 0)
			return 1;
	return 0;
}

unsigned long
config_per_client_max(const struct config *c)
{
	unsigned long n = c->max_connections / 16;

	if (c->max_connections_per_client != 0)
		return c->max_connections_per_client;
	return n < 8 ? 8 : n;
}

unsigned long long
config_failed_budget_bytes(const struct config *c)
{
	return c->failed_budget_mb > ULLONG_MAX >> 20 ? ULLONG_MAX :
	    (unsigned long long)c->failed_budget_mb << 20;
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->store, sizeof(c->store), "%s", CONFIG_DEFAULT_STORE);
	snprintf(c->anchors, sizeof(c->anchors), "%s", CONFIG_DEFAULT_ANCHORS);
	snprintf(c->upstream[0], sizeof(c->upstream[0]),
	    "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/");
	snprintf(c->upstream[1], sizeof(c->upstream[1]),
	    "http://www.download.windowsupdate.com/msdownload/update/v3/static/trustedr/en/");
	c->n_upstream = 2;
	snprintf(c->mirror_hosts[0], sizeof(c->mirror_hosts[0]), "ctldl.windowsupdate.com");
	snprintf(c->mirror_hosts[1], sizeof(c->mirror_hosts[1]), "www.download.windowsupdate.com");
	c->n_mirror_hosts = 2;
	snprintf(c->listen[0], sizeof(c->listen[0]), "127.0.0.1:8080");
	c->n_listen = 1;
	snprintf(c->flat_prefix, sizeof(c->flat_prefix), "/");
	c->random_query = 1;
	c->follow_redirects = 0;
	c->fetch_timeout = 60;
	c->max_download = 16 * 1024 * 1024;
	c->poll_interval = 3600;
	c->warn_days = 14;
	c->stale_after = 2 * 86400;
	c->max_connections = 4096;
	c->max_header_size = 8192;
	c->timeout = 30;
	c->header_timeout = 10;
	c->keepalive_timeout = 15;
	c->failed_keep = 3;
	c->failed_budget_mb = 64;
	c->cert_fetch_rate = 60;
	c->cert_retry_after = 600;
	c->map_size_mb = 1024;
	snprintf(c->log_format, sizeof(c->log_format), "text");
	snprintf(c->kinds[0], sizeof(c->kinds[0]), "authroot");
	snprintf(c->kinds[1], sizeof(c->kinds[1]), "disallowed");
	snprintf(c->kinds[2], sizeof(c->kinds[2]), "pinrules");
	c->n_kinds = 3;
}

static int __attribute__((format(printf, 5, 6)))
fail(char *err, size_t len, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, len, "%s:%u: ", name, line);
	if (n >= 0 && (size_t)n < len) {
		va_start(ap, fmt);
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* 64 hex digits, colons and spaces between them allowed: a SHA-256 pin. */
static int
is_sha256_hex(const char *v)
{
	size_t n = 0;

	for (; *v != '\0'; v++)
		if (isxdigit((unsigned char)*v))
			n++;
		else if (*v != ':' && *v != ' ')
			return 0;
	return n == 64;
}

/* "90", "90s", "15m", "1h", "2d" -> seconds. */
static int
parse_ulong(const char *v, int duration, unsigned long *out)
{
	char *end;
	unsigned long n, mul = 1;

	if (!isdigit((unsigned char)*v))
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0)
		return 0;
	if (duration && *end != '\0' && end[1] == '\0') {
		switch (*end++) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return 0;
		}
	}
	if (*end != '\0' || n > 100000000UL / mul)
		return 0;
	*out = n * mul;
	return 1;
}

/* yes/true/on -> 1, no/false/off -> 0; anything else is not a boolean. */
static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
		*out = 0;
	else
		return 0;
	return 1;
}

/* Which lists were set by the file: the first occurrence replaces the default. */
struct seen {
	unsigned char list[sizeof(keys) / sizeof(keys[0])];
};

static int
apply(struct config *c, struct seen *seen, const char *name, unsigned line,
    const char *k, const char *v, char *err, size_t err_len)
{
	size_t i;

	if (strcmp(k, "follow_upstream_pin") == 0) {
		i = c->n_upstream;
		/* the default upstreams are Microsoft's: only a line of this file names a parent */
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			if (strcmp(keys[j].name, "upstream") == 0 && !seen->list[j])
				i = 0;
		if (i == 0)
			return fail(err, err_len, name, line, "follow_upstream_pin applies to the "
			    "upstream line above it, and there is none");
		if (!parse_bool(v, &c->upstream_follow_pin[i - 1]))
			return fail(err, err_len, name, line, "'%s' must be yes or no, not '%s'", k, v);
		return 0;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *key = &keys[i];
		char *field = (char *)c + key->off;

		if (strcmp(k, key->name) != 0)
			continue;
		switch (key->type) {
		case V_LIST: {
			size_t *count = (size_t *)((char *)c + key->count_off);

			if (!seen->list[i]) {
				*count = 0;
				seen->list[i] = 1;
				if (strcmp(k, "upstream") == 0)
					memset(c->upstream_follow_pin, 0, sizeof(c->upstream_follow_pin));
			}
			if (*count == CONFIG_MAX_LIST)
				return fail(err, err_len, name, line, "too many '%s' lines (at most %d)", k, CONFIG_MAX_LIST);
			if (strlen(v) >= key->size || *v == '\0')
				return fail(err, err_len, name, line, "'%s' value is empty or too long", k);
			if (strcmp(k, "kinds") == 0 && strcmp(v, "authroot") != 0 &&
			    strcmp(v, "disallowed") != 0 && strcmp(v, "pinrules") != 0)
				return fail(err, err_len, name, line, "kinds takes authroot, disallowed "
				    "or pinrules (one per line), not '%s'", v);
			if (strcmp(k, "operator_allow") == 0) {
				struct cidr cidr;

				if (cidr_parse(v, &cidr) != 0)
					return fail(err, err_len, name, line, "operator_allow takes an "
					    "address or prefix (192.0.2.7, 10.0.0.0/8, ::1, fd00::/8), not '%s'", v);
			}
			if (strcmp(k, "anchor_pin") == 0 && !is_sha256_hex(v))
				return fail(err, err_len, name, line, "anchor_pin must be a SHA-256 "
				    "fingerprint: 64 hex digits (colons allowed), not '%s'", v);
			memcpy(field + *count * key->size, v, strlen(v) + 1);
			(*count)++;
			return 0;
		}
		case V_PATH:
		case V_WORD:
			if (strlen(v) >= key->size)
				return fail(err, err_len, name, line, "'%s' value is too long (at most %zu bytes)", k, key->size - 1);
			if (key->type == V_WORD && strpbrk(v, " \t") != NULL)
				return fail(err, err_len, name, line, "'%s' takes one word", k);
			if (strcmp(k, "log_format") == 0 && strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
				return fail(err, err_len, name, line, "log_format must be 'text' or 'json'");
			memcpy(field, v, strlen(v) + 1);
			return 0;
		case V_BOOL:
			if (!parse_bool(v, (int *)(void *)field))
				return fail(err, err_len, name, line, "'%s' must be yes or no, not '%s'", k, v);
			return 0;
		case V_ULONG:
		case V_DURATION:
			if (!parse_ulong(v, key->type == V_DURATION, (unsigned long *)(void *)field))
				return fail(err, err_len, name, line, "'%s' must be a %s, not '%s'", k,
				    key->type == V_DURATION ? "duration (e.g. 90s, 15m, 1h, 2d)" : "non-negative number", v);
			return 0;
		}
	}
	return fail(err, err_len, name, line, "unknown key '%s'", k);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_parse(struct config *c, const char *name, const char *text, char *err,
    size_t err_len)
{
	struct seen seen;
	unsigned line = 0;
	const char *p = text;

	memset(&seen, 0, sizeof(seen));
	while (*p != '\0') {
		char buf[LINE_MAX_LEN], *k, *v, *eq;
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		line++;
		if (len >= sizeof(buf))
			return fail(err, err_len, name, line, "line longer than %d bytes", LINE_MAX_LEN - 1);
		memcpy(buf, p, len);
		buf[len] = '\0';
		p += len + (nl ? 1 : 0);
		if ((k = strchr(buf, '#')) != NULL)
			*k = '\0';
		k = trim(buf);
		if (*k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL)
			return fail(err, err_len, name, line, "expected 'key = value'");
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (apply(c, &seen, name, line, k, v, err, err_len) != 0)
			return -1;
	}
	return 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t err_len)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if ((rc = fileio_read(path, CONFIG_FILE_MAX, &buf, &len)) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(rc));
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		snprintf(err, err_len, "%s: contains a NUL byte", path);
		return -1;
	}
	rc = config_parse(c, path, (const char *)buf, err, err_len);
	free(buf);
	return rc;
}
