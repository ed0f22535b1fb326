/*
 * cli_import.c - `ctlmirror import`: verify files and record them in the store.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proxy/cli/cli.h"
#include "proxy/fileio.h"
#include "proxy/hex.h"
#include "verify/verify.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror import [-c CONFIG] [--store DIR] [--at TIME] [--anchors DIR]\n"
	    "                        [--pin SHA256]... [--json] FILE...\n"
	    "\n"
	    "Verifies each FILE (a CTL .cab or .stl, or a <SHA1>.crt root certificate) and\n"
	    "records it in the store: admitted when it verifies, quarantined when it does not,\n"
	    "a rollback when it is older than the newest admitted one, a duplicate when\n"
	    "stored already. One line per file, printed once its transaction has committed.\n"
	    "\n"
	    "  --at TIME      verify and record as of TIME (ISO 8601); default now\n"
	    "  --anchors DIR  anchor certificates (default: the config's anchors)\n"
	    "  --pin SHA256   trust one more anchor (repeatable)\n"
	    "  --kind KIND    the list the files must be (default: from each file)\n"
	    "  --json         one JSON object per file\n"
	    "\n"
	    "Exit status: 0 all admitted, duplicates or certificates; 1 some file was\n"
	    "quarantined or a rollback; 2 usage error; 3 a file or the store failed.\n");
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
    const unsigned char *buf, size_t len, time_t at)
{
	unsigned char sha1[20];
	char hex[41];
	enum store_err err;
	int added;

	if ((err = store_put_cert(s, buf, len, at, &added)) != STORE_OK)
		return cli_store_fail(s, err, "import");
	EVP_Digest(buf, len, sha1, NULL, EVP_sha1(), NULL);
	hex_encode(sha1, sizeof(sha1), 1, hex);
	print_line(o, file, added ? "cert_added" : "cert_present", NULL, hex,
	    added ? "added" : "already stored");
	return 0;
}

static int
import_ctl(struct store *s, const struct cli_opts *o, const char *file,
    const unsigned char *buf, size_t len, const struct vfy_params *params)
{
	struct verdict v;
	struct version ver;
	enum admit_result res;
	enum store_err err;
	char source[300], what[400], sha[65], rp[PATH_MAX];
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
	hex_encode(ver.sha256, sizeof(ver.sha256), 0, sha);
	switch (res) {
	case ADMIT_ADMITTED:
	case ADMIT_DUPLICATE:
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

int
cli_import(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_trust_opts t;
	struct config cfg;
	struct anchors anchors;
	struct vfy_params params;
	struct store *s = NULL;
	int i, status = 0, rc;

	memset(&params, 0, sizeof(params));
	memset(&t, 0, sizeof(t));
	if (anchors_init(&anchors) != ANCHORS_OK ||
	    (t.pins = calloc((size_t)argc, sizeof(*t.pins))) == NULL) {
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
	if ((status = cli_trust_load(&cfg, t.anchors, t.pins, t.n_pins, &anchors,
	    &params.intermediates, "import")) != 0)
		goto out;
	params.anchors = &anchors;
	if ((status = cli_store_open(&cfg, 0, &s, "import")) != 0)
		goto out;

	for (i = optind; i < argc; i++) {
		unsigned char *buf;
		size_t len;
		int err;

		if ((err = fileio_read(argv[i], CLI_FILE_MAX, &buf, &len)) != 0) {
			fprintf(stderr, "ctlmirror import: cannot read %s: %s\n", argv[i],
			    err == EFBIG ? "file too large for a CTL" : strerror(err));
			status = EXIT_IO;
			break;
		}
		if (is_certificate(buf, len))
			rc = import_cert(s, &o, argv[i], buf, len, params.at);
		else
			rc = import_ctl(s, &o, argv[i], buf, len, &params);
		free(buf);
		if (rc > status)
			status = rc;
		if (rc == EXIT_IO)
			break;
	}
out:
	store_close(s);
	free(t.pins);
	sk_X509_pop_free(params.intermediates, X509_free);
	anchors_free(&anchors);
	return status;
}
