/*
 * The protobuf API's Unix socket server (see rpc_server.h).
 *
 * Each connection has one input buffer. Whole frames are cut from its front, answered and
 * dropped; a partial frame waits for more bytes. A registry question asked before in the same
 * generation is answered from its packed bytes (answer_cache.h), recognised without an unpack;
 * any other request is unpacked, answered by service.c and packed. The answers to the requests
 * of one read go out in one write, in the order the requests came. Three things pause a
 * connection's reading: a reload it asked for (the answer must come before the answers to
 * anything it sent after), more than WRITE_QUEUE_LIMIT bytes of answers it has not read, and
 * the daemon-wide budget of unread answers being spent while it holds some of them
 * (conn_limits.h: a connection holding none is answered from the reserve, one answer per write;
 * one holding the most may be closed to make room there). A client that half-closes still gets
 * the answer to every request it sent, then a close. A connection that breaks the framing, or comes over the
 * connection cap, gets an Error, then a shutdown after the write, then a close.
 */
#include "rpc_server.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn_limits.h"
#include "frame.h"
#include "log.h"

#define WRITE_QUEUE_LIMIT (1u << 20)              /* bytes of answers a client may leave unread */
#define WRITE_CHUNK       (WRITE_QUEUE_LIMIT / 4) /* a pipeline's answers are written in these */
_Static_assert(WRITE_CHUNK <= CONN_LIMITS_RESERVE_MIN, "conn_limits.h's bound counts on it");

struct rpc_conn {
    uv_pipe_t pipe;
    uv_timer_t idle;
    uv_shutdown_t shutdown;
    struct rpc_server *srv;
    struct peer peer;
    unsigned char *buf; /* received bytes not yet answered */
    size_t len, cap;
    struct conn_limits_conn budget; /* its part in the output budget */
    int open_handles;   /* pipe and timer; the connection is freed when both have closed */
    int closing;        /* no more reading or answering */
    int draining;       /* closing once the queued answers are written */
    int waiting_reload; /* paused until its reload is answered */
    int throttled;      /* paused until the client reads its answers */
    int eof;            /* the client half-closed: answer what came, then close */
    int reading;        /* uv_read_start() is in effect */
    uint64_t last_active; /* loop time of the last whole request (or of the connection) */
    uint64_t reload_id;
    struct rpc_conn *prev, *next;
};

static void process(struct rpc_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ---- closing ---------------------------------------------------------------------------- */

static void
on_handle_closed(uv_handle_t *h)
{
    struct rpc_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    free(c->buf);
    free(c);
}

static void
conn_close(struct rpc_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    struct rpc_server *srv = c->srv;
    if (srv->waiter == c)
        srv->waiter = NULL; /* the reload goes on; its answer has nobody to go to */
    conn_limits_forget(srv->opt.limits, &c->budget);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->svc->stats.connections_open--;
    uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
    conn_limits_closed(srv->opt.limits);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
}

/* Closes after the writes already queued have gone out, reading nothing more meanwhile. */
static void
conn_close_after_writes(struct rpc_conn *c)
{
    if (c->closing || c->draining)
        return;
    c->draining = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
    c->reading = 0;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, on_shutdown) != 0)
        conn_close(c);
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The answers to the requests of one read go out in one write: a pipelining client then
 * costs one system call per batch, not one per request. A write the socket does not take at
 * once waits in a write_req. */
struct write_req {
    uv_write_t req;
    unsigned char *data; /* owned: what the socket did not take at once */
    size_t len;          /* charged to the output budget */
};

static void
on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct rpc_conn *c = req->data;
    struct conn_limits *limits = c->srv->opt.limits;
    size_t len = w->len;
    free(w->data);
    free(w);
    /* Before the release, which may resume others: their answers are not this one's. */
    if (status < 0 && !c->closing) {
        log_debug("client pid %ld uid %ld: cannot write its answers: %s; closing its connection",
                  (long)c->peer.pid, (long)c->peer.uid, uv_strerror(status));
        conn_close(c);
    }
    conn_limits_release(limits, &c->budget, len);
    if (status < 0 || c->closing || c->draining)
        return;
    if (c->throttled &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) < WRITE_QUEUE_LIMIT / 2) {
        c->throttled = 0;
        process(c);
    }
}

