#!/usr/bin/env python3
"""Root certificates fetched on clients' behalf, and by every sync round.

Shows, through the real daemon (workers = 4) and a scripted fake upstream on 127.0.0.1, with
the forged authroot CTL that lists 500 roots (sha256-large; only the two test roots exist):
  - a listed root the upstream answers 404 for, asked 500 times over 20 keep-alive connections
    at once: one upstream GET (the failure is remembered for cert_retry_after), every answer 404,
    the later ones at once;
  - a root the upstream serves slowly, asked by 50 clients at once: one upstream GET, all 50
    get 200 with its bytes; then it is served from the store;
  - cert_fetch_rate = 2: five different missing roots asked make at most two upstream GETs;
    the others get 503 with a Retry-After; a remembered failure costs no fetch;
  - the round check: a `ctlmirror sync` killed while it fetches the listed roots leaves them
    missing; the daemon's next round, with no kind changed (304), fetches them, no `sync
    --certs` and no client needed; a pinned root the upstream lacks is asked once, not every
    round, while a listed root the upstream lacks is asked again by later rounds.

usage: serve_certs.py CTLMIRROR FIXTURES
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (AT, Broken, Daemon, Fixtures, Stream, check, checks, failures, get_req,  # noqa: E402
                     json_lines, report, wait_for, write_config)
from fake_upstream import Bytes, FakeUpstream, Hang  # noqa: E402

WORKERS = 4


class Mirror:
    """A store and a config for it (a fake upstream, four workers); the CLI on them."""

    def __init__(self, binary, fx, tmp, name, upstream, **keys):
        self.binary, self.fx = binary, fx
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.keys = dict(upstream=upstream, workers=WORKERS, random_query="no", **keys)
        self.config = os.path.join(self.dir, "ctlmirror.conf")
        self.write()

    def write(self, **keys):
        self.keys.update(keys)
        write_config(self.config, self.store, self.fx.anchors, self.fx.pins, **self.keys)

    def run(self, *args, timeout=120):
        return subprocess.run([self.binary, args[0], "-c", self.config, *args[1:]],
                              capture_output=True, text=True, timeout=timeout)

    def imp(self, name):
        r = self.run("import", "--at", AT, "--json", self.fx.path(name))
        objs = json_lines(r, "import --json")
        if r.returncode != 0 or not objs or objs[0].get("result") != "admitted":
            raise Broken(f"import {name}: {r.returncode} {objs} {r.stderr.strip()[:300]}")

    def listed(self, name):
        r = self.run("show", "--json", "--entries", self.fx.seq(name))
        objs = json_lines(r, "show --json")
        got = [e.get("thumbprint") for e in (objs[0].get("entries_list") or [])] if objs else []
        if len(got) != int(self.fx[name]["entries"]):
            raise Broken(f"show --entries {name}: {len(got)} thumbprints: {r.stderr.strip()[:300]}")
        return got

    def exported(self):
        out = os.path.join(self.dir, f"export-{time.monotonic_ns()}")
        r = self.run("export", "--allow-missing", out)
        if r.returncode != 0:
            raise Broken(f"export: {r.returncode} {r.stderr.strip()[:300]}")
        return {n: open(os.path.join(out, n), "rb").read() for n in os.listdir(out)
                if os.path.isfile(os.path.join(out, n))}

    def serve(self, name):
        return Daemon(self.binary, self.config, self.dir, name).start()


def ask(d, path, n, conns):
    """n GETs of path spread over `conns` keep-alive connections at once: [(code, headers, body, secs)]."""
    out = []
    lock = threading.Lock()
    per = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
    start = threading.Barrier(conns)

    def one(k):
        got = []
        try:
            with Stream(d.port, timeout=30) as s:
                start.wait(10)
                for _ in range(k):
                    t0 = time.monotonic()
                    s.send(get_req(path, close=False))
                    code, h, body = s.response()
                    got.append((code, h, body, time.monotonic() - t0))
        except (Broken, OSError, threading.BrokenBarrierError) as e:
            got.append((None, {}, repr(e).encode(), 0.0))
        with lock:
            out.extend(got)
    threads = [threading.Thread(target=one, args=(k,)) for k in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def client_part(binary, fx, tmp):
    up = FakeUpstream().start()
    try:
        m = Mirror(binary, fx, tmp, "clients", up.url)
        m.imp("sha256-large")
        listed = m.listed("sha256-large")
        root, (legacy, legacy_der) = fx.roots["root"][0], fx.roots["legacy"]
        if listed[:2] != [root, legacy]:
            raise Broken(f"sha256-large does not list the two test roots first: {listed[:3]}")
        d = m.serve("serve")
        try:
            # -- a listed root the upstream lacks: 500 requests, one upstream GET
            absent = listed[2]
            got = ask(d, f"/{absent}.crt", 500, 20)
            codes = sorted({c for c, _, _, _ in got}, key=str)
            check(len(got) == 500 and codes == [404], f"500 requests for a root the upstream lacks: codes {codes}, {len(got)} answers")
            n = len(up.requests(f"{absent}.crt"))
            check(n == 1, f"500 requests for a root the upstream answers 404 made {n} upstream GETs, want 1")
            slow = max(s for _, _, _, s in got) if got else 99
            check(slow < 5, f"a request for a remembered failure took {slow:.2f} s")
            after = ask(d, f"/{absent}.crt", 20, 4)
            check([c for c, _, _, _ in after] == [404] * 20 and max(s for _, _, _, s in after) < 1,
                  f"the remembered failure is answered 404 at once: {[(c, round(s, 2)) for c, _, _, s in after][:5]}")
            check(len(up.requests(f"{absent}.crt")) == 1, "a remembered failure was asked upstream again")

            # -- a root served slowly, 50 clients at once: one GET, 50 times its bytes
            up.set(f"{legacy}.crt", Bytes(legacy_der, delay=1.5))
            got = ask(d, f"/{legacy}.crt", 50, 50)
            good = sum(1 for c, h, b, _ in got if c == 200 and b == legacy_der and h.get("content-type") == "application/pkix-cert")
            check(good == 50, f"50 clients asking at once for a slow root: {good} got 200 with its bytes; "
                  f"{sorted({(c, len(b)) for c, _, b, _ in got})}")
            n = len(up.requests(f"{legacy}.crt"))
            check(n == 1, f"50 clients asking at once on {WORKERS} workers made {n} upstream GETs, want 1")
            r = d.get(f"{legacy.lower()}.crt")
            check(r.code == 200 and r.body == legacy_der and len(up.requests(f"{legacy}.crt")) == 1,
                  f"the fetched root is served from the store: {r}, {len(up.requests(f'{legacy}.crt'))} GETs")
        finally:
            d.stop_checked()

        # -- the rate: cert_fetch_rate = 2, five different missing roots
        m.write(cert_fetch_rate=2)
        d = m.serve("serve-rate")
        try:
            five = listed[10:15]
            mark = time.time()
            answers = [d.get(f"{t}.crt") for t in five]
            fetched = [t for t in five if up.requests(f"{t}.crt", since=mark)]
            check(len(fetched) <= 2, f"cert_fetch_rate = 2: five missing roots made {len(fetched)} upstream GETs, want at most 2")
            codes = [r.code for r in answers]
            check(codes.count(404) == len(fetched) and codes.count(503) == 5 - len(fetched),
                  f"cert_fetch_rate = 2: the fetched ones 404, the others 503: {codes}")
            limited = [r for r in answers if r.code == 503]
            check(limited and all((r.h("retry-after") or "").isdigit() and 1 <= int(r.h("retry-after")) <= 60
                                  for r in limited),
                  f"a rate-limited answer says when to come back: {[r.h('retry-after') for r in limited]}")
            again = d.get(f"{fetched[0]}.crt") if fetched else None
            check(again is not None and again.code == 404 and len(up.requests(f"{fetched[0]}.crt", since=mark)) == 1,
                  f"a remembered failure under the rate limit: {again}, asked again upstream")
        finally:
            d.stop_checked()
    finally:
        up.stop()


def round_part(binary, fx, tmp):
    up = FakeUpstream().start()
    try:
        (root, root_der), (legacy, legacy_der) = fx.roots["root"], fx.roots["legacy"]
        cab = fx.data("authroot-ok")
        up.set("authrootstl.cab", Bytes(cab))
        up.update({f"{root}.crt": Hang(60), f"{legacy}.crt": Hang(60)})
        m = Mirror(binary, fx, tmp, "rounds", up.url, kinds="authroot", fetch_timeout="60s")
        # a sync killed while it fetches the listed roots: the cab admitted, the roots not
        p = subprocess.Popen([binary, "sync", "-c", m.config, "--now", AT],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            asked = wait_for(lambda: up.requests(f"{root}.crt") and up.requests(f"{legacy}.crt"), 30)
            check(asked, "sync did not reach the listed roots")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        exp = m.exported()
        check(exp.get("authrootstl.cab") == cab, "the killed sync's cab is not served")
        check(f"{root}.crt" not in exp and f"{legacy}.crt" not in exp, f"the killed sync stored roots: {sorted(exp)}")
        listed = m.listed("authroot-ok")
        absent = [t for t in listed if t not in (root, legacy)]

        up.update({f"{root}.crt": Bytes(root_der), f"{legacy}.crt": Bytes(legacy_der)})
        mark = time.time()
        m.write(poll_interval="1s")
        d = m.serve("serve")
        try:
            got = wait_for(lambda: up.requests(f"{root}.crt", since=mark) and up.requests(f"{legacy}.crt", since=mark), 30)
            check(got, "the daemon's round did not fetch the listed roots the killed sync left missing")
            cab_asks = up.requests("authrootstl.cab", since=mark)
            check(cab_asks and all(q["status"] == 304 for q in cab_asks),
                  f"the round that fetched them changed no kind (304): {[q['status'] for q in cab_asks]}")
            # the round's end (its fetches stored) before any client asks
            check(wait_for(lambda: "sync: 2 root certificates fetched" in d.stderr(), 30),
                  f"the round does not report the two roots fetched: {d.stderr()[-600:]}")
            ok = wait_for(lambda: all(d.get(f"{t}.crt").code == 200 for t in (root, legacy)), 10)
            check(ok, "the roots the round fetched are not served")
            r = d.get(f"{root}.crt")
            check(r.code == 200 and r.body == root_der and len(up.requests(f"{root}.crt", since=mark)) == 1,
                  f"served from the store, fetched once: {r}, {len(up.requests(f'{root}.crt', since=mark))} GETs")
            # more rounds: a pinned root the upstream lacks is remembered, a listed one asked again
            n0 = len(up.requests("authrootstl.cab", since=mark))
            rounds = wait_for(lambda: len(up.requests("authrootstl.cab", since=mark)), 30, until=lambda n: n >= n0 + 3)
            check(rounds >= n0 + 3, f"the daemon polled {rounds} times, want {n0 + 3}")
            crt = [q["path"] for q in up.requests(since=mark) if q["path"].endswith(".crt")]
            named = {f"/{t}.crt" for t in listed}
            anchors = {q for q in crt if q not in named}
            check(anchors and all(crt.count(q) == 1 for q in anchors),
                  f"over {rounds} rounds the pinned roots the upstream lacks were asked "
                  f"{sorted(crt.count(q) for q in anchors)} times each, want once")
            check(absent and all(crt.count(f"/{t}.crt") >= 2 for t in absent),
                  f"a listed root the upstream lacks is asked again by later rounds: "
                  f"{[crt.count(f'/{t}.crt') for t in absent]}")
        finally:
            d.stop_checked()
    finally:
        up.stop()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, fx = sys.argv[1], Fixtures(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="serve_certs.") as tmp:
        for part in (client_part, round_part):
            try:
                part(binary, fx, tmp)
            except Broken as e:
                check(False, f"{part.__name__}: {e}")
            finally:
                Daemon.stop_all()
    return report(f"serve_certs: {checks()} checks, {len(failures)} failed")


if __name__ == "__main__":
    sys.exit(main())
