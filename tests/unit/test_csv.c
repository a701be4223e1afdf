/*
 * Unit tests for the CSV reader (daemon/csv.c) and the diagnostics list it reports through
 * (daemon/diag.c). They pin down the RFC 4180 behaviour the registry loader relies on, the
 * exact file:line:col of every kind of rejection, and robustness: every truncation of a
 * realistic input and thousands of random byte flips either parse into a table whose
 * positions point at the right bytes, or are refused with an error, never a crash or a leak.
 * The real IANA files from ../shared are parsed when present.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "diag.h"

#define BOM "\xEF\xBB\xBF"

/* A small registry-like file with every quirk of the real data: a BOM, quoted multi-line
 * fields, "" escapes, trailing spaces, multibyte UTF-8, mixed CRLF and LF, an empty line and
 * no final newline. */
static const char sample[] =
    BOM "\"Code\",\"Sample Text\",\"Associated basic status code\",\"Description\"\r\n"
        "\"X.0.0\",\"Other undefined Status\",\"Any\",\"Other undefined status.\r\n"
        "It should be used for all errors.\"\r\n"
        "\"X.1.1\",\"Bad destination mailbox address\",\"451, 550\",\"The mailbox \n"
        "to the left of the \"\"@\"\" sign is invalid. \"\n"
        "\n"
        "X.1.2,Bad destination system address ,Not given,caf\xC3\xA9 \xE2\x80\x94 ok\n"
        "\"X.5.0\",\"Other protocol status\",\"430, 500\r\n"
        "554\",\"\"";

/* Where line `line`, column `col` is in buf[0..len), computed independently of the reader,
 * or (size_t)-1 when the line does not exist. */
static size_t
offset_of(const char *buf, size_t len, unsigned line, unsigned col)
{
    size_t pos = 0;
    if (len >= 3 && memcmp(buf, BOM, 3) == 0)
        pos = 3;
    for (unsigned l = 1; l < line; l++) {
        while (pos < len && buf[pos] != '\n' && buf[pos] != '\r')
            pos++;
        if (pos >= len)
            return (size_t)-1;
        if (buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] == '\n')
            pos++;
        pos++;
    }
    return pos + col - 1;
}

static void
assert_table_empty(const struct csv_table *t)
{
    assert_null(t->rows);
    assert_int_equal(t->count, 0);
    assert_null(t->storage_);
}

static void
assert_field(const struct csv_field *f, const char *text, unsigned line, unsigned col)
{
    assert_string_equal(f->text, text);
    assert_int_equal(f->len, strlen(text));
    assert_int_equal(f->line, line);
    assert_int_equal(f->col, col);
}

/* Checks what any parse must satisfy, valid input or not: on success every field's position
 * points at its opening quote or at its raw text, and is followed by a separator; on failure
 * the table is empty and the first error points inside the input. */
static void
check_invariants(const char *buf, size_t len, int rc, const struct csv_table *t,
                 const struct diag *d)
{
    if (rc != 0) {
        assert_int_equal(rc, -1);
        assert_table_empty(t);
        const struct diag_item *e = diag_first_error(d);
        assert_non_null(e);
        assert_string_equal(e->file, "fuzz.csv");
        assert_true(e->line >= 1 && e->col >= 1);
        size_t off = offset_of(buf, len, e->line, e->col);
        assert_true(off <= len);
        return;
    }
    assert_int_equal(d->errors, 0);
    unsigned prev_line = 0;
    for (size_t r = 0; r < t->count; r++) {
        const struct csv_row *row = &t->rows[r];
        assert_true(row->count >= 1 && row->count <= CSV_MAX_FIELDS);
        assert_int_equal(row->line, row->fields[0].line);
        assert_true(row->line > prev_line);
        for (size_t i = 0; i < row->count; i++) {
            const struct csv_field *f = &row->fields[i];
            assert_int_equal(f->text[f->len], '\0');
            assert_int_equal(strlen(f->text), f->len);
            assert_null(memchr(f->text, '\r', f->len));
            size_t off = offset_of(buf, len, f->line, f->col);
            assert_true(off <= len);
            if (off < len && buf[off] == '"')
                continue;
            assert_true(off + f->len <= len);
            assert_memory_equal(buf + off, f->text, f->len);
            size_t end = off + f->len;
            assert_true(end == len || buf[end] == ',' || buf[end] == '\n' || buf[end] == '\r');
        }
        prev_line = row->fields[row->count - 1].line;
    }
}

