/*
 * cli_read.c - the read commands: versions, show, diff, events, status.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/cli/cli.h"
#include "proxy/hex.h"
#include "proxy/report.h"
#include "verify/ctlattr.h"
#include "verify/isotime.h"
#include "verify/verify.h"

/* The CTL entries of a stored version. */
static enum store_err
load_entries(struct store *s, const struct version *v, struct verdict *out)
{
	unsigned char *buf;
	size_t len;
	enum store_err err;

	memset(out, 0, sizeof(*out));
	if ((err = store_blob(s, v->sha256, &buf, &len)) != STORE_OK)
		return err;
	vfy_read_entries(buf, len, v->kind, out);
	free(buf);
	return STORE_OK;
}

/*
 * One entry: "id" as every printer shows it (ctl_entry_id_text(): a pin
 * rule's DNS name as text, any other identifier as upper-case hex) and
 * "id_format" saying which; "thumbprint" is the identifier's bytes in hex
 * whatever the kind (authroot's SHA-1 thumbprint), kept as a stable key.
 */
static void
json_entry_fields(struct json *j, const struct ctl_entry *e)
{
	char hex[2 * CTL_ENTRY_ID_MAX + 1], id[CTL_ENTRY_ID_STRLEN];

	hex_encode(e->id, e->id_len, 1, hex);
	json_str(j, "id", ctl_entry_id_text(e, id, sizeof(id)));
	json_str(j, "id_format", e->id_is_text ? "text" : "hex");
	json_str(j, "thumbprint", hex);
	json_str(j, "friendly_name", e->friendly_name);
}

static void
json_entry(struct json *j, const struct ctl_entry *e)
{
	json_begin(j, NULL, '{');
	json_entry_fields(j, e);
	json_end(j, '}');
}

/* ---- versions ---- */

static void
versions_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror versions [-c CONFIG] [--store DIR] [--kind K] [--json]\n"
	    "\n"
	    "Every stored version, oldest first per kind, with its status: served,\n"
	    "pinned, admitted, quarantined (failed verification) or rollback (older than\n"
	    "the served version when first seen).\n");
}

int
cli_versions(int argc, char **argv)
{
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	struct version *list = NULL;
	enum ctl_kind kind = KIND_UNKNOWN;
	enum store_err err;
	size_t n = 0, i;
	int status;

	status = cli_parse(argc, argv, cli_kind_option, cli_take_kind, &kind, &o, &cfg,
	    "versions", versions_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		versions_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 1, &s, "versions")) != 0)
		return status;
	if ((err = store_list(s, kind, &list, &n)) != STORE_OK) {
		status = cli_store_fail(s, err, "versions");
		goto out;
	}
	if (o.json) {
		struct json j;

		json_init(&j, stdout);
		json_begin(&j, NULL, '[');
		for (i = 0; i < n; i++) {
			json_begin(&j, NULL, '{');
			cli_json_version(&j, &list[i]);
			json_end(&j, '}');
		}
		json_end(&j, ']');
		putchar('\n');
		goto out;
	}
	printf("%-10s %-20s %-20s %-20s %-11s %-15s %s\n", "KIND", "SEQUENCE",
	    "THISUPDATE", "FIRST SEEN", "STATUS", "REASON", "SHA256");
	for (i = 0; i < n; i++) {
		char tu[ISOTIME_LEN] = "-", fs[ISOTIME_LEN], sha[65];

		if (list[i].this_update != 0)
			isotime_format(list[i].this_update, tu, sizeof(tu));
		hex_encode(list[i].sha256, sizeof(list[i].sha256), 0, sha);
		printf("%-10s %-20s %-20s %-20s %-11s %-15s %.12s\n",
		    ctl_kind_str(list[i].kind),
		    list[i].sequence[0] ? list[i].sequence : "-", tu,
		    isotime_format(list[i].first_seen, fs, sizeof(fs)),
		    version_status_str(list[i].status),
		    vfy_reason_str(list[i].reason), sha);
	}
	if (n == 0)
		printf("(no versions stored)\n");
