#!/usr/bin/env python3
"""The store over Microsoft's real history (shared/corpus): 112 authroot cabs, 2006-2024.

What it proves:
  - imported one by one in a shuffled order (fixed seed, printed), each at the
    midpoint of its own chain window (copies without a chain at their
    thisUpdate), the import result is admitted, a rollback exactly when it
    verifies and its sequence is lower than the one served at that moment, or
    quarantined NO_CHAIN; and after EVERY import `status` serves the highest
    sequence among the copies so far that verified (and among copies with that
    sequence, the one whose chain window ends last);
  - `versions` then lists all 112 with those statuses;
  - the sequences Microsoft re-published (016/017 and 022/023: the first copy
    has no chain; 018/019 and 072/073: both verify, the later window wins)
    serve the right copy in either import order, also through `show SEQ`;
  - pin / unpin on real versions change what `status` serves; pinning a
    quarantined copy or a rollback is refused;
  - `diff` between consecutive versions: len(added) - len(removed) equals the
    change in entry count from the manifest, and equals the set difference of
    `show --entries` for a sample;
  - export serves `<SHA1>.crt` exactly for the stored roots the served CTL lists;
  - the store holds the history compactly: du of data.mdb < 1.2 x the summed
    size of the distinct files ("store size:" line).
Skips (exit 77) with a clear message when the corpus is absent.

usage: corpus_store.py CTLMIRROR CORPUS_DIR
"""
import csv
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Broken, check, checks, failures, iso, report, t  # noqa: E402

SKIP = 77
SEED = 20240514


