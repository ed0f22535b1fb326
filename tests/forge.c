/*
 * forge.c - generate a test PKI and signed CTL fixtures, good and broken.
 *
 * usage: forge OUTDIR
 *
 * Writes everything into a new directory beside OUTDIR (.OUTDIR.tmp-XXXXXX)
 * and renames it to OUTDIR at the end, replacing any earlier tree in one
 * step: a reader always finds a complete tree, the old or the new, never a
 * half-written one. (Files opened one by one across a replacement can still
 * come from both: each run makes a new PKI.) Writes, under OUTDIR:
 *   anchors/root.pem, anchors/legacy-root.pem  the trusted test roots
 *   untrusted/root.pem   a root with the trusted one's name but another key
 *   pins.txt             SHA-256 (hex) of each trusted root's DER, one a line
 *   cases/<name>.cab     the fixtures (and cases/bare-stl.stl)
 *   cases.tsv            per case: the file, the kind and time to verify at,
 *                        the reason code the verifier must return, the
 *                        facts it must report ("-" where it can't parse)
 *                        and a phrase its detail must contain ("-": any)
 *
 * The signed files follow Microsoft's encoding, as seen on the real files (docs/verify.md):
 * PKCS#7 v1.5 SignedData whose encapsulated content is the CTL SEQUENCE itself
 * under [0] EXPLICIT (no OCTET STRING), a messageDigest over that SEQUENCE's
 * contents octets, and an RSA PKCS#1 v1.5 signature over the signed
 * attributes as SET OF. This file decides what to build: the PKI, each CTL
 * (encoded with the verifier's own CTL_ASN1 template) and each case;
 * forge_cab.c signs and packs them.
 *
 * The disallowed and pin-rules lists are built to the facts of real copies,
 * "disallowedcertstl.cab and pinrulesstl.cab": signed by the same publisher
 * as authroot (EKU 10.3.9 only), a bare FILETIME sequenceNumber, a UTF-16LE
 * listIdentifier; disallowed entries are 16- and 48-byte hashes with no
 * attribute SET; pin-rule entries are ASCII DNS names (one of 253 bytes)
 * with INTEGER attributes, and the CTL has a nextUpdate and extensions.
 */
/* renameat2() and RENAME_EXCHANGE (glibc), nftw() */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/forge_cab.h"
#include "verify/ctl_asn1.h"
#include "verify/isotime.h"

#define OID_FRIENDLY_NAME	"1.3.6.1.4.1.311.10.11.11"
#define OID_KEY_ID		"1.3.6.1.4.1.311.10.11.20"
#define OID_DISALLOWED_HASH	"1.3.6.1.4.1.311.10.11.15"
#define OID_SHA1		"1.3.14.3.2.26"
#define OID_ROOT_LIST_SIGNER	"1.3.6.1.4.1.311.10.3.9"
#define OID_DISALLOWED_LIST	"1.3.6.1.4.1.311.10.3.30"
#define OID_PIN_RULES_SIGNER	"1.3.6.1.4.1.311.10.3.31"
#define OID_PIN_RULES_CTL	"1.3.6.1.4.1.311.10.3.32"
#define OID_PIN_RULES_EXT	"1.3.6.1.4.1.311.10.3.33"
#define OID_PIN_RULES_DOMAIN_NAME "1.3.6.1.4.1.311.10.3.34"
#define OID_PIN_RULES_LOG_END_DATE "1.3.6.1.4.1.311.10.3.35"
/* The pin-rule entry attributes (values are INTEGERs). */
#define OID_PIN_RULE_ATTR_2	"1.3.6.1.4.1.311.10.4.2"
#define OID_PIN_RULE_ATTR_3	"1.3.6.1.4.1.311.10.4.3"
#define OID_CODE_SIGNING	"1.3.6.1.5.5.7.3.3"

#define VERIFY_AT	"2024-06-01T00:00:00Z"
/* After every test signer's chain ended (2025-01-01). */
#define AFTER_AT	"2025-06-01T00:00:00Z"
#define TS_TIME		"2020-06-01T12:00:00Z"
/* Past verify's 16 MiB member limit. */
#define OVERSIZE	(17u * 1024 * 1024)
#define GARBAGE_SIZE	4096
#define RSA_BITS	2048
#define SEQ_LEN		9	/* the longest: 0x14 || FILETIME, as authroot's */
#define YEAR		(365 * 86400)	/* pin rules' nextUpdate - thisUpdate */
/* Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01. */
#define FILETIME_EPOCH	11644473600ULL

/* The three lists (docs/verify.md, "The kind, and step 5"). */
enum fkind { F_AUTHROOT, F_DISALLOWED, F_PINRULES, F_COUNT };

/* How a kind's entries look (docs/verify.md, "The CTL"). */
enum entry_shape {
	E_THUMBPRINT,	/* 20-byte SHA-1, friendly name and key id (OCTET STRINGs) */
	E_HASH,		/* 16- and 48-byte hashes, no attribute SET at all */
	E_NAME,		/* ASCII DNS names, INTEGER attribute values */
};

static const struct kind_info {
	const char *name;	/* the verifier's --kind */
	const char *member;	/* the one member of its cab */
	const char *usage;	/* the CTL's subjectUsage */
	const char *list_id;	/* listIdentifier (as UTF-16LE), NULL when absent */
	int list_id_nul;	/* ...with its NUL */
	int seq_prefix;		/* sequenceNumber is 0x14 || FILETIME, else the bare FILETIME */
	const char *subject_alg;/* how entries are named */
	enum entry_shape shape;
	int next_update;	/* nextUpdate one year after thisUpdate */
	int extensions;		/* the pin rules' ctlExtensions */
	const char *entry_name;	/* name prefix of made-up entries */
} kinds[F_COUNT] = {
	[F_AUTHROOT] = { "authroot", "authroot.stl", OID_ROOT_LIST_SIGNER,
	    NULL, 0, 1, OID_SHA1, E_THUMBPRINT, 0, 0, "ctlmirror Test Entry" },
	[F_DISALLOWED] = { "disallowed", "disallowedcert.stl",
	    OID_DISALLOWED_LIST, "DisallowedCert_AutoUpdate_1", 1, 0,
	    OID_DISALLOWED_HASH, E_HASH, 0, 0, "ctlmirror Disallowed Entry" },
	[F_PINRULES] = { "pinrules", "pinrules.stl", OID_PIN_RULES_CTL,
	    "PinRules_AutoUpdate_1", 0, 0, OID_PIN_RULES_DOMAIN_NAME, E_NAME,
	    1, 1, "pin-rule" },
};

/* Every certificate of the test PKI, in the order they are made. */
enum id {
	ID_NONE = 0,		/* ends lists; "the signer's own key" */
	ID_ROOT, ID_CA, ID_AUTHROOT, ID_EKU_30, ID_EKU_31,
	ID_LEGACY_ROOT, ID_LEGACY_CA, ID_LEGACY_SIGNER,
	ID_TSA, ID_TSA_NO_EKU,
	ID_U_ROOT, ID_U_CA, ID_U_SIGNER,
	ID_EXPIRED, ID_NOT_YET, ID_OLD, ID_WRONG_EKU,
	ID_COUNT
};

