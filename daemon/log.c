/*
 * The daemon's log (see log.h). Lines carry a syslog-style <N> priority prefix when stderr is
 * the journal, and a plain "smtpstatusd: level:" prefix otherwise.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum log_level current = LOG_LEVEL_INFO;

static const char *const names[] = {"error", "warning", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7};

int
log_parse_level(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void
log_set_level(enum log_level level)
{
    current = level;
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

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
vlog(enum log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    if (stderr_is_journal())
        fprintf(stderr, "<%d>%s\n", syslog_prio[level], line);
    else
        fprintf(stderr, "smtpstatusd: %s: %s\n", names[level], line);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
