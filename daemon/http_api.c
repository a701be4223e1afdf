/*
 * The HTTP port's routing (see http_api.h): which endpoint a request's path names, which methods
 * it allows, and what it may be asked before it runs (a registry loaded, known query
 * parameters). The endpoints are in http_lookup.c (questions about SMTP statuses) and
 * http_admin.c (the daemon's registry, health, metrics and reload); their answers are built
 * with http_respond.c. Every entry point of the module is here, so the transport and the tests
 * see one face.
 */
#include "http_api.h"

#include <string.h>

#include "http_admin.h"
#include "http_cache.h"
#include "http_lookup.h"
#include "http_query.h"
#include "http_respond.h"

const char *
http_api_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

void
http_api_error(struct http_api *api, int status, const char *message, struct buf *body,
               struct http_response *resp)
{
    (void)api;
    resp->op = HTTP_OP_UNKNOWN;
    resp->allow = NULL;
    http_respond_error(status, message, 0, body, resp);
}

int
http_api_wants_pretty(const char *target, size_t len)
{
    const char *qm = memchr(target, '?', len);
    if (qm == NULL)
        return 0;
    struct http_query q = {qm + 1, len - (size_t)(qm + 1 - target)};
    char v[8];
    return http_query_get(&q, "pretty", v, sizeof v) == 1 && http_query_truthy(v);
}

void
http_api_free(struct http_api *api)
{
    http_cache_free(api->cache);
    api->cache = NULL;
}

void
http_api_reload_response(struct http_api *api, int ok, int start_error, const struct diag *d,
                         int pretty, struct buf *body, struct http_response *resp)
{
    http_admin_reload_response(api, ok, start_error, d, pretty, body, resp);
}

static int
path_is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

static int
path_under(const char *path, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(path, prefix, n) == 0;
}

/* Allows `methods` (a mask of 1 << HTTP_METHOD_*) or answers 405 with `allow`. */
static int
method_ok(struct http_ctx *c, enum http_method m, unsigned methods, const char *allow)
{
    if (methods & (1u << m))
        return 1;
    c->resp->allow = allow;
    http_respond_fail(c, 405, "this resource allows %s", allow);
    return 0;
}

#define READ_METHODS ((1u << HTTP_METHOD_GET) | (1u << HTTP_METHOD_HEAD))
#define POST_METHOD  (1u << HTTP_METHOD_POST)

enum http_api_result
http_api_handle(struct http_api *api, const struct http_request *req, struct buf *body,
                struct http_response *resp, char *dir_buf, size_t dir_size, const char **dir)
{
    *resp = (struct http_response){200, HTTP_JSON_TYPE, NULL, HTTP_OP_UNKNOWN};
    *dir = NULL;
    const char *path = req->target;
    const char *qm = memchr(req->target, '?', req->target_len);
    size_t plen = qm ? (size_t)(qm - path) : req->target_len;
    struct http_ctx c = {api, NULL, {qm ? qm + 1 : "", qm ? req->target_len - plen - 1 : 0},
                         0,   body, resp};
    if (c.q.len > 0)
        c.pretty = http_api_wants_pretty(req->target, req->target_len);
    enum http_method m = req->method;
    enum http_api_result result = HTTP_API_DONE;

    /* Which resource, and what it allows. */
    enum http_op op = HTTP_OP_UNKNOWN;
    unsigned methods = READ_METHODS;
    const char *allow = "GET, HEAD";
    const char *arg = NULL;
    size_t arg_len = 0;
    if (path_under(path, plen, "/v1/codes/") && plen > 10) {
        op = HTTP_OP_LOOKUP;
        arg = path + 10;
        arg_len = plen - 10;
    } else if (path_is(path, plen, "/v1/codes")) {
        op = HTTP_OP_LIST;
    } else if (path_under(path, plen, "/v1/basic/") && plen > 10) {
        op = HTTP_OP_BASIC;
        arg = path + 10;
        arg_len = plen - 10;
    } else if (path_is(path, plen, "/v1/render")) {
        op = HTTP_OP_RENDER;
        methods |= POST_METHOD;
        allow = "GET, HEAD, POST";
    } else if (path_is(path, plen, "/v1/classify")) {
        op = HTTP_OP_CLASSIFY;
        methods = POST_METHOD;
        allow = "POST";
    } else if (path_is(path, plen, "/v1/bounce")) {
        op = HTTP_OP_BOUNCE;
        methods = POST_METHOD;
        allow = "POST";
    } else if (path_is(path, plen, "/v1/registry")) {
        op = HTTP_OP_REGISTRY_INFO;
    } else if (path_is(path, plen, "/v1/reload")) {
        op = HTTP_OP_RELOAD;
        methods = POST_METHOD;
        allow = "POST";
    } else if (path_is(path, plen, "/healthz")) {
        op = HTTP_OP_HEALTHZ;
    } else if (path_is(path, plen, "/metrics")) {
        op = HTTP_OP_METRICS;
    }
    resp->op = op;
    api->metrics->http_requests[op]++;
    if (op == HTTP_OP_UNKNOWN) {
        http_respond_fail(&c, 404, "no such resource: %.*s", (int)(plen < 200 ? plen : 200), path);
        return HTTP_API_DONE;
    }
    if (!method_ok(&c, m, methods, allow))
        return HTTP_API_DONE;
    if (op != HTTP_OP_METRICS && (api->svc->current == NULL || api->svc->current->img == NULL)) {
        http_respond_fail(&c, 503, "no registry is loaded yet");
        return HTTP_API_DONE;
    }
    c.img = api->svc->current ? api->svc->current->img : NULL;
    if (op != HTTP_OP_LIST && op != HTTP_OP_RENDER && op != HTTP_OP_LOOKUP && op != HTTP_OP_BASIC) {
        static const char *const known[] = {"pretty", NULL};
        if (http_respond_known_params(&c, known) != 0)
            return HTTP_API_DONE;
    }
    switch (op) {
    case HTTP_OP_LOOKUP:
        http_lookup_code(&c, arg, arg_len);
        break;
    case HTTP_OP_LIST:
        http_lookup_list(&c);
        break;
    case HTTP_OP_BASIC:
        http_lookup_basic(&c, arg, arg_len);
        break;
    case HTTP_OP_RENDER:
        if (m == HTTP_METHOD_POST)
            http_lookup_render_post(&c, req->body, req->body_len);
        else
            http_lookup_render_get(&c);
        break;
    case HTTP_OP_CLASSIFY:
        http_lookup_classify(&c, req->body, req->body_len);
        break;
    case HTTP_OP_BOUNCE:
        http_lookup_bounce(&c, req->body, req->body_len);
        break;
    case HTTP_OP_REGISTRY_INFO:
        http_admin_registry(&c);
        break;
    case HTTP_OP_RELOAD:
        result = http_admin_reload(&c, req, dir_buf, dir_size, dir);
        break;
    case HTTP_OP_HEALTHZ:
        http_admin_healthz(&c);
        break;
    case HTTP_OP_METRICS:
        http_admin_metrics(&c);
        break;
    default:
        break;
    }
    return result;
}
