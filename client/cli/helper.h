/*
 * The programs that the smtpstatus command becomes for the subcommands that need more than the
 * reader side: smtpstatus-bounce (bounce --offline, GMime) and smtpstatusd-update (update,
 * libcurl and the registry compiler). Keeping them in programs of their own keeps this command
 * small and quick to start; it finds them the same way for both, so that a build tree runs its
 * own copies and an installed command the installed ones.
 */
#ifndef SMTPSTATUS_CLI_HELPER_H
#define SMTPSTATUS_CLI_HELPER_H

#include <stddef.h>

/*
 * The path of helper program `name` into buf[0..size): the environment variable `env` when it
 * is set and not empty, else `name` beside this program when that is executable (a build
 * tree), else `installed`. Never fails; the path may name nothing, which exec then reports.
 */
void helper_path(const char *env, const char *name, const char *installed, char *buf,
                 size_t size);

#endif
