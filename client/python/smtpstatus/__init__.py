"""smtpstatus: SMTP status codes for Python mail helpers, over libsmtpstatus.

The same vocabulary as the C library and the smtpstatus command::

    import smtpstatus
    smtpstatus.lookup("5.1.1").title          # 'Bad destination mailbox address'
    c = smtpstatus.classify("550 5.7.1 Too many messages, try again later in 5 minutes")
    c.reason, c.retry, c.retry_after, c.rule  # ('rate-limit', True, 300, 'generic-too-many-...')
    smtpstatus.basic(550).associations[0].code
    smtpstatus.render(550, "5.1.1", "No such user").reply
    smtpstatus.search("mailbox full").entries
    smtpstatus.info().generation
    smtpstatus.reload()                        # root, the daemon's user or its admin group

Where the answers come from: a Client asks the daemon of its run directory (rundir=..., else
$SMTPSTATUS_RUNDIR, else /run/smtpstatusd). lookup, basic, search, render and classify are
answered in-process from the image the daemon publishes there whenever it is usable, with no
syscall and no round trip (the library pins the image for the call); otherwise the daemon's
socket answers. info, reload and stats ask the socket. Client(offline=True) answers from the
registry built into the library and never touches a daemon. The module-level functions use
one default Client, opened on first use (offline when $SMTPSTATUS_OFFLINE is "1").

Results are read-only records whose attributes are the field names of the JSON answers
(`smtpstatus --json`, the daemon's HTTP port): r.title, r.basic_codes, c.recipient_invalid. The
one name Python reserves, "class", is also r.class_ (and r["class"]). r.to_dict() gives the
JSON object. Strings are str. Errors raise smtpstatus.Error subclasses, which carry the
library's error code, its name and smtpstatus_strerror()'s text.

Every C result is copied into Python objects and freed (smtpstatus_result_free), and every pin
released (smtpstatus_unpin), before a call returns. A Client may be shared by threads; close()
it (or use `with`) when done, not while another thread is using it.
"""
import ctypes
import os
import socket as _socket
import threading
from ctypes import byref, c_char_p, c_int, c_size_t, c_uint, c_uint16, c_uint64, c_void_p

from . import _lib as L

__all__ = ["Client", "Error", "CodeError", "InvalidArgument", "NotFound", "RenderError",
           "ImageError", "Unavailable", "Timeout", "ProtocolError", "PermissionDenied",
           "ReloadFailed", "Busy", "DaemonError", "NotTrusted", "Record", "Entry", "Part",
           "Vendor", "Basic", "Association", "Rendered", "Classification", "SearchResult",
           "Info", "Reloaded", "lookup", "basic", "search", "render", "classify", "bounce",
           "info", "reload", "stats", "default_client", "REASONS"]

__version__ = "0.1.0"

# ---- errors --------------------------------------------------------------------------------


class Error(Exception):
    """An error of libsmtpstatus or of the daemon.

    code: the SMTPSTATUS_E* value (negative int); name: "SMTPSTATUS_ECLASS" and the like;
    message: smtpstatus_strerror(code); detail: what the daemon or the package adds ("" when
    nothing); problems: "file:line:col: error: ..." lines of a failed reload.
    """

    def __init__(self, code, detail="", problems=()):
        self.code = code
        self.name = _str(L.smtpstatus_err_name(code))
        self.message = _str(L.smtpstatus_strerror(code))
        self.detail = detail or ""
        self.problems = list(problems)
        super().__init__(self.message + (": " + self.detail if self.detail else ""))


class InvalidArgument(Error, ValueError):
    """SMTPSTATUS_EINVAL: an argument the library or the daemon refused."""


class CodeError(Error, ValueError):
    """A code that is not an enhanced status code (or basic reply code, or pattern):
    EEMPTY, ECLASS, ENOCLASSX, ESUBJECT, EDETAIL, EDOT, ETRAILING, EPATTERN, EBASIC. `input` is
    the word, `offset` the byte offset of the offending character (None when not known)."""

    def __init__(self, code, detail="", problems=(), input=None, offset=None):
        super().__init__(code, detail, problems)
        self.input = input
        self.offset = offset


class NotFound(Error, LookupError):
    """SMTPSTATUS_ENOTFOUND: no such entry."""


class RenderError(Error, ValueError):
    """A reply that cannot be rendered: ECLASSMISMATCH, E3YZ, ENONASCII, EUTF8, ENOSPC."""


class ImageError(Error):
    """A registry image refused: SMTPSTATUS_EIMG_*."""


class Unavailable(Error, ConnectionError):
    """SMTPSTATUS_EUNAVAILABLE: no daemon answers (or the Client is offline)."""


class Timeout(Unavailable):
    """SMTPSTATUS_ETIMEOUT: the daemon did not answer in time."""


class ProtocolError(Error):
    """SMTPSTATUS_EPROTO: the daemon's answer is malformed."""


class PermissionDenied(Error, PermissionError):
    """SMTPSTATUS_EPERM: the daemon refused this user (reload is for administrators)."""


class ReloadFailed(Error):
    """SMTPSTATUS_ERELOAD: the reload failed and nothing changed; see .problems."""


class Busy(Error):
    """SMTPSTATUS_EBUSY: the daemon is busy with another reload."""


class DaemonError(Error):
    """SMTPSTATUS_EDAEMON: the daemon answered with an error."""


