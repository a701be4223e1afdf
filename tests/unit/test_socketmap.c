/*
 * Unit tests for the socketmap protocol and maps (socketmap.c): netstring framing as bytes
 * arrive (partial reads, two requests in one read, a length over the limit, a bad length, a
 * missing comma), and the status map's decisions with the built-in rules (the embedded
 * image's): a 5yz rate limit deferred as 4.X.X, a made-up 5.0.0 made specific, a success never
 * touched, the text kept as it came.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "socketmap.h"

/* ---- framing ---------------------------------------------------------------------------------- */

static enum socketmap_frame
frame(const char *s, size_t len, const char **p, size_t *pl, size_t *used, const char **why)
{
    return socketmap_frame(s, len, SOCKETMAP_REQUEST_MAX, p, pl, used, why);
}

static void
test_frame_partial_reads(void **state)
{
    (void)state;
    const char *req = "12:status 5.1.1,";
    const char *p, *why;
    size_t pl, used;
    /* Every prefix waits for more; the whole one is a request. */
    for (size_t n = 0; n < strlen(req); n++)
        assert_int_equal(frame(req, n, &p, &pl, &used, &why), SOCKETMAP_NEED_MORE);
    assert_int_equal(frame(req, strlen(req), &p, &pl, &used, &why), SOCKETMAP_REQUEST);
    assert_int_equal(pl, 12);
    assert_memory_equal(p, "status 5.1.1", 12);
    assert_int_equal(used, strlen(req));
}

static void
test_frame_two_in_one_read(void **state)
{
    (void)state;
    const char *in = "8:reason x,10:status 2.0,";
    const char *p, *why;
    size_t pl, used, len = strlen(in);
    assert_int_equal(frame(in, len, &p, &pl, &used, &why), SOCKETMAP_REQUEST);
    assert_int_equal(pl, 8);
    assert_memory_equal(p, "reason x", 8);
    assert_int_equal(frame(in + used, len - used, &p, &pl, &used, &why), SOCKETMAP_REQUEST);
    assert_int_equal(pl, 10);
    assert_memory_equal(p, "status 2.0", 10);
}

static void
test_frame_bad(void **state)
{
    (void)state;
    const char *p, *why = NULL;
    size_t pl, used;
    char big[32];
    snprintf(big, sizeof big, "%u:", SOCKETMAP_REQUEST_MAX + 1);
    assert_int_equal(frame(big, strlen(big), &p, &pl, &used, &why), SOCKETMAP_BAD);
    assert_non_null(strstr(why, "limit"));
    /* Refused from the digits alone, before the colon: nothing more is read or held. */
    assert_int_equal(frame("100001", 6, &p, &pl, &used, &why), SOCKETMAP_BAD);
    /* At the limit it waits for the bytes. */
    snprintf(big, sizeof big, "%u:", SOCKETMAP_REQUEST_MAX);
    assert_int_equal(frame(big, strlen(big), &p, &pl, &used, &why), SOCKETMAP_NEED_MORE);
    assert_int_equal(frame(":x,", 3, &p, &pl, &used, &why), SOCKETMAP_BAD);
    assert_int_equal(frame("GET / HTTP/1.0", 14, &p, &pl, &used, &why), SOCKETMAP_BAD);
    assert_int_equal(frame("3x:abc,", 7, &p, &pl, &used, &why), SOCKETMAP_BAD);
    assert_int_equal(frame("-1:", 3, &p, &pl, &used, &why), SOCKETMAP_BAD);
    /* The comma is missing: the byte after the data is not one. */
    assert_int_equal(frame("3:abcd", 6, &p, &pl, &used, &why), SOCKETMAP_BAD);
    assert_non_null(strstr(why, "','"));
    /* Zeros forever are not a length. */
    assert_int_equal(frame("000000000000000000000000", 24, &p, &pl, &used, &why), SOCKETMAP_BAD);
    /* An empty netstring is one (and answered PERM by socketmap_answer()). */
    assert_int_equal(frame("0:,", 3, &p, &pl, &used, &why), SOCKETMAP_REQUEST);
    assert_int_equal(pl, 0);
}

/* ---- answers ------------------------------------------------------------------------------------ */

/* The answer to the request `req` (without its netstring), as a C string, without the netstring
 * either; checks that the netstring is well formed. */
static const char *
ask(const char *req)
{
    static char out[2048];
    struct buf b = {0};
    assert_int_equal(socketmap_answer(NULL, req, strlen(req), &b), 0);
    const char *p, *why;
    size_t pl, used;
    assert_int_equal(socketmap_frame(b.data, b.len, 100000, &p, &pl, &used, &why),
                     SOCKETMAP_REQUEST);
    assert_int_equal(used, b.len);
    assert_true(pl < sizeof out);
    memcpy(out, p, pl);
    out[pl] = '\0';
    buf_free(&b);
    return out;
}

#define SAID "host mx.example.net[192.0.2.1] said: "
#define RCPT " (in reply to RCPT TO command)"

