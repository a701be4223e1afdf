/*
 * The "Associated basic status code" column of IANA's enumerated table is free text:
 * "451, 550", "Not given", "Any", "5XX", "250 or 251",
 * "450, 550 (other 4XX or 5XX codes are allowed)", lists broken across lines. This module turns
 * that text into exact basic codes, class wildcards and flags. The loader keeps the raw text
 * beside the result, so nothing IANA wrote is lost.
 */
#ifndef SMTPSTATUSD_BASIC_ASSOC_H
#define SMTPSTATUSD_BASIC_ASSOC_H

#include <stddef.h>
#include <stdint.h>

#define BASIC_ASSOC_MAX_CODES 32u /* IANA's longest list (X.7.0) has 11 */

struct basic_assoc {
    uint16_t codes[BASIC_ASSOC_MAX_CODES]; /* exact codes, ascending, no duplicates */
    uint32_t count;
    uint32_t classes; /* bit N set: "NXX" is associated */
    uint32_t flags;   /* SMTPSTATUS_IMAGE_BASIC_* from proto/smtpstatus_image.h */
};

/*
 * Parses text[0..len) into *out. Accepted: three-digit reply codes (RFC 5321 grammar), class
 * wildcards "2XX"/"4XX"/"5XX" (x in any case), "Any", "Not given", an empty field (taken as not
 * given), separated by commas, "or", "and" and white space including line breaks, and one
 * parenthesised remark "(other 4XX or 5XX codes are allowed)" that adds those wildcards and the
 * OTHERS_OK flag. Returns 0, or -1 with a message naming the first word it does not understand
 * in err[0..errlen) and *erroff set to that word's 0-based byte offset. Never allocates.
 */
int basic_assoc_parse(const char *text, size_t len, struct basic_assoc *out, char *err,
                      size_t errlen, size_t *erroff);

#endif
