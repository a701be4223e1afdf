/*
 * Unit tests for peer identification (daemon/peer.c): a client process running as another
 * user (uid 40301, with or without the supplementary group 40310) connects over a Unix socket,
 * loopback IPv4 and loopback IPv6, and the server side must name that user as the kernel
 * recorded it: SO_PEERCRED and SO_PEERGROUPS, or the socket diagnostics for TCP. A client that
 * has closed its socket is no longer anybody. Needs root to become another user; skips
 * otherwise.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"

#define CLIENT_UID   40301
#define CLIENT_GROUP 40310

/* A client as another user: connects to `sa`, says so on ready[1], then waits until go[1]
 * closes and closes its socket. `group` 0: no supplementary group. */
static pid_t
client(const struct sockaddr *sa, socklen_t len, gid_t group, const int ready[2], const int go[2])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0)
        return pid;
    close(ready[0]);
    close(go[1]);
    gid_t groups[1] = {group};
    if (setgroups(group ? 1 : 0, groups) != 0 || setgid(CLIENT_UID) != 0 || setuid(CLIENT_UID) != 0)
        _exit(2);
    int fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, sa, len) != 0)
        _exit(3);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1)
        _exit(4);
    while (read(go[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(fd);
    _exit(0);
}

/* Starts a client of listener `lfd` (bound at `sa`) and returns the accepted connection;
 * *go_w is the pipe end whose closing makes the client close. */
static int
accept_client(int lfd, const struct sockaddr *sa, socklen_t len, gid_t group, pid_t *pid, int *go_w)
{
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    *pid = client(sa, len, group, ready, go);
    close(ready[1]);
    close(go[0]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    *go_w = go[1];
    return fd;
}

static void
finish_client(pid_t pid, int go_w)
{
    close(go_w);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_unix_peer(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *dir = testutil_tempdir();
    assert_int_equal(chmod(dir, 0755), 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(chmod(sa.sun_path, 0666), 0);
    assert_int_equal(listen(lfd, 4), 0);

    const gid_t want = CLIENT_GROUP, other = CLIENT_GROUP + 1;
    for (int with_group = 0; with_group < 2; with_group++) {
        pid_t pid;
        int go;
        int fd = accept_client(lfd, (struct sockaddr *)&sa, sizeof sa,
                               with_group ? CLIENT_GROUP : 0, &pid, &go);
        struct peer p;
        assert_int_equal(peer_from_unix(fd, &want, &p), 0);
        assert_true(p.known && p.groups_known);
        assert_int_equal(p.uid, CLIENT_UID);
        assert_int_equal(p.gid, CLIENT_UID);
        assert_int_equal(p.pid, pid);
        assert_int_equal(p.in_group, with_group);
        assert_int_equal(peer_from_unix(fd, &other, &p), 0);
        assert_false(p.in_group);
        assert_int_equal(peer_from_unix(fd, NULL, &p), 0);
        assert_false(p.in_group);
        finish_client(pid, go);
        close(fd);
    }
    close(lfd);
    testutil_rmtree(dir);
}

/* One loopback family: the owner of the client's socket is found, and nobody once the client
 * has closed it. */
static void
check_tcp(int family)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    int lfd = socket(family, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    if (bind(lfd, (struct sockaddr *)&ss, len) != 0) {
        assert_int_equal(family, AF_INET6); /* a host without IPv6 */
        close(lfd);
        return;
    }
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);

    pid_t pid;
    int go;
    int fd = accept_client(lfd, (struct sockaddr *)&ss, len, 0, &pid, &go);
    struct peer p;
    int rc = peer_from_tcp(fd, &p);
    assert_int_equal(rc, 0);
    assert_true(p.known);
    assert_false(p.groups_known);
    assert_int_equal(p.uid, CLIENT_UID);

    finish_client(pid, go);
    char c;
    assert_int_equal(read(fd, &c, 1), 0); /* the client's FIN has come */
    assert_int_equal(peer_from_tcp(fd, &p), -ENOENT);
    assert_false(p.known);
    close(fd);
    close(lfd);
}

static void
test_tcp_peer(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    check_tcp(AF_INET);
    check_tcp(AF_INET6);
}

/* A dual-stack [::] listener: an IPv6 socket that connected to ::ffff:127.0.0.1 and an IPv4
 * socket that connected to 127.0.0.1 both reach it with v4-mapped addresses, and both owners
 * are found. */
static void
test_tcp_peer_v4_mapped(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int lfd = socket(AF_INET6, SOCK_STREAM, 0);
    if (lfd < 0)
        skip(); /* a host without IPv6 */
    int off = 0;
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    socklen_t len = sizeof any;
    if (setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0 ||
        bind(lfd, (struct sockaddr *)&any, len) != 0) {
        close(lfd);
        skip();
    }
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&any, &len), 0);

    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = any.sin6_port};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr), 1);
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = any.sin6_port};
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *targets[] = {(struct sockaddr *)&mapped, (struct sockaddr *)&v4};
    const socklen_t lens[] = {sizeof mapped, sizeof v4};
    for (int i = 0; i < 2; i++) {
        pid_t pid;
        int go;
        int fd = accept_client(lfd, targets[i], lens[i], 0, &pid, &go);
        struct peer p;
        int rc = peer_from_tcp(fd, &p);
        finish_client(pid, go);
        close(fd);
        assert_int_equal(rc, 0);
        assert_true(p.known);
        assert_int_equal(p.uid, CLIENT_UID);
    }
    close(lfd);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix_peer),
        cmocka_unit_test(test_tcp_peer),
        cmocka_unit_test(test_tcp_peer_v4_mapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
