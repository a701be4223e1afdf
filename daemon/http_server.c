/*
 * The JSON debug port's transport (see http_server.h).
 *
 * Each connection has a request reader (http_reader.c, llhttp) fed straight from the read
 * buffer, which all connections share: everything a request needs past its read (target, body)
 * is copied into the reader, within the limits. A whole request is answered in the reader's
 * on_request hook; its answer is appended to the connection's output, and all the answers of one
 * read go out in one write, with conn_write() (conn.h, which also keeps the connections of both
 * listeners, their cap, their timers, closing and draining). While conn.h's phase is open, a
 * connection is in one request state (enum conn_state: idle, in a request, waiting on its
 * reload, past its last answer), and reading is held by three things besides: the client's
 * half-close, a client that leaves its answers unread (base.throttled), and the daemon-wide
 * budget of unread answers (conn_limits.h: a connection holding none is answered from the
 * reserve, one answer per write; one holding the most may be closed to make room there). Bytes
 * read behind a request that paused the parser wait in `pending`. One timer per connection
 * enforces both timeouts and the drain deadline: it is never touched per request, only re-armed
 * when it fires.
 */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "conn_limits.h"
#include "http_auth.h"
#include "http_reader.h"
#include "log.h"

#define HTTP_READ_SIZE    65536u
#define WRITE_QUEUE_LIMIT (1u << 20)   /* bytes of answers a client may leave unread */
#define OUT_FLUSH_SIZE    (256u << 10) /* write a long pipeline's answers in pieces of this */
#define OUT_KEEP_SIZE     (16u << 10)  /* an idle connection keeps an output buffer this big */
_Static_assert(OUT_FLUSH_SIZE <= CONN_LIMITS_RESERVE_MIN, "conn_limits.h's bound counts on it");

/*
 * What an open connection is doing (conn.h's phase CONN_PHASE_OPEN), which decides whether it
 * reads, whether its bytes are parsed, and which of the timeouts runs. The transitions:
 *
 *   accept                          -> IDLE (or LAST, refused with 503 over the connection cap)
 *   IDLE    -- a request's first byte        -> REQUEST
 *   REQUEST -- whole, answered               -> IDLE
 *           -- whole, an allowed reload      -> RELOAD
 *           -- whole, answered with Connection: close, or refused (400, 408, 413, 414, 431)
 *                                            -> LAST
 *   RELOAD  -- http_server_reload_done()     -> IDLE, or LAST when the reload's request said
 *                                               Connection: close
 *   LAST, or IDLE/REQUEST once the client has half-closed and nothing is left to answer
 *                                            -> phase DRAINING (conn_close_after_writes(): a
 *                                               shutdown after the queued answers, reading
 *                                               nothing, with the drain deadline)
 *   DRAINING -- shutdown done, or the drain deadline
 *                                            -> phase CLOSED
 *   any other -- a read or write error, out of memory, the idle timeout, shed by the output
 *                budget, the server stopping -> phase CLOSED (conn_close())
 *
 * The state is left as it was when the phase moves on: it means nothing past the open phase.
 */
enum conn_state {
    CONN_IDLE,    /* between requests, reading: the idle timeout runs */
    CONN_REQUEST, /* a request has begun and is not whole: the header timeout runs */
    CONN_RELOAD,  /* its POST /v1/reload runs: nothing is read or parsed until it is answered,
                     and no timeout runs (the wait is the daemon's, not the client's) */
    CONN_LAST,    /* an answer said Connection: close: nothing more is parsed */
};

/* What the Connection header of an answer says, as the request it answers asked. Not part of
 * the state: the answer to a reload is written when the reload ends, with its request's. */
enum conn_framing {
    FRAMING_KEEP,    /* HTTP/1.1 keep-alive: nothing to say */
    FRAMING_KEEP_10, /* an HTTP/1.0 client asked to keep alive: "Connection: keep-alive" */
    FRAMING_CLOSE,   /* "Connection: close": the last answer */
};

struct http_conn {
    struct conn base; /* the transport: conn.h (its throttled and budget.waiting hold reading) */
    struct http_reader reader;
    enum conn_state state;
    enum conn_framing framing;
    /* A hold on reading that comes in any of the reading states, set by an event of its own (as
     * base.throttled and base.budget.waiting are): not a state. */
    int eof;                  /* the client half-closed: no more bytes come, but what it asked
                                 for (and bytes kept behind a pause) is answered before the
                                 connection drains */
    uint64_t message_started; /* REQUEST: loop time of the request's first byte */
    int reload_pretty;        /* RELOAD: the answer is indented */
    /* output */
    struct buf out; /* owned: answers not yet handed to the socket */
    char *pending;  /* owned: bytes after a request that paused the parser */
    size_t pending_len;
};

