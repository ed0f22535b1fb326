#!/bin/sh
# Installs the Debian packages ctlmirror needs, when any is missing.
#   deps.sh        to build and run (make run)
#   deps.sh lint   also the static analysers and clang (make lint)
#   deps.sh test   also what the test suite uses: the lint tools, clang for the ThreadSanitizer
#                  build, Chromium (and a Japanese font) to render the status page, systemd for systemd-analyze
#                  (the unit file's security score), node to evaluate the PAC file (make test)
#   deps.sh bench  also nginx and wrk, the reference and the load generator (make bench)
#   deps.sh fuzz   also clang and its libFuzzer runtime (make fuzz; make test runs fuzz-smoke,
#                  so test has them too)
# Run as root (or with sudo available); a no-op when everything is already present.
set -eu

pkgs="build-essential cmake pkg-config libssl-dev libmspack-dev liblmdb-dev libevent-dev
libcurl4-openssl-dev libcmocka-dev libjson-c-dev gettext gcab cabextract curl jq python3 openssl"
lint="clang clang-tidy cppcheck"
fuzz="clang libclang-rt-14-dev"
case "${1:-}" in
lint) pkgs="$pkgs $lint" ;;
test) pkgs="$pkgs $lint $fuzz chromium fonts-ipafont-gothic systemd nodejs" ;;
bench) pkgs="$pkgs nginx wrk" ;;
fuzz) pkgs="$pkgs $fuzz" ;;
"") ;;
*) echo "usage: deps.sh [lint|test|bench|fuzz]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "deps: missing packages:$missing; run 'make deps' as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
