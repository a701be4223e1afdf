/*
 * Making and checking the daemon's directories (see dirs.h). Runs at start-up, and for the state
 * directory on the thread pool when a reload saves its files: never on the event loop.
 */
#include "dirs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
dirs_make(const char *path, mode_t mode, mode_t parent_mode)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -ENAMETOOLONG;
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        /* An existing parent may be one this user cannot write, such as /home: EEXIST is fine. */
        if (mkdir(buf, parent_mode) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -errno : 0;
}

int
dirs_check(const char *path, char *why, size_t size)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        snprintf(why, size, "%s", strerror(e));
        return -e;
    }
    uid_t self = geteuid();
    if (!S_ISDIR(st.st_mode))
        snprintf(why, size, "not a directory");
    else if (st.st_uid != self && st.st_uid != 0)
        snprintf(why, size, "owned by uid %ld, not by this daemon's user (uid %ld) or root",
                 (long)st.st_uid, (long)self);
    else if ((st.st_mode & 022) != 0)
        snprintf(why, size, "writable by group or others (mode %03o)",
                 (unsigned)(st.st_mode & 0777));
    else
        return 0;
    return -EPERM;
}
