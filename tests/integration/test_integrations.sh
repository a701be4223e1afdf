#!/usr/bin/env bash
# The recipes of smtpstatus-integrations(7), run as the page prints them: each block marked
# `.\" recipe NAME` in packaging/man/smtpstatus-integrations.7 is read out of the page source
# (roff escapes undone), its Debian paths pointed at this build and at a real smtpstatusd in a
# temp run directory, and run: the Postfix socketmap line answers a status query, the Python
# pipe(8) bounce processor writes the dead recipient of a Postfix DSN and no other, the Exim
# ${run} command classifies Exim's error string split into words as Exim splits it, and every `$ ` command
# of the curl and jq block prints the lines under it. ctest sets SMTPSTATUSD and BUILD_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)
page=$root/packaging/man/smtpstatus-integrations.7
S=$BUILD_DIR/smtpstatus

tmp=$(mktemp -d)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

for tool in curl jq /usr/bin/python3; do
  command -v "$tool" >/dev/null || { bad "$tool is missing (packaging/install-deps.sh --test)"; finish; }
done

# recipe NAME: the literal block after `.\" recipe NAME`, as a reader sees it.
recipe() {
  awk -v want="$1" '
    $0 == ".\\\" recipe " want { armed = 1; next }
    armed && /^\.Bd -literal/ { inside = 1; next }
    inside && /^\.Ed/ { exit }
    inside { print }' "$page" |
    sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g'
}

# The Debian paths of the page, pointed at this test's daemon and build.
localize() {
  sed -e "s#/run/smtpstatusd#$RUN#g" -e "s#/usr/bin/smtpstatus#$S#g" \
      -e "s#127\\.0\\.0\\.1:3463#127.0.0.1:$port#g"
}

for name in main.cf master.cf bounce-processor exim curl; do
  [ -n "$(recipe "$name")" ] || bad "the page has no recipe block \"$name\""
done

# ---- the daemon: temp run directory, a free HTTP port, readiness from its log -----------------
RUN=$tmp/run
"$SMTPSTATUSD" --rundir "$RUN" --statedir "$tmp/state" --log-target stderr --http 127.0.0.1:0 \
  2>"$tmp/daemon.log" </dev/null
rc=$?
if [ $rc -ne 0 ] || ! grep -q "ready: listening on" "$tmp/daemon.log"; then
  bad "the daemon did not start (exit $rc)"; sed 's/^/  | /' "$tmp/daemon.log"; finish
fi
daemon_pid=$(cat "$RUN/smtpstatusd.lock")
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/daemon.log" | head -n 1)
export SMTPSTATUS_RUNDIR=$RUN
ok "smtpstatusd runs in $RUN, HTTP on port $port"

# ---- Postfix status filter ---------------------------------------------------------------------
line=$(recipe main.cf)
map=$(printf '%s\n' "$line" | localize | sed -n 's/^smtp_delivery_status_filter = socketmap:unix:\(.*\)$/\1/p')
sock=${map%:*} mapname=${map##*:}
if [ -S "$sock" ] && [ "$mapname" = status ]; then
  ok "main.cf: the socket of the line is the daemon's ($sock), map \"status\""
else
  bad "main.cf line \"$line\": no socketmap socket at \"$sock\" (map \"$mapname\")"
fi
# The same line, with the run directory of the test, is the one the real Postfix test uses.
if grep -qF 'smtp_delivery_status_filter = socketmap:unix:$SOCK:status' "$root/tests/integration/test_postfix_filter.sh" &&
   [ "$line" = "smtp_delivery_status_filter = socketmap:unix:/run/smtpstatusd/socketmap.sock:status" ]; then
  ok "main.cf: test_postfix_filter.sh runs Postfix with this line"
else
  bad "main.cf: the line differs from the one test_postfix_filter.sh tests"
fi
# What Postfix's socketmap client sends: a netstring "status KEY"; the answer "OK STATUS TEXT".
KEY='5.0.0 host mx.example[192.0.2.1] said: 550 No such user here (in reply to RCPT TO command)'
got=$(/usr/bin/python3 - "$sock" "$mapname $KEY" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
q = sys.argv[2].encode()
s.sendall(str(len(q)).encode() + b":" + q + b",")
data = b""
while not (data and data.endswith(b",") and b":" in data
           and len(data) >= data.index(b":") + 2 + int(data[:data.index(b":")])):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data[data.index(b":") + 1:-1].decode())
PY
)
if [ "$got" = "OK 5.1.1 ${KEY#5.0.0 }" ]; then
  ok "main.cf: the socketmap turns Postfix's 5.0.0 for \"550 No such user here\" into 5.1.1"
else
  bad "socketmap status answer: \"$got\""
fi

# ---- Postfix pipe(8) bounce processor in Python ------------------------------------------------
recipe master.cf >"$tmp/master.cf"
if grep -qE '^bounceproc +unix +- +n +n +- +- +pipe$' "$tmp/master.cf" &&
   grep -qE '^  flags=[A-Za-z]* user=[a-z]+ argv=/usr/local/libexec/bounce-processor [^ ]+$' "$tmp/master.cf"; then
  ok "master.cf: a pipe service running the bounce processor with one argument"
else
  bad "master.cf entry"; sed 's/^/  | /' "$tmp/master.cf"
