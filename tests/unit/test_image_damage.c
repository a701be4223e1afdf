/*
 * Clients survive a damaged image file (issue 11, item 5). The published file RUNDIR/registry
 * may be truncated in place (`truncate -s 0`, `cp backup registry`) or rewritten in place with
 * other bytes; a client must go on answering from what it validated, without SIGBUS. Covered
 * here: each kind of damage under a pin on the daemon's sealed memfd and on a private copy
 * (lookups run in a child, which would die of SIGBUS where the old mapping of the file did); a
 * client started while no daemon runs answering from a copy and moving to the daemon's memfd
 * once one starts; the seals a client demands of a memfd; image.sock served by another user;
 * a memfd whose rules database is damaged; and a superseded memfd whose successor is bad. The servers of image.sock here are the test's
 * own, handing out memfds it made.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "publish.h"
#include "shared_image.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define FOREIGN_UID 40200

/* The test's daemon and temp directory, which the teardown stops and removes if the test failed
 * before it did. */
static struct testutil_daemon dmn;
static int daemon_up;
static char tmpdir[256];
struct fake_server;
static struct fake_server *server_up; /* a server thread of this process */
static pid_t foreign_pid;             /* a server process of another user */
static void fake_stop(struct fake_server *s);

static const char *
make_tempdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", testutil_tempdir());
    return tmpdir;
}

static void
daemon_start(const char *dir)
{
    testutil_daemon_start(&dmn, dir, NULL);
    daemon_up = 1;
}

static void
daemon_stop(void)
{
    daemon_up = 0;
    testutil_daemon_stop(&dmn);
}

static int
teardown(void **state)
{
    (void)state;
    if (server_up != NULL)
        fake_stop(server_up);
    if (foreign_pid > 0) {
        kill(foreign_pid, SIGKILL);
        waitpid(foreign_pid, NULL, 0);
        foreign_pid = 0;
    }
    if (daemon_up) {
        daemon_up = 0;
        kill(dmn.pid, SIGTERM);
        waitpid(dmn.pid, NULL, 0);
    }
    if (tmpdir[0] != '\0')
        testutil_rmtree(tmpdir);
    tmpdir[0] = '\0';
    return 0;
}

static smtpstatus *
open_handle(const char *rundir)
{
    smtpstatus_options o = {rundir, 5000, 0};
    smtpstatus *h;
    assert_int_equal(smtpstatus_open(&o, &h), 0);
    return h;
}

static void
pause_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static smtpstatus_client_status
status_of(smtpstatus *h)
{
    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    return cs;
}

/* ---- what a pin answers ---------------------------------------------------------------------- */

#define SUBJECTS 8
#define DETAILS  32

struct answers {
    char title[SUBJECTS][DETAILS][128];
    char description[SUBJECTS][DETAILS][64]; /* the start of it: enough to tell */
};

static void
record(const smtpstatus_image *img, struct answers *a)
{
    memset(a, 0, sizeof *a);
    for (int s = 0; s < SUBJECTS; s++)
        for (int d = 0; d < DETAILS; d++) {
            smtpstatus_entry e;
            smtpstatus_code c = {5, (uint16_t)s, (uint16_t)d};
            assert_int_equal(smtpstatus_image_lookup(img, c, &e), 0);
            snprintf(a->title[s][d], sizeof a->title[s][d], "%s", e.registered ? e.title : "");
            snprintf(a->description[s][d], sizeof a->description[s][d], "%s",
                     e.registered ? e.description : "");
        }
}

/*
 * Looks every code up through the held pin *pin (smtpstatus_shared_lookup(), so the checks of
 * the published file run too) in a child process, and compares with `want`. Returns 0 when the
 * child found every answer the same; a child that faults ends by its signal, which the test
 * reports instead of dying of it itself.
 */
