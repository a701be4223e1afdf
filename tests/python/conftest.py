"""Fixtures of the Python package's tests (Debian's python3-pytest; ctest runs them, see
tests/CMakeLists.txt).

ctest sets SMTPSTATUSD (the daemon), SMTPSTATUS_CLI (the smtpstatus command) and
SMTPSTATUS_LIBRARY (build/libsmtpstatus.so.0), and puts client/python on PYTHONPATH; run by
hand from a checkout:

    SMTPSTATUSD=build/smtpstatusd SMTPSTATUS_CLI=build/smtpstatus \\
    SMTPSTATUS_LIBRARY=build/libsmtpstatus.so.0 /usr/bin/python3 -m pytest tests/python

The `daemon` fixture starts the real daemon in a temp directory of its own, waits for its
"ready: listening on" line on stderr (never for a fixed time), and on the way out, also after a
failure, stops it with SIGTERM and removes the directory. `cli()` runs the smtpstatus command
with --json against the same daemon, so that each answer of the package is compared with the
command's JSON for the same question.
"""
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
os.environ.setdefault("SMTPSTATUS_LIBRARY", os.path.join(BUILD, "libsmtpstatus.so.0"))
sys.path.insert(0, os.path.join(ROOT, "client", "python"))

SMTPSTATUSD = os.environ.get("SMTPSTATUSD", os.path.join(BUILD, "smtpstatusd"))
CLI = os.environ.get("SMTPSTATUS_CLI", os.path.join(BUILD, "smtpstatus"))
READY_TIMEOUT = 30.0  # seconds for the daemon to say it is ready (a limit, not a wait)

import smtpstatus  # noqa: E402


class Daemon:
    """A smtpstatusd in root/run, serving the registry built into it."""

    def __init__(self, root, extra=()):
        self.root = root
        self.rundir = os.path.join(root, "run")
        self.statedir = os.path.join(root, "state")
        self.extra = list(extra)
        self.proc = None
        self.lines = []

    def start(self):
        argv = [SMTPSTATUSD, "--foreground", "--rundir", self.rundir, "--statedir",
                self.statedir, "--http", "off"] + self.extra
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        q = queue.Queue()

        def read():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                q.put(line)
            q.put(None)

        threading.Thread(target=read, daemon=True).start()
        want = "ready: listening on " + os.path.join(self.rundir, "smtpstatusd.sock")
        while True:
            try:
                line = q.get(timeout=READY_TIMEOUT)
            except queue.Empty:
                raise RuntimeError("the daemon did not say it was ready:\n" + self.log())
            if line is None:
                raise RuntimeError("the daemon exited before it was ready (exit %s):\n%s"
                                   % (self.proc.wait(), self.log()))
            if want in line:
                return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc is not None else None

    def log(self):
        return "\n".join("  | " + line for line in self.lines)


@pytest.fixture(scope="session")
def daemon():
    root = tempfile.mkdtemp(prefix="smtpstatus-py.")
    d = Daemon(root)
    try:
        d.start()
        yield d
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_cli(rundir, *args, stdin=None):
    """The smtpstatus command's --json answers to args: a list, one object per line."""
    env = dict(os.environ)
    if rundir is not None:
        env["SMTPSTATUS_RUNDIR"] = rundir
    out = subprocess.run([CLI, "--json"] + list(args), input=stdin, capture_output=True,
                         env=env, timeout=60)
    return [json.loads(line) for line in out.stdout.decode("utf-8").splitlines() if line]


# The three ways an answer comes: the daemon's shared image, its socket, the built-in registry.
MODES = ["shared", "socket", "offline"]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


@pytest.fixture(scope="session")
def clients(daemon):
    made = {"shared": smtpstatus.Client(rundir=daemon.rundir),
            "socket": smtpstatus.Client(rundir=daemon.rundir, socket_only=True),
            "offline": smtpstatus.Client(offline=True)}
    yield made
    for c in made.values():
        c.close()


@pytest.fixture
def client(clients, mode):
    return clients[mode]


@pytest.fixture
def cli(daemon, mode):
    """cli(*args): the command's answers in the same mode as `client`."""
    flags = {"shared": [], "socket": ["--socket"], "offline": ["--offline"]}[mode]

    def call(*args, stdin=None):
        return run_cli(daemon.rundir, *(flags + list(args)), stdin=stdin)

    return call
