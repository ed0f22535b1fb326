#!/usr/bin/env python3
"""`ctlmirror serve` serving the files, as docs/operations.md specifies it: the real binary, real curl.

Every daemon listens on 127.0.0.1 only, on a port the kernel picks (`--listen
127.0.0.1:0`, port read from the startup line), with its own temporary store
and config (`poll_interval = 0`: no upstream polling), its clock set by
`--now 2024-06-01T00:00:00Z`; each is stopped by SIGTERM (killed if it does
not exit) whatever the checks found. What it shows, over the forged fixtures
(serve_common.Forged):
  - the startup line says what is served;
  - the three ways in: forward proxy (absolute URI, both mirrored hosts, any
    case, an explicit :80), DNS (Host: a mirrored host, upstream's path) and
    flat (RootDirURL), each also with a random query string as Windows sends:
    the three cabs byte-equal to `ctlmirror export` and to the imported
    fixture, each unpacking with cabextract to its one member;
    authrootseq.txt exactly the served CTL's sequence (upper-case hex, no line
    end); operator endpoints are not answered as a mirrored host;
  - headers: Content-Type per file type, Content-Length, Date (the real
    clock, whatever --now says), ETag (SHA-256 of the file), Last-Modified
    (the admission time), Cache-Control, Accept-Ranges;
    304 on If-None-Match (strong, weak, *, in a list) and If-Modified-Since,
    200 when they do not match (If-None-Match wins); Range: 206 with
    Content-Range and the exact slice (first-last, first-, -suffix, 0-0),
    several ranges or a stale If-Range: the whole file, unsatisfiable: 416;
    HEAD: the headers, not one body byte on the wire;
  - <SHA1>.crt: a listed, stored root in upper and lower case through every
    way (the DER, its own ETag and type); a stored root the served CTL does
    not list, a random thumbprint and a malformed name: 404; a listed root
    the store lacks is fetched once from the (local, scripted) upstream,
    checked, stored and served; one whose upstream bytes do not hash to its
    name, or that upstream lacks, is 404 and not stored;
  - SIGTERM exits 0 within a few seconds, with no sanitizer report on stderr;
  - a kind with nothing servable (empty store, then only quarantined copies
    imported live) answers 503 with a short text, never the unverified bytes,
    and healthz says critical (503) until it is fixed live, then warn for the
    newer quarantined copy.
With the real corpus (3rd argument; skipped with a message when absent):
authroot 105..112 imported as of the middle of 112's chain window (the
expired ones quarantined), three ways in serve 112 byte for byte, its sequence
file, and real root certificates imported as .crt files and listed by 112
(an unlisted one: 404).

usage: serve_files.py CTLMIRROR FIXTURES_DIR [CORPUS_DIR]
"""
import csv
import datetime as dt
import email.utils
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import (FILES, HOSTS, KINDS, UP, Cli, Forged, expect_results, http_date, main, metric,
                          parse_metrics, read, ways)  # noqa: E402
from testlib import (AT, Broken, Daemon, Fixtures, check, curl, get_req, raw, sha256,
                     write_config)  # noqa: E402


