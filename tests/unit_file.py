#!/usr/bin/env python3
"""The systemd unit runs ctlmirror with least privilege: `systemd-analyze security` scores it OK.

No daemon and no systemd instance: `systemd-analyze security --offline=true` reads the unit file
alone (it works in a container without systemd as PID 1). What it shows:
  - etc/ctlmirror.service's overall exposure level is 2.0 or better ("OK"), parsed from the
    "Overall exposure level" line, and `--threshold=20` (the same bound, in tenths) exits 0;
  - the measure can fail: the same unit with its hardening lines removed scores over 2.0 and
    `--threshold=20` exits non-zero;
  - what the score does not weigh but the daemon needs is there: LimitNOFILE (max_connections
    needs a descriptor each), an empty CapabilityBoundingSet and no ambient capability (the
    default port 8080 needs none), a User= that is not root, UMask=0027, and the system calls the
    daemon makes are allowed (@system-service keeps @resources for its open-file limit).

usage: unit_file.py UNIT_FILE
Exit: 0 all checks passed, 1 some failed, 77 skipped (no systemd-analyze: install `systemd`).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, checks, failures, report  # noqa: E402

MAX_EXPOSURE = 2.0
OVERALL = re.compile(r"Overall exposure level for \S+: (\d+\.\d) (\w+)")
# What stays in the unhardened copy: enough to be a service that runs ctlmirror.
BARE_KEYS = ("Description", "After", "Wants", "Type", "ExecStart", "ExecReload", "KillSignal",
             "Restart", "WantedBy")


def analyze(path, threshold=None):
    """(exposure, verdict word, exit status, output) of systemd-analyze security on path."""
    cmd = ["systemd-analyze", "security", "--offline=true", "--no-pager"]
    if threshold is not None:
        cmd.append(f"--threshold={threshold}")
    p = subprocess.run(cmd + [path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60, env=dict(os.environ, SYSTEMD_COLORS="0"))
    out = p.stdout.decode("utf-8", "replace")
    m = OVERALL.search(out)
    return (float(m.group(1)) if m else None), (m.group(2) if m else None), p.returncode, out


def settings(path):
    """The unit's Key=value lines, each key to the list of its values, in order."""
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                k, v = line.split("=", 1)
                keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def main():
    unit = os.path.abspath(sys.argv[1])
    if shutil.which("systemd-analyze") is None:
        print("skipped: no systemd-analyze (Debian package systemd; scripts/deps.sh test installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="ctlmirror-unit-")
    try:
        score, word, rc, out = analyze(unit)
        if not check(score is not None, f"no 'Overall exposure level' line for {unit}: {out[-800:]}"):
            return report("unit_file: cannot read the score")
        check(score <= MAX_EXPOSURE, f"{unit}: exposure {score} {word}, want {MAX_EXPOSURE} or better; "
              "the items still exposed:\n" + "\n".join(l for l in out.splitlines() if "✗" in l))
        check(word == "OK", f"{unit}: verdict {word}, want OK")
        _, _, rc20, out20 = analyze(unit, threshold=int(MAX_EXPOSURE * 10))
        check(rc20 == 0, f"--threshold={int(MAX_EXPOSURE * 10)} exited {rc20} for a score of {score}")

        # the measure can fail: the unit without its hardening
        bare = os.path.join(tmp, "ctlmirror-bare.service")
        with open(unit) as f, open(bare, "w") as g:
            for line in f:
                s = line.strip()
                if not s or s.startswith("[") or s.split("=", 1)[0] in BARE_KEYS:
                    g.write(line)
        bscore, bword, _, bout = analyze(bare)
        check(bscore is not None and bscore > MAX_EXPOSURE,
              f"the unhardened copy scores {bscore} {bword}: the check above could not fail: {bout[-400:]}")
        _, _, brc, _ = analyze(bare, threshold=int(MAX_EXPOSURE * 10))
        check(brc != 0, "--threshold did not fail the unhardened copy")

        # what the score does not weigh
        keys = settings(unit)
        nofile = keys.get("LimitNOFILE", ["0"])[-1]
        check(nofile.isdigit() and int(nofile) >= 8192,
              f"LimitNOFILE = {nofile!r}, want a number of at least 8192 (max_connections defaults to 4096)")
        check(keys.get("CapabilityBoundingSet") == [""],
              f"CapabilityBoundingSet = {keys.get('CapabilityBoundingSet')}, want one empty line")
        check(all(v == "" for v in keys.get("AmbientCapabilities", [])),
              f"AmbientCapabilities = {keys.get('AmbientCapabilities')}: the default port needs none")
        user = keys.get("User", [""])[-1]
        check(user not in ("", "root", "0"), f"User = {user!r}: the unit should not run ctlmirror as root")
        check(keys.get("UMask") == ["0027"], f"UMask = {keys.get('UMask')}, want 0027")
        check(keys.get("NoNewPrivileges") == ["yes"], "NoNewPrivileges=yes is missing")
        filters = keys.get("SystemCallFilter", [])
        check("@system-service" in filters, f"SystemCallFilter = {filters}: want @system-service")
        check(not any(f.startswith("~") and "@resources" in f for f in filters),
              f"SystemCallFilter = {filters} denies @resources: the daemon raises RLIMIT_NOFILE")
        check(keys.get("MemoryDenyWriteExecute") == ["yes"], "MemoryDenyWriteExecute=yes is missing")
        fams = " ".join(keys.get("RestrictAddressFamilies", [])).split()
        check(sorted(fams) == ["AF_INET", "AF_INET6", "AF_UNIX"],
              f"RestrictAddressFamilies = {fams}, want AF_INET AF_INET6 AF_UNIX")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(f"unit_file: {os.path.basename(unit)} exposure {score} {word}; unhardened copy {bscore}",
                  f"unit_file: {checks()} checks, {len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())
