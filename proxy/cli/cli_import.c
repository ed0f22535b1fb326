/*
 * cli_import.c - `ctlmirror import`: verify files and record them in the store.
 */
#define _GNU_SOURCE	/* memmem */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proxy/cli/cli.h"
#include "proxy/fileio.h"
#include "proxy/hex.h"
#include "proxy/reverify.h"
#include "verify/cab.h"
#include "verify/verify.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror import [-c CONFIG] [--store DIR] [--at TIME] [--anchors DIR]\n"
	    "                        [--pin SHA256]... [--json] FILE...\n"
	    "\n"
	    "Verifies each FILE (a CTL .cab, or a root certificate, DER or PEM) and records\n"
	    "it in the store: admitted when it verifies, quarantined when it does not, a\n"
	    "rollback when it is older than the newest admitted one, a duplicate when\n"
	    "stored already. One line per file, printed once its transaction has committed.\n"
	    "A bare .stl is verified but not stored (clients fetch the .cab); a file that is\n"
	    "none of these is refused. A certificate whose SHA-256 is a pinned anchor joins\n"
	    "the trust set, and copies quarantined for want of it are verified again.\n"
	    "\n"
	    "  --at TIME      verify and record as of TIME (ISO 8601); default now\n"
	    "  --anchors DIR  anchor certificates (default: the config's anchors)\n"
	    "  --pin SHA256   trust one more anchor (repeatable)\n"
	    "  --kind KIND    the list the files must be (default: from each file)\n"
	    "  --json         one JSON object per file\n"
	    "\n"
	    "Exit status: 0 all admitted, duplicates or certificates; 1 some file was\n"
	    "quarantined, a rollback or refused; 2 usage error; 3 a file or the store failed.\n");
}

/* A DER certificate rather than a CTL: d2i_X509 takes all of it. */
static int
is_certificate(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf;
	X509 *x;
	int ok;

	if (len == 0 || len > LONG_MAX)
		return 0;
	x = d2i_X509(NULL, &p, (long)len);
	ok = x != NULL && p == buf + len;
	X509_free(x);
	return ok;
}

/* A PEM certificate: its first certificate as DER (*der malloc'd), or 0. */
static int
pem_certificate(const unsigned char *buf, size_t len, unsigned char **der, size_t *der_len)
{
	BIO *bio;
	X509 *x = NULL;
	int n;

	*der = NULL;
	if (len > INT_MAX || memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27) == NULL)
		return 0;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	*der = NULL;
	if (x == NULL || (n = i2d_X509(x, der)) <= 0) {
		X509_free(x);
		return 0;
	}
	X509_free(x);
	*der_len = (size_t)n;
	return 1;
}

/* A file that is not stored: refused, with the reason (v may be NULL). */
static void
print_refused(const struct cli_opts *o, const char *file, const struct verdict *v,
    const char *why)
{
	struct json j;

	if (o->json) {
		json_init(&j, stdout);
		json_begin(&j, NULL, '{');
		json_str(&j, "file", file);
		json_str(&j, "result", "refused");
		json_str(&j, "kind", v != NULL && v->kind != KIND_UNKNOWN ? ctl_kind_str(v->kind) : NULL);
		json_str(&j, "sequence", v != NULL && v->sequence[0] ? v->sequence : NULL);
		json_str(&j, "reason", v != NULL ? vfy_reason_str(v->reason) : NULL);
		json_str(&j, "detail", why);
		json_end(&j, '}');
		putchar('\n');
	} else {
		printf("%s: refused, not stored: %s\n", file, why);
	}
	fflush(stdout);
}

/*
 * Not a CAB: a bare CTL is verified and explained, never stored (a client
 * cannot unpack it: served as a .cab it makes Windows log event 4107);
 * anything else is no file ctlmirror keeps. Returns the exit status.
 */
static int
refuse_other(const struct cli_opts *o, const char *file, const unsigned char *buf,
    size_t len, const struct vfy_params *params)
{
	struct verdict v;
	char why[900];

	vfy_verify(buf, len, params, &v);
	if (v.reason == VFY_NOT_CTL || v.reason == VFY_CAB_MALFORMED)
		snprintf(why, sizeof(why), "not a CTL .cab, a bare .stl or a certificate (%s: %s)",
		    vfy_reason_str(v.reason), v.detail);
	else
		snprintf(why, sizeof(why), "a bare CTL (.stl), not a CAB: %s %s %s%s%s; only the "
		    "CAB (%s) is served, since Windows clients unpack what they fetch: import "
		    "the .cab", ctl_kind_str(v.kind), v.sequence[0] ? v.sequence : "-",
		    v.reason == VFY_OK ? "verifies" : vfy_reason_str(v.reason),
		    v.reason == VFY_OK ? "" : ": ", v.reason == VFY_OK ? "" : v.detail,
		    ctl_kind_cab_name(v.kind != KIND_UNKNOWN ? v.kind : KIND_AUTHROOT));
	print_refused(o, file, &v, why);
	verdict_free(&v);
	return EXIT_VERIFY_FAILED;
}

