/*
 * The socketmap server (see socketmap_server.h).
 *
 * Each connection has one input buffer of at most SOCKETMAP_REQUEST_MAX +
 * SOCKETMAP_FRAMING_MAX bytes. Whole netstrings are cut from its front and answered in order;
 * a partial one waits for more bytes. Answers are packed into the server's one buffer and
 * written when the read's requests are answered: straight away when the socket takes them,
 * else through uv_write(), charged to the daemon's output budget. A connection pauses its
 * reading while more than WRITE_QUEUE_LIMIT bytes of its answers are unread, or while the
 * budget is spent and it holds some (conn_limits.h). A bad netstring, or one over the limit,
 * gets a PERM answer, then a shutdown after the write, then a close; a connection over the cap
 * gets TEMP at once, and the same close.
 */
#include "socketmap_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "socketmap.h"

#define WRITE_QUEUE_LIMIT (64u << 10) /* bytes of answers a client may leave unread */
#define INPUT_MAX (SOCKETMAP_REQUEST_MAX + SOCKETMAP_FRAMING_MAX)

struct socketmap_conn {
    uv_pipe_t pipe;
    uv_timer_t idle;
    uv_shutdown_t shutdown;
    struct socketmap_server *srv;
    struct peer peer;
    char buf[INPUT_MAX]; /* received bytes not yet answered */
    size_t len;
    struct conn_limits_conn budget;
    int open_handles; /* pipe and timer; freed when both have closed */
    int closing;      /* no more reading or answering */
    int draining;     /* closing once the queued answers are written */
    int throttled;    /* paused until the client reads its answers */
    int eof;          /* the client half-closed: answer what came, then close */
    int reading;
    uint64_t last_active; /* loop time of the last whole request (or of the connection) */
    struct socketmap_conn *prev, *next;
};

static void process(struct socketmap_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ---- closing ---------------------------------------------------------------------------- */

static void
on_handle_closed(uv_handle_t *h)
{
    struct socketmap_conn *c = h->data;
    if (--c->open_handles == 0)
        free(c);
}

static void
conn_close(struct socketmap_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    struct socketmap_server *srv = c->srv;
    conn_limits_forget(srv->opt.limits, &c->budget);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->open--;
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
conn_close_after_writes(struct socketmap_conn *c)
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

struct write_req {
    uv_write_t req;
    size_t len; /* charged to the output budget */
    char data[]; /* what the socket did not take at once */
};

static void
on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct socketmap_conn *c = req->data;
    struct conn_limits *limits = c->srv->opt.limits;
    size_t len = w->len;
    free(w);
    if (status < 0 && !c->closing) {
        log_debug("socketmap client pid %ld uid %ld: cannot write its answers: %s; closing",
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

/* Writes the answers packed in the server's buffer, which are all c's, as rpc_server.c's
 * flush_answers() does: what the socket takes at once costs nothing more; the rest waits in a
 * write_req charged to the budget (and everything does, while the budget is spent, so that a
 * connection answered from the reserve holds one answer and waits). The buffer is empty
 * afterwards. Returns 0, or -1 after closing. */
static int
flush_answers(struct socketmap_conn *c)
{
    struct socketmap_server *srv = c->srv;
    size_t len = srv->out.len;
    buf_reset(&srv->out);
    if (len == 0 || c->closing)
        return 0;
    uv_stream_t *stream = (uv_stream_t *)&c->pipe;
    uv_buf_t b = uv_buf_init(srv->out.data, (unsigned)len);
    int n = conn_limits_spent(srv->opt.limits) ? UV_EAGAIN : uv_try_write(stream, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return -1;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done == len)
        return 0;
    size_t rest = len - done;
    struct write_req *w = malloc(sizeof *w + rest);
    if (w == NULL) {
        log_error("out of memory answering a socketmap client; closing its connection");
        conn_close(c);
        return -1;
    }
    memcpy(w->data, srv->out.data + done, rest);
    w->req.data = c;
    w->len = rest;
    b = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, stream, &b, 1, on_write) != 0) {
        free(w);
        conn_close(c);
        return -1;
    }
    conn_limits_charge(srv->opt.limits, &c->budget, rest);
    if (uv_stream_get_write_queue_size(stream) > WRITE_QUEUE_LIMIT)
        c->throttled = 1;
    return 0;
}

/* Answers `word` `why` and closes once it is written: the stream cannot be trusted now. */
static void
fail_connection(struct socketmap_conn *c, const char *word, const char *why)
{
    log_warnx("socketmap client pid %ld uid %ld: %s; closing the connection", (long)c->peer.pid,
              (long)c->peer.uid, why);
    if (socketmap_put(&c->srv->out, word, why, strlen(why)) != 0) {
        buf_reset(&c->srv->out);
        conn_close(c);
        return;
    }
    if (flush_answers(c) == 0)
        conn_close_after_writes(c);
}

/* ---- reading and answering ------------------------------------------------------------------ */

/* Answers every whole netstring in the buffer until the connection pauses; after the client's
 * half-close, closes once they are answered. */
static void
process(struct socketmap_conn *c)
{
    struct socketmap_server *srv = c->srv;
    size_t off = 0;
    while (!c->closing && !c->draining && !c->throttled &&
           !conn_limits_must_wait(srv->opt.limits, &c->budget)) {
        const char *payload, *why;
        size_t plen, used;
        enum socketmap_frame st = socketmap_frame(c->buf + off, c->len - off,
                                                  SOCKETMAP_REQUEST_MAX, &payload, &plen, &used,
                                                  &why);
        if (st == SOCKETMAP_NEED_MORE)
            break;
        if (st == SOCKETMAP_BAD) {
            flush_answers(c); /* the answers to the good requests before it go first */
            if (!c->closing)
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
                conn_close(c);
                return;
            }
        }
        srv->requests++;
        if (srv->out.len >= WRITE_QUEUE_LIMIT || conn_limits_spent(srv->opt.limits))
            if (flush_answers(c) != 0)
                return;
    }
    if (flush_answers(c) != 0 || c->closing)
        return;
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        /* Only whole requests count as activity (see on_idle()). */
        c->last_active = uv_now(srv->loop);
    }
    if (c->draining)
        return;
    int pause = c->throttled || c->budget.waiting;
    if (c->eof && !pause) {
        if (c->len > 0)
            log_warnx("socketmap client pid %ld uid %ld disconnected in the middle of a request "
                      "(%zu bytes)", (long)c->peer.pid, (long)c->peer.uid, c->len);
        conn_close_after_writes(c);
        return;
    }
    pause |= c->eof;
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
    struct socketmap_conn *c = h->data;
    /* The buffer holds the longest request: a partial one never fills it (socketmap_frame()
     * refuses a length over the limit as soon as its digits are read). */
    *out = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct socketmap_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        c->eof = 1;
        process(c);
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    process(c);
}

