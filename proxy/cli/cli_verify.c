/*
 * cli_verify.c - `ctlmirror verify`: check CTL files and explain the verdict.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "proxy/cli/cli.h"
#include "proxy/fileio.h"
#include "proxy/hex.h"
#include "proxy/json.h"
#include "proxy/lang.h"
#include "verify/cab.h"
#include "verify/isotime.h"
#include "verify/verify.h"


static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror verify [-c CONFIG] [--json] [--at ISO8601] [--anchors DIR] [--pin SHA256]...\n"
	    "                        [--kind authroot|disallowed|pinrules] FILE...\n"
	    "\n"
	    "Checks each FILE (an authrootstl.cab-style CAB, or a bare .stl) as Windows would:\n"
	    "CAB, PKCS#7 SignedData over a CTL, digest, signature, chain to a pinned Microsoft\n"
	    "root, usage, and validity at the given time (a verified timestamp replaces it).\n"
	    "\n"
	    "  -c CONFIG       read anchors, anchor_pin and intermediates from CONFIG\n"
	    "  --json          one JSON object per file, one per line\n"
	    "  --at TIME       verify as of TIME (ISO 8601, UTC unless an offset is given);\n"
	    "                  default: now\n"
	    "  --anchors DIR   directory of anchor certificates, PEM or DER (default %s);\n"
	    "                  a certificate is used only if its SHA-256 matches a pin\n"
	    "  --pin SHA256    also trust an anchor with this SHA-256 fingerprint (repeatable)\n"
	    "  --kind KIND     the list the file must be; default: from the CAB member name\n"
	    "                  or the CTL's subjectUsage\n"
	    "\n"
	    "Exit status: 0 every file verified, 1 a file did not, 2 usage error,\n"
	    "3 a file or the anchors could not be read.\n", CONFIG_DEFAULT_ANCHORS);
}

static void
print_json(const char *file, const char *sha256, const struct verdict *v)
{
	struct json j;
	char digest[2 * EVP_MAX_MD_SIZE + 1], root_fp[65];

	hex_encode(v->content_digest, v->content_digest_len, 0, digest);
	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "file", file);
	json_bool(&j, "ok", v->reason == VFY_OK);
	json_str(&j, "reason", vfy_reason_str(v->reason));
	json_str(&j, "detail", v->detail);
	hex_encode(v->untrusted_root_sha256, 32, 1, root_fp);
	json_str(&j, "untrusted_root", v->has_untrusted_root ? v->untrusted_root : NULL);
	json_str(&j, "untrusted_root_sha256", v->has_untrusted_root ? root_fp : NULL);
	json_str(&j, "kind", v->kind == KIND_UNKNOWN ? NULL : ctl_kind_str(v->kind));
	json_str(&j, "sequence", v->sequence[0] ? v->sequence : NULL);
	json_time(&j, "this_update", v->this_update, v->this_update != 0);
	json_time(&j, "next_update", v->next_update, v->next_update != 0);
	if (v->this_update != 0)
		json_int(&j, "entries", (long long)v->n_entries);
	else
		json_null(&j, "entries");
	json_str(&j, "digest", v->digest_alg[0] ? v->digest_alg : NULL);
	json_str(&j, "content_digest", v->content_digest_len ? digest : NULL);
	json_str(&j, "signer", v->signer);
	json_time(&j, "chain_valid_from", v->chain_valid_from, v->has_chain);
	json_time(&j, "chain_valid_to", v->chain_valid_to, v->has_chain);
	json_str(&j, "chain_root", v->chain_root);
	json_time(&j, "timestamp", v->timestamp, v->has_timestamp);
	json_bool(&j, "timestamp_verified", v->timestamp_verified);
	json_time(&j, "verified_at", v->verified_at, 1);
	json_str(&j, "out_of_validity", v->out_of_validity);
	json_int(&j, "nested_signatures", (long long)v->nested_signatures);
	json_str(&j, "sha256", sha256);
	json_end(&j, '}');
	putchar('\n');
}

/* What each reason code means, in the administrator's language. */
static const char *
reason_meaning(enum vfy_reason r)
{
	switch (r) {
	case VFY_OK: return NULL;
	case VFY_CAB_MALFORMED: return N_("the file is not the one-member CAB Windows expects");
	case VFY_NOT_CTL: return N_("the signed content is not a certificate trust list");
	case VFY_DIGEST_MISMATCH: return N_("the list was changed after it was signed");
	case VFY_BAD_SIGNATURE: return N_("the signature does not verify");
	case VFY_NO_CHAIN: return N_("a certificate of the signer's chain is missing");
	case VFY_UNTRUSTED_ROOT: return N_("the signer's chain ends at a root that is not trusted");
	case VFY_WRONG_USAGE: return N_("the list or its signer is not for this kind of list");
	case VFY_NOT_YET_VALID: return N_("a certificate of the signer's chain is not yet valid");
	case VFY_EXPIRED: return N_("a certificate of the signer's chain has expired");
	case VFY_INTERNAL: return N_("ctlmirror itself failed (out of memory), not the file");
	}
	return NULL;
}

