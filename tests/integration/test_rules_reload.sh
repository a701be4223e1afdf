#!/usr/bin/env bash
# Integration test of the administrator's rules file (issue 12, "Rules the administrator owns,
# live"), against the real smtpstatusd and the real smtpstatus CLI:
#   - an admin rule (--rules FILE) changes what `smtpstatus classify` answers through the shared
#     image, and --offline keeps the built-in answer;
#   - editing the file and SIGHUP, or `smtpstatus reload`, changes it live, as one new
#     generation, with no --registry (the rules alone, over the registry served) and with one;
#   - the reload's rules diff names the rules added, removed and changed, and a line inserted at
#     the top is one rule added, not every rule changed;
#   - a bad rule (an unknown reason, a pattern Vectorscan refuses, a bad Enhanced) refuses the
#     whole reload with file:line:col on the socket, over HTTP and in --check, and the old
#     generation goes on answering;
#   - an unsafe rules file (group-writable, a foreign owner, a symbolic link) is refused;
#   - a --rules file that does not exist stops the daemon at start with a clear message.
# ctest sets SMTPSTATUSD, BUILD_DIR and PROJECT_DATA_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?} ${PROJECT_DATA_DIR:?}"
S=$BUILD_DIR/smtpstatus
OTHER_UID=40401 # owns a rules file nobody may trust

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# until_ok SECONDS CMD...: CMD until it succeeds, for at most SECONDS.
until_ok() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.05; done
}

R=$tmp/rules.csv
REPLY='550 5.7.1 Message refused: zorglub limit reached'
# rules LINE...: writes the rules file, a header and the rows given, owner-writable only.
rules() {
  { echo 'Name,Reason,Basic,Enhanced,Pattern,Retry,Note'; printf '%s\n' "$@"; } >"$R.new"
  chmod 0644 "$R.new" && mv "$R.new" "$R"
}
# retry_of [ARGS...]: the "retry" that `smtpstatus --json [ARGS] classify "$REPLY"` answers.
retry_of() {
  "$S" --json "$@" classify "$REPLY" | /usr/bin/python3 -c 'import json, sys; print(str(json.load(sys.stdin)["retry"]).lower())'
}
# rule_of [ARGS...]: the "rule" of the classification, or "-" while the JSON does not say.
rule_of() {
  "$S" --json "$@" classify "$REPLY" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin).get("rule", "-"))'
}
generation() {
  "$S" --socket --json info | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["generation"])'
}
# A reload compiles every rule's pattern (the built-in ones too) in one Vectorscan database:
# well under a second here, but many times that under AddressSanitizer on a loaded machine.
# These are bounds on a wait for progress, not timings.
WAIT=150
# cli WANT_RC WANT_TEXT ARGS...: smtpstatus ARGS exits WANT_RC with WANT_TEXT in its output.
cli() {
  local want=$1 text=$2
  shift 2
  timeout $WAIT "$S" --timeout $((WAIT * 1000 - 10000)) "$@" >"$tmp/out" 2>&1 </dev/null
  local rc=$?
  [ $rc = "$want" ] && grep -qF -- "$text" "$tmp/out" && return 0
  echo "  exit $rc, want $want with \"$text\""; sed 's/^/  | /' "$tmp/out"
  return 1
}

# The built-in answer: a 550 5.7.1 is policy, not retried.
export SMTPSTATUS_RUNDIR=$tmp/none
[ "$(retry_of --offline)" = false ] && ok "built in: $REPLY is not retried" ||
  bad "built in: retry $(retry_of --offline)"

# ---- start-up ----------------------------------------------------------------------------------
"$SMTPSTATUSD" --rundir "$tmp/x/run" --statedir "$tmp/x/state" --rules "$tmp/missing.csv" \
  --http off --log-target stderr >"$tmp/out" 2>&1 </dev/null
[ $? != 0 ] && grep -qF -- "--rules $tmp/missing.csv: no such file" "$tmp/out" && [ ! -e "$tmp/x/run" ] &&
  ok "a --rules file that does not exist stops the daemon before it starts" ||
  { bad "a missing --rules file"; sed 's/^/  | /' "$tmp/out"; }

rules ',rate-limit,5XX,,zorglub,,The receiver limits us: slow down.'
mkdir -p "$tmp/d"
"$SMTPSTATUSD" --rundir "$tmp/d/run" --statedir "$tmp/d/state" --rules "$R" --http 127.0.0.1:0 \
  --http-admin --log-target stderr 2>"$tmp/d.log" </dev/null
rc=$?
if [ $rc != 0 ]; then
  bad "the daemon did not start ($rc)"; sed 's/^/  | /' "$tmp/d.log"
  echo "$pass passed, $fail failed"; exit 1
