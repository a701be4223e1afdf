"""The README's Python example (the ```python block of "### From Python") prints what its
comments say, against the real daemon and offline; and its from-a-checkout command works."""
import os
import re
import subprocess
import sys

from conftest import ROOT


def readme_example():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("### From Python"):]
    return re.search(r"```python\n(.*?)```\n", section, re.S).group(1)


def run(code, **env):
    full = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "client", "python"),
                PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, env=full,
                          timeout=60)


def test_readme_example_prints_its_comments(daemon):
    code = readme_example()
    want = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    assert len(want) >= 4
    for env in ({"SMTPSTATUS_RUNDIR": daemon.rundir}, {"SMTPSTATUS_OFFLINE": "1"}):
        out = run(code, **env)
        assert out.stdout.decode().splitlines() == want, out.stderr.decode()


def test_readme_checkout_command():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    line = re.search(r"python3 -c '(import smtpstatus;[^']*)'", text).group(1)
    out = run(line, SMTPSTATUS_OFFLINE="1")
    assert out.stdout.decode().strip() == "Bad destination mailbox address", out.stderr.decode()
