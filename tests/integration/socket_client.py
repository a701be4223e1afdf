#!/usr/bin/python3
"""A foreign client of the smtpstatusd socket API, written from proto/ alone.

It uses the Python module that protoc generated from proto/smtpstatus.proto, the protobuf
runtime, xxhash (python3-xxhash, for the image checksum) and the standard library, and nothing
of the project's C code. Each scenario starts the real daemon in a temp directory of its own,
waits for its "ready: listening on" line on stderr (never for a fixed time), drives it through
its Unix socket as proto/FRAMING.md says, and stops it with SIGTERM, expecting exit code 0.
test_socket_api.sh runs it with the system Python.

usage: socket_client.py SMTPSTATUSD PB_DIR PROJECT_DATA_DIR SHARED_IANA_DIR
"""
import mmap
import os
import queue
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

if len(sys.argv) != 5:
    sys.exit(__doc__.split("\n\n")[-1].strip())
SMTPSTATUSD, PB_DIR, PROJECT_DATA_DIR, SHARED_IANA_DIR = sys.argv[1:]
sys.path.insert(0, PB_DIR)
import smtpstatus_pb2 as pb  # noqa: E402  (generated into PB_DIR by the shell script)
try:
    import xxhash
except ImportError:
    print("FAIL: the xxhash module is missing (Debian package python3-xxhash)")
    print("0 passed, 1 failed")
    sys.exit(1)

E = pb.Error
CODES_CSV = "smtp-enhanced-status-codes-3.csv"
IO_TIMEOUT = 5.0      # seconds for any one socket operation
READY_TIMEOUT = 20.0  # seconds for the daemon to say it is ready
OVERALL_TIMEOUT = 240  # seconds for the whole run (ctest allows 300)

passed = 0
failed = 0


def check(name, cond, detail=""):
    """Counts and prints one assertion; returns cond so callers can stop early."""
    global passed, failed
    if cond:
        passed += 1
        print("ok: " + name)
    else:
        failed += 1
        detail = str(detail)
        if len(detail) > 4000:
            detail = detail[:4000] + "... (%d characters more)" % (len(detail) - 4000)
        print("FAIL: " + name + (": " + detail if detail else ""))
    sys.stdout.flush()
    return bool(cond)


# ---- framing ---------------------------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def frame(msg):
    data = msg.SerializeToString()
    return varint(len(data)) + data


