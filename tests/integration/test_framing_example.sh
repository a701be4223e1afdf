#!/usr/bin/env bash
# The Python client in proto/FRAMING.md (its one ```python block) runs as written against the
# real daemon and reads an answer of over a mebibyte, many recv() calls long, whole. It runs
# with the system Python and Debian's python3-protobuf; ctest sets SMTPSTATUSD.
set -uo pipefail
: "${SMTPSTATUSD:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pid=''
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

awk '/^```python$/ {on = 1; next} /^```$/ && on {on = 0} on' "$root/proto/FRAMING.md" >"$tmp/client.py"
[ "$(grep -c '^```python$' "$root/proto/FRAMING.md")" = 1 ] || fail "proto/FRAMING.md must hold one Python example"
protoc --python_out="$tmp" -I "$root/proto" "$root/proto/smtpstatus.proto" || fail "protoc"

# Start the daemon and wait for its readiness line (never a fixed sleep).
mkfifo "$tmp/log"
"$SMTPSTATUSD" --foreground --rundir "$tmp/run" --statedir "$tmp/state" --http off 2>"$tmp/log" &
pid=$!
exec 3<"$tmp/log"
ready=0
while IFS= read -r -t 30 line <&3; do
  case $line in *"ready: listening on $tmp/run/smtpstatusd.sock"*) ready=1; break ;; esac
done
[ $ready = 1 ] || fail "the daemon did not say it was ready"
cat <&3 >/dev/null &   # keep draining its log

out=$(cd "$tmp" && SMTPSTATUS_RUNDIR="$tmp/run" PYTHONPATH="$tmp" /usr/bin/python3 client.py 2>&1)
want=$(sed -n 's/^    # //p' "$tmp/client.py" | tail -1)
[ "$out" = "$want" ] || fail "the example printed '$out', its comment says '$want'"
echo "ok: the FRAMING.md client reads a 1001-entry answer whole: $out"
echo "1 passed, 0 failed"
