#!/usr/bin/env python3
"""Raw-socket clients of smtpstatusd's HTTP port, for what curl cannot do: pipelining several
requests in one write, a malformed request, a slowloris client, the connection cap, a client
that half-closes, Upgrade and CONNECT, a client that never reads its answers, an idle client,
and HTTP/1.0 keep-alive.

usage: http_raw.py pipeline|malformed|cap|upgrade|idle|http10 HOST PORT
       http_raw.py slowloris HOST PORT CHECK_URL
       http_raw.py halfclose HOST PORT [UNIX_SOCKET]
       http_raw.py neverread HOST PORT DAEMON_PID IDLE_SECS

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
    (status, headers, body, rest_of_buf); status None when the peer closed first. With s None,
    parses only what buf holds."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536) if s is not None else b""
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
        chunk = s.recv(65536) if s is not None else b""
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

elif MODE == "halfclose":
    # 100 pipelined requests for big answers, then shutdown(SHUT_WR), then a slow read: every
    # one is still answered, in order, and then the daemon closes. Answers were lost when some
    # were still queued as the end of the input was read, which the Unix socket's smaller
    # buffers make likely.
    targets = [("tcp", (HOST, PORT))] + [("unix", p) for p in sys.argv[4:5]]
    for kind, address in targets:
        n = 100
        s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET,
                          socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(address)
        s.sendall(b"".join(b"GET /v1/codes?pretty=1%s HTTP/1.1\r\nHost: t\r\n\r\n"
                           % (b"&subject=7" if i % 2 else b"") for i in range(n)))
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                time.sleep(0.001)
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        buf, got, in_order = b"".join(chunks), 0, True
        for i in range(n):
            st, h, body, buf = read_response(None, buf)
            if st is None or len(body) < int(h["content-length"]):
                break  # the rest was lost
            got += 1
            if st != 200 or json.loads(body)["subject"] != (7 if i % 2 else None):
                in_order = False
        check("half-close over %s: all %d requests answered, in order (got %d), then closed"
              % (kind, n, got), got == n and in_order and buf == b"")

elif MODE == "upgrade":
    # Upgrade is ignored: one answer, and the connection goes on in HTTP/1.1.
    s = connect()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
              b"Upgrade: websocket\r\n\r\n")
    st1, h1, b1, buf = read_response(s, b"")
    check("Upgrade: answered 200, not switched", st1 == 200 and json.loads(b1)["status"] == "ok"
          and "upgrade" not in h1)
    s.settimeout(0.5)
    try:
        extra = s.recv(65536)
    except socket.timeout:
        extra = b""
    check("Upgrade: exactly one answer (got %r more)" % extra[:40], buf == b"" and extra == b"")
    s.settimeout(10)
    # The same, pipelined with a request after it in one write.
    s.sendall(b"GET /v1/codes/5.1.1 HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\n"
              b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
              b"GET /v1/basic/550 HTTP/1.1\r\nHost: t\r\n\r\n")
    st2, _, b2, buf = read_response(s, b"")
    st3, _, b3, buf = read_response(s, buf)
    check("Upgrade: the connection stays usable for pipelined requests",
          st2 == 200 and json.loads(b2)["code"] == "5.1.1" and st3 == 200
          and json.loads(b3)["basic"] == 550 and buf == b"")
    # CONNECT: one 405, and a close (what follows would be a tunnel's bytes).
    c = connect()
    c.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
              b"\x16\x03\x01 not http")
    st4, h4, b4, buf = read_response(c, b"")
    check("CONNECT: one 405 with Connection: close",
          st4 == 405 and json.loads(b4)["error"]["code"] == "method_not_allowed"
          and h4.get("connection") == "close")
    check("CONNECT: nothing more, and closed", buf == b"" and closed(c, 5))

elif MODE == "idle":
    # An idle connection is closed after --idle-timeout (the daemon runs with 2 s).
    s = connect()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    st, _, _, buf = read_response(s, b"")
    start = time.monotonic()
    check("idle: answered", st == 200)
    ok = closed(s, 6)
    took = time.monotonic() - start
    check("idle: closed after the idle timeout (%.1f s)" % took, ok and 1.5 <= took < 6)

elif MODE == "http10":
    s = connect()
    s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st, h, _, buf = read_response(s, b"")
    check("HTTP/1.0 keep-alive: answered with Connection: keep-alive",
          st == 200 and h.get("connection") == "keep-alive")
    s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st, h, _, buf = read_response(s, buf)
    check("HTTP/1.0 keep-alive: the connection is reused", st == 200)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    st, h, _, buf = read_response(s, buf)
    check("HTTP/1.0 without keep-alive: Connection: close, and closed",
          st == 200 and h.get("connection") == "close" and closed(s, 5))

elif MODE == "neverread":
    # A client pipelines requests for big answers (the last with Connection: close) and never
    # reads. The daemon must stop answering once about a MiB is queued (not answer every
    # request of a read), and close the connection by the drain deadline.
    pid, idle = int(sys.argv[4]), float(sys.argv[5])

    def metric(name):
        m = connect()
        m.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        st, _, body, _ = read_response(m, b"")
        m.close()
        for l in body.decode().splitlines():
            if l.startswith(name + " "):
                return int(l.split()[1])
        return -1

    def rss_kib():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, PORT))
    before = rss_kib()
    lists_before = metric('smtpstatusd_requests_total{surface="http",operation="list"}')
    req = b"GET /v1/codes?pretty=1 HTTP/1.1\r\nHost: t\r\n\r\n"  # ~78 KB answers
    n = 4000  # 180 KB of requests: over 300 MB of answers if all were made
    data = req * (n - 1) + req.replace(b"Host: t", b"Host: t\r\nConnection: close")
    s.setblocking(False)
    sent, deadline = 0, time.monotonic() + 3
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += s.send(data[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.05)
    time.sleep(0.5)
    grew = rss_kib() - before
    answered = metric('smtpstatusd_requests_total{surface="http",operation="list"}') - lists_before
    print("sent %d of %d bytes; %d answered; the daemon's RSS grew by %d KiB"
          % (sent, len(data), answered, grew))
    # What the kernel's buffers take plus the 1 MiB queue limit, in 78 KB answers, is well
    # under 300 (the RSS is noisy, under the sanitizers above all: it is only printed).
    check("never-reading client: the daemon stops answering (%d of %d answered)"
          % (answered, n), 0 < answered < 300)
    # Clients that ask for less, the last request saying Connection: close: the daemon
    # answers all and drains. How much the kernel takes before the daemon must queue depends
    # on its buffers, so several sizes are tried at once: some throttle and end by the idle
    # timeout; those that drain must end by the drain deadline.
    drains = []
    for k in range(30, 70, 5):
        d = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        d.connect((HOST, PORT))
        d.sendall(req * (k - 1) + req.replace(b"Host: t", b"Host: t\r\nConnection: close"))
        drains.append(d)
    # Nothing is read: once the deadlines have passed, the daemon holds no connection but the
    # one asking. Polled, with room for a loaded or sanitized run; a daemon that never closes
    # them still fails.
    give_up = time.monotonic() + idle + 15
    time.sleep(idle)
    open_now = metric('smtpstatusd_connections_open{surface="http"}')
    while open_now != 1 and time.monotonic() < give_up:
        time.sleep(0.2)
        open_now = metric('smtpstatusd_connections_open{surface="http"}')
    check("never-reading clients: all closed by the deadlines (%d open, want 1)" % open_now,
          open_now == 1)
    s.close()
    for d in drains:
        d.close()

else:
    print("unknown mode " + MODE)
    sys.exit(2)

sys.exit(1 if failures else 0)
