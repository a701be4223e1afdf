#!/usr/bin/env bash
# Local users reach the system daemon, and only the real one (issue 11, item 1), with the real
# smtpstatus CLI, the real daemon and users made up with setpriv (uids 40101-40103, which need
# not exist):
#  (a) a forger (uid A) plants a run directory with a socket that answers lies (forged_daemon.py):
#      the victim (uid B), pointed there by SMTPSTATUS_RUNDIR or looking where the old default
#      was (/tmp/smtpstatusd-UID), refuses it with the path and why, exit 3, and never asks it
#      anything; a directory the victim trusts whose socket a process of uid A serves is refused
#      after connect() by SO_PEERCRED, for the victim and for root;
#  (b) a non-root client with no settings answers from the system daemon in /run/smtpstatusd,
#      run by root or (as the packaged service) by its own user without --rundir;
#  (c) the daemon refuses a run directory or state directory that another uid owns or that
#      group or others may write, at start-up and when a reload would save there;
#  (d) the daemon as a non-root user whose HOME has no ~/.local/state reloads, making the state
#      directory and its parents.
# /run and /tmp are replaced inside private mount namespaces (unshare), so nothing on the host is
# touched. Needs root, setpriv, unshare, protoc and Debian's /usr/bin/python3 with protobuf.
# ctest sets BUILD_DIR and PROJECT_DATA_DIR.
set -uo pipefail
: "${BUILD_DIR:?} ${PROJECT_DATA_DIR:?}"
S=$BUILD_DIR/smtpstatus
D=$BUILD_DIR/smtpstatusd
PY=/usr/bin/python3
root=$(cd "$(dirname "$0")/../.." && pwd)
FORGER=$root/tests/integration/forged_daemon.py
A=40101 B=40102 C=40103 # the forger, the victim, a daemon's own user

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: test_trust needs root: it runs clients and daemons as other users (setpriv) and"
  echo "      replaces /run and /tmp in private mount namespaces (unshare)"
  exit 0
fi
for tool in setpriv unshare protoc; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is missing"; echo "0 passed, 1 failed"; exit 1
  fi
done

