/*
 * Diagnostics: the errors and warnings that loading a registry produces, each with the file,
 * line and column it is about. The CSV reader, the registry loader and --check all report
 * through one `struct diag`, so a person sees every problem in one run, in the form
 * "file:line:col: error: message" that editors and `nginx -t` users know.
 */
#ifndef SMTPSTATUSD_DIAG_H
#define SMTPSTATUSD_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum diag_severity { DIAG_WARNING, DIAG_ERROR };

struct diag_item {
    enum diag_severity severity;
    char *file;   /* owned by the item; "" when not about a file */
    unsigned line; /* 1-based; 0 when not about a line */
    unsigned col;  /* 1-based byte column; 0 when not about a column */
    char *message; /* owned by the item */
};

/* A list of diagnostics. Owns its items. `errors` and `warnings` count everything added, even
 * items that could not be stored for lack of memory (`dropped` counts those). */
struct diag {
    struct diag_item *items;
    size_t count;
    size_t cap;
    size_t errors;
    size_t warnings;
    size_t dropped;
};

void diag_init(struct diag *d);

/* Frees every item and leaves `d` empty and reusable. */
void diag_free(struct diag *d);

/* Appends a diagnostic. `file` may be NULL. Never fails: on ENOMEM the item is counted and
 * dropped. */
void diag_add(struct diag *d, enum diag_severity severity, const char *file, unsigned line,
              unsigned col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Formats one item as "file:line:col: error: message" (parts that are 0 or empty are left
 * out) into buf[0..size), NUL-terminated and truncated if needed, between two characters.
 * Returns the full length. The line is well-formed UTF-8: diag_add() mends the file name and
 * the message, each bad byte becoming '?'. */
int diag_format(const struct diag_item *item, char *buf, size_t size);

/* The items of `d` (only its warnings when warnings_only) formatted as diag_format() does, each
 * cut to DIAG_LINE_MAX bytes between characters, in a new array of *count strings. The array
 * and its strings are malloc'd and the caller's (diag_lines_free()). Returns 0, or -1 on ENOMEM
 * with *lines NULL and *count 0. */
#define DIAG_LINE_MAX 1023
int diag_lines(const struct diag *d, int warnings_only, char ***lines, size_t *count);

/* Frees what diag_lines() made; NULL is allowed. */
void diag_lines_free(char **lines, size_t count);

/* Writes every item, one per line, to `f`. */
void diag_print(const struct diag *d, FILE *f);

/* The first error, or NULL when there is none. */
const struct diag_item *diag_first_error(const struct diag *d);

#endif
