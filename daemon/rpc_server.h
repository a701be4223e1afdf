/*
 * The Unix socket server of the protobuf API: accepts local clients, cuts their byte streams
 * into frames (proto/FRAMING.md), hands each Request to service.c and writes the Responses back
 * in request order. It owns the limits that keep one client from hurting the others: a frame
 * size limit, an idle timeout, a connection cap, a cap on unread responses (a client that
 * pipelines without reading is paused), and a clear error and close for bytes that are not a
 * frame. Everything runs on the libuv loop and nothing here blocks.
 */
#ifndef SMTPSTATUSD_RPC_SERVER_H
#define SMTPSTATUSD_RPC_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "answer_cache.h"
#include "conn.h"
#include "conn_limits.h"
#include "diag.h"
#include "metrics.h"
#include "service.h"

struct rpc_conn;

#define RPC_OUT_PIECES 64 /* buffers of one write: a prefix and a kept answer per answer */

/* Called when an authorized client asks for a reload. The daemon starts it (off the loop) and
 * later calls rpc_server_reload_done() with the same `waiter`. `dir` is NULL for the configured
 * directory; another must be one that root, the daemon's user or `requester` (the client's
 * uid) wrote. Returns 0, or -1 when the reload could not be started (the client gets an
 * error). */
typedef int (*rpc_reload_fn)(void *arg, struct rpc_conn *waiter, const char *dir, uid_t requester);

struct rpc_server_options {
    const char *path;          /* the socket file */
    int has_listen_fd;         /* 1: serve listen_fd, which is already bound and listening */
    int listen_fd;             /* (socket activation); the server owns it then, and neither
                                  chmods nor removes `path` */
    size_t frame_limit;        /* bytes of one message; SMTPSTATUS_FRAME_LIMIT_DEFAULT */
    unsigned idle_timeout_ms;  /* close connections idle this long */
    unsigned max_connections;  /* refuse more than this many at once */
    struct latency_histogram *latency; /* where answer times are counted, or NULL */
    struct conn_limits *limits; /* the output budget and descriptor watch shared with the HTTP
                                   port, or NULL for none; outlives the server */
};

struct rpc_server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    struct service *svc;
    struct rpc_server_options opt;
    rpc_reload_fn reload;
    void *reload_arg;
    struct conn_set conns;    /* the open connections, their cap, timers and writes */
    struct rpc_conn *waiter;  /* the connection a running reload will answer, or NULL */
    int listening;
    struct arena arena;       /* for the response being built; reset after each */
    /* The answers queued for the connection being served, empty between callbacks: pieces of
     * `out` (packed answers, and the prefixes of kept ones) and kept answers in `cache`, which
     * go out in one write. */
    unsigned char *out;       /* owned */
    size_t out_len, out_cap;
    struct rpc_out_piece {
        const unsigned char *kept; /* a kept answer's bytes, or NULL for out[off..off+len) */
        size_t off, len;
    } pieces[RPC_OUT_PIECES];
    size_t piece_count;
    size_t queued;            /* bytes in the pieces */
    size_t kept_pieces;       /* pieces that point into the cache, which must not change then */
    struct answer_cache cache; /* answers to registry questions of the generation served */
};

/*
 * Binds opt->path (replacing a stale socket file: the caller holds the run directory's lock),
 * makes it mode 0666, and listens; or, with opt->has_listen_fd, serves opt->listen_fd as it is
 * (its owner, systemd's smtpstatusd.socket, set its path and mode). Returns 0 or a negative
 * libuv error; on error nothing is left open (an inherited descriptor is closed). `svc` must
 * outlive the server.
 */
int rpc_server_start(struct rpc_server *srv, uv_loop_t *loop, struct service *svc,
                     const struct rpc_server_options *opt, rpc_reload_fn reload,
                     void *reload_arg);

/* Closes the listener and every connection, and removes the socket file unless it came from
 * the service manager (which keeps listening on it, to start the daemon again). The handles
 * finish closing when the loop runs again. */
void rpc_server_stop(struct rpc_server *srv);

/* Answers the reload request that `waiter` is waiting on (see rpc_reload_fn), and resumes that
 * connection. A waiter whose client has gone is forgotten, not answered. */
void rpc_server_reload_done(struct rpc_server *srv, struct rpc_conn *waiter, int ok,
                            const struct diag *d);

#endif
