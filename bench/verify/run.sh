#!/bin/sh
# Verifications per second of the largest real authrootstl.cab in the shared
# corpus (or, without the corpus, a forged 500-entry CTL), pinned to one core.
# usage: bench/verify/run.sh [BUILD_DIR]
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
corpus=${CTLMIRROR_CORPUS:-$top/../shared/corpus}
if [ -d "$corpus/authroot" ]; then
    file=$(ls -S "$corpus"/authroot/*.cab | head -1)
    # the largest file: verify it at the middle of its chain window
    at=$("$build/ctlmirror" verify --json --anchors "$corpus/anchors" --at 2000-01-01 "$file" |
        python3 -c 'import json,sys,datetime as d
v=json.load(sys.stdin); f=lambda s: d.datetime.strptime(s,"%Y-%m-%dT%H:%M:%SZ")
a,b=f(v["chain_valid_from"]),f(v["chain_valid_to"]); print((a+(b-a)/2).strftime("%Y-%m-%dT%H:%M:%SZ"))')
    exec taskset -c 0 "$build/bench/verify/bench_verify" "$file" "$corpus/anchors" "$at" 5
fi
echo "corpus not found at $corpus: benchmarking a forged CTL instead"
fx=$(mktemp -d)
trap 'rm -rf "$fx"' EXIT
"$build/tests/forge" "$fx" >/dev/null
taskset -c 0 "$build/bench/verify/bench_verify" "$fx/cases/sha256-large.cab" "$fx/anchors" \
    2024-06-01T00:00:00Z 5 $(cat "$fx/pins.txt")
