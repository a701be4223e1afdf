/*
 * Unit tests of the rules' prefilter (daemon/registry/pattern_literals.h, client/src/prefilter.h).
 * A literal that some match of its pattern lacks would make a rule silently stop matching, so
 * the module is checked three ways: against literal sets worked out by hand from what each
 * pattern means; against Vectorscan itself, on random texts that a small sampler here draws
 * from each built-in pattern (every text Vectorscan says matches must hold one of the literals,
 * and pass the bitmap); and on the bitmap of all built-in rules, whose bits must all come from
 * the literals' grams by the formula in proto/smtpstatus_image.h.
 */
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>

#include "diag.h"
#include "pattern_literals.h"
#include "prefilter.h"
#include "rules.h"
#include "smtpstatus_image.h"

#define MAX_WANT         8   /* strings in one table row */
#define SAMPLE_MAX       512 /* bytes of one sampled text */
#define SAMPLES_PER_ALT  96  /* texts drawn from each top-level alternative */
#define SAMPLES_WHOLE    128 /* and from the whole pattern */
#define MAX_ALTS         64  /* alternatives of one group the sampler reads */
#define COVERAGE_PERCENT 95  /* of patterns, and of top-level alternatives, that must get a match  \
                              */
#define DEFAULT_SEED 0x1405eedULL

/* ---- the hand-made table ------------------------------------------------------------------- */

enum want_kind {
    EXACT, /* the literals are exactly `want` (in any order) */
    COVER, /* `want` lists every shortest match: each holds a literal, and every literal is a
              part of one of them (none is invented) */
    SOUND, /* `want` are some matches, each of which holds a literal */
};

struct table_row {
    const char *pattern;
    enum want_kind kind;
    const char *want[MAX_WANT];
};

static const struct table_row table[] = {
    {"timeout", EXACT, {"timeout"}},
    {"timed? ?out", EXACT, {"timeout", "timedout", "time out", "timed out"}},
    /* Upper case is folded. */
    {"Relay ACCESS Denied", EXACT, {"relay access denied"}},
    /* Alternation at the top level. */
    {"spam|junk|bulk", EXACT, {"spam", "junk", "bulk"}},
    {"\\b4\\.7\\.650\\b|temporarily rate limited", COVER, {"4.7.650", "temporarily rate limited"}},
    /* Alternation in groups, optional groups. */
    {"(mail|email) quota", COVER, {"mail quota", "email quota"}},
    {"user (unknown|not found)", COVER, {"user unknown", "user not found"}},
    {"mail ?box (is )?full",
     COVER,
     {"mailbox full", "mail box full", "mailbox is full", "mail box is full"}},
    {"(?:sender|recipient) (?:address )?rejected",
     COVER,
     {"sender rejected", "recipient rejected", "sender address rejected",
      "recipient address rejected"}},
    /* Classes. */
    {"[ab]cde", COVER, {"acde", "bcde"}},
    {"\\bgr[ae]y-?list", COVER, {"graylist", "greylist", "gray-list", "grey-list"}},
    {"5\\.7\\.1 \\[TS0[12]\\]", COVER, {"5.7.1 [ts01]", "5.7.1 [ts02]"}},
    {"\\d{3} (spam|junk)", SOUND, {"000 spam", "000 junk"}},
    {"error [^ ]+ here", SOUND, {"error x here"}},
    /* \b and escaped punctuation. */
    {"\\bSTOREDRV\\.", COVER, {"storedrv."}},
    {"\\bover ?quota\\b", COVER, {"overquota", "over quota"}},
    {"\\(DYN:T1\\)", COVER, {"(dyn:t1)"}},
    {"docs/smtplf\\.html", COVER, {"docs/smtplf.html"}},
    {"a\\+b\\*c\\?d\\$", COVER, {"a+b*c?d$"}},
    {"tab\\there", COVER, {"tab\there"}},
    /* Quantifiers {n}, {n,m}, {n,}; lazy and possessive. */
    {"abc{2,3}def", COVER, {"abccdef", "abcccdef"}},
    {"(ab){2}xy", COVER, {"ababxy"}},
    {"x{2}abc", COVER, {"xxabc"}},
    {"too{1,} many", COVER, {"too many"}},
    {"spam.*?filter", COVER, {"spamfilter"}},
    {"black ??list", COVER, {"blacklist", "black list"}},
    {"junk +?mail", COVER, {"junk mail"}},
    {"spam++filter", COVER, {"spamfilter"}},
    {"bad (sender|recipient)?+ here",
     COVER,
     {"bad  here", "bad sender here", "bad recipient here"}},
    {"rate{1,2}? limit", COVER, {"rate limit", "ratee limit"}},
    /* A literal longer than PATTERN_LITERAL_MAX_LEN is cut to a part of it. */
    {"the quick brown fox jumps over the lazy dog",
     COVER,
     {"the quick brown fox jumps over the lazy dog"}},
    {"abc|The Quick Brown Fox Jumps Over The Lazy Dog",
     COVER,
     {"abc", "the quick brown fox jumps over the lazy dog"}},
};

