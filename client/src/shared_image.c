/*
 * The shared registry image on the client's side (see shared_image.h).
 *
 * A mapping slot's `refs` is the one word pinning touches. The DEAD bit marks a slot whose image
 * has been unmapped; such a slot may be reused for a new image, under the mutex. A thread that
 * read `current` just before it changed may still bump a slot it no longer should: it notices
 * when it checks `current` again, and lets go. Whoever brings the count to zero unmaps, under
 * the mutex, by swapping zero for DEAD, so exactly one thread does.
 *
 * What is mapped is never the published file: a file can be truncated or rewritten in place
 * (`cp backup RUNDIR/registry`), and a mapping of it would then fault with SIGBUS or read
 * offsets other than those validated. While the daemon runs, the client maps the sealed memfd
 * the daemon hands out on RUNDIR/image.sock, which nobody can shrink, grow or write any more but
 * the daemon's own mapping of the `superseded` word. When no daemon answers there, it copies the
 * file into memory of its own. Neither can be changed under a lookup. The daemon's store to
 * `superseded` reaches a memfd at once; it cannot reach a copy, nor the memfd of a daemon that
 * was killed (its successor has no way to it). So every CHECK_EVERY fast-path calls a thread
 * looks at a clock the vDSO serves, and at most once per CHECK_INTERVAL_MS one thread looks at
 * the published file (one stat(), and a read of its header only when it changed) and moves to a
 * newer image if there is one.
 *
 * The memfd's checksum is compared too, like the copy's, though its seals and its owner mean
 * that nobody but the daemon wrote it: it is what refuses a daemon that hands out a damaged
 * image (tests/unit/test_image_damage.c, test_superseded_by_a_bad_image). Its rules database is
 * left to the checks made before a scan reads it, its header's and Vectorscan's CRC of its
 * bytecode (SMTPSTATUS__CHECK_DB_LATER): XXH3 itself takes some 30 us over the whole image, but
 * in a fresh process the first read of each page costs more than that, a lookup needs none of
 * the database's, and a classification then reads them once (tests/bench/bench_cli_startup.c).
 */
#include "reason.h"
#include "shared_image.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "trust.h"

#define DEAD              (UINT64_C(1) << 63)
#define BACKOFF_FIRST_MS  100u
#define BACKOFF_MAX_MS    5000u
#define SUCCESSOR_WAIT_MS 10 /* superseded, but the successor is not there yet: a restart */
#define CHECK_EVERY       64u  /* fast-path calls per thread between two looks at the clock */
#define CHECK_INTERVAL_MS 1000 /* between two looks at the published file, per handle */
#define RECEIVE_WAIT_MS   1000 /* for the daemon's answer on image.sock */
#define IMAGE_SOCKET_NAME "image.sock"

struct shared_mapping {
    uint64_t refs;               /* atomic: the current-image count plus pins; DEAD when free */
    const uint64_t *watch;       /* atomic: the word a pin checks: the image's `superseded`,
                                    or &retired once a newer image was found */
    struct smtpstatus_image img; /* the validated image, over base */
    void *base;
    size_t len;
    smtpstatus_image_origin origin;
    dev_t dev;                   /* of the memfd, or of the file that was copied */
    ino_t ino;
    uint64_t generation;         /* from the header, to compare with the published file */
    uint64_t checksum;
    int64_t published_at;        /* the memfd's or the file's mtime, Unix seconds */
    struct shared_mapping *next;
};

/* What `watch` points to once the mapping is retired: never zero. */
static const uint64_t retired = 1;

/* Per thread, so that counting fast-path calls shares no cache line between threads; the
 * initial-exec model keeps it one instruction away, with no call into the dynamic linker. */
static __thread uint32_t check_countdown __attribute__((tls_model("initial-exec"))) = CHECK_EVERY;

static struct shared_mapping *
mapping_of(const smtpstatus_image *img)
{
    return (struct shared_mapping *)((const char *)img - offsetof(struct shared_mapping, img));
}

static int64_t
clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define now_ms() clock_ms(CLOCK_MONOTONIC)
/* The vDSO answers CLOCK_MONOTONIC_COARSE from memory, with no syscall; its tick (a few ms) is
 * fine for a once-a-second check. */
#define coarse_ms() clock_ms(CLOCK_MONOTONIC_COARSE)

