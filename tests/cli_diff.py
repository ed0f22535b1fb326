#!/usr/bin/env python3
"""`ctlmirror diff` names what changed in a changed entry, on real Microsoft lists.

The forged fixtures list the same attributes for an entry in every version, so
this reads four real authroot copies from the corpus (skips when it is absent)
and finds its cases there, holding no data of the lists itself:
  - 050 -> 051: some entry gains a disallowed-since FILETIME, shown as
    "disallowed since: (absent) -> TIME";
  - 053 -> 054: some entry gains a notBefore, some changes its friendly name (as
    `show --entries` reports both names), and some gains the time stamping EKU
    appended to its list; backwards, 054 -> 053, each change is the same one
    reversed (new and old swapped).
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
DISALLOWED_SINCE = "1.3.6.1.4.1.311.10.11.104"
NOT_BEFORE = "1.3.6.1.4.1.311.10.11.126"
FRIENDLY_NAME = "1.3.6.1.4.1.311.10.11.11"
EKU = "1.3.6.1.4.1.311.10.11.9"
ISO = __import__("re").compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
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


def entries(binary, store, version):
    r = run(binary, store, "show", "--json", "--entries", version)
    if r.returncode != 0:
        raise Broken(f"show --entries {version}: exit {r.returncode}: {r.stderr.strip()[:300]}")
    return json.loads(r.stdout).get("entries_list", [])


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
            gained = [(i, c) for i, e in js.items() for c in e.get("changes", [])
                      if c["oid"] == DISALLOWED_SINCE and c["old"] is None]
            check(gained and all(c["name"] == "disallowed since" and ISO.match(c["new"] or "")
                                 for _, c in gained),
                  f"050 -> 051: no entry gains a disallowed-since time: {gained}")
            for i, c in gained:
                check(f"disallowed since: (absent) -> {c['new']}" in hum.get(i, []),
                      f"050 -> 051: {i} prints {hum.get(i)}")

            hum, js = agree(binary, store, seq["053"], seq["054"])
            names_new = {e.get("thumbprint", "").upper(): e.get("friendly_name") for e in
                         entries(binary, store, seq["054"])}
            names_old = {e.get("thumbprint", "").upper(): e.get("friendly_name") for e in
                         entries(binary, store, seq["053"])}
            nb = [(i, c) for i, e in js.items() for c in e.get("changes", [])
                  if c["oid"] == NOT_BEFORE and c["old"] is None]
            check(nb and all(c["name"] == "notBefore" and ISO.match(c["new"] or "") for _, c in nb),
                  f"053 -> 054: no entry gains a notBefore: {nb}")
            fn = [(i, c) for i, e in js.items() for c in e.get("changes", []) if c["oid"] == FRIENDLY_NAME]
            check(fn and all(c["name"] == "friendly name" and c["old"] == '"%s"' % names_old.get(i)
                             and c["new"] == '"%s"' % names_new.get(i) and js[i]["friendly_name"] == names_new.get(i)
                             for i, c in fn),
                  f"053 -> 054: friendly-name changes disagree with show --entries: {fn[:3]}")
            ts = [(i, c) for i, e in js.items() for c in e.get("changes", []) if c["oid"] == EKU
                  and c["old"] and c["new"] == c["old"] + ", 1.3.6.1.5.5.7.3.8 (time stamping)"]
            check(ts and all(c["name"] == "EKU restrictions" and "1.3.6.1.5.5.7.3.1 (server auth)" in c["old"]
                             for _, c in ts),
                  f"053 -> 054: no entry gains the time stamping EKU at the end of its list")

            hum_back, js_back = agree(binary, store, seq["054"], seq["053"])
            for i, c in nb + fn + ts:
                back = [d for d in js_back.get(i, {}).get("changes", []) if d["oid"] == c["oid"]]
                check(back == [{"oid": c["oid"], "name": c["name"], "old": c["new"], "new": c["old"]}],
                      f"054 -> 053: {i} {c['name']} is not the change reversed: {back}")
        except Broken as e:
            check(False, str(e))
    return report(f"cli_diff: {checks()} checks")


if __name__ == "__main__":
    sys.exit(main())
