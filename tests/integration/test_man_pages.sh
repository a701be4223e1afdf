#!/usr/bin/env bash
# The man pages in packaging/man/: `mandoc -T lint` finds nothing at warning level or worse,
# and they cover what the programs and the library have: every option in `smtpstatusd --help`,
# `smtpstatus --help` and `smtpstatusd-update --help`, every smtpstatus command, and every
# SMTPSTATUS_E* error of smtpstatus.h. Skips the lint, saying so, without mandoc (Debian package mandoc). ctest sets
# BUILD_DIR.
set -uo pipefail
: "${BUILD_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)
man=$root/packaging/man
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

for page in smtpstatusd.8 smtpstatusd-update.8 smtpstatus.1 libsmtpstatus.3 smtpstatus-integrations.7; do
  [ -f "$man/$page" ] || { bad "$page is missing"; continue; }
  if command -v mandoc >/dev/null; then
    if out=$(mandoc -T lint -W warning "$man/$page" 2>&1); then
      ok "mandoc -T lint: $page is clean"
    else
      bad "mandoc -T lint: $page"; printf '%s\n' "$out" | sed 's/^/  | /'
    fi
  else
    skip=$((skip + 1)); echo "skip: mandoc is not installed: $page not linted"
  fi
done

# covers PAGE WHAT WORD...: each WORD appears in PAGE's source, where "-" is written "\-" and an
# option's first dash comes from the Fl macro ("--json" is "Fl \-json").
covers() {
  local page=$1 what=$2 missing=()
  shift 2
  for w in "$@"; do
    local src=${w#-}
    grep -qF -- "${src//-/\\-}" "$man/$page" || missing+=("$w")
  done
  [ ${#missing[@]} -eq 0 ] && ok "$page documents every $what ($#)" \
    || bad "$page lacks $what: ${missing[*]}"
}
mapfile -t dopts < <("$BUILD_DIR/smtpstatusd" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
covers smtpstatusd.8 "option of smtpstatusd --help" "${dopts[@]}" --http --http-allow-remote --http-admin
mapfile -t uopts < <("$BUILD_DIR/smtpstatusd-update" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
covers smtpstatusd-update.8 "option of smtpstatusd-update --help" "${uopts[@]}"
mapfile -t copts < <("$BUILD_DIR/smtpstatus" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
covers smtpstatus.1 "option of smtpstatus --help" "${copts[@]}"
mapfile -t cmds < <("$BUILD_DIR/smtpstatus" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ {print $1}')
covers smtpstatus.1 "command" "${cmds[@]}"
mapfile -t errs < <(grep -oE '^ +X\(E[A-Z0-9_]+' "$root/client/include/smtpstatus.h" | sed 's/.*X(//')
covers libsmtpstatus.3 "SMTPSTATUS_E* error" "${errs[@]}"
# Every JSON field the CLI prints (the keys its builders set), and its exit statuses.
mapfile -t keys < <(cat "$root/client/json/answer_json.c" "$root/client/cli/output.c" \
  "$root/daemon/update/update.c" | grep -oE '(jset|answer_json_set)\([^,]+, "[a-z_]+"' \
  | sed 's/.*"\(.*\)"/\1/' | sort -u)
[ ${#keys[@]} -gt 20 ] || bad "found only ${#keys[@]} JSON keys in the CLI's sources"
covers smtpstatus.1 "JSON field" "${keys[@]}"
statuses=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$man/smtpstatus.1" | grep -oE '^\.It [0-9]+' | awk '{print $2}' | tr '\n' ' ')
want=$("$BUILD_DIR/smtpstatus" --help | grep -oE '^  [0-9]  ' | tr -d ' ' | tr '\n' ' ')
[ -n "$want" ] && [ "$statuses" = "$want" ] && ok "smtpstatus.1 lists the exit statuses of --help ($want)" \
  || bad "smtpstatus.1 exit statuses: '$statuses', --help has '$want'"
covers smtpstatusd.8 "signal" SIGHUP SIGTERM SIGINT
covers smtpstatusd.8 "file" smtpstatusd.sock smtpstatusd.lock /etc/smtpstatusd/registry /var/lib/smtpstatusd

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
