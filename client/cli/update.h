/*
 * smtpstatus update: keeps a registry directory current with IANA's published files. It
 * downloads the three CSV files (fetch.h), validates them with the daemon's own loader
 * (daemon/registry.c, the code behind `smtpstatusd --check`), compares them with the set
 * installed now (daemon/served.c's diff), installs them with one atomic rename while keeping
 * the set before as DIR.prev, asks the daemon to reload DIR, and prints what changed. Every
 * failure before the rename (a download that fails or is cut short, a server error, a table
 * that does not load, a set that would remove registered codes) leaves the directory as it was
 * and says why.
 */
#ifndef SMTPSTATUS_CLI_UPDATE_H
#define SMTPSTATUS_CLI_UPDATE_H

#include "cli.h"
#include "source.h"

/* IANA's published location of the three files (the default of --from). */
#define UPDATE_DEFAULT_FROM "https://www.iana.org/assignments/smtp-enhanced-status-codes/"
/* The registry directory that the packaged smtpstatusd.service serves (default --registry). */
#define UPDATE_DEFAULT_DIR "/etc/smtpstatusd/registry"

/*
 * update: opt->from (NULL: UPDATE_DEFAULT_FROM), opt->registry (NULL: UPDATE_DEFAULT_DIR),
 * opt->allow_removals. Reloads through src->daemon; with --offline (src->daemon NULL) it only
 * installs. Returns EXIT_ANSWERED when the directory is current (updated, or already so), also
 * when no daemon is running to reload it; EXIT_NOT_FOUND when nothing was installed (and why
 * was said) or when the daemon refused the reload. Blocks on the network and the disk.
 */
int cmd_update(const struct options *opt, struct source *src);

#endif
