#!/usr/bin/env python3
"""`ctlmirror serve` under hostile, greedy and many clients: what it refuses and how its connections hold up.

Every daemon listens on 127.0.0.1 only, on a port the kernel picks, with its
own temporary store and config (no upstream polling), its clock set by `--now
2024-06-01T00:00:00Z`; each is stopped by SIGTERM whatever the checks found.
What it shows, over the forged store and daemon of serve_common.Forged (whose
start and stop serve_files.py counts; here they are required):
  - refusals: another host as a proxy target (403, also https:// and a
    look-alike suffix), CONNECT and other methods (405 with Allow; each
    refusal framed by Content-Length and its connection closed at once),
    unknown files (404), hostile targets (dot segments, %-escapes, empty
    segments, backslash, NUL and control bytes, a 10 KB target, a header over
    max_header_size): never 200, documented ones 400, the daemon alive and
    answering the next request;
  - connections: three pipelined requests answered in order on one
    connection (the HEAD without a body); 8 MB of pipelined cabs to a client
    that reads nothing for a second, every reply intact, the connection
    closed after the last (it asked Connection: close); a client pipelining
    requests for 2 s without reading a reply: under 64 MB taken from it and
    under 32 MB of daemon growth (unbounded, it took 500 MB in 3 s); HTTP/1.0
    closed after its reply (with Content-Length and Date) unless it asked for
    keep-alive; 2000 requests in turn on one connection; a request waiting 2 s
    for a slow certificate fetch with another pipelined behind it, and one
    whose client hung up meanwhile, the daemon idle (under a third of the wait
    in CPU) and both answered in order; 50 clients that reset the connection
    mid-request, the daemon serving after;
  - `max_connections = 2` with one worker: a third connection gets 503 and is
    closed (a CONNECT over the limit too), the admitted ones keep working, and
    once the others close the daemon serves again; the refusals are counted
    in the metrics;
  - `max_connections` raised by SIGHUP (4, one worker): of 6 idle keep-alive
    connections that each sent a request, the last 2 get 503 "too many
    connections"; once the daemon has re-read a config saying 8, the 4 held
    ones and 2 new ones all get the cab, 2 more are admitted too, and the one
    after them is refused.

(CORPUS_DIR is accepted and not used: ctest gives the three serve scripts the same arguments.)

usage: serve_limits.py CTLMIRROR FIXTURES_DIR [CORPUS_DIR]
"""
import os
import random
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import UP, Cli, Forged, expect_results, main, metric, parse_metrics  # noqa: E402
from testlib import (Broken, Daemon, Fixtures, Stream, check, get_req, raw, read_one, wait_for,
                     write_config)  # noqa: E402


