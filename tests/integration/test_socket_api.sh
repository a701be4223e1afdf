#!/usr/bin/env bash
# A foreign client of the socket API: Python code that Debian's protoc generates from
# proto/smtpstatus.proto drives the real daemon through its Unix socket (socket_client.py says
# what it checks). It runs with the system Python (/usr/bin/python3 and python3-protobuf), not
# whatever python3 comes first on PATH. ctest sets SMTPSTATUSD, PROJECT_DATA_DIR and
# SHARED_IANA_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${PROJECT_DATA_DIR:?} ${SHARED_IANA_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v protoc >/dev/null; then
  echo "FAIL: protoc is missing (Debian package protobuf-compiler)"
  echo "0 passed, 1 failed"
  exit 1
fi
if ! protoc --python_out="$tmp" -I "$root/proto" "$root/proto/smtpstatus.proto"; then
  echo "FAIL: protoc cannot compile proto/smtpstatus.proto"
  echo "0 passed, 1 failed"
  exit 1
fi

# Not exec: the trap must still remove $tmp.
/usr/bin/python3 "$root/tests/integration/socket_client.py" "$SMTPSTATUSD" "$tmp" \
  "$PROJECT_DATA_DIR" "$SHARED_IANA_DIR"
