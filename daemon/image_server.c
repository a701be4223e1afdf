/*
 * RUNDIR/image.sock (see image_server.h for the policy and its bound). The listening socket is
 * non-blocking and watched with a level-triggered uv_poll; each readiness accepts every pending
 * connection, sends the memfd with MSG_DONTWAIT (one byte always fits an empty socket buffer)
 * and keeps the connection in a fixed table until the client has read it. A timer polls the
 * held connections' send queues with SIOCOUTQ, one cheap ioctl each and at most
 * IMAGE_SERVER_MAX_HELD of them, because the kernel tells the sender nothing when the receiver
 * reads.
 */
#include "image_server.h"

#include <errno.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define WATCH_FAST_MS 10  /* while some hand-out is younger than STALE_MS: clients read at once */
#define WATCH_SLOW_MS 250 /* when all are older: counted until their clients read or go */
#define STALE_MS      2000

static void on_readable(uv_poll_t *h, int status, int events);

/* Says `what` at most once a minute: a peer can make these happen at will. */
static void
warn_rarely(struct image_server *s, const char *what)
{
    uint64_t now = (uint64_t)time(NULL);
    if (now - s->warn_logged_at < 60)
        return;
    s->warn_logged_at = now;
    log_warnx("%s: %s (%lu connection(s) refused so far)", s->path, what, s->refused);
}

static void
on_retry(uv_timer_t *t)
{
    struct image_server *s = t->data;
    if (!s->paused || s->fd < 0 || uv_is_closing((uv_handle_t *)&s->poll))
        return;
    if (uv_poll_start(&s->poll, UV_READABLE, on_readable) != 0) {
        uv_timer_start(&s->retry, on_retry, IMAGE_SERVER_RETRY_MS, 0);
        return;
    }
    s->paused = 0;
}

/* Stops the level-triggered poll, which would otherwise fire again at once for the connection
 * left in the backlog, until the retry timer or a closing held connection resumes it. */
static void
pause_accepting(struct image_server *s)
{
    if (s->paused)
        return;
    s->paused = 1;
    uv_poll_stop(&s->poll);
    uv_timer_start(&s->retry, on_retry, IMAGE_SERVER_RETRY_MS, 0);
}

static void
release_held(struct image_server *s, unsigned i)
{
    close(s->held[i].fd);
    s->held[i] = s->held[--s->nheld];
    conn_limits_closed(s->limits);
    if (s->paused) {
        /* A descriptor is free now: try the backlog without waiting for the timer. */
        uv_timer_stop(&s->retry);
        on_retry(&s->retry);
    }
}

static void on_watch(uv_timer_t *t);

static void
schedule_watch(struct image_server *s)
{
    if (s->nheld == 0) {
        uv_timer_stop(&s->watch);
        return;
    }
    uint64_t now = uv_now(s->watch.loop);
    uint64_t delay = WATCH_SLOW_MS;
    for (unsigned i = 0; i < s->nheld; i++)
        if (now - s->held[i].sent_ms < STALE_MS)
            delay = WATCH_FAST_MS;
    uv_timer_start(&s->watch, on_watch, delay, 0);
}

/* Closes each held connection whose message has left its send queue: read by the client, or
 * dropped by the kernel when the client closed. Only then is its descriptor no longer counted
 * against the daemon's user. */
static void
on_watch(uv_timer_t *t)
{
    struct image_server *s = t->data;
    for (unsigned i = 0; i < s->nheld;) {
        int queued = 0;
        if (ioctl(s->held[i].fd, SIOCOUTQ, &queued) != 0 || queued == 0)
            release_held(s, i); /* (takes the last entry into slot i) */
        else
            i++;
    }
    schedule_watch(s);
}

/* Sends the memfd on the new connection `c` (owned) and holds it, or closes it unsent when its
 * uid or the table is at its cap. */
