/*
 * anchors.c - pinned trust anchors.
 */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "verify/anchors.h"

/*
 * The roots that sign Microsoft's trust lists (docs/verify.md), by
 * SHA-256, with the SHA-1 the upstream serves each under (<SHA1>.crt), so a
 * mirror with no anchors directory can fetch them and keep only the bytes
 * that match the pin.
 */
static const struct {
	const char *hex;
	const char *sha1;
	const char *name;
} builtin_pins[] = {
	{ "F38406E540D7A9D90CB4A9479299640FFB6DF9E224ECC7A01C0D9558D8DAD77D",
	  "A43489159A520F0D93D032CCAF37E7FE20A8B419",
	  "Microsoft Root Authority (1997)" },
	{ "885DE64C340E3EA70658F01E1145F957FCDA27AABEEA1AB9FAA9FDB0102D4077",
	  "CDD4EEAE6000AC7F40C3802C171E30148030C072",
	  "Microsoft Root Certificate Authority (2001)" },
	{ "DF545BF919A2439C36983B54CDFC903DFA4F37D3996D8D84B4C31EEC6F3C163E",
	  "3B1EFD3A66EA28B16697394703A72CA340A05BD5",
	  "Microsoft Root Certificate Authority 2010" },
	{ "847DF6A78497943F27FC72EB93F9A637320A02B561D0A91B09E87A7807ED7C61",
	  "8F43288AD272F3103B6FB1428485EA3014C0BCFE",
	  "Microsoft Root Certificate Authority 2011" },
};

/* Hex (colons and spaces allowed) to exactly n bytes. */
static int
parse_hex(const char *hex, unsigned char *out, size_t want)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex != '\0'; hex++) {
		int v;

		if (*hex == ':' || *hex == ' ')
			continue;
		if (!isxdigit((unsigned char)*hex))
			return 0;
		v = isdigit((unsigned char)*hex) ? *hex - '0' :
		    tolower((unsigned char)*hex) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == want)
			return 0;
		out[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return n == want && hi < 0;
}

static enum anchors_err
add_pin(struct anchors *a, const char *hex, const char *sha1, const char *name)
{
	struct anchor_pin pin;
	size_t i;

	memset(&pin, 0, sizeof(pin));
	if (!parse_hex(hex, pin.sha256, 32))
		return ANCHORS_ERR_PIN;
	pin.has_sha1 = sha1 != NULL && parse_hex(sha1, pin.sha1, 20);
	for (i = 0; i < a->n_pins; i++)
		if (memcmp(a->pins[i].sha256, pin.sha256, 32) == 0)
			return ANCHORS_OK;
	if (a->n_pins == ANCHORS_MAX_PINS)
		return ANCHORS_ERR_FULL;
	pin.name = name;
	a->pins[a->n_pins++] = pin;
	return ANCHORS_OK;
}

enum anchors_err
anchors_init(struct anchors *a)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	if ((a->certs = sk_X509_new_null()) == NULL)
		return ANCHORS_ERR_NOMEM;
	for (i = 0; i < sizeof(builtin_pins) / sizeof(builtin_pins[0]); i++)
		add_pin(a, builtin_pins[i].hex, builtin_pins[i].sha1, builtin_pins[i].name);
	return ANCHORS_OK;
}

enum anchors_err
anchors_add_pin(struct anchors *a, const char *hex)
{
	return add_pin(a, hex, NULL, "operator pin");
}

static int
cert_sha256(X509 *cert, unsigned char out[32])
{
	unsigned int len = 0;

	return X509_digest(cert, EVP_sha256(), out, &len) && len == 32;
}

int
anchors_contains(const struct anchors *a, X509 *cert)
{
	int i;

	for (i = 0; i < sk_X509_num(a->certs); i++)
		if (X509_cmp(sk_X509_value(a->certs, i), cert) == 0)
			return 1;
	return 0;
}

/* Takes ownership of cert. */
static enum anchors_err
offer_one(struct anchors *a, X509 *cert, size_t *added)
{
	unsigned char fp[32];
	size_t i;

	if (!cert_sha256(cert, fp))
		goto ignore;
	for (i = 0; i < a->n_pins; i++) {
		if (memcmp(fp, a->pins[i].sha256, 32) != 0)
			continue;
		if (anchors_contains(a, cert)) {
			X509_free(cert);
			return ANCHORS_OK;
		}
		if (!sk_X509_push(a->certs, cert)) {
			X509_free(cert);
			return ANCHORS_ERR_NOMEM;
		}
		(*added)++;
		return ANCHORS_OK;
	}
ignore:
	a->n_ignored++;
	X509_free(cert);
	return ANCHORS_OK;
}

enum anchors_err
anchors_offer(struct anchors *a, const unsigned char *buf, size_t len,
    size_t *added)
{
	enum anchors_err rc = ANCHORS_ERR_PARSE;
	size_t n = 0, seen = 0;
	X509 *cert;
	BIO *bio = NULL;

	if (len > INT_MAX)
		goto out;
	if (len > 0 && buf[0] == 0x30) {
		const unsigned char *p = buf;

		if ((cert = d2i_X509(NULL, &p, (long)len)) == NULL ||
		    p != buf + len) {
			X509_free(cert);
			goto out;
		}
		rc = offer_one(a, cert, &n);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		rc = ANCHORS_ERR_NOMEM;
		goto out;
	}
	rc = ANCHORS_OK;
	while (rc == ANCHORS_OK &&
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		seen++;
		rc = offer_one(a, cert, &n);
	}
	ERR_clear_error();	/* the end of the PEM stream is reported as an error */
	if (rc == ANCHORS_OK && seen == 0)
		rc = ANCHORS_ERR_PARSE;
out:
	BIO_free(bio);
	if (added != NULL)
		*added = n;
	return rc;
}

int
anchors_pin_kept(const struct anchors *a, size_t i)
{
	unsigned char fp[32];
	int k;

	for (k = 0; i < a->n_pins && k < sk_X509_num(a->certs); k++)
		if (cert_sha256(sk_X509_value(a->certs, k), fp) &&
		    memcmp(fp, a->pins[i].sha256, 32) == 0)
			return 1;
	return 0;
}

void
anchors_free(struct anchors *a)
{
	sk_X509_pop_free(a->certs, X509_free);
	memset(a, 0, sizeof(*a));
}