#define CA_BC		"critical,CA:TRUE"
#define CA_KU		"critical,keyCertSign,cRLSign"
#define EE_KU		"critical,digitalSignature"
#define PUBLISHER	"ctlmirror Test Trust List Publisher"
#define TESTS_O		"ctlmirror tests"
/*
 * A list signer issued by issuer. RSA key generation is most of forge's
 * run time, so signers that never appear in the same file share the
 * authroot signer's key. The TSA, the
 * CAs and the untrusted PKI keep their own: a verifier that matched the
 * signer by key rather than by issuer and serial must not be let off.
 */
#define SIGNER(issuer, cn, from, to, eku) \
	{ (issuer), (cn), TESTS_O, (from), (to), NULL, EE_KU, (eku), 0, \
	    ID_AUTHROOT }

static const struct cert_spec {
	enum id issuer;		/* itself: self-signed */
	const char *cn, *o;	/* subject; o may be NULL */
	const char *from, *to;	/* validity, ISO UTC */
	const char *bc, *ku, *eku; /* extension values, NULL: absent */
	int bare;		/* v3 without extensions, like the 1997 root */
	enum id key_of;		/* share this one's key, ID_NONE: a new key */
} pki_specs[ID_COUNT] = {
	[ID_ROOT] = { ID_ROOT, "ctlmirror Test Root", NULL,
	    "2020-01-01", "2045-01-01", CA_BC, CA_KU, NULL, 0, ID_NONE },
	[ID_CA] = { ID_ROOT, "ctlmirror Test CTL PCA", NULL,
	    "2020-01-01", "2040-01-01", CA_BC, CA_KU, NULL, 0, ID_NONE },
	[ID_AUTHROOT] = { ID_CA, PUBLISHER, TESTS_O,
	    "2024-01-01", "2025-01-01", NULL, EE_KU, OID_ROOT_LIST_SIGNER, 0,
	    ID_NONE },
	/*
	 * ID_AUTHROOT signs all three lists, as Microsoft's publisher does.
	 * These carry only the disallowed list's subjectUsage OID (no signer
	 * EKU: refused) or only szOID_PIN_RULES_SIGNER (accepted, any kind).
	 */
	[ID_EKU_30] = SIGNER(ID_CA, PUBLISHER " (10.3.30 only)",
	    "2024-01-01", "2025-01-01", OID_DISALLOWED_LIST),
	[ID_EKU_31] = SIGNER(ID_CA, PUBLISHER " (10.3.31 only)",
	    "2024-01-01", "2025-01-01", OID_PIN_RULES_SIGNER),
	/* Like Microsoft Root Authority (1997): a v3 root with no extensions. */
	[ID_LEGACY_ROOT] = { ID_LEGACY_ROOT, "ctlmirror Test Legacy Root", NULL,
	    "2000-01-01", "2045-01-01", NULL, NULL, NULL, 1, ID_NONE },
	[ID_LEGACY_CA] = { ID_LEGACY_ROOT, "ctlmirror Test Legacy CTL PCA", NULL,
	    "2000-01-01", "2040-01-01", CA_BC, CA_KU, NULL, 0, ID_NONE },
	[ID_LEGACY_SIGNER] = SIGNER(ID_LEGACY_CA, PUBLISHER,
	    "2024-01-01", "2025-01-01", OID_ROOT_LIST_SIGNER),
	[ID_TSA] = { ID_CA, "ctlmirror Test Time-Stamp Service", TESTS_O,
	    "2019-01-01", "2030-01-01", NULL, EE_KU, "critical,timeStamping", 0,
	    ID_NONE },
	/*
	 * Like the TSA and under the same CA, but with no extendedKeyUsage at
	 * all: it chains to the test root, yet must not be able to fix the
	 * time. Absent (rather than some other EKU) so that a verifier taking
	 * "no EKU" to mean "any use" is caught too.
	 */
	[ID_TSA_NO_EKU] = { ID_CA, "ctlmirror Test Time-Stamp Service (no EKU)",
	    TESTS_O, "2019-01-01", "2030-01-01", NULL, EE_KU, NULL, 0, ID_NONE },
	/* Same names as the trusted PKI: only the keys tell them apart. */
	[ID_U_ROOT] = { ID_U_ROOT, "ctlmirror Test Root", NULL,
	    "2020-01-01", "2045-01-01", CA_BC, CA_KU, NULL, 0, ID_NONE },
	[ID_U_CA] = { ID_U_ROOT, "ctlmirror Test CTL PCA", NULL,
	    "2020-01-01", "2040-01-01", CA_BC, CA_KU, NULL, 0, ID_NONE },
	[ID_U_SIGNER] = { ID_U_CA, PUBLISHER, TESTS_O,
	    "2024-01-01", "2025-01-01", NULL, EE_KU, OID_ROOT_LIST_SIGNER, 0,
	    ID_NONE },
	[ID_EXPIRED] = SIGNER(ID_CA, PUBLISHER " (expired)",
	    "2022-01-01", "2023-01-01", OID_ROOT_LIST_SIGNER),
	[ID_NOT_YET] = SIGNER(ID_CA, PUBLISHER " (not yet valid)",
	    "2030-01-01", "2031-01-01", OID_ROOT_LIST_SIGNER),
	[ID_OLD] = SIGNER(ID_CA, PUBLISHER " (2020)",
	    "2020-01-01", "2021-01-01", OID_ROOT_LIST_SIGNER),
	[ID_WRONG_EKU] = SIGNER(ID_CA, PUBLISHER " (code signing)",
	    "2024-01-01", "2025-01-01", OID_CODE_SIGNING),
};

struct ident {
	X509 *cert;
	EVP_PKEY *key;
};

struct pki {
	struct ident id[ID_COUNT];
};

/* What the verifier must report for a case; "-" columns when unset. */
struct facts {
	int parsed;
	char sequence[2 * SEQ_LEN + 1];
	char this_update[ISOTIME_LEN];
	char next_update[ISOTIME_LEN];	/* "" when absent */
	size_t entries;
	char timestamp[ISOTIME_LEN];	/* "" without a countersignature */
	int nested;
};

/*
 * How a case's file is made. The derived ones start from the kept case of
 * kind .of (authroot-ok unless set): its .stl, cab or facts.
 */
enum build {
	B_SIGNED,	/* a CTL signed as the row says, in a cab */
	B_BARE,		/* the kept .stl without its cab */
	B_RENAMED,	/* the kept .stl as the member of kind .kind */
	B_SAME,		/* the kept cab itself (no new file), at .at as .kind */
	B_TRUNCATED,	/* authroot-ok's cab cut in half */
	B_TWO_MEMBERS,	/* authroot.stl and a second file */
	B_OVERSIZED,	/* authroot.stl padded past the size limit */
	B_WRONG_NAME,	/* the right .stl under another member name */
	B_GARBAGE,	/* random bytes */
};

enum ts {
	TS_NONE,
	TS_GOOD,	/* by the TSA */
	TS_BAD,		/* by the TSA, then corrupted */
	TS_NO_EKU,	/* a good countersignature by ID_TSA_NO_EKU */
};

/* The nested signature's digest. */
enum nested { N_NONE, N_SHA1, N_SHA256 };

