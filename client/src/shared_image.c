/*
 * The shared registry image on the client's side (see shared_image.h).
 *
 * A mapping slot's `refs` is the one word pinning touches. The DEAD bit marks a slot whose image
 * has been unmapped; such a slot may be reused for a new image, under the mutex. A thread that
 * read `current` just before it changed may still bump a slot it no longer should: it notices
 * when it checks `current` again, and lets go. Whoever brings the count to zero unmaps, under
 * the mutex, by swapping zero for DEAD, so exactly one thread does.
 */
#include "shared_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trust.h"

#define DEAD              (UINT64_C(1) << 63)
#define BACKOFF_FIRST_MS  100u
#define BACKOFF_MAX_MS    5000u
#define SUCCESSOR_WAIT_MS 10 /* superseded, but the successor is not there yet: a restart */

struct shared_mapping {
    uint64_t refs;               /* atomic: the current-image count plus pins; DEAD when free */
    struct smtpstatus_image img; /* the validated image, over base */
    void *base;
    size_t len;
    dev_t dev;
    ino_t ino;
    struct shared_mapping *next;
};

static struct shared_mapping *
mapping_of(const smtpstatus_image *img)
{
    return (struct shared_mapping *)((const char *)img - offsetof(struct shared_mapping, img));
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
shared_image_init(struct shared_image *si, const char *rundir, int disabled)
{
    memset(si, 0, sizeof *si);
    int n = snprintf(si->rundir, sizeof si->rundir, "%s", rundir);
    int m = snprintf(si->path, sizeof si->path, "%s/registry", rundir);
    if (n < 0 || m < 0 || (size_t)n >= sizeof si->rundir || (size_t)m >= sizeof si->path)
        return SMTPSTATUS_ENOSPC;
    si->disabled = disabled;
    pthread_mutex_init(&si->lock, NULL);
    return 0;
}

void
shared_image_free(struct shared_image *si)
{
    struct shared_mapping *m = si->slots;
    while (m != NULL) {
        struct shared_mapping *next = m->next;
        if (m->refs != DEAD)
            munmap(m->base, m->len);
        free(m);
        m = next;
    }
    si->slots = NULL;
    si->current = NULL;
    pthread_mutex_destroy(&si->lock);
}

static inline int
superseded(const smtpstatus_image *img)
{
    return __atomic_load_n(&img->hdr->superseded, __ATOMIC_ACQUIRE) != 0;
}

/* ---- trust ---------------------------------------------------------------------------------- */

/* The socket's rules too (trust.h): root, the caller, or the daemon's user. */
static int
owner_trusted(const struct shared_image *si, uid_t uid)
{
    return smtpstatus__trust_owner(si->rundir, uid);
}

/* ---- attaching ------------------------------------------------------------------------------ */

static void
refuse(struct shared_image *si, int err, const char *why)
{
    si->error = err;
    snprintf(si->error_detail, sizeof si->error_detail, "%s: %s", si->path,
             why != NULL ? why : smtpstatus_strerror(err));
    __atomic_fetch_add(&si->refusals, 1, __ATOMIC_RELAXED);
}

/* A free slot, or a new one. Under the lock. */
static struct shared_mapping *
free_slot(struct shared_image *si)
{
    for (struct shared_mapping *m = si->slots; m != NULL; m = m->next)
        if (__atomic_load_n(&m->refs, __ATOMIC_ACQUIRE) == DEAD)
            return m;
    struct shared_mapping *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->refs = DEAD;
    m->next = si->slots;
    si->slots = m;
    return m;
}

/* Maps and validates the file at si->path into a slot whose count is 1 (for `current`), or
 * returns NULL with the reason recorded. Under the lock. */
static struct shared_mapping *
attach(struct shared_image *si)
{
    int fd = open(si->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            refuse(si, SMTPSTATUS_EIMG_MISSING, NULL);
        else if (e == ELOOP)
            refuse(si, SMTPSTATUS_EIMG_NOTFILE, "is a symbolic link; refused");
        else
            refuse(si, -e, strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        refuse(si, -errno, strerror(errno));
        close(fd);
        return NULL;
    }
    char why[160];
    int err = 0;
    if (!S_ISREG(st.st_mode)) {
        err = SMTPSTATUS_EIMG_NOTFILE;
        snprintf(why, sizeof why, "not a regular file; refused");
    } else if (!owner_trusted(si, st.st_uid)) {
        err = SMTPSTATUS_EIMG_FOREIGN;
        snprintf(why, sizeof why, "owned by uid %ld, not by root or the daemon's user; refused",
                 (long)st.st_uid);
    } else if ((st.st_mode & 022) != 0) {
        err = SMTPSTATUS_EIMG_FOREIGN;
        snprintf(why, sizeof why, "writable by group or others (mode %03o); refused",
                 (unsigned)(st.st_mode & 0777));
    } else if (st.st_size < (off_t)sizeof(struct smtpstatus_image_header)) {
        err = SMTPSTATUS_EIMG_TRUNCATED;
        snprintf(why, sizeof why, "%s (%lld bytes)", smtpstatus_strerror(err),
                 (long long)st.st_size);
    } else if (st.st_size > (off_t)SMTPSTATUS_IMAGE_MAX_SIZE) {
        err = SMTPSTATUS_EIMG_SIZE;
        snprintf(why, sizeof why, "larger than any image (%lld bytes)", (long long)st.st_size);
    }
    if (err != 0) {
        refuse(si, err, why);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    void *base = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    int map_errno = errno;
    close(fd);
    if (base == MAP_FAILED) {
        refuse(si, -map_errno, strerror(map_errno));
        return NULL;
    }
    struct shared_mapping *m = free_slot(si);
    if (m == NULL) {
        munmap(base, len);
        refuse(si, SMTPSTATUS_ENOMEM, NULL);
        return NULL;
    }
    int rc = smtpstatus__image_init(&m->img, base, len);
    if (rc != 0) {
        munmap(base, len);
        refuse(si, rc, NULL);
        return NULL;
    }
    m->base = base;
    m->len = len;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    __atomic_store_n(&m->refs, 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&si->attaches, 1, __ATOMIC_RELAXED);
    si->error = 0;
    si->error_detail[0] = '\0';
    return m;
}

/* ---- counting users ------------------------------------------------------------------------- */

static int
take_ref(struct shared_mapping *m)
{
    uint64_t r = __atomic_load_n(&m->refs, __ATOMIC_RELAXED);
    do {
        if (r & DEAD)
            return 0;
    } while (!__atomic_compare_exchange_n(&m->refs, &r, r + 1, 1, __ATOMIC_ACQUIRE,
                                          __ATOMIC_RELAXED));
    return 1;
}

/* Unmaps m if nobody uses it. Under the lock. */
static void
reclaim_locked(struct shared_mapping *m)
{
    uint64_t zero = 0;
    if (__atomic_compare_exchange_n(&m->refs, &zero, DEAD, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED))
        munmap(m->base, m->len);
}

static void
drop_ref(struct shared_image *si, struct shared_mapping *m, int locked)
{
    if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (!locked)
        pthread_mutex_lock(&si->lock);
    reclaim_locked(m);
    if (!locked)
        pthread_mutex_unlock(&si->lock);
}

/*
 * Moves `current` on from `seen` (NULL, or an image found superseded): to the image now at
 * si->path, or to NULL when that is refused. Returns 1 when `current` changed (by this call or
 * another thread's), 0 when it stays as it is for now (backoff, or no successor yet).
 */
static int
advance(struct shared_image *si, struct shared_mapping *seen)
{
    pthread_mutex_lock(&si->lock);
    struct shared_mapping *cur = si->current;
    if (cur != seen) {
        pthread_mutex_unlock(&si->lock);
        return 1;
    }
    int64_t now = now_ms();
    if (now < si->retry_at_ms) {
        pthread_mutex_unlock(&si->lock);
        return 0;
    }
    struct shared_mapping *next = attach(si);
    if (next != NULL && cur != NULL && next->dev == cur->dev && next->ino == cur->ino) {
        /* The daemon marked its image superseded and has not published the next one yet. */
        drop_ref(si, next, 1);
        si->retry_at_ms = now + SUCCESSOR_WAIT_MS;
        pthread_mutex_unlock(&si->lock);
        return 0;
    }
    if (next != NULL) {
        si->backoff_ms = 0;
        si->retry_at_ms = 0;
    } else {
        si->backoff_ms = si->backoff_ms == 0 ? BACKOFF_FIRST_MS
                         : si->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                               : si->backoff_ms * 2;
        si->retry_at_ms = now + si->backoff_ms;
    }
    __atomic_store_n(&si->current, next, __ATOMIC_RELEASE);
    if (cur != NULL)
        drop_ref(si, cur, 1);
    pthread_mutex_unlock(&si->lock);
    return next != NULL || cur != NULL;
}

/* ---- pinning -------------------------------------------------------------------------------- */

const smtpstatus_image *
shared_image_pin(struct shared_image *si)
{
    if (si->disabled)
        return NULL;
    /* Each turn of the loop follows a change of `current`; a handful is plenty. */
    for (int turn = 0; turn < 8; turn++) {
        struct shared_mapping *m = __atomic_load_n(&si->current, __ATOMIC_ACQUIRE);
        if (m == NULL) {
            if (!advance(si, NULL))
                return NULL;
            continue;
        }
        if (!take_ref(m))
            continue;
        if (__atomic_load_n(&si->current, __ATOMIC_ACQUIRE) != m ||
            (superseded(&m->img) && advance(si, m))) {
            drop_ref(si, m, 0);
            continue;
        }
        __atomic_fetch_add(&si->pins, 1, __ATOMIC_RELAXED);
        return &m->img;
    }
    return NULL;
}

int
shared_image_why(struct shared_image *si)
{
    pthread_mutex_lock(&si->lock);
    int err = si->error;
    pthread_mutex_unlock(&si->lock);
    return err != 0 ? err : SMTPSTATUS_EUNAVAILABLE;
}

void
shared_image_unpin(struct shared_image *si, const smtpstatus_image *img)
{
    if (img != NULL)
        drop_ref(si, mapping_of(img), 0);
}

void
shared_image_status(struct shared_image *si, smtpstatus_client_status *out)
{
    memset(out, 0, sizeof *out);
    out->image_path = si->path;
    pthread_mutex_lock(&si->lock);
    struct shared_mapping *cur = si->current;
    out->shared = cur != NULL;
    if (cur != NULL)
        out->generation = cur->img.hdr->generation;
    out->error = si->error;
    snprintf(out->error_detail, sizeof out->error_detail, "%s", si->error_detail);
    for (struct shared_mapping *m = si->slots; m != NULL; m = m->next)
        if (__atomic_load_n(&m->refs, __ATOMIC_ACQUIRE) != DEAD)
            out->mappings++;
    pthread_mutex_unlock(&si->lock);
    out->pins = __atomic_load_n(&si->pins, __ATOMIC_RELAXED);
    out->attaches = __atomic_load_n(&si->attaches, __ATOMIC_RELAXED);
    out->refusals = __atomic_load_n(&si->refusals, __ATOMIC_RELAXED);
}

/* ---- the public face, on a handle ----------------------------------------------------------- */

int
smtpstatus_pin(smtpstatus *h, const smtpstatus_image **img)
{
    if (h == NULL || img == NULL)
        return SMTPSTATUS_EINVAL;
    struct shared_image *si = smtpstatus__shared_of(h);
    *img = shared_image_pin(si);
    return *img != NULL ? 0 : shared_image_why(si);
}

void
smtpstatus_unpin(smtpstatus *h, const smtpstatus_image *img)
{
    if (h != NULL)
        shared_image_unpin(smtpstatus__shared_of(h), img);
}

/* The slow half of smtpstatus_refresh(): *img is NULL or superseded. Kept out of line so that
 * the fast half needs no stack frame. */
static __attribute__((noinline)) int
move_pin(smtpstatus *h, const smtpstatus_image **img)
{
    if (h == NULL)
        return SMTPSTATUS_EINVAL;
    struct shared_image *si = smtpstatus__shared_of(h);
    const smtpstatus_image *next = shared_image_pin(si);
    shared_image_unpin(si, *img);
    *img = next;
    return next != NULL ? 0 : shared_image_why(si);
}

int
smtpstatus_refresh(smtpstatus *h, const smtpstatus_image **img)
{
    if (img == NULL)
        return SMTPSTATUS_EINVAL;
    if (__builtin_expect(*img != NULL && !superseded(*img), 1))
        return 0;
    return move_pin(h, img);
}

static __attribute__((noinline)) int
shared_lookup_slow(smtpstatus *h, const smtpstatus_image **img, smtpstatus_code code,
                   smtpstatus_entry *out)
{
    int rc = move_pin(h, img);
    return rc != 0 ? rc : smtpstatus_image_lookup(*img, code, out);
}

int
smtpstatus_shared_lookup(smtpstatus *h, const smtpstatus_image **img, smtpstatus_code code,
                         smtpstatus_entry *out)
{
    if (img == NULL)
        return SMTPSTATUS_EINVAL;
    const smtpstatus_image *cur = *img;
    if (__builtin_expect(cur == NULL || superseded(cur), 0))
        return shared_lookup_slow(h, img, code, out);
    return smtpstatus_image_lookup(cur, code, out);
}

void
smtpstatus_client_status_get(smtpstatus *h, smtpstatus_client_status *out)
{
    shared_image_status(smtpstatus__shared_of(h), out);
    out->socket_calls = smtpstatus__socket_calls(h);
}