out:
	free(list);
	store_close(s);
	return status;
}

/* ---- show ---- */

static void
show_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror show [-c CONFIG] [--store DIR] [--entries] [--json] VERSION\n"
	    "\n"
	    "Everything known about one version. VERSION is a sequence number in hex or a\n"
	    "unique prefix (4+ hex digits) of the file's SHA-256. --entries lists the\n"
	    "CTL's entries: identifier (a SHA-1 thumbprint or hash in upper-case hex, or\n"
	    "a pin rule's DNS name) and friendly name.\n");
}

static int
take_flag(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c != 'e')
		return EXIT_USAGE;
	*(int *)ctx = 1;
	return 0;
}

int
cli_show(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "entries", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	struct version v;
	struct verdict ent;
	enum store_err err;
	int status, entries = 0;
	size_t i;
	char t[ISOTIME_LEN], sha[65];

	memset(&ent, 0, sizeof(ent));
	status = cli_parse(argc, argv, extra, take_flag, &entries, &o, &cfg, "show", show_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc - 1) {
		show_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 1, &s, "show")) != 0)
		return status;
	if ((err = store_find(s, argv[optind], &v)) != STORE_OK) {
		status = cli_store_fail(s, err, "show");
		goto out;
	}
	if (entries && (err = load_entries(s, &v, &ent)) != STORE_OK) {
		status = cli_store_fail(s, err, "show");
		goto out;
	}
	hex_encode(v.sha256, sizeof(v.sha256), 0, sha);
	if (o.json) {
		struct json j;

		json_init(&j, stdout);
		json_begin(&j, NULL, '{');
		cli_json_version(&j, &v);
		json_str(&j, "signer", v.signer[0] ? v.signer : NULL);
		json_time(&j, "next_update", v.next_update, v.next_update != 0);
		json_time(&j, "timestamp", v.timestamp, v.timestamp != 0);
		json_bool(&j, "timestamp_verified", v.timestamp_verified);
		json_int(&j, "order", (long long)v.order);
		if (entries) {
			json_begin(&j, "entries_list", '[');
			for (i = 0; i < ent.n_entries; i++)
				json_entry(&j, &ent.entries[i]);
			json_end(&j, ']');
		}
		json_end(&j, '}');
		putchar('\n');
		goto out;
	}
	printf("kind          %s\n", ctl_kind_str(v.kind));
	printf("sequence      %s\n", v.sequence[0] ? v.sequence : "-");
	printf("status        %s\n", version_status_str(v.status));
	printf("verdict       %s%s%s\n", vfy_reason_str(v.reason), v.detail[0] ? ": " : "", v.detail);
	printf("sha256        %s\n", sha);
	printf("size          %llu bytes%s\n", (unsigned long long)v.size,
	    v.bytes_dropped ? " (bytes dropped: failed-copy budget; record and hash kept)" : "");
	printf("thisUpdate    %s\n", v.this_update ? isotime_format(v.this_update, t, sizeof(t)) : "-");
	printf("first seen    %s\n", isotime_format(v.first_seen, t, sizeof(t)));
	printf("source        %s\n", v.source);
	printf("entries       %u\n", v.n_entries);
	printf("signer        %s\n", v.signer[0] ? v.signer : "-");
	if (v.has_chain) {
		printf("chain from    %s\n", isotime_format(v.chain_valid_from, t, sizeof(t)));
		printf("chain to      %s\n", isotime_format(v.chain_valid_to, t, sizeof(t)));
	}
	if (v.timestamp != 0)
		printf("timestamp     %s (%s)\n", isotime_format(v.timestamp, t, sizeof(t)),
		    v.timestamp_verified ? "verified" : "not verified");
	for (i = 0; i < ent.n_entries; i++) {
		char id[CTL_ENTRY_ID_STRLEN];

		const char *fn = ent.entries[i].friendly_name;

		printf("  %s%s%s\n", ctl_entry_id_text(&ent.entries[i], id, sizeof(id)),
		    fn != NULL ? "  " : "", fn != NULL ? fn : "");
	}
