"""Helpers shared by the integration tests.

The check state (every check counted, the failed ones' messages in `failures`)
lives here, one per test process; a script reports it at the end with
`report(...)` and reads the count with `checks()`.

Scripts import it beside them, without leaving bytecode in the source tree:

    sys.dont_write_bytecode = True   # no __pycache__ in the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from testlib import check, failures  # noqa: E402

Besides the check state it holds the one copy of what several scripts need: the forged
fixtures (Fixtures), a config file (write_config), the daemon (Daemon: `ctlmirror serve`
started, waited for, stopped, its stderr searched for sanitizer reports), HTTP (curl() and
Resp; raw(), Stream and get_req() for bytes on a socket; one reply parser, parse_head), and
waiting for something to happen (wait_for).
"""
import base64
import csv
import datetime as dt
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

failures = []
_checks = 0


def check(cond, msg):
    """Counts one check; a false cond records msg as a failure. Returns bool(cond)."""
    global _checks
    _checks += 1
    if not cond:
        failures.append(msg)
    return bool(cond)


def checks():
    """How many checks have run so far."""
    return _checks


def report(*lines):
    """Prints every failure, then the summary lines; returns the exit status (1 if anything failed)."""
    for msg in failures:
        print("FAIL:", msg)
    for line in lines:
        print(line)
    return 1 if failures else 0


class Broken(Exception):
    """Something a test needs is missing or unusable: the rest of that part cannot run."""


# ---------------------------------------------------------------- times

def t(s):
    """A manifest time (20240601000000Z) as an aware UTC datetime."""
    return dt.datetime.strptime(s, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def iso(d):
    """A datetime as the CLI writes and reads it: 2024-06-01T00:00:00Z."""
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- bytes and files

def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pem_to_der(path):
    """The DER bytes of the first certificate in a PEM file."""
    text = open(path).read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return base64.b64decode("".join(m.group(1).split()))


# ---------------------------------------------------------------- the forged fixtures (tests/forge)

def fixture_cases(fx):
    """cases.tsv of a forge output directory: one dict per case, in order, with its "path"."""
    with open(os.path.join(fx, "cases.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        r["path"] = os.path.join(fx, r["file"])
    return rows


def fixture_pins(fx):
    """The SHA-256 pins of the test anchors (pins.txt)."""
    with open(os.path.join(fx, "pins.txt")) as f:
        return [line.strip() for line in f if line.strip()]


def fixture_trust(fx):
    """The CLI arguments that trust the test anchors: --anchors DIR --pin P ..."""
    args = ["--anchors", os.path.join(fx, "anchors")]
    for p in fixture_pins(fx):
        args += ["--pin", p]
    return args


def fixture_roots(fx):
    """The two trusted test roots every forged authroot CTL lists first, and one it does not
    list: {"root"|"legacy"|"untrusted": (SHA-1 thumbprint in upper-case hex, DER)}."""
    roots = {}
    for label, pem in (("root", "anchors/root.pem"), ("legacy", "anchors/legacy-root.pem"),
                       ("untrusted", "untrusted/root.pem")):
        der = pem_to_der(os.path.join(fx, pem))
        roots[label] = (hashlib.sha1(der).hexdigest().upper(), der)
    return roots


class Fixtures:
    """A forge output directory, loaded once: `rows` maps each case name to its cases.tsv row with
    "path", "bytes", "sha256" (hex) and "size" added; `pins`, `trust` (the CLI arguments),
    `anchors` (the directory) and `roots` (fixture_roots) for the test PKI."""

    def __init__(self, fx):
        self.dir = fx
        self.anchors = os.path.join(fx, "anchors")
        self.rows = {c["name"]: c for c in fixture_cases(fx)}
        for c in self.rows.values():
            with open(c["path"], "rb") as f:
                c["bytes"] = f.read()
            c["sha256"] = sha256(c["bytes"])
            c["size"] = len(c["bytes"])
        self.pins = fixture_pins(fx)
        self.trust = fixture_trust(fx)
        self.roots = fixture_roots(fx)

    def __getitem__(self, name):
        return self.rows[name]

    def path(self, name):
        return self.rows[name]["path"]

    def data(self, name):
        return self.rows[name]["bytes"]

    def sha(self, name):
        return self.rows[name]["sha256"]

    def seq(self, name):
        return self.rows[name]["sequence"]

    def name_of(self, sha):
        """The case whose bytes hash to sha (a prefix of sha when none does)."""
        for n, c in self.rows.items():
            if c["sha256"] == sha:
                return n
        return (sha or "")[:12]


# ---------------------------------------------------------------- processes and ports

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer|runtime error:")


def sanitizer_report(text):
    """The first sanitizer report in a process's stderr, from a little before it ('' when there is
    none): AddressSanitizer, LeakSanitizer, ThreadSanitizer ("WARNING: ThreadSanitizer: data
    race"), UBSan ("runtime error:")."""
    m = SANITIZER.search(text)
    return text[max(0, m.start() - 200):m.start() + 3000] if m else ""


def json_lines(r, what):
    """The JSON object on each stdout line of a finished process (r), or Broken naming the line."""
    objs = []
    for line in r.stdout.splitlines():
        try:
            objs.append(json.loads(line))
        except ValueError:
            raise Broken(f"{what} printed a non-JSON line {line!r} (stderr {r.stderr.strip()!r})")
    return objs


def closed_port():
    """A loopback port nothing listens on (bound, then closed): connection refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- waiting

def wait_for(pred, timeout, step=0.1, until=None):
    """Calls pred() until what it returns is true (or until(value) is, when until is given) or
    timeout seconds have passed; returns the last value. How a test waits for something to
    happen (a daemon listening, a config re-read, a round finished, a log line written)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if (until(v) if until is not None else v) or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------- HTTP: curl, and bytes on a socket

# curl talks to 127.0.0.1 only: no proxy from the environment (-x names one when a test wants it)
CURL_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


class Resp:
    """One HTTP reply: code (0 or None when there was none), headers (lower-case names), body;
    from curl also its exit status (rc), its stderr (err), the code its CONNECT got (connect)
    and the seconds the request took (secs)."""

    def __init__(self, code, headers, body, rc=0, err="", connect=0, secs=0.0):
        self.code, self.headers, self.body = code, headers, body
        self.rc, self.err, self.connect, self.secs = rc, err, connect, secs

    def h(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.code} {len(self.body)} bytes, curl rc {self.rc} {self.err.strip()[:200]}>"


def parse_head(head):
    """(status code, headers with lower-case names) of one reply's head, bytes or text;
    (None, {}) when it does not start with an HTTP status line."""
    if isinstance(head, bytes):
        head = head.decode("latin-1")
    lines = head.strip().splitlines()
    m = re.match(r"HTTP/\S+ (\d{3})", lines[0]) if lines else None
    if not m:
        return None, {}
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers


def curl(*args, timeout=30):
    """One curl run (args hold the URL, and -x, -H, -I, ... as the test wants): a Resp of the last
    reply in curl's header dump (a proxy's CONNECT reply comes before it), code 0 when none came."""
    d = tempfile.mkdtemp(prefix="ctlmirror-curl-")
    body, head = os.path.join(d, "body"), os.path.join(d, "head")
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", body, "-D", head,
           "-w", "%{http_code} %{http_connect}", *args]
    t0 = time.monotonic()
    try:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=CURL_ENV, timeout=timeout + 15)
        except subprocess.TimeoutExpired:
            return Resp(0, {}, b"", -1, "curl did not finish", secs=time.monotonic() - t0)
        secs = time.monotonic() - t0
        data = open(body, "rb").read() if os.path.exists(body) else b""
        text = open(head, encoding="latin-1").read() if os.path.exists(head) else ""
    finally:
        for p in (body, head):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(d)
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip().startswith("HTTP/")]
    code, headers = parse_head(blocks[-1]) if blocks else (None, {})
    w = (r.stdout or "0 0").split()
    written = int(w[0]) if w and w[0].isdigit() else 0
    connect = int(w[1]) if len(w) > 1 and w[1].isdigit() else 0
    return Resp(code or written, headers, data, r.returncode, r.stderr, connect, secs)


