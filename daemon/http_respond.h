/*
 * How the HTTP port's endpoints answer: the context of the request being answered, JSON answers
 * dumped into the caller's body buffer, and error answers in the port's one shape,
 * {"error": {"status": N, "code": "not_found", "message": "..."}}. When memory runs out even for
 * an error, a fixed 500 that needs none is answered. Used by the routing (http_api.c) and by
 * every endpoint file; it knows nothing of paths or of the transport.
 */
#ifndef SMTPSTATUSD_HTTP_RESPOND_H
#define SMTPSTATUSD_HTTP_RESPOND_H

#include <jansson.h>

#include "buf.h"
#include "http_api.h"
#include "http_query.h"
#include "smtpstatus.h"

#define HTTP_JSON_TYPE "application/json"

/* One request being answered. Every pointer is borrowed for the request's answer. */
struct http_ctx {
    struct http_api *api;
    const smtpstatus_image *img; /* the registry served; NULL only for /metrics before a load */
    struct http_query q;         /* the target's query, empty when it has none */
    int pretty;                  /* ?pretty=1: indent the JSON */
    struct buf *body;            /* the answer's body is appended here */
    struct http_response *resp;  /* the answer's status and headers */
};

/* Dumps `o` after what `body` holds, taking the reference. Returns 0, or -1 when `o` is NULL or
 * memory ran out; the body is then as it was. */
int http_respond_dump(json_t *o, int pretty, struct buf *body);

/* Answers `status` with `message` (copied) as a JSON error, appended to `body`. */
void http_respond_error(int status, const char *message, int pretty, struct buf *body,
                        struct http_response *resp);

/* Answers 200 with `o` (taking the reference), or 500 when `o` is NULL or could not be dumped. */
void http_respond_json(struct http_ctx *c, json_t *o);

/* Answers `status` with a message formatted into a bounded buffer (cut at 511 bytes). */
void http_respond_fail(struct http_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Refuses parameters the endpoint does not know (`known` is NULL-terminated): a typo would
 * otherwise be silently ignored. Returns 0, or -1 after answering 400. */
int http_respond_known_params(struct http_ctx *c, const char *const *known);

#endif
