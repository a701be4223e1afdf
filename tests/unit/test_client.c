/*
 * The C client (rpc_client.c) against the real daemon, started in a temporary run directory
 * and waited for through its "ready" line: every call, a handle shared by threads, a reload and
 * a refused one, a daemon restart that the handle rides through, no daemon at all, a server
 * that never answers (the call times out), and a run directory the handle does not trust. Every
 * handle here asks the socket only; test_shared covers the same calls answered from the daemon's
 * shared image.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtpstatus.h"

static smtpstatus *
open_handle(const char *rundir, unsigned timeout_ms)
{
    /* The socket only: with the shared image, the questions here would not reach it. */
    smtpstatus_options o = {.rundir = rundir, .timeout_ms = timeout_ms, .socket_only = 1};
    smtpstatus *h;
    assert_int_equal(smtpstatus_open(&o, &h), 0);
    return h;
}

static void
test_every_call(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp);
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    smtpstatus *h = open_handle(d.rundir, 5000);
    smtpstatus_result *r;

    const char *codes[] = {"5.1.1", "X.7.26", "5.7.708", "6.1.1"};
    assert_int_equal(smtpstatus_lookup(h, codes, 4, &r), 0);
    assert_int_equal(smtpstatus_result_entry_count(r), 4);
    smtpstatus_entry e;
    const char *why;
    assert_int_equal(smtpstatus_result_entry(r, 0, &e, &why), 0);
    assert_true(e.registered);
    assert_string_equal(e.title, "Bad destination mailbox address");
    assert_string_equal(e.cls.title, "Permanent Failure");
    assert_string_equal(e.subject.title, "Addressing Status");
    assert_int_equal(e.basic_code_count, 2);
    assert_int_equal(e.basic_codes[0], 451);
    assert_int_equal(e.basic_codes[1], 550);
    assert_int_equal(smtpstatus_result_entry(r, 1, &e, NULL), 0);
    assert_int_equal(e.code.cls, 0);
    assert_string_equal(e.title, "Multiple authentication checks failed");
    assert_int_equal(smtpstatus_result_entry(r, 2, &e, NULL), 0);
    assert_false(e.registered);
    assert_true(e.subject_registered);
    assert_int_equal(smtpstatus_result_entry(r, 3, &e, &why), SMTPSTATUS_EINVAL);
    assert_non_null(strstr(why, "class must be 2, 4 or 5"));
    assert_int_equal(smtpstatus_result_entry(r, 4, &e, NULL), SMTPSTATUS_EINVAL);
    smtpstatus_result_free(r);

    assert_int_equal(smtpstatus_search(h, "mailbox full", 0, &r), 0);
    assert_true(smtpstatus_result_entry_count(r) >= 1);
    assert_int_equal(smtpstatus_result_entry(r, 0, &e, NULL), 0);
    assert_int_equal(e.code.subject, 2);
    assert_int_equal(e.code.detail, 2);
    smtpstatus_result_free(r);

    assert_int_equal(smtpstatus_list(h, 7, &r), 0);
    assert_int_equal(smtpstatus_result_entry_count(r), 31);
    smtpstatus_result_free(r);
    assert_int_equal(smtpstatus_list(h, -1, &r), 0);
    assert_int_equal(smtpstatus_result_entry_count(r), 81);
    smtpstatus_result_free(r);

    assert_int_equal(smtpstatus_lookup_basic_remote(h, 550, &r), 0);
    smtpstatus_basic_answer b;
    assert_int_equal(smtpstatus_result_basic(r, &b), 0);
    assert_true(b.standard);
    assert_true(b.assoc_count > 10);
    smtpstatus_code c;
    smtpstatus_match m;
    const char *title;
    assert_int_equal(smtpstatus_result_basic_assoc(r, 0, &c, &m, &title), 0);
    assert_int_equal(m, SMTPSTATUS_MATCH_EXACT);
    smtpstatus_result_free(r);
    assert_int_equal(smtpstatus_lookup_basic_remote(h, 559, &r), SMTPSTATUS_ENOTFOUND);
    assert_non_null(strstr(smtpstatus_result_message(r), "559"));
    smtpstatus_result_free(r);

    smtpstatus_render_options ro = {40, 0, SMTPSTATUS_FORM_REPLY};
    assert_int_equal(smtpstatus_render_remote(h, 550, "X.1.1",
                                              "No such user here, check the address and try "
                                              "again",
                                              &ro, &r),
                     0);
    assert_string_equal(smtpstatus_result_render_line(r, 0),
                        "550-5.1.1 No such user here, check the");
    assert_string_equal(smtpstatus_result_render_line(r, 1), "550 5.1.1 address and try again");
    assert_null(smtpstatus_result_render_line(r, 2));
    assert_null(smtpstatus_result_render_warning(r, 0));
    assert_non_null(strstr(smtpstatus_result_render_output(r), "\r\n550 5.1.1 address"));
    smtpstatus_result_free(r);
    assert_int_equal(smtpstatus_render_remote(h, 550, "4.2.2", "x", NULL, &r), SMTPSTATUS_EINVAL);
    assert_non_null(strstr(smtpstatus_result_message(r), "class"));
    smtpstatus_result_free(r);

    static const char reply[] = "452-4.2.2 Mailbox full\r\n452 4.2.2 try later\r\n";
    assert_int_equal(smtpstatus_classify_remote(h, reply, sizeof reply - 1, &r), 0);
    smtpstatus_classification cl;
    const char *text;
    assert_int_equal(smtpstatus_result_classification(r, &cl, &text), 0);
    assert_int_equal(cl.basic, 452);
    assert_true(cl.has_enhanced);
    assert_int_equal(cl.enhanced.subject, 2);
    assert_int_equal(cl.kind, SMTPSTATUS_KIND_TRANSIENT);
    assert_true(cl.retry);
    assert_int_equal(cl.problems, 0);
    assert_string_equal(text, "Mailbox full\ntry later");
    assert_true(cl.entry.registered);
    assert_string_equal(cl.entry.title, "Mailbox full");
    smtpstatus_result_free(r);
    static const char bad[] = "550 4.2.2 x\r\n";
    assert_int_equal(smtpstatus_classify_remote(h, bad, sizeof bad - 1, &r), 0);
    assert_int_equal(smtpstatus_result_classification(r, &cl, NULL), 0);
    assert_int_equal(cl.problems, SMTPSTATUS_PROBLEM_CLASS_MISMATCH);
    smtpstatus_result_free(r);

    assert_int_equal(smtpstatus_registry_info_get(h, &r), 0);
    smtpstatus_registry_info info;
    assert_int_equal(smtpstatus_result_registry(r, &info), 0);
    assert_int_equal(info.generation, 1);
    assert_string_equal(info.source, "embedded");
    assert_int_equal(info.code_count, 81);
    assert_int_equal(strlen(info.digest), 16);
    smtpstatus_result_free(r);

    /* This test runs as root in CI: it may reload. A broken directory changes nothing. */
    if (geteuid() == 0) {
        assert_int_equal(smtpstatus_reload(h, "/nonexistent", &r), SMTPSTATUS_ERELOAD);
        assert_non_null(smtpstatus_result_problem(r, 0));
        assert_non_null(strstr(smtpstatus_result_problem(r, 0), "cannot open"));
        assert_null(smtpstatus_result_problem(r, 3));
        smtpstatus_result_free(r);
        assert_int_equal(smtpstatus_reload(h, testutil_project_data(), &r), 0);
        assert_int_equal(smtpstatus_result_registry(r, &info), 0);
        assert_int_equal(info.generation, 2);
        assert_string_equal(info.source, testutil_project_data());
        assert_int_equal(info.added_count + info.removed_count + info.changed_count, 0);
        smtpstatus_result_free(r);
    }

    assert_int_equal(smtpstatus_stats(h, &r), 0);
    const char *group, *name;
    uint64_t value;
    int found = 0;
    for (size_t i = 0; smtpstatus_result_counter(r, i, &group, &name, &value) == 0; i++)
        if (strcmp(group, "requests") == 0 && strcmp(name, "lookup") == 0)
            found = value == 1;
    assert_true(found);
    smtpstatus_result_free(r);

    smtpstatus_close(h);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

