#!/bin/sh
# wrk against `ctlmirror serve` and nginx serving the same cab and sequence file
# from disk, in one run on this machine: requests per second and p99 latency
# for both, each server's CPU time per request, and ctlmirror's resident
# memory. nginx and wrk are installed from Debian's packages when missing
# (scripts/deps.sh bench).
#
# usage: bench/serve/run.sh [BUILD_DIR]    (env: DURATION=5s CONNECTIONS=50 THREADS=2 ROUNDS=9)
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$build" && pwd)/ctlmirror
corpus=${CTLMIRROR_CORPUS:-$top/../shared/corpus}
duration=${DURATION:-5s}
conns=${CONNECTIONS:-50}
threads=${THREADS:-2}
rounds=${ROUNDS:-9}

"$top/scripts/deps.sh" bench
nginx=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
chmod 755 "$work"	# nginx's workers run as www-data: they must read the tree
cleanup() {
    [ -f "$work/ctlmirror.pid" ] && kill "$(cat "$work/ctlmirror.pid")" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    sleep 1
    rm -rf "$work"
}
trap cleanup EXIT

# the same served files for both
if [ -d "$corpus/authroot" ]; then
    file=$(ls -S "$corpus"/authroot/*.cab | head -1)
    "$bin" import --store "$work/store" --anchors "$corpus/anchors" --at 2024-06-01T00:00:00Z "$file" >/dev/null
else
    echo "corpus not found at $corpus: benchmarking a forged 500-entry CTL"
    "$build/tests/forge" "$work/fx" >/dev/null
    pins=""; for p in $(cat "$work/fx/pins.txt"); do pins="$pins --pin $p"; done
    # shellcheck disable=SC2086
    "$bin" import --store "$work/store" --anchors "$work/fx/anchors" $pins \
        --at 2024-06-01T00:00:00Z "$work/fx/cases/sha256-large.cab" >/dev/null
fi
"$bin" export --store "$work/store" "$work/root" >/dev/null
ls -l "$work/root"

cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log $work/nginx-access.log combined buffer=64k flush=1s;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { application/vnd.ms-cab-compressed cab; text/plain txt; }
    server { listen 127.0.0.1:18181; root $work/root; etag on; }
}
NGINX
printf 'poll_interval = 0\naccess_log = %s/ctlmirror-access.log\n' "$work" >"$work/ctlmirror.conf"

"$nginx" -c "$work/nginx.conf" -p "$work" &
"$bin" serve -c "$work/ctlmirror.conf" --store "$work/store" --listen 127.0.0.1:18182 2>"$work/ctlmirror.log" &
echo $! >"$work/ctlmirror.pid"
sleep 1

# CPU time (clock ticks) a server's processes have used: nginx's workers, or ctlmirror
ticks() {
    if [ "$1" = nginx ]; then pids=$(pgrep -P "$(cat "$work/nginx.pid")"); else pids=$(cat "$work/ctlmirror.pid"); fi
    t=0
    for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}
hz=$(getconf CLK_TCK)

# One wrk run against server $1 at URL $2: requests per second, p99, and the
# server's own CPU time per request (what the load generator's share hides).
run() {
    t0=$(ticks "$1")
    out=$(wrk -t"$threads" -c"$conns" -d"$duration" --latency "$2")
    t1=$(ticks "$1")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    us=$(echo "$t0 $t1 $hz $out" | awk 'NR == 1 {t = $2 - $1; hz = $3} / requests in / {printf "%.1f", t * 1e6 / hz / $1}')
    printf '%-10s %-16s %12s req/s   p99 %-9s %6s us CPU per request\n' "$1" "$(basename "$2")" "$rps" "$p99" "$us"
    echo "$rps" >"$work/last"
    echo "$us" >>"$work/cpu-$1"
}

# The median of the numbers in file $1, printed with format $2
median() {
    sort -n "$1" | awk -v fmt="$2" '{r[NR] = $1} END {printf fmt, NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2}'
}

# both must answer 200 with the same bytes, or the comparison means nothing
for f in authrootstl.cab authrootseq.txt; do
    for port in 18181 18182; do
        code=$(curl -s -o "$work/check" -w '%{http_code}' "http://127.0.0.1:$port/$f")
        if [ "$code" != 200 ] || ! cmp -s "$work/check" "$work/root/$f"; then
            echo "port $port answered $code for $f, not the exported bytes" >&2
            exit 1
        fi
    done
done

# wrk shares the cores with the servers, so one run moves by several per cent,
# and the machine drifts by up to a fifth within a minute: each server is
# warmed up first, then the two alternate in short runs, ROUNDS times, taking
# turns at going first so a drift favours neither, and the median of the
# per-round ratios counts.
echo "wrk -t$threads -c$conns -d$duration, $(nproc) cores, keep-alive, $rounds rounds"
for f in authrootstl.cab authrootseq.txt; do
    for port in 18181 18182; do
        wrk -t"$threads" -c"$conns" -d3s "http://127.0.0.1:$port/$f" >/dev/null
    done
    : >"$work/ratios"
    : >"$work/cpu-nginx"
    : >"$work/cpu-ctlmirror"
    i=0
    while [ "$i" -lt "$rounds" ]; do
        if [ $((i % 2)) -eq 0 ]; then
            run nginx "http://127.0.0.1:18181/$f"; n=$(cat "$work/last")
            run ctlmirror "http://127.0.0.1:18182/$f"; c=$(cat "$work/last")
        else
            run ctlmirror "http://127.0.0.1:18182/$f"; c=$(cat "$work/last")
            run nginx "http://127.0.0.1:18181/$f"; n=$(cat "$work/last")
        fi
        echo "$n $c" | awk '{printf "%.4f\n", $2 / $1}' >>"$work/ratios"
        i=$((i + 1))
    done
    printf '%-27s ctlmirror/nginx = %sx (median; rounds:%s)\n' "$f" "$(median "$work/ratios" %.2f)" \
        "$(sort -n "$work/ratios" | awk '{printf " %.2f", $1}')"
    printf '%-27s CPU per request (median): nginx %s us, ctlmirror %s us\n' "$f" \
        "$(median "$work/cpu-nginx" %.1f)" "$(median "$work/cpu-ctlmirror" %.1f)"
done
rss=$(ps -o rss= -p "$(cat "$work/ctlmirror.pid")")
echo "ctlmirror resident memory after the runs: $((rss / 1024)) MB ($rss KB)"
