#!/usr/bin/env python3
"""/_ctlmirror/status as a browser renders it: headless Chromium against a running daemon.

A temporary store holds several versions of every status: authroot served by a
pin (authroot-sha1) with newer admitted copies (legacy-anchor-ok, nested-ok),
an older one admitted before them (authroot-ok), a rollback (timestamped-ok),
and two newer copies that failed verification (expired, flipped-byte:
quarantined, so authroot is 'warn'); disallowed and pinrules served as the
newest. `ctlmirror serve --now 2024-06-01T00:00:00Z` (poll_interval = 0) serves
the page; Chromium (--headless --dump-dom, its own --user-data-dir, a timeout)
renders it. What it proves, in the rendered DOM, per kind, against
`ctlmirror status --json` and `versions --json`:
  - a section per kind with its health (class and badge: warn for authroot,
    ok for the others) and, for authroot, the reason naming the newer failed
    copy;
  - the served sequence, and whether it is pinned or the newest verified;
  - the signer expiry countdown in days (equal to status --json days_left at
    the daemon's clock, within the day the test takes), with data-expires the
    signer's notAfter; the same number after the page's own script has
    ticked (Chromium's virtual time run 2 minutes on): the countdown follows
    the daemon's clock, not the browser's;
  - the history timeline: one row per stored version, newest first, each with
    its sequence, thisUpdate, status (served, pinned, admitted, quarantined,
    rollback) as text and row class, verdict reason and SHA-256 prefix;
  - the page's "As of" time is the daemon's (2024-06-01);
  - a screenshot (PNG, the window's width) that is not a blank page.
Exits 77 when Chromium is not installed.

usage: status_page.py CTLMIRROR FIXTURES_DIR
"""
import datetime as dt
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import AT, Broken, Daemon, Fixtures, check, checks, failures, report, write_config  # noqa: E402

SKIP = 77
KINDS = ("authroot", "disallowed", "pinrules")
CHROMIUM_TIMEOUT = 120


def find_chromium():
    for c in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


# ---------------------------------------------------------------- a small DOM

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, tag=None, cls=None, id=None):
        return [n for n in self.walk() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and (id is None or n.attrs.get("id") == id)]

    def find(self, *a, **k):
        r = self.find_all(*a, **k)
        return r[0] if r else None


VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "wbr", "source"}


class DomBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(text):
    b = DomBuilder()
    b.feed(text)
    b.close()
    return b.root


# ---------------------------------------------------------------- chromium

def chromium(binary, tmp, url, *extra):
    """Runs headless Chromium once; returns its stdout (the DOM with --dump-dom)."""
    profile = tempfile.mkdtemp(dir=tmp, prefix="chromium-profile-")
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           f"--user-data-dir={profile}", *extra, url]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)     # its own session: the renderer and GPU processes too
        p.communicate()
        raise Broken(f"chromium did not finish in {CHROMIUM_TIMEOUT}s: {' '.join(cmd)}")
    if p.returncode != 0:
        raise Broken(f"chromium exit {p.returncode}: {err.decode(errors='replace')[-1500:]}")
    return out.decode("utf-8", "replace")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


# ---------------------------------------------------------------- the test

def iso_epoch(s):
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


