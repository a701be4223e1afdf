#!/usr/bin/env bash
# Integration test of the `smtpstatus` CLI: every subcommand with --offline (the registry built
# into the library), for people and as JSON (checked field by field with Python's json), options
# before and after the subcommand, "-" for standard input, and every exit status: 0 answered,
# 1 not found or invalid input, 2 usage error, 3 daemon unavailable (a temp run directory with
# no daemon, and one where a bare listener stands in for a daemon the CLI cannot talk to yet).
# ctest sets BUILD_DIR; the binary is $BUILD_DIR/smtpstatus.
set -uo pipefail
: "${BUILD_DIR:?}"
S=$BUILD_DIR/smtpstatus
PY=/usr/bin/python3
if [ ! -x "$S" ]; then
  echo "FAIL: $S is missing: build the smtpstatus target first"
  echo "0 passed, 1 failed"
  exit 1
fi

tmp=$(mktemp -d)
listener_pid=
cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/empty"
# No daemon anywhere the CLI might look by default.
export SMTPSTATUS_RUNDIR=$tmp/empty
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

# feed FILE COMMAND...: runs COMMAND with FILE on standard input.
feed() { local f=$1; shift; "$@" <"$f"; }

# run WANT_RC -- COMMAND...: runs COMMAND (stdin /dev/null unless it uses feed) into $tmp/out and
# $tmp/err; returns 0 when it exited WANT_RC and no sanitizer spoke, else prints why.
run() {
  local want_rc=$1
  shift 2
  "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
    echo "  sanitizer report:"; sed 's/^/  | /' "$tmp/err"; return 1
  fi
  if [ "$rc" -ne "$want_rc" ]; then
    echo "  exit $rc, want $want_rc"; sed 's/^/  | /' "$tmp/out" "$tmp/err"; return 1
  fi
  return 0
}

# expect NAME WANT_RC STDOUT_RE STDERR_RE -- COMMAND...
# An empty STDOUT_RE means stdout must be empty; an empty STDERR_RE means stderr must be empty.
expect() {
  local name=$1 want_rc=$2 want_out=$3 want_err=$4
  shift 4
  run "$want_rc" "$@" || { bad "$name"; return; }
  if [ -z "$want_out" ] && [ -s "$tmp/out" ]; then
    bad "$name: stdout is not empty"; sed 's/^/  | /' "$tmp/out"; return
  fi
  if [ -n "$want_out" ] && ! grep -Eq -- "$want_out" "$tmp/out"; then
    bad "$name: stdout lacks /$want_out/"; sed 's/^/  | /' "$tmp/out"; return
  fi
  if [ -z "$want_err" ] && [ -s "$tmp/err" ]; then
    bad "$name: stderr is not empty"; sed 's/^/  | /' "$tmp/err"; return
  fi
  if [ -n "$want_err" ] && ! grep -Eq -- "$want_err" "$tmp/err"; then
    bad "$name: stderr lacks /$want_err/"; sed 's/^/  | /' "$tmp/err"; return
  fi
  ok "$name"
}

# expect_exact NAME WANT_RC EXPECTED_STDOUT -- COMMAND...: stdout must be exactly
# EXPECTED_STDOUT (printf %b escapes allowed) followed by a newline.
expect_exact() {
  local name=$1 want_rc=$2 want=$3
  shift 3
  run "$want_rc" "$@" || { bad "$name"; return; }
  printf '%b\n' "$want" >"$tmp/want"
  if cmp -s "$tmp/want" "$tmp/out"; then
    ok "$name"
  else
    bad "$name: stdout differs"; diff "$tmp/want" "$tmp/out" | sed 's/^/  | /'
  fi
}

# expect_json NAME WANT_RC PY_EXPR -- COMMAND...: stdout must be JSON objects, one a line, and
# the Python expression PY_EXPR must be true of them: `objs` is the list, `d` the first.
expect_json() {
  local name=$1 want_rc=$2 expr=$3
  shift 3
  run "$want_rc" "$@" || { bad "$name"; return; }
  if "$PY" -c '
import json, re, sys
lines = [l for l in open(sys.argv[2], encoding="utf-8").read().split("\n") if l != ""]
objs = [json.loads(l) for l in lines]
assert all(isinstance(o, dict) for o in objs), "not all objects"
d = objs[0] if objs else None
if not eval("(" + sys.argv[1] + "\n)"):
    sys.exit("false: " + sys.argv[1])
' "$expr" "$tmp/out" 2>"$tmp/pyerr"; then
    ok "$name"
  else
    bad "$name"; sed 's/^/  | /' "$tmp/pyerr" "$tmp/out"
  fi
}

