/*
 * The shared registry image, end to end: the real daemon publishes RUNDIR/registry and the
 * library maps it (client/src/shared_image.c). Covered here: pinning and what a pin answers; the
 * image outliving the daemon; generations going on across a restart; a storm of reloads under
 * reader threads, which must only ever see complete generations; readers riding through a
 * SIGKILL of the daemon and moving to its successor; every kind of bad image refused, with the
 * socket answering instead; and mappings that do not pile up. (A superseded image whose
 * successor is bad: test_image_damage.c.)
 *
 * A test that fails half-way must not take the next one down: every test has a teardown that
 * joins its reader threads, closes its handles, stops its daemon and removes its temp
 * directories. SMTPSTATUS_TEST_STORM_FAIL_AT=N makes the storms fail at reload N, so that
 * test_unit_cleanup.sh can show it.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define STORM_RELOADS 500
#define READERS       4
#define STALL_MS      60000 /* a storm fails when the daemon does not get on for this long */
#define MAX_HANDLES   8

/* The handles a test has open, for the teardown to close when the test failed half-way. */
static smtpstatus *open_handles[MAX_HANDLES];

/* A handle whose calls time out after `timeout_ms`. */
static smtpstatus *
open_handle_timeout(const char *rundir, int socket_only, unsigned timeout_ms)
{
    smtpstatus_options o = {rundir, timeout_ms, socket_only};
    smtpstatus *h;
    assert_int_equal(smtpstatus_open(&o, &h), 0);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (open_handles[i] == NULL) {
            open_handles[i] = h;
            return h;
        }
    }
    smtpstatus_close(h);
    fail_msg("over %d handles open at once", MAX_HANDLES);
    return NULL;
}

static smtpstatus *
open_handle(const char *rundir, int socket_only)
{
    return open_handle_timeout(rundir, socket_only, 5000);
}

static void
close_handle(smtpstatus *h)
{
    for (int i = 0; i < MAX_HANDLES; i++)
        if (open_handles[i] == h)
            open_handles[i] = NULL;
    smtpstatus_close(h);
}

static smtpstatus_code
code(const char *s)
{
    smtpstatus_code c;
    assert_int_equal(smtpstatus_code_parse(s, strlen(s), 0, &c, NULL), 0);
    return c;
}

static uint64_t
generation_of(const smtpstatus_image *img)
{
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(img, &s);
    return s.generation;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* How many mappings of `path` this process holds, from /proc/self/maps. */
static int
mappings_of(const char *path)
{
    return testutil_mappings_of(path);
}

/* ---- publishing and pinning ----------------------------------------------------------------- */

static void
test_pin_answers_like_the_daemon(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    char path[400];
    snprintf(path, sizeof path, "%s/registry", d.rundir);

    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_uid, geteuid());

    smtpstatus *h = open_handle(d.rundir, 0);
    const smtpstatus_image *img;
    assert_int_equal(smtpstatus_pin(h, &img), 0);
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(img, &s);
    assert_int_equal(s.size, (uint64_t)st.st_size);
    assert_string_equal(s.source, "embedded");

    /* The same answer as the image built into the library, and as the daemon's socket. */
    smtpstatus_entry mine, emb;
    assert_int_equal(smtpstatus_image_lookup(img, code("5.7.26"), &mine), 0);
    assert_int_equal(smtpstatus_image_lookup(smtpstatus_image_embedded(), code("5.7.26"), &emb),
                     0);
    assert_true(mine.registered);
    assert_string_equal(mine.title, emb.title);
    assert_string_equal(mine.description, emb.description);
    assert_true(mine.title != emb.title); /* from the mapping, not the library's copy */

    smtpstatus_result *r;
    smtpstatus_registry_info info;
    assert_int_equal(smtpstatus_registry_info_get(h, &r), 0);
    assert_int_equal(smtpstatus_result_registry(r, &info), 0);
    assert_int_equal(info.generation, s.generation);
    smtpstatus_result_free(r);

    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.shared, 1);
    assert_int_equal(cs.generation, s.generation);
    assert_string_equal(cs.image_path, path);
    assert_int_equal(cs.error, 0);
    assert_int_equal(cs.attaches, 1);
    assert_int_equal(cs.pins, 1);
    assert_int_equal(cs.socket_calls, 1);
    assert_int_equal(cs.mappings, 1);

    /* The image stays when the daemon stops: a pin goes on answering, and a new handle still
     * attaches. */
    testutil_daemon_stop(&d);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(smtpstatus_refresh(h, &img), 0);
    assert_int_equal(smtpstatus_image_lookup(img, code("5.1.1"), &mine), 0);
    assert_true(mine.registered);
    smtpstatus *h2 = open_handle(d.rundir, 0);
    const smtpstatus_image *img2;
    assert_int_equal(smtpstatus_pin(h2, &img2), 0);
    assert_int_equal(generation_of(img2), s.generation);
    smtpstatus_unpin(h2, img2);
    close_handle(h2);

    /* A handle that asked for the socket only never maps anything. */
    smtpstatus *hs = open_handle(d.rundir, 1);
    assert_int_equal(smtpstatus_pin(hs, &img2), SMTPSTATUS_EUNAVAILABLE);
    smtpstatus_client_status_get(hs, &cs);
    assert_int_equal(cs.shared, 0);
    assert_int_equal(cs.attaches, 0);
    close_handle(hs);

    smtpstatus_unpin(h, img);
    close_handle(h);
    testutil_rmtree(dir);
}

