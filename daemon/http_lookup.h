/*
 * The HTTP port's endpoints that ask the registry served about SMTP statuses: a code, a search
 * of the codes, a basic reply code, a rendered reply, a classified reply, a parsed bounce. The
 * routing (http_api.c) has checked the method and that a registry is loaded (c->img); each
 * endpoint checks its own path argument and query, and answers into c->body and c->resp with
 * http_respond.h. Nothing here blocks; each allocates only what its answer needs, freed before
 * it returns, except the lookup answers it keeps in the cache (c->api->cache, http_cache.h).
 */
#ifndef SMTPSTATUSD_HTTP_LOOKUP_H
#define SMTPSTATUSD_HTTP_LOOKUP_H

#include <stddef.h>

#include "http_respond.h"

/* GET /v1/codes/{code}: one code, registered or not, or a provider's own token. raw[0..raw_len)
 * is the path segment, still percent-encoded. */
void http_lookup_code(struct http_ctx *c, const char *raw, size_t raw_len);

/* GET /v1/codes?basic=550&q=words&subject=7: the registered codes that pass every filter. */
void http_lookup_list(struct http_ctx *c);

/* GET /v1/basic/{nnn}: a basic reply code's meaning and its associated enhanced codes. */
void http_lookup_basic(struct http_ctx *c, const char *raw, size_t raw_len);

/* GET /v1/render?basic=550&code=5.1.1&text=...&width=76&smtputf8=1&dsn=1 */
void http_lookup_render_get(struct http_ctx *c);

/* POST /v1/render with the same fields as a JSON object; body[0..len) may be NULL when empty. */
void http_lookup_render_post(struct http_ctx *c, const char *body, size_t len);

/* POST /v1/classify with the raw reply as body[0..len). */
void http_lookup_classify(struct http_ctx *c, const char *body, size_t len);

/* POST /v1/bounce with the raw message as body[0..len) (at most HTTP_BODY_LIMIT bytes). */
void http_lookup_bounce(struct http_ctx *c, const char *body, size_t len);

#endif
