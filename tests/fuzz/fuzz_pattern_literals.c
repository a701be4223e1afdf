/*
 * libFuzzer target for the rules' prefilter (daemon/registry/pattern_literals.h): the input is a
 * pattern, a NUL byte and a text (with no NUL, the text is the pattern's own bytes). Whenever
 * pattern_literals() answers for a pattern that Vectorscan compiles as the rules compiler does
 * (caseless, single match) and Vectorscan finds it in the text, the text must hold one of the
 * literals, ignoring ASCII case, and the pattern's own prefilter bitmap must let the text
 * through; the target aborts otherwise, printing both. It also aborts when an answer breaks the
 * header's form (1 to PATTERN_LITERALS_MAX literals of 3 to PATTERN_LITERAL_MAX_LEN bytes, no
 * upper case), or when pattern_prefilter_build() accepts a pattern pattern_literals() gave up on.
 * Patterns over FUZZ_MAX_PATTERN bytes are skipped: Vectorscan's compile time grows with them.
 * Seeds: corpus/pattern_literals/. tests/fuzz/README.md says how to run it.
 */
#include <hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern_literals.h"
#include "prefilter.h"
#include "smtpstatus_image.h"

#define FUZZ_MAX_PATTERN 256u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *pattern, const uint8_t *text, size_t len)
{
    fprintf(stderr, "fuzz_pattern_literals: %s\npattern: /%s/\ntext (%zu bytes): ", what, pattern,
            len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, text[i] >= 0x20 && text[i] < 0x7f ? "%c" : "\\x%02x", text[i]);
    fprintf(stderr, "\n");
    abort();
}

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* Whether lit[0..m) (lower case) occurs in text[0..n), ignoring ASCII case. */
static int
occurs(const uint8_t *text, size_t n, const char *lit, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && lower(text[i + j]) == (unsigned char)lit[j])
            j++;
        if (j == m)
            return 1;
    }
    return 0;
}

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    *(int *)ctx = 1;
    return 1;
}

/* Whether Vectorscan, compiling `pattern` as rules_compile() does, finds it in text; -1 when it
 * refuses the pattern. The last pattern's database is kept: most mutations change one side of
 * the input only, and compiling takes far longer than scanning. */
static int
vectorscan_matches(const char *pattern, const uint8_t *text, size_t len)
{
    static char last[FUZZ_MAX_PATTERN + 1];
    static hs_database_t *db;
    static hs_scratch_t *scratch;
    if (db == NULL || strcmp(last, pattern) != 0) {
        hs_free_scratch(scratch);
        hs_free_database(db);
        scratch = NULL;
        db = NULL;
        last[0] = '\0';
        hs_compile_error_t *err = NULL;
        if (hs_compile(pattern, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL, &db,
                       &err) != HS_SUCCESS) {
            hs_free_compile_error(err);
            db = NULL;
            return -1;
        }
        if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
            fail("hs_alloc_scratch() failed", pattern, text, len);
        strcpy(last, pattern);
    }
    int hit = 0;
    hs_error_t e = hs_scan(db, (const char *)text, (unsigned)len, 0, scratch, on_match, &hit);
    if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
        fail("hs_scan() failed", pattern, text, len);
    return hit;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul != NULL ? (size_t)(nul - data) : size;
    if (plen > FUZZ_MAX_PATTERN)
        return 0;
    char pattern[FUZZ_MAX_PATTERN + 1];
    memcpy(pattern, data, plen);
    pattern[plen] = '\0';
    const uint8_t *text = nul != NULL ? nul + 1 : data;
    size_t tlen = nul != NULL ? size - plen - 1 : size;

    static unsigned char bitmap[SMTPSTATUS_IMAGE_PREFILTER_BYTES];
    const char *one = pattern;
    struct pattern_literals l;
    if (pattern_literals(pattern, &l) != 0) {
        if (pattern_prefilter_build(&one, 1, bitmap) != -1)
            fail("a prefilter for a pattern without literals", pattern, text, tlen);
        return 0;
    }
    if (l.count < 1 || l.count > PATTERN_LITERALS_MAX)
        fail("a count of literals out of range", pattern, text, tlen);
    for (size_t k = 0; k < l.count; k++) {
        if (l.len[k] < PATTERN_LITERAL_MIN_LEN || l.len[k] > PATTERN_LITERAL_MAX_LEN)
            fail("a literal's length out of range", pattern, text, tlen);
        for (size_t i = 0; i < l.len[k]; i++)
            if (l.text[k][i] >= 'A' && l.text[k][i] <= 'Z')
                fail("a literal with upper case", pattern, text, tlen);
    }
    int built = pattern_prefilter_build(&one, 1, bitmap) == 0;

    if (vectorscan_matches(pattern, text, tlen) != 1)
        return 0;
    size_t k = 0;
    while (k < l.count && !occurs(text, tlen, l.text[k], l.len[k]))
        k++;
    if (k == l.count)
        fail("UNSOUND: the text matches and holds none of the literals", pattern, text, tlen);
    if (built && !smtpstatus__prefilter_may_match(bitmap, (const char *)text, tlen))
        fail("UNSOUND: the text matches and the prefilter says no", pattern, text, tlen);
    return 0;
}
