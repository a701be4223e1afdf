/*
 * UTF-8 well-formedness, as RFC 3629 and Unicode's table define it, for the library's text
 * handling (render's SMTPUTF8 text, classify's reply text), and the one way the library and the
 * daemon make a string well-formed before it goes into a protobuf `string` field or a JSON
 * string: every runtime but protobuf-c rejects a whole message for one bad byte there, so a
 * byte from a request, a file or a path never reaches such a field unmended, and a string cut
 * to a length is cut between characters.
 */
#ifndef SMTPSTATUS_UTF8_H
#define SMTPSTATUS_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the well-formed character at p[0..avail), or 0 when the bytes there
 * are not one: overlong forms, surrogates, code points above U+10FFFF, stray continuation
 * bytes and truncated sequences are all 0. avail must be at least 1. */
size_t smtpstatus__utf8_char(const unsigned char *p, size_t avail);

/* Copies src[0..len) into dst[0..size) (size at least 1) as well-formed UTF-8 with a NUL: each
 * byte that is not part of a well-formed character becomes '?', as classify's text does, so
 * the copy is never longer than the source; when it does not all fit, the copy ends before the
 * first character that would not fit whole. dst may be src (mending in place). NULs in src are
 * copied as they are. Returns the bytes written, without the NUL. */
size_t smtpstatus__utf8_copy(char *dst, size_t size, const char *src, size_t len);

/* A malloc'd copy of the string s made well-formed as smtpstatus__utf8_copy() does, owned by
 * the caller, who frees it; NULL on ENOMEM. For the writer side, which keeps such strings. */
char *smtpstatus__utf8_strdup(const char *s);

/* The length of s[0..len) without a character cut off at its end: where to end a prefix of
 * well-formed text (a buffer that snprintf filled, a line cut to a width) so that no character
 * is left in half. Ill-formed bytes before the end are not its business
 * (smtpstatus__utf8_copy() mends them). */
size_t smtpstatus__utf8_whole(const char *s, size_t len);

#endif
