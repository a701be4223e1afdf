/*
 * Parses IANA's free-text "Associated basic status code" column into exact codes, class
 * wildcards and flags (see basic_assoc.h). The grammar is deliberately small: every word must be
 * understood, so that a shifted row, where a sentence lands in this column, is noticed instead
 * of being read as "no codes".
 */
#include "basic_assoc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

/* ASCII classes, whatever the locale: IANA's text is ASCII and so is this grammar. */
static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int
is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static int
word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(w, lit, n) == 0;
}

static int
add_code(struct basic_assoc *out, uint16_t code)
{
    uint32_t i = 0;
    while (i < out->count && out->codes[i] < code)
        i++;
    if (i < out->count && out->codes[i] == code)
        return 0;
    if (out->count == BASIC_ASSOC_MAX_CODES)
        return -1;
    memmove(&out->codes[i + 1], &out->codes[i], (out->count - i) * sizeof out->codes[0]);
    out->codes[i] = code;
    out->count++;
    return 0;
}

/* Reports "what 'word'" and the word's offset; returns -1. */
static int
fail(char *err, size_t errlen, size_t *erroff, size_t off, const char *what, const char *w,
     size_t n)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s '%.*s'", what, (int)(n > 40 ? 40 : n), w);
    if (erroff != NULL)
        *erroff = off;
    return -1;
}

int
basic_assoc_parse(const char *text, size_t len, struct basic_assoc *out, char *err,
                  size_t errlen, size_t *erroff)
{
    memset(out, 0, sizeof *out);
    int in_paren = 0, saw_any_token = 0;
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (is_space(c) || c == ',') {
            i++;
            continue;
        }
        if (c == '(') {
            if (in_paren)
                return fail(err, errlen, erroff, i, "nested", "(", 1);
            in_paren = 1;
            i++;
            continue;
        }
        if (c == ')') {
            if (!in_paren)
                return fail(err, errlen, erroff, i, "unbalanced", ")", 1);
            in_paren = 0;
            i++;
            continue;
        }
        if (!is_alnum(c))
            return fail(err, errlen, erroff, i, "unexpected character", text + i, 1);

        size_t start = i;
        while (i < len && is_alnum((unsigned char)text[i]))
            i++;
        const char *w = text + start;
        size_t n = i - start;
        saw_any_token = 1;

        uint16_t code;
        if (n == 3 && is_digit((unsigned char)w[0]) && is_digit((unsigned char)w[1]) &&
            is_digit((unsigned char)w[2])) {
            if (smtpstatus_basic_parse(w, n, &code) != 0)
                return fail(err, errlen, erroff, start, "not a basic reply code:", w, n);
            if (add_code(out, code) != 0)
                return fail(err, errlen, erroff, start, "too many codes at", w, n);
        } else if (n == 3 && (w[0] == '2' || w[0] == '4' || w[0] == '5') &&
                   (w[1] == 'x' || w[1] == 'X') && (w[2] == 'x' || w[2] == 'X')) {
            out->classes |= 1u << (w[0] - '0');
            if (in_paren)
                out->flags |= SMTPSTATUS_IMAGE_BASIC_OTHERS_OK;
        } else if (word_is(w, n, "or") || word_is(w, n, "and")) {
            /* separators */
        } else if (word_is(w, n, "any") && !in_paren) {
            out->flags |= SMTPSTATUS_IMAGE_BASIC_ANY;
        } else if (word_is(w, n, "not") && !in_paren) {
            size_t j = i;
            while (j < len && is_space((unsigned char)text[j]))
                j++;
            size_t k = j;
            while (k < len && is_alpha((unsigned char)text[k]))
                k++;
            if (!word_is(text + j, k - j, "given"))
                return fail(err, errlen, erroff, start, "expected \"given\" after", w,
                            n);
            out->flags |= SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN;
            i = k;
        } else if (in_paren && (word_is(w, n, "other") || word_is(w, n, "codes") ||
                                word_is(w, n, "are") || word_is(w, n, "allowed"))) {
            /* the words of IANA's "(other 4XX or 5XX codes are allowed)" remark */
        } else {
            return fail(err, errlen, erroff, start, "unexpected word", w, n);
        }
    }
    if (in_paren)
        return fail(err, errlen, erroff, len, "missing", ")", 1);
    if (!saw_any_token)
        out->flags |= SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN;
    return 0;
}
