#!/usr/bin/env python3
"""/_ctlmirror/status as a browser renders it: headless Chromium, driven over its DevTools pipe.

A temporary store holds: authroot served by a pin of a time-stamped version (a
rollback: it never expires for clients) after four admissions, a pin and an unpin
(seven served intervals), two newer copies that failed verification (quarantined):
authroot is 'warn'; disallowed served with a chain that has expired at the daemon's
clock: 'critical'; pinrules holds only a quarantined copy: nothing servable,
'critical'. `ctlmirror sync` against an upstream nothing listens on records failed
answers. `ctlmirror serve --now` at the real clock (the events' time) serves the page.

Chromium (--headless, its own --user-data-dir, --remote-debugging-pipe: the test
speaks the DevTools protocol on fds 3 and 4, no other tool) loads it at 1280x900 and
390x844 (a phone), in English, with Accept-Language: ja, and with ?lang=ja. It shows:
  - screenshots of each, kept in ARTIFACTS/status_page-{en,ja}-{1280,390}.png;
  - a critical kind's summary row lies inside the first viewport (no scrolling), and
    says "expired N days ago" (never a negative count) or "nothing servable";
  - the timeline SVG holds one rect.interval per served interval (7 + 1 + 0), and
    marks for the admissions, quarantines, the refused rollback, pins and the unpin;
  - at 390 px nothing overflows sideways (scrollWidth <= innerWidth);
  - in Japanese, no visible text outside data elements (class "data": sequences, URLs,
    times, reason codes, library error text) holds an ASCII word of 3+ letters but for
    names (ctlmirror, CAPI2, Windows, HTTP, SHA-256, the kinds, config keys), verify's
    reason codes, hex and ISO times; in English, no Japanese character (the link to
    the Japanese page, 日本語, aside);
  - <html lang>, Content-Language and Vary: Accept-Language follow the choice;
  - the upstream table has a failed row per kept kind, with its consecutive failures;
  - the recent versions (newest first, at most 10) and ?all=1 with every version.
Exits 77 when Chromium is not installed.

usage: status_page.py CTLMIRROR FIXTURES_DIR [ARTIFACTS_DIR]
"""
import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import AT, Broken, Daemon, Fixtures, check, checks, curl, failures, report, write_config  # noqa: E402

SKIP = 77
KINDS = ("authroot", "disallowed", "pinrules")
CDP_TIMEOUT = 60
# words a Japanese page may show in Latin letters: names, not English
ALLOW = {"ctlmirror", "capi2", "windows", "http", "sha", "english", "authroot", "disallowed", "pinrules",
         "poll_interval", "user", "root", "kinds"}
JA_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def find_chromium():
    for c in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


class Chromium:
    """Headless Chromium with --remote-debugging-pipe: JSON messages, NUL-terminated, in on
    fd 3 and out on fd 4."""

    def __init__(self, binary, tmp):
        profile = tempfile.mkdtemp(dir=tmp, prefix="chromium-profile-")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def fds():    # in the child: the pipe's ends become fds 3 and 4, whatever they were
            hi_r, hi_w = os.dup(to_r) + 100, os.dup(from_w) + 100
            os.dup2(to_r, hi_r)
            os.dup2(from_w, hi_w)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env, start_new_session=True,
                                  preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_r)
        os.close(from_w)
        self.buf, self.id, self.events = b"", 0, []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise Broken("chromium: no DevTools answer in time")
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise Broken(f"chromium closed its DevTools pipe (exit {self.p.poll()})")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, **params):
        self.id += 1
        m = {"id": self.id, "method": method, "params": params}
        if session:
            m["sessionId"] = session
        os.write(self.to_w, json.dumps(m).encode() + b"\0")
        deadline = time.time() + CDP_TIMEOUT
        while True:
            r = self._read(deadline)
            if r.get("id") == self.id:
                if "error" in r:
                    raise Broken(f"chromium {method}: {r['error']}")
                return r.get("result", {})
            self.events.append(r)

    def wait_event(self, method, session):
        deadline = time.time() + CDP_TIMEOUT
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    del self.events[i]
                    return e
            self.events.append(self._read(deadline))

    def close(self):
        try:
            self.call("Browser.close")
            self.p.wait(timeout=10)
        except Exception:
            pass
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)    # its own session: renderer and GPU too
            self.p.wait()
        os.close(self.to_w)
        os.close(self.from_r)


