/*
 * The administrator's rules file, as the daemon reads it at start-up, on every reload and for
 * --check: read safely (a regular file of root's or the daemon's user's that nobody else may
 * write, never through a symbolic link, never blocking on a FIFO), parsed as admin rules, put
 * before the embedded image's built-in rules and compiled for this host. The result goes into
 * image_build_options.rules of every image the daemon publishes.
 */
#ifndef SMTPSTATUSD_RULES_LOAD_H
#define SMTPSTATUSD_RULES_LOAD_H

#include <sys/types.h>

#include "diag.h"
#include "rules.h"

#define RULES_DEFAULT_FILE "/etc/smtpstatusd/reasons.csv"

/* Where the administrator's rules are. */
struct rules_config {
    const char *path; /* the rules file; never NULL once the options are parsed */
    int required;     /* given with --rules: a missing file is an error. Otherwise it is the
                         default path, and a missing file means no administrator's rules */
    uid_t self_uid;   /* the daemon's user, who may own the file besides root */
};

/*
 * Reads, parses and compiles the rules of `cfg` into *out (empty on entry; the caller frees it
 * with rules_free() whatever the result). With administrator's rules, *out holds them followed
 * by the embedded image's built-in rules, compiled for this host, and out->file is the path.
 * Without any (the default file is missing, or it has a header and no row), *out stays empty
 * and `*missing` says whether the file was absent: images are then built without rules, and
 * readers use the built-in rules compiled into the library. Returns 0, or -1 with every error
 * in `d` (file:line:col where there is one). Blocks on file I/O and on compiling: the daemon
 * calls it off the event loop, except at start-up.
 */
int rules_load(const struct rules_config *cfg, struct rules *out, int *missing, struct diag *d);

#endif
