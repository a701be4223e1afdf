/*
 * Finding the helper programs (see helper.h). The program's own directory comes from
 * /proc/self/exe, which names the file that runs whatever argv[0] says.
 */
#include "helper.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
helper_path(const char *env, const char *name, const char *installed, char *buf, size_t size)
{
    const char *given = getenv(env);
    if (given != NULL && given[0] != '\0') {
        snprintf(buf, size, "%s", given);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            int m = snprintf(buf, size, "%s/%s", self, name);
            if (m > 0 && (size_t)m < size && access(buf, X_OK) == 0)
                return;
        }
    }
    snprintf(buf, size, "%s", installed);
}