/* Patterns it must give up on (-1). */
static const char *const give_up[] = {
    "\\d+",      "[a-z]{5}",  "a|bc",   "(?i)abc", "\\x41bcd", "abc\\1", "\\Qabc\\E",
    "a{,3}bcd",  "(?=abc)",   ".*",     "ab",      "(abc",     "abc)",   "((abc)",
    "(abc))",    "abc|\\d+",  "(abc)?", "x*",      "[a-z]{3}", "abc|",   "|abc",
    "(?<=x)abc", "\\p{L}abc", "abc\\Z", "",
};

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t
test_seed(void)
{
    const char *s = getenv("PATTERN_LITERALS_SEED");
    return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : DEFAULT_SEED;
}

/* s[0..n) with non-printable bytes as \xHH, into a static buffer, for messages. */
static const char *
show(const char *s, size_t n)
{
    static char out[4 * SAMPLE_MAX + 1];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof out; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

static void
fold(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] + ('a' - 'A') : src[i]);
}

/* Whether needle[0..m) occurs in hay[0..n), ignoring ASCII case. */
static int
contains_folded(const char *hay, size_t n, const char *needle, size_t m)
{
    char h[SAMPLE_MAX * 2], k[SAMPLE_MAX];
    if (n > sizeof h || m > sizeof k)
        fail_msg("contains_folded: %zu and %zu bytes are beyond the test's buffers", n, m);
    fold(h, hay, n);
    fold(k, needle, m);
    return m == 0 || memmem(h, n, k, m) != NULL;
}

/* The index of the literal that text[0..n) holds, ignoring ASCII case, or -1. */
static int
holds_literal(const struct pattern_literals *l, const char *text, size_t n)
{
    char folded[SAMPLE_MAX];
    if (n > sizeof folded)
        fail_msg("holds_literal: %zu bytes are beyond the test's buffer", n);
    fold(folded, text, n);
    for (size_t k = 0; k < l->count; k++)
        if (memmem(folded, n, l->text[k], l->len[k]) != NULL)
            return (int)k;
    return -1;
}

/* What the header promises of every successful answer, whatever the pattern. */
static void
check_well_formed(const char *pattern, const struct pattern_literals *l)
{
    if (l->count < 1 || l->count > PATTERN_LITERALS_MAX)
        fail_msg("/%s/: %zu literals", pattern, l->count);
    for (size_t k = 0; k < l->count; k++) {
        if (l->len[k] < PATTERN_LITERAL_MIN_LEN || l->len[k] > PATTERN_LITERAL_MAX_LEN)
            fail_msg("/%s/: literal %zu is %u bytes", pattern, k, l->len[k]);
        for (size_t i = 0; i < l->len[k]; i++)
            if (l->text[k][i] >= 'A' && l->text[k][i] <= 'Z')
                fail_msg("/%s/: literal \"%s\" has upper case", pattern,
                         show(l->text[k], l->len[k]));
    }
}

static void
print_literals(const char *pattern, const struct pattern_literals *l)
{
    printf("  /%s/ ->", pattern);
    for (size_t k = 0; k < l->count; k++)
        printf(" \"%s\"", show(l->text[k], l->len[k]));
    printf("\n");
}

/* Whether bit `bit` is set in a prefilter bitmap. */
static int
bit_set(const unsigned char *bitmap, uint32_t bit)
{
    return (bitmap[bit >> 3] >> (bit & 7u)) & 1u;
}

/* The gram's bit by the formula of proto/smtpstatus_image.h, written out again here so that a
 * reader in another language, who has only that comment, agrees with the library. */
static uint32_t
formula_bit(unsigned char a, unsigned char b, unsigned char c)
{
    uint32_t g = 0;
    unsigned char x[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        unsigned char f = x[i] >= 'A' && x[i] <= 'Z' ? (unsigned char)(x[i] | 0x20) : x[i];
        g |= (uint32_t)f << (8 * i);
    }
    return (uint32_t)(g * 2654435761u) >> (32 - SMTPSTATUS_IMAGE_PREFILTER_BITS);
}

/* ---- the built-in patterns ------------------------------------------------------------------ */

struct builtin {
    struct rules rules;
    const char **patterns; /* the rules' non-empty patterns, owned by `rules` */
    size_t count;
};

static void
builtin_load(struct builtin *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/reasons.csv", testutil_project_data());
    size_t len = 0;
    char *csv = testutil_read_file(path, &len);
    struct diag d;
    diag_init(&d);
    memset(b, 0, sizeof *b);
    if (rules_parse(&b->rules, csv, len, path, 0, &d) != 0) {
        diag_print(&d, stdout);
        fail_msg("%s does not parse", path);
    }
    diag_free(&d);
    free(csv);
    b->patterns = calloc(b->rules.count, sizeof *b->patterns);
    assert_non_null(b->patterns);
    for (size_t i = 0; i < b->rules.count; i++)
        if (b->rules.items[i].pattern[0] != '\0')
            b->patterns[b->count++] = b->rules.items[i].pattern;
    /* data/reasons.csv has 271 patterns today: a reader that found few would prove little. */
    assert_true(b->count >= 200);
}

