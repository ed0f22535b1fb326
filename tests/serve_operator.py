#!/usr/bin/env python3
"""The operator endpoints restricted, and their cache (ops.h), on the forged scenario.

  - operator_allow = 127.0.0.1 (an address): 127.0.0.1 reads all four endpoints; a client
    bound to 127.0.0.2 gets 403 with a short body from each, but still its files; each
    refusal is in the access log and in the metrics (route, code 403).
  - operator_allow = 10.0.0.0/8 and 127.0.0.2/31 (prefixes), installed by SIGHUP: now
    127.0.0.2 reads them and 127.0.0.1 is refused. No operator_allow line: everyone again.
  - the cache follows the store: a newer authroot imported, a newer copy that fails
    verification, a pin and an unpin each show in status.json, the metrics, healthz
    and the status page within a second of the command's exit.
  - and the clock: the page's "As of" moves on from one second to the next.

usage: serve_operator.py CTLMIRROR FIXTURES_DIR [CORPUS_DIR]
"""
import json
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Forged, expect_results, main, metric, parse_metrics  # noqa: E402
from testlib import Broken, Daemon, Stream, check, get_req, wait_for, write_config  # noqa: E402

OPS = ("/_ctlmirror/healthz", "/_ctlmirror/status.json", "/_ctlmirror/metrics", "/_ctlmirror/status")
ROUTE = {"/_ctlmirror/healthz": "healthz", "/_ctlmirror/status.json": "status_json",
         "/_ctlmirror/metrics": "metrics", "/_ctlmirror/status": "status"}


