/*
 * RUNDIR/image.sock: hands each client that connects the descriptor of the sealed memfd that
 * holds the current registry image (publish.h), so that C clients map memory no file operation
 * can change. One message per connection: one byte with the descriptor in SCM_RIGHTS, sent
 * without waiting. The socket is mode 0666, as the main socket is: the image is public to local
 * users. Clients check the peer's uid (SO_PEERCRED) and the memfd's seals before they map it.
 *
 * The bound. The kernel counts every descriptor sent and not yet received against the SENDER's
 * user, and once that count passes the sender's RLIMIT_NOFILE every sendmsg(SCM_RIGHTS) fails
 * with ETOOMANYREFS (the unit runs without capabilities). So the server keeps each connection it
 * sent to open, in a fixed table, until its end's send queue is empty (SIOCOUTQ 0: the client
 * read the message, or closed and the kernel dropped it) — however long that takes, since a
 * descriptor the client leaves unread stays counted whether or not the daemon closes its end.
 * Connections sent to more than 2 s ago are checked less often but stay counted. A connection
 * from a uid (SO_PEERCRED) that already has IMAGE_SERVER_MAX_PER_UID such hand-outs, or arriving
 * while the table holds max_held, is closed without a descriptor (its client copies the image
 * file instead). Hence the descriptors this server has in flight, and the descriptors it holds
 * open for them, are at most
 *
 *     max_held = min(IMAGE_SERVER_MAX_HELD, RLIMIT_NOFILE / 4)   (at least 1)
 *
 * and one uid pins at most IMAGE_SERVER_MAX_PER_UID of them: a client that never reads denies
 * the memfd to its own uid, and it takes max_held / IMAGE_SERVER_MAX_PER_UID uids to deny it to
 * the rest. When accept() fails for want of descriptors, the listener is paused (it is level-
 * triggered) and retried after IMAGE_SERVER_RETRY_MS or as soon as a held connection closes.
 */
#ifndef SMTPSTATUSD_IMAGE_SERVER_H
#define SMTPSTATUSD_IMAGE_SERVER_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "conn_limits.h"
#include "publish.h"

#define IMAGE_SERVER_SOCKET_NAME "image.sock"
#define IMAGE_SERVER_MAX_HELD    64  /* hand-outs not yet read, all uids together */
#define IMAGE_SERVER_MAX_PER_UID 8   /* hand-outs not yet read, one uid */
#define IMAGE_SERVER_RETRY_MS    100 /* after accept() ran out of descriptors */

/* A connection sent the memfd whose client has not read it yet. */
struct image_server_held {
    int fd;           /* the daemon's end, owned */
    uid_t uid;        /* the peer's, from SO_PEERCRED at accept */
    uint64_t sent_ms; /* uv_now() when sent */
};

struct image_server {
    uv_poll_t poll;   /* on the listening socket */
    uv_timer_t retry; /* resumes the poll after accept() ran out of descriptors */
    uv_timer_t watch; /* checks the held connections' send queues */
    int fd;           /* the listening socket, owned; -1 when not listening */
    int open_handles; /* of poll, retry and watch: the last to close closes the descriptors */
    int paused;       /* the poll is stopped for want of descriptors */
    struct publisher *publisher;
    struct conn_limits *limits; /* for the rate-limited out-of-descriptors log; may be NULL */
    char path[PATH_MAX];
    unsigned long served;    /* descriptors handed out */
    unsigned long refused;   /* connections closed unsent: their uid or the table was full */
    uint64_t warn_logged_at; /* Unix seconds: ETOOMANYREFS and refusals, once a minute */
    unsigned max_held;
    unsigned nheld;
    struct image_server_held held[IMAGE_SERVER_MAX_HELD];
};

/*
 * Listens on `path` (a stale socket there is replaced: the caller holds the run directory's
 * lock) and serves the memfd of `publisher` on `loop`. `limits` (may be NULL) is only used from
 * the loop's callbacks, so it may be initialized after this call, before the loop runs. Returns
 * 0 or a negative errno; on error nothing is left listening. Never blocks.
 */
int image_server_start(struct image_server *s, uv_loop_t *loop, const char *path,
                       struct publisher *publisher, struct conn_limits *limits);

/* Stops listening and removes the socket; the handles are closed on the loop, and with the last
 * of them the held connections. Does nothing when the server is not listening. */
void image_server_stop(struct image_server *s);

#endif
