#!/usr/bin/env bash
# The bash completion of smtpstatus (packaging/bash-completion/smtpstatus): commands first, then
# the options of the command being completed, and only those (--width for render, --from for
# update), a message file for bounce, a directory for reload. bash-completion's helpers are stubbed, so this needs only bash.
set -uo pipefail
file=$(cd "$(dirname "$0")/../../packaging/bash-completion" && pwd)/smtpstatus
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

_init_completion() {
  words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
  cur=${words[cword]} prev=${words[cword - 1]:-}
}
_filedir() { if [ "${1:-}" = -d ]; then COMPREPLY=("<dir>"); else COMPREPLY=("<file>"); fi; }
# shellcheck source=/dev/null
source "$file" || { bad "cannot source $file"; echo "$pass passed, $fail failed"; exit 1; }

# completes WANT WORD...: completing the command line WORD... (the last word is being typed)
# offers exactly WANT (space-separated, sorted).
completes() {
  local want=$1
  shift
  COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMPREPLY=()
  _smtpstatus
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
  [ "${got% }" = "$want" ] && ok "smtpstatus ${*:2}| -> $want" || bad "smtpstatus ${*:2}|: got '${got% }', want '$want'"
}
completes "update" smtpstatus up
completes "reload render" smtpstatus re
completes "--from" smtpstatus update --fr
completes "--registry" smtpstatus --json update --reg
completes "--width" smtpstatus render 550 --wi
completes "" smtpstatus lookup --wi
completes "<dir>" smtpstatus update --registry ""
completes "lookup" smtpstatus --rundir /tmp look
completes "basic bounce" smtpstatus b
completes "<file>" smtpstatus bounce ""
completes "<dir>" smtpstatus reload ""

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
