/*
 * Whom a client believes: the one set of rules for the daemon's socket and for its published
 * image. A run directory, the image in it and the process serving its socket are believed only
 * when they belong to root, to the caller or to the daemon's user, and nobody else can write the
 * directory or the image. The daemon's user is the run directory's owner when only root could
 * have made that directory: its parent is root's and nobody else may write there, as for
 * /run/smtpstatusd made by systemd's RuntimeDirectory=. Anything else is what another local user
 * could have planted, such as a /tmp/smtpstatusd-UID made before its victim's daemon started, and
 * its answers would be forgeries.
 */
#ifndef SMTPSTATUS_TRUST_H
#define SMTPSTATUS_TRUST_H

#include <stddef.h>
#include <sys/types.h>

/* Whether files in `rundir`, and the process serving its socket, may belong to `uid`: root, the
 * caller (its effective uid), or the daemon's user as above. Blocks on stat() of rundir and of
 * its parent. */
int smtpstatus__trust_owner(const char *rundir, uid_t uid);

/*
 * Checks `rundir` itself, before a client connects to the socket in it. Returns 0 when it is a
 * directory that smtpstatus__trust_owner() accepts the owner of and nobody else may write;
 * SMTPSTATUS_ERUNDIR_FOREIGN when it is not; or the negated errno of stat() (-ENOENT: no daemon
 * made it). On a refusal the reason for a person goes into why[0..size), e.g. "owned by uid 40101,
 * not by root, you (uid 40102) or the daemon's user; refused"; why may be NULL.
 */
int smtpstatus__trust_rundir(const char *rundir, char *why, size_t size);

/*
 * Checks who serves the connected Unix socket `fd` of `rundir`, with SO_PEERCRED: the user that
 * called listen() on it, which is systemd (root) for a socket it holds. Returns 0 when
 * smtpstatus__trust_owner() accepts that user; SMTPSTATUS_EPEER_FOREIGN, with the reason in
 * why[0..size) as above, when it does not; or the negated errno of getsockopt().
 */
int smtpstatus__trust_peer(int fd, const char *rundir, char *why, size_t size);

#endif
