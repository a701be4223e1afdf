/*
 * RFC 4180 reader for the registry CSV files (see csv.h). The input is read twice by the same
 * scanner: the first pass validates everything and counts rows, fields and unescaped bytes;
 * the second pass, which cannot fail, fills one allocation that holds the row array, the
 * field array and all field text. A table is therefore one malloc and one free, and nothing
 * is ever reallocated under a pointer that a field already holds. Positions are 1-based; the
 * column counts bytes from the start of the line, where a UTF-8 byte order mark at the start
 * of the file is not part of line 1. Every line break (LF, CRLF or a lone CR) counts as a new
 * line, inside quotes too, so that positions match what an editor shows.
 */
#include "csv.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Encoding errors do not confuse the structure of the file, so scanning goes on after them to
 * show every bad byte at once; this caps the list for a file that is not UTF-8 at all. */
#define CSV_MAX_ERRORS 20u

struct csv_scan {
    const unsigned char *buf;
    size_t len;
    size_t pos;
    size_t line_start; /* offset of the first byte of the current line */
    unsigned line;
    const char *file;
    struct diag *d;
    size_t errors;
    bool stop; /* a structural error, or too many errors: give up */

    /* Counted in both passes; in the second they index the arrays below. */
    size_t nrows;
    size_t nfields;
    size_t ntext; /* unescaped bytes, including one NUL per field */

    /* Set only for the second pass. */
    struct csv_row *rows;
    struct csv_field *fields;
    char *text;
};

static unsigned
csv_col(const struct csv_scan *s, size_t pos)
{
    return (unsigned)(pos - s->line_start + 1);
}

static void __attribute__((format(printf, 3, 4)))
csv_error(struct csv_scan *s, size_t pos, const char *fmt, ...)
{
    /* The second pass only runs over input the first pass accepted. */
    assert(s->rows == NULL);
    s->errors++;
    if (s->d == NULL)
        return;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(s->d, DIAG_ERROR, s->file, s->line, csv_col(s, pos), "%s", msg);
}

/* Reports a problem after which the structure of the rest of the file cannot be trusted. */
#define csv_fatal(s, pos, ...)                                                                     \
    do {                                                                                           \
        csv_error((s), (pos), __VA_ARGS__);                                                        \
        (s)->stop = true;                                                                          \
    } while (0)

/* Reports a bad character and gives up once there have been too many. */
#define csv_bad_char(s, pos, ...)                                                                  \
    do {                                                                                           \
        csv_error((s), (pos), __VA_ARGS__);                                                        \
        if ((s)->errors >= CSV_MAX_ERRORS) {                                                       \
            if ((s)->d != NULL)                                                                    \
                diag_add((s)->d, DIAG_ERROR, (s)->file, 0, 0,                                      \
                         "too many errors (%u); not reading further", CSV_MAX_ERRORS);             \
            (s)->stop = true;                                                                      \
        }                                                                                          \
    } while (0)

