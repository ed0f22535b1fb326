#!/usr/bin/env python3
"""`ctlmirror serve` as its operator sees it: the operator endpoints, the access log, signals and
changes made while it runs.

Every daemon listens on 127.0.0.1 only, on a port the kernel picks, with its
own temporary store and config (no upstream polling), its clock set by `--now
2024-06-01T00:00:00Z`; each is stopped by SIGTERM whatever the checks found.
What it shows, over the forged store and daemon of serve_common.Forged (whose
start and stop serve_files.py counts; here they are required):
  - operator endpoints: healthz (200 ok), status.json equal to `ctlmirror
    status --json` (plus last_sync/sync_failures; days_left within a day),
    the HTML status naming every served sequence, Prometheus metrics whose
    request and byte counters grow by exactly what was requested, served
    sequence per kind, signer expiry, versions by status (equal to
    `versions --json`), refused connections;
  - the access log (client, method, route, way, status, bytes, time) after
    its one-second flush;
  - SIGHUP re-reads the config (flat_prefix moves, log_format json, a smaller
    max_header_size) and reopens a renamed access log; a broken config is
    reported and the running one kept;
  - live changes without a restart: each newer authroot imported while
    serving (authroot-ok < authroot-sha1 < legacy-anchor-ok < nested-ok <
    sha256-large) is served on the next request by every worker, with its
    sequence file; the old ETag no longer gives 304; `pin` of an older one
    serves it (status.json and metrics say pinned), `unpin` the newest again;
  - SIGHUP under load: while four clients fetch the cab in a loop (keep-alive,
    a new connection every 50 requests), bursts of 50 SIGHUPs with no pause
    between them, each re-reading the config file given by -c (two workers:
    the main thread re-reads it while the other worker takes the last one):
    every reply is the cab, the daemon stays up and re-reads its config, and
    exits 0 on SIGTERM with no sanitizer report on stderr (under
    ThreadSanitizer: no data race).

(CORPUS_DIR is accepted and not used: ctest gives the three serve scripts the same arguments.)

usage: serve_ops.py CTLMIRROR FIXTURES_DIR [CORPUS_DIR]
"""
import datetime as dt
import json
import os
import random
import re
import signal
import sys
import threading

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import KINDS, UP, Cli, Forged, expect_results, main, metric, parse_metrics  # noqa: E402
from testlib import (Broken, Daemon, Fixtures, Stream, check, get_req, raw, sha256, wait_for,
                     write_config)  # noqa: E402


