/*
 * The subcommands of smtpstatus. Each runs against the source that source_open() chose: it reads
 * the embedded image with --offline (src->img) and asks the daemon otherwise (src->daemon), gets
 * the same library types either way, and hands them to the printers of output.h. smtpstatus.c
 * has already checked the number of arguments (opt->args[0..opt->nargs)), that only render gets
 * the render options, and that reload and stats, which only the daemon can answer, do not run
 * --offline. Each returns the exit status (cli.h) after printing every answer and message; each
 * may block on the daemon, for up to --timeout per question, and those that read "-" on
 * standard input.
 */
#ifndef SMTPSTATUS_CLI_COMMANDS_H
#define SMTPSTATUS_CLI_COMMANDS_H

#include "cli.h"
#include "source.h"

/* lookup CODE...: one answer per code, in order. */
int cmd_lookup(const struct options *opt, struct source *src);

/* basic NNN: the reply code's standard text and the enhanced codes associated with it. */
int cmd_basic(const struct options *opt, struct source *src);

/* search WORDS...: the registered codes whose title or description holds every word. */
int cmd_search(const struct options *opt, struct source *src);

/* render BASIC [ENHANCED] [TEXT | -]: the reply a server sends (or its DSN fields). */
int cmd_render(const struct options *opt, struct source *src);

/* classify [REPLY | -]: what a reply means; no REPLY or "-" reads it from stdin. */
int cmd_classify(const struct options *opt, struct source *src);

/* bounce [FILE | -]: a bounce message read whole, one result per recipient; asks the daemon,
 * or with --offline becomes the smtpstatus-bounce helper (bounce_cmd.c). */
int cmd_bounce(const struct options *opt, struct source *src);

/* update: becomes smtpstatusd-update with the options of the command line (update_cmd.c);
 * returns only when that fails, after saying what to install. Ignores src: the command line
 * runs it without opening a source. */
int cmd_update(const struct options *opt, struct source *src);

/* info: the summary of the image answers come from, or what the daemon serves. */
int cmd_info(const struct options *opt, struct source *src);

/* reload [DIR]: the daemon reloads its registry, from DIR when given (daemon only). */
int cmd_reload(const struct options *opt, struct source *src);

/* stats: the daemon's counters (daemon only). */
int cmd_stats(const struct options *opt, struct source *src);

#endif
