#!/usr/bin/env bash
# Integration test of the `smtpstatus` CLI: every subcommand with --offline (the registry built
# into the library), for people and as JSON (checked field by field with Python's json), options
# before and after the subcommand, "-" for standard input, and every exit status: 0 answered,
# 1 not found or invalid input, 2 usage error, 3 daemon unavailable (a temp run directory with
# no daemon, a listener that never answers, one that hangs up). Then every subcommand against
# the real daemon, started in a temp run directory: each answer equals the --offline one,
# reload (a diff, a broken registry, a user who may not), stats, and exit 3 once it is gone.
# ctest sets BUILD_DIR (the CLI is $BUILD_DIR/smtpstatus, the daemon $BUILD_DIR/smtpstatusd)
# and PROJECT_DATA_DIR (the registry data the reload tests start from).
set -uo pipefail
: "${BUILD_DIR:?}"
S=$BUILD_DIR/smtpstatus
D=$BUILD_DIR/smtpstatusd
PY=/usr/bin/python3
if [ ! -x "$S" ]; then
  echo "FAIL: $S is missing: build the smtpstatus target first"
  echo "0 passed, 1 failed"
  exit 1
fi

tmp=$(mktemp -d)
listener_pid='' daemon_pid=''
cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
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

# in_dir DIR COMMAND...: runs COMMAND in DIR.
in_dir() { (cd "$1" && shift && exec "$@"); }

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
  'reload \[DIR\]' 'stats' '--json' '--pretty' '--offline' '--rundir DIR' '--timeout MS' '--width N' \
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
# The decision. Expectations hold for any sane rule set: the reason of a 2yz or 3yz reply and
# the retry_after of a text that says when come from the library itself, not from rules; the
# rule's name is never asserted, only that each surface shows the same one.
expect_json "classify: a dead address" 0 '
d["reason"] == "bad-mailbox" and d["recipient_invalid"] is True and d["retry"] is False
and d["retry_after"] == 0 and (d["rule"] is None or d["rule"] != "")
and (d["rule_note"] is None or d["rule_note"] != "")' \
  -- "$S" --offline --json classify "550 5.1.1 User unknown"
expect "classify: a dead address for people" 0 \
  '^    Reason: bad-mailbox, do not retry, stop sending to this address' '' \
  -- "$S" --offline classify "550 5.1.1 User unknown"
expect_json "classify: a 5yz that says try again later is retried" 0 '
d["kind"] == "permanent" and d["retry"] is True and d["retry_after"] == 300
and d["reason"] in ("rate-limit", "greylisting") and d["recipient_invalid"] is False
and "reason_overrides_class" in d["problems"]' \
  -- "$S" --offline --json classify "550 5.7.1 Too many messages, try again later in 5 minutes"
expect "classify: a 5yz retried, for people" 0 \
  '^550 5\.7\.1  permanent failure, but retry later$' '' \
  -- "$S" --offline classify "550 5.7.1 Too many messages, try again later in 5 minutes"
check "classify: the wait shown" grep -Eq '^    Reason: (rate-limit|greylisting), retry after 300 s' "$tmp/out"
check "classify: the override shown" grep -q '^    Problem: .*(reason_overrides_class)$' "$tmp/out"
expect_json "classify: success has no rule" 0 '
d["reason"] == "success" and d["rule"] is None and d["rule_note"] is None and d["status"] is None
and d["retry_after"] == 0 and d["recipient_invalid"] is False' \
  -- "$S" --offline --json classify "250 2.0.0 OK"
expect_exact "classify: success for people" 0 \
  '250 2.0.0  success\n    2.0.0  Other undefined Status  (Success / Other or Undefined Status)\n    Reason: success\n    Text: OK' \
  -- "$S" --offline classify "250 2.0.0 OK"
expect_json "classify: intermediate" 0 'd["reason"] == "intermediate" and d["rule"] is None' \
  -- "$S" --offline --json classify "354 End data with <CR><LF>.<CR><LF>"
expect_json "classify: a transient wait" 0 '
d["kind"] == "transient" and d["retry"] is True and d["retry_after"] == 600' \
  -- "$S" --offline --json classify "421 4.7.0 try again in 10 minutes"
