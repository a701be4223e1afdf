#!/usr/bin/env bash
# Runs every libFuzzer target of a build for a bounded time, one after the other, and fails if
# any of them finds a crash, a leak, undefined behaviour, a timeout or an out-of-memory.
#
# Usage: tests/fuzz/run-fuzzers.sh BUILD_DIR
#   where BUILD_DIR was configured with
#   CC=clang cmake -S . -B BUILD_DIR -DSMTPSTATUS_FUZZ=ON -DSMTPSTATUS_TESTS=OFF
#
# Each target fuzz_NAME runs on a temporary copy of tests/fuzz/corpus/NAME/ plus seeds built
# here from data/: for fuzz_csv, the three data/ tables joined by form feeds (fuzz_csv.c's
# input format); for fuzz_image, the image smtpstatus-mkimage compiles from data/ and a small
# one compiled from the corpus/csv/minimal seed; for fuzz_rules, data/reasons.csv; fuzz_http
# runs on its committed requests in corpus/http/ alone; fuzz_socketmap gets every reply of
# tests/data/replies.tsv as a netstring request of the status map, as Postfix words it;
# fuzz_bounce runs on the sample bounces of tests/data/bounces/. New corpus entries are thrown
# away with the copy. Logs and any crash inputs are kept in FUZZ_ARTIFACTS.
#
# Environment:
#   FUZZ_SECONDS    time per target (default 30)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (default 10)
#   FUZZ_ARTIFACTS  where logs and crash inputs go (default BUILD_DIR/fuzz-artifacts)
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz_src=$src/tests/fuzz
seconds=${FUZZ_SECONDS:-30}
timeout=${FUZZ_TIMEOUT:-10}
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
mkimage=$build/smtpstatus-mkimage

shopt -s nullglob
targets=("$build"/tests/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
    echo "$0: no fuzz targets in $build/tests: configure with CC=clang -DSMTPSTATUS_FUZZ=ON" >&2
    exit 2
fi
if [ ! -x "$mkimage" ]; then
    echo "$0: $mkimage is missing: build the tree first" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtpstatus-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$artifacts"

# UBSan only prints by default; make it stop so that libFuzzer reports the input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

tables=(smtp-enhanced-status-codes-1.csv smtp-enhanced-status-codes-2.csv
        smtp-enhanced-status-codes-3.csv)

# The seeds that are built rather than committed.
build_seeds() {
    local name=$1 dir=$2
    case $name in
    csv)
        {
            cat "$src/data/${tables[0]}"
            printf '\f'
            cat "$src/data/${tables[1]}"
            printf '\f'
            cat "$src/data/${tables[2]}"
        } >"$dir/data"
        ;;
    image)
        "$mkimage" --output "$dir/data.img" "$src/data"
        # A small image fuzzes faster: split the minimal CSV seed back into its three files.
        mkdir "$tmp/minimal"
        awk -v dir="$tmp/minimal" -v names="${tables[*]}" '
            BEGIN { RS = "\f"; split(names, f, " ") }
            NR <= 3 { printf "%s", $0 > (dir "/" f[NR]) }' "$fuzz_src/corpus/csv/minimal"
        "$mkimage" --output "$dir/minimal.img" "$tmp/minimal"
        ;;
    rules)
        # The built-in rules file, read by fuzz_rules as an administrator's file.
        cp "$src/data/reasons.csv" "$dir/reasons.csv"
        ;;
    bounce)
        cp "$src"/tests/data/bounces/*.eml "$dir/"
        ;;
    reply_classify | reply_render)
        # Every reply of the classification corpus, unescaped; render reads its first six
        # bytes as parameters and the rest as text, so the same files serve it.
        local i=0 reply
        while IFS=$'\t' read -r _ reply _; do
            case $reply in '#'* | '') continue ;; esac
            printf '%b' "$reply" >"$dir/reply-$i"
            i=$((i + 1))
        done < <(grep -v '^#' "$src/tests/data/replies.tsv")
        ;;
    socketmap)
        # "status 5.0.0 host H[A] said: REPLY", lengths in bytes, two requests a seed.
        local i=0 reply req prev=""
        while IFS=$'\t' read -r _ reply _; do
            case $reply in '#'* | '') continue ;; esac
            req=$(printf 'status 5.0.0 host mx.example[192.0.2.1] said: %b' "$reply" 2>/dev/null)
            req=$(LC_ALL=C; printf '%d:%s,' "${#req}" "$req")
            printf '%s%s' "$prev" "$req" >"$dir/status-$i"
            prev=$req
            i=$((i + 1))
        done < <(grep -v '^#' "$src/tests/data/replies.tsv")
        ;;
    esac
}

failed=0
for bin in "${targets[@]}"; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
    target=$(basename "$bin")
    name=${target#fuzz_}
    corpus=$tmp/corpus-$name
    log=$artifacts/$target.log
    mkdir -p "$corpus"
    if [ -d "$fuzz_src/corpus/$name" ]; then
        cp -R "$fuzz_src/corpus/$name/." "$corpus/"
    fi
    build_seeds "$name" "$corpus"
    echo "== $target: ${seconds}s on $(find "$corpus" -type f | wc -l) seeds (log: $log)"

    rc=0
    "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout="$timeout" \
        -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$corpus" >"$log" 2>&1 ||
        rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    cov=$(grep -E '^#[0-9]+' "$log" | grep -E ' cov: ' | tail -n 1 |
        sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [0-9]+\/[0-9]+[a-zA-Z]*).*/\1/' || true)
    echo "   runs ${runs:-?} (${speed:-?}/s), ${cov:-no coverage line}, peak RSS ${rss:-?} MB"
    if [ "$rc" -eq 0 ]; then
        echo "   ok"
    else
        failed=1
        echo "   FAILED (exit $rc); end of the log:"
        tail -n 60 "$log" | sed 's/^/   | /'
        sed -n 's/.*Test unit written to //p' "$log" | while read -r unit; do
            echo "   reproduce: $bin $unit"
        done
    fi
done
exit "$failed"
