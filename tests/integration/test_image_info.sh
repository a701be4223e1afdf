#!/usr/bin/env bash
# `smtpstatus info` says where the shared image comes from: the running daemon's sealed memfd,
# or, with the daemon stopped, a private copy of the image file it left, and then that the
# daemon is not running, which generation is served and when it was published (exit 3). The
# real daemon runs in a temp run directory; ctest sets SMTPSTATUSD and BUILD_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?}"
S=$BUILD_DIR/smtpstatus
tmp=$(mktemp -d)
R=$tmp/run
cleanup() {
  [ -f "$R/smtpstatusd.lock" ] && kill "$(cat "$R/smtpstatusd.lock")" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
show() { sed 's/^/  | /' "$@"; }

if ! "$SMTPSTATUSD" --rundir "$R" --statedir "$tmp/state" --http off 2>"$tmp/daemon.log"; then
  bad "the daemon did not start"; show "$tmp/daemon.log"; exit 1
fi

"$S" --rundir "$R" info >"$tmp/up.out" 2>"$tmp/up.err"
rc=$?
gen=$(sed -n 's/^Generation: *//p' "$tmp/up.out")
if [ "$rc" -eq 0 ] && grep -q "^Answered by: shared memory" "$tmp/up.out" \
  && grep -q "^Mapped: *the daemon's sealed memfd" "$tmp/up.out" \
  && ! grep -q "not running" "$tmp/up.out" "$tmp/up.err" && [ -n "$gen" ]; then
  ok "daemon running: info names its sealed memfd (generation $gen)"
else
  bad "daemon running: exit $rc"; show "$tmp/up.out" "$tmp/up.err"
fi

# Stop it, and wait (bounded) until it is gone: it removes its lock file last.
kill "$(cat "$R/smtpstatusd.lock")"
for _ in $(seq 200); do [ -e "$R/smtpstatusd.lock" ] || break; sleep 0.05; done
if [ -e "$R/smtpstatusd.lock" ]; then bad "the daemon did not stop"; exit 1; fi

published=$(date -u -d "@$(stat -c %Y "$R/registry")" +%Y-%m-%dT%H:%M:%SZ)
"$S" --rundir "$R" info >"$tmp/down.out" 2>"$tmp/down.err"
rc=$?
# Every line that must be there, whole; the first one first.
missing=
for line in \
  "Daemon:      not running: serving generation $gen, published $published, from the image it left" \
  "Published:   $published" "Generation:  $gen" \
  "Mapped:      a private copy of the image file, taken when no daemon answered"; do
  grep -Fxq -- "$line" "$tmp/down.out" || missing="$missing [$line]"
done
head -1 "$tmp/down.out" | grep -q '^Daemon: *not running' || missing="$missing [the Daemon line first]"
grep -q "the daemon is not running" "$tmp/down.err" || missing="$missing [a warning on stderr]"
if [ "$rc" -eq 3 ] && [ -z "$missing" ]; then
  ok "daemon stopped: info says so, with generation $gen published $published, and exits 3"
else
  bad "daemon stopped: exit $rc (want 3), missing:$missing"; show "$tmp/down.out" "$tmp/down.err"
fi

"$S" --rundir "$R" --json info >"$tmp/down.json" 2>/dev/null
rc=$?
if [ "$rc" -eq 3 ] && python3 -c "
import json, os, sys
d = json.load(open('$tmp/down.json'))
sys.exit(not (d['daemon_running'] is False and d['image_origin'] == 'copy'
              and d['answered_by'] == 'shared' and d['generation'] == $gen
              and d['published_at'] == int(os.stat('$R/registry').st_mtime)))"; then
  ok "daemon stopped: info --json says daemon_running false, image_origin copy, published_at"
else
  bad "daemon stopped: info --json (exit $rc)"; show "$tmp/down.json"
fi

# Lookups still answer, from the copy, and exit 0: only info reports the daemon's absence.
if "$S" --rundir "$R" lookup 5.1.1 >"$tmp/lookup.out" 2>&1 && grep -q "^5.1.1 " "$tmp/lookup.out"; then
  ok "daemon stopped: lookup answers from the copy"
else
  bad "daemon stopped: lookup"; show "$tmp/lookup.out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