check "classify: the wait for people" \
  sh -c "'$S' --offline classify '421 4.7.0 try again in 10 minutes' | grep -Eq '^    Reason: [a-z-]+, retry after 600 s'"
# For people and as JSON, the same rule, note and status.
for reply in "550 5.1.1 User unknown" "550 5.7.1 Too many messages, try again later in 5 minutes" \
  "421 4.7.0 try again in 10 minutes" "552 5.2.2 Mailbox full" "hello there"; do
  "$S" --offline --json classify "$reply" >"$tmp/j.out" 2>/dev/null
  "$S" --offline classify "$reply" >"$tmp/h.out" 2>/dev/null
  if "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().split("\n")
rules = [l[len("    Rule: "):] for l in lines if l.startswith("    Rule: ")]
reasons = [l for l in lines if l.startswith("    Reason: ")]
want_rule = [] if d["rule"] is None else [d["rule"] + ("" if d["status"] is None else " (report %s instead)" % d["status"])]
assert rules == want_rule, (rules, want_rule)
assert len(reasons) == 1 and reasons[0].startswith("    Reason: " + d["reason"]), reasons
assert d["rule_note"] is None or reasons[0].endswith(": " + d["rule_note"]), reasons
assert ("stop sending" in reasons[0]) == d["recipient_invalid"]
' "$tmp/j.out" "$tmp/h.out" 2>"$tmp/pyerr"; then
    ok "classify: people and JSON agree: $reply"
  else
    bad "classify: people and JSON disagree: $reply"; sed 's/^/  | /' "$tmp/pyerr" "$tmp/j.out" "$tmp/h.out"
  fi
done

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

# ---- against the real daemon -------------------------------------------------------------------
# The daemon serves the embedded registry from a temp run directory; it is ready once it logs
# "ready: listening on", which the test reads from its stderr (with a bounded timeout, never a
# sleep). Every answer must equal the --offline one, but for what the socket API does not
# carry (json_mask below).
R=$tmp/d/run
mkdir -p "$tmp/d"
daemon_ready=0
if [ -x "$D" ]; then
  # shellcheck disable=SC2069 # on purpose: its log into the pipe, its stdout away
  # --http 127.0.0.1:0: tests run in parallel, and the default HTTP port may be taken.
  coproc DAEMON { exec "$D" --foreground --rundir "$R" --statedir "$tmp/d/state" \
    --http 127.0.0.1:0 2>&1 >/dev/null; }
  # shellcheck disable=SC2153 # coproc sets DAEMON_PID
  daemon_pid=$DAEMON_PID
  # bash closes a coproc's fds when it reaps the child: keep a copy of the read end.
  exec {daemon_fd}<&"${DAEMON[0]}"
  while IFS= read -r -t 20 line <&"$daemon_fd"; do
    echo "$line" >>"$tmp/daemon.log"
    case $line in *"ready: listening on $R/smtpstatusd.sock"*) daemon_ready=1; break ;; esac
  done
  # Keep draining its log, so that it never blocks on a full pipe.
  cat <&"$daemon_fd" >>"$tmp/daemon.log" &
  exec {daemon_fd}<&-
fi
if [ "$daemon_ready" -eq 1 ]; then
  ok "daemon: ready"
else
  bad "daemon: $D did not become ready"; sed 's/^/  | /' "$tmp/daemon.log" 2>/dev/null
fi

# json_mask FILE: rewrites FILE's JSON objects (one a line) without the fields the socket API
# does not carry, so that an --offline answer and the daemon's can be compared:
# - a class or subject part's "reference" (proto Part has code, title, description only);
# - a basic code's "sample_text" (proto BasicResponse has none);
# - in a classification's "entry", the fields smtpstatus_result_classification() drops although
#   the daemon sends them: submitter, change_controller and the basic code associations.
json_mask() {
  "$PY" -c '
import json, sys
def walk(o):
    if isinstance(o, list):
        for x in o: walk(x)
    if not isinstance(o, dict):
        return
    for k in ("class", "subject"):
        if isinstance(o.get(k), dict):
            o[k].pop("reference", None)
    o.pop("sample_text", None)
    if "kind" in o and isinstance(o.get("entry"), dict):
        for k in ("submitter", "change_controller", "basic_codes", "basic_classes",
                  "basic_any", "basic_codes_raw"):
            o["entry"].pop(k, None)
    for v in o.values(): walk(v)
out = []
for l in open(sys.argv[1], encoding="utf-8").read().split("\n"):
    if l:
        o = json.loads(l); walk(o); out.append(json.dumps(o, sort_keys=True))
open(sys.argv[1], "w", encoding="utf-8").write("".join(x + "\n" for x in out))
' "$1"
}

