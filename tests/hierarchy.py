#!/usr/bin/env python3
"""Central pins in a hierarchy: a parent ctlmirror and child mirrors on 127.0.0.1.

What it proves, with the forged fixtures (the parent's store filled by `import`: authroot-ok,
the newer authroot-sha1, disallowed-ok, pinrules-ok and the listed test roots), every daemon
on an ephemeral port with `--now 2024-06-01T00:00:00Z`:
  - the parent publishes its pin in /_ctlmirror/status.json (pin.sha256 among it);
  - a child whose upstream is the parent's flat URL with `follow_upstream_pin = yes`: the
    parent pins the older authroot-ok (a version the child has never seen) -> after one
    `ctlmirror sync` round the child's daemon serves authroot-ok's bytes and its sequence
    file, its status.json says pinned by the parent URL ("followed from upstream", the
    parent's reason), the metrics' pin_info says by = the parent URL, a `pinned` event names
    it; a second round changes nothing (`unchanged`, no event); the parent unpins -> one
    round and the child serves the newest again (an `unpinned` event);
  - a child with its own polling (poll_interval 1s) follows the pin and the unpin by itself;
  - a child without following: the parent's pin makes it `warn` with "upstream serves an
    older version than this mirror", and it keeps serving the newest; ok again once the
    parent unpins;
  - an administrator's pin on the following child is never replaced or removed by
    following: the round says so, with a `sync` event once per daemon run (the polling
    child over several rounds: one), once per `ctlmirror sync`;
  - a followed upstream whose status.json is not a ctlmirror status (garbage, 404): nothing
    changes, the round says why, one event;
  - in every state above, for each child: /_ctlmirror/healthz (its word and 200/503),
    `ctlmirror status --json` (per kind, and its exit code), status.json's per-kind health
    and reasons, and the metrics' health gauges agree.

usage: hierarchy.py CTLMIRROR FIXTURES_DIR
Exit: 0 all checks passed, 1 some failed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (AT, Broken, Daemon, Fixtures, check, checks, failures, iso, report, sha256,
                     wait_for, write_config)  # noqa: E402
from serve_common import Cli, Run, Upstream, expect_results, metric, parse_metrics  # noqa: E402

KINDS = ("authroot", "disallowed", "pinrules")
CAB = {"authroot": "authrootstl.cab", "disallowed": "disallowedcertstl.cab", "pinrules": "pinrulesstl.cab"}
LEVEL = {"ok": 0, "warn": 1, "critical": 2}
OLDER = "upstream serves an older version than this mirror"


class Node:
    """A mirror: its store, config, CLI and daemon."""

    def __init__(self, binary, F, tmp, name, **keys):
        self.binary, self.F, self.name = binary, F, name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        self.cfg = write_config(os.path.join(self.dir, "ctlmirror.conf"), self.store, F.anchors, F.pins,
                                workers=1, fetch_timeout="5s", **keys)
        self.cli = Cli(binary, self.cfg)
        self.d = None

    def start(self):
        self.d = Daemon(self.binary, self.cfg, self.dir, self.name).start()
        return self

    def sync(self):
        r = self.cli.run("sync", "--json", "--now", AT)
        try:
            return r.returncode, json.loads(r.stdout)
        except ValueError:
            raise Broken(f"{self.name}: sync --json: exit {r.returncode}: {r.stdout[:300]!r} {r.stderr[:300]!r}")

    def served(self, name):
        r = self.d.get(name)
        if r.code != 200:
            raise Broken(f"{self.name}: {name} answered {r.code}")
        return r.body

    def status_json(self):
        r = self.d.get("_ctlmirror/status.json")
        try:
            return json.loads(r.body)
        except ValueError:
            raise Broken(f"{self.name}: status.json {r.code}: {r.body[:300]!r}")

    def events(self):
        return self.cli.json("events")


def agree(n, ctx):
    """healthz, `status` (exit code and --json), status.json and the metrics say the same.
    Returns status.json."""
    hz = n.d.get("_ctlmirror/healthz")
    sj = n.status_json()
    ms = parse_metrics(n.d.get("_ctlmirror/metrics").body.decode())
    st = n.cli.run("status", "--json", "--at", iso(n.d.clock()))
    try:
        cli = json.loads(st.stdout)
    except ValueError:
        raise Broken(f"{ctx}: {n.name}: status --json: exit {st.returncode}: {st.stdout[:300]!r}")
    worst = 0
    for k in KINDS:
        a, b = sj.get(k) or {}, cli.get(k) or {}
        check(a.get("health") == b.get("health") and a.get("health_reasons") == b.get("health_reasons"),
              f"{ctx}: {n.name} {k}: status.json says {a.get('health')} {a.get('health_reasons')}, "
              f"status says {b.get('health')} {b.get('health_reasons')}")
        g = metric(ms, "ctlmirror_health", kind=k)
        check(LEVEL.get(a.get("health"), -1) == g, f"{ctx}: {n.name} {k}: status.json {a.get('health')}, metrics gauge {g}")
        if a.get("kept", True):
            worst = max(worst, LEVEL.get(a.get("health"), 2))
    word = [w for w, lvl in LEVEL.items() if lvl == worst][0]
    check(hz.body.decode().strip() == word and hz.code == (503 if worst == 2 else 200),
          f"{ctx}: {n.name}: healthz {hz.code} {hz.body!r}, status.json's kinds say {word}")
    check(metric(ms, "ctlmirror_health_overall") == worst,
          f"{ctx}: {n.name}: ctlmirror_health_overall {metric(ms, 'ctlmirror_health_overall')}, want {worst}")
    check(st.returncode == (0 if worst == 0 else 1),
          f"{ctx}: {n.name}: status exit {st.returncode} with health {word}")
    return sj


def serves(n, F, case, ctx):
    """The daemon serves case's cab bytes and its sequence."""
    body = n.served(CAB["authroot"])
    check(body == F.data(case), f"{ctx}: {n.name} serves {F.name_of(sha256(body))}, want {case}")
    seq = n.served("authrootseq.txt").decode(errors="replace").strip()
    check(seq == F.seq(case), f"{ctx}: {n.name} authrootseq.txt says {seq}, want {F.seq(case)}")