class NotTrusted(Error):
    """ERUNDIR_FOREIGN, EPEER_FOREIGN, EIMG_FOREIGN: another user owns or serves the run
    directory, so its answers could be forged."""


_CLASSES = {L.EINVAL: InvalidArgument, L.ENOMEM: Error, L.ENOTFOUND: NotFound,
            L.EUNAVAILABLE: Unavailable, L.ETIMEOUT: Timeout, L.EPROTO: ProtocolError,
            L.EPERM: PermissionDenied, L.ERELOAD: ReloadFailed, L.EBUSY: Busy,
            L.EDAEMON: DaemonError, L.ERUNDIR_FOREIGN: NotTrusted,
            L.EPEER_FOREIGN: NotTrusted, L.EIMG_FOREIGN: NotTrusted}
for _name in ("EEMPTY", "ECLASS", "ENOCLASSX", "ESUBJECT", "EDETAIL", "EDOT", "ETRAILING",
              "EPATTERN", "EBASIC"):
    _CLASSES[L.ERRORS[_name]] = CodeError
for _name in ("ECLASSMISMATCH", "E3YZ", "ENONASCII", "EUTF8", "ENOSPC"):
    _CLASSES[L.ERRORS[_name]] = RenderError
for _name, _value in L.ERRORS.items():
    if _name.startswith("EIMG_"):
        _CLASSES.setdefault(_value, ImageError)


def _error(code, detail="", problems=(), **kw):
    """The exception for SMTPSTATUS_E* `code` (any other value gives a plain Error)."""
    cls = _CLASSES.get(code, Error)
    if cls is CodeError:
        return CodeError(code, detail, problems, **kw)
    return cls(code, detail, problems)


# Every library error by its smtpstatus_strerror() text: the daemon names a render refusal so.
_BY_TEXT = {}


def _error_named(text):
    if not _BY_TEXT:
        for value in L.ERRORS.values():
            _BY_TEXT[_str(L.smtpstatus_strerror(value))] = value
    return _BY_TEXT.get(text, 0)


# ---- results -------------------------------------------------------------------------------


class Record:
    """A read-only answer: attributes (and items) are the JSON answer's field names."""

    __slots__ = ("_d",)

    def __init__(self, fields):
        object.__setattr__(self, "_d", fields)

    def __getattr__(self, name):
        d = object.__getattribute__(self, "_d")
        try:
            return d["class" if name == "class_" else name]
        except KeyError:
            raise AttributeError("%s has no field %r" % (type(self).__name__, name)) from None

    def __setattr__(self, name, value):
        raise AttributeError("%s is read-only" % type(self).__name__)

    def __getitem__(self, key):
        return self._d[key]

    def __contains__(self, key):
        return key in self._d

    def keys(self):
        return self._d.keys()

    def get(self, key, default=None):
        return self._d.get(key, default)

    def __dir__(self):
        return list(self._d) + ["to_dict", "keys", "get"]

    def __eq__(self, other):
        return type(other) is type(self) and other._d == self._d

    __hash__ = None

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % (k, v) for k, v in self._d.items()))

    def to_dict(self):
        """The answer as the JSON object the smtpstatus command prints (dicts, lists, str,
        int, bool, None)."""
        return _plain(self._d)


def _nested(d):
    """d with its nested JSON objects (and those in lists) as Records, for attribute access."""
    def wrap(v):
        if isinstance(v, dict):
            return Record({k: wrap(x) for k, x in v.items()})
        if isinstance(v, list):
            return [wrap(x) for x in v]
        return v
    return {k: wrap(v) for k, v in d.items()}


def _plain(v):
    if isinstance(v, Record):
        return _plain(v._d)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


class Part(Record):
    """A class ("5.XXX.XXX") or subject ("X.1.XXX"): code, title, description, reference."""


class Vendor(Record):
    """What a provider documents a code to mean: provider, code, meaning, reason, source."""


class Entry(Record):
    """The registry's answer for one code: code, registered, class, subject, title,
    description, reference, submitter, change_controller, basic_codes, basic_classes,
    basic_any, basic_codes_raw, fields, and vendors (in a lookup, and in a
    classification answered from an image)."""


class Association(Record):
    """An enhanced code associated with a basic code: code, match, title."""


class Basic(Record):
    """A basic reply code: basic, standard, text, reference, sample_text, associations."""


class Rendered(Record):
    """A rendered reply: basic, enhanced, form, reply, lines, warnings."""


class Classification(Record):
    """A classified reply: basic, enhanced, kind, retry, reason, recipient_invalid,
    retry_after, rule, rule_note, status, subject, registered, problems, text, line_count,
    entry."""


class SearchResult(Record):
    """query, count, entries; iterating it iterates the entries."""

    def __iter__(self):
        return iter(self._d["entries"])

    def __len__(self):
        return len(self._d["entries"])


class Info(Record):
    """What serves the answers (the fields of `smtpstatus --json info`)."""


class Reloaded(Record):
    """A reload's answer: registry, diff, rules_diff."""


def _str(b):
    return b.decode("utf-8", "replace") if b is not None else None


def _str_or_none(b):
    return b.decode("utf-8", "replace") if b else None


def _strings(arr, n):
    return [_str(arr[i]) for i in range(n)]


def _code_str(code):
    buf = ctypes.create_string_buffer(16)
    if L.smtpstatus_code_format(code, buf, len(buf)) < 0:
        return "?"
    return buf.value.decode("ascii")