def run(binary, fx, chrome, tmp):
    F = Fixtures(fx)
    rows = F.rows
    cfg = write_config(os.path.join(tmp, "ctlmirror.conf"), os.path.join(tmp, "store"), F.anchors, F.pins, workers=1)

    def ctl(*args):
        return subprocess.run([binary, args[0], "-c", cfg, *args[1:]], capture_output=True, text=True, timeout=180)

    want = [("authroot-ok", "admitted"), ("authroot-sha1", "admitted"), ("legacy-anchor-ok", "admitted"),
            ("nested-ok", "admitted"), ("timestamped-ok", "rollback"), ("expired", "quarantined"),
            ("flipped-byte", "quarantined"), ("disallowed-ok", "admitted"), ("pinrules-ok", "admitted")]
    r = ctl("import", "--at", AT, "--json", *[os.path.join(fx, rows[n]["file"]) for n, _ in want])
    got = [json.loads(l).get("result") for l in r.stdout.splitlines() if l.startswith("{")]
    if got != [w for _, w in want]:
        raise Broken(f"imports: {got}, want {[w for _, w in want]}: {r.stderr.strip()}")
    r = ctl("pin", "--force", rows["authroot-sha1"]["sequence"])
    if r.returncode != 0:
        raise Broken(f"pin: exit {r.returncode}: {r.stderr.strip()}")
    versions = json.loads(ctl("versions", "--json").stdout)
    statuses = {v["status"] for v in versions}
    if not {"served", "pinned", "admitted", "quarantined", "rollback"} <= statuses:
        raise Broken(f"the store does not hold every status: {sorted(statuses)}")

    d = Daemon(binary, cfg, tmp).start()
    try:
        url = f"http://127.0.0.1:{d.port}/_ctlmirror/status"
        loaded = chromium(chrome, tmp, url, "--dump-dom")
        now_loaded = d.clock()
        ticked = chromium(chrome, tmp, url, "--virtual-time-budget=130000", "--dump-dom")
        now_ticked = d.clock()
        shot = os.path.join(tmp, "status.png")
        blank = os.path.join(tmp, "blank.png")
        chromium(chrome, tmp, url, "--window-size=1200,1600", "--hide-scrollbars", f"--screenshot={shot}")
        chromium(chrome, tmp, "about:blank", "--window-size=1200,1600", "--hide-scrollbars", f"--screenshot={blank}")
    finally:
        # still running while Chromium read the page, exit 0 on SIGTERM, no sanitizer report
        d.stop_checked(max_secs=None, says_stopped=False)

    # what the CLI says at the daemon's clock
    status = json.loads(ctl("status", "--json", "--at", now_loaded.strftime("%Y-%m-%dT%H:%M:%SZ")).stdout)
    for label, text, now in (("as loaded", loaded, now_loaded), ("after its script ticked", ticked, now_ticked)):
        dom = parse_dom(text)
        check_page(dom, label, status, versions, rows, now)

    size = png_size(shot)
    check(size is not None and size[0] == 1200, f"screenshot: not a 1200-pixel-wide PNG ({size})")
    if size is not None and os.path.exists(blank):
        check(os.path.getsize(shot) > 3 * os.path.getsize(blank) and os.path.getsize(shot) > 10000,
              f"screenshot looks blank: {os.path.getsize(shot)} bytes, about:blank {os.path.getsize(blank)} bytes")


