/*
 * Peer credentials from the kernel (see peer.h). The TCP lookup sends one SOCK_DIAG_BY_FAMILY
 * request for exactly one socket (no dump) and reads the answer, which the kernel has queued
 * before sendto() returns; the read does not wait either way.
 */
#include "peer.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_GROUPS_ON_STACK 64

/* Whether `group` is among the peer's supplementary groups. Returns 0 or a negative errno. */
static int
peer_has_group(int fd, gid_t group, int *found)
{
    gid_t small[PEER_GROUPS_ON_STACK], *groups = small;
    socklen_t len = sizeof small;
    *found = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
        if (errno != ERANGE)
            return -errno;
        /* A member of many groups: the kernel said how much room they take. */
        if ((groups = malloc(len)) == NULL)
            return -ENOMEM;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
            int e = errno;
            free(groups);
            return -e;
        }
    }
    for (size_t i = 0; i < len / sizeof *groups; i++)
        *found |= groups[i] == group;
    if (groups != small)
        free(groups);
    return 0;
}

int
peer_from_unix(int fd, const gid_t *group, struct peer *out)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    memset(out, 0, sizeof *out);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return -errno;
    if (len != sizeof cred)
        return -EPROTO;
    int in_group = 0;
    if (group != NULL) {
        int rc = peer_has_group(fd, *group, &in_group);
        if (rc != 0)
            return rc;
    }
    *out = (struct peer){.known = 1,
                         .pid = cred.pid,
                         .uid = cred.uid,
                         .gid = cred.gid,
                         .groups_known = 1,
                         .in_group = in_group};
    return 0;
}

/* The address of `sa` as inet_diag wants it; a v4-mapped IPv6 address is the IPv4 socket's
 * unless `keep_mapped`. */
static int
diag_address(const struct sockaddr_storage *sa, int keep_mapped, int *family, __be16 *port,
             __be32 addr[4])
{
    memset(addr, 0, 4 * sizeof *addr);
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        *family = AF_INET;
        *port = in->sin_port;
        addr[0] = in->sin_addr.s_addr;
        return 0;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        *port = in6->sin6_port;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && !keep_mapped) {
            *family = AF_INET;
            memcpy(&addr[0], &in6->sin6_addr.s6_addr[12], 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, &in6->sin6_addr, 16);
        }
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* Asks sock_diag for the client's socket of the connection from `remote` to `local`, naming
 * v4-mapped addresses as IPv6 ones when `keep_mapped`. Returns 0 with *uid, or a negative errno
 * (-ENOENT: no such live socket). Does not block. */
static int
diag_uid(const struct sockaddr_storage *local, const struct sockaddr_storage *remote,
         int keep_mapped, uid_t *uid)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    int lfamily, rfamily;
    /* The client's socket: its source is our peer, its destination is us. */
    struct inet_diag_sockid *id = &req.r.id;
    if (diag_address(remote, keep_mapped, &rfamily, &id->idiag_sport, id->idiag_src) != 0 ||
        diag_address(local, keep_mapped, &lfamily, &id->idiag_dport, id->idiag_dst) != 0)
        return -EAFNOSUPPORT;
    if (lfamily != rfamily)
        return -EAFNOSUPPORT;
    id->idiag_cookie[0] = id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.nlh.nlmsg_seq = 1;
    req.r.sdiag_family = (__u8)rfamily;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;

    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return -errno;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    union {
        struct nlmsghdr h;
        char bytes[8192];
    } resp;
    ssize_t n;
    if (sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int e = errno;
        close(nl);
        return -e;
    }
    while ((n = recv(nl, &resp, sizeof resp, MSG_DONTWAIT)) < 0 && errno == EINTR)
        ;
    int e = errno;
    close(nl);
    if (n < 0)
        return -e;
    const struct nlmsghdr *h = &resp.h;
    if (!NLMSG_OK(h, (size_t)n))
        return -EPROTO;
    if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *err = NLMSG_DATA(h);
        return h->nlmsg_len >= NLMSG_LENGTH(sizeof *err) && err->error < 0 ? err->error : -EPROTO;
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        return -EPROTO;
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    /* The socket asked for, and a live one: a TIME_WAIT or request socket (no inode) says
     * uid 0 whoever made it, and a listener on the client's port is someone else. */
    if (m->id.idiag_sport != id->idiag_sport || m->id.idiag_dport != id->idiag_dport ||
        memcmp(m->id.idiag_src, id->idiag_src, sizeof id->idiag_src) != 0 ||
        memcmp(m->id.idiag_dst, id->idiag_dst, sizeof id->idiag_dst) != 0)
        return -ENOENT;
    if (m->idiag_inode == 0 || m->idiag_state == TCP_LISTEN || m->idiag_state == TCP_TIME_WAIT ||
        m->idiag_state == TCP_SYN_RECV)
        return -ENOENT;
    *uid = m->idiag_uid;
    return 0;
}

static int
is_v4_mapped(const struct sockaddr_storage *sa)
{
    return sa->ss_family == AF_INET6 &&
           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

int
peer_from_tcp(int fd, struct peer *out)
{
    struct sockaddr_storage local, remote;
    socklen_t llen = sizeof local, rlen = sizeof remote;
    memset(out, 0, sizeof *out);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
        getpeername(fd, (struct sockaddr *)&remote, &rlen) != 0)
        return -errno;
    uid_t uid;
    int rc = diag_uid(&local, &remote, 0, &uid);
    /* A v4-mapped pair on a dual-stack listener is an IPv4 client's connection, or an IPv6
     * socket's that connected to ::ffff:127.0.0.1: the kernel finds the latter by its IPv4
     * address but reports it in IPv6 form, so it is asked again as IPv6. */
    if (rc == -ENOENT && is_v4_mapped(&local) && is_v4_mapped(&remote))
        rc = diag_uid(&local, &remote, 1, &uid);
    if (rc != 0)
        return rc;
    *out = (struct peer){.known = 1, .uid = uid};
    return 0;
}
