"""The ctypes structs of smtpstatus/_lib.py have the sizes and field offsets of the C header's:
a small C program prints them, compiled against client/include/smtpstatus.h (skipped when no C
compiler is installed; the package itself needs none)."""
import ctypes
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT
from smtpstatus import _lib


def test_struct_layouts_match_the_header():
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "smtpstatus.h"',
             "int main(void) {"]
    want = []
    for s in _lib.STRUCTS:
        name = s.__name__
        lines.append('printf("%%zu\\n", sizeof(%s));' % name)
        want.append("%s size %d" % (name, ctypes.sizeof(s)))
        for field, _ in s._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (name, field))
            want.append("%s.%s at %d" % (name, field, getattr(s, field).offset))
    lines.append("return 0; }")
    tmp = tempfile.mkdtemp(prefix="smtpstatus-abi.")
    try:
        src = os.path.join(tmp, "abi.c")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        exe = os.path.join(tmp, "abi")
        subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "client", "include"), src,
                        "-o", exe], check=True, capture_output=True)
        numbers = subprocess.run([exe], check=True, capture_output=True).stdout.split()
    finally:
        shutil.rmtree(tmp)
    got = [w.rsplit(" ", 1)[0] + " " + n.decode() for w, n in zip(want, numbers)]
    assert got == want
