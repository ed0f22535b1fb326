#!/usr/bin/env python3
"""Upstream sync under injected faults: `ctlmirror sync` and `ctlmirror serve` against a
scripted fake upstream (fake_upstream.py) and against a parent ctlmirror.

What it proves, with the forged fixtures, verifying at 2024-06-01T00:00:00Z (`--now`), each
store in a temporary directory, every server on 127.0.0.1 and an ephemeral port:
  - after every fault, a sync round leaves the store consistent: the served version of each
    kind is the newest verified one (and the one the scenario expects), `versions` is a
    superset of what it was (same sha256, sequence, size, verdict), the served files export
    byte-equal, and exactly the expected events were appended (none for a failed transfer);
    at the end every admitted version still exports byte-equal (pinned in a copy of the store);
  - transfer faults on authrootstl.cab, each reported as that kind's failed result (with the
    cause in its text, the other kinds `unchanged`, exit 1): a hang past fetch_timeout, a slow
    drip (the total timeout; and, on its own store, the 512 B/s low-speed abort with a long
    fetch_timeout), a connection reset mid-body, 404/500/503, bytes that are not HTTP, a body
    far beyond max_download with a declared Content-Length and chunked (the transfer is cut
    short: the upstream could not send it all);
  - bodies that arrive whole but are not a good CTL are quarantined with their reason and
    never served: a truncated cab and random bytes (CAB_MALFORMED), flipped-byte
    (DIGEST_MISMATCH), wrong-key (BAD_SIGNATURE); a good newer copy after them is admitted and
    served; status shows the newer failed copy (warn) until a good newer one arrives;
  - connection refused on the first upstream: the second one is tried and its copy admitted
    (source = its URL); upstreams are tried in order;
  - a stale first upstream (serving an older, already stored copy, whole or as a 304) does not
    hide a newer copy on the second upstream;
  - authrootseq.txt disagreeing with the cab: an `inconsistent` event, the cab decides (it is
    admitted and served; the exported sequence file is generated from it);
  - a stale edge (the upstream goes back to an older verifying copy): a `rollback` event, served
    unchanged; the same copy again changes nothing;
  - a copy re-signed under the served sequence (authroot-resigned): a new version record with
    the same sequence, admitted; the served copy among equal sequences is the one whose chain
    ends last, then the first seen, whichever order they arrive in;
  - conditional GET: a second round sends If-None-Match and If-Modified-Since with what the
    upstream sent, gets 304 and reports `unchanged`; the random query string (16 hex digits,
    a new one per request) is there by default and gone with `random_query = no`;
  - `sync --certs` fetches the listed root certificates the store lacks, rejects one whose
    bytes do not hash to its name, and asks only for what is still missing the next time;
  - the daemon (`serve --now`, poll_interval 1s, one worker): serves what its polls admit,
    keeps answering clients quickly while polls hang or fail, logs `sync` events for the
    failure and the recovery, reports sync_failures in status.json; fetches a listed root
    the store lacks on demand (SHA-1 checked; concurrent requests share one upstream fetch),
    404s a root whose upstream bytes are wrong, and an unlisted thumbprint without asking
    upstream; exits 0 on SIGTERM with no sanitizer report on stderr (each daemon here);
  - a hierarchy: a child syncs from a parent ctlmirror's flat URL (same files, conditional
    GET gives `unchanged`, the parent's certificates), picks up what the parent admits, and a
    parent that serves a bad copy (mimicked by the fake upstream) cannot make the child serve
    it.

usage: sync_faults.py CTLMIRROR FIXTURES_DIR
Exit: 0 all checks passed, 1 some failed.
"""
import calendar
import email.utils
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_upstream import FakeUpstream, Bytes, Status, Hang, Drip, Reset, Garbage, Huge, etag_of  # noqa: E402
from testlib import (Broken, Daemon, Fixtures, check, checks, closed_port, failures, report, sha256,
                     wait_for)  # noqa: E402

AT = "2024-06-01T00:00:00Z"
KINDS = ("authroot", "disallowed", "pinrules")
CAB = {"authroot": "authrootstl.cab", "disallowed": "disallowedcertstl.cab", "pinrules": "pinrulesstl.cab"}
SEQ = "authrootseq.txt"
FETCH_TIMEOUT = 2           # seconds: every hang or drip costs this much
MAX_DOWNLOAD = 1024 * 1024  # the largest fixture (sha256-large) is well under it
HUGE = 64 * 1024 * 1024


def out_of(r):
    return ((r.stdout or "") + (r.stderr or "")).strip()


