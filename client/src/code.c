/*
 * The syntax of SMTP status codes: enhanced codes (RFC 3463, "5.1.1"), the patterns the IANA
 * registry writes its class and subject rows with ("5.XXX.XXX", "X.1.XXX"), and basic reply
 * codes (RFC 5321 4.2, "550"). Everything that reads a code from outside (the CSV loader, the
 * reply classifier, the RPC and HTTP servers, the CLI) comes through here, so that one grammar
 * decides what a code is. The parsers take a pointer and a length rather than a C string, since
 * codes arrive in the middle of reply lines and CSV fields, and they say which byte is wrong so
 * that a diagnostic can point at it. Nothing here allocates, prints or keeps state.
 */
#include "smtpstatus.h"

#include <string.h>

/* RFC 3463 2: subject and detail are 1 to 3 digits. */
#define MAX_FIELD_DIGITS 3

/* Our own test rather than isdigit(), whose answer depends on the locale and whose argument
 * must not be a negative char. */
static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
is_class_digit(char c)
{
    return c == '2' || c == '4' || c == '5';
}

static int
is_x(char c)
{
    return c == 'X' || c == 'x';
}

/*
 * Reads the digits of a subject or detail at s[*pos..len), stopping after one more than the
 * grammar allows so that the caller can point at the first digit too many. Returns how many it
 * read (0 to MAX_FIELD_DIGITS + 1) and their value in *value; advances *pos past them.
 */
static size_t
scan_field(const char *s, size_t len, size_t *pos, uint16_t *value)
{
    size_t n = 0;
    unsigned v = 0;

    while (*pos < len && n <= MAX_FIELD_DIGITS && is_digit(s[*pos])) {
        v = v * 10 + (unsigned)(s[*pos] - '0');
        (*pos)++;
        n++;
    }
    *value = (uint16_t)v;
    return n;
}

/*
 * Reads a subject or detail and reports `err` when it has no digits or too many. On error *pos
 * is the offending byte: where a digit was expected, or the first digit too many.
 */
static int
parse_field(const char *s, size_t len, size_t *pos, uint16_t *value, int err)
{
    size_t n = scan_field(s, len, pos, value);

    if (n == 0)
        return err;
    if (n > MAX_FIELD_DIGITS) {
        (*pos)--;
        return err;
    }
    return 0;
}

/* Consumes the '.' at s[*pos], or returns `err` leaving *pos on the byte that is not one. */
static int
expect_dot(const char *s, size_t len, size_t *pos, int err)
{
    if (*pos >= len || s[*pos] != '.')
        return err;
    (*pos)++;
    return 0;
}

/* The body of smtpstatus_code_parse(), with *pos always the byte it got to. */
static int
parse_code(const char *s, size_t len, unsigned flags, smtpstatus_code *out, size_t *pos)
{
    smtpstatus_code code;
    int err;

    *pos = 0;
    if (out == NULL || (s == NULL && len > 0) || (flags & ~SMTPSTATUS_PARSE_ALLOW_X) != 0)
        return SMTPSTATUS_EINVAL;
    if (len == 0)
        return SMTPSTATUS_EEMPTY;

    if (is_class_digit(s[0])) {
        code.cls = (uint8_t)(s[0] - '0');
    } else if (is_x(s[0])) {
        if ((flags & SMTPSTATUS_PARSE_ALLOW_X) == 0)
            return SMTPSTATUS_ENOCLASSX;
        code.cls = 0;
    } else {
        return SMTPSTATUS_ECLASS;
    }
    *pos = 1;
    /* "55.1.1" has a class of two digits, which is more to the point than a missing dot. */
    if (*pos < len && is_digit(s[*pos]))
        return SMTPSTATUS_ECLASS;
    if ((err = expect_dot(s, len, pos, SMTPSTATUS_EDOT)) != 0)
        return err;
    if ((err = parse_field(s, len, pos, &code.subject, SMTPSTATUS_ESUBJECT)) != 0)
        return err;
    if ((err = expect_dot(s, len, pos, SMTPSTATUS_EDOT)) != 0)
        return err;
    if ((err = parse_field(s, len, pos, &code.detail, SMTPSTATUS_EDETAIL)) != 0)
        return err;
    if (*pos != len)
        return SMTPSTATUS_ETRAILING;
    *out = code;
    return 0;
}

/*
 * Parses exactly one enhanced status code from s[0..len); see smtpstatus.h. Errors, checked in
 * this order and each with *errpos on the offending byte: SMTPSTATUS_EINVAL (NULL out, NULL s
 * with len > 0, unknown flags; errpos 0), EEMPTY, ECLASS (not 2, 4, 5, or X with the flag; also
 * a second class digit), ENOCLASSX (X without SMTPSTATUS_PARSE_ALLOW_X), EDOT, ESUBJECT (no
 * digit, or a fourth one), EDOT, EDETAIL, ETRAILING. Reads no byte at or past s[len], so s need
 * not be NUL-terminated and may contain NULs. *out is written only on success.
 */
int
smtpstatus_code_parse(const char *s, size_t len, unsigned flags, smtpstatus_code *out,
                      size_t *errpos)
{
    size_t pos;
    int err = parse_code(s, len, flags, out, &pos);

    if (errpos != NULL)
        *errpos = pos;
    return err;
}

/* Appends the decimal digits of v (0 to 999) to buf at n; returns the new length. */
static size_t
put_field(char *buf, size_t n, unsigned v)
{
    if (v >= 100)
        buf[n++] = (char)('0' + v / 100);
    if (v >= 10)
        buf[n++] = (char)('0' + v / 10 % 10);
    buf[n++] = (char)('0' + v % 10);
    return n;
}