def check_page(dom, label, status, versions, rows, now):
    ctx = f"rendered status page ({label})"
    title = dom.find("title")
    check(title is not None and "ctlmirror" in title.text(), f"{ctx}: title {title.text() if title else None!r}")
    asof = re.search(r"As of (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", dom.text())
    check(asof and asof.group(1).startswith("2024-06-01T"), f"{ctx}: 'As of' {asof.group(1) if asof else None}, want the daemon's 2024-06-01")
    for kind in KINDS:
        st = status[kind]
        sec = dom.find("section", id=kind)
        if not check(sec is not None, f"{ctx}: no section#{kind}"):
            continue
        kctx = f"{ctx}, {kind}"
        # health
        check(st["health"] in sec.classes(), f"{kctx}: section classes {sec.classes()}, want {st['health']}")
        badge = sec.find(cls="badge")
        check(badge is not None and badge.text().strip() == st["health"], f"{kctx}: badge {badge.text() if badge else None!r}, want {st['health']}")
        want_health = "warn" if kind == "authroot" else "ok"
        check(st["health"] == want_health, f"status --json: {kind} health {st['health']}, want {want_health}")
        if kind == "authroot":
            reasons = [li.text() for li in (sec.find("ul", cls="reasons") or sec).find_all("li")]
            newest_bad = max((rows[n]["sequence"] for n in ("expired", "flipped-byte")), key=lambda s: int(s, 16))
            check((st.get("newest_quarantined") or {}).get("sequence") == newest_bad,
                  f"status --json: newest_quarantined {st.get('newest_quarantined')}, want {newest_bad}")
            check(any(newest_bad in r and "failed verification" in r for r in reasons),
                  f"{kctx}: no reason naming the newest copy that failed ({newest_bad}): {reasons}")
        # served version
        served = sec.find("p", cls="served")
        code = served.find("code") if served else None
        check(code is not None and code.text() == st["served"]["sequence"],
              f"{kctx}: served sequence {code.text() if code else None!r}, want {st['served']['sequence']}")
        how = "pinned" if st["pinned"] else "newest verified"
        check(served is not None and f"({how})" in served.text(), f"{kctx}: served line {served.text() if served else None!r} does not say {how}")
        want_served = {"authroot": "authroot-sha1", "disallowed": "disallowed-ok", "pinrules": "pinrules-ok"}[kind]
        check(st["served"]["sequence"] == rows[want_served]["sequence"], f"status --json: {kind} serves {st['served']['sequence']}, want {want_served}")
        # countdown
        cd = sec.find("p", cls="countdown")
        days = cd.find(cls="days") if cd else None
        if check(days is not None, f"{kctx}: no countdown with a .days element"):
            m = re.fullmatch(r"(-?\d+) days", days.text().strip())
            exp = iso_epoch(st["served"]["signer_not_after"])
            want_days = int((exp - now.timestamp()) // 86400)
            check(m and abs(int(m.group(1)) - want_days) <= 1 and abs(int(m.group(1)) - st["served"]["days_left"]) <= 1,
                  f"{kctx}: countdown {days.text()!r}, want {want_days} days (status --json days_left {st['served']['days_left']})")
            check(cd.attrs.get("data-expires") == str(exp), f"{kctx}: data-expires {cd.attrs.get('data-expires')}, want {exp} ({st['served']['signer_not_after']})")
            check(st["served"]["signer_not_after"] in cd.text(), f"{kctx}: countdown text does not name {st['served']['signer_not_after']}: {cd.text()!r}")
        # timeline
        table = sec.find("table", cls="timeline")
        if not check(table is not None, f"{kctx}: no table.timeline"):
            continue
        body = table.find("tbody") or table
        trs = [tr for tr in body.find_all("tr")]
        mine = [v for v in versions if v.get("kind") == kind]
        check(len(trs) == len(mine), f"{kctx}: {len(trs)} timeline rows, versions --json has {len(mine)}")
        got = []
        for tr in trs:
            cells = [td.text().strip() for td in tr.find_all("td")]
            got.append(cells)
            if len(cells) != 6:
                check(False, f"{kctx}: a timeline row with {len(cells)} cells: {cells}")
                continue
            check(tr.classes() == [cells[3]], f"{kctx}: row class {tr.classes()} but status cell {cells[3]!r}")
        want = [[v["sequence"] or "-", v["this_update"] or "-", v["first_seen"], v["status"], v["reason"], v["sha256"][:12]]
                for v in reversed(mine)]
        check(got == want, f"{kctx}: timeline rows (newest first)\n    {got}\n  want\n    {want}")
        if kind == "authroot":
            seen = {c[3] for c in got if len(c) == 6}
            check({"pinned", "admitted", "quarantined", "rollback"} <= seen, f"{kctx}: timeline statuses {sorted(seen)}")
            q = [c for c in got if len(c) == 6 and c[3] == "quarantined"]
            check(sorted(c[4] for c in q) == sorted([rows["expired"]["reason"], rows["flipped-byte"]["reason"]]),
                  f"{kctx}: quarantined rows' reasons {[c[4] for c in q]}")


def main():
    if len(sys.argv) != 3:
        print("usage: status_page.py CTLMIRROR FIXTURES_DIR")
        return 2
    binary, fx = sys.argv[1], sys.argv[2]
    chrome = find_chromium()
    if chrome is None:
        print("skip: Chromium is not installed (/usr/bin/chromium; apt-get install chromium, or set CHROMIUM=PATH)")
        return SKIP
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx} (run build/tests/forge {fx})")
        return 1
    tmp = tempfile.mkdtemp(prefix="ctlmirror-status-page-")
    t0 = time.time()
    try:
        run(binary, fx, chrome, tmp)
    except Broken as e:
        failures.append(str(e))
    except Exception:
        failures.append(f"test raised\n{traceback.format_exc()}")
    finally:
        Daemon.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"status_page: {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s ({chrome})")


if __name__ == "__main__":
    sys.exit(main())
