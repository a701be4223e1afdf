#include "corpus_escape.h"

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t
corpus_unescape(char *s, size_t n, size_t *bad)
{
    size_t o = 0;
    if (bad != NULL)
        *bad = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if (c == 'r' || c == 'n' || c == 't' || c == '\\') {
                s[o++] = c == 'r' ? '\r' : c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
                i++;
                continue;
            }
            if (c == 'x' && i + 3 < n && hex_digit(s[i + 2]) >= 0 && hex_digit(s[i + 3]) >= 0) {
                s[o++] = (char)(hex_digit(s[i + 2]) * 16 + hex_digit(s[i + 3]));
                i += 3;
                continue;
            }
        }
        if (s[i] == '\\' && bad != NULL && *bad == n)
            *bad = i;
        s[o++] = s[i];
    }
    return o;
}