fi
pid=$(cat "$tmp/d/run/smtpstatusd.lock")
pids+=("$pid")
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/d.log" | head -n 1)
B=http://127.0.0.1:$port
export SMTPSTATUS_RUNDIR=$tmp/d/run

[ "$(retry_of)" = true ] && ok "the admin rule (rate-limit) makes $REPLY retried, through the shared image" ||
  bad "admin rule: retry $(retry_of)"
r=$(rule_of)
[ "$r" = - ] || [ "$r" = "$R:2" ] && ok "the deciding rule is $R:2 (or not shown yet: $r)" ||
  bad "the deciding rule: $r"
[ "$("$S" --json info | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["answered_by"])')" = shared ] &&
  ok "classify was answered from the shared image" || bad "classify did not use the shared image"
[ "$(retry_of --offline)" = false ] && ok "--offline keeps the built-in answer" ||
  bad "--offline: retry $(retry_of --offline)"
[ "$(retry_of --socket)" = true ] && ok "the socket answers with the admin rule too" ||
  bad "socket: retry $(retry_of --socket)"
cli 0 "Rules:       1 administrator's ($R), " info &&
  ok "info counts the administrator's and the built-in rules" || bad "info's rules line"
j=$(curl -s --max-time 10 "$B/v1/registry")
/usr/bin/python3 -c 'import json, sys; r = json.loads(sys.argv[1])["rules"]; sys.exit(not (r["admin"] == 1 and r["builtin"] > 0 and r["file"] == sys.argv[2]))' "$j" "$R" &&
  ok "GET /v1/registry: rules.admin 1, rules.builtin, rules.file" || bad "GET /v1/registry rules: $j"

# ---- live: SIGHUP and the reload operation, without --registry --------------------------------
# A line inserted at the top, and the zorglub rule now says policy and no retry.
rules ',greylisting,4XX,,greylisted,,Wait and retry.' ',policy,5XX,,zorglub,no,Refused by policy.'
g=$(generation)
kill -HUP "$pid"
until_ok $WAIT grep -q "reloaded the rules alone: generation $((g + 1))" "$tmp/d.log" &&
  ok "SIGHUP with no --registry reloads the rules file: generation $((g + 1))" ||
  { bad "SIGHUP did not reload the rules"; sed 's/^/  | /' "$tmp/d.log"; }
[ "$(retry_of)" = false ] && ok "after SIGHUP the edited rule answers: not retried" ||
  bad "after SIGHUP: retry $(retry_of)"
cli 0 "Rule added    $R:2: greylisting for 4XX /greylisted/" info &&
  grep -qF "Rule changed  $R:3 (was $R:2): policy for 5XX /zorglub/" "$tmp/out" &&
  [ "$(grep -c '^Rule ' "$tmp/out")" = 2 ] &&
  ok "the diff: the inserted line is one rule added, the edited one changed (was line 2)" ||
  { bad "the diff after SIGHUP"; sed 's/^/  | /' "$tmp/out"; }

rules ',greylisting,4XX,,greylisted,,Wait and retry.'
cli 0 "rule removed  $R:3: policy for 5XX /zorglub/" reload &&
  grep -qF "rules: 1 administrator's ($R)" "$tmp/out" &&
  ok "smtpstatus reload: the zorglub rule removed, listed as it was" || bad "reload: removal"
[ "$(retry_of)" = false ] && [ "$(retry_of --socket)" = false ] &&
  ok "without the rule, the built-in answer again" || bad "after removal: retry $(retry_of)"

rules 'slow,rate-limit,5XX,,zorglub,,Slow down.' ',greylisting,4XX,,greylisted,,Wait and retry.'
"$S" --timeout $((WAIT * 1000 - 10000)) --json reload >"$tmp/out" 2>&1
/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
d = j["rules_diff"]
ok = ([r["name"] for r in d["added"]] == ["slow"] and d["removed"] == [] and d["changed"] == []
      and d["added"][0]["reason"] == "rate-limit" and d["added"][0]["admin"] is True
      and j["registry"]["rules"]["admin"] == 2)
sys.exit(not ok)' "$tmp/out" && ok "smtpstatus --json reload: rules_diff.added is the named rule \"slow\"" ||
  { bad "--json reload's rules_diff"; sed 's/^/  | /' "$tmp/out"; }
[ "$(retry_of)" = true ] && ok "the named rule answers: retried" || bad "named rule: retry $(retry_of)"

