#!/usr/bin/env python3
"""`ctlmirror serve` over HTTP, as docs/operations.md specifies it: the real binary, real curl.

Every daemon listens on 127.0.0.1 only, on a port the kernel picks (`--listen
127.0.0.1:0`, port read from the startup line), with its own temporary store
and config (`poll_interval = 0`: no upstream polling), its clock set by
`--now 2024-06-01T00:00:00Z`; each is stopped by SIGTERM (killed if it does
not exit) whatever the checks found. What it proves, over the forged fixtures:
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
  - refusals: another host as a proxy target (403, also https:// and a
    look-alike suffix), CONNECT and other methods (405 with Allow; each
    refusal framed by Content-Length and its connection closed at once, a
    CONNECT too, also over max_connections), unknown
    files (404), hostile targets (dot segments, %-escapes, empty segments,
    backslash, NUL and control bytes, a 10 KB target, a header over
    max_header_size): never 200, documented ones 400, the daemon alive and
    answering the next request; a kind with nothing servable (empty store,
    then only quarantined copies imported live) answers 503 with a short text,
    never the unverified bytes, and healthz says critical (503) until it is
    fixed live, then warn for the newer quarantined copy;
  - live changes without a restart: each newer authroot imported while
    serving (authroot-ok < authroot-sha1 < legacy-anchor-ok < nested-ok <
    sha256-large) is served on the next request by every worker, with its
    sequence file; the old ETag no longer gives 304; `pin` of an older one
    serves it (status.json and metrics say pinned), `unpin` the newest again;
  - connections: three pipelined requests answered in order on one
    connection (the HEAD without a body); 8 MB of pipelined cabs to a client
    that reads nothing for a second, every reply intact, the connection
    closed after the last (it asked Connection: close); a client pipelining
    requests for 2 s without reading a reply: under 64 MB taken from it and
    under 32 MB of daemon growth (unbounded, it took 500 MB in 3 s); HTTP/1.0 closed after
    its reply (with Content-Length and Date) unless it asked for keep-alive; 2000
    requests in turn on one connection; a request waiting 2 s for a slow
    certificate fetch with another pipelined behind it, and one whose client
    hung up meanwhile, the daemon idle (under a third of the wait in CPU) and
    both answered in order; 50 clients that reset the connection
    mid-request, the daemon serving after;
  - operator endpoints: healthz (200 ok), status.json equal to `ctlmirror
    status --json` (plus last_sync/sync_failures; days_left within a day),
    the HTML status naming every served sequence, Prometheus metrics whose
    request and byte counters grow by exactly what was requested, served
    sequence per kind, signer expiry, versions by status (equal to
    `versions --json`), refused connections;
  - operations: the access log (client, method, route, way, status, bytes,
    time) after its one-second flush; SIGHUP re-reads the config (flat_prefix
    moves, log_format json, a smaller max_header_size) and reopens a renamed access log, a broken config
    is reported and the running one kept; `max_connections = 2` with one
    worker: a third connection gets 503 and is closed, and once the others
    close the daemon serves again; SIGTERM exits 0 within a few seconds,
    with no sanitizer report on stderr.
With the real corpus (3rd argument; skipped with a message when absent):
authroot 105..112 imported as of the middle of 112's chain window (the
expired ones quarantined), three ways in serve 112 byte for byte, its sequence
file, and real root certificates imported as .crt files and listed by 112
(an unlisted one: 404).

usage: serve_http.py CTLMIRROR FIXTURES_DIR [CORPUS_DIR]
"""
import csv
import datetime as dt
import email.utils
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (Broken, check, checks, closed_port, failures, fixture_cases, fixture_pins,
                     fixture_roots, json_lines, report, sha256)  # noqa: E402

AT = "2024-06-01T00:00:00Z"
UP = "/msdownload/update/v3/static/trustedr/en/"
HOSTS = ("ctldl.windowsupdate.com", "www.download.windowsupdate.com")
CAB_TYPE = "application/vnd.ms-cab-compressed"
# served name -> (kind, fixture case, Content-Type, Cache-Control, cab member)
FILES = {
    "authrootstl.cab": ("authroot", "authroot-ok", CAB_TYPE, "public, max-age=3600", "authroot.stl"),
    "disallowedcertstl.cab": ("disallowed", "disallowed-ok", CAB_TYPE, "public, max-age=3600", "disallowedcert.stl"),
    "pinrulesstl.cab": ("pinrules", "pinrules-ok", CAB_TYPE, "public, max-age=3600", "pinrules.stl"),
    "authrootseq.txt": ("authroot", None, "text/plain", "no-cache", None),
}
KINDS = ("authroot", "disallowed", "pinrules")
START_TIMEOUT = 60     # the ASan build is slow to start
STOP_TIMEOUT = 20
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def http_date(iso):
    t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return email.utils.format_datetime(t, usegmt=True)


