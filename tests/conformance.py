#!/usr/bin/env python3
"""Conformance of `ctlmirror verify --json` with the real history in shared/corpus.

For each version in authroot/MANIFEST.tsv:
  - with a chain window: at its midpoint the file verifies (OK) with the
    manifest's sequence, thisUpdate, entry count, digest and window;
  - without one: NO_CHAIN at any time (checked at thisUpdate and a year later);
  - without a countersignature: EXPIRED 30 days after the window and
    NOT_YET_VALID 30 days before it.
Skips (exit 77, ctest's skip code) with a clear message when the corpus is absent.

usage: conformance.py CTLMIRROR CORPUS_DIR
"""
import csv
import datetime as dt
import json
import os
import subprocess
import sys

SKIP = 77


def t(s):
    return dt.datetime.strptime(s, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def verify(binary, anchors, path, at):
    out = subprocess.run([binary, "verify", "--json", "--anchors", anchors, "--at", iso(at), path],
                         capture_output=True, text=True, timeout=60)
    if out.returncode not in (0, 1):
        raise SystemExit(f"verify exited {out.returncode} on {path}: {out.stderr}")
    lines = out.stdout.strip().splitlines()
    if len(lines) != 1:
        raise SystemExit(f"expected one JSON line for {path}, got {len(lines)}")
    v = json.loads(lines[0])
    if v["ok"] != (out.returncode == 0):
        raise SystemExit(f"exit status {out.returncode} disagrees with ok={v['ok']} for {path}")
    return v


def main():
    binary, corpus = sys.argv[1], sys.argv[2]
    manifest = os.path.join(corpus, "authroot", "MANIFEST.tsv")
    anchors = os.path.join(corpus, "anchors")
    if not os.path.exists(manifest):
        print(f"SKIP: no corpus at {corpus} (authroot/MANIFEST.tsv absent); conformance not checked")
        return SKIP
    failures, checks = [], 0

    def expect(cond, msg):
        nonlocal checks
        checks += 1
        if not cond:
            failures.append(msg)

    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    expect(len(rows) == 112, f"manifest has {len(rows)} rows, expected 112")
    for r in rows:
        path = os.path.join(corpus, "authroot", r["file"])
        name = r["file"]
        if not r["chain_valid_from"]:
            for at in (t(r["this_update"]), t(r["this_update"]) + dt.timedelta(days=365)):
                v = verify(binary, anchors, path, at)
                expect(v["reason"] == "NO_CHAIN", f"{name} at {iso(at)}: {v['reason']}, want NO_CHAIN ({v['detail']})")
            continue
        lo, hi = t(r["chain_valid_from"]), t(r["chain_valid_to"])
        mid = lo + (hi - lo) / 2
        v = verify(binary, anchors, path, mid)
        expect(v["ok"] and v["reason"] == "OK", f"{name} at midpoint: {v['reason']} ({v['detail']})")
        expect(v["sequence"] == r["sequence"], f"{name}: sequence {v['sequence']} != {r['sequence']}")
        expect(v["this_update"] == iso(t(r["this_update"])), f"{name}: this_update {v['this_update']}")
        expect(v["entries"] == int(r["entries"]), f"{name}: entries {v['entries']} != {r['entries']}")
        expect(v["digest"] == r["digest"], f"{name}: digest {v['digest']} != {r['digest']}")
        expect(v["chain_valid_from"] == iso(lo), f"{name}: chain_valid_from {v['chain_valid_from']} != {iso(lo)}")
        expect(v["chain_valid_to"] == iso(hi), f"{name}: chain_valid_to {v['chain_valid_to']} != {iso(hi)}")
        expect(v["kind"] == "authroot", f"{name}: kind {v['kind']}")
        expect(v["signer"] is not None and v["signer"].startswith(r["signer_subject"]),
               f"{name}: signer {v['signer']} does not start with {r['signer_subject']}")
        expect((v["chain_root"] or "").startswith(r["chain_root"]), f"{name}: chain_root {v['chain_root']}")
        expect((v["nested_signatures"] > 0) == (r["nested_signature"] == "yes"),
               f"{name}: nested_signatures {v['nested_signatures']}, manifest {r['nested_signature']}")
        if r["countersignature_time"]:
            expect(v["timestamp"] == iso(t(r["countersignature_time"])),
                   f"{name}: timestamp {v['timestamp']} != {r['countersignature_time']}")
        else:
            expect(v["timestamp"] is None, f"{name}: timestamp {v['timestamp']}, manifest has none")
            v = verify(binary, anchors, path, hi + dt.timedelta(days=30))
            expect(v["reason"] == "EXPIRED", f"{name} 30 days after window: {v['reason']}")
            v = verify(binary, anchors, path, lo - dt.timedelta(days=30))
            expect(v["reason"] == "NOT_YET_VALID", f"{name} 30 days before window: {v['reason']}")
    for msg in failures:
        print("FAIL:", msg)
    print(f"conformance: {len(rows)} versions, {checks} checks, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
