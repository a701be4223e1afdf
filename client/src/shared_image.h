/*
 * The daemon's shared registry image, as one client handle sees it: attaching (open with
 * O_NOFOLLOW, check the owner, map read-only, close, validate once), pinning, following the
 * daemon to each new image, and releasing mappings nobody uses any more. See "Answering from the
 * shared image" in smtpstatus.h for the public rules, and publish.h for the daemon's side.
 *
 * Each mapping counts its users: one count while it is the current image, one per pin. A
 * mapping is unmapped when its count drops to zero, which can only happen once it is no longer
 * current. Pinning takes no lock and makes no syscall; moving to a new image (once per
 * generation) takes the mutex, as do attach retries, which are spaced out by a backoff.
 */
#ifndef SMTPSTATUS_SHARED_IMAGE_H
#define SMTPSTATUS_SHARED_IMAGE_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "image_internal.h"
#include "smtpstatus.h"

struct shared_mapping;

struct shared_image {
    char path[128];         /* RUNDIR/registry (RUNDIR fits a Unix socket's path) */
    char rundir[112];
    int disabled;           /* never attach (the caller asked for the socket only) */
    struct shared_mapping *current; /* atomic; NULL when no image is in use */
    struct shared_mapping *slots;   /* every mapping slot, owned; guarded by lock */
    pthread_mutex_t lock;
    int64_t retry_at_ms;    /* guarded by lock: no attach before this (CLOCK_MONOTONIC) */
    unsigned backoff_ms;    /* guarded by lock */
    int error;              /* guarded by lock: why the last attach failed, 0 if it did not */
    char error_detail[320]; /* guarded by lock */
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

/* The handle's shared image and its count of socket calls (defined in rpc_client.c). */
struct shared_image *smtpstatus__shared_of(smtpstatus *h);
uint64_t smtpstatus__socket_calls(smtpstatus *h);

#endif