class Files(Forged):
    """The forged daemon's files: the ways in, headers and conditionals, certificates."""

    # -- the three ways in -------------------------------------------------
    def ways_in(self):
        F, port = self.F, self.d.port
        for name, (kind, case, ctype, cc, member) in FILES.items():
            want = self.export.get(name)
            if not check(want is not None, f"export lacks {name}: {sorted(self.export)}"):
                continue
            if case:
                check(want == F[case]["bytes"], f"export {name} is not the imported {case} fixture")
            else:
                check(want == F["authroot-ok"]["sequence"].encode(),
                      f"export authrootseq.txt is {want!r}, want {F['authroot-ok']['sequence']!r}")
            bodies = {}
            for q in ("", f"?{random.getrandbits(64):x}", f"?{random.getrandbits(32):x}&x=1"):
                for label, args in ways(port, name, q):
                    r = self.curl(*args)
                    ok = check(r.code == 200, f"{label} GET {name}{q}: {r}")
                    ok = ok and check(r.body == want, f"{label} GET {name}{q}: {len(r.body)} bytes differ from the export's {len(want)}")
                    if ok:
                        bodies[sha256(r.body)] = r.body
            if member:
                for body in bodies.values():
                    self.cabextract(name, body, member)
        seq = self.get("/authrootseq.txt").body
        check(seq == F["authroot-ok"]["sequence"].encode() and re.fullmatch(rb"[0-9A-F]+", seq or b"-"),
              f"authrootseq.txt body {seq!r}: want exactly {F['authroot-ok']['sequence']!r}, upper-case hex, no line end")
        # Clients vary: host in capitals, an explicit :80, a trailing dot, Windows' query.
        want = self.export["authrootstl.cab"]
        for target in (f"http://CTLDL.WindowsUpdate.COM{UP}authrootstl.cab",
                       f"http://ctldl.windowsupdate.com:80{UP}authrootstl.cab?fe3c0d1fdd4d9d0f",
                       f"http://www.download.windowsupdate.com{UP}authrootstl.cab?5b8bb7d7b8a5ae1c"):
            r = self.curl("-x", f"http://127.0.0.1:{port}", target)
            check(r.code == 200 and r.body == want, f"proxy GET {target}: {r}")
        r = self.curl("-H", "Host: ctldl.windowsupdate.com.", self.url(UP + "authrootstl.cab"))
        check(r.code == 200 and r.body == want, f"DNS with a trailing-dot Host: {r}")
        # Upstream's path with the mirror's own name is not a file; operator endpoints not as a mirrored host.
        r = self.get(UP + "authrootstl.cab")
        check(r.code == 404, f"upstream path with Host 127.0.0.1: {r}, want 404")
        for h in HOSTS:
            r = self.curl("-x", f"http://127.0.0.1:{port}", f"http://{h}/_ctlmirror/healthz")
            check(r.code == 404, f"proxy GET http://{h}/_ctlmirror/healthz: {r}, want 404 (operator endpoints are the mirror's own)")
            r = self.curl("-H", f"Host: {h}", self.url("/_ctlmirror/status.json"))
            check(r.code == 404, f"Host: {h} /_ctlmirror/status.json: {r}, want 404")

    def cabextract(self, name, body, member):
        d = tempfile.mkdtemp(dir=self.tmp, prefix="cab-")
        try:
            cab = os.path.join(d, name)
            with open(cab, "wb") as f:
                f.write(body)
            r = subprocess.run(["cabextract", "-t", cab], capture_output=True, text=True, timeout=60)
            check(r.returncode == 0 and "All done, no errors" in r.stdout, f"cabextract -t {name}: exit {r.returncode} {r.stdout}{r.stderr}")
            out = os.path.join(d, "x")
            r = subprocess.run(["cabextract", "-q", "-d", out, cab], capture_output=True, text=True, timeout=60)
            got = sorted(os.listdir(out)) if os.path.isdir(out) else []
            check(r.returncode == 0 and got == [member], f"cabextract -d {name}: exit {r.returncode}, members {got}, want [{member!r}]")
            if got == [member]:
                check(os.path.getsize(os.path.join(out, member)) > 100, f"{name}: {member} is nearly empty")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # -- headers, conditionals, ranges, HEAD -------------------------------------
    def headers(self):
        F = self.F
        st = json.loads(self.get("/_ctlmirror/status.json").body or b"{}")

        def shifted(iso_time, seconds):
            d = dt.datetime.fromisoformat(iso_time.replace("Z", "+00:00")) + dt.timedelta(seconds=seconds)
            return http_date(d.strftime("%Y-%m-%dT%H:%M:%SZ"))

        for name, (kind, case, ctype, cc, member) in FILES.items():
            data = self.export[name]
            # Last-Modified: when it became the served file (status.json says so), not its first sight
            since = ((st.get(kind) or {}).get("served") or {}).get("served_since") or AT
            modified = http_date(since)
            r = self.get("/" + name)
            if not check(r.code == 200, f"GET /{name}: {r}"):
                continue
            check(r.h("content-type") == ctype, f"{name}: Content-Type {r.h('content-type')!r}, want {ctype!r}")
            check(r.h("content-length") == str(len(data)), f"{name}: Content-Length {r.h('content-length')}, want {len(data)}")
            check(r.h("cache-control") == cc, f"{name}: Cache-Control {r.h('cache-control')!r}, want {cc!r}")
            check(r.h("last-modified") == modified, f"{name}: Last-Modified {r.h('last-modified')!r}, want {modified!r}")
            check(r.h("accept-ranges") == "bytes", f"{name}: Accept-Ranges {r.h('accept-ranges')!r}")
            try:
                skew = abs(email.utils.parsedate_to_datetime(r.h("date") or "").timestamp() - time.time())
            except (TypeError, ValueError):
                skew = None
            check(skew is not None and skew < 60, f"{name}: Date {r.h('date')!r} is not now on the real clock")
            etag = r.h("etag") or ""
            check(re.fullmatch(r'"[^"]+"', etag), f"{name}: ETag {etag!r} is not a quoted strong tag")
            if case:
                check(etag == f'"{F[case]["sha256"]}"', f"{name}: ETag {etag}, want the file's SHA-256")
            else:
                check(etag != f'"{F["authroot-ok"]["sha256"]}"', f"{name}: the sequence file has the cab's ETag")
            path = "/" + name
            # conditionals
            for inm in (etag, "W/" + etag, "*", f'"nope", {etag}'):
                c = self.get(path, "-H", f"If-None-Match: {inm}")
                check(c.code == 304 and c.body == b"", f"{name} If-None-Match {inm}: {c}, want 304 with no body")
                check(c.h("etag") == etag, f"{name}: 304 without the ETag ({c.h('etag')})")
            c = self.get(path, "-H", 'If-None-Match: "0000"')
            check(c.code == 200 and c.body == data, f"{name} If-None-Match of another tag: {c}, want 200")
            for ims, want in ((modified, 304), (shifted(since, 86400), 304), (shifted(since, -1), 200)):
                c = self.get(path, "-H", f"If-Modified-Since: {ims}")
                check(c.code == want and (c.body == data if want == 200 else c.body == b""),
                      f"{name} If-Modified-Since {ims}: {c}, want {want}")
            c = self.get(path, "-H", 'If-None-Match: "0000"', "-H", f"If-Modified-Since: {modified}")
            check(c.code == 200, f"{name}: a non-matching If-None-Match with a matching If-Modified-Since: {c}, want 200 (If-None-Match wins)")
            # ranges
            n = len(data)
            for rng, lo, hi in (("bytes=10-99", 10, min(99, n - 1)), ("bytes=0-0", 0, 0), (f"bytes={n - 7}-", n - 7, n - 1),
                                ("bytes=-5", n - 5, n - 1), (f"bytes=3-{n + 1000}", 3, n - 1), (f"bytes=-{n + 50}", 0, n - 1)):
                c = self.get(path, "-H", f"Range: {rng}")
                check(c.code == 206, f"{name} Range {rng}: {c}, want 206")
                check(c.body == data[lo:hi + 1], f"{name} Range {rng}: {len(c.body)} bytes, not the slice {lo}-{hi}")
                check(c.h("content-range") == f"bytes {lo}-{hi}/{n}", f"{name} Range {rng}: Content-Range {c.h('content-range')!r}, want 'bytes {lo}-{hi}/{n}'")
                check(c.h("content-length") == str(hi - lo + 1), f"{name} Range {rng}: Content-Length {c.h('content-length')}")
            for rng in (f"bytes={n}-", f"bytes={n + 10}-{n + 20}", "bytes=-0"):
                c = self.get(path, "-H", f"Range: {rng}")
                check(c.code == 416 and c.h("content-range") == f"bytes */{n}" and data not in c.body,
                      f"{name} unsatisfiable Range {rng}: {c} Content-Range {c.h('content-range')!r}, want 416 'bytes */{n}'")
            for rng in ("bytes=0-1,5-6", "items=0-5", "bytes=9-3"):
                c = self.get(path, "-H", f"Range: {rng}")
                check(c.code == 200 and c.body == data, f"{name} Range {rng}: {c}, want 200 with the whole file")
            c = self.get(path, "-H", "Range: bytes=0-9", "-H", f"If-Range: {etag}")
            check(c.code == 206 and c.body == data[:10], f"{name}: Range with a matching If-Range: {c}, want 206")
            c = self.get(path, "-H", "Range: bytes=0-9", "-H", 'If-Range: "stale"')
            check(c.code == 200 and c.body == data, f"{name}: Range with a stale If-Range: {c}, want 200 whole")
            # HEAD: curl for the headers, a raw socket to see that no body byte is sent
            c = self.curl("-I", self.url(path))
            check(c.code == 200 and c.h("content-length") == str(n) and c.h("content-type") == ctype and c.h("etag") == etag,
                  f"{name} HEAD: {c} headers {c.headers}")
            code, hd, body, _ = raw(self.d.port, get_req(path, method="HEAD"))
            check(code == 200 and body == b"" and hd.get("content-length") == str(n),
                  f"{name} raw HEAD: status {code}, {len(body)} body bytes on the wire, Content-Length {hd.get('content-length')}")
            code, hd, body, _ = raw(self.d.port, get_req(path, method="HEAD", extra="Range: bytes=1-4\r\n"))
            check(code == 206 and body == b"" and hd.get("content-length") == "4", f"{name} HEAD with Range: {code} {hd} {len(body)} body bytes")
        # The sequence file's validator changes with the cab (checked again in live changes).
        r = self.get("/authrootseq.txt")
        check(r.h("etag") != self.get("/authrootstl.cab").h("etag"), "authrootseq.txt and authrootstl.cab share an ETag")

    # -- certificates ----------------------------------------------------------
    def certificates(self):
        F, port = self.F, self.d.port
        root_sha1, root_der = F.roots["root"]
        check(f"{root_sha1}.crt" in self.export and self.export[f"{root_sha1}.crt"] == root_der,
              f"export lacks the listed, stored root {root_sha1}.crt: {sorted(self.export)}")
        for name in (f"{root_sha1}.crt", f"{root_sha1.lower()}.crt", f"{root_sha1[:20]}{root_sha1[20:].lower()}.crt"):
            for label, args in ways(port, name, f"?{random.getrandbits(40):x}"):
                r = self.curl(*args)
                check(r.code == 200 and r.body == root_der, f"{label} GET {name}: {r}, want the test root's DER")
                if r.code == 200:
                    check(r.h("content-type") == "application/pkix-cert", f"{name}: Content-Type {r.h('content-type')!r}")
                    check(r.h("etag") == f'"{sha256(root_der)}"', f"{name}: ETag {r.h('etag')}, want its SHA-256")
                    check(r.h("cache-control") == "public, max-age=86400", f"{name}: Cache-Control {r.h('cache-control')!r}")
                    check(r.h("content-length") == str(len(root_der)), f"{name}: Content-Length {r.h('content-length')}")
        r = self.get(f"/{root_sha1}.crt", "-H", f'If-None-Match: "{sha256(root_der)}"')
        check(r.code == 304, f".crt If-None-Match: {r}, want 304")
        # stored but not listed; random; malformed names
        un_sha1, _ = F.roots["untrusted"]
        rnd = "%040X" % random.getrandbits(160)
        for name in (f"{un_sha1}.crt", f"{un_sha1.lower()}.crt", f"{rnd}.crt", f"{root_sha1[:39]}.crt",
                     f"{root_sha1}0.crt", f"{root_sha1[:39]}G.crt", f"{root_sha1}.cer", f"{root_sha1}.crt.txt"):
            r = self.get("/" + name)
            check(r.code == 404 and root_der not in r.body, f"GET /{name}: {r}, want 404")
        check(self.up.asked(f"/{un_sha1}.crt") == 0 and self.up.asked(f"/{rnd}.crt") == 0,
              f"an unlisted root was asked of upstream: {self.up.seen}")
        # Listed but not stored: fetched once, checked against its name, stored, served.
        leg_sha1, leg_der = F.roots["legacy"]
        e2, e3 = self.listed[2], self.listed[3]
        self.up.files[f"/{leg_sha1}.crt"] = leg_der
        self.up.files[f"/{e2}.crt"] = root_der   # bytes that do not hash to the name
        r = self.get(f"/{leg_sha1.lower()}.crt")
        check(r.code == 200 and r.body == leg_der, f"listed root fetched on demand: {r}, want the legacy root's DER")
        check(self.up.asked(f"/{leg_sha1}.crt") == 1, f"upstream asked {self.up.asked(f'/{leg_sha1}.crt')} times for {leg_sha1}.crt, want 1: {self.up.seen}")
        for _ in range(4):
            r = self.get(f"/{leg_sha1}.crt")
            check(r.code == 200 and r.body == leg_der, f"listed root after its fetch: {r}")
        check(self.up.asked(f"/{leg_sha1}.crt") == 1, f"a stored root was fetched again: {self.up.seen}")
        for e in (e2, e3):
            r = self.get(f"/{e}.crt")
            check(r.code == 404 and root_der not in r.body, f"listed root with wrong (or no) upstream bytes {e}.crt: {r}, want 404")
            check(self.up.asked(f"/{e}.crt") >= 1, f"{e}.crt was not asked of upstream: {self.up.seen}")
        exp = self.cli.export(os.path.join(self.dir, "export-crt"))
        check(exp.get(f"{leg_sha1}.crt") == leg_der, f"the fetched root is not in the store (export): {sorted(exp)}")
        check(f"{e2}.crt" not in exp and f"{e3}.crt" not in exp, f"a root that failed its check was stored: {sorted(exp)}")
        check(f"{un_sha1}.crt" not in exp, "export wrote an unlisted root")


