/*
 * Starting and stopping the real smtpstatusd for the benchmarks (bench_daemon.h): one fresh
 * temporary directory per daemon, readiness from its READY=1 on a notification socket there,
 * bounded waits, and the directory removed afterwards.
 */
#include "bench_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EXTRA 16 /* extra daemon arguments */

extern char **environ;

/* A pidfd for `pid`, readable once it has exited; -1 when the kernel has none (before 5.3). */
static int
pidfd_of(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int
bench_child_stop(pid_t pid, const char *name)
{
    int status = -1;
    kill(pid, SIGTERM);
    int pfd = pidfd_of(pid);
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    int rc;
    while ((rc = pfd >= 0 ? poll(&p, 1, BENCH_DAEMON_STOP_MS) : 0) < 0 && errno == EINTR)
        ;
    if (pfd >= 0)
        close(pfd);
    int exited = rc == 1;
    if (!exited) {
        fprintf(stderr, "%s: %s did not exit within %d s of SIGTERM; killing it\n",
                program_invocation_short_name, name, BENCH_DAEMON_STOP_MS / 1000);
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return exited ? status : -1;
}

int
bench_daemon_stop(struct bench_daemon *d)
{
    if (d->pid <= 0)
        return -1;
    int status = bench_child_stop(d->pid, "smtpstatusd");
    d->pid = 0;
    return status;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0; /* go on: whatever is left is reported once, below */
}

void
bench_daemon_remove(struct bench_daemon *d)
{
    bench_daemon_stop(d);
    if (d->dir[0] == '\0')
        return;
    nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    struct stat st;
    if (lstat(d->dir, &st) == 0)
        fprintf(stderr, "%s: could not remove %s\n", program_invocation_short_name, d->dir);
    d->dir[0] = '\0';
    d->rundir[0] = '\0';
}

/* The caller's environment without its NOTIFY_SOCKET, then `notify`: a malloc'd array the caller
 * frees (not the strings, which stay the environment's and the caller's); NULL when out of
 * memory. */
static char **
daemon_environment(char *notify)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **envp = malloc((n + 2) * sizeof *envp);
    if (envp == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
            envp[k++] = environ[i];
    envp[k++] = notify;
    envp[k] = NULL;
    return envp;
}

/* Forks and execs the daemon. Everything the child needs is made before fork(): the benchmark
 * may have threads, so the child makes only async-signal-safe calls. Returns its pid or -1. */
static pid_t
daemon_spawn(char *const argv[], char *const envp[], int log_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the benchmark died before prctl() */
        _exit(127);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
        dup2(log_fd >= 0 ? log_fd : null, 2) < 0)
        _exit(127);
    execve(argv[0], argv, envp);
    _exit(127);
}

/*
 * Waits for READY=1 on `notify_fd` while watching the daemon through a pidfd, so that a daemon
 * that dies at start-up is reported at once rather than at the deadline. Returns 0, or -1 after
 * saying why.
 */
static int
wait_ready(struct bench_daemon *d, const char *path, int notify_fd)
{
    int pfd = pidfd_of(d->pid);
    struct pollfd p[2] = {{.fd = notify_fd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
    int rc;
    while ((rc = poll(p, pfd >= 0 ? 2 : 1, BENCH_DAEMON_READY_MS)) < 0 && errno == EINTR)
        ;
    if (pfd >= 0)
        close(pfd);
    char msg[64];
    ssize_t got = rc > 0 && (p[0].revents & POLLIN) ? recv(notify_fd, msg, sizeof msg - 1, 0) : -1;
    if (got >= 0 && (msg[got] = '\0', strstr(msg, "READY=1") != NULL))
        return 0;
    if (rc > 0 && (p[1].revents & POLLIN)) {
        int status = 0;
        while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
            ;
        d->pid = 0;
        if (WIFSIGNALED(status))
            fprintf(stderr, "%s: the daemon %s was killed by signal %d before it was ready\n",
                    program_invocation_short_name, path, WTERMSIG(status));
        else
            fprintf(stderr, "%s: the daemon %s exited with status %d before it was ready%s\n",
                    program_invocation_short_name, path, WEXITSTATUS(status),
                    WEXITSTATUS(status) == 127 ? " (it could not be run)" : "");
    } else {
        fprintf(stderr, "%s: the daemon %s did not say READY=1 within %d ms\n",
                program_invocation_short_name, path, BENCH_DAEMON_READY_MS);
    }
    return -1;
}

int
bench_daemon_start(struct bench_daemon *d, const char *path, char *const extra[], int log_fd)
{
    const char *me = program_invocation_short_name;
    const char *t = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/%.24s.XXXXXX",
             t != NULL && t[0] == '/' && strlen(t) < 40 ? t : "/tmp", me);
    if (mkdtemp(d->dir) == NULL) {
        fprintf(stderr, "%s: mkdtemp %s: %s\n", me, d->dir, strerror(errno));
        d->dir[0] = '\0';
        return -1;
    }
    char statedir[sizeof d->dir + 8], notify[sizeof d->dir + 32];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(d->rundir, sizeof d->rundir, "%s/run", d->dir);
    snprintf(statedir, sizeof statedir, "%s/state", d->dir);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", d->dir);
    snprintf(notify, sizeof notify, "NOTIFY_SOCKET=%s", sa.sun_path);

    char *argv[8 + MAX_EXTRA + 1] = {(char *)path, "--foreground", "--rundir", d->rundir,
                                     "--statedir", statedir,       "--http",   "off"};
    size_t argc = 8;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (argc == 8 + MAX_EXTRA) {
            fprintf(stderr, "%s: over %d extra daemon arguments\n", me, MAX_EXTRA);
            bench_daemon_remove(d);
            return -1;
        }
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "%s: the notification socket %s: %s\n", me, sa.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        bench_daemon_remove(d);
        return -1;
    }
    char **envp = daemon_environment(notify);
    d->pid = envp != NULL ? daemon_spawn(argv, envp, log_fd) : -1;
    int err = errno;
    free(envp);
    if (d->pid < 0) {
        d->pid = 0;
        fprintf(stderr, "%s: cannot run %s: %s\n", me, path, strerror(err));
        close(fd);
        bench_daemon_remove(d);
        return -1;
    }
    int rc = wait_ready(d, path, fd);
    close(fd);
    if (rc != 0)
        bench_daemon_remove(d);
    return rc;
}
