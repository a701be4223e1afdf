/*
 * A bump allocator for building one response: a protobuf-c Response tree points at many small
 * arrays and strings, and all of them die together once the response is packed. One
 * arena_reset() frees them at once, so no error path can leak a piece.
 */
#ifndef SMTPSTATUS_ARENA_H
#define SMTPSTATUS_ARENA_H

#include <stddef.h>

/* Internal to the library, so prefixed: a program linking the static library may have an
 * arena_alloc of its own. */
#define arena_alloc smtpstatus__arena_alloc
#define arena_strndup smtpstatus__arena_strndup
#define arena_printf smtpstatus__arena_printf
#define arena_utf8dup        smtpstatus__arena_utf8dup
#define arena_reset smtpstatus__arena_reset
#define arena_free smtpstatus__arena_free
#define arena_protobuf_alloc smtpstatus__arena_protobuf_alloc
#define arena_protobuf_free smtpstatus__arena_protobuf_free

struct arena_chunk;

struct arena {
    struct arena_chunk *chunks; /* owned; newest first */
    int failed;                 /* an allocation failed since the last reset */
};

/* Returns `size` zeroed bytes aligned for any type, valid until arena_reset(); NULL on ENOMEM
 * (and a->failed is set). */
void *arena_alloc(struct arena *a, size_t size);

/* Returns a NUL-terminated copy of s[0..n) in the arena, or NULL on ENOMEM. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* Returns a copy of s[0..n) in the arena made well-formed UTF-8 (smtpstatus__utf8_copy(): each
 * bad byte becomes '?'), for a protobuf `string` field filled from a request, a file or a path;
 * NULL on ENOMEM. */
char *arena_utf8dup(struct arena *a, const char *s, size_t n);

/* Formats into the arena, as snprintf would; NULL on ENOMEM. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees everything allocated from the arena; the arena stays usable, and keeps one chunk so
 * that the next response allocates nothing from the system. */
void arena_reset(struct arena *a);

/* Frees everything, the kept chunk too. */
void arena_free(struct arena *a);

/* protobuf-c allocator functions over an arena (allocator_data is the struct arena *), so that
 * an unpacked message dies with the arena. Frees nothing one by one. */
void *arena_protobuf_alloc(void *arena, size_t size);
void arena_protobuf_free(void *arena, void *pointer);

#endif