# ---------------------------------------------------------------- 503: nothing servable, health

def nothing_servable(binary, fx, tmp):
    F = Fixtures(fx)
    d0 = os.path.join(tmp, "empty")
    os.makedirs(d0)
    cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), os.path.join(fx, "anchors"), F.pins, workers=1)
    cli = Cli(binary, cfg)
    d = Daemon(binary, cfg, d0, "empty").start()
    try:
        check("empty" in d.startup and "ctlmirror import" in d.startup, f"startup line for an empty store: {d.startup!r}")
        port = d.port
        root_sha1 = F.roots["root"][0]

        def unavailable(ctx, names, bad_bytes=()):
            for name in names:
                for label, args in ways(port, name):
                    r = curl(*args)
                    ok = check(r.code == 503, f"{ctx}: {label} GET {name}: {r}, want 503")
                    if ok:
                        check(0 < len(r.body) < 300 and (r.h("content-type") or "").startswith("text/plain"),
                              f"{ctx}: 503 for {name}: {len(r.body)} bytes of {r.h('content-type')!r}, want a short text/plain")
                        for b in bad_bytes:
                            check(b not in r.body and r.body not in (b,), f"{ctx}: the 503 for {name} carries unverified bytes")
                        check(r.h("etag") is None, f"{ctx}: a 503 for {name} has an ETag")
                r = curl("-I", f"http://127.0.0.1:{port}/{name}")
                check(r.code == 503, f"{ctx}: HEAD {name}: {r}, want 503")

        def healthz(want_code, want_body, ctx):
            r = curl(f"http://127.0.0.1:{port}/_ctlmirror/healthz")
            check(r.code == want_code and r.body == want_body, f"{ctx}: healthz {r} {r.body!r}, want {want_code} {want_body!r}")

        unavailable("empty store", list(FILES) + [f"{root_sha1}.crt"])
        healthz(503, b"critical\n", "empty store")
        r = curl(f"http://127.0.0.1:{port}/_ctlmirror/status.json")
        doc = json.loads(r.body) if r.code == 200 else {}
        check(r.code == 200 and all(doc.get(k, {}).get("served", 1) is None and doc.get(k, {}).get("health") == "critical" for k in KINDS),
              f"status.json on an empty store: {r} {r.body[:300]!r}")
        r = curl(f"http://127.0.0.1:{port}/_ctlmirror/status")
        check(r.code == 200 and b"Nothing servable" in r.body, f"status HTML on an empty store: {r}")
        m = parse_metrics(curl(f"http://127.0.0.1:{port}/_ctlmirror/metrics").body.decode())
        check(metric(m, "ctlmirror_requests_total", route="cab", code="503") >= 15 and
              metric(m, "ctlmirror_health", kind="authroot") == 2 and
              not any(k[0] == "ctlmirror_served_info" for k in m),
              f"metrics on an empty store: cab 503 {metric(m, 'ctlmirror_requests_total', route='cab', code='503')}, "
              f"health {metric(m, 'ctlmirror_health', kind='authroot')}")

        # Only copies that fail verification, imported while serving: still 503, never their bytes.
        bad = ["expired", "flipped-byte", "wrong-key", "untrusted-root"]
        r, o = cli.imp(*[F[n]["path"] for n in bad])
        expect_results(o, r, ["quarantined"] * len(bad), "quarantined imports")
        unavailable("only quarantined copies", ["authrootstl.cab", "authrootseq.txt"], [F[n]["bytes"][:64] for n in bad])
        healthz(503, b"critical\n", "only quarantined authroot copies")
        m = parse_metrics(curl(f"http://127.0.0.1:{port}/_ctlmirror/metrics").body.decode())
        check(metric(m, "ctlmirror_store_versions", kind="authroot", status="quarantined") == len(bad),
              f"metrics: quarantined authroot {metric(m, 'ctlmirror_store_versions', kind='authroot', status='quarantined')}, want {len(bad)}")
        # Another kind becomes servable: the authroot stays 503 and the daemon critical.
        r, o = cli.imp(F["disallowed-ok"]["path"])
        expect_results(o, r, ["admitted"], "disallowed import")
        r = curl(f"http://127.0.0.1:{port}/disallowedcertstl.cab")
        check(r.code == 200 and r.body == F["disallowed-ok"]["bytes"], f"disallowed after its import: {r}")
        unavailable("disallowed served, authroot only quarantined", ["authrootstl.cab"])
        healthz(503, b"critical\n", "authroot only quarantined, disallowed served")
        # An older verifying authroot: served; the newer quarantined copy makes it warn.
        r, o = cli.imp(F["authroot-ok"]["path"])
        expect_results(o, r, ["admitted"], "authroot import after quarantines")
        for _ in range(2):
            r = curl(f"http://127.0.0.1:{port}/authrootstl.cab")
            check(r.code == 200 and r.body == F["authroot-ok"]["bytes"], f"authroot after a good import: {r}")
        # a kept kind with nothing servable (pinrules: `kinds` keeps all three) is critical
        healthz(503, b"critical\n", "pinrules kept but never imported")
        r = curl(f"http://127.0.0.1:{port}/_ctlmirror/status.json")
        doc = json.loads(r.body) if r.code == 200 else {}
        check(doc.get("authroot", {}).get("health") == "warn" and doc.get("pinrules", {}).get("health") == "critical",
              f"status.json: authroot warn (a newer copy failed), pinrules critical: {r.body[:400]!r}")
        unavailable("pinrules never imported", ["pinrulesstl.cab"])
        r, o = cli.imp(F["pinrules-ok"]["path"])
        expect_results(o, r, ["admitted"], "pinrules import")
        healthz(200, b"warn\n", "a newer authroot copy failed verification")
    finally:
        d.stop_checked()


