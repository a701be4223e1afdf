/*
 * The output budget and the descriptor watch that all connections share (see conn_limits.h).
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
    l->head = l->tail = NULL;
}

void
conn_limits_charge(struct conn_limits *l, size_t n)
{
    if (l == NULL)
        return;
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

void
conn_limits_release(struct conn_limits *l, size_t n)
{
    if (l == NULL)
        return;
    l->output_used -= n < l->output_used ? n : l->output_used;
    while (l->head != NULL && l->output_used <= l->output_limit / 4 * 3) {
        struct conn_limits_waiter *w = l->head;
        conn_limits_cancel(l, w);
        w->resume(w);
    }
    if (l->output_used == 0 && l->output_high >= TRIM_WORTH && l->has_trim)
        uv_timer_start(&l->trim, on_trim, TRIM_DELAY_MS, 0);
}

int
conn_limits_must_wait(struct conn_limits *l, struct conn_limits_waiter *w)
{
    if (l == NULL || l->output_used < l->output_limit)
        return 0;
    if (!w->waiting) {
        w->waiting = 1;
        w->next = NULL;
        w->prev = l->tail;
        if (l->tail != NULL)
            l->tail->next = w;
        else
            l->head = w;
        l->tail = w;
        l->output_pauses++;
    }
    return 1;
}

void
conn_limits_cancel(struct conn_limits *l, struct conn_limits_waiter *w)
{
    if (l == NULL || !w->waiting)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->prev = w->next = NULL;
    w->waiting = 0;
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
    if (errno != EMFILE)
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
