"""The ctypes face of libsmtpstatus: where the shared library is found, the C structs of
client/include/smtpstatus.h as ctypes Structures (same names, same field names, same order), and
the argument and result types of every function the package calls. Nothing here allocates or
frees a result; the owner functions (smtpstatus_result_free, smtpstatus_unpin,
smtpstatus_close) are called by __init__.py. No compiler is needed: the structs are declared
here, and tests/python/test_abi.py checks their sizes and offsets against the C header.

The library is found, in order, at $SMTPSTATUS_LIBRARY (a path), by ctypes.util.find_library
("smtpstatus"), and as "libsmtpstatus.so.0" through the dynamic loader's search path.
"""
import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_char, c_char_p, c_int, c_int64, c_size_t, c_uint,
                    c_uint8, c_uint16, c_uint32, c_uint64, c_void_p)

SONAME = "libsmtpstatus.so.0"


def _load():
    path = os.environ.get("SMTPSTATUS_LIBRARY")
    if path:
        return ctypes.CDLL(path)
    found = ctypes.util.find_library("smtpstatus")
    # find_library may name another major version (libsmtpstatus.so.1): only ours will do.
    if found and found != SONAME and not found.endswith("/" + SONAME):
        found = None
    return ctypes.CDLL(found or SONAME)


lib = _load()

# ---- the structs ---------------------------------------------------------------------------


class smtpstatus_code(Structure):
    _fields_ = [("cls", c_uint8), ("subject", c_uint16), ("detail", c_uint16)]


class smtpstatus_part(Structure):
    _fields_ = [("title", c_char_p), ("description", c_char_p), ("reference", c_char_p),
                ("submitter", c_char_p), ("change_controller", c_char_p),
                ("field_count", c_uint32), ("fields_first_", c_uint32)]


class smtpstatus_entry(Structure):
    _fields_ = [("code", smtpstatus_code), ("registered", c_int),
                ("subject_registered", c_int), ("cls", smtpstatus_part),
                ("subject", smtpstatus_part), ("title", c_char_p), ("description", c_char_p),
                ("reference", c_char_p), ("submitter", c_char_p),
                ("change_controller", c_char_p), ("basic_codes_raw", c_char_p),
                ("basic_codes", POINTER(c_uint16)), ("basic_code_count", c_uint32),
                ("basic_classes", c_uint32), ("assoc_flags", c_uint32), ("flags", c_uint32),
                ("line", c_uint32), ("field_count", c_uint32), ("fields_first_", c_uint32)]


