/* A bump allocator for one response's pieces (see arena.h). */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define CHUNK_MIN 8192u

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    _Alignas(max_align_t) unsigned char data[];
};

void *
arena_alloc(struct arena *a, size_t size)
{
    size = (size + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
    struct arena_chunk *c = a->chunks;
    if (c == NULL || c->size - c->used < size) {
        size_t want = size > CHUNK_MIN ? size : CHUNK_MIN;
        if (want > SIZE_MAX - sizeof *c || (c = malloc(sizeof *c + want)) == NULL) {
            a->failed = 1;
            return NULL;
        }
        c->size = want;
        c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? arena_alloc(a, n + 1) : NULL;
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *
arena_utf8dup(struct arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? arena_alloc(a, n + 1) : NULL;
    if (p != NULL)
        smtpstatus__utf8_copy(p, n + 1, s, n);
    return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void
arena_reset(struct arena *a)
{
    struct arena_chunk *keep = NULL;
    while (a->chunks != NULL) {
        struct arena_chunk *next = a->chunks->next;
        if (keep == NULL && a->chunks->size == CHUNK_MIN) {
            keep = a->chunks;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(a->chunks);
        }
        a->chunks = next;
    }
    a->chunks = keep;
    a->failed = 0;
}

void
arena_free(struct arena *a)
{
    arena_reset(a);
    free(a->chunks);
    a->chunks = NULL;
}

void *
arena_protobuf_alloc(void *arena, size_t size)
{
    return arena_alloc(arena, size);
}

void
arena_protobuf_free(void *arena, void *pointer)
{
    (void)arena;
    (void)pointer; /* freed with the arena */
}
