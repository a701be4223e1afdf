#!/usr/bin/env bash
# Integration test of who may reload, and what (issue 11, "reload is for administrators only, on
# every surface"), against the real smtpstatusd with the real smtpstatus CLI (the socket API)
# and real curl (the HTTP port on loopback TCP and on its Unix socket), clients running as
# other users through setpriv:
#   - a local user on loopback TCP may not reload, naming a directory or not, and nothing
#     changes or is saved; root may (the kernel's socket diagnostics say who the client is);
#   - on the Unix HTTP socket root may and another user may not;
#   - a directory a client names is read only when root, the daemon's user or the asker owns
#     it and its files and nobody else may write them, even when root asks, on every surface;
#     the configured --registry directory loads whoever owns it;
#   - admin-group membership is the peer's credentials now, not the group file at start-up;
#   - a FIFO, a symbolic link or a device in place of a CSV fails the reload at once, the next
#     reload works, and SIGTERM stops the daemon at once; --check on a FIFO fails at once;
#   - a field over the limit is refused with file:line:col and the old generation stays.
# Needs root (setpriv to other users, groupadd); skips otherwise. ctest sets SMTPSTATUSD,
# BUILD_DIR and PROJECT_DATA_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?} ${PROJECT_DATA_DIR:?}"
S=$BUILD_DIR/smtpstatus
J=(-H 'Content-Type: application/json')
USER_UID=40301   # a local user, no administrator
MEMBER_UID=40302 # a user who is given the admin group

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! command -v groupadd >/dev/null; then
  echo "SKIP: needs root, setpriv and groupadd to run clients as other users"
  echo "0 passed, 0 failed"
  exit 0
fi

tmp=$(mktemp -d)
chmod 0755 "$tmp" # other users must reach the sockets
pids=()
group=
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$group" ] && groupdel "$group" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# An admin group made for this test, with a gid of the test range that is free.
for gid in $(seq 40310 40399); do
  getent group "$gid" >/dev/null && continue
  if groupadd -g "$gid" "sst-reload-$$-$gid" 2>/dev/null; then
    group=sst-reload-$$-$gid
    break
  fi
done
[ -n "$group" ] || { bad "cannot create an admin group"; echo "$pass passed, $fail failed"; exit 1; }
admin_gid=$gid

# Registries the test writes: the project's data (root's, mode 0644), and copies that differ.
set_of() { # set_of DIR: a copy of the project's data
  mkdir -p "$1" && cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-?.csv "$1/"
}
set_of "$tmp/reg"
set_of "$tmp/less"
grep -v '^"X\.7\.30",' "$PROJECT_DATA_DIR/smtp-enhanced-status-codes-3.csv" \
  >"$tmp/less/smtp-enhanced-status-codes-3.csv"
set_of "$tmp/users"; chown -R "$USER_UID:$USER_UID" "$tmp/users"       # a user's directory
set_of "$tmp/members"; chown -R "$MEMBER_UID:$MEMBER_UID" "$tmp/members"
set_of "$tmp/groupw"; chmod g+w "$tmp/groupw/smtp-enhanced-status-codes-2.csv"
set_of "$tmp/worldw"; chmod 1777 "$tmp/worldw"
set_of "$tmp/fifo"; rm "$tmp/fifo/smtp-enhanced-status-codes-2.csv"
mkfifo "$tmp/fifo/smtp-enhanced-status-codes-2.csv"
set_of "$tmp/symlink"; rm "$tmp/symlink/smtp-enhanced-status-codes-3.csv"
ln -s "$tmp/less/smtp-enhanced-status-codes-3.csv" "$tmp/symlink/smtp-enhanced-status-codes-3.csv"
set_of "$tmp/device"; rm "$tmp/device/smtp-enhanced-status-codes-1.csv"
mknod "$tmp/device/smtp-enhanced-status-codes-1.csv" c 1 5 2>/dev/null ||
  ln -s /dev/zero "$tmp/device/smtp-enhanced-status-codes-1.csv"
set_of "$tmp/dirlink.target"; ln -s "$tmp/dirlink.target" "$tmp/dirlink"
# A description of 5000 bytes on the row of X.1.1 (line 4 of the codes table).
set_of "$tmp/long"
long=$(head -c 5000 /dev/zero | tr '\0' 'a')
sed -i "4s/^\"X\\.1\\.1\",\"Bad destination mailbox address\",\"451, 550\",\"[^\"]*\"/\"X.1.1\",\"Bad destination mailbox address\",\"451, 550\",\"$long\"/" \
  "$tmp/long/smtp-enhanced-status-codes-3.csv"