static struct http_conn *
conn_of(struct conn *base)
{
    return CONN_OWNER(base, struct http_conn, base);
}

static struct http_server *
server_of(const struct http_conn *c)
{
    return CONN_OWNER(c->base.set, struct http_server, conns);
}

static void feed(struct http_conn *c, const char *data, size_t len);
static int resume_input(struct http_conn *c);
static void after_input(struct http_conn *c);

/* ---- addresses ---------------------------------------------------------------------------- */

int
http_server_parse_address(const char *spec, struct sockaddr_storage *out, int *loopback, char *err,
                          size_t err_size)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec) {
        snprintf(err, err_size, "\"%s\" is not ADDR:PORT (e.g. 127.0.0.1:3463)", spec);
        return -1;
    }
    size_t hlen = (size_t)(colon - spec);
    const char *h = spec;
    if (spec[0] == '[') {
        if (hlen < 3 || spec[hlen - 1] != ']') {
            snprintf(err, err_size, "\"%s\": an IPv6 address goes in brackets, [::1]:3463", spec);
            return -1;
        }
        h = spec + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        snprintf(err, err_size, "\"%s\": the address is too long", spec);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port > 65535) {
        snprintf(err, err_size, "\"%s\": the port must be a number from 0 to 65535", spec);
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) != 0) {
        snprintf(err, err_size, "\"%s\": \"%s\" is not an IPv4 or IPv6 address", spec, host);
        return -1;
    }
    *loopback = http_auth_is_loopback((struct sockaddr *)out);
    return 0;
}

