#!/usr/bin/env bash
# `smtpstatus update` against a mirror on loopback (registry_server.py), with the real daemon
# serving the registry directory being updated. A good update installs the new set, keeps the
# old one as DIR.prev, prints the diff, and the daemon reloads (a lookup of the new code
# answers). A server error, a transfer cut short (Content-Length not met), a body cut without
# Content-Length (only the CSV reader can tell), a set that drops codes, an unreachable server
# and a concurrent update each leave the directory, DIR.prev and the daemon as they were, and
# say why. Never fetches anything but 127.0.0.1. ctest sets BUILD_DIR and SHARED_IANA_DIR
# (IANA's 2017 and later sets; without them the project's data/ plays "later" and a copy
# without X.7.29 and X.7.30 plays "2017").
set -uo pipefail
: "${BUILD_DIR:?} ${PROJECT_DATA_DIR:?}"
S=$BUILD_DIR/smtpstatus
D=$BUILD_DIR/smtpstatusd
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
server_pid='' daemon_pid=''
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export SMTPSTATUS_RUNDIR=$tmp/run

# The mirror's two sets.
mkdir -p "$tmp/mirror/2017" "$tmp/mirror/later"
if [ -d "${SHARED_IANA_DIR:-}/2017" ] && [ -d "$SHARED_IANA_DIR/later" ]; then
  cp "$SHARED_IANA_DIR"/2017/smtp-enhanced-status-codes-?.csv "$tmp/mirror/2017/"
  cp "$SHARED_IANA_DIR"/later/smtp-enhanced-status-codes-?.csv "$tmp/mirror/later/"
else
  echo "note: $SHARED_IANA_DIR is absent; using data/ and a copy of it without X.7.29 and X.7.30"
  cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-?.csv "$tmp/mirror/later/"
  cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-?.csv "$tmp/mirror/2017/"
  grep -v -e '^"\?X\.7\.29' -e '^"\?X\.7\.30' "$PROJECT_DATA_DIR/smtp-enhanced-status-codes-3.csv" \
    >"$tmp/mirror/2017/smtp-enhanced-status-codes-3.csv"
fi

exec {server_fd}< <(exec python3 "$here/registry_server.py" "$tmp/mirror" 2>"$tmp/server.log")
server_pid=$!
read -r -t 20 word port <&"$server_fd"
if [ "${word:-}" != port ]; then
  bad "the mirror did not start"; cat "$tmp/server.log"; echo "$pass passed, $fail failed"; exit 1
fi
url=http://127.0.0.1:$port

# The registry directory starts as the 2017 set, and the daemon serves it.
reg=$tmp/etc/registry
mkdir -p "$tmp/etc"
cp -r "$tmp/mirror/2017" "$reg"
# --http off: tests run in parallel, and the default HTTP port may be taken.
coproc DAEMON { exec "$D" --foreground --registry "$reg" --rundir "$tmp/run" \
  --statedir "$tmp/state" --http off 2>&1; }
daemon_pid=$DAEMON_PID
exec {daemon_fd}<&"${DAEMON[0]}"
ready=0
while IFS= read -r -t 20 -u "$daemon_fd" line; do
  echo "$line" >>"$tmp/daemon.log"
  case $line in *"ready: listening on"*) ready=1; break ;; esac
