/*
 * RUNDIR/image.sock: hands each client that connects the descriptor of the sealed memfd that
 * holds the current registry image (publish.h), so that C clients map memory no file operation
 * can change. One message per connection: one byte with the descriptor in SCM_RIGHTS, sent
 * without waiting, then the connection is closed. The socket is mode 0666, as the main socket
 * is: the image is public to local users. Clients check the peer's uid (SO_PEERCRED) and the
 * memfd's seals before they map it.
 */
#ifndef SMTPSTATUSD_IMAGE_SERVER_H
#define SMTPSTATUSD_IMAGE_SERVER_H

#include <limits.h>

#include <uv.h>

#include "publish.h"

#define IMAGE_SERVER_SOCKET_NAME "image.sock"

struct image_server {
    uv_poll_t poll; /* on the listening socket */
    int fd;         /* the listening socket, owned; -1 when not listening */
    struct publisher *publisher;
    char path[PATH_MAX];
    unsigned long served; /* descriptors handed out */
};

/*
 * Listens on `path` (a stale socket there is replaced: the caller holds the run directory's
 * lock) and serves the memfd of `publisher` on `loop`. Returns 0 or a negative errno; on error
 * nothing is left listening. Never blocks.
 */
int image_server_start(struct image_server *s, uv_loop_t *loop, const char *path,
                       struct publisher *publisher);

/* Stops listening and removes the socket; the poll handle is closed on the loop. Does nothing
 * when the server is not listening. */
void image_server_stop(struct image_server *s);

#endif