REASONS = [_str(L.smtpstatus_reason_name(i)) for i in range(1, 19)]


def _reason(value):
    name = L.smtpstatus_reason_name(value)
    return _str(name) if name is not None else "other"


def _part(code, p):
    return Part({"code": code, "title": _str(p.title), "description": _str(p.description),
                 "reference": _str_or_none(p.reference)})


def _vendor_list(vs):
    return [Vendor({"provider": _str(v.provider), "code": _str(v.code),
                    "meaning": _str(v.meaning), "reason": _reason(v.reason),
                    "source": _str(v.source)}) for v in vs]


def _entry(img, e, vendors=None):
    """answer_json_entry(): the Entry of e; extra CSV fields from img when not None."""
    d = {"code": _code_str(e.code), "registered": bool(e.registered)}
    d["class"] = _part("%u.XXX.XXX" % e.code.cls, e.cls) if e.code.cls else None
    d["subject"] = (_part("X.%u.XXX" % e.code.subject, e.subject)
                    if e.subject_registered else None)
    r = bool(e.registered)
    for k in ("title", "description", "reference", "submitter", "change_controller"):
        d[k] = _str(getattr(e, k)) if r else None
    d["basic_codes"] = [e.basic_codes[i] for i in range(e.basic_code_count)] if r else []
    d["basic_classes"] = ["%uXX" % c for c in range(2, 6) if r and e.basic_classes & (1 << c)]
    d["basic_any"] = r and bool(e.assoc_flags & L.ASSOC_ANY)
    d["basic_codes_raw"] = _str(e.basic_codes_raw) if r else None
    fields = {}
    if img is not None:
        f = L.smtpstatus_field()
        for i in range(e.field_count):
            if L.smtpstatus_image_entry_field(img, byref(e), i, byref(f)) == 0:
                fields[_str(f.name)] = _str(f.value)
    d["fields"] = fields
    if vendors is not None:
        d["vendors"] = vendors
    return Entry(d)


def _token(token, vendors):
    """answer_json_token(): a provider's own code, answered with its vendor rows."""
    d = {"code": vendors[0]["code"] if vendors else token, "registered": False}
    for k in ("class", "subject", "title", "description", "reference", "submitter",
              "change_controller"):
        d[k] = None
    d.update({"basic_codes": [], "basic_classes": [], "basic_any": False,
              "basic_codes_raw": None, "fields": {}, "vendors": vendors})
    return Entry(d)


def _image_vendors(img, code=None, token=None):
    """The image's vendor rows for code, or for the token (bytes) when given."""
    n = c_size_t(0)

    def ask(out, cap):
        if token is not None:
            return L.smtpstatus_image_vendor_token(img, token, len(token), out, cap, byref(n))
        return L.smtpstatus_image_vendors(img, code, out, cap, byref(n))

    if ask(None, 0) != 0 or n.value == 0:
        return []
    cap = n.value
    arr = (L.smtpstatus_vendor * cap)()
    if ask(arr, cap) != 0:
        return []
    return _vendor_list(arr[:min(n.value, cap)])


def _result_vendors(r, i):
    v = L.smtpstatus_vendor()
    out = []
    for k in range(L.smtpstatus_result_vendor_count(r, i)):
        if L.smtpstatus_result_vendor(r, i, k, byref(v)) == 0:
            out.append(v)
            v = L.smtpstatus_vendor()
    return _vendor_list(out)


def _parse_code(word):
    """The smtpstatus_code of an enhanced code ("5.1.1", "X.1.1"), or CodeError."""
    raw = word.encode("utf-8") if isinstance(word, str) else bytes(word)
    code = L.smtpstatus_code()
    pos = c_size_t(0)
    rc = L.smtpstatus_code_parse(raw, len(raw), L.PARSE_ALLOW_X, byref(code), byref(pos))
    if rc != 0:
        raise _error(rc, "%r at byte %u" % (word, pos.value), input=word, offset=pos.value)
    return code


def _parse_basic(value):
    """A basic reply code (int 200-559 or its three digits as str), or CodeError."""
    word = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(word, str):
        raise TypeError("a basic reply code is an int or a str, not %s" % type(value).__name__)
    raw = word.encode("utf-8")
    out = c_uint16(0)
    if L.smtpstatus_basic_parse(raw, len(raw), byref(out)) != 0:
        raise _error(L.EBASIC, repr(word), input=word)
    return out.value


def _bytes(text):
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("expected str or bytes, not %s" % type(text).__name__)


def _registry(info, r):
    """answer_json_registry()."""
    return {"source": _str(info.source), "generation": info.generation,
            "loaded_at": info.loaded_at, "digest": _str(info.digest),
            "classes": info.class_count, "subjects": info.subject_count,
            "codes": info.code_count, "basic_codes": info.basic_count,
            "last_diff": _diff(info, r),
            "warnings": _strings(info.warnings, info.warning_count)}


def _diff(info, r):
    """answer_json_diff()."""
    fields = []
    c = L.smtpstatus_code_change()
    for i in range(info.field_change_count):
        if L.smtpstatus_result_code_change(r, i, byref(c)) != 0:
            break
        fields.append({"code": _str(c.code), "field": _str(c.field),
                       "old": _str(c.old_value), "new": _str(c.new_value)})
    return {"added": _strings(info.added, info.added_count),
            "removed": _strings(info.removed, info.removed_count),
            "changed": _strings(info.changed, info.changed_count),
            "fields": fields, "descriptions_differ": info.descriptions_differ}


