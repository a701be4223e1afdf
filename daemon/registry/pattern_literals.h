/*
 * The literals a reason rule's pattern needs, and the image's prefilter made from them
 * (proto/smtpstatus_image.h): the writer side of client/src/prefilter.h.
 *
 * The patterns are Vectorscan's (PCRE syntax), compiled with HS_FLAG_CASELESS. This reads the
 * part of that syntax the rules use: literal bytes, escaped punctuation, \t \n \r, \d \D \w \W
 * \s \S, \b \B, ., ^, $, bracket classes, groups ( ) and (?: ), alternation, and the quantifiers
 * ? * + {n} {n,} {n,m}, lazy or possessive. Anything else (other escapes, (?...) constructs,
 * a '{' that is not a quantifier) makes it give up on the pattern, and the image then has no
 * prefilter: every text is scanned, as before there was one. Giving up is always safe; a
 * literal that some match lacks would not be, so what is not understood is not guessed.
 */
#ifndef SMTPSTATUS_PATTERN_LITERALS_H
#define SMTPSTATUS_PATTERN_LITERALS_H

#include <stddef.h>

#include "smtpstatus_image.h"

#define PATTERN_LITERALS_MAX    64 /* the most literals kept for one pattern */
#define PATTERN_LITERAL_MAX_LEN 32 /* longer literals are cut: a part of one is needed too */
#define PATTERN_LITERAL_MIN_LEN SMTPSTATUS_IMAGE_PREFILTER_GRAM

/* Literals, ASCII letters in lower case, one of which occurs in every match. */
struct pattern_literals {
    size_t count;
    unsigned char len[PATTERN_LITERALS_MAX];
    char text[PATTERN_LITERALS_MAX][PATTERN_LITERAL_MAX_LEN];
};

/*
 * Fills *out with literals of PATTERN_LITERAL_MIN_LEN bytes or more such that every match of
 * `pattern` (compiled HS_FLAG_CASELESS) contains one of them, ignoring ASCII case. Returns 0,
 * or -1 when it cannot tell: a construct it does not read, or a pattern that can match without
 * any literal that long (\d+, [a-z]{5}, a|bc), or one needing more than PATTERN_LITERALS_MAX.
 */
int pattern_literals(const char *pattern, struct pattern_literals *out);

/*
 * Fills bitmap (SMTPSTATUS_IMAGE_PREFILTER_BYTES bytes, zeroed here) with one gram of ASCII
 * bytes from each literal of each of the n patterns. Returns 0, or -1 when some pattern has no
 * literals (pattern_literals() gave up, or a literal has no 3 ASCII bytes in a row), or when
 * Vectorscan's own analysis disagrees (hs_expression_info() refuses the pattern, or says a match
 * can be shorter than every literal): then the image gets no prefilter.
 */
int pattern_prefilter_build(const char *const *patterns, size_t n, unsigned char *bitmap);

#endif
