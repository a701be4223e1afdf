#!/usr/bin/env bash
# CI's check of the Debian packages, on the CI machine itself: builds the five .debs
# (build-deb.sh: smtpstatusd, smtpstatus, libsmtpstatus0, libsmtpstatus-dev, python3-smtpstatus),
# runs lintian (no errors or warnings not overridden with a reason), checks what each holds and
# their dependencies, installs the library and the Python module alone, then the command alone,
# then the rest, checks what got installed (the user, the installed smtpstatusd --check and
# smtpstatus --offline lookup 5.1.1, a daemon answering, the units accepted by systemd-analyze
# verify, man pages, completion), builds a program outside the tree against the installed
# library with pkg-config and with find_package(smtpstatus), installs the packages again and
# then release 2 of them (the upgrade path of the maintainer scripts), then purges them and
# checks that nothing is left: every file under /etc, /usr, /var/lib and /run is as it was
# before. Needs root and dpkg; skips, saying so, without them, or when one of these packages is
# installed already (it is not ours to remove). With --require (as .ci/run calls it) a skip is a
# failure: CI must not pass without the check.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }
require=0
[ "${1:-}" = --require ] && require=1
skip() {
  echo "skip: $*"
  echo "0 passed, 0 failed, 1 skipped"
  [ $require -eq 1 ] && { echo "FAIL: --require: the package check did not run"; exit 1; }
  exit 0
}

if [ "$(id -u)" -ne 0 ] || ! command -v dpkg >/dev/null || ! command -v cpack >/dev/null; then
  skip "the package check needs root, dpkg and cpack"
fi
packages=(smtpstatusd smtpstatus libsmtpstatus0 libsmtpstatus-dev python3-smtpstatus)
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
    skip "the package $p is installed already; not touching it"
  fi
done

# The purge removes these; a daemon running on /run/smtpstatusd is not ours to disturb, and
# anything else there is set aside for the check and put back after it.
ours=(/run/smtpstatusd /var/lib/smtpstatusd /etc/smtpstatusd)
if [ -e /run/smtpstatusd/smtpstatusd.lock ] && ! flock -n /run/smtpstatusd/smtpstatusd.lock true; then
  skip "a smtpstatusd is running on /run/smtpstatusd; not touching it"
fi
tmp=$(mktemp -d)
mkdir "$tmp/aside"
installed=0 daemon_pid=''
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
  [ $installed = 1 ] && dpkg --purge "${packages[@]}" >/dev/null 2>&1
  for d in "${ours[@]}"; do
    [ -e "$tmp/aside/${d//\//_}" ] && rm -rf "$d" && mv "$tmp/aside/${d//\//_}" "$d"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
for d in "${ours[@]}"; do
  if [ -e "$d" ]; then echo "note: setting $d aside until the check ends"; mv "$d" "$tmp/aside/${d//\//_}"; fi
done

bash packaging/deb/build-deb.sh >/dev/null 2>"$tmp/build.log"
debdir=$root/${BUILD_DIR:-build-deb}
declare -A deb
for p in "${packages[@]}"; do
  deb[$p]=$(ls "$debdir/${p}"_*-1_*.deb 2>/dev/null | tail -1)
  [ -f "${deb[$p]}" ] || { bad "no package $p was built"; cat "$tmp/build.log"; finish; }
done
ok "built ${packages[*]}"

if command -v lintian >/dev/null; then
  lintian "${deb[@]}" >"$tmp/lintian.log" 2>&1
  sed 's/^/  lintian: /' "$tmp/lintian.log" | grep -v 'running with root privileges'
  # Every tag the packages must carry is overridden with its reason (packaging/deb/*overrides).
  if grep -q '^[EW]:' "$tmp/lintian.log"; then bad "lintian reports errors or warnings"
  else ok "lintian: no errors, no warnings"; fi
else
  bad "lintian is not installed (bash packaging/install-deps.sh --test installs it)"
