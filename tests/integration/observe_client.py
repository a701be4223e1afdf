#!/usr/bin/python3
"""What an administrator and a foreign client see: well-formed answers and the last reload.

With socket_client.py's daemon and framing (the real daemon in a temp directory, driven over its
Unix socket with the Python protobuf runtime, which rejects a whole message for one string field
that is not UTF-8), the real `smtpstatus` CLI and real curl on the daemon's HTTP port:

  - well-formed UTF-8 (issue 11 item 4): a lookup of b"\\xff", of a code cut inside a multi-byte
    character and of one with a whole multi-byte character; a classify reply with bad bytes; a
    registry under a long path of multi-byte names whose warning is cut to its length mid-path;
    a registry directory and a failed one whose names hold a byte that is not UTF-8; and the
    same registry facts as JSON over HTTP, which must decode strictly and agree with the
    socket's mended strings;
  - the last reload attempt (item 6): none at start; a failed SIGHUP, a failed socket reload, a
    good HTTP reload and a SIGHUP with no --registry, each in registry info over the socket,
    `smtpstatus info` (from the shared image and with --socket, text and --json), GET
    /v1/registry and /metrics;
  - partly saved registries that a crash left in the state directory are removed at start.

usage: observe_client.py SMTPSTATUSD PB_DIR PROJECT_DATA_DIR SHARED_IANA_DIR BUILD_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

if len(sys.argv) != 6:
    sys.exit(__doc__.split("\n\n")[-1].strip())
BUILD_DIR = sys.argv.pop()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import socket_client as sc  # noqa: E402  (reads the other four arguments)
from socket_client import E, Daemon, check, copy_data, info, pb, poll, request  # noqa: E402

CLI = os.path.join(BUILD_DIR, "smtpstatus")
EMPTY_ROW_FILE = "smtp-enhanced-status-codes-1.csv"


varint = sc.varint


def field(number, payload):
    """A length-delimited protobuf field: for strings that Python would refuse to encode."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def raw_request(rid, op_number, op_payload):
    body = varint(1 << 3) + varint(rid) + field(op_number, op_payload)
    return varint(len(body)) + body


def call_raw(d, data):
    """Sends hand-made request bytes; returns the parsed Response (a DecodeError on a string
    that is not UTF-8 propagates: that is the failure being tested)."""
    with d.connect() as c:
        c.send_raw(data)
        return c.recv()


def parses(what, fn):
    """Runs fn(); a DecodeError is a failed check, not a crash of the scenario."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        check(what + ": the Python protobuf runtime accepts the answer", False, repr(e))
        return None


def http_daemon(root, registry=None, admin=False):
    extra = ["--http", "127.0.0.1:0"] + (["--http-admin"] if admin else [])
    d = Daemon(root, registry=registry, extra=extra).start()
    r = d.call(request(1, hello=pb.HelloRequest()))
    d.http = r.hello.http_address
    return d


def curl(d, path, *args):
    """(status, body bytes) of curl on the daemon's HTTP port."""
    p = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args,
                        "http://%s%s" % (d.http, path)], capture_output=True, timeout=30)
    body, _, status = p.stdout.rpartition(b"\n")
    return int(status or 0), body


def strict_json(what, body):
    """json.loads of bytes decodes them as UTF-8, strictly."""
    try:
        return json.loads(body)
    except ValueError as e:
        check(what + ": strict JSON", False, "%r: %r" % (e, body[:300]))
        return None


