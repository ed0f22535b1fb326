/*
 * fuzz_seeds.c - writes the fuzz targets' seed corpora.
 *
 * usage: fuzz_seeds FIXTURES CONF OUTDIR
 *
 * FIXTURES is a directory forge wrote, CONF etc/ctlmirror.conf. Writes, under
 * OUTDIR (made if missing; files of the same name replaced):
 *   cab/, verify/  every forged case file (.cab and the bare .stl)
 *   ctl/           the CTL SEQUENCE inside each case that has one
 *   route/         request lines, "METHOD\nTARGET\nHOST" (fuzz_route.c)
 *   config/        CONF and a few short configurations
 *   store/         version, event and upstream records from store_enc_*,
 *                  behind the byte that picks the decoder (fuzz_store.c)
 * Seeds are made at run time, never kept in the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proxy/fileio.h"
#include "store/store_codec.h"
#include "verify/cab.h"
#include "verify/pkcs7.h"

/* A case larger than this (the oversized one) is no use as a seed: libFuzzer
 * would cut it to -max_len anyway. */
#define SEED_FILE_MAX (256u * 1024)

static void
fail(const char *what, const char *name)
{
	fprintf(stderr, "fuzz_seeds: %s: %s\n", what, name);
	exit(1);
}

static void
make_dir(const char *out, const char *sub)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", out, sub);
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		fail(strerror(errno), path);
}

static void
put(const char *out, const char *sub, const char *name, const void *p,
    size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out, sub, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0)
		fail("cannot write", path);
}

/* The CTL SEQUENCE inside a case file (cab or bare .stl), if it has one. */
static void
put_ctl(const char *out, const char *name, const unsigned char *buf, size_t len)
{
	struct signed_ctl sc;
	unsigned char *stl = NULL;
	const unsigned char *der = buf;
	size_t der_len = len;

	if (cab_is_cab(buf, len)) {
		if (cab_unpack(buf, len, NULL, CAB_MAX_MEMBER, &stl, &der_len,
		    NULL, 0, NULL, 0) != CAB_OK)
			return;
		der = stl;
	}
	memset(&sc, 0, sizeof(sc));
	if (p7_parse(der, der_len, &sc, NULL, 0) == VFY_OK)
		put(out, "ctl", name, sc.ctl_der, sc.ctl_der_len);
	p7_free(&sc);
	free(stl);
}

static void
cases(const char *out, const char *fixtures)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	unsigned char *buf;
	size_t len, n = 0;

	snprintf(path, sizeof(path), "%s/cases", fixtures);
	if ((d = opendir(path)) == NULL)
		fail(strerror(errno), path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/cases/%s", fixtures, de->d_name);
		if (fileio_read(path, SEED_FILE_MAX, &buf, &len) != 0)
			continue;
		put(out, "cab", de->d_name, buf, len);
		put(out, "verify", de->d_name, buf, len);
		put_ctl(out, de->d_name, buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	if (n == 0)
		fail("no case files", fixtures);
}

static void
route(const char *out)
{
	static const char *const lines[] = {
		"GET\nhttp://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
		"HEAD\nhttp://www.download.windowsupdate.com:80/msdownload/update/v3/static/trustedr/en/authrootseq.txt?a1b2\n",
		"GET\n/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab?123\nctldl.windowsupdate.com:8080",
		"GET\n/pinrulesstl.cab\nmirror.example",
		"GET\n/authrootseq.txt\nmirror.example.",
		"GET\n/0123456789ABCDEF0123456789ABCDEF01234567.crt\nmirror.example",
		"GET\n/_ctlmirror/status.json\n127.0.0.1:8080",
		"GET\n/_ctlmirror/metrics\n[::1]:8080",
		"GET\n/_ctlmirror/healthz",
		"CONNECT\nctldl.windowsupdate.com:443\nctldl.windowsupdate.com",
		"GET\nhttp://example.com/authrootstl.cab\nexample.com",
		"GET\n/%2e%2e/etc/passwd\nmirror.example",
	};
	char name[32];
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(name, sizeof(name), "request-%02zu", i);
		put(out, "route", name, lines[i], strlen(lines[i]));
	}
}

static void
config(const char *out, const char *conf)
{
	static const char *const texts[] = {
		"listen = 127.0.0.1:8080\nlisten = [::1]:8443\nworkers = 4\n",
		"poll_interval = 1h\nstale_after = 2d\nfetch_timeout = 90s\n",
		"upstream = http://mirror.example/\nflat_prefix = /ctl/\nrandom_query = yes\n",
		("anchor_pin = 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
		    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n# comment\n"),
	};
	unsigned char *buf;
	size_t len, i;
	char name[32];

	if (fileio_read(conf, SEED_FILE_MAX, &buf, &len) != 0)
		fail("cannot read", conf);
	put(out, "config", "ctlmirror.conf", buf, len);
	free(buf);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(name, sizeof(name), "short-%02zu", i);
		put(out, "config", name, texts[i], strlen(texts[i]));
	}
}

