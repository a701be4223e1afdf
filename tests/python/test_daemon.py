"""info, reload and stats, the shared image's path, offline mode and the errors of a missing
daemon. Answers equal the smtpstatus command's --json answers."""
import os
import shutil
import subprocess
import tempfile

import pytest

import smtpstatus
from conftest import ROOT, Daemon, run_cli

DATA = os.path.join(ROOT, "data")


def test_info_equals_cli(client, cli, mode):
    got = client.info()
    assert isinstance(got, smtpstatus.Info)
    assert got.to_dict() == cli("info")[0]
    assert got.answered_by == mode
    assert got.codes > 0 and got.generation >= 1


def test_shared_answers_without_the_socket(daemon):
    with smtpstatus.Client(rundir=daemon.rundir) as c:
        for _ in range(100):
            assert c.lookup("5.7.26").registered
            c.classify("452 4.2.2 Mailbox full")
            c.basic(550)
            c.render(550, "5.1.1", "x")
        s = c.client_status()
        assert s.shared and s.origin == "daemon"
        assert s.pins >= 400 and s.socket_calls == 0, s
        assert s.mappings == 1


def test_socket_only_uses_the_socket(daemon):
    with smtpstatus.Client(rundir=daemon.rundir, socket_only=True) as c:
        c.lookup("5.1.1")
        c.classify("550 5.1.1 nope")
        s = c.client_status()
        assert not s.shared and s.socket_calls == 2


def test_offline_needs_no_daemon():
    with smtpstatus.Client(offline=True) as c:
        assert c.lookup("5.1.1").title == "Bad destination mailbox address"
        assert c.info().answered_by == "offline"
        assert c.client_status() is None and c.socket_path is None
        for call in (c.reload, c.stats):
            with pytest.raises(smtpstatus.Unavailable):
                call()


def test_no_daemon_is_unavailable():
    root = tempfile.mkdtemp(prefix="smtpstatus-py.")
    try:
        with smtpstatus.Client(rundir=root, timeout_ms=2000) as c:
            assert c.socket_path == os.path.join(root, "smtpstatusd.sock")
            for call in (lambda: c.lookup("5.1.1"), lambda: c.classify("550 x"), c.info,
                         c.stats):
                with pytest.raises(smtpstatus.Unavailable) as info:
                    call()
                assert info.value.name == "SMTPSTATUS_EUNAVAILABLE"
                assert isinstance(info.value, ConnectionError)
            # A bad code is refused before the daemon is asked.
            with pytest.raises(smtpstatus.CodeError):
                c.basic(700)
    finally:
        shutil.rmtree(root)


def test_closed_client_refuses(daemon):
    c = smtpstatus.Client(rundir=daemon.rundir)
    c.close()
    c.close()
    with pytest.raises(smtpstatus.InvalidArgument):
        c.lookup("5.1.1")


def test_stats(daemon):
    with smtpstatus.Client(rundir=daemon.rundir, socket_only=True) as c:
        c.lookup("5.1.1")
        s = c.stats()
        assert s.requests["lookup"] >= 1
        assert s.to_dict().keys() == run_cli(daemon.rundir, "stats")[0].keys()


BOUNCES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                       "bounces")


@pytest.mark.parametrize("name", ["postfix_dsn.eml", "exim_plain.eml", "qmail.eml",
                                  "gmail.eml", "microsoft.eml"])
def test_bounce_is_the_commands(daemon, name):
    with open(os.path.join(BOUNCES, name), "rb") as f:
        raw = f.read()
    with smtpstatus.Client(rundir=daemon.rundir) as c:
        got = c.bounce(raw)
    assert got.recipients, name
    assert got.to_dict() == run_cli(daemon.rundir, "bounce", "-", stdin=raw)[0]


def test_bounce_refuses_what_is_no_bounce(daemon):
    with smtpstatus.Client(rundir=daemon.rundir) as c:
        with pytest.raises(smtpstatus.Error):
            c.bounce("From: someone@example.org\nSubject: hello\n\nJust a letter.\n")
    with smtpstatus.Client(offline=True) as c:
        with pytest.raises(smtpstatus.Unavailable):
            c.bounce("From: MAILER-DAEMON\n\n")


