/*
 * RUNDIR/image.sock (see image_server.h). The listening socket is non-blocking and watched with
 * uv_poll; each readiness accepts every pending connection, sends the memfd with MSG_DONTWAIT
 * and closes. A message of one byte always fits an empty socket buffer, so a client that never
 * reads costs a descriptor in flight and nothing else; any send error just closes.
 */
#include "image_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static void
on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct image_server *s = h->data;
    if (status < 0) {
        log_warnx("%s: %s", s->path, uv_strerror(status));
        return;
    }
    for (;;) {
        int c = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warnx("%s: accept: %s", s->path, strerror(errno));
            return;
        }
        int rc = publisher_send_image(s->publisher, c);
        if (rc == 0)
            s->served++;
        else if (rc != -ENOENT && rc != -EPIPE && rc != -ECONNRESET)
            log_debug("%s: cannot send the image: %s", s->path, strerror(-rc));
        close(c);
    }
}

static void on_closed(uv_handle_t *h);

int
image_server_start(struct image_server *s, uv_loop_t *loop, const char *path,
                   struct publisher *publisher)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->publisher = publisher;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path || strlen(path) >= sizeof s->path)
        return -ENAMETOOLONG;
    snprintf(s->path, sizeof s->path, "%s", path);
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT)
        rc = -errno;
    else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(path, 0666) != 0 ||
             listen(fd, SOMAXCONN) != 0)
        rc = -errno;
    else
        rc = uv_poll_init(loop, &s->poll, fd);
    if (rc != 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    s->poll.data = s;
    s->fd = fd;
    rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
    if (rc != 0)
        image_server_stop(s);
    return rc;
}

static void
on_closed(uv_handle_t *h)
{
    struct image_server *s = h->data;
    close(s->fd);
    s->fd = -1;
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
}
