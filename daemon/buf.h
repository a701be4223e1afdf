/*
 * A growable byte buffer for the HTTP port's answers: the connection's output, the body being
 * built, the request body received. The buffer owns its bytes; buf_free() releases them, and
 * buf_reset() keeps them for the next answer so that a busy connection allocates nothing.
 */
#ifndef SMTPSTATUSD_BUF_H
#define SMTPSTATUSD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *data; /* owned; NULL until the first byte */
    size_t len, cap;
    int failed; /* an append failed since the last reset: what it holds is cut short */
};

/* Makes room for `more` bytes after len. Returns 0, or -1 on ENOMEM (the buffer unchanged). */
static inline int
buf_reserve(struct buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return 0;
    if (more > ((size_t)-1) / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len < more)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

/* Appends s[0..n). Returns 0 or -1 on ENOMEM. */
static inline int
buf_append(struct buf *b, const void *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int
buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

static inline void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = 0;
}

static inline void
buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

/* Appends as snprintf would. Returns 0 or -1 on ENOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
