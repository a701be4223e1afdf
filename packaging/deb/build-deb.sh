#!/usr/bin/env bash
# Builds the Debian package from this tree: a release build with Debian's hardening flags
# (dpkg-buildflags) in its own build directory, installed under /usr by CPack's DEB generator.
# Prints the path of the .deb on the last line. BUILD_DIR overrides the build directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build-deb}
export CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
export LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DSMTPSTATUS_TESTS=OFF -DSMTPSTATUS_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log"; exit 1; }
ls "$PWD/$build"/*.deb | tail -1