int
shared_image_init(struct shared_image *si, const char *rundir, int disabled)
{
    memset(si, 0, sizeof *si);
    int n = snprintf(si->rundir, sizeof si->rundir, "%s", rundir);
    int m = snprintf(si->path, sizeof si->path, "%s/registry", rundir);
    int k = snprintf(si->socket_path, sizeof si->socket_path, "%s/" IMAGE_SOCKET_NAME, rundir);
    if (n < 0 || m < 0 || k < 0 || (size_t)n >= sizeof si->rundir || (size_t)m >= sizeof si->path ||
        (size_t)k >= sizeof si->socket_path)
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
        if (m->refs != DEAD) {
            smtpstatus__reason_release(&m->img);
            munmap(m->base, m->len);
        }
        free(m);
        m = next;
    }
    si->slots = NULL;
    si->current = NULL;
    pthread_mutex_destroy(&si->lock);
}

/* Whether the image has been superseded by the daemon, or retired by this client. The first
 * load pairs with the release store in retire(); the second with the daemon's release store of
 * `superseded` (supersede() in daemon/publish.c). */
static inline int
stale(const smtpstatus_image *img)
{
    const uint64_t *w = __atomic_load_n(&mapping_of(img)->watch, __ATOMIC_ACQUIRE);
    return __atomic_load_n(w, __ATOMIC_ACQUIRE) != 0;
}

