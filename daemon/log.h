/*
 * The daemon's log: one line per event on stderr, which systemd's journal or a terminal
 * captures, with a level a person can filter on. fatal() is for start-up only: after start,
 * a bad peer or a bad registry gets a warning and the daemon keeps serving.
 */
#ifndef SMTPSTATUSD_LOG_H
#define SMTPSTATUSD_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Parses "error", "warning", "info" or "debug". Returns 0, or -1 for anything else. */
int log_parse_level(const char *s, enum log_level *out);

void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Logs at error level and exits with status 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
