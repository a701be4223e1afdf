#!/usr/bin/env bash
# After `cmake --install`, a program outside the tree builds against the library with
# pkg-config and with find_package(smtpstatus), and performs a lookup; an install outside /usr
# leaves out the systemd units, and one component (a Debian package's part) holds only its files.
set -uo pipefail
: "${BUILD_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if [ "$2" = "Bad destination mailbox address" ]; then pass=$((pass + 1)); echo "ok: $1";
          else fail=$((fail + 1)); echo "FAIL: $1: got '$2'"; fi; }

flags=()
[ "${SANITIZE:-OFF}" = ON ] && flags=(-fsanitize=address,undefined)
cmake --install "$BUILD_DIR" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; echo "0 passed, 1 failed"; exit 1; }
libdir=$(dirname "$(find "$tmp/prefix" -name 'libsmtpstatus.so' | head -1)")

# The build was configured for the default prefix, /usr/local: no systemd unit or sysusers.d
# entry (they name /usr/sbin and make a system user) is installed there.
system=$(find "$tmp/prefix" -path '*systemd*' -o -path '*sysusers*' | head -3)
if [ -z "$system" ] && [ -x "$tmp/prefix/bin/smtpstatus" ]; then pass=$((pass + 1)); echo "ok: no units or sysusers.d entry outside /usr"
else fail=$((fail + 1)); echo "FAIL: installed to $tmp/prefix: ${system:-no bin/smtpstatus}"; fi

# One component, as one Debian package takes it: the library's holds the library alone (and
# under share/ its copyright and changelog).
cmake --install "$BUILD_DIR" --prefix "$tmp/libonly" --component lib >/dev/null 2>&1
got=$(cd "$tmp/libonly" && find . -path ./share -prune -o \( -type f -o -type l \) -print | sed 's|.*/||' | sort | tr '\n' ' ')
if [ "$got" = "libsmtpstatus.so.0 libsmtpstatus.so.$(sed -n 's/^Version: //p' "$libdir/pkgconfig/smtpstatus.pc") " ]; then
  pass=$((pass + 1)); echo "ok: the lib component is the shared library and its soname link: $got"
else fail=$((fail + 1)); echo "FAIL: the lib component holds: $got"; fi

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -std=c11 "${flags[@]}" "$here/consumer/consumer.c" $(pkg-config --cflags --libs smtpstatus) \
  -o "$tmp/consumer-pc" 2>"$tmp/cc.log" || cat "$tmp/cc.log"
check "pkg-config build" "$(LD_LIBRARY_PATH=$libdir "$tmp/consumer-pc" 2>&1)"

CFLAGS="${flags[*]}" LDFLAGS="${flags[*]}" cmake -S "$here/consumer" -B "$tmp/cbuild" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cbuild" >>"$tmp/cmake.log" 2>&1 \
  || cat "$tmp/cmake.log"
check "find_package build" "$(LD_LIBRARY_PATH=$libdir "$tmp/cbuild/consumer" 2>&1)"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
