#!/usr/bin/env bash
# Well-formed answers and what an administrator sees (observe_client.py says what it checks):
# the real daemon, the real smtpstatus CLI and curl, and Python code that Debian's protoc
# generates from proto/smtpstatus.proto, run with the system Python (/usr/bin/python3 and
# python3-protobuf, whose runtime rejects a string that is not UTF-8). ctest sets SMTPSTATUSD,
# PROJECT_DATA_DIR, SHARED_IANA_DIR and BUILD_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${PROJECT_DATA_DIR:?} ${SHARED_IANA_DIR:?} ${BUILD_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! protoc --python_out="$tmp" -I "$root/proto" "$root/proto/smtpstatus.proto"; then
  echo "FAIL: protoc cannot compile proto/smtpstatus.proto (Debian package protobuf-compiler)"
  echo "0 passed, 1 failed"
  exit 1
fi
/usr/bin/python3 "$root/tests/integration/observe_client.py" "$SMTPSTATUSD" "$tmp" \
  "$PROJECT_DATA_DIR" "$SHARED_IANA_DIR" "$BUILD_DIR"