static int
parse(const char *buf, size_t len, struct csv_table *t, struct diag *d)
{
    diag_init(d);
    return csv_parse(buf, len, "t.csv", t, d);
}

/* Parses `input` (len bytes), expects it refused, and compares the first error, formatted. */
static void
expect_error_n(const char *input, size_t len, const char *want)
{
    /* A copy of exactly len bytes, so that ASan catches any read past the end. */
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, input, len);
    struct csv_table t;
    struct diag d;
    int rc = parse(copy, len, &t, &d);
    assert_int_equal(rc, -1);
    assert_table_empty(&t);
    assert_true(d.errors >= 1);
    const struct diag_item *e = diag_first_error(&d);
    assert_non_null(e);
    char got[512];
    diag_format(e, got, sizeof got);
    assert_string_equal(got, want);
    diag_free(&d);
    free(copy);
}

static void
expect_error(const char *input, const char *want)
{
    expect_error_n(input, strlen(input), want);
}

static void
test_simple_rows(void **state)
{
    (void)state;
    const char *in = "a,b,c\n1,22,333\n";
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, strlen(in), &t, &d), 0);
    assert_int_equal(d.count, 0);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.rows[0].count, 3);
    assert_int_equal(t.rows[0].line, 1);
    assert_field(&t.rows[0].fields[0], "a", 1, 1);
    assert_field(&t.rows[0].fields[1], "b", 1, 3);
    assert_field(&t.rows[0].fields[2], "c", 1, 5);
    assert_int_equal(t.rows[1].line, 2);
    assert_field(&t.rows[1].fields[0], "1", 2, 1);
    assert_field(&t.rows[1].fields[1], "22", 2, 3);
    assert_field(&t.rows[1].fields[2], "333", 2, 6);
    csv_table_free(&t);
    assert_table_empty(&t);
    csv_table_free(&t); /* twice is harmless */
    csv_table_free(NULL);
    diag_free(&d);
}

static void
test_empty_fields(void **state)
{
    (void)state;
    const char *in = ",\"\",\n,";
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, strlen(in), &t, &d), 0);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.rows[0].count, 3);
    assert_field(&t.rows[0].fields[0], "", 1, 1);
    assert_field(&t.rows[0].fields[1], "", 1, 2);
    assert_field(&t.rows[0].fields[2], "", 1, 5);
    assert_int_equal(t.rows[1].count, 2);
    assert_field(&t.rows[1].fields[0], "", 2, 1);
    assert_field(&t.rows[1].fields[1], "", 2, 2);
    csv_table_free(&t);
    diag_free(&d);
}

static void
test_quoted_multiline(void **state)
{
    (void)state;
    const char *in = "\"Code\",\"Text\"\n"
                     "\"X.1.1\",\"line one\n"
                     "the \"\"@\"\" sign\n"
                     "\",after,\"x\"\"\"\n"
                     "next,\"a,b\"\n";
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, strlen(in), &t, &d), 0);
    assert_int_equal(t.count, 3);
    assert_int_equal(t.rows[1].line, 2);
    assert_int_equal(t.rows[1].count, 4);
    assert_field(&t.rows[1].fields[0], "X.1.1", 2, 1);
    assert_field(&t.rows[1].fields[1], "line one\nthe \"@\" sign\n", 2, 9);
    assert_field(&t.rows[1].fields[2], "after", 4, 3);
    assert_field(&t.rows[1].fields[3], "x\"", 4, 9);
    assert_int_equal(t.rows[2].line, 5);
    assert_field(&t.rows[2].fields[0], "next", 5, 1);
    assert_field(&t.rows[2].fields[1], "a,b", 5, 6);
    csv_table_free(&t);
    diag_free(&d);
}

/* The same table written with LF, CRLF and lone CR must read the same, positions included;
 * every line break inside a quoted field reads as LF. */
