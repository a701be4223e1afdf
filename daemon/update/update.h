/*
 * smtpstatusd-update (`smtpstatus update`): keeps a registry directory current with IANA's
 * published files. It downloads the three CSV files (fetch.h), validates them with the daemon's
 * own loader (registry/registry.c, the code behind `smtpstatusd --check`), compares them with
 * the set installed now (registry/code_diff.h), installs them with one atomic rename while
 * keeping the set before as DIR.prev, asks the daemon to reload DIR, and prints what changed. Every
 * failure before the rename (a download that fails or is cut short, a server error, a table
 * that does not load, a set that would remove registered codes) leaves the directory as it was
 * and says why.
 */
#ifndef SMTPSTATUSD_UPDATE_H
#define SMTPSTATUSD_UPDATE_H

#include "cli.h" /* the exit statuses and option defaults of `smtpstatus update` */
#include "smtpstatus.h"

/* What to update, from the command line. */
struct update_options {
    const char *from;     /* --from URL, or NULL for UPDATE_DEFAULT_FROM */
    const char *registry; /* --registry DIR, or NULL for UPDATE_DEFAULT_DIR */
    int allow_removals;   /* --allow-removals */
    int json, pretty;     /* --json, --pretty: the summary as one JSON object on stdout */
};

/*
 * Updates opt->registry from opt->from and reloads it through `daemon`, a handle on the
 * daemon's socket; with --offline (`daemon` NULL) it only installs. Messages go through
 * output.h, as configured by the caller. Returns EXIT_ANSWERED (cli.h) when the directory is
 * current (updated, or already so), also when no daemon is running to reload it;
 * EXIT_NOT_FOUND when nothing was installed (and why was said) or when the daemon refused the
 * reload. Blocks on the network, the disk and the daemon's answer.
 */
int update_run(const struct update_options *opt, smtpstatus *daemon);

#endif
