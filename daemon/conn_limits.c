/*
 * The output budget, its reserve, and the descriptor watch that all connections share (see
 * conn_limits.h for the policy and its bound).
 */
#include "conn_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define TRIM_DELAY_MS 1000       /* the load has gone when the budget stays this quiet */
#define TRIM_WORTH    (1u << 20) /* bytes charged at once that make a trim worth it */

int
conn_limits_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end != '\0' && end[1] == '\0')
        shift = *end == 'K' || *end == 'k'   ? 10
                : *end == 'M' || *end == 'm' ? 20
                : *end == 'G' || *end == 'g' ? 30
                                             : 64;
    if (errno != 0 || end == s || s[0] == '-' || shift == 64 || (*end != '\0' && shift == 0) ||
        v > (SIZE_MAX >> shift) || (v << shift) < 65536)
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

int
conn_limits_init(struct conn_limits *l, uv_loop_t *loop, size_t output_limit)
{
    *l = (struct conn_limits){.output_limit = output_limit};
    l->output_reserve =
        output_limit / 8 > CONN_LIMITS_RESERVE_MIN ? output_limit / 8 : CONN_LIMITS_RESERVE_MIN;
    struct rlimit rl;
    l->nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                    ? (uint64_t)rl.rlim_cur
                    : UINT64_MAX;
    int rc = uv_timer_init(loop, &l->trim);
    if (rc != 0)
        return rc;
    l->has_trim = 1;
    l->trim.data = l;
    uv_unref((uv_handle_t *)&l->trim);
    return 0;
}

void
conn_limits_close(struct conn_limits *l)
{
    if (l->has_trim)
        uv_close((uv_handle_t *)&l->trim, NULL);
    l->has_trim = 0;
    l->head = l->tail = l->holders = NULL;
    l->waiting = 0;
}

static void
unlink_holder(struct conn_limits *l, struct conn_limits_conn *c)
{
    if (c->hprev != NULL)
        c->hprev->hnext = c->hnext;
    else if (l->holders == c)
        l->holders = c->hnext;
    if (c->hnext != NULL)
        c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
}

void
conn_limits_charge(struct conn_limits *l, struct conn_limits_conn *c, size_t n)
{
    if (l == NULL || n == 0)
        return;
    if (c->held == 0 && !c->closed) {
        c->hprev = NULL;
        c->hnext = l->holders;
        if (l->holders != NULL)
            l->holders->hprev = c;
        l->holders = c;
    }
    c->held += n;
    l->output_used += n;
    if (l->output_used > l->output_high)
        l->output_high = l->output_used;
}

/* Answers sent in a burst leave glibc's heap grown, and free() alone hands little of it back:
 * a burst of 300 clients' answers would stay in the daemon's RSS for good. */
static void
on_trim(uv_timer_t *t)
{
    struct conn_limits *l = t->data;
    if (l->output_used >= TRIM_WORTH)
        return; /* the load came back: the next quiet moment will do */
    malloc_trim(0);
    log_debug("gave memory back after %zu bytes of unread answers", l->output_high);
    l->output_high = l->output_used;
}

static void
unqueue(struct conn_limits *l, struct conn_limits_conn *c)
{
    if (!c->waiting)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->waiting = 0;
    l->waiting--;
}

void
conn_limits_release(struct conn_limits *l, struct conn_limits_conn *c, size_t n)
{
    if (l == NULL)
        return;
    if (n > c->held)
        n = c->held; /* (cannot happen: every release follows its charge) */
    c->held -= n;
    l->output_used -= n;
    if (c->closed)
        l->output_closed -= n;
    else if (c->held == 0) {
        unlink_holder(l, c);
        /* It has read all it was sent: it no longer spends the budget, so it waits no more. */
        if (c->waiting) {
            unqueue(l, c);
            c->resume(c);
        }
    }
    while (l->head != NULL && l->output_used <= l->output_limit / 4 * 3) {
        struct conn_limits_conn *w = l->head;
        unqueue(l, w);
        w->resume(w);
    }
    if (l->output_used == 0 && l->output_high >= TRIM_WORTH && l->has_trim)
        uv_timer_start(&l->trim, on_trim, TRIM_DELAY_MS, 0);
}

