#!/usr/bin/env bash
# Integration test of bounce messages read whole: the real smtpstatusd in a temp run directory,
# asked by `smtpstatus bounce` over its socket, by curl with POST /v1/bounce, and answered by
# `smtpstatus bounce --offline` (the smtpstatus-bounce helper, no daemon): for every sample in
# tests/data/bounces/ the three JSON answers are the same. Also: a message that is no bounce
# (exit 1 and a message, 422 over HTTP), a message over the socket's frame (cut by the library,
# and said so), a body over the HTTP limit (413), and the human output. ctest sets SMTPSTATUSD
# and BUILD_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)
S=$BUILD_DIR/smtpstatus
data=$root/tests/data/bounces

tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# The daemon detaches once it is ready to answer (its readiness signal), so no waiting here.
if ! "$SMTPSTATUSD" --rundir "$tmp/run" --statedir "$tmp/state" --log-target stderr \
  --http 127.0.0.1:0 2>"$tmp/daemon.log" </dev/null; then
  echo "FAIL: the daemon did not start"; cat "$tmp/daemon.log"; exit 1
fi
pid=$(cat "$tmp/run/smtpstatusd.lock")
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/daemon.log" | head -n 1)
[ -n "$port" ] || { echo "FAIL: no HTTP port in the log"; cat "$tmp/daemon.log"; exit 1; }
export SMTPSTATUS_RUNDIR=$tmp/run

# Same JSON, whatever the key order: Python compares the parsed values.
same() {
  python3 -c 'import json,sys; a,b,c=(json.load(open(f)) for f in sys.argv[1:4]); sys.exit(0 if a==b==c else 1)' "$@"
}

for f in postfix_dsn exim_plain qmail gmail microsoft; do
  "$S" --json bounce "$data/$f.eml" >"$tmp/$f.socket" 2>"$tmp/err" || { bad "$f: socket: exit $?"; cat "$tmp/err"; continue; }
  "$S" --offline --json bounce <"$data/$f.eml" >"$tmp/$f.offline" 2>"$tmp/err" || { bad "$f: offline: exit $?"; cat "$tmp/err"; continue; }
  code=$(curl -s -o "$tmp/$f.http" -w '%{http_code}' --max-time 10 --data-binary "@$data/$f.eml" \
    -H 'Content-Type: message/rfc822' "http://127.0.0.1:$port/v1/bounce")
  [ "$code" = 200 ] || { bad "$f: POST /v1/bounce: status $code"; cat "$tmp/$f.http"; continue; }
  if same "$tmp/$f.socket" "$tmp/$f.offline" "$tmp/$f.http"; then
    ok "$f: socket, offline and HTTP agree"
  else
    bad "$f: the answers differ"; head -c 600 "$tmp/$f.socket" "$tmp/$f.offline" "$tmp/$f.http"
  fi
done

# What the Postfix sample says, checked once (the three agree).
if python3 - "$tmp/postfix_dsn.socket" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a, b = d["recipients"]
assert d["format"] == "dsn" and d["reporting_mta"] == "mail.example.com", d
assert a["final_recipient"] == "nobody@example.org" and a["action"] == "failed", a
assert a["status"] == "5.1.1" and a["reason"] == "bad-mailbox" and a["recipient_invalid"], a
assert a["remote_mta"] == "mx.example.org" and a["retry"] is False, a
assert b["action"] == "delayed" and b["failed"] is False and b["status"] == "4.4.1", b
assert b["retry"] is True and b["remote_mta"] is None, b
PY
then ok "postfix_dsn: the failed and the delayed recipient"; else bad "postfix_dsn: fields"; fi

# Not a bounce: an error, exit 1, on every surface.
printf 'From: a@example.org\nSubject: hello\n\nJust a letter.\n' >"$tmp/letter.eml"
"$S" bounce "$tmp/letter.eml" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no delivery report" "$tmp/err" && ok "not a bounce: socket exit 1" || bad "not a bounce: socket exit $rc"
"$S" --offline bounce "$tmp/letter.eml" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no delivery report" "$tmp/err" && ok "not a bounce: offline exit 1" || bad "not a bounce: offline exit $rc"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --data-binary "@$tmp/letter.eml" "http://127.0.0.1:$port/v1/bounce")
[ "$code" = 422 ] && ok "not a bounce: HTTP 422" || bad "not a bounce: HTTP $code"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$port/v1/bounce")
[ "$code" = 405 ] && ok "GET /v1/bounce: 405" || bad "GET /v1/bounce: $code"

# A bounce with a 200 KiB returned message: the socket gets the first frame's worth (and says
# so), the helper reads it all; the recipients are the same. HTTP refuses a body that large.
python3 - "$data/postfix_dsn.eml" "$tmp/big.eml" <<'PY'
import sys
msg = open(sys.argv[1]).read()
cut = msg.rindex("\n--4Vb7Qk2MZ4z9tW1")
open(sys.argv[2], "w").write(msg[:cut] + "\n" + ("x" * 75 + "\n") * 2700 + msg[cut:])
PY
"$S" --json bounce "$tmp/big.eml" >"$tmp/big.socket" && "$S" --offline --json bounce "$tmp/big.eml" >"$tmp/big.offline"
if python3 -c '
import json, sys
s, o = (json.load(open(f)) for f in sys.argv[1:3])
assert s["truncated"] is True and o["truncated"] is False
assert s["recipients"] == o["recipients"] and len(s["recipients"]) == 2
' "$tmp/big.socket" "$tmp/big.offline"; then ok "a 200 KiB bounce: cut for the socket, same recipients"; else bad "a 200 KiB bounce"; fi
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --data-binary "@$tmp/big.eml" "http://127.0.0.1:$port/v1/bounce")
[ "$code" = 413 ] && ok "a 200 KiB body: HTTP 413" || bad "a 200 KiB body: HTTP $code"

# The human output: a line per recipient.
"$S" bounce <"$data/exim_plain.eml" >"$tmp/human" 2>&1
grep -q '^nobody@example.org: failed 5.1.1 bad-mailbox' "$tmp/human" &&
  grep -q '^full@example.net: failed 5.2.2 mailbox-full' "$tmp/human" &&
  grep -q '^  remote MTA: mx1.example.net' "$tmp/human" && ok "human output" || { bad "human output"; cat "$tmp/human"; }

# The daemon counted the socket's bounce requests.
"$S" --json stats >"$tmp/stats" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["requests"]["bounce"] >= 6, d
' "$tmp/stats" && ok "stats count bounce requests" || { bad "stats"; cat "$tmp/stats"; }

echo "passed $pass, failed $fail"
[ $fail -eq 0 ]