static void
test_status_rate_limit_deferred(void **state)
{
    (void)state;
    assert_string_equal(
        ask("status 5.7.1 " SAID "550 5.7.1 Too many messages from your IP, slow down" RCPT),
        "OK 4.7.1 " SAID "550 5.7.1 Too many messages from your IP, slow down" RCPT);
    /* Greylisting as a 5yz, made up 5.0.0: deferred, as 4.0.0 (no one code means it). */
    const char *a = ask("status 5.0.0 " SAID "550 Greylisted, please try again later" RCPT);
    assert_true(strncmp(a, "OK 4.", 5) == 0);
}

static void
test_status_made_up_code_made_specific(void **state)
{
    (void)state;
    assert_string_equal(ask("status 5.0.0 " SAID "550 No such user here" RCPT),
                        "OK 5.1.1 " SAID "550 No such user here" RCPT);
    assert_string_equal(ask("status 5.0.0 " SAID "550 User unknown" RCPT),
                        "OK 5.1.1 " SAID "550 User unknown" RCPT);
    assert_string_equal(ask("status 4.0.0 " SAID "452 Mailbox full" RCPT),
                        "OK 4.2.2 " SAID "452 Mailbox full" RCPT);
    /* A 5.0.0 the server itself sent stays: it is not Postfix's guess. */
    assert_string_equal(ask("status 5.0.0 " SAID "550 5.0.0 No such user here" RCPT),
                        "NOTFOUND ");
}

static void
test_status_left_alone(void **state)
{
    (void)state;
    /* Already specific and permanent. */
    assert_string_equal(ask("status 5.1.1 " SAID "550 5.1.1 User unknown" RCPT), "NOTFOUND ");
    /* Success is never touched, whatever the text says. */
    assert_string_equal(ask("status 2.0.0 " SAID "250 2.0.0 Ok, but too many messages, slow down"),
                        "NOTFOUND ");
    assert_string_equal(ask("status 2.0.0 " SAID "550 User unknown"), "NOTFOUND ");
    /* Not a status, or no text. */
    assert_string_equal(ask("status hello world"), "NOTFOUND ");
    assert_string_equal(ask("status 5.1.1"), "NOTFOUND ");
    assert_string_equal(ask("status 5.1.1 "), "NOTFOUND ");
    assert_string_equal(ask("status 9.1.1 550 x"), "NOTFOUND ");
    /* Postfix's own words, with no reply: left as Postfix said. */
    assert_string_equal(ask("status 4.4.1 connect to mx.example.net[192.0.2.1]:25: Connection "
                            "refused"),
                        "NOTFOUND ");
}

static void
test_status_never_crosses_success(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "status 4.7.1 " SAID "250 Ok",       "status 5.0.0 " SAID "250 Ok",
        "status 5.7.1 " SAID "421 slow down", "status 4.0.0 " SAID "550 User unknown",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *a = ask(keys[i]);
        if (strncmp(a, "OK ", 3) == 0)
            assert_true(a[3] == '4' || a[3] == '5');
    }
}

static void
test_reason_map(void **state)
{
    (void)state;
    static const char bad[] = "OK reason=bad-mailbox retry=no recipient_invalid=yes "
                              "retry_after=0 rule=";
    assert_memory_equal(ask("reason 550 5.1.1 User unknown"), bad, sizeof bad - 1);
    const char *a = ask("reason 550 5.7.1 Too many messages, try again in 5 minutes");
    static const char rate[] = "OK reason=rate-limit retry=yes recipient_invalid=no "
                               "retry_after=300 rule=";
    assert_memory_equal(a, rate, sizeof rate - 1);
    assert_string_equal(ask("reason no code here"), "NOTFOUND ");
}

static void
test_bad_requests(void **state)
{
    (void)state;
    assert_true(strncmp(ask("status"), "PERM ", 5) == 0);
    assert_true(strncmp(ask(""), "PERM ", 5) == 0);
    assert_true(strncmp(ask("virtual user@example.com"), "PERM ", 5) == 0);
}

static void
test_reason_codes(void **state)
{
    (void)state;
    unsigned s, d;
    assert_true(socketmap_reason_code(SMTPSTATUS_REASON_BAD_MAILBOX, &s, &d));
    assert_int_equal(s * 1000 + d, 1001);
    assert_true(socketmap_reason_code(SMTPSTATUS_REASON_MESSAGE_TOO_BIG, &s, &d));
    assert_int_equal(s * 1000 + d, 3004);
    assert_true(socketmap_reason_code(SMTPSTATUS_REASON_ROUTING, &s, &d));
    assert_int_equal(s * 1000 + d, 1002);
    assert_false(socketmap_reason_code(SMTPSTATUS_REASON_RATE_LIMIT, &s, &d));
    assert_false(socketmap_reason_code(SMTPSTATUS_REASON_OTHER, &s, &d));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_partial_reads),
        cmocka_unit_test(test_frame_two_in_one_read),
        cmocka_unit_test(test_frame_bad),
        cmocka_unit_test(test_status_rate_limit_deferred),
        cmocka_unit_test(test_status_made_up_code_made_specific),
        cmocka_unit_test(test_status_left_alone),
        cmocka_unit_test(test_status_never_crosses_success),
        cmocka_unit_test(test_reason_map),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_reason_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