# same NAME -- CMD_A... -- CMD_B...: both exit alike and print the same stdout and stderr.
same() {
  local name=$1 a=() b=()
  shift 2
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  "${a[@]}" </dev/null >"$tmp/a.out" 2>"$tmp/a.err"; local ra=$?
  "${b[@]}" </dev/null >"$tmp/b.out" 2>"$tmp/b.err"; local rb=$?
  if [ "$ra" -eq "$rb" ] && cmp -s "$tmp/a.out" "$tmp/b.out" && cmp -s "$tmp/a.err" "$tmp/b.err" \
    && [ -s "$tmp/a.out" ]; then
    ok "$name"
  else
    bad "$name: exit $ra vs $rb"; diff "$tmp/a.out" "$tmp/b.out" | sed 's/^/  | /'
  fi
}

# ---- help, version ----------------------------------------------------------------------------
expect "help" 0 '^usage: smtpstatus ' '' -- "$S" --help
for word in 'lookup CODE' 'basic NNN' 'search WORDS' 'render BASIC' 'classify \[REPLY' 'info' \
  'reload \[DIR\]' 'stats' '--json' '--pretty' '--offline' '--rundir DIR' '--width N' \
  '--smtputf8' '--dsn' '^  0  ' '^  1  ' '^  2  ' '^  3  daemon unavailable'; do
  grep -Eq -- "$word" "$tmp/out" || bad "help lacks /$word/"
done
expect "-h after a command" 0 '^usage: smtpstatus ' '' -- "$S" lookup -h
expect "version" 0 '^smtpstatus [0-9]+\.[0-9]+\.[0-9]+$' '' -- "$S" --version
expect "-V" 0 '^smtpstatus [0-9]+\.[0-9]+\.[0-9]+$' '' -- "$S" -V

# ---- lookup -----------------------------------------------------------------------------------
expect "lookup 5.1.1" 0 \
  '^5\.1\.1  Bad destination mailbox address  \(Permanent Failure / Addressing Status\)$' '' \
  -- "$S" --offline lookup 5.1.1
check "lookup: description indented" grep -Eq '^    The recipient.s mailbox does not exist' "$tmp/out"
check "lookup: basic codes" grep -Eq '^    Basic codes: 451, 550$' "$tmp/out"
expect_json "lookup 5.1.1 --json" 0 '
len(objs) == 1 and d["code"] == "5.1.1" and d["registered"] is True
and d["class"]["code"] == "5.XXX.XXX" and d["class"]["title"] == "Permanent Failure"
and d["subject"]["code"] == "X.1.XXX" and d["subject"]["title"] == "Addressing Status"
and d["title"] == "Bad destination mailbox address" and "mailbox does not exist" in d["description"]
and d["basic_codes"] == [451, 550] and d["reference"].startswith("[RFC3463]")
and d["basic_codes_raw"] == "451, 550"' -- "$S" --offline --json lookup 5.1.1
expect_json "lookup several codes: one object a line, in order" 0 '
[o["code"] for o in objs] == ["5.1.1", "X.2.2", "4.7.0"]
and objs[1]["class"] is None and objs[1]["title"] == "Mailbox full"
and objs[2]["class"]["title"] == "Persistent Transient Failure"
and all(o["registered"] for o in objs)' -- "$S" --offline --json lookup 5.1.1 X.2.2 4.7.0
expect "lookup class-free X.1.1" 0 '^X\.1\.1  Bad destination mailbox address  \(Addressing Status\)$' \
  '' -- "$S" --offline lookup x.1.1

# A valid code that is not registered: its class and subject still answer; exit 1.
expect "lookup unregistered 5.7.708" 1 \
  '^5\.7\.708  \(not registered\)  \(Permanent Failure / Security or Policy Status\)$' '' \
  -- "$S" --offline lookup 5.7.708
check "unregistered: subject meaning shown" grep -q 'X.7.XXX Security or Policy Status: ' "$tmp/out"
expect_json "lookup unregistered --json" 1 '
d["code"] == "5.7.708" and d["registered"] is False and d["title"] is None
and d["class"]["title"] == "Permanent Failure" and d["subject"]["code"] == "X.7.XXX"
and d["basic_codes"] == [] and d["description"] is None' -- "$S" --offline --json lookup 5.7.708
expect_json "lookup unknown subject 5.9.1" 1 '
d["registered"] is False and d["subject"] is None and d["class"]["code"] == "5.XXX.XXX"' \
  -- "$S" --offline --json lookup 5.9.1