# ---------------------------------------------------------------- curl and raw HTTP

CURL_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


class Resp:
    def __init__(self, code, headers, body, rc, err, connect=0):
        self.code, self.headers, self.body, self.rc, self.err, self.connect = code, headers, body, rc, err, connect

    def h(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.code} {len(self.body)} bytes, curl rc {self.rc} {self.err.strip()[:200]}>"


def parse_head(text):
    """Status code and headers (lower-case names) of the last response in a header dump."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip().startswith("HTTP/")]
    if not blocks:
        return 0, {}
    lines = blocks[-1].strip().splitlines()
    m = re.match(r"HTTP/\S+ (\d{3})", lines[0])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return int(m.group(1)) if m else 0, headers


class Curl:
    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0

    def __call__(self, *args, timeout=30):
        self.n += 1
        body = os.path.join(self.tmp, f"curl-{self.n}.body")
        head = os.path.join(self.tmp, f"curl-{self.n}.head")
        cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", body, "-D", head,
               "-w", "%{http_code} %{http_connect}", *args]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=CURL_ENV, timeout=timeout + 15)
        except subprocess.TimeoutExpired:
            return Resp(0, {}, b"", -1, "curl did not finish")
        data = read(body) if os.path.exists(body) else b""
        text = open(head, encoding="latin-1").read() if os.path.exists(head) else ""
        code, headers = parse_head(text)
        w = (r.stdout or "0 0").split()
        connect = int(w[1]) if len(w) > 1 and w[1].isdigit() else 0
        for p in (body, head):
            if os.path.exists(p):
                os.unlink(p)
        return Resp(code or int(w[0] or 0), headers, data, r.returncode, r.stderr, connect)


def ways(port, name, query=""):
    """(label, curl arguments) for the three ways in, both mirrored hosts where it matters."""
    out = []
    for h in HOSTS:
        out.append((f"proxy {h}", ["-x", f"http://127.0.0.1:{port}", f"http://{h}{UP}{name}{query}"]))
    for h in HOSTS:
        out.append((f"dns {h}", ["--resolve", f"{h}:{port}:127.0.0.1", f"http://{h}:{port}{UP}{name}{query}"]))
    out.append(("flat", [f"http://127.0.0.1:{port}/{name}{query}"]))
    return out


def raw(port, data, timeout=15, info=None):
    """Sends bytes on a new connection, reads until the server closes. (code or None, headers, body, bytes).

    info (a dict), when given, gets 'closed' (the server closed the connection, rather than
    the read timing out) and 'secs'."""
    chunks = []
    closed = False
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return None, {}, b"", repr(e).encode()
    try:
        try:
            s.sendall(data)
        except OSError:
            pass    # the server may close before it has read everything: read what it said
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not b:
                closed = True
                break
            chunks.append(b)
    finally:
        s.close()
    if info is not None:
        info.update(closed=closed, secs=time.time() - t0)
    allb = b"".join(chunks)
    return (*split_response(allb), allb)


def split_response(allb):
    head, sep, body = allb.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not m:
        return None, {}, b""
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return int(m.group(1)), headers, body


def read_one(sock, timeout=15):
    """One response from a keep-alive connection: (code, headers, body); code None if closed first."""
    sock.settimeout(timeout)
    try:
        return Stream.over(sock).response()
    except (Broken, OSError):
        return None, {}, b""


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


class Stream:
    """One connection's replies, read in order (a pipelined reply's bytes are kept for the next)."""

    def __init__(self, port, rcvbuf=None, timeout=15):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(("127.0.0.1", port))
        self.buf = bytearray()

    @classmethod
    def over(cls, sock):
        """A Stream over a connection already open (closed by whoever opened it)."""
        st = cls.__new__(cls)
        st.s, st.buf = sock, bytearray()
        return st

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        b = self.s.recv(1 << 20)
        if not b:
            raise Broken(f"the server closed the connection mid-reply ({len(self.buf)} bytes buffered)")
        self.buf += b

    def response(self, head=False):
        """(code, headers, body) of the next reply; a HEAD's or a 304's has no body."""
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        code, headers, _ = split_response(bytes(self.buf[:end + 4]))
        del self.buf[:end + 4]
        n = 0 if head or code == 304 else int(headers.get("content-length", "0") or 0)
        while len(self.buf) < n:
            self._fill()
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return code, headers, body

    def closed(self, timeout=5):
        """Did the server close the connection (nothing more to read)?"""
        self.s.settimeout(timeout)
        try:
            return not self.buf and self.s.recv(1) == b""
        except OSError:
            return False


def get_req(path, host="127.0.0.1", extra="", method="GET", close=True):
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"
            f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n").encode("latin-1")


# ---------------------------------------------------------------- the daemon

RUNNING = []


class Daemon:
    def __init__(self, binary, config, tmp, name, now=AT):
        self.binary, self.config, self.tmp, self.name, self.now = binary, config, tmp, name, now
        self.p = None
        self.port = None
        self.err_path = os.path.join(tmp, f"{name}.stderr")
        self.out_path = os.path.join(tmp, f"{name}.stdout")

    def start(self):
        self.errf = open(self.err_path, "wb")
        self.outf = open(self.out_path, "wb")
        self.t_started = time.time()
        self.p = subprocess.Popen([self.binary, "serve", "-c", self.config, "--listen", "127.0.0.1:0",
                                   "--now", self.now], stdout=self.outf, stderr=self.errf)
        RUNNING.append(self)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.stderr())
            if m:
                self.port = int(m.group(1))
                self.startup = self.stderr().splitlines()[0] if self.stderr() else ""
                return self
            if self.p.poll() is not None:
                raise Broken(f"{self.name}: serve exited {self.p.returncode} before listening: {self.stderr()[-1500:]}")
            time.sleep(0.05)
        raise Broken(f"{self.name}: no 'listening on http://127.0.0.1:PORT/' line in {START_TIMEOUT}s: {self.stderr()[-1500:]}")

    def stderr(self):
        try:
            return open(self.err_path, encoding="utf-8", errors="replace").read()
        except OSError:
            return ""

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def stop(self):
        """SIGTERM, wait, SIGKILL if it hangs. Returns (exit status, seconds); (None, s) if killed."""
        if self.p is None:
            return None, 0.0
        t0 = time.time()
        rc = self.p.poll()
        if rc is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                rc = self.p.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                rc = None
        secs = time.time() - t0
        for f in (self.errf, self.outf):
            f.close()
        if self in RUNNING:
            RUNNING.remove(self)
        return rc, secs

    def stop_checked(self, max_secs=10):
        was_alive = self.alive()
        rc, secs = self.stop()
        check(was_alive, f"{self.name}: the daemon had died before SIGTERM (exit {rc}): {self.stderr()[-1500:]}")
        check(rc == 0, f"{self.name}: SIGTERM: exit {rc}, want 0; stderr tail: {self.stderr()[-1500:]}")
        check(secs < max_secs, f"{self.name}: SIGTERM took {secs:.1f}s to exit, want under {max_secs}s")
        m = SANITIZER.search(self.stderr())
        check(m is None, f"{self.name}: sanitizer report on stderr: {self.stderr()[max(0, m.start() - 200):m.start() + 3000] if m else ''}")
        check("stopped" in self.stderr(), f"{self.name}: no 'stopped' line after SIGTERM: {self.stderr()[-500:]}")
        return rc


# ---------------------------------------------------------------- fixtures, config, CLI

class Fixtures:
    def __init__(self, fx):
        self.dir = fx
        self.rows = {c["name"]: c for c in fixture_cases(fx)}
        for c in self.rows.values():
            c["bytes"] = read(c["path"])
            c["sha256"] = sha256(c["bytes"])
        self.pins = fixture_pins(fx)
        self.certs = fixture_roots(fx)

    def __getitem__(self, name):
        return self.rows[name]


def write_config(path, store, anchors, pins=(), **keys):
    lines = [f"store = {store}", f"anchors = {anchors}", "poll_interval = 0"]
    lines += [f"anchor_pin = {p}" for p in pins]
    if "upstream" not in keys:
        keys["upstream"] = f"http://127.0.0.1:{closed_port()}/"   # never the Internet
    for k, v in keys.items():
        for one in (v if isinstance(v, (list, tuple)) else [v]):
            lines.append(f"{k} = {one}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Cli:
    def __init__(self, binary, config):
        self.binary, self.config = binary, config

    def run(self, cmd, *args, timeout=180):
        return subprocess.run([self.binary, cmd, "-c", self.config, *args], capture_output=True, text=True,
                              timeout=timeout)

    def imp(self, *files, at=AT, extra=()):
        r = self.run("import", "--at", at, "--json", *extra, *files)
        return r, json_lines(r, "import --json")

    def json(self, cmd, *args, ok=(0,)):
        r = self.run(cmd, "--json", *args)
        if r.returncode not in ok:
            raise Broken(f"{cmd} --json {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Broken(f"{cmd} --json: not JSON: {r.stdout[:300]!r}")

    def export(self, d):
        if os.path.exists(d):
            shutil.rmtree(d)
        r = self.run("export", d)
        if r.returncode != 0:
            raise Broken(f"export {d}: exit {r.returncode}: {r.stderr.strip()}")
        return {n: read(os.path.join(d, n)) for n in os.listdir(d)}


def expect_results(objs, r, want, ctx):
    check([o.get("result") for o in objs] == list(want),
          f"{ctx}: import results {[(o.get('file'), o.get('result'), o.get('reason')) for o in objs]}, want {list(want)} "
          f"(exit {r.returncode}, stderr {r.stderr.strip()[:300]!r})")


# ---------------------------------------------------------------- a scripted upstream for on-demand .crt

class Upstream:
    """127.0.0.1 only: path -> bytes, everything else 404; records each path asked for; answers late when told."""

    def __init__(self):
        self.files, self.seen, self.lock = {}, [], threading.Lock()
        self.delay = {}     # path -> seconds to wait before answering
        up = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with up.lock:
                    up.seen.append(path)
                    data = up.files.get(path)
                    delay = up.delay.get(path, 0)
                time.sleep(delay)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-cert")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/"
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def asked(self, path):
        with self.lock:
            return self.seen.count(path)

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---------------------------------------------------------------- metrics

def parse_metrics(text):
    """{(name, ((label, value), ...)): float}; raises Broken on a line that is not Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if not m:
            raise Broken(f"metrics: not a Prometheus sample line: {line!r}")
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(ms, name, **labels):
    return ms.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------- the main forged scenario