static int
same_code(smtpstatus_code a, smtpstatus_code b)
{
    return a.cls == b.cls && a.subject == b.subject && a.detail == b.detail;
}

/*
 * The daemon's classification of each reply equals the library's own, field by field, the
 * reason's decision included: the expectations come from smtpstatus_classify() with the
 * embedded image (the registry and built-in rules the daemon serves), not from rule names.
 */
static void
test_classify_same_as_library(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "550 5.1.1 User unknown",
        "550 5.7.1 Too many messages, try again later in 5 minutes",
        "250 2.0.0 OK",
        "421 4.7.0 try again in 10 minutes",
        "354 End data with <CR><LF>.<CR><LF>",
        "452-4.2.2 Mailbox full\r\n452 4.2.2 try later\r\n",
        "host mx.example.com[192.0.2.1] said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; not "
        "found (in reply to RCPT TO command)",
        "450 4.7.1 Greylisted, please retry after 300 seconds",
        "hello there",
    };
    const char *tmp = testutil_tempdir();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp);
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    smtpstatus *h = open_handle(d.rundir, 5000);
    const smtpstatus_image *img = smtpstatus_image_embedded();
    int any_rule = 0, any_retry_after = 0, any_override = 0;
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        const char *reply = replies[i];
        size_t len = strlen(reply);
        smtpstatus_classification want, got;
        char text[512];
        const char *got_text;
        smtpstatus_result *r;
        int rc = smtpstatus_classify(img, reply, len, &want, text, sizeof text);
        assert_true(rc == 0 || rc == SMTPSTATUS_ENOREPLY);
        assert_int_equal(smtpstatus_classify_remote(h, reply, len, &r), 0);
        assert_int_equal(smtpstatus_result_classification(r, &got, &got_text), 0);
        print_message("%s: %s, rule \"%s\"\n", reply, smtpstatus_reason_name(want.reason),
                      want.rule);
        assert_int_equal(got.basic, want.basic);
        assert_int_equal(got.has_enhanced, want.has_enhanced);
        if (want.has_enhanced)
            assert_true(same_code(got.enhanced, want.enhanced));
        assert_int_equal(got.kind, want.kind);
        assert_int_equal(got.retry, want.retry);
        assert_int_equal(got.problems, want.problems);
        assert_string_equal(got_text, text);
        assert_int_not_equal(want.reason, 0);
        assert_int_equal(got.reason, want.reason);
        assert_int_equal(got.recipient_invalid, want.recipient_invalid);
        assert_int_equal(got.retry_after, want.retry_after);
        assert_non_null(got.rule);
        assert_string_equal(got.rule, want.rule);
        assert_non_null(got.rule_note);
        assert_string_equal(got.rule_note, want.rule_note);
        assert_int_equal(got.has_status, want.has_status);
        if (want.has_status)
            assert_true(same_code(got.status, want.status));
        if (want.has_enhanced && want.entry.registered)
            assert_string_equal(got.entry.title, want.entry.title);
        any_rule |= want.rule[0] != '\0';
        any_retry_after |= want.retry_after != 0;
        any_override |= (want.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS) != 0;
        /* The strings stay r's until it is freed: still readable after other calls. */
        smtpstatus_result *other;
        assert_int_equal(smtpstatus_classify_remote(h, "250 OK", 6, &other), 0);
        smtpstatus_result_free(other);
        assert_string_equal(got.rule, want.rule);
        smtpstatus_result_free(r);
    }
    /* The set exercises what it claims to: some rule decided, some text gave a wait, and a
     * reason overrode a class (the 550 that says "try again later"). */
    assert_true(any_rule);
    assert_true(any_retry_after);
    assert_true(any_override);
    smtpstatus_close(h);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