fi

# Each file in the package of what it belongs to.
expect() { # PACKAGE PATTERN...: each pattern matches a path in the package
  local p=$1 pat contents; shift
  contents=$(dpkg-deb -c "${deb[$p]}" | awk '{print $6}')
  for pat in "$@"; do grep -qE "^\./$pat\$" <<<"$contents" || { bad "$p lacks $pat"; return; }; done
  ok "$p holds $*"
}
lib='usr/lib/[a-z0-9_-]+'
expect smtpstatusd usr/sbin/smtpstatusd usr/sbin/smtpstatusd-update usr/share/man/man8/smtpstatusd.8.gz \
  usr/share/man/man8/smtpstatusd-update.8.gz usr/lib/systemd/system/smtpstatus-update.service \
  usr/lib/systemd/system/smtpstatusd.service usr/lib/systemd/system/smtpstatusd.socket \
  usr/lib/systemd/system/smtpstatus-update.timer usr/lib/sysusers.d/smtpstatusd.conf
expect smtpstatus usr/bin/smtpstatus usr/libexec/smtpstatus/smtpstatus-bounce \
  usr/share/man/man1/smtpstatus.1.gz usr/share/man/man7/smtpstatus-integrations.7.gz \
  usr/share/bash-completion/completions/smtpstatus
expect libsmtpstatus0 "$lib/libsmtpstatus\.so\.0" "$lib/libsmtpstatus\.so\.0\.[0-9.]+"
expect libsmtpstatus-dev usr/include/smtpstatus.h "$lib/libsmtpstatus\.so" "$lib/libsmtpstatus\.a" \
  "$lib/pkgconfig/smtpstatus\.pc" "$lib/cmake/smtpstatus/smtpstatusConfig\.cmake" \
  usr/share/smtpstatus/proto/smtpstatus.proto usr/share/man/man3/libsmtpstatus.3.gz
expect python3-smtpstatus usr/lib/python3/dist-packages/smtpstatus/__init__.py
# No file in two packages (dpkg would refuse the second), every package its copyright.
dup=$(for p in "${packages[@]}"; do dpkg-deb -c "${deb[$p]}" | awk '$1 !~ /^d/ {print $6}'; done | sort | uniq -d)
[ -z "$dup" ] && ok "no file is in two packages" || bad "files in two packages: $dup"
for p in "${packages[@]}"; do
  grep -q "\./usr/share/doc/$p/copyright$" <<<"$(dpkg-deb -c "${deb[$p]}")" || bad "$p has no copyright file"
done

# The dependencies between them: the development files and the Python module need this very
# build of the library; the library declares its soname for dpkg-shlibdeps.
version=$(dpkg-deb -f "${deb[libsmtpstatus0]}" Version)
for p in libsmtpstatus-dev python3-smtpstatus; do
  grep -qF "libsmtpstatus0 (= $version)" <<<"$(dpkg-deb -f "${deb[$p]}" Depends)" \
    && ok "$p depends on libsmtpstatus0 (= $version)" || bad "$p: Depends: $(dpkg-deb -f "${deb[$p]}" Depends)"
done
dpkg-deb -I "${deb[libsmtpstatus0]}" shlibs 2>/dev/null | grep -qx "libsmtpstatus 0 libsmtpstatus0 (= $version)" \
  && ok "libsmtpstatus0's shlibs names it" || bad "libsmtpstatus0's shlibs"
[ "$(dpkg-deb -f "${deb[python3-smtpstatus]}" Architecture)" = all ] && ok "python3-smtpstatus is Architecture: all" \
  || bad "python3-smtpstatus's architecture"
# The command links Vectorscan's runtime, jansson, protobuf-c and glibc statically, as a static
# PIE: it needs no shared library and no loader, keeps ASLR and Debian's hardening (RELRO, bind
# now), and names their sources, at the versions built with, in Built-Using, in build-deb.sh's
# order.
want_sbu=""
for p in libvectorscan-dev libjansson-dev libprotobuf-c-dev libc6-dev; do
  want_sbu+="$(dpkg-query -W -f='${source:Package} (= ${source:Version})' "$p"), "
