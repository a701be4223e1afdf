/*
 * listen_fds_take_unix(), the daemon's side of socket activation, with real sockets put where a
 * service manager puts them (descriptor 3 on): a listening Unix socket is taken with its path
 * (also one whose path fills sun_path), the environment is cleared, descriptors become
 * close-on-exec; a LISTEN_PID of another process is ignored; a count that is not a number, a
 * socket that does not listen, a datagram socket and a descriptor that is not open are each
 * reported.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen_fds.h"

static void
set_env(long pid, const char *fds)
{
    char p[32];
    snprintf(p, sizeof p, "%ld", pid);
    setenv("LISTEN_PID", p, 1);
    setenv("LISTEN_FDS", fds, 1);
}

/* A Unix socket of `type` bound to `path` (listening when `listening`), moved to descriptor 3. */
static void
socket_at_3(int type, const char *path, int listening)
{
    int fd = socket(AF_UNIX, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strnlen(path, sizeof sa.sun_path));
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (listening)
        assert_int_equal(listen(fd, 8), 0);
    if (fd != 3) {
        assert_int_equal(dup2(fd, 3), 3);
        close(fd);
    }
}

static int
take(char *path, size_t size, char *why)
{
    return listen_fds_take_unix(path, size, why, 256);
}

static void
test_takes_a_listening_socket(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    char sock[300], path[200], why[256] = "";
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    socket_at_3(SOCK_STREAM, sock, 1);
    set_env(getpid(), "1");
    setenv("LISTEN_FDNAMES", "api", 1);
    assert_int_equal(take(path, sizeof path, why), 3);
    assert_string_equal(path, sock);
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
    /* Taken once: the environment is gone, so a second look finds nothing. */
    assert_int_equal(take(path, sizeof path, why), -1);
    close(3);
    testutil_rmtree(dir);
}

/* A path that fills sun_path with no terminator: copied whole, cut to the caller's buffer. */
static void
test_path_filling_sun_path(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    int n = snprintf(sock, sizeof sock, "%s/", dir);
    memset(sock + n, 'x', sizeof sock - 1 - (size_t)n);
    sock[sizeof sock - 1] = '\0';
    assert_int_equal(strlen(sock), sizeof(((struct sockaddr_un *)0)->sun_path));
    socket_at_3(SOCK_STREAM, sock, 1);
    set_env(getpid(), "1");
    char path[200], small[16], why[256];
    assert_int_equal(take(path, sizeof path, why), 3);
    assert_string_equal(path, sock);
    set_env(getpid(), "1");
    assert_int_equal(take(small, sizeof small, why), 3);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, sock, sizeof small - 1);
    close(3);
    unlink(sock);
    testutil_rmtree(dir);
}

static void
test_another_process_is_ignored(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    char sock[300], path[200], why[256] = "";
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    socket_at_3(SOCK_STREAM, sock, 1);
    set_env(getpid() + 1, "1");
    assert_int_equal(take(path, sizeof path, why), -1);
    assert_string_equal(why, "");
    assert_null(getenv("LISTEN_PID"));
    close(3);
    testutil_rmtree(dir);
}

static void
test_unusable_descriptors_are_reported(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    char sock[300], path[200], why[256];
    snprintf(sock, sizeof sock, "%s/api.sock", dir);

    set_env(getpid(), "many");
    assert_int_equal(take(path, sizeof path, why), -2);
    assert_non_null(strstr(why, "LISTEN_FDS=many is not a positive number"));

    socket_at_3(SOCK_STREAM, sock, 0);
    set_env(getpid(), "1");
    assert_int_equal(take(path, sizeof path, why), -2);
    assert_non_null(strstr(why, "none of the 1 descriptor"));
    close(3);

    socket_at_3(SOCK_DGRAM, sock, 0);
    set_env(getpid(), "1");
    assert_int_equal(take(path, sizeof path, why), -2);
    close(3);

    close(3);
    set_env(getpid(), "1"); /* descriptor 3 is not open */
    assert_int_equal(take(path, sizeof path, why), -2);
    testutil_rmtree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_takes_a_listening_socket),
        cmocka_unit_test(test_path_filling_sun_path),
        cmocka_unit_test(test_another_process_is_ignored),
        cmocka_unit_test(test_unusable_descriptors_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
