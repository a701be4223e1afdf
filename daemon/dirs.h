/*
 * The daemon's own directories, the run directory and the state directory: made with their
 * missing parents, and refused when another user owns one or may write it. Whoever could write
 * in the run directory could plant the socket and the image that clients believe, and whoever
 * could write in the state directory could plant the registry that a restart serves.
 */
#ifndef SMTPSTATUSD_DIRS_H
#define SMTPSTATUSD_DIRS_H

#include <stddef.h>
#include <sys/types.h>

/* Makes the directory `path` with `mode`, and each missing parent with `parent_mode` (before the
 * umask). Returns 0 (also when it exists) or the negated errno of the first mkdir() that failed.
 * Blocks on the file system. */
int dirs_make(const char *path, mode_t mode, mode_t parent_mode);

/*
 * Checks that `path` is a directory that this process's user or root owns and that nobody else
 * may write (no group or other write bit). Returns 0; the negated errno of stat() (-ENOENT when
 * it does not exist); or -EPERM when it is refused, with the reason for a person in
 * why[0..size), e.g. "owned by uid 40101, not by this daemon's user (uid 40102) or root".
 */
int dirs_check(const char *path, char *why, size_t size);

#endif