# ---- bad rules refuse the whole reload ---------------------------------------------------------
g=$(generation)
good=$(cat "$R")
check_refused() { # NAME WANT_TEXT: the socket, HTTP and --check all refuse, with WANT_TEXT
  local name=$1 want=$2
  cli 1 "$want" reload && ok "$name: smtpstatus reload refuses with $want" || bad "$name: reload"
  local body
  body=$(curl -s --max-time $WAIT -H 'Content-Type: application/json' -X POST -w '\n%{http_code}' "$B/v1/reload")
  [ "${body##*$'\n'}" = 422 ] && grep -qF -- "$want" <<<"$body" && ok "$name: POST /v1/reload: 422 with $want" ||
    { bad "$name: HTTP"; echo "$body" | sed 's/^/  | /'; }
  timeout $WAIT "$SMTPSTATUSD" --check --rules "$R" >"$tmp/out" 2>&1
  [ $? = 1 ] && grep -qF -- "$want" "$tmp/out" && grep -qF "rules $R are not usable" "$tmp/out" &&
    ok "$name: --check exits 1 with $want" || { bad "$name: --check"; sed 's/^/  | /' "$tmp/out"; }
  [ "$(generation)" = "$g" ] && [ "$(retry_of)" = true ] &&
    ok "$name: generation $g goes on answering with its rules" || bad "$name: generation $(generation)"
}
rules 'slow,rate-limit,5XX,,zorglub,,Slow down.' ',nonsense,5XX,,foo,,'
check_refused "an unknown reason" "$R:3:2: error: Reason: unknown reason"
rules 'slow,rate-limit,5XX,,zorglub,,Slow down.' ',policy,5XX,,(?<=x)y,,'
check_refused "a pattern Vectorscan refuses" "$R:3:14: error: Pattern:"
rules 'slow,rate-limit,5XX,,zorglub,,Slow down.' ',policy,5XX,5.7.1.2,,,'
check_refused "a bad Enhanced" "$R:3:13: error: Enhanced:"

# ---- unsafe rules files ------------------------------------------------------------------------
printf '%s\n' "$good" >"$R"
chmod 0664 "$R"
check_refused "a group-writable rules file" "$R: error: is writable by its group"
chmod 0644 "$R"
mv "$R" "$tmp/real.csv"; ln -s "$tmp/real.csv" "$R"
check_refused "a symbolic link" "$R: error: is a symbolic link"
rm "$R"; mv "$tmp/real.csv" "$R"
if [ "$(id -u)" = 0 ]; then
  chown "$OTHER_UID" "$R"
  check_refused "a rules file of another user" "$R: error: is owned by uid $OTHER_UID"
  chown 0 "$R"
else
  echo "skip: a rules file of another user (needs root to chown)"
fi
cli 0 "reloaded: generation $((g + 1))" reload && ok "the mended file reloads" || bad "the mended file"

# ---- with --registry: one generation for both ---------------------------------------------------
kill "$pid"
until_ok 20 grep -q 'stopped' "$tmp/d.log" || bad "the daemon did not stop"
mkdir -p "$tmp/reg" && cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-?.csv "$tmp/reg/"
"$SMTPSTATUSD" --rundir "$tmp/d/run" --statedir "$tmp/d/state2" --rules "$R" --registry "$tmp/reg" \
  --http off --log-target stderr 2>"$tmp/d2.log" </dev/null || bad "the daemon with --registry did not start"
pids+=("$(cat "$tmp/d/run/smtpstatusd.lock")")
[ "$(retry_of)" = true ] && ok "--registry and --rules together: the admin rule answers" ||
  bad "--registry: retry $(retry_of)"
g=$(generation)
grep -v '^"X\.7\.30",' "$PROJECT_DATA_DIR/smtp-enhanced-status-codes-3.csv" >"$tmp/reg/smtp-enhanced-status-codes-3.csv"
rules ',greylisting,4XX,,greylisted,,Wait and retry.'
cli 0 "removed: X.7.30" reload && grep -qF "rule removed  slow: rate-limit" "$tmp/out" &&
  ok "one reload, one generation: the code and the rule removed together" ||
  bad "registry and rules reload"
[ "$(generation)" = $((g + 1)) ] && [ "$(retry_of)" = false ] &&
  ok "generation $((g + 1)) serves both" || bad "generation $(generation), retry $(retry_of)"
rules ',nonsense,5XX,,foo,,'
cp "$PROJECT_DATA_DIR/smtp-enhanced-status-codes-3.csv" "$tmp/reg/"
registered_7_30() {
  "$S" --socket --json lookup X.7.30 | /usr/bin/python3 -c 'import json, sys; print(str(json.load(sys.stdin)["registered"]).lower())'
}
cli 1 "$R:2:2: error: Reason: unknown reason" reload &&
  [ "$(generation)" = $((g + 1)) ] && [ "$(registered_7_30)" = false ] &&
  ok "a bad rule refuses the registry's reload too: X.7.30 is still gone" ||
  bad "a bad rule with a good registry: generation $(generation), X.7.30 registered $(registered_7_30)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