# Malformed codes: a precise error naming the bad part, with a caret; exit 1.
expect "malformed detail" 1 '' '"5\.1\.x" is not an enhanced status code: detail must be 1 to 3 digits' \
  -- "$S" --offline lookup 5.1.x
check "malformed: caret under the x" grep -qx '        ^' "$tmp/err"
expect "malformed class" 1 '' 'class must be 2, 4 or 5' -- "$S" --offline lookup 6.1.1
expect "malformed subject" 1 '' 'subject must be 1 to 3 digits' -- "$S" --offline lookup 5.1234.1
expect "malformed trailing" 1 '' 'unexpected characters after the code' \
  -- "$S" --offline lookup 5.1.1x
expect "malformed missing dot" 1 '' "expected '\.' between class, subject and detail" \
  -- "$S" --offline lookup 4.1
# shellcheck disable=SC2016 # the backquotes are literal
expect "basic code given to lookup: hint" 1 '' 'try `smtpstatus basic 550`' \
  -- "$S" --offline lookup 550
expect_json "malformed --json" 1 '
d["code"] == "5.1.x" and d["error_name"] == "SMTPSTATUS_EDETAIL" and d["offset"] == 4
and "detail" in d["error"]' -- "$S" --offline --json lookup 5.1.x
expect_json "a bad code does not spoil the batch" 1 '
[o["code"] for o in objs] == ["5.1.1", "5.1.x", "X.2.2"] and "error" in objs[1]
and objs[0]["registered"] and objs[2]["registered"]' \
  -- "$S" --offline --json lookup 5.1.1 5.1.x X.2.2

# ---- basic ------------------------------------------------------------------------------------
expect "basic 550" 0 \
  '^550  Requested action not taken: mailbox unavailable  \(RFC 5321 4\.2\.3\)$' '' \
  -- "$S" --offline basic 550
check "basic 550: exact X.1.1" grep -Eq '^ +X\.1\.1 +exact +Bad destination mailbox address$' "$tmp/out"
check "basic 550: any X.0.0" grep -Eq '^ +X\.0\.0 +any +' "$tmp/out"
expect_json "basic 550 --json" 0 '
d["basic"] == 550 and d["standard"] is True and d["reference"] == "RFC 5321 4.2.3"
and d["text"] == "Requested action not taken: mailbox unavailable"
and {"code": "X.1.1", "match": "exact", "title": "Bad destination mailbox address"} in d["associations"]
and {a["match"] for a in d["associations"]} == {"exact", "wildcard", "any"}
and [a["match"] for a in d["associations"]] == sorted([a["match"] for a in d["associations"]],
    key=["exact", "wildcard", "any"].index)' -- "$S" --offline --json basic 550
expect "basic: valid but unknown" 1 '' '259 has no standard meaning' -- "$S" --offline basic 259
expect_json "basic: unknown --json" 1 'd["basic"] == "259" and "no standard meaning" in d["error"]' \
  -- "$S" --offline --json basic 259
expect "basic: invalid" 1 '' '"650" is not a basic reply code' -- "$S" --offline basic 650

# ---- search -----------------------------------------------------------------------------------
expect_exact "search mailbox full" 0 'X.2.2     Mailbox full' -- "$S" --offline search mailbox full
same "search is case-insensitive" -- "$S" --offline search mailbox full \
  -- "$S" --offline search MAILBOX Full
expect_json "search --json" 0 '
d["query"] == "mailbox" and d["count"] == len(d["entries"]) > 1
and all("mailbox" in (e["title"] + " " + e["description"]).lower() for e in d["entries"])
and [e["code"] for e in d["entries"]] == sorted([e["code"] for e in d["entries"]],
    key=lambda c: tuple(int(x) for x in c.split(".")[1:]))' -- "$S" --offline --json search mailbox
expect "search: no match" 1 '' 'no registered code matches "zzqqxx"' -- "$S" --offline search zzqqxx
expect_json "search: no match --json" 1 'd["count"] == 0 and d["entries"] == []' \
  -- "$S" --offline --json search zzqqxx

# ---- render -----------------------------------------------------------------------------------
expect_exact "render 550 5.1.1" 0 '550 5.1.1 Bad destination mailbox address' \
  -- "$S" --offline render 550 5.1.1