/* ---- the library's calls, answered in-process ----------------------------------------------- */

static int
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether two answers say the same through every accessor. */
static void
assert_same_answer(const char *what, int rc_a, const smtpstatus_result *a, int rc_b,
                   const smtpstatus_result *b)
{
    if (rc_a != rc_b)
        fail_msg("%s: %s from the shared image, %s from the socket", what,
                 smtpstatus_err_name(rc_a), smtpstatus_err_name(rc_b));
    assert_true((a == NULL) == (b == NULL));
    if (a == NULL)
        return;
    if (!same_str(smtpstatus_result_message(a), smtpstatus_result_message(b)))
        fail_msg("%s: messages differ: \"%s\" and \"%s\"", what, smtpstatus_result_message(a),
                 smtpstatus_result_message(b));
    size_t n = smtpstatus_result_entry_count(a);
    assert_int_equal(n, smtpstatus_result_entry_count(b));
    for (size_t i = 0; i < n; i++) {
        smtpstatus_entry x, y;
        const char *wx, *wy;
        int rx = smtpstatus_result_entry(a, i, &x, &wx), ry = smtpstatus_result_entry(b, i, &y, &wy);
        assert_int_equal(rx, ry);
        assert_true(same_str(wx, wy));
        if (rx != 0)
            continue;
        assert_int_equal(x.registered, y.registered);
        assert_int_equal(x.code.subject, y.code.subject);
        assert_int_equal(x.code.detail, y.code.detail);
        assert_true(same_str(x.title, y.title) && same_str(x.description, y.description));
        assert_true(same_str(x.subject.title, y.subject.title));
        assert_true(same_str(x.basic_codes_raw, y.basic_codes_raw));
        assert_int_equal(x.basic_code_count, y.basic_code_count);
    }
    smtpstatus_basic_answer ba, bb;
    int ra = smtpstatus_result_basic(a, &ba), rb = smtpstatus_result_basic(b, &bb);
    assert_int_equal(ra, rb);
    if (ra == 0) {
        assert_int_equal(ba.code, bb.code);
        assert_true(same_str(ba.text, bb.text));
        assert_int_equal(ba.assoc_count, bb.assoc_count);
        for (size_t i = 0; i < ba.assoc_count; i++) {
            smtpstatus_code cx, cy;
            smtpstatus_match mx, my;
            const char *tx, *ty;
            assert_int_equal(smtpstatus_result_basic_assoc(a, i, &cx, &mx, &tx), 0);
            assert_int_equal(smtpstatus_result_basic_assoc(b, i, &cy, &my, &ty), 0);
            assert_true(cx.subject == cy.subject && cx.detail == cy.detail && mx == my);
            assert_true(same_str(tx, ty));
        }
    }
    assert_true(same_str(smtpstatus_result_render_output(a), smtpstatus_result_render_output(b)));
    for (size_t i = 0; i < 64; i++) {
        assert_true(same_str(smtpstatus_result_render_line(a, i), smtpstatus_result_render_line(b, i)));
        assert_true(same_str(smtpstatus_result_render_warning(a, i),
                             smtpstatus_result_render_warning(b, i)));
    }
    smtpstatus_classification ca, cb;
    const char *ta, *tb;
    ra = smtpstatus_result_classification(a, &ca, &ta);
    rb = smtpstatus_result_classification(b, &cb, &tb);
    assert_int_equal(ra, rb);
    if (ra == 0) {
        assert_true(ca.basic == cb.basic && ca.has_enhanced == cb.has_enhanced &&
                    ca.kind == cb.kind && ca.retry == cb.retry && ca.problems == cb.problems);
        assert_true(same_str(ta, tb));
    }
}

