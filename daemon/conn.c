/*
 * A stream server's connections (see conn.h).
 *
 * A connection holds two handles, the stream and its timer; it is freed when both have closed,
 * which libuv does after ending the stream's writes and shutdown. Writes go out with
 * uv_try_write() when the socket takes them, so that the usual answer costs no allocation and no
 * change to the poller; what is left waits in a write_req that owns a copy and is charged to the
 * output budget until libuv ends it.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ACCEPT_LOG_EVERY 60 /* seconds between two "cannot accept" lines */

/* "client pid 12 uid 1000", or "a client" when the kernel did not say, for the log. */
static const char *
who(const struct conn *c, char *buf, size_t size)
{
    if (!c->peer.known)
        return "a client";
    snprintf(buf, size, "client pid %ld uid %ld", (long)c->peer.pid, (long)c->peer.uid);
    return buf;
}

/* ---- closing ---------------------------------------------------------------------------- */

static void
on_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    const struct conn_set_options *opt = &c->set->opt;
    if (opt->ops->release != NULL)
        opt->ops->release(c);
    free((char *)c - opt->conn_offset);
}

void
conn_close(struct conn *c)
{
    if (c->phase == CONN_PHASE_CLOSED)
        return;
    c->phase = CONN_PHASE_CLOSED;
    struct conn_set *set = c->set;
    if (set->opt.ops->closing != NULL)
        set->opt.ops->closing(c);
    conn_limits_forget(set->opt.limits, &c->budget);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        set->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    (*set->open)--;
    uv_close(&c->h.handle, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    conn_limits_closed(set->opt.limits);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status; /* done or not, nothing more goes to this client */
    conn_close(req->data);
}

void
conn_close_after_writes(struct conn *c)
{
    if (c->phase != CONN_PHASE_OPEN)
        return;
    uv_read_stop(&c->h.stream);
    c->phase = CONN_PHASE_DRAINING;
    c->drain_started = uv_now(c->set->loop);
    if (c->set->opt.drain_timer_ms != 0)
        conn_timer_start(c, c->set->opt.drain_timer_ms);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) != 0)
        conn_close(c);
}

void
conn_set_stop(struct conn_set *set)
{
    while (set->head != NULL)
        conn_close(set->head);
}

/* ---- writing ------------------------------------------------------------------------------ */

struct write_req {
    uv_write_t req;
    size_t len;  /* charged to the output budget */
    char data[]; /* what the socket did not take at once */
};

static void
on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct conn *c = req->data;
    struct conn_set *set = c->set;
    size_t len = w->len;
    free(w);
    /* Before the release, which may resume others: their answers are not this one's. */
    if (status < 0 && c->phase != CONN_PHASE_CLOSED) {
        char buf[64];
        log_debug("%s%s: cannot write its answers: %s; closing its connection",
                  set->opt.log_prefix, who(c, buf, sizeof buf), uv_strerror(status));
        conn_close(c);
    }
    conn_limits_release(set->opt.limits, &c->budget, len);
    if (status < 0 || c->phase == CONN_PHASE_CLOSED)
        return;
    if (c->phase == CONN_PHASE_DRAINING) {
        /* A drain deadline is for a client that stopped reading, not for a slow one. */
        c->drain_started = uv_now(set->loop);
        return;
    }
    if (c->throttled && conn_write_queue(c) < set->opt.write_queue_limit / 2) {
        c->throttled = 0;
        set->opt.ops->resume(c);
    }
}

int
conn_write(struct conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
    struct conn_set *set = c->set;
    size_t len = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        if (bufs[i].len > SIZE_MAX - sizeof(struct write_req) - len) {
            conn_close(c);
            return -1;
        }
        len += bufs[i].len;
    }
    if (len == 0 || c->phase == CONN_PHASE_CLOSED)
        return 0;
    /* From the reserve, even what the socket would take goes through uv_write(): c then waits
     * for it to end, in the next turn of the loop. A client whose kernel buffers take megabytes
     * (loopback TCP) is so answered one answer a turn, in turn with everyone else, instead of
     * holding the loop until they are full. */
    int n = conn_limits_spent(set->opt.limits)
                ? UV_EAGAIN
                : uv_try_write(&c->h.stream, bufs, nbufs); /* UV_EAGAIN while writes wait */
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return -1;
    }
    size_t skip = n > 0 ? (size_t)n : 0;
    if (skip == len)
        return 0;
    size_t rest = len - skip;
    struct write_req *w = malloc(sizeof *w + rest);
    if (w == NULL) {
        log_error("%sout of memory answering a client; closing its connection",
                  set->opt.log_prefix);
        conn_close(c);
        return -1;
    }
    size_t at = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        memcpy(w->data + at, bufs[i].base + skip, bufs[i].len - skip);
        at += bufs[i].len - skip;
        skip = 0;
    }
    w->req.data = c;
    w->len = rest;
    uv_buf_t b;
    b.base = w->data;
    b.len = rest;
    if (uv_write(&w->req, &c->h.stream, &b, 1, on_write) != 0) {
        free(w);
        conn_close(c);
        return -1;
    }
    conn_limits_charge(set->opt.limits, &c->budget, rest);
    if (conn_write_queue(c) > set->opt.write_queue_limit)
        c->throttled = 1;
    return 0;
}

size_t
conn_write_queue(const struct conn *c)
{
    return uv_stream_get_write_queue_size(&c->h.stream);
}

