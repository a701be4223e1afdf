/*
 * The HTTP port's JSON and error answers (see http_respond.h). jansson dumps straight into the
 * body buffer, growing it once when the answer does not fit, so an answer is built in one
 * allocation at most past the buffer the transport keeps between requests.
 */
#include "http_respond.h"

#include <stdarg.h>
#include <stdio.h>

#include "answer_json.h"

/* The stable name of an error status, in the socket API's vocabulary where it has one. */
static const char *
error_code_name(int status)
{
    switch (status) {
    case 400:
        return "invalid_argument";
    case 403:
        return "permission_denied";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 409:
        return "busy";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 422:
        return "reload_failed";
    case 431:
        return "headers_too_large";
    case 503:
        return "unavailable";
    default:
        return "internal";
    }
}

int
http_respond_dump(json_t *o, int pretty, struct buf *body)
{
    if (o == NULL)
        return -1;
    size_t flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    size_t room = body->cap - body->len;
    size_t n = json_dumpb(o, body->data ? body->data + body->len : NULL, room, flags);
    if (n > room) {
        /* It did not fit: make room for exactly what it needs and dump again. */
        if (buf_reserve(body, n + 1) != 0) {
            json_decref(o);
            return -1;
        }
        n = json_dumpb(o, body->data + body->len, body->cap - body->len, flags);
    }
    json_decref(o);
    if (n == 0)
        return -1;
    body->len += n;
    return buf_append(body, "\n", 1);
}

void
http_respond_error(int status, const char *message, int pretty, struct buf *body,
                   struct http_response *resp)
{
    resp->status = status;
    resp->content_type = HTTP_JSON_TYPE;
    json_t *o = json_object(), *e = json_object();
    answer_json_set(e, "status", json_integer(status));
    answer_json_set(e, "code", answer_json_str(error_code_name(status)));
    answer_json_set(e, "message", answer_json_str(message));
    answer_json_set(o, "error", e);
    size_t start = body->len;
    if (http_respond_dump(o, pretty, body) != 0) {
        /* No memory even for the error: a fixed answer that needs none. */
        body->len = start;
        resp->status = 500;
        buf_puts(body, "{\"error\":{\"status\":500,\"code\":\"internal\",\"message\":\"out of "
                       "memory\"}}\n");
    }
}

void
http_respond_json(struct http_ctx *c, json_t *o)
{
    c->resp->status = 200;
    c->resp->content_type = HTTP_JSON_TYPE;
    size_t start = c->body->len;
    if (http_respond_dump(o, c->pretty, c->body) != 0) {
        c->body->len = start;
        http_respond_error(500, "out of memory", c->pretty, c->body, c->resp);
    }
}

void
http_respond_fail(struct http_ctx *c, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_respond_error(status, msg, c->pretty, c->body, c->resp);
}

int
http_respond_known_params(struct http_ctx *c, const char *const *known)
{
    char bad[80];
    if (http_query_check(&c->q, known, bad, sizeof bad) == 0)
        return 0;
    http_respond_fail(c, 400, "unknown query parameter \"%s\"", bad);
    return -1;
}
