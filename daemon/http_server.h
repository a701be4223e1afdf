/*
 * The JSON debug port's transport: HTTP/1.1 listeners on loopback TCP (and optionally a Unix
 * socket in the run directory, for curl --unix-socket) on the daemon's libuv loop. Requests are
 * parsed with llhttp and answered by http_api.c; the answers to the requests of one read go out
 * in one write, in request order (keep-alive and pipelining). It owns the limits that keep a
 * client from hurting the others: URI, header and body limits (414, 431, 413), a header timeout
 * and an idle timeout (which also bounds a close waiting on a client that does not read), a
 * connection cap, a cap on unread answers, and a 400 and a close for bytes that are not HTTP.
 * Nothing here blocks.
 */
#ifndef SMTPSTATUSD_HTTP_SERVER_H
#define SMTPSTATUSD_HTTP_SERVER_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "conn.h"
#include "conn_limits.h"
#include "diag.h"
#include "http_api.h"
#include "metrics.h"
#include "service.h"

struct http_conn;

/* Called for an allowed POST /v1/reload. The daemon starts the reload (off the loop) and later
 * calls http_server_reload_done() with the same `waiter`. `dir` is NULL for the configured
 * directory; another must be one that root, the daemon's user or `requester` (the peer's uid)
 * wrote. Returns 0, or a negative errno when no reload was started (-EBUSY, -EINVAL). */
typedef int (*http_reload_fn)(void *arg, struct http_conn *waiter, const char *dir,
                              uid_t requester);

struct http_server_options {
    int tcp;                      /* listen on `addr` */
    struct sockaddr_storage addr; /* from http_server_parse_address() */
    const char *unix_path;        /* also listen here; NULL: no Unix socket */
    unsigned header_timeout_ms;   /* a request must arrive whole within this */
    unsigned idle_timeout_ms;     /* close a connection with no request for this long */
    unsigned max_connections;     /* answer 503 and close beyond this many */
    int admin;                    /* enable POST /v1/reload (--http-admin) */
    struct conn_limits *limits;   /* the output budget and descriptor watch shared with the
                                     socket API, or NULL for none; outlives the server */
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    int has_tcp, has_pipe, listening;
    struct http_server_options opt;
    struct http_api api;
    http_reload_fn reload;
    void *reload_arg;
    struct conn_set conns;              /* the connections of both listeners */
    struct http_conn *waiter;           /* the connection a running reload will answer, or NULL */
    char address[INET6_ADDRSTRLEN + 8]; /* the TCP address bound, "127.0.0.1:3463" */
    char *read_buf;                     /* one read's bytes, shared: owned, HTTP_READ_SIZE bytes */
    struct buf body;                    /* the answer being built, shared: owned */
};

/*
 * Parses "ADDR:PORT" ("127.0.0.1:3463", "[::1]:0", "localhost:3463") into *out. Returns 0, or
 * -1 with the reason in err[0..err_size). *loopback is set when the address is a loopback one.
 */
int http_server_parse_address(const char *spec, struct sockaddr_storage *out, int *loopback,
                              char *err, size_t err_size);

/*
 * Binds and listens (a stale Unix socket file is replaced: the caller holds the run directory's
 * lock). Returns 0, or a negative libuv error with what failed in err[0..err_size); nothing is
 * left open then. `svc` and `metrics` must outlive the server. After success, srv->address is
 * the bound TCP address, with the port the kernel chose for port 0.
 */
int http_server_start(struct http_server *srv, uv_loop_t *loop, struct service *svc,
                      struct metrics *metrics, const struct http_server_options *opt,
                      http_reload_fn reload, void *reload_arg, char *err, size_t err_size);

/* Closes the listeners and every connection, and removes the Unix socket file. The handles
 * finish closing when the loop runs again. Does nothing for a server that is not listening. */
void http_server_stop(struct http_server *srv);

/* Answers the reload that `waiter` waits on (see http_reload_fn) and resumes that connection.
 * A waiter whose client has gone, or NULL, is forgotten. */
void http_server_reload_done(struct http_server *srv, struct http_conn *waiter, int ok,
                             const struct diag *d);

#endif