long_col=$(($(printf '"X.1.1","Bad destination mailbox address","451, 550",' | wc -c) + 1))

# The daemon: detached (the command returns once it is ready), the configured registry
# $tmp/reg, HTTP on a free loopback port and on the Unix socket, reload over HTTP enabled.
mkdir -p "$tmp/d"
"$SMTPSTATUSD" --rundir "$tmp/d/run" --statedir "$tmp/d/state" --registry "$tmp/reg" \
  --admin-group "$group" --http 127.0.0.1:0 --http-unix --http-admin --log-target stderr \
  2>"$tmp/d.log" </dev/null
rc=$?
if [ $rc != 0 ]; then
  bad "the daemon did not start ($rc)"; sed 's/^/  | /' "$tmp/d.log"
  echo "$pass passed, $fail failed"; exit 1
fi
pid=$(cat "$tmp/d/run/smtpstatusd.lock")
pids+=("$pid")
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/d.log" | head -n 1)
B=http://127.0.0.1:$port
U=$tmp/d/run/smtpstatusd-http.sock
chmod 0755 "$tmp/d" "$tmp/d/run"
export SMTPSTATUS_RUNDIR=$tmp/d/run

# generation: what the daemon serves now, from the daemon itself.
generation() {
  curl -s --max-time 10 "$B/healthz" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["generation"])'
}
# saved: the set saved in the state directory ("" before any reload).
saved() { readlink "$tmp/d/state/registry" 2>/dev/null; }

# who [as UID [GROUPS]] -- ...: sets $as to the setpriv command that runs as UID (with the
# supplementary GROUPS, else none; nothing without "as"), and $who_n to the words to shift.
who() {
  as=()
  who_n=1
  if [ "$1" = as ]; then
    as=(setpriv --reuid="$2" --regid="$2")
    if [ "$3" != -- ]; then as+=(--groups="$3"); who_n=4; else as+=(--clear-groups); who_n=3; fi
  fi
}