class Operator(Forged):
    def __init__(self, binary, fx, tmp):
        super().__init__(binary, fx, tmp)
        self.allow(["127.0.0.1"])

    def allow(self, lines):
        """Rewrites the config with these operator_allow lines (none: the default)."""
        keys = dict(self.keys)
        if lines:
            keys["operator_allow"] = lines
        write_config(self.cfg, self.store, self.F.anchors, self.F.pins, **keys)

    def setup(self, counted=True):
        """The three forged kinds and the daemon: no certificates or export needed here."""
        F = self.F
        r, o = self.cli.imp(*[F[n]["path"] for n in ("authroot-ok", "disallowed-ok", "pinrules-ok")])
        expect_results(o, r, ["admitted"] * 3, "forged store", counted=False)
        self.d = Daemon(self.binary, self.cfg, self.dir, "operator").start()

    def from_addr(self, source, path):
        """(code, headers, body) of one request from a client bound to source."""
        with Stream(self.d.port, source=source) as st:
            st.send(get_req(path))
            return st.response()

    def codes(self, source, paths=OPS):
        return [self.from_addr(source, p)[0] for p in paths]

    # -- operator_allow = an address ----------------------------------------------
    def address(self):
        m0 = parse_metrics(self.from_addr("127.0.0.1", "/_ctlmirror/metrics")[2].decode())
        for p in OPS:
            code, _, body = self.from_addr("127.0.0.1", p)
            check(code == 200 and body, f"operator_allow 127.0.0.1: {p} from 127.0.0.1 got {code}, want 200")
        for p in OPS:
            code, h, body = self.from_addr("127.0.0.2", p)
            check(code == 403 and b"operator_allow" in body and len(body) < 200,
                  f"operator_allow 127.0.0.1: {p} from 127.0.0.2 got {code} {body[:200]!r}, want a short 403")
            check(b"ctlmirror_" not in body and b"authroot" not in body,
                  f"the 403 for {p} gives nothing away: {body[:200]!r}")
        code, _, body = self.from_addr("127.0.0.2", "/authrootstl.cab")
        check(code == 200 and body == self.F["authroot-ok"]["bytes"],
              f"operator_allow restricts the operator endpoints only: the cab from 127.0.0.2 got {code}")
        m1 = parse_metrics(self.from_addr("127.0.0.1", "/_ctlmirror/metrics")[2].decode())
        for p in OPS:
            d = metric(m1, "ctlmirror_requests_total", route=ROUTE[p], code="403") - \
                metric(m0, "ctlmirror_requests_total", route=ROUTE[p], code="403")
            check(d == 1, f"metrics: {ROUTE[p]} 403s grew by {d}, want 1")
        # the access log says who was refused what (flushed within a second)
        want = {(ROUTE[p], "403") for p in OPS}

        def refused():
            seen = set()
            with open(self.access) as f:
                for line in f:
                    w = line.split()
                    if len(w) >= 6 and w[1] == "127.0.0.2" and w[3] in ROUTE.values():
                        seen.add((w[3], w[5]))
            return seen
        got = wait_for(refused, 10, step=0.2, until=lambda s: want <= s)
        check(want <= got, f"access log: the refusals of 127.0.0.2 are not all there: {sorted(got)}")

    # -- prefixes, by SIGHUP; then everyone ---------------------------------------
    def reconfigure(self, lines, want2, want1, what):
        self.allow(lines)
        self.d.signal(signal.SIGHUP)
        # both workers take the config in their own threads: ask until every answer is the new one
        want = ([want2] * 8, [want1] * 8)
        got = wait_for(lambda: (self.codes("127.0.0.2", OPS * 2), self.codes("127.0.0.1", OPS * 2)), 15,
                       step=0.2, until=lambda g: g == want)
        check(got[0] == want[0], f"{what}: 127.0.0.2 got {got[0]}, want {want[0]}")
        check(got[1] == want[1], f"{what}: 127.0.0.1 got {got[1]}, want {want[1]}")

    def prefixes(self):
        self.reconfigure(["10.0.0.0/8", "127.0.0.2/31"], 200, 403, "operator_allow 10.0.0.0/8, 127.0.0.2/31")
        self.reconfigure(["127.0.0.1/32"], 403, 200, "operator_allow 127.0.0.1/32")
        self.reconfigure([], 200, 200, "no operator_allow")

    # -- the cache follows the store ----------------------------------------------
    def status(self):
        code, _, body = self.from_addr("127.0.0.1", "/_ctlmirror/status.json")
        if code != 200:
            raise Broken(f"status.json: {code}")
        return json.loads(body)

    def metrics(self):
        return parse_metrics(self.from_addr("127.0.0.1", "/_ctlmirror/metrics")[2].decode())

    def page(self):
        return self.from_addr("127.0.0.1", "/_ctlmirror/status")[2].decode("utf-8", "replace")

    def shows(self, what, pred):
        """pred() true within a second of now (it is asked right away, then again)."""
        t0 = time.monotonic()
        ok = wait_for(pred, 1.0, step=0.05)
        check(ok, f"{what}: not shown within a second ({time.monotonic() - t0:.2f}s)")

    def cache(self):
        F = self.F
        # warm every endpoint's cache on both workers first
        for _ in range(4):
            self.codes("127.0.0.1")
        new = F["authroot-sha1"]
        r, o = self.cli.imp(new["path"])
        expect_results(o, r, ["admitted"], "import of a newer authroot")
        self.shows("status.json after an import", lambda: self.status()["authroot"]["served"]["sequence"] == new["sequence"])
        self.shows("metrics after an import", lambda: metric(self.metrics(), "ctlmirror_served_info", kind="authroot",
                                                             sequence=new["sequence"], pinned="false") == 1)
        self.shows("the page after an import", lambda: new["sequence"] in self.page())
        # a newer copy that fails: not served, so the served set is the same; the list is not
        bad = F["wrong-key"]
        q0 = metric(self.metrics(), "ctlmirror_store_versions", kind="authroot", status="quarantined")
        r, o = self.cli.imp(bad["path"])
        expect_results(o, r, ["quarantined"], "import of a newer copy that fails")
        self.shows("metrics count the quarantined copy", lambda: metric(
            self.metrics(), "ctlmirror_store_versions", kind="authroot", status="quarantined") == q0 + 1)
        self.shows("status.json names the quarantined copy", lambda: (self.status()["authroot"].get("newest_quarantined") or {})
                   .get("sequence") == bad["sequence"] and self.status()["authroot"]["health"] == "warn")
        self.shows("healthz warns", lambda: self.from_addr("127.0.0.1", "/_ctlmirror/healthz")[2] == b"warn\n")
        self.shows("the page's history lists it", lambda: bad["sha256"][:12] in self.page())
        # a pin, then unpin
        old = F["authroot-ok"]
        r = self.cli.run("pin", "--force", "--reason", "operator cache", old["sequence"])
        check(r.returncode == 0, f"pin: exit {r.returncode}: {r.stderr.strip()}")
        self.shows("status.json after pin", lambda: self.status()["authroot"]["pinned"] is True and
                   self.status()["authroot"]["served"]["sequence"] == old["sequence"])
        self.shows("metrics after pin", lambda: metric(self.metrics(), "ctlmirror_served_info", kind="authroot",
                                                       sequence=old["sequence"], pinned="true") == 1)
        self.shows("the page after pin", lambda: "operator cache" in self.page())
        r = self.cli.run("unpin")
        check(r.returncode == 0, f"unpin: exit {r.returncode}: {r.stderr.strip()}")
        self.shows("status.json after unpin", lambda: self.status()["authroot"]["pinned"] is False and
                   self.status()["authroot"]["served"]["sequence"] == new["sequence"])
        self.shows("metrics after unpin", lambda: metric(self.metrics(), "ctlmirror_served_info", kind="authroot",
                                                         sequence=new["sequence"], pinned="false") == 1)

    # -- the clock -----------------------------------------------------------------
    def clock(self):
        def as_of():
            m = re.search(r"As of ([0-9T:Z-]+)\.", self.page())
            return m.group(1) if m else None
        first = as_of()
        check(first is not None, "the page has no 'As of' time")
        later = wait_for(as_of, 5, step=0.2, until=lambda v: v is not None and v != first)
        check(later is not None and later != first, f"the page's 'As of' stayed {first} for 5 seconds")


def body(binary, fx, corpus, tmp, run):
    op = Operator(binary, fx, tmp)
    op.run(run, [("operator_allow address", op.address), ("operator_allow prefixes", op.prefixes),
                 ("cache follows the store", op.cache), ("cache follows the clock", op.clock)],
           counted=False)


if __name__ == "__main__":
    sys.exit(main("serve_operator", __doc__, body))
