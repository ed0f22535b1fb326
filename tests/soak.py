#!/usr/bin/env python3
"""The soak test: clients, syncs that change the served version, pins and SIGHUPs, all at once,
every reply checked against what could have been served while it was in flight.

One daemon (three workers, poll_interval 1s, --now 2024-06-01) over a store holding the forged
authroot-ok, disallowed-sha256 and pinrules-ok and the two listed test roots, polling a scripted
fake upstream (fake_upstream.py) on 127.0.0.1. For SOAK_SECONDS (default 20) these run together:
  - the publisher: steps the upstream through newer genuine copies (authroot-sha1 <
    legacy-anchor-ok < nested-ok; disallowed-eku-31 < disallowed-ok), with stale edges (an older
    stored copy, an older copy never seen: timestamped-ok) and a copy that fails verification
    (wrong-key) between them; each newer copy is confirmed admitted with `ctlmirror versions`;
  - the pinner: `ctlmirror pin VERSION` of a stored verifying version of authroot or disallowed
    (rollbacks included) and `ctlmirror unpin [--kind K]`, on the same store;
  - SOAK_CLIENTS (default 6) clients: authrootstl.cab, authrootseq.txt, disallowedcertstl.cab,
    pinrulesstl.cab, the listed roots' .crt and an unlisted one, through the flat, DNS (Host
    header, with and without a port) and proxy (absolute URI) ways, GET, HEAD, a Range, and
    revalidation with If-None-Match, If-Modified-Since or both from what they last got; on
    keep-alive connections of random length (a request that finds a reused connection closed is
    sent again on a new one, as any client does);
  - SIGHUPs at random intervals, in bursts too, the config file sometimes rewritten;
  - an operator: status.json, healthz and metrics, and the daemon's RSS.

The model. Each state change is recorded as a window [began, confirmed] (the publisher: from
the upstream publishing it to `versions` showing it admitted; the pinner: the pin command's
run). Per kind, the pin and the newest admitted version are step functions of time; a value is
possible at time t from its window's start until the next change's confirmation. For a request
sent at s and answered at r, the versions that could legitimately be served are the pins
possible in [s, r], plus the newest admitted versions possible in [s, r] if no pin is possible
then. Checked, for every reply:
  - a 200's body is one version's exact bytes (a 206 its exact slice, with Content-Range; a
    HEAD its length), with that version's ETag (the cab's SHA-256; the sequence file's "seq-"
    tag), and the version is one that could be served then: a version of the upstream that was
    stale, failed verification or was only ever a rollback is never served unless pinned;
  - the sequence file names a servable authroot version; a pin confirmed before a request was
    sent, and not changed before it was answered, is what it gets;
  - a 304 only when the validators sent were those of a servable version; a 200 carrying the
    very ETag sent in If-None-Match (or a Last-Modified not after If-Modified-Since) should have
    been a 304;
  - Last-Modified: one value per served episode (never two versions under one date), and never
    steps back between replies that did not overlap in time (the cab's and the sequence file's
    together);
  - the .crt of a listed stored root is its DER, an unlisted one 404; no other status (no 5xx,
    no 503: every kind is served and max_connections is well above the clients);
  - status.json names a servable version per kind, healthz answers 200;
  - at the end: the publisher made at least one change by sync, pins and SIGHUPs happened, the
    config was re-read, the daemon's RSS stayed bounded (peak at most twice its level after the
    warm-up plus 64 MB, plus ASan's quarantine in an ASan build), it exits 0 on SIGTERM with no
    sanitizer report on stderr.

It prints a summary: requests per way, per file and per status, changes of the served version by
sync and by pins, SIGHUPs, RSS, failures.

usage: soak.py CTLMIRROR FIXTURES_DIR   (SOAK_SECONDS, SOAK_CLIENTS from the environment)
"""
import collections
import email.utils
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_upstream import Bytes, FakeUpstream  # noqa: E402
from testlib import (AT, Broken, Daemon, Fixtures, Stream, check, checks, failures, json_lines, report,
                     sha256, wait_for, write_config)  # noqa: E402

