/*
 * Reload: read, validate and compile a registry directory on the libuv thread pool, then swap
 * it in on the loop. The loop goes on answering from the old registry meanwhile. A reload either
 * produces a complete new registry (and saves its files to the state directory) or changes
 * nothing and says why, with file:line:col. A directory that a client names is read only if an
 * administrator could have written it, or is the configured one.
 */
#ifndef SMTPSTATUSD_RELOAD_H
#define SMTPSTATUSD_RELOAD_H

#include <uv.h>

#include "diag.h"
#include "publish.h"
#include "registry.h"
#include "served.h"

struct reload_job;
typedef void (*reload_done_fn)(struct reload_job *job);

/* One reload. The caller allocates it, fills the inputs, and owns it again in `done`. */
struct reload_job {
    uv_work_t work;
    /* inputs */
    char *dir;                    /* owned by the job */
    int named;                    /* a client named `dir`: unless it is the configured
                                     directory, it must be one that `owners` wrote, and not a
                                     symbolic link */
    const char *configured;       /* the --registry directory, or NULL; outlives the job */
    struct registry_owners owners; /* who may have written a named directory */
    const smtpstatus_image *old;  /* read by the worker; the caller keeps it alive until done */
    uint64_t generation;          /* of the new registry */
    const char *statedir;         /* where to save the new files; NULL: do not save */
    struct publisher *publisher;  /* where to publish the new image once saved; NULL: nowhere.
                                     Used by the worker alone while the job runs */
    reload_done_fn done;          /* called on the loop */
    void *arg;                    /* for the caller */
    void *waiter;                 /* for the caller: who asked, if anyone */
    /* results, valid in done() */
    int ok;
    struct served next;           /* on success: the new registry, owned by the job */
    struct diag diag;             /* every error and warning */
    char publish_error[256];      /* on success: "" when the image was published, else why not
                                     (the reload stands; clients use the socket meanwhile) */
};

/* Starts the job on the thread pool. Returns 0, or a negative libuv error (done is not called). */
int reload_start(uv_loop_t *loop, struct reload_job *job);

/* Frees what the job owns (not the job itself). */
void reload_job_free(struct reload_job *job);

#endif
