/*
 * What every client connection shares, on the socket API and the HTTP port alike: a budget of
 * answers held in the daemon's memory because their clients have not read them, and the
 * process's file descriptors. Each server charges the budget for the bytes it keeps in a
 * uv_write() and releases them when the write ends; while the budget is spent, a connection
 * waits (reading nothing) before its next request, and the waiters are resumed in turn once
 * enough has been released. When the load has gone the memory is given back to the system.
 * It also says in the log when an accepted connection took the last file descriptor, which
 * libuv would otherwise handle in silence (it closes the connections it cannot accept).
 */
#ifndef SMTPSTATUSD_CONN_LIMITS_H
#define SMTPSTATUSD_CONN_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CONN_LIMITS_DEFAULT_OUTPUT ((size_t)64 << 20) /* bytes: --max-output-buffer */

/* A connection waiting for the budget: embedded in the connection, which sets `resume`. */
struct conn_limits_waiter {
    struct conn_limits_waiter *prev, *next;
    void (*resume)(struct conn_limits_waiter *w); /* called on the loop, the waiter unlinked */
    int waiting;
};

struct conn_limits {
    size_t output_limit; /* bytes of unread answers, all connections together */
    size_t output_used;
    size_t output_high;                     /* the most used since memory was last given back */
    uint64_t output_pauses;                 /* connections paused because the budget was spent */
    struct conn_limits_waiter *head, *tail; /* FIFO */
    uv_timer_t trim;                        /* gives memory back a moment after the load has gone */
    int has_trim;
    uint64_t nofile;        /* RLIMIT_NOFILE's soft limit at start */
    int fds_exhausted;      /* an accepted connection took the last descriptor */
    uint64_t fds_logged_at; /* Unix seconds */
};

/* Reads a size for --max-output-buffer: bytes, or a number with K, M or G (powers of 1024), at
 * least 64K. Returns 0, or -1 with *out unchanged. */
int conn_limits_parse_size(const char *s, size_t *out);

/* Starts with a budget of `output_limit` bytes. The timer it keeps does not hold the loop
 * open. Returns 0 or a libuv error. */
int conn_limits_init(struct conn_limits *l, uv_loop_t *loop, size_t output_limit);

/* Closes the timer; waiters are forgotten (their servers close them). */
void conn_limits_close(struct conn_limits *l);

/* Counts n bytes kept for a write, or gives them back once the write has ended (done, failed
 * or cancelled). A release that leaves the budget three quarters free resumes waiters, first
 * come first served, for as long as it stays unspent: their callbacks run inside this call. */
void conn_limits_charge(struct conn_limits *l, size_t n);
void conn_limits_release(struct conn_limits *l, size_t n);

/* Whether a connection must wait before answering more, because the budget is spent. When it
 * must, it is queued in `w` (if not already) and 1 is returned; its resume callback runs
 * later. `l` NULL: never. */
int conn_limits_must_wait(struct conn_limits *l, struct conn_limits_waiter *w);

/* Takes a closing connection out of the queue. */
void conn_limits_cancel(struct conn_limits *l, struct conn_limits_waiter *w);

/* After accepting the connection on `fd`: logs when it took the last descriptor the process may
 * open (the next connections will be closed unanswered until some close). `what` names the
 * surface. Costs a system call only within 16 of the limit. */
void conn_limits_accepted(struct conn_limits *l, int fd, const char *what);

/* After closing a connection: logs that descriptors are free again, once, after exhaustion. */
void conn_limits_closed(struct conn_limits *l);

#endif
