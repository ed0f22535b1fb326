#!/usr/bin/env python3
"""Trust that bootstraps itself, quarantines that heal, and only CABs stored.

Shows, through the real binary and a scripted upstream on 127.0.0.1:
  - forged fixtures: a copy quarantined for want of trust (UNTRUSTED_ROOT, a
    missing intermediate) is admitted and served once the trust set has what
    it lacked, by `ctlmirror reverify`, by `import` of the root (PEM), and by
    the next `sync` offering the same copy; a copy that failed for its own
    bytes never is; `import` of a bare .stl verifies it and stores nothing, a
    file that is no CTL or certificate is refused by name, a PEM certificate
    is taken as a certificate;
  - the real history (../shared/corpus, skipped when absent): a fresh store
    with no anchors directory and an upstream that serves the current cab and
    the four Microsoft roots as <SHA1>.crt admits and serves the cab in one
    `sync`; roots whose bytes do not match their pin are never trusted; a cab
    quarantined NO_CHAIN because the upstream lacked the roots is served
    after they arrive, without `gc`.

usage: trust_heal.py CTLMIRROR FIXTURES [CORPUS]
"""
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, checks, report, fixture_pins, pem_to_der, json_lines, failures, t as tm, iso  # noqa: E402
from fake_upstream import FakeUpstream, Bytes  # noqa: E402


