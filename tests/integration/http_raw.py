#!/usr/bin/env python3
"""Raw-socket clients of smtpstatusd's HTTP port, for what curl cannot do: pipelining several
requests in one write, a malformed request, a slowloris client, and the connection cap.

usage: http_raw.py pipeline|malformed|slowloris|cap HOST PORT [CHECK_URL]

Each mode prints what it saw and exits 0 when the daemon behaved, 1 otherwise.
"""
import json
import socket
import subprocess
import sys
import time

MODE, HOST, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])


def connect():
    s = socket.create_connection((HOST, PORT), timeout=10)
    return s


def read_response(s, buf, head=False):
    """Reads one response from s (with buf holding bytes already read). Returns
    (status, headers, body, rest_of_buf); status None when the peer closed first."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, b"", buf
        buf += chunk
    head_bytes, buf = buf.split(b"\r\n\r\n", 1)
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = 0 if head else int(headers["content-length"])
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return status, headers, buf[:n], buf[n:]


def closed(s, within):
    """Whether the peer closes s within `within` seconds (reading and dropping any bytes)."""
    s.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


failures = []


def check(what, cond):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


if MODE == "pipeline":
    # Five requests in one write, answered in order on one connection.
    s = connect()
    body = b"451 4.7.1 try again\r\n"
    reqs = (b"GET /v1/codes/5.1.1 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
            b"HEAD /v1/codes/X.7.1 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /no/such HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /v1/classify HTTP/1.1\r\nHost: t\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)
    s.sendall(reqs)
    buf = b""
    st1, h1, b1, buf = read_response(s, buf)
    st2, h2, b2, buf = read_response(s, buf)
    st3, h3, b3, buf = read_response(s, buf, head=True)
    st4, h4, b4, buf = read_response(s, buf)
    st5, h5, b5, buf = read_response(s, buf)
    check("pipelined 1: 200 for 5.1.1", st1 == 200 and json.loads(b1)["code"] == "5.1.1")
    check("pipelined 2: 200 from /healthz", st2 == 200 and json.loads(b2)["status"] == "ok")
    check("pipelined 3: HEAD has a Content-Length and no body",
          st3 == 200 and int(h3["content-length"]) > 100 and b3 == b"")
    check("pipelined 4: 404", st4 == 404 and json.loads(b4)["error"]["code"] == "not_found")
    c5 = json.loads(b5) if st5 == 200 else {}
    check("pipelined 5: classify 451 4.7.1 transient, retry",
          c5.get("kind") == "transient" and c5.get("retry") is True and c5.get("basic") == 451)
    check("pipelined: nothing more was sent", buf == b"")
    # The connection stays open for more.
    s.sendall(b"GET /v1/basic/550 HTTP/1.1\r\nHost: t\r\n\r\n")
    st6, _, b6, buf = read_response(s, b"")
    check("keep-alive: a sixth request on the same connection", st6 == 200
          and json.loads(b6)["basic"] == 550)
    # Connection: close is honoured after its answer.
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
              b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    st7, h7, _, buf = read_response(s, b"")
    check("Connection: close: answered, said so, and closed",
          st7 == 200 and h7.get("connection") == "close" and closed(s, 5) and buf == b"")

elif MODE == "malformed":
    s = connect()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nTHIS IS NOT HTTP\r\n\r\n")
    st1, _, _, buf = read_response(s, b"")
    st2, h2, b2, buf = read_response(s, buf)
    check("the request before the garbage is answered", st1 == 200)
    check("garbage gets a 400 with a JSON error and Connection: close",
          st2 == 400 and json.loads(b2)["error"]["status"] == 400
          and h2.get("connection") == "close")
    check("and the connection is closed", closed(s, 5))

elif MODE == "slowloris":
    # A client that sends its headers a byte at a time; the daemon runs with a 1 s header
    # timeout. Another client must be served meanwhile, and the slow one closed in time.
    url = sys.argv[4]
    s = connect()
    s.sendall(b"GET /v1/codes/5.1.1 HTTP/1.1\r\nHost: t\r\n")
    start = time.monotonic()
    served_meanwhile = False
    closed_at = None
    s.settimeout(0.2)
    data = b""
    for i in range(40):  # at most 8 s
        try:
            s.sendall(b"X")
        except OSError:
            closed_at = time.monotonic()
            break
        try:
            chunk = s.recv(65536)
            if not chunk:
                closed_at = time.monotonic()
                break
            data += chunk
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed_at = time.monotonic()
            break
        if i == 2:
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  "--max-time", "5", url], capture_output=True, text=True)
            served_meanwhile = out.stdout == "200"
    check("another client is served while the slow one dribbles", served_meanwhile)
    check("the slow client is closed by the header timeout (within 5 s)",
          closed_at is not None and closed_at - start < 5)
    check("the slow client got a 408 first", data.startswith(b"HTTP/1.1 408 "))

elif MODE == "cap":
    # The daemon runs with --max-connections 2: a third client gets 503 and a close, and the
    # first two are still served.
    a, b = connect(), connect()
    a.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    b.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    sa, _, _, _ = read_response(a, b"")
    sb, _, _, _ = read_response(b, b"")
    c = connect()
    sc, hc, bc, _ = read_response(c, b"")
    check("two clients under the cap are served", sa == 200 and sb == 200)
    check("a third client gets 503 and a close",
          sc == 503 and json.loads(bc)["error"]["code"] == "unavailable" and closed(c, 5))
    a.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    sa2, _, _, _ = read_response(a, b"")
    check("the first client is still served after the refusal", sa2 == 200)

else:
    print("unknown mode " + MODE)
    sys.exit(2)

sys.exit(1 if failures else 0)