/* smtpstatus_lookup() and the other registry calls answer from the shared image when it is
 * usable, with the daemon's own code: the same answers as the socket's, errors included. */
static void
test_calls_answered_in_process(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    smtpstatus *h = open_handle(d.rundir, 0), *s = open_handle(d.rundir, 1);
    smtpstatus_result *a, *b;
    int ra, rb, calls = 0;
/* The same call on both handles: fn(handle, args..., &result). */
#define BOTH(what, fn, ...)                                                                        \
    do {                                                                                           \
        ra = fn(h, __VA_ARGS__, &a);                                                               \
        rb = fn(s, __VA_ARGS__, &b);                                                               \
        assert_same_answer(what, ra, a, rb, b);                                                    \
        smtpstatus_result_free(a);                                                                 \
        smtpstatus_result_free(b);                                                                 \
        calls++;                                                                                   \
    } while (0)
    const char *codes[] = {"5.1.1", "X.7.26", "5.1.99", "5.7.708", "bogus", "5.1.1000"};
    BOTH("lookup", smtpstatus_lookup, codes, 6);
    BOTH("basic 550", smtpstatus_lookup_basic_remote, 550);
    BOTH("basic 259", smtpstatus_lookup_basic_remote, 259);
    BOTH("search", smtpstatus_search, "mailbox", 0);
    BOTH("search limited", smtpstatus_search, "mailbox", 2);
    BOTH("list", smtpstatus_list, 7);
    smtpstatus_render_options ro = {.width = 30};
    BOTH("render", smtpstatus_render_remote, 452, "4.2.2", "Mailbox full, try again later", &ro);
    BOTH("render, default text", smtpstatus_render_remote, 550, "5.1.1", NULL, NULL);
    BOTH("render, class mismatch", smtpstatus_render_remote, 450, "5.1.1", NULL, NULL);
    const char reply[] = "421-4.7.0 Try again later\r\n421 4.7.0 closing\r\n";
    BOTH("classify", smtpstatus_classify_remote, reply, sizeof reply - 1);
#undef BOTH
    assert_int_equal(ra, 0);

    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.shared, 1);
    assert_int_equal(cs.pins, calls);
    assert_int_equal(cs.socket_calls, 0);
    assert_int_equal(cs.mappings, 1);
    smtpstatus_client_status_get(s, &cs);
    assert_int_equal(cs.socket_calls, calls);
    assert_int_equal(cs.pins, 0);

    /* The daemon counted the socket handle's questions only. */
    smtpstatus_result *r;
    assert_int_equal(smtpstatus_stats(s, &r), 0);
    const char *group, *name;
    uint64_t value, lookups = 0;
    for (size_t i = 0; smtpstatus_result_counter(r, i, &group, &name, &value) == 0; i++)
        if (strcmp(group, "requests") == 0 && strcmp(name, "lookup") == 0)
            lookups = value;
    assert_int_equal(lookups, 1);
    smtpstatus_result_free(r);

    /* A result keeps its image pinned: it outlives a restart that supersedes the image. */
    assert_int_equal(smtpstatus_lookup(h, codes, 1, &r), 0);
    testutil_daemon_stop(&d);
    testutil_daemon_start(&d, dir, NULL);
    const smtpstatus_image *cur;
    assert_int_equal(smtpstatus_pin(h, &cur), 0); /* moves to the new image */
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.mappings, 2);
    smtpstatus_entry e;
    assert_int_equal(smtpstatus_result_entry(r, 0, &e, NULL), 0);
    assert_string_equal(e.title, "Bad destination mailbox address");
    smtpstatus_result_free(r);
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.mappings, 1);
    smtpstatus_unpin(h, cur);

    close_handle(h);
    close_handle(s);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* A restarted daemon marks the image it finds superseded, and goes on from its generation. */
