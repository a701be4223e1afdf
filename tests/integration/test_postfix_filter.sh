#!/usr/bin/env bash
# A real Postfix asks smtpstatusd's socketmap for the status of each delivery (issue 13 §1):
# smtp_delivery_status_filter = socketmap:unix:RUNDIR/socketmap.sock:status.
#
# A private Postfix instance (its own config_directory, queue_directory and data_directory in a
# temp directory, no smtpd and no listening port of its own, no system file touched) relays
# everything to smtp_sink.py on a loopback port, which refuses chosen recipients. With the
# filter, in Postfix's own log and queue:
#   - "550 5.7.1 Too many messages from your IP, slow down" is deferred (4.7.1), not bounced;
#   - "550 5.1.1 User unknown" bounces with 5.1.1;
#   - "550 No such user here" (no enhanced code: Postfix says 5.0.0) bounces with 5.1.1.
# Without it (the same instance, reloaded), the first bounces (5.7.1) and the last bounces
# with 5.0.0. It also asks the socketmap directly with `postmap -q`, as the postfix user.
#
# It needs root (Postfix's master runs as root and its smtp client as user postfix) and
# Debian's postfix (packaging/install-deps.sh --test installs it). Not root: SKIP, as the
# README's test command may run unprivileged; root without postfix: FAIL, since that command
# would have installed it. ctest sets SMTPSTATUSD and BUILD_DIR; KEEP_TMP=1 keeps the temp
# directory (the maillog) for a look after the run.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root to run a private Postfix instance"
  exit 0
fi
if ! command -v postfix >/dev/null || ! id postfix >/dev/null 2>&1; then
  echo "FAIL: Postfix is not installed: run packaging/install-deps.sh --test"
  exit 1
fi

tmp=$(mktemp -d)
chmod 755 "$tmp" # the smtp client (user postfix) reaches the socketmap socket under it
PF=$tmp/postfix  # config_directory
Q=$tmp/queue
RUN=$tmp/run
LOG=$tmp/maillog
sink_pid=""
daemon_pid=""

# Every process of this instance: the master (and its process group), and any Postfix daemon
# whose working directory is this queue (they all chdir there). Nothing else is touched.
stop_postfix() {
  [ -f "$PF/main.cf" ] && timeout 20 postfix -c "$PF" stop >/dev/null 2>&1
  local m
  m=$(cat "$Q/pid/master.pid" 2>/dev/null | tr -d ' ')
  if [ -n "$m" ] && [ -d "/proc/$m" ] && [ "$(readlink "/proc/$m/cwd")" = "$Q" ]; then
    kill -KILL -- "-$m" 2>/dev/null
    kill -KILL "$m" 2>/dev/null
  fi
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2>/dev/null)" = "$Q" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
}
cleanup() {
  stop_postfix
  [ -n "$sink_pid" ] && kill -KILL "$sink_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# until_ok SECONDS CMD...: CMD until it succeeds, polling, for at most SECONDS.
until_ok() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.1; done
}

# ---- smtpstatusd, detached: it returns once its sockets are listening ----------------------
if ! "$SMTPSTATUSD" --rundir "$RUN" --statedir "$tmp/state" --http off \
     --log-target stderr 2>"$tmp/smtpstatusd.log"; then
  bad "smtpstatusd did not start"; cat "$tmp/smtpstatusd.log"; exit 1
fi
daemon_pid=$(head -n 1 "$RUN/smtpstatusd.lock")
SOCK=$RUN/socketmap.sock
[ -S "$SOCK" ] && ok "the daemon serves $SOCK" || bad "no socket at $SOCK"
mode=$(stat -c %a "$SOCK")
[ "$mode" = 666 ] && ok "socketmap.sock is mode 666, as the main socket" || bad "mode $mode"

# ---- the test SMTP server ---------------------------------------------------------------------
/usr/bin/python3 "$here/smtp_sink.py" "$tmp/sink.port" >"$tmp/sink.log" 2>&1 &
sink_pid=$!
disown "$sink_pid" # killed in cleanup(), without the shell's notice
until_ok 20 test -s "$tmp/sink.port" || { bad "the SMTP sink did not start"; exit 1; }
PORT=$(cat "$tmp/sink.port")

# ---- the private Postfix instance -------------------------------------------------------------
mkdir -p "$PF" "$Q" "$tmp/data"
chown postfix: "$tmp/data" # data_directory is the mail owner's
cat >"$PF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $Q
data_directory = $tmp/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-test.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
relayhost = [127.0.0.1]:$PORT
default_transport = smtp
local_transport = error:local delivery is disabled in this test
alias_maps =
alias_database =
smtp_tls_security_level = none
smtputf8_enable = no
biff = no
maillog_file = $LOG
maillog_file_prefixes = $tmp
smtp_delivery_status_filter = socketmap:unix:$SOCK:status
EOF
# No smtpd: the instance takes mail from sendmail alone and listens on no port.
cat >"$PF/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
showq     unix  n       -       n       -       -       showq
scache    unix  -       -       n       -       1       scache
anvil     unix  -       -       n       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
if ! timeout 60 postfix -c "$PF" start >"$tmp/start.log" 2>&1; then
  bad "postfix -c $PF start failed"; cat "$tmp/start.log" "$LOG" 2>/dev/null | sed "s/^/  | /"; exit 1
