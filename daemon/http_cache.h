/*
 * The HTTP port's cache of lookup answers. A registry never changes while it is served, so the
 * JSON of GET /v1/codes/{code} is made once per registry and code (and indentation): a
 * direct-mapped table of answers, emptied when the registry served is another (a reload). A
 * lookup then costs a copy, not a jansson tree and a dump. Single-threaded: the loop's.
 */
#ifndef SMTPSTATUSD_HTTP_CACHE_H
#define SMTPSTATUSD_HTTP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "smtpstatus.h"

struct http_cache;

/* The key of the answer to a lookup of `code`, indented or not; never 0. */
uint32_t http_cache_key(smtpstatus_code code, int pretty);

/*
 * Looks `key` up among the answers of registry `img` of `generation`. The cache is made on first
 * use (*cache is NULL until then; the caller owns what it points to and frees it with
 * http_cache_free()), and emptied when the registry is not the one its answers are of. Returns
 * the answer's bytes and sets *len, or NULL on a miss or when the cache could not be made. The
 * bytes are the cache's, valid until the next http_cache_get() or http_cache_put().
 */
const char *http_cache_get(struct http_cache **cache, const smtpstatus_image *img,
                           uint64_t generation, uint32_t key, size_t *len);

/* Keeps a copy of body[0..len) as the answer of `key`, for the registry of the last
 * http_cache_get(), in place of whatever answer shared its slot. Does nothing for a NULL cache or
 * when memory runs out (the next lookup builds the answer again). */
void http_cache_put(struct http_cache *cache, uint32_t key, const char *body, size_t len);

/* Frees the cache and every answer in it; NULL does nothing. */
void http_cache_free(struct http_cache *cache);

#endif
