/*
 * Socket activation: taking the listening API socket from systemd (smtpstatusd.socket) instead
 * of binding it. This speaks sd_listen_fds(3)'s protocol directly, as notify_ready() in main.c
 * speaks sd_notify's, so the daemon needs no libsystemd: systemd passes the sockets as file
 * descriptors 3, 4, ... and says so in $LISTEN_PID (this process) and $LISTEN_FDS (how many).
 */
#ifndef SMTPSTATUSD_LISTEN_FDS_H
#define SMTPSTATUSD_LISTEN_FDS_H

#include <stddef.h>

#define LISTEN_FDS_START 3 /* SD_LISTEN_FDS_START */

/*
 * Looks for a listening Unix stream socket passed by the service manager. Returns its file
 * descriptor (now owned by the caller, close-on-exec) and writes the path it is bound to into
 * path[0..size) ("" when it has none, e.g. an abstract socket); returns -1 when none was
 * passed (or they were passed to another process: $LISTEN_PID is not ours), and -2 after
 * writing why into why[0..why_size) when the passed descriptors are not usable (a count that
 * is not a number, no listening Unix stream socket among them). Either way it unsets LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES, so that no child sees them, and makes every other passed
 * descriptor close-on-exec. Does not block.
 */
int listen_fds_take_unix(char *path, size_t size, char *why, size_t why_size);

#endif
