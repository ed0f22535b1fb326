#!/usr/bin/env python3
"""`ctlmirror serve` against hostile clients: bounded, fair, strict, never an outage.

Every daemon listens on 127.0.0.1 only, on a port the kernel picks, its store
holding the forged authroot cab, started at a hard and soft open-file limit
of 1024 (a shell wrapper runs `ulimit -n 1024` and then the binary), with
header_timeout = 2s and keepalive_timeout = 3s. While each attack runs, a
legitimate client on another loopback address (127.0.0.2) fetches the cab:
every one of its requests must be answered within a second; the daemon's CPU
time over the attack, and its stderr, must stay small.
  - 1,100 idle connections from one address (it once took the daemon down at
    EMFILE, spinning): they are counted from accept and the address holds at
    most max_connections_per_client of them; the daemon never reaches its
    open-file limit;
  - slowloris, a byte a second: each connection closed at the header
    deadline (2 s after it connected), not kept alive by its bytes;
  - 4,096 keep-alive connections from one address, each after one request:
    the address never holds more than its cap, its oldest idle connections
    closed to make room, the other address served throughout;
  - the open-file limit: max_connections that cannot fit in 1024 files is
    refused at start with a message that says so; a daemon whose limit is
    lowered under it (prlimit) while clients open more connections than it
    can hold keeps serving, says "open-file limit reached" once, and does
    not spin;
  - strict requests (raw sockets): duplicate Content-Length, duplicate Host,
    "Transfer-Encoding : chunked", Transfer-Encoding: chunked, a folded
    header line, HTTP/1.1 without Host, a body on GET and on HEAD: each 400
    with its reason in the body and the access log, the connection closed;
    a well-formed request still 200.

usage: serve_hostile.py CTLMIRROR FIXTURES_DIR [CORPUS_DIR]
"""
import errno
import os
import resource
import select
import socket
import stat
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Cli, expect_results, main  # noqa: E402
from testlib import (Broken, Daemon, Fixtures, Stream, check, get_req, raw, wait_for,
                     write_config)  # noqa: E402

FD_LIMIT = 1024
MAX_CONNS = 800             # fits 1024 files with the reserve (2 workers)
PER_CLIENT = MAX_CONNS // 16


