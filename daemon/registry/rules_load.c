/*
 * The administrator's rules file (see rules_load.h). The trust checks follow the registry
 * loader's: decided on the descriptor that is read, so that nothing can be swapped in between.
 */
#include "rules_load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"

/* Whether the file `st` may hold an administrator's rules; if not, says why in `d`. */
static int
trusted(const struct stat *st, const struct rules_config *cfg, struct diag *d)
{
    if (st->st_uid != 0 && st->st_uid != cfg->self_uid) {
        diag_add(d, DIAG_ERROR, cfg->path, 0, 0,
                 "is owned by uid %ld, not by root or the daemon's user (uid %ld): whoever owns "
                 "the rules file decides how every reply is classified",
                 (long)st->st_uid, (long)cfg->self_uid);
        return 0;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        diag_add(d, DIAG_ERROR, cfg->path, 0, 0,
                 "is writable by %s (mode %04o): the rules file must be writable by its owner "
                 "alone (chmod go-w)",
                 (st->st_mode & S_IWOTH) ? "others" : "its group",
                 (unsigned)(st->st_mode & 07777));
        return 0;
    }
    return 1;
}

/* Reads the rules file into a malloc'd buffer. Returns 0; 1 when it does not exist and is not
 * required; -1 with the reason in `d`. */
static int
read_rules_file(const struct rules_config *cfg, char **buf, size_t *len, struct diag *d)
{
    *buf = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO opens at once instead of waiting for a writer; fstat() refuses it. */
    int fd = open(cfg->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT && !cfg->required)
            return 1;
        if (errno == ELOOP)
            diag_add(d, DIAG_ERROR, cfg->path, 0, 0,
                     "is a symbolic link: name the rules file itself");
        else
            diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "cannot open the rules file: %s",
                     strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "is not a regular file");
        close(fd);
        return -1;
    }
    if (!trusted(&st, cfg, d)) {
        close(fd);
        return -1;
    }
    if (st.st_size > (off_t)CSV_MAX_INPUT) {
        diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "file is %lld bytes; the limit is %u",
                 (long long)st.st_size, CSV_MAX_INPUT);
        close(fd);
        return -1;
    }
    /* One byte more than allowed, so that a file that grew since fstat() is noticed. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *p = malloc(cap);
    if (p == NULL) {
        diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "out of memory");
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t got = read(fd, p + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || (size_t)got == cap - n) {
            diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "%s",
                     got < 0 ? strerror(errno) : "file changed while it was read");
            free(p);
            close(fd);
            return -1;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    *buf = p;
    *len = n;
    return 0;
}

int
rules_load(const struct rules_config *cfg, struct rules *out, int *missing, struct diag *d)
{
    char *buf;
    size_t len;
    *missing = 0;
    int rc = read_rules_file(cfg, &buf, &len, d);
    if (rc != 0) {
        *missing = rc == 1;
        return rc == 1 ? 0 : -1;
    }
    rc = rules_parse(out, buf, len, cfg->path, 1, d);
    free(buf);
    if (rc != 0)
        return -1;
    if (out->admin_count == 0) {
        rules_free(out);
        return 0;
    }
    if (rules_append_image(out, smtpstatus_image_embedded()) != 0) {
        diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "out of memory");
        return -1;
    }
    return rules_compile(out, 0, d);
}