class Forged:
    def __init__(self, binary, fx, tmp):
        self.binary, self.F, self.tmp = binary, Fixtures(fx), tmp
        self.curl = Curl(tmp)
        self.dir = os.path.join(tmp, "forged")
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.access = os.path.join(self.dir, "access.log")
        self.up = Upstream()
        self.keys = dict(workers=2, access_log=self.access, upstream=self.up.url, flat_prefix="/")
        self.cfg = os.path.join(self.dir, "ctlmirror.conf")
        write_config(self.cfg, self.store, os.path.join(fx, "anchors"), self.F.pins, **self.keys)
        self.cli = Cli(binary, self.cfg)
        self.d = None

    def url(self, path):
        return f"http://127.0.0.1:{self.d.port}{path}"

    def get(self, path, *args):
        return self.curl(*args, self.url(path))

    def setup(self):
        F = self.F
        r, o = self.cli.imp(*[F[n]["path"] for n in ("authroot-ok", "disallowed-ok", "pinrules-ok")])
        expect_results(o, r, ["admitted"] * 3, "forged store")
        # Certificates: the listed test root, and a root the forged CTLs do not list.
        # The legacy root (listed) stays out: it is fetched on demand from the scripted upstream.
        paths = []
        for label in ("root", "untrusted"):
            sha1, der = F.certs[label]
            p = os.path.join(self.dir, f"{sha1}.crt")
            with open(p, "wb") as f:
                f.write(der)
            paths.append(p)
        r, o = self.cli.imp(*paths)
        expect_results(o, r, ["cert_added", "cert_added"], "certificate import")
        entries = self.cli.json("show", "--entries", F["authroot-ok"]["sequence"]).get("entries_list") or []
        self.listed = [e["thumbprint"].upper() for e in entries]
        if not (len(self.listed) >= 4 and self.listed[0] == F.certs["root"][0] and self.listed[1] == F.certs["legacy"][0]):
            raise Broken(f"the forged authroot CTL does not list the two test roots first: {self.listed}")
        self.export = self.cli.export(os.path.join(self.dir, "export"))
        self.d = Daemon(self.binary, self.cfg, self.dir, "forged").start()
        check(re.search(r"with 2 workers; serving authroot %s" % F["authroot-ok"]["sequence"], self.d.startup),
              f"startup line does not say what is served: {self.d.startup!r}")

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
        modified = http_date(AT)     # first seen = the --at of the import
        for name, (kind, case, ctype, cc, member) in FILES.items():
            data = self.export[name]
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
            for ims, want in ((modified, 304), (http_date("2024-06-02T00:00:00Z"), 304),
                              (http_date("2024-05-31T23:59:59Z"), 200)):
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
        root_sha1, root_der = F.certs["root"]
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
        un_sha1, _ = F.certs["untrusted"]
        rnd = "%040X" % random.getrandbits(160)
        for name in (f"{un_sha1}.crt", f"{un_sha1.lower()}.crt", f"{rnd}.crt", f"{root_sha1[:39]}.crt",
                     f"{root_sha1}0.crt", f"{root_sha1[:39]}G.crt", f"{root_sha1}.cer", f"{root_sha1}.crt.txt"):
            r = self.get("/" + name)
            check(r.code == 404 and root_der not in r.body, f"GET /{name}: {r}, want 404")
        check(self.up.asked(f"/{un_sha1}.crt") == 0 and self.up.asked(f"/{rnd}.crt") == 0,
              f"an unlisted root was asked of upstream: {self.up.seen}")
        # Listed but not stored: fetched once, checked against its name, stored, served.
        leg_sha1, leg_der = F.certs["legacy"]
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
            time.sleep(1)
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
                    time.sleep(0.01)
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

    def still_serving(self, when):
        r = self.get("/authrootseq.txt")
        if not check(r.code == 200 and r.body, f"{when}: the next normal request got {r}"):
            if not self.d.alive():
                raise Broken(f"the daemon died {when}: exit {self.d.p.returncode}: {self.d.stderr()[-3000:]}")

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
        now = self.daemon_now()
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

    def daemon_now(self):
        return dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=time.time() - self.d.t_started)

    # -- access log, SIGHUP -----------------------------------------------------
    def access_log(self):
        port = self.d.port
        marker = f"{random.getrandbits(32):x}"
        time.sleep(1.5)     # earlier requests' lines flushed: count from here
        n0 = len(open(self.access).read().splitlines()) if os.path.exists(self.access) else 0
        self.curl("-x", f"http://127.0.0.1:{port}", f"http://ctldl.windowsupdate.com{UP}authrootstl.cab?{marker}")
        self.curl("--resolve", f"www.download.windowsupdate.com:{port}:127.0.0.1",
                  f"http://www.download.windowsupdate.com:{port}{UP}disallowedcertstl.cab")
        self.get("/pinrulesstl.cab")
        self.get("/missing-file")
        self.curl("-I", self.url("/authrootseq.txt"))
        self.get("/_ctlmirror/healthz")
        lines = self.wait_log(self.access, n0 + 6)[n0:]
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
                  abs((self.daemon_now() - t).total_seconds()) < 600, f"access log time {p[0]} is neither now nor the daemon's now")
            check(float(p[7]) < 10000, f"access log: {p[7]} ms for one request")

    def wait_log(self, path, at_least, timeout=10):
        """The log's lines once it has at_least of them (flushed each second), or what it has."""
        deadline = time.time() + timeout
        lines = []
        while time.time() < deadline:
            lines = open(path).read().splitlines() if os.path.exists(path) else []
            if len(lines) >= at_least:
                break
            time.sleep(0.2)
        return lines

    def sighup(self):
        port, d = self.d.port, self.d
        before = len(open(self.access).read().splitlines())
        rotated = self.access + ".1"
        os.rename(self.access, rotated)
        keys = dict(self.keys, flat_prefix="/pki/", log_format="json", max_header_size=4096)
        write_config(self.cfg, self.store, os.path.join(self.F.dir, "anchors"), self.F.pins, **keys)
        d.signal(signal.SIGHUP)
        r = self.wait_for(lambda: self.get("/pki/authrootstl.cab"), lambda r: r.code == 200)
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
        lines = self.wait_log(self.access, 4)
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
        self.wait_for(lambda: d.stderr(), lambda s: "keeping the running config" in s, timeout=10)
        check("keeping the running config" in d.stderr() and "no_such_key" in d.stderr(),
              f"SIGHUP with a broken config: not reported on stderr: {d.stderr()[-800:]}")
        r = self.get("/pki/authrootstl.cab")
        check(r.code == 200, f"after a broken config's SIGHUP, /pki/ no longer serves: {r}")
        check(d.alive(), "the daemon died on a SIGHUP with a broken config")
        # back to the start
        write_config(self.cfg, self.store, os.path.join(self.F.dir, "anchors"), self.F.pins, **self.keys)
        d.signal(signal.SIGHUP)
        r = self.wait_for(lambda: self.get("/authrootstl.cab"), lambda r: r.code == 200)
        check(r.code == 200, f"after SIGHUP back to flat_prefix /: {r}")
        self.wait_for(lambda: [self.get("/pki/authrootstl.cab").code for _ in range(4)], lambda c: c == [404] * 4)

    def still_serving_at(self, prefix, when):
        r = self.get(prefix + "authrootseq.txt")
        check(r.code == 200, f"{when}: the next request got {r}")

    def wait_for(self, fn, ok, timeout=15):
        deadline = time.time() + timeout
        while True:
            v = fn()
            if ok(v) or time.time() > deadline:
                return v
            time.sleep(0.2)

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
        # pin an older one, then unpin
        r = self.cli.run("pin", F["authroot-sha1"]["sequence"])
        check(r.returncode == 0, f"pin: exit {r.returncode}: {r.stderr.strip()}")
        self.expect_served("authroot-sha1", "after pin")
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
        root_sha1, root_der = F.certs["root"]
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

    def stop(self):
        self.up.stop()
        if self.d is not None:
            self.d.stop_checked()


