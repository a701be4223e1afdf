/*
 * The socketmap server (see socketmap_server.h).
 *
 * Each connection has one input buffer of at most SOCKETMAP_REQUEST_MAX +
 * SOCKETMAP_FRAMING_MAX bytes. Whole netstrings are cut from its front and answered in order;
 * a partial one waits for more bytes. Answers are packed into the server's one buffer and
 * written when the read's requests are answered, with conn_write() (conn.h, which also keeps
 * the connections, their cap, idle timers and closing). A connection pauses its
 * reading while more than WRITE_QUEUE_LIMIT bytes of its answers are unread, or while the
 * budget is spent and it holds some (conn_limits.h). A bad netstring, or one over the limit,
 * gets a PERM answer, then a shutdown after the write, then a close; a connection over the cap
 * gets TEMP at once, and the same close.
 */
#include "socketmap_server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "socketmap.h"

#define WRITE_QUEUE_LIMIT (64u << 10) /* bytes of answers a client may leave unread */
#define INPUT_MAX (SOCKETMAP_REQUEST_MAX + SOCKETMAP_FRAMING_MAX)

struct socketmap_conn {
    struct conn base; /* the transport: conn.h */
    char buf[INPUT_MAX]; /* received bytes not yet answered */
    size_t len;
    int eof; /* the client half-closed: answer what came, then close */
};

static struct socketmap_conn *
conn_of(struct conn *base)
{
    return CONN_OWNER(base, struct socketmap_conn, base);
}

static struct socketmap_server *
server_of(const struct socketmap_conn *c)
{
    return CONN_OWNER(c->base.set, struct socketmap_server, conns);
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Writes the answers packed in the server's buffer, which are all c's, as rpc_server.c's
 * flush_answers() does (conn_write()). The buffer is empty afterwards. Returns 0, or -1 after
 * closing. */
static int
flush_answers(struct socketmap_conn *c)
{
    struct socketmap_server *srv = server_of(c);
    uv_buf_t b = uv_buf_init(srv->out.data, (unsigned)srv->out.len);
    buf_reset(&srv->out);
    return conn_write(&c->base, &b, 1);
}

/* Answers `word` `why` and closes once it is written: the stream cannot be trusted now. */
static void
fail_connection(struct socketmap_conn *c, const char *word, const char *why)
{
    struct socketmap_server *srv = server_of(c);
    log_warnx("socketmap client pid %ld uid %ld: %s; closing the connection",
              (long)c->base.peer.pid, (long)c->base.peer.uid, why);
    if (socketmap_put(&srv->out, word, why, strlen(why)) != 0) {
        buf_reset(&srv->out);
        conn_close(&c->base);
        return;
    }
    if (flush_answers(c) == 0)
        conn_close_after_writes(&c->base);
}

/* ---- reading and answering ------------------------------------------------------------------ */

/* Answers every whole netstring in the buffer until the connection pauses; after the client's
 * half-close, closes once they are answered. */
static void
process(struct socketmap_conn *c)
{
    struct socketmap_server *srv = server_of(c);
    size_t off = 0;
    while (c->base.phase == CONN_PHASE_OPEN && !c->base.throttled && !conn_must_wait(&c->base)) {
        const char *payload, *why;
        size_t plen, used;
        enum socketmap_frame st = socketmap_frame(c->buf + off, c->len - off,
                                                  SOCKETMAP_REQUEST_MAX, &payload, &plen, &used,
                                                  &why);
        if (st == SOCKETMAP_NEED_MORE)
            break;
        if (st == SOCKETMAP_BAD) {
            flush_answers(c); /* the answers to the good requests before it go first */
            if (c->base.phase != CONN_PHASE_CLOSED)
                fail_connection(c, "PERM", why);
            return;
        }
        off += used;
        const smtpstatus_image *img = srv->svc->current ? srv->svc->current->img : NULL;
        size_t before = srv->out.len;
        if (socketmap_answer(img, payload, plen, &srv->out) != 0) {
            srv->out.len = before;
            static const char oom[] = "out of memory";
            if (socketmap_put(&srv->out, "TEMP", oom, sizeof oom - 1) != 0) {
                buf_reset(&srv->out);
                conn_close(&c->base);
                return;
            }
        }
        srv->requests++;
        if (srv->out.len >= WRITE_QUEUE_LIMIT || conn_budget_spent(&c->base))
            if (flush_answers(c) != 0)
                return;
    }
    if (flush_answers(c) != 0 || c->base.phase == CONN_PHASE_CLOSED)
        return;
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        /* Only whole requests count as activity (see on_timer()). */
        conn_touch(&c->base);
    }
    if (c->base.phase == CONN_PHASE_DRAINING)
        return;
    int pause = c->base.throttled || c->base.budget.waiting;
    if (c->eof && !pause) {
        if (c->len > 0)
            log_warnx("socketmap client pid %ld uid %ld disconnected in the middle of a request "
                      "(%zu bytes)", (long)c->base.peer.pid, (long)c->base.peer.uid, c->len);
        conn_close_after_writes(&c->base);
        return;
    }
    conn_read(&c->base, !(pause || c->eof));
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    struct socketmap_conn *c = conn_of(h->data);
    /* The buffer holds the longest request: a partial one never fills it (socketmap_frame()
     * refuses a length over the limit as soon as its digits are read). */
    *out = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct socketmap_conn *c = conn_of(s->data);
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        c->eof = 1;
        process(c);
        return;
    }
    if (nread < 0) {
        conn_close(&c->base);
        return;
    }
    c->len += (size_t)nread;
    process(c);
}

