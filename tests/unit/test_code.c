/*
 * Unit tests of code syntax (client/src/code.c) and error names (client/src/error.c): the RFC
 * 3463 enhanced-code parser with the exact error and byte offset for each way a code can be
 * wrong, the canonical formatter and its round trip over every code, IANA patterns, RFC 5321
 * basic reply codes, and smtpstatus_strerror()/smtpstatus_err_name() over the whole error map.
 * Every parse goes through a heap copy of exactly `len` bytes, so that ASan catches a parser
 * that reads past the length it was given or relies on a NUL.
 */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

/* The length of a string literal that may contain NULs. */
#define LIT(s) (s), (sizeof(s) - 1)

/* Copies s[0..len) into a heap block of exactly len bytes (one unreadable byte when len is 0),
 * so that any read at or past s[len] is an ASan error. The caller frees it. */
static char *
exact_copy(const char *s, size_t len)
{
    char *p = malloc(len > 0 ? len : 1);
    assert_non_null(p);
    if (len > 0)
        memcpy(p, s, len);
    return p;
}

static int
parse_exact(const char *s, size_t len, unsigned flags, smtpstatus_code *out, size_t *errpos)
{
    char *p = exact_copy(s, len);
    int r = smtpstatus_code_parse(len > 0 ? p : s, len, flags, out, errpos);
    free(p);
    return r;
}

static int
pattern_exact(const char *s, size_t len, smtpstatus_pattern *out, size_t *errpos)
{
    char *p = exact_copy(s, len);
    int r = smtpstatus_pattern_parse(len > 0 ? p : s, len, out, errpos);
    free(p);
    return r;
}

static int
basic_exact(const char *s, size_t len, uint16_t *out)
{
    char *p = exact_copy(s, len);
    int r = smtpstatus_basic_parse(len > 0 ? p : s, len, out);
    free(p);
    return r;
}

/* Field by field: the struct has a padding byte after cls. */
static int
code_equal(smtpstatus_code a, smtpstatus_code b)
{
    return a.cls == b.cls && a.subject == b.subject && a.detail == b.detail;
}

/* Prints bytes with escapes, for failure messages about inputs that hold NULs or spaces. */
static const char *
show(const char *s, size_t len)
{
    static char buf[128];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x21 && c < 0x7f)
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", c);
    }
    buf[n] = '\0';
    return buf;
}

/* ---- smtpstatus_code_parse: valid codes ---------------------------------------------------- */

struct valid_case {
    const char *s;
    unsigned flags;
    uint8_t cls;
    uint16_t subject;
    uint16_t detail;
};

static const struct valid_case valid_cases[] = {
    {"2.0.0", 0, 2, 0, 0},
    {"5.1.1", 0, 5, 1, 1},
    {"4.2.2", 0, 4, 2, 2},
    {"4.7.0", 0, 4, 7, 0},
    {"5.7.708", 0, 5, 7, 708}, /* valid syntax, not registered */
    {"5.1.10", 0, 5, 1, 10},
    {"5.1.99", 0, 5, 1, 99},
    {"5.999.999", 0, 5, 999, 999},
    {"2.100.100", 0, 2, 100, 100},
    {"5.01.001", 0, 5, 1, 1}, /* leading zeros are digits of the grammar */
    {"4.000.000", 0, 4, 0, 0},
    {"2.007.0", 0, 2, 7, 0},
    {"5.1.1", SMTPSTATUS_PARSE_ALLOW_X, 5, 1, 1},
    {"X.1.1", SMTPSTATUS_PARSE_ALLOW_X, 0, 1, 1},
    {"x.7.29", SMTPSTATUS_PARSE_ALLOW_X, 0, 7, 29},
    {"X.999.999", SMTPSTATUS_PARSE_ALLOW_X, 0, 999, 999},
    {"X.0.0", SMTPSTATUS_PARSE_ALLOW_X, 0, 0, 0},
};

static void
test_parse_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const struct valid_case *c = &valid_cases[i];
        size_t len = strlen(c->s);
        smtpstatus_code code = {99, 9999, 9999};
        size_t errpos = 12345;
        int r = parse_exact(c->s, len, c->flags, &code, &errpos);
        if (r != 0)
            fail_msg("\"%s\" flags %u: got %s at %zu", c->s, c->flags, smtpstatus_err_name(r),
                     errpos);
        assert_int_equal(errpos, len);
        assert_int_equal(code.cls, c->cls);
        assert_int_equal(code.subject, c->subject);
        assert_int_equal(code.detail, c->detail);

        /* errpos is optional. */
        smtpstatus_code again;
        assert_int_equal(parse_exact(c->s, len, c->flags, &again, NULL), 0);
        assert_true(code_equal(again, code));
    }
}

/* ---- smtpstatus_code_parse: each error and where it is ------------------------------------- */

struct error_case {
    const char *s;
    size_t len;
    unsigned flags;
    int err;
    size_t errpos;
};

