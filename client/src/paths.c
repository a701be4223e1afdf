/* The default run directory, shared by the daemon, the library and the CLI (see smtpstatus.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "smtpstatus.h"

int
smtpstatus_default_rundir(char *buf, size_t size)
{
    const char *env = getenv("SMTPSTATUS_RUNDIR"), *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (env != NULL && env[0] != '\0')
        n = snprintf(buf, size, "%s", env);
    else if (geteuid() == 0)
        n = snprintf(buf, size, "/run/smtpstatusd");
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, size, "%s/smtpstatusd", xdg);
    else
        n = snprintf(buf, size, "/tmp/smtpstatusd-%ld", (long)geteuid());
    return n < 0 || (size_t)n >= size ? SMTPSTATUS_ENOSPC : 0;
}