static bool
csv_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/*
 * Validates the character at s->pos, which is not a line break or a quote, and returns how
 * many bytes it takes. For an invalid sequence it reports an error and returns the length of
 * its maximal invalid part (the lead byte and the continuation bytes that could belong to it),
 * so that the next call starts at the next plausible character and one mistake gives one
 * error. Follows Unicode's table of well-formed UTF-8 (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
static size_t
csv_char(struct csv_scan *s)
{
    const unsigned char *p = s->buf + s->pos;
    size_t avail = s->len - s->pos;
    unsigned char c = p[0];

    if (c < 0x80) {
        if (c == 0)
            csv_bad_char(s, s->pos, "NUL byte is not allowed");
        else if ((c < 0x20 && c != '\t') || c == 0x7F)
            csv_bad_char(s, s->pos, "control character 0x%02X is not allowed", c);
        return 1;
    }
    if (csv_is_cont(c)) {
        csv_bad_char(s, s->pos, "invalid UTF-8: unexpected continuation byte 0x%02X", c);
        return 1;
    }

    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else if (c == 0xC0 || c == 0xC1) {
        csv_bad_char(s, s->pos, "invalid UTF-8: overlong encoding (lead byte 0x%02X)", c);
        return 1 + (avail > 1 && csv_is_cont(p[1]));
    } else {
        csv_bad_char(s, s->pos, "invalid UTF-8: byte 0x%02X never appears in UTF-8", c);
        return 1;
    }

    if (avail < 2 || !csv_is_cont(p[1])) {
        csv_bad_char(s, s->pos, "invalid UTF-8: truncated %zu-byte sequence", need);
        return 1;
    }
    if (p[1] < lo || p[1] > hi) {
        size_t n = 2;
        while (n < need && n < avail && csv_is_cont(p[n]))
            n++;
        if (c == 0xED)
            csv_bad_char(s, s->pos, "invalid UTF-8: encoded surrogate (UTF-16 half)");
        else if (c == 0xF4)
            csv_bad_char(s, s->pos, "invalid UTF-8: code point above U+10FFFF");
        else
            csv_bad_char(s, s->pos, "invalid UTF-8: overlong encoding");
        return n;
    }
    for (size_t i = 2; i < need; i++) {
        if (i >= avail || !csv_is_cont(p[i])) {
            csv_bad_char(s, s->pos, "invalid UTF-8: truncated %zu-byte sequence", need);
            return i;
        }
    }
    /* U+0080..U+009F, the C1 controls, are the only controls outside ASCII. */
    if (c == 0xC2 && p[1] <= 0x9F)
        csv_bad_char(s, s->pos, "control character U+%04X is not allowed", (unsigned)p[1]);
    return need;
}

static void
csv_put(struct csv_scan *s, const unsigned char *src, size_t n)
{
    if (s->text != NULL)
        memcpy(s->text + s->ntext, src, n);
    s->ntext += n;
}

/* Consumes the line break at s->pos (LF, CRLF or a lone CR) and starts a new line. */
static void
csv_newline(struct csv_scan *s)
{
    if (s->buf[s->pos] == '\r' && s->pos + 1 < s->len && s->buf[s->pos + 1] == '\n')
        s->pos++;
    s->pos++;
    s->line++;
    s->line_start = s->pos;
}

static bool
csv_is_eol(unsigned char c)
{
    return c == '\n' || c == '\r';
}

/* Reads a quoted field whose opening quote is at s->pos, through its closing quote. */
static void
csv_quoted(struct csv_scan *s)
{
    size_t open = s->pos;
    unsigned open_line = s->line;
    size_t open_line_start = s->line_start;

    s->pos++;
    for (;;) {
        if (s->pos >= s->len) {
            /* Point at the opening quote: the end of the file says nothing useful. */
            s->line = open_line;
            s->line_start = open_line_start;
            csv_fatal(s, open, "unterminated quoted field (opened here)");
            return;
        }
        unsigned char c = s->buf[s->pos];
        if (c == '"') {
            if (s->pos + 1 < s->len && s->buf[s->pos + 1] == '"') {
                csv_put(s, s->buf + s->pos, 1);
                s->pos += 2;
                continue;
            }
            s->pos++;
            return;
        }
        if (csv_is_eol(c)) {
            /* The loader sees one kind of line break whatever the file used. */
            csv_put(s, (const unsigned char *)"\n", 1);
            csv_newline(s);
            continue;
        }
        size_t n = csv_char(s);
        if (s->stop)
            return;
        csv_put(s, s->buf + s->pos, n);
        s->pos += n;
    }
}

/* Reads an unquoted field up to, not including, the comma, line break or end of input. */
static void
csv_unquoted(struct csv_scan *s)
{
    while (s->pos < s->len) {
        unsigned char c = s->buf[s->pos];
        if (c == ',' || csv_is_eol(c))
            return;
        if (c == '"') {
            csv_fatal(s, s->pos,
                      "quote character inside an unquoted field "
                      "(quote the whole field and double the quote)");
            return;
        }
        size_t n = csv_char(s);
        if (s->stop)
            return;
        csv_put(s, s->buf + s->pos, n);
        s->pos += n;
    }
}