static void
builtin_free(struct builtin *b)
{
    free(b->patterns);
    rules_free(&b->rules);
}

/* ---- the sampler: random texts that may match a pattern ------------------------------------- */

/*
 * It walks the pattern's text as it goes, reading the syntax pattern_literals.h lists: it picks
 * one alternative of each alternation, a repeat count within each quantifier, a member of each
 * class, and flips letters' case at random. Anchors and \b give nothing; whether the text
 * matches is Vectorscan's to say. What it does not read marks the sample bad.
 */
struct sampler {
    uint64_t rng;
    char buf[SAMPLE_MAX];
    size_t len;
    int bad;
};

static unsigned
rnd(struct sampler *s, unsigned n)
{
    return (unsigned)(testutil_rand(&s->rng) % n);
}

static void
put(struct sampler *s, unsigned char c)
{
    if (s->len == sizeof s->buf) {
        s->bad = 1;
        return;
    }
    if (isalpha(c) && rnd(s, 2))
        c ^= 0x20;
    s->buf[s->len++] = (char)c;
}

static const char *
class_end(const char *p, const char *end)
{
    const char *q = p + 1;
    if (q < end && *q == '^')
        q++;
    if (q < end && *q == ']')
        q++;
    while (q < end && *q != ']')
        q += *q == '\\' ? 2 : 1;
    return q < end ? q + 1 : NULL;
}

static const char *
group_end(const char *p, const char *end)
{
    int depth = 0;
    for (const char *q = p; q < end;) {
        if (*q == '\\') {
            q += 2;
        } else if (*q == '[') {
            q = class_end(q, end);
            if (q == NULL)
                return NULL;
        } else {
            if (*q == '(')
                depth++;
            else if (*q == ')' && --depth == 0)
                return q + 1;
            q++;
        }
    }
    return NULL;
}

/* The end of the atom at p, or NULL when it is not whole. */
static const char *
atom_end(const char *p, const char *end)
{
    switch (*p) {
    case '\\':
        return p + 2 <= end ? p + 2 : NULL;
    case '[':
        return class_end(p, end);
    case '(':
        return group_end(p, end);
    default:
        return p + 1;
    }
}

/* Splits p[0..end) at its '|' outside groups and classes: starts[k] and ends[k]. */
static size_t
split_alts(const char *p, const char *end, const char **starts, const char **ends)
{
    size_t n = 0;
    starts[n] = p;
    while (p < end) {
        if (*p == '|') {
            ends[n++] = p;
            if (n == MAX_ALTS)
                return 0;
            starts[n] = p + 1;
            p++;
            continue;
        }
        const char *a = atom_end(p, end);
        if (a == NULL)
            return 0;
        p = a;
    }
    ends[n++] = end;
    return n;
}

static void
class_add_escape(unsigned char *set, char e, int *ok)
{
    for (int c = 0; c < 256; c++) {
        int in;
        switch (e) {
        case 'd':
            in = isdigit(c);
            break;
        case 'D':
            in = !isdigit(c);
            break;
        case 'w':
            in = isalnum(c) || c == '_';
            break;
        case 'W':
            in = !(isalnum(c) || c == '_');
            break;
        case 's':
            in = c == ' ' || (c >= '\t' && c <= '\r');
            break;
        case 'S':
            in = !(c == ' ' || (c >= '\t' && c <= '\r'));
            break;
        default:
            *ok = 0;
            return;
        }
        if (in && c < 128)
            set[c] = 1;
    }
}

static int
escape_byte(char e)
{
    switch (e) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    default:
        return isalnum((unsigned char)e) ? -1 : (unsigned char)e;
    }
}

/* Reads the class p[0..end) into set[]; returns 0 when it has something the sampler cannot. */
static int
class_read(const char *p, const char *end, unsigned char *set)
{
    memset(set, 0, 256);
    const char *q = p + 1, *stop = end - 1;
    int negate = q < stop && *q == '^';
    if (negate)
        q++;
    int first = 1, ok = 1;
    while (q < stop && ok) {
        int c;
        if (*q == '\\' && strchr("dDwWsS", q[1]) != NULL) {
            class_add_escape(set, q[1], &ok);
            q += 2;
            first = 0;
            continue;
        }
        if (*q == '\\') {
            c = escape_byte(q[1]);
            q += 2;
        } else if (*q == ']' && !first) {
            break;
        } else {
            c = (unsigned char)*q++;
        }
        first = 0;
        if (c < 0)
            return 0;
        int hi = c;
        if (q + 1 < stop && *q == '-') {
            hi = q[1] == '\\' ? escape_byte(q[2]) : (unsigned char)q[1];
            q += q[1] == '\\' ? 3 : 2;
            if (hi < c)
                return 0;
        }
        for (int x = c; x <= hi; x++)
            set[x] = 1;
    }
    if (negate)
        for (int x = 0; x < 256; x++)
            set[x] = (unsigned char)(!set[x] && x < 128);
    return ok;
}

