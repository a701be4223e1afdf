/*
 * Reload: read, validate and compile a registry directory and the administrator's rules file on
 * the libuv thread pool, then swap them in on the loop as one new generation. The loop goes on
 * answering from the old generation meanwhile. A reload either produces a complete new image
 * (and saves the registry's files to the state directory) or changes nothing and says why, with
 * file:line:col: a bad rule refuses the whole reload as a bad registry row does. Without a
 * directory it reloads the rules alone, over the registry being served. A directory that a
 * client names is read only if an administrator could have written it, or is the configured
 * one.
 */
#ifndef SMTPSTATUSD_RELOAD_H
#define SMTPSTATUSD_RELOAD_H

#include <uv.h>

#include "diag.h"
#include "publish.h"
#include "registry.h"
#include "rules_load.h"
#include "served.h"

struct reload_job;
typedef void (*reload_done_fn)(struct reload_job *job);

/* One reload. The caller allocates it, fills the inputs, and owns it again in `done`. */
struct reload_job {
    uv_work_t work;
    /* inputs */
    char *dir;                    /* owned by the job; NULL: reload the rules alone, over the
                                     registry of `old` */
    struct rules_config rules;    /* the administrator's rules file; its path outlives the job */
    int named;                    /* a client named `dir`: unless it is the configured
                                     directory, it must be one that `owners` wrote, and not a
                                     symbolic link */
    const char *configured;       /* the --registry directory, or NULL; outlives the job */
    struct registry_owners owners; /* who may have written a named directory */
    const smtpstatus_image *old;  /* read by the worker (the diffs, and the registry of a reload
                                     without a directory); the caller keeps it alive until done */
    uint64_t generation;          /* of the new registry */
    const char *statedir;         /* where to save the new files; NULL: do not save */
    struct publisher *publisher;  /* where to publish the new image once saved; NULL: nowhere.
                                     Used by the worker alone while the job runs */
    reload_done_fn done;          /* called on the loop */
    void *arg;                    /* for the caller */
    void *waiter;                 /* for the caller: who asked, if anyone */
    /* results, valid in done() */
    int ok;
    struct served next;           /* on success: the new generation, owned by the job, with
                                     its code and rules diffs */
    struct diag diag;             /* every error and warning */
    char publish_error[256];      /* on success: "" when the image was published, else why not
                                     (the reload stands; clients use the socket meanwhile) */
};

/* Starts the job on the thread pool. Returns 0, or a negative libuv error (done is not called). */
int reload_start(uv_loop_t *loop, struct reload_job *job);

/* Frees what the job owns (not the job itself). */
void reload_job_free(struct reload_job *job);

#endif