# vs_offline NAME [--json] ARGS...: the CLI asked with --offline, asked of the daemon's shared
# image, and asked of the daemon's socket (--socket) exits alike and prints the same stdout and
# stderr: the shared image's answers byte for byte, the socket's JSON through json_mask.
# Standard input is $IN (default /dev/null).
vs_offline() {
  local name=$1
  shift
  "$S" --offline "$@" <"${IN:-/dev/null}" >"$tmp/a.out" 2>"$tmp/a.err"; local ra=$?
  "$S" --rundir "$R" "$@" <"${IN:-/dev/null}" >"$tmp/c.out" 2>"$tmp/c.err"; local rc=$?
  "$S" --rundir "$R" --socket "$@" <"${IN:-/dev/null}" >"$tmp/b.out" 2>"$tmp/b.err"; local rb=$?
  if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/a.err" "$tmp/b.err" "$tmp/c.err"; then
    bad "$name: sanitizer report"; sed 's/^/  | /' "$tmp/b.err" "$tmp/c.err"; return
  fi
  if [ "$ra" -eq "$rc" ] && cmp -s "$tmp/a.out" "$tmp/c.out" && cmp -s "$tmp/a.err" "$tmp/c.err"; then
    ok "$name (shared image)"
  else
    bad "$name (shared image): exit $ra offline, $rc from the shared image"
    diff "$tmp/a.out" "$tmp/c.out" | sed 's/^/  | /'
    diff "$tmp/a.err" "$tmp/c.err" | sed 's/^/  | /'
  fi
  if [ "$1" = --json ] && ! { json_mask "$tmp/a.out" && json_mask "$tmp/b.out"; }; then
    bad "$name: not JSON"; sed 's/^/  | /' "$tmp/a.out" "$tmp/b.out"; return
  fi
  if [ "$ra" -eq "$rb" ] && cmp -s "$tmp/a.out" "$tmp/b.out" && cmp -s "$tmp/a.err" "$tmp/b.err" \
    && { [ -s "$tmp/a.out" ] || [ -s "$tmp/a.err" ]; }; then
    ok "$name (socket)"
  else
    bad "$name (socket): exit $ra offline, $rb from the daemon"
    diff "$tmp/a.out" "$tmp/b.out" | sed 's/^/  | /'
    diff "$tmp/a.err" "$tmp/b.err" | sed 's/^/  | /'
  fi
}

# vs_offline_shared_only NAME ARGS...: the shared image's answer equals the --offline one.
vs_offline_shared_only() {
  local name=$1
  shift
  "$S" --offline "$@" >"$tmp/a.out" 2>"$tmp/a.err"; local ra=$?
  "$S" --rundir "$R" "$@" >"$tmp/c.out" 2>"$tmp/c.err"; local rc=$?
  if [ "$ra" -eq "$rc" ] && [ -s "$tmp/a.out" ] && cmp -s "$tmp/a.out" "$tmp/c.out" \
    && cmp -s "$tmp/a.err" "$tmp/c.err"; then
    ok "$name"
  else
    bad "$name: exit $ra offline, $rc from the shared image"
    diff "$tmp/a.out" "$tmp/c.out" | sed 's/^/  | /'
    diff "$tmp/a.err" "$tmp/c.err" | sed 's/^/  | /'
  fi
}

# both NAME ARGS...: vs_offline for people and as JSON.
both() {
  local name=$1
  shift
  vs_offline "daemon = offline: $name" "$@"
  vs_offline "daemon = offline: $name --json" --json "$@"
}