struct case_def {
	const char *name;
	enum build build;
	enum fkind kind;	/* --kind to verify with; B_SIGNED: the CTL's */
	const char *reason;
	const char *at;		/* time to verify at, NULL: VERIFY_AT */
	const char *detail;	/* a phrase the verdict's detail must hold, or NULL */
	enum id pin_of;		/* the detail must hold this root's anchor_pin line */
	enum fkind of;		/* derived builds: from the kept case of this kind */
	/* B_SIGNED only: */
	const char *this_update;
	size_t entries;
	const char *usage;	/* subjectUsage override, NULL: the kind's */
	int sha1;		/* SHA-1 digest instead of SHA-256 */
	enum id signer;
	enum id key;		/* whose key signs, ID_NONE: the signer's */
	enum id certs[FORGE_MAX_CERTS]; /* in the file; ID_NONE ends */
	enum ts ts;
	enum nested nested;
	int flip;		/* flip a friendly-name byte after signing */
	int as_data;		/* content type pkcs7-data, not szOID_CTL */
	int keep;		/* later cases of its kind derive from this one */
};

/* A CTL of kind k with n entries produced at when, signed as the row says. */
#define SIGNED(k, when, n) \
	.build = B_SIGNED, .kind = (k), .this_update = (when), .entries = (n)
/* Signed by s, with s and the test CTL PCA in the file, as Microsoft does. */
#define BY(s)	.signer = (s), .certs = { (s), ID_CA }

