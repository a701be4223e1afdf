/*
 * Reload on the libuv thread pool (see reload.h). The worker touches only the job, the old
 * image and the embedded one, which are read-only; everything that changes the daemon happens in done(), on the loop.
 */
#include "reload.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

/* Copies the warnings of `d` into the new registry's list, formatted. */
static int
keep_warnings(struct served *s, const struct diag *d)
{
    return diag_lines(d, 1, &s->warnings, &s->warning_count);
}

/* Whether the open directory `fd` is `configured` (by another spelling of its path). */
static int
is_configured(int fd, const char *configured)
{
    struct stat a, b;
    return configured != NULL && stat(configured, &a) == 0 && fstat(fd, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Reads the job's directory into *files: the configured one as it is, a named one only when
 * its owners are right (checked on the descriptors read from). Returns 0 or -1. */
static int
read_files(struct reload_job *job, struct registry_files *files)
{
    memset(files, 0, sizeof *files);
    int fd = registry_dir_open(job->dir, !job->named, &job->diag);
    if (fd < 0)
        return -1;
    const struct registry_owners *owners = NULL;
    if (job->named && !is_configured(fd, job->configured))
        owners = &job->owners;
    int rc = registry_files_readat(fd, job->dir, owners, files, &job->diag);
    close(fd);
    return rc;
}

/* Loads the job's directory into *r and *files. Returns 0 or -1 (reported). */
static int
load_registry(struct reload_job *job, struct registry_files *files, struct registry **r)
{
    if (read_files(job, files) != 0)
        return -1;
    return registry_load_files(files, job->dir, r, &job->diag);
}

static void
work(uv_work_t *req)
{
    struct reload_job *job = req->data;
    const char *what = job->dir != NULL ? job->dir : job->rules.path;
    struct registry_files files = {0};
    struct registry *r = NULL;
    struct rules rules = {0};
    int missing;
    /* Both, whatever the other gives, so that one answer lists every problem. */
    int rc = rules_load(&job->rules, &rules, &missing, &job->diag);
    if (job->dir != NULL && load_registry(job, &files, &r) != 0)
        rc = -1;
    struct served *s = &job->next;
    uint64_t now = (uint64_t)time(NULL);
    if (rc == 0) {
        rc = job->dir != NULL ? served_build(s, r, &rules, job->generation, now)
                              : served_rebuild(s, job->old, &rules, job->generation, now);
        if (rc != 0)
            diag_add(&job->diag, DIAG_ERROR, what, 0, 0, "cannot compile the image: %s",
                     smtpstatus_strerror(rc));
    }
    registry_free(r);
    rules_free(&rules);
    if (rc == 0) {
        if (code_diff_compute(job->old, s->img, &s->last_diff) != 0 ||
            rule_diff_compute(job->old, s->img, &s->last_rule_diff) != 0 ||
            keep_warnings(s, &job->diag) != 0) {
            diag_add(&job->diag, DIAG_ERROR, what, 0, 0, "out of memory");
            rc = -1;
        } else if (job->dir != NULL && job->statedir != NULL &&
                   state_save(job->statedir, &files, &job->diag) != 0) {
            rc = -1; /* nothing changes unless the new set is also saved */
        }
    }
    registry_files_free(&files);
    if (rc != 0) {
        served_free(s);
        return;
    }
    if (job->publisher != NULL)
        publisher_publish(job->publisher, s->buf, s->len, s->generation, job->publish_error,
                          sizeof job->publish_error);
    job->ok = 1;
}

static void
after(uv_work_t *req, int status)
{
    struct reload_job *job = req->data;
    if (status != 0) {
        job->ok = 0;
        served_free(&job->next);
        diag_add(&job->diag, DIAG_ERROR, job->dir != NULL ? job->dir : job->rules.path, 0, 0,
                 "reload cancelled: %s",
                 uv_strerror(status));
    }
    job->done(job);
}

int
reload_start(uv_loop_t *loop, struct reload_job *job)
{
    job->ok = 0;
    job->publish_error[0] = '\0';
    memset(&job->next, 0, sizeof job->next);
    diag_init(&job->diag);
    job->work.data = job;
    return uv_queue_work(loop, &job->work, work, after);
}

void
reload_job_free(struct reload_job *job)
{
    free(job->dir);
    served_free(&job->next);
    diag_free(&job->diag);
    job->dir = NULL;
}