# what the page looks like in the browser: layout and visible text
PROBE = r"""(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right]; };
  const texts = [];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (w.nextNode()) {
    const n = w.currentNode, t = n.nodeValue.trim(), el = n.parentElement;
    if (!t || el.closest('style,title,script')) continue;
    if (el.getClientRects().length === 0) continue;           // not rendered
    texts.push([t, el.closest('.data') !== null]);
  }
  const labels = [...document.querySelectorAll('td[data-label]')].filter(td => td.offsetParent)
    .map(td => getComputedStyle(td, '::before').content);
  return JSON.stringify({
    lang: document.documentElement.lang, title: document.title,
    innerWidth: innerWidth, innerHeight: innerHeight,
    scrollWidth: document.documentElement.scrollWidth,
    rows: [...document.querySelectorAll('#summary .row')].map(r => ({id: r.id, cls: r.className,
      text: r.innerText, box: box(r)})),
    intervals: [...document.querySelectorAll('svg.timeline rect.interval')].map(r => ({
      seq: r.dataset.sequence, cls: r.getAttribute('class'), width: +r.getAttribute('width')})),
    marks: [...document.querySelectorAll('svg.timeline .mark')].map(m => m.getAttribute('class')),
    sync: [...document.querySelectorAll('table.sync tbody tr')].map(tr => ({cls: tr.className,
      cells: [...tr.cells].map(c => c.innerText)})),
    versions: Object.fromEntries([...document.querySelectorAll('#versions h3')].map(h =>
      [h.id, [...h.nextElementSibling.querySelectorAll('tbody tr')].map(tr =>
        tr.querySelector('code') ? tr.querySelector('code').textContent : '')])),
    more: (document.querySelector('a.more') || {}).href || null,
    rootwarn: document.querySelector('#rootwarn') !== null,
    labels: labels.slice(0, 3),
    texts: texts});
})()"""


def load(cr, url, width, height, accept_language, shot):
    """Opens url in a fresh tab at width x height; returns the probe's findings, writes a PNG."""
    target = cr.call("Target.createTarget", url="about:blank")["targetId"]
    s = cr.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    try:
        cr.call("Page.enable", s)
        cr.call("Network.enable", s)
        if accept_language:
            cr.call("Network.setExtraHTTPHeaders", s, headers={"Accept-Language": accept_language})
        cr.call("Emulation.setDeviceMetricsOverride", s, width=width, height=height,
                deviceScaleFactor=1, mobile=width < 500)
        cr.call("Page.navigate", s, url=url)
        cr.wait_event("Page.loadEventFired", s)
        r = cr.call("Runtime.evaluate", s, expression=PROBE, returnByValue=True)
        found = json.loads(r["result"]["value"])
        png = base64.b64decode(cr.call("Page.captureScreenshot", s, format="png")["data"])
        with open(shot, "wb") as f:
            f.write(png)
        found["png_bytes"] = len(png)
        return found
    finally:
        cr.call("Target.closeTarget", targetId=target)


