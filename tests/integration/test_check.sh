#!/usr/bin/env bash
# Integration test of `smtpstatusd --check` and of start-up: the real daemon binary on the
# embedded registry, on the project's data/, on broken copies of it written here, and (when
# ../shared is present) on IANA's real files. ctest sets SMTPSTATUSD, PROJECT_DATA_DIR and
# SHARED_IANA_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${PROJECT_DATA_DIR:?} ${SHARED_IANA_DIR:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect NAME EXIT_CODE STDOUT_PATTERN STDERR_PATTERN -- COMMAND...
# An empty STDOUT_PATTERN means stdout must be empty; an empty STDERR_PATTERN is not checked.
expect() {
  local name=$1 want_rc=$2 want_out=$3 want_err=$4
  shift 5
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want_rc" ]; then
    bad "$name: exit $rc, want $want_rc"; sed 's/^/  | /' "$tmp/out" "$tmp/err"; return
  fi
  if [ -z "$want_out" ] && [ -s "$tmp/out" ]; then
    bad "$name: stdout is not empty"; sed 's/^/  | /' "$tmp/out"; return
  fi
  if [ -n "$want_out" ] && ! grep -Eq -- "$want_out" "$tmp/out"; then
    bad "$name: stdout lacks /$want_out/"; sed 's/^/  | /' "$tmp/out"; return
  fi
  if [ -n "$want_err" ] && ! grep -Eq -- "$want_err" "$tmp/err"; then
    bad "$name: stderr lacks /$want_err/"; sed 's/^/  | /' "$tmp/err"; return
  fi
  ok "$name"
}

expect "embedded registry" 0 'the embedded registry is usable: 3 classes, 8 subjects, 81 codes' '' \
  -- "$SMTPSTATUSD" --check
expect "project data" 0 "registry $PROJECT_DATA_DIR is usable: 3 classes, 8 subjects, 81 codes, [0-9]+ basic codes; 0 warnings" '' \
  -- "$SMTPSTATUSD" --check --registry "$PROJECT_DATA_DIR"

# A broken copy: a duplicate row and a code that does not fit its table.
cp -r "$PROJECT_DATA_DIR" "$tmp/broken"
codes=$tmp/broken/smtp-enhanced-status-codes-3.csv
sed -n 3p "$codes" >>"$codes"
printf '"5.1.1","x","550","d","r","s","c"\n' >>"$codes"
n=$(wc -l <"$codes")
expect "broken registry" 1 'is not usable: 2 errors, 0 warnings' \
  "smtp-enhanced-status-codes-3.csv:$((n - 1)):1: error: duplicate code X.1.0 \(first at line 3\)" \
  -- "$SMTPSTATUSD" --check --registry "$tmp/broken"
grep -Eq "smtp-enhanced-status-codes-3.csv:$n:2: error: code \"5.1.1\" does not fit this table" "$tmp/err" \
  && ok "broken registry names the second error" || bad "broken registry: second error missing"

expect "missing directory" 1 'is not usable: 1 error,' 'nonexistent: error: cannot open the directory: No such file or directory' \
  -- "$SMTPSTATUSD" --check --registry "$tmp/nonexistent"

# A shifted row written here, as IANA published X.7.28: usable, with a warning and its line.
cp -r "$PROJECT_DATA_DIR" "$tmp/shifted"
codes=$tmp/shifted/smtp-enhanced-status-codes-3.csv
grep -v '"X.7.28"' "$codes" >"$tmp/x" && mv "$tmp/x" "$codes"
printf '"X.7.28","Mail flood detected","The message appears to be part of a mail flood.","","[draft]","J. Levine","c"\n' >>"$codes"
n=$(wc -l <"$codes")
expect "shifted row" 0 'is usable: .*; 1 warning$' \
  "smtp-enhanced-status-codes-3.csv:$n:[0-9]+: warning: X.7.28: shifted row" \
  -- "$SMTPSTATUSD" --check --registry "$tmp/shifted"

if [ -d "$SHARED_IANA_DIR/2017" ]; then
  expect "IANA 2017" 0 '3 classes, 8 subjects, 79 codes, .*; 1 warning' \
    'smtp-enhanced-status-codes-3.csv:312:[0-9]+: warning: X.7.28: shifted row' \
    -- "$SMTPSTATUSD" --check --registry "$SHARED_IANA_DIR/2017"
  expect "IANA later" 0 '3 classes, 8 subjects, 81 codes' '' \
    -- "$SMTPSTATUSD" --check --registry "$SHARED_IANA_DIR/later"
else
  skip=$((skip + 2))
  echo "SKIP: $SHARED_IANA_DIR is absent (a user's clone has no ../shared); the same cases ran above on data written here"
fi

expect "help" 0 'usage: smtpstatusd' '' -- "$SMTPSTATUSD" --help
expect "version" 0 '^smtpstatusd [0-9]+\.[0-9]+\.[0-9]+$' '' -- "$SMTPSTATUSD" --version
expect "unknown option" 2 '' 'usage: smtpstatusd' -- "$SMTPSTATUSD" --bogus
expect "bad log level" 1 '' 'unknown level "loud"' -- "$SMTPSTATUSD" --log-level loud

# Start-up on a broken directory: the daemon says why, serves the embedded default, reports
# ready, and stops cleanly on SIGTERM. It waits for the "ready" line, never for a fixed time.
# Port 0: tests run in parallel, and the default port may be taken.
coproc DAEMON { exec "$SMTPSTATUSD" --foreground --registry "$tmp/broken" --rundir "$tmp/run" \
  --statedir "$tmp/state" --http 127.0.0.1:0 2>&1; }
# Bash closes a coprocess's descriptors when it reaps it: keep a copy to read what it says last.
pid=$DAEMON_PID
exec {out_fd}<&"${DAEMON[0]}"
log=""
ready=0
while IFS= read -r -t 20 -u "$out_fd" line; do
  log+="$line"$'\n'
  case $line in *": info: ready: listening on $tmp/run/smtpstatusd.sock") ready=1; break ;; esac
done
if [ $ready = 1 ] && grep -q 'error: .*duplicate code X.1.0' <<<"$log" \
   && grep -q "registry $tmp/broken is not usable: 2 errors" <<<"$log" \
   && grep -q 'serving the embedded default registry instead' <<<"$log" \
   && grep -q 'serving generation 1 from embedded: 3 classes, 8 subjects, 81 codes' <<<"$log"; then
  ok "start-up on a broken registry serves the embedded default"
else
  bad "start-up on a broken registry"; printf '%s' "$log" | sed 's/^/  | /'
fi
kill -TERM "$pid"
rest=$(timeout 20 cat <&"$out_fd")
exec {out_fd}<&-
wait "$pid"; rc=$?
if [ $rc -eq 0 ] && grep -q 'received SIGTERM; shutting down' <<<"$rest" && grep -q 'stopped' <<<"$rest" \
   && [ ! -e "$tmp/run/smtpstatusd.sock" ] && [ ! -e "$tmp/run/smtpstatusd.lock" ]; then
  ok "SIGTERM stops the daemon cleanly and removes its socket and lock"
else
  bad "SIGTERM: exit $rc"; printf '%s\n' "$rest" | sed 's/^/  | /'
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
