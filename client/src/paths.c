/*
 * The default run directory, shared by the daemon, the library and the CLI (see smtpstatus.h).
 * It is the same for every caller, root or not: mail software running as its own user must find
 * the system daemon, and a directory chosen per user (under /tmp above all) is one that another
 * user can make first.
 */
#include <stdio.h>
#include <stdlib.h>

#include "smtpstatus.h"

int
smtpstatus_default_rundir(char *buf, size_t size)
{
    const char *env = getenv("SMTPSTATUS_RUNDIR");
    int n =
        snprintf(buf, size, "%s", env != NULL && env[0] != '\0' ? env : SMTPSTATUS_RUNDIR_DEFAULT);
    return n < 0 || (size_t)n >= size ? SMTPSTATUS_ENOSPC : 0;
}