def run(binary, fx, chrome, tmp, artifacts):
    F = Fixtures(fx)
    rows = F.rows
    cfg = write_config(os.path.join(tmp, "ctlmirror.conf"), os.path.join(tmp, "store"), F.anchors, F.pins, workers=1)

    def ctl(*args, ok=True):
        r = subprocess.run([binary, args[0], "-c", cfg, *args[1:]], capture_output=True, text=True, timeout=120)
        if ok and r.returncode != 0:
            raise Broken(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def imp(name, want, at=AT):
        r = ctl("import", "--at", at, "--json", os.path.join(fx, rows[name]["file"]), ok=False)
        got = [json.loads(l).get("result") for l in r.stdout.splitlines() if l.startswith("{")]
        if got != [want]:
            raise Broken(f"import {name}: {got}, want {want}: {r.stderr.strip()}")

    # authroot: four admissions (four intervals), a rollback, two quarantined copies
    for n in ("authroot-ok", "authroot-sha1", "legacy-anchor-ok", "nested-ok"):
        imp(n, "admitted")
    imp("timestamped-ok", "rollback")
    imp("expired", "quarantined")
    imp("flipped-byte", "quarantined")
    imp("disallowed-ok", "admitted")
    imp("pinrules-expired", "quarantined", at=rows["pinrules-expired"]["at"])
    # a pin and an unpin (two intervals), then a pin of the time-stamped one (the seventh)
    ctl("pin", "--force", rows["authroot-sha1"]["sequence"])
    ctl("unpin", "--kind", "authroot")
    ctl("pin", "--force", "--reason", "test", rows["timestamped-ok"]["sequence"])
    ctl("sync", ok=False)    # the upstream nothing listens on: failed answers recorded
    want_intervals = {"authroot": 7, "disallowed": 1, "pinrules": 0}
    versions = json.loads(ctl("versions", "--json").stdout)

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=2)
    d = Daemon(binary, cfg, tmp, now=now.strftime("%Y-%m-%dT%H:%M:%SZ")).start()
    cr = None
    pages = {}
    try:
        base = f"http://127.0.0.1:{d.port}/_ctlmirror/status"
        # headers: language chosen by ?lang=, then Accept-Language
        for args, lang in (((), "en"), (("-H", "Accept-Language: ja,en;q=0.5"), "ja"),
                           (("-H", "Accept-Language: ja"), "ja"), ((), "ja")):
            url = base + ("?lang=ja" if lang == "ja" and not args else "")
            r = curl(*args, url)
            check(r.code == 200 and r.h("content-language") == lang and "Accept-Language" in (r.h("vary") or ""),
                  f"GET {url} {args}: {r.code}, Content-Language {r.h('content-language')}, Vary {r.h('vary')}; want {lang}")
        r = curl("-H", "Accept-Language: ja", base + "?lang=en")
        check(r.h("content-language") == "en", f"?lang=en over Accept-Language: ja: {r.h('content-language')}")
        status = json.loads(curl(f"http://127.0.0.1:{d.port}/_ctlmirror/status.json").body)

        cr = Chromium(chrome, tmp)
        for lang, url, al in (("en", base, "en-US,en;q=0.9"), ("ja", base, "ja-JP,ja;q=0.9,en;q=0.5"),
                              ("ja-query", base + "?lang=ja", None)):
            for width, height in ((1280, 900), (390, 844)):
                name = f"status_page-{lang}-{width}.png"
                pages[(lang, width)] = load(cr, url, width, height, al, os.path.join(artifacts, name))
        pages["all"] = load(cr, base + "?all=1", 1280, 900, None, os.path.join(artifacts, "status_page-all-1280.png"))
    finally:
        if cr is not None:
            cr.close()
        d.stop_checked(max_secs=None, says_stopped=False)

    for (key, p) in pages.items():
        if key == "all":
            continue
        lang, width = key
        check_page(p, f"{lang} at {width} px", "ja" if lang.startswith("ja") else "en", width, status,
                   versions, rows, want_intervals)
    mine = {k: [v for v in versions if v["kind"] == k] for k in KINDS}
    allp = pages["all"]
    for k in KINDS:
        got = allp["versions"].get(f"v-{k}", [])
        want = [v["sequence"] or "-" for v in reversed(mine[k])]
        check(got == want, f"?all=1: {k} rows {got}, want every version newest first {want}")
    check(allp["more"] and "all=1" not in allp["more"], f"?all=1: a link back to the summary: {allp['more']}")