static void
test_line_ends(void **state)
{
    (void)state;
    const char *variants[] = {
        "a,\"b\nc\",d\ne,f,g\n",
        "a,\"b\r\nc\",d\r\ne,f,g\r\n",
        "a,\"b\rc\",d\re,f,g\r",
        "a,\"b\r\nc\",d\ne,f,g\r",
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        struct csv_table t;
        struct diag d;
        assert_int_equal(parse(variants[v], strlen(variants[v]), &t, &d), 0);
        assert_int_equal(t.count, 2);
        assert_int_equal(t.rows[0].count, 3);
        assert_field(&t.rows[0].fields[0], "a", 1, 1);
        assert_field(&t.rows[0].fields[1], "b\nc", 1, 3);
        assert_field(&t.rows[0].fields[2], "d", 2, 4);
        assert_int_equal(t.rows[1].line, 3);
        assert_field(&t.rows[1].fields[0], "e", 3, 1);
        assert_field(&t.rows[1].fields[2], "g", 3, 5);
        csv_table_free(&t);
        diag_free(&d);
    }
    /* An error after CRLF lines is on the right line and column. */
    expect_error("a\r\nb\r\nc,d\x01\r\n",
                 "t.csv:3:4: error: control character 0x01 is not allowed");
}

/* The byte order mark is skipped and is not part of line 1's columns; elsewhere U+FEFF is
 * text like any other character. */
static void
test_bom(void **state)
{
    (void)state;
    const char *in = BOM "a,b\nc," BOM "\n";
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, strlen(in), &t, &d), 0);
    assert_int_equal(t.count, 2);
    assert_field(&t.rows[0].fields[0], "a", 1, 1);
    assert_field(&t.rows[0].fields[1], "b", 1, 3);
    assert_field(&t.rows[1].fields[1], BOM, 2, 3);
    csv_table_free(&t);
    diag_free(&d);

    assert_int_equal(parse(BOM, 3, &t, &d), 0);
    assert_table_empty(&t);
    diag_free(&d);

    expect_error(BOM "ab\"c\n", "t.csv:1:3: error: quote character inside an unquoted field "
                                "(quote the whole field and double the quote)");
    /* A BOM cut short is just bad UTF-8. */
    expect_error("\xEF\xBB", "t.csv:1:1: error: invalid UTF-8: truncated 3-byte sequence");
}

static void
test_no_final_newline(void **state)
{
    (void)state;
    const char *in[] = {"a,b\nc,d", "a,b\nc,\"d\"", "a,b\nc,d\n"};
    for (size_t i = 0; i < 3; i++) {
        struct csv_table t;
        struct diag d;
        assert_int_equal(parse(in[i], strlen(in[i]), &t, &d), 0);
        assert_int_equal(t.count, 2);
        assert_int_equal(t.rows[1].count, 2);
        assert_field(&t.rows[1].fields[1], "d", 2, 3);
        csv_table_free(&t);
        diag_free(&d);
    }
    /* A trailing comma at the end of the input is one more, empty, field. */
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse("a,", 2, &t, &d), 0);
    assert_int_equal(t.rows[0].count, 2);
    assert_field(&t.rows[0].fields[1], "", 1, 3);
    csv_table_free(&t);
    diag_free(&d);
}

static void
test_empty_input(void **state)
{
    (void)state;
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(NULL, 0, &t, &d), 0);
    assert_table_empty(&t);
    assert_int_equal(d.count, 0);
    csv_table_free(&t);
    diag_free(&d);

    assert_int_equal(parse("\n\r\n\r\n", 5, &t, &d), 0);
    assert_table_empty(&t);
    diag_free(&d);

    /* Empty lines between and around rows are skipped and still counted as lines. */
    const char *in = "\n\na\n\n\r\nb\n\n";
    assert_int_equal(parse(in, strlen(in), &t, &d), 0);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.rows[0].line, 3);
    assert_int_equal(t.rows[1].line, 6);
    assert_field(&t.rows[1].fields[0], "b", 6, 1);
    csv_table_free(&t);
    diag_free(&d);
}

static void
test_spaces_kept(void **state)
{
    (void)state;
    const char *in = "a , b ,\" c \",\t\n \n";
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, strlen(in), &t, &d), 0);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.rows[0].count, 4);
    assert_field(&t.rows[0].fields[0], "a ", 1, 1);
    assert_field(&t.rows[0].fields[1], " b ", 1, 4);
    assert_field(&t.rows[0].fields[2], " c ", 1, 8);
    assert_field(&t.rows[0].fields[3], "\t", 1, 14);
    /* A line holding only a space is a row, not an empty line: the loader decides. */
    assert_field(&t.rows[1].fields[0], " ", 2, 1);
    csv_table_free(&t);
    diag_free(&d);
}