out:
	verdict_free(&ent);
	store_close(s);
	return status;
}

/* ---- diff ---- */

static void
diff_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror diff [-c CONFIG] [--store DIR] [--json] A B\n"
	    "\n"
	    "Entries added, removed and changed (same identifier, other attributes) from\n"
	    "version A to version B, by identifier (as show --entries prints it) and\n"
	    "friendly name. Under each changed entry, one line per attribute added,\n"
	    "removed or changed: \"  NAME: OLD -> NEW\", \"(absent)\" for a missing side\n"
	    "(EKU restrictions, disallowed since, notBefore, ...; an unknown attribute by\n"
	    "its OID).\n");
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct ctl_entry *x = a, *y = b;
	size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
	int c = memcmp(x->id, y->id, n);

	return c != 0 ? c : (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

/* One changed attribute (ctlattr_diff()'s callback): a JSON object, or a line. */
static void
diff_change(void *ctx, const struct ctl_attr *from, const struct ctl_attr *to)
{
	struct json *j = ctx;
	const struct ctl_attr *a = to != NULL ? to : from;
	const char *name;
	char old_txt[CTLATTR_TEXT_MAX], new_txt[CTLATTR_TEXT_MAX];

	if (a == NULL)
		return;		/* ctlattr_diff never calls with neither side */
	name = ctlattr_name(a->oid);

	if (from != NULL)
		ctlattr_render(from, old_txt, sizeof(old_txt));
	if (to != NULL)
		ctlattr_render(to, new_txt, sizeof(new_txt));
	if (j != NULL) {
		json_begin(j, NULL, '{');
		json_str(j, "oid", a->oid);
		json_str(j, "name", name);
		json_str(j, "old", from != NULL ? old_txt : NULL);
		json_str(j, "new", to != NULL ? new_txt : NULL);
		json_end(j, '}');
		return;
	}
	printf("  %s: %s -> %s\n", name != NULL ? name : a->oid,
	    from != NULL ? old_txt : "(absent)", to != NULL ? new_txt : "(absent)");
}

/*
 * The entries of one list; for "changed", from[i] is list[i]'s entry in
 * version A, and each gains its attribute changes (in JSON "changes", plus
 * "changes_error" when the attributes could not be compared).
 */
static void
diff_print(struct json *j, const char *label, const struct ctl_entry **list,
    const struct ctl_entry **from, size_t n)
{
	enum ctlattr_err err = CTLATTR_OK;
	size_t i, nch = 0;

	if (j != NULL) {
		json_begin(j, label, '[');
		for (i = 0; i < n; i++) {
			if (from == NULL) {
				json_entry(j, list[i]);
				continue;
			}
			json_begin(j, NULL, '{');
			json_entry_fields(j, list[i]);
			json_begin(j, "changes", '[');
			err = ctlattr_diff(from[i], list[i], diff_change, j, NULL);
			json_end(j, ']');
			if (err != CTLATTR_OK)
				json_str(j, "changes_error", ctlattr_strerror(err));
			json_end(j, '}');
		}
		json_end(j, ']');
		return;
	}
	for (i = 0; i < n; i++) {
		char id[CTL_ENTRY_ID_STRLEN];
		const char *fn = list[i]->friendly_name;

		printf("%c %s%s%s\n", label[0] == 'a' ? '+' : label[0] == 'r' ? '-' : '~',
		    ctl_entry_id_text(list[i], id, sizeof(id)),
		    fn != NULL ? "  " : "", fn != NULL ? fn : "");
		if (from == NULL)
			continue;
		if ((err = ctlattr_diff(from[i], list[i], diff_change, NULL, &nch)) != CTLATTR_OK)
			printf("  (attributes not compared: %s)\n", ctlattr_strerror(err));
		else if (nch == 0)
			printf("  (same attributes, in another order or encoding)\n");
	}
}

int
cli_diff(int argc, char **argv)
{
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	struct version va, vb;
	struct verdict ea, eb;
	const struct ctl_entry **added = NULL, **removed = NULL, **changed = NULL;
	const struct ctl_entry **changed_from = NULL;
	size_t na = 0, nr = 0, nc = 0, i = 0, k = 0;
	enum store_err err;
	int status;

	memset(&ea, 0, sizeof(ea));
	memset(&eb, 0, sizeof(eb));
	status = cli_parse(argc, argv, NULL, NULL, NULL, &o, &cfg, "diff", diff_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc - 2) {
		diff_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 1, &s, "diff")) != 0)
		return status;
	if ((err = store_find(s, argv[optind], &va)) != STORE_OK ||
	    (err = store_find(s, argv[optind + 1], &vb)) != STORE_OK ||
	    (err = load_entries(s, &va, &ea)) != STORE_OK ||
	    (err = load_entries(s, &vb, &eb)) != STORE_OK) {
		status = cli_store_fail(s, err, "diff");
		goto out;
	}
	added = calloc(eb.n_entries + 1, sizeof(*added));
	removed = calloc(ea.n_entries + 1, sizeof(*removed));
	changed = calloc(eb.n_entries + 1, sizeof(*changed));
	changed_from = calloc(eb.n_entries + 1, sizeof(*changed_from));
	if (added == NULL || removed == NULL || changed == NULL || changed_from == NULL) {
		fprintf(stderr, "ctlmirror diff: out of memory\n");
		status = EXIT_IO;
		goto out;
	}
	qsort(ea.entries, ea.n_entries, sizeof(*ea.entries), entry_cmp);
	qsort(eb.entries, eb.n_entries, sizeof(*eb.entries), entry_cmp);
	/* a merge of two sorted lists */
	while (i < ea.n_entries || k < eb.n_entries) {
		int c = i == ea.n_entries ? 1 : k == eb.n_entries ? -1 :
		    entry_cmp(&ea.entries[i], &eb.entries[k]);

		if (c < 0) {
			removed[nr++] = &ea.entries[i++];
		} else if (c > 0) {
			added[na++] = &eb.entries[k++];
		} else {
			if (memcmp(ea.entries[i].der_sha256, eb.entries[k].der_sha256, 32) != 0) {
				changed_from[nc] = &ea.entries[i];
				changed[nc++] = &eb.entries[k];
			}
			i++;
			k++;
		}
	}
	if (o.json) {
		struct json j;

		json_init(&j, stdout);
		json_begin(&j, NULL, '{');
		json_str(&j, "from", va.sequence);
		json_str(&j, "to", vb.sequence);
		diff_print(&j, "added", added, NULL, na);
		diff_print(&j, "removed", removed, NULL, nr);
		diff_print(&j, "changed", changed, changed_from, nc);
		json_end(&j, '}');
		putchar('\n');
	} else {
		printf("%s -> %s: %zu added, %zu removed, %zu changed\n", va.sequence,
		    vb.sequence, na, nr, nc);
		diff_print(NULL, "added", added, NULL, na);
		diff_print(NULL, "removed", removed, NULL, nr);
		diff_print(NULL, "changed", changed, changed_from, nc);
	}