struct thread_arg {
    smtpstatus *h;
    int failures;
};

static void *
lookups(void *p)
{
    struct thread_arg *a = p;
    const char *codes[] = {"4.2.2"};
    for (int i = 0; i < 300; i++) {
        smtpstatus_result *r;
        smtpstatus_entry e;
        if (smtpstatus_lookup(a->h, codes, 1, &r) != 0 ||
            smtpstatus_result_entry(r, 0, &e, NULL) != 0 || strcmp(e.title, "Mailbox full") != 0)
            a->failures++;
        smtpstatus_result_free(r);
    }
    return NULL;
}

/* One handle, four threads, and a daemon restart in between: calls never fail. */
static void
test_threads_and_restart(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp);
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    smtpstatus *h = open_handle(d.rundir, 5000);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){h, 0};
        pthread_create(&t[i], NULL, lookups, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }

    testutil_daemon_stop(&d);
    smtpstatus_result *r;
    assert_int_equal(smtpstatus_registry_info_get(h, &r), SMTPSTATUS_EUNAVAILABLE);
    assert_null(r);
    testutil_daemon_start(&d, dir, NULL);
    /* The handle's connection is dead; the next call reconnects without the caller noticing. */
    assert_int_equal(smtpstatus_registry_info_get(h, &r), 0);
    smtpstatus_result_free(r);
    smtpstatus_close(h);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* A socket that accepts and never answers: the call gives up at its timeout. */