static void
test_structure_errors(void **state)
{
    (void)state;
    expect_error("a,b\n\"x,\ny\n", "t.csv:2:1: error: unterminated quoted field (opened here)");
    expect_error("a,\"bc", "t.csv:1:3: error: unterminated quoted field (opened here)");
    expect_error("a,\"b\"\"", "t.csv:1:3: error: unterminated quoted field (opened here)");
    expect_error("\"a\nb\",\"c\r\nd\n",
                 "t.csv:2:4: error: unterminated quoted field (opened here)");
    expect_error("x\nab\"c\n", "t.csv:2:3: error: quote character inside an unquoted field "
                               "(quote the whole field and double the quote)");
    expect_error("\"ab\"c,d", "t.csv:1:5: error: unexpected 'c' after closing quote "
                              "(expected ',' or end of line)");
    expect_error("\"ab\" ,d", "t.csv:1:5: error: unexpected space after closing quote "
                              "(expected ',' or end of line)");
    /* After a multi-line field, positions continue on the field's last line. */
    expect_error("\"a\nbc\"\"\"x", "t.csv:2:6: error: unexpected 'x' after closing quote "
                                   "(expected ',' or end of line)");
}

static void
test_control_errors(void **state)
{
    (void)state;
    expect_error_n("a,b\0c", 5, "t.csv:1:4: error: NUL byte is not allowed");
    expect_error_n("\"a\nb\0\"", 6, "t.csv:2:2: error: NUL byte is not allowed");
    expect_error("a\nb\x01", "t.csv:2:2: error: control character 0x01 is not allowed");
    expect_error("\"\x1B[0m\"", "t.csv:1:2: error: control character 0x1B is not allowed");
    expect_error("ab\x7F", "t.csv:1:3: error: control character 0x7F is not allowed");
    expect_error("a\xC2\x85", "t.csv:1:2: error: control character U+0085 is not allowed");
    expect_error("ab\f", "t.csv:1:3: error: control character 0x0C is not allowed");
}

static void
test_utf8_errors(void **state)
{
    (void)state;
    expect_error("ab\x80", "t.csv:1:3: error: invalid UTF-8: unexpected continuation byte 0x80");
    expect_error("\xC0\xAF", "t.csv:1:1: error: invalid UTF-8: overlong encoding (lead byte 0xC0)");
    expect_error("x\xE0\x80\xAF", "t.csv:1:2: error: invalid UTF-8: overlong encoding");
    expect_error("x\xF0\x80\x80\xAF", "t.csv:1:2: error: invalid UTF-8: overlong encoding");
    expect_error("a\n\"\xED\xA0\x80\"",
                 "t.csv:2:2: error: invalid UTF-8: encoded surrogate (UTF-16 half)");
    expect_error("\xF4\x90\x80\x80", "t.csv:1:1: error: invalid UTF-8: code point above U+10FFFF");
    expect_error("\xF5\x80\x80\x80", "t.csv:1:1: error: invalid UTF-8: byte 0xF5 never appears "
                                     "in UTF-8");
    expect_error("\xFF", "t.csv:1:1: error: invalid UTF-8: byte 0xFF never appears in UTF-8");
    expect_error("ab\xE2\x82", "t.csv:1:3: error: invalid UTF-8: truncated 3-byte sequence");
    expect_error("ab\xE2\x82,c", "t.csv:1:3: error: invalid UTF-8: truncated 3-byte sequence");
    expect_error("\xF0\x9F\x98", "t.csv:1:1: error: invalid UTF-8: truncated 4-byte sequence");
    expect_error("\xC3", "t.csv:1:1: error: invalid UTF-8: truncated 2-byte sequence");
    expect_error("\"\xC3\"", "t.csv:1:2: error: invalid UTF-8: truncated 2-byte sequence");

    /* The largest valid forms of each length are accepted. */
    const char *valid = "\xC2\xA0,\xDF\xBF,\xE0\xA0\x80,\xED\x9F\xBF,\xEE\x80\x80,\xEF\xBF\xBF,"
                        "\xF0\x90\x80\x80,\xF4\x8F\xBF\xBF";
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(valid, strlen(valid), &t, &d), 0);
    assert_int_equal(t.rows[0].count, 8);
    assert_field(&t.rows[0].fields[7], "\xF4\x8F\xBF\xBF", 1, 28);
    csv_table_free(&t);
    diag_free(&d);
}