out:
	free(added);
	free(removed);
	free(changed);
	free(changed_from);
	verdict_free(&ea);
	verdict_free(&eb);
	store_close(s);
	return status;
}

/* ---- events ---- */

static void
events_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror events [-c CONFIG] [--store DIR] [--since TIME] [--json]\n"
	    "\n"
	    "The audit log, oldest first: admissions, quarantines, rollbacks, pins, gc.\n");
}

static int
take_since(int c, const char *arg, void *ctx)
{
	if (c != 's')
		return EXIT_USAGE;
	return cli_time(arg, ctx, "events");
}

int
cli_events(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	struct store_event *ev = NULL;
	time_t since = 0;
	enum store_err err;
	size_t n = 0, i;
	int status;
	struct json j;

	status = cli_parse(argc, argv, extra, take_since, &since, &o, &cfg, "events", events_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		events_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 1, &s, "events")) != 0)
		return status;
	if ((err = store_events(s, since, &ev, &n)) != STORE_OK) {
		status = cli_store_fail(s, err, "events");
		goto out;
	}
	json_init(&j, stdout);
	if (o.json)
		json_begin(&j, NULL, '[');
	for (i = 0; i < n; i++) {
		char t[ISOTIME_LEN], at[ISOTIME_LEN], sha[65] = "";
		static const unsigned char zero[32];

		if (memcmp(ev[i].sha256, zero, 32) != 0)
			hex_encode(ev[i].sha256, 32, 0, sha);
		isotime_format(ev[i].when, t, sizeof(t));
		isotime_format(ev[i].at, at, sizeof(at));
		if (!o.json) {
			printf("%s %-12s %-10s %-20s %-12.12s %s", t, event_type_str(ev[i].type),
			    ev[i].kind == KIND_UNKNOWN ? "-" : ctl_kind_str(ev[i].kind),
			    ev[i].sequence[0] ? ev[i].sequence : "-", sha[0] ? sha : "-", ev[i].text);
			if (ev[i].at != ev[i].when)
				printf(" [judged as of %s]", at);
			putchar('\n');
			continue;
		}
		json_begin(&j, NULL, '{');
		json_int(&j, "id", (long long)ev[i].id);
		json_str(&j, "time", t);
		/* the verification time (--at, serve --now), where it differs */
		if (ev[i].at != ev[i].when)
			json_str(&j, "verified_at", at);
		json_str(&j, "type", event_type_str(ev[i].type));
		json_str(&j, "kind", ev[i].kind == KIND_UNKNOWN ? NULL : ctl_kind_str(ev[i].kind));
		json_str(&j, "sequence", ev[i].sequence[0] ? ev[i].sequence : NULL);
		json_str(&j, "sha256", sha[0] ? sha : NULL);
		json_str(&j, "text", ev[i].text);
		json_end(&j, '}');
	}
	if (o.json) {
		json_end(&j, ']');
		putchar('\n');
	}