static void
format_address(const struct sockaddr *sa, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(in6, ip, sizeof ip);
        snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uv_ip4_name(in, ip, sizeof ip);
        snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Reads, or stops reading, as the state and the holds say. */
static void
update_reading(struct http_conn *c)
{
    conn_read(&c->base,
              !(c->state == CONN_RELOAD || c->base.throttled || c->base.budget.waiting || c->eof));
}

/* Writes the queued answers (conn_write()). Returns 0, or -1 after closing. */
static int
flush(struct http_conn *c)
{
    if (c->out.len == 0)
        return 0;
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (conn_write(&c->base, &b, 1) != 0)
        return -1;
    c->out.len = 0;
    /* A burst's big buffer is not kept for a connection that may stay quiet: a thousand idle
     * connections must not hold what the output budget has given back. */
    if (c->out.cap > OUT_KEEP_SIZE)
        buf_free(&c->out);
    return 0;
}

/* The Date header's value, formatted once a second. */
static const char *
http_date(void)
{
    static char date[40];
    static time_t date_at;
    time_t now = time(NULL);
    if (now != date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        date_at = now;
    }
    return date;
}

static char *
put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *
put_uint(char *p, size_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* Queues one answer: the status line and headers, then body[0..len) unless `head`. */
static void
put_response(struct http_conn *c, const struct http_response *r, const char *body, size_t len,
             int head)
{
    /* Every header is bounded: the longest reason, type, Allow and Date fit in 512 bytes. */
    if (buf_reserve(&c->out, 512 + (head ? 0 : len)) != 0) {
        log_error("http: out of memory answering a client; closing its connection");
        conn_close(&c->base);
        return;
    }
    char *p = c->out.data + c->out.len;
    p = put_str(p, "HTTP/1.1 ");
    p = put_uint(p, (size_t)r->status);
    *p++ = ' ';
    p = put_str(p, http_api_reason(r->status));
    p = put_str(p, "\r\nServer: smtpstatusd\r\nDate: ");
    p = put_str(p, http_date());
    p = put_str(p, "\r\nContent-Type: ");
    p = put_str(p, r->content_type);
    p = put_str(p, "\r\nContent-Length: ");
    p = put_uint(p, len);
    if (r->allow != NULL) {
        p = put_str(p, "\r\nAllow: ");
        p = put_str(p, r->allow);
    }
    if (c->framing == FRAMING_CLOSE)
        p = put_str(p, "\r\nConnection: close");
    else if (c->framing == FRAMING_KEEP_10)
        p = put_str(p, "\r\nConnection: keep-alive"); /* 1.0 closes unless told otherwise */
    p = put_str(p, "\r\n\r\n");
    if (!head && len > 0) {
        memcpy(p, body, len);
        p += len;
    }
    c->out.len = (size_t)(p - c->out.data);
    metrics_count_status(server_of(c)->api.metrics, r->status);
    if (c->out.len >= OUT_FLUSH_SIZE)
        flush(c);
}

/* Refuses the request being parsed with `status`, and closes once that is written: after a
 * malformed or oversized request the rest of the stream cannot be trusted. */
static void
refuse(struct http_conn *c, int status, const char *message)
{
    struct http_server *srv = server_of(c);
    struct http_response r;
    buf_reset(&srv->body);
    srv->api.metrics->http_requests[HTTP_OP_UNKNOWN]++;
    http_api_error(&srv->api, status, message, &srv->body, &r);
    c->framing = FRAMING_CLOSE;
    put_response(c, &r, srv->body.data, srv->body.len, 0);
    if (c->base.phase != CONN_PHASE_CLOSED)
        c->state = CONN_LAST;
}

/* ---- requests ----------------------------------------------------------------------------- */

static void
on_begin(void *arg)
{
    struct http_conn *c = arg;
    if (c->state == CONN_IDLE) {
        c->state = CONN_REQUEST;
        c->message_started = uv_now(server_of(c)->loop);
    }
}

static int
on_continue(void *arg)
{
    struct http_conn *c = arg;
    return buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* A whole request: answer it now, or pause reading for a reload (or for good, after an answer
 * that closes the connection). */
static int
on_request(void *arg, const struct http_request *req, int keep_alive)
{
    struct http_conn *c = arg;
    struct http_server *srv = server_of(c);
    if (c->base.phase != CONN_PHASE_OPEN)
        return 1; /* a failed write closed it during this read: answer nothing more */
    uint64_t t0 = uv_hrtime();
    c->state = CONN_IDLE;
    conn_touch(&c->base);
    c->framing = !keep_alive ? FRAMING_CLOSE : req->http10 ? FRAMING_KEEP_10 : FRAMING_KEEP;
    struct http_response r;
    char dir_buf[4096];
    const char *dir = NULL;
    buf_reset(&srv->body);
    if (req->method == HTTP_METHOD_CONNECT) {
        /* After a CONNECT the client speaks the tunnel's protocol, not HTTP: answer and close. */
        srv->api.metrics->http_requests[HTTP_OP_UNKNOWN]++;
        http_api_error(&srv->api, 405, "CONNECT is not served: this is not a proxy", &srv->body,
                       &r);
        r.allow = "GET, HEAD, POST";
        c->framing = FRAMING_CLOSE;
    } else if (req->target_len == 0 || req->target[0] != '/') {
        /* Only origin-form: "*" and absolute-form name no resource here. */
        srv->api.metrics->http_requests[HTTP_OP_UNKNOWN]++;
        http_api_error(&srv->api, 400, "the request target must be a path (/v1/...)", &srv->body,
                       &r);
    } else if (http_api_handle(&srv->api, req, &srv->body, &r, dir_buf, sizeof dir_buf, &dir) ==
               HTTP_API_RELOAD) {
        c->reload_pretty = http_api_wants_pretty(req->target, req->target_len);
        srv->waiter = c;
        c->state = CONN_RELOAD;
        int rc = srv->reload(srv->reload_arg, c, dir, (uid_t)c->reader.peer_uid);
        if (rc == 0)
            return 1; /* answered by http_server_reload_done() */
        srv->waiter = NULL;
        c->state = CONN_IDLE;
        buf_reset(&srv->body);
        http_api_reload_response(&srv->api, 0, rc, NULL, c->reload_pretty, &srv->body, &r);
    }
    put_response(c, &r, srv->body.data, srv->body.len, req->method == HTTP_METHOD_HEAD);
    metrics_observe(&srv->api.metrics->latency_http, uv_hrtime() - t0);
    /* Connection: close: nothing after this request is read. */
    if (c->framing == FRAMING_CLOSE) {
        if (c->base.phase != CONN_PHASE_CLOSED)
            c->state = CONN_LAST;
        return 1;
    }
    /* The throttle in conn_write() stops only the next read: without this, one 64 KiB read of
     * pipelined requests for big answers would all be answered and held. */
    if (c->out.len + conn_write_queue(&c->base) > WRITE_QUEUE_LIMIT) {
        c->base.throttled = 1;
        return 1;
    }
    /* From the reserve, answer by answer: one the socket does not take makes c wait. */
    if (conn_budget_spent(&c->base) && flush(c) != 0)
        return 1;
    if (conn_must_wait(&c->base))
        return 1;
    return 0;
}

static const struct http_reader_hooks hooks = {on_begin, on_continue, on_request};

/* Parses data[0..len) and answers every whole request in it. */
static void
feed(struct http_conn *c, const char *data, size_t len)
{
    if (c->base.phase != CONN_PHASE_OPEN || (c->state != CONN_IDLE && c->state != CONN_REQUEST))
        return;
    size_t consumed;
    int status;
    char msg[256];
    switch (http_reader_feed(&c->reader, data, len, &consumed, &status, msg, sizeof msg)) {
    case HTTP_READ_OK:
        return;
    case HTTP_READ_PAUSED:
        if (c->framing == FRAMING_CLOSE || consumed >= len)
            return; /* Connection: close, or nothing after the pausing request */
        /* Keep what follows until the reload is answered or the client reads its answers. */
        c->pending = malloc(len - consumed);
        if (c->pending == NULL) {
            conn_close(&c->base);
            return;
        }
        memcpy(c->pending, data + consumed, len - consumed);
        c->pending_len = len - consumed;
        return;
    case HTTP_READ_ERROR:
        if (status == 400)
            log_info("http: %s; answering 400 and closing the connection", msg);
        refuse(c, status, msg);
        return;
    }
}

/* ---- reading ------------------------------------------------------------------------------ */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    struct http_conn *c = conn_of(h->data);
    /* One buffer for every connection: a read is parsed, and what must stay copied, before the
     * loop reads anything else. */
    *out = uv_buf_init(server_of(c)->read_buf, HTTP_READ_SIZE);
}

/* Feeds the bytes kept behind a pause, once nothing holds the connection paused. Returns 1
 * when it fed something. */
static int
resume_input(struct http_conn *c)
{
    if (c->base.phase != CONN_PHASE_OPEN || c->state == CONN_RELOAD || c->base.throttled ||
        c->base.budget.waiting)
        return 0;
    http_reader_resume(&c->reader);
    char *pending = c->pending;
    size_t n = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    if (pending == NULL)
        return 0;
    feed(c, pending, n); /* may pause again and keep a new `pending`; nothing in LAST */
    free(pending);
    return 1;
}

/* After requests were answered: writes the answers, then reads on, pauses, or closes. */
static void
after_input(struct http_conn *c)
{
    for (;;) {
        if (flush(c) != 0)
            return;
        /* The socket took everything at once, so no on_write will come to lift the throttle. */
        if (!c->base.throttled || c->base.phase != CONN_PHASE_OPEN ||
            conn_write_queue(&c->base) >= WRITE_QUEUE_LIMIT / 2)
            break;
        c->base.throttled = 0;
        if (!resume_input(c))
            break;
    }
    if (c->base.phase != CONN_PHASE_OPEN)
        return;
    if (c->state == CONN_RELOAD) {
        /* Nothing more is read until the reload is answered: the bytes a read would bring
         * belong after those kept in `pending`, and the parser is paused. */
        update_reading(c);
        return;
    }
    if (c->state == CONN_LAST ||
        (c->eof && c->pending == NULL && !c->base.throttled && !c->base.budget.waiting)) {
        conn_close_after_writes(&c->base);
        return;
    }
    update_reading(c);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = conn_of(s->data);
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        /* A half-close ends the requests, not the answers: those already asked for (and any
         * pipelined behind a pause) still go out, within the drain deadline. */
        c->eof = 1;
        conn_read(&c->base, 0);
        after_input(c);
        return;
    }
    if (nread < 0) {
        conn_close(&c->base);
        return;
    }
    if (conn_must_wait(&c->base)) {
        /* Kept unparsed: the requests are answered when the budget has room. */
        char *kept = realloc(c->pending, c->pending_len + (size_t)nread);
        if (kept == NULL) {
            conn_close(&c->base);
            return;
        }
        memcpy(kept + c->pending_len, b->base, (size_t)nread);
        c->pending = kept;
        c->pending_len += (size_t)nread;
        update_reading(c);
        return;
    }
    feed(c, b->base, (size_t)nread);
    after_input(c);
}

/* ---- the connection's life (conn.h) ------------------------------------------------------- */

/* Enforces both timeouts and the drain deadline: a request must arrive whole within
 * header_timeout_ms of its first byte, a connection with no request in progress closes after
 * idle_timeout_ms, and a draining one whose client reads nothing of what is queued for
 * idle_timeout_ms closes too. The timer is re-armed for at most a header timeout, so a request
 * that begins while it waits is checked in time. */
static void
on_timer(struct conn *base)
{
    struct http_conn *c = conn_of(base);
    struct http_server *srv = server_of(c);
    uint64_t now = uv_now(srv->loop), ht = srv->opt.header_timeout_ms,
             it = srv->opt.idle_timeout_ms;
    uint64_t next = ht < it ? ht : it;
    if (base->phase == CONN_PHASE_DRAINING) {
        uint64_t age = now - base->drain_started;
        if (age >= it) {
            log_info("http: a client left its answers unread for %u ms; closing its connection",
                     srv->opt.idle_timeout_ms);
            srv->api.metrics->http_timeouts++;
            conn_close(base);
            return;
        }
        next = it - age;
    } else if (c->state == CONN_RELOAD) {
        /* The daemon owes this client an answer: the clock is not the client's fault. */
    } else if (c->state == CONN_REQUEST) {
        uint64_t age = now - c->message_started;
        if (age >= ht) {
            log_info("http: a request took over %u ms to arrive; answering 408 and closing",
                     srv->opt.header_timeout_ms);
            srv->api.metrics->http_timeouts++;
            refuse(c, 408, "the request did not arrive in time");
            after_input(c);
            return;
        }
        next = ht - age;
    } else {
        uint64_t idle = now - base->last_active;
        if (idle >= it) {
            log_debug("http: connection idle for %u ms; closing it", srv->opt.idle_timeout_ms);
            srv->api.metrics->http_timeouts++;
            conn_close(base);
            return;
        }
        if (it - idle < next)
            next = it - idle;
    }
    conn_timer_start(base, next);
}

static void
on_accepted(struct conn *base)
{
    struct http_conn *c = conn_of(base);
    struct http_server *srv = server_of(c);
    int tcp = base->h.handle.type == UV_TCP;
    uv_os_fd_t fd;
    int have_fd = uv_fileno(&base->h.handle, &fd) == 0;
    if (tcp)
        uv_tcp_nodelay(&base->h.tcp, 1);
    struct http_auth_peer peer;
    http_auth_identify(srv->api.svc, srv->opt.admin, have_fd ? fd : -1, tcp, &peer);
    http_reader_init(&c->reader, &hooks, c, peer.admin);
    c->reader.unix_peer = peer.unix_peer;
    c->reader.peer_uid = peer.uid;
}

/* Answered 503 and closed once it is written (conn_close_after_writes() arms the drain
 * deadline: a refused client that never reads its 503 is closed by it). */
static void
on_refuse(struct conn *base)
{
    struct http_conn *c = conn_of(base);
    struct http_server *srv = server_of(c);
    srv->api.metrics->http_connections_refused++;
    log_warnx("http: connection cap of %u reached; refusing a client", srv->opt.max_connections);
    refuse(c, 503, "too many connections; try again later");
    after_input(c);
}

/* The output budget has room again, or the client has read its answers: go on where the
 * connection stopped. */
static void
on_resume(struct conn *base)
{
    struct http_conn *c = conn_of(base);
    resume_input(c);
    after_input(c);
}

static void
on_closing(struct conn *base)
{
    struct http_server *srv = server_of(conn_of(base));
    if (srv->waiter == conn_of(base))
        srv->waiter = NULL; /* the reload goes on; its answer has nobody to go to */
}

static void
on_release(struct conn *base)
{
    struct http_conn *c = conn_of(base);
    http_reader_free(&c->reader);
    buf_free(&c->out);
    free(c->pending);
}

static const struct conn_ops ops = {
    .alloc = on_alloc,
    .read = on_read,
    .accepted = on_accepted,
    .refuse = on_refuse,
    .timer = on_timer,
    .resume = on_resume,
    .closing = on_closing,
    .release = on_release,
};

/* ---- the server ----------------------------------------------------------------------------- */

int
http_server_start(struct http_server *srv, uv_loop_t *loop, struct service *svc,
                  struct metrics *metrics, const struct http_server_options *opt,
                  http_reload_fn reload, void *reload_arg, char *err, size_t err_size)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->opt = *opt;
    srv->api = (struct http_api){.svc = svc, .metrics = metrics, .admin = opt->admin};
    srv->reload = reload;
    srv->reload_arg = reload_arg;
    unsigned first = opt->header_timeout_ms < opt->idle_timeout_ms ? opt->header_timeout_ms
                                                                   : opt->idle_timeout_ms;
    struct conn_set_options co = {
        .ops = &ops,
        .conn_size = sizeof(struct http_conn),
        .conn_offset = offsetof(struct http_conn, base),
        .name = "http",
        .log_prefix = "http: ",
        .max_connections = opt->max_connections,
        .idle_timeout_ms = opt->idle_timeout_ms,
        .first_timer_ms = first,
        /* The shutdown ends only when the client reads what is queued: one that never reads
         * must not keep its slot and its answers for ever. */
        .drain_timer_ms = opt->idle_timeout_ms,
        .write_queue_limit = WRITE_QUEUE_LIMIT,
        .limits = opt->limits,
        .open_count = &metrics->http_connections_open,
        .total_count = &metrics->http_connections_total,
    };
    conn_set_init(&srv->conns, loop, &co);
    srv->read_buf = malloc(HTTP_READ_SIZE);
    if (srv->read_buf == NULL) {
        snprintf(err, err_size, "out of memory");
        return UV_ENOMEM;
    }
    int rc = 0;
    if (opt->tcp) {
        char want[sizeof srv->address];
        format_address((const struct sockaddr *)&opt->addr, want, sizeof want);
        rc = uv_tcp_init(loop, &srv->tcp);
        if (rc == 0) {
            srv->has_tcp = 1;
            rc = uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&opt->addr, 0);
            if (rc == 0)
                rc = conn_set_listen(&srv->conns, (uv_stream_t *)&srv->tcp, 511);
        }
        struct sockaddr_storage bound;
        int len = sizeof bound;
        if (rc == 0)
            rc = uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len);
        if (rc != 0)
            snprintf(err, err_size, "cannot listen on %s: %s", want, uv_strerror(rc));
        else
            format_address((struct sockaddr *)&bound, srv->address, sizeof srv->address);
    }
    if (rc == 0 && opt->unix_path != NULL) {
        rc = uv_pipe_init(loop, &srv->pipe, 0);
        if (rc == 0) {
            srv->has_pipe = 1;
            if (unlink(opt->unix_path) != 0 && errno != ENOENT)
                rc = uv_translate_sys_error(errno);
            else if ((rc = uv_pipe_bind(&srv->pipe, opt->unix_path)) == 0 &&
                     chmod(opt->unix_path, 0666) != 0)
                rc = uv_translate_sys_error(errno);
            if (rc == 0)
                rc = conn_set_listen(&srv->conns, (uv_stream_t *)&srv->pipe, 511);
        }
        if (rc != 0)
            snprintf(err, err_size, "cannot listen on %s: %s", opt->unix_path, uv_strerror(rc));
    }
    if (rc != 0) {
        if (srv->has_tcp)
            uv_close((uv_handle_t *)&srv->tcp, NULL);
        if (srv->has_pipe)
            uv_close((uv_handle_t *)&srv->pipe, NULL);
        free(srv->read_buf);
        srv->read_buf = NULL;
        srv->has_tcp = srv->has_pipe = 0;
        return rc;
    }
    srv->listening = 1;
    return 0;
}

