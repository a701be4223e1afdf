/*
 * The connections of one stream server, and what each server would otherwise write again: the
 * list of open connections and its cap, accepting (with the accept failures logged at most once a
 * minute), a timer per connection, closing (uv_close() of both handles, the memory freed when both
 * have closed), closing after the queued writes with a shutdown, writing with the output budget
 * of conn_limits.h charged for what the socket did not take at once and a throttle on a client's
 * unread answers, and closing every connection when the server stops. The socket API
 * (rpc_server.c), the HTTP port (http_server.c) and the socketmap (socketmap_server.c) each embed
 * a struct conn in their connection and keep the protocol to themselves: how bytes are framed,
 * parsed and answered, and what a timeout or a refusal says. Everything runs on the libuv loop;
 * nothing here blocks.
 *
 * Ownership and lifetime. This module allocates each connection's block (opt.conn_size bytes,
 * zeroed, the struct conn at opt.conn_offset) when it accepts, and frees it; the server never
 * frees it. After conn_close() the connection is CONN_PHASE_CLOSED: no callback of the server's
 * runs for it again except ops->release, which runs once, when libuv has closed both handles (and
 * so after every write and shutdown callback of the connection, which libuv ends with
 * UV_ECANCELED first); the block is freed right after it returns. So the server's part of a
 * closed connection stays valid until the loop runs again, and what the server's part owns
 * (buffers, a parser) is freed in ops->release. A server keeps no pointer to a connection past
 * ops->closing. The set, its options and ops must outlive the loop's run after conn_set_stop().
 *
 * How the servers use it: rpc_server.c and socketmap_server.c pack answers into a buffer of the
 * server's and hand it to conn_write() (rpc_server.c can hand the cached answers' bytes with a
 * prefix as several buffers: they are written with one writev and copied only when the socket
 * does not take them at once); their timer callback is conn_idle_expired() and a log line.
 * http_server.c passes the TCP and the Unix listener to one set (a connection's handle is the
 * listener's type), keeps its own request state beside phase (idle, request, reload, last), sets
 * first_timer_ms to the header timeout and drain_timer_ms to the idle timeout, and runs its two
 * timeouts and the drain deadline (drain_started) in its timer callback.
 */
#ifndef SMTPSTATUSD_CONN_H
#define SMTPSTATUSD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conn_limits.h"
#include "peer.h"

/* The server's struct that embeds the struct conn `c` as `member`. */
#define CONN_OWNER(c, type, member) ((type *)(void *)((char *)(c) - offsetof(type, member)))

struct conn;

/* The transport's part of a connection's state; the protocol's part is the server's. */
enum conn_phase {
    CONN_PHASE_OPEN,     /* served: read and answered as the server decides */
    CONN_PHASE_DRAINING, /* shut down once the queued writes have gone; nothing more is read */
    CONN_PHASE_CLOSED,   /* uv_close()d: freed when both handles have closed */
};

/* What the server does for its connections. Each callback runs on the loop and may close `c`. */
struct conn_ops {
    uv_alloc_cb alloc; /* reading (conn_read()); the handle's data is the struct conn */
    uv_read_cb read;
    /* Accepted and counted: set up the server's part (read the peer into c->peer, a parser).
     * Before the cap is looked at. May close c; NULL: nothing to set up. */
    void (*accepted)(struct conn *c);
    /* Accepted over opt.max_connections: say why, then conn_close_after_writes() (or
     * conn_close()). Not read from, and its timer is not started. */
    void (*refuse)(struct conn *c);
    /* The timer (conn_timer_start()) ran out on an open or draining connection: close it, or
     * start the timer again. */
    void (*timer)(struct conn *c);
    /* An open connection that waited on the output budget, or was throttled, may go on: the
     * budget has room, or the client read its answers down to half the queue limit. */
    void (*resume)(struct conn *c);
    /* Inside conn_close(), before anything is closed: forget c wherever the server keeps it (a
     * reload's waiter). NULL: nothing to forget. */
    void (*closing)(struct conn *c);
    /* Both handles have closed: free what the server's part owns. The block is freed when it
     * returns. NULL: it owns nothing. */
    void (*release)(struct conn *c);
};

struct conn_set_options {
    const struct conn_ops *ops;
    size_t conn_size;          /* bytes of the server's connection struct */
    size_t conn_offset;        /* where its struct conn is in it: offsetof() */
    const char *name;          /* the surface, for conn_limits_accepted(): "socket", "http" */
    const char *log_prefix;    /* begins this module's log lines: "", "http: ", "socketmap: " */
    unsigned max_connections;  /* refuse (ops->refuse) beyond this many open at once */
    unsigned idle_timeout_ms;  /* conn_idle_expired()'s limit */
    unsigned first_timer_ms;   /* the timer's first run after the accept; 0: idle_timeout_ms */
    unsigned drain_timer_ms;   /* 0: draining leaves the timer as it is; else it is started for
                                  this long when draining begins (a deadline on a client that
                                  does not read what is queued) */
    size_t write_queue_limit;  /* bytes a client may leave unread before it is throttled */
    struct conn_limits *limits; /* the output budget shared by every server, or NULL; outlives
                                   the set */
    uint64_t *open_count;  /* where open connections are counted (a statistic of the server's),
                              or NULL for the set's own */
    uint64_t *total_count; /* counts every accepted connection, or NULL */
};