/* Reads one field starting at s->pos and records it in the current row. */
static void
csv_field(struct csv_scan *s, size_t row_fields)
{
    if (row_fields >= CSV_MAX_FIELDS) {
        csv_fatal(s, s->pos, "row has more than %u fields", CSV_MAX_FIELDS);
        return;
    }
    size_t start = s->pos, text_start = s->ntext, start_line_start = s->line_start;
    unsigned line = s->line, col = csv_col(s, start);
    int quoted = s->pos < s->len && s->buf[s->pos] == '"';

    if (quoted) {
        csv_quoted(s);
        if (s->stop)
            return;
        if (s->pos < s->len && s->buf[s->pos] != ',' && !csv_is_eol(s->buf[s->pos])) {
            unsigned char c = s->buf[s->pos];
            if (c == ' ')
                csv_fatal(s, s->pos,
                          "unexpected space after closing quote (expected ',' or end of line)");
            else if (c > 0x20 && c < 0x7F)
                csv_fatal(s, s->pos,
                          "unexpected '%c' after closing quote (expected ',' or end of line)", c);
            else
                csv_fatal(s, s->pos,
                          "unexpected byte 0x%02X after closing quote "
                          "(expected ',' or end of line)",
                          c);
            return;
        }
    } else {
        csv_unquoted(s);
        if (s->stop)
            return;
    }
    if (s->ntext - text_start > CSV_MAX_FIELD) {
        /* Named where it starts: its end may be many lines further. */
        size_t n = s->ntext - text_start;
        s->line = line;
        s->line_start = start_line_start;
        csv_fatal(s, start, "field is %zu bytes, more than the limit of %u", n, CSV_MAX_FIELD);
        return;
    }

    if (s->fields != NULL) {
        s->text[s->ntext] = '\0';
        s->fields[s->nfields] = (struct csv_field){
            .text = s->text + text_start,
            .len = s->ntext - text_start,
            .line = line,
            .col = col,
            .quoted = (unsigned char)quoted,
        };
    }
    s->ntext++;
    s->nfields++;
}

/* Scans the whole input once; see the file comment for the two passes. */
static void
csv_scan_all(struct csv_scan *s)
{
    while (s->pos < s->len && !s->stop) {
        if (csv_is_eol(s->buf[s->pos])) {
            csv_newline(s);
            continue;
        }
        size_t first = s->nfields, count = 0;
        unsigned line = s->line;
        for (;;) {
            csv_field(s, count);
            if (s->stop)
                return;
            count++;
            if (s->pos >= s->len)
                break;
            if (s->buf[s->pos] == ',') {
                s->pos++;
                continue;
            }
            csv_newline(s);
            break;
        }
        if (s->rows != NULL)
            s->rows[s->nrows] = (struct csv_row){
                .fields = s->fields + first,
                .count = count,
                .line = line,
            };
        s->nrows++;
    }
}

static bool
csv_size_mul(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return false;
    *out = a * b;
    return true;
}

static bool
csv_size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b)
        return false;
    *out = a + b;
    return true;
}

/*
 * Parses buf[0..len) into *out (see csv.h). The table owns one allocation, released by
 * csv_table_free(); field text stays valid until then and does not point into `buf`. Returns
 * -1 on the first structural error, after every encoding error (up to CSV_MAX_ERRORS), or when
 * memory runs out, always with an error in `d` and *out empty.
 */