# post WANT_STATUS WANT_TEXT [as UID [GROUPS]] -- CURL_ARGS...: POST /v1/reload with curl (as
# UID when given), at most 10 s; passes when the status is WANT_STATUS and the body holds
# WANT_TEXT. The body is in $tmp/body.
post() {
  local want=$1 text=$2
  shift 2
  who "$@"
  shift "$who_n"
  local out code
  # (The answer comes through this shell: another user may not write in $tmp.)
  out=$("${as[@]}" curl -s -w '\n%{http_code}' --max-time 10 "${J[@]}" -X POST "$@")
  code=${out##*$'\n'}
  printf '%s' "${out%$'\n'*}" >"$tmp/body"
  if [ "$code" = "$want" ] && grep -qF -- "$text" "$tmp/body"; then
    return 0
  fi
  echo "  status $code, want $want with \"$text\""; sed 's/^/  | /' "$tmp/body"; echo
  return 1
}
# cli WANT_RC WANT_TEXT [as UID [GROUPS]] -- ARGS...: smtpstatus ARGS (at most 10 s); passes when
# it exits WANT_RC and its output holds WANT_TEXT.
cli() {
  local want=$1 text=$2
  shift 2
  who "$@"
  shift "$who_n"
  timeout 10 "${as[@]}" "$S" "$@" >"$tmp/out" 2>&1 </dev/null
  local rc=$?
  if [ $rc = "$want" ] && grep -qF -- "$text" "$tmp/out"; then
    return 0
  fi
  echo "  exit $rc, want $want with \"$text\""; sed 's/^/  | /' "$tmp/out"
  return 1
}

g0=$(generation)
[ "$g0" = 1 ] && ok "the daemon serves generation 1" || bad "generation at start: $g0"

# ---- loopback TCP is not an identity ------------------------------------------------------
post 403 "uid $USER_UID is neither" as $USER_UID -- --data "{\"directory\": \"$tmp/users\"}" "$B/v1/reload" &&
  ok "TCP: uid $USER_UID naming its own directory: 403" || bad "TCP: uid $USER_UID naming a directory"
post 403 "uid $USER_UID is neither" as $USER_UID -- "$B/v1/reload" &&
  ok "TCP: uid $USER_UID reloading the configured directory: 403" || bad "TCP: uid $USER_UID, no directory"
post 403 "members of the admin group reload over the Unix sockets" as $MEMBER_UID $admin_gid -- "$B/v1/reload" &&
  ok "TCP: an admin-group member is sent to the Unix sockets: 403" || bad "TCP: admin-group member"
[ "$(generation)" = 1 ] && [ -z "$(saved)" ] &&
  ok "the refused TCP reloads changed nothing and saved nothing" ||
  bad "refused TCP reloads: generation $(generation), saved '$(saved)'"
post 200 '"generation":2' -- "$B/v1/reload" && ok "TCP: root reloads the configured directory" ||
  bad "TCP: root"
post 200 '"removed":["X.7.30"]' -- --data "{\"directory\": \"$tmp/less\"}" "$B/v1/reload" &&
  ok "TCP: root reloads a directory of root's" || bad "TCP: root, a directory of root's"
[ -n "$(saved)" ] && ok "root's reload was saved" || bad "root's reload was not saved"

# ---- the Unix HTTP socket --------------------------------------------------------------------
post 200 '"generation":4' -- --unix-socket "$U" http://localhost/v1/reload &&
  ok "Unix HTTP socket: root reloads" || bad "Unix HTTP socket: root"
post 403 "uid $USER_UID is none" as $USER_UID -- --unix-socket "$U" http://localhost/v1/reload &&
  ok "Unix HTTP socket: uid $USER_UID is refused" || bad "Unix HTTP socket: uid $USER_UID"

# ---- a named directory must be one an administrator wrote, even when root asks --------------
g=$(generation); s=$(saved)
for d in users groupw worldw dirlink; do
  case $d in
    users) why="is owned by uid $USER_UID" ;;
    groupw) why="is writable by its group" ;;
    worldw) why="is writable by others" ;;
    dirlink) why="is a symbolic link" ;;
  esac
  # (smtpstatus reload resolves a symbolic link itself: the daemon never sees one from it.)
  if [ $d != dirlink ]; then
    cli 1 "$why" -- reload "$tmp/$d" && ok "socket API: root naming $d is refused ($why)" ||
      bad "socket API: root naming $d"
  fi
  post 422 "$why" -- --data "{\"directory\": \"$tmp/$d\"}" "$B/v1/reload" &&
    ok "HTTP over TCP: root naming $d: 422" || bad "HTTP over TCP: root naming $d"
  post 422 "$why" -- --unix-socket "$U" --data "{\"directory\": \"$tmp/$d\"}" http://localhost/v1/reload &&
    ok "Unix HTTP socket: root naming $d: 422" || bad "Unix HTTP socket: root naming $d"
done
[ "$(generation)" = "$g" ] && [ "$(saved)" = "$s" ] &&
  ok "the refused directories changed nothing and saved nothing" ||
  bad "refused directories: generation $(generation) (was $g), saved '$(saved)' (was '$s')"
# The configured directory is the administrator's choice: it loads however it is owned, by
# its own name or none.
chmod g+w "$tmp/reg/smtp-enhanced-status-codes-2.csv"
cli 0 "reloaded: generation $((g + 1)) from $tmp/reg" -- reload "$tmp/reg" &&
  ok "socket API: the configured directory, named, loads though group-writable" ||
  bad "socket API: the configured directory, named"
cli 0 "reloaded: generation $((g + 2)) from $tmp/reg" -- reload &&
  ok "socket API: the configured directory loads though group-writable" ||
  bad "socket API: the configured directory"

# ---- admin-group membership is the peer's, at each connection --------------------------------
# The group had no members when the daemon started; a user given it now may reload, the same
# user without it may not.
g=$(generation)
cli 0 "reloaded: generation $((g + 1))" as $MEMBER_UID $admin_gid -- reload &&
  ok "socket API: uid $MEMBER_UID with the admin group (given after start) reloads" ||
  bad "socket API: uid $MEMBER_UID with the admin group"
cli 0 "reloaded: generation $((g + 2)) from $tmp/members" as $MEMBER_UID $admin_gid -- reload "$tmp/members" &&
  ok "socket API: a member reloads a directory the member owns" ||
  bad "socket API: a member naming its own directory"
