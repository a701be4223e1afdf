#!/usr/bin/env bash
# Socket activation (smtpstatusd.socket): the daemon takes the listening socket that the
# service manager passes as descriptor 3 with LISTEN_FDS/LISTEN_PID (socket_activate.py does
# what systemd does), reports READY=1 on NOTIFY_SOCKET, serves on that very socket (same inode,
# never rebound), leaves it in place when it stops, and serves it again when started again.
# Bad activation variables are reported and the daemon binds its socket itself. ctest sets
# BUILD_DIR.
set -uo pipefail
: "${BUILD_DIR:?}"
D=$BUILD_DIR/smtpstatusd
S=$BUILD_DIR/smtpstatus
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
helper_pid=''
cleanup() {
  [ -f "$tmp/run/smtpstatusd.lock" ] && pid=$(cat "$tmp/run/smtpstatusd.lock") \
    && [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
mkdir -p "$tmp/run"
sock=$tmp/run/smtpstatusd.sock
export SMTPSTATUS_RUNDIR=$tmp/run

# --http off: tests run in parallel, and the default HTTP port may be taken.
coproc ACT { exec python3 "$here/socket_activate.py" "$sock" 2 -- "$D" --foreground \
  --rundir "$tmp/run" --statedir "$tmp/state" --http off 2>>"$tmp/daemon.log"; }
helper_pid=$ACT_PID
exec {act_fd}<&"${ACT[0]}"
next() { IFS= read -r -t 30 -u "$act_fd" line || line="(no answer from socket_activate.py)"; }

next; bound=${line#bound }
for run in 1 2; do
  next
  case $line in
  "ready "*) pid=${line#ready }; ok "run $run: READY=1 on NOTIFY_SOCKET" ;;
  *) bad "run $run: $line"; sed 's/^/  | /' "$tmp/daemon.log"; break ;;
  esac
  now=$(stat -c %i "$sock" 2>/dev/null)
  [ "$now" = "$bound" ] && ok "run $run: serves the passed socket (inode $bound, not rebound)" \
    || bad "run $run: socket inode $now, bound $bound"
  title=$("$S" --json lookup 5.1.1 2>&1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["title"])' 2>&1)
  [ "$title" = "Bad destination mailbox address" ] && ok "run $run: lookup through the passed socket" \
    || bad "run $run: lookup: $title"
  kill -TERM "$pid"
  next
  [ "$line" = "exited 0 socket=kept" ] && ok "run $run: stops cleanly and leaves the socket to the service manager" \
    || bad "run $run: $line"
done
grep -q 'ready: listening on .*smtpstatusd.sock (socket from the service manager)' "$tmp/daemon.log" \
  && ok "the log says where the socket came from" || { bad "log"; sed 's/^/  | /' "$tmp/daemon.log"; }
exec {act_fd}<&-
wait "$helper_pid"
helper_pid=''

# LISTEN_FDS naming a descriptor that is not a listening Unix socket: a clear warning, and the
# daemon binds its own socket. It detaches once ready, so the command returning means ready.
rm -rf "$tmp/run2"
( export LISTEN_PID=$BASHPID LISTEN_FDS=1; exec 3</dev/null
  exec "$D" --rundir "$tmp/run2" --statedir "$tmp/state" --http off ) 2>"$tmp/bad.log"
rc=$?
if [ $rc -eq 0 ] && grep -q 'socket activation: none of the 1 descriptor passed by the service manager is a listening Unix stream socket' "$tmp/bad.log" \
   && [ -S "$tmp/run2/smtpstatusd.sock" ] && "$S" --rundir "$tmp/run2" lookup 5.1.1 >/dev/null; then
  ok "a bad LISTEN_FDS is reported and the daemon binds its own socket"
else
  bad "bad LISTEN_FDS: exit $rc"; sed 's/^/  | /' "$tmp/bad.log"
fi
kill "$(cat "$tmp/run2/smtpstatusd.lock")" 2>/dev/null

# LISTEN_PID of another process: not ours, ignored without a word (as sd_listen_fds does).
( export LISTEN_PID=1 LISTEN_FDS=1; exec "$D" --rundir "$tmp/run3" --statedir "$tmp/state" --http off ) 2>"$tmp/other.log"
rc=$?
if [ $rc -eq 0 ] && ! grep -q 'socket activation' "$tmp/other.log" && [ -S "$tmp/run3/smtpstatusd.sock" ]; then
  ok "LISTEN_PID of another process is ignored"
else
  bad "LISTEN_PID of another process: exit $rc"; sed 's/^/  | /' "$tmp/other.log"
fi
kill "$(cat "$tmp/run3/smtpstatusd.lock")" 2>/dev/null

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