UP = "/msdownload/update/v3/static/trustedr/en/"
HOSTS = ("ctldl.windowsupdate.com", "www.download.windowsupdate.com")
CAB = {"authroot": "authrootstl.cab", "disallowed": "disallowedcertstl.cab", "pinrules": "pinrulesstl.cab"}
SEQ = "authrootseq.txt"
KINDS = ("authroot", "disallowed", "pinrules")
INITIAL = {"authroot": "authroot-ok", "disallowed": "disallowed-sha256", "pinrules": "pinrules-ok"}
# The publisher's steps, in order: ("new", case) a newer genuine copy (admitted, served unless
# pinned), ("stale", case) an older one (a rollback: nothing changes), ("bad", case) a newer
# copy that fails verification (quarantined: nothing changes). sha256-large is left out: it
# lists 498 roots nobody has, which every round would ask the upstream for.
STEPS = [("new", "authroot-sha1"), ("new", "disallowed-eku-31"), ("stale", "authroot-ok"),
         ("new", "legacy-anchor-ok"), ("bad", "wrong-key"), ("new", "disallowed-ok"),
         ("stale", "timestamped-ok"), ("new", "nested-ok"), ("stale", "disallowed-sha256")]
INF = float("inf")
WAIT = 90       # seconds: the longest wait for the daemon to do something (sanitizer builds are slow)

lock = threading.Lock()


def fail(msg):
    """A failure from any thread, checked once (at most 40 messages kept, the rest counted)."""
    with lock:
        check(False, msg)


def now():
    return time.monotonic()


def count(counter, key, n=1):
    with lock:
        counter[key] += n


def asan_quarantine_kb(binary):
    """What AddressSanitizer may hold of freed memory before reusing it, with its shadow
    (quarantine_size_mb, 256 MB by default), when binary is an ASan build; else 0."""
    with open(binary, "rb") as f:
        if b"__asan_init" not in f.read():
            return 0
    mb = 256
    for opt in os.environ.get("ASAN_OPTIONS", "").split(":"):
        if opt.startswith("quarantine_size_mb="):
            mb = int(opt.split("=", 1)[1])
    return mb * 1024 * 9 // 8


# ---------------------------------------------------------------- the model

class Timeline:
    """One variable (a kind's pin, or its newest admitted version) as a step function of time:
    steps [began, confirmed, value]; a value is possible from its began until the next step's
    confirmed (for ever while that is unknown)."""

    def __init__(self, initial):
        self.steps = [[-INF, -INF, initial]]

    def begin(self, value):
        with lock:
            self.steps.append([now(), None, value])
            return len(self.steps) - 1

    def confirm(self, i):
        with lock:
            self.steps[i][1] = now()

    def narrow(self, i, began):
        """A later start of step i, learnt afterwards (it cannot have happened before began)."""
        with lock:
            self.steps[i][0] = max(self.steps[i][0], began)

    def current(self):
        with lock:
            return self.steps[-1][2]

    def possible(self, s, r):
        with lock:
            steps = [list(x) for x in self.steps]
        out = set()
        for k, (b, _, v) in enumerate(steps):
            nxt = steps[k + 1][1] if k + 1 < len(steps) else INF
            if b <= r and (nxt is None or nxt > s):
                out.add(v)
        return out

    def changes(self):
        return len(self.steps) - 1


class Model:
    def __init__(self):
        self.pin = {k: Timeline(None) for k in KINDS}
        self.newest = {k: Timeline(INITIAL[k]) for k in KINDS}

    def horizon(self):
        """When the earliest state change not yet confirmed began (INF: none is open)."""
        with lock:
            return min((b for tl in list(self.pin.values()) + list(self.newest.values())
                        for b, c, _ in tl.steps if c is None), default=INF)

    def allowed(self, kind, s, r):
        """The cases that could legitimately have been served for kind between s and r."""
        pins = self.pin[kind].possible(s, r)
        out = {p for p in pins if p is not None}
        if None in pins:
            out |= self.newest[kind].possible(s, r)
        return out


# ---------------------------------------------------------------- the soak