cli 1 "is owned by uid $USER_UID" as $MEMBER_UID $admin_gid -- reload "$tmp/users" &&
  ok "socket API: a member may not name another user's directory" ||
  bad "socket API: a member naming another user's directory"
post 200 "\"generation\":$((g + 3))" as $MEMBER_UID $admin_gid -- --unix-socket "$U" http://localhost/v1/reload &&
  ok "Unix HTTP socket: uid $MEMBER_UID with the admin group reloads" ||
  bad "Unix HTTP socket: uid $MEMBER_UID with the admin group"
cli 1 "uid $MEMBER_UID" as $MEMBER_UID -- reload &&
  ok "socket API: uid $MEMBER_UID without the admin group (taken away) is refused" ||
  bad "socket API: uid $MEMBER_UID without the group"
post 403 "uid $MEMBER_UID is none" as $MEMBER_UID -- --unix-socket "$U" http://localhost/v1/reload &&
  ok "Unix HTTP socket: uid $MEMBER_UID without the admin group is refused" ||
  bad "Unix HTTP socket: uid $MEMBER_UID without the group"

# ---- a FIFO, a symbolic link, a device: refused at once ---------------------------------------
g=$(generation)
cli 1 "is a FIFO, not a regular file" -- reload "$tmp/fifo" &&
  ok "socket API: a FIFO in the directory fails the reload at once" || bad "socket API: FIFO"
post 422 "is a FIFO, not a regular file" -- --data "{\"directory\": \"$tmp/fifo\"}" "$B/v1/reload" &&
  ok "HTTP: a FIFO in the directory fails the reload at once" || bad "HTTP: FIFO"
cli 1 "is a symbolic link, not a regular file" -- reload "$tmp/symlink" &&
  ok "socket API: a symbolic link in place of a CSV is refused" || bad "socket API: symlink"
post 422 "is a device, not a regular file" -- --data "{\"directory\": \"$tmp/device\"}" "$B/v1/reload" ||
  post 422 "is a symbolic link, not a regular file" -- --data "{\"directory\": \"$tmp/device\"}" "$B/v1/reload"
[ $? = 0 ] && ok "HTTP: a device in place of a CSV is refused" || bad "HTTP: device"
[ "$(generation)" = "$g" ] && ok "the refused reloads left generation $g" || bad "generation after refusals: $(generation)"
cli 0 "reloaded: generation $((g + 1)) from $tmp/less" -- reload "$tmp/less" &&
  ok "the next reload of a good directory works (no thread is stuck)" ||
  bad "the reload after the FIFO"

# ---- a field over the limit ------------------------------------------------------------------
g=$(generation)
post 422 "smtp-enhanced-status-codes-3.csv:4:$long_col: error: field is 5000 bytes" -- \
  --data "{\"directory\": \"$tmp/long\"}" "$B/v1/reload" &&
  ok "a 5000-byte description is refused with file:line:col" || bad "a 5000-byte description"
[ "$(generation)" = "$g" ] && ok "the old generation stays" || bad "generation after the long field: $(generation)"
timeout 10 "$SMTPSTATUSD" --check --registry "$tmp/long" >"$tmp/out" 2>&1
[ $? = 1 ] && grep -qF "smtp-enhanced-status-codes-3.csv:4:$long_col: error: field is 5000 bytes" "$tmp/out" &&
  ok "--check refuses the long field with file:line:col" || { bad "--check on the long field"; sed 's/^/  | /' "$tmp/out"; }

# ---- --check on a FIFO; SIGTERM after all of it ----------------------------------------------
timeout 10 "$SMTPSTATUSD" --check --registry "$tmp/fifo" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "is a FIFO, not a regular file" "$tmp/out" &&
  ok "--check on a directory with a FIFO fails at once" || { bad "--check on a FIFO: exit $rc"; sed 's/^/  | /' "$tmp/out"; }

kill -TERM "$pid"
deadline=$((SECONDS + 10))
while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
  bad "SIGTERM did not stop the daemon within 10 s"
else
  grep -q "stopped" "$tmp/d.log" && ok "SIGTERM stops the daemon at once" || bad "the daemon did not say it stopped"
fi
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/d.log"; then
  bad "sanitizer report in the daemon's log"; sed 's/^/  | /' "$tmp/d.log"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
