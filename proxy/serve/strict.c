/*
 * strict.c - strict request checks (see strict.h).
 */
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "proxy/serve/strict.h"

const char *
strict_str(enum strict_reason r)
{
	switch (r) {
	case STRICT_OK: return "ok";
	case STRICT_HEADER_NAME: return "whitespace before a header's colon";
	case STRICT_DUP_CONTENT_LENGTH: return "duplicate Content-Length";
	case STRICT_DUP_HOST: return "duplicate Host";
	case STRICT_TRANSFER_ENCODING: return "Transfer-Encoding is not supported";
	case STRICT_NO_HOST: return "HTTP/1.1 request without Host";
	case STRICT_BODY: return "a body on GET or HEAD";
	case STRICT_FOLDED: return "obsolete line folding";
	}
	return "bad request";
}

/* A Content-Length that announces no body: digits, all zero. */
static int
zero_length(const char *v)
{
	if (*v == '\0')
		return 0;
	for (; *v != '\0'; v++)
		if (*v != '0')
			return 0;
	return 1;
}

enum strict_reason
strict_check(const struct evkeyvalq *headers, int major, int minor, int bodyless)
{
	const struct evkeyval *kv;
	size_t n_length = 0, n_host = 0, n_te = 0;
	int body = 0;

	for (kv = headers->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		/* RFC 9112 section 5.1: no whitespace between the name and the colon */
		if (kv->key[0] == '\0' || strpbrk(kv->key, " \t") != NULL)
			return STRICT_HEADER_NAME;
		if (strcasecmp(kv->key, "Content-Length") == 0) {
			n_length++;
			body |= !zero_length(kv->value);
		} else if (strcasecmp(kv->key, "Host") == 0) {
			n_host++;
		} else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
			n_te++;
		}
	}
	if (n_length > 1)
		return STRICT_DUP_CONTENT_LENGTH;
	if (n_host > 1)
		return STRICT_DUP_HOST;
	if (n_te > 0)
		return STRICT_TRANSFER_ENCODING;
	if (n_host == 0 && (major > 1 || (major == 1 && minor >= 1)))
		return STRICT_NO_HOST;
	if (bodyless && body)
		return STRICT_BODY;
	return STRICT_OK;
}

/*
 * The scanner's states: before a request line (empty lines there are
 * allowed, RFC 9112 section 2.2), in it, at the start of a header line, in
 * one, and after a CR that began a line (the head's end, once its LF comes).
 */
enum { S_START = 0, S_REQLINE, S_BOL, S_LINE, S_BOL_CR };

void
strict_scan_feed(struct strict_scan *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		switch (s->state) {
		case S_START:
			if (c != '\r' && c != '\n')
				s->state = S_REQLINE;
			break;
		case S_REQLINE:
		case S_LINE:
			if (c == '\n')
				s->state = S_BOL;
			break;
		case S_BOL:
			if (c == ' ' || c == '\t') {
				if (s->folded == 0)
					s->folded = s->heads + 1;
				s->state = S_LINE;
			} else if (c == '\r') {
				s->state = S_BOL_CR;
			} else if (c == '\n') {
				s->heads++;
				s->state = S_START;
			} else {
				s->state = S_LINE;
			}
			break;
		default:	/* S_BOL_CR */
			if (c == '\n') {
				s->heads++;
				s->state = S_START;
			} else {
				s->state = S_LINE;
			}
			break;
		}
	}
}

int
strict_scan_folded(const struct strict_scan *s, unsigned long i)
{
	return s->folded != 0 && s->folded - 1 == i;
}
