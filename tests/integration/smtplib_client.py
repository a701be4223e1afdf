"""Python's smtplib reads replies that libsmtpstatus rendered.

Starts tests/integration/reply_responder (path in argv[1]) with a script of replies, talks to
it with smtplib over loopback, and checks that smtplib's reply parser gets back each reply's
code, the enhanced code on every line (RFC 2034), and the text, whatever the wrapping did.
Run with /usr/bin/python3 (the system Python).
"""
import smtplib
import subprocess
import sys

LONG = ("The mailbox you tried to reach does not exist here; check the address for typing "
        "mistakes and try again, or ask the recipient for a current address")
SCRIPT = [
    # verb, basic, enhanced, width, text
    ("GREETING", 220, "", 40, "mx.example.org ESMTP ready\nno UCE\nall traffic is logged"),
    ("EHLO", 250, "", 0, "mx.example.org\nPIPELINING\nENHANCEDSTATUSCODES\nSIZE 10240000"),
    ("MAIL", 250, "2.1.0", 0, "Sender ok"),
    ("RCPT", 550, "5.1.1", 40, LONG),
    ("NOOP", 452, "4.2.2", 76, "Mailbox full\nquota exceeded, try again later"),
    ("VRFY", 252, "2.1.5", 508, LONG + " " + LONG),
    ("QUIT", 221, "2.0.0", 0, "Bye"),
]

failures = 0


def check(name, got_code, got_msg, basic, enhanced, text):
    """Compares smtplib's (code, message) with what was rendered."""
    global failures
    lines = got_msg.decode("ascii").split("\n")
    words = []
    ok = got_code == basic
    for line in lines:
        if enhanced:
            ok = ok and (line.startswith(enhanced + " ") or line == enhanced)
            line = line[len(enhanced):]
        words.extend(line.split())
    ok = ok and words == text.split()
    if ok:
        print(f"ok: {name}: {basic} {enhanced or '-'} in {len(lines)} line(s)")
    else:
        failures += 1
        print(f"FAIL: {name}: got {got_code} {got_msg!r}")


def main():
    args = [sys.argv[1]] + [f"{v}:{b}:{e}:{w}:{t.replace(chr(10), chr(92) + 'n')}"
                            for v, b, e, w, t in SCRIPT]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        s = smtplib.SMTP(timeout=20)
        replies = {v: (b, e, t) for v, b, e, w, t in SCRIPT}
        code, msg = s.connect("127.0.0.1", port)
        check("greeting", code, msg, *replies["GREETING"])
        code, msg = s.ehlo("client.example.org")
        check("EHLO", code, msg, *replies["EHLO"])
        if not s.has_extn("enhancedstatuscodes"):
            print("FAIL: smtplib did not see ENHANCEDSTATUSCODES")
            global failures
            failures += 1
        for verb, cmd in (("MAIL", "MAIL FROM:<a@example.org>"),
                          ("RCPT", "RCPT TO:<nobody@example.org>"), ("NOOP", "NOOP"),
                          ("VRFY", "VRFY someone")):
            code, msg = s.docmd(cmd)
            check(verb, code, msg, *replies[verb])
        code, msg = s.docmd("QUIT")
        check("QUIT", code, msg, *replies["QUIT"])
        s.close()
    finally:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    print(f"{len(SCRIPT) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