/* Bad characters do not upset the structure, so all of them are reported in one run, up to a
 * limit; structural errors stop the reader at once. */
static void
test_error_reporting(void **state)
{
    (void)state;
    struct csv_table t;
    struct diag d;
    const char *in = "a\x01,b\n\xFF,\"\x02\"\n";
    assert_int_equal(parse(in, strlen(in), &t, &d), -1);
    assert_table_empty(&t);
    assert_int_equal(d.errors, 3);
    assert_int_equal(d.items[1].line, 2);
    assert_int_equal(d.items[1].col, 1);
    assert_int_equal(d.items[2].line, 2);
    assert_int_equal(d.items[2].col, 4);
    diag_free(&d);

    char many[200];
    memset(many, 1, sizeof many);
    assert_int_equal(parse(many, sizeof many, &t, &d), -1);
    assert_true(d.errors > 1 && d.errors <= 30);
    char line[256];
    diag_format(&d.items[d.count - 1], line, sizeof line);
    assert_non_null(strstr(line, "too many errors"));
    diag_free(&d);

    /* d may be NULL: the parse still fails cleanly. */
    assert_int_equal(csv_parse("\"", 1, "t.csv", &t, NULL), -1);
    assert_table_empty(&t);
}

static void
test_field_limit(void **state)
{
    (void)state;
    char in[400];
    size_t n = 0;
    n += (size_t)snprintf(in + n, sizeof in - n, "h\n");
    for (unsigned i = 0; i < CSV_MAX_FIELDS; i++)
        n += (size_t)snprintf(in + n, sizeof in - n, "%s%u", i ? "," : "", i % 10);
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, n, &t, &d), 0);
    assert_int_equal(t.rows[1].count, CSV_MAX_FIELDS);
    csv_table_free(&t);
    diag_free(&d);

    /* The 65th field starts at column 2 * 64 + 1. */
    n += (size_t)snprintf(in + n, sizeof in - n, ",x\n");
    char want[128];
    snprintf(want, sizeof want, "t.csv:2:%u: error: row has more than %u fields",
             2 * CSV_MAX_FIELDS + 1, CSV_MAX_FIELDS);
    expect_error_n(in, n, want);
    /* An empty 65th field after a trailing comma counts too. */
    in[n - 2] = '\n';
    expect_error_n(in, n - 1, want);
}

/* A 3 MB description loaded, and then a request for 100 codes made a 300 MB answer. */
static void
test_field_size_limit(void **state)
{
    (void)state;
    size_t cap = 2 * CSV_MAX_FIELD + 64;
    char *in = malloc(cap);
    assert_non_null(in);
    /* Exactly the limit, unquoted and quoted, is accepted. */
    size_t n = (size_t)snprintf(in, cap, "Code,Description\nX.1.1,");
    memset(in + n, 'a', CSV_MAX_FIELD);
    n += CSV_MAX_FIELD;
    n += (size_t)snprintf(in + n, cap - n, "\nX.1.2,\"");
    memset(in + n, 'b', CSV_MAX_FIELD);
    in[n + 10] = '\n'; /* a line break inside is one byte of the field */
    n += CSV_MAX_FIELD;
    in[n++] = '"';
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(in, n, &t, &d), 0);
    assert_int_equal(t.rows[1].fields[1].len, CSV_MAX_FIELD);
    assert_int_equal(t.rows[2].fields[1].len, CSV_MAX_FIELD);
    csv_table_free(&t);
    diag_free(&d);

    /* One byte more is refused where the field starts, though it ends lines later. */
    in[n - 1] = 'b';
    in[n++] = '"';
    char want[128];
    snprintf(want, sizeof want, "t.csv:3:7: error: field is %u bytes, more than the limit of %u",
             CSV_MAX_FIELD + 1, CSV_MAX_FIELD);
    expect_error_n(in, n, want);
    n = (size_t)snprintf(in, cap, "Code,Description\nX.1.1,");
    memset(in + n, 'a', CSV_MAX_FIELD + 1);
    n += CSV_MAX_FIELD + 1;
    snprintf(want, sizeof want, "t.csv:2:7: error: field is %u bytes, more than the limit of %u",
             CSV_MAX_FIELD + 1, CSV_MAX_FIELD);
    expect_error_n(in, n, want);
    free(in);
}

