#!/usr/bin/env bash
# `smtpstatus update` runs smtpstatusd-update: it passes on the options it was given (seen by a
# stand-in named by SMTPSTATUS_UPDATE_HELPER), and where the program is missing it says to
# install the smtpstatusd package and exits 1. smtpstatusd-update run directly checks its own
# command line and names itself in its messages. test_update.sh drives the update itself
# through `smtpstatus update`. ctest sets BUILD_DIR and PROJECT_DATA_DIR.
set -uo pipefail
: "${BUILD_DIR:?} ${PROJECT_DATA_DIR:?}"
S=$BUILD_DIR/smtpstatus
U=$BUILD_DIR/smtpstatusd-update
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export SMTPSTATUS_RUNDIR=$tmp/run

# run WANT_RC COMMAND...: into $tmp/out, $tmp/err; 0 when it exited WANT_RC, no sanitizer spoke.
run() {
  local want=$1; shift
  "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
    echo "  sanitizer report:"; sed 's/^/  | /' "$tmp/err"; return 1
  fi
  [ $rc -eq "$want" ] || { echo "  exit $rc, want $want"; sed 's/^/  | /' "$tmp/out" "$tmp/err"; return 1; }
}

# The options reach the program, whatever their place on the command line.
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >"$tmp/stand-in"
chmod +x "$tmp/stand-in"
run 0 env SMTPSTATUS_UPDATE_HELPER="$tmp/stand-in" "$S" --json update --from=file:///m/ \
    --registry "$tmp/reg" --allow-removals --offline --timeout 700 \
  && [ "$(tr '\n' ' ' <"$tmp/out")" = "--json --offline --allow-removals --from file:///m/ --registry $tmp/reg --timeout 700 " ] \
  && ok "smtpstatus update passes its options on" || { bad "options passed on"; sed 's/^/  | /' "$tmp/out"; }

# A missing program: what to install, exit 1, nothing on stdout but the JSON error.
run 1 env SMTPSTATUS_UPDATE_HELPER="$tmp/none" "$S" update --offline \
  && grep -q "^smtpstatus: update needs smtpstatusd-update, which is not installed ($tmp/none): install the smtpstatusd package" "$tmp/err" \
  && [ ! -s "$tmp/out" ] \
  && ok "without smtpstatusd-update, update says to install smtpstatusd" || bad "missing smtpstatusd-update"
run 1 env SMTPSTATUS_UPDATE_HELPER="$tmp/none" "$S" --json update \
  && grep -q '"error": *"update needs smtpstatusd-update' "$tmp/out" \
  && ok "without smtpstatusd-update, --json gets an error object" || bad "missing smtpstatusd-update --json"

# Its own command line.
run 0 "$U" --help && grep -q -- "--allow-removals" "$tmp/out" && ok "smtpstatusd-update --help" \
  || bad "smtpstatusd-update --help"
run 0 "$U" --version && grep -q "^smtpstatusd-update [0-9]" "$tmp/out" \
  && ok "smtpstatusd-update --version" || bad "smtpstatusd-update --version"
run 2 "$U" --zorglub && grep -q "^smtpstatusd-update: unknown option" "$tmp/err" \
  && ok "an unknown option is a usage error" || bad "unknown option"
run 2 "$U" extra && ok "smtpstatusd-update takes no arguments" || bad "smtpstatusd-update extra"
run 2 "$U" --timeout 0 && ok "--timeout 0 is a usage error" || bad "--timeout 0"

# Run directly, it names itself; through smtpstatus, it speaks as smtpstatus.
run 1 "$U" --offline --from "file://$tmp/nowhere/" --registry "$tmp/reg" \
  && grep -q "^smtpstatusd-update: cannot download file://$tmp/nowhere/smtp-enhanced-status-codes-1.csv" "$tmp/err" \
  && [ ! -e "$tmp/reg" ] \
  && ok "smtpstatusd-update names itself in its messages" || bad "smtpstatusd-update's messages"
run 1 "$S" --offline update --from "file://$tmp/nowhere/" --registry "$tmp/reg" \
  && grep -q "^smtpstatus: cannot download file://$tmp/nowhere/" "$tmp/err" \
  && ok "through smtpstatus update, the messages say smtpstatus" || bad "smtpstatus update's messages"

# And it installs, as the timer's service runs it.
mkdir "$tmp/mirror"
cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-?.csv "$tmp/mirror/"
run 0 "$U" --offline --from "file://$tmp/mirror/" --registry "$tmp/reg" \
  && grep -q "^installed $tmp/reg: 3 classes, 8 subjects, 81 codes" "$tmp/out" \
  && cmp -s "$tmp/mirror/smtp-enhanced-status-codes-3.csv" "$tmp/reg/smtp-enhanced-status-codes-3.csv" \
  && ok "smtpstatusd-update installs a registry" || bad "smtpstatusd-update installs"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