def _last_reload(r):
    a = L.smtpstatus_reload_attempt()
    if L.smtpstatus_result_last_reload(r, byref(a)) != 0:
        return None
    return {"at": a.at, "source": _str(a.source), "trigger": _str(a.trigger),
            "ok": bool(a.ok), "problems": _strings(a.problems, a.problem_count)}


def _rule_changes(r, n):
    out = []
    c = L.smtpstatus_rule_change()
    for i in range(n):
        if L.smtpstatus_result_rule_change(r, i, byref(c)) != 0:
            break
        out.append({"change": _str(c.change), "name": _str(c.name), "was": _str(c.was),
                    "reason": _str(c.reason), "basic": _str(c.basic),
                    "enhanced": _str(c.enhanced), "pattern": _str(c.pattern),
                    "admin": bool(c.admin)})
    return out


def _rule_diff(changes):
    """answer_json_rule_diff()."""
    d = {}
    for kind in ("added", "removed", "changed"):
        d[kind] = []
        for c in changes:
            if c["change"] != kind:
                continue
            x = {"name": c["name"]}
            if kind == "changed":
                x["was"] = c["was"]
            for k in ("reason", "basic", "enhanced", "pattern", "admin"):
                x[k] = c[k]
            d[kind].append(x)
    return d


def _rules(r):
    """(rules, changes) of a registry-info or reload answer, or None."""
    info = L.smtpstatus_rules_info()
    if L.smtpstatus_result_rules(r, byref(info)) != 0:
        return None
    changes = _rule_changes(r, info.change_count)
    return {"file": _str(info.file), "admin": info.admin_count,
            "builtin": info.builtin_count, "last_diff": _rule_diff(changes)}, changes


def _where(d, where):
    """where_json(): which path answers, for info."""
    shared = where is not None and where.shared
    d["answered_by"] = "offline" if where is None else "shared" if shared else "socket"
    d["image"] = _str_or_none(where.image_path) if where is not None else None
    d["image_error"] = _str_or_none(where.error_detail) if where is not None else None
    origin = None
    if shared and where.origin == L.ORIGIN_DAEMON:
        origin = "daemon"
    elif shared and where.origin == L.ORIGIN_COPY:
        origin = "copy"
    d["image_origin"] = origin


class _Result:
    """A smtpstatus_result * that is freed on leaving the with block."""

    def __init__(self):
        self.ptr = c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        L.smtpstatus_result_free(self.ptr)
        self.ptr = c_void_p()

    def message(self):
        return _str(L.smtpstatus_result_message(self.ptr)) if self.ptr else ""

    def problems(self):
        out = []
        while self.ptr:
            p = L.smtpstatus_result_problem(self.ptr, len(out))
            if p is None:
                break
            out.append(_str(p))
        return out

    def fail(self, rc):
        """The exception for a failed call: the daemon's message and problems with it."""
        return _error(rc, self.message(), self.problems())


# ---- the client ----------------------------------------------------------------------------