def cli(d, *args):
    p = subprocess.run([CLI, "--rundir", d.rundir, *args], capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def add_empty_row(directory):
    with open(os.path.join(directory, EMPTY_ROW_FILE), "ab") as f:
        f.write(b",,\n")


# ---- item 4: well-formed UTF-8 ---------------------------------------------------------------

def scenario_utf8_lookup_and_classify(root):
    with Daemon(root) as d:
        codes = [b"\xff", "5.\u20ac".encode()[:-1], "5.1.\u00e9".encode(), b"X.7.26"]
        payload = b"".join(field(1, c) for c in codes)
        r = parses("lookup of bad bytes", lambda: call_raw(d, raw_request(7, 11, payload)))
        if r is not None:
            got = [(e.code, bool(e.error)) for e in r.lookup.entries]
            check("lookup b'\\xff': echoed as '?', with an error", got[0] == ("?", True), got)
            check("lookup of a code cut inside a character: each bad byte is '?'",
                  got[1] == ("5.??", True), got)
            check("lookup of a code with a whole multi-byte character: echoed as it was",
                  got[2] == ("5.1.\u00e9", True), got)
            check("the good code in the same batch is answered",
                  r.lookup.entries[3].registered and r.lookup.entries[3].code == "X.7.26", r)
        reply = b"550 5.1.1 caf\xc3\xa9 \xff\xfe user \xe2\x82\r\n"
        r = parses("classify", lambda: call_raw(d, raw_request(8, 16, field(1, reply))))
        if r is not None:
            check("classify: the text keeps whole characters and mends bad bytes",
                  r.classify.text == "caf\u00e9 ?? user ??", r.classify.text)
            check("classify: bad_character is a problem", "bad_character" in r.classify.problems,
                  r.classify.problems)
        sc.stop_cleanly(d, "utf8 lookup")


def long_multibyte_dir(root):
    """A copy of the data under a path of three-byte characters, long enough that a warning
    about one of its files is cut to 1023 bytes inside a character of the path."""
    for pad in range(3):
        parts = [root, "p" + "x" * pad] + ["\u20ac" * 80] * 5
        d = os.path.join(*parts)
        line = "%s/%s:%d:1: warning: empty row skipped" % (d, EMPTY_ROW_FILE, 0)
        cut = line.encode()[:1023]
        try:
            cut.decode()
        except UnicodeDecodeError:
            break
    os.makedirs(os.path.dirname(d))
    shutil.copytree(sc.PROJECT_DATA_DIR, d)
    add_empty_row(d)
    return d


def scenario_utf8_registry(root):
    long_dir = long_multibyte_dir(root)
    bad_name = os.path.join(root.encode(), b"data-\xff")
    shutil.copytree(sc.PROJECT_DATA_DIR.encode(), bad_name)
    missing = os.path.join(root.encode(), b"missing-\xfe")
    d = http_daemon(os.path.join(root, "d"))
    try:
        r = parses("reload of the long path", lambda: d.call(request(
            3, reload=pb.ReloadRequest(directory=long_dir))))
        if r is not None:
            w = list(r.reload.registry.warnings)
            full = [l for l in open(os.path.join(long_dir, EMPTY_ROW_FILE), "rb")]
            want = "%s/%s:%d:1: warning: empty row skipped" % (long_dir, EMPTY_ROW_FILE,
                                                                 len(full))
            check("a warning cut to its length ends between two characters",
                  len(w) == 1 and want.startswith(w[0]) and 1020 <= len(w[0].encode()) <= 1023,
                  (len(w[0].encode()) if w else None, w))
            st, body = curl(d, "/v1/registry")
            j = strict_json("GET /v1/registry after the long path", body)
            if j is not None:
                check("GET /v1/registry: the same warning, whole characters kept",
                      st == 200 and j["warnings"] == w and j["source"] == long_dir,
                      (st, j.get("warnings"), j.get("source")))
                check("GET /v1/registry: last_reload's problems are the same warning",
                      j["last_reload"]["problems"] == w, j.get("last_reload"))
        r = parses("reload of a directory whose name is not UTF-8", lambda: call_raw(
            d, raw_request(4, 18, field(1, bad_name))))
        want_src = root + "/data-?"
        if r is not None:
            check("reload of data-\\xff: works, source mended to data-?",
                  r.WhichOneof("result") == "reload" and r.reload.registry.source == want_src
                  and r.reload.registry.last_reload.source == want_src, r)
        i = parses("registry info", lambda: info(d))
        if i is not None:
            check("registry info: source data-?", i.source == want_src, i.source)
        st, body = curl(d, "/v1/registry")
        j = strict_json("GET /v1/registry after data-\\xff", body)
        if j is not None:
            check("GET /v1/registry: source data-? as over the socket", j["source"] == want_src,
                  j.get("source"))
        r = parses("failed reload of missing-\\xfe", lambda: call_raw(
            d, raw_request(5, 18, field(1, missing))))
        if r is not None:
            probs = list(r.error.problems)
            check("failed reload: RELOAD_FAILED, problems name missing-? mended",
                  sc.error_code(r) == E.RELOAD_FAILED and probs
                  and all("/missing-?/" in p for p in probs), r)
        i = parses("registry info after the failed reload", lambda: info(d))
        if i is not None:
            check("last_reload: failed, source and problems mended",
                  not i.last_reload.ok and i.last_reload.source == root + "/missing-?"
                  and list(i.last_reload.problems) == probs, i.last_reload)
        st, body = curl(d, "/v1/codes/%FF")
        j = strict_json("GET /v1/codes/%FF", body)
        check("GET /v1/codes/%FF: 400 with strict JSON naming '?'",
              st == 400 and j is not None and '"?"' in j["error"]["message"], (st, body))
        sc.stop_cleanly(d, "utf8 registry")
    finally:
        d.kill()


# ---- item 6: the last reload attempt -----------------------------------------------------------

def metrics_of(d):
    st, body = curl(d, "/metrics")
    text = body.decode()
    vals = {}
    for m in re.finditer(r"^(smtpstatusd_last_reload_\w+) (\d+)$", text, re.M):
        vals[m.group(1)] = int(m.group(2))
    has_help = "# TYPE smtpstatusd_last_reload_success gauge" in text
    return st, vals, has_help


def last_of(d):
    i = info(d)
    return i.last_reload if i.HasField("last_reload") else None


def check_surfaces(d, what, want):
    """The attempt `want` (a ReloadAttempt from registry info) as every surface shows it."""
    st, body = curl(d, "/v1/registry")
    j = strict_json(what + ": GET /v1/registry", body)
    if j is not None:
        got = j.get("last_reload")
        check(what + ": GET /v1/registry has last_reload with the socket's names and values",
              st == 200 and got == {"at": want.at, "source": want.source,
                                    "trigger": want.trigger, "ok": want.ok,
                                    "problems": list(want.problems)}, got)
    st, vals, _ = metrics_of(d)
    check(what + ": /metrics has its time and result",
          vals == {"smtpstatusd_last_reload_timestamp_seconds": want.at,
                   "smtpstatusd_last_reload_success": 1 if want.ok else 0}, vals)
    for args in ((), ("--socket",)):
        rc, out, err = cli(d, *args, "info")
        line = re.search(r"^Last reload: (\S+) at (\S+), by (\S+), from (.*)$", out, re.M)
        check(what + ": smtpstatus %s shows it" % " ".join(args + ("info",)),
              rc == 0 and line is not None
              and line.group(1) == ("ok" if want.ok else "FAILED")
              and line.group(3) == want.trigger
              and line.group(4) == (want.source or "(no directory)")
              and re.findall(r"^Problem:     (.*)$", out, re.M) == list(want.problems),
              out + err)
        rc, out, err = cli(d, *args, "--json", "info")
        j = strict_json(what + ": smtpstatus --json info", out.encode())
        if j is not None:
            check(what + ": smtpstatus %s has last_reload" % " ".join(args + ("--json", "info")),
                  j.get("last_reload", {}).get("at") == want.at
                  and j["last_reload"]["trigger"] == want.trigger
                  and j["last_reload"]["problems"] == list(want.problems), j)


def scenario_last_reload(root):
    data = copy_data(root, "data")
    d = http_daemon(os.path.join(root, "d"), registry=data, admin=True)
    try:
        check("at start: no last_reload in registry info", last_of(d) is None, info(d))
        st, body = curl(d, "/v1/registry")
        j = strict_json("at start: GET /v1/registry", body)
        check("at start: GET /v1/registry says last_reload null",
              j is not None and "last_reload" in j and j["last_reload"] is None, body)
        st, vals, has_help = metrics_of(d)
        check("at start: /metrics describes the gauges but has no sample",
              st == 200 and has_help and vals == {}, vals)
        rc, out, _ = cli(d, "info")
        check("at start: smtpstatus info says none", "Last reload: none since the daemon "
              "started" in out, out)

        # A failed SIGHUP: the codes file is gone.
        codes = os.path.join(data, sc.CODES_CSV)
        os.rename(codes, codes + ".away")
        d.proc.send_signal(signal.SIGHUP)
        last = poll(lambda: last_of(d))
        check("failed SIGHUP: last_reload says when, signal, the directory, failed, why",
              last is not None and not last.ok and last.trigger == "signal"
              and last.source == data and last.at > 0
              and any(sc.CODES_CSV in p and "error:" in p for p in last.problems), last)
        if last is not None:
            check_surfaces(d, "failed SIGHUP", last)
        g = info(d).generation

        # A failed reload over the socket, of another directory.
        before = last.at if last else 0
        r = sc.reload(d, os.path.join(root, "nowhere"))
        last = last_of(d)
        check("failed socket reload: trigger socket, failed, its directory",
              sc.error_code(r) == E.RELOAD_FAILED and last is not None and not last.ok
              and last.trigger == "socket" and last.source == os.path.join(root, "nowhere")
              and last.at >= before and list(last.problems) == list(r.error.problems), last)
        if last is not None:
            check_surfaces(d, "failed socket reload", last)

        # A good reload over HTTP, with a warning.
        os.rename(codes + ".away", codes)
        add_empty_row(data)
        st, body = curl(d, "/v1/reload", "-X", "POST", "-H", "Content-Type: application/json",
                        "-d", "{}")
        last = last_of(d)
        check("HTTP reload: 200, last_reload ok by http, its warning as the one problem",
              st == 200 and last is not None and last.ok and last.trigger == "http"
              and last.source == data and len(last.problems) == 1
              and "warning: empty row skipped" in last.problems[0]
              and info(d).generation == g + 1, (st, body, last))
        j = strict_json("HTTP reload answer", body)
        check("HTTP reload answer: registry.last_reload is this one",
              j is not None and j["registry"]["last_reload"]["ok"] is True
              and j["registry"]["last_reload"]["trigger"] == "http", body)
        if last is not None:
            check_surfaces(d, "good HTTP reload", last)
        sc.stop_cleanly(d, "last reload")
    finally:
        d.kill()

    # SIGHUP with no --registry: a reload that cannot start is an attempt too.
    d = http_daemon(os.path.join(root, "none"))
    try:
        d.proc.send_signal(signal.SIGHUP)
        last = poll(lambda: last_of(d))
        check("SIGHUP without --registry: a failed attempt with no directory, saying so",
              last is not None and not last.ok and last.source == "" and last.trigger == "signal"
              and any("no --registry" in p for p in last.problems), last)
        if last is not None:
            check_surfaces(d, "SIGHUP without --registry", last)
        sc.stop_cleanly(d, "SIGHUP without registry")
    finally:
        d.kill()


# ---- item 6: partly saved registries -----------------------------------------------------------

def scenario_partial_state(root):
    data = copy_data(root, "data")
    state = os.path.join(root, "state")
    with Daemon(root, registry=data) as d:
        r = sc.reload(d, data)
        check("a reload saves a set", r.WhichOneof("result") == "reload", r)
        sc.stop_cleanly(d, "partial state: first run")
    live = os.readlink(os.path.join(state, "registry"))
    # What a crash in the middle of state_save() leaves: sets with some files, an empty one,
    # a half-written file, and the new link not yet renamed.
    partial = ["registry.Ab12Cd", "registry.zzzzzz", "registry.q1w2e3"]
    for i, name in enumerate(partial):
        p = os.path.join(state, name)
        os.mkdir(p)
        for f in os.listdir(os.path.join(state, live))[:i]:
            shutil.copy(os.path.join(state, live, f), p)
        if i == 2:
            open(os.path.join(p, "smtp-enhanced-status-codes-3.csv.tmp"), "w").write("half")
    os.symlink(partial[0], os.path.join(state, "registry.new"))
    keep = os.path.join(state, "registry.notes")  # not a set name: not ours to remove
    open(keep, "w").write("x")
    with Daemon(root) as d:
        left = sorted(os.listdir(state))
        check("at start: partial sets and registry.new are removed, the live set kept",
              left == sorted(["registry", live, "registry.notes"]), left)
        check("at start: the removal is logged", any(
            "removed 3 partly saved registries" in l for l in d.lines), d.log())
        check("the saved registry is served", info(d).source == os.path.join(state, "registry")
              or info(d).source == data, info(d).source)
        sc.stop_cleanly(d, "partial state")


SCENARIOS = [scenario_utf8_lookup_and_classify, scenario_utf8_registry, scenario_last_reload,
             scenario_partial_state]


if __name__ == "__main__":
    sc.SCENARIOS = SCENARIOS  # socket_client's runner, with these scenarios
    sys.exit(sc.main())
