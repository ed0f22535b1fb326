"""Helpers shared by the integration tests.

The check state (every check counted, the failed ones' messages in `failures`)
lives here, one per test process; a script reports it at the end with
`report(...)` and reads the count with `checks()`.

Scripts import it beside them, without leaving bytecode in the source tree:

    sys.dont_write_bytecode = True   # no __pycache__ in the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from testlib import check, failures  # noqa: E402
"""
import base64
import csv
import datetime as dt
import hashlib
import json
import os
import re
import socket

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


# ---------------------------------------------------------------- processes and ports

def sanitizer_report(text):
    """Whether a process's stderr holds an AddressSanitizer, LeakSanitizer or UBSan runtime error report."""
    return "AddressSanitizer" in text or "LeakSanitizer" in text or "runtime error:" in text


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