static void
test_input_limit(void **state)
{
    (void)state;
    size_t len = (size_t)CSV_MAX_INPUT + 1;
    char *big = calloc(1, len);
    assert_non_null(big);
    char want[128];
    snprintf(want, sizeof want, "t.csv: error: input is %zu bytes, more than the limit of %u", len,
             (unsigned)CSV_MAX_INPUT);
    expect_error_n(big, len, want);

    /* Exactly the limit is accepted (in lines of 1024 bytes: a field has its own limit). */
    memset(big, 'a', len - 1);
    for (size_t i = 1023; i < len - 1; i += 1024)
        big[i] = '\n';
    struct csv_table t;
    struct diag d;
    assert_int_equal(parse(big, len - 1, &t, &d), 0);
    assert_int_equal(t.count, CSV_MAX_INPUT / 1024);
    assert_int_equal(t.rows[0].fields[0].len, 1023);
    csv_table_free(&t);
    diag_free(&d);
    free(big);
}

/* Every prefix of the sample either parses, with every row but the last exactly as in the
 * whole file, or is refused with a positioned error. */
static void
test_truncation(void **state)
{
    (void)state;
    size_t full_len = sizeof sample - 1;
    struct csv_table full;
    struct diag d;
    assert_int_equal(parse(sample, full_len, &full, &d), 0);
    diag_free(&d);
    assert_int_equal(full.count, 5);
    assert_field(&full.rows[2].fields[3],
                 "The mailbox \nto the left of the \"@\" sign is invalid. ", 4, 54);
    assert_field(&full.rows[3].fields[1], "Bad destination system address ", 7, 7);
    assert_field(&full.rows[4].fields[2], "430, 500\n554", 8, 33);
    assert_field(&full.rows[4].fields[3], "", 9, 6);

    size_t ok = 0, refused = 0;
    for (size_t cut = 0; cut <= full_len; cut++) {
        char *buf = malloc(cut ? cut : 1);
        assert_non_null(buf);
        memcpy(buf, sample, cut);
        struct csv_table t;
        diag_init(&d);
        int rc = csv_parse(buf, cut, "fuzz.csv", &t, &d);
        check_invariants(buf, cut, rc, &t, &d);
        if (rc == 0) {
            ok++;
            assert_true(t.count <= full.count);
            for (size_t r = 0; t.count > 0 && r < t.count - 1; r++) {
                assert_int_equal(t.rows[r].count, full.rows[r].count);
                for (size_t i = 0; i < t.rows[r].count; i++) {
                    const struct csv_field *a = &t.rows[r].fields[i], *b = &full.rows[r].fields[i];
                    assert_field(a, b->text, b->line, b->col);
                }
            }
        } else {
            refused++;
        }
        csv_table_free(&t);
        diag_free(&d);
        free(buf);
    }
    assert_true(ok > 0 && refused > 0);
    csv_table_free(&full);
}

static void
test_random_flips(void **state)
{
    (void)state;
    static const unsigned char interesting[] = {'"',  ',',  '\r', '\n', 0,    0x01, 0x7F, 0x80,
                                                0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF4, 0xFF, ' '};
    size_t len = sizeof sample - 1;
    uint64_t rng = 0x5eed5eed12345678ull;
    size_t ok = 0, refused = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t n = len;
        if (testutil_rand(&rng) % 8 == 0)
            n = (size_t)(testutil_rand(&rng) % (len + 1));
        char *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        memcpy(buf, sample, n);
        int flips = 1 + (int)(testutil_rand(&rng) % 4);
        for (int f = 0; f < flips && n > 0; f++) {
            size_t at = (size_t)(testutil_rand(&rng) % n);
            uint64_t r = testutil_rand(&rng);
            if (r % 2)
                buf[at] = (char)interesting[(r >> 8) % sizeof interesting];
            else
                buf[at] = (char)(r >> 8);
        }
        struct csv_table t;
        struct diag d;
        diag_init(&d);
        int rc = csv_parse(buf, n, "fuzz.csv", &t, &d);
        check_invariants(buf, n, rc, &t, &d);
        if (rc == 0)
            ok++;
        else
            refused++;
        csv_table_free(&t);
        diag_free(&d);
        free(buf);
    }
    assert_true(ok > 100 && refused > 100);
}

