#!/usr/bin/env bash
# Builds the Debian packages from this tree: a release build with Debian's hardening flags
# (dpkg-buildflags) in its own build directory, installed under /usr by CPack's DEB generator,
# one package per install component (packaging/packaging.cmake). Prints the paths of the .debs.
# BUILD_DIR overrides the build directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build-deb}
# hardening=+all adds bindnow (-z now) and PIE to Debian 12's default flags, as lintian suggests.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
export CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
export LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
# Given on the command line too, as the environment counts only when the build dir is new.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" \
  -DSMTPSTATUS_TESTS=OFF -DSMTPSTATUS_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log"; exit 1; }

# The command links Vectorscan's runtime, jansson and protobuf-c statically where their archives
# are installed, and glibc too where it then links as a static PIE (CMakeLists.txt). Its package
# names the source packages they came from, at the versions built with, in Built-Using (Debian
# Policy 7.8, whose example is this: static libraries incorporated at build time), so that what
# it was built from can be traced and it can be rebuilt when one of them is fixed. (Policy
# 4.6.2's Static-Built-Using says the latter alone, but Debian 12's lintian warns about it as an
# unknown field.) CPack's DEB generator knows neither: the field is added to the built package
# here. check-deb.sh lists the same packages in the same order.
needed=$(readelf -d "$build/smtpstatus")
static_from=""
for pair in libhs_runtime:libvectorscan-dev libjansson:libjansson-dev libprotobuf-c:libprotobuf-c-dev \
            libc:libc6-dev; do
  if ! grep -q "(NEEDED).*\[${pair%%:*}\.so" <<<"$needed"; then
    static_from+="$(dpkg-query -W -f='${source:Package} (= ${source:Version})' "${pair#*:}"), "
  fi
done
if [ -n "$static_from" ]; then
  cli_debs=("$build"/smtpstatus_*.deb)
  [ ${#cli_debs[@]} -eq 1 ] && [ -f "${cli_debs[0]}" ] || { echo "build-deb: no single smtpstatus .deb" >&2; exit 1; }
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' EXIT
  dpkg-deb -R "${cli_debs[0]}" "$unpacked/root"
  control=$(cat "$unpacked/root/DEBIAN/control")   # without its last blank line: one stanza
  printf '%s\nBuilt-Using: %s\n' "$control" "${static_from%, }" >"$unpacked/root/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$unpacked/root" "${cli_debs[0]}" >/dev/null
fi
ls "$PWD/$build"/*.deb