static void
test_restart_supersedes_and_goes_on(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    smtpstatus *h = open_handle(d.rundir, 0);
    const smtpstatus_image *old;
    assert_int_equal(smtpstatus_pin(h, &old), 0);
    uint64_t g = generation_of(old);
    testutil_daemon_stop(&d);
    testutil_daemon_start(&d, dir, NULL);

    /* The old pin is still whole, and knows it has been superseded by generation g + 1. */
    smtpstatus_entry e;
    assert_int_equal(smtpstatus_image_lookup(old, code("5.1.1"), &e), 0);
    assert_true(e.registered);
    const smtpstatus_image *cur = old;
    const smtpstatus_image *pin_old;
    assert_int_equal(smtpstatus_pin(h, &pin_old), 0); /* follows to the new one */
    assert_int_equal(generation_of(pin_old), g + 1);
    smtpstatus_unpin(h, pin_old);
    assert_int_equal(smtpstatus_refresh(h, &cur), 0);
    assert_true(cur != old);
    assert_int_equal(generation_of(cur), g + 1);
    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.mappings, 1); /* the old image went with its last pin */
    smtpstatus_unpin(h, cur);
    close_handle(h);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* ---- the reload storm ---------------------------------------------------------------------- */

struct expect {
    char title[256], description[4096], raw[256];
    char title_511[256];
    int always; /* X.7.29 is in every generation; else in odd ones only */
};

struct reader {
    pthread_t thread;
    smtpstatus *h;
    int pin_each_time; /* 1: pin and unpin per round; 0: hold a pin and refresh it */
    const struct expect *want;
    int stop;          /* atomic */
    uint64_t rounds, with, without, seen_generation; /* seen_generation: atomic */
    char failure[512];
};

static void reader_fail(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reader_fail(struct reader *r, const char *fmt, ...)
{
    if (r->failure[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->failure, sizeof r->failure, fmt, ap);
    va_end(ap);
}

/* One round against one image: 5.1.1 as always, and X.7.29, whole, in the generations that have
 * it (the storm starts from a registry with it as generation 1, and alternates). */
static void
check_image(struct reader *r, const smtpstatus_image *img)
{
    uint64_t g = generation_of(img);
    smtpstatus_entry e;
    smtpstatus_code c511 = {5, 1, 1}, c729 = {5, 7, 29};
    if (smtpstatus_image_lookup(img, c511, &e) != 0 || !e.registered ||
        strcmp(e.title, r->want->title_511) != 0)
        reader_fail(r, "generation %llu: 5.1.1 is wrong (round %llu)", (unsigned long long)g, (unsigned long long)r->rounds);
    if (smtpstatus_image_lookup(img, c729, &e) != 0) {
        reader_fail(r, "generation %llu: lookup of 5.7.29 failed (round %llu)", (unsigned long long)g, (unsigned long long)r->rounds);
    } else if (e.registered) {
        if (!(r->want->always || g % 2 == 1) || strcmp(e.title, r->want->title) != 0 ||
            strcmp(e.description, r->want->description) != 0 ||
            strcmp(e.basic_codes_raw, r->want->raw) != 0)
            reader_fail(r, "generation %llu: a torn or misplaced X.7.29 (round %llu)",
                        (unsigned long long)g, (unsigned long long)r->rounds);
        r->with++;
    } else {
        if (r->want->always || g % 2 != 0 || e.subject.title == NULL)
            reader_fail(r, "generation %llu: X.7.29 missing (round %llu)", (unsigned long long)g, (unsigned long long)r->rounds);
        r->without++;
    }
    __atomic_store_n(&r->seen_generation, g, __ATOMIC_RELEASE);
    r->rounds++;
}

static void *
reader_main(void *arg)
{
    struct reader *r = arg;
    const smtpstatus_image *held = NULL;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        if (r->pin_each_time) {
            const smtpstatus_image *img;
            if (smtpstatus_pin(r->h, &img) != 0) {
                reader_fail(r, "pin failed (round %llu)", (unsigned long long)r->rounds);
                continue;
            }
            check_image(r, img);
            smtpstatus_unpin(r->h, img);
        } else {
            if (smtpstatus_refresh(r->h, &held) != 0) {
                reader_fail(r, "refresh failed (round %llu)", (unsigned long long)r->rounds);
                continue;
            }
            check_image(r, held);
        }
    }
    smtpstatus_unpin(r->h, held);
    return NULL;
}

/* The readers, and whether they run, for the teardown to join when their test failed half-way.
 * Static, not on the test's stack: a failure longjmps out of the frame that started them. */
static struct reader readers[READERS];
static struct reader *running_readers;

/* Starts READERS threads reading through h. Returns them (static storage). */
static struct reader *
readers_start(smtpstatus *h, const struct expect *want)
{
    struct reader *rs = readers;
    running_readers = rs;
    for (int i = 0; i < READERS; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].h = h;
        rs[i].pin_each_time = i % 2;
        rs[i].want = want;
    }
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&rs[i].thread, NULL, reader_main, &rs[i]), 0);
    return rs;
}