/* A member of set[] (either case of a letter counts, as the patterns are caseless): tried among
 * random printable ASCII first, then any member. */
static void
put_member(struct sampler *s, const unsigned char *set)
{
    for (int tries = 0; tries < 64; tries++) {
        unsigned char c = (unsigned char)(0x20 + rnd(s, 0x5f));
        unsigned char other = isalpha(c) ? c ^ 0x20 : c;
        if (set[c] || set[other]) {
            put(s, c);
            return;
        }
    }
    unsigned n = 0;
    for (int c = 0; c < 256; c++)
        n += set[c];
    if (n == 0) {
        s->bad = 1;
        return;
    }
    unsigned pick = rnd(s, n);
    for (int c = 0; c < 256; c++)
        if (set[c] && pick-- == 0) {
            put(s, (unsigned char)c);
            return;
        }
}

static void gen_alt(struct sampler *s, const char *p, const char *end);

static void
gen_atom(struct sampler *s, const char *p, const char *a)
{
    unsigned char set[256];
    switch (*p) {
    case '(':
        p++;
        if (*p == '?') {
            if (p[1] != ':') {
                s->bad = 1;
                return;
            }
            p += 2;
        }
        gen_alt(s, p, a - 1);
        return;
    case '[':
        if (!class_read(p, a, set))
            s->bad = 1;
        else
            put_member(s, set);
        return;
    case '.':
        put(s, (unsigned char)(0x20 + rnd(s, 0x5f)));
        return;
    case '^':
    case '$':
        return;
    case '\\':
        break;
    default:
        put(s, (unsigned char)*p);
        return;
    }
    int ok = 1;
    if (p[1] == 'b' || p[1] == 'B')
        return;
    if (strchr("dDwWsS", p[1]) != NULL) {
        memset(set, 0, sizeof set);
        class_add_escape(set, p[1], &ok);
        put_member(s, set);
        return;
    }
    int c = escape_byte(p[1]);
    if (c < 0)
        s->bad = 1;
    else
        put(s, (unsigned char)c);
}

/* Reads a quantifier at *q (moving past it): min and max (-1 unbounded); 1,1 when none. */
static int
quantifier(const char **q, const char *end, long *min, long *max)
{
    const char *p = *q;
    *min = *max = 1;
    if (p >= end)
        return 1;
    if (*p == '?' || *p == '*' || *p == '+') {
        *min = *p == '+';
        *max = *p == '?' ? 1 : -1;
        p++;
    } else if (*p == '{') {
        char *e;
        if (!isdigit((unsigned char)p[1]))
            return 0;
        *min = *max = strtol(p + 1, &e, 10);
        if (*e == ',') {
            *max = isdigit((unsigned char)e[1]) ? strtol(e + 1, &e, 10) : (e++, -1);
        }
        if (*e != '}' || (*max >= 0 && *max < *min))
            return 0;
        p = e + 1;
    } else {
        return 1;
    }
    if (p < end && (*p == '?' || *p == '+'))
        p++; /* lazy or possessive: the same texts match */
    *q = p;
    return 1;
}

static void
gen_seq(struct sampler *s, const char *p, const char *end)
{
    while (p < end && !s->bad) {
        const char *a = atom_end(p, end);
        long min, max;
        const char *q = a;
        if (a == NULL || !quantifier(&q, end, &min, &max)) {
            s->bad = 1;
            return;
        }
        long span = max < 0 ? 3 : max - min;
        if (span > 8)
            span = 8;
        long count = min + (long)rnd(s, (unsigned)span + 1);
        for (long i = 0; i < count && !s->bad; i++)
            gen_atom(s, p, a);
        p = q;
    }
}

static void
gen_alt(struct sampler *s, const char *p, const char *end)
{
    const char *starts[MAX_ALTS], *ends[MAX_ALTS];
    size_t n = split_alts(p, end, starts, ends);
    if (n == 0) {
        s->bad = 1;
        return;
    }
    size_t k = rnd(s, (unsigned)n);
    gen_seq(s, starts[k], ends[k]);
}

