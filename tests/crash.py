#!/usr/bin/env python3
"""Crash safety of `ctlmirror import`: SIGKILL at any moment leaves a whole, usable store.

Builds ~2500 distinct files (the forged cabs, and variants of them truncated
at different lengths or with bytes appended, which the store keeps as admitted
or quarantined copies alike). Then 20 times, on the same store: start
`import --json` of the files not stored yet, shuffled, with a few stored ones
(duplicates) mixed in, kill it with SIGKILL after a random delay (0-300 ms) or
after a random number (1-79) of printed lines, and check that
  - `versions --json` succeeds, lists each SHA-256 once, and only SHA-256s of
    input files, each with a status consistent with its reason;
  - every file whose line was printed (committed) is listed, nothing listed
    before is lost, and at most one more copy appeared (the transaction that
    committed just before the kill, its line unprinted);
  - each new version is whole: `show SHA_PREFIX --json` gives it back;
  - the audit log holds exactly one admitted/quarantined/rollback event per
    version (version record and event are one transaction);
  - the next iteration can write again.
Finally one uninterrupted import of everything: every file listed exactly once,
and the exported authrootstl.cab is the served copy and verifies.

usage: crash.py CTLMIRROR FIXTURES_DIR    (CRASH_SEED=N repeats a run; the seed is printed)
"""
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, checks, failures, fixture_trust, report, sha256_file  # noqa: E402

AT = "2024-06-01T00:00:00Z"
ITERATIONS = 20
VARIANTS = 50      # truncated and extended copies per fixture: ~2500 files
SHOW_SAMPLE = 40   # new versions read back with `show` per iteration


class Stop(Exception):
    """Nothing further can be checked."""


def make_inputs(fx, dst):
    """Distinct CAB files: the fixture cabs (not the 17 MiB one), truncations and extensions of them."""
    cases = os.path.join(fx, "cases")
    srcs = sorted(f for f in os.listdir(cases) if f != "oversized.cab")
    seen, files = set(), []

    def add(name, data):
        h = hashlib.sha256(data).hexdigest()
        # import stores only CABs: a bare .stl or a non-CAB file is refused, never recorded
        if h in seen or not data.startswith(b"MSCF"):
            return
        seen.add(h)
        p = os.path.join(dst, name)
        with open(p, "wb") as f:
            f.write(data)
        files.append(p)

    rnd = random.Random(1)
    for s in srcs:
        data = open(os.path.join(cases, s), "rb").read()
        base = os.path.splitext(s)[0]
        add(s, data)
        for i in range(VARIANTS):
            add(f"{base}-trunc{i}.cab", data[:rnd.randrange(1, len(data))])
        for i in range(VARIANTS):
            add(f"{base}-tail{i}.cab", data + bytes(rnd.randrange(256) for _ in range(1 + i % 40)))
    return files


class Run:
    def __init__(self, binary, fx, store):
        self.binary, self.store = binary, store
        self.trust = fixture_trust(fx)

    def cmd(self, *args, timeout=120):
        return subprocess.run([self.binary, args[0], "--store", self.store, *args[1:]],
                              capture_output=True, text=True, timeout=timeout)

    def import_argv(self, files):
        return [self.binary, "import", "--store", self.store, "--at", AT, *self.trust, "--json", *files]

    def versions(self):
        r = self.cmd("versions", "--json")
        if r.returncode != 0:
            return None, f"versions --json exit {r.returncode}: {r.stderr.strip()}"
        try:
            return json.loads(r.stdout), None
        except ValueError:
            return None, f"versions --json printed no JSON: {r.stdout[:200]!r}"


