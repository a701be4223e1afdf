/*
 * Publishing the registry image into the run directory (see publish.h).
 *
 * No fsync: the run directory is normally tmpfs, and what matters is what other processes see
 * through the page cache, which is every byte as soon as write() returns. The daemon keeps a
 * writable shared mapping of just the header of the image it published last, file and memfd,
 * for the one store that supersedes each.
 */
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define HEADER_LEN sizeof(struct smtpstatus_image_header)

/* Pairs with the clients' acquire load of the word (stale() in client/src/shared_image.c): a
 * client that sees it set finds the successor already published. */
static void
supersede(void *header, uint64_t successor)
{
    struct smtpstatus_image_header *h = header;
    __atomic_store_n(&h->superseded, successor, __ATOMIC_RELEASE);
}

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

static void *
map_header(int fd)
{
    void *m = mmap(NULL, HEADER_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return m == MAP_FAILED ? NULL : m;
}

/* The image left at p->path by an earlier daemon: its generation if it is a valid image of
 * ours, after marking it superseded by generation + 1. Anything else is left alone: the rename
 * of the new image replaces it, and no client accepts it meanwhile. */
static uint64_t
supersede_leftover(struct publisher *p, struct diag *d)
{
    int fd = open(p->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            diag_add(d, DIAG_WARNING, p->path, 0, 0, "cannot open the image left there: %s",
                     strerror(errno));
        return 0;
    }
    struct stat st;
    uint64_t generation = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_size < (off_t)HEADER_LEN || st.st_size > (off_t)SMTPSTATUS_IMAGE_MAX_SIZE) {
        diag_add(d, DIAG_WARNING, p->path, 0, 0,
                 "the file left there is not an image of this daemon's; replacing it");
        close(fd);
        return 0;
    }
    size_t len = (size_t)st.st_size;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        diag_add(d, DIAG_WARNING, p->path, 0, 0, "cannot map the image left there: %s",
                 strerror(errno));
        return 0;
    }
    smtpstatus_image *img = NULL;
    int rc = smtpstatus_image_open(m, len, &img);
    if (rc == 0) {
        smtpstatus_image_summary s;
        smtpstatus_image_summarize(img, &s);
        generation = s.generation;
        smtpstatus_image_close(img);
        supersede(m, generation + 1);
    } else {
        diag_add(d, DIAG_WARNING, p->path, 0, 0, "the image left there is not valid (%s); "
                 "replacing it", smtpstatus_strerror(rc));
    }
    munmap(m, len);
    return generation;
}

int
publisher_init(struct publisher *p, const char *rundir, uint64_t *last_generation,
               struct diag *d)
{
    memset(p, 0, sizeof *p);
    p->memfd = -1;
    pthread_mutex_init(&p->lock, NULL);
    *last_generation = 0;
    int n = snprintf(p->path, sizeof p->path, "%s/" PUBLISH_IMAGE_NAME, rundir);
    int m = snprintf(p->tmp_path, sizeof p->tmp_path, "%s/" PUBLISH_IMAGE_NAME ".new", rundir);
    if (n < 0 || m < 0 || (size_t)m >= sizeof p->tmp_path) {
        diag_add(d, DIAG_ERROR, rundir, 0, 0, "the run directory's path is too long");
        return -1;
    }
    *last_generation = supersede_leftover(p, d);
    return 0;
}

/* Makes (fd, header) the memfd that image.sock hands out, then supersedes the one before: a
 * client that sees it superseded and asks image.sock gets the new one. */
static void
swap_memfd(struct publisher *p, int fd, void *header, uint64_t generation)
{
    pthread_mutex_lock(&p->lock);
    int old_fd = p->memfd;
    void *old_header = p->memfd_header;
    p->memfd = fd;
    p->memfd_header = header;
    pthread_mutex_unlock(&p->lock);
    if (old_header != NULL) {
        supersede(old_header, generation);
        munmap(old_header, HEADER_LEN);
    }
    if (old_fd >= 0)
        close(old_fd);
}

/* After a failed publish no image may look current, or its clients would answer from a registry
 * the daemon no longer serves: without a `registry` file they ask the socket instead. */
static void
withdraw(struct publisher *p, uint64_t generation)
{
    unlink(p->path);
    if (p->header != NULL) {
        supersede(p->header, generation);
        munmap(p->header, p->header_len);
        p->header = NULL;
    }
    swap_memfd(p, -1, NULL, generation);
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0)
            errno = EIO;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Puts image[0..len) (the published bytes) into a new memfd, maps its header writable, and
 * seals it. Returns the memfd and its header's mapping in *header, or -1 with errno. */
