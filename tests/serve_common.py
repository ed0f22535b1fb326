"""What the three `ctlmirror serve` scripts (serve_files.py, serve_limits.py, serve_ops.py) share.

The forged scenario (Forged): one store with the three forged kinds, the listed test root and
an unlisted one, its export, a scripted local upstream for on-demand certificates (Upstream),
and a daemon on it (workers = 2, an access log, flat_prefix = /, --now 2024-06-01). Each
script runs its own copy of it; serve_files counts the setup's and the SIGTERM's checks, the
other two require the same things without counting them again (Broken when they fail), so
that the three scripts together make the checks serve_http.py made.

Also: the admin CLI on a config (Cli), the three ways in (ways), Prometheus text (parse_metrics,
metric), and main(), which runs a script's sections and reports.
"""
import datetime as dt
import email.utils
import http.server
import json
import os
import random
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
from testlib import (AT, Broken, Daemon, Fixtures, check, checks, curl, failures, json_lines, report,
                     write_config)  # noqa: E402

UP = "/msdownload/update/v3/static/trustedr/en/"
HOSTS = ("ctldl.windowsupdate.com", "www.download.windowsupdate.com")
CAB_TYPE = "application/vnd.ms-cab-compressed"
# served name -> (kind, fixture case, Content-Type, Cache-Control, cab member)
FILES = {
    "authrootstl.cab": ("authroot", "authroot-ok", CAB_TYPE, "no-cache", "authroot.stl"),
    "disallowedcertstl.cab": ("disallowed", "disallowed-ok", CAB_TYPE, "no-cache", "disallowedcert.stl"),
    "pinrulesstl.cab": ("pinrules", "pinrules-ok", CAB_TYPE, "no-cache", "pinrules.stl"),
    "authrootseq.txt": ("authroot", None, "text/plain", "no-cache", None),
}
KINDS = ("authroot", "disallowed", "pinrules")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def http_date(iso):
    t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return email.utils.format_datetime(t, usegmt=True)


def ways(port, name, query=""):
    """(label, curl arguments) for the three ways in, both mirrored hosts where it matters."""
    out = []
    for h in HOSTS:
        out.append((f"proxy {h}", ["-x", f"http://127.0.0.1:{port}", f"http://{h}{UP}{name}{query}"]))
    for h in HOSTS:
        out.append((f"dns {h}", ["--resolve", f"{h}:{port}:127.0.0.1", f"http://{h}:{port}{UP}{name}{query}"]))
    out.append(("flat", [f"http://127.0.0.1:{port}/{name}{query}"]))
    return out


# ---------------------------------------------------------------- the admin CLI

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
        r = self.run("export", "--allow-missing", d)
        if r.returncode != 0:
            raise Broken(f"export {d}: exit {r.returncode}: {r.stderr.strip()}")
        return {n: read(os.path.join(d, n)) for n in os.listdir(d)}


def expect_results(objs, r, want, ctx, counted=True):
    """The import results are want; counted=False: a precondition (Broken), not a check."""
    ok = [o.get("result") for o in objs] == list(want)
    msg = (f"{ctx}: import results {[(o.get('file'), o.get('result'), o.get('reason')) for o in objs]}, want {list(want)} "
           f"(exit {r.returncode}, stderr {r.stderr.strip()[:300]!r})")
    if counted:
        check(ok, msg)
    elif not ok:
        raise Broken(msg)


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
                time.sleep(delay)   # a slow upstream is what the test is about
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


# ---------------------------------------------------------------- the forged scenario