/* Stops and joins every reader, whatever they found: nothing may run on after its test. */
static void
readers_join(struct reader *rs)
{
    for (int i = 0; i < READERS; i++)
        __atomic_store_n(&rs[i].stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < READERS; i++)
        if (rs[i].thread != 0)
            pthread_join(rs[i].thread, NULL);
    running_readers = NULL;
}

static void
readers_stop(struct reader *rs)
{
    readers_join(rs);
    for (int i = 0; i < READERS; i++) {
        if (rs[i].failure[0] != '\0')
            fail_msg("reader %d: %s", i, rs[i].failure);
        assert_true(rs[i].rounds > 0);
    }
}

static void
expect_from(const smtpstatus_image *img, struct expect *want)
{
    smtpstatus_entry e;
    smtpstatus_code c729 = {5, 7, 29}, c511 = {5, 1, 1};
    assert_int_equal(smtpstatus_image_lookup(img, c729, &e), 0);
    assert_true(e.registered);
    snprintf(want->title, sizeof want->title, "%s", e.title);
    snprintf(want->description, sizeof want->description, "%s", e.description);
    snprintf(want->raw, sizeof want->raw, "%s", e.basic_codes_raw);
    assert_int_equal(smtpstatus_image_lookup(img, c511, &e), 0);
    snprintf(want->title_511, sizeof want->title_511, "%s", e.title);
}

/*
 * Reload `i` of a storm: `dir`, as generation `want`. The call waits for the daemon's answer,
 * which comes once the new generation is published: on a loaded machine that can take seconds
 * (a fixed 5 s was once too short), so the storm's handle waits up to STALL_MS, and a reload
 * fails only when the daemon has not got on with it for that long. Whether a request that timed
 * out reached the daemon cannot be told, and a second reload would shift every generation
 * after it, so a timeout is not retried.
 */
static void
storm_reload(smtpstatus *admin, const char *dir, uint64_t want, int i)
{
    const char *fail_at = getenv("SMTPSTATUS_TEST_STORM_FAIL_AT");
    if (fail_at != NULL && atoi(fail_at) == i)
        fail_msg("reload %d: failing here, as SMTPSTATUS_TEST_STORM_FAIL_AT asks", i);
    smtpstatus_result *r;
    uint64_t t0 = now_ms();
    int rc = smtpstatus_reload(admin, dir, &r);
    smtpstatus_registry_info info;
    if (rc == 0 && smtpstatus_result_registry(r, &info) == 0 && info.generation != want)
        rc = SMTPSTATUS_EPROTO;
    if (rc != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", r != NULL ? smtpstatus_result_message(r) : "");
        smtpstatus_result_free(r);
        fail_msg("reload %d: %s after %llu ms: %s", i, smtpstatus_strerror(rc),
                 (unsigned long long)(now_ms() - t0), msg);
    }
    smtpstatus_result_free(r);
}

/* Starts the daemon on `with` (a registry with X.7.29), then reloads it STORM_RELOADS times,
 * alternating `without` and `with`, while READERS threads look codes up. */