fi
until_ok 30 test -s "$Q/pid/master.pid" || { bad "the Postfix master did not start"; exit 1; }
ok "a private Postfix ($(postconf -c "$PF" -h mail_version)) runs in $PF"

# ---- the socketmap as Postfix's own client asks it, as user postfix --------------------------
KEY='5.0.0 host 127.0.0.1[127.0.0.1] said: 550 No such user here (in reply to RCPT TO command)'
got=$(setpriv --reuid=postfix --regid=postfix --clear-groups \
      postmap -c "$PF" -q "$KEY" "socketmap:unix:$SOCK:status" 2>&1)
[ "$got" = "5.1.1 ${KEY#5.0.0 }" ] && ok "postmap -q as user postfix: 5.0.0 becomes 5.1.1" ||
  bad "postmap -q status: \"$got\""
got=$(postmap -c "$PF" -q '550 5.7.1 Too many messages from your IP, slow down' \
      "socketmap:unix:$SOCK:reason" 2>&1)
case $got in
  reason=rate-limit\ retry=yes*) ok "postmap -q reason: $got" ;;
  *) bad "postmap -q reason: \"$got\"" ;;
esac
got=$(postmap -c "$PF" -q '2.0.0 host x said: 250 Ok' "socketmap:unix:$SOCK:status"; echo "rc=$?")
[ "$got" = "rc=1" ] && ok "a 2.X.X is not found (left alone)" || bad "2.0.0: \"$got\""

# ---- mail --------------------------------------------------------------------------------------
# send RCPT: one message to RCPT through the instance's sendmail (postdrop).
send() {
  printf 'Subject: test to %s\n\nbody\n' "$1" |
    sendmail -C "$PF" -f sender@example.test "$1"
}
# logged RCPT STATUS: the maillog has the delivery line of RCPT with status=STATUS.
logged() { grep -q "to=<$1>,.* status=$2 " "$LOG" 2>/dev/null; }
# outcome RCPT: waits for RCPT's delivery line (bounced or deferred), prints "STATUS DSN".
outcome() {
  until_ok 60 grep -qE "to=<$1>,.* status=(bounced|deferred) " "$LOG" || { echo "none"; return; }
  grep -E "to=<$1>,.* status=(bounced|deferred) " "$LOG" | tail -n 1 |
    sed -E 's/.* dsn=([0-9.]+), status=([a-z]+) .*/\2 \1/'
}
# queued RCPT: RCPT's message is in the deferred queue (postqueue's JSON lines).
queued() {
  postqueue -c "$PF" -j 2>/dev/null | /usr/bin/python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    if m["queue_name"] == "deferred" and any(r["address"] == want for r in m["recipients"]):
        sys.exit(0)
sys.exit(1)' "$1"
}

for r in ratelimit-1 unknown-1 nouser-1; do send "$r@example.test"; done
got=$(outcome ratelimit-1@example.test)
[ "$got" = "deferred 4.7.1" ] && ok "filter: 550 5.7.1 Too many messages ... is deferred (4.7.1)" ||
  bad "filter: the rate limit gave \"$got\", want deferred 4.7.1"
until_ok 20 queued ratelimit-1@example.test && ok "filter: the message waits in the deferred queue" ||
  bad "filter: the rate-limited message is not in the deferred queue"
got=$(outcome unknown-1@example.test)
[ "$got" = "bounced 5.1.1" ] && ok "filter: 550 5.1.1 User unknown bounces with 5.1.1" ||
  bad "filter: User unknown gave \"$got\""
got=$(outcome nouser-1@example.test)
[ "$got" = "bounced 5.1.1" ] && ok "filter: 550 No such user here bounces with 5.1.1, not 5.0.0" ||
  bad "filter: No such user here gave \"$got\""
grep -q "said: 550 No such user here" "$LOG" && ok "the explanatory text is kept" ||
  bad "the explanatory text changed"

# ---- the same without the filter ----------------------------------------------------------------
postconf -c "$PF" -e 'smtp_delivery_status_filter =' || bad "postconf -e"
timeout 30 postfix -c "$PF" reload >/dev/null 2>&1 || bad "postfix reload"
for r in ratelimit-2 unknown-2 nouser-2; do send "$r@example.test"; done
got=$(outcome ratelimit-2@example.test)
[ "$got" = "bounced 5.7.1" ] && ok "no filter: the rate limit bounces (5.7.1)" ||
  bad "no filter: the rate limit gave \"$got\", want bounced 5.7.1"
got=$(outcome unknown-2@example.test)
[ "$got" = "bounced 5.1.1" ] && ok "no filter: User unknown bounces with 5.1.1" ||
  bad "no filter: User unknown gave \"$got\""
got=$(outcome nouser-2@example.test)
[ "$got" = "bounced 5.0.0" ] && ok "no filter: No such user here bounces with 5.0.0" ||
  bad "no filter: No such user here gave \"$got\""

if [ "$fail" -ne 0 ]; then
  echo "--- maillog"; sed 's/^/  | /' "$LOG" 2>/dev/null | tail -n 60
  echo "--- smtpstatusd"; sed 's/^/  | /' "$tmp/smtpstatusd.log" | tail -n 20
fi
echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
