/* Helpers shared by the unit tests; see testutil.h. */
#include "testutil.h"

#include "corpus_escape.h"

#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

/* What tests made and have not cleaned up yet: testutil_teardown() and exit clean it up. */
static char **tempdirs; /* malloc'd paths; NULL once removed */
static size_t tempdir_count;
static pid_t daemons[64]; /* started and not stopped; 0 for a free slot */
static pid_t owner;       /* the process that made them, not a forked child */

static void
at_exit(void)
{
    if (getpid() == owner)
        testutil_teardown(NULL);
}

/* Registers at_exit() once, in the process the tests run in. */
static void
track_init(void)
{
    if (owner == 0) {
        owner = getpid();
        atexit(at_exit);
    }
}

char *
testutil_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

void
testutil_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

const char *
testutil_shared_iana(const char *sub)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", SHARED_IANA_DIR, sub);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: %s is absent (a user's clone has no ../shared); this behaviour is also "
               "covered by tests on the project's own data\n",
               path);
        skip();
    }
    return path;
}

const char *
testutil_project_data(void)
{
    return PROJECT_DATA_DIR;
}

const char *
testutil_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char path[256];
    snprintf(path, sizeof path, "%s/smtpstatus-test.XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(path) == NULL)
        fail_msg("mkdtemp: %s", strerror(errno));
    track_init();
    char **grown = realloc(tempdirs, (tempdir_count + 1) * sizeof *tempdirs);
    assert_non_null(grown);
    tempdirs = grown;
    assert_non_null(tempdirs[tempdir_count] = strdup(path));
    return tempdirs[tempdir_count++];
}

/* rm -rf, without failing the test: a teardown must go on. Returns system()'s status. */
static int
rmtree(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", path);
    return system(cmd);
}

void
testutil_rmtree(const char *path)
{
    assert_int_equal(rmtree(path), 0);
}

/* Stops `pid` if it is still our child: SIGTERM, then SIGKILL after 10 s. A pid the test has
 * reaped already is left alone, since it may be another process's by now. */
static void
stop_child(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, WNOHANG) != 0)
        return; /* exited (now reaped), or not our child */
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &status, WNOHANG) != 0)
            return;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

int
testutil_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++) {
        if (daemons[i] != 0) {
            stop_child(daemons[i]);
            daemons[i] = 0;
        }
    }
    struct stat st;
    for (size_t i = 0; i < tempdir_count; i++) {
        if (lstat(tempdirs[i], &st) == 0)
            rmtree(tempdirs[i]);
        free(tempdirs[i]);
    }
    free(tempdirs);
    tempdirs = NULL;
    tempdir_count = 0;
    return 0;
}

static void
daemon_track(pid_t pid, pid_t old)
{
    for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++) {
        if (daemons[i] == old) {
            daemons[i] = pid;
            return;
        }
    }
    if (pid != 0)
        fail_msg("over %zu daemons running at once", sizeof daemons / sizeof daemons[0]);
}

int
testutil_mappings_of(const char *what)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, what) != NULL)
            n++;
    fclose(f);
    return n;
}

void
testutil_image_reseal(unsigned char *buf, size_t len)
{
    uint64_t db = smtpstatus_image_rules_db_checksum(buf, len);
    memcpy(buf + offsetof(struct smtpstatus_image_header, rules_db_checksum), &db, sizeof db);
    uint64_t sum = smtpstatus_image_checksum(buf, len);
    memcpy(buf + offsetof(struct smtpstatus_image_header, checksum), &sum, sizeof sum);
}

uint64_t
testutil_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Starts smtpstatusd in the foreground and waits (at most 20 s) for its ready line. */
void
testutil_daemon_start(struct testutil_daemon *d, const char *dir, const char *registry)
{
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    snprintf(d->rundir, sizeof d->rundir, "%s/run", dir);
    char statedir[300];
    snprintf(statedir, sizeof statedir, "%s/state", dir);
    int p[2];
    assert_int_equal(pipe(p), 0);
    track_init();
    pid_t parent = getpid();
    d->pid = fork();
    assert_true(d->pid >= 0);
    if (d->pid == 0) {
        /* A test process killed outright (a ctest timeout) must not leave its daemon behind. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(p[1], 2);
        close(p[0]);
        if (registry != NULL)
            execl(SMTPSTATUSD_PATH, "smtpstatusd", "--foreground", "--rundir", d->rundir,
                  "--statedir", statedir, "--http", "off", "--registry", registry,
                  (char *)NULL);
        else
            execl(SMTPSTATUSD_PATH, "smtpstatusd", "--foreground", "--rundir", d->rundir,
                  "--statedir", statedir, "--http", "off", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    daemon_track(d->pid, 0);
    char log[8192] = "";
    size_t n = 0;
    time_t deadline = time(NULL) + 20;
    while (strstr(log, "info: ready:") == NULL) {
        struct pollfd pf = {p[0], POLLIN, 0};
        if (time(NULL) > deadline || poll(&pf, 1, 1000) < 0)
            fail_msg("the daemon did not become ready: %s", log);
        if (!(pf.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = read(p[0], log + n, sizeof log - 1 - n);
        if (got <= 0)
            fail_msg("the daemon exited before it was ready: %s", log);
        n += (size_t)got;
        log[n] = '\0';
    }
    /* Keep draining its log so it never blocks on a full pipe, in a grandchild that init
     * reaps, so that no zombie is left whichever way the daemon ends. */
    pid_t child = fork();
    if (child == 0) {
        if (fork() == 0) {
            char sink[4096];
            while (read(p[0], sink, sizeof sink) > 0)
                ;
        }
        _exit(0);
    }
    if (child > 0)
        waitpid(child, NULL, 0);
    close(p[0]);
}

void
testutil_daemon_stop(struct testutil_daemon *d)
{
    int status;
    kill(d->pid, SIGTERM);
    pid_t got = waitpid(d->pid, &status, 0);
    daemon_track(0, d->pid);
    assert_int_equal(got, d->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

char *
testutil_corpus_field(const char *path, unsigned line, const char *s, size_t *len)
{
    size_t n = strlen(s), bad;
    char *tmp = malloc(n + 1);
    assert_non_null(tmp);
    memcpy(tmp, s, n);
    size_t k = corpus_unescape(tmp, n, &bad);
    if (bad != n)
        fail_msg("%s line %u: bad escape at offset %zu of \"%s\"", path, line, bad, s);
    char *out = malloc(k > 0 ? k : 1);
    assert_non_null(out);
    memcpy(out, tmp, k);
    free(tmp);
    *len = k;
    return out;
}