/* Random text around a sample: none, a word and a blank, or any printable bytes. */
static void
put_noise(struct sampler *s, int before)
{
    static const char word[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned kind = rnd(s, 3), n = 1 + rnd(s, 6);
    if (kind == 0)
        return;
    if (kind == 1 && !before)
        put(s, ' ');
    for (unsigned i = 0; i < n; i++)
        put(s, kind == 1 ? (unsigned char)word[rnd(s, sizeof word - 1)]
                         : (unsigned char)(0x20 + rnd(s, 0x5f)));
    if (kind == 1 && before)
        put(s, ' ');
}

/* Draws one text from p[0..end) (an alternative, or the whole pattern) into s->buf. */
static void
sample(struct sampler *s, const char *p, const char *end)
{
    s->len = 0;
    s->bad = 0;
    put_noise(s, 1);
    gen_alt(s, p, end);
    put_noise(s, 0);
}

/* ---- Vectorscan ------------------------------------------------------------------------------ */

/*
 * Patterns under test, each with its literals and its own prefilter bitmap, compiled into one
 * database as the rules compiler does (caseless, single match, the pattern's index as its id),
 * so that one scan of a text says which of them match it: a text drawn from one pattern is
 * checked against every pattern it matches.
 */
struct subjects {
    size_t n;
    const char *const *patterns;
    struct pattern_literals *lits;
    unsigned char (*bitmaps)[SMTPSTATUS_IMAGE_PREFILTER_BYTES];
    unsigned char *built;   /* pattern_prefilter_build() made bitmaps[i] */
    unsigned char *matched; /* filled by subjects_scan() */
    hs_database_t *db;
    hs_scratch_t *scratch;
};

/* Reads and compiles patterns[0..n); every pattern must get literals and compile. */
static void
subjects_init(struct subjects *x, const char *const *patterns, size_t n)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    x->patterns = patterns;
    x->lits = calloc(n, sizeof *x->lits);
    x->bitmaps = calloc(n, sizeof *x->bitmaps);
    x->built = calloc(n, 1);
    x->matched = calloc(n, 1);
    unsigned *flags = calloc(n, sizeof *flags), *ids = calloc(n, sizeof *ids);
    assert_true(x->lits != NULL && x->bitmaps != NULL && x->built != NULL && x->matched != NULL &&
                flags != NULL && ids != NULL);
    for (size_t i = 0; i < n; i++) {
        if (pattern_literals(patterns[i], &x->lits[i]) != 0)
            fail_msg("pattern_literals() gives up on /%s/", patterns[i]);
        check_well_formed(patterns[i], &x->lits[i]);
        /* A refusal fails the test, but only after the literals are tried: the build has
         * checks of its own that must not hide a wrong literal from this test. */
        x->built[i] = pattern_prefilter_build(&patterns[i], 1, x->bitmaps[i]) == 0;
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(patterns, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &x->db, &err) !=
        HS_SUCCESS)
        fail_msg("Vectorscan refuses /%s/: %s",
                 err->expression >= 0 ? patterns[err->expression] : "?", err->message);
    assert_int_equal(hs_alloc_scratch(x->db, &x->scratch), HS_SUCCESS);
    free(flags);
    free(ids);
}

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    ((unsigned char *)ctx)[id] = 1;
    return 0;
}

/* Sets matched[i] for every pattern i that occurs in text[0..len). */
static void
subjects_scan(struct subjects *x, const char *text, size_t len)
{
    memset(x->matched, 0, x->n);
    assert_int_equal(hs_scan(x->db, text, (unsigned)len, 0, x->scratch, on_match, x->matched),
                     HS_SUCCESS);
}

static void
subjects_free(struct subjects *x)
{
    hs_free_scratch(x->scratch);
    hs_free_database(x->db);
    free(x->lits);
    free(x->bitmaps);
    free(x->built);
    free(x->matched);
}

/* ---- a: the table ---------------------------------------------------------------------------- */

static void
check_row(const struct table_row *row)
{
    struct pattern_literals l;
    memset(&l, 0xA5, sizeof l);
    if (pattern_literals(row->pattern, &l) != 0)
        fail_msg("/%s/: pattern_literals() gave up", row->pattern);
    check_well_formed(row->pattern, &l);
    size_t nwant = 0;
    while (nwant < MAX_WANT && row->want[nwant] != NULL)
        nwant++;
    /* Every shortest match holds a literal (for EXACT rows, the literals are those matches). */
    for (size_t w = 0; w < nwant; w++)
        if (holds_literal(&l, row->want[w], strlen(row->want[w])) < 0) {
            print_literals(row->pattern, &l);
            fail_msg("/%s/ matches \"%s\", which holds none of its literals", row->pattern,
                     show(row->want[w], strlen(row->want[w])));
        }
    /* And no literal is made up: each is a part of some match. */
    for (size_t k = 0; k < l.count && row->kind != SOUND; k++) {
        size_t w = 0;
        while (w < nwant &&
               !(row->kind == EXACT
                     ? strlen(row->want[w]) == l.len[k] &&
                           memcmp(row->want[w], l.text[k], l.len[k]) == 0
                     : contains_folded(row->want[w], strlen(row->want[w]), l.text[k], l.len[k])))
            w++;
        if (w == nwant) {
            print_literals(row->pattern, &l);
            fail_msg("/%s/: literal \"%s\" is %s", row->pattern, show(l.text[k], l.len[k]),
                     row->kind == EXACT ? "not one of the expected" : "in none of its matches");
        }
    }
    if (row->kind == EXACT && l.count != nwant) {
        print_literals(row->pattern, &l);
        fail_msg("/%s/: %zu literals, expected %zu", row->pattern, l.count, nwant);
    }
}