static const struct case_def cases[] = {
	{ .name = "authroot-ok", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2024-05-01T01:00:00Z", 4), BY(ID_AUTHROOT),
	  .keep = 1 },
	{ .name = "authroot-sha1", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2024-05-01T02:00:00Z", 4), BY(ID_AUTHROOT),
	  .sha1 = 1 },
	/*
	 * The disallowed list as in 2019: SHA-1 with a nested SHA-256
	 * signature, by the authroot publisher. The others of its kind are
	 * older, so disallowed-ok is the newest that verifies.
	 */
	{ .name = "disallowed-ok", .reason = "OK",
	  SIGNED(F_DISALLOWED, "2024-05-01T03:00:00Z", 4), BY(ID_AUTHROOT),
	  .sha1 = 1, .nested = N_SHA256, .keep = 1 },
	/* ...and as in 2020: SHA-256, no nested signature. */
	{ .name = "disallowed-sha256", .reason = "OK",
	  SIGNED(F_DISALLOWED, "2024-05-01T02:30:00Z", 5), BY(ID_AUTHROOT) },
	{ .name = "disallowed-expired", .reason = "EXPIRED", .build = B_SAME,
	  .kind = F_DISALLOWED, .of = F_DISALLOWED, .at = AFTER_AT },
	{ .name = "disallowed-as-authroot", .reason = "CAB_MALFORMED",
	  .build = B_SAME, .kind = F_AUTHROOT, .of = F_DISALLOWED,
	  .detail = "expected 'authroot.stl'" },
	{ .name = "disallowed-stl-as-pinrules", .reason = "WRONG_USAGE",
	  .build = B_BARE, .kind = F_PINRULES, .of = F_DISALLOWED,
	  .detail = "(the disallowed list)" },
	/* szOID_PIN_RULES_SIGNER is accepted for every kind... */
	{ .name = "disallowed-eku-31", .reason = "OK",
	  SIGNED(F_DISALLOWED, "2024-05-01T02:40:00Z", 4), BY(ID_EKU_31) },
	/* ...the list's own subjectUsage OID as the signer's EKU is not. */
	{ .name = "disallowed-eku-30", .reason = "WRONG_USAGE",
	  SIGNED(F_DISALLOWED, "2024-05-01T02:50:00Z", 4), BY(ID_EKU_30),
	  .detail = "extended key usage lacks 1.3.6.1.4.1.311.10.3.9" },
	/*
	 * The pin rules as in 2017: SHA-1 with a nested SHA-256 signature,
	 * nextUpdate, DNS-name entries, critical 10.3.33 extension.
	 */
	{ .name = "pinrules-ok", .reason = "OK",
	  SIGNED(F_PINRULES, "2024-05-01T04:00:00Z", 5), BY(ID_AUTHROOT),
	  .sha1 = 1, .nested = N_SHA256, .keep = 1 },
	/* Served by Microsoft long after its signer expired, as the real one was. */
	{ .name = "pinrules-expired", .reason = "EXPIRED", .build = B_SAME,
	  .kind = F_PINRULES, .of = F_PINRULES, .at = AFTER_AT },
	{ .name = "pinrules-as-disallowed", .reason = "CAB_MALFORMED",
	  .build = B_SAME, .kind = F_DISALLOWED, .of = F_PINRULES,
	  .detail = "expected 'disallowedcert.stl'" },
	{ .name = "pinrules-renamed", .reason = "WRONG_USAGE",
	  .build = B_RENAMED, .kind = F_DISALLOWED, .of = F_PINRULES,
	  .detail = "(the pinrules list)" },
	{ .name = "pinrules-stl-as-authroot", .reason = "WRONG_USAGE",
	  .build = B_BARE, .kind = F_AUTHROOT,
	  .of = F_PINRULES, .detail = "(the pinrules list)" },
	{ .name = "legacy-anchor-ok", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2024-05-01T05:00:00Z", 4),
	  .signer = ID_LEGACY_SIGNER,
	  .certs = { ID_LEGACY_SIGNER, ID_LEGACY_CA } },
	/* Signed in 2020 by a signer gone in 2021: only the timestamp saves it. */
	{ .name = "timestamped-ok", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2020-06-01T11:00:00Z", 4), .sha1 = 1,
	  .signer = ID_OLD, .certs = { ID_OLD, ID_CA, ID_TSA }, .ts = TS_GOOD },
	{ .name = "timestamp-bad", .reason = "EXPIRED",
	  SIGNED(F_AUTHROOT, "2020-06-01T11:01:00Z", 4), .sha1 = 1,
	  .signer = ID_OLD, .certs = { ID_OLD, ID_CA, ID_TSA }, .ts = TS_BAD },
	/* timestamped-ok, but countersigned by a certificate not for time-stamping. */
	{ .name = "timestamp-no-eku", .reason = "EXPIRED",
	  SIGNED(F_AUTHROOT, "2020-06-01T11:02:00Z", 4), .sha1 = 1,
	  .signer = ID_OLD, .certs = { ID_OLD, ID_CA, ID_TSA_NO_EKU },
	  .ts = TS_NO_EKU },
	{ .name = "nested-ok", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2024-05-01T06:00:00Z", 4), BY(ID_AUTHROOT),
	  .nested = N_SHA1 },
	{ .name = "bare-stl", .reason = "OK", .build = B_BARE,
	  .kind = F_AUTHROOT },
	{ .name = "flipped-byte", .reason = "DIGEST_MISMATCH",
	  SIGNED(F_AUTHROOT, "2024-05-01T07:00:00Z", 4), BY(ID_AUTHROOT),
	  .flip = 1 },
	{ .name = "wrong-key", .reason = "BAD_SIGNATURE",
	  SIGNED(F_AUTHROOT, "2024-05-01T08:00:00Z", 4), BY(ID_AUTHROOT),
	  .key = ID_U_SIGNER },
	{ .name = "missing-intermediate", .reason = "NO_CHAIN",
	  SIGNED(F_AUTHROOT, "2024-05-01T09:00:00Z", 4),
	  .signer = ID_AUTHROOT, .certs = { ID_AUTHROOT } },
	/* The only case with a root in the file: a self-contained, wrong chain. */
	{ .name = "untrusted-root", .reason = "UNTRUSTED_ROOT",
	  SIGNED(F_AUTHROOT, "2024-05-01T10:00:00Z", 4),
	  .signer = ID_U_SIGNER, .certs = { ID_U_SIGNER, ID_U_CA, ID_U_ROOT },
	  .pin_of = ID_U_ROOT },
	{ .name = "wrong-eku", .reason = "WRONG_USAGE",
	  SIGNED(F_AUTHROOT, "2024-05-01T11:00:00Z", 4), BY(ID_WRONG_EKU) },
	{ .name = "wrong-usage", .reason = "WRONG_USAGE",
	  SIGNED(F_AUTHROOT, "2024-05-01T12:00:00Z", 4), BY(ID_AUTHROOT),
	  .usage = OID_CODE_SIGNING },
	{ .name = "kind-mismatch", .reason = "WRONG_USAGE", .build = B_RENAMED,
	  .kind = F_AUTHROOT, .of = F_DISALLOWED,
	  .detail = "(the disallowed list)" },
	{ .name = "expired", .reason = "EXPIRED",
	  SIGNED(F_AUTHROOT, "2024-05-01T13:00:00Z", 4), BY(ID_EXPIRED) },
	{ .name = "not-yet-valid", .reason = "NOT_YET_VALID",
	  SIGNED(F_AUTHROOT, "2024-05-01T14:00:00Z", 4), BY(ID_NOT_YET) },
	{ .name = "truncated", .reason = "CAB_MALFORMED", .build = B_TRUNCATED,
	  .kind = F_AUTHROOT },
	{ .name = "two-member", .reason = "CAB_MALFORMED",
	  .build = B_TWO_MEMBERS, .kind = F_AUTHROOT },
	{ .name = "oversized", .reason = "CAB_MALFORMED", .build = B_OVERSIZED,
	  .kind = F_AUTHROOT },
	{ .name = "wrong-member-name", .reason = "CAB_MALFORMED",
	  .build = B_WRONG_NAME, .kind = F_AUTHROOT },
	{ .name = "garbage", .reason = "CAB_MALFORMED", .build = B_GARBAGE,
	  .kind = F_AUTHROOT },
	{ .name = "not-ctl", .reason = "NOT_CTL",
	  SIGNED(F_AUTHROOT, "2024-05-01T15:00:00Z", 4), BY(ID_AUTHROOT),
	  .as_data = 1 },
	/*
	 * authroot-ok re-signed under the same sequence (Microsoft did so in
	 * 2009 and 2011): the same CTL, a SHA-1 signature, so other bytes.
	 */
	{ .name = "authroot-resigned", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2024-05-01T01:00:00Z", 4), BY(ID_AUTHROOT),
	  .sha1 = 1 },
	/* For the benchmarks: about the size of the real list. */
	{ .name = "sha256-large", .reason = "OK",
	  SIGNED(F_AUTHROOT, "2024-05-01T16:00:00Z", 500), BY(ID_AUTHROOT) },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/*
 * What main passes down: where to write, the next serial number, and the
 * files that later cases are derived from.
 */
struct forge {
	const char *outdir;
	FILE *tsv;
	long serial;
	/* per kind, the case marked .keep: its .stl, cab, file and facts */
	struct forge_blob kept_stl[F_COUNT];
	struct forge_blob kept_cab[F_COUNT];
	char kept_file[F_COUNT][256];
	struct facts kept_facts[F_COUNT];
	/* "anchor_pin = <SHA-256>" of each certificate, for .pin_of */
	char pin_line[ID_COUNT][16 + 2 * 32];
};

static time_t
iso(const char *text)
{
	time_t t;

	/* Only the constants above come here: a bad one is a bug in this file. */
	if (!isotime_parse(text, &t))
		abort();
	return t;
}

static void
hex(const unsigned char *p, size_t len, const char *digits, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
write_file(const struct forge *f, const char *rel, const unsigned char *p,
    size_t len)
{
	char path[4096];
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", f->outdir, rel);
	if ((fp = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "forge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = fwrite(p, 1, len, fp) == len;
	ok = (fclose(fp) == 0) && ok;
	if (!ok) {
		fprintf(stderr, "forge: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

static int
make_dir(const struct forge *f, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s%s", f->outdir, *rel ? "/" : "", rel);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "forge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the test PKI ---- */

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return forge_fail("bad certificate extension");
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : forge_fail("X509_add_ext");
}

static int
set_validity(X509 *x, const char *from, const char *to)
{
	ASN1_TIME *a = ASN1_TIME_set(NULL, iso(from));
	ASN1_TIME *b = ASN1_TIME_set(NULL, iso(to));
	int ok;

	ok = a != NULL && b != NULL && X509_set1_notBefore(x, a) &&
	    X509_set1_notAfter(x, b);
	ASN1_TIME_free(a);
	ASN1_TIME_free(b);
	return ok ? 0 : forge_fail("certificate validity");
}

/* One certificate of pki_specs, signed by its issuer (already made). */
static int
make_cert(struct forge *f, struct pki *pki, enum id which)
{
	const struct cert_spec *s = &pki_specs[which];
	struct ident *me = &pki->id[which];
	const struct ident *issuer = &pki->id[s->issuer];
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	int ret = -1;

	if (s->key_of != ID_NONE) {
		if (!EVP_PKEY_up_ref(pki->id[s->key_of].key)) {
			forge_fail("EVP_PKEY_up_ref");
			goto out;
		}
		me->key = pki->id[s->key_of].key;
	} else if ((me->key = EVP_RSA_gen(RSA_BITS)) == NULL) {
		forge_fail("RSA key generation");
		goto out;
	}
	if ((me->cert = X509_new()) == NULL || !X509_set_version(me->cert, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(me->cert), f->serial++) ||
	    !X509_set_pubkey(me->cert, me->key)) {
		forge_fail("X509_new");
		goto out;
	}
	if ((name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)s->cn, -1, -1, 0) ||
	    (s->o != NULL && !X509_NAME_add_entry_by_txt(name, "O",
	    MBSTRING_ASC, (const unsigned char *)s->o, -1, -1, 0)) ||
	    !X509_set_subject_name(me->cert, name) ||
	    !X509_set_issuer_name(me->cert, X509_get_subject_name(issuer->cert))) {
		forge_fail("certificate name");
		goto out;
	}
	if (set_validity(me->cert, s->from, s->to) != 0)
		goto out;

	if (!s->bare) {
		X509V3_set_ctx(&ctx, issuer->cert, me->cert, NULL, NULL, 0);
		if ((s->bc != NULL &&
		    add_ext(me->cert, &ctx, NID_basic_constraints, s->bc) != 0) ||
		    (s->ku != NULL &&
		    add_ext(me->cert, &ctx, NID_key_usage, s->ku) != 0) ||
		    (s->eku != NULL &&
		    add_ext(me->cert, &ctx, NID_ext_key_usage, s->eku) != 0) ||
		    add_ext(me->cert, &ctx, NID_subject_key_identifier,
		    "hash") != 0)
			goto out;
		/* A bare (legacy) issuer has no key id to point to. */
		if (issuer != me &&
		    X509_get0_subject_key_id(issuer->cert) != NULL &&
		    add_ext(me->cert, &ctx, NID_authority_key_identifier,
		    "keyid") != 0)
			goto out;
	}
	if (X509_sign(me->cert, issuer->key, EVP_sha256()) <= 0) {
		forge_fail("X509_sign");
		goto out;
	}
	ret = 0;
out:
	X509_NAME_free(name);
	return ret;
}

static int
pki_build(struct forge *f, struct pki *pki)
{
	int i;

	for (i = ID_NONE + 1; i < ID_COUNT; i++)
		if (make_cert(f, pki, (enum id)i) != 0)
			return -1;
	return 0;
}

static void
pki_free(struct pki *pki)
{
	int i;

	for (i = 0; i < ID_COUNT; i++) {
		X509_free(pki->id[i].cert);
		EVP_PKEY_free(pki->id[i].key);
	}
}

static int
write_pem(const struct forge *f, const char *rel, X509 *cert)
{
	char path[4096];
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", f->outdir, rel);
	if ((fp = fopen(path, "w")) == NULL) {
		fprintf(stderr, "forge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = PEM_write_X509(fp, cert);
	ok = (fclose(fp) == 0) && ok;
	return ok ? 0 : forge_fail(path);
}

/* The anchors the verifier trusts, their pins, and the root it must not. */
static int
write_anchors(const struct forge *f, const struct pki *pki)
{
	static const enum id trusted[] = { ID_ROOT, ID_LEGACY_ROOT };
	unsigned char md[EVP_MAX_MD_SIZE];
	char line[2 * EVP_MAX_MD_SIZE + 2];
	char pins[2 * sizeof(line)] = "";
	unsigned int len;
	size_t i;

	if (write_pem(f, "anchors/root.pem", pki->id[ID_ROOT].cert) != 0 ||
	    write_pem(f, "anchors/legacy-root.pem",
	    pki->id[ID_LEGACY_ROOT].cert) != 0 ||
	    write_pem(f, "untrusted/root.pem", pki->id[ID_U_ROOT].cert) != 0)
		return -1;
	for (i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++) {
		if (!X509_digest(pki->id[trusted[i]].cert, EVP_sha256(), md, &len))
			return forge_fail("X509_digest");
		hex(md, len, "0123456789abcdef", line);
		strcat(line, "\n");
		strcat(pins, line);
	}
	return write_file(f, "pins.txt", (const unsigned char *)pins,
	    strlen(pins));
}

/* The config line that would trust each certificate as an anchor. */
static int
pin_lines(struct forge *f, const struct pki *pki)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char fp[2 * 32 + 1];
	unsigned int len;
	int i;

	for (i = ID_NONE + 1; i < ID_COUNT; i++) {
		if (!X509_digest(pki->id[i].cert, EVP_sha256(), md, &len) ||
		    len != 32)
			return forge_fail("X509_digest");
		hex(md, len, "0123456789ABCDEF", fp);
		snprintf(f->pin_line[i], sizeof(f->pin_line[i]), "anchor_pin = %s",
		    fp);
	}
	return 0;
}

/* ---- the CTL ---- */

/* ASCII to UTF-16LE with its NUL, as Windows stores friendly names. */
static size_t
utf16le(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;

	for (; *s != '\0' && n + 4 <= cap; s++) {
		out[n++] = (unsigned char)*s;
		out[n++] = 0;
	}
	out[n++] = 0;
	out[n++] = 0;
	return n;
}

/* A new entry with the given identifier, appended to ctl's list. */
static CTL_ENTRY_ASN1 *
new_entry(CTL_ASN1 *ctl, const unsigned char *id, size_t len)
{
	CTL_ENTRY_ASN1 *e;

	if ((e = CTL_ENTRY_ASN1_new()) == NULL) {
		forge_fail("CTL_ENTRY_ASN1_new");
		return NULL;
	}
	if ((e->id == NULL && (e->id = ASN1_OCTET_STRING_new()) == NULL) ||
	    !ASN1_OCTET_STRING_set(e->id, id, (int)len) ||
	    !sk_CTL_ENTRY_ASN1_push(ctl->entries, e)) {
		forge_fail("entry id");
		CTL_ENTRY_ASN1_free(e);
		return NULL;
	}
	return e;
}

/* One authroot subject: its 20-byte id, friendly name and key id. */
static int
add_thumbprint(CTL_ASN1 *ctl, const unsigned char id[20], const char *name,
    const unsigned char keyid[20])
{
	CTL_ENTRY_ASN1 *e;
	unsigned char fname[512];
	size_t flen = utf16le(name, fname, sizeof(fname));

	if ((e = new_entry(ctl, id, 20)) == NULL)
		return -1;
	if (forge_attr_add(&e->attrs, OID_KEY_ID, V_ASN1_OCTET_STRING, keyid,
	    20) != 0 ||
	    forge_attr_add(&e->attrs, OID_FRIENDLY_NAME, V_ASN1_OCTET_STRING,
	    fname, (int)flen) != 0)
		return -1;
	return 0;
}

/*
 * The authroot entries: the two trusted test roots first (so a mirror test
 * can serve their .crt), then made-up subjects whose ids and key ids are
 * SHA-1 of their names, so every run lists the same ones.
 */
static int
add_thumbprints(CTL_ASN1 *ctl, const struct pki *pki, size_t n)
{
	static const enum id listed[] = { ID_ROOT, ID_LEGACY_ROOT };
	unsigned char id[SHA_DIGEST_LENGTH], keyid[SHA_DIGEST_LENGTH];
	char name[128], seed[160];
	unsigned int len;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i < 2) {
			X509 *x = pki->id[listed[i]].cert;

			snprintf(name, sizeof(name), "%s", pki_specs[listed[i]].cn);
			if (!X509_digest(x, EVP_sha1(), id, &len) ||
			    !X509_pubkey_digest(x, EVP_sha1(), keyid, &len))
				return forge_fail("X509_digest");
		} else {
			snprintf(name, sizeof(name), "%s %03zu",
			    kinds[F_AUTHROOT].entry_name, i);
			snprintf(seed, sizeof(seed), "id %s", name);
			SHA1((const unsigned char *)seed, strlen(seed), id);
			snprintf(seed, sizeof(seed), "key %s", name);
			SHA1((const unsigned char *)seed, strlen(seed), keyid);
		}
		if (add_thumbprint(ctl, id, name, keyid) != 0)
			return -1;
	}
	return 0;
}

/*
 * The disallowed entries: identifiers of 16 and 48 bytes in turn (the first
 * half of a SHA-256, a SHA-384 of a made-up name) and, as on the real list,
 * no attribute SET at all: the template leaves an absent (NULL) SET out.
 */
static int
add_hashes(CTL_ASN1 *ctl, size_t n)
{
	unsigned char md[SHA384_DIGEST_LENGTH];
	char seed[128];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(seed, sizeof(seed), "%s %03zu",
		    kinds[F_DISALLOWED].entry_name, i);
		if (i % 2 == 0)
			SHA256((const unsigned char *)seed, strlen(seed), md);
		else
			SHA384((const unsigned char *)seed, strlen(seed), md);
		if (new_entry(ctl, md, i % 2 == 0 ? 16 : 48) == NULL)
			return -1;
	}
	return 0;
}

/*
 * The pin-rule entries: ASCII DNS names, the first as on the real list, one
 * longer than 64 bytes and one of DNS's 253, then made-up ones; each with
 * INTEGER attributes 1.3.6.1.4.1.311.10.4.2 and .4.3, not OCTET STRINGs.
 */
static int
add_names(CTL_ASN1 *ctl, size_t n)
{
	static const char *fixed[] = {
		".files.1drv.com",
		"a-pin-rule-name-longer-than-sixty-four-bytes.test.ctlmirror.example",
		NULL,	/* 253 bytes, made below */
	};
	CTL_ENTRY_ASN1 *e;
	char name[256];
	unsigned char v2 = 1, v3;
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (i < 2) {
			snprintf(name, sizeof(name), "%s", fixed[i]);
		} else if (i == 2) {
			/* four labels of 63, 63, 63 and 61 letters: 253 bytes */
			for (k = 0; k < 253; k++)
				name[k] = k % 64 == 63 ? '.' : (char)('a' + k / 64);
			name[253] = '\0';
		} else {
			snprintf(name, sizeof(name), "%s-%03zu.test.ctlmirror.example",
			    kinds[F_PINRULES].entry_name, i);
		}
		v3 = (unsigned char)(i + 1);
		if ((e = new_entry(ctl, (const unsigned char *)name,
		    strlen(name))) == NULL ||
		    forge_attr_add(&e->attrs, OID_PIN_RULE_ATTR_2, V_ASN1_INTEGER,
		    &v2, 1) != 0 ||
		    forge_attr_add(&e->attrs, OID_PIN_RULE_ATTR_3, V_ASN1_INTEGER,
		    &v3, 1) != 0)
			return -1;
	}
	return 0;
}

static int
add_entries(CTL_ASN1 *ctl, const struct pki *pki, enum fkind kind, size_t n)
{
	switch (kinds[kind].shape) {
	case E_THUMBPRINT:
		return add_thumbprints(ctl, pki, n);
	case E_HASH:
		return add_hashes(ctl, n);
	case E_NAME:
		return add_names(ctl, n);
	}
	return forge_fail("unknown entry shape");
}

/* A FILETIME (100 ns since 1601) big-endian, as sequence numbers hold it. */
static void
filetime_of(time_t t, unsigned char out[8])
{
	uint64_t ft = ((uint64_t)t + FILETIME_EPOCH) * 10000000ULL;
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = ft & 0xff;
		ft >>= 8;
	}
}

/*
 * The sequence number as Microsoft makes it: the FILETIME of production,
 * after 0x14 on authroot, bare on the other two lists. Distinct thisUpdates
 * give distinct, growing numbers. Returns its length.
 */
static size_t
sequence_of(time_t t, int prefix, unsigned char seq[SEQ_LEN])
{
	if (!prefix) {
		filetime_of(t, seq);
		return 8;
	}
	seq[0] = 0x14;
	filetime_of(t, seq + 1);
	return 9;
}

/* One ctlExtension { oid, critical, OCTET STRING { value } }. */
static int
add_extension(CTL_ASN1 *ctl, const char *oid, int critical,
    const unsigned char *value, size_t len)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	int ret = -1;

	if ((ctl->extensions == NULL &&
	    (ctl->extensions = sk_X509_EXTENSION_new_null()) == NULL) ||
	    (obj = OBJ_txt2obj(oid, 1)) == NULL ||
	    (os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, value, (int)len) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os)) == NULL ||
	    !sk_X509_EXTENSION_push(ctl->extensions, ext)) {
		forge_fail("ctlExtension");
		goto out;
	}
	ext = NULL;
	ret = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ret;
}

