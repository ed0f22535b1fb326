/*
 * pac.h - /_ctlmirror/proxy.pac: a proxy auto-config file for the sites whose
 * clients are told to use a proxy by PAC (group policy, WPAD, a browser).
 *
 * The file sends to this mirror only what the mirror answers: plain-HTTP
 * requests for a mirrored host name (cfg mirror_hosts, any case, an exact
 * name, a trailing root dot allowed) under upstream's path (route.h,
 * ROUTE_UPSTREAM_PATH). Everything else, including HTTPS and the other files
 * on the same hosts (www.download.windowsupdate.com also carries Windows
 * Update's own downloads), goes DIRECT. No PAC helper function is used
 * (dnsDomainIs, shExpMatch, ...), so any JavaScript engine evaluates it.
 *
 * The text is generated from the config and the proxy address alone
 * (pac_render); only bytes checked by pac_address() and the host-name
 * characters of mirror_hosts ever reach the JavaScript. Every client may
 * fetch it: it says nothing an operator endpoint would hide, so operator_allow
 * does not restrict it.
 */
#ifndef CTLMIRROR_PAC_H
#define CTLMIRROR_PAC_H

#include <stddef.h>

#include "proxy/config.h"

#define PAC_CONTENT_TYPE "application/x-ns-proxy-autoconfig"

/* host:port, the longest one: a 253-byte name or a bracketed IPv6 literal, and a port. */
#define PAC_ADDR_MAX 272

/* The text is bounded: the header, one comparison per mirrored host, the rest. */
#define PAC_TEXT_MAX (2048 + CONFIG_MAX_LIST * 300)

/*
 * The address clients reach the mirror at, as "host:port" in out (PAC_ADDR_MAX
 * bytes): host is the request's Host header when it is a valid host name,
 * IPv4 address or bracketed IPv6 literal with an optional port 1-65535
 * (no port: 80, HTTP's default); else fallback (the local address the
 * connection came in on, the same syntax; may be NULL). Returns 0, or -1
 * when neither is valid (out is then "").
 */
int pac_address(const char *host_header, const char *fallback, char *out);

/*
 * Writes the PAC file for proxy (a pac_address() result) into out
 * (PAC_TEXT_MAX bytes), NUL-terminated; a mirrored host with any byte other
 * than a letter, digit, '-' or '.' is left out. Returns the length, or 0 if
 * proxy is not a valid address.
 */
size_t pac_render(const struct config *cfg, const char *proxy, char *out);

struct worker;
struct evhttp_request;
struct reply;

/*
 * The daemon's side: answers req with the PAC file for the address the
 * client used (its Host header, else the connection's local address),
 * Content-Type PAC_CONTENT_TYPE, not cached by the client (the address it
 * names may change with the config).
 */
void pac_serve(struct worker *w, struct evhttp_request *req, struct reply *r);

#endif
