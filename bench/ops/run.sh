#!/bin/sh
# The operator endpoints on a big store: a store with VERSIONS stored versions
# (the three forged kinds, then copies of a forged authroot CTL whose signature
# fails, each with a different trailing byte string: quarantined, every one its
# own version), served by `ctlmirror serve`; with wrk, the latency of one
# metrics and one status.json request at a time, then the cab's latency alone
# and while SCRAPERS connections fetch the metrics as fast as they can.
# Everything on 127.0.0.1, ports chosen by the kernel.
#
# usage: bench/ops/run.sh [BUILD_DIR]    (env: VERSIONS=5000 SCRAPERS=8 DURATION=5s;
#        STORE=DIR keeps the store there and reuses it when it exists: the import takes minutes)
set -eu
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/ctlmirror
versions=${VERSIONS:-5000}
scrapers=${SCRAPERS:-8}
duration=${DURATION:-5s}

command -v wrk >/dev/null || "$top/scripts/deps.sh" bench

work=$(mktemp -d)
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

store=${STORE:-$work/store}
fx=${STORE:+$STORE.fx}
fx=${fx:-$work/fx}
fresh=1
[ -d "$store" ] && fresh=0
[ -d "$fx" ] || "$build/tests/forge" "$fx" >/dev/null
cat >"$work/ctlmirror.conf" <<EOF
store = $store
anchors = $fx/anchors
poll_interval = 0
upstream = http://127.0.0.1:9/
EOF
for p in $(cat "$fx/pins.txt"); do echo "anchor_pin = $p" >>"$work/ctlmirror.conf"; done

# the store: three served kinds, then versions - 3 quarantined copies, imported in batches
[ "$fresh" = 1 ] && "$bin" import -c "$work/ctlmirror.conf" --at 2024-06-01T00:00:00Z \
    "$fx/cases/authroot-ok.cab" "$fx/cases/disallowed-ok.cab" "$fx/cases/pinrules-ok.cab" >/dev/null
mkdir "$work/copies"
[ "$fresh" = 1 ] && python3 - "$fx/cases/wrong-key.cab" "$work/copies" $((versions - 3)) <<'PY'
import os, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
for i in range(n):
    with open(os.path.join(out, f"c{i:06d}.cab"), "wb") as f:
        f.write(data + b"%08d" % i)
PY
t0=$(date +%s)
find "$work/copies" -name '*.cab' | sort | xargs -r -n 500 "$bin" import -c "$work/ctlmirror.conf" \
    --at 2024-06-01T00:00:00Z >/dev/null || true
echo "store: $("$bin" versions -c "$work/ctlmirror.conf" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') versions (imported in $(( $(date +%s) - t0 ))s)"

"$bin" serve -c "$work/ctlmirror.conf" --listen 127.0.0.1:0 --now 2024-06-01T00:00:00Z \
    >"$work/access.log" 2>"$work/serve.stderr" &
pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$work/serve.stderr" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/serve.stderr"; exit 1; }
base=http://127.0.0.1:$port
curl -sf "$base/_ctlmirror/metrics" | grep 'ctlmirror_store_versions{kind="authroot",status="quarantined"}'

# "p50 p99 requests/s" of a wrk run with --latency
lat() {
    wrk --latency -t1 "$@" | awk '
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /^Requests\/sec/ { rps = $2 }
        END { printf "p50 %s  p99 %s  %s req/s\n", p50, p99, rps }'
}

echo "one request at a time, $duration each:"
echo "  metrics      $(lat -c1 -d"$duration" "$base/_ctlmirror/metrics")"
echo "  status.json  $(lat -c1 -d"$duration" "$base/_ctlmirror/status.json")"
echo "  cab alone    $(lat -c1 -d"$duration" "$base/authrootstl.cab")"
wrk -t1 -c"$scrapers" -d"$(( ${duration%s} + 2 ))s" "$base/_ctlmirror/metrics" >"$work/scrapers.txt" &
scr=$!
sleep 1		# the scrapers are running
echo "  cab with $scrapers scrapers  $(lat -c1 -d"$duration" "$base/authrootstl.cab")"
wait "$scr"
echo "  (the scrapers: $(awk '/^Requests\/sec/ { print $2 }' "$work/scrapers.txt") metrics req/s)"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
