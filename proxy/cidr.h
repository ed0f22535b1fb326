/*
 * cidr.h - an address or prefix ("192.0.2.7", "10.0.0.0/8", "::1",
 * "fd00::/8"), parsed once and matched against a peer address.
 *
 * Used by operator_allow: who may read the operator endpoints.
 */
#ifndef CTLMIRROR_CIDR_H
#define CTLMIRROR_CIDR_H

#include <sys/socket.h>

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network byte order; 4 bytes used for AF_INET */
	unsigned bits;			/* prefix length; the whole address when none was given */
};

/*
 * Parses text as an address with an optional "/bits" prefix length. Host bits
 * below the prefix are ignored. Returns 0, or -1 when text is not one.
 */
int cidr_parse(const char *text, struct cidr *out);

/*
 * Is sa (an AF_INET or AF_INET6 socket address) inside c? An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) matches the IPv4 prefix of its address.
 */
int cidr_match(const struct cidr *c, const struct sockaddr *sa);

#endif