/*
 * Writes the canonical form of `code` (no leading zeros; "X" for class 0) and a NUL into
 * buf[0..size), and returns its length without the NUL. Returns SMTPSTATUS_EINVAL for a class
 * other than 0, 2, 4, 5, a subject or detail over 999, or a NULL buf with size > 0, and
 * SMTPSTATUS_ENOSPC when size is below the length plus one (SMTPSTATUS_CODE_STRLEN is always
 * enough). On any error buf holds "" when size > 0: a truncated code such as "5.1" would read
 * as a different, valid code.
 */
int
smtpstatus_code_format(smtpstatus_code code, char *buf, size_t size)
{
    char tmp[SMTPSTATUS_CODE_STRLEN];
    size_t n = 0;

    if (buf == NULL && size > 0)
        return SMTPSTATUS_EINVAL;
    if (size > 0)
        buf[0] = '\0';
    if ((code.cls != 0 && code.cls != 2 && code.cls != 4 && code.cls != 5) || code.subject > 999 ||
        code.detail > 999)
        return SMTPSTATUS_EINVAL;

    tmp[n++] = code.cls == 0 ? 'X' : (char)('0' + code.cls);
    tmp[n++] = '.';
    n = put_field(tmp, n, code.subject);
    tmp[n++] = '.';
    n = put_field(tmp, n, code.detail);
    if (n >= size)
        return SMTPSTATUS_ENOSPC;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return (int)n;
}

/*
 * Matches s[*pos..len) against `want`, letters case-insensitively (want is upper case).
 * Returns 0, or SMTPSTATUS_EPATTERN with *pos on the first byte that differs or is missing.
 */
static int
expect_letters(const char *s, size_t len, size_t *pos, const char *want)
{
    for (; *want != '\0'; want++, (*pos)++) {
        if (*pos >= len)
            return SMTPSTATUS_EPATTERN;
        char c = s[*pos];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != *want)
            return SMTPSTATUS_EPATTERN;
    }
    return 0;
}

/* The body of smtpstatus_pattern_parse(), with *pos always the byte it got to. */
static int
parse_pattern(const char *s, size_t len, smtpstatus_pattern *out, size_t *pos)
{
    smtpstatus_pattern pat;
    int err;

    *pos = 0;
    if (out == NULL || (s == NULL && len > 0))
        return SMTPSTATUS_EINVAL;
    if (len == 0)
        return SMTPSTATUS_EEMPTY;

    if (is_class_digit(s[0])) {
        pat.cls = (uint8_t)(s[0] - '0');
        pat.subject = 0;
        *pos = 1;
        if ((err = expect_letters(s, len, pos, ".XXX.XXX")) != 0)
            return err;
    } else if (is_x(s[0])) {
        pat.cls = 0;
        *pos = 1;
        if ((err = expect_dot(s, len, pos, SMTPSTATUS_EPATTERN)) != 0)
            return err;
        if ((err = parse_field(s, len, pos, &pat.subject, SMTPSTATUS_ESUBJECT)) != 0)
            return err;
        if ((err = expect_dot(s, len, pos, SMTPSTATUS_EPATTERN)) != 0)
            return err;
        /* IANA's files write X.S.XXX; X.S.YYY is taken too, for registries written by hand. */
        if (*pos < len && (s[*pos] == 'Y' || s[*pos] == 'y'))
            err = expect_letters(s, len, pos, "YYY");
        else
            err = expect_letters(s, len, pos, "XXX");
        if (err != 0)
            return err;
    } else {
        return SMTPSTATUS_EPATTERN;
    }
    if (*pos != len)
        return SMTPSTATUS_EPATTERN;
    *out = pat;
    return 0;
}

/*
 * Parses an IANA pattern from s[0..len): "C.XXX.XXX" (C one of 2, 4, 5) sets cls to C and
 * subject to 0; "X.S.XXX" or "X.S.YYY" (S 1 to 3 digits) sets cls to 0 and subject to S. The
 * letters may be either case. Returns 0; SMTPSTATUS_EINVAL for a NULL out, or NULL s with
 * len > 0; EEMPTY; ESUBJECT for a subject with no digit or a fourth one; EPATTERN for anything
 * else, trailing bytes included. *errpos (if not NULL) is the offending byte, len on success.
 * Reads no byte at or past s[len]; *out is written only on success.
 */
int
smtpstatus_pattern_parse(const char *s, size_t len, smtpstatus_pattern *out, size_t *errpos)
{
    size_t pos;
    int err = parse_pattern(s, len, out, &pos);

    if (errpos != NULL)
        *errpos = pos;
    return err;
}

/*
 * Parses a basic reply code: exactly three bytes, per RFC 5321 4.2 %x32-35 %x30-35 %x30-39.
 * Returns 0 and sets *out (200 to 559); SMTPSTATUS_EINVAL for a NULL out, or NULL s with
 * len > 0; SMTPSTATUS_EBASIC for anything else, including the empty string.
 */
int
smtpstatus_basic_parse(const char *s, size_t len, uint16_t *out)
{
    if (out == NULL || (s == NULL && len > 0))
        return SMTPSTATUS_EINVAL;
    if (len != 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' || !is_digit(s[2]))
        return SMTPSTATUS_EBASIC;
    *out = (uint16_t)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    return 0;
}