static void
storm(const char *with, const char *without)
{
    const char *dir = testutil_tempdir();
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, with);
    char path[400];
    snprintf(path, sizeof path, "%s/registry", d.rundir);
    smtpstatus *h = open_handle(d.rundir, 0);
    const smtpstatus_image *first;
    assert_int_equal(smtpstatus_pin(h, &first), 0);
    assert_int_equal(generation_of(first), 1);
    static struct expect want;
    expect_from(first, &want);
    smtpstatus_unpin(h, first);

    struct reader *rs = readers_start(h, &want);
    smtpstatus *admin = open_handle_timeout(d.rundir, 1, STALL_MS);
    uint32_t most_mappings = 0;
    for (int i = 1; i <= STORM_RELOADS; i++) {
        storm_reload(admin, i % 2 ? without : with, 1 + (uint64_t)i, i);
        smtpstatus_client_status cs;
        smtpstatus_client_status_get(h, &cs);
        if (cs.mappings > most_mappings)
            most_mappings = cs.mappings;
    }
    /* Let the readers see the last generation before they stop, for as long as they get on. */
    uint64_t rounds = 0, moved = now_ms();
    for (int all = 0; !all && now_ms() - moved < STALL_MS;) {
        uint64_t sum = 0;
        all = 1;
        for (int i = 0; i < READERS; i++) {
            all &= __atomic_load_n(&rs[i].seen_generation, __ATOMIC_ACQUIRE) ==
                   1 + STORM_RELOADS;
            sum += __atomic_load_n(&rs[i].rounds, __ATOMIC_RELAXED);
        }
        if (sum != rounds)
            moved = now_ms();
        rounds = sum;
        if (!all)
            sleep_ms(2);
    }
    readers_stop(rs);
    uint64_t with_n = 0, without_n = 0;
    for (int i = 0; i < READERS; i++) {
        assert_int_equal(rs[i].seen_generation, 1 + STORM_RELOADS);
        with_n += rs[i].with;
        without_n += rs[i].without;
    }
    print_message("storm: %d reloads; readers saw X.7.29 %llu times and its absence %llu times; "
                  "at most %u mappings at once\n",
                  STORM_RELOADS, (unsigned long long)with_n, (unsigned long long)without_n,
                  most_mappings);
    assert_true(with_n > 0 && without_n > 0);
    /* At most: the current image, and per reader the one it pins and, while smtpstatus_refresh()
     * moves it on, the newer one it pins before letting the old one go (so that it always holds
     * one): a reader preempted there holds two. */
    assert_true(most_mappings <= 1 + 2 * READERS);

    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.shared, 1);
    assert_int_equal(cs.generation, 1 + STORM_RELOADS);
    assert_int_equal(cs.mappings, 1);
    assert_int_equal(mappings_of(path), 1);
    struct stat st;
    char tmp[420];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    assert_int_equal(lstat(tmp, &st), -1); /* nothing left half-published */

    close_handle(admin);
    close_handle(h);
    assert_int_equal(mappings_of(path), 0);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* The project's own registry, and the same without X.7.29 and X.7.30, written by the test. */
static void
test_reload_storm_project_data(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    char with[400], without[400];
    snprintf(with, sizeof with, "%s", testutil_project_data());
    snprintf(without, sizeof without, "%s/without", dir);
    assert_int_equal(mkdir(without, 0755), 0);
    for (int n = 1; n <= 3; n++) {
        char from[600], to[600];
        snprintf(from, sizeof from, "%s/smtp-enhanced-status-codes-%d.csv", with, n);
        snprintf(to, sizeof to, "%s/smtp-enhanced-status-codes-%d.csv", without, n);
        size_t len;
        char *text = testutil_read_file(from, &len);
        /* data/ keeps each row on one line. */
        char *out = malloc(len + 1);
        assert_non_null(out);
        size_t o = 0;
        for (char *line = text; *line != '\0';) {
            char *end = strchr(line, '\n');
            size_t l = end != NULL ? (size_t)(end - line) + 1 : strlen(line);
            if (strncmp(line, "\"X.7.29\"", 8) != 0 && strncmp(line, "\"X.7.30\"", 8) != 0) {
                memcpy(out + o, line, l);
                o += l;
            }
            line += l;
        }
        assert_true(o < len || n != 3); /* the codes table did lose the two rows */
        testutil_write_file(to, out, o);
        free(out);
        free(text);
    }
    storm(with, without);
    testutil_rmtree(dir);
}

/* The real IANA tables: later/ has X.7.29, 2017/ does not. */
static void
test_reload_storm_iana(void **state)
{
    (void)state;
    char with[400], without[400];
    snprintf(with, sizeof with, "%s", testutil_shared_iana("later"));
    snprintf(without, sizeof without, "%s", testutil_shared_iana("2017"));
    storm(with, without);
}

/* ---- SIGKILL ------------------------------------------------------------------------------- */