/* A listener on dir/smtpstatusd.sock (its address in *sa) that never accepts: a daemon that
 * never answers. `type` adds flags such as SOCK_NONBLOCK. */
static int
listen_silently(const char *dir, int type, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/smtpstatusd.sock", dir);
    assert_true(n > 0 && (size_t)n < sizeof sa->sun_path);
    int ls = socket(AF_UNIX, SOCK_STREAM | type, 0);
    assert_int_equal(bind(ls, (struct sockaddr *)sa, sizeof *sa), 0);
    assert_int_equal(listen(ls, 4), 0);
    return ls;
}

static void
test_timeout(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp);
    struct sockaddr_un sa;
    int ls = listen_silently(dir, 0, &sa);
    smtpstatus *h = open_handle(dir, 300);
    smtpstatus_result *r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(smtpstatus_stats(h, &r), SMTPSTATUS_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s >= 0.25 && s < 5);
    smtpstatus_close(h);
    close(ls);

    /* No socket at all. */
    unlink(sa.sun_path);
    h = open_handle(dir, 300);
    assert_int_equal(smtpstatus_stats(h, &r), SMTPSTATUS_EUNAVAILABLE);
    smtpstatus_close(h);

    /* A run directory too long for a socket path. */
    char longdir[200];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    smtpstatus_options o = {.rundir = longdir};
    assert_int_equal(smtpstatus_open(&o, &h), SMTPSTATUS_ENOSPC);
    testutil_rmtree(dir);
}

/* A run directory that others may write is refused before any connect(), with the path and
 * why from smtpstatus_socket_refusal(); once it is the caller's alone, the same listener is
 * connected to (its peer is the caller, so trusted) and the refusal is forgotten. */
static void
test_untrusted_rundir(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256], why[512], want[512];
    snprintf(dir, sizeof dir, "%s", tmp);
    struct sockaddr_un sa;
    int ls = listen_silently(dir, SOCK_NONBLOCK, &sa);
    assert_int_equal(chmod(dir, 0777), 0);

    smtpstatus *h = open_handle(dir, 300);
    assert_int_equal(smtpstatus_socket_refusal(h, why, sizeof why), 0);
    assert_string_equal(why, "");
    smtpstatus_result *r;
    assert_int_equal(smtpstatus_stats(h, &r), SMTPSTATUS_ERUNDIR_FOREIGN);
    assert_null(r);
    assert_int_equal(smtpstatus_socket_refusal(h, why, sizeof why), SMTPSTATUS_ERUNDIR_FOREIGN);
    snprintf(want, sizeof want, "%s: writable by group or others (mode 777); refused", dir);
    assert_string_equal(why, want);
    assert_int_equal(accept(ls, NULL, NULL), -1); /* nobody connected */
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(smtpstatus_stats(h, &r), SMTPSTATUS_ETIMEOUT);
    assert_int_equal(smtpstatus_socket_refusal(h, why, sizeof why), 0);
    assert_string_equal(why, "");
    smtpstatus_close(h);
    close(ls);
    testutil_rmtree(dir);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call),
        cmocka_unit_test(test_classify_same_as_library),
        cmocka_unit_test(test_threads_and_restart),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_untrusted_rundir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