done
cat <&"$daemon_fd" >>"$tmp/daemon.log" &
exec {daemon_fd}<&-
[ $ready = 1 ] && ok "daemon ready on $reg" || { bad "daemon not ready"; cat "$tmp/daemon.log"; }

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
same_set() { for f in 1 2 3; do cmp -s "$1/smtp-enhanced-status-codes-$f.csv" "$2/smtp-enhanced-status-codes-$f.csv" || return 1; done; }
# How many times the daemon reloaded: its generation, from the daemon itself (the log is copied
# in the background, so counting its lines could lag).
reloads() { "$S" --socket --json info | python3 -c 'import json, sys; print(json.load(sys.stdin)["generation"] - 1)'; }
# unchanged NAME: the directory holds `later`, DIR.prev holds 2017, nothing else is beside
# them, and the daemon reloaded no more than once.
unchanged() {
  if same_set "$reg" "$tmp/mirror/later" && same_set "$reg.prev" "$tmp/mirror/2017" \
     && [ "$(ls -A "$tmp/etc" | tr '\n' ' ')" = "registry registry.prev " ] && [ "$(reloads)" = 1 ]; then
    ok "$1: the registry, its previous set and the daemon are as they were"
  else
    bad "$1: something changed"; ls -la "$tmp/etc"; echo "reloads: $(reloads)"
  fi
}
title() { "$S" --json lookup "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("title"))'; }

[ "$(title 5.7.30)" = None ] && ok "before: 5.7.30 is not registered" || bad "before: 5.7.30 is $(title 5.7.30)"

# Staging left by an update that died is removed by the next one.
mkdir "$tmp/etc/.registry.new.dead01" && echo x >"$tmp/etc/.registry.new.dead01/smtp-enhanced-status-codes-1.csv"
if run 0 "$S" update --from "$url/ok/later/" --registry "$reg"; then
  if grep -q '^added    X.7.29   ARC validation failure$' "$tmp/out" \
     && grep -q '^added    X.7.30   REQUIRETLS support required$' "$tmp/out" \
     && grep -q "^installed $reg: 3 classes, 8 subjects, 81 codes; 2 added, 0 removed, 0 changed since $reg (kept as $reg.prev)" "$tmp/out" \
     && grep -q "^smtpstatusd reloaded $reg: generation 2, 81 codes; 2 added, 0 removed, 0 changed$" "$tmp/out"; then
    ok "good update: the diff, the install and the daemon's reload are printed"
  else
    bad "good update: output"; sed 's/^/  | /' "$tmp/out"
  fi
else
  bad "good update"
fi
same_set "$reg" "$tmp/mirror/later" && same_set "$reg.prev" "$tmp/mirror/2017" \
  && ok "good update: the new set installed, the old one kept as registry.prev" || bad "good update: files"
[ ! -e "$tmp/etc/.registry.new.dead01" ] && ok "good update: a dead update's staging is removed" \
  || bad "good update: $tmp/etc/.registry.new.dead01 is still there"
[ "$(stat -c %a "$reg")" = 755 ] && [ "$(stat -c %a "$reg/smtp-enhanced-status-codes-3.csv")" = 644 ] \
  && ok "good update: readable by the daemon's user (0755, 0644)" || bad "good update: modes"
[ "$(title 5.7.30)" = "REQUIRETLS support required" ] && ok "good update: the daemon answers 5.7.30" \
  || bad "good update: the daemon answers 5.7.30 with $(title 5.7.30)"

run 1 "$S" update --from "$url/error/later/" --registry "$reg" \
  && grep -q "smtpstatus: cannot download $url/error/later/smtp-enhanced-status-codes-3.csv: the server answered HTTP 500, not 200; nothing was changed" "$tmp/err" \
  && ok "server error: refused with the status" || { bad "server error"; sed 's/^/  | /' "$tmp/err"; }
unchanged "server error"

run 1 "$S" update --from "$url/truncated/later/" --registry "$reg" \
  && grep -q "cannot download $url/truncated/later/smtp-enhanced-status-codes-3.csv: the download was cut short (transfer closed with [0-9]* bytes remaining to read): a partial file; nothing was changed" "$tmp/err" \
  && ok "truncated transfer: refused as a partial file" || { bad "truncated transfer"; sed 's/^/  | /' "$tmp/err"; }
unchanged "truncated transfer"

run 1 "$S" update --from "$url/cut/later/" --registry "$reg" \
  && grep -q "^$url/cut/later/smtp-enhanced-status-codes-3.csv:[0-9]*:[0-9]*: error: " "$tmp/err" \
  && grep -q "the downloaded files are not a usable registry (1 error above); nothing was changed" "$tmp/err" \
  && ok "cut file: the loader names file:line:col and nothing is installed" || { bad "cut file"; sed 's/^/  | /' "$tmp/err"; }
unchanged "cut file"

run 1 "$S" update --from "$url/ok/2017/" --registry "$reg" \
  && grep -q "the downloaded registry lacks 2 codes that $reg has (first X.7.29).*--allow-removals" "$tmp/err" \
  && ok "a set without two codes: refused unless --allow-removals" || { bad "removals"; sed 's/^/  | /' "$tmp/err"; }
unchanged "a set without two codes"

run 1 "$S" update --from "http://127.0.0.1:1/" --registry "$reg" \
  && grep -q "cannot download http://127.0.0.1:1/smtp-enhanced-status-codes-1.csv: .*; nothing was changed" "$tmp/err" \
  && ok "unreachable server: refused with curl's reason" || { bad "unreachable"; sed 's/^/  | /' "$tmp/err"; }
unchanged "unreachable server"

run 1 flock "$tmp/etc" "$S" update --from "$url/ok/later/" --registry "$reg" \
  && grep -q "$tmp/etc: another smtpstatus update is running there" "$tmp/err" \
  && ok "a concurrent update is refused" || { bad "concurrent"; sed 's/^/  | /' "$tmp/err"; }

run 0 "$S" update --from "$url/ok/later" --registry "$reg" \
  && grep -q "^$reg is current: the files at $url/ok/later are the ones installed$" "$tmp/out" \
  && ok "already current: nothing to do" || { bad "already current"; sed 's/^/  | /' "$tmp/out"; }
unchanged "already current"

# --offline installs without asking the daemon; --json says what happened; a new directory
# (and its parent) is created, with no previous set.
if run 0 "$S" --offline --json update --from "$url/ok/later/" --registry "$tmp/new/dir" \
   && python3 - "$tmp/out" "$tmp/new/dir" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["registry"] == sys.argv[2] and o["installed"] is True and o["previous"] is None, o
assert "generation" not in o, o
PY
then
  same_set "$tmp/new/dir" "$tmp/mirror/later" && ok "--offline --json into a new directory" || bad "--offline: files"
else
  bad "--offline --json"
fi
[ "$(reloads)" = 1 ] && ok "--offline did not reload the daemon" || bad "--offline reloaded"

ln -s "$reg" "$tmp/link"
run 1 "$S" update --from "$url/ok/later/" --registry "$tmp/link" \
  && grep -q "$tmp/link is not a directory but a symbolic link" "$tmp/err" \
  && ok "a symbolic link as the registry directory is refused" || { bad "symlink"; sed 's/^/  | /' "$tmp/err"; }
unchanged "a symbolic link"

run 0 "$S" --offline update --from "file://$tmp/mirror/later/" --registry "$tmp/fromfile" \
  && same_set "$tmp/fromfile" "$tmp/mirror/later" && ok "a file:// mirror" || bad "file:// mirror"

# The first update from the built-in registry, to data whose every description differs from
# the project's words (as IANA's do): one line counts them, none is listed, and no code is
# named as changed for its description alone.
mkdir -p "$tmp/mirror/reworded"
cp "${PROJECT_DATA_DIR:-$here/../../data}"/smtp-enhanced-status-codes-?.csv "$tmp/mirror/reworded/"
python3 - "$tmp/mirror/reworded/smtp-enhanced-status-codes-3.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
for row in rows[1:]:
    row[3] = "Reworded: " + row[3]
out = csv.writer(open(sys.argv[1], "w", newline=""), quoting=csv.QUOTE_ALL, lineterminator="\n")
out.writerows(rows)
PY
run 0 "$S" --offline update --from "file://$tmp/mirror/reworded/" --registry "$tmp/reworded" \
  && [ "$(grep -c "^descriptions differ for [0-9]* codes: the built-in registry's descriptions \
are the project's own words$" "$tmp/out")" = 1 ] \
  && grep -q "^descriptions differ for 81 codes" "$tmp/out" \
  && ! grep -q "description:" "$tmp/out" && ! grep -q "^changed " "$tmp/out" \
  && grep -q "0 added, 0 removed, 0 changed since the embedded registry" "$tmp/out" \
  && ok "from the built-in registry, description changes are one line" \
  || { bad "built-in descriptions"; sed 's/^/  | /' "$tmp/out" | head -20; }
run 0 "$S" --offline --json update --from "file://$tmp/mirror/later/" --registry "$tmp/reworded" \
  && python3 -c 'import json,sys; d = json.load(open(sys.argv[1]))
assert d["descriptions_differ"] == 0 and d["changed"] and len(d["fields"]) >= len(d["changed"])
desc = [f for f in d["fields"] if f["field"] == "description"]
assert len(desc) >= 81 and all(f["old"].startswith("Reworded: ") for f in desc)' "$tmp/out" \
  && ok "from another registry, description changes are listed, old and new" \
  || { bad "listed descriptions"; sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -20; }

# A FIFO in the installed set (reading it used to wait for a writer forever): the installed set
# does not load, so the diff is against the embedded registry, and the update goes on at once.
mkdir -p "$tmp/fifo/dir"
cp "$tmp/mirror/2017"/smtp-enhanced-status-codes-?.csv "$tmp/fifo/dir/"
rm "$tmp/fifo/dir/smtp-enhanced-status-codes-2.csv"
mkfifo "$tmp/fifo/dir/smtp-enhanced-status-codes-2.csv"
run 0 timeout 20 "$S" --offline update --from "$url/ok/later/" --registry "$tmp/fifo/dir" \
  && grep -q "smtp-enhanced-status-codes-2.csv: error: is a FIFO, not a regular file" "$tmp/err" \
  && grep -q "does not load" "$tmp/err" && same_set "$tmp/fifo/dir" "$tmp/mirror/later" \
  && ok "a FIFO in the installed set: said, and the update goes on" || bad "a FIFO in the installed set"

run 2 "$S" lookup 5.1.1 --from "$url/ok/later/" && grep -q "options of update, not of lookup" "$tmp/err" \
  && ok "--from outside update is a usage error" || bad "--from outside update"
run 2 "$S" update extra && ok "update takes no arguments" || bad "update extra"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