def killed_import(run, files, mode, rnd):
    """Starts an import, kills it; returns the complete lines it printed."""
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(run.import_argv(files), stdout=subprocess.PIPE, stderr=err)
    lines, done = [], threading.Event()
    stop_after = rnd.randrange(1, 80) if mode == "lines" else None

    def reader():
        for raw in p.stdout:          # complete lines only: a torn last line has no b"\n"
            if raw.endswith(b"\n"):
                lines.append(raw)
                if stop_after is not None and len(lines) >= stop_after:
                    done.set()
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if mode == "lines":
        done.wait(timeout=60)
    else:
        time.sleep(rnd.uniform(0, 0.3))     # kill it at a random moment: the pause is the test
    try:
        os.kill(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(timeout=30)
    t.join(timeout=30)
    p.stdout.close()
    err.close()
    return p.returncode, lines


def consistent(v):
    st, reason = v.get("status"), v.get("reason")
    if st in ("served", "pinned", "admitted", "rollback"):
        return reason == "OK"
    if st == "quarantined":
        return reason not in (None, "", "OK")
    return False


def store_whole(run, listed, by_sha, ctx, new, rnd):
    """versions is sane; new versions read back whole; events match versions one to one."""
    shas = [v.get("sha256") for v in listed]
    check(len(shas) == len(set(shas)), f"{ctx}: a sha256 listed twice")
    for v in listed:
        s = v.get("sha256")
        if not check(s in by_sha, f"{ctx}: listed sha256 {s} is no input file's"):
            continue
        check(consistent(v), f"{ctx}: {s[:12]} status {v.get('status')} with reason {v.get('reason')}")
        check(v.get("size") == os.path.getsize(by_sha[s]), f"{ctx}: {s[:12]} size {v.get('size')}")
    for kind in ("authroot", "disallowed", "pinrules"):
        served = [v for v in listed if v.get("kind") == kind and v.get("status") in ("served", "pinned")]
        adm = [v for v in listed if v.get("kind") == kind and v.get("status") in ("served", "admitted")]
        check(len(served) == (1 if adm else 0), f"{ctx}: {len(served)} served {kind} with {len(adm)} admitted")
        if served and adm:
            top = max(int(v["sequence"], 16) for v in adm)
            check(int(served[0]["sequence"], 16) == top, f"{ctx}: served {kind} {served[0]['sequence']} is not the highest admitted")
    new = sorted(new)
    sample = rnd.sample(new, min(SHOW_SAMPLE, len(new))) + rnd.sample(shas, min(5, len(shas)))
    for s in sample:
        r = run.cmd("show", "--json", s[:16])
        try:
            ok = r.returncode == 0 and json.loads(r.stdout).get("sha256") == s
        except ValueError:
            ok = False
        check(ok, f"{ctx}: show {s[:16]} exit {r.returncode}: {(r.stdout + r.stderr).strip()[:200]}")
    r = run.cmd("events", "--json")
    try:
        evs = json.loads(r.stdout)
    except ValueError:
        check(False, f"{ctx}: events --json exit {r.returncode}, no JSON")
        return
    recs = [e for e in evs if e.get("type") in ("admitted", "quarantined", "rollback")]
    check(len(recs) == len(listed), f"{ctx}: {len(recs)} admission events for {len(listed)} versions")
    for e in recs:
        p = (e.get("sha256") or "").lower()
        check(p and any(s.startswith(p) for s in shas), f"{ctx}: event {e.get('id')} for {p!r}, no such version")


def main():
    binary, fx = sys.argv[1], sys.argv[2]
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    print(f"crash: seed {seed} (set CRASH_SEED to repeat)")
    rnd = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="ctlmirror-crash-")
    try:
        inputs = os.path.join(tmp, "in")
        os.makedirs(inputs)
        files = make_inputs(fx, inputs)
        by_sha = {sha256_file(p): p for p in files}
        sha_of = {p: s for s, p in by_sha.items()}
        print(f"crash: {len(files)} distinct input files")
        run = Run(binary, fx, os.path.join(tmp, "store"))
        os.makedirs(run.store)
        # Seed the store with one clean import so there is something to lose.
        r = subprocess.run(run.import_argv(files[:3]), capture_output=True, text=True, timeout=120)
        check(r.returncode in (0, 1), f"first import: exit {r.returncode}: {r.stderr.strip()}")
        known = set()
        v, err = run.versions()
        if v is None:
            check(False, f"after the first import: {err}")
            raise Stop()
        known = {x.get("sha256") for x in v}
        killed_at, unprinted, killed = [], 0, 0
        for i in range(ITERATIONS):
            # What is not stored yet, shuffled, with some stored files (duplicates) mixed in.
            order = [p for p in files if sha_of[p] not in known]
            rnd.shuffle(order)
            stored = [p for p in files if sha_of[p] in known]
            for p in rnd.sample(stored, min(30, len(stored))):
                order.insert(rnd.randrange(len(order) + 1), p)
            mode = "lines" if i % 2 else "delay"
            rc, lines = killed_import(run, order, mode, rnd)
            ctx = f"iteration {i} ({mode}, {len(lines)} lines, exit {rc})"
            printed = set()
            for raw in lines:
                try:
                    o = json.loads(raw)
                except ValueError:
                    check(False, f"{ctx}: a complete line is not JSON: {raw[:120]!r}")
                    continue
                check(o.get("file") in sha_of, f"{ctx}: line for unknown file {o.get('file')}")
                s = (o.get("sha256") or "").lower()
                check(s == sha_of.get(o.get("file")), f"{ctx}: line sha256 {s[:12]} is not the file's")
                if o.get("result") == "duplicate":
                    check(s in known or s in printed, f"{ctx}: {s[:12]} reported duplicate but was not stored before")
                else:
                    check(s not in known, f"{ctx}: {s[:12]} stored before, reported {o.get('result')}, not duplicate")
                printed.add(s)
            check(rc in (0, 1, -signal.SIGKILL), f"{ctx}: import exit {rc}")
            listed, err = run.versions()
            if not check(listed is not None, f"{ctx}: after SIGKILL: {err}"):
                break
            now = {x.get("sha256") for x in listed}
            check(known <= now, f"{ctx}: {len(known - now)} versions stored before were lost")
            check(printed <= now, f"{ctx}: {len(printed - now)} printed (committed) imports not in the store: "
                  f"{sorted(s[:12] for s in printed - now)}")
            extra = now - known - printed
            unprinted += len(extra)
            killed += rc == -signal.SIGKILL
            check(len(extra) <= 1, f"{ctx}: {len(extra)} versions appeared without their line (at most 1 may)")
            store_whole(run, listed, by_sha, ctx, now - known, rnd)
            killed_at.append(len(now - known))
            known = now
        print(f"crash: new versions per killed import: {killed_at}; {killed} of {ITERATIONS} died by SIGKILL, "
              f"{unprinted} committed with their line unprinted")
        check(sum(killed_at) > 0, "no killed import committed anything: kills came too early to test anything")
        # Whole import, then everything is there once.
        r = subprocess.run(run.import_argv(files), capture_output=True, text=True, timeout=600)
        check(r.returncode in (0, 1), f"final import: exit {r.returncode}: {r.stderr.strip()}")
        res = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check(len(res) == len(files), f"final import printed {len(res)} lines for {len(files)} files")
        dups = sum(o.get("result") == "duplicate" for o in res)
        check(dups == len(known), f"final import: {dups} duplicates, {len(known)} were stored")
        listed, err = run.versions()
        if check(listed is not None, f"after the final import: {err}"):
            check({x.get("sha256") for x in listed} == set(by_sha) and len(listed) == len(files),
                  f"after the final import {len(listed)} versions for {len(files)} files")
            store_whole(run, listed, by_sha, "final", set(), rnd)
            served = [x for x in listed if x.get("kind") == "authroot" and x.get("status") == "served"]
            out = os.path.join(tmp, "www")
            r = run.cmd("export", "--allow-missing", out)
            cab = os.path.join(out, "authrootstl.cab")
            if check(r.returncode == 0 and os.path.isfile(cab) and served, f"export: exit {r.returncode} {r.stderr.strip()}"):
                check(sha256_file(cab) == served[0]["sha256"], "exported authrootstl.cab is not the served copy")
                r = subprocess.run([binary, "verify", "--json", *run.trust, "--at", AT, cab],
                                   capture_output=True, text=True, timeout=60)
                check(r.returncode == 0, f"exported authrootstl.cab does not verify: {r.stdout.strip()}")
    except Stop:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"crash: {ITERATIONS} killed imports, {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