def events_of(n, since, kind=None):
    return [e for e in n.events()[since:] if kind is None or e.get("type") == kind]


# The forged chains are valid at AT, the time every daemon and round judges at, but not at the
# wall clock that `pin` checks them against: hence --force for the pins set by hand.


def body(binary, F, tmp, run):
    parent = Node(binary, F, tmp, "parent")
    r, o = parent.cli.imp(*[F.path(c) for c in ("authroot-ok", "authroot-sha1", "disallowed-ok", "pinrules-ok")])
    expect_results(o, r, ["admitted"] * 4, "parent store", counted=False)
    paths = []
    for label in ("root", "legacy"):
        sha1, der = F.roots[label]
        p = os.path.join(parent.dir, f"{sha1}.crt")
        with open(p, "wb") as f:
            f.write(der)
        paths.append(p)
    r, o = parent.cli.imp(*paths)
    parent.start()
    url = parent.d.url
    follow = Node(binary, F, tmp, "follow", upstream=url, follow_upstream_pin="yes").start()
    plain = Node(binary, F, tmp, "plain", upstream=url).start()
    poller = Node(binary, F, tmp, "poller", upstream=url, follow_upstream_pin="yes", poll_interval="1s").start()
    children = (follow, plain, poller)
    newest, older = "authroot-sha1", "authroot-ok"

    def first_round():
        for n in (follow, plain):
            rc, doc = n.sync()
            check(rc == 0 and all((doc.get(k) or {}).get("result") == "admitted" for k in KINDS),
                  f"first round: {n.name}: exit {rc}: {doc}")
        check(wait_for(lambda: poller.d.get(CAB["authroot"]).code == 200, 20), "first round: the polling child serves nothing")
        for n in children:
            serves(n, F, newest, "first round")
            sj = agree(n, "first round")
            check(sj["authroot"]["health"] == "ok" and not sj["authroot"]["pinned"],
                  f"first round: {n.name}: {sj['authroot']}")

    def parent_pins():
        r = parent.cli.run("pin", "--force", "--reason", "a root the site needs", F.seq(older))
        if r.returncode != 0:
            raise Broken(f"parent: pin: {r.stdout} {r.stderr}")
        sj = parent.status_json()["authroot"]
        check(sj["pinned"] and (sj.get("pin") or {}).get("sha256") == F.sha(older),
              f"parent pins: its status.json: {sj}")
        mark = len(follow.events())
        rc, doc = follow.sync()
        a = doc.get("authroot") or {}
        check(url in a.get("text", "") and "pinned" in a.get("text", ""),
              f"parent pins: the following child's round says {a}")
        serves(follow, F, older, "parent pins, one round")
        sj = agree(follow, "parent pins")["authroot"]
        pin = sj.get("pin") or {}
        check(sj["pinned"] and pin.get("by") == url and pin.get("sha256") == F.sha(older)
              and (pin.get("reason") or "").startswith("followed from upstream")
              and "a root the site needs" in (pin.get("reason") or ""),
              f"parent pins: the child's status.json: {sj}")
        check(sj["health"] == "warn" and not any(OLDER in x for x in sj["health_reasons"])
              and any(f"pinned by {url}" in x for x in sj["health_reasons"]),
              f"parent pins: the following child's health: {sj['health']} {sj['health_reasons']}")
        ms = parse_metrics(follow.d.get("_ctlmirror/metrics").body.decode())
        check(any(k[0] == "ctlmirror_pin_info" and ("by", url) in k[1] for k in ms),
              f"parent pins: no ctlmirror_pin_info with by={url}")
        st = follow.cli.run("status", "--at", iso(follow.d.clock()))
        check(f"pinned      by {url}" in st.stdout, f"parent pins: status text: {st.stdout}")
        pinned = events_of(follow, mark, "pinned")
        check(len(pinned) == 1 and url in pinned[0].get("text", ""), f"parent pins: pinned events {pinned}")
        # the same again: nothing changes
        mark = len(follow.events())
        rc, doc = follow.sync()
        a = doc.get("authroot") or {}
        check(rc == 0 and a.get("result") == "unchanged" and a.get("ok"), f"parent pins, second round: {a}")
        check(events_of(follow, mark) == [], f"parent pins, second round wrote events: {events_of(follow, mark)}")
        serves(follow, F, older, "parent pins, second round")
        agree(follow, "parent pins, second round")
        # the child that does not follow: warn, still the newest
        rc, doc = plain.sync()
        serves(plain, F, newest, "parent pins, not following")
        sj = agree(plain, "parent pins, not following")["authroot"]
        check(sj["health"] == "warn" and not sj["pinned"] and any(OLDER in x for x in sj["health_reasons"]),
              f"parent pins, not following: {sj['health']} {sj['health_reasons']}")
        st = plain.cli.run("status", "--at", iso(plain.d.clock()))
        check(st.returncode == 1 and OLDER in st.stdout, f"parent pins, not following: status {st.returncode}: {st.stdout}")
        # the polling child follows by itself
        check(wait_for(lambda: poller.d.get(CAB["authroot"]).body == F.data(older), 20),
              "parent pins: the polling child does not serve the pinned version within 20s")
        sj = agree(poller, "parent pins, polling child")["authroot"]
        check((sj.get("pin") or {}).get("by") == url, f"parent pins, polling child: {sj}")

    def parent_unpins():
        r = parent.cli.run("unpin", "--kind", "authroot")
        if r.returncode != 0:
            raise Broken(f"parent: unpin: {r.stdout} {r.stderr}")
        mark = len(follow.events())
        rc, doc = follow.sync()
        serves(follow, F, newest, "parent unpins, one round")
        sj = agree(follow, "parent unpins")["authroot"]
        check(not sj["pinned"] and sj["health"] == "ok", f"parent unpins: the child: {sj}")
        check(len(events_of(follow, mark, "unpinned")) == 1, f"parent unpins: events {events_of(follow, mark)}")
        rc, doc = plain.sync()
        serves(plain, F, newest, "parent unpins, not following")
        sj = agree(plain, "parent unpins, not following")["authroot"]
        check(sj["health"] == "ok", f"parent unpins, not following: {sj['health']} {sj['health_reasons']}")
        check(wait_for(lambda: poller.d.get(CAB["authroot"]).body == F.data(newest), 20),
              "parent unpins: the polling child does not serve the newest within 20s")
        check(wait_for(lambda: not poller.status_json()["authroot"]["pinned"], 10), "parent unpins: the polling child is still pinned")
        agree(poller, "parent unpins, polling child")

    def admin_pin_stays():
        r = follow.cli.run("pin", "--force", "--reason", "local decision", F.seq(older))
        if r.returncode != 0:
            raise Broken(f"follow: pin: {r.stdout} {r.stderr}")
        # the parent does not pin: the administrator's pin is not removed
        rc, doc = follow.sync()
        sj = agree(follow, "admin pin, parent unpinned")["authroot"]
        check(sj["pinned"] and (sj.get("pin") or {}).get("by") is None, f"admin pin, parent unpinned: {sj}")
        # the parent pins its newest: not followed, said once
        r = parent.cli.run("pin", "--force", F.seq(newest))
        if r.returncode != 0:
            raise Broken(f"parent: pin newest: {r.stdout} {r.stderr}")
        mark = len(follow.events())
        for i in range(2):
            rc, doc = follow.sync()
            a = doc.get("authroot") or {}
            check("not followed" in a.get("text", ""), f"admin pin, round {i}: {a}")
            serves(follow, F, older, f"admin pin, parent pins, round {i}")
            sj = agree(follow, f"admin pin, parent pins, round {i}")["authroot"]
            check((sj.get("pin") or {}).get("by") is None and (sj.get("pin") or {}).get("reason") == "local decision",
                  f"admin pin replaced: {sj}")
        # each `sync` is a run of its own: one event per run
        said = [e for e in events_of(follow, mark, "sync") if "not followed" in e.get("text", "")]
        check(len(said) == 2, f"admin pin: {len(said)} 'not followed' events over two CLI runs, want 2: {events_of(follow, mark)}")
        # the polling daemon: said once however many rounds pass
        mark = len(poller.events())
        r = poller.cli.run("pin", "--force", "--reason", "local decision", F.seq(older))
        if r.returncode != 0:
            raise Broken(f"poller: pin: {r.stdout} {r.stderr}")
        seen = set()

        def rounds():
            seen.add(poller.status_json()["authroot"].get("last_sync"))
            return len(seen) >= 4
        check(wait_for(rounds, 30), f"admin pin: the polling child ran {len(seen)} rounds in 30s")
        sj = agree(poller, "admin pin, polling child")["authroot"]
        check((sj.get("pin") or {}).get("by") is None, f"admin pin replaced on the polling child: {sj}")
        said = [e for e in events_of(poller, mark, "sync") if "not followed" in e.get("text", "")]
        check(len(said) == 1, f"admin pin: {len(said)} 'not followed' events from the polling child over "
              f"{len(seen)} rounds, want 1")
        poller.cli.run("unpin", "--kind", "authroot")
        follow.cli.run("unpin", "--kind", "authroot")
        parent.cli.run("unpin", "--kind", "authroot")
        follow.sync()
        serves(follow, F, newest, "admin pin removed")

    def bad_status():
        up = Upstream()
        try:
            for k in KINDS:
                up.files["/" + CAB[k]] = F.data({"authroot": newest, "disallowed": "disallowed-ok",
                                                 "pinrules": "pinrules-ok"}[k])
            for what, doc in (("garbage", b"{\"authroot\": [}"), ("not a status", b"{\"authroot\": {\"pinned\": 1}}"),
                              ("404", None)):
                if doc is None:
                    up.files.pop("/_ctlmirror/status.json", None)
                else:
                    up.files["/_ctlmirror/status.json"] = doc
                with open(follow.cfg) as f:
                    text = f.read()
                write_config(follow.cfg, follow.store, F.anchors, F.pins, workers=1, upstream=up.url,
                             follow_upstream_pin="yes")
                mark = len(follow.events())
                rc, out = follow.sync()
                a = out.get("authroot") or {}
                check("upstream pins not read" in a.get("text", "") and a.get("ok"), f"bad status ({what}): {a}")
                serves(follow, F, newest, f"bad status ({what})")
                agree(follow, f"bad status ({what})")
                ev = [e for e in events_of(follow, mark, "sync") if "pins not read" in e.get("text", "")]
                check(len(ev) == 1, f"bad status ({what}): {len(ev)} events, want 1 (a CLI round is a new start)")
                with open(follow.cfg, "w") as f:
                    f.write(text)
        finally:
            up.stop()

    run.section("first round", first_round)
    run.section("parent pins", parent_pins)
    run.section("parent unpins", parent_unpins)
    run.section("administrator's pin stays", admin_pin_stays)
    run.section("followed status unreadable", bad_status)

    def stop():
        for n in (parent,) + children:
            n.d.stop_checked()
    run.section("SIGTERM", stop)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-2])
        return 2
    binary, fx = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx}")
        return 1
    F = Fixtures(fx)
    tmp = tempfile.mkdtemp(prefix="ctlmirror-hierarchy-")
    run = Run()
    t0 = time.time()
    try:
        body(binary, F, tmp, run)
    except Broken as e:
        failures.append(f"setup: {e}")
    finally:
        Daemon.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"hierarchy: {run.sections} sections, {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
