/*
 * The daemon's log (see log.h). On stderr, lines carry a syslog-style <N> priority prefix when
 * stderr is the journal, and a plain "smtpstatusd: level:" prefix otherwise. To syslog they go
 * as RFC 3164 datagrams on /dev/log, written here rather than with syslog(3): its send() blocks
 * while the reader's queue is full, and nothing may block the event loop, so a line that finds
 * the queue full is dropped and counted, and the count is logged with the next line that fits.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SYSLOG_PATH     "/dev/log"
#define FACILITY_DAEMON 3 /* LOG_DAEMON >> 3 */

static enum log_level current = LOG_LEVEL_INFO;
static int use_syslog;        /* lines go to syslog */
static int fatal_stderr;      /* ... and fatal() also to stderr, until log_detach_stderr() */
static int syslog_fd = -1;    /* connected to SYSLOG_PATH, or -1 */
static unsigned long dropped; /* lines syslog had no room for since the last one sent */

static const char *const names[] = {"error", "warning", "info", "debug"};
static const char *const targets[] = {"auto", "stderr", "syslog"};
static const int syslog_prio[] = {3, 4, 6, 7};

/* The index of s in v[0..n), or -1. */
static int
find_name(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, v[i]) == 0)
            return (int)i;
    return -1;
}

int
log_parse_level(const char *s, enum log_level *out)
{
    int i = find_name(names, sizeof names / sizeof names[0], s);
    *out = i >= 0 ? (enum log_level)i : *out;
    return i >= 0 ? 0 : -1;
}

int
log_parse_target(const char *s, enum log_target *out)
{
    int i = find_name(targets, sizeof targets / sizeof targets[0], s);
    *out = i >= 0 ? (enum log_target)i : *out;
    return i >= 0 ? 0 : -1;
}

void
log_set_level(enum log_level level)
{
    current = level;
}

/* Connects syslog_fd to /dev/log, non-blocking. Returns 0, or -1 with errno set. */
static int
syslog_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, SYSLOG_PATH, sizeof SYSLOG_PATH);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    syslog_fd = fd;
    return 0;
}

/* Sends one datagram to syslog. Returns 0; -1 when it was not sent (no room, or no syslog). */
static int
syslog_send(enum log_level level, const char *line)
{
    char msg[2200], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL || strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm) == 0)
        stamp[0] = '\0';
    int n = snprintf(msg, sizeof msg, "<%d>%s smtpstatusd[%ld]: %s",
                     FACILITY_DAEMON * 8 + syslog_prio[level], stamp, (long)getpid(), line);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    /* A second try after a reconnect: the journal or rsyslog may have been restarted. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (syslog_fd < 0 && syslog_connect() != 0)
            return -1;
        if (send(syslog_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return -1;
        close(syslog_fd);
        syslog_fd = -1;
    }
    return -1;
}

void
log_open(enum log_target target, int detached)
{
    use_syslog = target == LOG_TARGET_SYSLOG || (target == LOG_TARGET_AUTO && detached);
    fatal_stderr = use_syslog && detached;
    if (!use_syslog)
        return;
    tzset(); /* now, not on the loop: it may read /etc/localtime */
    if (syslog_connect() != 0)
        fprintf(stderr,
                "smtpstatusd: warning: cannot log to syslog at " SYSLOG_PATH
                " (%s); lines are lost until it is there\n",
                strerror(errno));
}

int
log_to_syslog(void)
{
    return use_syslog;
}

void
log_detach_stderr(void)
{
    if (!fatal_stderr)
        return;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 2);
        close(null);
    }
    fatal_stderr = 0;
}

/* Whether stderr is the journal: systemd sets JOURNAL_STREAM to "device:inode" of the stream it
 * gave us, and a child whose stderr was redirected must not write priority prefixes. */
static int
stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void
to_stderr(enum log_level level, const char *line)
{
    if (stderr_is_journal())
        fprintf(stderr, "<%d>%s\n", syslog_prio[level], line);
    else
        fprintf(stderr, "smtpstatusd: %s: %s\n", names[level], line);
}

static void vlog(enum log_level level, int is_fatal, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vlog(enum log_level level, int is_fatal, const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    if (!use_syslog || (is_fatal && fatal_stderr))
        to_stderr(level, line);
    if (!use_syslog)
        return;
    if (dropped > 0) {
        char note[96];
        snprintf(note, sizeof note, "%lu log lines were dropped: syslog had no room for them",
                 dropped);
        if (syslog_send(LOG_LEVEL_WARNING, note) == 0)
            dropped = 0;
    }
    if (syslog_send(level, line) != 0)
        dropped++;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, 0, fmt, ap);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, 1, fmt, ap);
    va_end(ap);
    exit(1);
}