if [ "$daemon_ready" -eq 1 ]; then
  both "lookup" lookup 5.1.1 X.2.2 4.7.0
  both "lookup class-free" lookup x.1.1
  both "lookup unregistered" lookup 5.7.708
  both "lookup unknown subject" lookup 5.9.1
  both "lookup: a bad code in the batch" lookup 5.1.1 5.1.x X.2.2 6.1.1
  both "lookup a basic code: hint" lookup 550
  both "basic" basic 550
  both "basic with no association" basic 259
  both "basic 3yz" basic 354
  both "basic invalid" basic 650
  both "search" search mailbox full
  both "search case-insensitive" search MAILBOX Full
  both "search many" search mailbox
  both "search no match" search zzqqxx
  both "render" render 550 5.1.1
  both "render no enhanced code" render 250 OK
  both "render empty enhanced code" render 250 "" 
  both "render class-free with text" render 550 X.1.1 "No such user here"
  both "render --width" --width 40 render 550 5.1.1 "$long"
  both "render warning" render 452 4.2.2 "Mailbox full"
  both "render --dsn" render --dsn 550 5.1.1
  both "render class mismatch" render 450 5.1.1
  both "render 3yz with a code" render 354 5.0.0
  both "render malformed code" render 550 5.1.x
  both "render bad basic" render 650
  both "render UTF-8 without --smtputf8" render 550 5.1.1 'Boîte inconnue'
  both "render UTF-8 with --smtputf8" render 550 5.1.1 'Boîte inconnue' --smtputf8
  both "render width too small" render 550 5.1.1 --width 3
  IN=$tmp/text2 both "render stdin" render 552 5.2.2 -
  printf 'a\0b\tc\001d\n' >"$tmp/nul"
  IN=$tmp/nul both "render NUL and controls from stdin" render 550 5.1.1 -
  both "classify" classify "550 5.1.1 User unknown"
  both "classify transient" classify "421 4.7.0 Try again later"
  both "classify success" classify "250 OK"
  both "classify class mismatch" classify "450 5.1.1 Mailbox busy"
  both "classify unregistered" classify "550 5.7.708 Policy"
  IN=$tmp/reply both "classify multi-line stdin" classify -
  IN=$tmp/mixed both "classify differing lines" classify
  both "classify no code" classify "hello there"
  both "classify: a dead address" classify "550 5.1.1 User unknown"
  both "classify: a 5yz retried" classify "550 5.7.1 Too many messages, try again later in 5 minutes"
  both "classify: a wait" classify "421 4.7.0 try again in 10 minutes"
  both "classify: success" classify "250 2.0.0 OK"
  both "classify: wrapped" classify \
    "host mx.example.com[192.0.2.1] said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found"

  # info over the socket: the same registry, described by the daemon (its load time, diff and
  # warnings instead of the image's build time, checksum and size), and why the shared image did
  # not answer (--socket).
  "$S" --offline --json info >"$tmp/info.off"
  expect_json "daemon: info --socket --json" 0 "
all(d[k] == json.load(open('$tmp/info.off'))[k]
    for k in ('source', 'digest', 'classes', 'subjects', 'codes', 'basic_codes'))
and isinstance(d['generation'], int) and d['loaded_at'] > 0
and d['last_diff'] == {'added': [], 'removed': [], 'changed': [], 'fields': [],
                      'descriptions_differ': 0} and d['warnings'] == []
and d['answered_by'] == 'socket' and d['image'] == '$R/registry' and d['image_error'] is None" \
    -- "$S" --rundir "$R" --socket --json info
  "$S" --offline info | grep -E '^(Source|Digest|Contents):' >"$tmp/info.want"
  run 0 -- "$S" --rundir "$R" --socket info
  if grep -E '^(Source|Digest|Contents):' "$tmp/out" | cmp -s "$tmp/info.want" - \
    && grep -Eq '^Generation: +[0-9]+$' "$tmp/out" && grep -Eq '^Loaded: +[0-9-]+T' "$tmp/out" \
    && grep -Eq "^Answered by: the daemon's socket$" "$tmp/out"; then
    ok "daemon: info --socket for people"
  else
    bad "daemon: info --socket for people"; sed 's/^/  | /' "$tmp/out"
  fi
  # info from the shared image: the image's own facts, the generation the daemon serves, and
  # the file.
  "$S" --rundir "$R" --socket --json info >"$tmp/info.sock"
  expect_json "daemon: info --json (shared image)" 0 "
