/*
 * The literals a pattern needs (see pattern_literals.h).
 *
 * A recursive descent over the pattern gives each part of it these facts (as RE2's prefilter
 * and Russ Cox's code search index do):
 * - `exact`: every string the part matches, while they are few and short (a literal, a small
 *   class, an alternation or optional group of such);
 * - otherwise `req`, strings one of which every match contains, and `prefix` and `suffix`,
 *   strings one of which every match starts, or ends, with.
 * A sequence of parts keeps `exact` as the product of the parts' sets while that stays small.
 * Past that, a match of the sequence holds a match of each part, and where two parts meet, a
 * suffix of the first followed by a prefix of the second: its `req` is the best of those. An
 * alternation unites its branches' sets; a part that may match nothing (x?, x*, x{0,n}) tells
 * nothing. The pattern's literals are its `exact` set, or else its `req` set.
 *
 * A set that would grow past PATTERN_LITERALS_MAX strings is cut rather than given up: its
 * strings are shortened (prefixes kept, or suffixes for `suffix`) until few enough are left,
 * as a part of a string that must occur must occur too. Only `exact` cannot be cut.
 */
#include "pattern_literals.h"

#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prefilter.h"
#include "smtpstatus_image.h"

#define MAX_DEPTH       8 /* nested groups read; deeper patterns are given up on */
#define MAX_CLASS_CHARS 8 /* a class with more members is "any character" */

/* How a set may shorten its strings when it fills up. */
enum cut { CUT_NONE, CUT_KEEP_START, CUT_KEEP_END };

struct lits {
    int known;      /* 0: nothing is known (a `req` only) */
    enum cut cut;   /* how the set may shorten its strings */
    size_t max_len; /* strings are at most this long */
    size_t n;
    unsigned char len[PATTERN_LITERALS_MAX];
    char s[PATTERN_LITERALS_MAX][PATTERN_LITERAL_MAX_LEN];
};

struct info {
    struct lits exact;  /* every string the part matches, when known */
    struct lits req;    /* when exact is not known: one occurs in every match */
    struct lits prefix; /* when exact is not known: every match starts with one */
    struct lits suffix; /* when exact is not known: every match ends with one */
};

struct parser {
    const unsigned char *p;
    int depth;
    int failed;           /* a construct this reader does not read */
    struct lits tmp[3];   /* info_concat()'s working sets */
};

static void
lits_init(struct lits *l, enum cut cut)
{
    l->known = 1;
    l->cut = cut;
    l->max_len = PATTERN_LITERAL_MAX_LEN;
    l->n = 0;
}

static void
lits_unknown(struct lits *l)
{
    lits_init(l, CUT_KEEP_START);
    l->known = 0;
}

/* The set {""}: true of every string. */
static void
lits_trivial(struct lits *l, enum cut cut)
{
    lits_init(l, cut);
    l->n = 1;
    l->len[0] = 0;
}

/* Shortens s[0..*len) to at most max bytes, as `cut` says; returns where it now starts. */
static const char *
cut_string(const char *s, size_t *len, size_t max, enum cut cut)
{
    if (*len <= max)
        return s;
    const char *from = cut == CUT_KEEP_END ? s + (*len - max) : s;
    *len = max;
    return from;
}

static int
lits_has(const struct lits *l, const char *s, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->len[i] == len && memcmp(l->s[i], s, len) == 0)
            return 1;
    return 0;
}

/* Shortens every string of l by one byte and drops the copies that makes. */
static void
lits_shorten(struct lits *l)
{
    struct lits old = *l;
    l->max_len--;
    l->n = 0;
    for (size_t i = 0; i < old.n; i++) {
        size_t len = old.len[i];
        const char *from = cut_string(old.s[i], &len, l->max_len, l->cut);
        if (!lits_has(l, from, len)) {
            memcpy(l->s[l->n], from, len);
            l->len[l->n++] = (unsigned char)len;
        }
    }
}

/* Adds s[0..len) to l, cut to fit as l->cut allows. Returns 0, or -1 when it cannot be
 * added without cutting and l may not cut. */
