#!/usr/bin/python3
"""A small SMTP server for test_postfix_filter.sh: Postfix relays to it, and it answers each
RCPT TO with a reply chosen by the recipient's local part (up to its first '-'), so that the
test decides what the "remote" server says. Messages to other recipients are accepted.

Usage: smtp_sink.py PORT_FILE
Listens on 127.0.0.1 on a free port and writes the port to PORT_FILE (by a rename, so that a
reader never sees half of it) once it accepts connections. Runs until killed.
"""
import os
import socketserver
import sys

# local part -> the reply to RCPT TO
REPLIES = {
    "ratelimit": "550 5.7.1 Too many messages from your IP, slow down",
    "unknown": "550 5.1.1 User unknown",
    "nouser": "550 No such user here",
}


class Session(socketserver.StreamRequestHandler):
    timeout = 60

    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.send("220 sink.test ESMTP test sink")
        in_data = False
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("latin-1").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    self.send("250 2.0.0 Ok: queued")
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.send("250-sink.test")
                self.send("250 8BITMIME")
            elif verb == "MAIL":
                self.send("250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = line.split(":", 1)[1].strip().strip("<>") if ":" in line else ""
                local = addr.split("@", 1)[0].split("-", 1)[0].lower()
                self.send(REPLIES.get(local, "250 2.1.5 Ok"))
            elif verb == "DATA":
                in_data = True
                self.send("354 End data with <CR><LF>.<CR><LF>")
            elif verb == "RSET" or verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Error: command not recognized")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    port_file = sys.argv[1]
    srv = Server(("127.0.0.1", 0), Session)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