class Mirror:
    """A store and a config file for it; runs CLI commands against them."""

    def __init__(self, binary, tmp, name, **keys):
        self.binary = binary
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.conf = os.path.join(self.dir, "ctlmirror.conf")
        self.keys = dict(store=self.store, anchors=os.path.join(self.dir, "anchors"),
                         poll_interval="0")
        if os.geteuid() == 0:
            self.keys["user"] = "root"  # as testlib.write_config: keep root in a root run
        self.keys.update(keys)
        self.write()

    def write(self, **more):
        self.keys.update(more)
        with open(self.conf, "w") as f:
            for k, v in self.keys.items():
                for one in (v if isinstance(v, list) else [v]):
                    f.write("%s = %s\n" % (k, one))

    def run(self, *args):
        return subprocess.run([self.binary, args[0], "-c", self.conf] + list(args[1:]),
                              capture_output=True, text=True, timeout=120)

    def json(self, *args):
        r = self.run(*args, "--json")
        return r, json_lines(r, " ".join(args))

    def served(self, kind="authroot", at=None):
        """The status JSON's served entry for kind (None when nothing is served)."""
        r = self.run("status", "--json", *(["--at", at] if at else []))
        try:
            return json.loads(r.stdout)[kind]["served"]
        except (ValueError, KeyError):
            return None

    def versions(self):
        r = self.run("versions", "--json")
        try:
            return json.loads(r.stdout)
        except ValueError:
            return []

    def exported(self, name):
        """The bytes `export` writes for name (what clients get), or None."""
        out = os.path.join(self.dir, "export")
        r = self.run("export", "--allow-missing", out)
        path = os.path.join(out, name)
        if r.returncode != 0 or not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def forged(binary, fx, tmp):
    cases = {}
    with open(os.path.join(fx, "cases.tsv"), newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            cases[row["name"]] = os.path.join(fx, row["file"])
    at = "2024-06-01T00:00:00Z"
    pins = fixture_pins(fx)
    anchors = os.path.join(fx, "anchors")

    # -- import refuses what it cannot serve, and names the file
    m = Mirror(binary, tmp, "refuse", anchor_pin=pins, anchors=anchors)
    r, objs = m.json("import", "--at", at, cases["bare-stl"])
    check(r.returncode == 1, f"bare .stl import: exit {r.returncode}, want 1 ({r.stderr.strip()})")
    check(len(objs) == 1 and objs[0].get("result") == "refused",
          f"bare .stl import: {objs}")
    check(objs and "bare CTL" in (objs[0].get("detail") or "") and objs[0].get("reason") == "OK",
          f"bare .stl import: its verdict is told: {objs}")
    check(objs and ".cab" in (objs[0].get("detail") or ""), f"bare .stl: says to import the .cab: {objs}")
    r = m.run("import", "--at", at, cases["garbage"])
    check(r.returncode == 1 and cases["garbage"] in r.stdout and "refused" in r.stdout,
          f"garbage import names the file and refuses it: {r.returncode} {r.stdout!r}")
    check(m.versions() == [], f"nothing stored by refused imports: {m.versions()}")
    # a PEM certificate is a certificate
    r = m.run("import", os.path.join(fx, "untrusted", "root.pem"))
    check(r.returncode == 0 and "certificate" in r.stdout,
          f"PEM certificate import: {r.returncode} {r.stdout!r} {r.stderr!r}")
    check(m.versions() == [], "a certificate is not a version")
    # the cab of the same sequence is stored and served
    r = m.run("import", "--at", at, cases["authroot-ok"])
    check(r.returncode == 0 and m.served() is not None, f"authroot-ok import: {r.stdout!r}")

    # -- UNTRUSTED_ROOT heals when the root is pinned and present
    untrusted = os.path.join(fx, "untrusted", "root.pem")
    upin = hashlib.sha256(pem_to_der(untrusted)).hexdigest().upper()
    m = Mirror(binary, tmp, "untrusted", anchor_pin=pins, anchors=anchors)
    r, objs = m.json("import", "--at", at, cases["untrusted-root"])
    check(objs and objs[0].get("reason") == "UNTRUSTED_ROOT", f"untrusted-root import: {objs}")
    check(m.served() is None, "untrusted-root: nothing served")
    r = m.run("reverify", "--json")
    check(r.returncode == 0 and json.loads(r.stdout or "{}").get("admitted") == 0,
          f"reverify without the root admits nothing: {r.stdout!r} {r.stderr!r}")
    own = os.path.join(m.dir, "anchors")
    shutil.copytree(anchors, own)
    shutil.copy(untrusted, os.path.join(own, "new-root.pem"))
    m.write(anchors=own, anchor_pin=pins + [upin])
    r = m.run("reverify", "--json")
    doc = json.loads(r.stdout or "{}")
    check(r.returncode == 0 and doc.get("checked") == 1 and doc.get("admitted") == 1,
          f"reverify with the root pinned: {r.stdout!r} {r.stderr!r}")
    srv = m.served(at=at)
    check(srv is not None, "untrusted-root: served after reverify")
    ev = m.run("events", "--json")
    check("reverified" in ev.stdout and "UNTRUSTED_ROOT" in ev.stdout,
          f"the event names the old verdict: {ev.stdout[-400:]!r}")

    # -- a failure of the bytes is never judged again
    m2 = Mirror(binary, tmp, "bytes", anchor_pin=pins, anchors=anchors)
    m2.run("import", "--at", at, cases["flipped-byte"])
    r = m2.run("reverify", "--json")
    check(json.loads(r.stdout or "{}").get("checked") == 0,
          f"a digest mismatch is not verified again: {r.stdout!r}")

    # -- a missing intermediate: healed by the next sync offering the same copy
    m3 = Mirror(binary, tmp, "intermediate", anchor_pin=pins, anchors=anchors)
    up = FakeUpstream().start()
    try:
        up.set("authrootstl.cab", Bytes(read(cases["missing-intermediate"])))
        m3.write(upstream=up.url, random_query="no")
        r, objs = m3.json("sync", "--now", at)
        check(objs and objs[0]["authroot"]["result"] == "quarantined",
              f"missing intermediate: first sync quarantines: {objs}")
        inter = intermediate_of(binary, cases["authroot-ok"], os.path.join(m3.dir, "inter.pem"))
        check(inter is not None, "the forged intermediate can be read from a good cab")
        if inter is not None:
            m3.write(intermediates=inter)
            r, objs = m3.json("sync", "--now", at)
            check(objs and objs[0]["authroot"]["ok"] and
                  objs[0].get("reverified", {}).get("admitted") == 1,
                  f"with the intermediate configured the same copy is admitted: {objs}")
            check(m3.exported("authrootstl.cab") == read(cases["missing-intermediate"]),
                  "and served byte for byte")
    finally:
        up.stop()


def intermediate_of(binary, cab, out):
    """The CA certificate inside a forged cab (cabextract + openssl): a PEM file, or None."""
    d = tempfile.mkdtemp(dir=os.path.dirname(out))
    try:
        subprocess.run(["cabextract", "-q", "-d", d, cab], check=True, capture_output=True)
        stl = os.path.join(d, os.listdir(d)[0])
        p = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", stl, "-print_certs"],
                           capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, OSError, IndexError):
        return None
    finally:
        shutil.rmtree(d, ignore_errors=True)
    blocks, cur, subject, issuer = [], [], None, None
    for line in p.stdout.splitlines():
        if line.startswith("subject="):
            subject = line[8:]
        elif line.startswith("issuer="):
            issuer = line[7:]
        cur.append(line)
        if line.startswith("-----END CERTIFICATE-----"):
            blocks.append((subject, issuer, "\n".join(l for l in cur if not l.startswith(("subject=", "issuer=")))))
            cur = []
    # the CA is the certificate that issued another one in the file
    issuers = {b[1] for b in blocks}
    cas = [b[2] for b in blocks if b[0] in issuers and b[0] != b[1]]
    if not cas:
        return None
    with open(out, "w") as f:
        f.write(cas[0].strip() + "\n")
    return out


