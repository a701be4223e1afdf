/*
 * The JSON debug port's transport (see http_server.h).
 *
 * Each connection has a request reader (http_reader.c, llhttp) fed straight from the read
 * buffer, which all connections share: everything a request needs past its read (target, body)
 * is copied into the reader, within the limits. A whole request is answered in the reader's
 * on_request hook; its answer is appended to the connection's output, and all the answers of one
 * read go out in one write. A connection is in one state (enum conn_state: idle, in a request,
 * waiting on its reload, past its last answer, draining, closed), and reading is held by three
 * things besides: the client's half-close, a client that leaves its answers unread, and the
 * daemon-wide budget of unread answers (conn_limits.h: a connection holding none is answered from
 * the reserve, one answer per write; one holding the most may be closed to make room there).
 * Bytes read behind a request that paused the parser wait in `pending`. One timer per
 * connection enforces both timeouts: it is never touched per request, only re-armed when it
 * fires.
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
 * What a connection is doing, which decides whether it reads, whether its bytes are parsed, and
 * which of the timeouts runs. The transitions:
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
 *                                            -> DRAINING (shutdown after the queued answers)
 *   DRAINING -- shutdown done, or the drain deadline
 *                                            -> CLOSED
 *   any other -- a read or write error, out of memory, the idle timeout, shed by the output
 *                budget, the server stopping -> CLOSED
 */
enum conn_state {
    CONN_IDLE,     /* between requests, reading: the idle timeout runs */
    CONN_REQUEST,  /* a request has begun and is not whole: the header timeout runs */
    CONN_RELOAD,   /* its POST /v1/reload runs: nothing is read or parsed until it is answered,
                      and no timeout runs (the wait is the daemon's, not the client's) */
    CONN_LAST,     /* an answer said Connection: close: nothing more is parsed */
    CONN_DRAINING, /* shut down once the queued answers are written, reading nothing: the drain
                      deadline runs */
    CONN_CLOSED,   /* uv_close()d: nothing more happens; freed when both handles have closed */
};

/* What the Connection header of an answer says, as the request it answers asked. Not part of
 * the state: the answer to a reload is written when the reload ends, with its request's. */
enum conn_framing {
    FRAMING_KEEP,    /* HTTP/1.1 keep-alive: nothing to say */
    FRAMING_KEEP_10, /* an HTTP/1.0 client asked to keep alive: "Connection: keep-alive" */
    FRAMING_CLOSE,   /* "Connection: close": the last answer */
};

struct http_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    struct http_server *srv;
    struct http_reader reader;
    enum conn_state state;
    enum conn_framing framing;
    /* Two holds on reading that come in any of the reading states, each set and lifted by an
     * event of its own (and conn_limits.h's budget.waiting is a third): states they are not. */
    int eof;          /* the client half-closed: no more bytes come, but what it asked for (and
                         bytes kept behind a pause) is answered before the connection drains */
    int throttled;    /* the client left WRITE_QUEUE_LIMIT of answers unread: nothing is read or
                         parsed until on_write() finds the socket's queue under half of it */
    int open_handles; /* the stream and the timer; freed when both have closed */
    struct conn_limits_conn budget; /* its part in the output budget */
    uint64_t message_started;       /* REQUEST: loop time of the request's first byte */
    uint64_t last_active;           /* loop time of the last whole request (or the accept) */
    uint64_t drain_started; /* DRAINING: loop time it began or last wrote: the deadline's start */
    int reload_pretty;      /* RELOAD: the answer is indented */
    /* output */
    struct buf out; /* owned: answers not yet handed to the socket */
    char *pending;  /* owned: bytes after a request that paused the parser */
    size_t pending_len;
    struct http_conn *prev, *next;
};

/* Whether the connection is still served: neither draining nor closed. */
static int
conn_open(const struct http_conn *c)
{
    return c->state != CONN_DRAINING && c->state != CONN_CLOSED;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void on_timer(uv_timer_t *t);
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

/* ---- closing ------------------------------------------------------------------------------ */

static void
on_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    http_reader_free(&c->reader);
    buf_free(&c->out);
    free(c->pending);
    free(c);
}