static int
lits_add(struct lits *l, const char *s, size_t len)
{
    if (len > l->max_len && l->cut == CUT_NONE)
        return -1;
    for (;;) {
        size_t n = len;
        const char *from = cut_string(s, &n, l->max_len, l->cut);
        if (lits_has(l, from, n))
            return 0;
        if (l->n < PATTERN_LITERALS_MAX) {
            memcpy(l->s[l->n], from, n);
            l->len[l->n++] = (unsigned char)n;
            return 0;
        }
        if (l->cut == CUT_NONE)
            return -1;
        lits_shorten(l); /* ends at {""} at the latest, which has room */
    }
}

/* out = a followed by b (out is neither). Returns 0, or -1 when out may not cut and must. */
static int
lits_product(const struct lits *a, const struct lits *b, struct lits *out)
{
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) {
            char buf[2 * PATTERN_LITERAL_MAX_LEN];
            memcpy(buf, a->s[i], a->len[i]);
            memcpy(buf + a->len[i], b->s[j], b->len[j]);
            if (lits_add(out, buf, (size_t)a->len[i] + b->len[j]) != 0)
                return -1;
        }
    return 0;
}

/* out = a's strings and b's (out may be a). Returns 0, or -1 as lits_product(). */
static int
lits_union(struct lits *out, const struct lits *b)
{
    for (size_t j = 0; j < b->n; j++)
        if (lits_add(out, b->s[j], b->len[j]) != 0)
            return -1;
    return 0;
}

/* The shortest string's length: how much a set tells about a text (0 for nothing). */
static size_t
lits_score(const struct lits *l)
{
    if (!l->known || l->n == 0)
        return 0;
    size_t min = PATTERN_LITERAL_MAX_LEN;
    for (size_t i = 0; i < l->n; i++)
        if (l->len[i] < min)
            min = l->len[i];
    return min;
}

/* Of two sets that each hold a string of every match, the one that tells more. */
static const struct lits *
lits_better(const struct lits *a, const struct lits *b)
{
    size_t sa = lits_score(a), sb = lits_score(b);
    if (sa != sb)
        return sa > sb ? a : b;
    return a->n <= b->n ? a : b;
}

/* dst = src, as a set that may shorten its strings as `cut` says. */
static void
lits_copy(struct lits *dst, const struct lits *src, enum cut cut)
{
    *dst = *src;
    dst->cut = cut;
}

static const struct lits *
info_req(const struct info *x)
{
    return x->exact.known ? &x->exact : &x->req;
}

static const struct lits *
info_prefix(const struct info *x)
{
    return x->exact.known ? &x->exact : &x->prefix;
}

static const struct lits *
info_suffix(const struct info *x)
{
    return x->exact.known ? &x->exact : &x->suffix;
}

/* What a part that may match anything tells: nothing. */
static void
info_anything(struct info *x)
{
    lits_unknown(&x->exact);
    lits_unknown(&x->req);
    lits_trivial(&x->prefix, CUT_KEEP_START);
    lits_trivial(&x->suffix, CUT_KEEP_END);
}

/* Sets x's inexact facts from a known exact set, and forgets that set. */
static void
info_inexact(struct info *x)
{
    lits_copy(&x->req, &x->exact, CUT_KEEP_START);
    lits_copy(&x->prefix, &x->exact, CUT_KEEP_START);
    lits_copy(&x->suffix, &x->exact, CUT_KEEP_END);
    lits_unknown(&x->exact);
}

/* x = x followed by y. */
static void
info_concat(struct parser *p, struct info *x, const struct info *y)
{
    struct lits *prefix = &p->tmp[0], *suffix = &p->tmp[1], *across = &p->tmp[2];
    if (x->exact.known && y->exact.known) {
        lits_init(prefix, CUT_NONE);
        if (lits_product(&x->exact, &y->exact, prefix) == 0) {
            x->exact = *prefix;
            return;
        }
    }
    lits_init(prefix, CUT_KEEP_START);
    if (x->exact.known)
        lits_product(&x->exact, info_prefix(y), prefix);
    else
        *prefix = x->prefix;
    lits_init(suffix, CUT_KEEP_END);
    if (y->exact.known)
        lits_product(info_suffix(x), &y->exact, suffix);
    else
        *suffix = y->suffix;
    lits_init(across, CUT_KEEP_START);
    lits_product(info_suffix(x), info_prefix(y), across);

    const struct lits *best = lits_better(info_req(x), info_req(y));
    best = lits_better(best, across);
    best = lits_better(best, prefix);
    best = lits_better(best, suffix);
    lits_copy(&x->req, best, CUT_KEEP_START);
    x->prefix = *prefix;
    x->suffix = *suffix;
    lits_unknown(&x->exact);
}

