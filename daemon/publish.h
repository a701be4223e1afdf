/*
 * Publishing the served registry as a shared image file, RUNDIR/registry, which clients map
 * read-only and read without asking the daemon (DESIGN.md, "The compiled image and shared
 * memory"; proto/smtpstatus_image.h).
 *
 * The protocol, in order:
 *  1. The new image is written whole to RUNDIR/registry.new (mode 0644, created exclusively).
 *  2. It is renamed over RUNDIR/registry, so whoever opens `registry` gets a complete image.
 *  3. Only then the previous image's `superseded` word is set, with a release store, to the new
 *     generation. Clients load it with acquire semantics and move to the new file.
 * A published file is never truncated or written again, other than that one word. On shutdown
 * the image stays, so clients that start while no daemon runs have a registry to copy.
 *
 * The same image also goes into a sealed memfd, one per generation (named after the file, so
 * that /proc/PID/maps shows what it is). That memfd, not the file, is what C clients map while
 * the daemon runs: they receive its descriptor over RUNDIR/image.sock (image_server.c). The
 * file can be truncated or rewritten by anyone with root's rights (`cp backup registry`), and a
 * client mapping it would die of SIGBUS or read changed offsets; the memfd is sealed against
 * shrinking, growing and any new write, so what a client validated once stays as it was. The
 * daemon keeps the one writable mapping of its header, made before sealing
 * (F_SEAL_FUTURE_WRITE leaves it writable), for the `superseded` store. Step 3 above applies to
 * the memfd too, after the next memfd is the one image.sock hands out.
 */
#ifndef SMTPSTATUSD_PUBLISH_H
#define SMTPSTATUSD_PUBLISH_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define PUBLISH_IMAGE_NAME "registry"

struct publisher {
    char path[PATH_MAX];     /* RUNDIR/registry */
    char tmp_path[PATH_MAX]; /* RUNDIR/registry.new */
    void *header;            /* writable shared mapping of the published image's header, owned;
                                NULL before the first publish */
    size_t header_len;
    uint64_t generation;     /* of the image published last; 0 before the first publish */
    pthread_mutex_t lock;    /* guards memfd: the publishing thread replaces it while the loop
                                hands it out */
    int memfd;               /* the sealed memfd of the current image, owned; -1 when none */
    void *memfd_header;      /* writable shared mapping of its header, owned; NULL when none */
};

/*
 * Prepares publishing into `rundir`. An image already there (left by a daemon that stopped or
 * crashed) is marked superseded first, so that its clients look for the new one; its
 * generation is returned in *last_generation (0 when there is none or it is not a valid image),
 * so that generations keep increasing across restarts. Returns 0, or -1 with the reason in `d`
 * (a path too long). Blocks on file I/O: call it at start-up or off the loop.
 */
int publisher_init(struct publisher *p, const char *rundir, uint64_t *last_generation,
                   struct diag *d);

/*
 * Publishes image[0..len) as generation `generation` (written into the file's header, with the
 * checksum recomputed; the caller's buffer is not changed), then marks the previous image
 * superseded. Returns 0, or -1 with the reason in err[0..err_size); on failure no image is left looking
 * current: the previous one is removed and marked superseded, so that clients ask the daemon's
 * socket, which serves the new registry. Blocks on file I/O: call it at start-up or off the loop. Not thread-safe: one
 * publish at a time.
 */
int publisher_publish(struct publisher *p, const void *image, size_t len, uint64_t generation,
                      char *err, size_t err_size);

/*
 * Sends the current image's memfd over the connected Unix socket `sock` (one byte and
 * SCM_RIGHTS, MSG_DONTWAIT: never blocks). Returns 0, -ENOENT when no image is published, or a
 * negative errno from sendmsg(). Thread-safe; called on the loop.
 */
int publisher_send_image(struct publisher *p, int sock);

/* Marks the current memfd superseded (its clients move to the file, which the next daemon
 * supersedes in turn) and releases the mappings and the memfd; the published file stays in
 * place for clients. Call it after image.sock is closed. */
void publisher_close(struct publisher *p);

#endif