static void
serve(struct image_server *s, int c)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        close(c);
        return;
    }
    unsigned same = 0;
    for (unsigned i = 0; i < s->nheld; i++)
        same += s->held[i].uid == cred.uid;
    if (same >= IMAGE_SERVER_MAX_PER_UID || s->nheld >= s->max_held) {
        s->refused++;
        close(c);
        if (same >= IMAGE_SERVER_MAX_PER_UID) {
            /* It only denies itself. */
            log_debug("%s: uid %ld has %u memfd hand-outs unread; this one gets none", s->path,
                      (long)cred.uid, same);
        } else {
            char what[160];
            snprintf(what, sizeof what,
                     "%u memfd hand-outs are unread (uid %ld connected last); new connections "
                     "get none until they are read",
                     s->nheld, (long)cred.uid);
            warn_rarely(s, what);
        }
        return;
    }
    int rc = publisher_send_image(s->publisher, c);
    if (rc != 0) {
        if (rc == -ETOOMANYREFS)
            warn_rarely(s, "cannot send the memfd: the daemon's user has too many descriptors in "
                           "flight (ETOOMANYREFS); clients copy the image file instead");
        else if (rc != -ENOENT && rc != -EPIPE && rc != -ECONNRESET)
            log_debug("%s: cannot send the image: %s", s->path, strerror(-rc));
        close(c);
        return;
    }
    s->served++;
    s->held[s->nheld++] =
        (struct image_server_held){.fd = c, .uid = cred.uid, .sent_ms = uv_now(s->watch.loop)};
    if (!uv_is_active((uv_handle_t *)&s->watch))
        uv_timer_start(&s->watch, on_watch, WATCH_FAST_MS, 0);
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct image_server *s = h->data;
    if (status < 0) {
        warn_rarely(s, uv_strerror(status));
        pause_accepting(s);
        return;
    }
    for (;;) {
        int c = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            serve(s, c);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE)
            conn_limits_out_of_fds(s->limits, IMAGE_SERVER_SOCKET_NAME);
        else
            warn_rarely(s, strerror(errno));
        /* The connection stays in the backlog, and the poll is level-triggered. */
        pause_accepting(s);
        return;
    }
}

static void on_closed(uv_handle_t *h);

int
image_server_start(struct image_server *s, uv_loop_t *loop, const char *path,
                   struct publisher *publisher, struct conn_limits *limits)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->publisher = publisher;
    s->limits = limits;
    struct rlimit rl;
    uint64_t nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                          ? (uint64_t)rl.rlim_cur
                          : UINT64_MAX;
    s->max_held =
        nofile / 4 < IMAGE_SERVER_MAX_HELD ? (unsigned)(nofile / 4) : IMAGE_SERVER_MAX_HELD;
    if (s->max_held == 0)
        s->max_held = 1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path || strlen(path) >= sizeof s->path)
        return -ENAMETOOLONG;
    snprintf(s->path, sizeof s->path, "%s", path);
    memcpy(sa.sun_path, path, strlen(path));
    int rc = uv_timer_init(loop, &s->retry);
    if (rc != 0)
        return rc;
    s->retry.data = s;
    s->open_handles = 1;
    if ((rc = uv_timer_init(loop, &s->watch)) != 0) {
        uv_close((uv_handle_t *)&s->retry, NULL);
        return rc;
    }
    s->watch.data = s;
    s->open_handles = 2;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        rc = -errno;
    else if (unlink(path) != 0 && errno != ENOENT)
        rc = -errno;
    else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(path, 0666) != 0 ||
             listen(fd, SOMAXCONN) != 0)
        rc = -errno;
    else
        rc = uv_poll_init(loop, &s->poll, fd);
    if (rc != 0) {
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        uv_close((uv_handle_t *)&s->retry, NULL);
        uv_close((uv_handle_t *)&s->watch, NULL);
        return rc;
    }
    s->poll.data = s;
    s->fd = fd;
    s->open_handles = 3;
    rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
    if (rc != 0)
        image_server_stop(s);
    return rc;
}

static void
on_closed(uv_handle_t *h)
{
    struct image_server *s = h->data;
    if (--s->open_handles > 0)
        return;
    close(s->fd);
    s->fd = -1;
    while (s->nheld > 0)
        close(s->held[--s->nheld].fd);
}

void
image_server_stop(struct image_server *s)
{
    if (s->fd < 0 || uv_is_closing((uv_handle_t *)&s->poll))
        return;
    /* Gone from the file system first: a client that finds its memfd superseded when the
     * daemon stops must not be handed the same one again. */
    unlink(s->path);
    uv_close((uv_handle_t *)&s->poll, on_closed);
    uv_close((uv_handle_t *)&s->retry, on_closed);
    uv_close((uv_handle_t *)&s->watch, on_closed);
}
