#!/usr/bin/env python3
"""Windows clients: `ctlmirror client-setup` and the PAC file.

setup (no daemon):
  - every way and format the command offers is read back by a parser written here, not by eye:
    a .reg parser (the "Windows Registry Editor Version 5.00" header, [key] sections, "name"=value
    lines with their escapes, "name"=- deletions, CRLF line ends, ASCII only) and a tokenizer of
    PowerShell's syntax (comments, single- and double-quoted strings with their escapes,
    variables, brackets balanced); the RootDirURL value, the WinHTTP proxy, the deleted
    EncodedCtl/LastSyncTime values and the two certutil commands are found in what they parsed,
    each URL byte for byte (a URL carrying $, &, ;, ( and ) stays a literal);
  - hostile URLs are refused with exit 2 and nothing on stdout: quotes, backquote, backslash,
    spaces, control bytes, non-ASCII, user@host, a query or fragment, bad ports, a bad %-escape,
    other schemes, over 512 bytes; for the proxy way https or a path; a .reg for the proxy way;
    bad options.

pac (a daemon, an empty store):
  - /_ctlmirror/proxy.pac is 200 with Content-Type application/x-ns-proxy-autoconfig, also with
    operator_allow excluding the client (the PAC file is for every client);
  - node evaluates it in an empty context (no PAC helper functions defined: it uses none):
    plain-HTTP requests for the two mirrored names (any case, a root dot) under the upstream
    path go to PROXY 127.0.0.1:PORT, the address the client used; example.com, HTTPS, other
    paths on the same hosts and look-alike names go DIRECT;
  - the Host header names the proxy when it is a valid host:port (mirror.corp:8080), and a
    hostile one (quotes, script) is not echoed: the connection's own address is named instead;
  - the address the PAC file names is a working proxy: curl through it reaches the mirror.

usage: clients.py setup CTLMIRROR
       clients.py pac CTLMIRROR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Broken, Daemon, check, checks, curl, failures, report, write_config  # noqa: E402

KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate"
PS_KEY = r"HKLM:\SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate"
UPATH = "/msdownload/update/v3/static/trustedr/en/"


# ---------------------------------------------------------------- a .reg parser

class RegError(Exception):
    pass


def reg_string(s, i):
    """The "..." string starting at s[i]: (value, index after the closing quote)."""
    if s[i] != '"':
        raise RegError(f"expected a quote at {i}: {s!r}")
    out, i = [], i + 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in '\\"':
                raise RegError(f"bad escape in {s!r}")
            out.append(s[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise RegError(f"unterminated string: {s!r}")


def parse_reg(data):
    """{key: {value name: string, or None for a deletion}} of a version 5.00 .reg text."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise RegError("not ASCII")
    if not text.endswith("\r\n") or re.search(r"(?<!\r)\n", text) or re.search(r"\r(?!\n)", text):
        raise RegError("lines do not all end in CRLF")
    lines = text[:-2].split("\r\n")
    if lines[0] != "Windows Registry Editor Version 5.00":
        raise RegError(f"header {lines[0]!r}")
    keys, cur = {}, None
    for line in lines[1:]:
        if line == "" or line.startswith(";"):
            continue
        if line.startswith("["):
            if not line.endswith("]") or line.startswith("[-"):
                raise RegError(f"bad section {line!r}")
            cur = line[1:-1]
            if not cur.startswith("HKEY_LOCAL_MACHINE\\") or "]" in cur or "[" in cur:
                raise RegError(f"bad key {cur!r}")
            keys.setdefault(cur, {})
            continue
        if cur is None:
            raise RegError(f"a value outside a section: {line!r}")
        name, i = reg_string(line, 0)
        if line[i:i + 1] != "=":
            raise RegError(f"no '=' after the name: {line!r}")
        rest = line[i + 1:]
        if rest == "-":
            keys[cur][name] = None
        elif rest.startswith('"'):
            value, j = reg_string(rest, 0)
            if j != len(rest):
                raise RegError(f"bytes after the value: {line!r}")
            keys[cur][name] = value
        elif re.fullmatch(r"dword:[0-9a-f]{8}", rest):
            keys[cur][name] = int(rest[6:], 16)
        else:
            raise RegError(f"bad value {line!r}")
    return keys