static const struct error_case error_cases[] = {
    {LIT(""), 0, SMTPSTATUS_EEMPTY, 0},
    {LIT(""), SMTPSTATUS_PARSE_ALLOW_X, SMTPSTATUS_EEMPTY, 0},
    /* the class */
    {LIT(" 5.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("+5.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("-5.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("0.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("1.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("3.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("6.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("9.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT(".1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("Y.1.1"), SMTPSTATUS_PARSE_ALLOW_X, SMTPSTATUS_ECLASS, 0},
    {LIT("\xef\xbc\x95.1.1"), 0, SMTPSTATUS_ECLASS, 0}, /* U+FF15 FULLWIDTH DIGIT FIVE */
    {LIT("\xff.1.1"), 0, SMTPSTATUS_ECLASS, 0},         /* a negative char */
    {LIT("\0.1.1"), 0, SMTPSTATUS_ECLASS, 0},
    {LIT("55.1.1"), 0, SMTPSTATUS_ECLASS, 1},
    {LIT("25"), 0, SMTPSTATUS_ECLASS, 1},
    {LIT("X5.1.1"), SMTPSTATUS_PARSE_ALLOW_X, SMTPSTATUS_ECLASS, 1},
    {LIT("X.1.1"), 0, SMTPSTATUS_ENOCLASSX, 0},
    {LIT("x.1.1"), 0, SMTPSTATUS_ENOCLASSX, 0},
    {LIT("X"), 0, SMTPSTATUS_ENOCLASSX, 0},
    /* the first dot */
    {LIT("5"), 0, SMTPSTATUS_EDOT, 1},
    {LIT("5,1,1"), 0, SMTPSTATUS_EDOT, 1},
    {LIT("5 .1.1"), 0, SMTPSTATUS_EDOT, 1},
    {LIT("5\0.1.1"), 0, SMTPSTATUS_EDOT, 1},
    {LIT("XX.1.1"), SMTPSTATUS_PARSE_ALLOW_X, SMTPSTATUS_EDOT, 1},
    /* the subject */
    {LIT("5."), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5..1"), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5.a.1"), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5. 1.1"), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5.+1.1"), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5.-1.1"), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5.\0.1"), 0, SMTPSTATUS_ESUBJECT, 2},
    {LIT("5.\xd9\xa1.1"), 0, SMTPSTATUS_ESUBJECT, 2}, /* U+0661 ARABIC-INDIC DIGIT ONE */
    {LIT("5.1234.1"), 0, SMTPSTATUS_ESUBJECT, 5},
    {LIT("5.0001.1"), 0, SMTPSTATUS_ESUBJECT, 5}, /* leading zeros count as digits */
    {LIT("5.99999"), 0, SMTPSTATUS_ESUBJECT, 5},
    {LIT("X..1"), SMTPSTATUS_PARSE_ALLOW_X, SMTPSTATUS_ESUBJECT, 2},
    /* the second dot */
    {LIT("5.1"), 0, SMTPSTATUS_EDOT, 3},
    {LIT("5.1,1"), 0, SMTPSTATUS_EDOT, 3},
    {LIT("5.1a.1"), 0, SMTPSTATUS_EDOT, 3},
    {LIT("5.1 .1"), 0, SMTPSTATUS_EDOT, 3},
    {LIT("5.1\0.1"), 0, SMTPSTATUS_EDOT, 3},
    {LIT("5.123"), 0, SMTPSTATUS_EDOT, 5},
    {LIT("5.123x1"), 0, SMTPSTATUS_EDOT, 5},
    /* the detail */
    {LIT("5.1."), 0, SMTPSTATUS_EDETAIL, 4},
    {LIT("5.1.a"), 0, SMTPSTATUS_EDETAIL, 4},
    {LIT("5.1.-1"), 0, SMTPSTATUS_EDETAIL, 4},
    {LIT("5.1. 1"), 0, SMTPSTATUS_EDETAIL, 4},
    {LIT("5.1..1"), 0, SMTPSTATUS_EDETAIL, 4},
    {LIT("5.1.\0"), 0, SMTPSTATUS_EDETAIL, 4},
    {LIT("5.1.1234"), 0, SMTPSTATUS_EDETAIL, 7},
    {LIT("5.1.0001"), 0, SMTPSTATUS_EDETAIL, 7},
    {LIT("5.100.1000"), 0, SMTPSTATUS_EDETAIL, 9},
    /* after the detail */
    {LIT("5.1.1 "), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.1.1.1"), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.1.1a"), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.1.1\n"), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.1.1\r\n"), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.1.1\0"), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.1.1\0garbage"), 0, SMTPSTATUS_ETRAILING, 5},
    {LIT("5.999.999."), 0, SMTPSTATUS_ETRAILING, 9},
    {LIT("X.1.1 "), SMTPSTATUS_PARSE_ALLOW_X, SMTPSTATUS_ETRAILING, 5},
    /* len is honoured: only the first three bytes of "5.1.1" */
    {"5.1.1", 3, 0, SMTPSTATUS_EDOT, 3},
    {"5.1.1", 1, 0, SMTPSTATUS_EDOT, 1},
};

