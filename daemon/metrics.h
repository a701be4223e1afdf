/*
 * The daemon's metrics beyond the socket API's counters (service.h): what the HTTP port
 * answered, how long answers took on each surface, as a latency histogram, and the state of the
 * budget of unread answers (conn_limits.h). metrics_render() writes all of it, the socket
 * counters included, in the Prometheus text exposition format
 * (version 0.0.4) for GET /metrics. Everything here is touched on the loop thread only.
 */
#ifndef SMTPSTATUSD_METRICS_H
#define SMTPSTATUSD_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "conn_limits.h"
#include "service.h"

/* The HTTP port's operations, as counted: the socket API's names where they mean the same. */
enum http_op {
    HTTP_OP_LOOKUP, /* GET /v1/codes/{code} */
    HTTP_OP_LIST,   /* GET /v1/codes?... */
    HTTP_OP_BASIC,  /* GET /v1/basic/{nnn} */
    HTTP_OP_RENDER,
    HTTP_OP_CLASSIFY,
    HTTP_OP_REGISTRY_INFO,
    HTTP_OP_RELOAD,
    HTTP_OP_HEALTHZ,
    HTTP_OP_METRICS,
    HTTP_OP_BOUNCE, /* POST /v1/bounce */
    HTTP_OP_UNKNOWN, /* no such path, or a request that could not be parsed */
    HTTP_OP_COUNT
};

/* The statuses the HTTP port answers with, as counted. */
#define METRICS_STATUSES(X)                                                                        \
    X(200) X(400) X(403) X(404) X(405) X(408) X(409) X(413) X(414) X(422) X(431) X(500) X(503)
enum {
#define METRICS_STATUS_ENUM(n) METRICS_STATUS_##n,
    METRICS_STATUSES(METRICS_STATUS_ENUM)
#undef METRICS_STATUS_ENUM
        METRICS_STATUS_COUNT
};

/* Upper bounds of the latency buckets, in nanoseconds; the last bucket is +Inf. */
#define METRICS_BUCKETS 12

struct latency_histogram {
    uint64_t buckets[METRICS_BUCKETS + 1]; /* not cumulative; the last is +Inf */
    uint64_t count;
    uint64_t sum_ns;
};

struct metrics {
    uint64_t http_requests[HTTP_OP_COUNT];
    uint64_t http_responses[METRICS_STATUS_COUNT];
    uint64_t http_connections_open;
    uint64_t http_connections_total;
    uint64_t http_connections_refused; /* over the connection cap */
    uint64_t http_timeouts;            /* connections closed by a timeout */
    struct latency_histogram latency_socket;
    struct latency_histogram latency_http;
    const struct conn_limits *limits; /* the output budget, or NULL: not rendered */
};

/* Counts one observation of `ns` nanoseconds. */
void metrics_observe(struct latency_histogram *h, uint64_t ns);

/* Counts an HTTP answer with `status`. */
void metrics_count_status(struct metrics *m, int status);

/* The name of an HTTP operation ("lookup"), for logs and labels. */
const char *metrics_http_op_name(enum http_op op);

/* Appends the exposition of `m` and of svc's counters to `out`, at Unix time `now`. Returns 0,
 * or -1 on ENOMEM. */
int metrics_render(const struct metrics *m, const struct service *svc, uint64_t now,
                   struct buf *out);

#endif