done
want_sbu=${want_sbu%, }
got_sbu=$(dpkg-deb -f "${deb[smtpstatus]}" Built-Using)
[ "$got_sbu" = "$want_sbu" ] && ok "smtpstatus: Built-Using: $want_sbu" \
  || bad "smtpstatus: Built-Using: '$got_sbu', want '$want_sbu'"
dpkg-deb -x "${deb[smtpstatus]}" "$tmp/cli"
elf=$(readelf -hlWd "$tmp/cli/usr/bin/smtpstatus" 2>&1)
needed=$(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' <<<"$elf" | tr '\n' ' ')
if [ -z "$needed" ] && ! grep -q INTERP <<<"$elf" && grep -qE '^ *Type: +DYN' <<<"$elf" \
   && grep -q GNU_RELRO <<<"$elf" && grep -qE '\(FLAGS_1\).* NOW' <<<"$elf"; then
  ok "smtpstatus is a static PIE: no shared library, no loader, RELRO and bind now"
else
  bad "smtpstatus is not a hardened static PIE: needs '$needed'; $(grep -E 'Type:|INTERP|RELRO|FLAGS' <<<"$elf" | tr -s ' ' | tr '\n' ';')"
fi

# What is on the system before, to compare after the purge.
snapshot() { find /etc /usr /var/lib /run -xdev \( -path /var/lib/apt -o -path /var/lib/dpkg \
  -o -path /var/cache \) -prune -o -print 2>/dev/null | sort; }
snapshot >"$tmp/before"

# First the library and the Python module alone, then the command alone (it needs neither the
# library package nor the daemon): each works without the daemon's package.
if dpkg -i "${deb[libsmtpstatus0]}" "${deb[python3-smtpstatus]}" >"$tmp/install.log" 2>&1; then
  installed=1; ok "dpkg -i libsmtpstatus0 python3-smtpstatus"
else
  bad "dpkg -i libsmtpstatus0 python3-smtpstatus"; cat "$tmp/install.log"; finish
fi
out=$(/usr/bin/python3 -c 'import smtpstatus; print(smtpstatus.Client(offline=True).lookup("5.7.26").title)' 2>&1)
[ "$out" = "Multiple authentication checks failed" ] \
  && ok "the installed Python module answers offline with only libsmtpstatus0 beside it: $out" \
  || bad "installed python3-smtpstatus: $out"
if dpkg -i "${deb[smtpstatus]}" >>"$tmp/install.log" 2>&1; then
  out=$(/usr/bin/smtpstatus --offline lookup 5.1.1 2>&1 | head -1)
  [[ $out == "5.1.1  Bad destination mailbox address"* ]] \
    && ok "the smtpstatus package alone answers: $out" || bad "smtpstatus alone: $out"
  # update is the daemon package's smtpstatusd-update: without it, the command says so.
  out=$(/usr/bin/smtpstatus update 2>&1); rc=$?
  [ $rc -ne 0 ] && [[ $out == *"install the smtpstatusd package"* ]] \
    && ok "smtpstatus update without smtpstatusd: exit $rc, it names the package to install" \
    || bad "smtpstatus update without smtpstatusd: exit $rc: $out"
else bad "dpkg -i smtpstatus"; cat "$tmp/install.log"; fi
if dpkg -i "${deb[smtpstatusd]}" "${deb[libsmtpstatus-dev]}" >>"$tmp/install.log" 2>&1; then
  ok "dpkg -i smtpstatusd libsmtpstatus-dev"
else
  bad "dpkg -i smtpstatusd libsmtpstatus-dev"; cat "$tmp/install.log"; finish
fi
getent passwd smtpstatusd >/dev/null && ok "the user smtpstatusd exists" || bad "no user smtpstatusd"

if /usr/sbin/smtpstatusd --check >"$tmp/out" 2>&1 && grep -q 'the embedded registry is usable: 3 classes, 8 subjects, 81 codes' "$tmp/out"; then
  ok "installed smtpstatusd --check: $(cat "$tmp/out")"
else bad "installed smtpstatusd --check"; cat "$tmp/out"; fi
out=$(/usr/bin/smtpstatus --offline lookup 5.1.1 2>&1 | head -1)
[[ $out == "5.1.1  Bad destination mailbox address"* ]] && ok "installed smtpstatus --offline lookup 5.1.1: $out" \
  || bad "installed smtpstatus --offline lookup 5.1.1: $out"

# The installed daemon as its unit runs it (its user; it detaches once ready), in a temp run dir.
mkdir -p "$tmp/run" "$tmp/state" && chown smtpstatusd: "$tmp/run" "$tmp/state" && chmod 755 "$tmp"
if runuser -u smtpstatusd -- /usr/sbin/smtpstatusd --rundir "$tmp/run" --statedir "$tmp/state" 2>"$tmp/daemon.log"; then
  daemon_pid=$(cat "$tmp/run/smtpstatusd.lock")
  out=$(/usr/bin/smtpstatus --rundir "$tmp/run" lookup 5.7.26 2>&1 | head -1)
  [[ $out == "5.7.26  Multiple authentication checks failed"* ]] \
    && ok "the installed daemon, run as smtpstatusd, answers: $out" || bad "daemon lookup: $out"
  kill "$daemon_pid"; daemon_pid=''
else
  bad "the installed daemon does not start as smtpstatusd"; cat "$tmp/daemon.log"
fi

if command -v systemd-analyze >/dev/null; then
  units=(/usr/lib/systemd/system/smtpstatusd.service /usr/lib/systemd/system/smtpstatusd.socket
         /usr/lib/systemd/system/smtpstatus-update.service /usr/lib/systemd/system/smtpstatus-update.timer)
  if systemd-analyze verify "${units[@]}" >"$tmp/verify.log" 2>&1 && [ ! -s "$tmp/verify.log" ]; then
    ok "systemd-analyze verify accepts the installed units"
  else bad "systemd-analyze verify"; cat "$tmp/verify.log"; fi
  systemd-analyze security --offline=true --no-pager /usr/lib/systemd/system/smtpstatusd.service 2>&1 \
    | sed -n 's/^→ /exposure: /p'
  [ -L /etc/systemd/system/sockets.target.wants/smtpstatusd.socket ] && ok "smtpstatusd.socket is enabled" \
    || bad "smtpstatusd.socket is not enabled"
  [ ! -e /etc/systemd/system/timers.target.wants/smtpstatus-update.timer ] && ok "the update timer is shipped disabled" \
    || bad "the update timer is enabled"
fi
if command -v man >/dev/null; then
  for p in 8/smtpstatusd 1/smtpstatus 3/libsmtpstatus; do
    man -w "${p#*/}" 2>/dev/null | grep -q "man${p%/*}/${p#*/}" || bad "man ${p#*/} is not found"
  done
  ok "man finds smtpstatusd(8), smtpstatus(1), libsmtpstatus(3)"
fi
bash -c '_init_completion() { :; }; source /usr/share/bash-completion/completions/smtpstatus && complete -p smtpstatus' \
  >/dev/null 2>&1 && ok "the bash completion loads" || bad "the bash completion does not load"

# A program outside the tree, against the installed library only.
here=$root/tests/integration/consumer
if cc -std=c11 "$here/consumer.c" $(pkg-config --cflags --libs smtpstatus) -o "$tmp/consumer-pc" 2>"$tmp/cc.log" \
   && [ "$("$tmp/consumer-pc")" = "Bad destination mailbox address" ]; then
  ok "consumer built with pkg-config against the installed library"
else bad "pkg-config consumer"; cat "$tmp/cc.log"; fi
if cmake -S "$here" -B "$tmp/cbuild" >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cbuild" >>"$tmp/cmake.log" 2>&1 \
   && [ "$("$tmp/cbuild/consumer")" = "Bad destination mailbox address" ]; then
  ok "consumer built with find_package(smtpstatus) against the installed library"
else bad "find_package consumer"; cat "$tmp/cmake.log"; fi

# The installed `smtpstatus update` into its default /etc/smtpstatusd/registry, twice (from a
# local mirror: a copy of data/, then one without X.7.30), so that registry.prev exists too: the
# purge must remove both, and what the daemon keeps in /var/lib/smtpstatusd.
mkdir -p "$tmp/mirror1" "$tmp/mirror2" /var/lib/smtpstatusd
cp data/smtp-enhanced-status-codes-?.csv "$tmp/mirror1/"
cp data/smtp-enhanced-status-codes-?.csv "$tmp/mirror2/"
grep -v '^"\?X\.7\.30' data/smtp-enhanced-status-codes-3.csv >"$tmp/mirror2/smtp-enhanced-status-codes-3.csv"
if /usr/bin/smtpstatus --offline update --from "file://$tmp/mirror1/" >"$tmp/update.log" 2>&1 \
   && /usr/bin/smtpstatus --offline update --allow-removals --from "file://$tmp/mirror2/" >>"$tmp/update.log" 2>&1 \
   && grep -q '^removed  X.7.30' "$tmp/update.log" && [ -d /etc/smtpstatusd/registry.prev ] \
   && /usr/sbin/smtpstatusd --check --registry /etc/smtpstatusd/registry >/dev/null 2>&1; then
  ok "the installed smtpstatus update installs into /etc/smtpstatusd/registry, keeping registry.prev"
else
  bad "installed smtpstatus update"; sed 's/^/  | /' "$tmp/update.log"
fi

dpkg -i "${deb[@]}" >"$tmp/upgrade.log" 2>&1 && ok "dpkg -i again (reinstall)" || { bad "reinstall"; cat "$tmp/upgrade.log"; }
# An upgrade to a newer release of the same build: cpack again with release 2, all five at once
# (the exact dependencies on the library must name release 2).
(cd "$debdir" && cpack -G DEB -D CPACK_DEBIAN_PACKAGE_RELEASE=2 >"$tmp/cpack2.log" 2>&1)
deb2=("$debdir"/*_*-2_*.deb)
if [ ${#deb2[@]} -eq ${#packages[@]} ] && dpkg -i "${deb2[@]}" >"$tmp/upgrade.log" 2>&1 \
   && [ "$(dpkg-query -W -f='${Version}' python3-smtpstatus)" = "${version%-1}-2" ] \
   && [ "$(dpkg-query -W -f='${Version}' smtpstatusd)" = "${version%-1}-2" ] \
   && [ -L /etc/systemd/system/sockets.target.wants/smtpstatusd.socket ] && [ -d /etc/smtpstatusd/registry ]; then
  ok "dpkg -i of release 2: upgraded, the socket still enabled, the registry kept"
else
  bad "upgrade to release 2"; cat "$tmp/cpack2.log" "$tmp/upgrade.log" 2>/dev/null | tail -20
fi
rm -f "$debdir"/*_*-2_*.deb
if dpkg --purge "${packages[@]}" >"$tmp/purge.log" 2>&1; then
  installed=0; ok "dpkg --purge"
else bad "dpkg --purge"; cat "$tmp/purge.log"; fi
snapshot >"$tmp/after"
if diff "$tmp/before" "$tmp/after" >"$tmp/left.log"; then
  ok "nothing is left behind under /etc, /usr, /var/lib and /run"
else
  bad "the purge left or took files:"; sed 's/^/  | /' "$tmp/left.log"
fi
finish