/* x = x or y. */
static void
info_alternate(struct info *x, const struct info *y)
{
    if (x->exact.known && y->exact.known) {
        struct lits keep = x->exact;
        if (lits_union(&x->exact, &y->exact) == 0)
            return;
        x->exact = keep;
    }
    if (x->exact.known)
        info_inexact(x);
    if (!x->req.known || !info_req(y)->known)
        lits_unknown(&x->req);
    else
        lits_union(&x->req, info_req(y));
    lits_union(&x->prefix, info_prefix(y));
    lits_union(&x->suffix, info_suffix(y));
}

/* x = x repeated min to max times (max < 0: no limit). */
static void
info_repeat(struct info *x, long min, long max)
{
    if (min == 1 && max == 1)
        return;
    if (min == 0) {
        char none = 0;
        if (max == 1 && x->exact.known && lits_add(&x->exact, &none, 0) == 0)
            return;
        info_anything(x); /* it may match the empty string */
        return;
    }
    if (min == max && x->exact.known && min <= (long)PATTERN_LITERAL_MAX_LEN) {
        struct lits pow = x->exact, next;
        long k = 1;
        for (; k < min; k++) {
            lits_init(&next, CUT_NONE);
            if (lits_product(&pow, &x->exact, &next) != 0)
                break;
            pow = next;
        }
        if (k == min) {
            x->exact = pow;
            return;
        }
    }
    /* Each match starts with a match of x, holds one, and ends with one. */
    if (x->exact.known)
        info_inexact(x);
}

/* The byte c, case folded. */
static void
info_char(struct info *x, unsigned char c)
{
    char f = (char)smtpstatus__prefilter_fold(c);
    lits_init(&x->exact, CUT_NONE);
    lits_add(&x->exact, &f, 1);
}

/* \b, ^, $ and an empty sequence: they match the empty string. */
static void
info_zero_width(struct info *x)
{
    lits_trivial(&x->exact, CUT_NONE);
}

static int
is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* One member of a class at p->p: a byte, or an escaped punctuation byte. Sets *c and returns 1;
 * returns 0 for a member that stands for several bytes (\d) or is not plain ASCII. */
static int
class_member(struct parser *p, unsigned char *c)
{
    unsigned char b = *p->p;
    if (b == '\\') {
        unsigned char e = p->p[1];
        if (e == '\0' || e >= 0x80) {
            p->failed = 1;
            return 0;
        }
        p->p += 2;
        if (is_alnum(e)) {
            /* \d \w \s and their negations are sets; other letters are escapes not read here */
            if (strchr("dDwWsS", e) == NULL)
                p->failed = 1;
            return 0;
        }
        *c = e;
        return 1;
    }
    p->p++;
    if (b >= 0x80)
        return 0;
    *c = b;
    return 1;
}

/* A bracket class, p->p just past '['. Its members, case folded, when it has few, or "any
 * character". */
static void
parse_class(struct parser *p, struct info *x)
{
    int negated = *p->p == '^';
    if (negated)
        p->p++;
    struct lits members;
    lits_init(&members, CUT_NONE);
    int enumerable = !negated;
    int first = 1;
    for (;;) {
        unsigned char b = *p->p;
        if (b == '\0') {
            p->failed = 1;
            return;
        }
        if (b == ']' && !first)
            break;
        if (b == '[' && (p->p[1] == ':' || p->p[1] == '.' || p->p[1] == '=')) {
            p->failed = 1; /* POSIX classes and collating elements are not read */
            return;
        }
        first = 0;
        unsigned char lo, hi;
        if (!class_member(p, &lo)) {
            if (p->failed)
                return;
            enumerable = 0;
            continue;
        }
        hi = lo;
        if (p->p[0] == '-' && p->p[1] != ']' && p->p[1] != '\0') {
            p->p++;
            if (!class_member(p, &hi) || hi < lo) {
                if (p->failed)
                    return;
                enumerable = 0;
                continue;
            }
        }
        for (unsigned c = lo; enumerable && c <= hi; c++) {
            char f = (char)smtpstatus__prefilter_fold((unsigned char)c);
            if (lits_add(&members, &f, 1) != 0 || members.n > MAX_CLASS_CHARS)
                enumerable = 0;
        }
    }
    p->p++;
    if (enumerable && members.n > 0) {
        x->exact = members;
    } else {
        info_anything(x);
    }
}

