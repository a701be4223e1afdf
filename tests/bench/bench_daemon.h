/*
 * The real smtpstatusd for the benchmarks that measure against it: started in the foreground in a
 * fresh temporary directory of its own, known to be ready when it sends READY=1 to a notification
 * socket in that directory (systemd's protocol, so no polling of its socket), and stopped so that
 * no daemon and no directory outlives the benchmark. Everything here waits a bounded time.
 * Not for concurrent use from several threads on one struct bench_daemon.
 */
#ifndef SMTPSTATUS_BENCH_DAEMON_H
#define SMTPSTATUS_BENCH_DAEMON_H

#include <sys/types.h>

#define BENCH_DAEMON_READY_MS 10000 /* how long the daemon may take to say READY=1 */
#define BENCH_DAEMON_STOP_MS  5000  /* how long it may take to exit after SIGTERM */

/* One daemon and its directory. Zero-initialised means neither exists. */
struct bench_daemon {
    pid_t pid;        /* the running daemon, a child of this process; 0 when none */
    char dir[96];     /* the temporary directory, holding run/, state/ and notify; "" when none */
    char rundir[112]; /* DIR/run: the daemon's --rundir, its socket and its shared image */
};

/*
 * Makes a fresh directory DIR (named after this program, under $TMPDIR when that is an absolute
 * path shorter than 40 bytes, else under /tmp, so that socket paths under it fit in sun_path)
 * and runs `path` --foreground --rundir DIR/run --statedir DIR/state --http off, followed by the
 * NULL-terminated `extra` arguments (NULL for none). The daemon gets this process's environment
 * with NOTIFY_SOCKET set to DIR/notify, stdin and stdout on /dev/null, and stderr on `log_fd`
 * when it is >= 0 (it gets its own copy; the caller keeps and closes `log_fd`), else on
 * /dev/null; SIGTERM when the thread that started it ends. Blocks until the daemon says READY=1,
 * at most BENCH_DAEMON_READY_MS. Returns 0 with d->pid, d->dir and d->rundir set; or -1 after
 * saying why on stderr, with nothing left running and the directory removed. `d` must hold no
 * daemon and no directory (zero it first).
 */
int bench_daemon_start(struct bench_daemon *d, const char *path, char *const extra[], int log_fd);

/*
 * Stops the daemon (bench_child_stop()) and sets d->pid to 0; keeps the directory. Returns the
 * daemon's wait status, or -1 when it had to be killed or none was running. Blocks at most
 * about BENCH_DAEMON_STOP_MS.
 */
int bench_daemon_stop(struct bench_daemon *d);

/*
 * Stops the daemon if it still runs, then removes the directory and everything in it (saying so
 * on stderr when it cannot) and sets d->dir to "". Safe to call again, and from an atexit()
 * handler.
 */
void bench_daemon_remove(struct bench_daemon *d);

/*
 * Stops `pid`, a child of this process: SIGTERM, up to BENCH_DAEMON_STOP_MS for it to exit
 * (watched through a pidfd), then SIGKILL, saying so on stderr with `name`; reaps it. Returns its
 * wait status, or -1 when it had to be killed. For the daemon and the other servers a benchmark
 * runs beside it.
 */
int bench_child_stop(pid_t pid, const char *name);

#endif