all(d[k] == json.load(open('$tmp/info.off'))[k]
    for k in ('source', 'digest', 'classes', 'subjects', 'codes', 'basic_codes', 'checksum'))
and d['generation'] == json.load(open('$tmp/info.sock'))['generation']
and d['answered_by'] == 'shared' and d['image'] == '$R/registry' and d['image_error'] is None" \
    -- "$S" --rundir "$R" --json info
  run 0 -- "$S" --rundir "$R" info
  if grep -E '^(Source|Digest|Contents):' "$tmp/out" | cmp -s "$tmp/info.want" - \
    && grep -Eq '^Answered by: shared memory' "$tmp/out" \
    && grep -Fxq "Image file:  $R/registry" "$tmp/out"; then
    ok "daemon: info for people (shared image)"
  else
    bad "daemon: info for people (shared image)"; sed 's/^/  | /' "$tmp/out"
  fi
  # An image this user may not trust: refused, said so by info, and the socket answers. The
  # file is read only when image.sock does not answer: it is moved aside meanwhile.
  cp -p "$R/registry" "$tmp/registry.good"
  mv "$R/image.sock" "$tmp/image.sock.aside"
  chmod 0666 "$R/registry"
  expect_json "daemon: a group- and world-writable image is refused" 0 "
d['answered_by'] == 'socket' and 'writable by group or others' in d['image_error']
and d['image_error'].startswith('$R/registry: ')" -- "$S" --rundir "$R" --json info
  expect "daemon: info names the refused image" 0 "^Image file:  $R/registry: writable by group or others \\(mode 666\\); refused$" '' \
    -- "$S" --rundir "$R" info
  vs_offline "daemon = offline: lookup past a refused image" lookup 5.1.1
  chmod 0644 "$R/registry"
  mv "$tmp/image.sock.aside" "$R/image.sock"

  # Options anywhere, and the run directory from the environment.
  same "daemon: options before or after" -- "$S" --json --rundir "$R" lookup 5.1.1 X.2.2 \
    -- "$S" lookup 5.1.1 --rundir="$R" X.2.2 --json
  same "daemon: render options before or after" \
    -- "$S" --width 30 --json --rundir "$R" --timeout 2000 render 550 5.1.1 "$long" \
    -- "$S" render 550 5.1.1 "$long" --timeout=2000 --width=30 --rundir "$R" --json
  same "daemon: \$SMTPSTATUS_RUNDIR" -- "$S" --rundir "$R" basic 550 \
    -- env SMTPSTATUS_RUNDIR="$R" "$S" basic 550

  # reload: the project's data without X.7.30, then with it; a broken copy changes nothing.
  # The daemon runs as this user, who may therefore reload it.
  DATA=${PROJECT_DATA_DIR:-$(dirname "$0")/../../data}
  if [ -r "$DATA/smtp-enhanced-status-codes-3.csv" ]; then
    DATA=$(cd "$DATA" && pwd -P)
    mkdir "$tmp/less" "$tmp/broken" "$tmp/edited"
    cp "$DATA"/smtp-enhanced-status-codes-*.csv "$tmp/less/"
    cp "$DATA"/smtp-enhanced-status-codes-*.csv "$tmp/edited/"
    # X.2.2 with another title and another list of associated basic codes, nothing else.
    sed -i 's/^"X\.2\.2","Mailbox full","552",/"X.2.2","Mailbox over quota","552, 452",/' \
      "$tmp/edited/smtp-enhanced-status-codes-3.csv"
    cp "$DATA"/smtp-enhanced-status-codes-*.csv "$tmp/broken/"
    grep -v '^"X\.7\.30",' "$DATA/smtp-enhanced-status-codes-3.csv" \
      >"$tmp/less/smtp-enhanced-status-codes-3.csv"
    sed -i '5s/^"X\.1\.\([0-9]*\)"/"X.1.x"/' "$tmp/broken/smtp-enhanced-status-codes-3.csv"
    expect "daemon: reload without X.7.30" 0 '^removed: X\.7\.30$' '' \
      -- "$S" --rundir "$R" reload "$tmp/less"
    check "daemon: reload names the source" grep -Eq "^reloaded: generation [0-9]+ from $tmp/less, 80 codes$" "$tmp/out"
    expect "daemon: answers come from the reloaded registry" 1 '^5\.7\.30  \(not registered\)' '' \
      -- "$S" --rundir "$R" lookup 5.7.30
    expect "daemon: reload adds X.7.30" 0 '^added: X\.7\.30$' '' -- "$S" --rundir "$R" reload "$DATA"
    expect_json "daemon: reload --json" 0 '
