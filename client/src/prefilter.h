/*
 * The rules' prefilter (proto/smtpstatus_image.h): a bitmap of 3-byte grams that tells, before
 * the pattern database is touched, that no pattern can occur in a text. The image writer sets
 * the bits (daemon/registry/pattern_literals.h); the reason engine asks before it scans, so that
 * a text no pattern can match costs no Vectorscan scratch space and no read of the database.
 */
#ifndef SMTPSTATUS_PREFILTER_H
#define SMTPSTATUS_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

/* c with A-Z taken as a-z, as the patterns match (HS_FLAG_CASELESS folds ASCII alone). */
unsigned char smtpstatus__prefilter_fold(unsigned char c);

/* The bit of the gram a, b, c, folded (below 1 << SMTPSTATUS_IMAGE_PREFILTER_BITS). */
uint32_t smtpstatus__prefilter_bit(unsigned char a, unsigned char b, unsigned char c);

/* Whether some gram of text[0..len) has its bit set in bitmap (SMTPSTATUS_IMAGE_PREFILTER_BYTES
 * bytes). When not, no pattern can occur in the text. */
int smtpstatus__prefilter_may_match(const unsigned char *bitmap, const char *text, size_t len);

#endif
