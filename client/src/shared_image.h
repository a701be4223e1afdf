/*
 * The daemon's shared registry image, as one client handle sees it: attaching (the sealed memfd
 * the daemon hands out on RUNDIR/image.sock, or else a private copy of RUNDIR/registry; check
 * the owner, map read-only, validate once), pinning, following the daemon to each new image,
 * and releasing mappings nobody uses any more. See "Answering from the
 * shared image" in smtpstatus.h for the public rules, and publish.h for the daemon's side.
 *
 * Each mapping counts its users: one count while it is the current image, one per pin. A
 * mapping is unmapped when its count drops to zero, which can only happen once it is no longer
 * current. Pinning takes no lock and makes no syscall; moving to a new image (once per
 * generation) takes the mutex, as do attach retries, which are spaced out by a backoff, and the
 * look at the published file, at most once a second.
 */
#ifndef SMTPSTATUS_SHARED_IMAGE_H
#define SMTPSTATUS_SHARED_IMAGE_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "image_internal.h"
#include "smtpstatus.h"

/* Internal to the library, so prefixed (see arena.h). */
#define shared_image_init smtpstatus__shared_image_init
#define shared_image_free smtpstatus__shared_image_free
#define shared_image_pin smtpstatus__shared_image_pin
#define shared_image_why smtpstatus__shared_image_why
#define shared_image_unpin smtpstatus__shared_image_unpin
#define shared_image_status smtpstatus__shared_image_status

struct shared_mapping;

struct shared_image {
    char path[128];         /* RUNDIR/registry (RUNDIR fits a Unix socket's path) */
    char rundir[112];
    char socket_path[128];  /* RUNDIR/image.sock */
    int disabled;           /* never attach (the caller asked for the socket only) */
    struct shared_mapping *current; /* atomic; NULL when no image is in use */
    struct shared_mapping *slots;   /* every mapping slot, owned; guarded by lock */
    pthread_mutex_t lock;
    int64_t retry_at_ms;    /* guarded by lock: no attach before this (CLOCK_MONOTONIC) */
    unsigned backoff_ms;    /* guarded by lock */
    int error;              /* guarded by lock: why the last attach failed, 0 if it did not */
    char error_detail[320]; /* guarded by lock */
    int64_t check_at_ms;    /* atomic: no look at the published file before this
                               (CLOCK_MONOTONIC_COARSE) */
    struct stat seen;       /* guarded by lock: the published file as last looked at */
    uint64_t pins;          /* atomic counters */
    uint64_t attaches;
    uint64_t refusals;
};

/* Prepares `si` for the image in `rundir` (not attached yet). Returns 0 or SMTPSTATUS_ENOSPC. */
int shared_image_init(struct shared_image *si, const char *rundir, int disabled);

/* Unmaps everything. Every pin must have been released. */
void shared_image_free(struct shared_image *si);

/* Pins the current image, attaching or moving to a new one if needed. Returns it, or NULL when
 * none is usable now (the reason is kept for shared_image_status()). */
const smtpstatus_image *shared_image_pin(struct shared_image *si);

/* Why shared_image_pin() found no usable image: the last refusal's error, or
 * SMTPSTATUS_EUNAVAILABLE when none was recorded (attaching is disabled). */
int shared_image_why(struct shared_image *si);

/* Releases a pin; the last user of a superseded image unmaps it. */
void shared_image_unpin(struct shared_image *si, const smtpstatus_image *img);

/* Counters and the state of the attachment, into *out (see smtpstatus_client_status). */
void shared_image_status(struct shared_image *si, smtpstatus_client_status *out);

/*
 * Whether the descriptor `fd` may be mapped as an image that nobody can change any more: a
 * regular file (a memfd) sealed against shrinking, growing and writing (F_SEAL_WRITE or
 * F_SEAL_FUTURE_WRITE), of a size an image can have. Fills *st. Returns 0, or an
 * SMTPSTATUS_EIMG_* error or a negative errno with the reason for a person in why[0..why_size).
 * Does not check the owner.
 */
int smtpstatus__image_fd_check(int fd, struct stat *st, char *why, size_t why_size);

/* The handle's shared image and its count of socket calls (defined in rpc_client.c). */
struct shared_image *smtpstatus__shared_of(smtpstatus *h);
uint64_t smtpstatus__socket_calls(smtpstatus *h);

#endif