/*
 * The pin rules' extensions: 1.3.6.1.4.1.311.10.3.33 (critical; the rules
 * themselves, here an opaque SEQUENCE) and .10.3.35 (a FILETIME).
 */
static int
add_pin_extensions(CTL_ASN1 *ctl, time_t next)
{
	static const unsigned char rules[] = {
		0x30, 0x08, 0x02, 0x01, 0x01, 0x04, 0x03, 'p', 'i', 'n',
	};
	unsigned char ft[8];

	filetime_of(next, ft);
	if (add_extension(ctl, OID_PIN_RULES_EXT, 1, rules, sizeof(rules)) != 0 ||
	    add_extension(ctl, OID_PIN_RULES_LOG_END_DATE, 0, ft, sizeof(ft)) != 0)
		return -1;
	return 0;
}

/* Encodes the case's CTL with the CTL_ASN1 template and records its facts. */
static int
build_ctl(const struct pki *pki, const struct case_def *c,
    struct forge_blob *out, struct facts *facts)
{
	const struct kind_info *k = &kinds[c->kind];
	CTL_ASN1 *ctl;
	ASN1_OBJECT *obj = NULL;
	ASN1_TIME *at;
	unsigned char seq[SEQ_LEN], lid[256];
	size_t seq_len, lid_len;
	time_t t = iso(c->this_update);
	int ret = -1;