umask 022 # the modes of what the daemons make are checked
tmp=$(mktemp -d)
chmod 0755 "$tmp" # other users must reach what is below
export tmp S D PY FORGER A B C PROJECT_DATA_DIR BUILD_DIR root
cleanup() {
  # Every process a case started, in a namespace or not, is in $tmp/pids.
  if [ -f "$tmp/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null; done <"$tmp/pids"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
: >"$tmp/results"

mkdir "$tmp/pb"
if ! protoc --python_out="$tmp/pb" -I "$root/proto" "$root/proto/smtpstatus.proto"; then
  echo "FAIL: protoc cannot compile proto/smtpstatus.proto"; echo "0 passed, 1 failed"; exit 1
fi
chmod -R a+rX "$tmp/pb"

# ---- helpers (exported: the namespace cases run them in a new bash) --------------------------

ok() { echo "ok: $*"; echo ok >>"$tmp/results"; }
bad() { echo "FAIL: $*"; echo fail >>"$tmp/results"; }

# as UID COMMAND...: runs COMMAND as that uid and gid, with no supplementary groups.
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }

# wait_for WHAT SECS COMMAND...: polls COMMAND until it succeeds; fails after SECS seconds.
wait_for() {
  local what=$1 end=$((SECONDS + $2))
  shift 2
  until "$@"; do
    if [ "$SECONDS" -ge "$end" ]; then echo "  timed out waiting for $what"; return 1; fi
    sleep 0.05
  done
}

# forger UID SOCKET LOG: starts forged_daemon.py as UID on SOCKET and waits until it listens.
forger() {
  local u=$1 sock=$2 log=$3
  : >"$log"
  chmod 0666 "$log"
  # Not through as(): a function in the background is a subshell, and $! would not be the forger.
  setpriv --reuid "$u" --regid "$u" --clear-groups "$PY" "$FORGER" "$tmp/pb" "$sock" "$log" \
    </dev/null >/dev/null 2>>"$log.err" &
  echo $! >>"$tmp/pids"
  wait_for "the forger on $sock" 20 grep -q '^ready$' "$log"
}

# daemon LOG ARGS...: starts smtpstatusd --foreground --http off ARGS in the background (the
# caller may prefix `as UID`-style commands through DAEMON_AS), and waits until it is ready.
daemon() {
  local log=$1
  shift
  ${DAEMON_AS:-} "$D" --foreground --http off "$@" </dev/null >/dev/null 2>"$log" &
  echo $! >>"$tmp/pids"
  DAEMON_PID=$!
  wait_for "the daemon to be ready" 20 grep -q 'ready: listening on' "$log" ||
    { sed 's/^/  | /' "$log"; return 1; }
}

# stop PID: SIGTERM, and wait for it to go.
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# refused NAME WANT_ERR LOG COMMAND...: COMMAND must exit 3, say WANT_ERR (a regex) on stderr,
# print nothing forged, and the forger (LOG) must never have been asked anything.
refused() {
  local name=$1 want=$2 log=$3
  shift 3
  "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if grep -q FORGED "$tmp/out" "$tmp/err" || grep -Eqi 'retry' "$tmp/out"; then
    bad "$name: printed the forged answer"; sed 's/^/  | /' "$tmp/out" "$tmp/err"
  elif [ "$rc" -ne 3 ]; then
    bad "$name: exit $rc, want 3"; sed 's/^/  | /' "$tmp/out" "$tmp/err"
  elif ! grep -Eq -- "$want" "$tmp/err"; then
    bad "$name: stderr lacks /$want/"; sed 's/^/  | /' "$tmp/err"
  elif grep -q '^asked' "$log"; then
    bad "$name: the forger was asked: $(grep '^asked' "$log" | tr '\n' ' ')"
  else
    ok "$name"
  fi
}

# answers NAME COMMAND...: COMMAND must exit 0 with the real title of 5.1.1.
answers() {
  local name=$1
  shift
  if "$@" </dev/null >"$tmp/out" 2>"$tmp/err" &&
    grep -q 'Bad destination mailbox address' "$tmp/out"; then
    ok "$name"
  else
    bad "$name"; sed 's/^/  | /' "$tmp/out" "$tmp/err"
  fi
}

# in_namespace FUNCTION: runs FUNCTION in a private mount namespace with an empty tmpfs on /run
# and on /tmp, where $tmp stays reachable as /run/t. A checkout or build under /tmp (as a CI
# clone may be) is bound back in place, so the programs under test are still there.
in_namespace() {
  export -f "${1?}" # the case runs in a new bash
  unshare --mount --propagation private bash -c '
    mount -t tmpfs -o mode=0755 tmpfs /run &&
    mkdir /run/t /run/oldtmp && mount --bind "$0" /run/t && mount --bind /tmp /run/oldtmp &&
    mount -t tmpfs -o mode=1777 tmpfs /tmp || { bad "cannot set up a mount namespace"; exit 1; }
    for keep in "$1" "$2" "$3"; do
      case $keep in
      /tmp/?*)
        top=${keep#/tmp/}; top=${top%%/*}
        [ -d "/tmp/$top" ] ||
          { mkdir "/tmp/$top" && mount --bind "/run/oldtmp/$top" "/tmp/$top"; } ||
          { bad "cannot keep /tmp/$top in the mount namespace"; exit 1; }
        ;;
      esac
    done
    tmp=/run/t
    '"$1"'' "$tmp" "$BUILD_DIR" "$root" "$PROJECT_DATA_DIR"
}
export -f ok bad as wait_for forger daemon stop refused answers

# ---- (a) a planted run directory and a planted socket ---------------------------------------

# A "/tmp" where anyone may make a directory, as in the real /tmp.
mkdir -m 1777 "$tmp/pub"
planted=$tmp/pub/smtpstatusd-$B
as "$A" mkdir -m 0755 "$planted"
forger "$A" "$planted/smtpstatusd.sock" "$tmp/forger-a.log" || bad "(a) the forger did not start"
for cmd in "lookup 5.1.1" "classify 550_5.1.1_no_such_user" "--socket lookup 5.1.1"; do
  read -ra argv <<<"${cmd//_/ }"
  [ "${argv[0]}" = classify ] && argv=(classify "550 5.1.1 no such user")
  refused "(a) SMTPSTATUS_RUNDIR at a directory uid $A planted: $cmd" \
    "not trusted: $planted: owned by uid $A, not by root, you \(uid $B\)" "$tmp/forger-a.log" \
    as "$B" env SMTPSTATUS_RUNDIR="$planted" "$S" "${argv[@]}"
done
refused "(a) --rundir at a directory uid $A planted, as root" \
  "not trusted: $planted: owned by uid $A, not by root, you \(uid 0\)" "$tmp/forger-a.log" \
  "$S" --rundir "$planted" lookup 5.1.1
refused "(a) --json: the same refusal" "not trusted: $planted" "$tmp/forger-a.log" \
  as "$B" "$S" --json --rundir "$planted" lookup 5.1.1

# The old default of a user other than root: /tmp/smtpstatusd-UID, which anyone can make first.
case_a_tmp() {
  as "$A" mkdir -m 0755 "/tmp/smtpstatusd-$B" &&
    forger "$A" "/tmp/smtpstatusd-$B/smtpstatusd.sock" "$tmp/forger-tmp.log" ||
    { bad "(a) the forger did not start in /tmp"; return; }
  refused "(a) no settings, a forger in /tmp/smtpstatusd-$B: lookup" \
    "no daemon answers at /run/smtpstatusd/smtpstatusd.sock" "$tmp/forger-tmp.log" \
    as "$B" env -u SMTPSTATUS_RUNDIR -u XDG_RUNTIME_DIR "$S" lookup 5.1.1
  refused "(a) no settings, a forger in /tmp/smtpstatusd-$B: classify" \
    "no daemon answers at /run/smtpstatusd/smtpstatusd.sock" "$tmp/forger-tmp.log" \
    as "$B" env -u SMTPSTATUS_RUNDIR -u XDG_RUNTIME_DIR "$S" classify "550 5.1.1 no such user"
  if grep -q connection "$tmp/forger-tmp.log"; then
    bad "(a) a client connected to /tmp/smtpstatusd-$B"
  else
    ok "(a) no client connected to /tmp/smtpstatusd-$B"
  fi
}
in_namespace case_a_tmp

# A directory the victim owns and nobody else may write, whose socket a process of uid A
# serves: it bound the socket while the directory was open to all, which was then closed.
trusted=$tmp/trusted
mkdir -m 0777 "$trusted"
chown "$B:$B" "$trusted"
forger "$A" "$trusted/smtpstatusd.sock" "$tmp/forger-peer.log" || bad "(a) the forger did not start"
chmod 0755 "$trusted"
refused "(a) SO_PEERCRED: a socket served by uid $A in the victim's own directory" \
  "not trusted: $trusted/smtpstatusd.sock: served by uid $A \(pid [0-9]+\), not by root, you \(uid $B\)" \
  "$tmp/forger-peer.log" as "$B" env SMTPSTATUS_RUNDIR="$trusted" "$S" lookup 5.1.1
refused "(a) SO_PEERCRED: the same, for root" \
  "served by uid $A \(pid [0-9]+\), not by root, you \(uid 0\) or the daemon's user" \
  "$tmp/forger-peer.log" "$S" --rundir "$trusted" classify "550 5.1.1 no such user"
grep -q connection "$tmp/forger-peer.log" ||
  bad "(a) SO_PEERCRED: no client connected, so the peer check was not what refused"

# ---- (b) a client with no settings finds the system daemon ----------------------------------

case_b() {
  daemon "$tmp/b-root.log" --rundir /run/smtpstatusd --statedir "$tmp/b-state" ||
    { bad "(b) the daemon as root did not start"; return; }
  local pid=$DAEMON_PID
  answers "(b) uid $B with no settings, root's daemon in /run/smtpstatusd" \
    as "$B" env -u SMTPSTATUS_RUNDIR -u XDG_RUNTIME_DIR "$S" lookup 5.1.1
  answers "(b) the same through the socket (peer: root)" \
    as "$B" env -u SMTPSTATUS_RUNDIR -u XDG_RUNTIME_DIR "$S" --socket lookup 5.1.1
  answers "(b) the same with XDG_RUNTIME_DIR set, which no longer matters" \
    as "$B" env -u SMTPSTATUS_RUNDIR XDG_RUNTIME_DIR="$tmp/pub" "$S" lookup 5.1.1
  stop "$pid"

  # As the packaged service: /run/smtpstatusd made by root (systemd) for the daemon's user,
  # which runs without --rundir.
  rm -rf /run/smtpstatusd
  mkdir -m 0755 /run/smtpstatusd /run/c-state
  chown "$C:$C" /run/smtpstatusd /run/c-state
  DAEMON_AS="setpriv --reuid $C --regid $C --clear-groups env -u SMTPSTATUS_RUNDIR" \
    daemon "$tmp/b-user.log" --statedir /run/c-state ||
    { bad "(b) the daemon as uid $C without --rundir did not start"; return; }
  pid=$DAEMON_PID
  if grep -q 'ready: listening on /run/smtpstatusd/smtpstatusd.sock' "$tmp/b-user.log"; then
    ok "(b) the daemon as uid $C without --rundir serves /run/smtpstatusd"
  else
    bad "(b) the daemon as uid $C without --rundir serves elsewhere"; sed 's/^/  | /' "$tmp/b-user.log"
  fi
  answers "(b) uid $B with no settings, uid $C's daemon in /run/smtpstatusd (its image)" \
    as "$B" env -u SMTPSTATUS_RUNDIR -u XDG_RUNTIME_DIR "$S" lookup 5.1.1
  answers "(b) the same through the socket (peer: the daemon's user)" \
    as "$B" env -u SMTPSTATUS_RUNDIR -u XDG_RUNTIME_DIR "$S" --socket lookup 5.1.1
  if as "$B" env -u SMTPSTATUS_RUNDIR "$S" info 2>&1 | grep -q '^Answered by: shared memory'; then
    ok "(b) uid $B maps the image of uid $C's daemon"
  else
    bad "(b) uid $B does not map the image of uid $C's daemon"
  fi
  stop "$pid"
}
in_namespace case_b

# A daemon of one's own, without --rundir and without the right to make /run/smtpstatusd.
case_b_user() {
  timeout 10 setpriv --reuid "$C" --regid "$C" --clear-groups env -u SMTPSTATUS_RUNDIR \
    "$D" --foreground --http off --statedir /run/t/none \
    </dev/null >/dev/null 2>"$tmp/b-own.err"
  local rc=$?
  if [ "$rc" -eq 1 ] && grep -q "cannot create the run directory /run/smtpstatusd: .*give --rundir DIR or set SMTPSTATUS_RUNDIR" "$tmp/b-own.err"; then
    ok "(b) a user's daemon with no --rundir says to give one"
  else
    bad "(b) a user's daemon with no --rundir: exit $rc"; sed 's/^/  | /' "$tmp/b-own.err"
  fi
}
in_namespace case_b_user

# ---- (c) the daemon refuses foreign run and state directories ------------------------------

# starts_not NAME WANT_ERR ARGS...: the daemon must exit 1 at once saying WANT_ERR. A daemon
# that starts instead is stopped after 10 s (`timeout`), and fails the case.
starts_not() {
  local name=$1 want=$2
  shift 2
  timeout 10 "$D" --foreground --http off "$@" </dev/null >/dev/null 2>"$tmp/c.err"
  local rc=$?
  if [ "$rc" -eq 1 ] && grep -Eq -- "$want" "$tmp/c.err"; then
    ok "$name"
  else
    bad "$name: exit $rc"; sed 's/^/  | /' "$tmp/c.err"
  fi
}
mkdir -p "$tmp/c/state-ok"
chmod 0755 "$tmp/c"
mkdir -m 0755 "$tmp/c/run-foreign" "$tmp/c/state-foreign"
chown "$A:$A" "$tmp/c/run-foreign" "$tmp/c/state-foreign"
mkdir "$tmp/c/run-0777" "$tmp/c/run-0775" "$tmp/c/state-0757"
chmod 0777 "$tmp/c/run-0777"
chmod 0775 "$tmp/c/run-0775"
chmod 0757 "$tmp/c/state-0757"
# refuses KIND DIR WHY: the daemon must not start with DIR as its KIND (run or state) directory.
refuses() {
  local kind=$1 dir=$2 why=$3 opts
  opts=(--rundir "$tmp/c/run" --statedir "$dir")
  [ "$kind" = run ] && opts=(--rundir "$dir" --statedir "$tmp/c/state-ok")
  starts_not "(c) the $kind directory ${dir##*/}" "refusing the $kind directory $dir: $why" "${opts[@]}"
}
mine="not by this daemon's user \(uid 0\) or root"
refuses run "$tmp/c/run-foreign" "owned by uid $A, $mine"
refuses run "$tmp/c/run-0777" "writable by group or others \(mode 777\)"
refuses state "$tmp/c/state-foreign" "owned by uid $A, $mine"
refuses state "$tmp/c/state-0757" "writable by group or others \(mode 757\)"
SMTPSTATUS_RUNDIR=$tmp/c/run-0775 starts_not "(c) a run directory its group may write (SMTPSTATUS_RUNDIR)" \
  "refusing the run directory $tmp/c/run-0775: writable by group or others \(mode 775\)" \
  --statedir "$tmp/c/state-ok"
# A daemon that stopped leaves its image behind.
if [ -n "$(find "$tmp/c/run-foreign" "$tmp/c/run-0777" "$tmp/c/run-0775" -mindepth 1)" ]; then
  bad "(c) a refused run directory was written to"
else
  ok "(c) nothing was written in a refused run directory"
fi

# A state directory that another user made after start-up, before the first reload (its parent
# is a sticky directory anyone may write in): the reload refuses to save there, and changes
# nothing.
mkdir -m 1777 "$tmp/c/pub"
daemon "$tmp/c-reload.log" --rundir "$tmp/c/run" --statedir "$tmp/c/pub/state" ||
  bad "(c) the daemon did not start"
cpid=$DAEMON_PID
as "$A" mkdir -m 0777 "$tmp/c/pub/state"
"$S" --rundir "$tmp/c/run" reload "$PROJECT_DATA_DIR" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] &&
  grep -q "refusing the state directory: owned by uid $A, not by this daemon's user" "$tmp/out" "$tmp/err" &&
  [ -z "$(ls -A "$tmp/c/pub/state")" ]; then
  ok "(c) a reload refuses a state directory uid $A made after start-up"