expect_exact "render 250 OK (no enhanced code)" 0 '250 OK' -- "$S" --offline render 250 OK
expect_exact "render class-free X.1.1 with text" 0 '550 5.1.1 No such user here' \
  -- "$S" --offline render 550 X.1.1 "No such user here"
expect_exact "render: -- ends options" 0 '250 --not-an-option' \
  -- "$S" --offline render 250 -- --not-an-option
expect_json "render --json" 0 '
d["reply"] == "550 5.1.1 Bad destination mailbox address\r\n"
and d["lines"] == ["550 5.1.1 Bad destination mailbox address"]
and d["warnings"] == [] and d["basic"] == 550 and d["enhanced"] == "5.1.1"' \
  -- "$S" --offline --json render 550 5.1.1
expect_json "render X.1.1 --json takes the class from the basic code" 0 'd["enhanced"] == "5.1.1"' \
  -- "$S" --offline --json render 550 X.1.1 gone
expect_json "render 250 OK --json" 0 'd["enhanced"] is None and d["lines"] == ["250 OK"]' \
  -- "$S" --offline --json render 250 OK
long='The mailbox you tried to reach does not exist here; please check the address and try again'
expect_json "render --width wraps, code on every line" 0 '
len(d["lines"]) > 2 and all(len(l) <= 40 for l in d["lines"])
and all(l.startswith("550-5.1.1 ") for l in d["lines"][:-1]) and d["lines"][-1].startswith("550 5.1.1 ")
and d["reply"] == "".join(l + "\r\n" for l in d["lines"])' \
  -- "$S" --offline --json --width 40 render 550 5.1.1 "$long"
run 0 -- "$S" --offline --width 40 render 550 5.1.1 "$long"
if grep -q $'\r' "$tmp/out"; then bad "render: CR in human output"; else ok "render: LF line ends for people"; fi
expect_json "render warnings" 0 'd["warnings"] == ["not_associated"]' \
  -- "$S" --offline --json render 452 4.2.2 "Mailbox full"
expect "render warnings for people go to stderr" 0 '^452 4\.2\.2 Mailbox full$' \
  'warning: the registry does not associate' -- "$S" --offline render 452 4.2.2 "Mailbox full"
printf 'Mailbox full\n' >"$tmp/text1"
expect_exact "render TEXT from stdin" 0 '552 5.2.2 Mailbox full' \
  -- feed "$tmp/text1" "$S" --offline render 552 5.2.2 -
printf 'Mailbox\nfull\n' >"$tmp/text2"
expect_exact "render multi-line TEXT from stdin" 0 '552-5.2.2 Mailbox\n552 5.2.2 full' \
  -- feed "$tmp/text2" "$S" --offline render 552 5.2.2 -
expect_json "render stdin --json" 0 'd["lines"] == ["552-5.2.2 Mailbox", "552 5.2.2 full"]' \
  -- feed "$tmp/text2" "$S" --offline render 552 5.2.2 - --json
expect_exact "render --dsn" 0 'Status: 5.1.1\nAction: failed\nDiagnostic-Code: smtp; 550 5.1.1 Bad destination mailbox address' \
  -- "$S" --offline render --dsn 550 5.1.1
expect "render: class mismatch" 1 '' 'the enhanced class must be 4' -- "$S" --offline render 450 5.1.1
expect "render: 3yz with an enhanced code" 1 '' '3yz replies carry no enhanced status code' \
  -- "$S" --offline render 354 5.0.0
expect "render: malformed enhanced code" 1 '' 'detail must be 1 to 3 digits' \
  -- "$S" --offline render 550 5.1.x
expect "render: bad basic code" 1 '' '"650" is not a basic reply code' -- "$S" --offline render 650
expect "render: UTF-8 without --smtputf8" 1 '' 'pass --smtputf8' \
  -- "$S" --offline render 550 5.1.1 'Boîte inconnue'
expect_exact "render: UTF-8 with --smtputf8" 0 '550 5.1.1 Boîte inconnue' \
  -- "$S" --offline render 550 5.1.1 'Boîte inconnue' --smtputf8
expect "render: width too small" 1 '' 'cannot render with --width 3' \
  -- "$S" --offline render 550 5.1.1 --width 3

# ---- classify ---------------------------------------------------------------------------------
expect "classify for people" 0 '^550 5\.1\.1  permanent failure: do not retry$' '' \
  -- "$S" --offline classify "550 5.1.1 User unknown"
