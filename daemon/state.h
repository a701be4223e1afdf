/*
 * The state directory: where the daemon keeps the last registry it reloaded successfully, so
 * that a restart serves it rather than the embedded default. The three CSV files are written to
 * a fresh directory, synced, and swapped in by renaming a symbolic link, so a crash at any
 * point leaves either the old set or the new set, never a mix.
 */
#ifndef SMTPSTATUSD_STATE_H
#define SMTPSTATUSD_STATE_H

#include "diag.h"
#include "registry.h"

/* The saved registry's directory, statedir/registry, in buf. Returns buf. */
char *state_registry_dir(const char *statedir, char *buf, size_t size);

/*
 * Saves the files as the state directory's registry, creating statedir (mode 0755) and its
 * missing parents (0700) if needed, and refusing a statedir that another user owns or may write
 * (dirs.h). Returns 0, or -1 with the reason in `d`, leaving the previous saved set in place.
 * Blocks on file I/O and fsync: call it off the event loop.
 */
int state_save(const char *statedir, const struct registry_files *f, struct diag *d);

/*
 * Removes what a crash in the middle of state_save() can leave in statedir: set directories
 * (registry.XXXXXX) that the registry link does not point to, and a registry.new link. Each
 * removal that fails is a warning in `d`; a missing statedir is not an error. Call it at
 * start-up, before the daemon reloads anything: it takes every unlinked set for a partial one,
 * so the state directory must be this daemon's alone. Blocks on file I/O. Returns the number of
 * sets removed.
 */
int state_clean(const char *statedir, struct diag *d);

#endif