class smtpstatus_field(Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class smtpstatus_basic(Structure):
    _fields_ = [("code", c_uint16), ("standard", c_int), ("text", c_char_p),
                ("reference", c_char_p), ("sample_text", c_char_p), ("assoc_count", c_uint32),
                ("assoc_first_", c_uint32)]


class smtpstatus_render_options(Structure):
    _fields_ = [("width", c_uint), ("smtputf8", c_int), ("form", c_int)]


class smtpstatus_vendor(Structure):
    _fields_ = [("provider", c_char_p), ("code", c_char_p), ("meaning", c_char_p),
                ("reason", c_int), ("source", c_char_p)]


class smtpstatus_classification(Structure):
    _fields_ = [("basic", c_uint16), ("has_enhanced", c_int), ("enhanced", smtpstatus_code),
                ("kind", c_int), ("retry", c_int), ("problems", c_uint),
                ("line_count", c_uint), ("entry", smtpstatus_entry), ("text_len", c_size_t),
                ("reason", c_int), ("recipient_invalid", c_int), ("retry_after", c_uint32),
                ("rule", c_char_p), ("rule_note", c_char_p), ("has_status", c_int),
                ("status", smtpstatus_code)]


class smtpstatus_image_summary(Structure):
    _fields_ = [("version", c_uint32), ("generation", c_uint64), ("built_at", c_uint64),
                ("source_digest", c_uint64), ("checksum", c_uint64), ("size", c_uint64),
                ("source", c_char_p), ("class_count", c_uint32), ("subject_count", c_uint32),
                ("code_count", c_uint32), ("basic_count", c_uint32)]


class smtpstatus_options(Structure):
    _fields_ = [("rundir", c_char_p), ("timeout_ms", c_uint), ("socket_only", c_int)]


class smtpstatus_basic_answer(Structure):
    _fields_ = [("code", c_uint16), ("standard", c_int), ("text", c_char_p),
                ("reference", c_char_p), ("assoc_count", c_size_t)]


class smtpstatus_registry_info(Structure):
    _fields_ = [("generation", c_uint64), ("source", c_char_p), ("loaded_at", c_uint64),
                ("digest", c_char_p), ("class_count", c_uint32), ("subject_count", c_uint32),
                ("code_count", c_uint32), ("basic_count", c_uint32),
                ("added", POINTER(c_char_p)), ("added_count", c_size_t),
                ("removed", POINTER(c_char_p)), ("removed_count", c_size_t),
                ("changed", POINTER(c_char_p)), ("changed_count", c_size_t),
                ("warnings", POINTER(c_char_p)), ("warning_count", c_size_t),
                ("field_change_count", c_size_t), ("descriptions_differ", c_uint32)]


class smtpstatus_code_change(Structure):
    _fields_ = [("code", c_char_p), ("field", c_char_p), ("old_value", c_char_p),
                ("new_value", c_char_p)]


class smtpstatus_reload_attempt(Structure):
    _fields_ = [("at", c_uint64), ("source", c_char_p), ("trigger", c_char_p), ("ok", c_int),
                ("problems", POINTER(c_char_p)), ("problem_count", c_size_t)]


class smtpstatus_rules_info(Structure):
    _fields_ = [("file", c_char_p), ("admin_count", c_uint32), ("builtin_count", c_uint32),
                ("change_count", c_size_t)]


class smtpstatus_bounce_recipient(Structure):
    _fields_ = [("final_recipient", c_char_p), ("original_recipient", c_char_p),
                ("action", c_char_p), ("failed", c_int), ("status", c_char_p),
                ("remote_mta", c_char_p), ("diagnostic_code", c_char_p),
                ("last_attempt_date", c_char_p), ("will_retry_until", c_char_p),
                ("reason", c_int), ("retry", c_int), ("recipient_invalid", c_int),
                ("retry_after", c_uint32), ("rule", c_char_p)]


class smtpstatus_rule_change(Structure):
    _fields_ = [("change", c_char_p), ("name", c_char_p), ("was", c_char_p),
                ("reason", c_char_p), ("basic", c_char_p), ("enhanced", c_char_p),
                ("pattern", c_char_p), ("admin", c_int)]


class smtpstatus_client_status(Structure):
    _fields_ = [("shared", c_int), ("image_path", c_char_p), ("generation", c_uint64),
                ("error", c_int), ("error_detail", c_char * 320), ("pins", c_uint64),
                ("socket_calls", c_uint64), ("attaches", c_uint64), ("refusals", c_uint64),
                ("mappings", c_uint32), ("origin", c_int), ("published_at", c_int64)]


STRUCTS = [smtpstatus_code, smtpstatus_part, smtpstatus_entry, smtpstatus_field,
           smtpstatus_basic, smtpstatus_render_options, smtpstatus_vendor,
           smtpstatus_classification, smtpstatus_image_summary, smtpstatus_options,
           smtpstatus_basic_answer, smtpstatus_registry_info, smtpstatus_code_change,
           smtpstatus_reload_attempt,
           smtpstatus_rules_info, smtpstatus_rule_change, smtpstatus_client_status]

# ---- constants (the header's values: part of the ABI) --------------------------------------

PARSE_ALLOW_X = 0x1
FORM_REPLY, FORM_DSN = 0, 1
ASSOC_ANY = 0x1
ORIGIN_NONE, ORIGIN_DAEMON, ORIGIN_COPY = 0, 1, 2
WARNINGS = [(0x1, "not_associated"), (0x2, "unregistered"), (0x4, "replaced"),
            (0x8, "split_word"), (0x10, "code_like_text")]

# SMTPSTATUS_ERRNO_MAP: name (without the SMTPSTATUS_ prefix) and value.
ERRORS = {
    "EINVAL": -4001, "ENOMEM": -4002, "ENOSPC": -4003, "EEMPTY": -4010, "ECLASS": -4011,
    "ENOCLASSX": -4012, "ESUBJECT": -4013, "EDETAIL": -4014, "EDOT": -4015,
    "ETRAILING": -4016, "EPATTERN": -4017, "EBASIC": -4018, "EIMG_TRUNCATED": -4030,
    "EIMG_MAGIC": -4031, "EIMG_VERSION": -4032, "EIMG_SIZE": -4033, "EIMG_CHECKSUM": -4034,
    "EIMG_BOUNDS": -4035, "EIMG_CORRUPT": -4036, "EIMG_FOREIGN": -4037,
    "EIMG_NOTFILE": -4038, "EIMG_MISSING": -4039, "ENOTFOUND": -4040,
    "ECLASSMISMATCH": -4050, "E3YZ": -4051, "ENONASCII": -4052, "EUTF8": -4053,
    "ENOREPLY": -4054, "EUNAVAILABLE": -4060, "ETIMEOUT": -4061, "EPROTO": -4062,
    "EPERM": -4063, "ERELOAD": -4064, "EBUSY": -4065, "EDAEMON": -4066,
    "ERUNDIR_FOREIGN": -4070, "EPEER_FOREIGN": -4071,
}
globals().update(ERRORS)

# ---- the functions -------------------------------------------------------------------------

_P = POINTER
_IMG = c_void_p      # const smtpstatus_image *
_H = c_void_p        # smtpstatus *
_R = c_void_p        # smtpstatus_result *


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    globals()[name] = f


_fn("smtpstatus_strerror", c_char_p, c_int)
_fn("smtpstatus_err_name", c_char_p, c_int)
_fn("smtpstatus_code_parse", c_int, c_char_p, c_size_t, c_uint, _P(smtpstatus_code),
    _P(c_size_t))
_fn("smtpstatus_code_format", c_int, smtpstatus_code, c_char_p, c_size_t)
_fn("smtpstatus_basic_parse", c_int, c_char_p, c_size_t, _P(c_uint16))
_fn("smtpstatus_image_embedded", _IMG)
_fn("smtpstatus_image_summarize", None, _IMG, _P(smtpstatus_image_summary))
_fn("smtpstatus_image_lookup", c_int, _IMG, smtpstatus_code, _P(smtpstatus_entry))
_fn("smtpstatus_image_entry_field", c_int, _IMG, _P(smtpstatus_entry), c_uint32,
    _P(smtpstatus_field))
_fn("smtpstatus_image_code_count", c_uint32, _IMG)
_fn("smtpstatus_image_code_at", c_int, _IMG, c_uint32, _P(smtpstatus_entry))
_fn("smtpstatus_entry_matches", c_int, _P(smtpstatus_entry), c_char_p)
_fn("smtpstatus_image_lookup_basic", c_int, _IMG, c_uint16, _P(smtpstatus_basic))
_fn("smtpstatus_image_basic_assoc", c_int, _IMG, _P(smtpstatus_basic), c_uint32,
    _P(smtpstatus_code), _P(c_int))
_fn("smtpstatus_render", c_int, _IMG, c_uint16, _P(smtpstatus_code), c_char_p, c_size_t,
    _P(smtpstatus_render_options), c_char_p, c_size_t, _P(c_size_t), _P(c_uint))
_fn("smtpstatus_reason_name", c_char_p, c_int)
_fn("smtpstatus_image_vendors", c_int, _IMG, smtpstatus_code, _P(smtpstatus_vendor), c_size_t,
    _P(c_size_t))
_fn("smtpstatus_image_vendor_token", c_int, _IMG, c_char_p, c_size_t, _P(smtpstatus_vendor),
    c_size_t, _P(c_size_t))
_fn("smtpstatus_classify", c_int, _IMG, c_char_p, c_size_t, _P(smtpstatus_classification),
    c_char_p, c_size_t)
_fn("smtpstatus_kind_name", c_char_p, c_int)
_fn("smtpstatus_problem_name", c_char_p, c_uint)

_fn("smtpstatus_open", c_int, _P(smtpstatus_options), _P(_H))
_fn("smtpstatus_close", None, _H)
_fn("smtpstatus_socket_path", c_char_p, _H)
_fn("smtpstatus_result_free", None, _R)
_fn("smtpstatus_result_message", c_char_p, _R)
_fn("smtpstatus_result_problem", c_char_p, _R, c_size_t)
_fn("smtpstatus_lookup", c_int, _H, _P(c_char_p), c_size_t, _P(_R))
_fn("smtpstatus_search", c_int, _H, c_char_p, c_uint, _P(_R))
_fn("smtpstatus_result_entry_count", c_size_t, _R)
_fn("smtpstatus_result_entry", c_int, _R, c_size_t, _P(smtpstatus_entry), _P(c_char_p))
_fn("smtpstatus_result_vendor_count", c_size_t, _R, c_size_t)
_fn("smtpstatus_result_vendor", c_int, _R, c_size_t, c_size_t, _P(smtpstatus_vendor))
_fn("smtpstatus_result_entry_code", c_char_p, _R, c_size_t)
_fn("smtpstatus_lookup_basic_remote", c_int, _H, c_uint16, _P(_R))
_fn("smtpstatus_result_basic", c_int, _R, _P(smtpstatus_basic_answer))
_fn("smtpstatus_result_basic_assoc", c_int, _R, c_size_t, _P(smtpstatus_code), _P(c_int),
    _P(c_char_p))
_fn("smtpstatus_render_remote", c_int, _H, c_uint16, c_char_p, c_char_p,
    _P(smtpstatus_render_options), _P(_R))
_fn("smtpstatus_result_render_output", c_char_p, _R)
_fn("smtpstatus_result_render_warning", c_char_p, _R, c_size_t)
_fn("smtpstatus_classify_remote", c_int, _H, c_char_p, c_size_t, _P(_R))
_fn("smtpstatus_result_classification", c_int, _R, _P(smtpstatus_classification),
    _P(c_char_p))
_fn("smtpstatus_bounce_remote", c_int, _H, c_char_p, c_size_t, _P(_R))
_fn("smtpstatus_result_bounce", c_int, _R, _P(c_char_p), _P(c_char_p), _P(c_size_t),
    _P(c_int))
_fn("smtpstatus_result_bounce_recipient", c_int, _R, c_size_t,
    _P(smtpstatus_bounce_recipient))
_fn("smtpstatus_registry_info_get", c_int, _H, _P(_R))
_fn("smtpstatus_reload", c_int, _H, c_char_p, _P(_R))
_fn("smtpstatus_result_registry", c_int, _R, _P(smtpstatus_registry_info))
_fn("smtpstatus_result_last_reload", c_int, _R, _P(smtpstatus_reload_attempt))
_fn("smtpstatus_result_rules", c_int, _R, _P(smtpstatus_rules_info))
_fn("smtpstatus_result_rule_change", c_int, _R, c_size_t, _P(smtpstatus_rule_change))
_fn("smtpstatus_result_code_change", c_int, _R, c_size_t, _P(smtpstatus_code_change))
_fn("smtpstatus_stats", c_int, _H, _P(_R))
_fn("smtpstatus_result_counter", c_int, _R, c_size_t, _P(c_char_p), _P(c_char_p),
    _P(c_uint64))
_fn("smtpstatus_pin", c_int, _H, _P(_IMG))
_fn("smtpstatus_unpin", None, _H, _IMG)
_fn("smtpstatus_client_status_get", None, _H, _P(smtpstatus_client_status))
