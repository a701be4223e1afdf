#!/usr/bin/env bash
# The systemd units in packaging/systemd/: `systemd-analyze verify` accepts them (with the
# build's programs in place of /usr/sbin/smtpstatusd-update and /usr/sbin/smtpstatusd, which
# are not installed here), the daemon's
# hardening is measured with `systemd-analyze security --offline=true` and its exposure figure
# printed and held to at most 2.0, the service's ExecStart serves the built-in registry until
# /etc/smtpstatusd/registry exists and SIGHUP loads it then (run here with the paths swapped for
# temp ones), the socket
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
sed -i "s#/usr/sbin/smtpstatusd-update#$BUILD_DIR/smtpstatusd-update#" "$tmp/smtpstatus-update.service"
sed -i "s#/usr/sbin/smtpstatusd #$BUILD_DIR/smtpstatusd #" "$tmp/smtpstatusd.service"
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

# ExecStart as systemd runs it, with the paths moved into a temp directory: the real daemon
# serves the built-in registry while /etc/smtpstatusd/registry does not exist, and SIGHUP (the
# unit's ExecReload) loads the directory once it does. $SMTPSTATUSD_OPTS is split on spaces, as
# systemd splits an unbraced variable.
line=$(sed -n 's/^ExecStart=//p' "$units/smtpstatusd.service")
line=${line//\/etc\/smtpstatusd\/registry/$tmp/registry}
line=${line//\/run\/smtpstatusd/$tmp/run}
line=${line//\/var\/lib\/smtpstatusd/$tmp/state}
line=${line//\/usr\/sbin\/smtpstatusd/$BUILD_DIR/smtpstatusd}
line=${line//\$SMTPSTATUSD_OPTS/--http off --log-level debug}
# shellcheck disable=SC2086
$line 2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 100); do grep -q 'ready: listening' "$tmp/daemon.log" && break; sleep 0.1; done
source_of() { "$BUILD_DIR/smtpstatus" --rundir "$tmp/run" --socket --json info \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["source"])'; }
[ "$(source_of)" = embedded ] && grep -q "registry $tmp/registry does not exist yet" "$tmp/daemon.log" \
  && ! grep -q 'error:' "$tmp/daemon.log" \
  && ok "ExecStart without the registry directory: the built-in registry, and no error" \
  || { bad "ExecStart without the registry directory"; sed 's/^/  | /' "$tmp/daemon.log"; }
cp -r "$(dirname "$0")/../../data" "$tmp/registry"
kill -HUP "$daemon"
for _ in $(seq 100); do grep -q "reloaded $tmp/registry" "$tmp/daemon.log" && break; sleep 0.1; done
[ "$(source_of)" = "$tmp/registry" ] \
  && ok "ExecReload (SIGHUP) loads the registry directory once it exists" \
  || { bad "SIGHUP after the directory appeared"; sed 's/^/  | /' "$tmp/daemon.log"; }
kill "$daemon"; wait "$daemon"

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