/* Whether this thread's call is one in CHECK_EVERY: the cue to look at the clock. */
static inline int
tick(void)
{
    if (__builtin_expect(--check_countdown != 0, 1))
        return 0;
    check_countdown = CHECK_EVERY;
    return 1;
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
refuse(struct shared_image *si, const char *what, int err, const char *why)
{
    si->error = err;
    snprintf(si->error_detail, sizeof si->error_detail, "%s: %s", what,
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

/* Validates base[0..len) (a mapping this client owns: a memfd's or a copy's) into a slot whose
 * count is 1 (for `current`), or unmaps it and returns NULL with the reason recorded. Under the
 * lock. */
static struct shared_mapping *
adopt(struct shared_image *si, const char *what, void *base, size_t len, const struct stat *st,
      smtpstatus_image_origin origin)
{
    struct shared_mapping *m = free_slot(si);
    if (m == NULL) {
        munmap(base, len);
        refuse(si, what, SMTPSTATUS_ENOMEM, NULL);
        return NULL;
    }
    /* The daemon checked its memfd whole before it sealed it, and what a scan reads of the
     * database is checked before the first (SMTPSTATUS__CHECK_DB_LATER); a copy of the file was
     * read whole anyway, so checking its database's checksum now costs little. */
    int rc = smtpstatus__image_init(&m->img, base, len,
                                    origin == SMTPSTATUS_ORIGIN_DAEMON ? SMTPSTATUS__CHECK_DB_LATER
                                                                      : SMTPSTATUS__CHECK_ALL);
    if (rc != 0) {
        munmap(base, len);
        refuse(si, what, rc, NULL);
        return NULL;
    }
    m->base = base;
    m->len = len;
    m->origin = origin;
    m->dev = st->st_dev;
    m->ino = st->st_ino;
    m->generation = m->img.hdr->generation;
    m->checksum = m->img.hdr->checksum;
    m->published_at = (int64_t)st->st_mtime;
    m->watch = &m->img.hdr->superseded;
    __atomic_store_n(&m->refs, 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&si->attaches, 1, __ATOMIC_RELAXED);
    si->error = 0;
    si->error_detail[0] = '\0';
    return m;
}

/* The checks every image passes before it is read, whatever it came from; fills *why. */
static int
size_refused(off_t size, char *why, size_t why_size)
{
    if (size < (off_t)sizeof(struct smtpstatus_image_header)) {
        snprintf(why, why_size, "%s (%lld bytes)", smtpstatus_strerror(SMTPSTATUS_EIMG_TRUNCATED),
                 (long long)size);
        return SMTPSTATUS_EIMG_TRUNCATED;
    }
    if (size > (off_t)SMTPSTATUS_IMAGE_MAX_SIZE) {
        snprintf(why, why_size, "larger than any image (%lld bytes)", (long long)size);
        return SMTPSTATUS_EIMG_SIZE;
    }
    return 0;
}

int
smtpstatus__image_fd_check(int fd, struct stat *st, char *why, size_t why_size)
{
    why[0] = '\0';
    if (fstat(fd, st) != 0) {
        int e = errno;
        snprintf(why, why_size, "%s", strerror(e));
        return -e;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, why_size, "not a regular file; refused");
        return SMTPSTATUS_EIMG_NOTFILE;
    }
    int seals = fcntl(fd, F_GET_SEALS);
    int need = F_SEAL_SHRINK | F_SEAL_GROW;
    if (seals < 0 || (seals & need) != need ||
        (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) == 0) {
        snprintf(why, why_size,
                 "not sealed against shrinking, growing and writing (seals %#x); refused",
                 seals < 0 ? 0 : (unsigned)seals);
        return SMTPSTATUS_EIMG_FOREIGN;
    }
    return size_refused(st->st_size, why, why_size);
}

/* Maps the memfd `fd` from the daemon (closed here, whatever happens). Under the lock. */
static struct shared_mapping *
map_daemon_image(struct shared_image *si, int fd)
{
    struct stat st;
    char why[160];
    int err = smtpstatus__image_fd_check(fd, &st, why, sizeof why);
    if (err == 0 && !owner_trusted(si, st.st_uid)) {
        err = SMTPSTATUS_EIMG_FOREIGN;
        snprintf(why, sizeof why,
                 "the memfd is owned by uid %ld, not by root or the daemon's user; refused",
                 (long)st.st_uid);
    }
    if (err != 0) {
        close(fd);
        refuse(si, si->socket_path, err, why);
        return NULL;
    }
    /* Validation reads every page but the rules database's (the checksum), and a classification
     * those too; MAP_POPULATE maps them all in this call rather than in one page fault per few
     * pages, which was a tenth of a one-shot `smtpstatus lookup`'s own page faults. Mapping only
     * the pages a lookup reads was measured to gain nothing. */
    size_t len = (size_t)st.st_size;
    void *base = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (base == MAP_FAILED) {
        refuse(si, si->socket_path, -map_errno, strerror(map_errno));
        return NULL;
    }
    return adopt(si, si->socket_path, base, len, &st, SMTPSTATUS_ORIGIN_DAEMON);
}

/* The result of asking image.sock. */
enum asked { ASKED_GOT, ASKED_NO_DAEMON, ASKED_REFUSED };

/* Takes the one descriptor of a received message into *fd, closing any other; returns 0 or
 * -1 when there is none or the control data was cut short. */
static int
take_fd(struct msghdr *msg, int *fd)
{
    *fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (*fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
    if (*fd >= 0 && (msg->msg_flags & MSG_CTRUNC) != 0) {
        close(*fd);
        *fd = -1;
    }
    return *fd >= 0 ? 0 : -1;
}

/* Asks the daemon on image.sock for its memfd. ASKED_NO_DAEMON when nothing answers there (no
 * socket, nobody listening, the daemon has no image, or it does not answer in time): then the
 * file is copied. ASKED_REFUSED, with the reason recorded, when whoever answers is not trusted:
 * then nothing is. Under the lock; waits at most RECEIVE_WAIT_MS. */
static enum asked
ask_daemon(struct shared_image *si, int *fd)
{
    *fd = -1;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return ASKED_NO_DAEMON;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(si->socket_path) >= sizeof sa.sun_path) {
        close(s);
        return ASKED_NO_DAEMON;
    }
    memcpy(sa.sun_path, si->socket_path, strlen(si->socket_path));
    if (connect(s, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        close(s);
        return ASKED_NO_DAEMON;
    }
    struct ucred cred;
    socklen_t cred_len = sizeof cred;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 ||
        !owner_trusted(si, cred.uid)) {
        char why[160];
        snprintf(why, sizeof why, "served by uid %ld, not by root or the daemon's user; refused",
                 cred_len == sizeof cred ? (long)cred.uid : -1L);
        close(s);
        refuse(si, si->socket_path, SMTPSTATUS_EIMG_FOREIGN, why);
        return ASKED_REFUSED;
    }
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(4 * sizeof(int))]; /* room to see, and close, extra descriptors */
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct pollfd pf = {s, POLLIN, 0};
    ssize_t got = -1;
    if (poll(&pf, 1, RECEIVE_WAIT_MS) == 1) {
        do
            got = recvmsg(s, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        while (got < 0 && errno == EINTR);
    }
    close(s);
    /* A message with a descriptor has its one byte; anything else is a daemon with no image. */
    return got == 1 && take_fd(&msg, fd) == 0 ? ASKED_GOT : ASKED_NO_DAEMON;
}

/* Copies the file at si->path into memory of this client's own, made read-only. Under the
 * lock. */
static struct shared_mapping *
copy_file(struct shared_image *si)
{
    int fd = open(si->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            refuse(si, si->path, SMTPSTATUS_EIMG_MISSING, NULL);
        else if (e == ELOOP)
            refuse(si, si->path, SMTPSTATUS_EIMG_NOTFILE, "is a symbolic link; refused");
        else
            refuse(si, si->path, -e, strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        refuse(si, si->path, -errno, strerror(errno));
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
    } else {
        err = size_refused(st.st_size, why, sizeof why);
    }
    if (err != 0) {
        refuse(si, si->path, err, why);
        close(fd);
        return NULL;
    }
    /* read(), unlike a mapping, returns short when the file shrinks meanwhile: a file cut
     * while it is copied is refused as truncated, and nothing faults. */
    size_t len = (size_t)st.st_size, got = 0;
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        refuse(si, si->path, SMTPSTATUS_ENOMEM, NULL);
        close(fd);
        return NULL;
    }
    while (got < len) {
        ssize_t n = pread(fd, (char *)base + got, len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got < len || mprotect(base, len, PROT_READ) != 0) {
        munmap(base, len);
        refuse(si, si->path, SMTPSTATUS_EIMG_TRUNCATED, NULL);
        return NULL;
    }
    return adopt(si, si->path, base, len, &st, SMTPSTATUS_ORIGIN_COPY);
}

/* The daemon's memfd when it answers on image.sock, else a copy of the file; NULL with the
 * reason recorded when neither is usable. Under the lock. */
static struct shared_mapping *
attach(struct shared_image *si)
{
    int fd;
    switch (ask_daemon(si, &fd)) {
    case ASKED_GOT:
        return map_daemon_image(si, fd);
    case ASKED_REFUSED:
        return NULL;
    default:
        return copy_file(si);
    }
}

/* Whether a and b hold the same image from the same place: then moving from one to the other
 * gains nothing. */
static int
same_image(const struct shared_mapping *a, const struct shared_mapping *b)
{
    if (a->origin != b->origin)
        return 0;
    if (a->origin == SMTPSTATUS_ORIGIN_DAEMON)
        return a->dev == b->dev && a->ino == b->ino;
    return a->generation == b->generation && a->checksum == b->checksum;
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
                                    __ATOMIC_RELAXED)) {
        smtpstatus__reason_release(&m->img);
        munmap(m->base, m->len);
    }
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

/* Makes `next` current in place of `cur` (which may be NULL), and drops `cur`'s count for being
 * current; pins of `cur` see it stale at their next call. Under the lock. */
static void
replace(struct shared_image *si, struct shared_mapping *cur, struct shared_mapping *next)
{
    __atomic_store_n(&si->current, next, __ATOMIC_RELEASE); /* pairs with the pins' acquire */
    if (cur == NULL)
        return;
    /* Pairs with the acquire load of `watch` in stale(). */
    __atomic_store_n(&cur->watch, &retired, __ATOMIC_RELEASE);
    drop_ref(si, cur, 1);
}

/*
 * Moves `current` on from `seen` (NULL, or an image found stale): to the daemon's image or a
 * copy of the file, or to NULL when that is refused. Returns 1 when `current` changed (by this
 * call or another thread's), 0 when it stays as it is for now (backoff, or no successor yet).
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
    if (next != NULL && cur != NULL && same_image(next, cur)) {
        /* The daemon marked its image superseded and has not published the next one yet. */
        drop_ref(si, next, 1);
        si->retry_at_ms = now + SUCCESSOR_WAIT_MS;
        pthread_mutex_unlock(&si->lock);
        return 0;
    }
    if (next != NULL) {
        si->backoff_ms = 0;
        si->retry_at_ms = 0;
        __atomic_store_n(&si->check_at_ms, coarse_ms() + CHECK_INTERVAL_MS, __ATOMIC_RELAXED);
    } else {
        si->backoff_ms = si->backoff_ms == 0 ? BACKOFF_FIRST_MS
                         : si->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                               : si->backoff_ms * 2;
        si->retry_at_ms = now + si->backoff_ms;
    }
    replace(si, cur, next);
    pthread_mutex_unlock(&si->lock);
    return next != NULL || cur != NULL;
}

