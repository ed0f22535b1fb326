#!/usr/bin/env python3
"""make install and make deb, from one build directory.

install.py BUILD_DIR

- `cmake --install BUILD --prefix /usr/local` under a DESTDIR lays out exactly the
  expected tree: the binary, the manual page, the config in /etc/ctlmirror, the
  systemd unit naming the installed binary, the sysusers.d entry for the ctlmirror
  user and the tmpfiles.d entry for the store the config names, and the docs.
- `cpack -G DEB` builds a package whose file list (dpkg-deb -c) is the same tree
  under /usr, with the config as a conffile, its library dependencies listed, and
  maintainer scripts that are valid sh.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, report  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, env=None):
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)


def tree(root):
    """Every file under root, as absolute paths of the installed system."""
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            out.add("/" + os.path.relpath(os.path.join(d, f), root))
    return out


def expected(prefix):
    docs = {"README.md"} | {f for f in os.listdir(os.path.join(SRC, "docs")) if f.endswith(".md")}
    return ({"/etc/ctlmirror/ctlmirror.conf",
             prefix + "/bin/ctlmirror",
             prefix + "/share/man/man1/ctlmirror.1",
             prefix + "/lib/systemd/system/ctlmirror.service",
             prefix + "/lib/sysusers.d/ctlmirror.conf",
             prefix + "/lib/tmpfiles.d/ctlmirror.conf",
             prefix + "/share/locale/ja/LC_MESSAGES/ctlmirror.mo"}
            | {prefix + "/share/doc/ctlmirror/" + d for d in docs})


def install(build, prefix, destdir):
    env = dict(os.environ, DESTDIR=destdir)
    r = run("cmake", "--install", build, "--prefix", prefix, env=env)
    check(r.returncode == 0, "cmake --install --prefix %s: %s" % (prefix, r.stderr.strip()))
    return tree(destdir)


def check_tree(root, prefix):
    got = tree(root)
    want = expected(prefix)
    check(got == want, "installed tree under %s: missing %s, unexpected %s"
          % (prefix, sorted(want - got), sorted(got - want)))
    unit = open(root + prefix + "/lib/systemd/system/ctlmirror.service").read()
    check(re.search(r"^ExecStart=%s/bin/ctlmirror serve " % re.escape(prefix), unit, re.M),
          "the unit starts the installed binary %s/bin/ctlmirror: %s"
          % (prefix, re.findall(r"^ExecStart=.*", unit, re.M)))
    users = open(root + prefix + "/lib/sysusers.d/ctlmirror.conf").read()
    check(re.search(r"^u ctlmirror ", users, re.M), "sysusers.d creates the ctlmirror user")
    unit_user = re.findall(r"^User=(\S+)", unit, re.M)
    check(unit_user in ([], ["ctlmirror"]), "the unit runs as the sysusers.d user: %s" % unit_user)
    tmp = open(root + prefix + "/lib/tmpfiles.d/ctlmirror.conf").read()
    conf = open(root + "/etc/ctlmirror/ctlmirror.conf").read()
    store = re.search(r"^store = (\S+)", conf, re.M).group(1)
    check(re.search(r"^d %s 0750 ctlmirror ctlmirror" % re.escape(store), tmp, re.M),
          "tmpfiles.d creates the config's store %s for ctlmirror" % store)
    binary = root + prefix + "/bin/ctlmirror"
    check(os.access(binary, os.X_OK), "the installed binary is executable")
    r = run(binary, "--version")
    check(r.returncode == 0 and r.stdout.startswith("ctlmirror "), "installed binary runs: %r" % r.stdout)


def check_docker():
    """docker/ cannot be built here (no daemon): its shape is checked instead."""
    text = open(os.path.join(SRC, "docker", "Dockerfile")).read()
    stages = re.findall(r"^FROM (\S+) AS (\S+)", text, re.M)
    check([n for _, n in stages] == ["build", "runtime"], "Dockerfile has a build and a runtime stage: %s" % stages)
    build, _, runtime = text.partition("\nFROM debian:12-slim AS runtime")
    check("./scripts/deps.sh" in build and "make build deb" in build,
          "the build stage uses the project's own set-up and build (scripts/deps.sh, make)")
    user = re.findall(r"^USER (\S+)", runtime, re.M)
    check(user == ["ctlmirror"], "the runtime stage runs as the unprivileged user: %s" % user)
    check(re.search(r"^HEALTHCHECK .*\n?.*/_ctlmirror/healthz", runtime, re.M),
          "HEALTHCHECK asks /_ctlmirror/healthz")
    conf = open(os.path.join(SRC, "etc", "ctlmirror.conf")).read()
    store = re.search(r"^store = (\S+)", conf, re.M).group(1)
    check('VOLUME ["%s"]' % store in runtime, "the store %s is a volume" % store)
    compose = open(os.path.join(SRC, "docker", "compose.yaml")).read()
    check("dockerfile: docker/Dockerfile" in compose and ":%s" % store in compose,
          "compose builds docker/Dockerfile and keeps the store on a volume")


def main():
    check_docker()
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "local")
        install(build, "/usr/local", local)
        check_tree(local, "/usr/local")

        usr = os.path.join(tmp, "usr")
        want = install(build, "/usr", usr)
        check_tree(usr, "/usr")

        out = os.path.join(tmp, "deb")
        r = run("cpack", "-G", "DEB", "-B", out, "--config", os.path.join(build, "CPackConfig.cmake"))
        check(r.returncode == 0, "cpack -G DEB: %s" % (r.stderr.strip() or r.stdout[-500:]))
        debs = [f for f in os.listdir(out) if f.endswith(".deb")] if os.path.isdir(out) else []
        if check(len(debs) == 1, "one package built: %s" % debs):
            deb = os.path.join(out, debs[0])
            r = run("dpkg-deb", "-c", deb)
            files = {line.split()[-1][1:] for line in r.stdout.splitlines() if not line.startswith("d")}
            check(files == want, "dpkg-deb -c matches make install under /usr: missing %s, unexpected %s"
                  % (sorted(want - files), sorted(files - want)))
            info = run("dpkg-deb", "-f", deb, "Package", "Depends").stdout
            check("Package: ctlmirror" in info, "package name: %s" % info)
            for lib in ("libssl3", "libevent-2.1-7", "liblmdb0", "libmspack0", "libcurl4"):
                check(lib in info, "Depends names %s: %s" % (lib, info))
            ctrl = os.path.join(tmp, "control")
            run("dpkg-deb", "-e", deb, ctrl)
            conff = open(os.path.join(ctrl, "conffiles")).read().split()
            check(conff == ["/etc/ctlmirror/ctlmirror.conf"], "conffiles: %s" % conff)
            for script in ("postinst", "prerm", "postrm"):
                p = os.path.join(ctrl, script)
                check(os.access(p, os.X_OK), "%s is executable" % script)
                r = run("sh", "-n", p)
                check(r.returncode == 0, "%s is valid sh: %s" % (script, r.stderr))
            post = open(os.path.join(ctrl, "postinst")).read()
            check("systemd-sysusers" in post and "systemctl enable" in post,
                  "postinst creates the user and enables the service")
            x = os.path.join(tmp, "x")
            run("dpkg-deb", "-x", deb, x)
            unit = open(x + "/usr/lib/systemd/system/ctlmirror.service").read()
            check("ExecStart=/usr/bin/ctlmirror " in unit, "the package's unit starts /usr/bin/ctlmirror")
    return report("install: make install and make deb checked")


if __name__ == "__main__":
    sys.exit(main())