# ---------------------------------------------------------------- the real corpus

def corpus_part(binary, corpus, tmp):
    man = os.path.join(corpus, "authroot", "MANIFEST.tsv")
    if not os.path.isfile(man):
        print(f"skipping the real-corpus part: {corpus} not found (no authroot/MANIFEST.tsv)")
        return
    with open(man, newline="") as f:
        rows = {r["file"][:3]: r for r in csv.DictReader(f, delimiter="\t")}
    pick = [rows[f"{i:03d}"] for i in range(105, 113) if f"{i:03d}" in rows]
    if len(pick) < 2:
        raise Broken(f"corpus manifest lacks rows 105..112: {sorted(rows)[-5:]}")

    def t(s):
        return dt.datetime.strptime(s, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.timezone.utc)

    last = pick[-1]
    lo, hi = t(last["chain_valid_from"]), t(last["chain_valid_to"])
    at = (lo + (hi - lo) / 2).replace(microsecond=0)
    at_s = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    d0 = os.path.join(tmp, "corpus")
    os.makedirs(d0)
    cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), os.path.join(corpus, "anchors"), workers=2,
                       kinds="authroot")  # the real history has authroot only
    cli = Cli(binary, cfg)
    paths = [os.path.join(corpus, "authroot", r["file"]) for r in pick]
    r, o = cli.imp(*paths, at=at_s)
    want = ["admitted" if r0["chain_valid_from"] and t(r0["chain_valid_from"]) <= at <= t(r0["chain_valid_to"]) else "quarantined"
            for r0 in pick]
    expect_results(o, r, want, f"real authroot {pick[0]['file'][:3]}..{last['file'][:3]} at {at_s}")
    admitted = [r0 for r0, w in zip(pick, want) if w == "admitted"]
    if not admitted:
        raise Broken("no real version admitted")
    newest = max(admitted, key=lambda r0: int(r0["sequence"], 16))
    cab = read(os.path.join(corpus, "authroot", newest["file"]))
    # Root certificates: listed by the newest CTL and in crt/, plus one in crt/ it does not list.
    entries = cli.json("show", "--entries", newest["sequence"]).get("entries_list") or []
    listed = {e["thumbprint"].upper() for e in entries}
    check(len(listed) == int(newest["entries"]), f"show --entries lists {len(listed)} roots, manifest says {newest['entries']}")
    have = sorted(n[:-4].upper() for n in os.listdir(os.path.join(corpus, "crt")) if n.lower().endswith(".crt"))
    inlist = [h for h in have if h in listed][:3]
    notlisted = [h for h in have if h not in listed][:1]
    crts = {h: read(os.path.join(corpus, "crt", h + ".crt")) for h in inlist + notlisted}
    for h, der in crts.items():
        check(hashlib.sha1(der).hexdigest().upper() == h, f"corpus crt/{h}.crt does not hash to its name")
    if crts:
        r, o = cli.imp(*[os.path.join(corpus, "crt", h + ".crt") for h in crts], at=at_s)
        expect_results(o, r, ["cert_added"] * len(crts), "real root certificates")
    d = Daemon(binary, cfg, d0, "corpus", now=at_s).start()
    try:
        check(newest["sequence"] in d.startup, f"corpus startup line does not name {newest['sequence']}: {d.startup!r}")
        exp = cli.export(os.path.join(d0, "export"))
        check(exp.get("authrootstl.cab") == cab, f"export of the real store is not {newest['file']}")
        for label, args in ways(d.port, "authrootstl.cab", f"?{random.getrandbits(64):x}"):
            r = curl(*args)
            check(r.code == 200 and r.body == cab, f"real corpus: {label} authrootstl.cab: {r}, want {newest['file']} byte for byte")
        for label, args in ways(d.port, "authrootseq.txt"):
            r = curl(*args)
            check(r.code == 200 and r.body == newest["sequence"].encode(), f"real corpus: {label} authrootseq.txt {r.body!r}, want {newest['sequence']}")
        tmpd = tempfile.mkdtemp(dir=tmp)
        p = os.path.join(tmpd, "authrootstl.cab")
        with open(p, "wb") as f:
            f.write(curl(f"http://127.0.0.1:{d.port}/authrootstl.cab").body)
        r = subprocess.run(["cabextract", "-l", p], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and "authroot.stl" in r.stdout, f"cabextract -l of the served real cab: {r.stdout}{r.stderr}")
        r = subprocess.run(["cabextract", "-t", p], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"cabextract -t of the served real cab: {r.stdout}{r.stderr}")
        check(len(inlist) > 0, "no corpus crt/ certificate is listed by the newest imported CTL")
        for h in inlist:
            for name in (h + ".crt", h.lower() + ".crt"):
                for label, args in ways(d.port, name):
                    r = curl(*args)
                    check(r.code == 200 and r.body == crts[h] and r.h("content-type") == "application/pkix-cert",
                          f"real corpus: {label} {name}: {r}, want the DER from crt/")
        for h in notlisted:
            r = curl(f"http://127.0.0.1:{d.port}/{h}.crt")
            check(r.code == 404, f"real corpus: a stored root that {newest['sequence']} does not list ({h}): {r}, want 404")
        for name in ("disallowedcertstl.cab", "pinrulesstl.cab"):
            r = curl(f"http://127.0.0.1:{d.port}/{name}")
            check(r.code == 503, f"real corpus: {name} (none imported): {r}, want 503")
        r = curl(f"http://127.0.0.1:{d.port}/_ctlmirror/healthz")
        check(r.code == 200 and r.body == b"ok\n", f"real corpus healthz at {at_s}: {r} {r.body!r}, want 200 ok")
        doc = json.loads(curl(f"http://127.0.0.1:{d.port}/_ctlmirror/status.json").body or b"{}")
        s = (doc.get("authroot") or {}).get("served") or {}
        check(s.get("sequence") == newest["sequence"] and s.get("sha256") == sha256(cab),
              f"real corpus status.json serves {s.get('sequence')}, want {newest['sequence']}")
        check(s.get("signer_not_after") == hi.strftime("%Y-%m-%dT%H:%M:%SZ"),
              f"real corpus signer_not_after {s.get('signer_not_after')}, manifest chain_valid_to {newest['chain_valid_to']}")
        shutil.rmtree(tmpd, ignore_errors=True)
    finally:
        d.stop_checked()


def body(binary, fx, corpus, tmp, run):
    s = Files(binary, fx, tmp)
    s.run(run, (("ways in", s.ways_in), ("headers", s.headers), ("certificates", s.certificates)))
    run.section("nothing servable", nothing_servable, binary, fx, tmp)
    run.section("real corpus", corpus_part, binary, corpus, tmp)


if __name__ == "__main__":
    sys.exit(main("serve_files", __doc__, body))