static void
conn_close(struct http_conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    c->state = CONN_CLOSED;
    struct http_server *srv = c->srv;
    if (srv->waiter == c)
        srv->waiter = NULL; /* the reload goes on; its answer has nobody to go to */
    conn_limits_forget(srv->opt.limits, &c->budget);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->api.metrics->http_connections_open--;
    uv_close(&c->h.handle, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    conn_limits_closed(srv->opt.limits);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
}

/* Closes once the answers already queued have gone out, reading nothing more meanwhile. */
static void
conn_close_after_writes(struct http_conn *c)
{
    if (!conn_open(c))
        return;
    c->state = CONN_DRAINING;
    uv_read_stop(&c->h.stream);
    /* The shutdown completes only when the client reads what is queued: one that never reads
     * must not keep its slot and its answers for ever. */
    c->drain_started = uv_now(c->srv->loop);
    uv_timer_start(&c->timer, on_timer, c->srv->opt.idle_timeout_ms, 0);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) != 0)
        conn_close(c);
}

/* ---- writing ------------------------------------------------------------------------------ */

struct write_req {
    uv_write_t req;
    char *data; /* owned: what the socket did not take at once */
    size_t len; /* charged to the output budget */
};

/* Reads, or stops reading, as the state and the holds say. libuv knows whether it reads: a
 * second uv_read_start() is UV_EALREADY, a second uv_read_stop() nothing. */
static void
update_reading(struct http_conn *c)
{
    if (!conn_open(c))
        return;
    if (c->state == CONN_RELOAD || c->throttled || c->budget.waiting || c->eof)
        uv_read_stop(&c->h.stream);
    else
        uv_read_start(&c->h.stream, on_alloc, on_read);
}

static void
on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct http_conn *c = req->data;
    struct conn_limits *limits = c->srv->opt.limits;
    size_t len = w->len;
    free(w->data);
    free(w);
    /* Before the release, which may resume others. */
    if (status < 0 && c->state != CONN_CLOSED) {
        log_debug("http: cannot write a client's answers: %s; closing its connection",
                  uv_strerror(status));
        conn_close(c);
    }
    conn_limits_release(limits, &c->budget, len);
    if (status < 0 || c->state == CONN_CLOSED)
        return;
    if (c->state == CONN_DRAINING) {
        /* The deadline is for a client that stopped reading, not for a slow one. */
        c->drain_started = uv_now(c->srv->loop);
        return;
    }
    if (c->throttled && uv_stream_get_write_queue_size(&c->h.stream) < WRITE_QUEUE_LIMIT / 2) {
        c->throttled = 0;
        resume_input(c);
        after_input(c);
    }
}

/* Writes the queued answers: at once when the socket takes them (the usual case: no
 * allocation), else through uv_write() with a copy of the rest. Returns 0, or -1 after closing. */
static int
flush(struct http_conn *c)
{
    if (c->out.len == 0 || c->state == CONN_CLOSED)
        return 0;
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    /* From the reserve, through uv_write() whatever the socket would take: one answer a turn of
     * the loop (see rpc_server.c's flush_answers()). */
    int n = conn_limits_spent(c->srv->opt.limits)
                ? UV_EAGAIN
                : uv_try_write(&c->h.stream, &b, 1); /* UV_EAGAIN while earlier writes are queued */
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return -1;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done < c->out.len) {
        struct write_req *w = malloc(sizeof *w);
        size_t rest = c->out.len - done;
        if (w == NULL || (w->data = malloc(rest)) == NULL) {
            free(w);
            log_error("http: out of memory answering a client; closing its connection");
            conn_close(c);
            return -1;
        }
        memcpy(w->data, c->out.data + done, rest);
        w->req.data = c;
        w->len = rest;
        b = uv_buf_init(w->data, (unsigned)rest);
        if (uv_write(&w->req, &c->h.stream, &b, 1, on_write) != 0) {
            free(w->data);
            free(w);
            conn_close(c);
            return -1;
        }
        conn_limits_charge(c->srv->opt.limits, &c->budget, rest);
        if (uv_stream_get_write_queue_size(&c->h.stream) > WRITE_QUEUE_LIMIT)
            c->throttled = 1;
    }
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
        conn_close(c);
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
    metrics_count_status(c->srv->api.metrics, r->status);
    if (c->out.len >= OUT_FLUSH_SIZE)
        flush(c);
}

/* Refuses the request being parsed with `status`, and closes once that is written: after a
 * malformed or oversized request the rest of the stream cannot be trusted. */
static void
refuse(struct http_conn *c, int status, const char *message)
{
    struct http_server *srv = c->srv;
    struct http_response r;
    buf_reset(&srv->body);
    srv->api.metrics->http_requests[HTTP_OP_UNKNOWN]++;
    http_api_error(&srv->api, status, message, &srv->body, &r);
    c->framing = FRAMING_CLOSE;
    put_response(c, &r, srv->body.data, srv->body.len, 0);
    if (c->state != CONN_CLOSED)
        c->state = CONN_LAST;
}

