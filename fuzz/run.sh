#!/bin/sh
# fuzz/run.sh - runs the libFuzzer targets of a CTLMIRROR_FUZZ build.
#
#   run.sh [--smoke] BUILD SECONDS [TARGET...]
#
# BUILD was configured with -DCTLMIRROR_FUZZ=ON and its fuzz_all target built
# (make fuzz does both). Makes forge's fixtures in BUILD/fuzz/fixtures when
# they are missing or older than forge (they are kept otherwise: fuzz_verify's
# anchors are that PKI, and the kept corpus grew against it), writes the seeds
# anew into BUILD/fuzz/seeds, then runs each TARGET (default: all) for SECONDS,
# FUZZ_JOBS at a time (default: the number of CPUs).
#   default  new inputs are kept in BUILD/fuzz/corpus/TARGET for the next run
#   --smoke  the seeds only; new inputs go to a scratch directory, removed after
# A crash, leak, UBSan report, slow input (over FUZZ_TIMEOUT s, default 10) or
# RSS over 2 GB fails the run: the report and the input (in hex) are printed,
# and the input is kept as BUILD/fuzz/artifacts/TARGET-crash-<sha1> (or
# leak-, timeout-, oom-). Logs: BUILD/fuzz/logs/TARGET.log.
set -eu

smoke=0
if [ "${1:-}" = "--smoke" ]; then
    smoke=1
    shift
fi
if [ $# -lt 2 ]; then
    echo "usage: fuzz/run.sh [--smoke] BUILD SECONDS [TARGET...]" >&2
    exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
secs=$2
shift 2
targets=${*:-cab ctl verify route config store}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
tmo=${FUZZ_TIMEOUT:-10}
dir=$build/fuzz

# The longest input each target is given.
max_len() {
    case $1 in
    cab | ctl | verify) echo 262144 ;;
    route | config) echo 8192 ;;
    store) echo 4096 ;;
    *) echo "fuzz: no target $1 (cab ctl verify route config store)" >&2; exit 2 ;;
    esac
}
for t in $targets; do
    max_len "$t" >/dev/null
    [ -x "$dir/fuzz_$t" ] || { echo "fuzz: $dir/fuzz_$t is not built" >&2; exit 2; }
done

if [ ! -f "$dir/fixtures/cases.tsv" ] ||
    [ -n "$(find "$build/tests/forge" -newer "$dir/fixtures/cases.tsv")" ]; then
    "$build/tests/forge" "$dir/fixtures" >/dev/null
fi
"$dir/fuzz_seeds" "$dir/fixtures" "$src/etc/ctlmirror.conf" "$dir/seeds"
mkdir -p "$dir/logs" "$dir/artifacts" "$dir/corpus"

export CTLMIRROR_FUZZ_FIXTURES="$dir/fixtures"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# One target: libFuzzer's own status (0: nothing found in the time).
run_one() {
    t=$1
    if [ $smoke -eq 1 ]; then
        corpus=$dir/smoke/$t
        rm -rf "$corpus"
    else
        corpus=$dir/corpus/$t
    fi
    mkdir -p "$corpus"
    rc=0
    # the outer timeout only guards against a fuzzer that stops answering
    timeout -k 10 $((secs * 2 + 60)) "$dir/fuzz_$t" \
        -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout="$tmo" \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/$t-" \
        "$corpus" "$dir/seeds/$t" >"$dir/logs/$t.log" 2>&1 || rc=$?
    [ $smoke -eq 1 ] && rm -rf "$corpus"
    return $rc
}

# A field of libFuzzer's last status line ("cov: 46 ft: 165 ...").
field() {
    grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s/.* $1: \([^ ]*\).*/\1/p"
}
stat() {
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=""
pids=""
n=0
start=$(date +%s)
wait_batch() {
    for pt in $pids; do
        if ! wait "${pt%%:*}"; then
            failed="$failed ${pt#*:}"
        fi
    done
    pids=""
    n=0
}
for t in $targets; do
    run_one "$t" &
    pids="$pids $!:$t"
    n=$((n + 1))
    [ $n -ge "$jobs" ] && wait_batch
done
wait_batch

for t in $targets; do
    log=$dir/logs/$t.log
    case " $failed " in *" $t "*) res=FAIL ;; *) res=ok ;; esac
    printf 'fuzz: %-7s %-4s runs %-9s exec/s %-7s cov %-5s ft %-5s corp %s\n' "$t" "$res" \
        "$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
        "$(field cov "$log")" "$(field ft "$log")" "$(field corp "$log")"
done
for t in $failed; do
    log=$dir/logs/$t.log
    echo "---- fuzz_$t found something ($log):"
    grep -vE '^#[0-9]+|^INFO: |^MS: ' "$log" | tail -n 60
    unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ -n "$unit" ] && [ -f "$unit" ]; then
        echo "---- the input, $unit ($(wc -c <"$unit") bytes), in hex (first 1024 bytes):"
        head -c 1024 "$unit" | od -An -tx1 -v | tr -d ' \n' | fold -w 128
        echo
    fi
done
echo "fuzz: $(echo "$targets" | wc -w) targets, ${secs}s each, $jobs at a time, $(($(date +%s) - start))s"
[ -z "$failed" ] || { echo "fuzz: FAILED:$failed"; exit 1; }