	if ((ctl = CTL_ASN1_new()) == NULL)
		return forge_fail("CTL_ASN1_new");
	if ((ctl->subject_usage == NULL &&
	    (ctl->subject_usage = sk_ASN1_OBJECT_new_null()) == NULL) ||
	    (obj = OBJ_txt2obj(c->usage != NULL ? c->usage : k->usage,
	    1)) == NULL ||
	    !sk_ASN1_OBJECT_push(ctl->subject_usage, obj)) {
		forge_fail("subjectUsage");
		goto out;
	}
	obj = NULL;
	if (k->list_id != NULL) {
		lid_len = utf16le(k->list_id, lid, sizeof(lid));
		if (!k->list_id_nul)
			lid_len -= 2;
		if ((ctl->list_id = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(ctl->list_id, lid, (int)lid_len)) {
			forge_fail("listIdentifier");
			goto out;
		}
	}
	seq_len = sequence_of(t, k->seq_prefix, seq);
	if ((ctl->sequence = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_STRING_set(ctl->sequence, seq, (int)seq_len)) {
		forge_fail("sequenceNumber");
		goto out;
	}
	/* UTCTime, as in every real copy (ASN1_TIME_set picks it before 2050). */
	if ((at = ASN1_TIME_set(ctl->this_update, t)) == NULL) {
		forge_fail("thisUpdate");
		goto out;
	}
	ctl->this_update = at;
	if (k->next_update &&
	    (ctl->next_update = ASN1_TIME_set(NULL, t + YEAR)) == NULL) {
		forge_fail("nextUpdate");
		goto out;
	}
	if ((ctl->subject_alg == NULL &&
	    (ctl->subject_alg = X509_ALGOR_new()) == NULL) ||
	    (obj = OBJ_txt2obj(k->subject_alg, 1)) == NULL ||
	    !X509_ALGOR_set0(ctl->subject_alg, obj, V_ASN1_NULL, NULL)) {
		forge_fail("subjectAlgorithm");
		goto out;
	}
	obj = NULL;
	if (ctl->entries == NULL &&
	    (ctl->entries = sk_CTL_ENTRY_ASN1_new_null()) == NULL) {
		forge_fail("out of memory");
		goto out;
	}
	if (add_entries(ctl, pki, c->kind, c->entries) != 0 ||
	    (k->extensions && add_pin_extensions(ctl, t + YEAR) != 0) ||
	    forge_encode(ctl, ASN1_ITEM_rptr(CTL_ASN1), out) != 0)
		goto out;

	facts->parsed = 1;
	hex(seq, seq_len, "0123456789ABCDEF", facts->sequence);
	isotime_format(t, facts->this_update, sizeof(facts->this_update));
	if (k->next_update)
		isotime_format(t + YEAR, facts->next_update,
		    sizeof(facts->next_update));
	facts->entries = c->entries;
	ret = 0;
out:
	ASN1_OBJECT_free(obj);
	CTL_ASN1_free(ctl);
	return ret;
}

/* ---- the cases ---- */

/*
 * flipped-byte: change one character of the first entry's friendly name in
 * the signed file, so the CTL still parses but no longer matches its digest.
 * The name must occur exactly once (certificates hold names as UTF-8, not
 * UTF-16), or the fixture would not break what it claims to.
 */
static int
flip_name(struct forge_blob *stl, const char *name)
{
	unsigned char pat[512];
	size_t plen = utf16le(name, pat, sizeof(pat)) - 2, i, hit = 0, hits = 0;

	for (i = 0; i + plen <= stl->len; i++)
		if (memcmp(stl->p + i, pat, plen) == 0) {
			hit = i;
			hits++;
		}
	if (hits != 1)
		return forge_fail("flipped-byte: name not found exactly once");
	stl->p[hit] ^= 0x20;		/* 'c' -> 'C': still valid UTF-16 */
	return 0;
}

/* Builds and signs the CTL of a B_SIGNED row; fills the facts it must yield. */
static int
make_signed(const struct pki *pki, const struct case_def *c,
    struct forge_blob *stl, struct facts *x)
{
	struct forge_blob ctl = { NULL, 0 };
	struct forge_sign_spec s;
	size_t i;
	int ret = -1;

	memset(&s, 0, sizeof(s));
	if (build_ctl(pki, c, &ctl, x) != 0)
		return -1;
	s.md = c->sha1 ? EVP_sha1() : EVP_sha256();
	s.signer = pki->id[c->signer].cert;
	s.key = pki->id[c->key != ID_NONE ? c->key : c->signer].key;
	for (i = 0; i < FORGE_MAX_CERTS && c->certs[i] != ID_NONE; i++)
		s.certs[i] = pki->id[c->certs[i]].cert;
	if (c->ts != TS_NONE) {
		enum id tsa = c->ts == TS_NO_EKU ? ID_TSA_NO_EKU : ID_TSA;

		s.tsa = pki->id[tsa].cert;
		s.tsa_key = pki->id[tsa].key;
		s.ts_time = iso(TS_TIME);
		s.ts_corrupt = c->ts == TS_BAD;
		isotime_format(s.ts_time, x->timestamp, sizeof(x->timestamp));
	}
	s.nested = x->nested = c->nested != N_NONE;
	s.nested_md = c->nested == N_SHA256 ? EVP_sha256() : EVP_sha1();
	s.as_data = c->as_data;
	if (forge_sign_ctl(&ctl, &s, stl) != 0)
		goto out;
	if (c->flip && flip_name(stl, pki_specs[ID_ROOT].cn) != 0)
		goto out;
	/* Refused before the CTL is read: the verifier has no facts to give. */
	if (c->as_data)
		memset(x, 0, sizeof(*x));
	ret = 0;
out:
	forge_blob_free(&ctl);
	return ret;
}

static int
pack(const char *member, const unsigned char *p, size_t len,
    struct forge_blob *cab)
{
	struct forge_cab_member m = { member, p, len };

	return forge_cab_build(&m, 1, cab);
}

static void
tsv_row(const struct forge *f, const struct case_def *c, const char *file,
    const struct facts *x)
{
	char entries[32] = "-", nested[32] = "-";
	const char *detail = "-";

	if (x->parsed) {
		snprintf(entries, sizeof(entries), "%zu", x->entries);
		snprintf(nested, sizeof(nested), "%d", x->nested);
	}
	if (c->pin_of != ID_NONE)
		detail = f->pin_line[c->pin_of];
	else if (c->detail != NULL)
		detail = c->detail;
	fprintf(f->tsv, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
	    c->name, file, kinds[c->kind].name, c->at != NULL ? c->at : VERIFY_AT,
	    c->reason, x->parsed ? x->sequence : "-",
	    x->parsed ? x->this_update : "-", entries,
	    x->parsed && x->timestamp[0] ? x->timestamp : "-", nested,
	    x->parsed && x->next_update[0] ? x->next_update : "-", detail);
}

/* Makes one case's file (B_SAME: none) and writes its row. */
static int
make_case(struct forge *f, const struct pki *pki, const struct case_def *c)
{
	static const char second[] = "ctlmirror tests: a second member\n";
	const struct forge_blob *ar = &f->kept_stl[F_AUTHROOT];
	const struct forge_blob *of = &f->kept_stl[c->of];
	struct forge_blob stl = { NULL, 0 }, cab = { NULL, 0 }, pad = { NULL, 0 };
	struct forge_cab_member two[2];
	struct facts x;
	char file[256];
	int ret = -1;

	memset(&x, 0, sizeof(x));
	snprintf(file, sizeof(file), "cases/%s.cab", c->name);
	/* Derived cases need authroot-ok and the kept case they name made first. */
	if (c->build != B_SIGNED && (ar->p == NULL || of->p == NULL))
		return forge_fail("case table out of order");

	switch (c->build) {
	case B_SIGNED:
		if (make_signed(pki, c, &stl, &x) != 0 ||
		    pack(kinds[c->kind].member, stl.p, stl.len, &cab) != 0)
			goto out;
		if (c->keep) {
			if (f->kept_stl[c->kind].p != NULL) {
				forge_fail("two kept cases of one kind");
				goto out;
			}
			f->kept_stl[c->kind] = stl;
			f->kept_facts[c->kind] = x;
			snprintf(f->kept_file[c->kind], sizeof(f->kept_file[c->kind]),
			    "%s", file);
			stl.p = NULL;
			if (forge_blob_set(&f->kept_cab[c->kind], cab.p, cab.len) != 0)
				goto out;
		}
		break;
	case B_BARE:
		snprintf(file, sizeof(file), "cases/%s.stl", c->name);
		x = f->kept_facts[c->of];
		if (forge_blob_set(&cab, of->p, of->len) != 0)
			goto out;
		break;
	case B_RENAMED:
		/* One kind's list where another's is expected. */
		x = f->kept_facts[c->of];
		if (pack(kinds[c->kind].member, of->p, of->len, &cab) != 0)
			goto out;
		break;
	case B_SAME:
		/* Refused by member name before the CTL is read when the kinds differ. */
		if (c->kind == c->of)
			x = f->kept_facts[c->of];
		tsv_row(f, c, f->kept_file[c->of], &x);
		ret = 0;
		goto out;
	case B_TRUNCATED:
		if (forge_blob_set(&cab, f->kept_cab[F_AUTHROOT].p,
		    f->kept_cab[F_AUTHROOT].len / 2) != 0)
			goto out;
		break;
	case B_TWO_MEMBERS:
		two[0] = (struct forge_cab_member){ "authroot.stl", ar->p,
		    ar->len };
		two[1] = (struct forge_cab_member){ "readme.txt",
		    (const unsigned char *)second, sizeof(second) - 1 };
		if (forge_cab_build(two, 2, &cab) != 0)
			goto out;
		break;
	case B_OVERSIZED:
		/* The real CTL followed by zeros, past verify's 16 MiB limit. */
		if ((pad.p = calloc(1, OVERSIZE)) == NULL) {
			forge_fail("out of memory");
			goto out;
		}
		pad.len = OVERSIZE;
		memcpy(pad.p, ar->p, ar->len);
		if (pack("authroot.stl", pad.p, pad.len, &cab) != 0)
			goto out;
		break;
	case B_WRONG_NAME:
		if (pack("other.stl", ar->p, ar->len, &cab) != 0)
			goto out;
		break;
	case B_GARBAGE:
		if ((cab.p = malloc(GARBAGE_SIZE)) == NULL ||
		    RAND_bytes(cab.p, GARBAGE_SIZE) != 1) {
			forge_fail("RAND_bytes");
			goto out;
		}
		cab.len = GARBAGE_SIZE;
		cab.p[0] = 'X';		/* never "MSCF" by chance */
		break;
	}
	if (write_file(f, file, cab.p, cab.len) != 0)
		goto out;
	tsv_row(f, c, file, &x);
	ret = 0;
out:
	forge_blob_free(&stl);
	forge_blob_free(&cab);
	forge_blob_free(&pad);
	return ret;
}

/* ---- the output tree ---- */

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT) {
		fprintf(stderr, "forge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* rm -rf path (never following a symbolic link); 0 when nothing is left. */
static int
remove_tree(const char *path)
{
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/*
 * Splits target into its parent and last component (trailing slashes
 * dropped) and makes the temporary directory tmp beside it, where the whole
 * tree is written. The target itself is left alone until out_commit().
 */
static int
out_begin(const char *target, char *tmp, size_t len)
{
	char parent[PATH_MAX], *slash;
	const char *base;
	struct stat st;
	size_t n;
	int w;

	n = strlen(target);
	while (n > 1 && target[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(parent)) {
		fprintf(stderr, "forge: bad OUTDIR '%s'\n", target);
		return -1;
	}
	memcpy(parent, target, n);
	parent[n] = '\0';
	if ((slash = strrchr(parent, '/')) == NULL) {
		base = parent;
		w = snprintf(tmp, len, "./.%s.tmp-XXXXXX", base);
	} else {
		*slash = '\0';
		base = slash + 1;
		w = snprintf(tmp, len, "%s/.%s.tmp-XXXXXX", parent, base);
	}
	if (w < 0 || (size_t)w >= len) {
		fprintf(stderr, "forge: OUTDIR '%s' is too long\n", target);
		return -1;
	}
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		fprintf(stderr, "forge: OUTDIR '%s' must name a directory to create\n",
		    target);
		return -1;
	}
	if (lstat(target, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "forge: %s exists and is not a directory\n", target);
		return -1;
	}
	if (mkdtemp(tmp) == NULL) {
		fprintf(stderr, "forge: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	/* mkdtemp's 0700 would keep the fixtures from other users' test runs. */
	if (chmod(tmp, 0755) != 0) {
		fprintf(stderr, "forge: %s: %s\n", tmp, strerror(errno));
		remove_tree(tmp);
		return -1;
	}
	return 0;
}

/*
 * Puts the finished tree tmp in target's place in one rename: onto nothing
 * (or an empty directory) directly, else by exchanging the two with
 * RENAME_EXCHANGE and removing the old tree, now at tmp. Where the exchange
 * is not supported, the old tree is first moved aside, so only that
 * fallback leaves a moment with no target at all (never a partial one).
 */
static int
out_commit(const char *tmp, const char *target)
{
	char old[PATH_MAX];

	if (rename(tmp, target) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST) {
		fprintf(stderr, "forge: rename %s to %s: %s\n", tmp, target,
		    strerror(errno));
		return -1;
	}
#ifdef RENAME_EXCHANGE
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE) == 0)
		return remove_tree(tmp);
	if (errno != EINVAL && errno != ENOSYS) {
		fprintf(stderr, "forge: exchange %s and %s: %s\n", tmp, target,
		    strerror(errno));
		return -1;
	}
#endif
	/* The tmp name with "old" for "tmp": beside it, and just as unique. */
	snprintf(old, sizeof(old), "%s", tmp);
	memcpy(strrchr(old, '.') + 1, "old", 3);
	if (rename(target, old) != 0) {
		fprintf(stderr, "forge: rename %s to %s: %s\n", target, old,
		    strerror(errno));
		return -1;
	}
	if (rename(tmp, target) != 0) {
		fprintf(stderr, "forge: rename %s to %s: %s\n", tmp, target,
		    strerror(errno));
		rename(old, target);
		return -1;
	}
	return remove_tree(old);
}

int
main(int argc, char **argv)
{
	struct forge f;
	struct pki pki;
	char tmp[PATH_MAX] = "";
	size_t i;
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: forge OUTDIR\n");
		return 2;
	}
	memset(&f, 0, sizeof(f));
	memset(&pki, 0, sizeof(pki));
	f.serial = 0x1001;

	if (out_begin(argv[1], tmp, sizeof(tmp)) != 0) {
		tmp[0] = '\0';
		goto out;
	}
	f.outdir = tmp;
	if (make_dir(&f, "anchors") != 0 ||
	    make_dir(&f, "untrusted") != 0 || make_dir(&f, "cases") != 0)
		goto out;
	if (pki_build(&f, &pki) != 0 || write_anchors(&f, &pki) != 0 ||
	    pin_lines(&f, &pki) != 0)
		goto out;
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/cases.tsv", f.outdir);
		if ((f.tsv = fopen(path, "w")) == NULL) {
			fprintf(stderr, "forge: %s: %s\n", path, strerror(errno));
			goto out;
		}
	}
	fprintf(f.tsv, "name\tfile\tkind\tat\treason\tsequence\tthis_update\t"
	    "entries\ttimestamp\tnested\tnext_update\tdetail\n");
	for (i = 0; i < NCASES; i++)
		if (make_case(&f, &pki, &cases[i]) != 0) {
			fprintf(stderr, "forge: case %s failed\n", cases[i].name);
			goto out;
		}
	if (fclose(f.tsv) != 0) {
		f.tsv = NULL;
		forge_fail("cases.tsv: write failed");
		goto out;
	}
	f.tsv = NULL;
	if (out_commit(tmp, argv[1]) != 0)
		goto out;
	tmp[0] = '\0';
	printf("forge: %zu cases, 2 trusted roots and 1 untrusted root in %s\n",
	    NCASES, argv[1]);
	ret = 0;
out:
	if (f.tsv != NULL)
		fclose(f.tsv);
	/* A failed run leaves the previous tree as it was, and no debris. */
	if (tmp[0] != '\0')
		remove_tree(tmp);
	for (i = 0; i < F_COUNT; i++) {
		forge_blob_free(&f.kept_stl[i]);
		forge_blob_free(&f.kept_cab[i]);
	}
	pki_free(&pki);
	return ret;
}
