#!/usr/bin/env python3
"""Readers during writes: `status` and `versions` never fail, never see a torn or backward store.

Two importer threads run `ctlmirror import` one file per process (the verifying
authroot cabs in ascending sequence order, interleaved with rollbacks,
quarantined copies and variants of the fixtures), while two reader threads
call `status --json` and `versions --json` in a loop on the same store. For
about 8 seconds:
  - every reader call exits 0 or 1 and prints valid JSON;
  - each `versions` snapshot is consistent: at most one served copy per kind,
    and it is the highest sequence among the admitted ones;
  - the served authroot sequence never goes backwards: per reader, and across
    readers for calls that did not overlap in time;
  - importers exit 0 or 1 (never 3: a writer waits for the other writer and
    is never blocked by readers), and at the end every imported file is listed.

usage: concurrency.py CTLMIRROR FIXTURES_DIR
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import failures, fixture_cases, fixture_trust, report, sha256_file  # noqa: E402

AT = "2024-06-01T00:00:00Z"
IMPORT_SECONDS = 8.0
VARIANTS = 30   # distinct variants per fixture: enough imports to last IMPORT_SECONDS
lock = threading.Lock()


def fail(msg):
    with lock:
        failures.append(msg)


def build_inputs(fx, dst):
    """The verifying authroot cabs in ascending sequence order, and distinct other CAB files
    (fillers: damaged, quarantined or older copies; every one is stored)."""
    rows = fixture_cases(fx)
    good = sorted((r for r in rows if r["kind"] == "authroot" and r["reason"] == "OK" and r["file"].endswith(".cab")),
                  key=lambda r: int(r["sequence"], 16))
    others = [r for r in rows if r not in good and r["name"] != "oversized"]
    rnd = random.Random(7)
    fillers, seen = [], {sha256_file(os.path.join(fx, r["file"])) for r in good}
    for r in others + good:
        data = open(os.path.join(fx, r["file"]), "rb").read()
        variants = [data] if r in others else []
        for i in range(VARIANTS):
            # Good cabs only truncated (an extended copy may still verify and jump the served sequence ahead).
            variants.append(data[:rnd.randrange(1, len(data))] if i % 2 or r in good else data + bytes([i % 256]) * (i + 1))
        for i, v in enumerate(variants):
            h = hashlib.sha256(v).hexdigest()
            # import stores only CABs (anything else is refused, not recorded)
            if h in seen or not v.startswith(b"MSCF"):
                continue
            seen.add(h)
            p = os.path.join(dst, f"{r['name']}-{i}.cab")
            with open(p, "wb") as f:
                f.write(v)
            fillers.append(p)
    rnd.shuffle(fillers)
    return [os.path.join(fx, r["file"]) for r in good], fillers


def arrange(good, fillers, per):
    """good[0], per fillers, good[1], per fillers, ..., then the remaining fillers."""
    seq = []
    for i, g in enumerate(good):
        seq.append(g)
        seq += fillers[i * per:(i + 1) * per]
    return seq + fillers[len(good) * per:]


def main():
    binary, fx = sys.argv[1], sys.argv[2]
    trust = fixture_trust(fx)
    tmp = tempfile.mkdtemp(prefix="ctlmirror-concurrency-")
    store = os.path.join(tmp, "store")
    os.makedirs(store)
    indir = os.path.join(tmp, "in")
    os.makedirs(indir)
    observations = []   # (start, end, reader, served authroot sequence as int or -1)
    counts = {"status": 0, "versions": 0, "imports": 0}
    imported = []
    stop = threading.Event()

    def ctl(*args, timeout=60):
        return subprocess.run([binary, args[0], "--store", store, *args[1:]],
                              capture_output=True, text=True, timeout=timeout)

    def importer(files, deadline):
        for p in files:
            if time.monotonic() > deadline:
                return
            r = ctl("import", "--at", AT, *trust, "--json", p)
            if r.returncode not in (0, 1):
                fail(f"import {os.path.basename(p)} during reads: exit {r.returncode}: {r.stderr.strip()}")
                continue
            try:
                o = json.loads(r.stdout)
            except ValueError:
                fail(f"import {os.path.basename(p)}: not one JSON line: {r.stdout!r}")
                continue
            with lock:
                counts["imports"] += 1
                if o.get("result") != "duplicate":
                    imported.append(o.get("sha256"))

    def reader(name):
        i = 0
        while not stop.is_set():
            i += 1
            cmd = ("status", "--json", "--at", AT) if i % 2 else ("versions", "--json")
            t0 = time.monotonic()
            try:
                r = ctl(*cmd)
            except subprocess.TimeoutExpired:
                fail(f"{name}: {cmd[0]} timed out (blocked by a writer?)")
                continue
            t1 = time.monotonic()
            if r.returncode not in (0, 1):
                fail(f"{name}: {cmd[0]} exit {r.returncode}: {r.stderr.strip()}")
                continue
            try:
                doc = json.loads(r.stdout)
            except ValueError:
                fail(f"{name}: {cmd[0]} printed invalid JSON: {r.stdout[:200]!r}")
                continue
            with lock:
                counts[cmd[0]] += 1
            if cmd[0] == "status":
                served = (doc.get("authroot") or {}).get("served")
                seq = int(served["sequence"], 16) if served else -1
            else:
                if r.returncode != 0:
                    fail(f"{name}: versions exit {r.returncode}")
                au = [v for v in doc if v.get("kind") == "authroot"]
                srv = [v for v in au if v.get("status") in ("served", "pinned")]
                adm = [v for v in au if v.get("status") in ("served", "admitted")]
                if len(srv) > 1 or (adm and not srv):
                    fail(f"{name}: versions snapshot with {len(srv)} served and {len(adm)} admitted authroot copies")
                    continue
                seq = int(srv[0]["sequence"], 16) if srv else -1
                if adm and seq != max(int(v["sequence"], 16) for v in adm):
                    fail(f"{name}: versions snapshot serves {srv[0]['sequence']}, not the highest admitted")
            with lock:
                observations.append((t0, t1, name, seq))

    try:
        good, fillers = build_inputs(fx, indir)
        # The store exists before the readers start: the oldest verifying copy first.
        t0 = time.monotonic()
        first = ctl("import", "--at", AT, *trust, "--json", good[0])
        # Space the newer verifying copies so that all of them arrive in about half the time, whatever
        # the binary's speed (a sanitizer build starts far slower).
        expect = 2 * IMPORT_SECONDS / max(time.monotonic() - t0, 0.001)
        per = max(1, min(int(expect / 2 / len(good)), 40, len(fillers) // len(good)))
        files = arrange(good, fillers, per)
        if first.returncode not in (0, 1):
            fail(f"first import: exit {first.returncode}: {first.stderr.strip()}")
            raise RuntimeError("no store")
        imported.append(json.loads(first.stdout).get("sha256"))
        rest = files[1:]
        deadline = time.monotonic() + IMPORT_SECONDS
        writers = [threading.Thread(target=importer, args=(rest[k::2], deadline)) for k in range(2)]
        readers = [threading.Thread(target=reader, args=(f"reader{k}",)) for k in range(2)]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(timeout=IMPORT_SECONDS + 60)
        time.sleep(0.3)     # the readers go on a little after the last import: a deliberate overlap
        stop.set()
        for t in readers:
            t.join(timeout=60)
        # Per reader: its own calls are sequential, so served never decreases.
        for name in ("reader0", "reader1"):
            mine = [o for o in observations if o[2] == name]
            for a, b in zip(mine, mine[1:]):
                if b[3] < a[3]:
                    fail(f"{name}: served authroot went back from {a[3]:X} to {b[3]:X}")
                    break
        # Across readers: a call that started after another ended sees at least what it saw.
        by_end = sorted(observations, key=lambda o: o[1])
        for o in observations:
            before = [x[3] for x in by_end if x[1] < o[0]]
            if before and o[3] < max(before):
                fail(f"{o[2]}: served {o[3]:X} after another reader had seen {max(before):X}")
                break
        r = ctl("versions", "--json")
        listed = {v.get("sha256") for v in json.loads(r.stdout)} if r.returncode == 0 else set()
        missing = [s for s in imported if s not in listed]
        if missing:
            fail(f"{len(missing)} imported copies not listed at the end: {[s[:12] for s in missing[:5]]}")
        served = sorted({o[3] for o in observations})
        print(f"concurrency: {counts['imports']} imports, {counts['status']} status and {counts['versions']} versions "
              f"calls, {len(served)} distinct served sequences seen ({per} fillers between newer copies)")
        if counts["status"] < 10 or counts["versions"] < 10:
            fail(f"too few reader calls to mean anything: {counts}")
        if counts["imports"] < 10:
            fail(f"too few imports: {counts['imports']}")
    except RuntimeError:
        pass
    finally:
        stop.set()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"concurrency: {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
