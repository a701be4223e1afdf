#!/usr/bin/python3
"""One client must not stall or balloon the daemon (issue 11): regressions, each against the
real daemon in a temp directory of its own, over its Unix socket (and its HTTP port where said).

- search_stall: searches of 65 KiB (". " repeated) pipelined on one connection cost each
  about a second of the event loop; now a lookup on another connection answers within
  100 ms (beyond its own time without the load) while they run.
- non_reading_clients: 300 clients pipelining `list` without reading took the daemon's RSS up
  by 1 MiB each, and kept it after they closed; now the growth stays within
  --max-output-buffer (8 MiB here), its reserve and a margin, and drops back once they close.
  And once they had spent that budget, every other client waited with them, a reader's lookup
  included, until the idle timeout closed them; now a new client's lookup, on the socket and
  over HTTP, answers within 500 ms of its time without the load, and /metrics shows the
  budget held, the connections paused and those closed for holding the most.
- half_close: a client that sent 40 requests and then shut down its writing side lost the
  answers still queued at EOF; now it gets all 40, then EOF.

It shares socket_client.py's daemon and framing helpers (same arguments).

usage: one_client.py SMTPSTATUSD PB_DIR PROJECT_DATA_DIR SHARED_IANA_DIR
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import socket_client as sc  # noqa: E402  (parses the same argv, imports smtpstatus_pb2)
from socket_client import Daemon, E, check, error_code, frame, pb, poll, request  # noqa: E402

BUDGET = 8 << 20
RESERVE = BUDGET // 8  # conn_limits.h: served from only by connections holding nothing unread
MARGIN = 8 << 20  # connections, their input buffers, the heap's own slack
BOUND_MS = 500  # how much later than without the load a reading client may be answered
IO_WAIT = 2.0  # seconds a timed request may take before it counts as not answered
SANITIZED = os.environ.get("SANITIZE") == "ON"  # ctest's SMTPSTATUS_SANITIZE


def lookup_ms(conn, rid):
    t0 = time.monotonic()
    r = conn.call(request(rid, lookup=pb.LookupRequest(codes=["5.1.1"])))
    ms = (time.monotonic() - t0) * 1000
    return ms if r.WhichOneof("result") == "lookup" else None


def scenario_search_stall(root):
    big = ". " * 32750  # 65,500 bytes: the whole frame stays under the 64 KiB limit
    with Daemon(root) as d, d.connect() as a, d.connect() as b:
        base = sorted(lookup_ms(b, i) for i in range(20))
        base_max = base[-1]
        want = d.call(request(1, search=pb.SearchRequest(query=".")))
        r = a.call(request(2, search=pb.SearchRequest(query=big)))
        check("a 65 KiB search of one word repeated answers as the word alone",
              r.WhichOneof("result") == "search" and len(r.search.entries) > 0 and
              [e.code for e in r.search.entries] == [e.code for e in want.search.entries],
              (len(r.search.entries), len(want.search.entries)))
        words = " ".join("w%d" % i for i in range(33))
        r = a.call(request(3, search=pb.SearchRequest(query=words)))
        check("a search of 33 different words is refused with INVALID_ARGUMENT",
              error_code(r) == E.INVALID_ARGUMENT and "32" in r.error.message, r)
        r = a.call(request(4, search=pb.SearchRequest(query=" ".join(words.split()[:32]))))
        check("a search of 32 different words is answered", r.WhichOneof("result") == "search",
              r)

        # Heavy searches stream in on `a` (at most 400, answers read as they come) while `b`
        # times its lookups; a loaded machine gets three tries.
        best = None
        for attempt in range(3):
            stop = threading.Event()
            sent_all = threading.Event()  # not `stop`: a send in flight then is still counted
            sent = [0]
            answered = [0]

            def send():
                body = frame(request(5, search=pb.SearchRequest(query=big)))
                try:
                    while not stop.is_set() and sent[0] < 400:
                        a.send_raw(body)
                        sent[0] += 1
                finally:
                    sent_all.set()

            def drain():
                while answered[0] < sent[0] or not sent_all.is_set():
                    if answered[0] >= sent[0]:
                        time.sleep(0.001)  # nothing owed yet: wait for the sender
                        continue
                    if a.recv() is None:
                        return
                    answered[0] += 1

            ts = [threading.Thread(target=send), threading.Thread(target=drain)]
            for t in ts:
                t.start()
            try:
                poll(lambda: sent[0] >= 8, 5.0, 0.001)
                times = [lookup_ms(b, 100 + i) for i in range(20)]
            finally:
                stop.set()
                for t in ts:
                    t.join(30)
            worst = max(times)
            best = worst if best is None else min(best, worst)
            if worst <= base_max + 100 and sent[0] >= 8:
                break
        check("a lookup on another connection answers within 100 ms of its unloaded time "
              "(%.1f ms) while 65 KiB searches run (worst %.1f ms; %d searches sent, %d answered)"
              % (base_max, best, sent[0], answered[0]),
              best <= base_max + 100 and answered[0] == sent[0] >= 8)
        sc.stop_cleanly(d, "search stall")


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def connect_or_none(d):
    """A new connection, or None while the listen backlog is full (connect() on a Unix socket
    with a timeout fails at once with EAGAIN then)."""
    try:
        return d.connect()
    except BlockingIOError:
        return None


def fresh_lookup_ms(d, timeout):
    """A lookup of 5.1.1 on a new socket connection: milliseconds from connect to answer, or
    None when it is not answered within `timeout` seconds."""
    t0 = time.monotonic()
    try:
        with d.connect() as c:
            c.sock.settimeout(timeout)
            ok = c.call(request(1, lookup=pb.LookupRequest(codes=["5.1.1"]))).WhichOneof(
                "result") == "lookup"
    except (OSError, EOFError):
        ok = False
    return (time.monotonic() - t0) * 1000 if ok else None


def http_get(port, path, timeout):
    """GET `path` on a new connection with Connection: close: (the whole answer, or None when it
    did not come within `timeout` seconds, and the milliseconds from connect to its end)."""
    t0 = time.monotonic()
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as h:
            h.settimeout(timeout)
            h.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                      % path.encode())
            while True:
                more = h.recv(65536)
                if not more:
                    break
                data += more
    except OSError:
        data = None
    return data, (time.monotonic() - t0) * 1000


def fresh_http_lookup_ms(port, timeout):
    data, ms = http_get(port, "/v1/codes/5.1.1", timeout)
    return ms if data is not None and data.startswith(b"HTTP/1.1 200") else None


def best_of(fn, base, bound_ms, tries=3):
    """The fastest of up to `tries` timings by fn() (None: not answered), stopping at the first
    within base + bound_ms: a loaded machine gets retries, a stalled daemon fails them all."""
    best = None
    for _ in range(tries):
        ms = fn()
        if ms is not None:
            best = ms if best is None else min(best, ms)
            if ms <= base + bound_ms:
                break
    return best


def metrics(port, timeout=2.0):
    """The daemon's /metrics as {name: value} for unlabelled samples, or None."""
    data, _ = http_get(port, "/metrics", timeout)
    if data is None or not data.startswith(b"HTTP/1.1 200"):
        return None
    out = {}
    for line in data.split(b"\r\n\r\n", 1)[-1].decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
            out[parts[0]] = float(parts[1])
    return out


