/*
 * The JSON debug port's endpoints: one parsed HTTP request in, a status, a few headers and a
 * JSON (or Prometheus text) body out, answered from the registry being served with the same
 * library calls as the socket API and the same JSON builders as the CLI (answer_json.h). It
 * knows nothing of sockets, llhttp or the event loop, so it can be unit-tested and fuzzed
 * directly; http_server.c does the transport. This header is the whole module's face: the
 * routing is http_api.c, the endpoints http_lookup.c and http_admin.c, the lookup answers'
 * cache http_cache.c, who may reload http_auth.c.
 *
 * Endpoints: GET /v1/codes/{code}, GET /v1/codes?basic=&q=&subject=, GET /v1/basic/{nnn},
 * GET|POST /v1/render, POST /v1/classify, POST /v1/bounce, GET /v1/registry, POST /v1/reload
 * (only with --http-admin, only for a peer the kernel identifies as an administrator, and never
 * for what a browser can send), GET /healthz, GET /metrics. HEAD is answered wherever GET is.
 * ?pretty=1 indents the JSON. Errors are {"error": {"status": N, "code": "not_found",
 * "message": "..."}}.
 */
#ifndef SMTPSTATUSD_HTTP_API_H
#define SMTPSTATUSD_HTTP_API_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "diag.h"
#include "metrics.h"
#include "service.h"

#define HTTP_BODY_LIMIT   65536u /* bytes of a request body: the classify limit */
#define HTTP_URI_LIMIT    8192u  /* bytes of a request target */
#define HTTP_HEADER_LIMIT 16384u /* bytes of a request's header fields and values */

enum http_method {
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_OTHER,
    HTTP_METHOD_CONNECT /* answered by the transport: 405, and the connection closes */
};

/* A request as the transport parsed it. Every pointer is borrowed for the call. */
struct http_request {
    enum http_method method;
    const char *target; /* origin-form: path, then optionally '?' and the query; not NUL-ended */
    size_t target_len;
    const char *body;
    size_t body_len;
    int local_peer; /* may reload: an administrator by the kernel's word (SO_PEERCRED on the
                       Unix socket, the socket diagnostics of a loopback TCP client) */
    int unix_peer;  /* the peer came over the Unix socket */
    long peer_uid;  /* its uid as the kernel gave it; -1: unknown */
    int http10;     /* HTTP/1.0 */
    /* Header values, lower case; NULL when absent (host also when repeated or too long). */
    const char *host;
    size_t host_len;
    const char *content_type;
    size_t content_type_len;
    int has_origin; /* an Origin header came: a browser sent it */
};

/* The answer's framing; the body is in the buffer the caller passed. */
struct http_response {
    int status;
    const char *content_type; /* static */
    const char *allow;        /* the Allow header of a 405, static, or NULL */
    enum http_op op;          /* what was asked, as counted */
};

struct http_cache;

/* The endpoints' shared state; the daemon owns it, and every pointer must outlive it. */
struct http_api {
    struct service *svc;      /* the registry served and the socket API's counters */
    struct metrics *metrics;  /* counters of both surfaces */
    int admin;                /* POST /v1/reload is enabled (--http-admin) */
    struct http_cache *cache; /* owned: lookup answers of the registry served (http_cache.h),
                                 made on first use; http_api_free() frees it */
};

/* Frees what `api` owns (the answer cache), not the api itself. */
void http_api_free(struct http_api *api);

enum http_api_result {
    HTTP_API_DONE,  /* *resp and the body are complete */
    HTTP_API_RELOAD /* an allowed reload: the caller starts it and, when it finishes, calls
                       http_api_reload_response(); *resp holds what to count it as */
};

/*
 * Answers `req`: appends the body to `body` (which the caller resets) and fills *resp. For
 * HTTP_API_RELOAD, *dir gets the directory asked for (a pointer into req->body, NUL-ended in
 * `dir_buf` of dir_size bytes) or NULL for the configured one. Counts the request. Never
 * blocks; allocates only the JSON it builds, freed before it returns.
 */
enum http_api_result http_api_handle(struct http_api *api, const struct http_request *req,
                                     struct buf *body, struct http_response *resp, char *dir_buf,
                                     size_t dir_size, const char **dir);

/* The answer to a reload that finished (ok) or failed with the errors in `d`, or that could
 * not be started (`start_error`: a negative errno, -EBUSY or -EINVAL for no directory). */
void http_api_reload_response(struct http_api *api, int ok, int start_error, const struct diag *d,
                              int pretty, struct buf *body, struct http_response *resp);

/* An error answer with `status` (400, 404, 408, 413, 414, 431, 500, 503 ...), for the
 * transport's own refusals. */
void http_api_error(struct http_api *api, int status, const char *message, struct buf *body,
                    struct http_response *resp);

/* The reason phrase of a status ("Not Found"), static. */
const char *http_api_reason(int status);

/* Whether the request target asks for ?pretty=1 (the transport remembers it for a reload). */
int http_api_wants_pretty(const char *target, size_t len);

#endif