static void
test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        check_row(&table[i]);
}

/* The most literals: 32 alternatives of 3 bytes each need all 32; 33 need too many. */
static void
test_literal_count_limit(void **state)
{
    (void)state;
    char pattern[PATTERN_LITERALS_MAX * 4 + 8];
    for (size_t n = PATTERN_LITERALS_MAX; n <= PATTERN_LITERALS_MAX + 1; n++) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++)
            o += (size_t)snprintf(pattern + o, sizeof pattern - o, "%sq%02zu", i ? "|" : "", i);
        struct pattern_literals l;
        int rc = pattern_literals(pattern, &l);
        if (n > PATTERN_LITERALS_MAX) {
            assert_int_equal(rc, -1);
            /* And inside a group between digits, which no literal can span. */
            char grouped[sizeof pattern + 8];
            snprintf(grouped, sizeof grouped, "\\d(%s)\\d", pattern);
            assert_int_equal(pattern_literals(grouped, &l), -1);
            continue;
        }
        assert_int_equal(rc, 0);
        check_well_formed(pattern, &l);
        assert_int_equal(l.count, n);
        for (size_t i = 0; i < n; i++) {
            char want[4];
            snprintf(want, sizeof want, "q%02zu", i);
            size_t k = 0;
            while (k < l.count && !(l.len[k] == 3 && memcmp(l.text[k], want, 3) == 0))
                k++;
            if (k == l.count)
                fail_msg("literal \"%s\" missing from the 32 alternatives' literals", want);
        }
    }
}

/* ---- b: give-up ------------------------------------------------------------------------------ */

static void
test_give_up(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof give_up / sizeof give_up[0]; i++) {
        struct pattern_literals l;
        if (pattern_literals(give_up[i], &l) != -1) {
            print_literals(give_up[i], &l);
            fail_msg("/%s/: pattern_literals() did not give up", give_up[i]);
        }
    }
    /* A pattern at the rules' length limit gives up or answers; it must not overrun. */
    char big[RULES_PATTERN_MAX + 1];
    memset(big, '(', RULES_PATTERN_MAX / 2);
    memset(big + RULES_PATTERN_MAX / 2, ')', RULES_PATTERN_MAX / 2);
    big[RULES_PATTERN_MAX] = '\0';
    struct pattern_literals l;
    assert_int_equal(pattern_literals(big, &l), -1);
}

/* ---- c: against Vectorscan ------------------------------------------------------------------- */

struct diff_stats {
    size_t patterns, matched_patterns, alts, matched_alts, samples, matches, unsound;
};

/* Checks a text against every pattern of x that Vectorscan finds in it; returns whether
 * pattern `own` was one. */
static int
diff_text(struct subjects *x, size_t own, const char *text, size_t len, struct diff_stats *st)
{
    subjects_scan(x, text, len);
    for (size_t j = 0; j < x->n; j++) {
        if (!x->matched[j])
            continue;
        st->matches++;
        int lit = holds_literal(&x->lits[j], text, len);
        int pre = !x->built[j] || smtpstatus__prefilter_may_match(x->bitmaps[j], text, len);
        if ((lit < 0 || !pre) && st->unsound++ < 20) {
            print_literals(x->patterns[j], &x->lits[j]);
            printf("UNSOUND: /%s/ matches \"%s\"%s%s\n", x->patterns[j], show(text, len),
                   lit < 0 ? ", which holds none of its literals" : "",
                   pre ? "" : ", and the prefilter says no");
        }
    }
    return x->matched[own];
}

/* Draws texts from pattern i of x (from each top-level alternative, then from the whole) and
 * checks each (diff_text()). */
static void
diff_one(struct subjects *x, size_t i, struct sampler *s, struct diff_stats *st)
{
    const char *pattern = x->patterns[i], *end = pattern + strlen(pattern);
    const char *starts[MAX_ALTS], *ends[MAX_ALTS];
    size_t nalts = split_alts(pattern, end, starts, ends);
    if (nalts == 0)
        fail_msg("/%s/: the sampler cannot split it", pattern);
    st->patterns++;
    st->alts += nalts;
    int any = 0;
    for (size_t a = 0; a <= nalts; a++) {
        const char *p = a < nalts ? starts[a] : pattern, *e = a < nalts ? ends[a] : end;
        int hit = 0;
        for (int k = 0; k < (a < nalts ? SAMPLES_PER_ALT : SAMPLES_WHOLE); k++) {
            sample(s, p, e);
            if (s->bad)
                fail_msg("/%s/: the sampler cannot read it", pattern);
            st->samples++;
            hit |= diff_text(x, i, s->buf, s->len, st);
        }
        if (a < nalts) {
            st->matched_alts += (size_t)hit;
            if (!hit)
                printf("  no matching sample of /%.*s/ in /%s/\n", (int)(ends[a] - starts[a]),
                       starts[a], pattern);
        }
        any |= hit;
    }
    st->matched_patterns += (size_t)any;
    if (!any)
        printf("  no matching sample of /%s/\n", pattern);
}

