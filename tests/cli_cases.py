#!/usr/bin/env python3
"""`ctlmirror verify` as a user runs it, over the forged fixtures.

Every case in cases.tsv through `--json` (reason, facts, detail, exit status),
the human output for an expired file, the CLI's refusals (exit codes 2, 3), and
how `show --entries` and `diff` print each kind's entry identifiers.

usage: cli_cases.py CTLMIRROR FIXTURES_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, failures, fixture_cases, fixture_trust, report  # noqa: E402


def run(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def entries(binary, fx, by_name):
    """show --entries and diff print each kind's identifiers by one rule: upper-case hex for hashes
    (authroot's SHA-1, disallowed's 16- and 48-byte hashes), a pin rule's DNS name as text."""
    names = ("authroot-ok", "disallowed-ok", "disallowed-sha256", "pinrules-ok")
    if not all(check(n in by_name, f"no {n} case in cases.tsv") for n in names):
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = ["--store", os.path.join(tmp, "store")]
        r = run(binary, "import", *store, *fixture_trust(fx), "--at", by_name["authroot-ok"]["at"], "--json",
                *[by_name[n]["path"] for n in names])
        check(r.returncode in (0, 1) and len(r.stdout.strip().splitlines()) == len(names), f"import: exit {r.returncode} {r.stderr}")

        def show(name, *args):
            r = run(binary, "show", *store, *args, by_name[name]["sequence"])
            check(r.returncode == 0, f"show {name} {args}: exit {r.returncode} {r.stderr}")
            return r.stdout

        listed = {}
        for name in names:
            v = json.loads(show(name, "--json", "--entries") or "{}")
            lst = v.get("entries_list") or []
            check(len(lst) == int(by_name[name]["entries"]), f"show {name}: {len(lst)} entries")
            for e in lst:
                check(all(k in e for k in ("id", "id_format", "thumbprint", "friendly_name")), f"show {name}: entry {e}")
            listed[name] = lst
            human = show(name, "--entries")
            for e in lst:
                check(f"  {e['id']}\n" in human or f"  {e['id']}  " in human, f"show {name}: human output lacks {e['id']!r}")
        for e in listed["authroot-ok"]:
            check(e["id_format"] == "hex" and re.fullmatch(r"[0-9A-F]{40}", e["id"]) and e["id"] == e["thumbprint"],
                  f"authroot entry {e}")
        for e in listed["disallowed-ok"]:
            check(e["id_format"] == "hex" and re.fullmatch(r"[0-9A-F]{32}|[0-9A-F]{96}", e["id"]) and e["friendly_name"] is None,
                  f"disallowed entry {e}")
        check({len(e["id"]) for e in listed["disallowed-ok"]} == {32, 96}, "disallowed: not both 16- and 48-byte hashes")
        pins = [e["id"] for e in listed["pinrules-ok"]]
        check(all(e["id_format"] == "text" and re.fullmatch(r"[!-~]+", e["id"]) for e in listed["pinrules-ok"]),
              f"pin-rule ids: {pins}")
        check(".files.1drv.com" in pins and max(map(len, pins)) == 253 and any(64 < len(p) < 253 for p in pins),
              f"pin-rule ids: {[p[:20] for p in pins]}")
        check(all(e["thumbprint"] == e["id"].encode().hex().upper() for e in listed["pinrules-ok"]),
              "pin-rule thumbprint is not the identifier's bytes in hex")

        # diff prints the same identifiers: disallowed-sha256 lists one hash more than disallowed-ok.
        a, b = by_name["disallowed-ok"]["sequence"], by_name["disallowed-sha256"]["sequence"]
        r = run(binary, "diff", *store, "--json", a, b)
        d = json.loads(r.stdout or "{}")
        check(r.returncode == 0 and d.get("from") == a and d.get("to") == b, f"diff disallowed: exit {r.returncode} {r.stdout}")
        old = {e["id"] for e in listed["disallowed-ok"]}
        new = {e["id"] for e in listed["disallowed-sha256"]}
        check([e.get("id") for e in d.get("added", [])] == sorted(new - old) and not d.get("removed"),
              f"diff disallowed: added {d.get('added')}, want {sorted(new - old)}")
        r = run(binary, "diff", *store, a, b)
        check(r.returncode == 0 and all(f"+ {i}\n" in r.stdout for i in new - old), f"diff disallowed (human): {r.stdout}")
        p = by_name["pinrules-ok"]["sequence"]
        r = run(binary, "diff", *store, p, p)
        check(r.returncode == 0 and "0 added, 0 removed, 0 changed" in r.stdout, f"diff pinrules A A: {r.stdout}")


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
        if c["next_update"] != "-":
            check(v["next_update"] == c["next_update"], f"{c['name']}: next_update {v['next_update']}")
        elif c["sequence"] != "-":
            check(v["next_update"] is None, f"{c['name']}: next_update {v['next_update']}, want null")
        if c["detail"] != "-":
            check(c["detail"] in v["detail"], f"{c['name']}: detail {v['detail']!r} lacks {c['detail']!r}")
        # An unknown root: its subject and SHA-256, the pin that would trust it (when the CLI prints them).
        if v["reason"] == "UNTRUSTED_ROOT":
            pin = re.search(r"anchor_pin = ([0-9A-F]{64})", v["detail"])
            check(pin is not None and v["untrusted_root_sha256"].upper() == pin.group(1),
                  f"{c['name']}: untrusted_root_sha256 {v['untrusted_root_sha256']} vs detail {v['detail']!r}")
            check("ctlmirror Test Root" in (v.get("untrusted_root") or ""), f"{c['name']}: untrusted_root {v.get('untrusted_root')}")
    for want in ("OK", "CAB_MALFORMED", "NOT_CTL", "DIGEST_MISMATCH", "BAD_SIGNATURE", "NO_CHAIN",
                 "UNTRUSTED_ROOT", "WRONG_USAGE", "NOT_YET_VALID", "EXPIRED"):
        check(want in reasons, f"no forged case produces {want}")

    # Only a time-stamping certificate's countersignature replaces T: long after both signer chains
    # expired, the genuine timestamp still verifies and the one without id-kp-timeStamping does not.
    late = "2039-01-01T00:00:00Z"
    by_name = {c["name"]: c for c in cases}
    for name, reason, used in (("timestamped-ok", "OK", True), ("timestamp-no-eku", "EXPIRED", False)):
        if not check(name in by_name, f"no {name} case in cases.tsv"):
            continue
        r = run(binary, *base, "--json", "--kind", "authroot", "--at", late, by_name[name]["path"])
        v = json.loads(r.stdout)
        check(v["reason"] == reason and r.returncode == (0 if used else 1),
              f"{name} at {late}: {v['reason']} ({v['detail']}), exit {r.returncode}, want {reason}")
        check(v["timestamp"] == by_name[name]["timestamp"] and v["timestamp_verified"] is used,
              f"{name} at {late}: timestamp {v['timestamp']} verified {v['timestamp_verified']}")
        check(v["verified_at"] == (v["timestamp"] if used else late), f"{name}: verified_at {v['verified_at']}")
        if not used:
            check("1.3.6.1.5.5.7.3.8" in v["detail"], f"{name}: detail does not say why the timestamp was not used: {v['detail']}")

    # Without --kind, each list is told by its CAB member and subjectUsage.
    for name, kind in (("authroot-ok", "authroot"), ("disallowed-ok", "disallowed"), ("pinrules-ok", "pinrules")):
        if not check(name in by_name, f"no {name} case in cases.tsv"):
            continue
        r = run(binary, *base, "--json", "--at", by_name[name]["at"], by_name[name]["path"])
        v = json.loads(r.stdout)
        check(v["reason"] == "OK" and v["kind"] == kind, f"{name} without --kind: {v['reason']} {v['kind']} ({v['detail']})")

    entries(binary, fx, by_name)

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
