/*
 * route.c - request target to file or endpoint.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "proxy/serve/route.h"

/* Longest request target worth looking at: real ones are under 120 bytes. */
#define ROUTE_TARGET_MAX 1024
#define ROUTE_NAME_MAX 64

static const char *const target_names[RT_COUNT] = {
	"cab", "seq", "crt", "healthz", "status_json", "status", "metrics",
	"pac", "not_found", "forbidden", "bad_method", "bad_request",
};

const char *
route_target_str(enum route_target t)
{
	return (unsigned)t < RT_COUNT ? target_names[t] : "unknown";
}

const char *
route_way_str(enum route_way w)
{
	static const char *const names[] = { "proxy", "dns", "flat", "operator" };

	return (unsigned)w < 4 ? names[w] : "unknown";
}

/* host (without port) is one of the mirrored hosts? */
static int
mirrored(const struct config *cfg, const char *host, size_t len)
{
	size_t i;

	if (len > 0 && host[len - 1] == '.')	/* FQDN with the root dot */
		len--;
	for (i = 0; i < cfg->n_mirror_hosts; i++)
		if (strlen(cfg->mirror_hosts[i]) == len &&
		    strncasecmp(cfg->mirror_hosts[i], host, len) == 0)
			return 1;
	return 0;
}

/* The Host header without its port. */
static size_t
host_len(const char *host)
{
	const char *colon;

	if (host[0] == '[')	/* IPv6 literal: never a mirrored name */
		return strlen(host);
	colon = strchr(host, ':');
	return colon != NULL ? (size_t)(colon - host) : strlen(host);
}

static int
hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* A file name we serve: the three cabs, the sequence file, <SHA1>.crt. */
static void
route_file(const char *name, struct route *out)
{
	size_t len = strlen(name), i;

	out->target = RT_NOT_FOUND;
	if (strcasecmp(name, "authrootstl.cab") == 0) {
		out->target = RT_CAB;
		out->kind = KIND_AUTHROOT;
	} else if (strcasecmp(name, "disallowedcertstl.cab") == 0) {
		out->target = RT_CAB;
		out->kind = KIND_DISALLOWED;
	} else if (strcasecmp(name, "pinrulesstl.cab") == 0) {
		out->target = RT_CAB;
		out->kind = KIND_PINRULES;
	} else if (strcasecmp(name, "authrootseq.txt") == 0) {
		out->target = RT_SEQ;
		out->kind = KIND_AUTHROOT;
	} else if (len == 44 && strcasecmp(name + 40, ".crt") == 0) {
		for (i = 0; i < 40; i++)
			if (!isxdigit((unsigned char)name[i]))
				return;
		for (i = 0; i < 20; i++)
			out->sha1[i] = (unsigned char)(hexval(name[2 * i]) << 4 |
			    hexval(name[2 * i + 1]));
		out->target = RT_CRT;
		out->kind = KIND_AUTHROOT;
	}
}

/* path starts with prefix and the rest is one plain file name? */
static int
under(const char *path, const char *prefix, char *name)
{
	size_t plen = strlen(prefix);
	const char *rest;

	if (strncmp(path, prefix, plen) != 0)
		return 0;
	rest = path + plen;
	if (*rest == '/')
		rest++;
	if (plen > 0 && prefix[plen - 1] != '/' && path[plen] != '/')
		return 0;
	if (strlen(rest) >= ROUTE_NAME_MAX || strchr(rest, '/') != NULL)
		return 0;
	strcpy(name, rest);
	return 1;
}

static void
route_path(const struct config *cfg, const char *path, int via_mirror_host,
    struct route *out)
{
	char name[ROUTE_NAME_MAX];

	if (!via_mirror_host && strncmp(path, "/_ctlmirror/", 12) == 0) {
		out->way = WAY_OPERATOR;
		if (strcmp(path + 12, "healthz") == 0)
			out->target = RT_HEALTHZ;
		else if (strcmp(path + 12, "status.json") == 0)
			out->target = RT_STATUS_JSON;
		else if (strcmp(path + 12, "status") == 0)
			out->target = RT_STATUS_HTML;
		else if (strcmp(path + 12, "metrics") == 0)
			out->target = RT_METRICS;
		else if (strcmp(path + 12, "proxy.pac") == 0)
			out->target = RT_PAC;
		return;
	}
	if (via_mirror_host && under(path, ROUTE_UPSTREAM_PATH, name)) {
		route_file(name, out);
		return;
	}
	if (under(path, cfg->flat_prefix, name)) {
		out->way = WAY_FLAT;
		route_file(name, out);
	}
}

/*
 * Percent-escapes (an encoded slash or NUL), backslashes, control bytes,
 * empty and dot segments never name a file we serve: refuse them before
 * anything else looks at the path.
 */
static int
hostile_path(const char *target)
{
	const char *p = target, *end;

	if (*p != '/') {	/* absolute URI: the path starts after the authority */
		if ((p = strstr(p, "://")) == NULL || (p = strchr(p + 3, '/')) == NULL)
			return 0;
	}
	end = p + strcspn(p, "?#");
	for (; p < end; p++) {
		if (*p == '%' || *p == '\\' || (unsigned char)*p < 0x21 ||
		    (unsigned char)*p >= 0x7f)
			return 1;
		if (*p != '/' || p + 1 == end)
			continue;
		if (p[1] == '/')
			return 1;
		if (p[1] == '.' && (p + 2 == end || p[2] == '/' ||
		    (p[2] == '.' && (p + 3 == end || p[3] == '/'))))
			return 1;
	}
	return 0;
}

void
route_request(const struct config *cfg, const char *method, const char *target,
    const char *host, struct route *out)
{
	struct evhttp_uri *uri = NULL;
	const char *path, *uhost, *scheme;
	size_t tlen;

	memset(out, 0, sizeof(*out));
	out->target = RT_NOT_FOUND;
	out->way = WAY_FLAT;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		out->target = RT_BAD_METHOD;
		return;
	}
	tlen = target != NULL ? strlen(target) : 0;
	if (tlen == 0 || tlen > ROUTE_TARGET_MAX) {
		out->target = RT_BAD_REQUEST;
		return;
	}
	if (hostile_path(target)) {
		out->target = RT_BAD_REQUEST;
		return;
	}
	if ((uri = evhttp_uri_parse_with_flags(target, 0)) == NULL) {
		out->target = RT_BAD_REQUEST;
		return;
	}
	scheme = evhttp_uri_get_scheme(uri);
	uhost = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (scheme != NULL || uhost != NULL) {
		/* forward proxy: only the mirrored hosts, never an open proxy */
		out->way = WAY_PROXY;
		if (scheme == NULL || strcasecmp(scheme, "http") != 0 || uhost == NULL ||
		    !mirrored(cfg, uhost, strlen(uhost)))
			out->target = RT_FORBIDDEN;
		else
			route_path(cfg, path, 1, out);
	} else if (host != NULL && mirrored(cfg, host, host_len(host))) {
		out->way = WAY_DNS;
		route_path(cfg, path, 1, out);
	} else {
		route_path(cfg, path, 0, out);
	}
	evhttp_uri_free(uri);
}
