/*
 * The HTTP port's endpoints about the daemon itself rather than about SMTP: the registry and
 * rules being served, the health check, the Prometheus metrics, and POST /v1/reload. The routing
 * (http_api.c) has checked the method, the query's parameters and, except for /metrics, that a
 * registry is loaded. Each answers into c->body and c->resp with http_respond.h; nothing here
 * blocks, and what each allocates is freed before it returns.
 */
#ifndef SMTPSTATUSD_HTTP_ADMIN_H
#define SMTPSTATUSD_HTTP_ADMIN_H

#include <stddef.h>

#include "diag.h"
#include "http_api.h"
#include "http_respond.h"

/* GET /v1/registry: the registry served, in the shape of the socket API's RegistryInfo. */
void http_admin_registry(struct http_ctx *c);

/* GET /healthz: "ok" and the generation served. */
void http_admin_healthz(struct http_ctx *c);

/* GET /metrics: the counters of both surfaces, as Prometheus text. */
void http_admin_metrics(struct http_ctx *c);

/*
 * POST /v1/reload [{"directory": DIR}]. Returns HTTP_API_RELOAD when the peer may reload
 * (http_auth.h), the body is well formed and no reload is running: *dir is then the directory
 * asked for, copied NUL-ended into dir_buf[0..dir_size), or NULL for the configured one, and
 * nothing is answered yet. Otherwise answers the refusal and returns HTTP_API_DONE.
 */
enum http_api_result http_admin_reload(struct http_ctx *c, const struct http_request *req,
                                       char *dir_buf, size_t dir_size, const char **dir);

/* The answer to a reload that finished (see http_api_reload_response(), which calls this). */
void http_admin_reload_response(struct http_api *api, int ok, int start_error, const struct diag *d,
                                int pretty, struct buf *body, struct http_response *resp);

#endif
