#!/usr/bin/env bash
# Python's smtplib (the system /usr/bin/python3) parses replies rendered by libsmtpstatus and
# sent over a real loopback socket by tests/integration/reply_responder.c.
set -euo pipefail
: "${BUILD_DIR:?}"
exec /usr/bin/python3 "$(dirname "$0")/smtplib_client.py" "$BUILD_DIR/tests/reply_responder"
