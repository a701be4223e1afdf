/*
 * The daemon's metrics and their Prometheus text exposition (see metrics.h). The histogram's
 * buckets are fixed powers of about 3 from 10 us to 1 s: a lookup takes microseconds, a search
 * or a render of a long text tens of them, and anything near a second is a problem to see.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>

#include "smtpstatus.h"

static const uint64_t bucket_ns[METRICS_BUCKETS] = {10000,    25000,    50000,     100000,
                                                    250000,   500000,   1000000,   2500000,
                                                    10000000, 50000000, 250000000, 1000000000};
static const char *const bucket_le[METRICS_BUCKETS] = {"1e-05",   "2.5e-05", "5e-05", "0.0001",
                                                       "0.00025", "0.0005",  "0.001", "0.0025",
                                                       "0.01",    "0.05",    "0.25",  "1"};

static const char *const http_op_names[HTTP_OP_COUNT] = {
    "lookup",        "list",   "basic",   "render",  "classify",
    "registry_info", "reload", "healthz", "metrics", "bounce", "unknown"};

static const int status_values[METRICS_STATUS_COUNT] = {
#define METRICS_STATUS_VALUE(n) n,
    METRICS_STATUSES(METRICS_STATUS_VALUE)
#undef METRICS_STATUS_VALUE
};

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= b->cap - b->len) {
        if (buf_reserve(b, (size_t)n + 1) != 0)
            return -1;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

void
metrics_observe(struct latency_histogram *h, uint64_t ns)
{
    unsigned i = 0;
    while (i < METRICS_BUCKETS && ns > bucket_ns[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum_ns += ns;
}

void
metrics_count_status(struct metrics *m, int status)
{
    for (unsigned i = 0; i < METRICS_STATUS_COUNT; i++) {
        if (status_values[i] == status) {
            m->http_responses[i]++;
            return;
        }
    }
}

const char *
metrics_http_op_name(enum http_op op)
{
    return (unsigned)op < HTTP_OP_COUNT ? http_op_names[op] : "unknown";
}

static void
histogram(struct buf *out, const char *surface, const struct latency_histogram *h)
{
    uint64_t cumulative = 0;
    for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
        cumulative += h->buckets[i];
        buf_printf(out,
                   "smtpstatusd_request_duration_seconds_bucket{surface=\"%s\",le=\"%s\"} %" PRIu64
                   "\n",
                   surface, bucket_le[i], cumulative);
    }
    buf_printf(out,
               "smtpstatusd_request_duration_seconds_bucket{surface=\"%s\",le=\"+Inf\"} %" PRIu64
               "\n"
               "smtpstatusd_request_duration_seconds_sum{surface=\"%s\"} %.9f\n"
               "smtpstatusd_request_duration_seconds_count{surface=\"%s\"} %" PRIu64 "\n",
               surface, h->count, surface, (double)h->sum_ns / 1e9, surface, h->count);
}

int
metrics_render(const struct metrics *m, const struct service *svc, uint64_t now, struct buf *out)
{
    const struct stats *st = &svc->stats;
    size_t start = out->len;
    buf_puts(out, "# HELP smtpstatusd_requests_total Requests answered, by surface and operation.\n"
                  "# TYPE smtpstatusd_requests_total counter\n");
    for (int i = 0; i < OP_COUNT; i++)
        buf_printf(out,
                   "smtpstatusd_requests_total{surface=\"socket\",operation=\"%s\"} %" PRIu64 "\n",
                   service_op_name((enum service_op)i), st->requests[i]);
    for (int i = 0; i < HTTP_OP_COUNT; i++)
        buf_printf(out,
                   "smtpstatusd_requests_total{surface=\"http\",operation=\"%s\"} %" PRIu64 "\n",
                   http_op_names[i], m->http_requests[i]);

    buf_puts(out, "# HELP smtpstatusd_errors_total Error answers of the socket API, by code.\n"
                  "# TYPE smtpstatusd_errors_total counter\n");
    for (int i = 0; i < SERVICE_ERROR_CODES; i++)
        buf_printf(out, "smtpstatusd_errors_total{surface=\"socket\",code=\"%s\"} %" PRIu64 "\n",
                   service_error_name(i), st->errors[i]);
    buf_puts(out, "# HELP smtpstatusd_http_responses_total Answers of the HTTP port, by status.\n"
                  "# TYPE smtpstatusd_http_responses_total counter\n");
    for (int i = 0; i < METRICS_STATUS_COUNT; i++)
        buf_printf(out, "smtpstatusd_http_responses_total{status=\"%d\"} %" PRIu64 "\n",
                   status_values[i], m->http_responses[i]);

    buf_printf(out,
               "# HELP smtpstatusd_reloads_total Reloads finished, by result.\n"
               "# TYPE smtpstatusd_reloads_total counter\n"
               "smtpstatusd_reloads_total{result=\"ok\"} %" PRIu64 "\n"
               "smtpstatusd_reloads_total{result=\"failed\"} %" PRIu64 "\n",
               st->reloads_ok, st->reloads_failed);
    /* Only after a reload was tried: a 0 would read as a failure, or as 1970. */
    const struct reload_attempt *last = &svc->last_reload;
    buf_puts(out, "# HELP smtpstatusd_last_reload_timestamp_seconds When the last reload tried "
                  "since the daemon started ended.\n"
                  "# TYPE smtpstatusd_last_reload_timestamp_seconds gauge\n");
    if (last->known)
        buf_printf(out, "smtpstatusd_last_reload_timestamp_seconds %" PRIu64 "\n", last->at);
    buf_puts(out, "# HELP smtpstatusd_last_reload_success Whether the last reload tried worked "
                  "(1) or changed nothing (0).\n"
                  "# TYPE smtpstatusd_last_reload_success gauge\n");
    if (last->known)
        buf_printf(out, "smtpstatusd_last_reload_success %d\n", last->ok ? 1 : 0);
    buf_printf(out,
               "# HELP smtpstatusd_connections_open Client connections open now.\n"
               "# TYPE smtpstatusd_connections_open gauge\n"
               "smtpstatusd_connections_open{surface=\"socket\"} %" PRIu64 "\n"
               "smtpstatusd_connections_open{surface=\"http\"} %" PRIu64 "\n"
               "# HELP smtpstatusd_connections_total Client connections accepted.\n"
               "# TYPE smtpstatusd_connections_total counter\n"
               "smtpstatusd_connections_total{surface=\"socket\"} %" PRIu64 "\n"
               "smtpstatusd_connections_total{surface=\"http\"} %" PRIu64 "\n"
               "# HELP smtpstatusd_http_connections_refused_total HTTP connections refused at the "
               "connection cap.\n"
               "# TYPE smtpstatusd_http_connections_refused_total counter\n"
               "smtpstatusd_http_connections_refused_total %" PRIu64 "\n"
               "# HELP smtpstatusd_http_timeouts_total HTTP connections closed by the header or "
               "idle timeout.\n"
               "# TYPE smtpstatusd_http_timeouts_total counter\n"
               "smtpstatusd_http_timeouts_total %" PRIu64 "\n",
               st->connections_open, m->http_connections_open, st->connections_total,
               m->http_connections_total, m->http_connections_refused, m->http_timeouts);

    smtpstatus_image_summary sum = {0};
    if (svc->current != NULL && svc->current->img != NULL)
        smtpstatus_image_summarize(svc->current->img, &sum);
    buf_printf(out,
               "# HELP smtpstatusd_registry_generation Generation of the registry served.\n"
               "# TYPE smtpstatusd_registry_generation gauge\n"
               "smtpstatusd_registry_generation %" PRIu64 "\n"
               "# HELP smtpstatusd_registry_codes Registered enhanced codes served.\n"
               "# TYPE smtpstatusd_registry_codes gauge\n"
               "smtpstatusd_registry_codes %" PRIu32 "\n"
               "# HELP smtpstatusd_registry_loaded_timestamp_seconds When the registry served "
               "was loaded.\n"
               "# TYPE smtpstatusd_registry_loaded_timestamp_seconds gauge\n"
               "smtpstatusd_registry_loaded_timestamp_seconds %" PRIu64 "\n"
               "# HELP smtpstatusd_uptime_seconds Seconds since the daemon started.\n"
               "# TYPE smtpstatusd_uptime_seconds gauge\n"
               "smtpstatusd_uptime_seconds %" PRIu64 "\n",
               svc->current != NULL ? svc->current->generation : 0, sum.code_count,
               svc->current != NULL ? svc->current->loaded_at : 0,
               now > st->started_at ? now - st->started_at : 0);

    const struct conn_limits *l = m->limits;
    if (l != NULL)
        buf_printf(out,
                   "# HELP smtpstatusd_output_buffered_bytes Answers held because their clients "
                   "have not read them, both surfaces together.\n"
                   "# TYPE smtpstatusd_output_buffered_bytes gauge\n"
                   "smtpstatusd_output_buffered_bytes %zu\n"
                   "# HELP smtpstatusd_output_budget_bytes The budget for them "
                   "(--max-output-buffer); connections holding none are served from a reserve "
                   "above it.\n"
                   "# TYPE smtpstatusd_output_budget_bytes gauge\n"
                   "smtpstatusd_output_budget_bytes %zu\n"
                   "# HELP smtpstatusd_output_reserve_bytes The reserve above the budget.\n"
                   "# TYPE smtpstatusd_output_reserve_bytes gauge\n"
                   "smtpstatusd_output_reserve_bytes %zu\n"
                   "# HELP smtpstatusd_output_paused_connections Connections holding unread "
                   "answers that wait, reading nothing, because the budget is spent.\n"
                   "# TYPE smtpstatusd_output_paused_connections gauge\n"
                   "smtpstatusd_output_paused_connections %u\n"
                   "# HELP smtpstatusd_output_pauses_total Times a connection was paused so.\n"
                   "# TYPE smtpstatusd_output_pauses_total counter\n"
                   "smtpstatusd_output_pauses_total %" PRIu64 "\n"
                   "# HELP smtpstatusd_output_shed_total Connections closed because they held the "
                   "most unread answers when the budget and its reserve were spent.\n"
                   "# TYPE smtpstatusd_output_shed_total counter\n"
                   "smtpstatusd_output_shed_total %" PRIu64 "\n",
                   l->output_used, l->output_limit, l->output_reserve, l->waiting, l->output_pauses,
                   l->output_shed);

    buf_puts(out, "# HELP smtpstatusd_request_duration_seconds Time to answer one request, from "
                  "its last byte to its answer being queued.\n"
                  "# TYPE smtpstatusd_request_duration_seconds histogram\n");
    histogram(out, "socket", &m->latency_socket);
    histogram(out, "http", &m->latency_http);
    /* A failed append leaves a cut exposition: drop it and say so. */
    if (out->failed) {
        out->len = start;
        out->failed = 0;
        return -1;
    }
    return 0;
}