int
csv_parse(const char *buf, size_t len, const char *file, struct csv_table *out, struct diag *d)
{
    memset(out, 0, sizeof *out);
    if (len > CSV_MAX_INPUT) {
        if (d != NULL)
            diag_add(d, DIAG_ERROR, file, 0, 0, "input is %zu bytes, more than the limit of %u",
                     len, (unsigned)CSV_MAX_INPUT);
        return -1;
    }

    struct csv_scan s = {
        .buf = (const unsigned char *)buf,
        .len = len,
        .line = 1,
        .file = file,
        .d = d,
    };
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        s.pos = 3;
        s.line_start = 3;
    }
    struct csv_scan first = s;

    csv_scan_all(&s);
    if (s.errors != 0)
        return -1;
    if (s.nrows == 0)
        return 0;

    /* Layout: rows, then fields (aligned), then text. */
    size_t rows_size, fields_off, fields_size, text_off, total;
    const size_t align = _Alignof(struct csv_field);
    if (!csv_size_mul(s.nrows, sizeof(struct csv_row), &rows_size) ||
        !csv_size_add(rows_size, align - 1, &fields_off) ||
        !csv_size_mul(s.nfields, sizeof(struct csv_field), &fields_size) ||
        !csv_size_add(fields_off - fields_off % align, fields_size, &text_off) ||
        !csv_size_add(text_off, s.ntext, &total)) {
        if (d != NULL)
            diag_add(d, DIAG_ERROR, file, 0, 0, "table too large");
        return -1;
    }
    fields_off -= fields_off % align;

    char *storage = malloc(total);
    if (storage == NULL) {
        if (d != NULL)
            diag_add(d, DIAG_ERROR, file, 0, 0, "out of memory for a %zu-byte table", total);
        return -1;
    }

    struct csv_scan fill = first;
    fill.rows = (struct csv_row *)(void *)storage;
    fill.fields = (struct csv_field *)(void *)(storage + fields_off);
    fill.text = storage + text_off;
    csv_scan_all(&fill);
    assert(fill.errors == 0 && fill.nrows == s.nrows && fill.nfields == s.nfields &&
           fill.ntext == s.ntext);

    out->rows = fill.rows;
    out->count = fill.nrows;
    out->storage_ = storage;
    return 0;
}

void
csv_table_free(struct csv_table *t)
{
    if (t == NULL)
        return;
    free(t->storage_);
    memset(t, 0, sizeof *t);
}

void
csv_trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int
csv_map_columns(const struct csv_row *h, const char *const *names, const int *required,
                size_t count, int *index, const char *file, struct diag *d)
{
    int rc = 0;
    for (size_t k = 0; k < count; k++)
        index[k] = -1;
    for (size_t i = 0; i < h->count; i++) {
        const char *s = h->fields[i].text;
        size_t n = h->fields[i].len;
        csv_trim(&s, &n);
        int found = 0;
        for (size_t k = 0; k < count; k++) {
            if (strlen(names[k]) != n || strncasecmp(s, names[k], n) != 0)
                continue;
            found = 1;
            if (index[k] >= 0) {
                diag_add(d, DIAG_ERROR, file, h->fields[i].line, h->fields[i].col,
                         "column \"%s\" appears twice in the header", names[k]);
                rc = -1;
            }
            index[k] = (int)i;
        }
        if (!found)
            diag_add(d, DIAG_WARNING, file, h->fields[i].line, h->fields[i].col,
                     "unknown column \"%.*s\" is ignored", (int)(n > 60 ? 60 : n), s);
    }
    for (size_t k = 0; k < count; k++)
        if (index[k] < 0 && required != NULL && required[k]) {
            diag_add(d, DIAG_ERROR, file, h->line, 1, "missing column \"%s\" in the header",
                     names[k]);
            rc = -1;
        }
    return rc;
}

const struct csv_field *
csv_cell(const struct csv_row *row, const int *index, size_t k)
{
    static const struct csv_field empty = {"", 0, 0, 0, 0};
    int i = index[k];
    return i >= 0 && (size_t)i < row->count ? &row->fields[i] : &empty;
}

const struct csv_field *
csv_row_field(const struct csv_row_ctx *c, size_t k)
{
    return csv_cell(c->row, c->col, k);
}

void
csv_row_text(const struct csv_row_ctx *c, size_t k, const char **s, size_t *n)
{
    const struct csv_field *f = csv_row_field(c, k);
    *s = f->text;
    *n = f->len;
    csv_trim(s, n);
}

void
csv_row_bad(const struct csv_row_ctx *c, size_t k, const char *what, const char *s, size_t n)
{
    const struct csv_field *f = csv_row_field(c, k);
    diag_add(c->d, DIAG_ERROR, c->file, f->line ? f->line : c->row->line,
             f->line ? f->col + f->quoted : 1, "%s: %s \"%.*s\"", c->names[k], what,
             (int)(n > 80 ? 80 : n), s);
}