int
conn_must_wait(struct conn *c)
{
    return conn_limits_must_wait(c->set->opt.limits, &c->budget);
}

int
conn_budget_spent(const struct conn *c)
{
    return conn_limits_spent(c->set->opt.limits);
}

/* ---- reading and the timer ------------------------------------------------------------------ */

void
conn_read(struct conn *c, int on)
{
    if (c->phase != CONN_PHASE_OPEN)
        return;
    /* libuv does nothing for a repeat: a second start is UV_EALREADY, a second stop 0. */
    if (on)
        uv_read_start(&c->h.stream, c->set->opt.ops->alloc, c->set->opt.ops->read);
    else
        uv_read_stop(&c->h.stream);
}

static void
on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->phase != CONN_PHASE_CLOSED)
        c->set->opt.ops->timer(c);
}

void
conn_timer_start(struct conn *c, uint64_t ms)
{
    if (c->phase != CONN_PHASE_CLOSED)
        uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0);
}

/* One-shot, re-armed for the time that is left, so that requests cost no timer operation (each
 * one changed the poller's registration in libuv). */
int
conn_idle_expired(struct conn *c)
{
    uint64_t timeout = c->set->opt.idle_timeout_ms, idle = uv_now(c->set->loop) - c->last_active;
    if (idle >= timeout)
        return 1;
    conn_timer_start(c, timeout - idle);
    return 0;
}

/* ---- accepting ------------------------------------------------------------------------------ */

/* The output budget has room again, or the client has read its answers. */
static void
on_budget(struct conn_limits_conn *b)
{
    struct conn *c = CONN_OWNER(b, struct conn, budget);
    if (c->phase == CONN_PHASE_OPEN)
        c->set->opt.ops->resume(c);
}

/* The budget and its reserve are spent, and c holds the most unread answers: closing it frees
 * them for clients that read (conn_limits.c logs it, rate-limited). */
static void
on_shed(struct conn_limits_conn *b)
{
    struct conn *c = CONN_OWNER(b, struct conn, budget);
    char buf[64];
    log_debug("%s%s: closing its connection: it holds the most unread answers",
              c->set->opt.log_prefix, who(c, buf, sizeof buf));
    conn_close(c);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct conn_set *set = listener->data;
    const struct conn_set_options *opt = &set->opt;
    if (status < 0) {
        /* Out of descriptors: libuv accepts and closes the pending connections with a
         * descriptor it keeps in reserve, and reports here only when even that fails. Either
         * way the connections already open go on being served. */
        uint64_t now = (uint64_t)time(NULL);
        if (now - set->accept_logged_at >= ACCEPT_LOG_EVERY) {
            log_warnx("%scannot accept a connection: %s (open: %llu)", opt->log_prefix,
                      uv_strerror(status), (unsigned long long)*set->open);
            set->accept_logged_at = now;
        }
        return;
    }
    char *block = calloc(1, opt->conn_size);
    struct conn *c = block != NULL ? (struct conn *)(block + opt->conn_offset) : NULL;
    int rc = c == NULL                     ? UV_ENOMEM
             : listener->type == UV_TCP ? uv_tcp_init(set->loop, &c->h.tcp)
                                        : uv_pipe_init(set->loop, &c->h.pipe, 0);
    if (rc != 0) {
        free(block);
        log_error("%sout of memory accepting a connection", opt->log_prefix);
        return;
    }
    c->set = set;
    c->h.handle.data = c;
    c->timer.data = c;
    c->budget.resume = on_budget;
    c->budget.shed = on_shed;
    c->open_handles = 2;
    uv_timer_init(set->loop, &c->timer);
    c->next = set->head;
    if (set->head != NULL)
        set->head->prev = c;
    set->head = c;
    (*set->open)++;
    if (opt->total_count != NULL)
        (*opt->total_count)++;
    if (uv_accept(listener, &c->h.stream) != 0) {
        conn_close(c);
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno(&c->h.handle, &fd) == 0)
        conn_limits_accepted(opt->limits, fd, opt->name);
    c->last_active = uv_now(set->loop);
    if (opt->ops->accepted != NULL) {
        opt->ops->accepted(c);
        if (c->phase != CONN_PHASE_OPEN)
            return;
    }
    if (*set->open > opt->max_connections) {
        opt->ops->refuse(c);
        return;
    }
    conn_timer_start(c, opt->first_timer_ms ? opt->first_timer_ms : opt->idle_timeout_ms);
    conn_read(c, 1);
}

void
conn_set_init(struct conn_set *set, uv_loop_t *loop, const struct conn_set_options *opt)
{
    memset(set, 0, sizeof *set);
    set->loop = loop;
    set->opt = *opt;
    set->open = opt->open_count != NULL ? opt->open_count : &set->own_open;
}

int
conn_set_listen(struct conn_set *set, uv_stream_t *listener, int backlog)
{
    listener->data = set;
    return uv_listen(listener, backlog, on_connection);
}

int
conn_set_listen_path(struct conn_set *set, uv_pipe_t *listener, const char *path, int backlog)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return uv_translate_sys_error(errno);
    int rc = uv_pipe_bind(listener, path);
    if (rc != 0)
        return rc;
    if (chmod(path, 0666) != 0)
        return uv_translate_sys_error(errno);
    return conn_set_listen(set, (uv_stream_t *)listener, backlog);
}