def split_response(allb):
    """(code or None, headers, body) of the bytes of one whole reply."""
    head, _, body = allb.partition(b"\r\n\r\n")
    code, headers = parse_head(head)
    return (code, headers, body) if code is not None else (None, {}, b"")


def get_req(path, host="127.0.0.1", extra="", method="GET", close=True):
    """The bytes of one HTTP/1.1 request (extra: more header lines, each ending in CRLF)."""
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"
            f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n").encode("latin-1")


def raw(port, data, timeout=15, info=None):
    """Sends bytes on a new connection to 127.0.0.1:port and reads until the server closes:
    (code or None, headers, body, all bytes read).

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


class Stream:
    """One connection's replies, read in order (a pipelined reply's bytes are kept for the next)."""

    def __init__(self, port, rcvbuf=None, timeout=15, source=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            self.s.bind((source, 0))    # another loopback address, e.g. 127.0.0.2
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

    def close(self):
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


def read_one(sock, timeout=15):
    """One reply from a keep-alive connection: (code, headers, body); code None if closed first."""
    sock.settimeout(timeout)
    try:
        return Stream.over(sock).response()
    except (Broken, OSError):
        return None, {}, b""


# ---------------------------------------------------------------- the daemon

AT = "2024-06-01T00:00:00Z"     # the time the forged fixtures verify at: --at and --now


def write_config(path, store, anchors, pins=(), **keys):
    """A config file for the test daemons and commands: no polling unless keys say so, an
    upstream nothing listens on unless keys name one (never the Internet); a list value
    repeats its key. Returns path."""
    lines = [f"store = {store}", f"anchors = {anchors}", "poll_interval = 0"]
    lines += [f"anchor_pin = {p}" for p in pins]
    if os.geteuid() == 0 and "user" not in keys:
        # a root test run keeps root: the test's files are in 0700 directories (privs.py
        # tests the drop)
        lines.append("user = root")
    if "upstream" not in keys:
        keys["upstream"] = f"http://127.0.0.1:{closed_port()}/"
    for k, v in keys.items():
        for one in (v if isinstance(v, (list, tuple)) else [v]):
            lines.append(f"{k} = {one}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Daemon:
    """`ctlmirror serve -c CONFIG --listen 127.0.0.1:0 --now NOW`: a port the kernel picks (read
    from its "listening on" line), stdout and stderr in files under dir.

    start() returns once it listens (Broken if it exits or does not within START_TIMEOUT);
    stop() sends SIGTERM and kills it if it has not exited within STOP_TIMEOUT; stop_checked()
    also checks how it went (exit 0, no sanitizer report, ...). Every daemon started and not
    yet stopped is in Daemon.running, for stop_all() in a script's last `finally`."""

    START_TIMEOUT = 60      # a sanitizer build is slow to start
    STOP_TIMEOUT = 20
    running = []

    def __init__(self, binary, config, dir, name="serve", now=AT, args=()):
        self.binary, self.config, self.dir, self.name, self.now, self.args = binary, config, dir, name, now, list(args)
        self.err_path = os.path.join(dir, f"{name}.stderr")
        self.out_path = os.path.join(dir, f"{name}.stdout")
        self.p = None
        self.port = self.url = self.base = self.startup = None
        self.rc, self.secs, self.was_alive = None, 0.0, False

    def start(self):
        self.errf = open(self.err_path, "wb")
        self.outf = open(self.out_path, "wb")
        self.t_started = time.time()
        self.p = subprocess.Popen([self.binary, "serve", "-c", self.config, "--listen", "127.0.0.1:0",
                                   "--now", self.now, *self.args],
                                  stdout=self.outf, stderr=self.errf, stdin=subprocess.DEVNULL)
        Daemon.running.append(self)
        pat = re.compile(r"^.*listening on http://127\.0\.0\.1:(\d+)/.*$", re.M)
        m = wait_for(lambda: pat.search(self.stderr()) or self.p.poll() is not None, self.START_TIMEOUT, step=0.05)
        if not isinstance(m, re.Match):
            rc = self.p.poll()
            self.stop()
            if rc is not None:
                raise Broken(f"{self.name}: serve exited {rc} before listening: {self.stderr()[-1500:]}")
            raise Broken(f"{self.name}: no 'listening on http://127.0.0.1:PORT/' line in "
                         f"{self.START_TIMEOUT}s: {self.stderr()[-1500:]}")
        self.port = int(m.group(1))
        self.startup = m.group(0)
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/"
        return self

    def stderr(self):
        try:
            with open(self.err_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def clock(self):
        """The daemon's clock: --now plus the time since it started."""
        start = dt.datetime.fromisoformat(self.now.replace("Z", "+00:00"))
        return start + dt.timedelta(seconds=time.time() - self.t_started)

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def get(self, path, *args, timeout=30):
        """curl of a path on the daemon (with or without its leading /), more curl args first."""
        return curl(*args, self.url + path.lstrip("/"), timeout=timeout)

    def sanitizer(self):
        """The first sanitizer report on its stderr, '' when there is none."""
        return sanitizer_report(self.stderr())

    def stop(self):
        """SIGTERM, wait, SIGKILL if it hangs. Returns (exit status, seconds); (None, s) if killed.
        Stopping a stopped daemon again returns the same."""
        if self.p is None or self not in Daemon.running:
            return self.rc, self.secs
        t0 = time.time()
        self.was_alive = self.p.poll() is None
        rc = self.p.poll()
        if rc is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                rc = self.p.wait(timeout=self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                rc = None
        self.rc, self.secs = rc, time.time() - t0
        for f in (self.errf, self.outf):
            f.close()
        Daemon.running.remove(self)
        return self.rc, self.secs

    def stop_checked(self, max_secs=10, was_alive=True, says_stopped=True, counted=True):
        """stop(), then checks: [it was still running,] it exited 0 on SIGTERM, [within max_secs,]
        its stderr holds no sanitizer report[, and says 'stopped']. counted=False: the same, as a
        precondition rather than checks (Broken naming what went wrong; nothing counted)."""
        rc, secs = self.stop()
        err = self.stderr()
        san = sanitizer_report(err)
        items = []
        if was_alive:
            items.append((self.was_alive, f"{self.name}: the daemon had died before SIGTERM (exit {rc}): {err[-1500:]}"))
        items.append((rc == 0, f"{self.name}: SIGTERM: exit {rc}, want 0; stderr tail: {err[-1500:]}"))
        if max_secs is not None:
            items.append((secs < max_secs, f"{self.name}: SIGTERM took {secs:.1f}s to exit, want under {max_secs}s"))
        items.append((not san, f"{self.name}: sanitizer report on stderr: {san}"))
        if says_stopped:
            items.append(("stopped" in err, f"{self.name}: no 'stopped' line after SIGTERM: {err[-500:]}"))
        if counted:
            for ok, msg in items:
                check(ok, msg)
        else:
            bad = [msg for ok, msg in items if not ok]
            if bad:
                raise Broken("; ".join(bad))
        return rc

    @classmethod
    def stop_all(cls):
        """Stops every daemon still running (a script's last `finally`), without checks."""
        for d in list(cls.running):
            d.stop()