def corpus_part(binary, corpus, tmp):
    with open(os.path.join(corpus, "authroot", "MANIFEST.tsv"), newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["chain_valid_to"]]
    row = rows[-1]
    cab = read(os.path.join(corpus, "authroot", row["file"]))
    # the middle of its chain's window: it verifies then
    lo, hi = tm(row["chain_valid_from"]), tm(row["chain_valid_to"])
    at = iso(lo + (hi - lo) / 2)
    roots = {}
    for name in os.listdir(os.path.join(corpus, "anchors")):
        der = pem_to_der(os.path.join(corpus, "anchors", name))
        roots[hashlib.sha1(der).hexdigest().upper() + ".crt"] = der

    def upstream(with_roots, wrong=False):
        up = FakeUpstream().start()
        up.set("authrootstl.cab", Bytes(cab))
        if with_roots:
            ders = list(roots.values())
            for i, name in enumerate(roots):
                # wrong: every name serves another root's bytes (SHA-1 and pin both fail)
                up.set(name, Bytes(ders[(i + 1) % len(ders)] if wrong else roots[name]))
        return up

    # -- a fresh machine: no anchors directory, the upstream has the roots
    up = upstream(True)
    try:
        m = Mirror(binary, tmp, "fresh", upstream=up.url, random_query="no")
        r, objs = m.json("sync", "--now", at)
        check(objs and objs[0]["authroot"]["result"] == "admitted",
              f"fresh store, no anchors: one sync admits the real cab: {objs} {r.stderr.strip()[:300]}")
        check(objs and objs[0].get("anchors_fetched") == len(roots),
              f"sync says it fetched the pinned roots: {objs and objs[0].get('anchors_fetched')}")
        asked = [q for q in up.log if q["path"].endswith(".crt") and q["path"][1:] in roots]
        check(len({q["path"] for q in asked}) == len(roots),
              f"the four pinned roots were fetched as <SHA1>.crt: {[q['path'] for q in asked]}")
        check(m.exported("authrootstl.cab") == cab, "fresh store: the real cab is served byte for byte")
        srv = m.served(at=at)
        check(srv is not None and srv.get("sequence") == row["sequence"],
              f"served sequence {srv and srv.get('sequence')}, want {row['sequence']}")
    finally:
        up.stop()

    # -- roots whose bytes do not match the pin are never trusted
    up = upstream(True, wrong=True)
    try:
        m = Mirror(binary, tmp, "wrongroots", upstream=up.url, random_query="no")
        r, objs = m.json("sync", "--now", at)
        check(objs and objs[0]["authroot"]["result"] == "quarantined",
              f"wrong root bytes: the cab stays quarantined: {objs}")
        check(objs and "anchors" in objs[0]["authroot"]["text"],
              f"the outcome says what to do: {objs and objs[0]['authroot']['text']}")
        check(m.served() is None, "wrong root bytes: nothing served")
    finally:
        up.stop()

    # -- quarantined NO_CHAIN for want of roots: heals when they arrive, no gc
    up = upstream(False)
    try:
        m = Mirror(binary, tmp, "heal", upstream=up.url, random_query="no")
        r, objs = m.json("sync", "--now", at)
        check(objs and objs[0]["authroot"]["result"] == "quarantined",
              f"no roots anywhere: quarantined: {objs}")
        st = m.run("status", "--at", at)
        check(st.returncode != 0 and "critical" in st.stdout, f"status critical: {st.stdout!r}")
        # the administrator imports the roots (PEM, as Microsoft publishes them)
        pems = [os.path.join(corpus, "anchors", n) for n in sorted(os.listdir(os.path.join(corpus, "anchors")))]
        r = m.run("import", *pems)
        check(r.returncode == 0 and "verified again" in r.stdout and "1 now admitted" in r.stdout,
              f"importing the roots heals the quarantine: {r.returncode} {r.stdout!r} {r.stderr!r}")
        check(m.exported("authrootstl.cab") == cab, "healed: the cab is served")
        r, objs = m.json("sync", "--now", at)
        check(objs and objs[0]["authroot"]["result"] == "unchanged",
              f"the next sync sees its copy as current: {objs}")
    finally:
        up.stop()


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    binary, fx = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) == 4 else None
    skipped = ""
    with tempfile.TemporaryDirectory(prefix="trust_heal.") as tmp:
        forged(binary, fx, tmp)
        if corpus and os.path.isfile(os.path.join(corpus, "authroot", "MANIFEST.tsv")):
            corpus_part(binary, corpus, tmp)
        else:
            skipped = " (real corpus not found: its part skipped)"
    return report(f"trust_heal: {checks()} checks, {len(failures)} failures{skipped}")


if __name__ == "__main__":
    sys.exit(main())