def rss_kb(pid):
    """A process's resident memory in KB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User and system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Limits(Forged):
    """The forged daemon under refused requests and demanding connections."""

    # -- refusals --------------------------------------------------------------
    def refusals(self):
        port = self.d.port
        px = ["-x", f"http://127.0.0.1:{port}"]
        for target in ("http://example.com/authrootstl.cab", f"http://example.com{UP}authrootstl.cab",
                       f"http://ctldl.windowsupdate.com.evil.example{UP}authrootstl.cab",
                       f"http://evilctldl.windowsupdate.com{UP}authrootstl.cab", "http://127.0.0.2/authrootstl.cab"):
            r = self.curl(*px, target)
            check(r.code == 403 and self.export["authrootstl.cab"] not in r.body, f"proxy GET {target}: {r}, want 403")
        code, _, _, _ = raw(port, get_req(f"https://ctldl.windowsupdate.com{UP}authrootstl.cab", host="ctldl.windowsupdate.com"))
        check(code == 403, f"absolute https:// target: {code}, want 403")
        code, _, _, _ = raw(port, get_req(f"ftp://ctldl.windowsupdate.com{UP}authrootstl.cab", host="ctldl.windowsupdate.com"))
        check(code == 403, f"absolute ftp:// target: {code}, want 403")
        # CONNECT and other methods
        r = self.curl("-p", *px, "https://ctldl.windowsupdate.com/")
        check(r.rc != 0 and r.connect == 405, f"curl -p -x (CONNECT): curl rc {r.rc}, CONNECT answered {r.connect}, want 405")
        # A refusal says Connection: close and closes: a CONNECT must not hold a connection
        # (nor leave its reply unframed) until the idle timeout.
        for target in ("ctldl.windowsupdate.com:443", "example.com:443", "127.0.0.1:22"):
            info = {}
            code, hd, body, _ = raw(port, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode(), timeout=8, info=info)
            check(code == 405 and hd.get("allow") == "GET, HEAD", f"CONNECT {target}: {code} Allow {hd.get('allow')!r}, want 405 'GET, HEAD'")
            check(hd.get("content-length") == str(len(body)) and body, f"CONNECT {target}: the 405 is not framed: Content-Length {hd.get('content-length')!r}, {len(body)} body bytes")
            check(info["closed"] and info["secs"] < 5, f"CONNECT {target}: the server did not close the connection after its 405 (waited {info['secs']:.1f}s)")
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"):
            info = {}
            code, hd, body, _ = raw(port, get_req("/authrootstl.cab", method=method, extra="Content-Length: 0\r\n", close=False), timeout=8, info=info)
            check(code == 405 and hd.get("allow") == "GET, HEAD", f"{method} /authrootstl.cab: {code} Allow {hd.get('allow')!r}, want 405")
            check(hd.get("content-length") == str(len(body)) and info["closed"] and info["secs"] < 5,
                  f"{method}: 405 Content-Length {hd.get('content-length')!r} for {len(body)} bytes, closed {info['closed']} after {info['secs']:.1f}s")
        for target in (f"http://example.com{UP}authrootstl.cab", "/%2e%2e/x"):
            info = {}
            code, hd, body, _ = raw(port, get_req(target, close=False), timeout=8, info=info)
            # (libevent drops the Connection header on replies to absolute-URI requests, but closes)
            check(code in (400, 403) and (code == 403 or hd.get("connection", "").lower() == "close") and info["closed"] and info["secs"] < 5,
                  f"GET {target} (keep-alive asked): {code}, Connection {hd.get('connection')!r}, closed {info['closed']} after {info['secs']:.1f}s")
        r = self.curl("-d", "x=1", self.url("/authrootstl.cab"))
        check(r.code == 405, f"curl POST: {r}, want 405")
        # unknown files
        for path in ("/nothing.cab", "/authrootstl.cab.bak", "/authroot.stl", "/sub/authrootstl.cab", "/",
                     "/authrootstl.cab/", "/_ctlmirror/", "/_ctlmirror/nope", "/index.html"):
            r = self.get(path)
            check(r.code == 404, f"GET {path}: {r}, want 404")
        r = self.curl(*px, f"http://ctldl.windowsupdate.com{UP}nothing.cab")
        check(r.code == 404, f"proxy GET of an unknown file: {r}, want 404")
        # hostile targets, sent as is on a raw socket: documented ones 400, none 200, the daemon lives
        docs400 = ["/../authrootstl.cab", "/%2e%2e/x", "/%2e%2e/authrootstl.cab", "/a%2fb", "/authrootstl.cab%00",
                   "/%61uthrootstl.cab", "/./authrootstl.cab", "//authrootstl.cab", "/.", "/..",
                   "/\\authrootstl.cab", "/x/../authrootstl.cab", UP + "../../../../../../etc/passwd",
                   f"http://ctldl.windowsupdate.com{UP}%2e%2e/authrootstl.cab",
                   f"http://ctldl.windowsupdate.com{UP}../en/authrootstl.cab",
                   "/" + "a" * 10240, "/authrootstl.cab?" + "q" * 10240]
        never200 = [b"/authrootstl.cab\x00", b"/auth\x01rootstl.cab", b"/authroot\x7fstl.cab", b"/authrootstl.cab\xff",
                    b"/authrootstl.cab HTTP/1.1 extra", b"*", b"authrootstl.cab", b""]
        for t in docs400:
            code, _, body, _ = raw(port, get_req(t, host="ctldl.windowsupdate.com" if t.startswith(UP) else "127.0.0.1"))
            check(code == 400 and self.export["authrootstl.cab"] not in body, f"GET {t[:80]!r}: {code}, want 400")
            self.still_serving(f"after {t[:60]!r}")
        for t in never200:
            code, _, body, _ = raw(port, b"GET " + t + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            check(code != 200 and self.export["authrootstl.cab"] not in body, f"GET {t[:80]!r}: {code}, want anything but 200")
            self.still_serving(f"after {t[:60]!r}")
        # a header over max_header_size (8192 by default), a huge header count, a bad request line
        for what, req in (("a 16 KB header", get_req("/authrootstl.cab", extra="X-Junk: " + "j" * 16384 + "\r\n")),
                          ("2000 headers", get_req("/authrootstl.cab", extra="".join(f"X-{i}: {i}\r\n" for i in range(2000)))),
                          ("a 64 KB request line", ("GET /" + "b" * 65536 + " HTTP/1.1\r\n\r\n").encode()),
                          ("binary noise", bytes(random.getrandbits(8) for _ in range(4096)) + b"\r\n\r\n"),
                          ("HTTP/9.9", b"GET /authrootstl.cab HTTP/9.9\r\nHost: x\r\n\r\n")):
            code, _, body, _ = raw(port, req)
            check(code != 200 and self.export["authrootstl.cab"] not in body, f"{what}: {code}, want anything but 200")
            self.still_serving(f"after {what}")
        # A Range header with absurd numbers, and an If-Modified-Since that is not a date.
        for h in ("Range: bytes=99999999999999999999999-", "Range: bytes=-99999999999999999999999",
                  "If-Modified-Since: yesterday", "If-None-Match: " + "\"x\"," * 500):
            r = self.get("/authrootstl.cab", "-H", h)
            check(r.code in (200, 206, 304, 416), f"{h[:60]}: {r}")
        self.still_serving("at the end of refusals")
        check(self.d.alive(), f"the daemon died during refusals: {self.d.stderr()[-2000:]}")

    # -- connections: each reply written at once, or finished by the event loop ---
    def connections(self):
        port = self.d.port
        cab, seq = self.export["authrootstl.cab"], self.export["authrootseq.txt"]
        # Pipelined: three requests in one packet, three answers in order on the one connection.
        with Stream(port) as st:
            st.send(get_req("/authrootstl.cab", close=False) + get_req("/authrootseq.txt", close=False)
                    + get_req("/authrootstl.cab", method="HEAD", close=False))
            got = [st.response(), st.response(), st.response(head=True)]
            check([(c, b) for c, _, b in got] == [(200, cab), (200, seq), (200, b"")],
                  f"three pipelined requests: {[(c, len(b)) for c, _, b in got]}, want the cab, the sequence, a bodiless HEAD")
            check(got[2][1].get("content-length") == str(len(cab)), f"pipelined HEAD: Content-Length {got[2][1].get('content-length')}")
            st.send(get_req("/authrootseq.txt", close=False))
            code, _, body = st.response()
            check(code == 200 and body == seq, f"a fourth request on the pipelined connection: {code} {body!r}")
        # A client that reads nothing for a while: the replies pile up past what the sockets
        # hold, so some are written in part and finished when the client reads again.
        n = -(-(8 << 20) // len(cab))
        with Stream(port, rcvbuf=4096) as st:
            st.send(b"".join(get_req("/authrootstl.cab", close=False) for _ in range(n - 1))
                    + get_req("/authrootstl.cab", close=True))
            time.sleep(1)   # the client reads nothing for a second: that is the test, not a wait
            bad = []
            for i in range(n):
                code, hd, body = st.response()
                if code != 200 or body != cab:
                    bad.append((i, code, len(body)))
                    break
            check(not bad, f"{n} pipelined cabs to a slow reader ({n * len(cab)} bytes): first bad reply {bad}")
            check(st.closed(), f"the last of {n} pipelined requests said Connection: close; the connection stayed open")
        # A client that pipelines requests for 2 s and reads no replies: the daemon stops
        # reading it once it holds a little unread input, so its memory stays flat.
        rss0 = rss_kb(self.d.p.pid)
        with Stream(port) as st:
            st.s.setblocking(False)
            burst, sent, t0 = get_req("/authrootstl.cab", close=False) * 1000, 0, time.monotonic()
            while time.monotonic() - t0 < 2:
                try:
                    sent += st.s.send(burst)
                except BlockingIOError:
                    time.sleep(0.01)    # the daemon reads no more: keep pushing, as such a client does
            grew = rss_kb(self.d.p.pid) - rss0
        check(sent < 64 << 20 and grew < 32 << 10,
              f"a client pipelining without reading: the daemon took {sent >> 20} MB of requests in 2 s and grew by {grew >> 10} MB")
        self.still_serving("after a client that pipelined without reading")
        # HTTP/1.0: closed after the reply unless keep-alive was asked for; framed either way.
        with Stream(port) as st:
            st.send(b"GET /authrootseq.txt HTTP/1.0\r\n\r\n")
            code, hd, body = st.response()
            check(code == 200 and body == seq and hd.get("content-length") == str(len(seq)) and "date" in hd and st.closed(),
                  f"HTTP/1.0 without keep-alive: {code} {body!r} {hd}, want the reply with Content-Length and Date, then a close")
        with Stream(port) as st:
            for i in range(2):
                st.send(b"GET /authrootstl.cab HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                code, _, body = st.response()
                check(code == 200 and body == cab, f"HTTP/1.0 keep-alive, request {i + 1}: {code} {len(body)} bytes")
        # Many requests in turn on one keep-alive connection.
        with Stream(port) as st:
            bad = []
            for i in range(2000):
                st.send(get_req("/authrootseq.txt" if i % 2 else "/authrootstl.cab", close=False))
                code, _, body = st.response()
                if code != 200 or body != (seq if i % 2 else cab):
                    bad.append((i, code, len(body)))
                    break
            check(not bad, f"2000 requests in turn on one connection: first bad reply {bad}")
        # A request waiting for a slow certificate fetch, with the next request already sent
        # behind it, and another whose client hangs up while it waits: the bytes pending on
        # connections that are not reading must not make the daemon spin.
        e3 = self.listed[3]
        self.up.files[f"/{e3}.crt"], self.up.delay[f"/{e3}.crt"] = b"not a certificate", 2
        try:
            with Stream(port) as st, Stream(port) as gone:
                t0, cpu0 = time.monotonic(), cpu_seconds(self.d.p.pid)
                st.send(get_req(f"/{e3}.crt", close=False) + get_req("/authrootseq.txt", close=False))
                gone.send(get_req(f"/{e3}.crt", close=False))
                gone.s.shutdown(socket.SHUT_WR)
                first, second = st.response(), st.response()
                took, cpu = time.monotonic() - t0, cpu_seconds(self.d.p.pid) - cpu0
            check(first[0] == 404 and second[:3:2] == (200, seq),
                  f"a waiting .crt request with a pipelined one behind it: {first[0]}, then {second[0]} {second[2]!r}")
            check(took >= 1.5 and cpu < took / 3,
                  f"while two requests waited {took:.1f} s for a certificate fetch the daemon used {cpu:.2f} s of CPU")
        finally:
            self.up.delay.clear()
        self.still_serving("after the slow certificate fetch")
        # Clients that reset the connection right after asking.
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(get_req("/authrootstl.cab", close=False))
            s.close()
        self.still_serving("after 50 connections reset mid-request")


# ---------------------------------------------------------------- max_connections

def connection_limit(binary, fx, tmp):
    F = Fixtures(fx)
    d0 = os.path.join(tmp, "maxconn")
    os.makedirs(d0)
    cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), os.path.join(fx, "anchors"), F.pins,
                       workers=1, max_connections=2)
    cli = Cli(binary, cfg)
    r, o = cli.imp(F["authroot-ok"]["path"])
    expect_results(o, r, ["admitted"], "maxconn store")
    seq = F["authroot-ok"]["sequence"].encode()
    d = Daemon(binary, cfg, d0, "maxconn").start()
    socks = []

    def conn():
        s = socket.create_connection(("127.0.0.1", d.port), timeout=15)
        socks.append(s)
        return s

    try:
        a, b = conn(), conn()
        for s in (a, b):
            s.sendall(get_req("/authrootseq.txt", close=False))
            code, _, body = read_one(s)
            check(code == 200 and body == seq, f"keep-alive connection within the limit: {code} {body!r}")
        for _ in range(5):
            conn()      # open, idle, nothing sent: over the limit from accept, refused too
        refused = 5
        for i in range(3):
            c = conn()
            c.sendall(get_req("/authrootseq.txt", close=False))
            code, hd, body = read_one(c)
            check(code == 503 and b"1401" not in body, f"connection #{3 + i} over max_connections=2: {code} {body!r}, want 503")
            check(hd.get("connection", "").lower() == "close", f"the 503 over max_connections does not say Connection: close: {hd}")
            c.settimeout(5)
            try:
                more = c.recv(100)
            except (socket.timeout, OSError):
                more = None
            check(more == b"", f"the connection over the limit was not closed by the server (read {more!r})")
            refused += code == 503
        # over the limit, a CONNECT too is refused and its connection closed
        info = {}
        code, hd, body, _ = raw(d.port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", timeout=8, info=info)
        check(code == 503 and hd.get("content-length") == str(len(body)) and info["closed"] and info["secs"] < 5,
              f"a CONNECT over max_connections: {code}, Content-Length {hd.get('content-length')!r}, closed {info['closed']} after {info['secs']:.1f}s")
        refused += code == 503
        # the admitted ones still work
        a.sendall(get_req("/authrootseq.txt", close=False))
        code, _, body = read_one(a)
        check(code == 200 and body == seq, f"an admitted keep-alive connection after refusals: {code}")
        for s in socks:
            s.close()
        socks.clear()
        # once they are closed, the daemon serves again (the server notices the closes)
        def serves():
            code, _, body, _ = raw(d.port, get_req("/authrootseq.txt"))
            return code == 200 and body == seq
        check(wait_for(serves, 10, step=0.2), "after the connections closed the daemon does not serve again")
        for _ in range(10):     # many short connections in a row: the count goes down with each close
            code, _, body, _ = raw(d.port, get_req("/authrootseq.txt"))
            check(code == 200, f"short connections in a row under max_connections=2: {code}")
        m = parse_metrics(raw(d.port, get_req("/_ctlmirror/metrics"))[2].decode())
        check(metric(m, "ctlmirror_refused_connections_total") == refused,
              f"metrics: refused connections {metric(m, 'ctlmirror_refused_connections_total')}, want {refused}")
    finally:
        for s in socks:
            s.close()
        d.stop_checked()


# ---------------------------------------------------------------- max_connections raised by SIGHUP

def limit_raised_by_sighup(binary, fx, tmp):
    """Connections are counted from accept; a SIGHUP that raises max_connections
    must let more of them in (the connection table must not keep the size it had at first)."""
    n, k = 4, 2
    F = Fixtures(fx)
    d0 = os.path.join(tmp, "maxconn-hup")
    os.makedirs(d0)
    cfg = os.path.join(d0, "ctlmirror.conf")

    def conf(limit):
        write_config(cfg, os.path.join(d0, "store"), F.anchors, F.pins, workers=1, max_connections=limit)

    conf(n)
    cli = Cli(binary, cfg)
    r, o = cli.imp(F.path("authroot-ok"))
    expect_results(o, r, ["admitted"], "maxconn-hup store")
    cab, seq = F.data("authroot-ok"), F.seq("authroot-ok").encode()
    d = Daemon(binary, cfg, d0, "maxconn-hup").start()
    held = []

    def connect():
        st = Stream(d.port)
        held.append(st)
        return st

    def ask(st, path):
        """One request on a keep-alive connection: (code, body); (None, b"") if it was closed."""
        try:
            st.send(get_req(path, close=False))
            code, _, body = st.response()
        except (Broken, OSError):
            return None, b""
        return code, body

    try:
        # n + k idle keep-alive connections, each after one request: the last k are refused.
        got = [ask(connect(), "/authrootseq.txt") for _ in range(n + k)]
        check([c for c, _ in got] == [200] * n + [503] * k and all(b == seq for _, b in got[:n])
              and all(b"too many connections" in b for _, b in got[n:]),
              f"{n + k} keep-alive connections under max_connections = {n}: {got}, "
              f"want {n} answered and {k} refused with 503 'too many connections'")
        for st in held[n:]:
            st.close()      # refused: the daemon closed them
        del held[n:]
        # The limit raised to n + k + 2, re-read on SIGHUP.
        reread = d.stderr().count("SIGHUP: config re-read")
        conf(n + k + 2)
        d.signal(signal.SIGHUP)
        check(wait_for(lambda: d.stderr().count("SIGHUP: config re-read") > reread, 10),
              f"SIGHUP: no 'config re-read' line: {d.stderr()[-800:]}")
        # The n held connections and k new ones: all admitted, each gets the cab.
        for _ in range(k):
            connect()
        got = [ask(st, "/authrootstl.cab") for st in held]
        check(all(c == 200 and b == cab for c, b in got),
              f"after SIGHUP raised max_connections from {n} to {n + k + 2}: {n} held and {k} new connections "
              f"got {[(c, len(b)) for c, b in got]}, want {n + k} times 200 with the cab")
        # The new limit holds: two more admitted, the one after them refused.
        got = [ask(connect(), "/authrootseq.txt") for _ in range(3)]
        check([c for c, _ in got] == [200, 200, 503],
              f"connections {n + k + 1}..{n + k + 3} under max_connections = {n + k + 2}: {[c for c, _ in got]}, want 200, 200, 503")
        check(d.alive(), f"the daemon died: {d.stderr()[-2000:]}")
    finally:
        for st in held:
            st.close()
        d.stop_checked()


def body(binary, fx, corpus, tmp, run):
    s = Limits(binary, fx, tmp)
    s.run(run, (("refusals", s.refusals), ("connections", s.connections)), counted=False)
    run.section("max_connections", connection_limit, binary, fx, tmp)
    run.section("max_connections raised by SIGHUP", limit_raised_by_sighup, binary, fx, tmp)


if __name__ == "__main__":
    sys.exit(main("serve_limits", __doc__, body))