static void
print_line(const struct cli_opts *o, const char *file, const char *result,
    const struct version *v, const char *cert_hex, const char *what)
{
	char sha[65] = "";
	struct json j;

	if (v != NULL)
		hex_encode(v->sha256, sizeof(v->sha256), 0, sha);
	if (o->json) {
		json_init(&j, stdout);
		json_begin(&j, NULL, '{');
		json_str(&j, "file", file);
		json_str(&j, "result", result);
		json_str(&j, "kind", v != NULL ? ctl_kind_str(v->kind) : "certificate");
		json_str(&j, "sequence", v != NULL && v->sequence[0] ? v->sequence : NULL);
		json_str(&j, "sha256", v != NULL ? sha : NULL);
		if (cert_hex != NULL)
			json_str(&j, "sha1", cert_hex);
		json_str(&j, "reason", v != NULL ? vfy_reason_str(v->reason) : NULL);
		json_str(&j, "detail", v != NULL ? v->detail : NULL);
		json_end(&j, '}');
		putchar('\n');
	} else if (v == NULL) {
		printf("%s: certificate %s %s\n", file, cert_hex, what);
	} else {
		printf("%s: %s %s %s (%s)\n", file, result, ctl_kind_str(v->kind),
		    v->sequence[0] ? v->sequence : "-", what);
	}
	fflush(stdout);	/* a printed line means a committed transaction */
}

static int
import_cert(struct store *s, const struct cli_opts *o, const char *file,
    const unsigned char *buf, size_t len, time_t at, size_t *added_count)
{
	unsigned char sha1[20];
	char hex[41];
	enum store_err err;
	int added;

	if ((err = store_put_cert(s, buf, len, at, &added)) != STORE_OK)
		return cli_store_fail(s, err, "import");
	*added_count += added != 0;
	EVP_Digest(buf, len, sha1, NULL, EVP_sha1(), NULL);
	hex_encode(sha1, sizeof(sha1), 1, hex);
	print_line(o, file, added ? "cert_added" : "cert_present", NULL, hex,
	    added ? "added" : "already stored");
	return 0;
}

static int
import_ctl(struct store *s, const struct cli_opts *o, const char *file,
    const unsigned char *buf, size_t len, const struct vfy_params *params,
    const struct trust *trust)
{
	struct verdict v;
	struct version ver;
	enum admit_result res;
	enum store_err err;
	char source[300], what[700], sha[65], rp[PATH_MAX];
	int rc = 0;

	vfy_verify(buf, len, params, &v);
	if (snprintf(source, sizeof(source), "import:%s",
	    realpath(file, rp) != NULL ? rp : file) >= (int)sizeof(source))
		memcpy(source + sizeof(source) - 4, "...", 4);	/* marked as cut */
	err = store_admit(s, buf, len, &v, params->at, source, &res, &ver);
	if (err != STORE_OK) {
		char cmd[300];

		if (snprintf(cmd, sizeof(cmd), "import: while storing %s", file) >= (int)sizeof(cmd))
			cmd[sizeof(cmd) - 1] = '\0';
		rc = cli_store_fail(s, err, cmd);
		goto out;
	}
	/* quarantined before for want of trust: judged again with today's */
	if (res == ADMIT_DUPLICATE && vfy_reason_trust_dependent(ver.reason)) {
		enum admit_result again;

		if ((err = reverify_one(s, trust, &ver, params->at, &again, &ver)) != STORE_OK) {
			rc = cli_store_fail(s, err, "import");
			goto out;
		}
		res = again == ADMIT_QUARANTINED ? ADMIT_DUPLICATE : again;
		if (again == ADMIT_QUARANTINED)
			rc = 1;	/* still quarantined: say so, as on first sight */
	}
	hex_encode(ver.sha256, sizeof(ver.sha256), 0, sha);
	switch (res) {
	case ADMIT_ADMITTED:
	case ADMIT_DUPLICATE:
		if (ver.reason != VFY_OK)
			snprintf(what, sizeof(what), "still quarantined, %s: %s",
			    vfy_reason_str(ver.reason), ver.detail);
		else
			snprintf(what, sizeof(what), "sha256 %.12s", sha);
		break;
	case ADMIT_QUARANTINED:
		snprintf(what, sizeof(what), "%s: %s", vfy_reason_str(ver.reason), ver.detail);
		rc = 1;
		break;
	case ADMIT_ROLLBACK:
		snprintf(what, sizeof(what), "older than the newest admitted version");
		rc = 1;
		break;
	}
	print_line(o, file, admit_result_str(res), &ver, NULL, what);
out:
	verdict_free(&v);
	return rc;
}

