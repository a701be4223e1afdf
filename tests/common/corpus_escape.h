/* The escapes of the project's TSV corpora (tests/data/replies_*.tsv): a reply is one field,
 * with \r \n \t \\ and \xHH standing for the bytes a TSV field cannot hold. One reader for the
 * unit tests and the benchmarks, and the same rules as tests/bench/sisimai_reasons.pl. */
#ifndef SMTPSTATUS_TESTS_CORPUS_ESCAPE_H
#define SMTPSTATUS_TESTS_CORPUS_ESCAPE_H

#include <stddef.h>

/* Undoes the escapes in s[0..n) in place (the result is never longer) and returns the new
 * length; s is not NUL-terminated by it (the result may hold NUL bytes). A backslash that
 * starts no escape stays as it is, and *bad (when not NULL) gets the offset in the original
 * of the first such backslash, or n when every escape was one of the five. */
size_t corpus_unescape(char *s, size_t n, size_t *bad);

#endif
