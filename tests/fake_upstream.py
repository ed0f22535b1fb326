#!/usr/bin/env python3
"""A scripted HTTP/1.1 upstream on 127.0.0.1 for ctlmirror's sync tests.

The server looks up each request's path (the query string is ignored, but
recorded) in a mutable script, path -> behaviour, and records every request
(method, path, query, headers, what it answered, bytes sent), so a test can
assert conditional GETs and the random query string.

Behaviours (classes below):
  Bytes(data)      200 with ETag (quoted SHA-256 prefix) and Last-Modified;
                   304 to a matching If-None-Match (or, without one, to an
                   If-Modified-Since not older than Last-Modified); optional
                   delay before answering
  Status(code)     an error status (404, 500, 503, ...) with a short body
  Hang(seconds)    reads the request, answers nothing for that long
  Drip(data)       200 with Content-Length, then one byte per interval
  Reset(data)      200 with Content-Length, half the body, then an RST
                   (SO_LINGER 0 and close)
  Garbage()        bytes that are not an HTTP response at all, then close
  Huge(size)       a body of `size` zero bytes streamed, with a
                   Content-Length (declare=True) or chunked (declare=False)
A path not in the script gets 404. A callable in the script is called with
the handler and must answer itself.

Loopback only: the server binds 127.0.0.1 and nothing else, ever.

As a module:
    up = FakeUpstream().start()
    up.set("authrootstl.cab", Bytes(open(cab, "rb").read()))
    ... up.url ...  up.requests("authrootstl.cab") ...
    up.stop()

Run by hand: fake_upstream.py [--port N] [DIR] serves DIR's files (each by
its name, re-read at every request) until interrupted.
"""
import argparse
import email.utils
import fcntl
import hashlib
import http.server
import os
import socket
import struct
import sys
import termios
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import wait_for  # noqa: E402

__all__ = ["FakeUpstream", "Bytes", "Status", "Hang", "Drip", "Reset", "Garbage", "Huge", "etag_of"]

CHUNK = 64 * 1024


def etag_of(data):
    """The ETag Bytes(data) sends: a quoted SHA-256 prefix."""
    return '"%s"' % hashlib.sha256(data).hexdigest()[:24]


def _inm_matches(header, etag):
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


class Bytes:
    def __init__(self, data, etag=None, last_modified=None, delay=0.0,
                 content_type="application/octet-stream"):
        self.data = bytes(data)
        self.etag = etag if etag is not None else etag_of(self.data)
        self.last_modified = last_modified if last_modified is not None else time.time()
        self.delay = delay
        self.content_type = content_type

    def __call__(self, h):
        if self.delay:
            h.server.upstream.stopping.wait(self.delay)
        lm = email.utils.formatdate(self.last_modified, usegmt=True)
        inm = h.headers.get("If-None-Match")
        ims = h.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = _inm_matches(inm, self.etag)
        elif ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
                not_modified = int(self.last_modified) <= since
            except (TypeError, ValueError, IndexError):
                not_modified = False
        if not_modified:
            h.send_response(304)
            h.send_header("ETag", self.etag)
            h.send_header("Last-Modified", lm)
            h.end_headers()
            h.note(status=304)
            return
        h.send_response(200)
        h.send_header("Content-Type", self.content_type)
        h.send_header("Content-Length", str(len(self.data)))
        h.send_header("ETag", self.etag)
        h.send_header("Last-Modified", lm)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(self.data)
            h.note(status=200, sent=len(self.data))
        else:
            h.note(status=200)


class Status:
    def __init__(self, code, body=None):
        self.code = code
        self.body = body if body is not None else ("%d scripted\n" % code).encode()

    def __call__(self, h):
        h.send_response(self.code)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(self.body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(self.body)
            h.note(status=self.code, sent=len(self.body))
        else:
            h.note(status=self.code)


class Hang:
    """Answers nothing for `seconds` (longer than the client's timeout), then closes."""

    def __init__(self, seconds=30.0):
        self.seconds = seconds

    def __call__(self, h):
        h.note(status="hang")
        h.server.upstream.stopping.wait(self.seconds)
        h.close_connection = True


class Drip:
    """200 with the full Content-Length, then one byte every `interval` seconds."""

    def __init__(self, data, interval=1.0):
        self.data = bytes(data)
        self.interval = interval

    def __call__(self, h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(self.data)))
        h.end_headers()
        h.close_connection = True
        sent = 0
        try:
            for b in self.data:
                h.wfile.write(bytes([b]))
                sent += 1
                h.note(status="drip", sent=sent)
                if h.server.upstream.stopping.wait(self.interval):
                    break
        except OSError:
            pass
        h.note(status="drip", sent=sent, aborted_by_client=sent < len(self.data))


class Reset:
    """200 with Content-Length, half of the body, then an abrupt close (RST)."""

    def __init__(self, data):
        self.data = bytes(data)

    def __call__(self, h):
        half = len(self.data) // 2
        h.send_response(200)
        h.send_header("Content-Length", str(len(self.data)))
        h.send_header("ETag", etag_of(self.data))
        h.end_headers()
        h.wfile.write(self.data[:half])
        h.wfile.flush()
        # the half body reaches the client (acknowledged: nothing left in the send queue) before the RST
        wait_for(lambda: unacked(h.connection) == 0, 2, step=0.005)
        h.note(status="reset", sent=half)
        h.abort()