/* A record behind its decoder byte (fuzz_store.c: 0 version, 1 event, 2 upstream). */
static void
put_record(const char *out, const char *name, unsigned char which,
    const unsigned char *rec, size_t len)
{
	unsigned char buf[1 + STORE_VERSION_REC_MAX + STORE_EVENT_REC_MAX];

	if (len == 0 || len > sizeof(buf) - 1)
		fail("a record does not encode", name);
	buf[0] = which;
	memcpy(buf + 1, rec, len);
	put(out, "store", name, buf, len + 1);
}

static void
store(const char *out)
{
	unsigned char rec[STORE_VERSION_REC_MAX + STORE_EVENT_REC_MAX];
	struct version v;
	struct store_event ev;
	struct upstream_state st;
	size_t n;

	memset(&v, 0, sizeof(v));
	v.kind = KIND_AUTHROOT;
	snprintf(v.sequence, sizeof(v.sequence), "1D9A3F2B4C5E6F70");
	v.this_update = 1717200000;
	v.size = 123456;
	v.first_seen = 1717203600;
	snprintf(v.source, sizeof(v.source), "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab");
	v.reason = VFY_OK;
	v.has_chain = 1;
	v.chain_valid_from = 1700000000;
	v.chain_valid_to = 1735689600;
	v.n_entries = 420;
	snprintf(v.signer, sizeof(v.signer), "CN=Test CTL Publisher, O=Test");
	v.order = 7;
	n = store_enc_version(rec, sizeof(rec), &v);
	put_record(out, "version-ok", 0, rec, n);
	v.kind = KIND_PINRULES;
	v.reason = VFY_EXPIRED;
	snprintf(v.detail, sizeof(v.detail), "the signer's certificate expired on 2025-01-01");
	snprintf(v.source, sizeof(v.source), "import:/tmp/pinrulesstl.cab");
	v.next_update = 1719792000;
	v.timestamp_verified = 1;
	v.timestamp = 1717100000;
	v.rollback = 1;
	n = store_enc_version(rec, sizeof(rec), &v);
	put_record(out, "version-expired", 0, rec, n);

	memset(&ev, 0, sizeof(ev));
	ev.id = 1;
	ev.when = 1717200000;
	ev.type = EV_ADMITTED;
	ev.kind = KIND_DISALLOWED;
	memset(ev.sha256, 0xab, sizeof(ev.sha256));
	snprintf(ev.sequence, sizeof(ev.sequence), "01DAB0C0FFEE");
	snprintf(ev.text, sizeof(ev.text), "admitted from import:/tmp/disallowedcertstl.cab");
	n = store_enc_event(rec, sizeof(rec), &ev);
	put_record(out, "event-admitted", 1, rec, n);
	memset(&ev, 0, sizeof(ev));
	ev.when = 1717300000;
	ev.type = EV_SYNC;
	ev.kind = KIND_AUTHROOT;
	snprintf(ev.text, sizeof(ev.text), "304 not modified");
	n = store_enc_event(rec, sizeof(rec), &ev);
	put_record(out, "event-sync", 1, rec, n);

	memset(&st, 0, sizeof(st));
	snprintf(st.etag, sizeof(st.etag), "\"80e1b2c3d4:0\"");
	snprintf(st.last_modified, sizeof(st.last_modified), "Tue, 04 Jun 2024 18:03:21 GMT");
	st.last_attempt = 1717500000;
	st.last_success = 1717500000;
	st.last_status = 200;
	n = store_enc_upstream(rec, sizeof(rec), &st);
	put_record(out, "upstream-ok", 2, rec, n);
	st.last_status = 0;
	snprintf(st.last_error, sizeof(st.last_error), "Timeout was reached");
	st.consecutive_failures = 3;
	n = store_enc_upstream(rec, sizeof(rec), &st);
	put_record(out, "upstream-failing", 2, rec, n);
}

int
main(int argc, char **argv)
{
	static const char *const subs[] = { "cab", "ctl", "verify", "route", "config", "store" };
	size_t i;

	if (argc != 4) {
		fprintf(stderr, "usage: fuzz_seeds FIXTURES CONF OUTDIR\n");
		return 2;
	}
	if (mkdir(argv[3], 0777) != 0 && errno != EEXIST)
		fail(strerror(errno), argv[3]);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		make_dir(argv[3], subs[i]);
	cases(argv[3], argv[1]);
	route(argv[3]);
	config(argv[3], argv[2]);
	store(argv[3]);
	return 0;
}