static void
test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *c = &error_cases[i];
        smtpstatus_code code = {99, 9999, 9999};
        size_t errpos = 12345;
        int r = parse_exact(c->s, c->len, c->flags, &code, &errpos);
        if (r != c->err || errpos != c->errpos)
            fail_msg("\"%s\" flags %u: want %s at %zu, got %s at %zu", show(c->s, c->len), c->flags,
                     smtpstatus_err_name(c->err), c->errpos, smtpstatus_err_name(r), errpos);
        /* *out is left alone on failure. */
        assert_int_equal(code.cls, 99);
        assert_int_equal(code.subject, 9999);
        assert_int_equal(code.detail, 9999);
        assert_int_equal(parse_exact(c->s, c->len, c->flags, &code, NULL), c->err);
    }
}

static void
test_parse_bad_arguments(void **state)
{
    (void)state;
    smtpstatus_code code = {99, 9999, 9999};
    size_t errpos = 12345;

    assert_int_equal(smtpstatus_code_parse("5.1.1", 5, 0, NULL, &errpos), SMTPSTATUS_EINVAL);
    assert_int_equal(errpos, 0);
    errpos = 12345;
    assert_int_equal(smtpstatus_code_parse(NULL, 0, 0, &code, &errpos), SMTPSTATUS_EEMPTY);
    assert_int_equal(errpos, 0);
    errpos = 12345;
    assert_int_equal(smtpstatus_code_parse(NULL, 5, 0, &code, &errpos), SMTPSTATUS_EINVAL);
    assert_int_equal(errpos, 0);
    errpos = 12345;
    assert_int_equal(smtpstatus_code_parse("5.1.1", 5, 0x2u, &code, &errpos), SMTPSTATUS_EINVAL);
    assert_int_equal(errpos, 0);
    assert_int_equal(smtpstatus_code_parse("5.1.1", 5, ~0u, &code, NULL), SMTPSTATUS_EINVAL);
    assert_int_equal(code.cls, 99);
}

/* Every byte as the class, with and without the flag. */
static void
test_parse_every_class_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char s[5] = {(char)b, '.', '1', '.', '1'};
        for (unsigned flags = 0; flags <= SMTPSTATUS_PARSE_ALLOW_X; flags++) {
            smtpstatus_code code;
            size_t errpos = 12345;
            int r = parse_exact(s, sizeof s, flags, &code, &errpos);
            if (b == '2' || b == '4' || b == '5') {
                assert_int_equal(r, 0);
                assert_int_equal(code.cls, b - '0');
                assert_int_equal(errpos, 5);
            } else if (b == 'X' || b == 'x') {
                if (flags) {
                    assert_int_equal(r, 0);
                    assert_int_equal(code.cls, 0);
                } else {
                    assert_int_equal(r, SMTPSTATUS_ENOCLASSX);
                    assert_int_equal(errpos, 0);
                }
            } else {
                if (r != SMTPSTATUS_ECLASS || errpos != 0)
                    fail_msg("class byte 0x%02x: got %s at %zu", b, smtpstatus_err_name(r), errpos);
            }
        }
    }
}

/* Every byte in place of each dot, and in place of a subject and a detail digit. */
static void
test_parse_every_other_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char s[5];
        smtpstatus_code code;
        size_t errpos;
        int r;
        int digit = b >= '0' && b <= '9';

        memcpy(s, "5.1.1", 5);
        s[1] = (char)b;
        r = parse_exact(s, 5, 0, &code, &errpos);
        if (b == '.')
            assert_int_equal(r, 0);
        else if (digit)
            assert_true(r == SMTPSTATUS_ECLASS && errpos == 1);
        else
            assert_true(r == SMTPSTATUS_EDOT && errpos == 1);

        memcpy(s, "5.1.1", 5);
        s[2] = (char)b;
        r = parse_exact(s, 5, 0, &code, &errpos);
        if (digit)
            assert_true(r == 0 && code.subject == b - '0');
        else
            assert_true(r == SMTPSTATUS_ESUBJECT && errpos == 2);

        /* "5.1?1": a digit makes the subject "1d1" and leaves no second dot. */
        memcpy(s, "5.1.1", 5);
        s[3] = (char)b;
        r = parse_exact(s, 5, 0, &code, &errpos);
        if (b == '.')
            assert_int_equal(r, 0);
        else if (digit)
            assert_true(r == SMTPSTATUS_EDOT && errpos == 5);
        else
            assert_true(r == SMTPSTATUS_EDOT && errpos == 3);

        memcpy(s, "5.1.1", 5);
        s[4] = (char)b;
        r = parse_exact(s, 5, 0, &code, &errpos);
        if (digit)
            assert_true(r == 0 && code.detail == b - '0');
        else
            assert_true(r == SMTPSTATUS_EDETAIL && errpos == 4);
    }
}

