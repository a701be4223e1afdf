#!/usr/bin/env bash
# The socketmap socket over a real connection (socketmap_client.py): framing, the protocol's
# limits, the connection cap, the idle timeout, and a client that does not read beside one
# that does. Runs as any user; test_postfix_filter.sh drives it with a real Postfix.
# ctest sets SMTPSTATUSD.
set -uo pipefail
: "${SMTPSTATUSD:?}"
tmp=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! "$SMTPSTATUSD" --rundir "$tmp/run" --statedir "$tmp/state" --http off --idle-timeout 1 \
     --max-connections 4 --log-target stderr 2>"$tmp/log"; then
  echo "FAIL: smtpstatusd did not start"; cat "$tmp/log"; exit 1
fi
pid=$(head -n 1 "$tmp/run/smtpstatusd.lock")
/usr/bin/python3 "$(dirname "$0")/socketmap_client.py" "$tmp/run/socketmap.sock"
rc=$?
kill -TERM "$pid"
# The socket file goes with the daemon.
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
if [ -e "$tmp/run/socketmap.sock" ]; then echo "FAIL: socketmap.sock left behind"; rc=1; fi
[ $rc -eq 0 ] || { echo "--- smtpstatusd"; tail -n 20 "$tmp/log"; }
exit $rc
