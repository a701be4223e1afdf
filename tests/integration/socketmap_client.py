#!/usr/bin/python3
"""Drives smtpstatusd's socketmap socket for test_socketmap_socket.sh: framing over a real socket
(two requests in one write, a request a byte at a time), the limits (over-long and malformed
netstrings get PERM and a close, the connection cap gets TEMP, an idle connection is closed),
and a client that pipelines without reading does not hold up another one.

Usage: socketmap_client.py SOCKET   (the daemon runs with --idle-timeout 1 --max-connections 4)
Prints "ok: ..." per check and exits 1 on the first failure.
"""
import socket
import sys
import time

PATH = sys.argv[1]


def ns(s):
    b = s.encode()
    return str(len(b)).encode() + b":" + b + b","


def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(PATH)
    return s


def read_answers(s, count):
    """Reads `count` netstrings; returns their payloads, or fewer when the server closes."""
    data, out = b"", []
    while len(out) < count:
        while True:
            if b":" in data:
                n = int(data.split(b":", 1)[0])
                head = len(str(n)) + 1
                if len(data) >= head + n + 1:
                    assert data[head + n:head + n + 1] == b",", data
                    out.append(data[head:head + n].decode())
                    data = data[head + n + 1:]
                    break
            chunk = s.recv(65536)
            if not chunk:
                return out
            data += chunk
    return out


def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def open_answered():
    """A connection whose request was answered: the server may not have seen earlier closes
    yet, and answers TEMP over the cap meanwhile, so this retries, bounded."""
    for _ in range(100):
        s = connect()
        s.sendall(ns(NOUSER))
        if read_answers(s, 1) == ["OK 5.1.1 " + NOUSER[13:]]:
            return s
        s.close()
        time.sleep(0.05)
    check(False, "a connection under the cap after the others closed")


SAID = "host mx[192.0.2.1] said: "
RATE = "status 5.7.1 " + SAID + "550 5.7.1 Too many messages from your IP, slow down"
NOUSER = "status 5.0.0 " + SAID + "550 No such user here"

s = connect()
s.sendall(ns(RATE) + ns(NOUSER))
a = read_answers(s, 2)
check(a == ["OK 4.7.1 " + RATE[13:], "OK 5.1.1 " + NOUSER[13:]],
      "two requests in one write get two answers in order: %r" % a)
for byte in ns(NOUSER):
    s.sendall(bytes([byte]))
check(read_answers(s, 1) == ["OK 5.1.1 " + NOUSER[13:]], "a request sent a byte at a time")
s.close()

s = connect()
s.sendall(b"10001:")
a = read_answers(s, 1)
check(len(a) == 1 and a[0].startswith("PERM ") and closed(s),
      "a netstring over 10000 bytes: PERM and a close (%r)" % a)

s = connect()
s.sendall(ns("status 5.0.0 x")[:-1] + b";")
a = read_answers(s, 1)
check(len(a) == 1 and a[0].startswith("PERM ") and closed(s), "a missing comma: PERM and a close")

s = connect()
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
a = read_answers(s, 1)
check(len(a) == 1 and a[0].startswith("PERM ") and closed(s), "not a netstring: PERM and a close")

# A client that pipelines thousands of requests and reads nothing, beside one that reads.
hog = connect()
hog.setblocking(False)
burst = ns(RATE) * 2000
sent = 0
try:
    while sent < len(burst):
        sent += hog.send(burst[sent:])
except BlockingIOError:
    pass
s = connect()
t0 = time.monotonic()
s.sendall(ns(NOUSER))
a = read_answers(s, 1)
check(a == ["OK 5.1.1 " + NOUSER[13:]] and time.monotonic() - t0 < 2,
      "a client that does not read (%d bytes sent) does not hold up another" % sent)
s.close()
hog.close()

# The cap: 4 connections; the fifth gets TEMP and a close.
held = [open_answered() for _ in range(4)]  # each one answered, so open and counted
extra = connect()
a = read_answers(extra, 1)
check(len(a) == 1 and a[0].startswith("TEMP ") and closed(extra),
      "over the connection cap: TEMP and a close (%r)" % a)
for h in held:
    h.close()

# Idle: closed after --idle-timeout 1 with no whole request (half a request does not count).
s = open_answered()
s.sendall(b"20:status")
t0 = time.monotonic()
check(closed(s) and time.monotonic() - t0 < 5, "a connection idle past the timeout is closed")