class Mirror:
    """A store, and one config file naming it (rewritten with conf())."""

    def __init__(self, t, name, upstreams, **keys):
        self.t = t
        self.failed_kinds = []
        self.dir = os.path.join(t.tmp, name)
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.config = os.path.join(self.dir, "ctlmirror.conf")
        self.keys = {"fetch_timeout": f"{FETCH_TIMEOUT}s", "max_download": str(MAX_DOWNLOAD),
                     "poll_interval": "0", "workers": "1", "listen": "127.0.0.1:0"}
        self.conf(upstreams, **keys)
        self.exports = 0

    def conf(self, upstreams=None, **keys):
        if upstreams is not None:
            self.upstreams = list(upstreams)
        self.keys.update({k: str(v) for k, v in keys.items()})
        lines = [f"store = {self.store}", f"anchors = {os.path.join(self.t.fx.dir, 'anchors')}"]
        lines += [f"anchor_pin = {p}" for p in self.t.fx.pins]
        if os.geteuid() == 0:
            lines.append("user = root")  # as testlib.write_config: keep root in a root run
        lines += [f"upstream = {u}" for u in self.upstreams]
        lines += [f"{k} = {v}" for k, v in self.keys.items()]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def run(self, cmd, *args, timeout=120):
        return subprocess.run([self.t.binary, cmd, "-c", self.config, *args],
                              capture_output=True, text=True, timeout=timeout)

    def sync(self, *args, now=AT):
        t0 = time.monotonic()
        r = self.run("sync", "--json", "--now", now, *args)
        took = time.monotonic() - t0
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            raise Broken(f"sync --json: exit {r.returncode}, not JSON: {r.stdout[:300]!r} stderr {r.stderr.strip()[:300]!r}")
        # a CLI round writes the daemon's events: "sync failed" for each kind that failed
        self.failed_kinds += [k for k in KINDS if not (doc.get(k) or {}).get("ok", True)]
        return r.returncode, doc, took

    def json_cmd(self, *args):
        r = self.run(*args)
        if r.returncode not in (0, 1):
            raise Broken(f"{' '.join(args)}: exit {r.returncode}: {out_of(r)[:300]}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Broken(f"{' '.join(args)}: not JSON: {r.stdout[:300]!r}")

    def versions(self):
        return self.json_cmd("versions", "--json")

    def events(self):
        return self.json_cmd("events", "--json")

    def status(self):
        return self.json_cmd("status", "--json", "--at", AT)

    def export(self):
        self.exports += 1
        out = os.path.join(self.dir, f"export{self.exports}")
        r = self.run("export", "--allow-missing", out)
        if r.returncode != 0:
            raise Broken(f"export: exit {r.returncode}: {out_of(r)[:300]}")
        return out


def served_of(versions, kind):
    s = [v for v in versions if v.get("kind") == kind and v.get("status") in ("served", "pinned")]
    check(len(s) <= 1, f"versions: {len(s)} {kind} copies are served: {[v.get('sha256', '')[:12] for v in s]}")
    return s[0] if s else None


STABLE_KEYS = ("kind", "sequence", "sha256", "this_update", "first_seen", "reason", "detail", "source",
               "size", "entries", "chain_valid_from", "chain_valid_to")


class Step:
    """One action on a mirror, and what must hold after it (see the module docstring)."""

    def __init__(self, m, ctx):
        self.m, self.ctx, self.fx = m, ctx, m.t.fx
        fresh = not os.path.exists(m.store)
        self.v0 = [] if fresh else m.versions()
        self.e0 = [] if fresh else m.events()
        m.failed_kinds = []     # the kinds the step's CLI rounds failed for

    def after(self, served, events=(), quiet_kinds=()):
        """served: kind -> fixture name (None: nothing served). events: the (type, kind, fixture
        or None) appended, in order."""
        m, ctx, fx = self.m, self.ctx, self.fx
        v1, e1 = m.versions(), m.events()
        # each failed CLI round ends with its kind's "sync failed" event
        events = list(events) + [("sync", k, None) for k in m.failed_kinds]
        # Nothing stored was lost or changed.
        idx = {v.get("sha256"): v for v in v1}
        for v in self.v0:
            w = idx.get(v.get("sha256"))
            if not check(w is not None, f"{ctx}: version {fx.name_of(v.get('sha256'))} vanished from `versions`"):
                continue
            for k in STABLE_KEYS:
                check(w.get(k) == v.get(k), f"{ctx}: {fx.name_of(v.get('sha256'))}: {k} changed from {v.get(k)!r} to {w.get(k)!r}")
        # The served copy: the expected one, and the newest verified one.
        for kind in KINDS:
            s = served_of(v1, kind)
            want = served.get(kind)
            got = fx.name_of(s["sha256"]) if s else None
            check(got == want, f"{ctx}: served {kind} is {got}, want {want}")
            adm = [v for v in v1 if v.get("kind") == kind and v.get("status") in ("served", "admitted")]
            if s and adm:
                top = max(int(v["sequence"], 16) for v in adm)
                check(int(s["sequence"], 16) == top, f"{ctx}: served {kind} {s['sequence']} is not the newest admitted ({top:X})")
        st = m.status()
        for kind in KINDS:
            sv = (st.get(kind) or {}).get("served") or {}
            want = served.get(kind)
            check(sv.get("sha256") == (fx.sha(want) if want else None),
                  f"{ctx}: status --json serves {kind} {fx.name_of(sv.get('sha256'))}, want {want}")
        # The served files export byte-equal, with the sequence file generated from the cab.
        out = m.export()
        for kind in KINDS:
            p = os.path.join(out, CAB[kind])
            want = served.get(kind)
            if want is None:
                check(not os.path.exists(p), f"{ctx}: export wrote {CAB[kind]} with nothing served")
            elif check(os.path.isfile(p), f"{ctx}: export lacks {CAB[kind]}"):
                check(open(p, "rb").read() == fx.data(want), f"{ctx}: exported {CAB[kind]} is not {want}'s bytes")
        if served.get("authroot"):
            p = os.path.join(out, SEQ)
            if check(os.path.isfile(p), f"{ctx}: export lacks {SEQ}"):
                check(open(p).read().strip() == fx.seq(served["authroot"]),
                      f"{ctx}: exported {SEQ} {open(p).read()!r}, want {fx.seq(served['authroot'])}")
        shutil.rmtree(out, ignore_errors=True)
        # Exactly the expected events were appended.
        check(e1[:len(self.e0)] == self.e0, f"{ctx}: earlier events changed")
        new = e1[len(self.e0):]
        # The kinds' rounds run side by side: order holds within a kind (None: events not about
        # a list, e.g. cert_added), not across kinds.
        ok = len(new) == len(events)
        pairs = []
        for kind in KINDS + (None,):
            got = [e for e in new if e.get("kind") == kind]
            want = [w for w in events if w[1] == kind]
            ok = ok and [e.get("type") for e in got] == [w[0] for w in want]
            pairs += list(zip(got, want))
        check(ok, f"{ctx}: new events {[(e.get('type'), e.get('kind')) for e in new]}, want {[(t, k) for t, k, _ in events]}: "
                  f"{[e.get('text') for e in new]}")
        for e, (t, k, name) in pairs:
            if name:
                check(e.get("sha256") == fx.sha(name), f"{ctx}: {t} event is about {fx.name_of(e.get('sha256'))}, want {name}")
                if fx.seq(name) != "-":
                    check(e.get("sequence") == fx.seq(name), f"{ctx}: {t} event sequence {e.get('sequence')}, want {fx.seq(name)}")
        self.new_events = new
        self.v1 = v1
        self.status = st
        return new


def expect_result(doc, kind, result, ctx, ok=None, seq=None, text=None):
    o = doc.get(kind) or {}
    check(o.get("result") == result, f"{ctx}: {kind} result {o.get('result')!r} ({o.get('text')}), want {result}")
    if ok is not None:
        check(o.get("ok") is ok, f"{ctx}: {kind} ok {o.get('ok')}, want {ok}")
    if seq is not None:
        check(o.get("sequence") == seq, f"{ctx}: {kind} sequence {o.get('sequence')}, want {seq}")
    if text is not None:
        check(re.search(text, o.get("text") or "", re.I), f"{ctx}: {kind} text {o.get('text')!r} does not match /{text}/")
    return o


def serve(m, name):
    """`ctlmirror serve --now AT` on a mirror's config (testlib.Daemon), stderr and stdout in its directory."""
    return Daemon(m.t.binary, m.config, m.dir, name).start()


def stop(d, ctx):
    """SIGTERM: the daemon exits 0, and its stderr holds no sanitizer report (one check)."""
    rc, _ = d.stop()
    if rc is None:
        check(False, f"{ctx}: serve did not exit within {Daemon.STOP_TIMEOUT} s of SIGTERM")
    san = d.sanitizer()
    check(rc == 0 and not san, f"{ctx}: serve exited {rc}; " + (f"sanitizer report: {san}" if san else
                                                                f"stderr tail:\n{d.stderr()[-3000:]}"))
    return rc


class Test:
    def __init__(self, binary, fx, tmp):
        self.binary, self.fx, self.tmp = binary, Fixtures(fx), tmp
        self.ups = []

    def upstream(self):
        u = FakeUpstream().start()
        self.ups.append(u)
        return u

    def publish(self, up, authroot=None, seq=True, disallowed=None, pinrules=None):
        """Scripts a whole upstream tree: the cabs by fixture name, the sequence file from the cab."""
        fx = self.fx
        m = {}
        if authroot:
            m[CAB["authroot"]] = Bytes(fx.data(authroot))
            if seq:
                m[SEQ] = Bytes(fx.seq(authroot).encode(), content_type="text/plain")
        if disallowed:
            m[CAB["disallowed"]] = Bytes(fx.data(disallowed))
        if pinrules:
            m[CAB["pinrules"]] = Bytes(fx.data(pinrules))
        up.update(m)

    # ------------------------------------------------------------------
    def faults(self):
        """One store through the whole series of faults, in order of ascending sequence."""
        fx = self.fx
        up = self.upstream()
        m = Mirror(self, "faults", [up.url])
        self.faults_mirror = m
        served = {"authroot": "authroot-ok", "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}

        # First round: all three kinds admitted; the listed roots are asked for (404 here).
        self.publish(up, "authroot-ok", disallowed="disallowed-ok", pinrules="pinrules-ok")
        s = Step(m, "first round")
        rc, doc, _ = m.sync()
        check(rc == 0, f"first round: exit {rc}: {doc}")
        for kind, name in served.items():
            expect_result(doc, kind, "admitted", "first round", ok=True, seq=fx.seq(name))
        check(doc.get("certs_fetched") == 0 and doc.get("certs_failed") == 4,
              f"first round: certs fetched {doc.get('certs_fetched')} failed {doc.get('certs_failed')}, want 0 and 4 (404s)")
        crt_asked = {r["path"] for r in up.requests() if r["path"].endswith(".crt")}
        check({f"/{fx.roots['root'][0]}.crt", f"/{fx.roots['legacy'][0]}.crt"} <= crt_asked,
              f"first round: the listed roots were not asked for after the admission: {sorted(crt_asked)}")
        s.after(served, [("admitted", k, n) for k, n in served.items()])
        for v in s.v1:
            check(v.get("source") == up.url + CAB[v.get("kind")], f"first round: source {v.get('source')}")

        # Conditional GET: the second round revalidates with what the upstream sent; 304: unchanged.
        mark = time.time()
        s = Step(m, "conditional GET")
        rc, doc, _ = m.sync()
        check(rc == 0, f"conditional GET: exit {rc}")
        for kind in KINDS:
            expect_result(doc, kind, "unchanged", "conditional GET", ok=True, text="not modified")
            reqs = up.requests(CAB[kind], since=mark)
            if check(len(reqs) == 1, f"conditional GET: {len(reqs)} requests for {CAB[kind]}"):
                h, b = reqs[0]["headers"], up.script["/" + CAB[kind]]
                check(h.get("if-none-match") == b.etag, f"conditional GET: {CAB[kind]} If-None-Match {h.get('if-none-match')!r}, want {b.etag!r}")
                check(h.get("if-modified-since") == email.utils.formatdate(b.last_modified, usegmt=True),
                      f"conditional GET: {CAB[kind]} If-Modified-Since {h.get('if-modified-since')!r}")
                check(reqs[0]["status"] == 304, f"conditional GET: {CAB[kind]} answered {reqs[0]['status']}")
        s.after(served)
        queries = [r["query"] for r in up.requests()]
        check(queries and all(re.fullmatch(r"[0-9a-f]{16}", q) for q in queries),
              f"random query: not 16 hex digits on every request: {queries[:6]}")
        check(len(set(queries)) == len(queries), "random query: a query string repeated")

        # Transfer faults on authrootstl.cab: a failed kind, nothing recorded, nothing changed.
        ok_cab = fx.data("authroot-ok")
        transfer_faults = [
            ("404", Status(404), r"HTTP 404"),
            ("500", Status(500), r"HTTP 500"),
            ("503", Status(503), r"HTTP 503"),
            ("hang past fetch_timeout", Hang(30), r"time(d)? ?out"),
            ("slow drip", Drip(ok_cab, 0.2), r"time(d)? ?out"),
            ("reset mid-body", Reset(ok_cab), r"reset|closed|partial|recv"),
            ("not HTTP", Garbage(), r"HTTP/0\.9|weird|unsupported|invalid|reply"),
            ("huge, declared", Huge(HUGE, declare=True), r"maximum file size|larger than"),
            ("huge, chunked", Huge(HUGE, declare=False), r"larger than|maximum file size"),
        ]
        for label, behaviour, why in transfer_faults:
            ctx = f"fault {label}"
            mark = time.time()
            up.set(CAB["authroot"], behaviour)
            s = Step(m, ctx)
            rc, doc, took = m.sync()
            check(rc == 1, f"{ctx}: exit {rc}, want 1 (a kind reached no upstream)")
            expect_result(doc, "authroot", "failed", ctx, ok=False, text=re.escape(up.url + CAB["authroot"]) + ".*" + why)
            for kind in ("disallowed", "pinrules"):
                expect_result(doc, kind, "unchanged", ctx, ok=True)
            s.after(served)
            check(took < FETCH_TIMEOUT + 8, f"{ctx}: the round took {took:.1f} s (fetch_timeout {FETCH_TIMEOUT} s)")
            reqs = up.requests(CAB["authroot"], since=mark)
            check(len(reqs) == 1, f"{ctx}: {len(reqs)} requests for the cab, want 1")
            if label.startswith("hang"):
                check(took >= FETCH_TIMEOUT - 0.5, f"{ctx}: the round ended after {took:.1f} s, before fetch_timeout")
            if label.startswith("huge") and reqs:
                sent = reqs[0].get("sent", 0)
                check(sent < HUGE and reqs[0].get("aborted_by_client"),
                      f"{ctx}: the upstream sent {sent} of {HUGE} bytes: the transfer was not cut at max_download")
            if label == "slow drip" and reqs:
                # the upstream notices at its next write or two
                wait_for(lambda: up.requests(CAB["authroot"], since=mark)[0].get("aborted_by_client"), 3)
                r0 = up.requests(CAB["authroot"], since=mark)[0]
                check(r0.get("aborted_by_client") and r0.get("sent", 0) < len(ok_cab),
                      f"{ctx}: the drip was not aborted: {r0.get('sent')} of {len(ok_cab)} bytes sent")

        # Whole bodies that are not a good cab: quarantined with the reason, never served.
        for name, reason in (("truncated", "CAB_MALFORMED"), ("garbage", "CAB_MALFORMED")):
            ctx = f"{name} cab as 200"
            up.set(CAB["authroot"], Bytes(fx.data(name)))
            s = Step(m, ctx)
            rc, doc, _ = m.sync()
            expect_result(doc, "authroot", "quarantined", ctx, text=reason)
            s.after(served, [("quarantined", "authroot", None)])
            v = {x["sha256"]: x for x in s.v1}.get(fx.sha(name), {})
            check(v.get("status") == "quarantined" and v.get("reason") == reason,
                  f"{ctx}: versions lists it as {v.get('status')} {v.get('reason')}, want quarantined {reason}")
            e = s.new_events[0] if s.new_events else {}
            check(e.get("sha256") == fx.sha(name) and reason in (e.get("text") or ""),
                  f"{ctx}: quarantine event {e}")

        # Connection refused on the first upstream, the second one works: authroot-sha1 admitted from it.
        closed = f"http://127.0.0.1:{closed_port()}/"
        m.conf([closed, up.url])
        self.publish(up, "authroot-sha1")
        mark = time.time()
        s = Step(m, "refused, then the second upstream")
        rc, doc, _ = m.sync()
        check(rc == 0, f"refused, then the second upstream: exit {rc}: {doc}")
        expect_result(doc, "authroot", "admitted", "refused, then the second upstream", ok=True, seq=fx.seq("authroot-sha1"))
        for kind in ("disallowed", "pinrules"):
            expect_result(doc, kind, "unchanged", "refused, then the second upstream", ok=True)
        served["authroot"] = "authroot-sha1"
        s.after(served, [("admitted", "authroot", "authroot-sha1")])
        v = {x["sha256"]: x for x in s.v1}.get(fx.sha("authroot-sha1"), {})
        check(v.get("source") == up.url + CAB["authroot"], f"refused, then the second upstream: source {v.get('source')}")
        check(len(up.requests(CAB["authroot"], since=mark)) == 1, "refused, then the second upstream: the second upstream was not asked once")
        m.conf([up.url])

        # The sequence file disagrees with the cab: an inconsistency is logged, the cab decides.
        up.update({CAB["authroot"]: Bytes(fx.data("legacy-anchor-ok")),
                   SEQ: Bytes(fx.seq("authroot-sha1").encode())})
        s = Step(m, "wrong sequence file")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "admitted", "wrong sequence file", ok=True, seq=fx.seq("legacy-anchor-ok"),
                      text="sequence file disagrees")
        served["authroot"] = "legacy-anchor-ok"
        new = s.after(served, [("admitted", "authroot", "legacy-anchor-ok"), ("inconsistent", "authroot", None)])
        if len(new) == 2:
            e = new[1]
            check(e.get("sequence") == fx.seq("legacy-anchor-ok"), f"wrong sequence file: event sequence {e.get('sequence')}")
            check(fx.seq("authroot-sha1") in (e.get("text") or "") and fx.seq("legacy-anchor-ok") in (e.get("text") or ""),
                  f"wrong sequence file: the event does not name both sequences: {e.get('text')!r}")
        # Agreeing again (unchanged cab): no new inconsistency.
        up.set(SEQ, Bytes(fx.seq("legacy-anchor-ok").encode()))
        s = Step(m, "sequence file agrees again")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "unchanged", "sequence file agrees again", ok=True)
        s.after(served)

        # A stale edge: the upstream goes back to an older verifying copy.
        self.publish(up, "timestamped-ok")
        s = Step(m, "stale edge")
        rc, doc, _ = m.sync()
        check(rc == 0, f"stale edge: exit {rc}")
        expect_result(doc, "authroot", "rollback", "stale edge", ok=True, seq=fx.seq("timestamped-ok"))
        new = s.after(served, [("rollback", "authroot", "timestamped-ok")])
        v = {x["sha256"]: x for x in s.v1}.get(fx.sha("timestamped-ok"), {})
        check(v.get("status") == "rollback" and v.get("reason") == "OK", f"stale edge: versions lists it as {v.get('status')} {v.get('reason')}")
        # The same stale copy again: nothing new is recorded.
        s = Step(m, "stale edge again")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "unchanged", "stale edge again", ok=True, text="older")
        s.after(served)
        # An older copy already stored (authroot-ok), served whole (a new ETag): nothing new either.
        up.update({CAB["authroot"]: Bytes(fx.data("authroot-ok"), etag='"stale-edge-copy"'),
                   SEQ: Bytes(fx.seq("authroot-ok").encode())})
        s = Step(m, "stale edge serving a stored older copy")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "unchanged", "stale edge serving a stored older copy", ok=True, text="older")
        s.after(served)

        # Copies that fail verification, then good newer ones.
        for name, reason in (("flipped-byte", "DIGEST_MISMATCH"), ("wrong-key", "BAD_SIGNATURE")):
            ctx = f"{name} upstream"
            self.publish(up, name)
            s = Step(m, ctx)
            rc, doc, _ = m.sync()
            expect_result(doc, "authroot", "quarantined", ctx, seq=fx.seq(name), text=reason)
            new = s.after(served, [("quarantined", "authroot", name)])
            check(new and reason in (new[0].get("text") or ""), f"{ctx}: the event does not give {reason}: {new and new[0].get('text')}")
            a = s.status.get("authroot") or {}
            nq = a.get("newest_quarantined") or {}
            check(nq.get("sha256") == fx.sha(name) and nq.get("reason") == reason,
                  f"{ctx}: status newest_quarantined {nq}, want {name} {reason}")
            check(a.get("health") == "warn", f"{ctx}: health {a.get('health')} {a.get('health_reasons')}, want warn")
            if name == "flipped-byte":
                # nested-ok: newer than the served copy, older than the failed one.
                self.publish(up, "nested-ok")
                s = Step(m, "nested-ok after flipped-byte")
                rc, doc, _ = m.sync()
                expect_result(doc, "authroot", "admitted", "nested-ok after flipped-byte", ok=True)
                served["authroot"] = "nested-ok"
                s.after(served, [("admitted", "authroot", "nested-ok")])
                a = s.status.get("authroot") or {}
                check(a.get("health") == "warn" and (a.get("newest_quarantined") or {}).get("reason") == "DIGEST_MISMATCH",
                      f"nested-ok after flipped-byte: the newer failed copy is not reported: {a}")
        self.publish(up, "sha256-large")
        s = Step(m, "good copy after failed ones")
        rc, doc, _ = m.sync()
        check(rc == 0, f"good copy after failed ones: exit {rc}")
        expect_result(doc, "authroot", "admitted", "good copy after failed ones", ok=True, seq=fx.seq("sha256-large"))
        served["authroot"] = "sha256-large"
        s.after(served, [("admitted", "authroot", "sha256-large")])
        a = s.status.get("authroot") or {}
        check(a.get("health") == "ok" and a.get("newest_quarantined") is None,
              f"good copy after failed ones: health {a.get('health')} {a.get('health_reasons')}, newest_quarantined {a.get('newest_quarantined')}")

        # random_query = no: plain URLs.
        m.conf(random_query="no")
        mark = time.time()
        s = Step(m, "random_query = no")
        rc, doc, _ = m.sync()
        s.after(served)
        reqs = up.requests(since=mark)
        check(reqs and all(r["query"] == "" for r in reqs), f"random_query = no: queries {[r['query'] for r in reqs]}")
        m.conf(random_query="yes")

    # ------------------------------------------------------------------
    def certs(self):
        """sync --certs: fetch the listed roots the store lacks, check their SHA-1."""
        fx = self.fx
        up = self.upstream()
        m = Mirror(self, "certs", [up.url])
        served = {"authroot": "authroot-ok", "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}
        self.publish(up, "authroot-ok", disallowed="disallowed-ok", pinrules="pinrules-ok")
        rc, doc, _ = m.sync()   # the listed roots are asked for, and 404
        check(rc == 0 and doc.get("certs_failed") == 4, f"certs: first round {doc}")
        shown = m.json_cmd("show", "--json", "--entries", fx.seq("authroot-ok"))
        listed = [e.get("thumbprint") for e in shown.get("entries_list") or []]
        (root, root_der), (legacy, legacy_der) = fx.roots["root"], fx.roots["legacy"]
        check(listed[:2] == [root, legacy], f"certs: the served CTL does not list the test roots first: {listed[:3]}")
        made_up = [t for t in listed if t not in (root, legacy)]
        bad = made_up[0]
        up.update({f"{root}.crt": Bytes(root_der), f"{legacy}.crt": Bytes(legacy_der),
                   f"{bad}.crt": Bytes(root_der)})  # bytes that do not hash to the name
        mark = time.time()
        s = Step(m, "sync --certs")
        rc, doc, _ = m.sync("--certs")
        check(rc == 1, f"sync --certs: exit {rc}, want 1 (some failed)")
        check(doc.get("certs_fetched") == 2 and doc.get("certs_failed") == len(listed) - 2,
              f"sync --certs: {doc}, want 2 fetched and {len(listed) - 2} failed")
        asked = sorted(r["path"] for r in up.requests(since=mark))
        check(asked == sorted(f"/{t}.crt" for t in listed), f"sync --certs asked for {asked[:6]}, want every listed root {listed}")
        s.after(served, [("cert_added", None, None), ("cert_added", None, None)])
        out = m.export()
        for t, der in ((root, root_der), (legacy, legacy_der)):
            p = os.path.join(out, f"{t}.crt")
            check(os.path.isfile(p) and open(p, "rb").read() == der, f"sync --certs: {t}.crt not exported byte-equal")
        check(not os.path.exists(os.path.join(out, f"{bad}.crt")), "sync --certs: a certificate that does not hash to its name was stored")
        # Next time only what is still missing is asked for.
        mark = time.time()
        rc, doc, _ = m.sync("--certs")
        asked = sorted(r["path"] for r in up.requests(since=mark))
        check(asked == sorted(f"/{t}.crt" for t in made_up), f"sync --certs again asked for {asked[:6]}, want only {made_up}")
        check(doc.get("certs_fetched") == 0, f"sync --certs again: {doc}")

    # ------------------------------------------------------------------
    def stale_first_upstream(self):
        """A first upstream behind what the mirror knows must not hide a newer copy on the second.

        A 304 or an already stored copy ends a kind's round only when that copy is the newest
        admitted one; a copy that failed or is older moves on to the next upstream
        (docs/operations.md, "Sync").
        """
        fx = self.fx
        stale, fresh = self.upstream(), self.upstream()
        m = Mirror(self, "stale-first", [stale.url, fresh.url])
        for up in (stale, fresh):
            self.publish(up, "authroot-ok", disallowed="disallowed-ok", pinrules="pinrules-ok")
        served = {"authroot": "authroot-ok", "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}
        s = Step(m, "two upstreams, round 1")
        rc, doc, _ = m.sync()
        check(rc == 0 and doc.get("authroot", {}).get("result") == "admitted", f"two upstreams, round 1: {doc}")
        s.after(served, [("admitted", k, n) for k, n in served.items()])
        check(not fresh.requests(CAB["authroot"]), "two upstreams, round 1: the second upstream was asked though the first answered")
        # The first upstream is down once; the second has authroot-sha1.
        stale.set(CAB["authroot"], Status(503))
        self.publish(fresh, "authroot-sha1")
        served["authroot"] = "authroot-sha1"
        s = Step(m, "first upstream down")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "admitted", "first upstream down", seq=fx.seq("authroot-sha1"))
        s.after(served, [("admitted", "authroot", "authroot-sha1")])
        # The first is back, still on authroot-ok (answering 304 to what it sent before), while
        # the second has legacy-anchor-ok.
        self.publish(stale, "authroot-ok")
        stale.set(CAB["authroot"], Bytes(fx.data("authroot-ok"), etag=etag_of(fx.data("authroot-ok"))))
        self.publish(fresh, "legacy-anchor-ok")
        served["authroot"] = "legacy-anchor-ok"
        s = Step(m, "stale first upstream")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "admitted", "stale first upstream", seq=fx.seq("legacy-anchor-ok"))
        s.after(served, [("admitted", "authroot", "legacy-anchor-ok")])
        # Again, the stale edge answering 200 with the stored older copy (another ETag).
        stale.set(CAB["authroot"], Bytes(fx.data("authroot-ok"), etag='"another-edge"'))
        self.publish(fresh, "nested-ok")
        served["authroot"] = "nested-ok"
        s = Step(m, "stale first upstream, whole body")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "admitted", "stale first upstream, whole body", seq=fx.seq("nested-ok"))
        s.after(served, [("admitted", "authroot", "nested-ok")])
        # A failed copy on the first, twice (quarantined, then stored already): the second decides.
        self.publish(stale, "flipped-byte")
        s = Step(m, "bad first upstream")
        rc, doc, _ = m.sync()
        expect_result(doc, "authroot", "unchanged", "bad first upstream", ok=True)
        s.after(served, [("quarantined", "authroot", "flipped-byte")])
        self.publish(fresh, "sha256-large")
        served["authroot"] = "sha256-large"
        s = Step(m, "bad first upstream again")
        rc, doc, _ = m.sync()
        check(rc == 0, f"bad first upstream again: exit {rc}")
        expect_result(doc, "authroot", "admitted", "bad first upstream again", seq=fx.seq("sha256-large"))
        s.after(served, [("admitted", "authroot", "sha256-large")])
        # A verifying older copy never seen (a rollback) on the first, the second unchanged.
        self.publish(stale, "timestamped-ok")
        s = Step(m, "rollback on the first upstream")
        rc, doc, _ = m.sync()
        check(rc == 0, f"rollback on the first upstream: exit {rc}")
        expect_result(doc, "authroot", "unchanged", "rollback on the first upstream", ok=True)
        s.after(served, [("rollback", "authroot", "timestamped-ok")])
        # Both on the newest: the first upstream's answer ends the round again.
        self.publish(stale, "sha256-large")
        for ctx in ("first upstream current", "first upstream current, 304"):
            mark = time.time()
            s = Step(m, ctx)
            rc, doc, _ = m.sync()
            expect_result(doc, "authroot", "unchanged", ctx, ok=True)
            s.after(served)
            check(not fresh.requests(CAB["authroot"], since=mark), f"{ctx}: the second upstream was asked")
        check(stale.requests(CAB["authroot"])[-1]["status"] == 304, "first upstream current: no 304 on the second round")

    # ------------------------------------------------------------------
    def resigned(self):
        """authroot-resigned: authroot-ok's sequence, other bytes (a SHA-1 signature), same chain."""
        fx = self.fx
        check(fx.seq("authroot-resigned") == fx.seq("authroot-ok") and fx.sha("authroot-resigned") != fx.sha("authroot-ok"),
              "forge: authroot-resigned is not authroot-ok's sequence with other bytes")
        for first, second in (("authroot-ok", "authroot-resigned"), ("authroot-resigned", "authroot-ok")):
            ctx = f"re-signed ({second} after {first})"
            up = self.upstream()
            m = Mirror(self, f"resigned-{first}", [up.url])
            self.publish(up, first, disallowed="disallowed-ok", pinrules="pinrules-ok")
            rc, doc, _ = m.sync()
            expect_result(doc, "authroot", "admitted", ctx + ", first", seq=fx.seq(first))
            self.publish(up, second)
            s = Step(m, ctx)
            rc, doc, _ = m.sync(now="2024-06-02T00:00:00Z")
            check(rc == 0, f"{ctx}: exit {rc}")
            expect_result(doc, "authroot", "admitted", ctx, ok=True, seq=fx.seq(second))
            # Equal chain windows: the first seen stays served (no flapping between the two).
            kept = {"authroot": first, "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}
            s.after(kept, [("admitted", "authroot", second)])
            same = [v for v in s.v1 if v.get("sequence") == fx.seq(first)]
            check(len(same) == 2 and {v.get("sha256") for v in same} == {fx.sha(first), fx.sha(second)},
                  f"{ctx}: {len(same)} version records with the sequence, want 2 (one per copy)")
            st = {v["sha256"]: v.get("status") for v in same}
            check(st.get(fx.sha(first)) == "served" and st.get(fx.sha(second)) == "admitted",
                  f"{ctx}: statuses {[(fx.name_of(k), x) for k, x in st.items()]}, want {first} served, {second} admitted")
            ends = {v.get("chain_valid_to") for v in same}
            check(len(ends) == 1, f"{ctx}: the two chains end at {ends}; the tie rule checked here assumes one end")
            # Back to the first: a duplicate, nothing changes.
            self.publish(up, first)
            s = Step(m, ctx + ", first again")
            rc, doc, _ = m.sync(now="2024-06-03T00:00:00Z")
            expect_result(doc, "authroot", "unchanged", ctx + ", first again", ok=True)
            s.after(kept)

    # ------------------------------------------------------------------
    def low_speed(self):
        """A drip under 512 B/s with a long fetch_timeout: the low-speed abort ends it (~15 s)."""
        fx = self.fx
        up = self.upstream()
        m = Mirror(self, "low-speed", [up.url], fetch_timeout="60s")
        self.publish(up, "authroot-ok", disallowed="disallowed-ok", pinrules="pinrules-ok")
        rc, doc, _ = m.sync()
        check(rc == 0, f"low speed: first round {doc}")
        up.set(CAB["disallowed"], Drip(fx.data("disallowed-ok") + b"\0" * 4096, 0.5))
        self.publish(up, "authroot-sha1")
        served = {"authroot": "authroot-sha1", "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}
        s = Step(m, "low-speed abort")
        rc, doc, took = m.sync()
        check(rc == 1, f"low-speed abort: exit {rc}")
        expect_result(doc, "disallowed", "failed", "low-speed abort", ok=False, text=r"too slow|less than 512")
        expect_result(doc, "authroot", "admitted", "low-speed abort (the other kinds go on)")
        check(13 <= took <= 40, f"low-speed abort: the round took {took:.1f} s, want about 15 s (fetch_timeout is 60 s)")
        s.after(served, [("admitted", "authroot", "authroot-sha1")])

    # ------------------------------------------------------------------
    def daemon(self):
        up = self.upstream()
        m = Mirror(self, "daemon", [up.url], poll_interval="1s", workers="1")
        self.publish(up, "authroot-ok", disallowed="disallowed-ok", pinrules="pinrules-ok")
        d = serve(m, "serve")
        try:
            self._daemon(m, d, up)
        finally:
            t0 = time.monotonic()
            stop(d, "daemon")
            check(time.monotonic() - t0 < 6, f"daemon: took {time.monotonic() - t0:.1f} s to stop on SIGTERM")
        evs = m.events()
        sync_ev = [e for e in evs if e.get("type") == "sync" and e.get("kind") == "authroot"]
        check(any("fail" in (e.get("text") or "") for e in sync_ev), f"daemon: no `sync` failure event: {sync_ev}")
        check(any("again" in (e.get("text") or "") for e in sync_ev), f"daemon: no `sync` recovery event: {sync_ev}")

    def _daemon(self, m, d, up):
        fx = self.fx

        def status_json():
            r = d.get("_ctlmirror/status.json")
            try:
                return json.loads(r.body).get("authroot") or {} if r.code == 200 else {}
            except ValueError:
                return {}

        def serves(name, path=CAB["authroot"]):
            r = d.get(path)
            return r.code == 200 and r.body == fx.data(name)

        def epoch(iso_time):
            return calendar.timegm(time.strptime(iso_time, "%Y-%m-%dT%H:%M:%SZ"))

        def metric(name):
            """A metric's value for kind="authroot" from /_ctlmirror/metrics (None: absent)."""
            r = d.get("_ctlmirror/metrics")
            m = re.search(r'^%s\{kind="authroot"\} (\S+)$' % name, r.body.decode(errors="replace"), re.M)
            return float(m.group(1)) if r.code == 200 and m else None

        check(wait_for(lambda: serves("authroot-ok"), 15), f"daemon: authroot-ok not served after the first poll: {d.get(CAB['authroot']).code}")
        for kind, name in (("disallowed", "disallowed-ok"), ("pinrules", "pinrules-ok")):
            check(wait_for(lambda: serves(name, CAB[kind]), 5), f"daemon: {name} not served")
        # A new version upstream is served within a poll or two.
        self.publish(up, "authroot-sha1")
        ok = wait_for(lambda: serves("authroot-sha1"), 10)
        check(ok, "daemon: authroot-sha1 not served within 10 s of being published")
        r = d.get(SEQ)
        check(r.code == 200 and r.body.decode().strip() == fx.seq("authroot-sha1"), f"daemon: {SEQ} {r.code} {r.body[:40]!r}")
        st = m.status()
        check((st.get("authroot") or {}).get("served", {}).get("sha256") == fx.sha("authroot-sha1"),
              "daemon: status --json (CLI, same store) does not show authroot-sha1 served")

        # Faults during polls: the daemon keeps answering, quickly, with the same bytes.
        for label, behaviour in (("hang", Hang(30)), ("500", Status(500)), ("not HTTP", Garbage()),
                                 ("reset", Reset(fx.data("authroot-ok"))),
                                 ("flipped-byte", Bytes(fx.data("flipped-byte")))):
            mark = time.time()
            up.set(CAB["authroot"], behaviour)
            polled = wait_for(lambda: len(up.requests(CAB["authroot"], since=mark)) >= 1, 10)
            check(polled, f"daemon: no poll reached the upstream during the {label} fault")
            worst = 0.0
            for _ in range(4):
                r = d.get(CAB["authroot"])
                worst = max(worst, r.secs)
                check(r.code == 200 and r.body == fx.data("authroot-sha1"), f"daemon during {label}: answered {r.code}, {len(r.body)} bytes")
            check(worst < 1.5, f"daemon during {label}: a client waited {worst:.2f} s")
            r = d.get("_ctlmirror/healthz")
            check(r.code in (200, 503) and r.body.strip() in (b"ok", b"warn", b"critical"), f"daemon during {label}: healthz {r.code} {r.body[:40]!r}")
            if label == "hang":
                # The round ends only at fetch_timeout: wait for it.
                wait_for(lambda: len(up.requests(CAB["authroot"], since=mark)) >= 2, FETCH_TIMEOUT + 10)
            if label != "flipped-byte":
                fails = wait_for(lambda: status_json().get("sync_failures", 0) >= 1, 10)
                check(fails, f"daemon during {label}: status.json shows no sync failure: {status_json()}")
                n = metric("ctlmirror_sync_consecutive_failures")
                check(n is not None and n >= 1, f"daemon during {label}: ctlmirror_sync_consecutive_failures {n}")
        wait_for(lambda: (status_json().get("newest_quarantined") or {}).get("reason") == "DIGEST_MISMATCH", 10)
        sj = status_json()
        check((sj.get("newest_quarantined") or {}).get("reason") == "DIGEST_MISMATCH" and sj.get("health") == "warn",
              f"daemon: status.json does not show the quarantined flipped-byte: {sj}")
        check(metric("ctlmirror_quarantined_newer") == 1,
              f"daemon: ctlmirror_quarantined_newer {metric('ctlmirror_quarantined_newer')} with flipped-byte quarantined")
        # Recovery: a good copy newer than the failed one is served, and health is ok again.
        rounds = d.stderr().count("root certificates fetched")
        self.publish(up, "sha256-large")
        check(wait_for(lambda: serves("sha256-large"), 15), "daemon: sha256-large not served after the faults")
        # Its round asks for the listed roots (404): let it end before the on-demand part.
        check(wait_for(lambda: d.stderr().count("root certificates fetched") > rounds, 30),
              "daemon: the round admitting sha256-large did not report its certificate fetches")
        wait_for(lambda: status_json().get("sync_failures") == 0, 5)
        sj = status_json()
        check(sj.get("sync_failures") == 0 and sj.get("last_sync") and sj.get("health") == "ok",
              f"daemon: status.json after recovery: {sj}")
        last = metric("ctlmirror_sync_last_success_seconds")
        check(metric("ctlmirror_sync_consecutive_failures") == 0 and metric("ctlmirror_quarantined_newer") == 0
              and last is not None and sj.get("last_sync") and 0 <= last - epoch(sj["last_sync"]) < 120,
              f"daemon: metrics after recovery: failures {metric('ctlmirror_sync_consecutive_failures')}, "
              f"quarantined_newer {metric('ctlmirror_quarantined_newer')}, last success {last} vs {sj.get('last_sync')}")

        # On-demand certificates. The store lacks the roots (404 when the versions were admitted).
        (root, root_der), (legacy, legacy_der) = fx.roots["root"], fx.roots["legacy"]
        untrusted = fx.roots["untrusted"][0]
        code = d.get(f"{untrusted}.crt").code
        check(code == 404, f"daemon: unlisted {untrusted}.crt answered {code}")
        check(not up.requests(f"{untrusted}.crt"), "daemon: an unlisted thumbprint was fetched upstream")
        mark = time.time()
        up.set(f"{root}.crt", Bytes(root_der, delay=1.0))
        results = [None] * 6

        def one(i):
            results[i] = d.get(f"{root.lower() if i % 2 else root}.crt")
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for i, r in enumerate(results):
            check(r is not None and r.code == 200 and r.body == root_der and r.h("content-type") == "application/pkix-cert",
                  f"daemon: concurrent request {i} for {root}.crt: {r and (r.code, len(r.body), r.h('content-type'))}")
        n = len(up.requests(f"{root}.crt", since=mark))
        check(n == 1, f"daemon: {len(results)} concurrent requests for a missing root made {n} upstream fetches, want 1")
        r = d.get(f"{root}.crt")
        check(r.code == 200 and r.body == root_der and len(up.requests(f"{root}.crt", since=mark)) == 1,
              "daemon: a stored root was fetched upstream again")
        # A client that gives up while its root is fetched: the fetch still ends, the root is stored.
        up.set(f"{legacy}.crt", Bytes(legacy_der, delay=1.0))
        mark = time.time()
        code = d.get(f"{legacy}.crt", timeout=0.3).code
        check(code == 0, f"daemon: a client with a 0.3 s limit got {code} for a root that takes 1 s upstream")
        check(wait_for(lambda: sum(e.get("type") == "cert_added" for e in m.events()) == 2, 10),
              "daemon: the root a client gave up on was not stored")
        r = d.get(f"{legacy}.crt")
        check(r.code == 200 and r.body == legacy_der, f"daemon: {legacy}.crt after the fetch answered {r.code}")
        check(len(up.requests(f"{legacy}.crt", since=mark)) == 1, "daemon: the root a client gave up on was fetched twice")
        # Listed roots with wrong bytes upstream (they do not hash to the name), or none: 404, nothing stored.
        shown = m.json_cmd("show", "--json", "--entries", fx.seq("sha256-large"))
        made_up = [e.get("thumbprint") for e in shown.get("entries_list") or []][2:4]
        if check(len(made_up) == 2, f"daemon: sha256-large lists {shown.get('entries')} entries"):
            wrong, absent = made_up
            up.set(f"{wrong}.crt", Bytes(root_der))
            for t, what in ((wrong, "bytes that do not hash to its name"), (absent, "a 404 upstream")):
                mark = time.time()
                code = d.get(f"{t}.crt").code
                check(code == 404, f"daemon: listed {t}.crt with {what} answered {code}")
                # at most once: a polling round may have asked already, and its failure is
                # remembered (cert_retry_after), so the client's 404 then costs no fetch
                check(len(up.requests(f"{t}.crt", since=mark)) <= 1,
                      f"daemon: listed {t}.crt ({what}) was asked upstream more than once")
        added = [e for e in m.events() if e.get("type") == "cert_added"]
        check(len(added) == 2, f"daemon: {len(added)} cert_added events, want 2 (the two roots)")
        # Stopped while a poll's transfer is in flight: a prompt, clean exit (ASan: nothing leaked).
        mark = time.time()
        up.set(CAB["authroot"], Hang(30))
        check(wait_for(lambda: up.requests(CAB["authroot"], since=mark), 10), "daemon: no poll after the last fault")

    # ------------------------------------------------------------------
    def hierarchy(self):
        fx = self.fx
        up = self.upstream()
        parent = Mirror(self, "parent", [up.url])
        self.publish(up, "authroot-ok", disallowed="disallowed-ok", pinrules="pinrules-ok")
        (root, root_der), (legacy, legacy_der) = fx.roots["root"], fx.roots["legacy"]
        up.update({f"{root}.crt": Bytes(root_der), f"{legacy}.crt": Bytes(legacy_der)})
        rc, doc, _ = parent.sync()
        check(doc.get("certs_fetched") == 2, f"hierarchy: the parent fetched {doc.get('certs_fetched')} roots, want 2")
        pd = serve(parent, "serve")
        try:
            child = Mirror(self, "child", [pd.url])
            served = {"authroot": "authroot-ok", "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}
            s = Step(child, "child of a ctlmirror")
            rc, doc, _ = child.sync()
            for kind, name in served.items():
                expect_result(doc, kind, "admitted", "child of a ctlmirror", ok=True, seq=fx.seq(name))
            check(doc.get("certs_fetched") == 2, f"child of a ctlmirror: {doc.get('certs_fetched')} roots fetched from the parent, want 2")
            s.after(served, [("admitted", k, n) for k, n in served.items()] + [("cert_added", None, None)] * 2)
            for v in s.v1:
                check(v.get("source", "").startswith(pd.url), f"child: source {v.get('source')}")
            s = Step(child, "child, parent unchanged")
            rc, doc, _ = child.sync()
            for kind in KINDS:
                expect_result(doc, kind, "unchanged", "child, parent unchanged", ok=True, text="not modified")
            s.after(served)
            # The parent admits a newer version (import, taken at its next request): the child follows.
            r = parent.run("import", "--at", AT, "--json", os.path.join(fx.dir, fx.rows["authroot-sha1"]["file"]))
            check(r.returncode == 0, f"hierarchy: import into the parent: {out_of(r)}")
            served["authroot"] = "authroot-sha1"
            s = Step(child, "child, parent newer")
            rc, doc, _ = child.sync()
            expect_result(doc, "authroot", "admitted", "child, parent newer", seq=fx.seq("authroot-sha1"))
            s.after(served, [("admitted", "authroot", "authroot-sha1")])
            # A parent serving a bad copy (the fake upstream mimics one): the child verifies for itself.
            bad = self.upstream()
            for kind, name in served.items():
                bad.set(CAB[kind], Bytes(fx.data(name)))
            bad.update({CAB["authroot"]: Bytes(fx.data("flipped-byte")), SEQ: Bytes(fx.seq("flipped-byte").encode())})
            child.conf([bad.url])
            s = Step(child, "child of a bad parent")
            rc, doc, _ = child.sync()
            expect_result(doc, "authroot", "quarantined", "child of a bad parent", text="DIGEST_MISMATCH")
            for kind in ("disallowed", "pinrules"):
                expect_result(doc, kind, "unchanged", "child of a bad parent", ok=True)
            s.after(served, [("quarantined", "authroot", "flipped-byte")])
            cd = serve(child, "serve")
            try:
                r = cd.get(CAB["authroot"])
                check(r.code == 200 and r.body == fx.data("authroot-sha1"), f"child of a bad parent serves {r.code} {fx.name_of(sha256(r.body))}")
                r = cd.get(SEQ)
                check(r.body.decode(errors="replace").strip() == fx.seq("authroot-sha1"), f"child of a bad parent: {SEQ} {r.body[:40]!r}")
            finally:
                stop(cd, "child daemon")
        finally:
            stop(pd, "parent daemon")

    # ------------------------------------------------------------------
    def blobs_intact(self):
        """Every admitted version of the faults store still exports byte-equal (pinned, in a copy)."""
        fx, m = self.fx, self.faults_mirror
        copy = Mirror(self, "faults-copy", [])
        shutil.copytree(m.store, copy.store)
        n = 0
        for v in copy.versions():
            if v.get("status") not in ("served", "admitted", "pinned"):
                continue
            r = copy.run("pin", "--force", v["sha256"][:16])
            if not check(r.returncode == 0, f"blobs: pin {fx.name_of(v['sha256'])}: {out_of(r)}"):
                continue
            out = copy.export()
            p = os.path.join(out, CAB[v["kind"]])
            check(os.path.isfile(p) and sha256(open(p, "rb").read()) == v["sha256"],
                  f"blobs: {fx.name_of(v['sha256'])} does not export byte-equal")
            shutil.rmtree(out, ignore_errors=True)
            copy.run("unpin", "--kind", v["kind"])
            n += 1
        check(n == 7, f"blobs: {n} admitted versions checked, want 7 (5 authroot, disallowed, pinrules)")


def main():
    if len(sys.argv) != 3:
        print("usage: sync_faults.py CTLMIRROR FIXTURES_DIR", file=sys.stderr)
        return 2
    binary, fx = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx} (run build/tests/forge {fx})")
        return 1
    tmp = tempfile.mkdtemp(prefix="ctlmirror-sync-faults-")
    t = Test(binary, fx, tmp)
    sections = []

    def section(name, fn):
        t0 = time.monotonic()
        try:
            fn()
        except Broken as e:
            failures.append(f"{name}: {e}")
        except Exception:
            failures.append(f"{name}: test raised\n{traceback.format_exc()}")
        sections.append((name, time.monotonic() - t0))

    try:
        if "authroot-resigned" not in t.fx.rows:
            failures.append("forge: no authroot-resigned case in cases.tsv")
        # The 15-second low-speed abort runs beside the rest, on its own store and upstream.
        slow = threading.Thread(target=section, args=("low speed", t.low_speed))
        slow.start()
        section("faults", t.faults)
        if hasattr(t, "faults_mirror"):
            section("blobs", t.blobs_intact)
        section("certs", t.certs)
        section("stale first upstream", t.stale_first_upstream)
        if "authroot-resigned" in t.fx.rows:
            section("re-signed", t.resigned)
        section("daemon", t.daemon)
        section("hierarchy", t.hierarchy)
        slow.join(timeout=120)
    finally:
        Daemon.stop_all()
        for u in t.ups:
            u.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report("sync_faults: " + ", ".join(f"{n} {s:.1f}s" for n, s in sections),
                  f"sync_faults: {len(sections)} sections, {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
