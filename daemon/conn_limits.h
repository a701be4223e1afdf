/*
 * What every client connection shares, on the socket API and the HTTP port alike: a budget of
 * answers held in the daemon's memory because their clients have not read them, and the
 * process's file descriptors. Each server charges the budget for the bytes it keeps in a
 * uv_write() and releases them when the write ends. The budget is fair: while it is spent, only
 * the connections holding unread answers (the ones that spent it) wait, reading nothing, before
 * their next request; a connection holding nothing is still served from a reserve above the
 * budget, one answer at a time, each handed to uv_write() (so it holds it, and waits, until the
 * next turn of the loop: many clients are answered in turn, whatever their kernels buffer).
 * When the reserve is spent too, the connections holding the most are closed, which frees what
 * they held, so that clients that read are answered however many do not. Waiters are resumed
 * when their own answers have been read, or in turn once the budget is three quarters free.
 * When the load has gone the memory is given back to the system. It also says in the log when
 * an accepted connection took the last file descriptor, which libuv would otherwise handle in
 * silence (it closes the connections it cannot accept).
 *
 * The bound. Let B be --max-output-buffer, R the reserve (B/8, at least CONN_LIMITS_RESERVE_MIN)
 * and A the largest answer (a list of every code: tens of KiB). The bytes held for unread
 * answers, output_used, stay below B + R + A at the start of each turn of the libuv loop; within
 * a turn, each connection answered from the reserve may add one more answer (a closed
 * connection's bytes are freed when libuv ends its writes, at the end of the turn). So:
 *
 *     output_used <= B + R + A * (1 + connections answered from the reserve in one turn)
 *
 * It holds because a connection answers a request only when the budget is unspent (and then
 * packs at most CONN_LIMITS_RESERVE_MIN of answers before it writes and is charged), or when it
 * holds nothing, after closing the largest holders until less than B + R is held by
 * connections still open; from the reserve it writes every answer with uv_write(), which makes
 * it a holder, which waits until the write ends.
 */
#ifndef SMTPSTATUSD_CONN_LIMITS_H
#define SMTPSTATUSD_CONN_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CONN_LIMITS_DEFAULT_OUTPUT ((size_t)64 << 20)  /* bytes: --max-output-buffer */
#define CONN_LIMITS_RESERVE_MIN    ((size_t)256 << 10) /* bytes: the servers' write chunk */

/* One connection's part in the budget: embedded in the connection, which sets `resume` and
 * `shed`. */
struct conn_limits_conn {
    struct conn_limits_conn *prev, *next;       /* in the waiters' FIFO, while `waiting` */
    struct conn_limits_conn *hprev, *hnext;     /* among the holders, while `held` > 0 and open */
    size_t held;                                /* bytes of its answers charged and not released */
    void (*resume)(struct conn_limits_conn *c); /* called on the loop, `c` no longer waiting */
    void (*shed)(struct conn_limits_conn *c);   /* closes the connection: it holds the most */
    int waiting;
    int closed; /* forgotten: what it still holds is freed when its writes end */
};

struct conn_limits {
    size_t output_limit;    /* B: bytes of unread answers, all connections together */
    size_t output_reserve;  /* R: served only to connections holding nothing */
    size_t output_used;     /* bytes in writes not yet ended, closed connections' included */
    size_t output_closed;   /* of which closed connections' (freed at the end of the turn) */
    size_t output_high;     /* the most used since memory was last given back */
    uint64_t output_pauses; /* connections paused because the budget was spent */
    uint64_t output_shed;   /* connections closed because they held the most */
    unsigned waiting;       /* connections paused now */
    struct conn_limits_conn *head, *tail; /* waiters, FIFO */
    struct conn_limits_conn *holders;     /* open connections holding unread answers */
    uv_timer_t trim;                      /* gives memory back a moment after the load has gone */
    int has_trim;
    uint64_t shed_logged_at; /* Unix seconds */
    uint64_t shed_unlogged;  /* closed since the last log line */
    uint64_t nofile;         /* RLIMIT_NOFILE's soft limit at start */
    int fds_exhausted;       /* an accepted connection took the last descriptor */
    uint64_t fds_logged_at;  /* Unix seconds */
};

/* Reads a size for --max-output-buffer: bytes, or a number with K, M or G (powers of 1024), at
 * least 64K. Returns 0, or -1 with *out unchanged. */
int conn_limits_parse_size(const char *s, size_t *out);

/* Starts with a budget of `output_limit` bytes and its reserve. The timer it keeps does not hold
 * the loop open. Returns 0 or a libuv error. */
int conn_limits_init(struct conn_limits *l, uv_loop_t *loop, size_t output_limit);

/* Closes the timer; waiters and holders are forgotten (their servers close them). */
void conn_limits_close(struct conn_limits *l);

/* Counts n bytes that `c` keeps for a write, or gives them back once the write has ended
 * (done, failed or cancelled; also for a closed connection). A release that leaves `c` holding
 * nothing resumes it if it waits; one that leaves the budget three quarters free resumes
 * waiters, first come first served, for as long as it stays so. Their callbacks run inside this
 * call. `l` NULL: nothing. */
void conn_limits_charge(struct conn_limits *l, struct conn_limits_conn *c, size_t n);
void conn_limits_release(struct conn_limits *l, struct conn_limits_conn *c, size_t n);

/* Whether the budget is spent: a connection answering from the reserve should then write after
 * every answer, so that it holds at most one before it waits. `l` NULL: never. */
int conn_limits_spent(const struct conn_limits *l);

/* Whether `c` must wait before answering more: the budget is spent and `c` holds unread
 * answers. Then `c` is queued (if not already) and 1 is returned; its resume callback runs
 * later. A connection holding nothing is not kept waiting: when the reserve is spent, the
 * connections holding the most are closed first (their shed callbacks run inside this call,
 * and it is logged at most every 10 seconds). `l` NULL: never. */
int conn_limits_must_wait(struct conn_limits *l, struct conn_limits_conn *c);

/* Forgets a closing connection: takes it out of the queue and from among the holders. What it
 * holds stays counted until its writes end and release it. Does nothing the second time. */
void conn_limits_forget(struct conn_limits *l, struct conn_limits_conn *c);

/* After accepting the connection on `fd`: logs when it took the last descriptor the process may
 * open (the next connections will be closed unanswered until some close). `what` names the
 * surface. Costs a system call only within 16 of the limit. */
void conn_limits_accepted(struct conn_limits *l, int fd, const char *what);

/* When accept() itself failed with EMFILE or ENFILE on a surface whose listener the caller
 * pauses: the same log line as conn_limits_accepted(), at most once a minute. `l` NULL:
 * nothing. */
void conn_limits_out_of_fds(struct conn_limits *l, const char *what);

/* After closing a connection: logs that descriptors are free again, once, after exhaustion. */
void conn_limits_closed(struct conn_limits *l);

#endif
