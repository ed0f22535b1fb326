#!/usr/bin/env python3
"""`ctlmirror diff` names what changed in a changed entry, on real Microsoft lists.

The forged fixtures list the same attributes for an entry in every version, so
this reads four real authroot copies from the corpus (skips when it is absent):
  - 050 (2016-01-28) -> 051 (2016-04-14): the thawte root 23E59494... gains a
    disallowed-since FILETIME, shown as "disallowed since: (absent) -> 2016-04-19T00:00:00Z";
  - 053 (2016-11-12) -> 054 (2017-02-28): Japan Certification Services' root gains
    notBefore 2017-03-01 and a shorter friendly name; Certplus Root CA G1 gains the
    time stamping EKU; backwards, the notBefore is "-> (absent)".
Human output and --json must say the same: one "  NAME: OLD -> NEW" line per entry
of "changes" ({"oid", "name", "old", "new"}, null for an absent side), the entry's
other JSON fields kept.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Broken, check, checks, iso, report, t  # noqa: E402

SKIP = 77
FILES = ["050-20160128T175153.cab", "051-20160414T222039.cab",
         "053-20161112T005943.cab", "054-20170228T174808.cab"]
THAWTE = "23E594945195F2414803B4D564D2A3A3F5D88B8C"
JCS = "00EA522C8A9C06AA3ECCE0B4FA6CDC21D92E8099"
CERTPLUS = "22FDD0B7FDA24E0DAC492CA0ACA67B6A1FE3F766"
ENTRY_KEYS = {"id", "id_format", "thumbprint", "friendly_name", "changes"}


def run(binary, store, *args):
    return subprocess.run([binary, *args[:1], "--store", store, *args[1:]],
                          capture_output=True, text=True, timeout=120)


def human(binary, store, a, b):
    """{id: [attribute lines]} for the changed entries, and the header line."""
    r = run(binary, store, "diff", a, b)
    if r.returncode != 0:
        raise Broken(f"diff {a} {b}: exit {r.returncode}: {(r.stdout + r.stderr).strip()[:300]}")
    lines = r.stdout.splitlines()
    changed, cur = {}, None
    for line in lines[1:]:
        if line.startswith("~ "):
            cur = line[2:].split("  ")[0]
            changed[cur] = []
        elif line.startswith("  "):
            check(cur is not None, f"diff {a} {b}: attribute line outside a changed entry: {line!r}")
            if cur is not None:
                changed[cur].append(line[2:])
        else:
            cur = None
    return lines[0], changed


def as_json(binary, store, a, b):
    r = run(binary, store, "diff", "--json", a, b)
    if r.returncode != 0:
        raise Broken(f"diff --json {a} {b}: exit {r.returncode}: {r.stderr.strip()[:300]}")
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise Broken(f"diff --json {a} {b}: not JSON: {r.stdout[:300]!r}")


def line_of(c):
    """The human line a JSON change should print as."""
    return "%s: %s -> %s" % (c["name"] or c["oid"], c["old"] if c["old"] is not None else "(absent)",
                             c["new"] if c["new"] is not None else "(absent)")


def agree(binary, store, a, b):
    """Human and JSON output of one diff say the same; returns both."""
    head, hum = human(binary, store, a, b)
    js = as_json(binary, store, a, b)
    for k in ("from", "to", "added", "removed", "changed"):
        check(k in js, f"diff --json {a} {b}: no {k!r}")
    check(head == f"{a} -> {b}: {len(js['added'])} added, {len(js['removed'])} removed, "
          f"{len(js['changed'])} changed", f"diff {a} {b}: header {head!r} disagrees with --json")
    for e in js["changed"]:
        check(set(e) == ENTRY_KEYS, f"diff --json {a} {b}: changed entry keys {sorted(e)}")
        want = [line_of(c) for c in e.get("changes", [])]
        check(hum.get(e["id"]) == want,
              f"diff {a} {b}: entry {e['id']} prints {hum.get(e['id'])}, --json says {want}")
        for c in e.get("changes", []):
            check(set(c) == {"oid", "name", "old", "new"}, f"diff --json {a} {b}: change keys {sorted(c)}")
            check(c["old"] != c["new"], f"diff {a} {b}: {e['id']} {c['oid']} unchanged: {c}")
            check(c["oid"].startswith("1.3.6.1.4.1.311.10.11."), f"diff {a} {b}: unexpected OID {c['oid']}")
    return hum, {e["id"]: e for e in js["changed"]}


def main():
    binary, corpus = sys.argv[1], sys.argv[2]
    manifest = os.path.join(corpus, "authroot", "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print(f"SKIP: no corpus at {corpus} (authroot/MANIFEST.tsv absent); diff on real lists not checked")
        return SKIP
    with open(manifest, newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    seq = {}
    with tempfile.TemporaryDirectory(prefix="cli_diff.") as tmp:
        store = os.path.join(tmp, "store")
        os.makedirs(store)
        try:
            for name in FILES:
                row = rows[name]
                lo, hi = t(row["chain_valid_from"]), t(row["chain_valid_to"])
                r = run(binary, store, "import", "--at", iso(lo + (hi - lo) / 2),
                        "--anchors", os.path.join(corpus, "anchors"),
                        os.path.join(corpus, "authroot", name))
                if r.returncode != 0:
                    raise Broken(f"import {name}: exit {r.returncode}: {(r.stdout + r.stderr).strip()[:300]}")
                seq[name[:3]] = row["sequence"]

            hum, js = agree(binary, store, seq["050"], seq["051"])
            check(hum.get(THAWTE) == ["disallowed since: (absent) -> 2016-04-19T00:00:00Z"],
                  f"050 -> 051: thawte {THAWTE} prints {hum.get(THAWTE)}")
            check(js.get(THAWTE, {}).get("changes") == [
                {"oid": "1.3.6.1.4.1.311.10.11.104", "name": "disallowed since",
                 "old": None, "new": "2016-04-19T00:00:00Z"}],
                f"050 -> 051 --json: thawte {js.get(THAWTE)}")
            check(js.get(THAWTE, {}).get("friendly_name") == "thawte", "050 -> 051: friendly_name kept")

            hum, js = agree(binary, store, seq["053"], seq["054"])
            check(hum.get(JCS) == [
                'friendly name: "Japan Certification Services, Inc. SecureSign RootCA2" -> '
                '"Japan Certification Services"',
                "notBefore: (absent) -> 2017-03-01T00:00:00Z"],
                f"053 -> 054: {JCS} prints {hum.get(JCS)}")
            eku = (hum.get(CERTPLUS) or [""])[0]
            name, _, values = eku.partition(": ")
            before, _, after = values.partition(" -> ")
            check(name == "EKU restrictions" and before.startswith("1.3.6.1.5.5.7.3.1 (server auth), ")
                  and "1.3.6.1.5.5.7.3.2 (client auth)" in before
                  and after == before + ", 1.3.6.1.5.5.7.3.8 (time stamping)",
                  f"053 -> 054: {CERTPLUS} EKU line {eku!r}")

            hum, js = agree(binary, store, seq["054"], seq["053"])
            check("notBefore: 2017-03-01T00:00:00Z -> (absent)" in (hum.get(JCS) or []),
                  f"054 -> 053: {JCS} prints {hum.get(JCS)}")
            nb = [c for c in js.get(JCS, {}).get("changes", []) if c["name"] == "notBefore"]
            check(nb == [{"oid": "1.3.6.1.4.1.311.10.11.126", "name": "notBefore",
                          "old": "2017-03-01T00:00:00Z", "new": None}], f"054 -> 053 --json: {nb}")
        except Broken as e:
            check(False, str(e))
    return report(f"cli_diff: {checks()} checks")


if __name__ == "__main__":
    sys.exit(main())