/*
 * Certificates were added: when they changed the trust set (a pinned root,
 * say), the copies quarantined for want of it are verified again. Returns
 * the exit status for that part.
 */
static int
trust_changed(const struct cli_opts *o, const struct config *cfg,
    const struct cli_trust_opts *t, struct store *s, const struct trust *was, time_t at)
{
	struct reverify_result r;
	struct trust now;
	enum store_err err;
	int status;

	if ((status = cli_trust_load(cfg, t->anchors, t->pins, t->n_pins, s, &now,
	    "import")) != 0) {
		trust_free(&now);
		return status;
	}
	if (memcmp(now.digest, was->digest, sizeof(now.digest)) == 0) {
		trust_free(&now);
		return 0;
	}
	err = reverify_all(s, &now, KIND_UNKNOWN, at, &r);
	trust_free(&now);
	if (err != STORE_OK)
		return cli_store_fail(s, err, "import");
	if (r.checked == 0)
		return 0;
	if (o->json)
		printf("{\"file\":null,\"result\":\"reverified\",\"checked\":%zu,"
		    "\"admitted\":%zu,\"rollbacks\":%zu}\n", r.checked, r.admitted, r.rollbacks);
	else
		printf("trust set changed: %zu quarantined cop%s verified again, %zu now "
		    "admitted, %zu rollback%s\n", r.checked, r.checked == 1 ? "y" : "ies",
		    r.admitted, r.rollbacks, r.rollbacks == 1 ? "" : "s");
	return 0;
}

int
cli_import(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_trust_opts t;
	struct config cfg;
	struct trust trust;
	struct vfy_params params;
	struct store *s = NULL;
	size_t certs_added = 0;
	int i, status = 0, rc;

	memset(&params, 0, sizeof(params));
	memset(&t, 0, sizeof(t));
	memset(&trust, 0, sizeof(trust));
	if ((t.pins = calloc((size_t)argc, sizeof(*t.pins))) == NULL) {
		fprintf(stderr, "ctlmirror import: out of memory\n");
		return EXIT_IO;
	}
	status = cli_parse(argc, argv, cli_trust_options, cli_take_trust, &t,
	    &o, &cfg, "import", usage);
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto out;
	}
	params.at = time(NULL);
	if (t.at != NULL && (status = cli_time(t.at, &params.at, "import")) != 0)
		goto out;
	if (optind >= argc) {
		fprintf(stderr, "ctlmirror import: no FILE given\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (t.kind != NULL && (params.kind = ctl_kind_parse(t.kind)) == KIND_UNKNOWN) {
		fprintf(stderr, "ctlmirror import: --kind must be authroot, disallowed or pinrules\n");
		status = EXIT_USAGE;
		goto out;
	}
	if ((status = cli_store_open(&cfg, 0, &s, "import")) != 0 ||
	    (status = cli_trust_load(&cfg, t.anchors, t.pins, t.n_pins, s, &trust,
	    "import")) != 0)
		goto out;
	params.anchors = &trust.anchors;
	params.intermediates = trust.intermediates;

	for (i = optind; i < argc; i++) {
		unsigned char *buf, *der;
		size_t len, der_len;
		int err;

		if ((err = fileio_read(argv[i], CLI_FILE_MAX, &buf, &len)) != 0) {
			fprintf(stderr, "ctlmirror import: cannot read %s: %s\n", argv[i],
			    err == EFBIG ? "file too large for a CTL" : strerror(err));
			status = EXIT_IO;
			break;
		}
		if (is_certificate(buf, len)) {
			rc = import_cert(s, &o, argv[i], buf, len, params.at, &certs_added);
		} else if (pem_certificate(buf, len, &der, &der_len)) {
			rc = import_cert(s, &o, argv[i], der, der_len, params.at, &certs_added);
			free(der);
		} else if (!cab_is_cab(buf, len)) {
			rc = refuse_other(&o, argv[i], buf, len, &params);
		} else {
			rc = import_ctl(s, &o, argv[i], buf, len, &params, &trust);
		}
		free(buf);
		if (rc > status)
			status = rc;
		if (rc == EXIT_IO)
			break;
	}
	if (certs_added > 0 && status != EXIT_IO && (rc = trust_changed(&o, &cfg, &t, s, &trust,
	    params.at)) > status)
		status = rc;
out:
	store_close(s);
	free(t.pins);
	trust_free(&trust);
	return status;
}