fi
recipe bounce-processor | localize >"$tmp/bounce-processor"
chmod +x "$tmp/bounce-processor"
export PYTHONPATH=$root/client/python PYTHONDONTWRITEBYTECODE=1
export SMTPSTATUS_LIBRARY=$BUILD_DIR/libsmtpstatus.so.0
# A sanitizer build's library needs ASan's runtime loaded first, which an uninstrumented Python
# does not do; Python's own memory at exit is not ours to report.
py=()
[ "${SANITIZE:-OFF}" = ON ] && py=(env "LD_PRELOAD=$(cc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0)
if /usr/bin/python3 -m py_compile "$tmp/bounce-processor" 2>"$tmp/err"; then ok "bounce processor: valid Python"; else
  bad "bounce processor does not compile"; sed 's/^/  | /' "$tmp/err"; fi
"${py[@]}" "$tmp/bounce-processor" "$tmp/suppress.tsv" <"$root/tests/data/bounces/postfix_dsn.eml" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/suppress.tsv" 2>/dev/null)" = "$(printf 'nobody@example.org\t5.1.1\tbad-mailbox')" ]; then
  ok "bounce processor: the dead recipient of a Postfix DSN is recorded, the delayed one is not"
else
  bad "bounce processor: exit $rc"; sed 's/^/  | /' "$tmp/suppress.tsv" "$tmp/err" 2>/dev/null
fi
# A letter that is no bounce: nothing to record, and accepted (exit 0), not retried forever.
printf 'From: someone@example.org\nSubject: hello\n\nJust a letter.\n' |
  "${py[@]}" "$tmp/bounce-processor" "$tmp/letter.tsv" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/letter.tsv" ]; then ok "bounce processor: a letter that is no bounce is accepted, nothing written"; else
  bad "bounce processor on a plain letter: exit $rc"; sed 's/^/  | /' "$tmp/err"; fi

# No daemon: EX_TEMPFAIL, so that Postfix keeps the bounce and tries again; nothing written.
SMTPSTATUS_RUNDIR=$tmp/nowhere "${py[@]}" "$tmp/bounce-processor" "$tmp/none.tsv" \
  <"$root/tests/data/bounces/postfix_dsn.eml" 2>"$tmp/err"
rc=$?
if [ $rc -eq 75 ] && [ ! -s "$tmp/none.tsv" ]; then ok "bounce processor: no daemon, exit 75 (EX_TEMPFAIL)"; else
  bad "bounce processor without a daemon: exit $rc"; sed 's/^/  | /' "$tmp/err"; fi

# ---- Exim ${run} -------------------------------------------------------------------------------
cmd=$(recipe exim | localize | tr -d '\n' | sed -n 's/.*\${run{\([^}]*\)}}.*/\1/p')
case $cmd in
  "$S --json classify \$event_data") ok "exim: the \${run} command is \"$(recipe exim | sed -n 's/.*\${run{\([^}]*\)}}.*/\1/p')\"" ;;
  *) bad "exim: no \${run{...}} command found (\"$cmd\")" ;;
esac
# $event_data of msg:rcpt:defer: Exim's error string, the remote reply at its end.
pre='SMTP error from remote mail server after RCPT TO:<a@example.org>:'
for case in "452 4.2.2 Mailbox full, try again later|mailbox-full" \
            "451 4.7.1 Too many messages, try again in 10 minutes|rate-limit"; do
  reply=${case%|*} want=${case##*|}
  # Exim splits the expanded command on white space, without a shell.
  read -ra argv <<<"${cmd//\$event_data/$pre $reply}"
  "${argv[@]}" >"$tmp/exim.out" 2>"$tmp/err"
  rc=$?
  "$S" --offline --json classify "$pre $reply" >"$tmp/want.out"
  if [ $rc -eq 0 ] && [ "$(jq -c 'del(.entry)' "$tmp/exim.out")" = "$(jq -c 'del(.entry)' "$tmp/want.out")" ] &&
     [ "$(jq -r .reason "$tmp/exim.out")" = "$want" ] && [ "$(jq -r .text "$tmp/exim.out")" = "${reply#* * }" ]; then
    ok "exim: \"$reply\" after Exim's prefix, in ${#argv[@]} words, is one reply: $want"
  else
    bad "exim: \"$reply\": exit $rc, want $want"; sed 's/^/  | /' "$tmp/exim.out" "$tmp/err"
  fi
done

# ---- curl and jq ----------------------------------------------------------------------------------
# Each "$ " line (with its "> " continuations) is a command; the lines up to the next command are
# what it prints.
recipe curl | localize >"$tmp/curl.txt"
n=0 cmd="" want=""
run_one() {
  [ -n "$cmd" ] || return 0
  n=$((n + 1))
  got=$(bash -c "set -o pipefail; $cmd" 2>&1)
  if [ "$got" = "$want" ]; then ok "curl/jq: $cmd"; else
    bad "curl/jq: $cmd"; printf 'want: %s\ngot:  %s\n' "$want" "$got" | sed 's/^/  | /'; fi
}
while IFS= read -r l; do
  case $l in
    '$ '*) run_one; cmd=${l#\$ } want="" ;;
    '> '*) cmd+=$'\n'${l#> } ;;
    *) want+=${want:+$'\n'}$l ;;
  esac
done <"$tmp/curl.txt"
run_one
[ "$n" -ge 3 ] || bad "curl/jq: only $n commands in the block"

if grep -q ': error: \|Sanitizer\|runtime error' "$tmp/daemon.log"; then
  bad "the daemon logged errors"; sed 's/^/  | /' "$tmp/daemon.log"
fi
finish