check "classify: text shown" grep -q '^    Text: User unknown$' "$tmp/out"
expect_json "classify --json" 0 '
d["basic"] == 550 and d["enhanced"] == "5.1.1" and d["kind"] == "permanent"
and d["retry"] is False and d["subject"] == "Addressing Status" and d["registered"] is True
and d["problems"] == [] and d["text"] == "User unknown" and d["entry"]["title"] == "Bad destination mailbox address"' \
  -- "$S" --offline --json classify "550 5.1.1 User unknown"
expect_json "classify: words are joined" 0 'd["enhanced"] == "5.1.1" and d["text"] == "User unknown"' \
  -- "$S" --offline --json classify 550 5.1.1 User unknown
expect_json "classify transient" 0 'd["kind"] == "transient" and d["retry"] is True' \
  -- "$S" --offline --json classify "421 4.7.0 Try again later"
expect_json "classify success, no enhanced code" 0 '
d["kind"] == "success" and d["enhanced"] is None and d["retry"] is False and d["subject"] is None
and d["registered"] is False' -- "$S" --offline --json classify "250 OK"
expect_json "classify intermediate" 0 'd["kind"] == "intermediate"' \
  -- "$S" --offline --json classify "354 End data with <CR><LF>.<CR><LF>"
expect_json "classify class mismatch: the basic code decides" 0 '
d["kind"] == "transient" and d["retry"] is True and d["problems"] == ["class_mismatch"]' \
  -- "$S" --offline --json classify "450 5.1.1 Mailbox busy"
expect_json "classify unregistered code" 0 '
d["enhanced"] == "5.7.708" and d["registered"] is False and d["subject"] == "Security or Policy Status"' \
  -- "$S" --offline --json classify "550 5.7.708 Policy"
printf '550-5.1.1 No such\r\n550 5.1.1 user\r\n' >"$tmp/reply"
expect_json "classify - reads a multi-line reply from stdin" 0 '
d["basic"] == 550 and d["enhanced"] == "5.1.1" and d["text"] == "No such\nuser"
and d["line_count"] == 2 and d["problems"] == []' -- feed "$tmp/reply" "$S" --offline --json classify -
same "classify with no REPLY reads stdin too" \
  -- feed "$tmp/reply" "$S" --offline --json classify - \
  -- feed "$tmp/reply" "$S" --offline --json classify
expect "classify from stdin for people" 0 '^550 5\.1\.1  permanent failure' '' \
  -- feed "$tmp/reply" "$S" --offline classify -
printf '550-5.1.1 first\n551 5.1.2 second\n' >"$tmp/mixed"
expect_json "classify: differing lines are problems" 0 '
"basic_mismatch" in d["problems"] and "enhanced_mismatch" in d["problems"]' \
  -- feed "$tmp/mixed" "$S" --offline --json classify
expect_json "classify: no code" 1 '
d["kind"] == "unknown" and d["basic"] is None and d["enhanced"] is None and "no_code" in d["problems"]' \
  -- "$S" --offline --json classify "hello there"
expect "classify: no code for people" 1 '^unknown' 'no reply code found' \
  -- "$S" --offline classify "hello there"

# ---- info -------------------------------------------------------------------------------------
expect "info --offline" 0 '^Source: +embedded$' '' -- "$S" --offline info
for f in 'Generation: +[0-9]+' 'Digest: +[0-9a-f]{16}$' 'Contents: +3 classes, [0-9]+ subjects, [0-9]+ codes'; do
  check "info shows /$f/" grep -Eq "^$f" "$tmp/out"
done
expect_json "info --json" 0 '
d["source"] == "embedded" and isinstance(d["generation"], int) and re.fullmatch("[0-9a-f]{16}", d["digest"])
and d["classes"] == 3 and d["subjects"] >= 8 and d["codes"] > 0 and d["basic_codes"] > 0
and d["size"] > 0' -- "$S" --offline --json info

# ---- options anywhere, --pretty ---------------------------------------------------------------
same "options before or after lookup" -- "$S" --json --offline lookup 5.1.1 \
  -- "$S" lookup 5.1.1 --json --offline
same "options between arguments" -- "$S" --json --offline lookup 5.1.1 X.2.2 \
  -- "$S" lookup 5.1.1 --offline X.2.2 --json
same "render options before or after" -- "$S" --width 30 --json --offline render 550 5.1.1 "$long" \
  -- "$S" --offline render 550 5.1.1 "$long" --width=30 --json