/* Runs diff_one() on every pattern; returns how many patterns the build refused. */
static size_t
diff_all(const char *what, const char *const *patterns, size_t n, struct sampler *s,
         struct diff_stats *st)
{
    struct subjects x;
    subjects_init(&x, patterns, n);
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        diff_one(&x, i, s, st);
        if (!x.built[i]) {
            printf("  pattern_prefilter_build() refuses /%s/\n", patterns[i]);
            refused++;
        }
    }
    printf("%s: %zu of %zu patterns and %zu of %zu alternatives matched; %zu matches in %zu "
           "samples\n",
           what, st->matched_patterns, st->patterns, st->matched_alts, st->alts, st->matches,
           st->samples);
    subjects_free(&x);
    return refused;
}

static void
test_against_vectorscan(void **state)
{
    (void)state;
    uint64_t seed = test_seed();
    printf("seed 0x%llx (set PATTERN_LITERALS_SEED to change it)\n", (unsigned long long)seed);
    struct sampler *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->rng = seed;

    /* The table's rows, but those Vectorscan refuses (it has no possessive quantifiers). */
    const char *rows[sizeof table / sizeof table[0]];
    size_t nrows = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_expression_info(table[i].pattern, HS_FLAG_CASELESS, &info, &err) == HS_SUCCESS)
            rows[nrows++] = table[i].pattern;
        else
            printf("  (Vectorscan refuses /%s/: not sampled)\n", table[i].pattern);
        free(info);
        hs_free_compile_error(err);
    }
    struct diff_stats t = {0}, st = {0};
    size_t refused = diff_all("table", rows, nrows, s, &t);

    struct builtin b;
    builtin_load(&b);
    refused += diff_all("built-in", b.patterns, b.count, s, &st);

    assert_int_equal(t.unsound + st.unsound, 0);
    assert_int_equal(refused, 0);
    /* Not vacuous: nearly every pattern, and nearly every alternative, had a matching text. */
    assert_int_equal(st.patterns, b.count);
    assert_true(st.matched_patterns * 100 >= st.patterns * COVERAGE_PERCENT);
    assert_true(st.matched_alts * 100 >= st.alts * COVERAGE_PERCENT);
    assert_true(t.matched_patterns * 100 >= t.patterns * COVERAGE_PERCENT);
    builtin_free(&b);
    free(s);
}

/* ---- d: the bitmap --------------------------------------------------------------------------- */

/* The library's gram bit is the formula of proto/smtpstatus_image.h: every first and second
 * byte, with third bytes at the edges of the folded range and of ASCII. */
static void
test_gram_bit(void **state)
{
    (void)state;
    static const unsigned char third[] = {0,   '0', '@',  'A',  'M',  'Z',  '[',  '`',  'a', 'm',
                                          'z', '{', 0x7f, 0x80, 0xc1, 0xda, 0xe1, 0xfa, 0xff};
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t i = 0; i < sizeof third; i++) {
                unsigned char x = (unsigned char)a, y = (unsigned char)b, c = third[i];
                if (smtpstatus__prefilter_bit(x, y, c) != formula_bit(x, y, c) ||
                    smtpstatus__prefilter_bit(x, c, y) != formula_bit(x, c, y) ||
                    smtpstatus__prefilter_bit(c, x, y) != formula_bit(c, x, y))
                    fail_msg("gram %02x %02x %02x, in some order: not the formula's bit", x, y, c);
            }
    assert_int_equal(smtpstatus__prefilter_bit('S', 'p', 'A'),
                     smtpstatus__prefilter_bit('s', 'p', 'a'));
    assert_int_not_equal(smtpstatus__prefilter_bit('s', 'p', 'a'),
                         smtpstatus__prefilter_bit('s', 'p', 'b'));
}

/* Whether some gram of text has its bit set, by the formula. */
static int
formula_may_match(const unsigned char *bitmap, const char *text, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i + 3 <= len; i++)
        if (bit_set(bitmap, formula_bit(t[i], t[i + 1], t[i + 2])))
            return 1;
    return 0;
}