/* One-shot, re-armed for the time left, as rpc_server.c's: requests cost no timer operation. */
static void
on_idle(uv_timer_t *t)
{
    struct socketmap_conn *c = t->data;
    uint64_t timeout = c->srv->opt.idle_timeout_ms, idle = uv_now(c->srv->loop) - c->last_active;
    if (idle < timeout) {
        uv_timer_start(&c->idle, on_idle, timeout - idle, 0);
        return;
    }
    log_debug("socketmap client pid %ld uid %ld completed no request for %u ms; closing",
              (long)c->peer.pid, (long)c->peer.uid, c->srv->opt.idle_timeout_ms);
    conn_close(c);
}

static struct socketmap_conn *
budget_conn(struct conn_limits_conn *b)
{
    return (struct socketmap_conn *)((char *)b - offsetof(struct socketmap_conn, budget));
}

static void
on_budget(struct conn_limits_conn *b)
{
    process(budget_conn(b));
}

static void
on_shed(struct conn_limits_conn *b)
{
    conn_close(budget_conn(b));
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct socketmap_server *srv = listener->data;
    if (status < 0) {
        uint64_t now = (uint64_t)time(NULL);
        if (now - srv->emfile_logged_at >= 60) {
            log_warnx("socketmap: cannot accept a connection: %s (open: %u)",
                      uv_strerror(status), srv->open);
            srv->emfile_logged_at = now;
        }
        return;
    }
    struct socketmap_conn *c = calloc(1, sizeof *c);
    if (c == NULL || uv_pipe_init(srv->loop, &c->pipe, 0) != 0) {
        free(c);
        log_error("out of memory accepting a socketmap connection");
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
    srv->open++;
    if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
        conn_close(c);
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0) {
        if (peer_from_unix(fd, NULL, &c->peer) != 0)
            c->peer.known = 0;
        conn_limits_accepted(srv->opt.limits, fd, "socketmap");
    }
    if (srv->open > srv->opt.max_connections) {
        /* Answered at once: a socketmap client reads this as the answer to the request it is
         * sending, and the descriptor is free again as soon as the write ends. */
        char why[96];
        snprintf(why, sizeof why, "the connection cap of %u is reached; try again later",
                 srv->opt.max_connections);
        fail_connection(c, "TEMP", why);
        return;
    }
    c->last_active = uv_now(srv->loop);
    uv_timer_start(&c->idle, on_idle, srv->opt.idle_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    c->reading = 1;
}

/* ---- the server ----------------------------------------------------------------------------- */

int
socketmap_server_start(struct socketmap_server *srv, uv_loop_t *loop, struct service *svc,
                       const struct socketmap_server_options *opt)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->svc = svc;
    srv->opt = *opt;
    int rc = uv_pipe_init(loop, &srv->listener, 0);
    if (rc != 0)
        return rc;
    srv->listener.data = srv;
    if (unlink(opt->path) != 0 && errno != ENOENT)
        rc = uv_translate_sys_error(errno);
    else if ((rc = uv_pipe_bind(&srv->listener, opt->path)) == 0) {
        /* Lookups for every local user, as on the main socket (socketmap_server.h). */
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
socketmap_server_stop(struct socketmap_server *srv)
{
    if (!srv->listening)
        return;
    srv->listening = 0;
    while (srv->conns != NULL)
        conn_close(srv->conns);
    buf_free(&srv->out);
    uv_close((uv_handle_t *)&srv->listener, NULL);
    unlink(srv->opt.path);
}
