#!/usr/bin/env python3
"""The store cannot be filled from outside: `ctlmirror sync` against a fake upstream that
serves garbage of decreasing size for 50 polls, with a small map (map_size_mb = 8) and a
small failed-copy budget (failed_budget_mb = 2, failed_keep = 3). The garbage together is
larger than the map, so without the budget the store would fill up. Shown:
  - every garbage poll is recorded (quarantined, CAB_MALFORMED), none fails for room;
  - after every poll the failed copies that still hold bytes are at most failed_keep per kind
    and reason and their bytes together stay within failed_budget_mb; older ones keep their
    record and hash, marked bytes_dropped (versions --json), and `show` says so;
  - the bytes dropped are logged (gc events naming the failed-copy budget);
  - data.mdb stays well below the map (bounded by the budget, not by the polls);
  - the next genuine cab is admitted and served, and every earlier verified version still
    exports byte-equal.

usage: store_budget.py CTLMIRROR FIXTURES_DIR
Exit: 0 all checks passed, 1 some failed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_upstream import FakeUpstream, Bytes  # noqa: E402
from testlib import AT, Broken, Fixtures, check, checks, failures, report, sha256, write_config  # noqa: E402

CAB = "authrootstl.cab"
MAP_MB = 8
BUDGET_MB = 2
KEEP = 3
POLLS = 50


class Mirror:
    def __init__(self, binary, fx, dir, upstream):
        self.binary = binary
        self.store = os.path.join(dir, "store")
        self.config = write_config(os.path.join(dir, "ctlmirror.conf"), self.store, fx.anchors,
                                   fx.pins, upstream=upstream, map_size_mb=MAP_MB,
                                   failed_budget_mb=BUDGET_MB, failed_keep=KEEP,
                                   max_download=16 * 1024 * 1024, fetch_timeout="10s")

    def run(self, *args):
        return subprocess.run([self.binary, args[0], "-c", self.config, *args[1:]],
                              capture_output=True, text=True, timeout=120)

    def json(self, *args):
        r = self.run(*args)
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Broken(f"{' '.join(args)}: exit {r.returncode}, not JSON: {r.stdout[:300]!r} "
                         f"{r.stderr.strip()[:300]!r}")

    def sync(self):
        return self.json("sync", "--json", "--now", AT)

    def versions(self):
        return self.json("versions", "--json")


def failed_with_bytes(versions):
    return [v for v in versions if v["status"] == "quarantined" and not v.get("bytes_dropped")]


def main():
    if len(sys.argv) != 3:
        print("usage: store_budget.py CTLMIRROR FIXTURES_DIR", file=sys.stderr)
        return 2
    binary, fx = sys.argv[1], Fixtures(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="store_budget.")
    up = FakeUpstream().start()
    figures = ""
    try:
        m = Mirror(binary, fx, tmp, up.url)
        # two genuine versions first: what must survive the flood
        genuine = ["authroot-ok", "nested-ok"]
        for name in genuine:
            up.set(CAB, Bytes(fx.data(name)))
            m.sync()
        vs = m.versions()
        check(sorted(v["sha256"] for v in vs if v["status"] in ("served", "admitted")) ==
              sorted(fx.sha(n) for n in genuine), f"the genuine versions were not admitted: {vs}")

        # garbage of decreasing size, one body per poll, each a new ETag
        size, total, recorded = 1024 * 1024, 0, 0
        for i in range(POLLS):
            body = b"MSCF" + os.urandom(size - 4)
            total += size
            up.set(CAB, Bytes(body))
            doc = m.sync()
            vs = m.versions()
            mine = [v for v in vs if v["sha256"] == sha256(body)]
            recorded += len(mine) == 1 and mine[0]["status"] == "quarantined"
            kept = failed_with_bytes(vs)
            kept_bytes = sum(v["size"] for v in kept)
            check(len(kept) <= KEEP, f"poll {i}: {len(kept)} failed copies hold bytes, want <= {KEEP}")
            check(kept_bytes <= BUDGET_MB << 20,
                  f"poll {i}: failed copies hold {kept_bytes} bytes, budget {BUDGET_MB} MiB")
            if i == POLLS - 1:
                check("store is full" not in json.dumps(doc), f"last poll: {doc}")
            size = size * 15 // 16
        check(recorded == POLLS, f"{recorded} of {POLLS} garbage bodies recorded as quarantined")
        check(total > MAP_MB << 20, f"the garbage ({total} bytes) must exceed the map to show anything")
        vs = m.versions()
        dropped = [v for v in vs if v.get("bytes_dropped")]
        check(len(dropped) == POLLS - len(failed_with_bytes(vs)),
              f"{len(dropped)} copies marked bytes_dropped, want {POLLS - len(failed_with_bytes(vs))}")
        check(all(v["status"] == "quarantined" and v["reason"] != "OK" for v in dropped),
              "a copy that verified lost its bytes")
        if dropped:
            r = m.run("show", dropped[0]["sha256"][:16])
            check(r.returncode == 0 and "bytes dropped" in r.stdout,
                  f"show of a dropped copy does not say so: {r.stdout!r} {r.stderr!r}")
        evs = m.json("events", "--json")
        evs = evs if isinstance(evs, list) else evs.get("events", [])
        gc = [e for e in evs if e.get("type") == "gc" and "failed-copy budget" in e.get("text", "")]
        check(len(gc) >= POLLS - KEEP - 2, f"{len(gc)} gc events for the failed-copy budget")
        mdb = os.path.getsize(os.path.join(m.store, "data.mdb"))
        figures = f", {total} bytes of garbage in {POLLS} polls, data.mdb {mdb} bytes"
        check(mdb < (2 * BUDGET_MB + 2) << 20,
              f"data.mdb is {mdb} bytes after {total} bytes of garbage: want < {2 * BUDGET_MB + 2} MiB")

        # the next genuine cab: admitted, served
        up.set(CAB, Bytes(fx.data("sha256-large")))
        doc = m.sync()
        st = m.json("status", "--json", "--at", AT)
        served = [v for v in m.versions() if v["status"] == "served" and v["kind"] == "authroot"]
        check(len(served) == 1 and served[0]["sha256"] == fx.sha("sha256-large"),
              f"the genuine cab after the flood is not served: {doc} {served} {json.dumps(st)[:300]}")

        # every verified version still exports byte-equal (pinned one by one)
        n = 0
        for v in m.versions():
            if v["status"] not in ("served", "admitted"):
                continue
            r = m.run("pin", "--force", v["sha256"][:16])
            check(r.returncode == 0, f"pin {fx.name_of(v['sha256'])}: {r.stderr}")
            out = os.path.join(tmp, f"export{n}")
            r = m.run("export", "--allow-missing", out)
            p = os.path.join(out, CAB)
            check(r.returncode == 0 and os.path.isfile(p) and
                  sha256(open(p, "rb").read()) == v["sha256"],
                  f"{fx.name_of(v['sha256'])} does not export byte-equal: {r.stderr}")
            m.run("unpin", "--kind", "authroot")
            n += 1
        check(n == 3, f"{n} verified versions checked, want 3")
    except Broken as e:
        failures.append(str(e))
    finally:
        up.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"store_budget: {checks()} checks, {len(failures)} failures{figures}")


if __name__ == "__main__":
    sys.exit(main())