# ---------------------------------------------------------------- a PowerShell tokenizer

class PsError(Exception):
    pass


def ps_tokens(text):
    """PowerShell's tokens, as (kind, value): kinds nl, str (single-quoted, value decoded),
    dstr (double-quoted: the raw text between the quotes), var, word, op. Comments are dropped.
    Raises PsError on an unterminated string, an unbalanced bracket or a byte it does not know."""
    toks, stack, i, n = [], [], 0, len(text)
    pairs = {"(": ")", "{": "}", "[": "]", "@(": ")"}
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
        elif c == "\r" and text[i + 1:i + 2] == "\n" or c == "\n":
            toks.append(("nl", "\n"))
            i += 2 if c == "\r" else 1
        elif c == "\r":
            raise PsError("a bare CR")
        elif text.startswith("<#", i):
            j = text.find("#>", i + 2)
            if j < 0:
                raise PsError("unterminated block comment")
            i = j + 2
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            if text[i - 1:i] == "\r":
                i -= 1
        elif c == "'":
            out, i = [], i + 1
            while True:
                if i >= n:
                    raise PsError("unterminated single-quoted string")
                if text[i] == "'":
                    if text[i + 1:i + 2] == "'":
                        out.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                out.append(text[i])
                i += 1
            toks.append(("str", "".join(out)))
        elif c == '"':
            j = i + 1
            while True:
                if j >= n:
                    raise PsError("unterminated double-quoted string")
                if text[j] == "`":
                    j += 2
                    continue
                if text[j] == '"':
                    if text[j + 1:j + 2] == '"':
                        j += 2
                        continue
                    break
                j += 1
            toks.append(("dstr", text[i + 1:j]))
            i = j + 1
        elif c == "$":
            m = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*").match(text, i)
            if not m:
                raise PsError(f"a bare $ at {i}")
            toks.append(("var", m.group(0)))
            i = m.end()
        elif text.startswith("@(", i) or c in "({[":
            op = "@(" if c == "@" else c
            stack.append(pairs[op])
            toks.append(("op", op))
            i += len(op)
        elif c in ")}]":
            if not stack or stack.pop() != c:
                raise PsError(f"unbalanced {c!r} at {i}")
            toks.append(("op", c))
            i += 1
        elif c in "|&=,;":
            toks.append(("op", c))
            i += 1
        else:
            m = re.compile(r"[A-Za-z0-9_.:\\*@<>=+/-]+").match(text, i)
            if not m:
                raise PsError(f"unexpected {c!r} at {i}")
            toks.append(("word", m.group(0)))
            i = m.end()
    if stack:
        raise PsError(f"unclosed brackets, expecting {stack}")
    return toks


def ps_statements(toks):
    """Statements: the tokens between newlines (and ';'), brackets left in."""
    out, cur = [], []
    for t in toks:
        if t[0] == "nl" or t == ("op", ";"):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        out.append(cur)
    return out


PS_COMMANDS = {"New-ItemProperty", "Remove-ItemProperty", "Test-Path", "New-Item", "Out-Null",
               "Write-Warning", "Write-Output", "throw", "if", "foreach"}