/*
 * An independent statement of the grammar, for the exhaustive test below: split on '.', and
 * ask for exactly a class character and two runs of 1 to 3 digits.
 */
static int
oracle_valid(const char *s, size_t len, unsigned flags, smtpstatus_code *out)
{
    size_t dots[2], ndots = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (ndots == 2)
                return 0;
            dots[ndots++] = i;
        }
    }
    if (ndots != 2 || dots[0] != 1)
        return 0;
    if (s[0] == '2' || s[0] == '4' || s[0] == '5')
        out->cls = (uint8_t)(s[0] - '0');
    else if ((s[0] == 'X' || s[0] == 'x') && (flags & SMTPSTATUS_PARSE_ALLOW_X))
        out->cls = 0;
    else
        return 0;
    size_t from[2] = {2, dots[1] + 1}, to[2] = {dots[1], len};
    uint16_t v[2];
    for (int f = 0; f < 2; f++) {
        size_t n = to[f] - from[f];
        if (n < 1 || n > 3)
            return 0;
        v[f] = 0;
        for (size_t i = from[f]; i < to[f]; i++) {
            if (s[i] < '0' || s[i] > '9')
                return 0;
            v[f] = (uint16_t)(v[f] * 10 + (s[i] - '0'));
        }
    }
    out->subject = v[0];
    out->detail = v[1];
    return 1;
}

/* Whether some valid code starts with s[0..n). Every prefix of a valid code is completed to
 * one by one of these suffixes. */
static int
oracle_viable(const char *s, size_t n, unsigned flags)
{
    static const char *const completions[] = {"", "0", ".0", "0.0", ".0.0"};
    char buf[32];
    smtpstatus_code ignored;

    for (size_t k = 0; k < sizeof completions / sizeof completions[0]; k++) {
        size_t m = strlen(completions[k]);
        memcpy(buf, s, n);
        memcpy(buf + n, completions[k], m);
        if (oracle_valid(buf, n + m, flags, &ignored))
            return 1;
    }
    return 0;
}

/* The byte where parsing must stop: the end of the longest prefix of s that some valid code
 * starts with (the empty prefix always is one, and prefixes of a viable prefix are viable). */
static size_t
oracle_errpos(const char *s, size_t len, unsigned flags)
{
    size_t n = 0;
    while (n < len && oracle_viable(s, n + 1, flags))
        n++;
    return n;
}

/* Every string of up to 7 bytes over an alphabet that can spell every part of a code. */
static void
test_parse_exhaustive_oracle(void **state)
{
    (void)state;
    static const char alphabet[] = "0259.Xx ";
    const size_t k = sizeof alphabet - 1;
    char s[8];
    unsigned long checked = 0;

    for (size_t len = 0; len <= 7; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= k;
        for (size_t idx = 0; idx < total; idx++) {
            size_t x = idx;
            for (size_t i = 0; i < len; i++, x /= k)
                s[i] = alphabet[x % k];
            for (unsigned flags = 0; flags <= SMTPSTATUS_PARSE_ALLOW_X; flags++) {
                smtpstatus_code want, got;
                size_t errpos;
                int ok = oracle_valid(s, len, flags, &want);
                int r = smtpstatus_code_parse(s, len, flags, &got, &errpos);
                checked++;
                if (ok) {
                    if (r != 0 || errpos != len || !code_equal(want, got))
                        fail_msg("\"%s\" flags %u: valid, got %s", show(s, len), flags,
                                 smtpstatus_err_name(r));
                    continue;
                }
                size_t want_pos = oracle_errpos(s, len, flags);
                if (r == 0 || errpos != want_pos)
                    fail_msg("\"%s\" flags %u: want an error at %zu, got %s at %zu", show(s, len),
                             flags, want_pos, smtpstatus_err_name(r), errpos);
                /* The error names the part that the offending byte is in. */
                size_t dots = 0;
                for (size_t i = 0; i < errpos; i++)
                    dots += s[i] == '.';
                int part_ok;
                if (dots == 0)
                    part_ok = r == SMTPSTATUS_EEMPTY || r == SMTPSTATUS_ECLASS ||
                              r == SMTPSTATUS_ENOCLASSX || r == SMTPSTATUS_EDOT;
                else if (dots == 1)
                    part_ok = r == SMTPSTATUS_ESUBJECT || r == SMTPSTATUS_EDOT;
                else
                    part_ok = r == SMTPSTATUS_EDETAIL || r == SMTPSTATUS_ETRAILING;
                if (!part_ok)
                    fail_msg("\"%s\" flags %u: %s at %zu names the wrong part", show(s, len), flags,
                             smtpstatus_err_name(r), errpos);
            }
        }
    }
    assert_true(checked > 4000000);
}