/* Writes the answers queued so far, which are all c's: straight away when the socket takes
 * them (the usual case: one writev() of the pieces, with no allocation, no copy and no change
 * to the poller), else through uv_write() with a copy of what is left, charged to the output
 * budget. Nothing is queued afterwards whatever happens, so no answer can go to another
 * connection, and no piece points into the cache. Returns 0, or -1 after closing. */
static int
flush_answers(struct rpc_conn *c)
{
    struct rpc_server *srv = c->srv;
    size_t len = srv->queued, count = srv->piece_count;
    uv_buf_t bufs[RPC_OUT_PIECES];
    for (size_t i = 0; i < count; i++) {
        const struct rpc_out_piece *p = &srv->pieces[i];
        bufs[i] = uv_buf_init((char *)(p->kept != NULL ? p->kept : srv->out + p->off),
                              (unsigned)p->len);
    }
    srv->out_len = srv->queued = srv->piece_count = srv->kept_pieces = 0;
    if (len == 0 || c->closing)
        return 0;
    uv_stream_t *stream = (uv_stream_t *)&c->pipe;
    /* From the reserve, even what the socket would take goes through uv_write(): c then waits
     * for it to end, in the next turn of the loop. A client whose kernel buffers take megabytes
     * (loopback TCP) is so answered one answer a turn, in turn with everyone else, instead of
     * holding the loop until they are full. */
    int n = conn_limits_spent(srv->opt.limits)
                ? UV_EAGAIN
                : uv_try_write(stream, bufs, (unsigned)count); /* UV_EAGAIN while earlier
                                                                  writes are queued */
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return -1;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done < len) {
        struct write_req *w = malloc(sizeof *w);
        size_t rest = len - done;
        if (w == NULL || (w->data = malloc(rest)) == NULL) {
            free(w);
            log_error("out of memory answering a client; closing its connection");
            conn_close(c);
            return -1;
        }
        size_t skip = done, at = 0;
        for (size_t i = 0; i < count; i++) {
            size_t blen = bufs[i].len;
            if (skip >= blen) {
                skip -= blen;
                continue;
            }
            memcpy(w->data + at, bufs[i].base + skip, blen - skip);
            at += blen - skip;
            skip = 0;
        }
        w->req.data = c;
        w->len = rest;
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)rest);
        if (uv_write(&w->req, stream, &b, 1, on_write) != 0) {
            free(w->data);
            free(w);
            conn_close(c);
            return -1;
        }
        conn_limits_charge(srv->opt.limits, &c->budget, rest);
        if (uv_stream_get_write_queue_size(stream) > WRITE_QUEUE_LIMIT)
            c->throttled = 1;
    }
    return 0;
}

/* Makes room for `pieces` more pieces and `bytes` more bytes of `out`, flushing what is queued
 * when the pieces run out. Returns where the bytes go, or NULL after closing. Every connection
 * packs into the server's one buffer (a connection's answers are flushed before the loop runs
 * anything else), so a thousand idle connections hold no output memory. */
static unsigned char *
out_room(struct rpc_conn *c, size_t pieces, size_t bytes)
{
    struct rpc_server *srv = c->srv;
    if (srv->piece_count + pieces > RPC_OUT_PIECES && flush_answers(c) != 0)
        return NULL;
    size_t need = srv->out_len + bytes;
    if (need > srv->out_cap) {
        size_t cap = srv->out_cap ? srv->out_cap : 4096;
        while (cap < need)
            cap *= 2;
        unsigned char *grown = realloc(srv->out, cap);
        if (grown == NULL) {
            log_error("out of memory answering a client; closing its connection");
            srv->out_len = srv->queued = srv->piece_count = srv->kept_pieces = 0;
            conn_close(c);
            return NULL;
        }
        srv->out = grown;
        srv->out_cap = cap;
    }
    return srv->out + srv->out_len;
}

