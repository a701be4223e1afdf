/*
 * The reload's authorisation on the HTTP port (see http_auth.h): the peer's identity at accept,
 * and the checks of each reload request against what a browser could send.
 */
#include "http_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "peer.h"

int
http_auth_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

void
http_auth_identify(const struct service *svc, int admin_enabled, int fd, int tcp,
                   struct http_auth_peer *out)
{
    struct peer peer = {0};
    if (tcp) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        /* The client's socket is on this host: its owner is the peer. */
        if (admin_enabled && fd >= 0 && getpeername(fd, (struct sockaddr *)&addr, &len) == 0 &&
            http_auth_is_loopback((struct sockaddr *)&addr)) {
            int why = peer_from_tcp(fd, &peer);
            if (why != 0)
                log_debug("http: cannot identify a loopback client: %s", strerror(-why));
        }
    } else if (fd >= 0) {
        peer_from_unix(fd, service_admin_group(svc), &peer);
    }
    out->admin = service_peer_is_admin(svc, &peer);
    out->unix_peer = !tcp;
    out->uid = peer.known ? (long)peer.uid : -1L;
}

/* Whether h[0..n), a lower-case Host value, names this host by a loopback name: localhost,
 * 127.0.0.1 or [::1], each with an optional port. */
static int
loopback_host(const char *h, size_t n)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t k = strlen(names[i]);
        if (n < k || memcmp(h, names[i], k) != 0)
            continue;
        if (n == k)
            return 1;
        if (h[k] != ':' || n - k - 1 < 1 || n - k - 1 > 5)
            return 0;
        for (size_t j = k + 1; j < n; j++)
            if (h[j] < '0' || h[j] > '9')
                return 0;
        return 1;
    }
    return 0;
}

/* Whether t[0..n), a lower-case Content-Type value, is application/json (parameters allowed). */
static int
json_content_type(const char *t, size_t n)
{
    static const char want[] = "application/json";
    size_t k = sizeof want - 1;
    if (t == NULL || n < k || memcmp(t, want, k) != 0)
        return 0;
    return n == k || t[k] == ';' || t[k] == ' ' || t[k] == '\t';
}

int
http_auth_reload(int admin_enabled, const struct http_request *req, char *why, size_t why_size)
{
    if (!admin_enabled) {
        snprintf(why, why_size,
                 "reload over HTTP is off; start smtpstatusd with --http-admin to enable it "
                 "(or use smtpstatus reload)");
        return 403;
    }
    if (!req->local_peer) {
        if (req->unix_peer)
            snprintf(why, why_size,
                     "reload is for root, the daemon's user or the admin group; uid %ld is none",
                     req->peer_uid);
        else if (req->peer_uid >= 0)
            snprintf(why, why_size,
                     "reload over TCP is for root and the daemon's user; uid %ld is neither "
                     "(members of the admin group reload over the Unix sockets: smtpstatus "
                     "reload, or curl --unix-socket RUNDIR/smtpstatusd-http.sock with "
                     "--http-unix)",
                     req->peer_uid);
        else
            snprintf(why, why_size,
                     "reload over TCP needs a loopback client that the kernel identifies as root "
                     "or the daemon's user, and this one could not be identified; use smtpstatus "
                     "reload, or curl --unix-socket RUNDIR/smtpstatusd-http.sock with "
                     "--http-unix");
        return 403;
    }
    /* A web page must not reload, by a cross-site POST (text/plain needs no CORS preflight) or
     * by DNS rebinding a name it controls. */
    if (req->has_origin) {
        snprintf(why, why_size,
                 "reload is refused to a request with an Origin header (a browser's)");
        return 403;
    }
    if (req->host == NULL || !loopback_host(req->host, req->host_len)) {
        snprintf(why, why_size,
                 "reload needs Host: localhost, 127.0.0.1 or [::1] (with a port or without)");
        return 403;
    }
    if (!json_content_type(req->content_type, req->content_type_len)) {
        snprintf(why, why_size,
                 "reload needs Content-Type: application/json (curl -H 'Content-Type: "
                 "application/json'), which a web page cannot send without asking");
        return 403;
    }
    return 0;
}