@pytest.fixture
def own_daemon():
    """A daemon of this test's own, since reloads change its generation."""
    root = tempfile.mkdtemp(prefix="smtpstatus-py.")
    registry = os.path.join(root, "registry")
    os.mkdir(registry)
    for n in (1, 2, 3):
        shutil.copy(os.path.join(DATA, "smtp-enhanced-status-codes-%d.csv" % n), registry)
    d = Daemon(root, ["--registry", registry])
    try:
        d.start()
        yield d
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_reload(own_daemon):
    with smtpstatus.Client(rundir=own_daemon.rundir) as c:
        before = c.info().generation
        got = c.reload()
        assert isinstance(got, smtpstatus.Reloaded)
        assert got.registry.generation == before + 1
        assert got.diff.to_dict() == {"added": [], "removed": [], "changed": [], "fields": [],
                                      "descriptions_differ": 0}
        assert got.registry.rules.builtin > 0
        want = run_cli(own_daemon.rundir, "reload")[0]
        assert got.to_dict().keys() == want.keys()
        assert got.registry.keys() == want["registry"].keys()
        assert want["registry"]["generation"] == before + 2
        # The shared image follows the reload at once.
        assert c.info().generation == before + 2
        assert c.info().last_reload.ok is True


def test_reload_failure_raises_with_problems(own_daemon):
    broken = os.path.join(own_daemon.root, "broken")
    os.mkdir(broken)
    for name in ("smtp-enhanced-status-codes-1.csv", "smtp-enhanced-status-codes-2.csv",
                 "smtp-enhanced-status-codes-3.csv"):
        with open(os.path.join(broken, name), "w") as f:
            f.write("not,a,registry\n\"unterminated\n")
    with smtpstatus.Client(rundir=own_daemon.rundir) as c:
        before = c.info().generation
        with pytest.raises(smtpstatus.ReloadFailed) as info:
            c.reload(broken)
        e = info.value
        assert e.name == "SMTPSTATUS_ERELOAD" and e.problems, (e, e.problems)
        assert all(isinstance(p, str) for p in e.problems)
        assert c.info().generation == before
        with pytest.raises(smtpstatus.InvalidArgument):
            c.reload(os.path.join(own_daemon.root, "no-such-directory"))


def test_reload_refused_to_other_users(own_daemon):
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to ask as another user")
    os.chmod(own_daemon.root, 0o755)
    code = ("import smtpstatus, sys\n"
            "c = smtpstatus.Client(rundir=sys.argv[1])\n"
            "assert c.lookup('5.1.1').registered\n"
            "try:\n    c.reload()\nexcept smtpstatus.PermissionDenied as e:\n"
            "    print(e.name)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in [os.path.dirname(os.path.dirname(smtpstatus.__file__)),
                    os.environ.get("PYTHONPATH")] if p),
        SMTPSTATUS_LIBRARY=os.path.abspath(os.environ["SMTPSTATUS_LIBRARY"]),
        PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(["setpriv", "--reuid=40750", "--regid=40750", "--clear-groups",
                          "/usr/bin/python3", "-c", code, own_daemon.rundir],
                         capture_output=True, env=env, timeout=60, cwd="/")
    assert out.stdout.decode().strip() == "SMTPSTATUS_EPERM", out.stderr.decode()


def test_module_level_functions(daemon, monkeypatch):
    monkeypatch.setattr(smtpstatus, "_default", None)
    monkeypatch.setenv("SMTPSTATUS_RUNDIR", daemon.rundir)
    assert smtpstatus.lookup("5.1.1").title == "Bad destination mailbox address"
    assert smtpstatus.classify("550 5.1.1 no").recipient_invalid is True
    assert smtpstatus.basic(550).standard
    assert smtpstatus.render(250, None, "OK").reply == "250 OK\r\n"
    assert smtpstatus.search("mailbox").count > 0
    assert smtpstatus.info().answered_by == "shared"
    assert smtpstatus.default_client() is smtpstatus.default_client()
    smtpstatus.default_client().close()


def test_error_names_match_the_library():
    from smtpstatus import _lib
    for name, value in _lib.ERRORS.items():
        assert _lib.smtpstatus_err_name(value).decode() == "SMTPSTATUS_" + name
        e = smtpstatus._error(value)
        assert e.code == value and e.name == "SMTPSTATUS_" + name
        assert str(e) == _lib.smtpstatus_strerror(value).decode()