# ---------------------------------------------------------------- 503: nothing servable, health

def nothing_servable(binary, fx, tmp):
    F, curl = Fixtures(fx), Curl(tmp)
    d0 = os.path.join(tmp, "empty")
    os.makedirs(d0)
    cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), os.path.join(fx, "anchors"), F.pins, workers=1)
    cli = Cli(binary, cfg)
    d = Daemon(binary, cfg, d0, "empty").start()
    try:
        check("empty" in d.startup and "ctlmirror import" in d.startup, f"startup line for an empty store: {d.startup!r}")
        port = d.port
        root_sha1 = F.certs["root"][0]

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
        healthz(200, b"warn\n", "a newer authroot copy failed verification")
        unavailable("pinrules never imported", ["pinrulesstl.cab"])
    finally:
        d.stop_checked()


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
            conn()      # open, idle, nothing sent (socks keeps them open)
        refused = 0
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
        ok = False
        deadline = time.time() + 10
        while time.time() < deadline and not ok:
            code, _, body, _ = raw(d.port, get_req("/authrootseq.txt"))
            ok = code == 200 and body == seq
            if not ok:
                time.sleep(0.2)
        check(ok, "after the connections closed the daemon does not serve again")
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
    curl = Curl(tmp)
    d0 = os.path.join(tmp, "corpus")
    os.makedirs(d0)
    cfg = write_config(os.path.join(d0, "ctlmirror.conf"), os.path.join(d0, "store"), os.path.join(corpus, "anchors"), workers=2)
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


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[-1])
        return 2
    binary, fx = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) == 4 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpus")
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx} (run build/tests/forge {fx})")
        return 1
    for tool in ("curl", "cabextract"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} is not installed (scripts/deps.sh test installs it)")
            return 1
    random.seed()
    tmp = tempfile.mkdtemp(prefix="ctlmirror-serve-http-")
    sections = 0
    t0 = time.time()

    def section(name, fn, *args):
        nonlocal sections
        sections += 1
        t = time.time()
        try:
            fn(*args)
        except Broken as e:
            failures.append(f"{name}: {e}")
        except Exception:
            failures.append(f"{name}: test raised\n{traceback.format_exc()}")
        print(f"  {name}: {time.time() - t:.1f}s", flush=True)

    try:
        s = Forged(binary, fx, tmp)
        try:
            try:
                s.setup()
            except Broken as e:
                failures.append(f"setup: {e}")
            except Exception:
                failures.append(f"setup: test raised\n{traceback.format_exc()}")
            else:
                for name, fn in (("ways in", s.ways_in), ("headers", s.headers), ("certificates", s.certificates),
                                 ("refusals", s.refusals), ("connections", s.connections),
                                 ("operator endpoints", s.operator),
                                 ("access log", s.access_log), ("SIGHUP", s.sighup), ("live changes", s.live)):
                    if not s.d.alive():
                        failures.append(f"{name}: not run, the daemon is gone (exit {s.d.p.returncode}): {s.d.stderr()[-2000:]}")
                        continue
                    section(name, fn)
        finally:
            section("SIGTERM", s.stop)
        section("nothing servable", nothing_servable, binary, fx, tmp)
        section("max_connections", connection_limit, binary, fx, tmp)
        section("real corpus", corpus_part, binary, corpus, tmp)
    finally:
        for d in list(RUNNING):
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"serve_http: {sections} sections, {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
