#!/usr/bin/env bash
# Runs bench_rpc (see the file comment of tests/bench/bench_rpc.c) against the daemon of a build,
# with Redis as the peer. Installs redis-server and redis-tools from Debian first when they are
# missing and this runs as root; otherwise it runs without Redis (bench_rpc says so on stderr).
# Each JSON line has the rate and, beside it, the server's CPU time per request
# (cpu_us_per_op); the goal lines on stderr say "met" or "NOT met" with the goal.
#
#   tests/bench/run-rpc-bench.sh BUILD_DIR
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
for f in "$build/tests/bench_rpc" "$build/smtpstatusd"; do
    if [ ! -x "$f" ]; then
        echo "run-rpc-bench: $f is missing; build with -DSMTPSTATUS_BENCH=ON first" >&2
        exit 2
    fi
done

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "run-rpc-bench: installing redis-server and redis-tools" >&2
        export DEBIAN_FRONTEND=noninteractive
        # The package's service is not wanted: bench_rpc starts its own server.
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
            redis-server redis-tools; } >/dev/null 2>&1 ||
            echo "run-rpc-bench: could not install Redis; running without it" >&2
    else
        echo "run-rpc-bench: Redis is not installed and this is not root; running without it" >&2
    fi
fi

args=()
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    args=(--redis-server "$(command -v redis-server)" --redis-benchmark "$(command -v redis-benchmark)")
fi
exec "$build/tests/bench_rpc" "$build/smtpstatusd" "${args[@]}"