/* Queues the n bytes just written at out + out_len, after what is queued. */
static void
out_add(struct rpc_server *srv, size_t n)
{
    struct rpc_out_piece *last = srv->piece_count > 0 ? &srv->pieces[srv->piece_count - 1] : NULL;
    if (last != NULL && last->kept == NULL && last->off + last->len == srv->out_len)
        last->len += n;
    else
        srv->pieces[srv->piece_count++] = (struct rpc_out_piece){NULL, srv->out_len, n};
    srv->out_len += n;
    srv->queued += n;
}

/* A long pipeline is written in pieces, so that throttling can step in; from the reserve,
 * answer by answer, so that an answer the socket does not take makes c wait. Returns 0, or -1
 * after closing. */
static int
answer_queued(struct rpc_conn *c)
{
    struct rpc_server *srv = c->srv;
    if (srv->queued >= WRITE_CHUNK || conn_limits_spent(srv->opt.limits))
        return flush_answers(c);
    return 0;
}

/* Packs one answer of c's after those already queued. Returns 0, or -1 after closing. */
static int
queue_answer(struct rpc_conn *c, const Smtpstatus__V1__Response *resp)
{
    struct rpc_server *srv = c->srv;
    size_t n = smtpstatus__v1__response__get_packed_size(resp);
    unsigned char *p = out_room(c, 1, SMTPSTATUS_FRAME_HEADER_MAX + n);
    if (p == NULL)
        return -1;
    size_t h = smtpstatus__frame_put_header(p, n);
    smtpstatus__v1__response__pack(resp, p + h);
    out_add(srv, h + n);
    return answer_queued(c);
}

/* Queues a kept answer to request `id` of c's: its prefix in `out`, its bytes where the cache
 * keeps them, which stay there until the flush. Returns 0, or -1 after closing. */
static int
queue_kept(struct rpc_conn *c, uint64_t id, const struct answer_cache_entry *e)
{
    struct rpc_server *srv = c->srv;
    unsigned char *p = out_room(c, 2, ANSWER_CACHE_PREFIX_MAX);
    if (p == NULL)
        return -1;
    out_add(srv, answer_cache_prefix(p, id, e->value_len));
    srv->pieces[srv->piece_count++] =
        (struct rpc_out_piece){answer_cache_value(e), 0, e->value_len};
    srv->queued += e->value_len;
    srv->kept_pieces++;
    return answer_queued(c);
}

/* Readies the cache for a change (answer_cache_sync(), answer_cache_put()), which may free
 * what queued pieces point at: those are written first. Returns 0, or -1 after closing. */
static int
cache_may_change(struct rpc_conn *c)
{
    return c->srv->kept_pieces > 0 ? flush_answers(c) : 0;
}

/* Keeps `resp`, the answer to the question `key` of c's, and queues it from the cache; or, when
 * it cannot be kept, queues it packed. Returns 0, or -1 after closing. */
static int
keep_answer(struct rpc_conn *c, const struct answer_key *key,
            const Smtpstatus__V1__Response *resp)
{
    if (cache_may_change(c) != 0)
        return -1;
    const struct answer_cache_entry *e = answer_cache_put(&c->srv->cache, key, resp);
    return e != NULL ? queue_kept(c, key->id, e) : queue_answer(c, resp);
}

/* Answers with an Error and closes once it is written: the stream cannot be trusted now. */
static void
fail_connection(struct rpc_conn *c, Smtpstatus__V1__Error__Code code, const char *why)
{
    struct arena a = {0};
    Smtpstatus__V1__Response resp;
    log_warnx("client pid %ld uid %ld: %s; closing the connection", (long)c->peer.pid,
              (long)c->peer.uid, why);
    service_error(c->srv->svc, 0, code, why, &a, &resp);
    if (queue_answer(c, &resp) == 0 && flush_answers(c) == 0)
        conn_close_after_writes(c);
    arena_free(&a);
}

/* ---- reading and answering ------------------------------------------------------------------ */