def ps_check(text, url, way, proxy):
    """What the script does, from its tokens; checks counted."""
    toks = ps_tokens(text)
    stmts = ps_statements(toks)
    words = [t[1] for t in toks if t[0] == "word" and t[1][:1].isupper() and "-" in t[1]]
    check(set(words) <= PS_COMMANDS, f"ps1 calls cmdlets outside {PS_COMMANDS}: {set(words) - PS_COMMANDS}")
    for t in toks:
        if t[0] == "dstr":
            check(set(re.findall(r"\$\w+", t[1])) <= {"$LASTEXITCODE"} and "$(" not in t[1],
                  f"a double-quoted string expands more than $LASTEXITCODE: {t[1]!r}")
            check(url not in t[1], f"the URL sits in a double-quoted (expanding) string: {t[1]!r}")
    check(("var", "$key") in toks and any(s[:3] == [("var", "$key"), ("op", "="), ("str", PS_KEY)] for s in stmts),
          f"ps1 does not set $key = '{PS_KEY}'")
    calls = {}
    for s in stmts:
        if s[0] == ("op", "&") and len(s) > 1:
            calls.setdefault(s[1][1], []).append([t[1] for t in s[2:] if t[0] in ("word", "str")])
    certutil = calls.get("certutil.exe", [])
    check(any(a[:3] == ["-urlcache", "*", "delete"] for a in certutil), f"no certutil -urlcache * delete: {certutil}")
    check(any(a[:3] == ["-setreg", "chain\\ChainCacheResyncFiletime", "@now"] for a in certutil),
          f"no certutil -setreg chain\\ChainCacheResyncFiletime @now: {certutil}")
    removed = [t[1] for s in stmts if s[:1] == [("word", "foreach")] for t in s if t[0] == "str"]
    rm = [s for s in stmts if s[:1] == [("word", "Remove-ItemProperty")]]
    check({"EncodedCtl", "LastSyncTime"} <= set(removed) and rm and ("var", "$name") in rm[0],
          f"EncodedCtl/LastSyncTime not removed: {removed}")
    newprop = [s for s in stmts if s[:1] == [("word", "New-ItemProperty")]]
    netsh = calls.get("netsh.exe", [])
    if way == "rootdir":
        got = None
        for s in newprop:
            for k, t in enumerate(s[:-1]):
                if t == ("word", "-Value"):
                    got = s[k + 1]
        check(len(newprop) == 1 and ("str", "RootDirURL") in newprop[0] and got == ("str", url),
              f"rootdir ps1: RootDirURL value token {got!r}, want the single-quoted {url!r}")
        check(not netsh, f"rootdir ps1 runs netsh: {netsh}")
    else:
        check(netsh == [["winhttp", "set", "proxy", f"proxy-server=http={proxy}", "bypass-list=<local>"]],
              f"proxy ps1: netsh {netsh}, want winhttp set proxy proxy-server=http={proxy}")
        check(not newprop, "proxy ps1 sets a registry value besides removing the cached list")


# ---------------------------------------------------------------- setup

def run(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, timeout=30)


