"""lookup, basic and search: each answer, in each mode (the daemon's shared image, its socket,
the built-in registry), equals the smtpstatus command's --json answer to the same question, so
the attribute names are the JSON names."""
import pytest

import smtpstatus

CODES = ["5.1.1", "X.7.26", "4.2.2", "2.0.0", "5.1.99", "5.7.708", "4.7.28", "TSS04", "5.1.10"]


@pytest.mark.parametrize("code", CODES)
def test_lookup_equals_cli(client, cli, code):
    got = client.lookup(code)
    assert isinstance(got, smtpstatus.Entry)
    assert got.to_dict() == cli("lookup", code)[0]


def test_lookup_attributes(client):
    e = client.lookup("5.1.1")
    assert e.title == "Bad destination mailbox address"
    assert e.registered is True
    assert 550 in e.basic_codes
    assert e.class_.code == "5.XXX.XXX" and e["class"] is e.class_
    assert getattr(e, "class") is e.class_
    assert e.subject.code == "X.1.XXX"
    assert {v.provider for v in e.vendors} >= {"Gmail"}
    assert isinstance(e.title, str) and isinstance(e.vendors[0].meaning, str)
    with pytest.raises(AttributeError):
        e.title = "changed"
    with pytest.raises(AttributeError):
        e.no_such_field


def test_unregistered_code_answers(client):
    e = client.lookup("5.1.99")
    assert e.registered is False and e.title is None
    assert e.subject.title == "Addressing Status"


@pytest.mark.parametrize("word, name, offset", [
    ("bad", "SMTPSTATUS_ECLASS", 0), ("5.1", "SMTPSTATUS_EDOT", 3),
    ("5.1.1.1", "SMTPSTATUS_ETRAILING", 5), ("", "SMTPSTATUS_EEMPTY", 0),
    ("550", "SMTPSTATUS_ECLASS", 1), ("5.1000.1", "SMTPSTATUS_ESUBJECT", 5)])
def test_bad_code_raises(client, cli, word, name, offset):
    with pytest.raises(smtpstatus.CodeError) as info:
        client.lookup(word)
    e = info.value
    assert e.name == name and e.offset == offset and e.input == word
    assert isinstance(e, ValueError) and isinstance(e, smtpstatus.Error)
    assert e.message in str(e)
    if word:  # the command's JSON error names the same error at the same byte
        said = cli("lookup", word)[0]
        assert said["error_name"] == name and said["offset"] == offset


@pytest.mark.parametrize("code", [550, "421", 250, 354, 221, 452])
def test_basic_equals_cli(client, cli, mode, code):
    got = client.basic(code).to_dict()
    want = cli("basic", str(code))[0]
    assert got == want
    assert got["sample_text"] is None or mode != "socket"


def test_basic_attributes(client):
    b = client.basic(550)
    assert b.basic == 550 and b.standard is True
    first = b.associations[0]
    assert isinstance(first, smtpstatus.Association)
    assert (first.code, first.match) == ("X.1.1", "exact")


def test_basic_errors(client):
    with pytest.raises(smtpstatus.NotFound) as info:
        client.basic(259)
    assert info.value.name == "SMTPSTATUS_ENOTFOUND" and isinstance(info.value, LookupError)
    for bad in (600, "599", "55", "abc"):
        with pytest.raises(smtpstatus.CodeError) as info:
            client.basic(bad)
        assert info.value.name == "SMTPSTATUS_EBASIC"
    with pytest.raises(TypeError):
        client.basic(5.5)


@pytest.mark.parametrize("query", ["mailbox", "mailbox full", "DKIM signature", "nothing-like-it"])
def test_search_equals_cli(client, cli, query):
    got = client.search(query)
    want = cli("search", query)
    if want:
        assert got.to_dict() == want[0]
    else:
        assert got.count == 0
    assert len(got) == got.count == len(list(got))


def test_search_needs_a_word(client):
    with pytest.raises(smtpstatus.InvalidArgument):
        client.search("  ")
