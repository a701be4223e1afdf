#!/usr/bin/env bash
# The systemd units in packaging/systemd/: `systemd-analyze verify` accepts them (with the
# build's smtpstatus in place of /usr/bin/smtpstatus, which is not installed here), the daemon's
# hardening is measured with `systemd-analyze security --offline=true` and its exposure figure
# printed and held to at most 2.0, the service's ExecStart passes --registry only when
# /etc/smtpstatusd/registry exists (run here with that path swapped for a temp one), the socket
# unit and the service agree on the socket, and sysusers.d accepts the user. Skips, saying so,
# without systemd-analyze. ctest sets BUILD_DIR.
set -uo pipefail
: "${BUILD_DIR:?}"
units=$(cd "$(dirname "$0")/../../packaging/systemd" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
if ! command -v systemd-analyze >/dev/null; then
  echo "skip: systemd-analyze is not installed (Debian package systemd)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi

cp "$units"/*.service "$units"/*.socket "$units"/*.timer "$tmp/"
sed -i "s#/usr/bin/smtpstatus #$BUILD_DIR/smtpstatus #; s#/usr/bin/smtpstatus\$#$BUILD_DIR/smtpstatus#" \
  "$tmp/smtpstatus-update.service"
if systemd-analyze verify --man=no "$tmp"/*.service "$tmp"/*.socket "$tmp"/*.timer >"$tmp/verify.log" 2>&1 \
   && [ ! -s "$tmp/verify.log" ]; then
  ok "systemd-analyze verify accepts every unit"
else
  bad "systemd-analyze verify"; sed 's/^/  | /' "$tmp/verify.log"
fi

for unit in smtpstatusd.service smtpstatus-update.service; do
  systemd-analyze security --offline=true --no-pager "$units/$unit" >"$tmp/security.log" 2>&1
  figure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security.log")
  echo "exposure: $unit: ${figure:-unknown} (systemd-analyze security --offline=true, 0 safest, 10 unsafe)"
  if [ "$unit" = smtpstatusd.service ]; then
    if [ -n "$figure" ] && awk -v f="$figure" 'BEGIN { exit !(f <= 2.0) }'; then
      ok "smtpstatusd.service exposure $figure is at most 2.0"
    else
      bad "smtpstatusd.service exposure ${figure:-unknown}"; grep '✗' "$tmp/security.log" | sed 's/^/  | /'
    fi
  fi
done

# ExecStart as systemd runs it: "$$" is a literal "$"; then the argv is sh's.
line=$(sed -n 's/^ExecStart=//p' "$units/smtpstatusd.service" | sed 's/\$\$/$/g')
line=${line//\/etc\/smtpstatusd\/registry/$tmp/registry}
printf '#!/bin/sh\necho smtpstatusd "$@"\n' >"$tmp/echo-args" && chmod +x "$tmp/echo-args"
line=${line//\/usr\/sbin\/smtpstatusd/$tmp/echo-args}
execstart() { SMTPSTATUSD_OPTS="$1" python3 -c 'import shlex, subprocess, sys; sys.exit(subprocess.call(shlex.split(sys.argv[1])))' "$line" ; }
base="smtpstatusd --foreground --rundir /run/smtpstatusd --statedir /var/lib/smtpstatusd"
got=$(execstart "")
[ "$got" = "$base" ] && ok "ExecStart without the registry directory: the built-in registry" \
  || bad "ExecStart without the directory: $got"
mkdir "$tmp/registry"
got=$(execstart "--admin-group mail --log-level debug")
[ "$got" = "$base --registry $tmp/registry --admin-group mail --log-level debug" ] \
  && ok "ExecStart with the registry directory and SMTPSTATUSD_OPTS" || bad "ExecStart with the directory: $got"

listen=$(sed -n 's/^ListenStream=//p' "$units/smtpstatusd.socket")
[ "$listen" = /run/smtpstatusd/smtpstatusd.sock ] && grep -q '^SocketMode=0666$' "$units/smtpstatusd.socket" \
  && grep -q -- '--rundir /run/smtpstatusd ' "$units/smtpstatusd.service" \
  && grep -q '^RuntimeDirectory=smtpstatusd$' "$units/smtpstatusd.service" \
  && grep -q '^RuntimeDirectoryPreserve=yes$' "$units/smtpstatusd.service" \
  && ok "the socket unit listens where the daemon's run directory is, mode 0666, kept across restarts" \
  || bad "socket path: $listen"
! grep -q '^\[Install\]' "$units/smtpstatus-update.service" && grep -q '^WantedBy=timers.target' "$units/smtpstatus-update.timer" \
  && ok "the update runs only from its timer" || bad "update unit install sections"

if command -v systemd-sysusers >/dev/null; then
  cp "$units/smtpstatusd.sysusers" "$tmp/smtpstatusd.conf"
  if ! systemd-sysusers --dry-run "$tmp/smtpstatusd.conf" >"$tmp/sysusers.log" 2>&1; then
    bad "systemd-sysusers rejects smtpstatusd.sysusers"; sed 's/^/  | /' "$tmp/sysusers.log"
  elif grep -q "user 'smtpstatusd'" "$tmp/sysusers.log" || getent passwd smtpstatusd >/dev/null; then
    ok "sysusers.d makes the system user smtpstatusd"
  else
    bad "sysusers: no user smtpstatusd"; sed 's/^/  | /' "$tmp/sysusers.log"
  fi
else
  skip=$((skip + 1)); echo "skip: systemd-sysusers is not installed"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