d["diff"] == {"added": [], "removed": ["X.7.30"], "changed": [], "fields": [],
              "descriptions_differ": 0} and d["registry"]["codes"] == 80
and d["registry"]["last_diff"] == d["diff"]' -- "$S" --rundir "$R" --json reload "$tmp/less"
    expect "daemon: reload lists a changed code's fields" 0 '^changed: X\.2\.2$' '' \
      -- "$S" --rundir "$R" reload "$tmp/edited"
    check "daemon: reload shows the old and new title" \
      grep -qx '  X\.2\.2 title: Mailbox full -> Mailbox over quota' "$tmp/out"
    check "daemon: reload shows the old and new basic codes" \
      grep -qx '  X\.2\.2 basic_codes: 552 -> 552, 452' "$tmp/out"
    check "daemon: reload lists no other field" test "$(grep -c '^  X\.' "$tmp/out")" = 2
    expect_json "daemon: reload --json lists the changed fields" 0 '
d["diff"]["changed"] == ["X.2.2"] and d["diff"]["fields"] == [
 {"code": "X.2.2", "field": "title", "old": "Mailbox over quota", "new": "Mailbox full"},
 {"code": "X.2.2", "field": "basic_codes", "old": "552, 452", "new": "552"}]
and d["diff"]["descriptions_differ"] == 0' -- "$S" --rundir "$R" --json reload "$tmp/less"
    expect_json "daemon: reload a relative DIR --json" 0 "
d['diff']['added'] == ['X.7.30'] and d['registry']['source'] == '$DATA'
and d['registry']['codes'] == 81" \
      -- in_dir "$DATA/.." "$S" --rundir "$R" --json reload "$(basename "$DATA")"
    run 0 -- "$S" --rundir "$R" --json info
    gen=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$tmp/out")
    expect "daemon: a broken registry is refused" 1 '' \
      "^$tmp/broken/smtp-enhanced-status-codes-3\.csv:5:[0-9]+: error: " \
      -- "$S" --rundir "$R" reload "$tmp/broken"
    check "daemon: refused reload says nothing changed" grep -q 'nothing changed' "$tmp/err"
    expect_json "daemon: a broken registry --json" 1 '
"nothing changed" in d["error"] and len(d["problems"]) >= 1
and all(re.match(r"[^:]+:[0-9]+:[0-9]+: error: ", p) for p in d["problems"])' \
      -- "$S" --rundir "$R" --json reload "$tmp/broken"
    expect_json "daemon: nothing changed after the refused reloads" 0 \
      "d['generation'] == $gen and d['source'] == '$DATA'" -- "$S" --rundir "$R" --json info
  else
    echo "SKIP: reload: no project data (PROJECT_DATA_DIR)"
  fi
  expect "daemon: reload of a missing DIR" 1 '' 'no/such/dir: No such file or directory' \
    -- "$S" --rundir "$R" reload "$tmp/no/such/dir"
  # Another user may not reload: root can be one for a moment.
  if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    chmod o+x "$tmp" "$tmp/d"
    expect "daemon: reload by another user: refused" 1 '' \
      'the daemon refused to reload: .*uid 65534' \
      -- setpriv --reuid 65534 --regid 65534 --clear-groups "$S" --rundir "$R" reload
    check "daemon: refused reload: who may" grep -q 'reloading is for root' "$tmp/err"
  else
    echo "SKIP: reload by another user: needs root and setpriv"
  fi

  # stats: the daemon's counters, this test's requests among them.
  expect "daemon: stats" 0 '^requests +lookup +[1-9][0-9]*$' '' -- "$S" --rundir "$R" stats
  for f in '^requests +render +[1-9]' '^errors +invalid_argument +[0-9]' '^daemon +connections_total +[1-9]' \
    '^daemon +uptime_seconds +[0-9]'; do
    check "daemon: stats shows /$f/" grep -Eq "$f" "$tmp/out"
  done
  expect_json "daemon: stats --json" 0 '