void
http_server_stop(struct http_server *srv)
{
    if (!srv->listening)
        return;
    srv->listening = 0;
    conn_set_stop(&srv->conns);
    if (srv->has_tcp)
        uv_close((uv_handle_t *)&srv->tcp, NULL);
    if (srv->has_pipe) {
        uv_close((uv_handle_t *)&srv->pipe, NULL);
        unlink(srv->opt.unix_path);
    }
    free(srv->read_buf);
    srv->read_buf = NULL;
    buf_free(&srv->body);
    http_api_free(&srv->api);
}

void
http_server_reload_done(struct http_server *srv, struct http_conn *waiter, int ok,
                        const struct diag *d)
{
    if (waiter == NULL || waiter != srv->waiter || !srv->listening)
        return;
    srv->waiter = NULL;
    struct http_conn *c = waiter;
    struct http_response r;
    buf_reset(&srv->body);
    http_api_reload_response(&srv->api, ok, 0, d, c->reload_pretty, &srv->body, &r);
    put_response(c, &r, srv->body.data, srv->body.len, 0);
    if (c->base.phase != CONN_PHASE_OPEN)
        return;
    c->state = c->framing == FRAMING_CLOSE ? CONN_LAST : CONN_IDLE;
    /* The requests that came after the reload, in their order. */
    resume_input(c);
    after_input(c);
}
