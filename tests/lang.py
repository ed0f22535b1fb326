#!/usr/bin/env python3
"""English and Japanese: the language follows LANG/LC_MESSAGES or --lang, and only
words meant for people change.

lang.py CTLMIRROR FIXTURES SOURCE_DIR

- `LANG=ja_JP.UTF-8 ctlmirror verify` on an expired file explains it in Japanese, in
  the words of Windows' own event text; LANG=C, en_US or --lang en give English;
  --lang ja under LANG=C gives Japanese; --lang fr is a usage error.
- It needs no installed ja_JP.UTF-8 locale (none is installed on a fresh machine).
- `status` says health and its reasons in Japanese too.
- JSON output is the same bytes in both languages.
- po/ja.po translates every message the sources mark (xgettext over po/POTFILES,
  merged into po/ja.po: no message untranslated or fuzzy).
"""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, checks, fixture_trust, report  # noqa: E402

JA_4107 = "CAPI2 イベント 4107 を記録します"
JA_WINDOWS = "現在のシステム時計または署名ファイルのタイムスタンプで確認すると"
EN_4107 = "Windows clients would log CAPI2 event 4107"


def run(binary, args, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in ("LANG", "LANGUAGE")}
    e.update(env)
    return subprocess.run([binary, *args], capture_output=True, env=e, timeout=60)


def verify_lang(binary, fx):
    ok = os.path.join(fx, "cases", "authroot-ok.cab")
    base = ["verify", *fixture_trust(fx), "--at", "2025-06-01T00:00:00Z", ok]

    r = run(binary, base, LANG="ja_JP.UTF-8")
    out = r.stdout.decode("utf-8", "replace")
    check(r.returncode == 1 and JA_4107 in out and JA_WINDOWS in out and "EXPIRED" in out,
          "LANG=ja_JP.UTF-8: Japanese 4107 explanation with the reason code: %s" % out)
    check("有効期限が切れています" in out, "LANG=ja_JP.UTF-8: the reason's meaning in Japanese: %s" % out)
    check(EN_4107 not in out, "LANG=ja_JP.UTF-8: no English explanation left: %s" % out)

    r = run(binary, base, LC_MESSAGES="ja_JP.UTF-8", LANG="C")
    check(JA_4107 in r.stdout.decode("utf-8", "replace"), "LC_MESSAGES=ja_JP.UTF-8 over LANG=C: Japanese")
    r = run(binary, base, LC_ALL="ja_JP.UTF-8", LC_MESSAGES="en_US.UTF-8")
    check(JA_4107 in r.stdout.decode("utf-8", "replace"), "LC_ALL wins over LC_MESSAGES")

    for env in ({"LANG": "C"}, {"LANG": "en_US.UTF-8"}, {}):
        r = run(binary, base, **env)
        out = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 1 and EN_4107 in out and JA_4107 not in out, "%s: English: %s" % (env, out))

    r = run(binary, [base[0], "--lang", "ja", *base[1:]], LANG="C")
    check(JA_4107 in r.stdout.decode("utf-8", "replace"), "--lang ja under LANG=C: Japanese")
    r = run(binary, [base[0], "--lang", "en", *base[1:]], LANG="ja_JP.UTF-8")
    out = r.stdout.decode("utf-8", "replace")
    check(EN_4107 in out and JA_4107 not in out, "--lang en under LANG=ja_JP.UTF-8: English: %s" % out)
    r = run(binary, [base[0], "--lang", "fr", *base[1:]])
    check(r.returncode == 2 and b"--lang" in r.stderr, "--lang fr: usage error: %r" % r.stderr)

    j = ["verify", "--json", *base[1:]]
    en, ja = run(binary, j, LANG="C"), run(binary, j, LANG="ja_JP.UTF-8")
    check(en.stdout == ja.stdout and en.returncode == ja.returncode == 1,
          "--json is the same in both languages")


def status_lang(binary):
    """`status` on an empty store: every kind critical, said in the reader's language."""
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        made = run(binary, ["gc", "--store", store])      # a writing command creates it
        check(made.returncode == 0, "gc creates the empty store: %r" % made.stderr)
        en = run(binary, ["status", "--store", store], LANG="C")
        ja = run(binary, ["status", "--store", store], LANG="ja_JP.UTF-8")
        en_out, ja_out = en.stdout.decode(), ja.stdout.decode("utf-8", "replace")
        check(en.returncode == 1 and "authroot: critical" in en_out and "nothing servable" in en_out,
              "status in English: %s" % en_out)
        check(ja.returncode == 1 and "authroot: 重大" in ja_out and "配信できる版がありません" in ja_out
              and "nothing servable" not in ja_out, "status in Japanese: %s" % ja_out)
        js_en = run(binary, ["status", "--json", "--store", store], LANG="C")
        js_ja = run(binary, ["status", "--json", "--store", store], LANG="ja_JP.UTF-8")
        check(js_en.stdout == js_ja.stdout and b"nothing servable" in js_ja.stdout,
              "status --json keeps English reasons in both languages")


def po_complete(src):
    files = [line.strip() for line in open(os.path.join(src, "po", "POTFILES"))
             if line.strip() and not line.startswith("#")]
    with tempfile.TemporaryDirectory() as tmp:
        pot, merged = os.path.join(tmp, "ctlmirror.pot"), os.path.join(tmp, "ja.po")
        r = subprocess.run(["xgettext", "--from-code=UTF-8", "-k_", "-kN_", "-kngettext:1,2",
                            "--package-name=ctlmirror", "--msgid-bugs-address=", "-o", pot, *files],
                           cwd=src, capture_output=True, text=True)
        check(r.returncode == 0, "xgettext: %s" % r.stderr)
        r = subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", "-o", merged,
                            os.path.join(src, "po", "ja.po"), pot], capture_output=True, text=True)
        check(r.returncode == 0, "msgmerge: %s" % r.stderr)
        r = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, merged],
                           capture_output=True, text=True)
        stats = r.stderr.strip()
        check(r.returncode == 0 and "untranslated" not in stats and "fuzzy" not in stats,
              "po/ja.po translates every marked message (run make po): %s" % stats)
        # every file that calls _() is listed
        marked = subprocess.run(["grep", "-rlE", r"\b(_|N_|ngettext)\(\"", "proxy", "store", "verify"],
                                cwd=src, capture_output=True, text=True).stdout.split()
        missing = sorted(set(marked) - set(files))
        check(not missing, "po/POTFILES lists every source with messages: missing %s" % missing)


def main():
    binary, fx, src = sys.argv[1], sys.argv[2], sys.argv[3]
    verify_lang(binary, fx)
    status_lang(binary)
    po_complete(src)
    return report("lang: %d checks" % checks())


if __name__ == "__main__":
    sys.exit(main())