static void
same_answers_in_child(const char *what, smtpstatus *h, const smtpstatus_image *pin,
                      const struct answers *want)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Die of a fault, rather than go back into cmocka's handler as a second runner. */
        signal(SIGBUS, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        const smtpstatus_image *held = pin;
        for (int round = 0; round < 3; round++)
            for (int s = 0; s < SUBJECTS; s++)
                for (int d = 0; d < DETAILS; d++) {
                    smtpstatus_entry e;
                    smtpstatus_code c = {5, (uint16_t)s, (uint16_t)d};
                    if (smtpstatus_shared_lookup(h, &held, c, &e) != 0)
                        _exit(2);
                    if (strcmp(e.registered ? e.title : "", want->title[s][d]) != 0 ||
                        strncmp(e.registered ? e.description : "", want->description[s][d],
                                strlen(want->description[s][d])) != 0)
                        _exit(3);
                }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("%s: the client died of signal %d (%s)", what, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: the client's answers changed (exit %d)", what, WEXITSTATUS(status));
}

/* ---- damage ---------------------------------------------------------------------------------- */

/* The embedded image as generation `generation`: another valid image, as a backup would be. */
static unsigned char *
image_as(uint64_t generation, size_t *len)
{
    const unsigned char *emb = smtpstatus_embedded_image_data(len);
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    memcpy(b, emb, *len);
    struct smtpstatus_image_header *hdr = (struct smtpstatus_image_header *)b;
    hdr->generation = generation;
    hdr->superseded = 0;
    hdr->checksum = smtpstatus_image_checksum(b, *len);
    return b;
}

static void
run(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
}

/* Every kind of damage to RUNDIR/registry, each followed by lookups through the pin `pin`
 * taken before. */
static void
damage_under_a_pin(const char *dir, const char *rundir, smtpstatus *h, const smtpstatus_image *pin)
{
    static struct answers want;
    record(pin, &want);
    char path[600], cmd[2000], backup[600], shorter[600];
    snprintf(path, sizeof path, "%s/registry", rundir);
    snprintf(backup, sizeof backup, "%s/backup", dir);
    snprintf(shorter, sizeof shorter, "%s/shorter", dir);
    size_t len;
    unsigned char *other = image_as(77, &len);
    testutil_write_file(backup, other, len);
    testutil_write_file(shorter, other, len / 3);

    snprintf(cmd, sizeof cmd, "truncate -s 0 '%s'", path);
    run(cmd);
    same_answers_in_child("truncate -s 0", h, pin, &want);

    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", shorter, path);
    run(cmd);
    same_answers_in_child("cp of a shorter file over it", h, pin, &want);

    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", backup, path);
    run(cmd);
    same_answers_in_child("cp of another image over it", h, pin, &want);

    /* Same size, other bytes, written in place: no truncation at all. */
    unsigned char *garbage = malloc(len);
    assert_non_null(garbage);
    uint64_t seed = 11;
    for (size_t i = 0; i < len; i++)
        garbage[i] = (unsigned char)testutil_rand(&seed);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, garbage, len), (ssize_t)len);
    close(fd);
    same_answers_in_child("the same size of garbage written in place", h, pin, &want);

    /* And in this process, through the look at the published file once a second: the garbage
     * is never taken, and the pin answers as before. */
    time_t until = time(NULL) + 2; /* one to two seconds: past the interval of the look */
    const smtpstatus_image *held;
    assert_int_equal(smtpstatus_pin(h, &held), 0);
    while (time(NULL) < until) {
        smtpstatus_entry e;
        smtpstatus_code c = {5, 1, 1};
        assert_int_equal(smtpstatus_shared_lookup(h, &held, c, &e), 0);
        assert_string_equal(e.title, want.title[1][1]);
    }
    smtpstatus_unpin(h, held);
    free(garbage);
    free(other);
}

/* A pin on the daemon's sealed memfd. */
static void
test_damage_under_a_daemon_pin(void **state)
{
    (void)state;
    const char *dir = make_tempdir();
    daemon_start(dir);
    smtpstatus *h = open_handle(dmn.rundir);
    const smtpstatus_image *pin;
    assert_int_equal(smtpstatus_pin(h, &pin), 0);
    uint64_t g = status_of(h).generation;
    /* What is mapped is the memfd (named after the file), never the file itself. */
    char path[400], memfd[420];
    snprintf(path, sizeof path, "%s/registry", dmn.rundir);
    snprintf(memfd, sizeof memfd, "/memfd:%s", path);
    int memfd_maps = testutil_mappings_of(memfd), path_maps = testutil_mappings_of(path);

    damage_under_a_pin(dir, dmn.rundir, h, pin);

    assert_int_equal(memfd_maps, 1);
    assert_int_equal(path_maps, memfd_maps);
    /* The daemon still serves the same memfd: the damaged file changed nothing. */
    smtpstatus_client_status cs = status_of(h);
    assert_int_equal(cs.origin, SMTPSTATUS_ORIGIN_DAEMON);
    assert_int_equal(cs.generation, g);
    assert_int_equal(cs.mappings, 1);
    smtpstatus_unpin(h, pin);
    smtpstatus_close(h);
    daemon_stop();
}