class Conn:
    """One client connection: whole Response frames in, Request frames out."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, req):
        self.sock.sendall(frame(req))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def recv(self):
        """The next Response, or None when the daemon closed the connection at a frame
        boundary. Raises on a timeout, on a close inside a frame and on a bad varint."""
        while True:
            n, shift, i = 0, 0, 0
            while i < len(self.buf):
                b = self.buf[i]
                n |= (b & 0x7F) << shift
                shift += 7
                i += 1
                if not b & 0x80:
                    break
                if i == 10:
                    raise ValueError("the daemon sent a varint over 10 bytes")
            else:
                i = 0  # no complete header yet
            if i and len(self.buf) - i >= n:
                resp = pb.Response()
                resp.ParseFromString(self.buf[i:i + n])
                self.buf = self.buf[i + n:]
                return resp
            if not self._fill():
                if self.buf:
                    raise EOFError("the daemon closed the connection inside a frame")
                return None

    def call(self, req):
        self.send(req)
        resp = self.recv()
        if resp is None:
            raise EOFError("the daemon closed the connection instead of answering")
        return resp

    def eof_within(self, seconds, reset_ok=False):
        """Whether the daemon closes the connection (recv gives b'') within `seconds`,
        with nothing more sent before the close. With reset_ok, ECONNRESET counts as closed:
        the kernel reports that when the daemon closes with bytes of ours still unread."""
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return reset_ok
        finally:
            self.sock.settimeout(IO_TIMEOUT)


def request(rid=0, **op):
    """Request(id=rid) with one op: request(1, hello=pb.HelloRequest(client="x"))."""
    req = pb.Request(id=rid)
    for name, value in op.items():
        getattr(req, name).CopyFrom(value)
    return req


def error_code(resp):
    return resp.error.code if resp.WhichOneof("result") == "error" else None


def code_name(code):
    return E.Code.Name(code) if code is not None else "no error"


# ---- the daemon ----------------------------------------------------------------------------

class Daemon:
    """The real smtpstatusd in `root`: run/ and state/ under it unless given."""

    def __init__(self, root, registry=None, statedir=None, idle_timeout=30, extra=(), prefix=(),
                 env=None):
        self.root = root
        self.extra = list(extra)
        self.prefix = list(prefix)
        self.env = env
        self.rundir = os.path.join(root, "run")
        self.statedir = statedir or os.path.join(root, "state")
        self.registry = registry
        self.idle_timeout = idle_timeout
        self.socket = os.path.join(self.rundir, "smtpstatusd.sock")
        self.proc = None

    def start(self):
        # No HTTP port: this tests the socket, and daemons run in parallel here.
        argv = [SMTPSTATUSD, "--foreground", "--rundir", self.rundir, "--statedir",
                self.statedir, "--idle-timeout", str(self.idle_timeout), "--http", "off"]
        if self.registry is not None:
            argv += ["--registry", self.registry]
        argv = self.prefix + argv + self.extra
        self.lines = []
        self.lines_q = queue.Queue()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=self.env)
        # Read stderr all the time, so the daemon never blocks on a full pipe.
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        want = "ready: listening on " + self.socket
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("the daemon did not say it was ready within %gs:\n%s"
                                   % (READY_TIMEOUT, self.log()))
            try:
                line = self.lines_q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("the daemon exited before it was ready (exit %s):\n%s"
                                   % (self.proc.wait(), self.log()))
            if want in line:
                return self

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self.lines_q.put(line)
        self.lines_q.put(None)

    def log(self):
        return "\n".join("  | " + l for l in self.lines)

    def connect(self):
        return Conn(self.socket)

    def call(self, req):
        with self.connect() as c:
            return c.call(req)

    def stop(self):
        """SIGTERM; returns the exit code (None when it did not exit in time: then killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self.reader.join(timeout=5)
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def stop_cleanly(d, what):
    rc = d.stop()
    check("%s: SIGTERM stops the daemon with exit 0" % what, rc == 0,
          "exit %s\n%s" % (rc, d.log()))
    check("%s: the socket is gone after SIGTERM" % what, not os.path.exists(d.socket))


def hello_ok(d, what):
    """A hello on a new connection: proof that the daemon still serves."""
    try:
        resp = d.call(request(1, hello=pb.HelloRequest(client="socket_client.py")))
        good = resp.WhichOneof("result") == "hello" and resp.hello.protocol == 1
        return check(what + "; a new connection is still served", good, resp)
    except Exception as e:  # noqa: BLE001  (any failure to be served is the finding)
        return check(what + "; a new connection is still served", False, repr(e))


def poll(fn, timeout=10.0, interval=0.05):
    """Calls fn() until it returns a true value or `timeout` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def info(d):
    return d.call(request(1, registry_info=pb.RegistryInfoRequest())).registry_info


def lookup(d, *codes):
    return d.call(request(1, lookup=pb.LookupRequest(codes=codes))).lookup.entries


def reload(d, directory, rid=9):
    return d.call(request(rid, reload=pb.ReloadRequest(directory=directory)))


def diff_of(dd):
    return list(dd.added), list(dd.removed), list(dd.changed)


def copy_data(root, name, drop=()):
    """A copy of PROJECT_DATA_DIR in root/name, without the codes rows whose code is in
    `drop` (rows are one per line in the project's files)."""
    dst = os.path.join(root, name)
    shutil.copytree(PROJECT_DATA_DIR, dst)
    path = os.path.join(dst, CODES_CSV)
    with open(path, "rb") as f:
        rows = f.read().split(b"\n")
    kept = [r for r in rows if not any(r.startswith(b'"%s",' % c.encode()) for c in drop)]
    assert len(rows) - len(kept) == len(drop), "rows to drop not found in " + path
    with open(path, "wb") as f:
        f.write(b"\n".join(kept))
    return dst


def csv_codes(directory, prefix):
    with open(os.path.join(directory, CODES_CSV), encoding="utf-8") as f:
        return [m.group(1) for m in re.finditer(r'^"(%s[0-9.]*)",' % re.escape(prefix),
                                                f.read(), re.M)]


def image_header(path):
    """The published image's header fields, read as proto/smtpstatus_image.h lays them out, and
    whether its two checksums hold: XXH3 64 (seed 0) of the image without its rules database,
    with superseded and checksum taken as zero, and of the database alone."""
    data = open(path, "rb").read()
    magic, version, header_size, superseded, size, checksum, generation = \
        struct.unpack_from("<8sIIQQQQ", data, 0)
    db_off, db_size = struct.unpack_from("<II", data, 160)
    (prefilter_off,) = struct.unpack_from("<I", data, 180)
    (db_checksum,) = struct.unpack_from("<Q", data, 184)
    x = xxhash.xxh3_64(seed=0)
    x.update(data[:16])
    x.update(bytes(8))  # superseded
    x.update(data[24:32])
    x.update(bytes(8))  # checksum
    x.update(data[40:db_off] if db_size else data[40:])
    if db_size:
        x.update(data[db_off + db_size:])
    db_ok = (xxhash.xxh3_64_intdigest(data[db_off:db_off + db_size]) if db_size else 0) \
        == db_checksum
    return {"magic": magic, "version": version, "header_size": header_size,
            "superseded": superseded, "size": size, "file_size": len(data),
            "generation": generation, "checksum_ok": x.intdigest() == checksum and db_ok,
            "rules_db_size": db_size,
            "prefilter": data[prefilter_off:prefilter_off + 4096] if prefilter_off else b""}


def prefilter_may_match(bitmap, text):
    """Whether some 3-byte gram of text has its bit set in the rules' prefilter, computed from
    proto/smtpstatus_image.h's definition alone (ASCII A-Z taken as a-z)."""
    b = bytes(c + 32 if 65 <= c <= 90 else c for c in text.encode())
    for i in range(len(b) - 2):
        g = b[i] | b[i + 1] << 8 | b[i + 2] << 16
        bit = ((g * 2654435761) & 0xFFFFFFFF) >> (32 - 15)
        if bitmap[bit >> 3] >> (bit & 7) & 1:
            return True
    return False


# ---- scenarios ----------------------------------------------------------------------------

def scenario_every_operation(root):
    with Daemon(root) as d, d.connect() as c:
        r = c.call(request(1, hello=pb.HelloRequest(client="socket_client.py")))
        check("hello: protocol 1, generation 1, a version",
              r.id == 1 and r.hello.protocol == 1 and r.hello.generation == 1
              and re.match(r"^\d+\.\d+\.\d+", r.hello.version), r)
        check("hello: the image is published in the run directory",
              r.hello.image_path == os.path.join(d.rundir, "registry"), r.hello.image_path)
        st = os.lstat(r.hello.image_path) if r.hello.image_path else None
        check("image: a regular file of mode 0644, owned by the daemon's user",
              st is not None and stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
              and st.st_uid == os.geteuid(), st)
        hdr = image_header(r.hello.image_path) if st else {}
        check("image: read from its ABI alone: magic, version, size, generation, checksums",
              hdr.get("magic") == b"SMTPSIMG" and hdr.get("version") == 4
              and hdr.get("header_size") == 192
              and hdr.get("superseded") == 0 and hdr.get("size") == hdr.get("file_size")
              and hdr.get("generation") == r.hello.generation and hdr.get("checksum_ok")
              and hdr.get("rules_db_size", 0) > 0,
              {k: v for k, v in hdr.items() if k != "prefilter"})
        pf = hdr.get("prefilter", b"")
        check("image: the rules' prefilter, read from its ABI alone, passes a text with a "
              "pattern in it and clears one without",
              len(pf) == 4096 and prefilter_may_match(pf, "550 5.1.1 user unknown")
              and prefilter_may_match(pf, "452 4.2.2 MAILBOX FULL")
              and not prefilter_may_match(pf, "550 5.1.1 no"), len(pf))

        asked = ["5.1.1", "X.7.26", "5.1.99", "5.7.708", "bogus", "5.1.1000"]
        r = c.call(request(2, lookup=pb.LookupRequest(codes=asked)))
        es = list(r.lookup.entries)
        check("lookup: one entry per code, in request order",
              r.id == 2 and [e.code for e in es] == asked, [e.code for e in es])
        if len(es) == len(asked):
            e = es[0]
            check("lookup 5.1.1: registered, class and subject titles, no error",
                  e.registered and not e.error and e.HasField("class")
                  and getattr(e, "class").code == "5.XXX.XXX"
                  and getattr(e, "class").title == "Permanent Failure"
                  and e.subject.code == "X.1.XXX" and e.subject.title == "Addressing Status"
                  and e.title == "Bad destination mailbox address"
                  and 550 in e.basic_codes, e)
            e = es[1]
            check("lookup X.7.26: registered, no class part, subject Security or Policy Status",
                  e.registered and not e.error and not e.HasField("class")
                  and e.subject.title == "Security or Policy Status"
                  and e.title == "Multiple authentication checks failed", e)
            for e in es[2:4]:
                check("lookup %s: a valid code, not registered, no error" % e.code,
                      not e.registered and not e.error and e.HasField("class")
                      and e.subject.code == "X.%s.XXX" % e.code.split(".")[1]
                      and e.title == "", e)
            for e in es[4:]:
                check("lookup %r: a per-entry error, the batch still answered" % e.code,
                      e.error != "" and not e.registered and not e.HasField("class"), e)

        r = c.call(request(3, basic=pb.BasicRequest(basic=550)))
        b = r.basic
        check("basic 550: standard, associated with X.1.1 exactly",
              r.WhichOneof("result") == "basic" and b.basic == 550 and b.standard and b.text
              and any(a.code == "X.1.1" and a.match == "exact" for a in b.associations), r)
        r = c.call(request(4, basic=pb.BasicRequest(basic=597)))
        check("basic 597 (second digit 9, not RFC 5321 syntax): INVALID_ARGUMENT",
              r.id == 4 and error_code(r) == E.INVALID_ARGUMENT, r)
        r = c.call(request(5, basic=pb.BasicRequest(basic=559)))
        check("basic 559 (valid, no meaning, no association): NOT_FOUND",
              r.id == 5 and error_code(r) == E.NOT_FOUND, r)

        r = c.call(request(6, search=pb.SearchRequest(query="mailbox full")))
        codes = [e.code for e in r.search.entries]
        check("search 'mailbox full': finds X.2.2", "X.2.2" in codes, codes)
        check("search 'mailbox full': every hit has both words",
              all("mailbox" in (e.title + " " + e.description).lower()
                  and "full" in (e.title + " " + e.description).lower()
                  for e in r.search.entries), codes)

        r = c.call(request(7, list=pb.ListRequest(subject=7, has_subject=True)))
        codes = [e.code for e in r.list.entries]
        want = csv_codes(PROJECT_DATA_DIR, "X.7.")
        check("list subject 7: every X.7.* code of the registry, in code order, nothing else",
              codes == sorted(want, key=lambda s: int(s.split(".")[2])), codes)

        text = ("The mailbox you are trying to reach does not exist here and no amount of "
                "retrying will change that; please check the address for typos and try again "
                "with a corrected recipient")
        r = c.call(request(8, render=pb.RenderRequest(basic=550, enhanced="X.1.1", text=text,
                                                      width=40)))
        lines = list(r.render.lines)
        check("render 550 X.1.1 width 40: several lines, '550-5.1.1 ' then '550 5.1.1 '",
              len(lines) > 2 and all(l.startswith("550-5.1.1 ") for l in lines[:-1])
              and lines[-1].startswith("550 5.1.1 "), lines)
        check("render: every line at most 40 characters",
              lines and all(len(l) <= 40 for l in lines), [len(l) for l in lines])
        check("render: reply is the lines with CRLF, and holds the text's words",
              r.render.reply == "".join(l + "\r\n" for l in lines)
              and " ".join(l[10:] for l in lines).split() == text.split(), r.render.reply)

        r = c.call(request(9, render=pb.RenderRequest(basic=550, enhanced="5.1.1",
                                                      use_default_text=True, dsn=True)))
        lines = list(r.render.lines)
        check("render DSN: Status, Action and Diagnostic-Code fields",
              lines[:2] == ["Status: 5.1.1", "Action: failed"] and len(lines) >= 3
              and lines[2].startswith("Diagnostic-Code: smtp;")
              and "550 5.1.1 Bad destination mailbox address"
              in re.sub(r"\s+", " ", r.render.reply), lines)

        r = c.call(request(10, classify=pb.ClassifyRequest(
            reply=b"452-4.2.2 Mailbox full\r\n452 4.2.2 Try again later\r\n")))
        k = r.classify
        check("classify a two-line 452 4.2.2 reply: transient, retry, registered, no problem",
              k.basic == 452 and k.enhanced == "4.2.2" and k.kind == "transient" and k.retry
              and k.registered and k.subject == "Mailbox Status" and not k.problems
              and k.entry.title == "Mailbox full", r)
        r = c.call(request(11, classify=pb.ClassifyRequest(
            reply=b"550-5.1.1 No such user\r\n551 5.1.1 here\r\n")))
        k = r.classify
        check("classify a reply whose lines disagree: permanent, no retry, basic_mismatch",
              k.kind == "permanent" and not k.retry and k.enhanced == "5.1.1"
              and "basic_mismatch" in k.problems, r)

        r = c.call(request(12, registry_info=pb.RegistryInfoRequest()))
        i = r.registry_info
        check("registry_info: embedded, 81 codes, 3 classes, 8 subjects, generation 1",
              i.source == "embedded" and i.codes == 81 and i.classes == 3 and i.subjects == 8
              and i.generation == 1 and re.fullmatch(r"[0-9a-f]{16}", i.digest), r)

        r = c.call(request(13, stats=pb.StatsRequest()))
        s = r.stats
        got = {x.name: x.value for x in s.requests}
        want = {"hello": 1, "lookup": 1, "basic": 3, "search": 1, "list": 1, "render": 2,
                "classify": 2, "registry_info": 1, "reload": 0, "stats": 1, "bounce": 0,
                "unknown": 0}
        check("stats: every request counted by operation", got == want, got)
        errs = {x.name: x.value for x in s.errors}
        check("stats: errors counted (one invalid_argument, one not_found)",
              errs.get("invalid_argument") == 1 and errs.get("not_found") == 1
              and sum(errs.values()) == 2, errs)
        check("stats: one connection open, generation 1",
              s.connections_open == 1 and s.connections_total == 1 and s.generation == 1, s)
        stop_cleanly(d, "every operation")


def scenario_pipelining(root):
    with Daemon(root) as d, d.connect() as c:
        reqs = []
        for i in range(50):
            rid = 1000 + 7 * i
            op = i % 3
            if op == 0:
                reqs.append(request(rid, hello=pb.HelloRequest()))
            elif op == 1:
                reqs.append(request(rid, lookup=pb.LookupRequest(codes=["5.%d.0" % (i % 8)])))
            else:
                reqs.append(request(rid, basic=pb.BasicRequest(basic=550)))
        c.send_raw(b"".join(frame(r) for r in reqs))
        resps = [c.recv() for _ in reqs]
        check("pipelining: 50 requests in one write get 50 responses, ids in order",
              [r.id if r else None for r in resps] == [r.id for r in reqs],
              [r.id if r else None for r in resps])
        want = [("hello", "lookup", "basic")[i % 3] for i in range(50)]
        check("pipelining: each response answers its own request",
              [r.WhichOneof("result") if r else None for r in resps] == want)
        check("pipelining: lookups answer the code asked",
              all(r.lookup.entries[0].code == "5.%d.0" % (i % 8)
                  for i, r in enumerate(resps) if i % 3 == 1 and r))

        # A reload in the middle of a pipeline: its answer comes before those of the requests
        # sent after it, and those see the new registry.
        data = copy_data(root, "data")
        image = os.path.join(d.rundir, "registry")
        old = open(image, "rb")
        old_map = mmap.mmap(old.fileno(), 0, prot=mmap.PROT_READ)
        reqs = [request(1, hello=pb.HelloRequest()),
                request(2, reload=pb.ReloadRequest(directory=data)),
                request(3, registry_info=pb.RegistryInfoRequest()),
                request(4, hello=pb.HelloRequest())]
        c.send_raw(b"".join(frame(r) for r in reqs))
        resps = [c.recv() for _ in reqs]
        check("pipelined reload: answers in request order",
              [(r.id, r.WhichOneof("result")) if r else None for r in resps]
              == [(1, "hello"), (2, "reload"), (3, "registry_info"), (4, "hello")], resps)
        check("pipelined reload: requests after it see generation 2",
              resps[0] and resps[0].hello.generation == 1
              and resps[2] and resps[2].registry_info.generation == 2
              and resps[2].registry_info.source == data
              and resps[3] and resps[3].hello.generation == 2, resps)
        hdr = image_header(image)
        check("reload: the new image replaced the old one, which is marked superseded by 2",
              hdr["generation"] == 2 and hdr["superseded"] == 0 and hdr["checksum_ok"]
              and struct.unpack_from("<Q", old_map, 16)[0] == 2
              and struct.unpack_from("<Q", old_map, 40)[0] == 1, hdr)
        old_map.close()
        old.close()
        stop_cleanly(d, "pipelining")


def expect_error_then_close(d, what, data, want_code):
    with d.connect() as c:
        c.send_raw(data)
        r = c.recv()
        check("%s: Error %s" % (what, E.Code.Name(want_code)),
              r is not None and error_code(r) == want_code,
              "got %s" % (r if r is None else code_name(error_code(r))))
        check("%s: then the connection is closed" % what, c.eof_within(IO_TIMEOUT))
    hello_ok(d, what)


def scenario_bad_input(root):
    with Daemon(root) as d:
        expect_error_then_close(d, "oversized frame header (70000)", varint(70000),
                                E.FRAME_TOO_LARGE)
        expect_error_then_close(d, "11-byte varint", b"\xff" * 11, E.MALFORMED_FRAME)
        expect_error_then_close(d, "3 bytes that are not a Request", b"\x03\xff\xff\xff",
                                E.MALFORMED_FRAME)

        # The limit itself: a Request of exactly 64 KiB is served, one byte more is not.
        for size, ok in ((65536, True), (65537, False)):
            req = pb.Request(id=size, hello=pb.HelloRequest(client="x" * size))
            req.hello.client = "x" * (2 * size - len(req.SerializeToString()))
            while len(req.SerializeToString()) > size:
                req.hello.client = req.hello.client[:-1]
            with d.connect() as c:
                try:
                    # The daemon may refuse on the header alone and close while we still
                    # send; its Error is then already in our receive queue.
                    try:
                        c.send(req)
                    except (BrokenPipeError, ConnectionResetError):
                        if ok:
                            raise
                    r = c.recv()
                except (BrokenPipeError, ConnectionResetError, EOFError) as e:
                    r = e
                if ok:
                    check("a Request of exactly 65536 bytes is served",
                          isinstance(r, pb.Response) and r.id == size
                          and r.WhichOneof("result") == "hello", r)
                else:
                    check("a whole frame of 65537 bytes: FRAME_TOO_LARGE, then closed",
                          isinstance(r, pb.Response) and error_code(r) == E.FRAME_TOO_LARGE
                          and c.eof_within(IO_TIMEOUT, reset_ok=True), r)

        with d.connect() as c:
            r = c.call(pb.Request(id=77))
            check("Request with no op: UNKNOWN_OPERATION with its id",
                  r.id == 77 and error_code(r) == E.UNKNOWN_OPERATION, r)
            c.send_raw(b"\x00")  # an empty Request: id 0, no op
            r = c.recv()
            check("empty (0-byte) Request: UNKNOWN_OPERATION",
                  r is not None and error_code(r) == E.UNKNOWN_OPERATION, r)
            r = c.call(request(78, hello=pb.HelloRequest()))
            check("after UNKNOWN_OPERATION the same connection still works",
                  r.id == 78 and r.WhichOneof("result") == "hello", r)

        with d.connect() as c:
            c.send_raw(varint(100) + b"\x08" * 10)
        hello_ok(d, "client sent half a frame and disconnected")

        # Every bad client above is gone: only the asking connection is open.
        def settled():
            s = d.call(request(1, stats=pb.StatsRequest())).stats
            return s if s.connections_open == 1 else None
        s = poll(settled)
        check("no connection is left open after the bad clients left", s is not None)
        if s is not None:
            errs = {x.name: x.value for x in s.errors}
            check("stats count the framing errors",
                  errs.get("frame_too_large") == 2 and errs.get("malformed_frame") == 2
                  and errs.get("unknown_operation") == 2, errs)
        stop_cleanly(d, "bad input")


def scenario_idle_timeout(root):
    with Daemon(root, idle_timeout=1) as d:
        slow = d.connect()
        try:
            slow.send_raw(b"\x05")  # a header that promises 5 bytes that never come
            t0 = time.monotonic()
            hello_ok(d, "a slow client holds a partial frame")
            closed = slow.eof_within(6.0)
            took = time.monotonic() - t0
            check("idle timeout 1 s: the daemon closes the slow client (took %.1fs)" % took,
                  closed and 0.5 <= took < 6.0, "closed=%s after %.1fs" % (closed, took))
        finally:
            slow.close()
        hello_ok(d, "after closing the idle client")
        stop_cleanly(d, "idle timeout")


def denied_reload_as_nobody(d, directory):
    """Forks a child that drops to uid/gid 65534, connects and asks for a reload. Returns
    the child's report: "code=NAME message" or "exception ..."."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        report = "exception: nothing reported"
        try:
            os.close(rfd)
            signal.alarm(0)
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            with Conn(d.socket) as c:
                r = c.call(request(31, reload=pb.ReloadRequest(directory=directory)))
            report = "code=%s id=%d %s" % (code_name(error_code(r)), r.id,
                                           r.error.message if error_code(r) else r)
        except BaseException as e:  # noqa: BLE001  (the child must always report and exit)
            report = "exception: %r" % e
        finally:
            os.write(wfd, report.encode())
            os._exit(0)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace")


def scenario_reload_permission(root):
    if os.geteuid() != 0:
        print("SKIP: reload authorization needs root to run a client as uid 65534; "
              "running as uid %d" % os.geteuid())
        return
    for path in (os.path.dirname(root), root):
        os.chmod(path, 0o755)  # so that uid 65534 can reach the socket
    data = copy_data(root, "data")
    with Daemon(root, registry=data) as d:
        mode = stat.S_IMODE(os.stat(d.socket).st_mode)
        check("the socket is mode 0666", mode == 0o666, oct(mode))
        report = denied_reload_as_nobody(d, data)
        check("reload by uid 65534: PERMISSION_DENIED", report.startswith("code=PERMISSION_DENIED "
                                                                          "id=31 "), report)
        check("the denied reload changed nothing", info(d).generation == 1)
        r = reload(d, "")
        check("reload by root (the control): allowed, generation 2",
              r.WhichOneof("result") == "reload" and r.reload.registry.generation == 2, r)
        stop_cleanly(d, "reload permission")


def reload_flow(root, what, first, second):
    """Starts on `first`, reloads `second` (which adds X.7.29 and X.7.30), restarts with the
    same state directory and no --registry, and checks the saved registry is served."""
    d = Daemon(root, registry=first)
    with d:
        check("%s: starts on generation 1" % what, info(d).generation == 1)
        r = reload(d, second, rid=41)
        ok = check("%s: the reload answers with a ReloadResponse" % what,
                   r.id == 41 and r.WhichOneof("result") == "reload", r)
        if ok:
            check("%s: diff added X.7.29 and X.7.30, removed and changed nothing" % what,
                  diff_of(r.reload.diff) == (["X.7.29", "X.7.30"], [], []),
                  diff_of(r.reload.diff))
            check("%s: generation 2, 81 codes, source %s" % (what, second),
                  r.reload.registry.generation == 2 and r.reload.registry.codes == 81
                  and r.reload.registry.source == second, r.reload.registry)
        e = lookup(d, "X.7.29")[0]
        check("%s: X.7.29 is now registered" % what,
              e.registered and e.title == "ARC validation failure", e)
        i = info(d)
        check("%s: registry_info shows generation 2 and the last diff" % what,
              i.generation == 2 and diff_of(i.last_diff) == (["X.7.29", "X.7.30"], [], []), i)
        stop_cleanly(d, what)

    with Daemon(root, statedir=d.statedir) as d2:
        i = info(d2)
        saved = os.path.join(d.statedir, "registry")
        check("%s, restarted without --registry: serves the saved %s" % (what, saved),
              i.source == saved and i.codes == 81, i)
        e = lookup(d2, "X.7.29")[0]
        check("%s, restarted: X.7.29 is registered" % what, e.registered, e)
        stop_cleanly(d2, what + ", restarted")


def scenario_reload_diff(root):
    a = copy_data(root, "a")
    b = copy_data(root, "b", drop=("X.7.29", "X.7.30"))
    # The embedded registry is data/; reloading B removes the two codes, then A adds them.
    with Daemon(os.path.join(root, "d0")) as d:
        r = reload(d, b)
        check("written data: reload B removes X.7.29 and X.7.30",
              r.WhichOneof("result") == "reload"
              and diff_of(r.reload.diff) == ([], ["X.7.29", "X.7.30"], []), r)
        r = reload(d, a)
        check("written data: reload A adds X.7.29 and X.7.30, generation 3",
              r.WhichOneof("result") == "reload"
              and diff_of(r.reload.diff) == (["X.7.29", "X.7.30"], [], [])
              and r.reload.registry.generation == 3, r)
        stop_cleanly(d, "written data")
    reload_flow(os.path.join(root, "d1"), "written data B -> A", b, a)

    old, new = os.path.join(SHARED_IANA_DIR, "2017"), os.path.join(SHARED_IANA_DIR, "later")
    if os.path.isdir(old) and os.path.isdir(new):
        reload_flow(os.path.join(root, "d2"), "IANA 2017 -> later", old, new)
    else:
        print("SKIP: %s/2017 and /later are absent (a user's clone has no ../shared); the same "
              "flow ran above on data written here" % SHARED_IANA_DIR)


def scenario_bad_csv_reload(root):
    # Without X.1.1, and with X.1.0's row again at the end: a duplicate, an error.
    broken = copy_data(root, "broken", drop=("X.1.1",))
    path = os.path.join(broken, CODES_CSV)
    with open(path, "rb") as f:
        text = f.read()
    rows = text.rstrip(b"\n").split(b"\n")
    with open(path, "ab") as f:
        if not text.endswith(b"\n"):
            f.write(b"\n")
        f.write(rows[2] + b"\n")
    line = len(rows) + 1
    with Daemon(root) as d:
        before = info(d)
        r = reload(d, broken, rid=51)
        check("bad CSV reload: Error RELOAD_FAILED", r.id == 51
              and error_code(r) == E.RELOAD_FAILED, r)
        pat = re.compile(r"%s:%d:\d+: error: " % (re.escape(path), line))
        check("bad CSV reload: problems name %s:%d:col: error:" % (CODES_CSV, line),
              any(pat.match(p) for p in r.error.problems), list(r.error.problems))
        after = info(d)
        check("bad CSV reload: the old generation is still served",
              after.generation == before.generation and after.digest == before.digest
              and after.source == "embedded", after)
        e = lookup(d, "X.1.1")[0]
        check("bad CSV reload: X.1.1 (absent from the bad set) still registered",
              e.registered, e)
        s = d.call(request(1, stats=pb.StatsRequest())).stats
        check("bad CSV reload: counted as a failed reload",
              s.reloads_failed == 1 and s.reloads_ok == 0, s)
        stop_cleanly(d, "bad CSV reload")


def scenario_sighup(root):
    data = copy_data(root, "data")
    with Daemon(root, registry=data) as d:
        before = info(d)
        d.proc.send_signal(signal.SIGHUP)
        after = poll(lambda: (lambda i: i if i.generation == before.generation + 1 else None)(
            info(d)))
        check("SIGHUP: registry_info generation goes from 1 to 2",
              before.generation == 1 and after is not None, d.log())
        if after is not None:
            check("SIGHUP: same source, nothing added, removed or changed",
                  after.source == data and diff_of(after.last_diff) == ([], [], [])
                  and after.digest == before.digest, after)
        hello_ok(d, "after SIGHUP")
        stop_cleanly(d, "SIGHUP")


def scenario_dribbler(root):
    """A client that sends a frame a byte at a time is closed by the idle timeout too."""
    with Daemon(root, idle_timeout=1) as d:
        body = request(1, hello=pb.HelloRequest(client="x" * 60)).SerializeToString()
        data = varint(len(body)) + body
        slow = d.connect()
        t0 = time.monotonic()
        closed = False
        try:
            for b in data:
                slow.send_raw(bytes([b]))
                time.sleep(0.1)
                if time.monotonic() - t0 > 4:
                    break
        except OSError:
            closed = True
        closed = closed or slow.eof_within(4.0)
        took = time.monotonic() - t0
        slow.close()
        check("a byte-at-a-time client is closed by a 1 s idle timeout (%.1fs)" % took,
              closed and took < 5.0, "closed=%s" % closed)
        hello_ok(d, "after the dribbler")
        stop_cleanly(d, "dribbler")


def scenario_connection_cap(root):
    with Daemon(root, extra=["--max-connections", "3"]) as d:
        conns = [d.connect() for _ in range(3)]
        try:
            for i, c in enumerate(conns):
                r = c.call(request(i + 1, hello=pb.HelloRequest(client="cap")))
                check("connection %d of 3 is served" % (i + 1), r.WhichOneof("result") == "hello")
            extra = d.connect()
            try:
                r = extra.recv()
            except OSError as e:
                r = e
            check("a fourth connection over --max-connections 3 is told TOO_MANY_CONNECTIONS",
                  isinstance(r, pb.Response) and r.id == 0 and
                  error_code(r) == E.TOO_MANY_CONNECTIONS and "cap of 3" in r.error.message, r)
            check("... and then closed", extra.eof_within(5.0, reset_ok=True))
            extra.close()
            r = conns[0].call(request(9, hello=pb.HelloRequest(client="cap")))
            check("the first three are still served at the cap", r.WhichOneof("result") == "hello")
        finally:
            for c in conns:
                c.close()
        hello_ok(d, "after the capped clients left")
        stop_cleanly(d, "connection cap")


def scenario_out_of_descriptors(root):
    """EMFILE on accept: the daemon keeps serving the connections it has."""
    if shutil.which("prlimit") is None:
        print("SKIP: prlimit (util-linux) is not installed; cannot limit the daemon's files")
        return
    with Daemon(root, prefix=["prlimit", "--nofile=20:20"]) as d:
        conns, refused = [], 0
        try:
            for _ in range(40):
                c = d.connect()
                try:
                    r = c.call(request(1, hello=pb.HelloRequest(client="fd")))
                    if r.WhichOneof("result") == "hello":
                        conns.append(c)
                        continue
                except (OSError, EOFError, RuntimeError):
                    pass
                refused += 1
                c.close()
            check("with 20 descriptors some connections are refused (%d served, %d refused)"
                  % (len(conns), refused), refused > 0 and len(conns) > 0)
            check("the log says the daemon ran out of file descriptors",
                  poll(lambda: "socket: out of file descriptors (limit 20)" in d.log(), 5.0),
                  d.log())
            r = conns[0].call(request(2, hello=pb.HelloRequest(client="fd")))
            check("a connection opened before EMFILE is still served",
                  r.WhichOneof("result") == "hello")
            for c in conns[:4]:
                c.close()
            conns = conns[4:]
            ok = poll(lambda: hello_ok_quiet(d))
            check("after clients leave, new connections are accepted again", ok)
            # The log is read by another thread: the line may come after the answer did.
            check("the log says descriptors are free again",
                  poll(lambda: "a file descriptor is free again" in d.log(), 5.0), d.log())
        finally:
            for c in conns:
                c.close()
        stop_cleanly(d, "out of descriptors")


def hello_ok_quiet(d):
    try:
        return d.call(request(1, hello=pb.HelloRequest(client="q"))).WhichOneof("result") == "hello"
    except Exception:  # noqa: BLE001
        return False


def scenario_systemd_notify(root):
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(IO_TIMEOUT)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    try:
        with Daemon(root, env=env) as d:
            msg = sock.recv(256)
            check("READY=1 reaches NOTIFY_SOCKET once the daemon is ready", msg == b"READY=1", msg)
            stop_cleanly(d, "systemd notify")
    finally:
        sock.close()


def scenario_hello_http_address(root):
    """hello names the JSON debug port's address, with the port the kernel chose for port 0."""
    with Daemon(root, extra=("--http", "127.0.0.1:0")) as d, d.connect() as c:
        r = c.call(request(1, hello=pb.HelloRequest(client="socket_client.py")))
        m = re.match(r"^127\.0\.0\.1:(\d+)$", r.hello.http_address or "")
        check("hello: the HTTP address, with the port chosen for port 0",
              m is not None and int(m.group(1)) > 0 and
              ("http: listening on " + r.hello.http_address) in d.log(), r.hello.http_address)
        if m:
            with socket.create_connection(("127.0.0.1", int(m.group(1))), IO_TIMEOUT) as h:
                h.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                answer = b""
                while True:
                    more = h.recv(4096)
                    if not more:
                        break
                    answer += more
            check("hello's HTTP address answers GET /healthz", answer.startswith(b"HTTP/1.1 200"),
                  answer[:80])
        stop_cleanly(d, "hello http address")
    with Daemon(os.path.join(root, "off")) as d, d.connect() as c:
        r = c.call(request(1, hello=pb.HelloRequest()))
        check("hello: no HTTP address with --http off", r.hello.http_address == "", r.hello)
        stop_cleanly(d, "hello without http")


def cpu_seconds(pid):
    """utime + stime of `pid` from /proc/PID/stat, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def image_fd(path, timeout=IO_TIMEOUT, sock=None):
    """Connects to image.sock at `path` (or uses `sock`) and returns the descriptor the daemon
    sends (the caller closes it), or None when the connection ends without one."""
    s = sock or socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if sock is None:
            s.connect(path)
        try:
            _, fds, _, _ = socket.recv_fds(s, 1, 4)
        except OSError:
            return None
        for extra in fds[1:]:
            os.close(extra)
        return fds[0] if fds else None
    finally:
        s.close()


def is_sealed_memfd(fd):
    F_GET_SEALS = 1034
    import fcntl
    try:
        return (fcntl.fcntl(fd, F_GET_SEALS) & 0x0f) != 0 and \
            os.readlink("/proc/self/fd/%d" % fd).startswith("/memfd:")
    finally:
        os.close(fd)


def scenario_image_out_of_descriptors(root):
    """EMFILE on image.sock's accept: the daemon does not spin, logs rarely, and serves the
    memfd again once descriptors are free."""
    if shutil.which("prlimit") is None:
        print("SKIP: prlimit (util-linux) is not installed; cannot limit the daemon's files")
        return
    with Daemon(root, prefix=["prlimit", "--nofile=20:20"]) as d:
        image_sock = os.path.join(d.rundir, "image.sock")
        conns, pending = [], None
        try:
            for _ in range(40):
                c = d.connect()
                try:
                    if c.call(request(1, hello=pb.HelloRequest(client="fd"))) \
                            .WhichOneof("result") == "hello":
                        conns.append(c)
                        continue
                except (OSError, EOFError, RuntimeError):
                    pass
                c.close()
                break
            check("the daemon ran out of descriptors (%d connections served)" % len(conns),
                  poll(lambda: "out of file descriptors (limit 20)" in d.log(), 5.0), d.log())
            pending = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            pending.connect(image_sock)
            time.sleep(0.2)  # (lets a spinning daemon start spinning: not a wait for progress)
            before, lines_before = cpu_seconds(d.proc.pid), len(d.lines)
            time.sleep(1.5)  # the measured window
            used = cpu_seconds(d.proc.pid) - before
            check("a connection to image.sock at EMFILE costs little CPU (%.2fs in 1.5s)" % used,
                  used < 0.3)
            check("... and the log says it at most a few times (%d lines)"
                  % (len(d.lines) - lines_before), len(d.lines) - lines_before <= 3)
            for c in conns:
                c.close()
            conns = []
            fd = image_fd(None, sock=pending)
            pending = None
            check("after clients leave, the waiting image.sock client gets the sealed memfd",
                  fd is not None and is_sealed_memfd(fd))
            fd = poll(lambda: image_fd(image_sock))
            check("... and so does a new one", fd is not None and is_sealed_memfd(fd))
        finally:
            for c in conns:
                c.close()
            if pending is not None:
                pending.close()
        stop_cleanly(d, "image.sock out of descriptors")


HOARDER = r"""
import select, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
socks, answered = [], 0
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
    # Waits until the daemon has dealt with it (a message or EOF), reading nothing.
    if select.select([s], [], [], 5.0)[0]:
        answered += 1
print("ready %d" % answered, flush=True)
sys.stdin.read()
"""


def scenario_image_unread_handouts(root):
    """Another uid holding 100 unread image.sock hand-outs against a daemon without capabilities
    and with 64 descriptors: the other users still get the sealed memfd."""
    if os.geteuid() != 0 or shutil.which("prlimit") is None or shutil.which("setpriv") is None:
        print("SKIP: needs root, prlimit and setpriv")
        return
    os.chmod(os.path.dirname(root), 0o755)
    os.chmod(root, 0o755)
    nocaps = ["prlimit", "--nofile=64:64", "setpriv", "--inh-caps=-all", "--bounding-set=-all"]
    with Daemon(root, prefix=nocaps) as d:
        image_sock = os.path.join(d.rundir, "image.sock")
        os.chmod(d.rundir, 0o755)
        hoarder = subprocess.Popen(
            ["setpriv", "--reuid=40950", "--regid=40950", "--clear-groups", "/usr/bin/python3",
             "-c", HOARDER, image_sock, "100"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = poll(lambda: hoarder.stdout.readline(), 60.0)
            check("uid 40950 holds 100 connections to image.sock, reading none",
                  line.startswith(b"ready 100"), line + hoarder.stderr.read1(4096)
                  if hoarder.poll() is not None else line)
            fd = image_fd(image_sock)
            check("root still gets the daemon's sealed memfd", fd is not None and is_sealed_memfd(fd),
                  d.log())
            cli = os.path.join(os.path.dirname(SMTPSTATUSD), "smtpstatus")
            if os.access(cli, os.X_OK):
                out = subprocess.run([cli, "info"], capture_output=True, timeout=30,
                                     env=dict(os.environ, SMTPSTATUS_RUNDIR=d.rundir))
                check("smtpstatus info maps the daemon's sealed memfd",
                      b"the daemon's sealed memfd" in out.stdout, out.stdout + out.stderr)
        finally:
            hoarder.kill()
            hoarder.wait()
        fd = poll(lambda: image_fd(image_sock))
        check("after the hoarder left, clients get the memfd", fd is not None and is_sealed_memfd(fd))
        stop_cleanly(d, "unread image hand-outs")


def scenario_classify_decision(root):
    """The reason's decision in ClassifyResponse, read with the generated module alone.
    Expectations hold for any rule set: no rule's name is asserted."""
    # The Reason enum: the 18 reasons, in its order, after REASON_UNSPECIFIED = 0.
    reasons = ["success", "intermediate", "bad-mailbox", "mailbox-disabled", "mailbox-full",
               "message-too-big", "bad-sender", "policy", "auth", "routing", "rate-limit",
               "greylisting", "tls-required", "protocol", "content", "server-error",
               "expired", "other"]
    names = [pb.Reason.Name(n) for n in range(len(reasons) + 1)]
    check("Reason: UNSPECIFIED = 0, then the 18 reasons numbered 1 to 18",
          names == ["REASON_UNSPECIFIED"] + ["REASON_" + r.upper().replace("-", "_")
                                             for r in reasons]
          and len(pb.Reason.values()) == 19, names)
    with Daemon(root) as d, d.connect() as c:
        def classify(rid, reply):
            r = c.call(request(rid, classify=pb.ClassifyRequest(reply=reply)))
            return r.classify if r is not None and r.WhichOneof("result") == "classify" else None

        k = classify(1, b"550 5.1.1 User unknown")
        check("classify 550 5.1.1 User unknown: bad-mailbox, the address is gone, no retry",
              k is not None and k.reason == pb.REASON_BAD_MAILBOX and k.recipient_invalid
              and not k.retry and k.retry_after == 0, k)
        k = classify(2, b"550 5.7.1 Too many messages, try again later in 5 minutes")
        check("classify a 550 that says try again in 5 minutes: retried after 300 s, the "
              "reason overrides the class",
              k is not None and k.kind == "permanent" and k.retry and k.retry_after == 300
              and k.reason in (pb.REASON_RATE_LIMIT, pb.REASON_GREYLISTING)
              and not k.recipient_invalid and "reason_overrides_class" in k.problems, k)
        k = classify(3, b"421 4.7.0 try again in 10 minutes")
        check("classify 421 4.7.0 try again in 10 minutes: retry after 600 s",
              k is not None and k.retry and k.retry_after == 600
              and k.reason != pb.REASON_UNSPECIFIED, k)
        k = classify(4, b"250 2.0.0 OK")
        check("classify 250: success, no rule, no note, no status",
              k is not None and k.reason == pb.REASON_SUCCESS and k.rule == ""
              and k.rule_note == "" and not k.has_status and k.status == ""
              and not k.recipient_invalid and k.retry_after == 0, k)
        k = classify(5, b"354 Go ahead")
        check("classify 354: intermediate", k is not None and k.reason == pb.REASON_INTERMEDIATE, k)
        # Whatever decided, the fields agree with one another.
        for rid, reply in enumerate([b"550 5.1.1 User unknown", b"552 5.2.2 Mailbox full",
                                     b"550 5.7.1 Too many messages, try again later",
                                     b"hello there", b"\xff\xfe 550 5.7.1 \xc3"], 10):
            k = classify(rid, reply)
            check("classify %r: a reason, a status only with a rule, a note only with a rule"
                  % reply,
                  k is not None and k.reason != pb.REASON_UNSPECIFIED
                  and (k.rule != "" or (k.rule_note == "" and not k.has_status))
                  and k.has_status == (k.status != "")
                  and (not k.has_status or re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", k.status))
                  and (not k.recipient_invalid or k.reason == pb.REASON_BAD_MAILBOX), k)
        stop_cleanly(d, "classify decision")


SCENARIOS = [scenario_every_operation, scenario_pipelining, scenario_bad_input,
             scenario_idle_timeout, scenario_reload_permission, scenario_reload_diff,
             scenario_bad_csv_reload, scenario_sighup, scenario_dribbler,
             scenario_connection_cap, scenario_out_of_descriptors, scenario_systemd_notify,
             scenario_hello_http_address, scenario_classify_decision,
             scenario_image_out_of_descriptors, scenario_image_unread_handouts]


def on_alarm(signum, frame_):
    raise TimeoutError("the whole run took over %ds" % OVERALL_TIMEOUT)


def main(scenarios=SCENARIOS, prefix="smtpstatusd-socket-"):
    """Runs each scenario in a temp directory of its own (removed at the end, whatever
    happens); one_client.py runs its own scenarios through this too."""
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(OVERALL_TIMEOUT)
    top = tempfile.mkdtemp(prefix=prefix)
    try:
        for fn in scenarios:
            root = os.path.join(top, fn.__name__[len("scenario_"):])
            os.mkdir(root)
            print("== " + fn.__name__[len("scenario_"):])
            try:
                fn(root)
            except BaseException as e:  # noqa: BLE001  (one broken scenario must not hide the rest)
                check("%s ran to the end" % fn.__name__, False,
                      "%r\n%s" % (e, traceback.format_exc()))
                if isinstance(e, (KeyboardInterrupt, TimeoutError)):
                    break
    finally:
        signal.alarm(0)
        shutil.rmtree(top, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