def check_page(p, ctx, lang, width, status, versions, rows, want_intervals):
    check(p["lang"] == lang, f"{ctx}: <html lang={p['lang']}>, want {lang}")
    check(p["png_bytes"] > 20000, f"{ctx}: screenshot of {p['png_bytes']} bytes looks blank")
    # the summary: one row per kind, a critical one within the first viewport
    ids = [r["id"] for r in p["rows"]]
    check(ids == [f"sum-{k}" for k in KINDS], f"{ctx}: summary rows {ids}")
    for r in p["rows"]:
        k = r["id"][4:]
        check(status[k]["health"] in r["cls"].split(), f"{ctx}: {k} row class {r['cls']}, health {status[k]['health']}")
    crit = [r for r in p["rows"] if "critical" in r["cls"].split()]
    check(len(crit) == 2, f"{ctx}: critical rows {[r['id'] for r in crit]}, want disallowed and pinrules")
    for r in crit:
        check(r["box"][0] >= 0 and r["box"][1] <= p["innerHeight"],
              f"{ctx}: critical row {r['id']} at y {r['box'][0]:.0f}..{r['box'][1]:.0f}, outside the first "
              f"{p['innerHeight']} px")
    byid = {r["id"]: r["text"] for r in p["rows"]}
    days = -status["disallowed"]["served"]["days_left"]
    exp = (f"expired {days} days ago" if lang == "en" else f"{days} 日前に期限切れ")
    check(days > 0 and exp in byid["sum-disallowed"], f"{ctx}: disallowed row does not say {exp!r}: {byid['sum-disallowed']!r}")
    check("-" + str(days) not in byid["sum-disallowed"], f"{ctx}: a negative day count: {byid['sum-disallowed']!r}")
    nothing = "Nothing servable" if lang == "en" else "配信できる版がありません"
    check(nothing in byid["sum-pinrules"], f"{ctx}: pinrules row: {byid['sum-pinrules']!r}")
    ar = byid["sum-authroot"]
    check(status["authroot"]["served"]["sequence"] in ar and rows["timestamped-ok"]["sequence"] in ar,
          f"{ctx}: authroot row does not name the pinned sequence: {ar!r}")
    pinned = "pinned by the administrator" if lang == "en" else "管理者が固定"
    check(pinned in ar and "test" in ar, f"{ctx}: authroot row does not say who pinned and why: {ar!r}")
    # the timeline: one bar per served interval
    per = {k: [i for i in p["intervals"] if i["seq"] in {v["sequence"] for v in versions if v["kind"] == k}] for k in KINDS}
    for k in KINDS:
        check(len(per[k]) == want_intervals[k], f"{ctx}: {len(per[k])} {k} intervals in the SVG, want {want_intervals[k]}")
    check(len(p["intervals"]) == sum(want_intervals.values()), f"{ctx}: {len(p['intervals'])} intervals in all")
    check(all(i["width"] >= 2 for i in p["intervals"]), f"{ctx}: an interval narrower than 2 units")
    seqs = [i["seq"] for i in per["authroot"]]
    want_seqs = [rows[n]["sequence"] for n in ("authroot-ok", "authroot-sha1", "legacy-anchor-ok", "nested-ok",
                                               "authroot-sha1", "nested-ok", "timestamped-ok")]
    check(seqs == want_seqs, f"{ctx}: authroot intervals {seqs}, want {want_seqs}")
    check([i["cls"] for i in per["authroot"]].count("interval pinned") == 2, f"{ctx}: two pinned intervals: {per['authroot']}")
    marks = sorted(m.split()[1] for m in p["marks"])
    want_marks = sorted(["madmitted"] * 5 + ["mrollback"] + ["mquarantined"] * 3 + ["mpin"] * 2 + ["munpin"])
    check(marks == want_marks, f"{ctx}: marks {marks}, want {want_marks}")
    # the upstreams: a failed row per kind, one failure each
    check(len(p["sync"]) == 3 and all(s["cls"] == "failed" for s in p["sync"]), f"{ctx}: sync rows {p['sync']}")
    check(all(s["cells"][-1].strip().endswith("1") for s in p["sync"]), f"{ctx}: consecutive failures {p['sync']}")
    # the versions: the newest 10 per kind, newest first
    for k in KINDS:
        mine = [v["sequence"] or "-" for v in reversed([v for v in versions if v["kind"] == k])][:10]
        check(p["versions"].get(f"v-{k}") == mine, f"{ctx}: {k} versions {p['versions'].get(f'v-{k}')}, want {mine}")
    check(p["more"] and "all=1" in p["more"], f"{ctx}: no link to every version: {p['more']}")
    check(p["rootwarn"] == (os.geteuid() == 0), f"{ctx}: root warning shown {p['rootwarn']}, running as root {os.geteuid() == 0}")
    # a phone: nothing scrolls sideways
    check(p["scrollWidth"] <= p["innerWidth"], f"{ctx}: {p['scrollWidth']} px wide in a {p['innerWidth']} px window")
    # the words
    if lang == "ja":
        bad = []
        codes = {r["reason"] for r in rows.values()}    # verify's reason codes: words of no language
        for text, data in p["texts"]:
            if data:
                continue
            text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "", text)
            for w in re.findall(r"[A-Za-z][A-Za-z0-9_]{2,}", text):
                if w.lower() not in ALLOW and w not in codes and not re.fullmatch(r"[0-9A-F]+", w):
                    bad.append((w, text))
        check(not bad, f"{ctx}: English words on the Japanese page: {bad[:12]}")
        check(any(JA_CHAR.search(t) for t, _ in p["texts"]), f"{ctx}: no Japanese at all")
    else:
        bad = [t for t, _ in p["texts"] if JA_CHAR.search(t) and t != "日本語"]
        check(not bad, f"{ctx}: Japanese on the English page: {bad[:8]}")


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: status_page.py CTLMIRROR FIXTURES_DIR [ARTIFACTS_DIR]")
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
    artifacts = sys.argv[3] if len(sys.argv) == 4 else tmp
    os.makedirs(artifacts, exist_ok=True)
    t0 = time.time()
    try:
        run(binary, fx, chrome, tmp, artifacts)
    except Broken as e:
        failures.append(str(e))
    except Exception:
        failures.append(f"test raised\n{traceback.format_exc()}")
    finally:
        Daemon.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"status_page: {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s ({chrome}); "
                  f"screenshots in {artifacts}" if artifacts != tmp else
                  f"status_page: {checks()} checks, {len(failures)} failures, {time.time() - t0:.1f}s ({chrome})")


if __name__ == "__main__":
    sys.exit(main())