/* A handle on the run directory of a daemon that has been started and stopped: the image file it
 * left is there, and nothing answers on image.sock. */
static smtpstatus *
handle_after_a_daemon(const char *dir)
{
    daemon_start(dir);
    daemon_stop();
    return open_handle(dmn.rundir);
}

/* A pin on a private copy, taken while no daemon runs. */
static void
test_damage_under_a_copy_pin(void **state)
{
    (void)state;
    const char *dir = make_tempdir();
    smtpstatus *h = handle_after_a_daemon(dir);
    const smtpstatus_image *pin;
    assert_int_equal(smtpstatus_pin(h, &pin), 0);
    int origin = status_of(h).origin;
    char path[400];
    snprintf(path, sizeof path, "%s/registry", dmn.rundir);
    int path_maps = testutil_mappings_of(path);

    damage_under_a_pin(dir, dmn.rundir, h, pin);

    assert_int_equal(origin, SMTPSTATUS_ORIGIN_COPY);
    assert_int_equal(path_maps, 0); /* a copy: the file is not mapped */
    smtpstatus_unpin(h, pin);
    smtpstatus_close(h);
}

/* A client that starts while no daemon runs answers from a copy, and moves to the daemon's
 * memfd of the next generation once the daemon starts, through a pin it holds. */
static void
test_copy_follows_a_new_daemon(void **state)
{
    (void)state;
    const char *dir = make_tempdir();
    smtpstatus *h = handle_after_a_daemon(dir);
    const smtpstatus_image *held = NULL;
    smtpstatus_entry e;
    smtpstatus_code c = {5, 7, 26};
    assert_int_equal(smtpstatus_shared_lookup(h, &held, c, &e), 0);
    assert_true(e.registered);
    smtpstatus_client_status cs = status_of(h);
    assert_int_equal(cs.origin, SMTPSTATUS_ORIGIN_COPY);
    uint64_t g = cs.generation;
    char path[400];
    snprintf(path, sizeof path, "%s/registry", dmn.rundir);
    assert_int_equal(testutil_mappings_of(path), 0);
    assert_true(cs.published_at > 0);

    daemon_start(dir);
    time_t deadline = time(NULL) + 10;
    do {
        assert_int_equal(smtpstatus_shared_lookup(h, &held, c, &e), 0);
        assert_true(e.registered);
        cs = status_of(h);
    } while ((cs.generation != g + 1 || cs.origin != SMTPSTATUS_ORIGIN_DAEMON) &&
             time(NULL) < deadline);
    assert_int_equal(cs.generation, g + 1);
    assert_int_equal(cs.origin, SMTPSTATUS_ORIGIN_DAEMON);
    assert_int_equal(cs.mappings, 1); /* the copy went when the pin moved */
    smtpstatus_unpin(h, held);
    smtpstatus_close(h);
    daemon_stop();
}

/* ---- a server of image.sock, the test's own -------------------------------------------------- */

/* A memfd holding buf[0..len), sealed with `seals`, and a writable mapping of its header made
 * before the seals (as the daemon keeps) in *header when header is not NULL. */
static int
make_memfd(const void *buf, size_t len, unsigned seals, struct smtpstatus_image_header **header)
{
    int fd = memfd_create("test-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    if (header != NULL) {
        *header = mmap(NULL, sizeof **header, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(*header != MAP_FAILED);
    }
    if (seals != 0)
        assert_int_equal(fcntl(fd, F_ADD_SEALS, (int)seals), 0);
    return fd;
}

#define DAEMON_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

struct fake_server {
    int listen_fd;
    int image_fd; /* atomic: what is handed out; the test keeps it open */
    int stop;     /* atomic */
    pthread_t thread;
};

static int
listen_at(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path));
    unlink(path);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 16) != 0)
        return -1;
    return s;
}

