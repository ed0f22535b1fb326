#!/usr/bin/env python3
"""The project's documents name only files that exist.

doc_links.py SOURCE_DIR

Every Markdown link to a relative target ([text](path) and [text](path#anchor)) and every
file name in backticks that looks like one of the project's own paths (docs/..., etc/..., tests/...,
a *.md name) must resolve to a file of the tree, from the document's directory or from the top.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, checks, report  # noqa: E402

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
TICK = re.compile(r"`((?:docs|etc|tests|bench|scripts|cmake|docker|fuzz|proxy|store|verify)/[A-Za-z0-9_./-]+"
                  r"|[A-Za-z0-9_.-]+\.md)`")


def exists(top, here, target):
    target = target.split("#", 1)[0]
    if not target:
        return True
    # a program is named by its source: tests/forge is built from tests/forge.c
    return any(os.path.exists(os.path.join(base, target + ext))
               for base in (here, top) for ext in ("", ".c", ".py"))


def main():
    top = os.path.abspath(sys.argv[1])
    docs = [os.path.join(top, "README.md")]
    for d in ("docs", "bench", "fuzz"):
        for root, _, files in os.walk(os.path.join(top, d)):
            docs += [os.path.join(root, f) for f in files if f.endswith(".md")]
    for doc in docs:
        text = open(doc, encoding="utf-8").read()
        here = os.path.dirname(doc)
        name = os.path.relpath(doc, top)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # a URL, not a file
            check(exists(top, here, target), "%s links to %s, which is not in the tree" % (name, target))
        for target in TICK.findall(text):
            if "*" in target or target.endswith("/"):
                continue
            check(exists(top, here, target), "%s names %s, which is not in the tree" % (name, target))
    return report("doc_links: %d references in %d documents checked" % (checks(), len(docs)))


if __name__ == "__main__":
    sys.exit(main())
