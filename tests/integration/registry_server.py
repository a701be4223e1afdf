#!/usr/bin/env python3
"""A registry mirror on loopback for the tests of `smtpstatus update`, able to misbehave.

usage: registry_server.py ROOT

Listens on 127.0.0.1 on a free port, prints "port N" (flushed), and serves
GET /MODE/SET/FILE from ROOT/SET/FILE. FILE smtp-enhanced-status-codes-3.csv (the codes table)
is served as MODE says, every other file normally:
  ok         the file, with its Content-Length
  error      HTTP 500 with a short HTML body
  truncated  a Content-Length of the whole file, half the bytes, and the connection closed
  cut        half the bytes and no Content-Length (the end of the body is the connection's end,
             so HTTP cannot tell the file is short: only its content can)
A missing file is a 404. Every request is logged on stderr.
"""
import http.server
import os
import sys

ROOT = None
CODES = "smtp-enhanced-status-codes-3.csv"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) != 4 or parts[0] != "" or ".." in parts or parts[1] not in (
                "ok", "error", "truncated", "cut"):
            return self.send_error(404)
        mode, path = parts[1], os.path.join(ROOT, parts[2], parts[3])
        if not os.path.isfile(path):
            return self.send_error(404)
        with open(path, "rb") as f:
            body = f.read()
        if parts[3] != CODES:
            mode = "ok"
        if mode == "error":
            return self.send_error(500, "the mirror is broken")
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        if mode in ("ok", "truncated"):
            self.send_header("Content-Length", str(len(body)))
        if mode != "ok":
            self.send_header("Connection", "close")
            self.close_connection = True
            body = body[: len(body) // 2]
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


def main():
    global ROOT
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ROOT = sys.argv[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