class Client:
    """A handle on the daemon of `rundir` (default: $SMTPSTATUS_RUNDIR, else
    /run/smtpstatusd), or on the registry built into the library when offline=True.

    socket_only=True never maps the shared image (every answer comes from the socket);
    timeout_ms limits each socket call (0: the library's 5000). Opening does not connect.
    """

    def __init__(self, rundir=None, offline=False, socket_only=False, timeout_ms=0):
        self.offline = bool(offline)
        self._h = None
        self._img = None
        if self.offline:
            self._img = L.smtpstatus_image_embedded()
            if not self._img:
                raise _error(L.ERRORS["EIMG_CORRUPT"], "the registry built into the library")
            return
        self._rundir = os.fsencode(rundir) if rundir is not None else None
        opt = L.smtpstatus_options(self._rundir, timeout_ms, 1 if socket_only else 0)
        h = c_void_p()
        rc = L.smtpstatus_open(byref(opt), byref(h))
        if rc != 0:
            raise _error(rc, "cannot open a handle on %s" % (rundir or "the default run "
                                                               "directory"))
        self._h = h

    def close(self):
        """Closes the connection and frees the handle. Idempotent."""
        h, self._h = self._h, None
        if h:
            L.smtpstatus_close(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        h = self._h
        if h is None:
            if self.offline:
                raise Unavailable(L.EUNAVAILABLE, "this Client is offline: only the daemon "
                                                  "can answer that")
            raise InvalidArgument(L.EINVAL, "this Client is closed")
        return h

    def _answer(self, from_image, from_socket):
        """from_image(img) on the embedded image (offline) or a pin of the daemon's shared
        image, released afterwards; else from_socket(handle)."""
        if self.offline:
            return from_image(self._img)
        h = self._handle()
        img = c_void_p()
        if L.smtpstatus_pin(h, byref(img)) == 0:
            try:
                return from_image(img.value)
            finally:
                L.smtpstatus_unpin(h, img)
        return from_socket(h)

    @property
    def socket_path(self):
        """RUNDIR/smtpstatusd.sock; None offline."""
        return os.fsdecode(L.smtpstatus_socket_path(self._handle())) if self._h else None

    def client_status(self):
        """The library's smtpstatus_client_status: shared, image_path, generation, error,
        error_detail, pins, socket_calls, attaches, refusals, mappings, origin,
        published_at. None offline."""
        if self.offline:
            return None
        s = L.smtpstatus_client_status()
        L.smtpstatus_client_status_get(self._handle(), byref(s))
        return Record({"shared": bool(s.shared), "image_path": _str(s.image_path),
                       "generation": s.generation, "error": s.error,
                       "error_detail": _str(s.error_detail), "pins": s.pins,
                       "socket_calls": s.socket_calls, "attaches": s.attaches,
                       "refusals": s.refusals, "mappings": s.mappings,
                       "origin": {1: "daemon", 2: "copy"}.get(s.origin),
                       "published_at": s.published_at})

    # ---- lookup ----------------------------------------------------------------------------

    def lookup(self, code):
        """The Entry of an enhanced code ("5.1.1", "X.1.1"), with what providers document it
        to mean (.vendors). A valid code that is not registered answers with registered
        False and its class and subject; a provider's own token ("TSS04") with its vendor
        rows. CodeError for anything else."""
        raw = _bytes(code)

        def image(img):
            parsed = L.smtpstatus_code()
            if L.smtpstatus_code_parse(raw, len(raw), L.PARSE_ALLOW_X, byref(parsed),
                                       None) != 0:
                vendors = _image_vendors(img, token=raw)
                if vendors:
                    return _token(_str(raw), vendors)
                _parse_code(code)
            e = L.smtpstatus_entry()
            rc = L.smtpstatus_image_lookup(img, parsed, byref(e))
            if rc != 0:
                raise _error(rc, repr(code))
            return _entry(img, e, _image_vendors(img, code=parsed))

        def daemon(h):
            with _Result() as r:
                arr = (c_char_p * 1)(raw)
                rc = L.smtpstatus_lookup(h, arr, 1, byref(r.ptr))
                if rc == 0 and L.smtpstatus_result_entry_count(r.ptr) != 1:
                    rc = L.EPROTO
                if rc != 0:
                    raise r.fail(rc)
                e = L.smtpstatus_entry()
                why = c_char_p()
                if L.smtpstatus_result_entry(r.ptr, 0, byref(e), byref(why)) == 0:
                    return _entry(None, e, _result_vendors(r.ptr, 0))
                vendors = _result_vendors(r.ptr, 0)
                if vendors:
                    return _token(_str(L.smtpstatus_result_entry_code(r.ptr, 0)), vendors)
                _parse_code(code)
                raise _error(L.EINVAL, _str(why.value) or repr(code))

        return self._answer(image, daemon)

    # ---- basic -----------------------------------------------------------------------------

    def basic(self, code):
        """A basic reply code (550 or "550"): its standard text and reference, and the
        enhanced codes the registry associates with it. NotFound for a valid code with
        neither; CodeError for an invalid one."""
        value = _parse_basic(code)
        names = {1: "exact", 2: "wildcard", 3: "any"}

        def image(img):
            rec = L.smtpstatus_basic()
            rc = L.smtpstatus_image_lookup_basic(img, value, byref(rec))
            if rc != 0:
                raise self._basic_error(rc, value)
            assoc = []
            c = L.smtpstatus_code()
            m = c_int(0)
            e = L.smtpstatus_entry()
            for i in range(rec.assoc_count):
                if (L.smtpstatus_image_basic_assoc(img, byref(rec), i, byref(c), byref(m)) == 0
                        and L.smtpstatus_image_lookup(img, c, byref(e)) == 0):
                    assoc.append(Association({"code": _code_str(c),
                                              "match": names.get(m.value, "?"),
                                              "title": _str(e.title)}))
            return Basic({"basic": rec.code, "standard": bool(rec.standard),
                          "text": _str_or_none(rec.text),
                          "reference": _str_or_none(rec.reference),
                          "sample_text": _str_or_none(rec.sample_text),
                          "associations": assoc})

        def daemon(h):
            with _Result() as r:
                rc = L.smtpstatus_lookup_basic_remote(h, value, byref(r.ptr))
                if rc == L.ENOTFOUND:
                    raise self._basic_error(rc, value)
                if rc != 0:
                    raise r.fail(rc)
                b = L.smtpstatus_basic_answer()
                if L.smtpstatus_result_basic(r.ptr, byref(b)) != 0:
                    raise _error(L.EPROTO)
                assoc = []
                c = L.smtpstatus_code()
                m = c_int(0)
                title = c_char_p()
                for i in range(b.assoc_count):
                    if L.smtpstatus_result_basic_assoc(r.ptr, i, byref(c), byref(m),
                                                       byref(title)) == 0:
                        assoc.append(Association({"code": _code_str(c),
                                                  "match": names.get(m.value, "?"),
                                                  "title": _str(title.value)}))
                # The socket API does not carry the sample text.
                return Basic({"basic": b.code, "standard": bool(b.standard),
                              "text": _str_or_none(b.text),
                              "reference": _str_or_none(b.reference), "sample_text": None,
                              "associations": assoc})

        return self._answer(image, daemon)

    @staticmethod
    def _basic_error(rc, value):
        if rc == L.ENOTFOUND:
            return _error(rc, "%u has no standard meaning, and no enhanced code is associated "
                              "with it" % value)
        return _error(rc, str(value))

    # ---- search ----------------------------------------------------------------------------

    def search(self, query):
        """The registered codes whose title or description holds every word of `query`
        (ASCII case-insensitive), in code order: a SearchResult (query, count, entries)."""
        if not isinstance(query, str):
            query = " ".join(query)
        if not query.strip(" \t"):
            raise InvalidArgument(L.EINVAL, "search needs at least one word")
        raw = query.encode("utf-8")

        def image(img):
            found = []
            e = L.smtpstatus_entry()
            for i in range(L.smtpstatus_image_code_count(img)):
                if (L.smtpstatus_image_code_at(img, i, byref(e)) == 0
                        and L.smtpstatus_entry_matches(byref(e), raw)):
                    found.append(_entry(img, e))
            return SearchResult({"query": query, "count": len(found), "entries": found})

        def daemon(h):
            with _Result() as r:
                # The daemon separates words at spaces only; the image's rule at tabs too.
                rc = L.smtpstatus_search(h, raw.replace(b"\t", b" "), 0, byref(r.ptr))
                if rc != 0:
                    raise r.fail(rc)
                found = []
                e = L.smtpstatus_entry()
                for i in range(L.smtpstatus_result_entry_count(r.ptr)):
                    if L.smtpstatus_result_entry(r.ptr, i, byref(e), None) == 0:
                        found.append(_entry(None, e))
                return SearchResult({"query": query, "count": len(found), "entries": found})

        return self._answer(image, daemon)

    # ---- render ----------------------------------------------------------------------------

    def render(self, basic, enhanced=None, text=None, width=0, smtputf8=False, dsn=False):
        """Renders a reply: basic code (int or str), enhanced code ("5.1.1", "X.1.1" or None),
        text (str or bytes; None: the registry's sample text). width is the line limit without
        CRLF (0: 76); smtputf8 allows UTF-8 text; dsn renders the Status, Action and
        Diagnostic-Code fields instead. A Rendered (basic, enhanced, form, reply, lines,
        warnings); RenderError when the reply cannot be rendered (see .name)."""
        value = _parse_basic(basic)
        code = _parse_code(enhanced) if enhanced else None
        body = _bytes(text) if text is not None else None
        opt = L.smtpstatus_render_options(width, 1 if smtputf8 else 0,
                                          L.FORM_DSN if dsn else L.FORM_REPLY)

        def rendered(reply, warnings):
            shown = None
            if code is not None:
                c = L.smtpstatus_code(code.cls or value // 100, code.subject, code.detail)
                shown = _code_str(c)
            out = reply.decode("utf-8", "replace")
            return Rendered({"basic": value, "enhanced": shown, "form": "dsn" if dsn else "reply",
                             "reply": out, "lines": out.split("\r\n")[:-1],
                             "warnings": warnings})

        def image(img):
            size = 4096
            for _ in range(2):
                buf = ctypes.create_string_buffer(size)
                n = c_size_t(0)
                w = c_uint(0)
                rc = L.smtpstatus_render(img, value, byref(code) if code is not None else None,
                                         body, len(body) if body is not None else 0, byref(opt),
                                         buf, size, byref(n), byref(w))
                if rc != L.ENOSPC or size > n.value:
                    break
                size = n.value + 1
            if rc != 0:
                raise _error(rc, self._render_why(rc, value, width))
            return rendered(buf.raw[:n.value],
                            [name for bit, name in L.WARNINGS if w.value & bit])

        def daemon(h):
            # A NUL cannot travel in the request's text; the library writes it as '?' with the
            # "replaced" warning, as it does this control character.
            sent = body.replace(b"\0", b"\x1a") if body is not None else None
            word = _bytes(enhanced) if enhanced else None
            with _Result() as r:
                rc = L.smtpstatus_render_remote(h, value, word, sent, byref(opt), byref(r.ptr))
                if rc == L.EINVAL and _error_named(r.message()):
                    why = _error_named(r.message())
                    raise _error(why, self._render_why(why, value, width))
                if rc != 0:
                    raise r.fail(rc)
                warnings = []
                i = 0
                while True:
                    w = L.smtpstatus_result_render_warning(r.ptr, i)
                    if w is None:
                        break
                    warnings.append(_str(w))
                    i += 1
                known = [name for _, name in L.WARNINGS]
                warnings = [n for n in known if n in warnings] + \
                           [n for n in warnings if n not in known]
                return rendered(L.smtpstatus_result_render_output(r.ptr) or b"", warnings)

        return self._answer(image, daemon)

    @staticmethod
    def _render_why(rc, value, width):
        if rc == L.ECLASSMISMATCH:
            return "the enhanced class must be %u, as the reply code's first digit" % (
                value // 100)
        if rc == L.ENONASCII:
            return "pass smtputf8=True if the session negotiated SMTPUTF8"
        if rc == L.EINVAL:
            return "width %u is too small for the code prefix and one character, or above " \
                   "510" % width
        if rc == L.ENOSPC:
            return "the reply is longer than the daemon renders"
        return ""

    # ---- classify --------------------------------------------------------------------------

    def classify(self, reply):
        """Classifies a reply as received (str or bytes; one line or many, possibly quoted in
        an MTA's or a DSN's words): a Classification. When no code is found at all the answer
        still comes, with basic and enhanced None, kind "unknown" and the reason the text
        gives (no exception)."""
        raw = _bytes(reply)

        def image(img):
            size = len(raw) + 1
            for _ in range(2):
                c = L.smtpstatus_classification()
                text = ctypes.create_string_buffer(size)
                L.smtpstatus_classify(img, raw, len(raw), byref(c), text, size)
                if c.text_len < size:
                    break
                size = c.text_len + 1
            return self._classification(img, c, text.value)

        def daemon(h):
            with _Result() as r:
                rc = L.smtpstatus_classify_remote(h, raw, len(raw), byref(r.ptr))
                if rc != 0:
                    raise r.fail(rc)
                c = L.smtpstatus_classification()
                text = c_char_p()
                if L.smtpstatus_result_classification(r.ptr, byref(c), byref(text)) != 0:
                    raise _error(L.EPROTO)
                # The socket API has no line count; it depends on the reply's syntax alone.
                syntax = L.smtpstatus_classification()
                L.smtpstatus_classify(None, raw, len(raw), byref(syntax), None, 0)
                c.line_count = syntax.line_count
                return self._classification(None, c, text.value, _result_vendors(r.ptr, 0))

        return self._answer(image, daemon)

    @staticmethod
    def _classification(img, c, text, vendors=None):
        """answer_json_classification()."""
        problems = []
        bit = 1
        while bit < (1 << 32):
            if c.problems & bit:
                name = L.smtpstatus_problem_name(bit)
                if name is not None:
                    problems.append(_str(name))
            bit <<= 1
        has = bool(c.has_enhanced)
        return Classification({
            "basic": c.basic or None,
            "enhanced": _code_str(c.enhanced) if has else None,
            "kind": _str(L.smtpstatus_kind_name(c.kind)),
            "retry": bool(c.retry),
            "reason": _reason(c.reason),
            "recipient_invalid": bool(c.recipient_invalid),
            "retry_after": c.retry_after,
            "rule": _str_or_none(c.rule),
            "rule_note": _str_or_none(c.rule_note),
            "status": _code_str(c.status) if c.has_status else None,
            "subject": _str(c.entry.subject.title) if has and c.entry.subject_registered
            else None,
            "registered": has and bool(c.entry.registered),
            "problems": problems,
            "text": _str(text) if text is not None else "",
            "line_count": c.line_count,
            # The lookup's entry, providers' meanings included (the daemon's when it answered).
            "entry": (_entry(img, c.entry, _image_vendors(img, code=c.entry.code)
                             if img is not None else vendors) if has else None),
        })

    # ---- bounce ----------------------------------------------------------------------------

    def bounce(self, message):
        """Parses a bounce message (str or bytes: a delivery status notification, RFC 3464, or
        a qmail, Exim, Gmail or Microsoft bounce) through the daemon, which holds the MIME
        parser: a Record with format, reporting_mta, truncated and recipients, one Record per
        recipient with the fields of `smtpstatus --json bounce` (final_recipient, action,
        failed, status, remote_mta, diagnostic_code, reason, retry, recipient_invalid,
        retry_after, rule, ...). A message that is no bounce raises InvalidArgument; an offline
        Client raises Unavailable (the `smtpstatus --offline bounce` program parses without a
        daemon)."""
        raw = _bytes(message)
        h = self._handle()
        with _Result() as r:
            rc = L.smtpstatus_bounce_remote(h, raw, len(raw), byref(r.ptr))
            if rc != 0:
                raise r.fail(rc)
            fmt, mta = c_char_p(), c_char_p()
            count, truncated = c_size_t(), c_int()
            if L.smtpstatus_result_bounce(r.ptr, byref(fmt), byref(mta), byref(count),
                                          byref(truncated)) != 0:
                raise _error(L.EPROTO)
            recipients = []
            for i in range(count.value):
                b = L.smtpstatus_bounce_recipient()
                if L.smtpstatus_result_bounce_recipient(r.ptr, i, byref(b)) != 0:
                    raise _error(L.EPROTO)
                recipients.append(Record({
                    "final_recipient": _str_or_none(b.final_recipient),
                    "original_recipient": _str_or_none(b.original_recipient),
                    "action": _str_or_none(b.action),
                    "failed": bool(b.failed),
                    "status": _str_or_none(b.status),
                    "remote_mta": _str_or_none(b.remote_mta),
                    "diagnostic_code": _str_or_none(b.diagnostic_code),
                    "last_attempt_date": _str_or_none(b.last_attempt_date),
                    "will_retry_until": _str_or_none(b.will_retry_until),
                    "reason": _reason(b.reason) or "other",
                    "retry": bool(b.retry),
                    "recipient_invalid": bool(b.recipient_invalid),
                    "retry_after": b.retry_after,
                    "rule": _str_or_none(b.rule),
                }))
            return Record({"format": _str_or_none(fmt.value), "reporting_mta":
                           _str_or_none(mta.value), "truncated": bool(truncated.value),
                           "recipients": recipients})

    # ---- the daemon's registry -------------------------------------------------------------

    def info(self):
        """What serves the answers: the image's facts (source, generation, built_at, digest,
        checksum, size, version, counts), the daemon's last reload and rules when it answers,
        and which path answers (answered_by: "shared", "socket" or "offline"). The fields are
        those of `smtpstatus --json info`."""
        if self.offline:
            return Info(_nested(self._image_info(self._img, None, False, None)))
        h = self._handle()
        where = L.smtpstatus_client_status()

        def image(img):
            # After the pin, so that it says which image answers (as the command does).
            L.smtpstatus_client_status_get(h, byref(where))
            # A copy is taken only when no daemon answered on image.sock: probe its socket too,
            # so that a stopped daemon is not taken for a running one.
            down = where.origin == L.ORIGIN_COPY and not self._probe()
            if down:
                return Info(_nested(self._image_info(img, where, True, None)))
            with _Result() as r:
                if L.smtpstatus_registry_info_get(h, byref(r.ptr)) != 0:
                    L.smtpstatus_result_free(r.ptr)
                    r.ptr = c_void_p()
                return Info(_nested(self._image_info(img, where, False, r.ptr or None)))

        def daemon(h):
            L.smtpstatus_client_status_get(h, byref(where))
            with _Result() as r:
                rc = L.smtpstatus_registry_info_get(h, byref(r.ptr))
                info = L.smtpstatus_registry_info()
                if rc == 0 and L.smtpstatus_result_registry(r.ptr, byref(info)) != 0:
                    rc = L.EPROTO
                if rc != 0:
                    raise r.fail(rc)
                d = _registry(info, r.ptr)
                d["last_reload"] = _last_reload(r.ptr)
                rules = _rules(r.ptr)
                if rules is not None:
                    d["rules"] = rules[0]
                _where(d, where)
                return Info(_nested(d))

        return self._answer(image, daemon)

    def _probe(self):
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            s.connect(self.socket_path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    @staticmethod
    def _image_info(img, where, down, r):
        s = L.smtpstatus_image_summary()
        L.smtpstatus_image_summarize(img, byref(s))
        d = {"source": _str(s.source), "generation": s.generation, "built_at": s.built_at,
             "digest": "%016x" % s.source_digest, "checksum": "%016x" % s.checksum,
             "size": s.size, "version": s.version, "classes": s.class_count,
             "subjects": s.subject_count, "codes": s.code_count, "basic_codes": s.basic_count}
        if r is not None:
            d["last_reload"] = _last_reload(r)
            rules = _rules(r)
            if rules is not None:
                d["rules"] = rules[0]
        _where(d, where)
        published = where.published_at if where is not None and where.shared else 0
        if published > 0:
            d["published_at"] = published
        if where is not None:
            d["daemon_running"] = not down
        return d

    def reload(self, directory=None):
        """Asks the daemon to reload its registry (from `directory`, else its configured one).
        Root, the daemon's user and its --admin-group only (PermissionDenied otherwise).
        Returns Reloaded (registry, diff, rules_diff); ReloadFailed, with .problems, when the
        registry is broken: nothing changed then."""
        h = self._handle()
        path = os.fsencode(os.path.realpath(directory)) if directory is not None else None
        if directory is not None and not os.path.isdir(path):
            raise InvalidArgument(L.EINVAL, "%s: not a directory" % directory)
        with _Result() as r:
            rc = L.smtpstatus_reload(h, path, byref(r.ptr))
            info = L.smtpstatus_registry_info()
            if rc == 0 and L.smtpstatus_result_registry(r.ptr, byref(info)) != 0:
                rc = L.EPROTO
            if rc != 0:
                raise r.fail(rc)
            registry = _registry(info, r.ptr)
            d = {"registry": registry, "diff": _diff(info, r.ptr)}
            rules = _rules(r.ptr)
            if rules is not None:
                registry["rules"] = rules[0]
                d["rules_diff"] = _rule_diff(rules[1])
            return Reloaded(_nested(d))

    def stats(self):
        """The daemon's counters: {"requests": {...}, "errors": {...}, "connections_open": N,
        ...}, as `smtpstatus --json stats` prints them."""
        h = self._handle()
        with _Result() as r:
            rc = L.smtpstatus_stats(h, byref(r.ptr))
            if rc != 0:
                raise r.fail(rc)
            d = {}
            group, name, value = c_char_p(), c_char_p(), c_uint64(0)
            i = 0
            while L.smtpstatus_result_counter(r.ptr, i, byref(group), byref(name),
                                              byref(value)) == 0:
                g = _str(group.value)
                where = d if g == "daemon" else d.setdefault(g, {})
                where[_str(name.value)] = value.value
                i += 1
            return Record(_nested(d))


# ---- the default client ---------------------------------------------------------------------

_default = None
_default_lock = threading.Lock()


def default_client():
    """The Client the module-level functions use, opened on first use: offline when
    $SMTPSTATUS_OFFLINE is "1", else on $SMTPSTATUS_RUNDIR or /run/smtpstatusd."""
    global _default
    c = _default
    if c is None:
        with _default_lock:
            if _default is None:
                _default = Client(offline=os.environ.get("SMTPSTATUS_OFFLINE") == "1")
            c = _default
    return c


def lookup(code):
    """Client.lookup() on the default client."""
    return default_client().lookup(code)


def basic(code):
    """Client.basic() on the default client."""
    return default_client().basic(code)


def search(query):
    """Client.search() on the default client."""
    return default_client().search(query)


def render(basic, enhanced=None, text=None, width=0, smtputf8=False, dsn=False):
    """Client.render() on the default client."""
    return default_client().render(basic, enhanced, text, width, smtputf8, dsn)


def classify(reply):
    """Client.classify() on the default client."""
    return default_client().classify(reply)


def bounce(message):
    """Client.bounce() on the default client."""
    return default_client().bounce(message)


def info():
    """Client.info() on the default client."""
    return default_client().info()


def reload(directory=None):
    """Client.reload() on the default client."""
    return default_client().reload(directory)


def stats():
    """Client.stats() on the default client."""
    return default_client().stats()
