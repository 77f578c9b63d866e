#!/usr/bin/env bash
# Load benchmark: the three strategies against the framework's floor, on loopback.
#
#   scripts/bench.sh                   # the table: every scenario for 5 s (about 2.5 minutes)
#   scripts/bench.sh --repeat 3        # the table three times: medians and their spread
#   scripts/bench.sh --smoke           # every scenario for ~1 s plus a small memory scenario
#   scripts/bench.sh --memory          # 100,000 sessions, 1,000,000 cookie-less requests, expiry
#   scripts/bench.sh --callgrind       # instructions per request under valgrind (repeatable)
#   scripts/bench.sh --coldstart       # exec to first page: HTTP server and Lambda bootstrap
#   scripts/bench.sh --store redis://127.0.0.1:6379/15
#   scripts/bench.sh --stores memory,redis://127.0.0.1:6379/15   # one server per store, alternating
#   scripts/bench.sh --roundtrips redis://127.0.0.1:6379/15,postgres://postgres@127.0.0.1:5432/test
#                                      # round trips to each store per page and API read
#   scripts/bench.sh --no-build --build before=OLD_BINARY:OLD_TEMPLATES   # two builds, one run
#   scripts/bench.sh --help            # every option
#
# Builds the release binary (skip with --no-build), starts it on a free loopback port with a
# fresh random key and ROCKET_LOG_LEVEL=off, drives it with wrk and prints a table: req/s,
# p50 and p99 for each strategy and scenario, each also as a ratio to GET /healthz on the same
# server in the same run, and the server's peak RSS. BENCHMARKS.md explains the numbers.
#
# The load generator shares the machine with the server: only ratios within one run mean
# anything. Exit status: 0 when every scenario ran; 1 when wrk saw 4xx/5xx answers; 2 when
# the server did not start. Socket errors under load are reported, not fatal.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "wrk is not installed; installing it from Debian's packages" >&2
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "install wrk first: sudo apt-get install -y wrk" >&2
        exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq wrk >/dev/null 2>&1 || {
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    }
fi

build=1 lambda=0
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    -h | --help) build=0 ;;
    --coldstart) lambda=1 ;;
    esac
done
if [ "$build" = 1 ]; then
    echo "==> cargo build --release" >&2
    cargo build --release --quiet
    if [ "$lambda" = 1 ]; then
        echo "==> scripts/lambda.sh build" >&2
        scripts/lambda.sh build >&2
    fi
fi
# cargo-lambda (for the cold-start emulator) lives where pip puts console scripts.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH

PYTHONPATH=scripts/lib exec python3 -B scripts/bench/bench.py "$@"  # -B: no __pycache__ in the tree