same "--rundir is ignored by --offline answers" -- "$S" --offline classify "550 5.1.1 x" \
  -- "$S" classify --rundir "$tmp/empty" "550 5.1.1 x" --offline
run 0 -- "$S" --offline --pretty lookup 5.1.1
cp "$tmp/out" "$tmp/pretty"
run 0 -- "$S" --offline --json lookup 5.1.1
if [ "$(wc -l <"$tmp/pretty")" -gt 5 ] && "$PY" -c '
import json, sys
a = json.load(open(sys.argv[1])); b = json.loads(open(sys.argv[2]).read())
sys.exit(a != b)' "$tmp/pretty" "$tmp/out"; then
  ok "--pretty: indented, same object as --json"
else
  bad "--pretty"; sed 's/^/  | /' "$tmp/pretty"
fi

# ---- usage errors: exit 2 ---------------------------------------------------------------------
expect "no command" 2 '' '^usage: smtpstatus' -- "$S"
expect "unknown command" 2 '' "unknown command 'frobnicate'" -- "$S" frobnicate
expect "unknown option" 2 '' "unknown option '--bogus'" -- "$S" lookup 5.1.1 --bogus
check "usage error: help hint" grep -q "^Try 'smtpstatus --help'" "$tmp/err"
expect "lookup without codes" 2 '' 'lookup needs more arguments' -- "$S" --offline lookup
expect "basic without a code" 2 '' 'basic needs more arguments' -- "$S" --offline basic
expect "basic with two codes" 2 '' 'basic: too many arguments' -- "$S" --offline basic 550 551
expect "search without words" 2 '' 'search needs more arguments' -- "$S" --offline search
expect "search with an empty word" 2 '' 'search needs at least one word' -- "$S" --offline search ''
expect "render without a code" 2 '' 'render needs more arguments' -- "$S" --offline render
expect "info with an argument" 2 '' 'info: too many arguments' -- "$S" --offline info extra
expect "--rundir without a value" 2 '' '--rundir needs a directory' -- "$S" lookup 5.1.1 --rundir
expect "--width not a number" 2 '' '--width needs a number' -- "$S" --offline render 550 --width abc
expect "--width on lookup" 2 '' 'options of render, not of lookup' -- "$S" --offline lookup 5.1.1 --dsn
expect "reload --offline" 2 '' 'reload asks the daemon' -- "$S" --offline reload
expect "stats --offline" 2 '' 'stats asks the daemon' -- "$S" stats --offline

# ---- daemon unavailable: exit 3 ---------------------------------------------------------------
for cmd in "lookup 5.1.1" "basic 550" "search mailbox" "render 550 5.1.1" "classify 550 5.1.1 x" \
  "info" "reload" "stats"; do
  # shellcheck disable=SC2086
  expect "no daemon: $cmd" 3 '' \
    "no daemon answers at $tmp/empty/smtpstatusd\.sock: No such file or directory" \
    -- "$S" --rundir "$tmp/empty" $cmd
done
# shellcheck disable=SC2016 # the backquotes are literal
expect "no daemon: the hint" 3 '' 'start it with `smtpstatusd`.*or use --offline' \
  -- "$S" --rundir "$tmp/empty" lookup 5.1.1
expect "no daemon: the default run directory ($SMTPSTATUS_RUNDIR)" 3 '' \
  "no daemon answers at $tmp/empty/smtpstatusd\.sock" -- "$S" lookup 5.1.1
expect "no daemon: --json changes nothing" 3 '' 'no daemon answers' \
  -- "$S" --json --rundir "$tmp/empty" lookup 5.1.1

# Something listens on the socket, but the CLI has no daemon client yet. The listener prints
# "ready" once it listens; the test waits for that line, never for time.
mkdir "$tmp/live"
coproc LISTENER { exec "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
print("ready", flush=True)
sys.stdin.read()' "$tmp/live/smtpstatusd.sock"; }
# shellcheck disable=SC2153 # coproc sets LISTENER_PID
listener_pid=$LISTENER_PID
if read -r line <&"${LISTENER[0]}" && [ "$line" = ready ]; then
  for cmd in "lookup 5.1.1" "info" "reload" "stats"; do
    # shellcheck disable=SC2086
    expect "daemon client not built: $cmd" 3 '' \
      '^smtpstatus: the daemon client is not built yet; use --offline$' \
      -- "$S" --rundir "$tmp/live" $cmd
  done
else
  bad "the stand-in listener did not start"
fi
kill "$listener_pid" 2>/dev/null
wait "$listener_pid" 2>/dev/null
listener_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
