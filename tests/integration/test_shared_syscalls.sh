#!/usr/bin/env bash
# Lookups through the shared image make no syscall: the real daemon publishes its image in a
# temp run directory, and build/tests/shared_lookups does 1,000 and then 100,000 lookups under
# `strace -c -f`, once holding a pin it refreshes before each lookup and once pinning and
# unpinning around each. The syscall totals must not grow with the number of lookups, but for
# the look at the published file that a handle takes at most once a second (a stat(), and a
# clock_gettime() where the vDSO does not serve the clock): a run that lasts longer, as under a
# sanitizer and strace on a loaded machine, may take one more per second. ctest sets
# SMTPSTATUSD and BUILD_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?}"
L=$BUILD_DIR/tests/shared_lookups

if ! command -v strace >/dev/null; then
  echo "SKIP: strace is not installed (packaging/install-deps.sh --test installs it)"
  exit 0
fi
tmp=$(mktemp -d)
cleanup() {
  [ -f "$tmp/run/smtpstatusd.lock" ] && kill "$(cat "$tmp/run/smtpstatusd.lock")" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if ! "$SMTPSTATUSD" --rundir "$tmp/run" --statedir "$tmp/state" --http off 2>"$tmp/daemon.log"; then
  bad "the daemon did not start"; sed 's/^/  | /' "$tmp/daemon.log"; exit 1
fi

# total N MODE: runs the client under strace and prints its syscall total, the calls of the
# once-a-second look among them, and how many whole seconds the run took. LeakSanitizer cannot
# run under ptrace; the run without strace below checks for leaks.
total() {
  local t0 t1
  t0=$(date +%s%N)
  if ! ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -c -f -o "$tmp/strace.$1.$2" "$L" "$tmp/run" "$1" "$2" >"$tmp/out.$1.$2" 2>&1; then
    echo "FAIL: shared_lookups $1 $2" >&2; sed 's/^/  | /' "$tmp/out.$1.$2" >&2
    echo "-1 0 0"; return
  fi
  t1=$(date +%s%N)
  # strace -c's columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk -v secs=$(((t1 - t0) / 1000000000)) '
    $NF == "newfstatat" || $NF == "clock_gettime" { look += $4 }
    $NF == "total" { total = $4 }
    END { print total, look + 0, secs }' "$tmp/strace.$1.$2"
}

for mode in refresh pin; do
  read -r small small_look _ <<<"$(total 1000 "$mode")"
  read -r large large_look large_secs <<<"$(total 100000 "$mode")"
  echo "$mode: $small syscalls for 1,000 lookups, $large for 100,000 (in ${large_secs}s;" \
    "the look at the file: $small_look and $large_look of them)"
  if grep -q "registered 100000 of 100000; shared 1; socket calls 0" "$tmp/out.100000.$mode"; then
    ok "$mode: 100,000 lookups answered from the shared image, none by the socket"
  else
    bad "$mode: the client's report"; sed 's/^/  | /' "$tmp/out.100000.$mode"
  fi
  # Each second of the longer run may add one look (a stat and a clock_gettime), no more.
  if [ "$small" -gt 0 ] && [ $((large - large_look)) -eq $((small - small_look)) ] \
    && [ $((large_look - small_look)) -le $((2 * (large_secs + 1))) ]; then
    ok "$mode: the syscall count does not grow with the lookups ($small and $large)"
  else
    bad "$mode: $small syscalls for 1,000 lookups, $large for 100,000"
    sed 's/^/  | /' "$tmp/strace.100000.$mode"
  fi
done

if "$L" "$tmp/run" 1000 pin >"$tmp/out.plain" 2>&1 \
  && grep -q "registered 1000 of 1000; shared 1" "$tmp/out.plain"; then
  ok "the same client without strace (and, in a sanitizer build, its leak check)"
else
  bad "the same client without strace"; sed 's/^/  | /' "$tmp/out.plain"
fi

# The control: with no image to map (no daemon, no file), the client's shared path refuses, so
# the counting above is not vacuous.
mkdir "$tmp/empty"
"$L" "$tmp/empty" 10 refresh >"$tmp/out.none" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "lookup 0 failed: no image published in the run directory" "$tmp/out.none"; then
  ok "no image: the shared path refuses"
else
  bad "no image: exit $rc"; sed 's/^/  | /' "$tmp/out.none"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
