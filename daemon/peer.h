/*
 * Who is on the other end of a connection, as the kernel recorded it: for a Unix socket, the
 * credentials of the process that connected (SO_PEERCRED) and its supplementary groups
 * (SO_PEERGROUPS); for a loopback TCP connection, the user who owns the client's socket, which
 * is a socket on this host that the kernel's socket diagnostics (NETLINK_SOCK_DIAG) can find by
 * the connection's addresses and ports. service.c decides from this who may reload; the servers
 * call these functions when they accept a connection. Each is a few system calls that the
 * kernel answers at once: nothing here waits on I/O or on NSS.
 */
#ifndef SMTPSTATUSD_PEER_H
#define SMTPSTATUSD_PEER_H

#include <sys/types.h>

struct peer {
    int known; /* 0 when the kernel did not say who it is: never an administrator */
    pid_t pid; /* 0 for a TCP peer */
    uid_t uid;
    gid_t gid;        /* valid when groups_known */
    int groups_known; /* gid and in_group are the kernel's record (a Unix socket peer); a TCP
                         peer has a uid alone, and its groups would need NSS */
    int in_group;     /* the group asked for was among its supplementary groups */
};

/*
 * Reads the credentials of the peer of the Unix socket `fd` into *out, and whether `group`
 * (when not NULL) is among the supplementary groups the kernel recorded when it connected.
 * Returns 0, or a negative errno with out->known == 0.
 */
int peer_from_unix(int fd, const gid_t *group, struct peer *out);

/*
 * Finds the owner of the client end of the TCP connection `fd` (a loopback connection: a
 * remote client's socket is not on this host) into *out, with the kernel's socket diagnostics.
 * Only a live socket counts: one that its process has closed, or a TIME_WAIT remnant (which
 * the kernel reports as uid 0), leaves the peer unknown. Returns 0, or a negative errno with
 * out->known == 0 (-ENOENT: no such socket on this host; -EAFNOSUPPORT or -EPERM: netlink is
 * not allowed here).
 */
int peer_from_tcp(int fd, struct peer *out);

#endif
