/* UTF-8 well-formedness (see utf8.h): Unicode's table 3-7 of well-formed byte sequences, and
 * the copy that mends what is not well-formed. */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

size_t
smtpstatus__utf8_char(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

size_t
smtpstatus__utf8_copy(char *dst, size_t size, const char *src, size_t len)
{
    const unsigned char *u = (const unsigned char *)src;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        size_t l = u[i] < 0x80 ? 1 : smtpstatus__utf8_char(u + i, len - i);
        if (out + (l > 0 ? l : 1) > size - 1)
            break;
        if (l == 0) {
            dst[out++] = '?';
            i++;
            continue;
        }
        /* memmove: in place, dst trails src by the '?'s' savings, or is src itself. */
        memmove(dst + out, src + i, l);
        out += l;
        i += l;
    }
    dst[out] = '\0';
    return out;
}

char *
smtpstatus__utf8_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p != NULL)
        smtpstatus__utf8_copy(p, n + 1, s, n);
    return p;
}

size_t
smtpstatus__utf8_whole(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    /* Back over at most three continuation bytes to the lead byte of the last character. */
    for (size_t back = 1; back <= 4 && back <= len; back++) {
        unsigned char c = u[len - back];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? len - back : len;
    }
    return len;
}
