/*
 * UTF-8 well-formedness, as RFC 3629 and Unicode's table define it, for the library's text
 * handling (render's SMTPUTF8 text, classify's reply text).
 */
#ifndef SMTPSTATUS_UTF8_H
#define SMTPSTATUS_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the well-formed character at p[0..avail), or 0 when the bytes there
 * are not one: overlong forms, surrogates, code points above U+10FFFF, stray continuation
 * bytes and truncated sequences are all 0. avail must be at least 1. */
size_t smtpstatus__utf8_char(const unsigned char *p, size_t avail);

#endif
