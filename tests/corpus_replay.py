#!/usr/bin/env python3
"""Microsoft's real authroot history (shared/corpus, 112 cabs 2006-2024) replayed through a
scripted upstream on loopback, one `ctlmirror sync` round at a time, with clients served by a
running `ctlmirror serve` on the same store the whole time.

What it proves:
  - every corpus version reaches the store through sync: each handed out by the fake
    upstream (authrootstl.cab, plus authrootseq.txt) and fetched by `ctlmirror sync --json
    --now T`, T a time at which the copy verifies (the middle of its chain window from its
    thisUpdate on; for the copies without a chain, their thisUpdate);
  - interleaved stale edges: older copies already seen handed out again (no change), older
    copies never seen before ("held out", introduced late: a rollback, never served, also
    while an older version is pinned and the stale copy is newer than the pin; or quarantined
    EXPIRED when first seen after its signer expired, and still quarantined when the same
    bytes come back at a time they would verify; time-stamped 2007-2010 copies verify at any
    time), the same copy re-served (304, and 200 under a new ETag: a duplicate), the
    re-published sequences (016/017, 022/023: first copy NO_CHAIN; 018/019 handed out in the
    reverse order: the later chain window is served either way), a copy first seen before its
    signer's notBefore (035 at its thisUpdate: quarantined NOT_YET_VALID, health warns of a
    newer copy that failed), and a sequence file that disagrees with the cab (newer, older,
    absent, not hex; lower-case with a line end agrees);
  - after EVERY round an independent model of the admission rules (admitted = verified at first
    sight; quarantined kept with its reason; served = pin, else the highest admitted sequence
    compared as a number, ties to the chain window ending last; a verifying copy older than
    the newest admitted is a rollback even under a pin; the same bytes again change nothing;
    health warns while the last copy the upstream gave verified but is older than the newest:
    "upstream serves an older version than this mirror"),
    fed only with MANIFEST.tsv and what the upstream handed out at which time, agrees with:
    the sync result, `versions --json` (every copy: status, reason, first seen, source),
    `status --json --at T` (served copy, pin, newest quarantined copy newer than the served
    one, health, exit code), and the audit log (exactly the expected new events: admitted,
    quarantined, rollback, inconsistent; nothing for duplicates);
  - after an admitted round, sync asked the upstream for exactly the root certificates the
    served CTL lists (the store has none yet; all 404 during the replay), and after any other
    round for none (a command's round; the daemon's ask every round);
  - the daemon, started once on the empty store (503 then), serves after every round the
    served copy's exact bytes and its sequence as authrootseq.txt (never the upstream's
    sequence file), by the flat, DNS-pointed and forward-proxy routes in turn with a random
    query string, and its status.json agrees;
  - at the end, root certificates reach clients through the mirror: a listed root fetched on
    demand from the upstream, byte-equal to corpus crt/ (then served from the store without a
    second fetch, also under a lower-case name); a root not listed gets 404 and the upstream is
    never asked; a listed root the upstream lacks or answers with other bytes gets 404 and is
    not stored; `sync --certs` fetches exactly the listed roots the store lacks; a pin on the
    2006 CTL stops serving a stored root it does not list, unpin serves it again;
  - the daemon exits 0 on SIGTERM, and no process reports a sanitizer error.
Skips (exit 77) with a clear message when the corpus is absent.

usage: corpus_replay.py CTLMIRROR CORPUS_DIR
"""
import csv
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_upstream import Bytes, FakeUpstream, Status  # noqa: E402
from testlib import (Broken, Daemon, check, checks, curl, failures, iso, report, sanitizer_report, t,
                     write_config)  # noqa: E402

SKIP = 77
SEED = 20091029
WARN_DAYS = 14


# ---------------------------------------------------------------- the corpus