/* ---- the connection's life (conn.h) ----------------------------------------------------------- */

static void
on_accepted(struct conn *base)
{
    uv_os_fd_t fd;
    if (uv_fileno(&base->h.handle, &fd) != 0 || peer_from_unix(fd, NULL, &base->peer) != 0)
        base->peer.known = 0;
}

/* Answered at once: a socketmap client reads this as the answer to the request it is sending,
 * and the descriptor is free again as soon as the write ends. */
static void
on_refuse(struct conn *base)
{
    struct socketmap_server *srv = server_of(conn_of(base));
    char why[96];
    snprintf(why, sizeof why, "the connection cap of %u is reached; try again later",
             srv->opt.max_connections);
    fail_connection(conn_of(base), "TEMP", why);
}

static void
on_timer(struct conn *base)
{
    if (!conn_idle_expired(base))
        return;
    log_debug("socketmap client pid %ld uid %ld completed no request for %u ms; closing",
              (long)base->peer.pid, (long)base->peer.uid, base->set->opt.idle_timeout_ms);
    conn_close(base);
}

static void
on_resume(struct conn *base)
{
    process(conn_of(base));
}

static const struct conn_ops ops = {
    .alloc = on_alloc,
    .read = on_read,
    .accepted = on_accepted,
    .refuse = on_refuse,
    .timer = on_timer,
    .resume = on_resume,
};

/* ---- the server ----------------------------------------------------------------------------- */

int
socketmap_server_start(struct socketmap_server *srv, uv_loop_t *loop, struct service *svc,
                       const struct socketmap_server_options *opt)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->svc = svc;
    srv->opt = *opt;
    struct conn_set_options co = {
        .ops = &ops,
        .conn_size = sizeof(struct socketmap_conn),
        .conn_offset = offsetof(struct socketmap_conn, base),
        .name = "socketmap",
        .log_prefix = "socketmap: ",
        .max_connections = opt->max_connections,
        .idle_timeout_ms = opt->idle_timeout_ms,
        .write_queue_limit = WRITE_QUEUE_LIMIT,
        .limits = opt->limits,
    };
    conn_set_init(&srv->conns, loop, &co);
    int rc = uv_pipe_init(loop, &srv->listener, 0);
    if (rc != 0)
        return rc;
    /* Lookups for every local user, as on the main socket (socketmap_server.h). */
    rc = conn_set_listen_path(&srv->conns, &srv->listener, opt->path, 128);
    if (rc != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        return rc;
    }
    srv->listening = 1;
    return 0;
}

void
socketmap_server_stop(struct socketmap_server *srv)
{
    if (!srv->listening)
        return;
    srv->listening = 0;
    conn_set_stop(&srv->conns);
    buf_free(&srv->out);
    uv_close((uv_handle_t *)&srv->listener, NULL);
    unlink(srv->opt.path);
}
