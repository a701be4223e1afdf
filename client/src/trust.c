/*
 * The client's trust rules for a run directory, its socket and its image (see trust.h). Every
 * check stats afresh: a daemon may be restarted, and its directory remade, under a long-lived
 * handle. None of it is on a lookup's path: it runs when a handle connects and when it maps a
 * new image.
 */
#include "trust.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpstatus.h"

/* Whether only root could have made the directory `rundir` (stat'ed into *d), which makes its
 * owner the daemon's user: its parent is root's and nobody else may write there. */
static int
made_by_root(const char *rundir, const struct stat *d)
{
    char parent[4096];
    int n = snprintf(parent, sizeof parent, "%s", rundir);
    if (n < 0 || (size_t)n >= sizeof parent)
        return 0;
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat p;
    return S_ISDIR(d->st_mode) && (d->st_mode & 022) == 0 && stat(parent, &p) == 0 &&
           p.st_uid == 0 && (p.st_mode & 022) == 0;
}

int
smtpstatus__trust_owner(const char *rundir, uid_t uid)
{
    struct stat d;
    return uid == 0 || uid == geteuid() ||
           (stat(rundir, &d) == 0 && d.st_uid == uid && made_by_root(rundir, &d));
}

int
smtpstatus__trust_rundir(const char *rundir, char *why, size_t size)
{
    char scratch[1];
    if (why == NULL || size == 0) {
        why = scratch;
        size = sizeof scratch;
    }
    struct stat d;
    if (stat(rundir, &d) != 0) {
        int e = errno;
        snprintf(why, size, "%s", strerror(e));
        return -e;
    }
    if (!S_ISDIR(d.st_mode)) {
        snprintf(why, size, "not a directory; refused");
        return SMTPSTATUS_ERUNDIR_FOREIGN;
    }
    if (!smtpstatus__trust_owner(rundir, d.st_uid)) {
        snprintf(why, size,
                 "owned by uid %ld, not by root, you (uid %ld) or the daemon's user; refused",
                 (long)d.st_uid, (long)geteuid());
        return SMTPSTATUS_ERUNDIR_FOREIGN;
    }
    if ((d.st_mode & 022) != 0) {
        snprintf(why, size, "writable by group or others (mode %03o); refused",
                 (unsigned)(d.st_mode & 0777));
        return SMTPSTATUS_ERUNDIR_FOREIGN;
    }
    return 0;
}

int
smtpstatus__trust_peer(int fd, const char *rundir, char *why, size_t size)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return -errno;
    if (smtpstatus__trust_owner(rundir, cred.uid))
        return 0;
    if (why != NULL && size > 0)
        snprintf(why, size,
                 "served by uid %ld (pid %ld), not by root, you (uid %ld) or the daemon's user; "
                 "refused",
                 (long)cred.uid, (long)cred.pid, (long)geteuid());
    return SMTPSTATUS_EPEER_FOREIGN;
}
