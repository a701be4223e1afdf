/*
 * The socketmap server: RUNDIR/socketmap.sock, where Postfix's smtp_delivery_status_filter
 * (socketmap:unix:RUNDIR/socketmap.sock:status) and other socketmap clients look statuses and
 * reasons up. It cuts each connection's bytes into netstrings, has socketmap.c answer each one
 * from the image being served (the administrator's rules with it), and writes the answers back
 * in order. It holds the same limits as the protobuf server: a request size limit
 * (SOCKETMAP_REQUEST_MAX; beyond it, or on bytes that are not a netstring, a PERM answer and a
 * close), an idle timeout, a connection cap, a cap on a connection's unread answers, and the
 * daemon-wide output budget (conn_limits.h). Everything runs on the libuv loop; nothing here
 * blocks.
 *
 * The socket is mode 0666, as the protobuf socket is: it answers lookups alone, which every
 * local user may already make there, so Postfix's smtp client (user postfix) needs nothing
 * granted. Who may reach it is decided by the run directory, as for the main socket.
 */
#ifndef SMTPSTATUSD_SOCKETMAP_SERVER_H
#define SMTPSTATUSD_SOCKETMAP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "conn_limits.h"
#include "service.h"

#define SOCKETMAP_SOCKET_NAME "socketmap.sock"

struct socketmap_server_options {
    const char *path;          /* the socket file */
    unsigned idle_timeout_ms;  /* close connections that complete no request for this long */
    unsigned max_connections;  /* refuse more than this many at once */
    struct conn_limits *limits; /* the output budget shared with the other servers, or NULL;
                                   outlives the server */
};

struct socketmap_server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    struct service *svc;      /* svc->current is the image answers come from */
    struct socketmap_server_options opt;
    struct conn_set conns;    /* the open connections, their cap, timers and writes */
    uint64_t requests;        /* answered since start */
    int listening;
    struct buf out;           /* answers of the connection being served; empty between
                                 callbacks */
};

/*
 * Binds opt->path (replacing a stale socket file: the caller holds the run directory's lock),
 * makes it mode 0666 and listens. Returns 0 or a negative libuv error, with nothing left open.
 * `svc` must outlive the server.
 */
int socketmap_server_start(struct socketmap_server *srv, uv_loop_t *loop, struct service *svc,
                           const struct socketmap_server_options *opt);

/* Closes the listener and every connection and removes the socket file. The handles finish
 * closing when the loop runs again. Does nothing on a server that is not listening. */
void socketmap_server_stop(struct socketmap_server *srv);

#endif