/* ---- smtpstatus_code_format ---------------------------------------------------------------- */

static void
test_format_known(void **state)
{
    (void)state;
    static const struct {
        smtpstatus_code code;
        const char *want;
    } cases[] = {
        {{5, 1, 1}, "5.1.1"},         {{0, 1, 1}, "X.1.1"},         {{2, 0, 0}, "2.0.0"},
        {{4, 7, 708}, "4.7.708"},     {{5, 1, 10}, "5.1.10"},       {{4, 10, 100}, "4.10.100"},
        {{5, 999, 999}, "5.999.999"}, {{0, 999, 999}, "X.999.999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[SMTPSTATUS_CODE_STRLEN];
        int n = smtpstatus_code_format(cases[i].code, buf, sizeof buf);
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(buf, cases[i].want);
    }
}

/* parse(format(c)) == c and format(c) == printf's rendering, for every code there is. */
static void
test_format_round_trip_all(void **state)
{
    (void)state;
    static const uint8_t classes[] = {0, 2, 4, 5};
    for (size_t ci = 0; ci < sizeof classes; ci++) {
        for (unsigned subject = 0; subject <= 999; subject++) {
            for (unsigned detail = 0; detail <= 999; detail++) {
                smtpstatus_code c = {classes[ci], (uint16_t)subject, (uint16_t)detail};
                char buf[SMTPSTATUS_CODE_STRLEN], want[32];
                int n = smtpstatus_code_format(c, buf, sizeof buf);
                int wn;
                if (c.cls == 0)
                    wn = snprintf(want, sizeof want, "X.%u.%u", subject, detail);
                else
                    wn = snprintf(want, sizeof want, "%u.%u.%u", c.cls, subject, detail);
                if (n != wn || strcmp(buf, want) != 0)
                    fail_msg("format %u.%u.%u: got %d \"%s\", want \"%s\"", c.cls, subject, detail,
                             n, n >= 0 ? buf : "", want);
                smtpstatus_code back;
                size_t errpos;
                int r =
                    smtpstatus_code_parse(buf, (size_t)n, SMTPSTATUS_PARSE_ALLOW_X, &back, &errpos);
                if (r != 0 || errpos != (size_t)n || back.cls != c.cls ||
                    back.subject != c.subject || back.detail != c.detail)
                    fail_msg("round trip of \"%s\": %s", buf, smtpstatus_err_name(r));
            }
        }
    }
}

/* Every buffer size below the one needed gives ENOSPC, an empty string, and no write past
 * size; the exact size works. */
static void
test_format_enospc(void **state)
{
    (void)state;
    static const smtpstatus_code codes[] = {
        {5, 1, 1}, {0, 1, 1}, {4, 10, 1}, {2, 10, 100}, {5, 999, 999}, {0, 999, 999},
    };
    for (size_t ci = 0; ci < sizeof codes / sizeof codes[0]; ci++) {
        char full[SMTPSTATUS_CODE_STRLEN];
        int need = smtpstatus_code_format(codes[ci], full, sizeof full);
        assert_true(need >= 5 && need <= SMTPSTATUS_CODE_STRLEN - 1);

        assert_int_equal(smtpstatus_code_format(codes[ci], NULL, 0), SMTPSTATUS_ENOSPC);
        for (size_t size = 0; size <= (size_t)need; size++) {
            char guard[SMTPSTATUS_CODE_STRLEN + 4];
            memset(guard, 0x7f, sizeof guard);
            assert_int_equal(smtpstatus_code_format(codes[ci], guard, size), SMTPSTATUS_ENOSPC);
            if (size > 0)
                assert_int_equal(guard[0], '\0');
            for (size_t i = size > 0 ? 1 : 0; i < sizeof guard; i++)
                if (guard[i] != 0x7f)
                    fail_msg("\"%s\" size %zu: byte %zu written", full, size, i);

            /* The same in a heap block of exactly `size` bytes, for ASan. */
            char *exact = malloc(size > 0 ? size : 1);
            assert_non_null(exact);
            assert_int_equal(smtpstatus_code_format(codes[ci], exact, size), SMTPSTATUS_ENOSPC);
            free(exact);
        }
        char *exact = malloc((size_t)need + 1);
        assert_non_null(exact);
        assert_int_equal(smtpstatus_code_format(codes[ci], exact, (size_t)need + 1), need);
        assert_string_equal(exact, full);
        free(exact);
    }
}

static void
test_format_invalid(void **state)
{
    (void)state;
    static const smtpstatus_code bad[] = {
        {1, 1, 1},    {3, 1, 1},    {6, 1, 1},       {9, 1, 1},    {'5', 1, 1},
        {255, 1, 1},  {5, 1000, 1}, {5, 65535, 1},   {5, 1, 1000}, {5, 1, 65535},
        {0, 1000, 0}, {2, 0, 1000}, {7, 1000, 1000},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[64];
        memset(buf, 0x7f, sizeof buf);
        assert_int_equal(smtpstatus_code_format(bad[i], buf, sizeof buf), SMTPSTATUS_EINVAL);
        assert_int_equal(buf[0], '\0');
        assert_int_equal(buf[1], 0x7f);
        assert_int_equal(smtpstatus_code_format(bad[i], NULL, 0), SMTPSTATUS_EINVAL);
    }
    smtpstatus_code good = {5, 1, 1};
    assert_int_equal(smtpstatus_code_format(good, NULL, 16), SMTPSTATUS_EINVAL);
}

/* ---- smtpstatus_pattern_parse -------------------------------------------------------------- */

static void
test_pattern_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint8_t cls;
        uint16_t subject;
    } cases[] = {
        {"2.XXX.XXX", 2, 0}, {"4.XXX.XXX", 4, 0},   {"5.XXX.XXX", 5, 0},   {"5.xxx.xxx", 5, 0},
        {"4.XxX.xXx", 4, 0}, {"X.0.XXX", 0, 0},     {"X.1.XXX", 0, 1},     {"X.7.XXX", 0, 7},
        {"x.7.xxx", 0, 7},   {"X.7.YYY", 0, 7},     {"X.2.yyy", 0, 2},     {"x.3.YyY", 0, 3},
        {"X.10.XXX", 0, 10}, {"X.123.YYY", 0, 123}, {"X.999.xxx", 0, 999}, {"X.01.XXX", 0, 1},
        {"X.000.XXX", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].s);
        smtpstatus_pattern p = {99, 9999};
        size_t errpos = 12345;
        int r = pattern_exact(cases[i].s, len, &p, &errpos);
        if (r != 0)
            fail_msg("\"%s\": got %s at %zu", cases[i].s, smtpstatus_err_name(r), errpos);
        assert_int_equal(errpos, len);
        assert_int_equal(p.cls, cases[i].cls);
        assert_int_equal(p.subject, cases[i].subject);
        assert_int_equal(pattern_exact(cases[i].s, len, &p, NULL), 0);
    }
}