/* An escape, p->p just past '\'. */
static void
parse_escape(struct parser *p, struct info *x)
{
    unsigned char e = *p->p;
    if (e == '\0' || e >= 0x80) {
        p->failed = 1;
        return;
    }
    p->p++;
    if (!is_alnum(e)) {
        info_char(x, e);
        return;
    }
    switch (e) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        info_anything(x);
        return;
    case 'b': case 'B':
        info_zero_width(x);
        return;
    case 't':
        info_char(x, '\t');
        return;
    case 'n':
        info_char(x, '\n');
        return;
    case 'r':
        info_char(x, '\r');
        return;
    default:
        p->failed = 1; /* back references, \x, \Q, \p, \A, ...: not read here */
        return;
    }
}

/* A decimal number of 1 to 4 digits at *at, which moves past it; -1 for none or more. */
static long
parse_count(const unsigned char **at)
{
    long v = 0;
    int digits = 0;
    for (; is_digit(**at); (*at)++)
        if (++digits > 4)
            return -1;
        else
            v = v * 10 + (**at - '0');
    return digits > 0 ? v : -1;
}

/* A quantifier at p->p, if any: sets *min and *max (-1: no limit) and returns 1; 0 when none
 * follows. A '{' that does not start {n}, {n,} or {n,m} fails the parse: PCRE reads it as a
 * literal, which is not guessed at here. */
static int
parse_quantifier(struct parser *p, long *min, long *max)
{
    const unsigned char *q = p->p + 1;
    switch (*p->p) {
    case '?':
        *min = 0, *max = 1;
        break;
    case '*':
        *min = 0, *max = -1;
        break;
    case '+':
        *min = 1, *max = -1;
        break;
    case '{':
        *min = *max = parse_count(&q);
        if (*min >= 0 && *q == ',') {
            q++;
            *max = is_digit(*q) ? parse_count(&q) : -1;
            if (is_digit(*q) || (*max >= 0 && *max < *min))
                *min = -1;
        }
        if (*min < 0 || *q != '}') {
            p->failed = 1;
            return 0;
        }
        q++;
        break;
    default:
        return 0;
    }
    if (*q == '?' || *q == '+') /* lazy or possessive: the same strings */
        q++;
    p->p = q;
    return 1;
}

static void parse_alternation(struct parser *p, struct info *x);

/* One atom and its quantifier. */
static void
parse_quantified(struct parser *p, struct info *x)
{
    unsigned char b = *p->p;
    switch (b) {
    case '(':
        p->p++;
        if (*p->p == '?') {
            if (p->p[1] != ':') {
                p->failed = 1; /* options, look-arounds, named groups, comments */
                return;
            }
            p->p += 2;
        }
        if (++p->depth > MAX_DEPTH) {
            p->failed = 1;
            return;
        }
        parse_alternation(p, x);
        p->depth--;
        if (p->failed)
            return;
        if (*p->p != ')') {
            p->failed = 1;
            return;
        }
        p->p++;
        break;
    case '[':
        p->p++;
        parse_class(p, x);
        break;
    case '\\':
        p->p++;
        parse_escape(p, x);
        break;
    case '.':
        p->p++;
        info_anything(x);
        break;
    case '^':
    case '$':
        p->p++;
        info_zero_width(x);
        break;
    case '?':
    case '*':
    case '+':
    case '{':
        p->failed = 1; /* a quantifier with nothing before it */
        return;
    default:
        p->p++;
        info_char(x, b);
        break;
    }
    if (p->failed)
        return;
    long min, max;
    if (parse_quantifier(p, &min, &max)) {
        info_repeat(x, min, max);
        if (*p->p == '?' || *p->p == '*' || *p->p == '+' || *p->p == '{')
            p->failed = 1; /* a quantifier of a quantifier */
    }
}

/* A sequence of atoms, up to '|', ')' or the end, into *x. Sets p->failed on a construct not
 * read or when out of memory. */
