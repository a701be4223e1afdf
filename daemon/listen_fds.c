/*
 * Socket activation without libsystemd (see listen_fds.h). The checks follow sd_listen_fds(3)
 * and sd_is_socket_unix(3): the descriptors are only ours when $LISTEN_PID is our pid, and a
 * descriptor is only used when it is an AF_UNIX SOCK_STREAM socket that is already listening.
 */
#include "listen_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Parses a decimal number from 1 to `max`; returns it, or 0 for anything else. */
static unsigned long
parse_positive(const char *s, unsigned long max)
{
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    return errno != 0 || *end != '\0' || v > max ? 0 : v;
}

/* Whether `fd` is a listening AF_UNIX stream socket; its bound path goes to path[0..size). */
static int
is_listening_unix(int fd, char *path, size_t size)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
        return 0;
    len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
        return 0;
    struct sockaddr_un sa;
    len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || sa.sun_family != AF_UNIX)
        return 0;
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path)
                   : 0;
    if (n > sizeof sa.sun_path)
        n = sizeof sa.sun_path; /* the kernel may count a terminator the struct has no room for */
    if (n > 0 && sa.sun_path[0] == '\0')
        n = 0; /* abstract: no path a client could open */
    n = strnlen(sa.sun_path, n);
    if (n >= size)
        n = size - 1;
    memcpy(path, sa.sun_path, n);
    path[n] = '\0';
    return 1;
}

int
listen_fds_take_unix(char *path, size_t size, char *why, size_t why_size)
{
    const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
    int result = -1;
    path[0] = '\0';
    if (pid_s == NULL && fds_s == NULL)
        return -1;
    unsigned long pid = parse_positive(pid_s, LONG_MAX);
    unsigned long n = parse_positive(fds_s, (unsigned long)(INT_MAX - LISTEN_FDS_START));
    if (pid != (unsigned long)getpid()) {
        /* Meant for another process (one that exec'd us without clearing them): as
         * sd_listen_fds(3) does, they are not ours and say nothing. */
        n = 0;
    } else if (n == 0) {
        snprintf(why, why_size, "LISTEN_FDS=%s is not a positive number of descriptors",
                 fds_s ? fds_s : "(unset)");
        result = -2;
    }
    for (unsigned long i = 0; i < n; i++) {
        int fd = LISTEN_FDS_START + (int)i;
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0)
            continue;
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        if (result < 0 && is_listening_unix(fd, path, size))
            result = fd;
    }
    if (n > 0 && result < 0) {
        snprintf(why, why_size,
                 "none of the %lu descriptor%s passed by the service manager is a listening "
                 "Unix stream socket (check ListenStream= in smtpstatusd.socket)",
                 n, n == 1 ? "" : "s");
        result = -2;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return result;
}