int
conn_limits_spent(const struct conn_limits *l)
{
    return l != NULL && l->output_used >= l->output_limit;
}

/* Closes the open connection holding the most unread answers: a linear walk, as this happens
 * only when the budget and its reserve are spent, and each one closed frees the most there is
 * to free. */
static void
shed_largest(struct conn_limits *l)
{
    struct conn_limits_conn *hog = l->holders;
    for (struct conn_limits_conn *h = hog->hnext; h != NULL; h = h->hnext)
        if (h->held > hog->held)
            hog = h;
    size_t held = hog->held;
    conn_limits_forget(l, hog); /* first: the loop that called this ends even if shed() does not */
    l->output_shed++;
    l->shed_unlogged++;
    uint64_t now = (uint64_t)time(NULL);
    if (now - l->shed_logged_at >= 10) {
        log_warnx("closed %llu connection(s) holding the most unread answers (the last held "
                  "%zu bytes): clients that do not read spent the output budget of %zu bytes "
                  "and its reserve of %zu (%llu closed so far)",
                  (unsigned long long)l->shed_unlogged, held, l->output_limit, l->output_reserve,
                  (unsigned long long)l->output_shed);
        l->shed_logged_at = now;
        l->shed_unlogged = 0;
    }
    hog->shed(hog);
}

int
conn_limits_must_wait(struct conn_limits *l, struct conn_limits_conn *c)
{
    if (l == NULL || l->output_used < l->output_limit)
        return 0;
    if (c->held == 0) {
        /* It spent none of the budget: serve it from the reserve, making room there by
         * closing those that spent the most. (What they hold is freed at the end of this turn
         * of the loop, so only what open connections hold counts against the reserve.) */
        while (l->holders != NULL &&
               l->output_used - l->output_closed >= l->output_limit + l->output_reserve)
            shed_largest(l);
        return 0;
    }
    if (!c->waiting) {
        c->waiting = 1;
        c->next = NULL;
        c->prev = l->tail;
        if (l->tail != NULL)
            l->tail->next = c;
        else
            l->head = c;
        l->tail = c;
        l->waiting++;
        l->output_pauses++;
    }
    return 1;
}

void
conn_limits_forget(struct conn_limits *l, struct conn_limits_conn *c)
{
    if (l == NULL || c->closed)
        return;
    unqueue(l, c);
    if (c->held > 0)
        unlink_holder(l, c);
    c->closed = 1;
    l->output_closed += c->held;
}

void
conn_limits_accepted(struct conn_limits *l, int fd, const char *what)
{
    /* Descriptors are handed out lowest first, so one near the limit means few are left; only
     * then is it worth asking for another to see whether any is. */
    if (l == NULL || fd < 0 || (uint64_t)fd + 16 < l->nofile)
        return;
    int probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (probe >= 0) {
        close(probe);
        return;
    }
    if (errno == EMFILE)
        conn_limits_out_of_fds(l, what);
}

void
conn_limits_out_of_fds(struct conn_limits *l, const char *what)
{
    if (l == NULL)
        return;
    uint64_t now = (uint64_t)time(NULL);
    if (now - l->fds_logged_at < 60)
        return; /* a limit hit over and over is said once a minute, with its recovery */
    l->fds_logged_at = now;
    l->fds_exhausted = 1;
    log_warnx("%s: out of file descriptors (limit %llu): new connections are closed unanswered "
              "until some close; raise the limit (LimitNOFILE=) or lower --max-connections",
              what, (unsigned long long)l->nofile);
}

void
conn_limits_closed(struct conn_limits *l)
{
    if (l == NULL || !l->fds_exhausted)
        return;
    l->fds_exhausted = 0;
    log_info("a file descriptor is free again: accepting connections");
}
