/*
 * Decoding a request target's path segments and query parameters (see http_query.h). The query
 * is scanned in place for each parameter asked for: an endpoint asks for a handful, and a scan
 * of a bounded string costs less than building a table.
 */
#include "http_query.h"

#include <stdio.h>
#include <string.h>

static int
hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
http_query_decode(const char *s, size_t n, char *out, size_t size, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex(s[i + 1]) : -1, lo = i + 2 < n ? hex(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = c;
    }
    if (size == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

int
http_query_get(const struct http_query *q, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    const char *p = q->s, *end = q->s + q->len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : pe;
            long n = http_query_decode(v, (size_t)(pe - v), out, size, 1);
            /* Values are used as C strings: a %00 would silently cut one short. */
            return n < 0 || strlen(out) != (size_t)n ? -1 : 1;
        }
        p = pe + (amp != NULL);
    }
    return 0;
}

int
http_query_check(const struct http_query *q, const char *const *known, char *bad, size_t size)
{
    const char *p = q->s, *end = q->s + q->len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        size_t klen = (size_t)((eq ? eq : pe) - p);
        int ok = klen == 0; /* "a=1&&b=2" has an empty parameter: ignore it */
        for (size_t i = 0; !ok && known[i] != NULL; i++)
            ok = strlen(known[i]) == klen && memcmp(known[i], p, klen) == 0;
        if (!ok) {
            snprintf(bad, size, "%.*s", (int)(klen < 64 ? klen : 64), p);
            return -1;
        }
        p = pe + (amp != NULL);
    }
    return 0;
}

int
http_query_truthy(const char *v)
{
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || v[0] == '\0';
}

int
http_query_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (s[0] < '0' || s[0] > '9' || strlen(s) > 9)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}
