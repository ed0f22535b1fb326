#!/usr/bin/env python3
"""Least privilege by default: a daemon started as root drops to an unprivileged user.

Runs only as root (else it reports a skip). With the forged fixtures, every store in a temporary
directory that the dropped user can traverse (mode 0755), the daemon on 127.0.0.1 and an
ephemeral port, a scripted fake upstream (fake_upstream.py) on loopback:
  - `user =` empty: the daemon, started as root on a store root created with `ctlmirror import`
    (disallowed-sha256),
    runs as `ctlmirror` where that user exists, else `nobody`: /proc/PID/status shows that
    uid and gid as real, effective, saved and filesystem ids, and only that group, for every
    thread (two workers); its start line says "running as NAME (uid N)"; the store directory,
    data.mdb and lock.mdb now belong to that user; a poll admits the upstream's cabs and they
    are served; `ctlmirror import` as root (a newer disallowed list, then served) and
    `ctlmirror pin`/`versions`/`unpin` as that user work on the same store while the daemon runs; a newer cab published upstream is then admitted and
    served (the daemon still writes the store); the store's files still belong to the user;
    it exits 0 on SIGTERM;
  - a store directory that holds another file is not given away (its data.mdb and lock.mdb are;
    the other file is not), and the daemon serves from it;
  - `user = root`: uid 0 is kept, with a "running as root on purpose" warning and "running as
    root (uid 0)" in the start line, and the store's owner is left alone;
  - `user = nosuchuser`: the daemon exits non-zero before listening, saying the user does not
    exist;
  - started as that unprivileged user: `user =` its own name runs as itself (start line), and
    `user = root` is a start error ("only root can switch users").

usage: privs.py CTLMIRROR FIXTURES_DIR
Exit: 0 all checks passed, 1 some failed, 77 skipped (not root).
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_upstream import Bytes, FakeUpstream  # noqa: E402
from testlib import (AT, Broken, Daemon, Fixtures, check, checks, failures, report, wait_for,
                     write_config)  # noqa: E402

CAB = {"authroot": "authrootstl.cab", "disallowed": "disallowedcertstl.cab", "pinrules": "pinrulesstl.cab"}
SEQ = "authrootseq.txt"
STORE_FILES = ("", "data.mdb", "lock.mdb")


def target_user():
    """The user a root start with `user =` empty drops to: ctlmirror, else nobody."""
    for name in ("ctlmirror", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise Broken("neither user ctlmirror nor nobody exists")


def ids(pid, task=None):
    """{"Uid": [real, effective, saved, fs], "Gid": [...], "Groups": [...]} of a process or thread."""
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


def owners(store):
    return {name or ".": os.lstat(os.path.join(store, name)).st_uid for name in STORE_FILES}


class Test:
    def __init__(self, binary, fx, tmp):
        self.binary, self.fx, self.tmp = binary, Fixtures(fx), tmp
        # what the dropped daemon reads must be reachable by it: copies under the 0755 tmp
        self.anchors = os.path.join(tmp, "anchors")
        shutil.copytree(self.fx.anchors, self.anchors)
        self.files = {}
        for name in ("authroot-ok", "authroot-sha1", "disallowed-ok", "disallowed-sha256", "pinrules-ok"):
            self.files[name] = os.path.join(tmp, name + ".cab")
            shutil.copyfile(self.fx.path(name), self.files[name])
        for root, dirs, files in os.walk(tmp):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)
        self.up = FakeUpstream().start()

    def mirror(self, name, **keys):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        os.chmod(d, 0o755)
        store = os.path.join(d, "store")
        keys.setdefault("user", "")   # an explicit empty line: the harness may set one for root
        cfg = write_config(os.path.join(d, "ctlmirror.conf"), store, self.anchors, self.fx.pins,
                           upstream=self.up.url, workers="2", **keys)
        os.chmod(cfg, 0o644)
        return d, store, cfg

    def cli(self, cfg, *args, as_user=None):
        kw = {}
        if as_user is not None:
            kw = dict(user=as_user.pw_uid, group=as_user.pw_gid, extra_groups=[])
        return subprocess.run([self.binary, args[0], "-c", cfg, *args[1:]], capture_output=True,
                              text=True, timeout=60, cwd=self.tmp, **kw)

    def publish(self, authroot):
        fx = self.fx
        self.up.update({CAB["authroot"]: Bytes(fx.data(authroot)),
                        SEQ: Bytes(fx.seq(authroot).encode(), content_type="text/plain"),
                        CAB["pinrules"]: Bytes(fx.data("pinrules-ok"))})

    # ------------------------------------------------------------------
    def dropped(self):
        fx, pw = self.fx, target_user()
        d, store, cfg = self.mirror("dropped", poll_interval="1s")
        r = self.cli(cfg, "import", "--at", AT, self.files["disallowed-sha256"])
        if r.returncode != 0:
            raise Broken(f"import as root before the daemon: exit {r.returncode}: {r.stdout}{r.stderr}")
        check(set(owners(store).values()) == {0}, f"the store made by root's import: owners {owners(store)}")
        self.publish("authroot-ok")
        dm = Daemon(self.binary, cfg, d).start()
        pid = dm.p.pid
        want = f"running as {pw.pw_name} (uid {pw.pw_uid})"
        check(want in dm.startup, f"start line {dm.startup!r} does not say {want!r}")
        st = ids(pid)
        check(st["Uid"] == [pw.pw_uid] * 4, f"/proc status Uid {st['Uid']}, want {pw.pw_uid} four times")
        check(st["Gid"] == [pw.pw_gid] * 4, f"/proc status Gid {st['Gid']}, want {pw.pw_gid} four times")
        check(st["Groups"] == [pw.pw_gid], f"/proc status Groups {st['Groups']}, want only {pw.pw_gid}")
        tasks = os.listdir(f"/proc/{pid}/task")
        check(len(tasks) >= 2, f"{len(tasks)} threads, want the two workers at least")
        for t in tasks:
            check(ids(pid, t)["Uid"] == [pw.pw_uid] * 4, f"thread {t}: Uid {ids(pid, t)['Uid']}")
        check(owners(store) == {n: pw.pw_uid for n in owners(store)},
              f"store owners after the drop {owners(store)}, want uid {pw.pw_uid}")

        def serves(name, kind="authroot"):
            r = dm.get(CAB[kind])
            return r.code == 200 and r.body == fx.data(name)

        check(wait_for(lambda: serves("authroot-ok"), 15), "authroot-ok not served after a poll")
        check(wait_for(lambda: serves("pinrules-ok", "pinrules"), 5), "pinrules-ok not served after a poll")
        check(serves("disallowed-sha256", "disallowed"), "disallowed-sha256 (imported by root) not served")

        # the admin commands, as root and as the daemon's user, on the store it runs on
        r = self.cli(cfg, "import", "--at", AT, "--json", self.files["disallowed-ok"])
        check(r.returncode == 0 and '"admitted"' in r.stdout,
              f"import as root while the daemon runs: exit {r.returncode}: {r.stdout}{r.stderr}")
        check(wait_for(lambda: serves("disallowed-ok", "disallowed"), 10),
              "disallowed-ok, imported by root while the daemon runs, not served")
        r = self.cli(cfg, "pin", "--force", fx.seq("authroot-ok"), as_user=pw)
        check(r.returncode == 0, f"pin as {pw.pw_name}: exit {r.returncode}: {r.stdout}{r.stderr}")
        r = self.cli(cfg, "versions", "--json", as_user=pw)
        check(r.returncode == 0 and fx.sha("disallowed-ok") in r.stdout,
              f"versions as {pw.pw_name}: exit {r.returncode}, root's import not listed: {r.stderr}")
        r = self.cli(cfg, "unpin", as_user=pw)
        check(r.returncode == 0, f"unpin as {pw.pw_name}: exit {r.returncode}: {r.stdout}{r.stderr}")

        # the daemon still writes the store: a newer cab upstream is admitted and served
        self.publish("authroot-sha1")
        check(wait_for(lambda: serves("authroot-sha1"), 15), "authroot-sha1 not served after it was published")
        r = self.cli(cfg, "status", "--json", "--at", AT)
        try:
            served = ((json.loads(r.stdout).get("authroot") or {}).get("served") or {}).get("sha256")
        except ValueError:
            served = None
        check(served == fx.sha("authroot-sha1"), f"status --json as root: authroot served {served}")
        check(owners(store) == {n: pw.pw_uid for n in owners(store)},
              f"store owners after root's import {owners(store)}, want uid {pw.pw_uid}")
        dm.stop_checked()

    def shared_dir(self):
        """A store directory that holds something else is not given away; its files are."""
        fx, pw = self.fx, target_user()
        d, store, cfg = self.mirror("shared")
        os.makedirs(store, mode=0o750)
        with open(os.path.join(store, "other-software.conf"), "w") as f:
            f.write("not ctlmirror's\n")
        r = self.cli(cfg, "import", "--at", AT, self.files["authroot-ok"])
        if r.returncode != 0:
            raise Broken(f"import as root: exit {r.returncode}: {r.stdout}{r.stderr}")
        dm = Daemon(self.binary, cfg, d).start()
        got = owners(store)
        check(got["."] == 0, f"a store directory holding another file was given away: owners {got}")
        check(got["data.mdb"] == pw.pw_uid and got["lock.mdb"] == pw.pw_uid,
              f"the store's files in a shared directory: owners {got}, want uid {pw.pw_uid}")
        check(os.lstat(os.path.join(store, "other-software.conf")).st_uid == 0, "another file was given away")
        r = dm.get(CAB["authroot"])
        check(r.code == 200 and r.body == fx.data("authroot-ok"), f"shared directory: authroot answered {r.code}")
        dm.stop_checked()

    def kept_root(self):
        d, store, cfg = self.mirror("root", user="root")
        self.publish("authroot-ok")
        dm = Daemon(self.binary, cfg, d).start()
        st = ids(dm.p.pid)
        check(st["Uid"] == [0] * 4, f"user = root: Uid {st['Uid']}, want 0")
        check("running as root (uid 0)" in dm.startup, f"user = root: start line {dm.startup!r}")
        check(re.search(r"user = root: running as root on purpose", dm.stderr()),
              f"user = root: no warning on stderr: {dm.stderr()[-800:]}")
        check(set(owners(store).values()) == {0}, f"user = root: store owners {owners(store)}, want root's")
        dm.stop_checked()

    def not_root(self):
        """Started as another user: nothing changes; naming someone else is a start error."""
        pw = target_user()
        d, store, cfg = self.mirror("notroot", user=pw.pw_name)
        os.makedirs(store, mode=0o750)
        os.chown(store, pw.pw_uid, pw.pw_gid)
        p = subprocess.Popen([self.binary, "serve", "-c", cfg, "--listen", "127.0.0.1:0", "--now", AT],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        try:
            line = p.stderr.readline() if p.stderr else ""
            while line and "listening on" not in line and p.poll() is None:
                line = p.stderr.readline()
            want = f"running as {pw.pw_name} (uid {pw.pw_uid})"
            check(want in line, f"started as {pw.pw_name} with user = {pw.pw_name}: {line!r}, want {want!r}")
        finally:
            p.terminate()
            p.communicate(timeout=20)
        d, store, cfg = self.mirror("notroot-other", user="root")
        r = subprocess.run([self.binary, "serve", "-c", cfg, "--listen", "127.0.0.1:0", "--now", AT],
                           capture_output=True, text=True, timeout=60, user=pw.pw_uid, group=pw.pw_gid,
                           extra_groups=[])
        check(r.returncode != 0 and "only root can switch users" in r.stderr,
              f"started as {pw.pw_name} with user = root: exit {r.returncode}, stderr {r.stderr[-400:]!r}")

    def no_such_user(self):
        d, store, cfg = self.mirror("nouser", user="nosuchuser")
        t0 = time.monotonic()
        r = subprocess.run([self.binary, "serve", "-c", cfg, "--listen", "127.0.0.1:0", "--now", AT],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode != 0, f"user = nosuchuser: exit {r.returncode}, want an error")
        check("user 'nosuchuser' does not exist" in r.stderr, f"user = nosuchuser: stderr {r.stderr[-500:]!r}")
        check("listening on" not in r.stderr, "user = nosuchuser: it listened anyway")
        check(time.monotonic() - t0 < 10, "user = nosuchuser: took over 10 s to refuse")
        check(not os.path.exists(store), "user = nosuchuser: a store was created before the refusal")


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (the daemon drops privileges only when started as root)")
        return 77
    binary, fx = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not os.path.exists(os.path.join(fx, "cases.tsv")):
        print(f"FAIL: no fixtures at {fx} (run build/tests/forge {fx})")
        return 1
    tmp = tempfile.mkdtemp(prefix="ctlmirror-privs-")
    os.chmod(tmp, 0o755)   # the dropped daemon and user traverse it
    t = None
    sections = []

    def section(name, fn):
        t0 = time.monotonic()
        try:
            fn()
        except Broken as e:
            failures.append(f"{name}: {e}")
        except Exception:
            failures.append(f"{name}: test raised\n{traceback.format_exc()}")
        sections.append((name, time.monotonic() - t0))

    try:
        t = Test(binary, fx, tmp)
        section("dropped", t.dropped)
        section("shared directory", t.shared_dir)
        section("user = root", t.kept_root)
        section("no such user", t.no_such_user)
        section("not root", t.not_root)
    finally:
        Daemon.stop_all()
        if t is not None:
            t.up.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report("privs: " + ", ".join(f"{n} {s:.1f}s" for n, s in sections),
                  f"privs: {len(sections)} sections, {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