else
  bad "(c) a reload into a state directory uid $A made: exit $rc"
  sed 's/^/  | /' "$tmp/out" "$tmp/err"; ls -la "$tmp/c/pub/state" | sed 's/^/  | /'
fi
stop "$cpid"

# ---- (d) a user's daemon with no ~/.local/state reloads ------------------------------------

mkdir -p "$tmp/d/home" "$tmp/d/registry"
cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-*.csv "$tmp/d/registry/"
chown -R "$C:$C" "$tmp/d"
chmod -R go-w "$tmp/d"
DAEMON_AS="setpriv --reuid $C --regid $C --clear-groups env -u XDG_STATE_HOME HOME=$tmp/d/home" \
  daemon "$tmp/d.log" --rundir "$tmp/d/run" --registry "$tmp/d/registry" ||
  bad "(d) the daemon as uid $C did not start"
dpid=$DAEMON_PID
if as "$C" "$S" --rundir "$tmp/d/run" reload "$tmp/d/registry" >"$tmp/out" 2>"$tmp/err" &&
  grep -q 'reloaded' "$tmp/out"; then
  ok "(d) uid $C's daemon reloads with no ~/.local/state"
else
  bad "(d) uid $C's daemon cannot reload with no ~/.local/state"
  sed 's/^/  | /' "$tmp/out" "$tmp/err" "$tmp/d.log"
