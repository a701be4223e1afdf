/*
 * Downloads for smtpstatusd-update (`smtpstatus update`), with libcurl: one URL into memory, all or nothing. A
 * download counts only when it completed: HTTP status 200 (or a file:// read), every byte the
 * server announced (Content-Length) received, within a size limit and a time limit. Anything
 * else is an error with a sentence that names the URL and what went wrong (the HTTP status, a
 * truncated transfer, a timeout, curl's own message), so that update.c can refuse the whole
 * update and leave the installed registry as it was.
 */
#ifndef SMTPSTATUSD_FETCH_H
#define SMTPSTATUSD_FETCH_H

#include <stddef.h>

#define FETCH_TIMEOUT_S 120L /* the limit for one file, connection included */

/* Sets libcurl up once for the process. Returns 0, or -1 after writing why into why[]. */
int fetch_init(char *why, size_t why_size);

/* Undoes fetch_init(). */
void fetch_cleanup(void);

/*
 * Downloads `url` (http, https or file; redirects are followed to http and https only).
 * Returns 0 with *data (malloc'd, NUL-terminated, owned by the caller, who frees it) and *len
 * (without the NUL); or -1 with *data NULL and a message in why[0..why_size). Refuses a body
 * of more than `max` bytes. Blocks for up to FETCH_TIMEOUT_S seconds.
 */
int fetch_url(const char *url, size_t max, char **data, size_t *len, char *why, size_t why_size);

#endif