class Ops(Forged):
    """The forged daemon as its operator sees it: endpoints, access log, SIGHUP, live changes."""

    # -- operator endpoints ----------------------------------------------------
    def operator(self):
        F, port = self.F, self.d.port
        r = self.get("/_ctlmirror/healthz")
        check(r.code == 200 and r.body == b"ok\n", f"healthz: {r} {r.body!r}, want 200 'ok'")
        # status.json = status --json, modulo sync facts and the day count
        r = self.get("/_ctlmirror/status.json")
        check(r.code == 200 and (r.h("content-type") or "").startswith("application/json"), f"status.json: {r} {r.h('content-type')}")
        try:
            doc = json.loads(r.body)
        except ValueError:
            raise Broken(f"status.json is not JSON: {r.body[:300]!r}")
        self.compare_status(doc, "status.json")
        # HTML
        r = self.get("/_ctlmirror/status")
        html = r.body.decode("utf-8", "replace")
        check(r.code == 200 and (r.h("content-type") or "").startswith("text/html"), f"status: {r} {r.h('content-type')}")
        check(html.lstrip().lower().startswith("<!doctype html") and "</html>" in html, "status is not an HTML document")
        for case in ("authroot-ok", "disallowed-ok", "pinrules-ok"):
            check(F[case]["sequence"] in html, f"status HTML does not name the served {case} sequence {F[case]['sequence']}")
        # metrics: counters grow by exactly what was asked
        m0 = self.metrics()
        cab, seq = self.export["authrootstl.cab"], self.export["authrootseq.txt"]
        for _ in range(3):
            self.get("/authrootstl.cab")
        self.curl("-x", f"http://127.0.0.1:{port}", f"http://ctldl.windowsupdate.com{UP}authrootseq.txt")
        self.get("/authrootstl.cab", "-H", f"If-None-Match: \"{F['authroot-ok']['sha256']}\"")
        self.get("/authrootstl.cab", "-H", "Range: bytes=0-99")
        self.get("/nope.cab")
        self.get("/nope2.cab")
        self.curl("-x", f"http://127.0.0.1:{port}", "http://example.com/")
        raw(port, get_req("/%2e%2e/x"))
        raw(port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        self.get("/_ctlmirror/healthz")
        m1 = self.metrics()
        R = "ctlmirror_requests_total"
        for (route, code), n in ((("cab", "200"), 3), (("cab", "304"), 1), (("cab", "206"), 1), (("seq", "200"), 1),
                                 (("not_found", "404"), 2), (("forbidden", "403"), 1), (("bad_request", "400"), 1),
                                 (("bad_method", "405"), 1), (("healthz", "200"), 1), (("metrics", "200"), 1)):
            d = metric(m1, R, route=route, code=code) - metric(m0, R, route=route, code=code)
            check(d == n, f"metrics: {R}{{route={route},code={code}}} grew by {d}, want {n}")
        d = metric(m1, "ctlmirror_response_bytes_total", route="cab") - metric(m0, "ctlmirror_response_bytes_total", route="cab")
        check(d == 3 * len(cab) + 100, f"metrics: cab bytes grew by {d}, want {3 * len(cab) + 100}")
        d = metric(m1, "ctlmirror_response_bytes_total", route="seq") - metric(m0, "ctlmirror_response_bytes_total", route="seq")
        check(d == len(seq), f"metrics: seq bytes grew by {d}, want {len(seq)}")
        for kind, case in (("authroot", "authroot-ok"), ("disallowed", "disallowed-ok"), ("pinrules", "pinrules-ok")):
            check(metric(m1, "ctlmirror_served_info", kind=kind, sequence=F[case]["sequence"], pinned="false") == 1,
                  f"metrics: no ctlmirror_served_info for {kind} {F[case]['sequence']}: "
                  f"{[k for k in m1 if k[0] == 'ctlmirror_served_info']}")
            check(metric(m1, "ctlmirror_signer_not_after_seconds", kind=kind) == 1735689600,
                  f"metrics: {kind} signer_not_after {metric(m1, 'ctlmirror_signer_not_after_seconds', kind=kind)}, want 1735689600 (2025-01-01)")
            tu = dt.datetime.fromisoformat(F[case]["this_update"].replace("Z", "+00:00")).timestamp()
            check(metric(m1, "ctlmirror_served_this_update_seconds", kind=kind) == tu, f"metrics: {kind} this_update")
            check(("ctlmirror_health", (("kind", kind),)) in m1 and metric(m1, "ctlmirror_health", kind=kind) == 0,
                  f"metrics: ctlmirror_health {kind} {metric(m1, 'ctlmirror_health', kind=kind)}, want 0")
        self.versions_metrics(m1)
        check(metric(m1, "ctlmirror_start_time_seconds") >= 1717200000 - 1 and
              metric(m1, "ctlmirror_start_time_seconds") < 1717200000 + 600,
              f"metrics: start time {metric(m1, 'ctlmirror_start_time_seconds')}, want --now (1717200000)")
        check(("ctlmirror_refused_connections_total", ()) in m1, "metrics: no ctlmirror_refused_connections_total")

    def metrics(self):
        r = self.get("/_ctlmirror/metrics")
        if r.code != 200:
            raise Broken(f"metrics: {r}")
        check((r.h("content-type") or "").startswith("text/plain"), f"metrics Content-Type {r.h('content-type')!r}")
        return parse_metrics(r.body.decode())

    def versions_metrics(self, m):
        vs = self.cli.json("versions")
        for kind in KINDS:
            for st in ("served", "pinned", "admitted", "quarantined", "rollback"):
                n = sum(1 for v in vs if v.get("kind") == kind and v.get("status") == st)
                check(metric(m, "ctlmirror_store_versions", kind=kind, status=st) == n,
                      f"metrics: store_versions {kind}/{st} = {metric(m, 'ctlmirror_store_versions', kind=kind, status=st)}, versions --json says {n}")

    def compare_status(self, doc, ctx):
        """doc (from the daemon) against `ctlmirror status --json` at the same time."""
        now = self.d.clock()
        cli = self.cli.json("status", "--at", now.strftime("%Y-%m-%dT%H:%M:%SZ"), ok=(0, 1))
        for kind in KINDS:
            k = doc.get(kind)
            if not check(isinstance(k, dict), f"{ctx}: no {kind} object: {doc}"):
                continue
            check(k.get("last_sync") is None and k.get("sync_failures") == 0,
                  f"{ctx}: {kind} last_sync {k.get('last_sync')!r}, sync_failures {k.get('sync_failures')!r}: want null and 0 (no polling)")
        a, b = json.loads(json.dumps(doc)), json.loads(json.dumps(cli))
        for kind in KINDS:
            for d in (a.get(kind) or {}, b.get(kind) or {}):
                d.pop("last_sync", None)
                d.pop("sync_failures", None)
            sa, sb = (a.get(kind) or {}).get("served"), (b.get(kind) or {}).get("served")
            if isinstance(sa, dict) and isinstance(sb, dict) and isinstance(sa.get("days_left"), int) and isinstance(sb.get("days_left"), int):
                check(abs(sa["days_left"] - sb["days_left"]) <= 1, f"{ctx}: {kind} days_left {sa['days_left']} vs CLI {sb['days_left']}")
                sa["days_left"] = sb["days_left"]
        check(a == b, f"{ctx} differs from `status --json`:\n  daemon {json.dumps(a, sort_keys=True)}\n  cli    {json.dumps(b, sort_keys=True)}")

    # -- access log, SIGHUP -----------------------------------------------------
    def access_log(self):
        port = self.d.port
        marker = f"{random.getrandbits(32):x}"
        n0 = self.log_settled()     # every earlier request's line is in: count from here
        self.curl("-x", f"http://127.0.0.1:{port}", f"http://ctldl.windowsupdate.com{UP}authrootstl.cab?{marker}")
        self.curl("--resolve", f"www.download.windowsupdate.com:{port}:127.0.0.1",
                  f"http://www.download.windowsupdate.com:{port}{UP}disallowedcertstl.cab")
        self.get("/pinrulesstl.cab")
        self.get("/missing-file")
        self.curl("-I", self.url("/authrootseq.txt"))
        self.get("/_ctlmirror/healthz")
        lines = self.wait_log(n0 + 6)[n0:]
        pat = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (\S+) ([A-Z]+) (\S+) (proxy|dns|flat|operator) (\d{3}) (\d+) ([\d.]+)ms")
        parsed = [m.groups() for m in map(pat.fullmatch, lines) if m]
        check(len(parsed) == len(lines) and lines, f"access log lines not in the documented text form: {[l for l in lines if not pat.fullmatch(l)][:5]}")
        tail = [(p[1], p[2], p[3], p[4], p[5], p[6]) for p in parsed]
        want = [("127.0.0.1", "GET", "cab", "proxy", "200", str(len(self.export["authrootstl.cab"]))),
                ("127.0.0.1", "GET", "cab", "dns", "200", str(len(self.export["disallowedcertstl.cab"]))),
                ("127.0.0.1", "GET", "cab", "flat", "200", str(len(self.export["pinrulesstl.cab"]))),
                ("127.0.0.1", "GET", "not_found", "flat", "404", None),
                ("127.0.0.1", "HEAD", "seq", "flat", "200", "0"),
                ("127.0.0.1", "GET", "healthz", "operator", "200", "3")]
        for got, w in zip(tail, want):
            check(got[:5] == w[:5] and (w[5] is None or got[5] == w[5]), f"access log line {got}, want {w}")
        check(len(tail) == 6, f"access log: {len(tail)} lines for the 6 requests: {lines}")
        for p in parsed:
            t = dt.datetime.strptime(p[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
            check(abs((dt.datetime.now(dt.timezone.utc) - t).total_seconds()) < 600 or
                  abs((self.d.clock() - t).total_seconds()) < 600, f"access log time {p[0]} is neither now nor the daemon's now")
            check(float(p[7]) < 10000, f"access log: {p[7]} ms for one request")

    def log_lines(self):
        return open(self.access).read().splitlines() if os.path.exists(self.access) else []

    def wait_log(self, at_least, timeout=10):
        """The access log's lines once it has at_least of them (flushed each second), or what it has."""
        return wait_for(self.log_lines, timeout, step=0.2, until=lambda lines: len(lines) >= at_least)

    def log_settled(self):
        """The access log's line count once the lines of every request made so far are in it.
        A request from another loopback address (127.0.0.2) is made after them all: the flush
        that writes its line has written theirs."""
        with Stream(self.d.port, source="127.0.0.2") as st:
            st.send(get_req("/_ctlmirror/healthz"))
            st.response()
        lines = wait_for(self.log_lines, 10, until=lambda lines: any(" 127.0.0.2 " in l for l in lines))
        if not any(" 127.0.0.2 " in l for l in lines):
            raise Broken(f"access log: the line of a request from 127.0.0.2 was not written in 10 s: {lines[-3:]}")
        return len(lines)

    def sighup(self):
        port, d = self.d.port, self.d
        before = len(open(self.access).read().splitlines())
        rotated = self.access + ".1"
        os.rename(self.access, rotated)
        keys = dict(self.keys, flat_prefix="/pki/", log_format="json", max_header_size=4096)
        write_config(self.cfg, self.store, self.F.anchors, self.F.pins, **keys)
        d.signal(signal.SIGHUP)
        r = wait_for(lambda: self.get("/pki/authrootstl.cab"), 15, step=0.2, until=lambda r: r.code == 200)
        check(r.code == 200 and r.body == self.export["authrootstl.cab"], f"after SIGHUP with flat_prefix /pki/: GET /pki/authrootstl.cab {r}")
        # each worker takes the new config: several requests, the old prefix refused by all of them
        for _ in range(6):
            r = self.get("/authrootstl.cab")
            check(r.code == 404, f"after SIGHUP the old flat prefix still serves: {r}")
            r = self.get("/pki/authrootseq.txt")
            check(r.code == 200 and r.body == self.export["authrootseq.txt"], f"/pki/authrootseq.txt after SIGHUP: {r}")
        r = self.curl("-x", f"http://127.0.0.1:{port}", f"http://ctldl.windowsupdate.com{UP}authrootstl.cab")
        check(r.code == 200, f"proxy way after SIGHUP: {r}")
        code, _, _, _ = raw(port, get_req("/pki/authrootstl.cab", extra="X-Junk: " + "j" * 6000 + "\r\n"))
        check(code != 200, f"after SIGHUP max_header_size 4096: a 6 KB header got {code}")
        self.still_serving_at("/pki/", "after a header over the new max_header_size")
        lines = self.wait_log(4)
        check(os.path.exists(self.access), "SIGHUP did not reopen the renamed access log at its configured path")
        js = []
        for l in lines:
            try:
                js.append(json.loads(l))
            except ValueError:
                check(False, f"after SIGHUP with log_format json, an access log line is not JSON: {l!r}")
        check(js and all(set(("time", "client", "method", "route", "way", "status", "bytes", "ms")) <= set(o) for o in js),
              f"JSON access log lines lack fields: {js[:3]}")
        check(any(o.get("route") == "cab" and o.get("way") == "flat" and o.get("status") == 200 and
                  o.get("bytes") == len(self.export["authrootstl.cab"]) and o.get("client") == "127.0.0.1" for o in js),
              f"no JSON access log line for the /pki/ cab: {js[:5]}")
        old = open(rotated).read().splitlines()
        check(len(old) >= before and all(not l.startswith("{") for l in old),
              f"the rotated log has {len(old)} lines (had {before}) or JSON lines written after the rename")
        # a broken config: reported, the running one kept
        with open(self.cfg, "a") as f:
            f.write("no_such_key = 1\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "keeping the running config" in d.stderr(), 10, step=0.2)
        check("keeping the running config" in d.stderr() and "no_such_key" in d.stderr(),
              f"SIGHUP with a broken config: not reported on stderr: {d.stderr()[-800:]}")
        r = self.get("/pki/authrootstl.cab")
        check(r.code == 200, f"after a broken config's SIGHUP, /pki/ no longer serves: {r}")
        check(d.alive(), "the daemon died on a SIGHUP with a broken config")
        # back to the start
        write_config(self.cfg, self.store, self.F.anchors, self.F.pins, **self.keys)
        d.signal(signal.SIGHUP)
        r = wait_for(lambda: self.get("/authrootstl.cab"), 15, step=0.2, until=lambda r: r.code == 200)
        check(r.code == 200, f"after SIGHUP back to flat_prefix /: {r}")
        wait_for(lambda: [self.get("/pki/authrootstl.cab").code for _ in range(4)], 15, step=0.2, until=lambda c: c == [404] * 4)

    def still_serving_at(self, prefix, when):
        r = self.get(prefix + "authrootseq.txt")
        check(r.code == 200, f"{when}: the next request got {r}")

    # -- live changes -----------------------------------------------------------
    def live(self):
        F = self.F
        old_etag = self.get("/authrootstl.cab").h("etag")
        order = ["authroot-sha1", "legacy-anchor-ok", "nested-ok", "sha256-large"]
        for case in order:
            r, o = self.cli.imp(F[case]["path"])
            expect_results(o, r, ["admitted"], f"live import of {case}")
            self.expect_served(case, f"after importing {case} while serving")
            c = self.get("/authrootstl.cab", "-H", f"If-None-Match: {old_etag}")
            check(c.code == 200 and c.body == F[case]["bytes"], f"after importing {case}: the old ETag still gives {c.code}")
            old_etag = f'"{F[case]["sha256"]}"'
        # an older copy imported now is a rollback: nothing changes
        r, o = self.cli.imp(F["timestamped-ok"]["path"])
        expect_results(o, r, ["rollback"], "live import of an older copy")
        self.expect_served("sha256-large", "after a rollback import")
        # a client holding the newest copy, as a Windows client does, with its validators
        held = {n: self.get("/" + n) for n in ("authrootstl.cab", "authrootseq.txt")}
        # pin an older one, then unpin
        r = self.cli.run("pin", "--force", "--reason", "a root we need", F["authroot-sha1"]["sequence"])
        check(r.returncode == 0, f"pin: exit {r.returncode}: {r.stderr.strip()}")
        self.expect_served("authroot-sha1", "after pin")
        # validators never step back: revalidating by date, by tag, or both gets the pinned bytes
        want = {"authrootstl.cab": F["authroot-sha1"]["bytes"], "authrootseq.txt": F["authroot-sha1"]["sequence"].encode()}
        for name, h in held.items():
            lm, et = h.h("last-modified"), h.h("etag")
            for label, hdrs in (("If-Modified-Since", ["-H", f"If-Modified-Since: {lm}"]),
                                ("If-None-Match", ["-H", f"If-None-Match: {et}"]),
                                ("both", ["-H", f"If-Modified-Since: {lm}", "-H", f"If-None-Match: {et}"])):
                c = self.get("/" + name, *hdrs)
                check(c.code == 200 and c.body == want[name],
                      f"after pin, {name} revalidated with {label} ({lm}, {et}): {c}, want 200 with the pinned bytes")
            now = self.get("/" + name)
            check(now.h("last-modified") != lm and now.h("etag") != et,
                  f"after pin, {name}: Last-Modified {now.h('last-modified')} and ETag changed from {lm}, {et}")
        doc = json.loads(self.get("/_ctlmirror/status.json").body or b"{}")
        pin = doc.get("authroot", {}).get("pin") or {}
        check(pin.get("reason") == "a root we need" and pin.get("newer_held_back", 0) >= 1,
              f"status.json shows the pin's reason and what it holds back: {pin}")
        check(doc.get("authroot", {}).get("health") == "warn" and
              any("held back" in x for x in doc.get("authroot", {}).get("health_reasons", [])),
              f"a pin holding back newer verified versions warns: {doc.get('authroot', {}).get('health_reasons')}")
        doc = json.loads(self.get("/_ctlmirror/status.json").body or b"{}")
        check(doc.get("authroot", {}).get("pinned") is True, f"status.json after pin: pinned {doc.get('authroot', {}).get('pinned')}")
        self.compare_status(doc, "status.json after pin")
        m = self.metrics()
        check(metric(m, "ctlmirror_served_info", kind="authroot", sequence=F["authroot-sha1"]["sequence"], pinned="true") == 1,
              f"metrics after pin: {[k for k in m if k[0] == 'ctlmirror_served_info']}")
        self.versions_metrics(m)
        html = self.get("/_ctlmirror/status").body.decode("utf-8", "replace")
        check(F["authroot-sha1"]["sequence"] in html and "pinned" in html, "status HTML after pin names neither the pinned sequence nor 'pinned'")
        r = self.cli.run("unpin")
        check(r.returncode == 0, f"unpin: exit {r.returncode}: {r.stderr.strip()}")
        self.expect_served("sha256-large", "after unpin")
        m = self.metrics()
        check(metric(m, "ctlmirror_served_info", kind="authroot", sequence=F["sha256-large"]["sequence"], pinned="false") == 1,
              f"metrics after unpin: {[k for k in m if k[0] == 'ctlmirror_served_info']}")
        # the test root stays listed by every forged version: still served
        root_sha1, root_der = F.roots["root"]
        r = self.get(f"/{root_sha1}.crt")
        check(r.code == 200 and r.body == root_der, f"the test root after the live changes: {r}")
        check(self.d.alive(), "the daemon died during live changes")

    def expect_served(self, case, ctx):
        F, port = self.F, self.d.port
        row = F[case]
        # several requests: every worker must have noticed
        for i in range(4):
            r = self.get("/authrootstl.cab")
            check(r.code == 200 and r.body == row["bytes"],
                  f"{ctx}: GET /authrootstl.cab #{i + 1}: {r} sha256 {sha256(r.body)[:12]}, want {case} ({row['sha256'][:12]})")
            check(r.h("etag") == f'"{row["sha256"]}"', f"{ctx}: ETag {r.h('etag')}")
            s = self.get("/authrootseq.txt")
            check(s.code == 200 and s.body == row["sequence"].encode(), f"{ctx}: authrootseq.txt {s.body!r}, want {row['sequence']!r}")
        r = self.curl("-x", f"http://127.0.0.1:{port}", f"http://ctldl.windowsupdate.com{UP}authrootstl.cab?{random.getrandbits(40):x}")
        check(r.code == 200 and r.body == row["bytes"], f"{ctx}: proxy way: {r}")
        exp = self.cli.export(os.path.join(self.dir, "export-live"))
        check(exp.get("authrootstl.cab") == row["bytes"] and exp.get("authrootseq.txt") == row["sequence"].encode(),
              f"{ctx}: export does not agree with what is served")


# ---------------------------------------------------------------- SIGHUP under load

HUP_BURSTS, HUP_BURST = 10, 50
HUP_CLIENTS = 4


def sighup_race(binary, fx, tmp):
    """SIGHUPs back to back while requests flow: every reply right, the daemon alive, no sanitizer report."""
    F = Fixtures(fx)
    d0 = os.path.join(tmp, "hup-race")
    os.makedirs(d0)
    cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), F.anchors, F.pins,
                       workers=2, access_log=os.path.join(d0, "access.log"))
    cli = Cli(binary, cfg)
    r, o = cli.imp(*[F.path(n) for n in ("authroot-ok", "disallowed-ok", "pinrules-ok")])
    expect_results(o, r, ["admitted"] * 3, "SIGHUP race store")
    cab = F.data("authroot-ok")
    d = Daemon(binary, cfg, d0, "hup-race").start()
    stop = threading.Event()
    lock = threading.Lock()
    answered, bad = [0], []

    def client(i):
        """The cab in a loop on a keep-alive connection; a new one every 50 requests or after a failure."""
        st, n = None, 0
        while not stop.is_set():
            try:
                if st is None:
                    st = Stream(d.port, timeout=10)
                st.send(get_req("/authrootstl.cab", close=False))
                code, _, body = st.response()
            except (Broken, OSError) as e:
                code, body = None, repr(e).encode()
            ok = code == 200 and body == cab
            with lock:
                if ok:
                    answered[0] += 1
                elif len(bad) < 10:
                    bad.append((i, answered[0], code, len(body), body[:80]))
            n += 1
            if st is not None and (not ok or n % 50 == 0):
                st.close()
                st = None
        if st is not None:
            st.close()

    def count():
        with lock:
            return answered[0]

    def rereads():
        return d.stderr().count("SIGHUP: config re-read")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(HUP_CLIENTS)]
    try:
        for t in threads:
            t.start()
        flowing = wait_for(lambda: count() >= 100, 20)
        n0 = rereads()
        for _ in range(HUP_BURSTS):
            seen, before = rereads(), count()
            for _ in range(HUP_BURST):
                os.kill(d.p.pid, signal.SIGHUP)
                # no pause: the yield lets a daemon thread take each signal before the next one,
                # which the kernel would otherwise merge with the one still pending
                os.sched_yield()
            # the burst is taken (at least one re-read), and requests go on after it
            wait_for(lambda: rereads() > seen, 10)
            wait_for(lambda: count() >= before + 100, 10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        check(flowing and count() > 0 and not bad,
              f"{HUP_BURSTS} bursts of {HUP_BURST} SIGHUPs while {HUP_CLIENTS} clients fetched the cab: "
              f"{count()} right replies, wrong ones (client, after n, code, bytes, start): {bad}")
        check(rereads() > n0, f"no 'SIGHUP: config re-read' line after {HUP_BURSTS * HUP_BURST} SIGHUPs: {d.stderr()[-800:]}")
        check(d.alive(), f"the daemon died under SIGHUPs (exit {d.p.returncode}): {d.stderr()[-2000:]}")
        print(f"    {count()} replies, {rereads() - n0} config re-reads for {HUP_BURSTS * HUP_BURST} SIGHUPs", flush=True)
    finally:
        stop.set()
        for t in threads:
            if t.ident is not None:
                t.join(timeout=30)
        d.stop_checked()


def body(binary, fx, corpus, tmp, run):
    s = Ops(binary, fx, tmp)
    s.run(run, (("operator endpoints", s.operator), ("access log", s.access_log), ("SIGHUP", s.sighup),
                ("live changes", s.live)), counted=False)
    run.section("SIGHUP under load", sighup_race, binary, fx, tmp)


if __name__ == "__main__":
    sys.exit(main("serve_ops", __doc__, body))