static void
test_readers_survive_sigkill(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, testutil_project_data());
    smtpstatus *h = open_handle(d.rundir, 0);
    const smtpstatus_image *img;
    assert_int_equal(smtpstatus_pin(h, &img), 0);
    static struct expect want;
    expect_from(img, &want);
    want.always = 1;
    uint64_t g = generation_of(img);
    smtpstatus_unpin(h, img);

    struct reader *rs = readers_start(h, &want);
    sleep_ms(100);
    assert_int_equal(kill(d.pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
    assert_true(WIFSIGNALED(status));
    uint64_t before[READERS];
    for (int i = 0; i < READERS; i++)
        before[i] = __atomic_load_n(&rs[i].rounds, __ATOMIC_RELAXED);
    sleep_ms(300);
    for (int i = 0; i < READERS; i++) {
        assert_true(__atomic_load_n(&rs[i].rounds, __ATOMIC_RELAXED) > before[i]);
        assert_int_equal(rs[i].failure[0], '\0');
    }

    /* The next daemon marks the image superseded and publishes generation 2: every reader
     * moves there. */
    testutil_daemon_start(&d, dir, testutil_project_data());
    int moved = 0;
    for (int t = 0; t < 2000 && !moved; t++) {
        moved = 1;
        for (int i = 0; i < READERS; i++)
            moved &= __atomic_load_n(&rs[i].seen_generation, __ATOMIC_ACQUIRE) == g + 1;
        if (!moved)
            sleep_ms(5);
    }
    readers_stop(rs);
    assert_true(moved);
    close_handle(h);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* ---- bad images ---------------------------------------------------------------------------- */

static void
write_image(const char *path, const void *buf, size_t len, mode_t mode)
{
    unlink(path);
    testutil_write_file(path, buf, len);
    assert_int_equal(chmod(path, mode), 0);
}

/* A fresh handle on `rundir` must refuse the image with `want`, and name the file. */
static void
refused(const char *rundir, int want, const char *what)
{
    smtpstatus *h = open_handle(rundir, 0);
    const smtpstatus_image *img = (const void *)1;
    int rc = smtpstatus_pin(h, &img);
    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    print_message("%s: %s\n", what, cs.error_detail);
    if (rc != want || img != NULL || cs.error != want)
        fail_msg("%s: pin gave %s, error %s (%s); wanted %s", what, smtpstatus_err_name(rc),
                 smtpstatus_err_name(cs.error), cs.error_detail, smtpstatus_err_name(want));
    assert_non_null(strstr(cs.error_detail, cs.image_path));
    assert_int_equal(cs.shared, 0);
    assert_int_equal(cs.refusals, 1);
    assert_int_equal(cs.mappings, 0);
    close_handle(h);
}

static void
test_bad_images_refused(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    char rundir[400], path[450], other[450];
    snprintf(rundir, sizeof rundir, "%s/run", dir);
    snprintf(path, sizeof path, "%s/registry", rundir);
    snprintf(other, sizeof other, "%s/elsewhere", dir);
    assert_int_equal(mkdir(rundir, 0755), 0);
    size_t len;
    const unsigned char *good = smtpstatus_embedded_image_data(&len);
    unsigned char *bad = malloc(len);
    assert_non_null(bad);

    refused(rundir, SMTPSTATUS_EIMG_MISSING, "missing");

    write_image(path, good, len / 2, 0644);
    refused(rundir, SMTPSTATUS_EIMG_TRUNCATED, "truncated");
    write_image(path, good, 100, 0644);
    refused(rundir, SMTPSTATUS_EIMG_TRUNCATED, "shorter than a header");

    memcpy(bad, good, len);
    bad[len / 2] ^= 0x40;
    write_image(path, bad, len, 0644);
    refused(rundir, SMTPSTATUS_EIMG_CHECKSUM, "a byte flipped");

    memcpy(bad, good, len);
    bad[0] ^= 0x01;
    write_image(path, bad, len, 0644);
    refused(rundir, SMTPSTATUS_EIMG_MAGIC, "bad magic");

    write_image(other, good, len, 0644);
    unlink(path);
    assert_int_equal(symlink(other, path), 0);
    refused(rundir, SMTPSTATUS_EIMG_NOTFILE, "a symbolic link to a good image");
    unlink(path);

    assert_int_equal(mkdir(path, 0755), 0);
    refused(rundir, SMTPSTATUS_EIMG_NOTFILE, "a directory");
    rmdir(path);

    write_image(path, good, len, 0664);
    refused(rundir, SMTPSTATUS_EIMG_FOREIGN, "writable by its group");

    if (geteuid() == 0) {
        write_image(path, good, len, 0644);
        assert_int_equal(chown(path, 65534, 65534), 0);
        refused(rundir, SMTPSTATUS_EIMG_FOREIGN, "owned by another user");
    } else {
        print_message("skipped: an image owned by another user needs root to make\n");
    }

    /* The control: the same bytes, as they should be, are taken. */
    write_image(path, good, len, 0644);
    smtpstatus *h = open_handle(rundir, 0);
    const smtpstatus_image *img;
    assert_int_equal(smtpstatus_pin(h, &img), 0);
    smtpstatus_unpin(h, img);
    close_handle(h);
    free(bad);
    testutil_rmtree(dir);
}

/* With a bad image in place, the daemon's socket answers, and the handle says so. */
static void
test_bad_image_falls_back_to_the_socket(void **state)
{
    (void)state;
    const char *dir = testutil_tempdir();
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    char path[400], tmp[420];
    snprintf(path, sizeof path, "%s/registry", d.rundir);
    snprintf(tmp, sizeof tmp, "%s/registry.bad", d.rundir);
    /* Without image.sock the client reads the file instead of the daemon's sealed memfd. */
    char sock[400];
    snprintf(sock, sizeof sock, "%s/image.sock", d.rundir);
    assert_int_equal(unlink(sock), 0);
    size_t len;
    char *bytes = testutil_read_file(path, &len);
    bytes[len - 1] ^= 0x20;
    write_image(tmp, bytes, len, 0644);
    assert_int_equal(rename(tmp, path), 0);
    free(bytes);

    smtpstatus *h = open_handle(d.rundir, 0);
    const smtpstatus_image *img;
    assert_int_equal(smtpstatus_pin(h, &img), SMTPSTATUS_EIMG_CHECKSUM);
    const char *codes[] = {"5.7.26"};
    smtpstatus_result *r;
    assert_int_equal(smtpstatus_lookup(h, codes, 1, &r), 0);
    smtpstatus_entry e;
    assert_int_equal(smtpstatus_result_entry(r, 0, &e, NULL), 0);
    assert_true(e.registered);
    smtpstatus_result_free(r);
    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.shared, 0);
    assert_int_equal(cs.error, SMTPSTATUS_EIMG_CHECKSUM);
    assert_int_equal(cs.pins, 0);
    assert_int_equal(cs.socket_calls, 1);

    /* Within the backoff a pin does not even look again. */
    assert_int_equal(smtpstatus_pin(h, &img), SMTPSTATUS_EIMG_CHECKSUM);
    smtpstatus_client_status_get(h, &cs);
    assert_int_equal(cs.refusals, 1);
    close_handle(h);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* After every test, passed or failed half-way: its readers joined (they use its handle), its
 * handles closed, its daemons stopped and its temp directories removed. */
static int
teardown(void **state)
{
    if (running_readers != NULL)
        readers_join(running_readers);
    for (int i = 0; i < MAX_HANDLES; i++)
        if (open_handles[i] != NULL)
            close_handle(open_handles[i]);
    int rc = testutil_teardown(state);
    /* Nothing of the test may run on into the next one. */
    int threads = -2; /* "." and ".." */
    DIR *tasks = opendir("/proc/self/task");
    for (struct dirent *e; tasks != NULL && (e = readdir(tasks)) != NULL;)
        threads++;
    if (tasks != NULL)
        closedir(tasks);
    if (threads != 1) {
        print_error("teardown: %d threads are still running\n", threads);
        rc = -1;
    }
    return rc;
}

int
main(void)
{
#define TEST(f) cmocka_unit_test_teardown(f, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_pin_answers_like_the_daemon),
        TEST(test_calls_answered_in_process),
        TEST(test_restart_supersedes_and_goes_on),
        TEST(test_reload_storm_project_data),
        TEST(test_reload_storm_iana),
        TEST(test_readers_survive_sigkill),
        TEST(test_bad_images_refused),
        TEST(test_bad_image_falls_back_to_the_socket),
    };
#undef TEST
    return cmocka_run_group_tests(tests, NULL, NULL);
}
