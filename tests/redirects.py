#!/usr/bin/env python3
"""Upstream redirects never make ctlmirror reach anywhere it was not configured to (no SSRF).

A scripted fake upstream (fake_upstream.py) answers 3xx; where it points to another loopback
listener (a "trap": a bare socket server on 127.0.0.1 that records every connection and its
first bytes, and answers 404 to HTTP), the trap must see nothing. What it proves, with the
forged fixtures, verifying at 2024-06-01T00:00:00Z, every store in a temporary directory,
every server on 127.0.0.1 and an ephemeral port:
  - the trap works: a followed redirect to it (it is then a configured upstream), and curl
    speaking gopher and TLS to it, are each recorded, so the checks below can fail;
  - by default (no follow_redirects line, and `follow_redirects = no`) a redirect is never
    followed, not even to another path on the same upstream: `ctlmirror sync --json` reports
    authroot `failed` with "redirected to URL; not followed (follow_redirects = no)", the
    target is never asked, the trap sees no connection, nothing is stored for authroot, and
    the other kinds are admitted as usual; `follow_redirects = maybe` is a config error;
  - with `follow_redirects = yes`: a redirect to a host:port that is not an upstream's (another
    port, another loopback address on the upstream's port, a user-info trick) is refused
    ("... is not a configured upstream") before anything connects; one to another path on
    the same upstream (relative or absolute Location, 301/302/303/307/308, up to 3 hops) is
    followed and the cab admitted; a 4th hop is refused and never asked; a non-http scheme
    (file:///etc/passwd, and file:// of a named pipe that records being opened; gopher, ftp,
    dict; https to an upstream configured as http) is refused, nothing of it is stored, the
    pipe is never opened, and the trap (then a configured http upstream) sees only HTTP
    requests;
  - the daemon's on-demand `<SHA1>.crt` fetch for a listed root the store lacks: when the
    upstream redirects it to the trap the client gets 404 and the trap sees nothing (with
    follow_redirects no and yes); a root served directly, or (with yes) by a redirect to
    another path on the upstream, is fetched and answered 200; each daemon exits 0 on
    SIGTERM with no sanitizer report.

usage: redirects.py CTLMIRROR FIXTURES_DIR
Exit: 0 all checks passed, 1 some failed.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_upstream import FakeUpstream, Bytes  # noqa: E402
from testlib import (AT, Broken, CURL_ENV, Daemon, Fixtures, check, checks, failures, report,
                     write_config)  # noqa: E402

CAB = {"authroot": "authrootstl.cab", "disallowed": "disallowedcertstl.cab", "pinrules": "pinrulesstl.cab"}
SEQ = "authrootseq.txt"
FETCH_TIMEOUT = 5


class Redirect:
    """A fake-upstream behaviour: `code` with a Location header (and a short body)."""

    def __init__(self, location, code=302):
        self.location, self.code = location, code

    def __call__(self, h):
        body = b"moved\n"
        h.send_response(self.code)
        h.send_header("Location", self.location)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        h.note(status=self.code, sent=len(body), location=self.location)


class Trap:
    """A bare listening socket on a loopback address: every connection accepted is recorded with
    the first bytes it sent (up to a request head, or 1 s); an HTTP request gets a 404."""

    def __init__(self, host="127.0.0.1", port=0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((host, port))
        self.s.listen(64)
        self.s.settimeout(0.05)
        self.host, self.port = host, self.s.getsockname()[1]
        self.url = f"http://{host}:{self.port}/"
        self.lock = threading.Lock()
        self.conns = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        rec = {"time": time.time(), "data": b""}
        with self.lock:
            self.conns.append(rec)
        c.settimeout(1.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 4096:
                b = c.recv(4096)
                if not b:
                    break
                data += b
                with self.lock:
                    rec["data"] = data
            if data.startswith(b"GET ") or data.startswith(b"HEAD "):
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            c.close()

    def connections(self, since=0.0, settle=0.5):
        """The connections recorded since a time, after waiting `settle` s for the accept loop
        to take any still queued (a connection made is in the backlog before the client ends)."""
        time.sleep(settle)
        with self.lock:
            return [dict(r) for r in self.conns if r["time"] >= since]

    def stop(self):
        self.stopping.set()
        self.s.close()
        self.thread.join(timeout=5)


class FileTrap:
    """A named pipe: anything that opens it for reading (a file:// transfer) is recorded; a
    writer polls for a reader every 10 ms (O_NONBLOCK: ENXIO while there is none)."""

    def __init__(self, path):
        self.path = path
        os.mkfifo(path)
        self.opened = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.01):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            self.opened.append(time.time())
            try:
                os.write(fd, b"opened\n")
            except OSError:
                pass
            os.close(fd)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)


def is_http(rec):
    return rec["data"].startswith(b"GET ")


def first_line(rec):
    return rec["data"].split(b"\r\n", 1)[0][:80]


def path_of(rec):
    """The path an HTTP request asked for, without its query ('' when it was not HTTP)."""
    words = first_line(rec).split()
    return words[1].split(b"?")[0].decode("latin-1") if is_http(rec) and len(words) > 1 else ""


class Test:
    def __init__(self, binary, fx, tmp):
        self.binary, self.fx, self.tmp = binary, Fixtures(fx), tmp
        self.ups, self.traps, self.n = [], [], 0
        self.fifo = None

    def upstream(self):
        u = FakeUpstream().start()
        self.ups.append(u)
        return u

    def trap(self, host="127.0.0.1", port=0):
        t = Trap(host, port)
        self.traps.append(t)
        return t

    def mirror(self, name, upstreams, **keys):
        """A fresh directory with a store and a config: (dir, config path)."""
        self.n += 1
        d = os.path.join(self.tmp, f"{self.n:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower())}")
        os.makedirs(d)
        keys = {"upstream": list(upstreams), "fetch_timeout": f"{FETCH_TIMEOUT}s", "workers": "1",
                "listen": "127.0.0.1:0", **keys}
        cfg = write_config(os.path.join(d, "ctlmirror.conf"), os.path.join(d, "store"),
                           self.fx.anchors, self.fx.pins, **keys)
        return d, cfg

    def run(self, cfg, *args, timeout=120):
        return subprocess.run([self.binary, *args[:1], "-c", cfg, *args[1:]], capture_output=True,
                              text=True, timeout=timeout)

    def sync(self, cfg):
        r = self.run(cfg, "sync", "--json", "--now", AT)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            raise Broken(f"sync --json: exit {r.returncode}, not JSON: {r.stdout[:300]!r} stderr {r.stderr.strip()[:300]!r}")
        return r.returncode, doc

    def versions(self, cfg, kind):
        r = self.run(cfg, "versions", "--json")
        if r.returncode != 0:
            raise Broken(f"versions: exit {r.returncode}: {r.stderr.strip()[:300]}")
        return [v for v in json.loads(r.stdout) if v.get("kind") == kind]

    def publish(self, up, authroot="authroot-ok"):
        fx = self.fx
        up.update({CAB["authroot"]: Bytes(fx.data(authroot)),
                   SEQ: Bytes(fx.seq(authroot).encode(), content_type="text/plain"),
                   CAB["disallowed"]: Bytes(fx.data("disallowed-ok")),
                   CAB["pinrules"]: Bytes(fx.data("pinrules-ok"))})

    def refused(self, ctx, cfg, up, target, why, traps=(), since=None, asked=None, http_ok=False, code=302):
        """One sync round whose authroot cab (and sequence file) redirect to target: authroot
        failed with the redirect named and the reason matching /why/, nothing stored for it, the
        upstream asked once, the other kinds fine; no trap connected (http_ok: none but with an
        HTTP request), and `asked` (a path) never requested of the upstream."""
        up.update({CAB["authroot"]: Redirect(target, code), SEQ: Redirect(target, code)})
        mark = time.time()
        rc, doc = self.sync(cfg)
        a = doc.get("authroot") or {}
        text = a.get("text") or ""
        check(rc == 1, f"{ctx}: sync exit {rc}, want 1 (authroot reached no upstream): {doc}")
        check(a.get("result") == "failed" and a.get("ok") is False,
              f"{ctx}: authroot result {a.get('result')!r} ok {a.get('ok')} ({text}), want failed")
        want = re.escape(up.url + CAB["authroot"]) + r"[^;]*: redirected to " + re.escape(target) + \
            r"; not followed \(" + why + r"\)"
        check(re.search(want, text), f"{ctx}: authroot text {text!r} does not match /{want}/")
        for kind in ("disallowed", "pinrules"):
            o = doc.get(kind) or {}
            check(o.get("ok") is True and o.get("result") in ("admitted", "unchanged"),
                  f"{ctx}: {kind} {o.get('result')!r} ({o.get('text')}), want admitted or unchanged")
        vs = self.versions(cfg, "authroot")
        check(not vs, f"{ctx}: the redirected fetch stored authroot copies: "
                      f"{[(v.get('status'), v.get('reason'), v.get('size')) for v in vs]}")
        n = len(up.requests(CAB["authroot"], since=mark))
        check(n == 1, f"{ctx}: the upstream was asked {n} times for the cab, want 1")
        if asked is not None:
            n = len(up.requests(asked, since=mark))
            check(n == 0, f"{ctx}: the redirect target {asked} was asked {n} times")
        for t in traps:
            got = t.connections(since=mark if since is None else since)
            bad = [first_line(c) for c in got if not (http_ok and is_http(c))]
            check(not bad, f"{ctx}: {len(bad)} connections reached the trap {t.host}:{t.port}: {bad[:4]}")
        return doc

    # ------------------------------------------------------------------
    def trap_works(self):
        """The detector itself: what a connection to the trap looks like."""
        trap = self.trap()
        mark = time.time()
        for url in (f"gopher://127.0.0.1:{trap.port}/1selector", f"https://127.0.0.1:{trap.port}/x"):
            subprocess.run(["curl", "-sS", "-k", "--max-time", "3", "-o", "/dev/null", url],
                           capture_output=True, env=CURL_ENV, timeout=20)
        got = trap.connections(since=mark)
        check(len(got) == 2 and not any(is_http(c) for c in got),
              f"trap: curl's gopher and TLS connections were not both recorded as non-HTTP: {[first_line(c) for c in got]}")
        # Followed (the trap is a configured upstream then): the trap sees the GET; the cab 404s.
        up = self.upstream()
        self.publish(up)
        _, cfg = self.mirror("trap is an upstream", [up.url, trap.url], follow_redirects="yes")
        target = trap.url + "elsewhere/" + CAB["authroot"]
        up.set(CAB["authroot"], Redirect(target))
        mark = time.time()
        rc, doc = self.sync(cfg)
        got = trap.connections(since=mark)
        check("/elsewhere/" + CAB["authroot"] in [path_of(c) for c in got],
              f"trap: a redirect to a configured upstream was not followed there: trap saw "
              f"{[first_line(c) for c in got]}; {doc.get('authroot')}")
        a = doc.get("authroot") or {}
        check(a.get("result") == "failed" and "HTTP 404" in (a.get("text") or ""),
              f"trap: the followed redirect's 404 not reported: {a}")

    # ------------------------------------------------------------------
    def not_followed(self):
        """The default, and `follow_redirects = no`: never followed, anywhere."""
        fx = self.fx
        trap = self.trap()
        for keys, label in (({}, "default"), ({"follow_redirects": "no"}, "follow_redirects = no")):
            up = self.upstream()
            self.publish(up)
            _, cfg = self.mirror(label, [up.url], **keys)
            self.refused(f"{label}: redirect to another port", cfg, up, trap.url + CAB["authroot"],
                         re.escape("follow_redirects = no"), traps=[trap])
            # to another path on the very same upstream: not followed either
            up.set("moved/" + CAB["authroot"], Bytes(fx.data("authroot-ok")))
            self.refused(f"{label}: redirect to the same upstream", cfg, up, up.url + "moved/" + CAB["authroot"],
                         re.escape("follow_redirects = no"), asked="moved/" + CAB["authroot"])
        _, cfg = self.mirror("bad value", [self.ups[-1].url], follow_redirects="maybe")
        r = self.run(cfg, "sync", "--now", AT)
        check(r.returncode not in (0, 1) and re.search(r"follow_redirects.*yes or no", r.stderr),
              f"follow_redirects = maybe: exit {r.returncode}, stderr {r.stderr.strip()[:300]!r}, want a config error")

    # ------------------------------------------------------------------
    def elsewhere(self):
        """follow_redirects = yes, to a host:port that is no upstream's: refused before connecting."""
        up = self.upstream()
        self.publish(up)
        trap = self.trap()
        traps = [trap]
        try:    # the upstream's port on another loopback address
            traps.append(self.trap("127.0.0.2", up.port))
        except OSError as e:
            print(f"note: no trap on 127.0.0.2:{up.port} ({e}); that case is skipped")
        _, cfg = self.mirror("elsewhere", [up.url], follow_redirects="yes")
        origin = f"http://127.0.0.1:{trap.port}"
        self.refused("follow: another port", cfg, up, trap.url + CAB["authroot"],
                     re.escape(f"{origin} is not a configured upstream"), traps=traps)
        self.refused("follow: 307 to another port", cfg, up, trap.url + CAB["authroot"],
                     re.escape(f"{origin} is not a configured upstream"), traps=traps, code=307)
        self.refused("follow: user-info trick", cfg, up, f"http://127.0.0.1:{up.port}@127.0.0.1:{trap.port}/x",
                     re.escape(f"{origin} is not a configured upstream"), traps=traps)
        if len(traps) > 1:
            self.refused("follow: the upstream's port on 127.0.0.2", cfg, up, f"http://127.0.0.2:{up.port}/x",
                         re.escape(f"http://127.0.0.2:{up.port} is not a configured upstream"), traps=traps)

    # ------------------------------------------------------------------
    def same_upstream(self):
        """follow_redirects = yes, to other paths on the same upstream: followed, up to 3 hops."""
        fx = self.fx
        up = self.upstream()
        trap = self.trap()
        self.publish(up)
        _, cfg = self.mirror("same upstream", [up.url], follow_redirects="yes")
        cab = CAB["authroot"]
        up.update({cab: Redirect("/moved/" + cab),                      # relative
                   SEQ: Redirect(up.url + "moved/" + SEQ, 301),         # absolute
                   "moved/" + cab: Bytes(fx.data("authroot-ok")),
                   "moved/" + SEQ: Bytes(fx.seq("authroot-ok").encode())})
        mark = time.time()
        rc, doc = self.sync(cfg)
        a = doc.get("authroot") or {}
        check(a.get("result") == "admitted" and a.get("sequence") == fx.seq("authroot-ok"),
              f"same upstream: authroot {a.get('result')!r} {a.get('sequence')} ({a.get('text')}), want admitted {fx.seq('authroot-ok')}")
        check(not re.search("disagree", a.get("text") or ""), f"same upstream: the redirected sequence file was not read: {a.get('text')}")
        n = len(up.requests("moved/" + cab, since=mark))
        check(n == 1, f"same upstream: the redirect target was asked {n} times, want 1")
        vs = [v for v in self.versions(cfg, "authroot") if v.get("sha256") == fx.sha("authroot-ok")]
        check(vs and vs[0].get("status") == "served" and vs[0].get("source") == up.url + cab,
              f"same upstream: authroot-ok is not served with the upstream's URL as source: {vs}")
        # Three hops (303, 307, 308), a newer copy: admitted.
        up.update({cab: Redirect(up.url + "h1/" + cab, 303), "h1/" + cab: Redirect("/h2/" + cab, 307),
                   "h2/" + cab: Redirect("../h3/" + cab, 308), "h3/" + cab: Bytes(fx.data("authroot-sha1")),
                   SEQ: Bytes(fx.seq("authroot-sha1").encode())})
        mark = time.time()
        rc, doc = self.sync(cfg)
        a = doc.get("authroot") or {}
        check(a.get("result") == "admitted" and a.get("sequence") == fx.seq("authroot-sha1"),
              f"three hops: authroot {a.get('result')!r} {a.get('sequence')} ({a.get('text')}), want admitted {fx.seq('authroot-sha1')}")
        hops = [len(up.requests(p, since=mark)) for p in (cab, "h1/" + cab, "h2/" + cab, "h3/" + cab)]
        check(hops == [1, 1, 1, 1], f"three hops: requests per hop {hops}, want one each")
        # Four hops: the 4th is refused, never asked; nothing newer stored.
        up.update({"h3/" + cab: Redirect("/h4/" + cab), "h4/" + cab: Bytes(fx.data("sha256-large"))})
        mark = time.time()
        rc, doc = self.sync(cfg)
        a = doc.get("authroot") or {}
        want = re.escape(f"redirected to {up.url}h4/{cab}; not followed (more than 3 redirects)")
        check(rc == 1 and a.get("result") == "failed" and re.search(want, a.get("text") or ""),
              f"four hops: exit {rc}, authroot {a.get('result')!r} ({a.get('text')}), want failed /{want}/")
        n = len(up.requests("h4/" + cab, since=mark))
        check(n == 0, f"four hops: the 4th target was asked {n} times")
        check(not [v for v in self.versions(cfg, "authroot") if v.get("sha256") == fx.sha("sha256-large")],
              "four hops: the copy behind a 4th redirect was stored")
        got = trap.connections(since=0)
        check(not got, f"same upstream: the trap saw {[first_line(c) for c in got]}")

    # ------------------------------------------------------------------
    def schemes(self):
        """follow_redirects = yes, to non-http schemes: refused. The trap is a configured (http)
        upstream here, so only its scheme keeps a redirect away from it: it may see HTTP
        requests (the second upstream's turn), nothing else."""
        up = self.upstream()
        trap = self.trap()
        self.publish(up)
        _, cfg = self.mirror("schemes", [up.url, trap.url], follow_redirects="yes")
        tp = trap.port
        self.fifo = FileTrap(os.path.join(self.tmp, "fifo"))
        for target, why in (("file:///etc/passwd", "only http and https are followed, not file"),
                            ("file://" + self.fifo.path, "only http and https are followed, not file"),
                            (f"gopher://127.0.0.1:{tp}/1x", "only http and https are followed, not gopher"),
                            (f"ftp://127.0.0.1:{tp}/x", "only http and https are followed, not ftp"),
                            (f"dict://127.0.0.1:{tp}/d:x", "only http and https are followed, not dict"),
                            (f"https://127.0.0.1:{tp}/x", f"https://127.0.0.1:{tp} is not a configured upstream")):
            self.refused(f"scheme {target.split(':')[0]}", cfg, up, target, re.escape(why), traps=[trap], http_ok=True)
        check(not self.fifo.opened, f"scheme file: the redirect's file {self.fifo.path} was opened {len(self.fifo.opened)} times")

    # ------------------------------------------------------------------
    def daemon(self):
        """The on-demand <SHA1>.crt fetch of `ctlmirror serve`."""
        fx = self.fx
        up = self.upstream()
        trap = self.trap()
        self.publish(up)
        (root, root_der), (legacy, legacy_der) = fx.roots["root"], fx.roots["legacy"]
        for follow in ("no", "yes"):
            ctx = f"daemon, follow_redirects = {follow}"
            up.update({f"{root}.crt": None, f"{legacy}.crt": None})
            d, cfg = self.mirror(ctx, [up.url], follow_redirects=follow,
                                 cert_retry_after="0")  # each ask reaches the upstream
            rc, doc = self.sync(cfg)    # the store lacks the roots: their fetches 404 here
            if (doc.get("authroot") or {}).get("result") != "admitted":
                raise Broken(f"{ctx}: the first round did not admit authroot: {doc}")
            dm = Daemon(self.binary, cfg, d, f"serve-{follow}").start()
            try:
                up.set(f"{root}.crt", Redirect(trap.url + f"{root}.crt"))
                mark = time.time()
                r = dm.get(f"{root}.crt")
                check(r.code == 404, f"{ctx}: {root}.crt redirected to the trap answered {r.code}, want 404")
                n = len(up.requests(f"{root}.crt", since=mark))
                check(n == 1, f"{ctx}: {root}.crt was asked upstream {n} times, want 1")
                got = trap.connections(since=mark)
                check(not got, f"{ctx}: the on-demand fetch reached the trap: {[first_line(c) for c in got]}")
                if follow == "yes":
                    # another path on the same upstream: followed, stored, served
                    up.update({f"{root}.crt": Redirect(f"/moved/{root}.crt"), f"moved/{root}.crt": Bytes(root_der)})
                    r = dm.get(f"{root}.crt")
                    check(r.code == 200 and r.body == root_der,
                          f"{ctx}: {root}.crt redirected within the upstream answered {r.code}, {len(r.body)} bytes, want 200")
                else:
                    up.update({f"moved/{root}.crt": Bytes(root_der), f"{root}.crt": Redirect(f"/moved/{root}.crt")})
                    mark = time.time()
                    r = dm.get(f"{root}.crt")
                    check(r.code == 404 and not up.requests(f"moved/{root}.crt", since=mark),
                          f"{ctx}: {root}.crt redirected within the upstream answered {r.code}, want 404 and no request for it")
                # served directly: fetched on demand (the 404s above are the redirects' doing)
                up.set(f"{legacy}.crt", Bytes(legacy_der))
                r = dm.get(f"{legacy}.crt")
                check(r.code == 200 and r.body == legacy_der, f"{ctx}: {legacy}.crt served directly upstream answered {r.code}, want 200")
            finally:
                rc, _ = dm.stop()
                san = dm.sanitizer()
                check(rc == 0 and not san, f"{ctx}: serve exited {rc}; " + (f"sanitizer report: {san}" if san else
                                                                            f"stderr tail:\n{dm.stderr()[-2000:]}"))


def main():
    if len(sys.argv) != 3:
        print("usage: redirects.py CTLMIRROR FIXTURES_DIR", file=sys.stderr)
        return 2
    binary, fx = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx} (run build/tests/forge {fx})")
        return 1
    tmp = tempfile.mkdtemp(prefix="ctlmirror-redirects-")
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
        section("trap", t.trap_works)
        section("not followed", t.not_followed)
        section("elsewhere", t.elsewhere)
        section("same upstream", t.same_upstream)
        section("schemes", t.schemes)
        section("daemon", t.daemon)
    finally:
        Daemon.stop_all()
        for u in t.ups:
            u.stop()
        for tr in t.traps:
            tr.stop()
        if t.fifo is not None:
            t.fifo.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report("redirects: " + ", ".join(f"{n} {s:.1f}s" for n, s in sections),
                  f"redirects: {len(sections)} sections, {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
