#!/usr/bin/python3
"""A stand-in for the syslog daemon: reads datagrams on a Unix socket, as journald and rsyslog
read /dev/log, and appends each as one line to a file, flushed at once so that a test can wait
on it. test_syslog.sh binds the socket over /dev/log in a private mount namespace.

usage: syslog_listener.py SOCKET OUTPUT
"""
import os
import socket
import sys

if len(sys.argv) != 3:
    sys.exit(__doc__.split("\n\n")[-1].strip())
path, output = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(output, "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
