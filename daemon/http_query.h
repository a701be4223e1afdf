/*
 * Decoding what a request's target carries for the HTTP port's endpoints: percent-escapes in a
 * path segment, and the parameters of the query string. Every value is decoded into a buffer the
 * caller gives, bounded and NUL-ended; nothing here allocates. A target is at most
 * HTTP_URI_LIMIT bytes, so a buffer of that size holds any value.
 */
#ifndef SMTPSTATUSD_HTTP_QUERY_H
#define SMTPSTATUSD_HTTP_QUERY_H

#include <stddef.h>

/* A query string: the bytes after the '?', borrowed from the request, not NUL-ended. */
struct http_query {
    const char *s;
    size_t len;
};

/* Percent-decodes s[0..n) into out[0..size) with a NUL ('+' is a space when plus_space).
 * Returns the decoded length, or -1 for a bad escape or an output that does not fit. */
long http_query_decode(const char *s, size_t n, char *out, size_t size, int plus_space);

/* Finds parameter `name` and decodes its value into out[0..size). Returns 1 when found, 0 when
 * absent, -1 when its value is malformed, holds a NUL, or is too long. The first occurrence
 * counts. */
int http_query_get(const struct http_query *q, const char *name, char *out, size_t size);

/* Checks that every parameter is one of `known` (NULL-terminated). Returns 0, or -1 with the
 * first unknown name (cut to fit) in bad[0..size). */
int http_query_check(const struct http_query *q, const char *const *known, char *bad, size_t size);

/* Whether a flag's value says yes: "1", "true", "yes", or nothing ("?pretty"). */
int http_query_truthy(const char *v);

/* Parses an unsigned decimal value of at most `max` (nine digits at most). Returns 0, or -1. */
int http_query_uint(const char *s, unsigned long max, unsigned long *out);

#endif
