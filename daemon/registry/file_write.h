/*
 * Writing registry files so that they survive a crash: a new file written whole and synced, and
 * a directory synced after names in it changed. The daemon's state directory (state.c) and
 * `smtpstatus update` (client/cli/update.c) both install CSV sets this way.
 */
#ifndef SMTPSTATUSD_FILE_WRITE_H
#define SMTPSTATUSD_FILE_WRITE_H

#include <stddef.h>

/* Creates `path` (which must not exist; a symbolic link there is not followed) with mode 0644
 * whatever the umask, since the daemon's user reads it, writes data[0..len) and syncs it.
 * Returns 0, or -1 with errno (the file may be left, incomplete, for the caller to remove). */
int file_write_new(const char *path, const void *data, size_t len);

/* Syncs the directory `path`, so that renames and new names in it are on disk. Returns 0, or
 * -1 with errno. */
int file_sync_dir(const char *path);

#endif
