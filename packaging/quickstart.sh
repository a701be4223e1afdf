#!/usr/bin/env bash
# The README's two commands.
#   quickstart.sh start   install what is missing, build, and run smtpstatusd in the foreground
#                         on the embedded default registry (Ctrl-C stops it)
#   quickstart.sh test    install what is missing, build, and run every test
# Extra arguments after `start` go to smtpstatusd. BUILD_DIR overrides the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

if [ "${1:-}" = test ]; then
  bash packaging/install-deps.sh --test
else
  bash packaging/install-deps.sh
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"

case "${1:-}" in
start)
  shift
  exec "$build/smtpstatusd" --foreground "$@"
  ;;
test)
  ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
  ;;
*)
  echo "usage: $0 start|test" >&2
  exit 2
  ;;
esac