def setup(binary):
    urls = ["http://ctlmirror.corp/", "https://ctlmirror.corp:8443/ctl/",
            "http://10.0.0.5:8080", "http://[2001:db8::5]/trustedr/",
            "http://m.example/a$b&c;d=(1)/%41~!*+,@x/"]
    for url in urls:
        r = run(binary, "client-setup", "--url", url, "--format", "reg")
        if check(r.returncode == 0 and not r.stderr, f"client-setup reg {url}: exit {r.returncode} {r.stderr!r}"):
            try:
                keys = parse_reg(r.stdout)
                check(keys == {KEY: {"RootDirURL": url, "EncodedCtl": None, "LastSyncTime": None}},
                      f"reg {url}: parsed {keys}")
            except RegError as e:
                check(False, f"reg {url} does not parse: {e}: {r.stdout!r}")
        for args in ([], ["--format", "ps1"], ["--way", "rootdir", "--format", "ps1"]):
            r = run(binary, "client-setup", "--url", url, *args)
            if check(r.returncode == 0 and not r.stderr, f"client-setup ps1 {url} {args}: exit {r.returncode} {r.stderr!r}"):
                try:
                    text = r.stdout.decode("ascii")
                    check("\r\n" in text and not re.search(r"(?<!\r)\n", text), f"ps1 {url}: lines not CRLF")
                    ps_check(text, url, "rootdir", None)
                except (PsError, UnicodeDecodeError) as e:
                    check(False, f"ps1 {url} does not tokenize: {e}: {r.stdout!r}")
    for url, proxy in (("http://ctlmirror.corp:8080/", "ctlmirror.corp:8080"), ("http://ctlmirror.corp", "ctlmirror.corp:80"),
                       ("http://[fd00::1]:3128", "[fd00::1]:3128")):
        r = run(binary, "client-setup", "--url", url, "--way", "proxy")
        if check(r.returncode == 0, f"client-setup proxy {url}: exit {r.returncode} {r.stderr!r}"):
            try:
                ps_check(r.stdout.decode("ascii"), url, "proxy", proxy)
            except (PsError, UnicodeDecodeError) as e:
                check(False, f"proxy ps1 {url} does not tokenize: {e}: {r.stdout!r}")

    hostile = ['http://m/a"b', "http://m/a'b", "http://m/a`b", "http://m/a\\b", "http://m/a b",
               "http://m/a\tb", "http://m/a\nb", "http://m/a\rb", "http://m/\x7f", "http://m\u00e9.test/",
               "http://user@m/", "http://m/?q=1", "http://m/#x", "http://m:0/", "http://m:65536/",
               "http://m:8o/", "http://m/%zz", "http://m/%4", "ftp://m/", "javascript:alert(1)", "file://m/x",
               "http://", "http:///x", "http://-m/", "http://[zz::1]/", "m/", "", "http://m/" + "a" * 520,
               "http://m/a<b", "http://m/a>b", "http://m/{x}", "http://m/a|b", "http://m/a^b"]
    for url in hostile:
        for fmt in ("reg", "ps1"):
            r = run(binary, "client-setup", "--url", url, "--format", fmt)
            check(r.returncode == 2 and r.stdout == b"" and b"client-setup" in r.stderr,
                  f"hostile URL {url!r} ({fmt}): exit {r.returncode}, stdout {r.stdout[:80]!r}, stderr {r.stderr!r}")
    for args in (["--url", "https://m:8443/", "--way", "proxy"], ["--url", "http://m:8080/ctl/", "--way", "proxy"],
                 ["--url", "http://m:8080/", "--way", "proxy", "--format", "reg"],
                 ["--url", "http://m/", "--way", "dns"], ["--url", "http://m/", "--format", "bat"],
                 [], ["--url"], ["--url", "http://m/", "extra"], ["--bogus"]):
        r = run(binary, "client-setup", *args)
        check(r.returncode == 2 and r.stdout == b"", f"client-setup {args}: exit {r.returncode}, stdout {r.stdout[:80]!r}")
    r = run(binary, "client-setup", "--url", "http://m:8080/", "--way", "proxy", "--format", "reg")
    check(b".reg file cannot set the WinHTTP proxy" in r.stderr, f"reg+proxy refusal does not say why: {r.stderr!r}")
    r = run(binary, "client-setup", "--help")
    check(r.returncode == 0 and b"RootDirURL" in r.stdout and b"--format" in r.stdout, f"client-setup --help: {r}")
    r = run(binary, "--help")
    check(b"client-setup" in r.stdout, "ctlmirror --help does not list client-setup")


# ---------------------------------------------------------------- pac

NODE_HARNESS = r"""
const fs = require('fs'), vm = require('vm');
const text = fs.readFileSync(process.argv[2], 'utf8');
const ctx = vm.createContext({});      // no PAC helpers: the file must need none
vm.runInContext(text, ctx, { timeout: 2000 });
const cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
console.log(JSON.stringify(cases.map(([u, h]) => ctx.FindProxyForURL(u, h))));
"""


