/*
 * certfetch.c - one root certificate from the upstreams (see certfetch.h).
 */
#include <string.h>

#include <openssl/evp.h>

#include "proxy/certfetch.h"
#include "proxy/hex.h"

static int try_next(struct certfetch *cf);

static void
on_fetched(const struct fetch_result *res, void *arg)
{
	struct certfetch *cf = arg;
	unsigned char sha1[20], sha256[32];
	const char *why = NULL;
	int added;

	if (!res->transferred)
		why = res->error;
	else if (res->status != 200)
		why = "the upstream did not answer 200";
	else if (!EVP_Digest(res->body, res->len, sha1, NULL, EVP_sha1(), NULL) ||
	    memcmp(sha1, cf->sha1, 20) != 0)
		why = "the body's SHA-1 is not the name asked for";
	else if (cf->pinned && (!EVP_Digest(res->body, res->len, sha256, NULL, EVP_sha256(), NULL) ||
	    memcmp(sha256, cf->pin, 32) != 0))
		why = "the body's SHA-256 is not the pinned one";
	else if (store_put_cert(cf->store, res->body, res->len, cf->now, &added) != STORE_OK)
		why = store_last_error(cf->store);
	if (why == NULL) {
		cf->done(cf, 1, NULL);
		return;
	}
	cf->upstream++;
	if (try_next(cf) != 0)
		cf->done(cf, 0, why);
}

/* Starts the transfer from the next upstream that will take one; -1 when none is left. */
static int
try_next(struct certfetch *cf)
{
	struct fetch_limits lim;
	char name[HEX_CRT_NAME_LEN], url[640], plain[600];

	hex_crt_name(cf->sha1, name);
	fetch_limits_of(cf->cfg, CERTFETCH_MAX, &lim);
	for (; cf->upstream < cf->cfg->n_upstream; cf->upstream++) {
		fetch_url(cf->cfg->upstream[cf->upstream], name, cf->cfg->random_query,
		    url, sizeof(url), plain, sizeof(plain));
		if (fetch_start(cf->fetcher, url, NULL, NULL, &lim, on_fetched, cf) == 0)
			return 0;
	}
	return -1;
}

int
certfetch_start(struct certfetch *cf, struct fetcher *f, struct store *s,
    const struct config *cfg, const unsigned char sha1[20],
    const unsigned char *pin, time_t now, certfetch_done_fn done, void *arg)
{
	memcpy(cf->sha1, sha1, 20);
	cf->pinned = pin != NULL;
	if (pin != NULL)
		memcpy(cf->pin, pin, 32);
	cf->arg = arg;
	cf->fetcher = f;
	cf->store = s;
	cf->cfg = cfg;
	cf->now = now;
	cf->upstream = 0;
	cf->done = done;
	return try_next(cf);
}
