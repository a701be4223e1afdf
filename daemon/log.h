/*
 * The daemon's log: one line per event, with a level a person can filter on, to stderr (which
 * systemd's journal or a terminal captures) or to syslog (/dev/log, which the journal or rsyslog
 * reads) once the daemon has detached from the terminal that started it. fatal() is for
 * start-up only: after start, a bad peer or a bad registry gets a warning and the daemon keeps
 * serving.
 */
#ifndef SMTPSTATUSD_LOG_H
#define SMTPSTATUSD_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Where lines go: auto is syslog for a detached daemon and stderr in the foreground. */
enum log_target { LOG_TARGET_AUTO, LOG_TARGET_STDERR, LOG_TARGET_SYSLOG };

/* Parses "error", "warning", "info" or "debug". Returns 0, or -1 for anything else. */
int log_parse_level(const char *s, enum log_level *out);

/* Parses "auto", "stderr" or "syslog". Returns 0, or -1 for anything else. */
int log_parse_target(const char *s, enum log_target *out);

void log_set_level(enum log_level level);

/*
 * Sends every later line to `target` (auto resolved by `detached`). Until then, and for a
 * stderr target, lines go to stderr. For syslog it connects to /dev/log (again on each line
 * while that fails, as after a restart of the journal); a detached daemon logging to syslog
 * also writes its fatal() message to stderr until log_detach_stderr(), since the person who
 * started it is still waiting for it there.
 */
void log_open(enum log_target target, int detached);

/* Whether lines go to syslog (after log_open()). */
int log_to_syslog(void);

/* Once a detached daemon logging to syslog is ready: stderr becomes /dev/null, so nothing
 * reaches the terminal or file that started it. Does nothing for another target. */
void log_detach_stderr(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Logs at error level and exits with status 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