def load(corpus):
    with open(os.path.join(corpus, "authroot", "MANIFEST.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        r["n"] = r["file"][:3]
        r["path"] = os.path.join(corpus, "authroot", r["file"])
        with open(r["path"], "rb") as f:
            r["data"] = f.read()
        r["sha256"] = hashlib.sha256(r["data"]).hexdigest()
        r["seq"] = int(r["sequence"], 16)
        r["chain"] = bool(r["chain_valid_from"])
        if r["chain"]:
            r["lo"], r["hi"] = t(r["chain_valid_from"]), t(r["chain_valid_to"])
            # a time at which it verifies: the middle of its window after publication
            start = max(r["lo"], t(r["this_update"]))
            check(start < r["hi"], f"manifest: {r['file']} published after its chain expired")
            r["own"] = (start + (r["hi"] - start) / 2).replace(microsecond=0)
        else:
            r["lo"] = r["hi"] = None
            r["own"] = t(r["this_update"])
        # The 2007-2010 copies (002-020) carry a timestamp countersignature that verifies
        # to a pinned anchor: its time replaces T (001's does not verify: its TSA does not
        # chain). A time-stamped copy with a chain verifies whenever it is checked.
        r["tsa"] = r["chain"] and bool(r["countersignature_time"]) and 2 <= int(r["n"]) <= 20
        if r["tsa"]:
            ts = t(r["countersignature_time"])
            check(r["lo"] <= ts <= r["hi"], f"manifest: {r['file']} timestamp outside its chain window")
    return rows


def verdict(row, when):
    """What verifying `row` at `when` gives, from the manifest alone: OK or a reason code."""
    if not row["chain"]:
        return "NO_CHAIN"
    if row["tsa"]:
        return "OK"
    if when < row["lo"]:
        return "NOT_YET_VALID"
    if when > row["hi"]:
        return "EXPIRED"
    return "OK"


# ---------------------------------------------------------------- the model

class Model:
    """The admission and serving rules (docs/operations.md), over what the upstream handed out."""

    def __init__(self, source):
        self.copies = {}        # sha256 -> copy
        self.pin = None         # sha256 of the pinned copy
        self.last_etag = None   # the ETag of the last 200 for authrootstl.cab (conditional GET)
        self.last_copy = None   # and the copy it brought
        self.order = 0
        self.inconsistent = 0
        self.source = source
        self.older = False      # the last round's copy verified but is older than the newest

    def admitted(self):
        return [c for c in self.copies.values() if c["state"] == "admitted"]

    def newest_admitted(self):
        a = self.admitted()
        return max(a, key=lambda c: c["row"]["seq"]) if a else None

    def served(self):
        if self.pin is not None:
            return self.copies[self.pin]
        a = self.admitted()
        if not a:
            return None
        return max(a, key=lambda c: (c["row"]["seq"], c["row"]["hi"], -c["seen"].timestamp(), -c["order"]))

    def status_of(self, c):
        s = self.served()
        if s is c:
            return "pinned" if self.pin is not None else "served"
        return {"admitted": "admitted", "rollback": "rollback", "quarantined": "quarantined"}[c["state"]]

    def fetch(self, row, etag, when, seqfile):
        """One round: returns (sync result, sequence, expected new events)."""
        events = []
        if etag == self.last_etag:
            last = self.last_copy
            newest = self.newest_admitted()
            if last["state"] != "admitted" or last["row"]["seq"] < newest["row"]["seq"]:
                # whether validators of a copy that is not the newest are kept is sync's
                # business (a 304 or a duplicate 200, no change either way): not scheduled
                raise Broken(f"schedule: {row['file']} again right after it was seen as {last['state']}")
            self.older = False
            return "unchanged", None, events          # 304: the cab is not even looked at
        self.last_etag = etag
        if row["sha256"] in self.copies:
            result = "unchanged"                    # the same bytes again: nothing changes
        else:
            v = verdict(row, when)
            newest = self.newest_admitted()
            if v != "OK":
                state = result = "quarantined"
            elif newest is not None and newest["row"]["seq"] > row["seq"]:
                state = result = "rollback"         # whatever is pinned
            else:
                state = result = "admitted"
            self.order += 1
            self.copies[row["sha256"]] = {"row": row, "state": state, "reason": v, "seen": when,
                                          "order": self.order}
            events.append((state, row["sequence"], iso(when)))
        self.last_copy = self.copies[row["sha256"]]
        # a stale edge: the upstream serves a verified copy older than this mirror's newest
        newest = self.newest_admitted()
        self.older = (self.last_copy["state"] in ("admitted", "rollback") and newest is not None
                      and self.last_copy["row"]["seq"] < newest["row"]["seq"])
        norm = seqfile_value(seqfile)
        if norm is not None and int(norm, 16) != row["seq"]:
            events.append(("inconsistent", row["sequence"], iso(when)))
            self.inconsistent += 1
        return result, row["sequence"], events

    def newest_quarantined(self):
        s = self.served()
        q = [c for c in self.copies.values() if c["state"] == "quarantined"
             and (s is None or c["row"]["seq"] > s["row"]["seq"])]
        return max(q, key=lambda c: (c["row"]["seq"], c["seen"].timestamp(), c["order"])) if q else None

    def health(self, when):
        s = self.served()
        level = "ok"
        if s is None:
            level = "critical"
        elif not s["row"]["tsa"]:
            if s["row"]["hi"] < when:
                level = "critical"
            elif (s["row"]["hi"] - when).total_seconds() < WARN_DAYS * 86400:
                level = "warn"
        if self.newest_quarantined() is not None and level == "ok":
            level = "warn"
        # "upstream serves an older version than this mirror"
        if self.older and level == "ok":
            level = "warn"
        # a pin that holds back newer verified versions (rollbacks among them) warns
        if self.pin is not None and level == "ok" and any(
                c["state"] in ("admitted", "rollback") and c["row"]["seq"] > s["row"]["seq"]
                for c in self.copies.values()):
            level = "warn"
        return level


def seqfile_value(body):
    """What a sequence file says, as its parsers read it (docs/operations.md) (None: nothing usable)."""
    if body is None:
        return None
    s = re.sub(rb"\s", b"", body).decode("latin-1").upper()
    if not s or not re.fullmatch(r"[0-9A-F]+", s):
        return None
    return s


# ---------------------------------------------------------------- processes

class Mirror:
    """The admin CLI on the replay's config (and so its store)."""

    def __init__(self, binary, conf):
        self.binary, self.conf = binary, conf

    def run(self, cmd, *args, timeout=300):
        r = subprocess.run([self.binary, cmd, "-c", self.conf, *args],
                           capture_output=True, text=True, timeout=timeout)
        check(not sanitizer_report(r.stderr), f"{cmd} {' '.join(args)}: sanitizer report: {r.stderr[-1500:]}")
        return r

    def js(self, r, what, ok=(0,)):
        if r.returncode not in ok:
            raise Broken(f"{what}: exit {r.returncode}: {(r.stdout + r.stderr).strip()[:400]}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Broken(f"{what}: not JSON: {r.stdout[:300]!r}")


def http_get(url, host=None, proxy=None, timeout=20):
    """GET with curl (testlib.curl): (status, body bytes); Broken when curl itself fails."""
    args = (["-H", f"Host: {host}"] if host else []) + (["-x", proxy] if proxy else [])
    r = curl(*args, url, timeout=timeout)
    if r.rc != 0:
        raise Broken(f"curl {url}: exit {r.rc}: {r.err.strip()}")
    return r.code, r.body


# ---------------------------------------------------------------- the schedule

HELD = {
    # file -> (rounds of the main history after which it is handed out, at what time)
    "009": (9, "now"),    # time-stamped: verifies years later, a rollback
    "027": (5, "own"),    # a plain stale edge
    "041": (7, "now"),    # first seen after its signer expired: quarantined EXPIRED
    "047": (3, "own"),
    "058": (2, "own"),    # handed out while 056 is pinned: newer than the pin, still a rollback
    "066": (6, "now"),
    "088": (10, "own"),
    "101": (4, "now"),
}
PIN_AFTER, PIN_ROW, UNPIN_AFTER = "057", "056", "062"
SEQ_VARIANTS = ["newer", "older", "missing", "garbage", "lower"]


def schedule(rows, rng):
    """The rounds, in order: the history with stale edges, repeats and a pin interleaved."""
    by = {r["n"]: r for r in rows}
    main = [r for r in rows if r["n"] not in HELD and r["n"] != "018"]
    # a held-out copy comes `after` main rounds after the first newer one
    due = {}
    for n, (after, mode) in HELD.items():
        first_newer = next(j for j, r in enumerate(main) if r["seq"] > by[n]["seq"])
        due.setdefault(first_newer + after, []).append((by[n], mode))
    steps, seen, again = [], [], []
    variant = [0]

    def seqfile(row, i):
        # one round in five: the sequence file disagrees (or agrees in an odd spelling)
        if i % 5 != 3:
            return row["sequence"].encode()
        v = SEQ_VARIANTS[variant[0] % len(SEQ_VARIANTS)]
        variant[0] += 1
        if v == "newer":
            nxt = [r for r in rows if r["seq"] > row["seq"]]
            return (nxt[0] if nxt else rows[0])["sequence"].encode()
        if v == "older":
            return rows[0]["sequence"].encode()
        if v == "missing":
            return None
        if v == "garbage":
            return b"<html>not a sequence</html>\n"
        return row["sequence"].lower().encode() + b"\r\n"

    def fetch(row, when, note, etag="content", seq=None, i=0):
        steps.append({"op": "fetch", "row": row, "at": when, "note": note, "etag": etag,
                      "seq": seqfile(row, i) if seq is None else seq})
        if row["n"] not in seen:
            seen.append(row["n"])

    for i, row in enumerate(main):
        now = row["own"]
        if row["n"] == "035":
            # re-signed after production: first seen at its thisUpdate, before its signer's notBefore
            fetch(row, t(row["this_update"]), "new, before its signer's notBefore", i=i)
        else:
            fetch(row, now, "new", i=i)
        if i % 7 == 2 and row["chain"] and row["n"] != "035":   # (a quarantined copy: not scheduled)
            fetch(row, now, "re-served unchanged (304)", etag="same", i=i + 1)
        if row["n"] == "019":
            fetch(by["018"], by["018"]["own"], "held out: the same sequence as 019, an earlier window", i=i)
        if row["n"] == PIN_AFTER:
            steps.append({"op": "pin", "row": by[PIN_ROW]})
        if row["n"] == UNPIN_AFTER:
            steps.append({"op": "unpin"})
        for h, mode in due.get(i, []):
            fetch(h, now if mode == "now" else h["own"], f"held out, handed out late at {mode} time", i=i + 1)
            if mode == "now" and verdict(h, now) != "OK":
                again.append(h)
        if i % 4 == 1 and len(seen) > 2:
            old = by[rng.choice([n for n in seen if n not in (row["n"], steps[-1]["row"]["n"])])]
            mode = rng.choice(["own", "now"])
            fetch(old, old["own"] if mode == "own" else now, f"stale edge: {old['n']} again at {mode} time",
                  seq=rng.choice([old["sequence"].encode(), row["sequence"].encode()]))
            # the current copy comes back after the stale edge: known bytes, a 200
            fetch(row, now, "current again after the stale edge", i=i + 2)
        if i % 11 == 5:
            fetch(row, now, "re-served under a new ETag (duplicate)", etag="fresh", i=i)
        if again and i % 3 == 0 and again[0]["n"] not in [h["n"] for h, _ in due.get(i, [])]:
            h = again.pop(0)
            fetch(h, h["own"], "quarantined copy again, at a time it would verify", i=i + 1)
    for h in again:
        fetch(h, h["own"], "quarantined copy again, at a time it would verify")
    fetch(main[-1], main[-1]["own"], "the newest again at the end", etag="fresh")
    return steps


# ---------------------------------------------------------------- the replay

def compare(m, model, when, label, daemon, rnd):
    when_s = iso(when)
    served = model.served()

    # versions --json: every copy, its status and reason
    vs = m.js(m.run("versions", "--json"), f"{label}: versions")
    got = {v.get("sha256"): v for v in vs}
    check(len(vs) == len(model.copies), f"{label}: versions lists {len(vs)} copies, the model {len(model.copies)}")
    # oldest first: sequence as a number, then first seen, then arrival
    order = [c["row"]["sha256"] for c in sorted(model.copies.values(),
                                               key=lambda c: (c["row"]["seq"], c["seen"], c["order"]))]
    check([v.get("sha256") for v in vs] == order, f"{label}: versions are not listed oldest first")
    for sha, c in model.copies.items():
        v = got.get(sha)
        if not check(v is not None, f"{label}: versions lacks {c['row']['file']}"):
            continue
        want = model.status_of(c)
        check(v.get("status") == want, f"{label}: {c['row']['file']} status {v.get('status')}, want {want}")
        check(v.get("reason") == c["reason"], f"{label}: {c['row']['file']} reason {v.get('reason')}, want {c['reason']}")
        check(v.get("first_seen") == iso(c["seen"]), f"{label}: {c['row']['file']} first_seen {v.get('first_seen')}, want {iso(c['seen'])}")
        check(v.get("sequence") == c["row"]["sequence"], f"{label}: {c['row']['file']} sequence {v.get('sequence')}")
        check(v.get("source") == model.source, f"{label}: {c['row']['file']} source {v.get('source')}")

    # status --json --at T
    r = m.run("status", "--json", "--at", when_s)
    st = m.js(r, f"{label}: status", ok=(0, 1)).get("authroot") or {}
    sv = st.get("served")
    if served is None:
        check(sv is None, f"{label}: status serves {sv} with nothing admitted")
    elif check(sv is not None, f"{label}: status serves nothing, want {served['row']['file']}"):
        check(sv.get("sha256") == served["row"]["sha256"],
              f"{label}: status serves {sv.get('sequence')} {sv.get('sha256', '')[:12]}, want {served['row']['file']}")
        check(sv.get("timestamp_verified") == served["row"]["tsa"], f"{label}: timestamp_verified {sv.get('timestamp_verified')}")
        if served["row"]["chain"]:
            check(sv.get("signer_not_after") == iso(served["row"]["hi"]), f"{label}: signer_not_after {sv.get('signer_not_after')}")
    check(st.get("pinned") == (model.pin is not None), f"{label}: status pinned {st.get('pinned')}")
    check(st.get("versions") == len(model.copies), f"{label}: status versions {st.get('versions')}, want {len(model.copies)}")
    nq = model.newest_quarantined()
    gq = st.get("newest_quarantined")
    if nq is None:
        check(gq is None, f"{label}: newest_quarantined {gq}, want none")
    elif check(gq is not None, f"{label}: newest_quarantined missing, want {nq['row']['file']}"):
        check(gq.get("sha256") == nq["row"]["sha256"] and gq.get("reason") == nq["reason"],
              f"{label}: newest_quarantined {gq}, want {nq['row']['file']} {nq['reason']}")
    health = model.health(when)
    check(st.get("health") == health, f"{label}: health {st.get('health')} {st.get('health_reasons')}, want {health}")
    # exit 0 only when the mirror is healthy: every kind with a stored version is ok (disallowed
    # and pinrules have none) and something is served (an empty store is critical)
    want_rc = 0 if health == "ok" else 1
    check(r.returncode == want_rc, f"{label}: status exit {r.returncode} with health {health}, want {want_rc}")

    # the daemon, on the same store: the served bytes and their sequence
    q = "?%016x" % rnd.getrandbits(64)
    way = rnd.choice(["flat", "dns", "proxy"])
    if way == "flat":
        cab = http_get(f"{daemon.base}/authrootstl.cab{q}")
        seq = http_get(f"{daemon.base}/authrootseq.txt{q}")
    elif way == "dns":
        p = "/msdownload/update/v3/static/trustedr/en/"
        cab = http_get(f"{daemon.base}{p}authrootstl.cab{q}", host="ctldl.windowsupdate.com")
        seq = http_get(f"{daemon.base}{p}authrootseq.txt{q}", host="ctldl.windowsupdate.com")
    else:
        p = "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/"
        cab = http_get(f"{p}authrootstl.cab{q}", proxy=daemon.base)
        seq = http_get(f"{p}authrootseq.txt{q}", proxy=daemon.base)
    if served is None:
        check(cab[0] == 503 and seq[0] == 503, f"{label}: daemon ({way}) answers {cab[0]}/{seq[0]} with nothing servable, want 503")
    else:
        check(cab[0] == 200 and hashlib.sha256(cab[1]).hexdigest() == served["row"]["sha256"],
              f"{label}: daemon ({way}) cab: {cab[0]}, {len(cab[1])} bytes sha256 {hashlib.sha256(cab[1]).hexdigest()[:12]}, "
              f"want {served['row']['file']}")
        check(seq == (200, served["row"]["sequence"].encode()),
              f"{label}: daemon ({way}) authrootseq.txt {seq}, want {served['row']['sequence']}")
    code, body = http_get(f"{daemon.base}/_ctlmirror/status.json")
    try:
        dj = json.loads(body).get("authroot") or {}
    except ValueError:
        dj = {}
    check(code == 200 and ((dj.get("served") or {}).get("sha256") == (served["row"]["sha256"] if served else None))
          and dj.get("pinned") == (model.pin is not None),
          f"{label}: daemon status.json {code}: served {(dj.get('served') or {}).get('sequence')} pinned {dj.get('pinned')}")


def replay(rows, up, m, daemon, model):
    rng = random.Random(SEED)
    steps = schedule(rows, rng)
    tally = {}
    n_events = len(m.js(m.run("events", "--json"), "events"))
    pinned_rollbacks = 0
    t0 = time.time()
    for k, st in enumerate(steps):
        if st["op"] == "pin":
            r = m.run("pin", "--force", st["row"]["sequence"])
            check(r.returncode == 0, f"pin {st['row']['file']}: exit {r.returncode} {r.stderr.strip()}")
            model.pin = st["row"]["sha256"]
            expect = [("pinned", st["row"]["sequence"], None)]
            label = f"round {k} pin {st['row']['n']}"
            when = model.last_when
        elif st["op"] == "unpin":
            r = m.run("unpin")
            check(r.returncode == 0, f"unpin: exit {r.returncode} {r.stderr.strip()}")
            expect = [("unpinned", None, None)]
            model.pin = None
            label = f"round {k} unpin"
            when = model.last_when
        else:
            row, when = st["row"], st["at"]
            model.last_when = when
            label = f"round {k} {row['n']} ({st['note']})"
            if st["etag"] == "fresh":
                cab = Bytes(row["data"], etag='"%s-%d"' % (row["sha256"][:16], k))
            else:
                cab = Bytes(row["data"])
            up.update({"authrootstl.cab": cab,
                       "authrootseq.txt": Bytes(st["seq"], content_type="text/plain") if st["seq"] is not None else Status(404)})
            served_before = model.served()
            res, seq, expect = model.fetch(row, cab.etag, when, st["seq"])
            if res == "rollback" and model.pin is not None and row["seq"] > model.served()["row"]["seq"]:
                pinned_rollbacks += 1
            key = res if res != "unchanged" else "unchanged (304)" if seq is None else "unchanged (same bytes)"
            tally[key] = tally.get(key, 0) + 1
            since = time.time()
            r = m.run("sync", "--json", "--now", iso(when))
            o = m.js(r, f"{label}: sync", ok=(0, 1))
            a = o.get("authroot") or {}
            # the mirror keeps authroot alone (kinds =): the other two are not even fetched
            check(all((o.get(x) or {}).get("result") == "skipped" for x in ("disallowed", "pinrules")) and
                  r.returncode == (0 if (a.get("ok")) else 1),
                  f"{label}: sync exit {r.returncode}, disallowed/pinrules "
                  f"{[(o.get(x) or {}).get('result') for x in ('disallowed', 'pinrules')]}: want skipped (kinds = authroot)")
            check(a.get("ok") is True and a.get("result") == res and a.get("sequence") == seq,
                  f"{label}: sync authroot {a.get('result')} {a.get('sequence')} ({a.get('text')}), want {res} {seq}")
            inconsistent = any(e[0] == "inconsistent" for e in expect)
            check(("sequence file disagrees" in (a.get("text") or "")) == inconsistent,
                  f"{label}: sync text {a.get('text')!r}, sequence file disagreement expected: {inconsistent}")
            crt = [q for q in up.requests(since=since) if q["path"].endswith(".crt")]
            # a command's round asks for the listed roots the store lacks when it admitted a
            # version (the daemon's rounds every time; they remember failures)
            if res == "admitted":
                want = int(model.served()["row"]["entries"])
                check(len(crt) == want and o.get("certs_failed") == want and o.get("certs_fetched") == 0,
                      f"{label}: {len(crt)} .crt requests, certs_failed {o.get('certs_failed')}, "
                      f"want the {want} roots the served CTL lists")
            else:
                check(not crt and o.get("certs_failed") == 0, f"{label}: {len(crt)} .crt requests after a round with nothing new")
            if served_before is not model.served() and model.served() is not None:
                tally["served changed"] = tally.get("served changed", 0) + 1

        sv = model.served()
        print(f"{label}: {res if st['op'] == 'fetch' else st['op']}; serving {sv['row']['n'] if sv else '-'}"
              + (" (pinned)" if model.pin else ""), flush=True)
        ev = m.js(m.run("events", "--json"), f"{label}: events")
        new = ev[n_events:]
        n_events = len(ev)
        # the time each was judged at (--now); "time" is when it happened
        got = [(e.get("type"), e.get("sequence"), e.get("verified_at", e.get("time"))) for e in new]
        if got and expect and expect[0][0] in ("pinned", "unpinned"):
            got = [(g[0], g[1] if expect[0][1] else None, None) for g in got]
        check(got == expect, f"{label}: new events {got}, want {expect}")
        compare(m, model, when, label, daemon, rng)
        if failures and len(failures) > 60:
            raise Broken("too many failures, stopping the replay")

    print(f"corpus_replay: {len(steps)} rounds in {time.time() - t0:.1f}s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
          + f"; {model.inconsistent} sequence-file disagreements")
    states = {}
    for c in model.copies.values():
        key = c["state"] if c["state"] != "quarantined" else f"quarantined {c['reason']}"
        states[key] = states.get(key, 0) + 1
    print("corpus_replay: copies " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    # the schedule must have exercised what the docstring claims
    check(len(model.copies) == len(rows), f"{len(model.copies)} of {len(rows)} corpus versions reached the store")
    for key in ("admitted", "rollback", "quarantined NO_CHAIN", "quarantined EXPIRED", "quarantined NOT_YET_VALID"):
        check(states.get(key, 0) > 0, f"the replay produced no copy {key}")
    check(pinned_rollbacks > 0, "the replay produced no rollback newer than the pinned version")
    for key in ("unchanged (304)", "unchanged (same bytes)"):
        check(tally.get(key, 0) > 0, f"the replay produced no {key} round")
    check(model.inconsistent > 0, "the replay produced no sequence-file disagreement")
    final = model.served()
    check(final is not None and final["row"] is rows[-1], "the newest corpus version is not served at the end")
    return final


# ---------------------------------------------------------------- certificates

def certificates(corpus, rows, up, m, daemon, model):
    final = model.served()
    sh = m.js(m.run("show", "--json", "--entries", final["row"]["sequence"]), "show --entries")
    listed = {e.get("thumbprint", "").upper() for e in sh.get("entries_list", [])}
    check(len(listed) == int(final["row"]["entries"]), f"show --entries lists {len(listed)} roots, manifest {final['row']['entries']}")
    crtdir = os.path.join(corpus, "crt")
    have = {f[:-4].upper(): os.path.join(crtdir, f) for f in os.listdir(crtdir) if f.endswith(".crt")}
    both = sorted(listed & set(have))
    unlisted = sorted(set(have) - listed)
    absent = sorted(listed - set(have))
    print(f"corpus_replay: served CTL lists {len(listed)} roots: {len(both)} in corpus crt/, {len(absent)} not; "
          f"{len(unlisted)} corpus roots unlisted")
    if not check(len(both) >= 4 and unlisted, "corpus crt/ has too few listed (or no unlisted) roots to test"):
        return

    def der(sha):
        with open(have[sha], "rb") as f:
            return f.read()

    def asked(sha):
        return [q for q in up.requests("/%s.crt" % sha) if q["method"] == "GET"]

    first, lacking, wrong, other = both[0], both[1], both[2], unlisted[0]
    base_listed, base_other = len(asked(first)), len(asked(other))
    up.update({f"{first}.crt": Bytes(der(first)), f"{other}.crt": Bytes(der(other)),
               f"{wrong}.crt": Bytes(der(other))})
    # a listed root the store lacks: fetched on demand, checked, stored, served
    code, body = http_get(f"{daemon.base}/{first}.crt")
    check(code == 200 and body == der(first), f"{first}.crt: {code}, {len(body)} bytes, want the corpus file")
    check(len(asked(first)) == base_listed + 1, f"{first}.crt: {len(asked(first)) - base_listed} upstream fetches, want 1")
    code, body = http_get(f"{daemon.base}/{first.lower()}.crt?{random.Random(SEED).getrandbits(32):x}")
    check(code == 200 and body == der(first), f"{first.lower()}.crt (lower case): {code}")
    check(len(asked(first)) == base_listed + 1, f"{first}.crt: fetched again although stored")
    # not listed: 404 and the upstream is never asked
    code, _ = http_get(f"{daemon.base}/{other}.crt")
    check(code == 404, f"{other}.crt (not listed by the served CTL): {code}, want 404")
    check(len(asked(other)) == base_other, f"{other}.crt (not listed): the daemon asked the upstream {len(asked(other)) - base_other} times")
    # listed but the upstream lacks it, or answers with another root's bytes
    n_lacking = len(asked(lacking))
    code, _ = http_get(f"{daemon.base}/{lacking}.crt")
    check(code == 404 and len(asked(lacking)) == n_lacking + 1, f"{lacking}.crt (upstream 404): {code}, {len(asked(lacking)) - n_lacking} fetches")
    n_wrong = len(asked(wrong))
    code, body = http_get(f"{daemon.base}/{wrong}.crt")
    check(code == 404 and body != der(other), f"{wrong}.crt (upstream answers other bytes): {code}, want 404")
    check(len(asked(wrong)) == n_wrong + 1, f"{wrong}.crt: {len(asked(wrong)) - n_wrong} upstream fetches, want 1")

    # sync --certs: exactly the listed roots the store lacks
    up.update({f"{s}.crt": Bytes(der(s)) for s in both})
    since = time.time()
    r = m.run("sync", "--certs", "--json")
    o = m.js(r, "sync --certs", ok=(0, 1))
    reqs = {q["path"] for q in up.requests(since=since) if q["path"].endswith(".crt")}
    check(o.get("certs_fetched") == len(both) - 1 and o.get("certs_failed") == len(absent),
          f"sync --certs: fetched {o.get('certs_fetched')} failed {o.get('certs_failed')}, want {len(both) - 1} and {len(absent)}")
    check(r.returncode == (0 if not absent else 1), f"sync --certs: exit {r.returncode}")
    check(reqs == {f"/{s}.crt" for s in listed if s != first}, f"sync --certs asked for {len(reqs)} roots, want {len(listed) - 1}")
    ev = m.js(m.run("events", "--json"), "events")
    added = [e for e in ev if e.get("type") == "cert_added"]
    check(len(added) == len(both), f"{len(added)} cert_added events, want {len(both)}")
    n_before = len(up.requests())
    sample = random.Random(SEED).sample(both, min(12, len(both)))
    for s in sample:
        code, body = http_get(f"{daemon.base}/{s}.crt")
        check(code == 200 and body == der(s), f"{s}.crt after sync --certs: {code}, {len(body)} bytes")
    code, body = http_get(f"{daemon.base}/{wrong}.crt")
    check(code == 200 and body == der(wrong), f"{wrong}.crt after sync --certs: {code}")
    check(len(up.requests()) == n_before, f"serving stored roots asked the upstream {len(up.requests()) - n_before} times")

    # a pin on the first CTL: a stored root it does not list is no longer served
    first_row = rows[0]
    old = m.js(m.run("show", "--json", "--entries", first_row["sequence"]), "show 001 --entries")
    old_listed = {e.get("thumbprint", "").upper() for e in old.get("entries_list", [])}
    gone = [s for s in both if s not in old_listed]
    kept = [s for s in both if s in old_listed]
    if check(gone and kept, "no stored root separates the 2006 CTL from the served one"):
        r = m.run("pin", "--force", first_row["sequence"])
        check(r.returncode == 0, f"pin {first_row['file']}: exit {r.returncode} {r.stderr.strip()}")
        code, _ = http_get(f"{daemon.base}/{gone[0]}.crt")
        check(code == 404, f"{gone[0]}.crt under a pin on the 2006 CTL (which does not list it): {code}, want 404")
        code, body = http_get(f"{daemon.base}/{kept[0]}.crt")
        check(code == 200 and body == der(kept[0]), f"{kept[0]}.crt under a pin on the 2006 CTL (which lists it): {code}")
        code, body = http_get(f"{daemon.base}/authrootstl.cab")
        check(code == 200 and body == first_row["data"], f"authrootstl.cab under a pin on 001: {code}")
        r = m.run("unpin")
        check(r.returncode == 0, f"unpin: exit {r.returncode}")
        code, body = http_get(f"{daemon.base}/{gone[0]}.crt")
        check(code == 200 and body == der(gone[0]), f"{gone[0]}.crt after unpin: {code}")
        code, body = http_get(f"{daemon.base}/authrootstl.cab")
        check(code == 200 and body == final["row"]["data"], f"authrootstl.cab after unpin: {code}")


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    binary, corpus = sys.argv[1], sys.argv[2]
    for need in ("authroot/MANIFEST.tsv", "anchors", "crt"):
        if not os.path.exists(os.path.join(corpus, need)):
            print(f"SKIP: no corpus at {corpus} ({need} absent); the replay of the real history through sync is not checked")
            return SKIP
    if shutil.which("curl") is None:
        print("FAIL: curl is not installed")
        return 1
    rows = load(corpus)
    check(len(rows) == 112, f"manifest has {len(rows)} rows, expected 112")
    print(f"corpus_replay: seed {SEED}, {len(rows)} versions")
    tmp = tempfile.mkdtemp(prefix="ctlmirror-corpus-replay-")
    up = daemon = None
    start = time.time()
    try:
        up = FakeUpstream().start()
        conf = write_config(os.path.join(tmp, "ctlmirror.conf"), os.path.join(tmp, "store"),
                            os.path.join(corpus, "anchors"), upstream=up.url, random_query="yes",
                            fetch_timeout="20s", warn_days=WARN_DAYS, workers=2,
                            access_log=os.path.join(tmp, "access.log"),
                            kinds="authroot")  # the real history has authroot only
        m = Mirror(binary, conf)
        model = Model(up.url + "authrootstl.cab")
        model.last_when = rows[0]["own"]
        try:
            daemon = Daemon(binary, conf, tmp, "serve", now=iso(rows[0]["own"])).start()
            check("empty" in daemon.startup, f"serve on an empty store says {daemon.startup!r}")
            compare(m, model, rows[0]["own"], "before the first round", daemon, random.Random(SEED))
            replay(rows, up, m, daemon, model)
            certificates(corpus, rows, up, m, daemon, model)
        except Broken as e:
            failures.append(str(e))
    finally:
        if daemon is not None:
            daemon.stop_checked(max_secs=None, was_alive=False, says_stopped=False)   # exit 0, no sanitizer report
        Daemon.stop_all()
        if up is not None:
            up.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"corpus_replay: {checks()} checks, {len(failures)} failures, {time.time() - start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