out:
	free(ev);
	store_close(s);
	return status;
}

/* ---- status ---- */

static void
status_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror status [-c CONFIG] [--store DIR] [--at TIME] [--json]\n"
	    "\n"
	    "Per kind: the served version and why (pin or newest), when its signing chain\n"
	    "expires, any newer copy that failed verification, and health (ok, warn,\n"
	    "critical). Exit 0 when every kind with a stored version is ok, else 1.\n");
}

static int
take_at(int c, const char *arg, void *ctx)
{
	if (c != 't')
		return EXIT_USAGE;
	return cli_time(arg, ctx, "status");
}

int
cli_status(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "at", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o;
	struct config cfg;
	struct store *s = NULL;
	time_t now = time(NULL);
	enum store_err err;
	enum health_level overall = HEALTH_OK;
	int status;

	status = cli_parse(argc, argv, extra, take_at, &now, &o, &cfg, "status", status_usage);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (optind != argc) {
		status_usage(stderr);
		return EXIT_USAGE;
	}
	if ((status = cli_store_open(&cfg, 1, &s, "status")) != 0)
		return status;
	if ((err = report_status(s, &cfg, now, NULL, o.json, stdout, &overall)) != STORE_OK) {
		status = cli_store_fail(s, err, "status");
		goto out;
	}
	status = overall == HEALTH_OK ? 0 : 1;
out:
	store_close(s);
	return status;
}
