#!/usr/bin/env bash
# Where a detached daemon's log goes. In a private mount namespace a Unix datagram socket that
# syslog_listener.py reads stands in for /dev/log (bound over it, or on a tmpfs /dev that has
# only it and /dev/null when the host has none), and the real daemon starts there:
#   - detached, --log-target auto: every line reaches syslog as a daemon-facility RFC 3164
#     datagram (the ready line when it starts, SIGHUP's lines later, "stopped" at the end), and
#     nothing reaches the stderr it was started with, not even after it detached;
#   - a second daemon on the same run directory, detached: it dies before it is ready, and its
#     fatal message reaches both syslog and the stderr of the person waiting for it;
#   - detached with --log-target stderr, and in the foreground with auto: the lines go to
#     stderr, and none to syslog.
# Needs root for the mount namespace (skips, saying so, without it). Never sleeps a fixed time:
# each wait polls for the line it expects, with a deadline.
set -uo pipefail
: "${SMTPSTATUSD:?}"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || ! unshare --mount --propagation private true 2>/dev/null; then
  echo "skip: a private mount namespace needs root and unshare"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
listener=''
pids=()
cleanup() {
  # The daemons by their pids (from their lock files): never by name, others run theirs.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$listener" ] && kill "$listener" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# until SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails after SECONDS.
until_ok() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.05; done
}

/usr/bin/python3 "$(dirname "$0")/syslog_listener.py" "$tmp/log.sock" "$tmp/syslog.txt" &
listener=$!
until_ok 10 test -S "$tmp/log.sock" || { bad "the listener did not bind"; exit 1; }
: >"$tmp/syslog.txt"

# in_ns CMD...: runs CMD with the listener's socket as /dev/log.
in_ns() {
  unshare --mount --propagation private bash -c '
    set -e
    if [ -e /dev/log ] || [ -L /dev/log ]; then
      mount --bind "$1/log.sock" /dev/log
    else
      mkdir -p "$1/realdev" "$1/dev"
      mount --bind /dev "$1/realdev"
      mount -t tmpfs tmpfs /dev
      touch /dev/null && mount --bind "$1/realdev/null" /dev/null
      ln -s "$1/log.sock" /dev/log
    fi
    shift
    exec "$@"' in_ns "$tmp" "$@"
}

daemon_pid() { cat "$1/smtpstatusd.lock" 2>/dev/null | tr -d '\n'; }
gone() { ! kill -0 "$1" 2>/dev/null; }
in_syslog() { grep -qF -- "$1" "$tmp/syslog.txt"; }

# ---- detached, auto: syslog only -----------------------------------------------------------
run=$tmp/a/run
mkdir -p "$tmp/a"
in_ns "$SMTPSTATUSD" --rundir "$run" --statedir "$tmp/a/state" --http off 2>"$tmp/a.err"
rc=$?
pid=$(daemon_pid "$run")
[ -n "$pid" ] && pids+=("$pid")
if [ $rc -eq 0 ] && [ -n "$pid" ]; then ok "detached daemon started (pid $pid)"; else bad "start: exit $rc"; cat "$tmp/a.err"; fi
if until_ok 20 in_syslog "smtpstatusd[$pid]: ready: listening on $run/smtpstatusd.sock"; then
  ok "its ready line reached syslog"
else
  bad "no ready line in syslog"; sed 's/^/  | /' "$tmp/syslog.txt"
fi
line=$(grep -F "smtpstatusd[$pid]: ready:" "$tmp/syslog.txt" | head -1)
[[ $line =~ ^\<30\>[A-Z][a-z][a-z]\ [\ 0-9][0-9]\ [0-9:]{8}\ smtpstatusd\[$pid\]:\ ready: ]] \
  && ok "as an RFC 3164 datagram: daemon.info, time stamp, smtpstatusd[pid]: $line" \
  || bad "not daemon.info in RFC 3164 form: $line"
kill -HUP "$pid"
if until_ok 20 in_syslog "smtpstatusd[$pid]: SIGHUP: no reload started"; then ok "SIGHUP's lines, after detaching, reached syslog"
else bad "SIGHUP's lines are not in syslog"; sed 's/^/  | /' "$tmp/syslog.txt"; fi
grep -qF "<28>" <(grep -F "smtpstatusd[$pid]: reload asked" "$tmp/syslog.txt") \
  && ok "a warning is daemon.warning (<28>)" || bad "the warning's priority"