class Soak:
    def __init__(self, binary, fx, tmp, seconds, clients):
        self.binary, self.F, self.tmp = binary, Fixtures(fx), tmp
        self.seconds, self.n_clients = seconds, clients
        self.dir = os.path.join(tmp, "soak")
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.cfg = os.path.join(self.dir, "ctlmirror.conf")
        self.model = Model()
        self.stop = threading.Event()
        self.pending = collections.deque()  # replies not judged yet (see client() and judge_ready())
        self.judged = self.wrong = 0
        self.lm_versions = collections.defaultdict(set)    # (kind, Last-Modified) -> versions
        self.lm_span = {}           # (kind, Last-Modified) -> [first answered, last asked]
        self.status_docs = []       # (s, r, {kind: (sha256, pinned)})
        self.rss = []               # (t, kB)
        self.counts = collections.Counter()
        self.unannounced = {}       # the request before a keep-alive connection was closed unannounced
        self.d = self.up = None
        F = self.F
        self.cases = {}
        for kind in KINDS:
            for n, c in F.rows.items():
                if c["kind"] == kind and c["reason"] == "OK" and c["file"].endswith(".cab") and n != "authroot-resigned":
                    self.cases[n] = c
        self.kind_of = {n: c["kind"] for n, c in self.cases.items()}
        self.by_sha = {c["sha256"]: n for n, c in self.cases.items()}
        # what a reply for each version must carry
        self.etag = {n: f'"{c["sha256"]}"' for n, c in self.cases.items()}
        self.seq_etag = {n: f'"seq-{c["sha256"][:40]}"' for n, c in self.cases.items() if c["kind"] == "authroot"}
        self.seq_body = {n: c["sequence"].encode() for n, c in self.cases.items() if c["kind"] == "authroot"}
        self.upbytes = {}           # one Bytes per case: its validators stay the same across steps

    # -- set-up ------------------------------------------------------------------
    def cli(self, *args, timeout=180):
        return subprocess.run([self.binary, args[0], "-c", self.cfg, *args[1:]], capture_output=True,
                              text=True, timeout=timeout)

    def write_cfg(self, note=0):
        write_config(self.cfg, self.store, self.F.anchors, self.F.pins, upstream=self.up.url, workers=3,
                     poll_interval="1s", fetch_timeout="10s", max_connections=1024, flat_prefix="/")
        with open(self.cfg, "a") as f:
            f.write(f"# rewritten {note}\n")

    def publish(self, case):
        F = self.F
        kind = F[case]["kind"]
        if case not in self.upbytes:
            self.upbytes[case] = Bytes(F.data(case))
            if kind == "authroot" and F[case]["sequence"] != "-":
                self.upbytes[case + "/seq"] = Bytes(F.seq(case).encode(), content_type="text/plain")
        m = {CAB[kind]: self.upbytes[case]}
        if kind == "authroot":
            m[SEQ] = self.upbytes.get(case + "/seq")
        self.up.update(m)

    def setup(self):
        F = self.F
        self.up = FakeUpstream().start()
        for kind in KINDS:
            self.publish(INITIAL[kind])
        self.write_cfg()
        r = self.cli("import", "--at", AT, "--json", *[F.path(INITIAL[k]) for k in KINDS])
        got = [o.get("result") for o in json_lines(r, "import --json")]
        if got != ["admitted"] * 3:
            raise Broken(f"initial import: {got}: {r.stderr.strip()[:300]}")
        paths = []
        for label in ("root", "legacy"):
            sha1, der = F.roots[label]
            p = os.path.join(self.dir, f"{sha1}.crt")
            with open(p, "wb") as f:
                f.write(der)
            paths.append(p)
        r = self.cli("import", "--json", *paths)
        got = [o.get("result") for o in json_lines(r, "import --json")]
        if got != ["cert_added"] * 2:
            raise Broken(f"certificate import: {got}: {r.stderr.strip()[:300]}")
        self.d = Daemon(self.binary, self.cfg, self.dir, "soak").start()

    def versions(self):
        r = self.cli("versions", "--json")
        if r.returncode != 0:
            raise Broken(f"versions --json: exit {r.returncode}: {r.stderr.strip()[:300]}")
        return json.loads(r.stdout)

    # -- the publisher -----------------------------------------------------------
    def publisher(self):
        gap = max(0.5, self.seconds * 0.8 / len(STEPS))
        newest = dict(INITIAL)
        for what, case in STEPS:
            if self.stop.wait(gap):
                return
            kind = self.F[case]["kind"]
            sha = self.F.sha(case)
            if what == "new":
                i = self.model.newest[kind].begin(case)
                mark = time.time()
                self.publish(case)
                ok = wait_for(lambda: self.stop.is_set() or any(
                    v.get("sha256") == sha and v.get("status") in ("served", "pinned", "admitted")
                    for v in self.versions()), WAIT, step=0.1)
                if self.stop.is_set():
                    return      # left open: both values stay possible to the end
                if not ok:
                    fail(f"publisher: {case} not admitted within {WAIT}s of being published: "
                         f"{[(v.get('kind'), v.get('sequence'), v.get('status')) for v in self.versions()]}")
                    return
                # it was admitted after the daemon fetched it: the upstream's first 200 of its
                # length (from a little before the publishing: a request stamped just before it
                # may have been answered with the new bytes; an earlier stamp changes nothing)
                got = [q["time"] for q in self.up.requests(CAB[kind], since=mark - 1)
                       if q["status"] == 200 and q["sent"] == len(self.F.data(case))]
                if got:
                    self.model.newest[kind].narrow(i, min(got) - time.time() + now())
                self.model.newest[kind].confirm(i)
                newest[kind] = case
                count(self.counts, "sync changes")
            else:
                # a stale or failing copy: the daemon fetches it (two more requests: one round
                # ended), records it, and nothing servable changes; then the newest again
                mark = time.time()
                self.publish(case)
                wait_for(lambda: self.stop.is_set() or len(self.up.requests(CAB[kind], since=mark)) >= 2, WAIT, step=0.2)
                if self.stop.is_set():
                    return
                seen = wait_for(lambda: self.stop.is_set() or any(v.get("sha256") == sha for v in self.versions()),
                                WAIT, step=0.3)
                if not self.stop.is_set():
                    check(seen, f"publisher: the {what} copy {case} was fetched but not recorded")
                self.publish(newest[kind])
                count(self.counts, f"{what} copies")

    # -- the pinner --------------------------------------------------------------
    def pinner(self):
        rng = random.Random()
        while not self.stop.wait(rng.uniform(0.3, 1.5) * max(1.0, self.seconds / 60)):
            kind = "authroot" if rng.random() < 0.7 else "disallowed"
            tl = self.model.pin[kind]
            if tl.current() is not None and rng.random() < 0.5:
                args = ["unpin"] + ([] if kind == "authroot" and rng.random() < 0.5 else ["--kind", kind])
                value = None
            else:
                vs = [v for v in self.versions() if v.get("kind") == kind and
                      v.get("status") in ("served", "pinned", "admitted", "rollback") and v.get("sha256") in self.by_sha]
                if not vs:
                    continue
                # another version than the one served now, when there is one: a change to see
                served = tl.current() or self.model.newest[kind].current()
                others = [v for v in vs if self.by_sha[v["sha256"]] != served]
                value = self.by_sha[rng.choice(others or vs)["sha256"]]
                args = ["pin", "--force", "--reason", "soak", self.F.sha(value)[:16]]
            i = tl.begin(value)
            r = self.cli(*args)
            if r.returncode != 0:
                fail(f"pinner: {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[:300]}")
                return      # the window stays open: the model is no longer exact from here
            tl.confirm(i)
            count(self.counts, "unpins" if value is None else "pins")

    # -- SIGHUP ------------------------------------------------------------------
    def hupper(self):
        rng = random.Random()
        n = 0
        while not self.stop.wait(rng.uniform(0.2, 1.0)):
            if rng.random() < 0.2:
                n += 1
                self.write_cfg(n)
            for _ in range(10 if rng.random() < 0.1 else 1):
                self.d.signal(signal.SIGHUP)
                count(self.counts, "SIGHUPs")
                os.sched_yield()

    # -- the operator ------------------------------------------------------------
    def rss_kb(self):
        try:
            with open(f"/proc/{self.d.p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def operator(self):
        n = 0
        while not self.stop.wait(0.5):
            n += 1
            kb = self.rss_kb()
            if kb is not None:
                self.rss.append((now(), kb))
            for path in ("/_ctlmirror/status.json", "/_ctlmirror/healthz") + (("/_ctlmirror/metrics",) if n % 4 == 0 else ()):
                s = now()
                try:
                    with Stream(self.d.port, timeout=30) as st:
                        st.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                        code, _, body = st.response()
                except (Broken, OSError) as e:
                    fail(f"operator: {path}: {e!r}")
                    continue
                r = now()
                count(self.counts, f"operator {path}")
                if path.endswith("healthz"):
                    if code != 200 or body.strip() not in (b"ok", b"warn"):
                        fail(f"operator: healthz {code} {body[:60]!r}, want 200 ok or warn")
                elif path.endswith("status.json"):
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        fail(f"operator: status.json is not JSON: {code} {body[:200]!r}")
                        continue
                    got = {}
                    for kind in KINDS:
                        sv = (doc.get(kind) or {}).get("served") or {}
                        got[kind] = sv.get("sha256")
                    self.status_docs.append((s, r, got))
                elif code != 200:
                    fail(f"operator: {path} answered {code}")

    # -- the clients -------------------------------------------------------------
    def client(self, i):
        rng = random.Random()
        port = self.d.port
        st, used, limit = None, 0, rng.randint(1, 40)
        prev, last_reply = None, 0.0
        held = {}       # file -> (case, etag, last-modified) of the last 200
        roots = [(self.F.roots["root"][0], self.F.roots["root"][1]), (self.F.roots["legacy"][0], self.F.roots["legacy"][1])]
        unlisted = self.F.roots["untrusted"][0]
        files = [CAB["authroot"]] * 6 + [SEQ] * 4 + [CAB["disallowed"]] * 3 + [CAB["pinrules"]] * 2 + ["crt"] * 2 + ["unlisted"]
        while not self.stop.is_set():
            name = rng.choice(files)
            want_der = None
            if name == "crt":
                sha1, want_der = rng.choice(roots)
                name = f"{sha1 if rng.random() < 0.5 else sha1.lower()}.crt"
            elif name == "unlisted":
                name = f"{unlisted}.crt"
            way = rng.choice(("flat", "dns", "proxy"))
            host = rng.choice(HOSTS)
            query = f"?{rng.getrandbits(64):016x}" if rng.random() < 0.5 else ""
            if way == "flat":
                target, hosthdr = f"/{name}{query}", f"127.0.0.1:{port}"
            elif way == "dns":
                target, hosthdr = f"{UP}{name}{query}", rng.choice((host, f"{host}:{port}"))
            else:
                target, hosthdr = f"http://{host}{UP}{name}{query}", host
            mode = "get"
            extra = ""
            h = held.get(name)
            x = rng.random()
            if name.endswith(".crt"):
                mode = "head" if x < 0.2 else "get"
            elif x < 0.15:
                mode = "head"
            elif x < 0.25:
                mode = "range"
            elif h is not None and x < 0.65:
                mode = rng.choice(("inm", "ims", "both"))
            span = None
            if mode == "range":
                a = rng.randrange(0, 200) if name != SEQ else rng.randrange(0, 24)
                span = (a, a + rng.randrange(0, 300))
                extra = f"Range: bytes={span[0]}-{span[1]}\r\n"
            if mode in ("inm", "both"):
                extra += f"If-None-Match: {h[1]}\r\n"
            if mode in ("ims", "both"):
                extra += f"If-Modified-Since: {h[2]}\r\n"
            used += 1
            close = used >= limit
            if close:
                extra += "Connection: close\r\n"
            req = f"{'HEAD' if mode == 'head' else 'GET'} {target} HTTP/1.1\r\nHost: {hosthdr}\r\n{extra}\r\n".encode()
            s = now()
            resp, err = None, None
            for attempt in range(2):
                fresh = st is None
                try:
                    if st is None:
                        st = Stream(port, timeout=60)
                    st.send(req)
                    resp = st.response(head=(mode == "head"))
                    break
                except (Broken, OSError) as e:
                    nothing = not st.buf if st is not None else True
                    if st is not None:
                        st.close()
                    st = None
                    err = repr(e)
                    if fresh or not nothing:
                        break       # a new connection failed, or a reply broke off: the daemon's fault
                    count(self.counts, "resent on a new connection")
                    if now() - last_reply < 5:
                        # not an idle connection's timeout (seconds away): a close the last
                        # reply did not announce (RFC 9112 9.6: it must say Connection: close)
                        count(self.counts, "closed unannounced")
                        with lock:
                            self.unannounced.setdefault(prev, 0)
                            self.unannounced[prev] += 1
            r = last_reply = now()
            prev = f"{way} {mode} {name}"
            if close and st is not None:
                st.close()
                st = None
            if st is None:
                used, limit = 0, rng.randint(1, 40)
            count(self.counts, f"way {way}")
            count(self.counts, f"mode {mode}")
            if resp is None:
                fail(f"client {i}: {mode} {target} (Host {hosthdr}): no reply: {err}")
                continue
            code, hdrs, body = resp
            count(self.counts, f"status {code}")
            count(self.counts, f"file {name if not name.endswith('.crt') else 'crt'}")
            if code >= 500:
                fail(f"client {i}: {mode} {target}: {code} {body[:100]!r}")
                continue
            if name.endswith(".crt"):
                if want_der is not None:
                    ok = code == 200 and hdrs.get("content-type") == "application/pkix-cert" and (
                        body == want_der if mode == "get" else hdrs.get("content-length") == str(len(want_der)))
                    if not ok:
                        fail(f"client {i}: {mode} {target}: {code} {len(body)} bytes, want the root's {len(want_der)} bytes of DER")
                elif code != 404:
                    fail(f"client {i}: {target} (not listed): {code}, want 404")
                continue
            kind = "authroot" if name == SEQ else [k for k, v in CAB.items() if v == name][0]
            matches = self.matching(name, kind, mode, code, hdrs, body, h, span, f"client {i}: {mode} {target}")
            if matches is None:
                continue
            if code == 200 and mode != "head":
                held[name] = (next(iter(matches)), hdrs.get("etag"), hdrs.get("last-modified"))
            self.pending.append((s, r, kind, code, frozenset(matches), hdrs.get("last-modified"), i, f"{mode} {target}"))

    def matching(self, name, kind, mode, code, hdrs, body, h, span, ctx):
        """The versions a reply is consistent with (None, with a failure, when it is none's)."""
        seq = name == SEQ
        cands = [n for n, k in self.kind_of.items() if k == kind]
        etag = hdrs.get("etag")
        if code == 304:
            if mode not in ("inm", "ims", "both"):
                fail(f"{ctx}: 304 to an unconditional request")
                return None
            if etag is not None and etag != h[1]:
                fail(f"{ctx}: 304 with ETag {etag}, the client sent {h[1]}")
                return None
            return {h[0]}
        if mode == "range":
            out = set()
            for n in cands:
                full = self.seq_body[n] if seq else self.cases[n]["bytes"]
                tag = self.seq_etag[n] if seq else self.etag[n]
                a, b = span[0], min(span[1], len(full) - 1)
                if code == 206 and a < len(full):
                    ok = (hdrs.get("content-range") == f"bytes {a}-{b}/{len(full)}" and body == full[a:b + 1]
                          and etag == tag)
                else:
                    ok = code == 416 and a >= len(full) and hdrs.get("content-range") == f"bytes */{len(full)}"
                if ok:
                    out.add(n)
            if not out:
                fail(f"{ctx}: {code} (Content-Range {hdrs.get('content-range')}, {len(body)} bytes, ETag {etag}) "
                     f"is no version's answer to bytes={span[0]}-{span[1]}")
                return None
            return out
        if code != 200:
            fail(f"{ctx}: {code} {body[:100]!r}, want 200")
            return None
        out = set()
        for n in cands:
            full = self.seq_body[n] if seq else self.cases[n]["bytes"]
            tag = self.seq_etag[n] if seq else self.etag[n]
            if etag == tag and (body == full if mode != "head" else hdrs.get("content-length") == str(len(full))):
                out.add(n)
        if not out:
            fail(f"{ctx}: 200 with {len(body)} bytes (sha256 {sha256(body)[:12]}), ETag {etag}, "
                 f"Content-Length {hdrs.get('content-length')}: no genuine {kind} version")
            return None
        want_type = "text/plain" if seq else "application/vnd.ms-cab-compressed"
        if hdrs.get("content-type") != want_type:
            fail(f"{ctx}: Content-Type {hdrs.get('content-type')!r}, want {want_type}")
        if mode in ("inm", "both") and etag == h[1]:
            fail(f"{ctx}: 200 with the ETag {etag} sent in If-None-Match: want 304")
        if mode == "ims" and h[2] and hdrs.get("last-modified") and \
                email.utils.parsedate_to_datetime(hdrs["last-modified"]) <= email.utils.parsedate_to_datetime(h[2]):
            fail(f"{ctx}: 200 with Last-Modified {hdrs['last-modified']}, not after If-Modified-Since {h[2]}: want 304")
        return out

    # -- the run -----------------------------------------------------------------
    def run(self):
        threads = [threading.Thread(target=self.guard, args=(f"client {i}", self.client, i), daemon=True)
                   for i in range(self.n_clients)]
        threads += [threading.Thread(target=self.guard, args=(name, fn), daemon=True)
                    for name, fn in (("publisher", self.publisher), ("pinner", self.pinner),
                                     ("SIGHUP", self.hupper), ("operator", self.operator))]
        t0 = now()
        for t in threads:
            t.start()
        try:
            while now() - t0 < self.seconds and self.d.alive():
                time.sleep(0.5)
                self.judge_ready()
        finally:
            self.stop.set()
            for t in threads:
                t.join(timeout=WAIT)
                check(not t.is_alive(), f"a thread did not end within {WAIT}s of the stop")
        check(self.d.alive(), f"the daemon died during the soak (exit {self.d.p.returncode}): {self.d.stderr()[-3000:]}")
        self.elapsed = now() - t0

    def guard(self, name, fn, *args):
        try:
            fn(*args)
        except Exception:
            fail(f"{name}: raised\n{traceback.format_exc()}")

    # -- the checks after the run ------------------------------------------------
    def judge_ready(self, final=False):
        """Judges the replies answered before every state change still unconfirmed began (their
        possible versions are known for good), or all of them (final: open windows stay open)."""
        m = self.model
        horizon = INF if final else m.horizon()
        while self.pending and self.pending[0][1] < horizon:
            s, r, kind, code, matches, lm, i, desc = self.pending.popleft()
            self.judged += 1
            allowed = m.allowed(kind, s, r)
            if not (matches & allowed):
                self.wrong += 1
                if self.wrong <= 10:
                    fail(f"client {i}: {desc} answered {code} as {sorted(matches)} at "
                         f"[{s - self.t_start:.3f}, {r - self.t_start:.3f}] s; could be served then: {sorted(allowed)}")
            if lm and code in (200, 206):
                key = (kind, lm)
                if len(matches) == 1:
                    self.lm_versions[key] |= matches
                span = self.lm_span.setdefault(key, [r, s])
                span[0], span[1] = min(span[0], r), max(span[1], s)

    def judge(self):
        m = self.model
        self.judge_ready(final=True)
        check(self.wrong == 0, f"{self.wrong} of {self.judged} replies were not a version servable at that moment")
        for (s, r, got) in self.status_docs:
            for kind in KINDS:
                allowed = m.allowed(kind, s, r)
                n = self.by_sha.get(got[kind])
                if n not in allowed:
                    fail(f"status.json at [{s - self.t_start:.3f}, {r - self.t_start:.3f}] s: {kind} served "
                         f"{n or got[kind]}, could be {sorted(allowed)}")
        # Last-Modified: one version per value (the cab's and the sequence file's together), and
        # never back: no reply dated later was answered before one dated earlier was asked
        for (kind, lm), ns in self.lm_versions.items():
            check(len(ns) == 1, f"{kind}: Last-Modified {lm} came with several versions: {sorted(ns)}")
        for kind in KINDS:
            dated = sorted((email.utils.parsedate_to_datetime(lm).timestamp(), lm, span)
                           for (k, lm), span in self.lm_span.items() if k == kind)
            back = [(a[1], b[1]) for x, a in enumerate(dated) for b in dated[x + 1:]
                    if b[0] > a[0] and b[2][0] < a[2][1]]
            check(not back, f"{kind}: Last-Modified stepped back (a reply dated the second was answered "
                  f"before one dated the first was asked): {back[:3]}")
        # a keep-alive connection closed right after a reply that did not say Connection: close
        # (a client that sent its next request on it sees it fail)
        check(not self.unannounced, f"{sum(self.unannounced.values())} keep-alive connections closed by the daemon "
              f"right after a reply without Connection: close; the request before: "
              f"{sorted(self.unannounced.items(), key=lambda x: -x[1])[:6]}")
        # what the run did
        check(self.judged > 0, "no client reply was recorded")
        check(self.counts["sync changes"] >= 1, f"no served version changed by sync in {self.seconds}s")
        check(self.counts["pins"] >= 1, f"no pin in {self.seconds}s")
        check(self.counts["SIGHUPs"] >= 1, f"no SIGHUP in {self.seconds}s")
        rereads = self.d.stderr().count("SIGHUP: config re-read")
        check(rereads >= 1, f"{self.counts['SIGHUPs']} SIGHUPs and no 'SIGHUP: config re-read' line: "
              f"{[line for line in self.d.stderr().splitlines() if 'SIGHUP' in line][:3]}")
        self.counts["config re-reads"] = rereads
        # RSS: bounded relative to the level after the warm-up (the first quarter)
        if self.rss:
            warm = [kb for t, kb in self.rss if t - self.t_start >= self.elapsed / 4] or [kb for _, kb in self.rss]
            self.rss_warm, self.rss_peak = warm[0], max(kb for _, kb in self.rss)
            bound = 2 * self.rss_warm + 64 * 1024 + asan_quarantine_kb(self.binary)
            check(self.rss_peak <= bound, f"daemon RSS peaked at {self.rss_peak} kB, over {bound} kB "
                  f"({self.rss_warm} kB after the warm-up)")
        else:
            check(False, "the daemon's RSS was never read")

    def summary(self):
        c = self.counts
        ways = ", ".join(f"{w} {c[f'way {w}']}" for w in ("flat", "dns", "proxy"))
        modes = ", ".join(f"{k[5:]} {v}" for k, v in sorted(c.items()) if k.startswith("mode "))
        files = ", ".join(f"{k[5:]} {v}" for k, v in sorted(c.items()) if k.startswith("file "))
        codes = ", ".join(f"{k[7:]} {v}" for k, v in sorted(c.items()) if k.startswith("status "))
        n = sum(c[f"way {w}"] for w in ("flat", "dns", "proxy"))
        lines = [f"  {n} requests in {self.elapsed:.0f}s by {self.n_clients} clients ({n / max(self.elapsed, 1):.0f}/s): {ways}",
                 f"  files: {files}", f"  requests: {modes}", f"  status: {codes}",
                 f"  resent on a new connection: {c['resent on a new connection']} (a reused one closed; "
                 f"{c['closed unannounced']} right after a reply without Connection: close)",
                 f"  served version changes: {c['sync changes']} by sync, {c['pins']} pins, {c['unpins']} unpins; "
                 f"{c['stale copies']} stale and {c['bad copies']} failing copies offered",
                 f"  SIGHUPs {c['SIGHUPs']}, config re-reads {c['config re-reads']}; operator requests "
                 f"{sum(v for k, v in c.items() if k.startswith('operator '))}"]
        if self.rss:
            lines.append(f"  daemon RSS: {self.rss[0][1]} kB at start, {self.rss_warm} kB after warm-up, "
                         f"{self.rss_peak} kB peak, {self.rss[-1][1]} kB at the end")
        return lines


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1])
        return 2
    binary, fx = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx} (run build/tests/forge {fx})")
        return 1
    seconds = float(os.environ.get("SOAK_SECONDS", "20"))
    clients = int(os.environ.get("SOAK_CLIENTS", "6"))
    tmp = tempfile.mkdtemp(prefix="ctlmirror-soak-")
    t0 = time.time()
    lines = []
    soak = None
    try:
        soak = Soak(binary, fx, tmp, seconds, clients)
        try:
            soak.setup()
        except Broken as e:
            failures.append(f"setup: {e}")
        else:
            soak.t_start = now()
            soak.run()
            soak.judge()
            lines = soak.summary()
            soak.d.stop_checked(max_secs=20)
    except Broken as e:
        failures.append(str(e))
    except Exception:
        failures.append(f"test raised\n{traceback.format_exc()}")
    finally:
        Daemon.stop_all()
        if soak is not None and soak.up is not None:
            soak.up.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if len(failures) > 40:
        n = len(failures)
        del failures[40:]
        failures.append(f"... and {n - 40} more failures")
    return report(*lines, f"soak: {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