/* ---- requests ----------------------------------------------------------------------------- */

static void
on_begin(void *arg)
{
    struct http_conn *c = arg;
    if (c->state == CONN_IDLE) {
        c->state = CONN_REQUEST;
        c->message_started = uv_now(c->srv->loop);
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
    struct http_server *srv = c->srv;
    if (!conn_open(c))
        return 1; /* a failed write closed it during this read: answer nothing more */
    uint64_t t0 = uv_hrtime();
    c->state = CONN_IDLE;
    c->last_active = uv_now(srv->loop);
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
        if (c->state != CONN_CLOSED)
            c->state = CONN_LAST;
        return 1;
    }
    /* The throttle in flush() stops only the next read: without this, one 64 KiB read of
     * pipelined requests for big answers would all be answered and held. */
    if (c->out.len + uv_stream_get_write_queue_size(&c->h.stream) > WRITE_QUEUE_LIMIT) {
        c->throttled = 1;
        return 1;
    }
    /* From the reserve, answer by answer: one the socket does not take makes c wait. */
    if (conn_limits_spent(srv->opt.limits) && flush(c) != 0)
        return 1;
    if (conn_limits_must_wait(srv->opt.limits, &c->budget))
        return 1;
    return 0;
}

static const struct http_reader_hooks hooks = {on_begin, on_continue, on_request};

/* Parses data[0..len) and answers every whole request in it. */
static void
feed(struct http_conn *c, const char *data, size_t len)
{
    if (c->state != CONN_IDLE && c->state != CONN_REQUEST)
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
            conn_close(c);
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
    struct http_conn *c = h->data;
    /* One buffer for every connection: a read is parsed, and what must stay copied, before the
     * loop reads anything else. */
    *out = uv_buf_init(c->srv->read_buf, HTTP_READ_SIZE);
}

/* Feeds the bytes kept behind a pause, once nothing holds the connection paused. Returns 1
 * when it fed something. */