def cpu_seconds(pid):
    """User and system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Hostile:
    def __init__(self, binary, fx, tmp):
        self.binary, self.fx, self.tmp = binary, fx, tmp
        self.F = Fixtures(fx)
        self.cab = self.F.data("authroot-ok")
        # the daemon under a 1024-file limit: soft and hard, so it cannot raise it
        self.wrapper = os.path.join(tmp, "ctlmirror-at-1024")
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\nulimit -n {FD_LIMIT} || exit 97\nexec '{binary}' \"$@\"\n")
        os.chmod(self.wrapper, stat.S_IRWXU)
        self.store_dir = os.path.join(tmp, "store-src")
        os.makedirs(self.store_dir)

    def daemon(self, name, **keys):
        d0 = os.path.join(self.tmp, name)
        os.makedirs(d0)
        keys.setdefault("workers", 2)
        keys.setdefault("max_connections", MAX_CONNS)
        keys.setdefault("header_timeout", "2s")
        keys.setdefault("keepalive_timeout", "3s")
        if os.geteuid() == 0:
            keys.setdefault("user", "root")     # privileges are privs.py's subject, not this one's
        cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), self.F.anchors,
                           self.F.pins, access_log=os.path.join(d0, "access.log"), **keys)
        r, o = Cli(self.binary, cfg).imp(self.F.path("authroot-ok"))
        expect_results(o, r, ["admitted"], f"{name} store", counted=False)
        d = Daemon(self.wrapper, cfg, d0, name)
        d.dir0 = d0
        return d

    # -- the legitimate client ------------------------------------------------
    def legit(self, d, what, n=5, gap=0.2, limit=1.0):
        """n cab fetches from 127.0.0.2, each on a new connection: all 200 with the cab within limit."""
        slow = []
        for _ in range(n):
            t0 = time.monotonic()
            try:
                with Stream(d.port, source="127.0.0.2", timeout=5) as st:
                    st.send(get_req("/authrootstl.cab"))
                    code, _, body = st.response()
            except (Broken, OSError) as e:
                code, body = repr(e), b""
            secs = time.monotonic() - t0
            if code != 200 or body != self.cab or secs > limit:
                slow.append((code, len(body), round(secs, 2)))
            time.sleep(gap)
        check(not slow, f"{what}: legitimate cab fetches not answered with the cab within {limit}s: {slow}")

    def bounded(self, d, what, cpu0, err0, cpu_max=3.0, err_max=4096):
        cpu = cpu_seconds(d.p.pid) - cpu0
        err = len(d.stderr()) - err0
        check(cpu < cpu_max, f"{what}: the daemon used {cpu:.1f} CPU-seconds, want under {cpu_max}")
        check(err < err_max, f"{what}: {err} bytes on stderr, want under {err_max}: {d.stderr()[-800:]}")
        check(d.alive(), f"{what}: the daemon died: {d.stderr()[-1500:]}")

    def alive_count(self, socks):
        """How many of socks the server has not closed: reads what is there (a 503 comes
        before its close) until the end of the stream, or nothing more for now."""
        n = 0
        for s in socks:
            try:
                while s.recv(65536, socket.MSG_DONTWAIT):
                    pass
            except BlockingIOError:
                n += 1
            except OSError:
                pass
        return n

    def open_many(self, port, n, source=None):
        """n connections, non-blocking connects (the backlog answers them), nothing sent."""
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if source:
                s.bind((source, 0))
            s.setblocking(False)
            e = s.connect_ex(("127.0.0.1", port))
            if e not in (0, errno.EINPROGRESS):
                s.close()
                continue
            socks.append(s)
        return socks

    # -- 1,100 idle connections ----------------------------------------------
    def idle(self):
        d = self.daemon("idle").start()
        socks = []
        try:
            cpu0, err0 = cpu_seconds(d.p.pid), len(d.stderr())
            socks = self.open_many(d.port, 1100)
            time.sleep(0.5)
            fds = open_fds(d.p.pid)
            check(fds < FD_LIMIT - 50, f"1,100 idle connections: the daemon holds {fds} files, want well under {FD_LIMIT}")
            self.legit(d, "1,100 idle connections")
            held = self.alive_count(socks)
            check(held <= PER_CLIENT, f"1,100 idle connections from one address: {held} still open, want at most "
                                      f"max_connections_per_client = {PER_CLIENT}")
            self.bounded(d, "1,100 idle connections", cpu0, err0)
        finally:
            for s in socks:
                s.close()
            d.stop_checked()

    # -- slowloris -----------------------------------------------------------
    def slowloris(self):
        d = self.daemon("slowloris").start()
        conns = []
        try:
            cpu0, err0 = cpu_seconds(d.p.pid), len(d.stderr())
            head = b"GET /authrootstl.cab HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
            for i in range(5):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                conns.append([s, time.monotonic(), None])
            pos = 0
            t_end = time.monotonic() + 4.5
            while time.monotonic() < t_end and any(c[2] is None for c in conns):
                for c in conns:
                    if c[2] is not None:
                        continue
                    try:
                        c[0].send(head[pos:pos + 1])
                    except OSError:
                        c[2] = time.monotonic() - c[1]
                        continue
                    r, _, _ = select.select([c[0]], [], [], 0)
                    if r:
                        try:
                            if c[0].recv(100) == b"":
                                c[2] = time.monotonic() - c[1]
                        except OSError:
                            c[2] = time.monotonic() - c[1]
                pos += 1
                self.legit(d, "slowloris", n=1, gap=0)
                time.sleep(max(0.0, 1.0 - 0.05))
            closed = [round(c[2], 1) if c[2] is not None else None for c in conns]
            check(all(c is not None and 1.5 <= c <= 3.6 for c in closed),
                  f"slowloris at a byte a second: closed after {closed} s, want each at the 2 s header deadline")
            self.bounded(d, "slowloris", cpu0, err0)
        finally:
            for c in conns:
                c[0].close()
            d.stop_checked()

    # -- keep-alive connections from one address ----------------------------
    def keepalive(self, n=4096):
        # this process holds every one of them open: room for them under its own limit
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = n + 256
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        n = min(n, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 256)
        d = self.daemon("keepalive").start()
        socks = []
        try:
            cpu0, err0 = cpu_seconds(d.p.pid), len(d.stderr())
            answered = 0
            t0 = time.monotonic()
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                socks.append(s)
                try:
                    s.sendall(get_req("/authrootseq.txt", close=False))
                    st = Stream.over(s)
                    code, _, _ = st.response()
                    answered += code == 200
                except (Broken, OSError):
                    pass
                if i % 500 == 250:
                    self.legit(d, f"{i} keep-alive connections from one address", n=1, gap=0)
            secs = time.monotonic() - t0
            held = self.alive_count(socks)
            check(held <= PER_CLIENT, f"{n} keep-alive connections from one address: {held} still open, "
                                      f"want at most {PER_CLIENT}")
            check(answered >= n * 0.9, f"{n} keep-alive connections, one request each: {answered} answered "
                                       f"(the oldest idle ones make room for new ones)")
            self.legit(d, f"{n} keep-alive connections from one address")
            self.bounded(d, f"{n} keep-alive connections", cpu0, err0, cpu_max=max(3.0, secs))
        finally:
            for s in socks:
                s.close()
            d.stop_checked()

    # -- the open-file limit -------------------------------------------------
    def fd_limit(self):
        d = self.daemon("too-many", max_connections=4096)
        try:
            d.start()
            check(False, "max_connections = 4096 under a 1024-file limit: the daemon started")
        except Broken:
            err = d.stderr()
            check("max_connections = 4096" in err and "open-file limit is 1024" in err and "LimitNOFILE" in err,
                  f"max_connections = 4096 under a 1024-file limit: no clear refusal on stderr: {err[-800:]}")
        finally:
            d.stop()
        # fits at start; the limit is lowered under it, and clients want more than it holds
        d = self.daemon("emfile", workers=1, max_connections_per_client=MAX_CONNS)
        d.start()
        socks = []
        try:
            resource.prlimit(d.p.pid, resource.RLIMIT_NOFILE, (200, 200))
            cpu0, err0 = cpu_seconds(d.p.pid), len(d.stderr())
            for src in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
                socks += self.open_many(d.port, 150, source=src)
            time.sleep(1.0)
            err = d.stderr()
            check(err.count("open-file limit reached") == 1,
                  f"accept at the open-file limit: want one 'open-file limit reached' line, got "
                  f"{err.count('open-file limit reached')}: {err[-800:]}")
            # served again once idle connections close (made room, or the header deadline)
            t0 = time.monotonic()
            ok = wait_for(lambda: raw(d.port, get_req("/authrootstl.cab"), timeout=3)[2] == self.cab, 8, step=0.2)
            check(ok, f"at the open-file limit the daemon does not serve again: {d.stderr()[-800:]}")
            check(time.monotonic() - t0 < 5, f"at the open-file limit: served again only after {time.monotonic() - t0:.1f}s")
            self.bounded(d, "accept at the open-file limit", cpu0, err0, cpu_max=2.0)
        finally:
            for s in socks:
                s.close()
            d.stop_checked()

    # -- strict requests -----------------------------------------------------
    def strict(self):
        d = self.daemon("strict").start()
        try:
            h = "Host: 127.0.0.1\r\n"
            cases = [
                ("duplicate Content-Length", f"GET /authrootstl.cab HTTP/1.1\r\n{h}Content-Length: 0\r\nContent-Length: 5\r\n\r\n"),
                ("duplicate Host", f"GET /authrootstl.cab HTTP/1.1\r\n{h}{h}\r\n"),
                ("whitespace before a header's colon", f"GET /authrootstl.cab HTTP/1.1\r\n{h}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
                ("Transfer-Encoding is not supported", f"GET /authrootstl.cab HTTP/1.1\r\n{h}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                ("obsolete line folding", f"GET /authrootstl.cab HTTP/1.1\r\n{h}X-A: 1\r\n 2\r\n\r\n"),
                ("obsolete line folding", f"GET /authrootstl.cab HTTP/1.1\r\n{h}X-A: 1\r\n\t2\r\n\r\n"),
                ("HTTP/1.1 request without Host", "GET /authrootstl.cab HTTP/1.1\r\n\r\n"),
                ("a body on GET or HEAD", f"GET /authrootstl.cab HTTP/1.1\r\n{h}Content-Length: 5\r\n\r\nhello"),
                ("a body on GET or HEAD", f"HEAD /authrootstl.cab HTTP/1.1\r\n{h}Content-Length: 5\r\n\r\n"),
            ]
            for why, req in cases:
                info = {}
                code, hd, body, _ = raw(d.port, req.encode(), timeout=5, info=info)
                if req.startswith("HEAD"):
                    body = why.encode()     # a reply to HEAD has no body; its reason is in the log
                check(code == 400 and why.encode() in body and info.get("closed"),
                      f"{req!r}: {code} {body!r} closed={info.get('closed')}, want 400 '{why}' and closed")
            code, _, body, _ = raw(d.port, get_req("/authrootstl.cab"))
            check(code == 200 and body == self.cab, f"a well-formed request after the refusals: {code}")
            log = os.path.join(d.dir0, "access.log")
            want = {f'reason="{why}"' for why, _ in cases}
            got = wait_for(lambda: open(log).read() if os.path.exists(log) else "",
                           5, until=lambda t: all(w in t for w in want))
            check(all(w in got for w in want), f"strict refusals: the access log lacks reasons "
                                               f"{[w for w in want if w not in got]}: {got[-800:]}")
        finally:
            d.stop_checked()


def body(binary, fx, corpus, tmp, run):
    h = Hostile(binary, fx, tmp)
    run.section("strict requests", h.strict)
    run.section("1,100 idle connections", h.idle)
    run.section("slowloris", h.slowloris)
    run.section("keep-alive connections from one address", h.keepalive)
    run.section("open-file limit", h.fd_limit)


if __name__ == "__main__":
    sys.exit(main("serve_hostile", __doc__, body))