/* ---- following a daemon that cannot tell us ------------------------------------------------- */

/* The generation and checksum in the header of the file at si->path: 0, or -1 when it is not
 * an image's header (garbage in the file never goes further than this). */
static int
read_identity(const struct shared_image *si, uint64_t *generation, uint64_t *checksum)
{
    int fd = open(si->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct smtpstatus_image_header h;
    ssize_t n = pread(fd, &h, sizeof h, 0);
    close(fd);
    if (n != (ssize_t)sizeof h || memcmp(h.magic, SMTPSTATUS_IMAGE_MAGIC, sizeof h.magic) != 0 ||
        h.version != SMTPSTATUS_IMAGE_VERSION)
        return -1;
    *generation = h.generation;
    *checksum = h.checksum;
    return 0;
}

/*
 * The once-a-second look, for what no `superseded` store can tell: a copy whose daemon has
 * started since, and a memfd whose daemon was killed and replaced. A copy first asks image.sock
 * (a connect() that fails at once while no daemon runs). Then the file: when stat() shows it
 * changed and its header names another image than `current`, the image is attached anew
 * (image.sock first, then a copy). A file that is not a valid image, or a new image that is
 * refused, leaves `current` as it is: damage to the file never reaches a client that has an
 * image. Under the lock.
 */
static void
check_published(struct shared_image *si)
{
    struct shared_mapping *cur = si->current;
    if (cur == NULL || stale(&cur->img))
        return; /* advance() is on it */
    struct shared_mapping *next = NULL;
    int fd;
    if (cur->origin == SMTPSTATUS_ORIGIN_COPY && ask_daemon(si, &fd) == ASKED_GOT)
        next = map_daemon_image(si, fd);
    if (next == NULL) {
        struct stat st;
        uint64_t generation, checksum;
        if (stat(si->path, &st) != 0 ||
            (st.st_dev == si->seen.st_dev && st.st_ino == si->seen.st_ino &&
             st.st_size == si->seen.st_size && st.st_mtim.tv_sec == si->seen.st_mtim.tv_sec &&
             st.st_mtim.tv_nsec == si->seen.st_mtim.tv_nsec &&
             st.st_ctim.tv_sec == si->seen.st_ctim.tv_sec &&
             st.st_ctim.tv_nsec == si->seen.st_ctim.tv_nsec))
            return;
        si->seen = st;
        if (read_identity(si, &generation, &checksum) != 0 ||
            (generation == cur->generation && checksum == cur->checksum))
            return;
        next = attach(si);
    }
    if (next == NULL || same_image(next, cur)) {
        if (next != NULL)
            drop_ref(si, next, 1);
        return;
    }
    replace(si, cur, next);
}

/* Runs check_published() when this handle's interval is over, in the one thread that claims it,
 * unless another holds the lock (it is attaching: no need to look). No syscall otherwise. */
static __attribute__((noinline)) void
maybe_check(struct shared_image *si)
{
    int64_t now = coarse_ms();
    int64_t at = __atomic_load_n(&si->check_at_ms, __ATOMIC_RELAXED);
    /* Relaxed: the claim orders nothing; the lock below does. */
    if (now < at || !__atomic_compare_exchange_n(&si->check_at_ms, &at, now + CHECK_INTERVAL_MS, 0,
                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    if (pthread_mutex_trylock(&si->lock) != 0)
        return;
    check_published(si);
    if (si->current != NULL) {
        si->error = 0; /* an image is still in use; a refusal on the way is counted */
        si->error_detail[0] = '\0';
    }
    pthread_mutex_unlock(&si->lock);
}

/* ---- pinning -------------------------------------------------------------------------------- */

const smtpstatus_image *
shared_image_pin(struct shared_image *si)
{
    if (si->disabled)
        return NULL;
    if (tick())
        maybe_check(si);
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
            (stale(&m->img) && advance(si, m))) {
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
    if (cur != NULL) {
        out->generation = cur->img.hdr->generation;
        out->origin = cur->origin;
        out->published_at = cur->published_at;
    }
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

/* The slow half of smtpstatus_refresh(): *img is NULL or stale, or this call is one in
 * CHECK_EVERY. Kept out of line so that the fast half needs no stack frame. */
static __attribute__((noinline)) int
move_pin(smtpstatus *h, const smtpstatus_image **img)
{
    if (h == NULL)
        return SMTPSTATUS_EINVAL;
    struct shared_image *si = smtpstatus__shared_of(h);
    if (*img != NULL && !stale(*img)) {
        maybe_check(si);
        if (!stale(*img))
            return 0;
    }
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
    if (__builtin_expect(*img != NULL && !stale(*img) && !tick(), 1))
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
    if (__builtin_expect(cur == NULL || stale(cur) || tick(), 0))
        return shared_lookup_slow(h, img, code, out);
    return smtpstatus_image_lookup(cur, code, out);
}

void
smtpstatus_client_status_get(smtpstatus *h, smtpstatus_client_status *out)
{
    shared_image_status(smtpstatus__shared_of(h), out);
    out->socket_calls = smtpstatus__socket_calls(h);
}