/* Serves until asked to stop, polling so that it notices within 50 ms. */
static void
serve(struct fake_server *s)
{
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pf = {s->listen_fd, POLLIN, 0};
        if (poll(&pf, 1, 50) != 1)
            continue;
        int c = accept(s->listen_fd, NULL, NULL);
        if (c < 0)
            continue;
        /* The daemon's own sending code, on a publisher that holds the test's memfd. */
        struct publisher p = {.memfd = __atomic_load_n(&s->image_fd, __ATOMIC_ACQUIRE)};
        pthread_mutex_init(&p.lock, NULL);
        publisher_send_image(&p, c);
        pthread_mutex_destroy(&p.lock);
        close(c);
    }
}

static void *
serve_thread(void *arg)
{
    serve(arg);
    return NULL;
}

static void
fake_start(struct fake_server *s, const char *rundir, int image_fd)
{
    char path[450];
    snprintf(path, sizeof path, "%s/image.sock", rundir);
    memset(s, 0, sizeof *s);
    s->listen_fd = listen_at(path);
    assert_true(s->listen_fd >= 0);
    s->image_fd = image_fd;
    assert_int_equal(pthread_create(&s->thread, NULL, serve_thread, s), 0);
    server_up = s;
}

static void
fake_stop(struct fake_server *s)
{
    server_up = NULL;
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static char *
make_rundir(const char *dir)
{
    static char rundir[400];
    snprintf(rundir, sizeof rundir, "%s/run", dir);
    assert_int_equal(mkdir(rundir, 0755), 0);
    return rundir;
}

/* ---- seals ----------------------------------------------------------------------------------- */

static void
test_seals_are_demanded(void **state)
{
    (void)state;
    size_t len;
    const void *img = smtpstatus_embedded_image_data(&len);
    struct {
        unsigned seals;
        int want;
    } cases[] = {
        {0, SMTPSTATUS_EIMG_FOREIGN},
        {F_SEAL_SHRINK | F_SEAL_GROW, SMTPSTATUS_EIMG_FOREIGN},
        {F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE, SMTPSTATUS_EIMG_FOREIGN},
        {F_SEAL_GROW | F_SEAL_WRITE, SMTPSTATUS_EIMG_FOREIGN},
        {F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, 0},
        {F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE, 0},
        {DAEMON_SEALS, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = make_memfd(img, len, cases[i].seals, NULL);
        struct stat st;
        char why[160];
        int rc = smtpstatus__image_fd_check(fd, &st, why, sizeof why);
        print_message("seals %#x: %s\n", cases[i].seals, rc == 0 ? "taken" : why);
        assert_int_equal(rc, cases[i].want);
        if (rc == 0)
            assert_int_equal(st.st_size, (off_t)len);
        close(fd);
    }
    /* A file on disk cannot be sealed; a pipe is not a file. */
    const char *dir = make_tempdir();
    char path[400];
    snprintf(path, sizeof path, "%s/image", dir);
    testutil_write_file(path, img, len);
    int fd = open(path, O_RDONLY);
    struct stat st;
    char why[160];
    assert_int_equal(smtpstatus__image_fd_check(fd, &st, why, sizeof why), SMTPSTATUS_EIMG_FOREIGN);
    close(fd);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(smtpstatus__image_fd_check(p[0], &st, why, sizeof why),
                     SMTPSTATUS_EIMG_NOTFILE);
    close(p[0]);
    close(p[1]);
    /* A memfd sealed too small to hold an image header. */
    fd = make_memfd(img, 100, DAEMON_SEALS, NULL);
    assert_int_equal(smtpstatus__image_fd_check(fd, &st, why, sizeof why),
                     SMTPSTATUS_EIMG_TRUNCATED);
    close(fd);

    /* End to end: a server handing out an unsealed memfd is refused, and says why; the same
     * bytes sealed are taken. */
    char *rundir = make_rundir(dir);
    static struct fake_server s;
    int unsealed = make_memfd(img, len, 0, NULL);
    fake_start(&s, rundir, unsealed);
    smtpstatus *h = open_handle(rundir);
    const smtpstatus_image *pin;
    assert_int_equal(smtpstatus_pin(h, &pin), SMTPSTATUS_EIMG_FOREIGN);
    smtpstatus_client_status cs = status_of(h);
    print_message("unsealed: %s\n", cs.error_detail);
    assert_non_null(strstr(cs.error_detail, "not sealed"));
    assert_int_equal(cs.mappings, 0);
    smtpstatus_close(h);
    int sealed = make_memfd(img, len, DAEMON_SEALS, NULL);
    __atomic_store_n(&s.image_fd, sealed, __ATOMIC_RELEASE);
    h = open_handle(rundir);
    assert_int_equal(smtpstatus_pin(h, &pin), 0);
    assert_int_equal(status_of(h).origin, SMTPSTATUS_ORIGIN_DAEMON);
    smtpstatus_unpin(h, pin);
    smtpstatus_close(h);
    fake_stop(&s);
    close(unsealed);
    close(sealed);
}

/* image.sock served by a user who is neither root, this user nor the run directory's owner:
 * refused, whatever it hands out. */
static void
test_foreign_image_socket_refused(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: serving image.sock as another user needs root\n");
        skip();
    }
    const char *dir = make_tempdir();
    char *rundir = make_rundir(dir);
    size_t len;
    const void *img = smtpstatus_embedded_image_data(&len);
    int sealed = make_memfd(img, len, DAEMON_SEALS, NULL);
    /* The other user binds the socket in the run directory, which it may write to for that
     * moment only; a pipe says when it listens. */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(chmod(rundir, 0777), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        if (setresgid(FOREIGN_UID, FOREIGN_UID, FOREIGN_UID) != 0 ||
            setresuid(FOREIGN_UID, FOREIGN_UID, FOREIGN_UID) != 0)
            _exit(1);
        char path[450];
        snprintf(path, sizeof path, "%s/image.sock", rundir);
        struct fake_server s = {.image_fd = sealed};
        s.listen_fd = listen_at(path);
        if (s.listen_fd < 0)
            _exit(1);
        (void)write(ready[1], "r", 1);
        close(ready[1]);
        alarm(60); /* never outlives a test that failed to stop it */
        serve(&s);
        _exit(0);
    }
    foreign_pid = pid;
    close(ready[1]);
    char c;
    ssize_t n = read(ready[0], &c, 1);
    close(ready[0]);
    assert_int_equal(chmod(rundir, 0755), 0);
    if (n != 1)
        fail_msg("the server of another user did not start");

    smtpstatus *h = open_handle(rundir);
    const smtpstatus_image *pin;
    int rc = smtpstatus_pin(h, &pin);
    smtpstatus_client_status cs = status_of(h);
    smtpstatus_close(h);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    foreign_pid = 0;
    print_message("foreign image.sock: %s\n", cs.error_detail);
    assert_int_equal(rc, SMTPSTATUS_EIMG_FOREIGN);
    assert_int_equal(cs.shared, 0);
    assert_non_null(strstr(cs.error_detail, "image.sock: served by uid 40200"));
    close(sealed);
}

/* ---- a memfd whose rules database is damaged ------------------------------------------------ */

/* The daemon's memfd has its rules database checked before the first classification, not at
 * attach (SMTPSTATUS__CHECK_DB_LATER): lookups are answered, and a database that fails is not
 * used, so the patterns match nothing and the code-only rules decide. */
static void
test_memfd_database_checked_before_use(void **state)
{
    (void)state;
    static const char reply[] = "550 5.1.1 greylisted, try again later";
    smtpstatus_classification c;
    /* The built-in rules decide it by a pattern; without patterns, by the code. */
    assert_int_equal(smtpstatus_classify(smtpstatus_image_embedded(), reply, strlen(reply), &c,
                                         NULL, 0),
                     0);
    assert_int_equal(c.reason, SMTPSTATUS_REASON_GREYLISTING);

    const char *dir = make_tempdir();
    char *rundir = make_rundir(dir);
    size_t len;
    unsigned char *bad = image_as(1, &len);
    const struct smtpstatus_image_header *bh = (const void *)bad;
    assert_true(bh->rules_db_size > 0);
    /* A byte of the bytecode, which the image's checksum leaves out. */
    bad[bh->rules_db_off + bh->rules_db_size / 2] ^= 0x40;
    assert_true(smtpstatus_image_checksum(bad, len) == bh->checksum);
    struct smtpstatus_image_header *hdr;
    int fd = make_memfd(bad, len, DAEMON_SEALS, &hdr);
    static struct fake_server s;
    fake_start(&s, rundir, fd);

    smtpstatus *h = open_handle(rundir);
    const smtpstatus_image *img;
    assert_int_equal(smtpstatus_pin(h, &img), 0);
    assert_int_equal(status_of(h).origin, SMTPSTATUS_ORIGIN_DAEMON);
    smtpstatus_entry e;
    smtpstatus_code code = {5, 1, 1};
    assert_int_equal(smtpstatus_image_lookup(img, code, &e), 0);
    assert_true(e.registered);
    assert_int_equal(smtpstatus_classify(img, reply, strlen(reply), &c, NULL, 0), 0);
    assert_int_equal(c.reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    smtpstatus_unpin(h, img);
    smtpstatus_close(h);

    /* The same bytes opened by smtpstatus_image_open() are refused whole. */
    smtpstatus_image *opened = NULL;
    assert_int_equal(smtpstatus_image_open(bad, len, &opened), SMTPSTATUS_EIMG_CHECKSUM);
    assert_null(opened);
    fake_stop(&s);
    munmap(hdr, sizeof *hdr);
    close(fd);
    free(bad);
}

/* ---- a superseded memfd whose successor is bad ----------------------------------------------- */

/* The pin that held it keeps it; refreshing lets it go and answers "use the socket"; after the
 * backoff a good successor is taken. */
static void
test_superseded_by_a_bad_image(void **state)
{
    (void)state;
    const char *dir = make_tempdir();
    char *rundir = make_rundir(dir);
    size_t len;
    unsigned char *good = image_as(1, &len);
    struct smtpstatus_image_header *hdr;
    int first = make_memfd(good, len, DAEMON_SEALS, &hdr);
    static struct fake_server s;
    fake_start(&s, rundir, first);

    smtpstatus *h = open_handle(rundir);
    const smtpstatus_image *held, *other;
    assert_int_equal(smtpstatus_pin(h, &held), 0);
    assert_int_equal(smtpstatus_pin(h, &other), 0);
    assert_ptr_equal(held, other);

    /* What the daemon does: the successor handed out, then the release store. */
    unsigned char *bad = image_as(2, &len);
    bad[len - 3] ^= 0x01;
    int second = make_memfd(bad, len, DAEMON_SEALS, NULL);
    __atomic_store_n(&s.image_fd, second, __ATOMIC_RELEASE);
    __atomic_store_n(&hdr->superseded, 2, __ATOMIC_RELEASE);

    assert_int_equal(smtpstatus_refresh(h, &held), SMTPSTATUS_EIMG_CHECKSUM);
    assert_null(held);
    smtpstatus_client_status cs = status_of(h);
    assert_int_equal(cs.shared, 0);
    assert_int_equal(cs.error, SMTPSTATUS_EIMG_CHECKSUM);
    assert_int_equal(cs.mappings, 1); /* `other` still pins the old image ... */
    smtpstatus_entry e;
    smtpstatus_code c = {5, 1, 1};
    assert_int_equal(smtpstatus_image_lookup(other, c, &e), 0);
    assert_true(e.registered); /* ... which still answers */
    smtpstatus_unpin(h, other);
    assert_int_equal(status_of(h).mappings, 0);

    unsigned char *next = image_as(3, &len);
    int third = make_memfd(next, len, DAEMON_SEALS, NULL);
    __atomic_store_n(&s.image_fd, third, __ATOMIC_RELEASE);
    time_t deadline = time(NULL) + 5; /* the first backoff is 100 ms */
    int rc;
    while ((rc = smtpstatus_refresh(h, &held)) != 0 && time(NULL) < deadline)
        pause_ms(10);
    assert_int_equal(rc, 0);
    assert_non_null(held);
    cs = status_of(h);
    assert_int_equal(cs.shared, 1);
    assert_int_equal(cs.error, 0);
    assert_int_equal(cs.generation, 3);
    assert_int_equal(cs.origin, SMTPSTATUS_ORIGIN_DAEMON);
    smtpstatus_unpin(h, held);
    smtpstatus_close(h);
    fake_stop(&s);
    munmap(hdr, sizeof *hdr);
    close(first);
    close(second);
    close(third);
    free(good);
    free(bad);
    free(next);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_damage_under_a_daemon_pin, teardown),
        cmocka_unit_test_teardown(test_damage_under_a_copy_pin, teardown),
        cmocka_unit_test_teardown(test_copy_follows_a_new_daemon, teardown),
        cmocka_unit_test_teardown(test_seals_are_demanded, teardown),
        cmocka_unit_test_teardown(test_foreign_image_socket_refused, teardown),
        cmocka_unit_test_teardown(test_memfd_database_checked_before_use, teardown),
        cmocka_unit_test_teardown(test_superseded_by_a_bad_image, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