# ---- a second daemon on the same run directory: its fatal message reaches the terminal too ---
in_ns "$SMTPSTATUSD" --rundir "$run" --statedir "$tmp/a/state" --http off 2>"$tmp/b.err"
rc=$?
[ $rc -eq 1 ] && grep -q "another smtpstatusd (pid $pid) is running" "$tmp/b.err" \
  && ok "a detached daemon that cannot start says why on the stderr that started it" \
  || { bad "second daemon: exit $rc"; cat "$tmp/b.err"; }
until_ok 20 in_syslog "another smtpstatusd (pid $pid) is running" \
  && ok "... and in syslog" || bad "the fatal message is not in syslog"

kill "$pid"
until_ok 20 gone "$pid" && ok "SIGTERM stops it" || bad "it did not stop"
until_ok 20 in_syslog "smtpstatusd[$pid]: stopped" && ok "its last line reached syslog" \
  || bad "no \"stopped\" in syslog"
if [ ! -s "$tmp/a.err" ]; then ok "nothing reached the stderr it was started with"
else bad "the detached daemon wrote to its stderr:"; sed 's/^/  | /' "$tmp/a.err"; fi

# ---- --log-target stderr, detached; auto in the foreground: stderr only --------------------
run=$tmp/c/run
mkdir -p "$tmp/c"
in_ns "$SMTPSTATUSD" --rundir "$run" --statedir "$tmp/c/state" --http off --log-target stderr 2>"$tmp/c.err"
pid=$(daemon_pid "$run")
[ -n "$pid" ] && pids+=("$pid")
grep -q "ready: listening on $run/smtpstatusd.sock" "$tmp/c.err" \
  && ok "--log-target stderr: a detached daemon's ready line goes to stderr" || bad "--log-target stderr: $(cat "$tmp/c.err")"
kill "$pid"; until_ok 20 gone "$pid" || bad "it did not stop"
! grep -qF "smtpstatusd[$pid]" "$tmp/syslog.txt" && ok "... and nothing to syslog" || bad "--log-target stderr wrote to syslog"

run=$tmp/d/run
mkdir -p "$tmp/d"
in_ns "$SMTPSTATUSD" --foreground --rundir "$run" --statedir "$tmp/d/state" --http off >/dev/null 2>"$tmp/d.err" &
fg=$! # the subshell that runs in_ns; the daemon's own pid is in its lock file
until_ok 20 grep -q "ready: listening on $run/smtpstatusd.sock" "$tmp/d.err" \
  && ok "--foreground: the ready line goes to stderr" || bad "--foreground: $(cat "$tmp/d.err")"
pid=$(daemon_pid "$run")
[ -n "$pid" ] && pids+=("$pid") && kill "$pid"
wait "$fg"
! grep -qF "smtpstatusd[$pid]" "$tmp/syslog.txt" && ok "... and nothing to syslog" || bad "--foreground wrote to syslog"

# ---- --log-target syslog in the foreground; a bad target ------------------------------------
run=$tmp/e/run
mkdir -p "$tmp/e"
in_ns "$SMTPSTATUSD" --foreground --log-target syslog --rundir "$run" --statedir "$tmp/e/state" --http off >/dev/null 2>"$tmp/e.err" &
fg=$! # the subshell that runs in_ns; the daemon's own pid is in its lock file
until_ok 20 test -s "$run/smtpstatusd.lock"
pid=$(daemon_pid "$run")
[ -n "$pid" ] && pids+=("$pid")
until_ok 20 in_syslog "smtpstatusd[$pid]: ready:" \
  && ok "--foreground --log-target syslog: the ready line goes to syslog" || bad "--log-target syslog in the foreground"
[ -n "$pid" ] && kill "$pid"
wait "$fg"
[ ! -s "$tmp/e.err" ] && ok "... and nothing to stderr" || bad "--log-target syslog wrote to stderr: $(cat "$tmp/e.err")"
out=$("$SMTPSTATUSD" --log-target journal 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *'--log-target: unknown target "journal"'* ]] \
  && ok "a bad --log-target is refused: $out" || bad "--log-target journal: exit $rc: $out"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
