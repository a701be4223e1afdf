#!/usr/bin/env bash
# Regressions of "one client must not stall or balloon the daemon" (issue 11): a heavy search
# must not hold up another client's lookup, clients that never read must not take the daemon's
# memory past --max-output-buffer and its reserve (and it must come back when they go) nor keep
# a client that reads from being answered at once, and a client that half-closes must get every
# answer. one_client.py says what it checks, with the system Python
# (/usr/bin/python3 and python3-protobuf). The connection cap's Error frame and the log line
# for running out of descriptors are checked in test_socket_api (socket_client.py).
# ctest sets SMTPSTATUSD, PROJECT_DATA_DIR and SHARED_IANA_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${PROJECT_DATA_DIR:?} ${SHARED_IANA_DIR:?}"
root=$(cd "$(dirname "$0")/../.." && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! protoc --python_out="$tmp" -I "$root/proto" "$root/proto/smtpstatus.proto"; then
  echo "FAIL: protoc (protobuf-compiler) cannot compile proto/smtpstatus.proto"
  echo "0 passed, 1 failed"
  exit 1
fi

/usr/bin/python3 "$root/tests/integration/one_client.py" "$SMTPSTATUSD" "$tmp" \
  "$PROJECT_DATA_DIR" "$SHARED_IANA_DIR"
