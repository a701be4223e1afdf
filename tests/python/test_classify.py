"""classify and render: each answer equals the smtpstatus command's --json answer in each mode,
over real replies from tests/data/replies_reasons.tsv and over damaged input."""
import os

import pytest

import smtpstatus

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "data", "replies_reasons.tsv")


def unescape(s):
    """The corpus's escapes: \\r \\n \\t \\\\ and \\xHH; every other byte stands for itself."""
    out = bytearray()
    raw = s.encode("utf-8")
    i = 0
    while i < len(raw):
        if raw[i:i + 1] == b"\\" and i + 1 < len(raw):
            c = raw[i + 1:i + 2]
            if c == b"x":
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
                continue
            out += {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}.get(c, b"\\" + c)
            i += 2
            continue
        out += raw[i:i + 1]
        i += 1
    return bytes(out)


def corpus(every=12):
    """Every `every`-th reply of the labelled corpus (name TAB reply TAB ...), as bytes."""
    rows = []
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            rows.append((cols[0], unescape(cols[1])))
    return rows[::every]


REPLIES = corpus()


def test_corpus_read():
    assert len(REPLIES) >= 20


@pytest.mark.parametrize("name, reply", REPLIES, ids=[n for n, _ in REPLIES])
def test_classify_equals_cli(client, cli, name, reply):
    got = client.classify(reply)
    assert isinstance(got, smtpstatus.Classification)
    assert got.to_dict() == cli("classify", "-", stdin=reply)[0]


def test_classify_decision(client):
    c = client.classify("550 5.7.1 Too many messages, try again later in 5 minutes")
    assert (c.reason, c.retry, c.retry_after, c.recipient_invalid) == ("rate-limit", True, 300,
                                                                       False)
    assert c.rule == "generic-too-many-messages" and c.kind == "permanent"
    assert "reason_overrides_class" in c.problems
    c = client.classify("host mx.example.com[192.0.2.1] said: 550 5.1.1 <bob@example.com>: "
                        "Recipient address rejected: User unknown (in reply to RCPT TO command)")
    assert (c.basic, c.enhanced, c.reason, c.recipient_invalid) == (550, "5.1.1", "bad-mailbox",
                                                                    True)
    assert c.entry.title == "Bad destination mailbox address"
    assert c.reason in smtpstatus.REASONS


@pytest.mark.parametrize("reply", [
    b"550 5.1.1 caf\xc3\xa9 \xff\xfe broken",       # ill-formed UTF-8 becomes '?'
    "421-4.7.0 Try again later\r\n421 4.7.0 closing\r\n",
    "no code in here at all",                     # no exception: kind "unknown"
    "",
    "550-5.1.1 first\n550 5.1.2 second",
])
def test_classify_damaged_equals_cli(client, cli, reply):
    raw = reply if isinstance(reply, bytes) else reply.encode("utf-8")
    got = client.classify(reply)
    assert got.to_dict() == cli("classify", "-", stdin=raw)[0]
    assert isinstance(got.text, str)


def test_classify_no_code(client):
    c = client.classify("no code in here at all")
    assert c.basic is None and c.enhanced is None and c.kind == "unknown" and not c.retry


RENDERS = [
    ("550", "5.1.1", "No such user here"),
    ("452", "4.2.2", "Mailbox full, try again later " * 12),
    ("250", "", "OK"),
    ("550", "X.7.26", None),
    ("421", "", None),
]


@pytest.mark.parametrize("basic, enhanced, text", RENDERS)
def test_render_equals_cli(client, cli, basic, enhanced, text):
    got = client.render(basic, enhanced or None, text)
    args = ["render", basic, enhanced] + ([text] if text is not None else [])
    assert got.to_dict() == cli(*args)[0]
    assert got.reply.endswith("\r\n") and len(got.lines) == got.reply.count("\r\n")


def test_render_options_equal_cli(client, cli):
    got = client.render(554, "5.7.1", "Refused: " + "word " * 40, width=40, dsn=True)
    assert got.to_dict() == cli("render", "--width", "40", "--dsn", "554", "5.7.1",
                                "Refused: " + "word " * 40)[0]
    assert got.form == "dsn"
    got = client.render(550, "5.1.1", "Utilisateur inconnu: caf\u00e9", smtputf8=True)
    assert "caf\u00e9" in got.reply


def test_render_errors(client):
    cases = [((550, "4.1.1", "x"), "SMTPSTATUS_ECLASSMISMATCH"),
             ((354, "3.0.0", "x"), "SMTPSTATUS_ECLASS"),
             ((550, "5.1.1", "caf\u00e9"), "SMTPSTATUS_ENONASCII")]
    for args, name in cases:
        with pytest.raises(smtpstatus.Error) as info:
            client.render(*args)
        assert info.value.name == name, args
    with pytest.raises(smtpstatus.RenderError):
        client.render(550, "4.1.1", "x")
    with pytest.raises(smtpstatus.CodeError):
        client.render(700, None, "x")
    with pytest.raises(smtpstatus.InvalidArgument):
        client.render(550, "5.1.1", "x", width=3)
