#!/usr/bin/env bash
# A unit test that fails half-way must not take others down with it. Runs test_shared with
# SMTPSTATUS_TEST_STORM_FAIL_AT, which makes each reload storm fail at that reload while its
# reader threads run and its daemon serves, and checks that:
#   - the process ends on its own (no crash), reporting exactly the storms as failed, and every
#     later test, which starts daemons and reader threads of its own, passes;
#   - each teardown found no thread still running (it says so, and fails, otherwise);
#   - no daemon of the run is left, and no temp directory (TMPDIR is private to this check).
# ctest sets BUILD_DIR.
set -uo pipefail
: "${BUILD_DIR:?}"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
bin=$BUILD_DIR/tests/test_shared
[ -x "$bin" ] || { echo "FAIL: $bin is not built"; echo "0 passed, 1 failed"; exit 1; }

tmp=$(mktemp -d)
mkdir "$tmp/t"
trap 'rm -rf "$tmp"' EXIT

TMPDIR=$tmp/t SMTPSTATUS_TEST_STORM_FAIL_AT=25 CMOCKA_MESSAGE_OUTPUT=stdout timeout 250 "$bin" >"$tmp/out" 2>&1
rc=$?
# A storm on ../shared's IANA files skips when that is absent: count the storms that ran.
storms=$(grep -c 'failing here, as SMTPSTATUS_TEST_STORM_FAIL_AT asks' "$tmp/out")
failed=$(grep -c '^\[  FAILED  \] test_' "$tmp/out")
if [ $rc -ge 1 ] && [ $rc -lt 124 ] && [ "$rc" -eq "$storms" ]; then
  ok "test_shared ended by itself, with the $storms storm(s) failed where told (exit $rc)"
else
  bad "test_shared: exit $rc with $storms storm(s) failed where told"
fi
grep -q '^\[       OK \] test_readers_survive_sigkill' "$tmp/out" \
  && grep -q '^\[       OK \] test_bad_image_falls_back_to_the_socket' "$tmp/out" \
  && [ "$failed" -eq $((2 * storms)) ] \
  && ok "every later test, with daemons and reader threads of its own, passed" \
  || bad "a later test failed"
! grep -q 'threads are still running' "$tmp/out" && ok "no teardown found a thread still running" \
  || bad "threads outlived their test"
left=$(pgrep -f -- "--rundir $tmp/t/" | tr '\n' ' ')
[ -z "$left" ] && ok "no daemon of the run is left" || bad "daemons left: $left"
[ -z "$(ls -A "$tmp/t")" ] && ok "no temp directory is left" || bad "left in TMPDIR: $(ls -A "$tmp/t")"
if [ $fail -ne 0 ]; then sed 's/^/  | /' "$tmp/out"; fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