struct conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;                        /* the listener's type: a pipe or a TCP connection */
    uv_timer_t timer;           /* one-shot: ops->timer */
    uv_shutdown_t shutdown;
    struct conn_set *set;
    struct conn_limits_conn budget; /* its part in the output budget */
    struct peer peer;           /* who connected, when ops->accepted read it: named in the log */
    enum conn_phase phase;
    /* The client left write_queue_limit bytes unread: set by conn_write(), cleared (and
     * ops->resume called) when a write ends and less than half is left. A server may set it
     * itself, and clear it when conn_write_queue() shows the client has read. */
    int throttled;
    int open_handles;       /* of the stream and the timer: the block is freed at 0 */
    uint64_t last_active;   /* loop time of the last whole request (conn_touch()), or accept */
    uint64_t drain_started; /* DRAINING: loop time it began or a write last ended */
    struct conn *prev, *next;
};

struct conn_set {
    uv_loop_t *loop;
    struct conn_set_options opt;
    struct conn *head;        /* the open connections */
    uint64_t *open;           /* opt.open_count, or &own_open */
    uint64_t own_open;
    uint64_t accept_logged_at; /* Unix seconds of the last "cannot accept" line */
};

/* Starts an empty set. Keeps a copy of *opt (the pointers in it must outlive the set). */
void conn_set_init(struct conn_set *set, uv_loop_t *loop, const struct conn_set_options *opt);

/* Listens on `listener` (bound, or an inherited socket), accepting into the set. Sets the
 * listener's data to the set. Returns 0 or uv_listen()'s error. */
int conn_set_listen(struct conn_set *set, uv_stream_t *listener, int backlog);

/* Binds `listener` (uv_pipe_init()ed by the caller) to the socket file `path`, replacing one
 * already there (the caller holds the run directory's lock, so such a file is a dead daemon's),
 * makes it mode 0666 (every local user may connect; the servers check a peer's credentials
 * where it matters), and listens as conn_set_listen() does. Returns 0 or a negative libuv
 * error; the caller closes the listener either way when it is done with it. */
int conn_set_listen_path(struct conn_set *set, uv_pipe_t *listener, const char *path,
                         int backlog);

/* Closes every connection (conn_close()). Their memory is freed when the loop runs again. */
void conn_set_stop(struct conn_set *set);

/* Connections open now. */
static inline uint64_t
conn_set_open(const struct conn_set *set)
{
    return *set->open;
}

/* Closes at once: uncounts, forgets c in the budget (what it holds stays counted until its
 * writes end), and uv_close()s both handles (see the lifetime at the top). Does nothing to a
 * closed connection. */
void conn_close(struct conn *c);

/* Stops reading and shuts the stream down after the writes already queued, then closes. Does
 * nothing unless c is open. */
void conn_close_after_writes(struct conn *c);

/*
 * Writes bufs[0..nbufs) after what c has queued: what the socket takes at once costs nothing
 * more; the rest is copied into a write of its own, charged to the budget until it ends. While
 * the budget is spent, everything goes through a write, so that c holds what it was sent and
 * waits (conn_limits.h). The caller's buffers are free again when this returns. Sets
 * c->throttled past opt.write_queue_limit. Returns 0 (also on a closed connection, which is
 * sent nothing), or -1 after closing c (a write error, or out of memory).
 */
int conn_write(struct conn *c, const uv_buf_t *bufs, unsigned nbufs);

/* Starts (on != 0) or stops reading with ops->alloc and ops->read. Only an open connection
 * reads; a change touches the poller, a repeat does nothing. */
void conn_read(struct conn *c, int on);

/* Whether c must wait before answering more: conn_limits_must_wait() (c is queued, and
 * ops->resume runs later). */
int conn_must_wait(struct conn *c);

/* Whether the budget is spent: a server then writes after every answer. */
int conn_budget_spent(const struct conn *c);

/* Bytes of c's writes that the client has not read yet. */
size_t conn_write_queue(const struct conn *c);

/* A whole request came: the idle time counts from now. Costs no timer operation. */
static inline void
conn_touch(struct conn *c)
{
    c->last_active = uv_now(c->h.handle.loop);
}

/* Runs ops->timer in `ms` (at least 1). Does nothing on a closed connection. */
void conn_timer_start(struct conn *c, uint64_t ms);

/* For ops->timer: whether c completed no request for opt.idle_timeout_ms (the caller then says
 * so and closes it); if not, starts the timer for the time left and returns 0. */
int conn_idle_expired(struct conn *c);

#endif