static void
print_human(const char *file, const struct verdict *v)
{
	char a[ISOTIME_LEN], b[ISOTIME_LEN];
	const char *meaning = reason_meaning(v->reason);

	if (v->reason == VFY_OK)
		printf(_("%s: OK, a valid %s list\n"), file, ctl_kind_str(v->kind));
	else
		printf(_("%s: %s, does not verify: %s\n  (%s)\n"), file,
		    vfy_reason_str(v->reason), v->detail, meaning != NULL ? _(meaning) : "?");
	if (v->this_update != 0) {
		printf(_("  sequence %s, thisUpdate %s, %zu entries, %s digest\n"),
		    v->sequence[0] ? v->sequence : _("(none)"),
		    isotime_format(v->this_update, a, sizeof(a)), v->n_entries,
		    v->digest_alg[0] ? v->digest_alg : _("unknown"));
	}
	if (v->signer != NULL)
		printf(_("  signed by %s\n"), v->signer);
	if (v->has_chain)
		printf(_("  chain valid %s to %s, root %s\n"),
		    isotime_format(v->chain_valid_from, a, sizeof(a)),
		    isotime_format(v->chain_valid_to, b, sizeof(b)),
		    v->chain_root ? v->chain_root : "?");
	if (v->has_timestamp)
		printf(_("  time-stamped %s (%s)\n"),
		    isotime_format(v->timestamp, a, sizeof(a)),
		    v->timestamp_verified ? _("verified: the chain is checked at this time") :
		    _("not verified: the chain is checked at the given time"));
	if (v->nested_signatures > 0)
		printf(ngettext("  %zu nested signature (reported, not checked)\n",
		    "  %zu nested signatures (reported, not checked)\n", v->nested_signatures),
		    v->nested_signatures);
	if (v->reason == VFY_EXPIRED)
		printf(_("  Windows clients would log CAPI2 event 4107 for this file: the certificate\n"
		    "  '%s' in the signer's chain is past the end of its validity period at %s.\n"),
		    v->out_of_validity ? v->out_of_validity : "?",
		    isotime_format(v->verified_at, a, sizeof(a)));
	if (v->reason == VFY_NOT_YET_VALID)
		printf(_("  Windows clients would log CAPI2 event 4107 for this file: the certificate\n"
		    "  '%s' in the signer's chain is not yet inside its validity period at %s.\n"),
		    v->out_of_validity ? v->out_of_validity : "?",
		    isotime_format(v->verified_at, a, sizeof(a)));
	if (v->reason == VFY_EXPIRED || v->reason == VFY_NOT_YET_VALID)
		printf(_("  The event reads: \"A required certificate is not within its validity period\n"
		    "  when verifying against the current system clock or the timestamp in the signed file.\"\n"));
}

int
cli_verify(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_trust_opts t;
	struct config cfg;
	struct trust trust;
	struct vfy_params params;
	struct store *s = NULL;
	char serr[512];
	int i, status = 0, err;

	memset(&params, 0, sizeof(params));
	memset(&t, 0, sizeof(t));
	memset(&trust, 0, sizeof(trust));
	if ((t.pins = calloc((size_t)argc, sizeof(*t.pins))) == NULL) {
		fprintf(stderr, "ctlmirror verify: out of memory\n");
		return EXIT_IO;
	}
	status = cli_parse(argc, argv, cli_trust_options, cli_take_trust, &t,
	    &o, &cfg, "verify", usage);
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto out;
	}
	params.at = time(NULL);	/* the CLI's "now"; verify/ itself never reads the clock */
	if (t.at != NULL && (status = cli_time(t.at, &params.at, "verify")) != 0)
		goto out;
	if (t.kind != NULL && (params.kind = ctl_kind_parse(t.kind)) == KIND_UNKNOWN) {
		fprintf(stderr, "ctlmirror verify: --kind must be authroot, disallowed or pinrules\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (optind >= argc) {
		fprintf(stderr, "ctlmirror verify: no FILE given\n");
		usage(stderr);
		status = EXIT_USAGE;
		goto out;
	}
	/* roots fetched or imported into the store count too, when there is one */
	if (store_open(cfg.store, cfg.map_size_mb, 1, &s, serr, sizeof(serr)) != STORE_OK)
		s = NULL;
	status = cli_trust_load(&cfg, t.anchors, t.pins, t.n_pins, s, &trust, "verify");
	store_close(s);
	if (status != 0)
		goto out;
	params.anchors = &trust.anchors;
	params.intermediates = trust.intermediates;

	for (i = optind; i < argc; i++) {
		struct verdict v;
		unsigned char *buf = NULL, md[32];
		char sha[65];
		size_t len = 0;

		err = fileio_read(argv[i], CLI_FILE_MAX, &buf, &len);
		if (err != 0 && err != EFBIG) {
			fprintf(stderr, "ctlmirror verify: cannot read %s: %s\n", argv[i], strerror(err));
			status = EXIT_IO;
			continue;
		}
		if (err == EFBIG) {
			memset(&v, 0, sizeof(v));
			v.reason = VFY_CAB_MALFORMED;
			v.verified_at = params.at;
			snprintf(v.detail, sizeof(v.detail), "file is larger than %u bytes",
			    CLI_FILE_MAX);
			sha[0] = '\0';
		} else {
			vfy_verify(buf, len, &params, &v);
			EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
			hex_encode(md, sizeof(md), 0, sha);
		}
		if (o.json)
			print_json(argv[i], sha[0] ? sha : NULL, &v);
		else
			print_human(argv[i], &v);
		if (v.reason != VFY_OK && status == 0)
			status = EXIT_VERIFY_FAILED;
		verdict_free(&v);
		free(buf);
	}
out:
	free(t.pins);
	trust_free(&trust);
	return status;
}