static void
test_pattern_errors(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {LIT(""), 0, SMTPSTATUS_EEMPTY, 0},
        /* class patterns */
        {LIT("2"), 0, SMTPSTATUS_EPATTERN, 1},
        {LIT("2.XXX.XX"), 0, SMTPSTATUS_EPATTERN, 8},
        {LIT("2.XXX.XXXX"), 0, SMTPSTATUS_EPATTERN, 9},
        {LIT("2.XXX.XXX "), 0, SMTPSTATUS_EPATTERN, 9},
        {LIT("2.XXX.XXX\0"), 0, SMTPSTATUS_EPATTERN, 9},
        {LIT("2.XX.XXX"), 0, SMTPSTATUS_EPATTERN, 4},
        {LIT("2.XXX,XXX"), 0, SMTPSTATUS_EPATTERN, 5},
        {LIT("2.YYY.YYY"), 0, SMTPSTATUS_EPATTERN, 2},
        {LIT("2.1.1"), 0, SMTPSTATUS_EPATTERN, 2},
        {LIT("2.1.XXX"), 0, SMTPSTATUS_EPATTERN, 2},
        {LIT("3.XXX.XXX"), 0, SMTPSTATUS_EPATTERN, 0},
        {LIT(" 2.XXX.XXX"), 0, SMTPSTATUS_EPATTERN, 0},
        {LIT("22.XXX.XXX"), 0, SMTPSTATUS_EPATTERN, 1},
        /* subject patterns */
        {LIT("X"), 0, SMTPSTATUS_EPATTERN, 1},
        {LIT("X1.XXX"), 0, SMTPSTATUS_EPATTERN, 1},
        {LIT("X."), 0, SMTPSTATUS_ESUBJECT, 2},
        {LIT("X..XXX"), 0, SMTPSTATUS_ESUBJECT, 2},
        {LIT("X.XXX.XXX"), 0, SMTPSTATUS_ESUBJECT, 2},
        {LIT("X.1234.XXX"), 0, SMTPSTATUS_ESUBJECT, 5},
        {LIT("X.1"), 0, SMTPSTATUS_EPATTERN, 3},
        {LIT("X.1XXX"), 0, SMTPSTATUS_EPATTERN, 3},
        {LIT("X.1."), 0, SMTPSTATUS_EPATTERN, 4},
        {LIT("X.1.1"), 0, SMTPSTATUS_EPATTERN, 4},
        {LIT("X.1.ZZZ"), 0, SMTPSTATUS_EPATTERN, 4},
        {LIT("X.1.XX"), 0, SMTPSTATUS_EPATTERN, 6},
        {LIT("X.1.XYX"), 0, SMTPSTATUS_EPATTERN, 5},
        {LIT("X.1.YYX"), 0, SMTPSTATUS_EPATTERN, 6},
        {LIT("X.1.XXXX"), 0, SMTPSTATUS_EPATTERN, 7},
        {LIT("X.1.XXX "), 0, SMTPSTATUS_EPATTERN, 7},
        {LIT("X.1.XXX\0"), 0, SMTPSTATUS_EPATTERN, 7},
        {LIT("X.1.XXX\n"), 0, SMTPSTATUS_EPATTERN, 7},
        {LIT("X.1.xxx.1"), 0, SMTPSTATUS_EPATTERN, 7},
        {LIT(" X.1.XXX"), 0, SMTPSTATUS_EPATTERN, 0},
        {LIT("Y.1.XXX"), 0, SMTPSTATUS_EPATTERN, 0},
        {LIT("\0"), 0, SMTPSTATUS_EPATTERN, 0},
        /* a code is not a pattern */
        {LIT("5.1.1"), 0, SMTPSTATUS_EPATTERN, 2},
        /* len is honoured */
        {"X.1.XXX", 6, 0, SMTPSTATUS_EPATTERN, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct error_case *c = &cases[i];
        smtpstatus_pattern p = {99, 9999};
        size_t errpos = 12345;
        int r = pattern_exact(c->s, c->len, &p, &errpos);
        if (r != c->err || errpos != c->errpos)
            fail_msg("\"%s\": want %s at %zu, got %s at %zu", show(c->s, c->len),
                     smtpstatus_err_name(c->err), c->errpos, smtpstatus_err_name(r), errpos);
        assert_int_equal(p.cls, 99);
        assert_int_equal(p.subject, 9999);
    }

    smtpstatus_pattern p;
    size_t errpos = 12345;
    assert_int_equal(smtpstatus_pattern_parse("X.1.XXX", 7, NULL, &errpos), SMTPSTATUS_EINVAL);
    assert_int_equal(errpos, 0);
    assert_int_equal(smtpstatus_pattern_parse(NULL, 0, &p, NULL), SMTPSTATUS_EEMPTY);
    assert_int_equal(smtpstatus_pattern_parse(NULL, 7, &p, NULL), SMTPSTATUS_EINVAL);
}