static void
parse_sequence(struct parser *p, struct info *x)
{
    info_zero_width(x);
    struct info *item = malloc(sizeof *item);
    if (item == NULL)
        p->failed = 1;
    while (!p->failed && *p->p != '\0' && *p->p != '|' && *p->p != ')') {
        parse_quantified(p, item);
        if (!p->failed)
            info_concat(p, x, item);
    }
    free(item);
}

/* Sequences separated by '|', up to ')' or the end, into *x; fails as parse_sequence(). */
static void
parse_alternation(struct parser *p, struct info *x)
{
    parse_sequence(p, x);
    if (p->failed || *p->p != '|')
        return;
    struct info *branch = malloc(sizeof *branch);
    if (branch == NULL)
        p->failed = 1;
    while (!p->failed && *p->p == '|') {
        p->p++;
        parse_sequence(p, branch);
        if (!p->failed)
            info_alternate(x, branch);
    }
    free(branch);
}

int
pattern_literals(const char *pattern, struct pattern_literals *out)
{
    memset(out, 0, sizeof *out);
    struct parser *p = malloc(sizeof *p);
    struct info *x = malloc(sizeof *x);
    int ok = 0;
    if (p != NULL && x != NULL) {
        p->p = (const unsigned char *)pattern;
        p->depth = 0;
        p->failed = 0;
        parse_alternation(p, x);
        const struct lits *l = info_req(x);
        ok = !p->failed && *p->p == '\0' && lits_score(l) >= PATTERN_LITERAL_MIN_LEN;
        for (size_t i = 0; ok && i < l->n; i++) {
            out->len[i] = l->len[i];
            memcpy(out->text[i], l->s[i], l->len[i]);
        }
        out->count = ok ? l->n : 0;
    }
    free(p);
    free(x);
    return ok ? 0 : -1;
}

/* Marks one gram of 3 ASCII bytes of literal[0..len): none when one of its grams is marked
 * already (fewer bits set, fewer texts scanned for nothing), else the first with the most
 * letters (grams of digits, spaces and dots are common in any reply). Returns 0, or -1 when
 * the literal has no such gram. */
static int
mark_gram(unsigned char *bitmap, const unsigned char *s, size_t len)
{
    uint32_t best_bit = 0;
    int best_letters = -1;
    for (size_t i = 0; i + SMTPSTATUS_IMAGE_PREFILTER_GRAM <= len; i++) {
        int letters = 0, ascii = 1;
        for (size_t k = i; k < i + SMTPSTATUS_IMAGE_PREFILTER_GRAM; k++) {
            ascii &= s[k] < 0x80;
            letters += s[k] >= 'a' && s[k] <= 'z';
        }
        if (!ascii)
            continue;
        uint32_t bit = smtpstatus__prefilter_bit(s[i], s[i + 1], s[i + 2]);
        if (bitmap[bit >> 3] & (1u << (bit & 7u)))
            return 0;
        if (letters > best_letters) {
            best_bit = bit;
            best_letters = letters;
        }
    }
    if (best_letters < 0)
        return -1;
    bitmap[best_bit >> 3] |= (unsigned char)(1u << (best_bit & 7u));
    return 0;
}

/* Vectorscan's own analysis as a check on this one: the shortest match holds one of the
 * literals, so the shortest literal is no longer than it. */
static int
fits_min_width(const char *pattern, const struct pattern_literals *l)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_expression_info(pattern, HS_FLAG_CASELESS, &info, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return 0;
    }
    size_t shortest = PATTERN_LITERAL_MAX_LEN;
    for (size_t i = 0; i < l->count; i++)
        if (l->len[i] < shortest)
            shortest = l->len[i];
    int ok = shortest <= info->min_width;
    free(info); /* hs_expression_info() allocates with malloc unless told otherwise */
    return ok;
}

int
pattern_prefilter_build(const char *const *patterns, size_t n, unsigned char *bitmap)
{
    memset(bitmap, 0, SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    struct pattern_literals *l = malloc(sizeof *l);
    int rc = l != NULL ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (pattern_literals(patterns[i], l) != 0 || !fits_min_width(patterns[i], l))
            rc = -1;
        for (size_t k = 0; rc == 0 && k < l->count; k++)
            rc = mark_gram(bitmap, (const unsigned char *)l->text[k], l->len[k]);
    }
    free(l);
    return rc;
}
