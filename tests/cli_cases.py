#!/usr/bin/env python3
"""`ctlmirror verify` as a user runs it, over the forged fixtures.

Every case in cases.tsv through `--json` (reason, facts, exit status), the
human output for an expired file, and the CLI's refusals (exit codes 2, 3).

usage: cli_cases.py CTLMIRROR FIXTURES_DIR
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, failures, fixture_cases, fixture_trust, report  # noqa: E402


def run(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def main():
    binary, fx = sys.argv[1], sys.argv[2]
    base = ["verify", *fixture_trust(fx)]
    cases = fixture_cases(fx)
    check(len(cases) >= 20, f"only {len(cases)} forged cases")
    reasons = set()
    for c in cases:
        path = os.path.join(fx, c["file"])
        r = run(binary, *base, "--json", "--kind", c["kind"], "--at", c["at"], path)
        lines = r.stdout.strip().splitlines()
        if len(lines) != 1:
            failures.append(f"{c['name']}: {len(lines)} output lines, stderr {r.stderr}")
            continue
        v = json.loads(lines[0])
        reasons.add(v["reason"])
        check(v["reason"] == c["reason"], f"{c['name']}: reason {v['reason']} ({v['detail']}), want {c['reason']}")
        check(v["ok"] == (c["reason"] == "OK"), f"{c['name']}: ok={v['ok']}")
        check(r.returncode == (0 if c["reason"] == "OK" else 1), f"{c['name']}: exit {r.returncode}")
        for key in ("ok", "reason", "kind", "sequence", "this_update", "next_update", "entries", "digest",
                    "signer", "chain_valid_from", "chain_valid_to", "timestamp", "nested_signatures"):
            check(key in v, f"{c['name']}: JSON lacks {key}")
        if c["sequence"] != "-":
            check(v["sequence"] == c["sequence"], f"{c['name']}: sequence {v['sequence']}")
        if c["entries"] != "-":
            check(v["entries"] == int(c["entries"]), f"{c['name']}: entries {v['entries']}")
        if c["timestamp"] != "-":
            check(v["timestamp"] == c["timestamp"], f"{c['name']}: timestamp {v['timestamp']}")
        if c["nested"] != "-":
            check(v["nested_signatures"] == int(c["nested"]), f"{c['name']}: nested {v['nested_signatures']}")
    for want in ("OK", "CAB_MALFORMED", "NOT_CTL", "DIGEST_MISMATCH", "BAD_SIGNATURE", "NO_CHAIN",
                 "UNTRUSTED_ROOT", "WRONG_USAGE", "NOT_YET_VALID", "EXPIRED"):
        check(want in reasons, f"no forged case produces {want}")

    ok = os.path.join(fx, "cases", "authroot-ok.cab")
    # Human output explains an expired file in terms of CAPI2 event 4107.
    r = run(binary, *base, "--at", "2025-06-01T00:00:00Z", ok)
    check(r.returncode == 1 and "EXPIRED" in r.stdout and "4107" in r.stdout
          and "ctlmirror Test Trust List Publisher" in r.stdout, f"expired human output: {r.stdout}")
    r = run(binary, *base, "--at", "2023-06-01T00:00:00Z", ok)
    check(r.returncode == 1 and "NOT_YET_VALID" in r.stdout and "4107" in r.stdout, f"not-yet-valid human output: {r.stdout}")
    # Several files: one JSON line each, exit 0 only if all verify.
    r = run(binary, *base, "--json", "--at", "2024-06-01", ok, os.path.join(fx, "cases", "pinrules-ok.cab"))
    check(r.returncode == 0 and len(r.stdout.strip().splitlines()) == 2, f"two good files: exit {r.returncode}")
    r = run(binary, *base, "--json", "--at", "2024-06-01", ok, os.path.join(fx, "cases", "garbage.cab"))
    check(r.returncode == 1 and len(r.stdout.strip().splitlines()) == 2, f"good+garbage: exit {r.returncode}")
    # Without the operator pins the test root is not an anchor.
    r = run(binary, "verify", "--json", "--anchors", os.path.join(fx, "anchors"), "--at", "2024-06-01", ok)
    check(r.returncode == 1 and json.loads(r.stdout)["reason"] == "NO_CHAIN", f"unpinned: {r.stdout}")
    # Refusals: usage errors exit 2, unreadable input exits 3.
    check(run(binary, *base, "--at", "yesterday", ok).returncode == 2, "bad --at accepted")
    check(run(binary, *base, "--kind", "bogus", ok).returncode == 2, "bad --kind accepted")
    check(run(binary, *base, "--pin", "abc", ok).returncode == 2, "bad --pin accepted")
    check(run(binary, *base).returncode == 2, "no FILE accepted")
    check(run(binary, *base, os.path.join(fx, "no-such-file.cab")).returncode == 3, "missing file not exit 3")
    check(run(binary, "verify", "--anchors", os.path.join(fx, "no-such-dir"), ok).returncode == 3, "missing anchors dir not exit 3")
    r = run(binary, "verify", "--help")
    check(r.returncode == 0 and "--anchors" in r.stdout and "--json" in r.stdout, "verify --help")
    r = run(binary, "--help")
    check(r.returncode == 0 and "verify" in r.stdout, "--help")

    return report(f"cli_cases: {len(cases)} cases, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
