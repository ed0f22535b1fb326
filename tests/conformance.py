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

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, checks, failures, iso, report, t  # noqa: E402

SKIP = 77


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
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    check(len(rows) == 112, f"manifest has {len(rows)} rows, expected 112")
    for r in rows:
        path = os.path.join(corpus, "authroot", r["file"])
        name = r["file"]
        if not r["chain_valid_from"]:
            for at in (t(r["this_update"]), t(r["this_update"]) + dt.timedelta(days=365)):
                v = verify(binary, anchors, path, at)
                check(v["reason"] == "NO_CHAIN", f"{name} at {iso(at)}: {v['reason']}, want NO_CHAIN ({v['detail']})")
            continue
        lo, hi = t(r["chain_valid_from"]), t(r["chain_valid_to"])
        mid = lo + (hi - lo) / 2
        v = verify(binary, anchors, path, mid)
        check(v["ok"] and v["reason"] == "OK", f"{name} at midpoint: {v['reason']} ({v['detail']})")
        check(v["sequence"] == r["sequence"], f"{name}: sequence {v['sequence']} != {r['sequence']}")
        check(v["this_update"] == iso(t(r["this_update"])), f"{name}: this_update {v['this_update']}")
        check(v["entries"] == int(r["entries"]), f"{name}: entries {v['entries']} != {r['entries']}")
        check(v["digest"] == r["digest"], f"{name}: digest {v['digest']} != {r['digest']}")
        check(v["chain_valid_from"] == iso(lo), f"{name}: chain_valid_from {v['chain_valid_from']} != {iso(lo)}")
        check(v["chain_valid_to"] == iso(hi), f"{name}: chain_valid_to {v['chain_valid_to']} != {iso(hi)}")
        check(v["kind"] == "authroot", f"{name}: kind {v['kind']}")
        check(v["signer"] is not None and v["signer"].startswith(r["signer_subject"]),
              f"{name}: signer {v['signer']} does not start with {r['signer_subject']}")
        check((v["chain_root"] or "").startswith(r["chain_root"]), f"{name}: chain_root {v['chain_root']}")
        check((v["nested_signatures"] > 0) == (r["nested_signature"] == "yes"),
              f"{name}: nested_signatures {v['nested_signatures']}, manifest {r['nested_signature']}")
        if r["countersignature_time"]:
            check(v["timestamp"] == iso(t(r["countersignature_time"])),
                  f"{name}: timestamp {v['timestamp']} != {r['countersignature_time']}")
        else:
            check(v["timestamp"] is None, f"{name}: timestamp {v['timestamp']}, manifest has none")
            v = verify(binary, anchors, path, hi + dt.timedelta(days=30))
            check(v["reason"] == "EXPIRED", f"{name} 30 days after window: {v['reason']}")
            v = verify(binary, anchors, path, lo - dt.timedelta(days=30))
            check(v["reason"] == "NOT_YET_VALID", f"{name} 30 days before window: {v['reason']}")
    return report(f"conformance: {len(rows)} versions, {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