/* ---- smtpstatus_basic_parse ---------------------------------------------------------------- */

static void
test_basic_named(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint16_t value;
    } good[] = {
        {"200", 200}, {"211", 211}, {"220", 220}, {"250", 250}, {"251", 251}, {"354", 354},
        {"421", 421}, {"450", 450}, {"451", 451}, {"550", 550}, {"554", 554}, {"559", 559},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint16_t v = 0;
        assert_int_equal(basic_exact(good[i].s, 3, &v), 0);
        assert_int_equal(v, good[i].value);
    }

    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        {LIT("")},     {LIT("199")},    {LIT("600")},   {LIT("100")},   {LIT("099")},
        {LIT("260")},  {LIT("599")},    {LIT("560")},   {LIT("290")},   {LIT("25")},
        {LIT("2")},    {LIT("2500")},   {LIT("25a")},   {LIT("a50")},   {LIT("2a0")},
        {LIT(" 250")}, {LIT("250 ")},   {LIT("2 0")},   {LIT("+25")},   {LIT("-25")},
        {LIT("25\0")}, {LIT("\0\0\0")}, {LIT("250\0")}, {LIT("5.1.1")}, {LIT("\xd9\xa2\xd9\xa5")},
        {"250", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint16_t v = 7777;
        int r = basic_exact(bad[i].s, bad[i].len, &v);
        if (r != SMTPSTATUS_EBASIC)
            fail_msg("\"%s\": got %s", show(bad[i].s, bad[i].len), smtpstatus_err_name(r));
        assert_int_equal(v, 7777);
    }

    uint16_t v = 7777;
    assert_int_equal(smtpstatus_basic_parse("250", 3, NULL), SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_basic_parse(NULL, 0, &v), SMTPSTATUS_EBASIC);
    assert_int_equal(smtpstatus_basic_parse(NULL, 3, &v), SMTPSTATUS_EINVAL);
    assert_int_equal(v, 7777);
}

