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
 * the answer to every request it sent, then a close. A connection that breaks the framing, or
 * comes over the connection cap, gets an Error, then a shutdown after the write, then a close.
 * The connections themselves (their list and cap, accepting, the idle timer, writing with the
 * budget, closing) are conn.h's; this file keeps the framing, the answers and the reloads.
 */
#include "rpc_server.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"

#define WRITE_QUEUE_LIMIT (1u << 20)              /* bytes of answers a client may leave unread */
#define WRITE_CHUNK       (WRITE_QUEUE_LIMIT / 4) /* a pipeline's answers are written in these */
_Static_assert(WRITE_CHUNK <= CONN_LIMITS_RESERVE_MIN, "conn_limits.h's bound counts on it");

struct rpc_conn {
    struct conn base;   /* the transport: conn.h */
    unsigned char *buf; /* received bytes not yet answered; owned, freed in on_release() */
    size_t len, cap;
    int waiting_reload; /* paused until its reload is answered */
    int eof;            /* the client half-closed: answer what came, then close */
    uint64_t reload_id;
};

static struct rpc_conn *
conn_of(struct conn *base)
{
    return CONN_OWNER(base, struct rpc_conn, base);
}

static struct rpc_server *
server_of(const struct rpc_conn *c)
{
    return CONN_OWNER(c->base.set, struct rpc_server, conns);
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Writes the answers queued so far, which are all c's, in one conn_write(): the usual case is
 * one writev() of the pieces, with no allocation, no copy and no change to the poller; a
 * pipelining client so costs one system call per batch, not one per request. conn_write()
 * copies what the socket does not take at once before it returns and runs nothing of the
 * server's before then, so the kept answers the pieces point at stay as they are until they
 * are written or copied. Nothing is queued afterwards whatever happens, so no answer can go to
 * another connection, and no piece points into the cache. Returns 0, or -1 after closing. */
static int
flush_answers(struct rpc_conn *c)
{
    struct rpc_server *srv = server_of(c);
    size_t count = srv->piece_count;
    uv_buf_t bufs[RPC_OUT_PIECES];
    for (size_t i = 0; i < count; i++) {
        const struct rpc_out_piece *p = &srv->pieces[i];
        bufs[i] = uv_buf_init((char *)(p->kept != NULL ? p->kept : srv->out + p->off),
                              (unsigned)p->len);
    }
    srv->out_len = srv->queued = srv->piece_count = srv->kept_pieces = 0;
    return conn_write(&c->base, bufs, (unsigned)count);
}

/* Makes room for `pieces` more pieces and `bytes` more bytes of `out`, flushing what is queued
 * when the pieces run out. Returns where the bytes go, or NULL after closing. Every connection
 * packs into the server's one buffer (a connection's answers are flushed before the loop runs
 * anything else), so a thousand idle connections hold no output memory. */
static unsigned char *
out_room(struct rpc_conn *c, size_t pieces, size_t bytes)
{
    struct rpc_server *srv = server_of(c);
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
            conn_close(&c->base);
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
    struct rpc_server *srv = server_of(c);
    if (srv->queued >= WRITE_CHUNK || conn_budget_spent(&c->base))
        return flush_answers(c);
    return 0;
}

/* Packs one answer of c's after those already queued. Returns 0, or -1 after closing. */
static int
queue_answer(struct rpc_conn *c, const Smtpstatus__V1__Response *resp)
{
    struct rpc_server *srv = server_of(c);
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
    struct rpc_server *srv = server_of(c);
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
    return server_of(c)->kept_pieces > 0 ? flush_answers(c) : 0;
}

/* Keeps `resp`, the answer to the question `key` of c's, and queues it from the cache; or, when
 * it cannot be kept, queues it packed. Returns 0, or -1 after closing. */
static int
keep_answer(struct rpc_conn *c, const struct answer_key *key,
            const Smtpstatus__V1__Response *resp)
{
    if (cache_may_change(c) != 0)
        return -1;
    const struct answer_cache_entry *e = answer_cache_put(&server_of(c)->cache, key, resp);
    return e != NULL ? queue_kept(c, key->id, e) : queue_answer(c, resp);
}

/* Answers with an Error and closes once it is written: the stream cannot be trusted now. */
static void
fail_connection(struct rpc_conn *c, Smtpstatus__V1__Error__Code code, const char *why)
{
    struct arena a = {0};
    Smtpstatus__V1__Response resp;
    log_warnx("client pid %ld uid %ld: %s; closing the connection", (long)c->base.peer.pid,
              (long)c->base.peer.uid, why);
    service_error(server_of(c)->svc, 0, code, why, &a, &resp);
    if (queue_answer(c, &resp) == 0 && flush_answers(c) == 0)
        conn_close_after_writes(&c->base);
    arena_free(&a);
}

/* ---- reading and answering ------------------------------------------------------------------ */

/* Answers every whole frame in the buffer, until the connection pauses; after the client's
 * half-close, closes once every whole frame is answered. */
static void
process(struct rpc_conn *c)
{
    struct rpc_server *srv = server_of(c);
    size_t off = 0;
    /* A reload swaps the registry between callbacks, never during one. */
    if (cache_may_change(c) != 0)
        return;
    answer_cache_sync(&srv->cache, srv->svc->current->img, srv->svc->current->generation);
    while (c->base.phase == CONN_PHASE_OPEN && !c->waiting_reload && !c->base.throttled &&
           !conn_must_wait(&c->base)) {
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
        enum service_result r = service_handle(srv->svc, req, &c->base.peer, a, &resp);
        if (r == SERVICE_RELOAD) {
            const char *dir = req->reload->directory[0] != '\0' ? req->reload->directory : NULL;
            c->reload_id = req->id;
            srv->svc->reload_busy = 1;
            srv->waiter = c;
            c->waiting_reload = 1;
            if (srv->reload(srv->reload_arg, c, dir, c->base.peer.uid) != 0) {
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
    if (off > 0 && c->base.phase != CONN_PHASE_CLOSED) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        /* Only whole requests count as activity: a client that dribbles a frame a byte at a
         * time is closed when the timeout runs out, like one that sends nothing. The timer is
         * not touched here: conn_idle_expired() looks at this time when it fires. */
        conn_touch(&c->base);
    }
    if (c->base.phase != CONN_PHASE_OPEN)
        return;
    int pause = c->waiting_reload || c->base.throttled || c->base.budget.waiting;
    if (c->eof && !pause) {
        if (c->len > 0)
            log_warnx("client pid %ld uid %ld disconnected in the middle of a frame (%zu bytes)",
                      (long)c->base.peer.pid, (long)c->base.peer.uid, c->len);
        conn_close_after_writes(&c->base);
        return;
    }
    conn_read(&c->base, !(pause || c->eof));
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    struct rpc_conn *c = conn_of(h->data);
    /* Room for the largest frame and its header; nothing more is ever needed at once. */
    size_t want = server_of(c)->opt.frame_limit + SMTPSTATUS_FRAME_HEADER_MAX;
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
    struct rpc_conn *c = conn_of(s->data);
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
                      (long)c->base.peer.pid, (long)c->base.peer.uid, c->len);
        conn_close(&c->base);
        return;
    }
    c->len += (size_t)nread;
    process(c);
}

/* ---- the connection's life (conn.h) ------------------------------------------------------- */

/* The kernel's record of who connected, and whether the admin group is among its groups:
 * service.c decides from these at each request, so membership is never the group file's
 * as it was when the daemon started. */
static void
on_accepted(struct conn *base)
{
    uv_os_fd_t fd;
    if (uv_fileno(&base->h.handle, &fd) != 0 ||
        peer_from_unix(fd, service_admin_group(server_of(conn_of(base))->svc), &base->peer) != 0)
        base->peer.known = 0;
}

/* Told why, so that a client can tell a full daemon from a dead one. */
static void
on_refuse(struct conn *base)
{
    struct rpc_conn *c = conn_of(base);
    char why[96];
    snprintf(why, sizeof why, "the connection cap of %u is reached; try again later",
             server_of(c)->opt.max_connections);
    fail_connection(c, SMTPSTATUS__V1__ERROR__CODE__TOO_MANY_CONNECTIONS, why);
}

static void
on_timer(struct conn *base)
{
    if (!conn_idle_expired(base))
        return;
    log_info("client pid %ld uid %ld completed no request for %u ms; closing its connection",
             (long)base->peer.pid, (long)base->peer.uid, base->set->opt.idle_timeout_ms);
    conn_close(base);
}

/* The output budget has room again, or the client has read its answers: go on where the
 * connection stopped. */
static void
on_resume(struct conn *base)
{
    process(conn_of(base));
}

/* The reload goes on; its answer has nobody to go to. */
static void
on_closing(struct conn *base)
{
    struct rpc_conn *c = conn_of(base);
    struct rpc_server *srv = server_of(c);
    if (srv->waiter == c)
        srv->waiter = NULL;
}

static void
on_release(struct conn *base)
{
    free(conn_of(base)->buf);
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
rpc_server_start(struct rpc_server *srv, uv_loop_t *loop, struct service *svc,
                 const struct rpc_server_options *opt, rpc_reload_fn reload, void *reload_arg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->svc = svc;
    srv->opt = *opt;
    srv->reload = reload;
    srv->reload_arg = reload_arg;
    struct conn_set_options co = {
        .ops = &ops,
        .conn_size = sizeof(struct rpc_conn),
        .conn_offset = offsetof(struct rpc_conn, base),
        .name = "socket",
        .log_prefix = "",
        .max_connections = opt->max_connections,
        .idle_timeout_ms = opt->idle_timeout_ms,
        .write_queue_limit = WRITE_QUEUE_LIMIT,
        .limits = opt->limits,
        .open_count = &svc->stats.connections_open,
        .total_count = &svc->stats.connections_total,
    };
    conn_set_init(&srv->conns, loop, &co);
    int rc = uv_pipe_init(loop, &srv->listener, 0);
    if (rc != 0)
        return rc;
    if (opt->has_listen_fd) {
        /* Socket activation: already bound and listening. uv_listen() calls listen() again,
         * which would cut the service manager's Backlog= down to ours: ask for the most. */
        if ((rc = uv_pipe_open(&srv->listener, opt->listen_fd)) == 0)
            rc = conn_set_listen(&srv->conns, (uv_stream_t *)&srv->listener, SOMAXCONN);
        else
            close(opt->listen_fd);
    } else {
        /* Lookups are for every local user, as nscd's socket is; reload checks credentials. */
        rc = conn_set_listen_path(&srv->conns, &srv->listener, opt->path, 128);
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
    conn_set_stop(&srv->conns);
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