d["requests"]["lookup"] > 0 and d["requests"]["classify"] > 0 and d["requests"]["stats"] > 0
and "invalid_argument" in d["errors"] and d["generation"] >= 1 and d["connections_open"] >= 1' \
    -- "$S" stats --rundir "$R" --json

  # Once the daemon is gone, everything but --offline is "daemon unavailable".
  kill "$daemon_pid"
  wait "$daemon_pid"
  rc=$?
  daemon_pid=
  if [ "$rc" -eq 0 ]; then ok "daemon: stops cleanly"; else bad "daemon: exit $rc on SIGTERM"; sed 's/^/  | /' "$tmp/daemon.log"; fi
  for cmd in "lookup 5.1.1" "basic 550" "search mailbox" "render 550 5.1.1" "classify 550 5.1.1 x" \
    "info" "reload" "stats"; do
    # shellcheck disable=SC2086
    expect "daemon stopped: --socket $cmd" 3 '' "no daemon answers at $R/smtpstatusd\.sock: " \
      -- "$S" --rundir "$R" --socket $cmd
  done
  # The image it published stays, and answers while the daemon is down.
  for cmd in "lookup 5.1.1" "basic 550" "search mailbox" "render 550 5.1.1" "classify 550 5.1.1 x"; do
    # shellcheck disable=SC2086
    vs_offline_shared_only "daemon stopped, shared image: $cmd" $cmd
  done
  for cmd in "reload" "stats"; do
    # shellcheck disable=SC2086
    expect "daemon stopped: $cmd" 3 '' "no daemon answers at $R/smtpstatusd\.sock: " \
      -- "$S" --rundir "$R" $cmd
  done
fi

# Something listens on the socket but never answers, or hangs up: still "daemon unavailable".
# The listener prints "ready" once it listens; the test waits for that line, never for time.
listener() {
  mkdir -p "$tmp/live"
  rm -f "$tmp/live/smtpstatusd.sock"
  coproc LISTENER { exec "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
print("ready", flush=True)
if sys.argv[2] == "hangup":
    while True:
        s.accept()[0].close()
sys.stdin.read()' "$tmp/live/smtpstatusd.sock" "$1"; }
  # shellcheck disable=SC2153 # coproc sets LISTENER_PID
  listener_pid=$LISTENER_PID
  read -r -t 20 line <&"${LISTENER[0]}" && [ "$line" = ready ]
}
stop_listener() {
  kill "$listener_pid" 2>/dev/null
  wait "$listener_pid" 2>/dev/null
  listener_pid=
}
if listener silent; then
  expect "a daemon that never answers" 3 '' \
    '^smtpstatus: the daemon at .*/live/smtpstatusd\.sock did not answer within 300 ms$' \
    -- "$S" --rundir "$tmp/live" --timeout 300 lookup 5.1.1
  check "never answers: the hint" grep -q 'raise --timeout, or use --offline' "$tmp/err"
else
  bad "the silent listener did not start"
fi
stop_listener
if listener hangup; then
  expect "a daemon that hangs up" 3 '' 'the daemon at .* closed the connection without answering' \
    -- "$S" --rundir "$tmp/live" stats
else
  bad "the hang-up listener did not start"
fi
stop_listener
expect "--timeout not a number" 2 '' '--timeout needs a number of milliseconds' \
  -- "$S" stats --timeout abc
expect "--timeout 0" 2 '' '--timeout needs a number of milliseconds' -- "$S" stats --timeout=0

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