/* Answers every whole frame in the buffer, until the connection pauses; after the client's
 * half-close, closes once every whole frame is answered. */
static void
process(struct rpc_conn *c)
{
    struct rpc_server *srv = c->srv;
    size_t off = 0;
    /* A reload swaps the registry between callbacks, never during one. */
    if (cache_may_change(c) != 0)
        return;
    answer_cache_sync(&srv->cache, srv->svc->current->img, srv->svc->current->generation);
    while (!c->closing && !c->draining && !c->waiting_reload && !c->throttled &&
           !conn_limits_must_wait(srv->opt.limits, &c->budget)) {
        size_t hdr;
        uint64_t n;
        enum frame_status st = smtpstatus__frame_header(c->buf + off, c->len - off, &hdr, &n);
        if (st == FRAME_NEED_MORE)
            break;
        if (st == FRAME_MALFORMED) {
            fail_connection(c, SMTPSTATUS__V1__ERROR__CODE__MALFORMED_FRAME,
                            "malformed frame: the length varint is longer than 10 bytes");
            return;
        }
        if (n > srv->opt.frame_limit) {
            char why[96];
            snprintf(why, sizeof why, "frame of %llu bytes is over the limit of %zu",
                     (unsigned long long)n, srv->opt.frame_limit);
            fail_connection(c, SMTPSTATUS__V1__ERROR__CODE__FRAME_TOO_LARGE, why);
            return;
        }
        if (c->len - off - hdr < n)
            break;
        const uint8_t *msg = c->buf + off + hdr;
        off += hdr + (size_t)n;
        uint64_t t0 = srv->opt.latency != NULL ? uv_hrtime() : 0;
        /* A question answered before in this generation is answered from its kept bytes. */
        struct answer_key key;
        int keyed = answer_cache_key(msg, (size_t)n, &key);
        const struct answer_cache_entry *kept = keyed ? answer_cache_get(&srv->cache, &key) : NULL;
        if (kept != NULL) {
            service_count_kept(srv->svc, kept->op, kept->error_code);
            queue_kept(c, key.id, kept);
            if (srv->opt.latency != NULL)
                metrics_observe(srv->opt.latency, uv_hrtime() - t0);
            continue;
        }
        /* The request lives in the arena with its answer: no malloc per field. */
        struct arena *a = &srv->arena;
        ProtobufCAllocator alloc = {arena_protobuf_alloc, arena_protobuf_free, a};
        Smtpstatus__V1__Request *req = smtpstatus__v1__request__unpack(&alloc, (size_t)n, msg);
        if (req == NULL) {
            arena_reset(a);
            fail_connection(c, SMTPSTATUS__V1__ERROR__CODE__MALFORMED_FRAME,
                            "malformed frame: the bytes are not a smtpstatus.v1.Request");
            return;
        }
        Smtpstatus__V1__Response resp;
        enum service_result r = service_handle(srv->svc, req, &c->peer, a, &resp);
        if (r == SERVICE_RELOAD) {
            const char *dir = req->reload->directory[0] != '\0' ? req->reload->directory : NULL;
            c->reload_id = req->id;
            srv->svc->reload_busy = 1;
            srv->waiter = c;
            c->waiting_reload = 1;
            if (srv->reload(srv->reload_arg, c, dir, c->peer.uid) != 0) {
                srv->svc->reload_busy = 0;
                srv->waiter = NULL;
                c->waiting_reload = 0;
                service_error(srv->svc, req->id, SMTPSTATUS__V1__ERROR__CODE__INTERNAL,
                              "the reload could not be started", a, &resp);
                queue_answer(c, &resp);
            }
        } else {
            if (keyed && service_answer_keepable(req, &resp))
                keep_answer(c, &key, &resp);
            else
                queue_answer(c, &resp);
            if (srv->opt.latency != NULL)
                metrics_observe(srv->opt.latency, uv_hrtime() - t0);
        }
        arena_reset(a); /* the request and its answer */
    }
    if (flush_answers(c) != 0)
        return;
    if (off > 0 && !c->closing) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        /* Only whole requests count as activity: a client that dribbles a frame a byte at a
         * time is closed when the timeout runs out, like one that sends nothing. The timer is
         * not touched here: on_idle() looks at this time when it fires. */
        c->last_active = uv_now(srv->loop);
    }
    if (c->closing || c->draining)
        return;
    int pause = c->waiting_reload || c->throttled || c->budget.waiting;
    if (c->eof && !pause) {
        if (c->len > 0)
            log_warnx("client pid %ld uid %ld disconnected in the middle of a frame (%zu bytes)",
                      (long)c->peer.pid, (long)c->peer.uid, c->len);
        conn_close_after_writes(c);
        return;
    }
    pause |= c->eof;
    /* Only a change of state touches the poller. */
    if (pause && c->reading) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->reading = 0;
    } else if (!pause && !c->reading) {
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
        c->reading = 1;
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    struct rpc_conn *c = h->data;
    /* Room for the largest frame and its header; nothing more is ever needed at once. */
    size_t want = c->srv->opt.frame_limit + SMTPSTATUS_FRAME_HEADER_MAX;
    if (c->cap < want) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        if (cap > want)
            cap = want;
        if (c->len == c->cap) {
            unsigned char *b = realloc(c->buf, cap);
            if (b != NULL) {
                c->buf = b;
                c->cap = cap;
            }
        }
    }
    *out = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct rpc_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        /* A half-close ends the requests, not the answers (SHUT_WR, as the HTTP port). */
        c->eof = 1;
        process(c);
        return;
    }
    if (nread < 0) {
        if (c->len > 0)
            log_warnx("client pid %ld uid %ld disconnected in the middle of a frame (%zu bytes)",
                      (long)c->peer.pid, (long)c->peer.uid, c->len);
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    process(c);
}