fi
state=$tmp/d/home/.local/state/smtpstatusd
modes=$(stat -c '%a %u' "$tmp/d/home/.local" "$tmp/d/home/.local/state" "$state" 2>/dev/null | tr '\n' ' ')
if [ -f "$state/registry/smtp-enhanced-status-codes-3.csv" ] &&
  [ "$modes" = "700 $C 700 $C 755 $C " ]; then
  ok "(d) the saved registry is in $state; its parents were made 0700, it 0755, all uid $C's"
else
  bad "(d) the state directory: modes and owners '$modes'"
  ls -laR "$tmp/d/home" | sed 's/^/  | /'
fi
stop "$dpid"
DAEMON_AS="setpriv --reuid $C --regid $C --clear-groups env -u XDG_STATE_HOME HOME=$tmp/d/home" \
  daemon "$tmp/d2.log" --rundir "$tmp/d/run" ||
  bad "(d) the daemon as uid $C did not start again"
if grep -q "serving generation [0-9]* from $state/registry" "$tmp/d2.log"; then
  ok "(d) a restart serves the saved registry"
else
  bad "(d) a restart does not serve the saved registry"; sed 's/^/  | /' "$tmp/d2.log"
fi
stop "$DAEMON_PID"

pass=$(grep -c '^ok$' "$tmp/results")
fail=$(grep -c '^fail$' "$tmp/results")
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