static void
test_bitmap(void **state)
{
    (void)state;
    struct builtin b;
    builtin_load(&b);
    unsigned char *bitmap = malloc(SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    unsigned char *explained = calloc(SMTPSTATUS_IMAGE_PREFILTER_BYTES, 1);
    assert_non_null(bitmap);
    assert_non_null(explained);
    memset(bitmap, 0xA5, SMTPSTATUS_IMAGE_PREFILTER_BYTES); /* it is zeroed by the build */
    if (pattern_prefilter_build(b.patterns, b.count, bitmap) != 0) {
        for (size_t i = 0; i < b.count; i++)
            if (pattern_prefilter_build(&b.patterns[i], 1, bitmap) != 0)
                printf("  refused: /%s/\n", b.patterns[i]);
        fail_msg("pattern_prefilter_build() refuses the built-in patterns");
    }

    /* Each literal has a gram whose bit is set, and passes in any case and any company. */
    size_t literals = 0;
    for (size_t i = 0; i < b.count; i++) {
        struct pattern_literals l;
        assert_int_equal(pattern_literals(b.patterns[i], &l), 0);
        for (size_t k = 0; k < l.count; k++, literals++) {
            const char *t = l.text[k];
            size_t n = l.len[k];
            int has = 0;
            for (size_t j = 0; j + 3 <= n; j++) {
                uint32_t bit = formula_bit((unsigned char)t[j], (unsigned char)t[j + 1],
                                           (unsigned char)t[j + 2]);
                explained[bit >> 3] |= (unsigned char)(1u << (bit & 7u));
                has |= bit_set(bitmap, bit);
            }
            if (!has)
                fail_msg("/%s/: no gram of \"%s\" is in the bitmap", b.patterns[i], show(t, n));
            char text[PATTERN_LITERAL_MAX_LEN + 16];
            memcpy(text, t, n);
            assert_int_equal(smtpstatus__prefilter_may_match(bitmap, text, n), 1);
            for (size_t j = 0; j < n; j++)
                text[j] = (char)toupper((unsigned char)text[j]);
            assert_int_equal(smtpstatus__prefilter_may_match(bitmap, text, n), 1);
            int pre = snprintf(text, sizeof text, "55%zu ", k % 10);
            memcpy(text + pre, t, n);
            memcpy(text + pre + n, " x", 2);
            assert_int_equal(smtpstatus__prefilter_may_match(bitmap, text, (size_t)pre + n + 2), 1);
        }
    }
    /* No bit but those of the literals' grams: the bitmap is as sparse as the contract lets it. */
    size_t set = 0;
    for (uint32_t bit = 0; bit < 8u * SMTPSTATUS_IMAGE_PREFILTER_BYTES; bit++) {
        if (!bit_set(bitmap, bit))
            continue;
        set++;
        if (!bit_set(explained, bit))
            fail_msg("bit %u is set, but it is no gram of a literal", bit);
    }
    printf("%zu built-in patterns, %zu literals, %zu of %u bits set\n", b.count, literals, set,
           8u * SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    assert_true(set >= 1 && set <= literals);

    /* The benchmark's reply holds no literal, and must skip Vectorscan. */
    static const char *const none[] = {"550 5.1.1 no", "", "55", "550"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (smtpstatus__prefilter_may_match(bitmap, none[i], strlen(none[i])) != 0)
            fail_msg("the prefilter lets \"%s\" through", none[i]);

    /* may_match() reads the bitmap by the formula, on any bytes. */
    uint64_t rng = test_seed();
    char text[64];
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(testutil_rand(&rng) % sizeof text);
        for (size_t j = 0; j < n; j++)
            text[j] = (char)(i & 1 ? 0x20 + testutil_rand(&rng) % 0x5f : testutil_rand(&rng));
        assert_int_equal(smtpstatus__prefilter_may_match(bitmap, text, n),
                         formula_may_match(bitmap, text, n));
    }
    free(explained);
    free(bitmap);
    builtin_free(&b);
}

/* A pattern without literals leaves the image without a prefilter. */
static void
test_build_refuses(void **state)
{
    (void)state;
    unsigned char *bitmap = malloc(SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    assert_non_null(bitmap);
    const char *gives_up[] = {"relay denied", "\\d+"};
    assert_int_equal(pattern_prefilter_build(gives_up, 2, bitmap), -1);
    /* A literal with no 3 ASCII bytes in a row ("é" twice, then "x"). */
    const char *no_ascii_gram[] = {"relay denied", "\xc3\xa9\xc3\xa9x"};
    assert_int_equal(pattern_prefilter_build(no_ascii_gram, 2, bitmap), -1);
    /* One that has them is fine, and only its own grams are set. */
    const char *one[] = {"Relay"};
    assert_int_equal(pattern_prefilter_build(one, 1, bitmap), 0);
    assert_int_equal(smtpstatus__prefilter_may_match(bitmap, "xRELAYx", 7), 1);
    for (uint32_t bit = 0; bit < 8u * SMTPSTATUS_IMAGE_PREFILTER_BYTES; bit++)
        if (bit_set(bitmap, bit) && bit != formula_bit('r', 'e', 'l') &&
            bit != formula_bit('e', 'l', 'a') && bit != formula_bit('l', 'a', 'y'))
            fail_msg("bit %u is set for /Relay/", bit);
    free(bitmap);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),         cmocka_unit_test(test_literal_count_limit),
        cmocka_unit_test(test_give_up),       cmocka_unit_test(test_against_vectorscan),
        cmocka_unit_test(test_gram_bit),      cmocka_unit_test(test_bitmap),
        cmocka_unit_test(test_build_refuses),
    };
    if (getenv("PLF"))
        cmocka_set_test_filter(getenv("PLF"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