struct iana_file {
    const char *sub;
    const char *name;
    size_t rows;   /* including the header */
    size_t fields; /* in every row */
};

static const struct iana_file iana_files[] = {
    {"2017", "smtp-enhanced-status-codes-1.csv", 4, 6},
    {"2017", "smtp-enhanced-status-codes-2.csv", 9, 6},
    {"2017", "smtp-enhanced-status-codes-3.csv", 1 + 79, 7},
    {"2017", "extra-column-variant.csv", 1 + 79, 8},
    {"later", "smtp-enhanced-status-codes-1.csv", 4, 6},
    {"later", "smtp-enhanced-status-codes-2.csv", 9, 6},
    {"later", "smtp-enhanced-status-codes-3.csv", 1 + 81, 7},
};

static char *
read_iana(const struct iana_file *f, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", testutil_shared_iana(f->sub), f->name);
    return testutil_read_file(path, len);
}

static void
test_iana_files(void **state)
{
    (void)state;
    testutil_shared_iana("2017");
    for (size_t i = 0; i < sizeof iana_files / sizeof *iana_files; i++) {
        const struct iana_file *f = &iana_files[i];
        size_t len;
        char *buf = read_iana(f, &len);
        struct csv_table t;
        struct diag d;
        diag_init(&d);
        int rc = csv_parse(buf, len, f->name, &t, &d);
        if (rc != 0)
            diag_print(&d, stdout);
        assert_int_equal(rc, 0);
        assert_int_equal(d.count, 0);
        assert_int_equal(t.count, f->rows);
        for (size_t r = 0; r < t.count; r++)
            assert_int_equal(t.rows[r].count, f->fields);
        assert_string_equal(t.rows[0].fields[0].text, "Code");
        csv_table_free(&t);
        diag_free(&d);
        free(buf);
    }
}

/* X.1.1 in the 2017 enumerated table: "" unescaped, and the fields after its four-line
 * Description at the right place. The same file with CRLF line ends and a BOM reads the same. */
static void
test_iana_x_1_1(void **state)
{
    (void)state;
    testutil_shared_iana("2017");
    size_t len;
    char *buf = read_iana(&iana_files[2], &len);
    struct csv_table t;
    struct diag d;
    diag_init(&d);
    assert_int_equal(csv_parse(buf, len, "3.csv", &t, &d), 0);

    const struct csv_row *row = NULL;
    for (size_t r = 0; r < t.count; r++)
        if (strcmp(t.rows[r].fields[0].text, "X.1.1") == 0)
            row = &t.rows[r];
    assert_non_null(row);
    assert_int_equal(row->line, 7);
    assert_field(&row->fields[2], "451, 550", 7, 43);
    assert_non_null(strstr(row->fields[3].text, "the left of the \"@\" sign"));
    assert_null(strstr(row->fields[3].text, "\"\""));
    assert_int_equal(row->fields[3].line, 7);
    assert_int_equal(row->fields[3].col, 54);
    assert_field(&row->fields[4], "[RFC3463] (Standards Track)", 10, 33);
    assert_field(&row->fields[6], "IESG", 10, 78);

    /* BOM + CRLF everywhere: same texts, lines and columns. */
    char *crlf = malloc(3 + 2 * len);
    assert_non_null(crlf);
    size_t n = 0;
    memcpy(crlf, BOM, 3);
    n = 3;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = buf[i];
    }
    struct csv_table t2;
    assert_int_equal(csv_parse(crlf, n, "3-crlf.csv", &t2, &d), 0);
    assert_int_equal(t2.count, t.count);
    for (size_t r = 0; r < t.count; r++) {
        assert_int_equal(t2.rows[r].line, t.rows[r].line);
        assert_int_equal(t2.rows[r].count, t.rows[r].count);
        for (size_t i = 0; i < t.rows[r].count; i++) {
            const struct csv_field *a = &t.rows[r].fields[i];
            assert_field(&t2.rows[r].fields[i], a->text, a->line, a->col);
        }
    }
    csv_table_free(&t2);
    free(crlf);
    csv_table_free(&t);
    diag_free(&d);
    free(buf);
}

