/*
 * pac.c - the proxy auto-config file (see pac.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "proxy/serve/pac.h"
#include "proxy/serve/reply.h"
#include "proxy/serve/route.h"
#include "proxy/serve/worker.h"

/* A DNS name or IPv4 address: labels of letters, digits and '-', 1-63 bytes each. */
static int
valid_name(const char *p, size_t len)
{
	size_t i, label = 0;

	if (len > 0 && p[len - 1] == '.')	/* the root dot */
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			if (label == 0 || p[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)p[i]) || (p[i] == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && p[len - 1] != '-';
}

/* "[v6]": hex digits, ':' and '.' (an IPv4 tail) between brackets. */
static int
valid_v6(const char *p, size_t len)
{
	size_t i, colons = 0;

	if (len < 4 || len > 47 || p[0] != '[' || p[len - 1] != ']')
		return 0;
	for (i = 1; i + 1 < len; i++) {
		if (p[i] == ':')
			colons++;
		else if (!isxdigit((unsigned char)p[i]) && p[i] != '.')
			return 0;
	}
	return colons >= 2;
}

/*
 * host[:port] into out as host:port (no port: 80). The host keeps its bytes
 * (all of them checked), without a root dot.
 */
static int
parse_hostport(const char *s, char *out)
{
	const char *colon;
	size_t hlen, plen, i;
	unsigned long port = 80;

	if (s == NULL)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return -1;
		hlen = (size_t)(close - s) + 1;
		colon = s[hlen] == ':' ? s + hlen : NULL;
		if (s[hlen] != '\0' && colon == NULL)
			return -1;
		if (!valid_v6(s, hlen))
			return -1;
	} else {
		colon = strchr(s, ':');
		hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
		if (!valid_name(s, hlen))
			return -1;
		if (s[hlen - 1] == '.')
			hlen--;
	}
	if (colon != NULL) {
		plen = strlen(colon + 1);
		if (plen == 0 || plen > 5)
			return -1;
		port = 0;
		for (i = 1; i <= plen; i++) {
			if (!isdigit((unsigned char)colon[i]))
				return -1;
			port = port * 10 + (unsigned long)(colon[i] - '0');
		}
		if (port == 0 || port > 65535)
			return -1;
	}
	snprintf(out, PAC_ADDR_MAX, "%.*s:%lu", (int)hlen, s, port);
	return 0;
}

int
pac_address(const char *host_header, const char *fallback, char *out)
{
	out[0] = '\0';
	if (host_header != NULL && strlen(host_header) < PAC_ADDR_MAX &&
	    parse_hostport(host_header, out) == 0)
		return 0;
	if (fallback != NULL && strlen(fallback) < PAC_ADDR_MAX &&
	    parse_hostport(fallback, out) == 0)
		return 0;
	out[0] = '\0';
	return -1;
}

size_t
pac_render(const struct config *cfg, const char *proxy, char *out)
{
	char addr[PAC_ADDR_MAX];
	size_t n = 0, i, k, len;
	int first = 1;

	out[0] = '\0';
	/* the address must read back as itself: nothing else reaches the script */
	if (proxy == NULL || strlen(proxy) >= PAC_ADDR_MAX || parse_hostport(proxy, addr) != 0 ||
	    strcmp(addr, proxy) != 0 || strchr(proxy, ':') == NULL)
		return 0;
#define PUT(...) (n < PAC_TEXT_MAX ? \
	(n += (size_t)snprintf(out + n, PAC_TEXT_MAX - n, __VA_ARGS__)) : n)
	PUT("// ctlmirror: the certificate trust lists through the mirror, everything else DIRECT.\n"
	    "// Only plain-HTTP requests for a mirrored host under %s use the proxy.\n"
	    "function FindProxyForURL(url, host) {\n"
	    "\tvar h = host.toLowerCase();\n"
	    "\tif (h.charAt(h.length - 1) == \".\")\n"
	    "\t\th = h.substring(0, h.length - 1);\n"
	    "\tif (url.substring(0, 7).toLowerCase() != \"http://\")\n"
	    "\t\treturn \"DIRECT\";\n"
	    "\tvar slash = url.indexOf(\"/\", 7);\n"
	    "\tvar path = slash < 0 ? \"/\" : url.substring(slash);\n"
	    "\tif (path.indexOf(\"%s\") != 0)\n"
	    "\t\treturn \"DIRECT\";\n"
	    "\tif (", ROUTE_UPSTREAM_PATH, ROUTE_UPSTREAM_PATH);
	for (i = 0; i < cfg->n_mirror_hosts && i < CONFIG_MAX_LIST; i++) {
		const char *m = cfg->mirror_hosts[i];

		len = strnlen(m, sizeof(cfg->mirror_hosts[i]));
		if (len > 0 && m[len - 1] == '.')
			len--;
		if (len == 0 || len >= sizeof(cfg->mirror_hosts[i]) || !valid_name(m, len))
			continue;
		PUT("%sh == \"", first ? "" : " ||\n\t    ");
		for (k = 0; k < len; k++)
			PUT("%c", tolower((unsigned char)m[k]));
		PUT("\"");
		first = 0;
	}
	if (first)
		PUT("false");
	PUT(")\n"
	    "\t\treturn \"PROXY %s\";\n"
	    "\treturn \"DIRECT\";\n"
	    "}\n", proxy);
#undef PUT
	return n < PAC_TEXT_MAX ? n : 0;
}

/* The local address of the connection req came in on, as host:port. */
static void
local_address(struct evhttp_request *req, char *out, size_t len)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	evutil_socket_t fd;

	out[0] = '\0';
	if (bev == NULL || (fd = bufferevent_getfd(bev)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip)) != NULL)
			snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)) != NULL)
			snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
	}
}

void
pac_serve(struct worker *w, struct evhttp_request *req, struct reply *r)
{
	char local[PAC_ADDR_MAX], addr[PAC_ADDR_MAX], text[PAC_TEXT_MAX];

	local_address(req, local, sizeof(local));
	if (pac_address(evhttp_find_header(evhttp_request_get_input_headers(req), "Host"),
	    local[0] != '\0' ? local : NULL, addr) != 0 ||
	    pac_render(&w->cfg, addr, text) == 0) {
		reply_text(req, 500, "Internal Server Error", "text/plain",
		    "500 no address to name in the PAC file\n", r);
		return;
	}
	reply_text(req, 200, "OK", PAC_CONTENT_TYPE, text, r);
}