def node_eval(node, tmp, pac, cases):
    pf, cf, hf = (os.path.join(tmp, n) for n in ("proxy.pac", "cases.json", "harness.js"))
    with open(pf, "wb") as f:
        f.write(pac)
    with open(cf, "w") as f:
        json.dump(cases, f)
    with open(hf, "w") as f:
        f.write(NODE_HARNESS)
    r = subprocess.run([node, hf, pf, cf], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise Broken(f"node could not evaluate the PAC file: {r.stderr.strip()[-800:]}\n{pac.decode(errors='replace')}")
    return json.loads(r.stdout)


def pac(binary):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise Broken("node is not installed (Debian package nodejs, in scripts/deps.sh test)")
    tmp = tempfile.mkdtemp(prefix="ctlmirror-clients-")
    try:
        store = os.path.join(tmp, "store")
        anchors = os.path.join(tmp, "anchors")
        os.mkdir(anchors)
        cfg = write_config(os.path.join(tmp, "c.conf"), store, anchors, operator_allow="10.0.0.0/8")
        d = Daemon(binary, cfg, tmp).start()
        mine = f"PROXY 127.0.0.1:{d.port}"
        r = d.get("/_ctlmirror/proxy.pac")
        check(r.code == 200 and (r.h("content-type") or "").startswith("application/x-ns-proxy-autoconfig"),
              f"proxy.pac: {r.code} {r.h('content-type')} (operator_allow excludes us: it must not matter)")
        cases = [
            ("http://ctldl.windowsupdate.com" + UPATH + "authrootstl.cab", "ctldl.windowsupdate.com", mine),
            ("http://www.download.windowsupdate.com" + UPATH + "disallowedcertstl.cab?65a46256fe8dfaa0",
             "www.download.windowsupdate.com", mine),
            ("http://CTLDL.WINDOWSUPDATE.COM" + UPATH + "authrootseq.txt", "CTLDL.WINDOWSUPDATE.COM", mine),
            ("http://ctldl.windowsupdate.com." + UPATH + "pinrulesstl.cab", "ctldl.windowsupdate.com.", mine),
            ("HTTP://ctldl.windowsupdate.com" + UPATH + "0123456789ABCDEF0123456789ABCDEF01234567.crt",
             "ctldl.windowsupdate.com", mine),
            ("http://example.com/", "example.com", "DIRECT"),
            ("https://ctldl.windowsupdate.com" + UPATH + "authrootstl.cab", "ctldl.windowsupdate.com", "DIRECT"),
            ("http://www.download.windowsupdate.com/msdownload/update/software/secu/x.cab",
             "www.download.windowsupdate.com", "DIRECT"),
            ("http://ctldl.windowsupdate.com/", "ctldl.windowsupdate.com", "DIRECT"),
            ("http://ctldl.windowsupdate.com.evil.test" + UPATH + "authrootstl.cab", "ctldl.windowsupdate.com.evil.test", "DIRECT"),
            ("http://xctldl.windowsupdate.com" + UPATH + "authrootstl.cab", "xctldl.windowsupdate.com", "DIRECT"),
            ("http://windowsupdate.com" + UPATH + "authrootstl.cab", "windowsupdate.com", "DIRECT"),
        ]
        got = node_eval(node, tmp, r.body, [[u, h] for u, h, _ in cases])
        for (u, h, want), g in zip(cases, got):
            check(g == want, f"FindProxyForURL({u!r}, {h!r}) = {g!r}, want {want!r}")
        # the address named is a working proxy: the mirror answers through it (503: the store is empty)
        via = curl("-x", f"http://127.0.0.1:{d.port}", cases[0][0])
        check(via.code in (200, 503) and b"too many" not in via.body,
              f"the proxy the PAC names does not answer as the mirror: {via}")
        r = d.get("/_ctlmirror/proxy.pac", "-H", "Host: mirror.corp:8080")
        got = node_eval(node, tmp, r.body, [[u, h] for u, h, _ in cases[:1] + cases[5:6]])
        check(got == ["PROXY mirror.corp:8080", "DIRECT"], f"PAC for Host: mirror.corp:8080 gives {got}")
        for host in ('a";alert(1);//', "mirror.corp:80\"", "x y", "evil:99999", "<script>"):
            r = d.get("/_ctlmirror/proxy.pac", "-H", f"Host: {host}")
            ok = check(r.code == 200 and host.encode() not in r.body, f"hostile Host {host!r}: {r.code}, echoed: {host.encode() in r.body}")
            if ok:
                got = node_eval(node, tmp, r.body, [[cases[0][0], cases[0][1]]])
                check(got == [mine], f"hostile Host {host!r}: the PAC names {got}, want the connection's own {mine}")
        r = d.get("/_ctlmirror/proxy.pac", "-I")
        check(r.code == 200 and r.h("content-length") not in (None, "0"), f"HEAD proxy.pac: {r.code} {r.headers}")
        d.stop_checked()
    finally:
        Daemon.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("setup", "pac"):
        print(__doc__)
        return 2
    try:
        (setup if sys.argv[1] == "setup" else pac)(sys.argv[2])
    except Broken as e:
        check(False, f"broken: {e}")
    return report(f"clients {sys.argv[1]}: {checks()} checks, {len(failures)} failed")


if __name__ == "__main__":
    sys.exit(main())