static int
resume_input(struct http_conn *c)
{
    if (!conn_open(c) || c->state == CONN_RELOAD || c->throttled || c->budget.waiting)
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
        if (!c->throttled || !conn_open(c) ||
            uv_stream_get_write_queue_size(&c->h.stream) >= WRITE_QUEUE_LIMIT / 2)
            break;
        c->throttled = 0;
        if (!resume_input(c))
            break;
    }
    if (!conn_open(c))
        return;
    if (c->state == CONN_RELOAD) {
        /* Nothing more is read until the reload is answered: the bytes a read would bring
         * belong after those kept in `pending`, and the parser is paused. */
        update_reading(c);
        return;
    }
    if (c->state == CONN_LAST ||
        (c->eof && c->pending == NULL && !c->throttled && !c->budget.waiting)) {
        conn_close_after_writes(c);
        return;
    }
    update_reading(c);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        /* A half-close ends the requests, not the answers: those already asked for (and any
         * pipelined behind a pause) still go out, within the drain deadline. */
        c->eof = 1;
        uv_read_stop(&c->h.stream);
        after_input(c);
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (conn_limits_must_wait(c->srv->opt.limits, &c->budget)) {
        /* Kept unparsed: the requests are answered when the budget has room. */
        char *kept = realloc(c->pending, c->pending_len + (size_t)nread);
        if (kept == NULL) {
            conn_close(c);
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

static struct http_conn *
budget_conn(struct conn_limits_conn *b)
{
    return (struct http_conn *)((char *)b - offsetof(struct http_conn, budget));
}

/* The output budget has room again, or the client has read its answers: go on where the
 * connection stopped. */
static void
on_budget(struct conn_limits_conn *b)
{
    struct http_conn *c = budget_conn(b);
    resume_input(c);
    after_input(c);
}

/* The budget and its reserve are spent, and this connection holds the most unread answers:
 * closing it frees them for clients that read (conn_limits.c logs it, rate-limited). */
static void
on_shed(struct conn_limits_conn *b)
{
    log_debug("http: closing a connection: it holds the most unread answers");
    conn_close(budget_conn(b));
}

/* Enforces both timeouts: a request must arrive whole within header_timeout_ms of its first
 * byte, and a connection with no request in progress closes after idle_timeout_ms. The timer is
 * re-armed for at most a header timeout, so a request that begins while it waits is checked in
 * time. */
static void
on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    struct http_server *srv = c->srv;
    uint64_t now = uv_now(srv->loop), ht = srv->opt.header_timeout_ms,
             it = srv->opt.idle_timeout_ms;
    uint64_t next = ht < it ? ht : it;
    if (c->state == CONN_CLOSED)
        return;
    if (c->state == CONN_DRAINING) {
        uint64_t age = now - c->drain_started;
        if (age >= it) {
            log_info("http: a client left its answers unread for %u ms; closing its connection",
                     srv->opt.idle_timeout_ms);
            srv->api.metrics->http_timeouts++;
            conn_close(c);
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
        uint64_t idle = now - c->last_active;
        if (idle >= it) {
            log_debug("http: connection idle for %u ms; closing it", srv->opt.idle_timeout_ms);
            srv->api.metrics->http_timeouts++;
            conn_close(c);
            return;
        }
        if (it - idle < next)
            next = it - idle;
    }
    uv_timer_start(&c->timer, on_timer, next ? next : 1, 0);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct http_server *srv = listener->data;
    struct metrics *m = srv->api.metrics;
    if (status < 0) {
        uint64_t now = (uint64_t)time(NULL);
        if (now - srv->emfile_logged_at >= 60) {
            log_warnx("http: cannot accept a connection: %s (open: %llu)", uv_strerror(status),
                      (unsigned long long)m->http_connections_open);
            srv->emfile_logged_at = now;
        }
        return;
    }
    struct http_conn *c = calloc(1, sizeof *c);
    int tcp = listener == (uv_stream_t *)&srv->tcp;
    int rc = c == NULL ? UV_ENOMEM
             : tcp     ? uv_tcp_init(srv->loop, &c->h.tcp)
                       : uv_pipe_init(srv->loop, &c->h.pipe, 0);
    if (rc != 0) {
        free(c);
        log_error("http: out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    c->h.handle.data = c;
    c->timer.data = c;
    c->budget.resume = on_budget;
    c->budget.shed = on_shed;
    c->open_handles = 2;
    uv_timer_init(srv->loop, &c->timer);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    m->http_connections_open++;
    m->http_connections_total++;
    if (uv_accept(listener, &c->h.stream) != 0) {
        conn_close(c);
        return;
    }
    uv_os_fd_t fd;
    int have_fd = uv_fileno(&c->h.handle, &fd) == 0;
    if (have_fd)
        conn_limits_accepted(srv->opt.limits, fd, "http");
    if (tcp)
        uv_tcp_nodelay(&c->h.tcp, 1);
    struct http_auth_peer peer;
    http_auth_identify(srv->api.svc, srv->opt.admin, have_fd ? fd : -1, tcp, &peer);
    http_reader_init(&c->reader, &hooks, c, peer.admin);
    c->reader.unix_peer = peer.unix_peer;
    c->reader.peer_uid = peer.uid;
    c->last_active = uv_now(srv->loop);
    if (m->http_connections_open > srv->opt.max_connections) {
        /* (conn_close_after_writes() arms the timer: a refused client that never reads its 503
         * is closed by the drain deadline.) */
        m->http_connections_refused++;
        log_warnx("http: connection cap of %u reached; refusing a client",
                  srv->opt.max_connections);
        refuse(c, 503, "too many connections; try again later");
        after_input(c);
        return;
    }
    unsigned first = srv->opt.header_timeout_ms < srv->opt.idle_timeout_ms
                         ? srv->opt.header_timeout_ms
                         : srv->opt.idle_timeout_ms;
    uv_timer_start(&c->timer, on_timer, first, 0);
    update_reading(c);
}

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
            srv->tcp.data = srv;
            rc = uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&opt->addr, 0);
            if (rc == 0)
                rc = uv_listen((uv_stream_t *)&srv->tcp, 511, on_connection);
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
            srv->pipe.data = srv;
            if (unlink(opt->unix_path) != 0 && errno != ENOENT)
                rc = uv_translate_sys_error(errno);
            else if ((rc = uv_pipe_bind(&srv->pipe, opt->unix_path)) == 0 &&
                     chmod(opt->unix_path, 0666) != 0)
                rc = uv_translate_sys_error(errno);
            if (rc == 0)
                rc = uv_listen((uv_stream_t *)&srv->pipe, 511, on_connection);
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
    while (srv->conns != NULL)
        conn_close(srv->conns);
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
    if (c->state == CONN_CLOSED)
        return;
    c->state = c->framing == FRAMING_CLOSE ? CONN_LAST : CONN_IDLE;
    /* The requests that came after the reload, in their order. */
    resume_input(c);
    after_input(c);
}