def scenario_non_reading_clients(root):
    with Daemon(root, extra=["--max-output-buffer", str(BUDGET), "--http", "127.0.0.1:0"]) as d:
        pid = d.proc.pid
        with d.connect() as c:
            one = c.call(request(1, list=pb.ListRequest()))
            port = int(c.call(request(2, hello=pb.HelloRequest())).hello.http_address
                       .rsplit(":", 1)[1])
        size = len(one.SerializeToString())
        for _ in range(3):
            sc.hello_ok_quiet(d)
        # A new client's lookup without the load: the yardstick for the loaded one.
        base = min(fresh_lookup_ms(d, IO_WAIT) or IO_WAIT * 1000 for _ in range(5))
        http_base = min(fresh_http_lookup_ms(port, IO_WAIT) or IO_WAIT * 1000 for _ in range(5))
        before = rss(pid)
        # Enough answers per client to fill its socket and its 1 MiB share several times.
        n = max(8, (4 << 20) // size)
        burst = b"".join(frame(request(i + 1, list=pb.ListRequest())) for i in range(n))
        conns = []
        try:
            for _ in range(300):
                c = poll(lambda: connect_or_none(d), 10.0, 0.01)
                if c is None:
                    raise RuntimeError("cannot connect: the listen backlog stays full")
                conns.append(c)
                try:
                    c.send_raw(burst)
                except OSError:
                    pass  # already closed for holding the most unread answers: that is allowed
            # The daemon answers until the budget is spent: wait for its RSS to stop growing.
            peak, last, still = rss(pid), rss(pid), time.monotonic()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and time.monotonic() - still < 1.5:
                time.sleep(0.05)
                now = rss(pid)
                peak = max(peak, now)
                if now > last + (256 << 10):
                    still = time.monotonic()
                last = now

            # The budget is spent and held by clients that do not read; one that does must
            # still be answered at once, on both surfaces.
            ms = best_of(lambda: fresh_lookup_ms(d, IO_WAIT), base, BOUND_MS)
            check("while 300 non-reading clients hold the budget, a new socket client's lookup "
                  "answers within %d ms of its unloaded time (%.1f ms): %s"
                  % (BOUND_MS, base, "%.1f ms" % ms if ms is not None else "no answer in %gs"
                     % IO_WAIT), ms is not None and ms <= base + BOUND_MS)
            ms = best_of(lambda: fresh_http_lookup_ms(port, IO_WAIT), http_base, BOUND_MS)
            check("while they hold it, GET /v1/codes/5.1.1 on a new HTTP connection answers "
                  "within %d ms of its unloaded time (%.1f ms): %s"
                  % (BOUND_MS, http_base, "%.1f ms" % ms if ms is not None
                     else "no answer in %gs" % IO_WAIT), ms is not None and ms <= http_base +
                  BOUND_MS)
            m = metrics(port) or {}
            held = m.get("smtpstatusd_output_buffered_bytes", -1)
            shed = m.get("smtpstatusd_output_shed_total", -1)
            # How many are closed depends on how much each socket takes from the daemon (the
            # kernel's buffer sizes): test_conn_limits pins which ones; here, that it is said.
            check("/metrics under the load: the budget is spent (%d bytes held), within it, its "
                  "reserve and a few answers; some connections paused (%d); %d closed for "
                  "holding the most, and the log says so if any"
                  % (held, m.get("smtpstatusd_output_paused_connections", -1), shed),
                  BUDGET <= held <= BUDGET + RESERVE + 4 * size and
                  m.get("smtpstatusd_output_paused_connections", 0) >= 1 and shed >= 0 and
                  (shed == 0 or "holding the most unread answers" in d.log()),
                  "%r\n%s" % (m, d.log()[-2000:]))
            grew = peak - before
            if SANITIZED:
                print("SKIP: RSS under AddressSanitizer (its quarantine holds freed memory, and "
                      "malloc_trim is not its allocator's); grew %.1f MiB" % (grew / 1048576))
            else:
                check("300 clients leaving %d list answers (%d bytes each) unread grow the daemon "
                      "by %.1f MiB: the budget filled, and within it, its 1 MiB reserve and an "
                      "8 MiB margin" % (n, size, grew / 1048576),
                      BUDGET / 2 <= grew <= BUDGET + RESERVE + MARGIN)
        finally:
            for c in conns:
                c.close()
        if not SANITIZED:
            back = poll(lambda: rss(pid) <= before + (4 << 20), 15.0, 0.1)
            check("after they close, the daemon's RSS drops back (%.1f MiB over the start)"
                  % ((rss(pid) - before) / 1048576), back)
        m = poll(lambda: (lambda m: m if m and m.get("smtpstatusd_output_buffered_bytes") == 0
                          and m.get("smtpstatusd_output_paused_connections") == 0 else None)(
            metrics(port)), 10.0, 0.05)
        check("after they close, /metrics shows nothing held and nobody paused", m is not None)
        sc.hello_ok(d, "after 300 non-reading clients")
        sc.stop_cleanly(d, "non-reading clients")


def scenario_half_close(root):
    with Daemon(root) as d, d.connect() as c:
        # 40 lists of every code are 1.6 MB of answers: more than the socket and the 1 MiB a
        # connection may leave unread hold, so some are still queued in the daemon at EOF.
        c.send_raw(b"".join(frame(request(i + 1, list=pb.ListRequest())) for i in range(40)))
        c.sock.shutdown(socket.SHUT_WR)
        ids = []
        try:
            while True:
                r = c.recv()
                if r is None:
                    break
                ids.append(r.id if r.WhichOneof("result") == "list" else -r.id)
        except OSError as e:
            ids.append(repr(e))
        check("a client that sends 40 lists and half-closes gets 40 of 40 answers in order, "
              "then EOF (got %d)" % len(ids),
              ids == list(range(1, 41)), ids[-3:])
        sc.hello_ok(d, "after the half-closed client")
        sc.stop_cleanly(d, "half close")


SCENARIOS = [scenario_search_stall, scenario_non_reading_clients, scenario_half_close]

if __name__ == "__main__":
    sys.exit(sc.main(SCENARIOS, "smtpstatusd-one-client-"))