def unacked(sock):
    """Bytes in a TCP socket's send queue the peer has not acknowledged yet (SIOCOUTQ)."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except OSError:
        return 0


class Garbage:
    """Not an HTTP response: raw bytes, then close."""

    def __init__(self, data=b"\x00\xff\xfeNOT HTTP AT ALL\r\n\x01\x02\x03" * 8):
        self.data = data

    def __call__(self, h):
        h.wfile.write(self.data)
        h.wfile.flush()
        h.note(status="garbage", sent=len(self.data))
        h.close_connection = True


class Huge:
    """`size` zero bytes, with Content-Length (declare) or chunked; stops when the client goes."""

    def __init__(self, size=64 * 1024 * 1024, declare=True):
        self.size = size
        self.declare = declare

    def __call__(self, h):
        h.send_response(200)
        if self.declare:
            h.send_header("Content-Length", str(self.size))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.close_connection = True
        sent = 0
        block = b"\0" * CHUNK
        try:
            while sent < self.size and not h.server.upstream.stopping.is_set():
                n = min(CHUNK, self.size - sent)
                if self.declare:
                    h.wfile.write(block[:n])
                else:
                    h.wfile.write(b"%x\r\n" % n + block[:n] + b"\r\n")
                sent += n
                h.note(status="huge", sent=sent)
            if not self.declare and sent >= self.size:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        h.note(status="huge", sent=sent, aborted_by_client=sent < self.size)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-upstream/1"

    def log_message(self, fmt, *args):  # quiet
        if self.server.upstream.verbose:
            sys.stderr.write("fake-upstream: " + (fmt % args) + "\n")

    def note(self, **kw):
        with self.server.upstream.lock:
            self.record.update(kw)

    def abort(self):
        """An RST instead of a FIN: SO_LINGER with a zero timeout, then close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def handle_one(self):
        up = self.server.upstream
        parts = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parts.path)
        self.record = {
            "time": time.time(),
            "method": self.command,
            "path": path,
            "query": parts.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "status": None,
            "sent": 0,
        }
        with up.lock:
            up.log.append(self.record)
            behaviour = up.script.get(path)
        if behaviour is None:
            behaviour = Status(404)
        behaviour(self)

    do_GET = handle_one
    do_HEAD = handle_one


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that went away is the point of most tests

    def shutdown_request(self, request):
        try:
            super().shutdown_request(request)
        except OSError:
            pass


class FakeUpstream:
    """One scripted upstream on 127.0.0.1 and an ephemeral port."""

    def __init__(self, verbose=False, port=0):
        self.lock = threading.Lock()
        self.script = {}
        self.log = []
        self.verbose = verbose
        self.stopping = threading.Event()
        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.httpd.upstream = self
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/" % self.port
        self.thread = None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.thread is not None:  # shutdown() waits for serve_forever: forever if never started
            self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the script --------------------------------------------------------
    @staticmethod
    def _key(path):
        return path if path.startswith("/") else "/" + path

    def set(self, path, behaviour):
        with self.lock:
            if behaviour is None:
                self.script.pop(self._key(path), None)
            else:
                self.script[self._key(path)] = behaviour

    def update(self, mapping):
        """Sets several paths at once (atomically for the handler threads)."""
        with self.lock:
            for path, behaviour in mapping.items():
                if behaviour is None:
                    self.script.pop(self._key(path), None)
                else:
                    self.script[self._key(path)] = behaviour

    def clear(self):
        with self.lock:
            self.script.clear()

    # -- the record --------------------------------------------------------
    def requests(self, path=None, since=None):
        """Copies of the recorded requests (for one path, and/or after a time)."""
        with self.lock:
            out = [dict(r) for r in self.log]
        if path is not None:
            out = [r for r in out if r["path"] == self._key(path)]
        if since is not None:
            out = [r for r in out if r["time"] >= since]
        return out

    def reset_log(self):
        with self.lock:
            self.log.clear()


class _DirScript(dict):
    """The script of `fake_upstream.py DIR`: every file of DIR by its name."""

    def __init__(self, root):
        super().__init__()
        self.root = root

    def get(self, path, default=None):
        name = os.path.basename(path)
        full = os.path.join(self.root, name)
        if name and os.path.isfile(full):
            with open(full, "rb") as f:
                data = f.read()
            return Bytes(data, last_modified=os.path.getmtime(full))
        return default


def main():
    ap = argparse.ArgumentParser(description="A scripted loopback HTTP upstream (serves DIR's files).")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("dir", nargs="?", default=".")
    a = ap.parse_args()
    up = FakeUpstream(verbose=True, port=a.port)
    up.script = _DirScript(os.path.abspath(a.dir))
    print("fake upstream on %s serving %s" % (up.url, up.script.root), flush=True)
    try:
        up.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        up.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
