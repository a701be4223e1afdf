#!/usr/bin/env bash
# The C program in README.md (its first C block) compiles against the library as built and prints what its
# comments say, so the README cannot drift from the API.
set -euo pipefail
: "${BUILD_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The first C block is the complete program; later ones are fragments.
awk '/^```c$/ && !done {on = 1; next} /^```$/ && on {on = 0; done = 1} on' "$root/README.md" \
  >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "FAIL: no C example in README.md"; exit 1; }
flags=()
[ "${SANITIZE:-OFF}" = ON ] && flags=(-fsanitize=address,undefined)
cc -std=c11 -Wall -Wextra -Werror "${flags[@]}" -I "$root/client/include" "$tmp/example.c" \
  "$BUILD_DIR/libsmtpstatus.a" $(pkg-config --libs libprotobuf-c) -lhs_runtime -lpthread -o "$tmp/example"
"$tmp/example" >"$tmp/out"

expected=$'Security or Policy Status: Multiple authentication checks failed (registered)\n452-4.2.2 Mailbox full, try\r\n452 4.2.2 again later\r\ntransient, retry=1 after 300 s\nbad-mailbox, stop sending=1'
if [ "$(cat "$tmp/out")" = "$expected" ]; then
  echo "1 passed, 0 failed"
else
  echo "FAIL: the README example printed:"; cat -A "$tmp/out"
  echo "0 passed, 1 failed"
  exit 1
fi
