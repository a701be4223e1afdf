/*
 * `smtpstatus update`: this process becomes smtpstatusd-update, the writer-side program that
 * downloads, checks and installs the registry (daemon/update/), with the options of the command
 * line as smtpstatus.c read them. The download (libcurl) and the registry compiler stay out of
 * this command, which must start fast for every other subcommand; smtpstatusd-update speaks as
 * this command does (its messages say "smtpstatus: "), so the update reads as it always did.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "helper.h"
#include "output.h"

#ifndef SMTPSTATUS_UPDATE_HELPER
#define SMTPSTATUS_UPDATE_HELPER "/usr/sbin/smtpstatusd-update"
#endif

int
cmd_update(const struct options *opt, struct source *src)
{
    (void)src;
    char path[PATH_MAX + 32], timeout[16];
    helper_path("SMTPSTATUS_UPDATE_HELPER", "smtpstatusd-update", SMTPSTATUS_UPDATE_HELPER, path,
                sizeof path);
    snprintf(timeout, sizeof timeout, "%u", opt->timeout_ms);
    /* argv[0] names this command, for the helper's messages. */
    const char *argv[16];
    int k = 0;
    argv[k++] = "smtpstatus";
    if (opt->json)
        argv[k++] = "--json";
    if (opt->pretty)
        argv[k++] = "--pretty";
    if (opt->offline)
        argv[k++] = "--offline";
    if (opt->socket_only)
        argv[k++] = "--socket";
    if (opt->allow_removals)
        argv[k++] = "--allow-removals";
    const char *valued[][2] = {{"--rundir", opt->rundir},
                               {"--from", opt->from},
                               {"--registry", opt->registry},
                               {"--timeout", timeout}};
    for (size_t i = 0; i < sizeof valued / sizeof valued[0]; i++) {
        if (valued[i][1] != NULL) {
            argv[k++] = valued[i][0];
            argv[k++] = valued[i][1];
        }
    }
    argv[k] = NULL;
    fflush(stdout);
    execv(path, (char *const *)argv);
    if (errno == ENOENT)
        output_error(NULL, NULL,
                     "update needs smtpstatusd-update, which is not installed (%s): install "
                     "the smtpstatusd package, which has it",
                     path);
    else
        output_error(NULL, NULL, "cannot run %s for update: %s", path, strerror(errno));
    return EXIT_NOT_FOUND;
}