class Store:
    def __init__(self, binary, corpus, path):
        self.binary, self.path = binary, path
        self.anchors = ["--anchors", os.path.join(corpus, "anchors")]
        os.makedirs(path)

    def run(self, cmd, *args, timeout=120):
        return subprocess.run([self.binary, cmd, "--store", self.path, *args],
                              capture_output=True, text=True, timeout=timeout)

    def js(self, r, what, ok=(0,)):
        if r.returncode not in ok:
            raise Broken(f"{what}: exit {r.returncode}: {(r.stdout + r.stderr).strip()[:300]}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Broken(f"{what}: not JSON: {r.stdout[:300]!r}")

    def imp(self, row):
        r = self.run("import", "--json", "--at", row["at"], *self.anchors, row["path"])
        return r.returncode, self.js(r, f"import {row['file']}", ok=(0, 1))

    def status(self, at):
        return self.js(self.run("status", "--json", "--at", at), "status", ok=(0, 1))

    def versions(self):
        return self.js(self.run("versions", "--json"), "versions")

    def show(self, v, *args):
        return self.js(self.run("show", "--json", *args, v), f"show {v}")


def load(corpus):
    with open(os.path.join(corpus, "authroot", "MANIFEST.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        r["path"] = os.path.join(corpus, "authroot", r["file"])
        data = open(r["path"], "rb").read()
        r["sha256"], r["size"] = hashlib.sha256(data).hexdigest(), len(data)
        r["verifies"] = bool(r["chain_valid_from"])
        if r["verifies"]:
            lo, hi = t(r["chain_valid_from"]), t(r["chain_valid_to"])
            r["at"], r["window_end"] = iso(lo + (hi - lo) / 2), hi
        else:
            r["at"], r["window_end"] = iso(t(r["this_update"])), None
        r["seq"] = int(r["sequence"], 16)
    return rows


def expected_served(imported):
    """Highest sequence among verifying copies; ties: the chain window ending last."""
    ok = [r for r in imported if r["verifies"]]
    if not ok:
        return None
    return max(ok, key=lambda r: (r["seq"], r["window_end"]))


def shuffled_history(binary, corpus, rows, tmp):
    order = rows[:]
    random.Random(SEED).shuffle(order)
    s = Store(binary, corpus, os.path.join(tmp, "history"))
    imported, rollbacks = [], set()
    for n, row in enumerate(order):
        before = expected_served(imported)
        rc, o = s.imp(row)
        if row["verifies"]:
            want = "rollback" if before and row["seq"] < before["seq"] else "admitted"
        else:
            want = "quarantined"
        check(o.get("result") == want, f"step {n} {row['file']}: {o.get('result')} ({o.get('detail')}), want {want}"
              + (f" (served {before['sequence']})" if before else ""))
        check(rc == (0 if want == "admitted" else 1), f"step {n} {row['file']}: exit {rc}")
        if want == "quarantined":
            check(o.get("reason") == "NO_CHAIN", f"step {n} {row['file']}: reason {o.get('reason')}, want NO_CHAIN")
        if want == "rollback":
            rollbacks.add(row["sha256"])
        imported.append(row)
        exp = expected_served(imported)
        st = s.status(row["at"])
        sv = (st.get("authroot") or {}).get("served")
        if exp is None:
            check(sv is None, f"step {n} {row['file']}: served {sv} with nothing verified yet")
            continue
        if not check(sv is not None, f"step {n} {row['file']}: nothing served, want {exp['sequence']}"):
            continue
        check(int(sv.get("sequence", "0"), 16) == exp["seq"],
              f"step {n} {row['file']}: served {sv.get('sequence')}, want {exp['sequence']} (highest verified so far)")
        check(sv.get("sha256") == exp["sha256"],
              f"step {n} {row['file']}: served copy {sv.get('sha256', '')[:12]}, want {exp['file']} {exp['sha256'][:12]}")
    print(f"corpus_store: {len(order)} imports, {len(rollbacks)} rollbacks, served {exp['sequence']}")

    size_report(s.path, rows)

    vs = s.versions()
    check(len(vs) == len(rows), f"versions lists {len(vs)} copies, want {len(rows)}")
    idx = {v.get("sha256"): v for v in vs}
    final = expected_served(imported)
    statuses = {}
    for row in rows:
        v = idx.get(row["sha256"])
        if not check(v is not None, f"versions lacks {row['file']}"):
            continue
        want = ("served" if row is final else "rollback" if row["sha256"] in rollbacks
                else "admitted" if row["verifies"] else "quarantined")
        statuses[want] = statuses.get(want, 0) + 1
        check(v.get("status") == want, f"versions: {row['file']} status {v.get('status')}, want {want}")
        check(v.get("sequence") == row["sequence"] and v.get("entries") == int(row["entries"]),
              f"versions: {row['file']} sequence {v.get('sequence')} entries {v.get('entries')}")
        if row["verifies"]:
            check(v.get("chain_valid_to") == iso(row["window_end"]), f"versions: {row['file']} chain_valid_to {v.get('chain_valid_to')}")
    check(statuses.get("rollback", 0) > 0, "the shuffled order produced no rollback: nothing tested")
    print(f"corpus_store: statuses {statuses}")

    # pin / unpin on real versions.
    uniq = {}
    for r in rows:
        uniq.setdefault(r["seq"], []).append(r)
    cand = [r for r in rows if r["verifies"] and r["sha256"] not in rollbacks and r is not final and len(uniq[r["seq"]]) == 1]
    if check(cand, "no admitted older version to pin"):
        p = cand[len(cand) // 2]
        r = s.run("pin", "--force", p["sequence"])
        check(r.returncode == 0, f"pin {p['sequence']}: exit {r.returncode} {r.stderr.strip()}")
        sv = s.status(p["at"]).get("authroot", {})
        check(sv.get("pinned") is True and (sv.get("served") or {}).get("sha256") == p["sha256"],
              f"status after pin {p['file']}: pinned {sv.get('pinned')}, served {(sv.get('served') or {}).get('sequence')}")
        check({v["sha256"]: v for v in s.versions()}.get(p["sha256"], {}).get("status") == "pinned", "versions: pinned status")
        out = os.path.join(tmp, "pinned-export")
        r = s.run("export", "--allow-missing", out)
        seqf = os.path.join(out, "authrootseq.txt")
        check(r.returncode == 0 and os.path.isfile(seqf) and open(seqf).read().strip() == p["sequence"],
              f"export under a pin: exit {r.returncode}, authrootseq.txt not {p['sequence']}")
        r = s.run("unpin")
        check(r.returncode == 0, f"unpin: exit {r.returncode}")
        sv = s.status(final["at"]).get("authroot", {})
        check(sv.get("pinned") is False and (sv.get("served") or {}).get("sha256") == final["sha256"],
              f"status after unpin: served {(sv.get('served') or {}).get('sequence')}, want {final['sequence']}")
    bad = next(r for r in rows if not r["verifies"])
    r = s.run("pin", "--force", bad["sha256"][:12])
    check(r.returncode == 1 and "NO_CHAIN" in r.stdout + r.stderr, f"pin of {bad['file']} (no chain): exit {r.returncode} {(r.stdout + r.stderr).strip()!r}")
    if rollbacks:
        # an older version that arrived after a newer one: pinnable, served; unpin: the newest again
        rb = next(r for r in rows if r["sha256"] in rollbacks)
        r = s.run("pin", "--force", rb["sha256"][:12])
        check(r.returncode == 0, f"pin of the rollback {rb['file']}: exit {r.returncode} {r.stderr.strip()!r}")
        sv = s.status(final["at"]).get("authroot", {})
        check(sv.get("pinned") is True and (sv.get("served") or {}).get("sha256") == rb["sha256"],
              f"status after pinning the rollback {rb['file']}: served {(sv.get('served') or {}).get('sequence')}")
        r = s.run("unpin")
        sv = s.status(final["at"]).get("authroot", {})
        check(r.returncode == 0 and (sv.get("served") or {}).get("sha256") == final["sha256"],
              f"unpin after the rollback pin: served {(sv.get('served') or {}).get('sequence')}, want {final['sequence']}")

    # diff between consecutive versions.
    rnd = random.Random(SEED)
    sample = set(rnd.sample(range(1, len(rows)), 4)) | {len(rows) - 1}
    for i in range(1, len(rows)):
        a, b = rows[i - 1], rows[i]
        r = s.run("diff", "--json", a["sha256"][:16], b["sha256"][:16])
        try:
            d = s.js(r, f"diff {a['file']} {b['file']}")
        except Broken as e:
            check(False, str(e))
            continue
        na, nr = len(d.get("added", [])), len(d.get("removed", []))
        check(na - nr == int(b["entries"]) - int(a["entries"]),
              f"diff {a['file'][:3]} {b['file'][:3]}: +{na} -{nr}, entries {a['entries']} -> {b['entries']}")
        if i in sample:
            ea = {e["thumbprint"] for e in s.show(a["sha256"][:16], "--entries").get("entries_list", [])}
            eb = {e["thumbprint"] for e in s.show(b["sha256"][:16], "--entries").get("entries_list", [])}
            check({e.get("thumbprint") for e in d.get("added", [])} == eb - ea, f"diff {a['file'][:3]} {b['file'][:3]}: added != show B - show A")
            check({e.get("thumbprint") for e in d.get("removed", [])} == ea - eb, f"diff {a['file'][:3]} {b['file'][:3]}: removed != show A - show B")


def republished(binary, corpus, rows, tmp):
    """Same sequence published twice: the copy that verifies (or whose window ends last) is served."""
    by = {r["file"][:3]: r for r in rows}
    for x, y, good in (("016", "017", "017"), ("022", "023", "023"), ("018", "019", "019"), ("072", "073", "073")):
        for order in ((x, y), (y, x)):
            s = Store(binary, corpus, os.path.join(tmp, f"pair-{order[0]}-{order[1]}"))
            for f in order:
                rc, o = s.imp(by[f])
                want = "admitted" if by[f]["verifies"] else "quarantined"
                check(o.get("result") == want, f"pair {order}: {f} {o.get('result')} ({o.get('detail')}), want {want}")
            g = by[good]
            sv = (s.status(g["at"]).get("authroot") or {}).get("served") or {}
            check(sv.get("sha256") == g["sha256"], f"pair {order}: served {sv.get('sha256', '')[:12]}, want {good} {g['sha256'][:12]}")
            sh = s.show(g["sequence"])
            check(sh.get("sha256") == g["sha256"] and sh.get("status") == "served",
                  f"pair {order}: show {g['sequence']} gives {sh.get('sha256', '')[:12]} ({sh.get('status')}), want {good}")


def certificates(binary, corpus, rows, tmp):
    """export writes <SHA1>.crt exactly for stored roots that the served CTL lists."""
    last = rows[-1]
    s = Store(binary, corpus, os.path.join(tmp, "crt"))
    s.imp(last)
    listed = {e["thumbprint"] for e in s.show(last["sequence"], "--entries").get("entries_list", [])}
    crtdir = os.path.join(corpus, "crt")
    crts = sorted(os.listdir(crtdir))
    inl = [c for c in crts if c[:-4].upper() in listed][:4]
    notl = [c for c in crts if c[:-4].upper() not in listed][:2]
    check(len(inl) == 4, f"only {len(inl)} corpus certificates listed in {last['file']}")
    paths = [os.path.join(crtdir, c) for c in inl + notl]
    r = s.run("import", "--json", *s.anchors, *paths)
    res = [json.loads(l).get("result") for l in r.stdout.splitlines() if l.strip()]
    check(r.returncode == 0 and res == ["cert_added"] * len(paths), f"certificate import: exit {r.returncode}, {res}")
    out = os.path.join(tmp, "crt-export")
    r = s.run("export", "--allow-missing", out)
    if check(r.returncode == 0, f"export: exit {r.returncode} {r.stderr.strip()}"):
        got = sorted(f for f in os.listdir(out) if f.endswith(".crt"))
        check(got == sorted(inl), f"exported certificates {got}, want {sorted(inl)}")
        for c in got:
            check(open(os.path.join(out, c), "rb").read() == open(os.path.join(crtdir, c), "rb").read(), f"{c} differs")


def size_report(store, rows):
    mdb = os.path.join(store, "data.mdb")
    if not check(os.path.isfile(mdb), f"no data.mdb in {store}"):
        return
    r = subprocess.run(["du", "--block-size=1", mdb], capture_output=True, text=True, timeout=60)
    try:
        used = int(r.stdout.split()[0])
    except (IndexError, ValueError):
        used = os.stat(mdb).st_blocks * 512
    distinct = {}
    for row in rows:
        distinct[row["sha256"]] = row["size"]
    total = sum(distinct.values())
    ratio = used / total
    print(f"store size: data.mdb {used} bytes on disk (du), {len(distinct)} distinct files {total} bytes, "
          f"ratio {ratio:.3f} (apparent size {os.path.getsize(mdb)})")
    check(ratio < 1.2, f"store size ratio {ratio:.3f} >= 1.2")


def main():
    binary, corpus = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(corpus, "authroot", "MANIFEST.tsv")):
        print(f"SKIP: no corpus at {corpus} (authroot/MANIFEST.tsv absent); store over the real history not checked")
        return SKIP
    print(f"corpus_store: seed {SEED}")
    rows = load(corpus)
    check(len(rows) == 112, f"manifest has {len(rows)} rows, expected 112")
    tmp = tempfile.mkdtemp(prefix="ctlmirror-corpus-store-")
    try:
        for name, fn in (("history", shuffled_history), ("republished", republished), ("certificates", certificates)):
            try:
                fn(binary, corpus, rows, tmp)
            except Broken as e:
                failures.append(f"{name}: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"corpus_store: {len(rows)} versions, {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
