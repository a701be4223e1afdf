/*
 * Who may reload over the HTTP port. Loopback is not an identity (every local user is on it) and
 * the port's Unix socket is world-writable, so a reload needs the kernel's word that the peer is
 * an administrator (peer.h, decided by service.c): asked once, when a connection is accepted.
 * And a browser on this host is on loopback too, so a reload must also be a request that no web
 * page can make: no Origin header, a loopback Host, a JSON Content-Type. The other endpoints are
 * for everyone and ask nothing of this module. Nothing here allocates or blocks.
 */
#ifndef SMTPSTATUSD_HTTP_AUTH_H
#define SMTPSTATUSD_HTTP_AUTH_H

#include <stddef.h>
#include <sys/socket.h>

#include "http_api.h"
#include "service.h"

/* A connection's peer as the kernel identified it, copied into each of its requests. */
struct http_auth_peer {
    int admin;     /* may reload: root, the daemon's user or the admin group */
    int unix_peer; /* it came over the Unix socket */
    long uid;      /* its uid; -1: unknown */
};

/* Whether `sa` is a loopback address (127/8, ::1, or 127/8 mapped into IPv6). */
int http_auth_is_loopback(const struct sockaddr *sa);

/*
 * Identifies the peer of the connection just accepted on `fd` (-1: no descriptor, an unknown
 * peer). Over TCP (`tcp`), only a loopback client can be identified, and it is asked only when
 * reload is enabled (`admin_enabled`), as nothing else needs it; over the Unix socket, always.
 * A few system calls the kernel answers at once.
 */
void http_auth_identify(const struct service *svc, int admin_enabled, int fd, int tcp,
                        struct http_auth_peer *out);

/*
 * Whether `req` may ask for a reload: reload is enabled, the peer is an administrator, and the
 * request is not one a web page could send. Returns 0, or 403 with the reason, for a person to
 * act on, in why[0..why_size).
 */
int http_auth_reload(int admin_enabled, const struct http_request *req, char *why, size_t why_size);

#endif