class Forged:
    """The forged store and its daemon; the scripts subclass it with their sections."""

    def __init__(self, binary, fx, tmp):
        self.binary, self.F, self.tmp = binary, Fixtures(fx), tmp
        self.dir = os.path.join(tmp, "forged")
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.access = os.path.join(self.dir, "access.log")
        self.up = Upstream()
        self.keys = dict(workers=2, access_log=self.access, upstream=self.up.url, flat_prefix="/")
        self.cfg = os.path.join(self.dir, "ctlmirror.conf")
        write_config(self.cfg, self.store, self.F.anchors, self.F.pins, **self.keys)
        self.cli = Cli(binary, self.cfg)
        self.d = None

    def curl(self, *args, timeout=30):
        return curl(*args, timeout=timeout)

    def url(self, path):
        return f"http://127.0.0.1:{self.d.port}{path}"

    def get(self, path, *args):
        return curl(*args, self.url(path))

    def setup(self, counted=True):
        """The store, its export and the daemon. counted=False: what it checks is required
        (Broken when it fails), not counted (serve_files counts it)."""
        F = self.F
        r, o = self.cli.imp(*[F[n]["path"] for n in ("authroot-ok", "disallowed-ok", "pinrules-ok")])
        expect_results(o, r, ["admitted"] * 3, "forged store", counted)
        # Certificates: the listed test root, and a root the forged CTLs do not list.
        # The legacy root (listed) stays out: it is fetched on demand from the scripted upstream.
        paths = []
        for label in ("root", "untrusted"):
            sha1, der = F.roots[label]
            p = os.path.join(self.dir, f"{sha1}.crt")
            with open(p, "wb") as f:
                f.write(der)
            paths.append(p)
        r, o = self.cli.imp(*paths)
        expect_results(o, r, ["cert_added", "cert_added"], "certificate import", counted)
        entries = self.cli.json("show", "--entries", F["authroot-ok"]["sequence"]).get("entries_list") or []
        self.listed = [e["thumbprint"].upper() for e in entries]
        if not (len(self.listed) >= 4 and self.listed[0] == F.roots["root"][0] and self.listed[1] == F.roots["legacy"][0]):
            raise Broken(f"the forged authroot CTL does not list the two test roots first: {self.listed}")
        self.export = self.cli.export(os.path.join(self.dir, "export"))
        self.d = Daemon(self.binary, self.cfg, self.dir, "forged").start()
        ok = re.search(r"with 2 workers; serving authroot %s" % F["authroot-ok"]["sequence"], self.d.startup)
        msg = f"startup line does not say what is served: {self.d.startup!r}"
        if counted:
            check(ok, msg)
        elif not ok:
            raise Broken(msg)

    def still_serving(self, when):
        r = self.get("/authrootseq.txt")
        if not check(r.code == 200 and r.body, f"{when}: the next normal request got {r}"):
            if not self.d.alive():
                raise Broken(f"the daemon died {when}: exit {self.d.p.returncode}: {self.d.stderr()[-3000:]}")

    def stop(self, counted=True):
        self.up.stop()
        if self.d is not None:
            self.d.stop_checked(counted=counted)

    def run(self, run, parts, counted=True):
        """setup(), then each (name, method) as a section while the daemon lives, then SIGTERM."""
        try:
            try:
                self.setup(counted)
            except Broken as e:
                failures.append(f"setup: {e}")
            except Exception:
                failures.append(f"setup: test raised\n{traceback.format_exc()}")
            else:
                for name, fn in parts:
                    if not self.d.alive():
                        failures.append(f"{name}: not run, the daemon is gone (exit {self.d.p.returncode}): {self.d.stderr()[-2000:]}")
                        continue
                    run.section(name, fn)
        finally:
            run.section("SIGTERM", self.stop, counted)


# ---------------------------------------------------------------- main

class Run:
    """A script's sections: each timed, its checks counted, an exception recorded as a failure."""

    def __init__(self):
        self.sections = 0

    def section(self, name, fn, *args):
        self.sections += 1
        t, c = time.time(), checks()
        try:
            fn(*args)
        except Broken as e:
            failures.append(f"{name}: {e}")
        except Exception:
            failures.append(f"{name}: test raised\n{traceback.format_exc()}")
        print(f"  {name}: {time.time() - t:.1f}s, {checks() - c} checks", flush=True)


def main(script, doc, body):
    """usage: SCRIPT CTLMIRROR FIXTURES_DIR [CORPUS_DIR]; body(binary, fx, corpus, tmp, run)."""
    if len(sys.argv) not in (3, 4):
        print(doc.strip().splitlines()[-1])
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
    tmp = tempfile.mkdtemp(prefix=f"ctlmirror-{script.replace('_', '-')}-")
    run = Run()
    t0 = time.time()
    try:
        body(binary, fx, corpus, tmp, run)
    finally:
        Daemon.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"{script}: {run.sections} sections, {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s")