/* Every byte in every position: valid exactly for %x32-35 %x30-35 %x30-39. */
static void
test_basic_every_byte(void **state)
{
    (void)state;
    for (int pos = 0; pos < 3; pos++) {
        for (int b = 0; b < 256; b++) {
            char s[3] = {'4', '5', '1'};
            s[pos] = (char)b;
            int lo = pos == 0 ? '2' : '0';
            int hi = pos == 2 ? '9' : '5';
            int valid = b >= lo && b <= hi;
            uint16_t v = 7777;
            int r = basic_exact(s, 3, &v);
            if (valid) {
                assert_int_equal(r, 0);
                assert_int_equal(v, (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
                assert_true(v >= 200 && v <= 559);
            } else if (r != SMTPSTATUS_EBASIC || v != 7777) {
                fail_msg("byte 0x%02x at %d: got %s", b, pos, smtpstatus_err_name(r));
            }
        }
    }
}

static void
test_basic_all_numbers(void **state)
{
    (void)state;
    int accepted = 0;
    for (int n = 0; n <= 999; n++) {
        char s[4];
        snprintf(s, sizeof s, "%03d", n);
        uint16_t v = 0;
        int r = basic_exact(s, 3, &v);
        int valid = n / 100 >= 2 && n / 100 <= 5 && n / 10 % 10 <= 5;
        if (valid) {
            assert_int_equal(r, 0);
            assert_int_equal(v, n);
            accepted++;
        } else {
            assert_int_equal(r, SMTPSTATUS_EBASIC);
        }
    }
    assert_int_equal(accepted, 4 * 6 * 10);
}

/* ---- smtpstatus_strerror / smtpstatus_err_name --------------------------------------------- */

struct err_info {
    int value;
    const char *name;
    const char *text;
};

static const struct err_info all_errors[] = {
#define ERR_INFO(name, value, text) {value, "SMTPSTATUS_" #name, text},
    SMTPSTATUS_ERRNO_MAP(ERR_INFO)
#undef ERR_INFO
};
#define N_ERRORS (sizeof all_errors / sizeof all_errors[0])

static void
test_strerror_map(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ERRORS; i++) {
        const struct err_info *e = &all_errors[i];
        const char *text = smtpstatus_strerror(e->value);
        const char *name = smtpstatus_err_name(e->value);

        /* Negative, and clear of every errno (Linux's stop below 4096). */
        assert_true(e->value <= -4000);
        assert_non_null(text);
        assert_non_null(name);
        assert_true(text[0] != '\0');
        assert_string_equal(text, e->text);
        assert_string_equal(name, e->name);
        assert_string_not_equal(text, "unknown error");
        assert_string_not_equal(text, "success");
        /* Static storage: the same pointer every time. */
        assert_ptr_equal(smtpstatus_strerror(e->value), text);
        assert_ptr_equal(smtpstatus_err_name(e->value), name);

        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(all_errors[j].value, e->value);
            assert_string_not_equal(smtpstatus_strerror(all_errors[j].value), text);
            assert_string_not_equal(smtpstatus_err_name(all_errors[j].value), name);
        }
    }
    /* The values the parsers here return are all in the map. */
    assert_string_equal(smtpstatus_err_name(SMTPSTATUS_ETRAILING), "SMTPSTATUS_ETRAILING");
    assert_string_equal(smtpstatus_err_name(SMTPSTATUS_EBASIC), "SMTPSTATUS_EBASIC");
}

static void
test_strerror_other_values(void **state)
{
    (void)state;
    assert_string_equal(smtpstatus_strerror(0), "success");
    assert_string_equal(smtpstatus_err_name(0), "SMTPSTATUS_OK");

    static const int unknown[] = {1,     42,    4001,    INT_MAX,    INT_MIN,
                                  -4000, -4999, -100000, INT_MIN + 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(smtpstatus_strerror(unknown[i]), "unknown error");
        assert_string_equal(smtpstatus_err_name(unknown[i]), "UNKNOWN");
    }

    /* A negated errno reads as the C library's text; the tests run in the C locale. */
    static const struct {
        int e;
        const char *name;
    } sys[] = {{ENOENT, "ENOENT"},
               {EACCES, "EACCES"},
               {ENOMEM, "ENOMEM"},
               {ECONNREFUSED, "ECONNREFUSED"},
               {EINVAL, "EINVAL"}};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) {
        assert_string_equal(smtpstatus_strerror(-sys[i].e), strerror(sys[i].e));
        assert_string_equal(smtpstatus_err_name(-sys[i].e), sys[i].name);
    }
    assert_string_equal(smtpstatus_strerror(-ENOENT), "No such file or directory");
    /* Ours and the system's do not collide: EINVAL the errno is not SMTPSTATUS_EINVAL. */
    assert_string_not_equal(smtpstatus_strerror(-EINVAL), smtpstatus_strerror(SMTPSTATUS_EINVAL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_bad_arguments),
        cmocka_unit_test(test_parse_every_class_byte),
        cmocka_unit_test(test_parse_every_other_byte),
        cmocka_unit_test(test_parse_exhaustive_oracle),
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_round_trip_all),
        cmocka_unit_test(test_format_enospc),
        cmocka_unit_test(test_format_invalid),
        cmocka_unit_test(test_pattern_valid),
        cmocka_unit_test(test_pattern_errors),
        cmocka_unit_test(test_basic_named),
        cmocka_unit_test(test_basic_every_byte),
        cmocka_unit_test(test_basic_all_numbers),
        cmocka_unit_test(test_strerror_map),
        cmocka_unit_test(test_strerror_other_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