static int
publish_memfd(struct publisher *p, const unsigned char *image, size_t len, void **header)
{
    /* The name is a label only (it shows in /proc/PID/maps); the kernel caps it at 249 bytes. */
    char name[250];
    size_t n = strnlen(p->path, sizeof name - 1);
    memcpy(name, p->path, n);
    name[n] = '\0';
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    /* The writable mapping comes before the seals: F_SEAL_FUTURE_WRITE refuses new ones but
     * leaves this one writable, for the superseded word. */
    void *h = NULL;
    if (write_all(fd, image, len) != 0 || (h = map_header(fd)) == NULL ||
        fcntl(fd, F_ADD_SEALS, SEALS) != 0) {
        int e = errno;
        if (h != NULL)
            munmap(h, HEADER_LEN);
        close(fd);
        errno = e;
        return -1;
    }
    *header = h;
    return fd;
}

/* Writes and renames the new image, then makes its memfd the one image.sock hands out
 * (superseding the memfd before); returns the file header's mapping, or NULL with the reason in
 * err (the caller withdraws what is left). */
static void *
publish_file(struct publisher *p, const void *image, size_t len, uint64_t generation, char *err,
             size_t err_size)
{
    if (len < HEADER_LEN) {
        snprintf(err, err_size, "cannot publish %s: the image is truncated", p->path);
        return NULL;
    }
    unsigned char *copy = malloc(len);
    if (copy == NULL) {
        snprintf(err, err_size, "cannot publish %s: out of memory", p->path);
        return NULL;
    }
    memcpy(copy, image, len);
    struct smtpstatus_image_header *h = (struct smtpstatus_image_header *)copy;
    h->superseded = 0;
    h->generation = generation;
    h->checksum = smtpstatus_image_checksum(copy, len);

    /* A registry.new can only be left by a daemon that died before renaming it: nobody maps
     * it, so it may go. */
    if (unlink(p->tmp_path) != 0 && errno != ENOENT)
        goto fail;
    int fd = open(p->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    void *header = NULL;
    if (fchmod(fd, 0644) != 0 || write_all(fd, copy, len) != 0 ||
        (header = map_header(fd)) == NULL) {
        int e = errno;
        close(fd);
        unlink(p->tmp_path);
        errno = e;
        goto fail;
    }
    close(fd);
    if (rename(p->tmp_path, p->path) != 0) {
        int e = errno;
        munmap(header, HEADER_LEN);
        unlink(p->tmp_path);
        errno = e;
        goto fail;
    }
    void *memfd_header;
    int memfd = publish_memfd(p, copy, len, &memfd_header);
    if (memfd < 0) {
        int e = errno;
        munmap(header, HEADER_LEN);
        snprintf(err, err_size, "cannot publish %s as a sealed memfd: %s", p->path, strerror(e));
        free(copy);
        return NULL;
    }
    swap_memfd(p, memfd, memfd_header, generation);
    free(copy);
    return header;

fail:
    snprintf(err, err_size, "cannot publish %s: %s", p->path, strerror(errno));
    free(copy);
    return NULL;
}

int
publisher_publish(struct publisher *p, const void *image, size_t len, uint64_t generation,
                  char *err, size_t err_size)
{
    void *header = publish_file(p, image, len, generation, err, err_size);
    if (header == NULL) {
        withdraw(p, generation);
        return -1;
    }
    if (p->header != NULL) {
        supersede(p->header, generation);
        munmap(p->header, p->header_len);
    }
    p->header = header;
    p->header_len = HEADER_LEN;
    p->generation = generation;
    return 0;
}

int
publisher_send_image(struct publisher *p, int sock)
{
    char byte = 'i';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    /* Under the lock so that the publishing thread cannot close the descriptor meanwhile;
     * sendmsg() with MSG_DONTWAIT on a new connection takes microseconds. */
    pthread_mutex_lock(&p->lock);
    int rc = -ENOENT;
    if (p->memfd >= 0) {
        memcpy(CMSG_DATA(c), &p->memfd, sizeof(int));
        rc = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -errno;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void
publisher_close(struct publisher *p)
{
    /* The clients of this memfd move to the file, which the next daemon supersedes when it
     * starts; it will publish generation + 1. */
    swap_memfd(p, -1, NULL, p->generation + 1);
    if (p->header != NULL)
        munmap(p->header, p->header_len);
    p->header = NULL;
    pthread_mutex_destroy(&p->lock);
}