/* The idle timer is one-shot and re-armed for the time that is left, so that requests cost
 * no timer operation (each one changed the poller's registration in libuv). */
static void
on_idle(uv_timer_t *t)
{
    struct rpc_conn *c = t->data;
    uint64_t timeout = c->srv->opt.idle_timeout_ms, idle = uv_now(c->srv->loop) - c->last_active;
    if (idle < timeout) {
        uv_timer_start(&c->idle, on_idle, timeout - idle, 0);
        return;
    }
    log_info("client pid %ld uid %ld completed no request for %u ms; closing its connection",
             (long)c->peer.pid, (long)c->peer.uid, c->srv->opt.idle_timeout_ms);
    conn_close(c);
}

/* The kernel's record of who connected, and whether the admin group is among its groups:
 * service.c decides from these at each request, so membership is never the group file's
 * as it was when the daemon started. */
static void
read_peer(struct rpc_conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
        peer_from_unix(fd, service_admin_group(c->srv->svc), &c->peer) != 0)
        c->peer.known = 0;
}

static struct rpc_conn *
budget_conn(struct conn_limits_conn *b)
{
    return (struct rpc_conn *)((char *)b - offsetof(struct rpc_conn, budget));
}

/* The output budget has room again, or the client has read its answers: go on where the
 * connection stopped. */
static void
on_budget(struct conn_limits_conn *b)
{
    process(budget_conn(b));
}

/* The budget and its reserve are spent, and this connection holds the most unread answers:
 * closing it frees them for clients that read (conn_limits.c logs it, rate-limited). */