static void
test_diag_format(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    diag_add(&d, DIAG_ERROR, "a.csv", 3, 14, "bad %s", "thing");
    diag_add(&d, DIAG_WARNING, "a.csv", 3, 0, "no column");
    diag_add(&d, DIAG_WARNING, "a.csv", 0, 0, "whole file");
    diag_add(&d, DIAG_ERROR, NULL, 0, 0, "no file");
    diag_add(&d, DIAG_ERROR, "", 5, 2, "line only");
    diag_add(&d, DIAG_ERROR, "a.csv", 0, 7, "column without a line");
    assert_int_equal(d.count, 6);
    assert_int_equal(d.errors, 4);
    assert_int_equal(d.warnings, 2);
    assert_int_equal(d.dropped, 0);
    assert_string_equal(d.items[3].file, "");

    static const char *want[] = {
        "a.csv:3:14: error: bad thing", "a.csv:3: warning: no column",
        "a.csv: warning: whole file",   "error: no file",
        "5:2: error: line only",        "a.csv: error: column without a line",
    };
    char buf[128];
    for (size_t i = 0; i < 6; i++) {
        int n = diag_format(&d.items[i], buf, sizeof buf);
        assert_string_equal(buf, want[i]);
        assert_int_equal(n, strlen(want[i]));
    }

    /* Truncated output is NUL-terminated and the return value is the full length. */
    char small[8];
    assert_int_equal(diag_format(&d.items[0], small, sizeof small), strlen(want[0]));
    assert_string_equal(small, "a.csv:3");
    assert_int_equal(diag_format(&d.items[0], NULL, 0), strlen(want[0]));
    small[0] = 'x';
    assert_int_equal(diag_format(&d.items[0], small, 1), strlen(want[0]));
    assert_int_equal(small[0], '\0');

    assert_ptr_equal(diag_first_error(&d), &d.items[0]);

    /* diag_print: one line per item. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    assert_non_null(f);
    diag_print(&d, f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(text, "a.csv:3:14: error: bad thing\n"
                              "a.csv:3: warning: no column\n"
                              "a.csv: warning: whole file\n"
                              "error: no file\n"
                              "5:2: error: line only\n"
                              "a.csv: error: column without a line\n");
    free(text);
    diag_free(&d);
}

static void
test_diag_reuse(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    assert_null(diag_first_error(&d));
    diag_free(&d);
    diag_free(NULL);

    diag_add(&d, DIAG_WARNING, "w.csv", 1, 1, "only a warning");
    assert_null(diag_first_error(&d));
    for (unsigned i = 0; i < 1000; i++)
        diag_add(&d, DIAG_ERROR, "e.csv", i + 1, 1, "error %u", i);
    assert_int_equal(d.count, 1001);
    assert_int_equal(d.errors, 1000);
    assert_int_equal(d.warnings, 1);
    assert_int_equal(diag_first_error(&d)->line, 1);
    assert_string_equal(d.items[1000].message, "error 999");

    diag_free(&d);
    assert_null(d.items);
    assert_int_equal(d.count, 0);
    assert_int_equal(d.cap, 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 0);
    assert_int_equal(d.dropped, 0);

    /* Reusable after diag_free(), and a long line prints whole. */
    char longname[1500];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    diag_add(&d, DIAG_ERROR, longname, 2, 3, "again");
    assert_int_equal(d.count, 1);
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    assert_non_null(f);
    diag_print(&d, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(text_len, strlen(longname) + strlen(":2:3: error: again\n"));
    assert_string_equal(text + strlen(longname), ":2:3: error: again\n");
    free(text);
    diag_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_rows),
        cmocka_unit_test(test_empty_fields),
        cmocka_unit_test(test_quoted_multiline),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_no_final_newline),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_spaces_kept),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_control_errors),
        cmocka_unit_test(test_utf8_errors),
        cmocka_unit_test(test_error_reporting),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_field_size_limit),
        cmocka_unit_test(test_input_limit),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_flips),
        cmocka_unit_test(test_iana_files),
        cmocka_unit_test(test_iana_x_1_1),
        cmocka_unit_test(test_diag_format),
        cmocka_unit_test(test_diag_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
