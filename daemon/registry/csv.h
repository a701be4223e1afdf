/*
 * An RFC 4180 CSV reader for IANA's registry files.
 *
 * It takes the whole file in memory (registry files are small) and returns a table of rows of
 * unescaped fields, each remembering the line and column where it starts, so that the loader
 * can name the exact place of any problem. It accepts quoted fields spanning lines, "" inside
 * quotes, CRLF or LF line ends, a UTF-8 byte order mark, and a missing final newline. It
 * refuses, with file:line:col, an unterminated quote, a quote inside an unquoted field,
 * characters after a closing quote, NUL and other control characters, invalid UTF-8, a field
 * over CSV_MAX_FIELD and input over CSV_MAX_INPUT. It knows nothing of what the columns mean.
 */
#ifndef SMTPSTATUSD_CSV_H
#define SMTPSTATUSD_CSV_H

#include <stddef.h>

#include "diag.h"

#define CSV_MAX_INPUT (4u << 20) /* bytes; IANA's largest table is about 20 KiB */
#define CSV_MAX_FIELDS 64u        /* per row */
/* Bytes of one field, unescaped. IANA's longest (X.7.13's description) is 538: a registry
 * whose answers stay small, since one lookup request may name hundreds of codes. */
#define CSV_MAX_FIELD 4096u

struct csv_field {
    const char *text; /* unescaped, NUL-terminated; CRLF inside quotes becomes LF */
    size_t len;       /* bytes, without the NUL */
    unsigned line;    /* 1-based line where the field starts */
    unsigned col;     /* 1-based byte column where the field starts (at its quote if quoted) */
    unsigned char quoted; /* 1 if the field was in quotes: its text starts one column later */
};

struct csv_row {
    struct csv_field *fields;
    size_t count;
    unsigned line; /* line where the row starts */
};

/* A parsed table. Owns all of its rows, fields and text; csv_table_free() releases them. */
struct csv_table {
    struct csv_row *rows;
    size_t count;
    void *storage_; /* private: the allocation behind fields and text */
};

/*
 * Parses buf[0..len). `file` names the input in diagnostics. Returns 0 and fills *out, or
 * returns -1 with at least one error in `d` and *out empty. Empty lines between rows are
 * skipped; a file with no rows gives an empty table. Does no I/O.
 */
int csv_parse(const char *buf, size_t len, const char *file, struct csv_table *out,
              struct diag *d);

/* Frees what csv_parse() put in `t` and leaves it empty. Safe on an empty table. */
void csv_table_free(struct csv_table *t);

/* Narrows s[0..*n) to its text without the blanks (spaces and TABs) around it. */
void csv_trim(const char **s, size_t *n);

/*
 * Finds the `count` columns named in names[] in the header row `h`, by name, in any order and
 * letter case, blanks around a name ignored: index[k] is the field number of names[k], or -1.
 * A column named twice is an error; a header field that names no column is a warning; a column
 * whose required[k] is set (required may be NULL: none is) and that is missing is an error.
 * Every diagnostic names `file` and the place. Returns 0, or -1 after reporting an error.
 */
int csv_map_columns(const struct csv_row *h, const char *const *names, const int *required,
                    size_t count, int *index, const char *file, struct diag *d);

/* Field k of `row` as csv_map_columns() mapped it, or an empty field (line 0) when the column
 * is absent or the row is short. The pointer is into the row or static. */
const struct csv_field *csv_cell(const struct csv_row *row, const int *index, size_t k);

#define CSV_COLUMNS_MAX 16

/* A row of a table whose columns were found by name (csv_map_columns() into col), and where its
 * problems are reported: what the readers of the rules and the vendors files share. */
struct csv_row_ctx {
    const char *file;
    struct diag *d;
    const struct csv_row *row;
    const char *const *names; /* each column's name, for messages */
    int col[CSV_COLUMNS_MAX]; /* the field index of each column, or -1 */
};

/* Field k of the row (csv_cell()). */
const struct csv_field *csv_row_field(const struct csv_row_ctx *c, size_t k);

/* Field k's text without the blanks around it (csv_trim()). */
void csv_row_text(const struct csv_row_ctx *c, size_t k, const char **s, size_t *n);

/* Reports `NAME: what "s"` (s cut at 80 bytes) as an error at field k's first character: after
 * the opening quote of a quoted field, the row's start when the field is missing. */
void csv_row_bad(const struct csv_row_ctx *c, size_t k, const char *what, const char *s,
                 size_t n);

#endif