static void
on_shed(struct conn_limits_conn *b)
{
    struct rpc_conn *c = budget_conn(b);
    log_debug("client pid %ld uid %ld: closing its connection: it holds the most unread answers",
              (long)c->peer.pid, (long)c->peer.uid);
    conn_close(c);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct rpc_server *srv = listener->data;
    if (status < 0) {
        /* Out of descriptors: libuv accepts and closes the pending connections with a
         * descriptor it keeps in reserve, and reports here only when even that fails. Either
         * way the connections already open go on being served. Say so at most once a minute. */
        uint64_t now = (uint64_t)time(NULL);
        if (now - srv->emfile_logged_at >= 60) {
            log_warnx("cannot accept a connection: %s (open: %llu)", uv_strerror(status),
                      (unsigned long long)srv->svc->stats.connections_open);
            srv->emfile_logged_at = now;
        }
        return;
    }
    struct rpc_conn *c = calloc(1, sizeof *c);
    if (c == NULL || uv_pipe_init(srv->loop, &c->pipe, 0) != 0) {
        free(c);
        log_error("out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    c->pipe.data = c;
    c->idle.data = c;
    c->budget.resume = on_budget;
    c->budget.shed = on_shed;
    c->open_handles = 2;
    uv_timer_init(srv->loop, &c->idle);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->svc->stats.connections_open++;
    srv->svc->stats.connections_total++;
    if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
        conn_close(c);
        return;
    }
    read_peer(c);
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0)
        conn_limits_accepted(srv->opt.limits, fd, "socket");
    if (srv->svc->stats.connections_open > srv->opt.max_connections) {
        /* Told why, so that a client can tell a full daemon from a dead one. */
        char why[96];
        snprintf(why, sizeof why, "the connection cap of %u is reached; try again later",
                 srv->opt.max_connections);
        fail_connection(c, SMTPSTATUS__V1__ERROR__CODE__TOO_MANY_CONNECTIONS, why);
        return;
    }
    c->last_active = uv_now(srv->loop);
    uv_timer_start(&c->idle, on_idle, srv->opt.idle_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    c->reading = 1;
}

/* ---- the server ----------------------------------------------------------------------------- */

int
rpc_server_start(struct rpc_server *srv, uv_loop_t *loop, struct service *svc,
                 const struct rpc_server_options *opt, rpc_reload_fn reload, void *reload_arg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->svc = svc;
    srv->opt = *opt;
    srv->reload = reload;
    srv->reload_arg = reload_arg;
    int rc = uv_pipe_init(loop, &srv->listener, 0);
    if (rc != 0)
        return rc;
    srv->listener.data = srv;
    if (opt->has_listen_fd) {
        /* Socket activation: already bound and listening. uv_listen() calls listen() again,
         * which would cut the service manager's Backlog= down to ours: ask for the most. */
        if ((rc = uv_pipe_open(&srv->listener, opt->listen_fd)) == 0)
            rc = uv_listen((uv_stream_t *)&srv->listener, SOMAXCONN, on_connection);
        else
            close(opt->listen_fd);
    } else if (unlink(opt->path) != 0 && errno != ENOENT) {
        /* The caller holds the run directory's lock, so a socket file here is a dead daemon's. */
        rc = uv_translate_sys_error(errno);
    } else if ((rc = uv_pipe_bind(&srv->listener, opt->path)) == 0) {
        /* Lookups are for every local user, as nscd's socket is; reload checks credentials. */
        if (chmod(opt->path, 0666) != 0)
            rc = uv_translate_sys_error(errno);
        else
            rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
    }
    if (rc != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        return rc;
    }
    srv->listening = 1;
    return 0;
}

void
rpc_server_stop(struct rpc_server *srv)
{
    if (!srv->listening)
        return;
    srv->listening = 0;
    while (srv->conns != NULL)
        conn_close(srv->conns);
    arena_free(&srv->arena);
    answer_cache_free(&srv->cache);
    free(srv->out);
    srv->out = NULL;
    srv->out_len = srv->out_cap = 0;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    if (!srv->opt.has_listen_fd)
        unlink(srv->opt.path);
}

void
rpc_server_reload_done(struct rpc_server *srv, struct rpc_conn *waiter, int ok,
                       const struct diag *d)
{
    srv->svc->reload_busy = 0;
    if (waiter == NULL || waiter != srv->waiter)
        return;
    srv->waiter = NULL;
    struct rpc_conn *c = waiter;
    struct arena a = {0};
    Smtpstatus__V1__Response resp;
    service_reload_response(srv->svc, c->reload_id, ok, d, &a, &resp);
    int queued = queue_answer(c, &resp);
    arena_free(&a);
    if (queued != 0)
        return;
    c->waiting_reload = 0;
    process(c);
}
