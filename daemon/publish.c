/*
 * Publishing the registry image into the run directory (see publish.h).
 *
 * No fsync: the run directory is normally tmpfs, and what matters is what other processes see
 * through the page cache, which is every byte as soon as write() returns. The daemon keeps a
 * writable shared mapping of just the header of the image it published last, for the one store
 * that supersedes it.
 */
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define HEADER_LEN sizeof(struct smtpstatus_image_header)

static void
supersede(void *header, uint64_t successor)
{
    struct smtpstatus_image_header *h = header;
    __atomic_store_n(&h->superseded, successor, __ATOMIC_RELEASE);
}

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

/* Writes and renames the new image; returns its header's mapping, or NULL with the reason in
 * `d` and nothing left behind. */
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
    return 0;
}

void
publisher_close(struct publisher *p)
{
    if (p->header != NULL)
        munmap(p->header, p->header_len);
    p->header = NULL;
}
