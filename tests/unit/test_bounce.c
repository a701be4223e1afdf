/*
 * The bounce parser (client/bounce/bounce.c): the sample bounces of tests/data/bounces/, one of
 * each kind it reads, give the recipients, statuses and reasons written into them; the limits
 * hold (size, recipients, nesting) on messages made here; bad input is an error, not a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "answer_json.h"
#include "bounce.h"
#include "testutil.h"

#define SAMPLES PROJECT_DATA_DIR "/../tests/data/bounces/"

static int
parse_sample(const char *name, struct bounce_result *res)
{
    size_t len;
    char *msg = testutil_read_file(name, &len);
    assert_non_null(msg);
    int rc = bounce_parse(msg, len, NULL, res);
    free(msg);
    return rc;
}

static char *
sample_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s%s", SAMPLES, name);
    return path;
}

static void
test_postfix_dsn(void **state)
{
    (void)state;
    struct bounce_result r;
    assert_int_equal(parse_sample(sample_path("postfix_dsn.eml"), &r), 0);
    assert_string_equal(r.format, "dsn");
    assert_string_equal(r.reporting_mta, "mail.example.com");
    /* The returned message's look-alike fields are not read. */
    assert_int_equal(r.count, 2);
    assert_false(r.truncated);
    const smtpstatus_bounce_recipient *a = &r.recipients[0], *b = &r.recipients[1];
    assert_string_equal(a->final_recipient, "nobody@example.org");
    assert_string_equal(a->original_recipient, "nobody@example.org");
    assert_string_equal(a->action, "failed");
    assert_true(a->failed);
    assert_string_equal(a->status, "5.1.1");
    assert_string_equal(a->remote_mta, "mx.example.org");
    /* Unfolded: the continuation line joins with one space. */
    assert_string_equal(a->diagnostic_code, "550 5.1.1 <nobody@example.org>: Recipient address "
                                            "rejected: User unknown in virtual mailbox table");
    assert_int_equal(a->reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_true(a->recipient_invalid);
    assert_false(a->retry);
    assert_string_not_equal(a->rule, "");

    assert_string_equal(b->final_recipient, "later@example.net");
    assert_string_equal(b->action, "delayed");
    assert_false(b->failed);
    assert_string_equal(b->status, "4.4.1");
    assert_true(b->retry);
    assert_false(b->recipient_invalid);
    assert_string_equal(b->will_retry_until, "Tue, 19 Nov 2023 10:05:10 +0000 (UTC)");
    assert_string_equal(b->remote_mta, "");
    bounce_result_free(&r);
    bounce_result_free(&r); /* emptied: a second free does nothing */
}

static void
test_exim(void **state)
{
    (void)state;
    struct bounce_result r;
    assert_int_equal(parse_sample(sample_path("exim_plain.eml"), &r), 0);
    assert_string_equal(r.format, "exim");
    assert_int_equal(r.count, 2);
    assert_string_equal(r.recipients[0].final_recipient, "nobody@example.org");
    assert_string_equal(r.recipients[0].remote_mta, "mx.example.org");
    assert_string_equal(r.recipients[0].status, "5.1.1");
    assert_true(r.recipients[0].recipient_invalid);
    assert_string_equal(r.recipients[1].final_recipient, "full@example.net");
    assert_string_equal(r.recipients[1].remote_mta, "mx1.example.net");
    assert_string_equal(r.recipients[1].status, "5.2.2");
    assert_int_equal(r.recipients[1].reason, SMTPSTATUS_REASON_MAILBOX_FULL);
    /* A multi-line reply stays multi-line, without Exim's indentation. */
    assert_string_equal(r.recipients[1].diagnostic_code,
                        "552-5.2.2 The recipient's mailbox is over its storage limit.\n"
                        "552 5.2.2 Ask them to make room and send again.");
    bounce_result_free(&r);
}

static void
test_qmail(void **state)
{
    (void)state;
    struct bounce_result r;
    assert_int_equal(parse_sample(sample_path("qmail.eml"), &r), 0);
    assert_string_equal(r.format, "qmail");
    assert_int_equal(r.count, 2); /* not the "<decoy@...>:" in the returned message */
    assert_string_equal(r.recipients[0].final_recipient, "nobody@example.org");
    assert_string_equal(r.recipients[0].remote_mta, "192.0.2.25");
    assert_string_equal(r.recipients[0].status, "5.1.1");
    assert_true(r.recipients[0].failed);
    assert_string_equal(r.recipients[1].final_recipient, "someone@nowhere.invalid");
    assert_string_equal(r.recipients[1].status, "5.1.2");
    assert_int_equal(r.recipients[1].reason, SMTPSTATUS_REASON_ROUTING);
    bounce_result_free(&r);
}

static void
test_gmail_and_microsoft(void **state)
{
    (void)state;
    struct bounce_result r;
    assert_int_equal(parse_sample(sample_path("gmail.eml"), &r), 0);
    assert_string_equal(r.format, "gmail");
    assert_int_equal(r.count, 1);
    /* Quoted-printable decoded by GMime: the address was split by a soft line break. */
    assert_string_equal(r.recipients[0].final_recipient, "nobody@example.org");
    assert_string_equal(r.recipients[0].status, "5.1.1");
    assert_true(r.recipients[0].recipient_invalid);
    bounce_result_free(&r);

    assert_int_equal(parse_sample(sample_path("microsoft.eml"), &r), 0);
    assert_string_equal(r.format, "microsoft");
    assert_string_equal(r.reporting_mta, "AM0PR01MB1234.eurprd01.prod.example.com");
    assert_int_equal(r.count, 1);
    assert_string_equal(r.recipients[0].final_recipient, "nobody@example.org");
    assert_string_equal(r.recipients[0].status, "5.1.10");
    assert_int_equal(r.recipients[0].reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_string_equal(r.recipients[0].diagnostic_code,
                        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
                        "address lookup");
    bounce_result_free(&r);
}

static void
test_bad_input(void **state)
{
    (void)state;
    struct bounce_result r;
    assert_int_equal(parse_sample(sample_path("malformed.eml"), &r), SMTPSTATUS_ENOTBOUNCE);
    assert_int_equal(r.count, 0);
    assert_int_equal(bounce_parse("", 0, NULL, &r), SMTPSTATUS_EMALFORMED);
    /* An empty message as the socket hands it over: no bytes and no buffer (fuzz_frame). */
    assert_int_equal(bounce_parse(NULL, 0, NULL, &r), SMTPSTATUS_EMALFORMED);
    assert_int_equal(bounce_parse(NULL, 5, NULL, &r), SMTPSTATUS_EINVAL);
    assert_int_equal(bounce_parse("x", 1, NULL, NULL), SMTPSTATUS_EINVAL);
    const char junk[] = "\0\xff\xfe:\n\n\r\n--\n;;;";
    /* No header GMime can read: not MIME at all. */
    assert_int_equal(bounce_parse(junk, sizeof junk, NULL, &r), SMTPSTATUS_EMALFORMED);
}

/* A DSN with n recipients and `pad` bytes of returned message. */
static char *
make_dsn(size_t n, size_t pad, const char *recipient_type, size_t *len)
{
    size_t cap = 4096 + n * 256 + pad;
    char *m = malloc(cap);
    assert_non_null(m);
    size_t k = (size_t)snprintf(m, cap,
                                "From: MAILER-DAEMON@gen.example\n"
                                "MIME-Version: 1.0\n"
                                "Content-Type: multipart/report; report-type=delivery-status;\n"
                                " boundary=\"B\"\n\n--B\n"
                                "Content-Type: message/delivery-status\n\n"
                                "Reporting-MTA: dns; gen.example\n\n");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(m + k, cap - k,
                              "Final-Recipient: %s; u%zu@example.org\nAction: failed\n"
                              "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n\n",
                              recipient_type, i);
    k += (size_t)snprintf(m + k, cap - k, "--B\nContent-Type: message/rfc822\n\nSubject: x\n\n");
    for (size_t i = 0; i < pad; i++)
        m[k++] = i % 64 == 63 ? '\n' : 'a';
    k += (size_t)snprintf(m + k, cap - k, "\n--B--\n");
    *len = k;
    return m;
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
test_limits(void **state)
{
    (void)state;
    struct bounce_result r;
    size_t len;

    /* Recipients over the limit are dropped, and the result says so. */
    char *m = make_dsn(BOUNCE_RECIPIENTS_MAX + 500, 0, "rfc822", &len);
    assert_int_equal(bounce_parse(m, len, NULL, &r), 0);
    assert_int_equal(r.count, BOUNCE_RECIPIENTS_MAX);
    assert_true(r.truncated);
    assert_string_equal(r.recipients[999].final_recipient, "u999@example.org");
    bounce_result_free(&r);
    free(m);

    /* A large returned message is fine up to the limit, and refused above it. */
    m = make_dsn(1, BOUNCE_MESSAGE_MAX - 8192, "rfc822", &len);
    assert_true(len <= BOUNCE_MESSAGE_MAX);
    double t0 = now_ms();
    assert_int_equal(bounce_parse(m, len, NULL, &r), 0);
    double big_ms = now_ms() - t0;
    assert_int_equal(r.count, 1);
    bounce_result_free(&r);
    free(m);
    m = make_dsn(1, BOUNCE_MESSAGE_MAX, "rfc822", &len);
    assert_int_equal(bounce_parse(m, len, NULL, &r), SMTPSTATUS_ETOOBIG);
    free(m);

    /* What the daemon parses on its loop: a message of one frame. */
    m = make_dsn(20, 60000, "rfc822", &len);
    t0 = now_ms();
    for (int i = 0; i < 20; i++) {
        assert_int_equal(bounce_parse(m, len, NULL, &r), 0);
        bounce_result_free(&r);
    }
    double frame_ms = (now_ms() - t0) / 20;
    free(m);
    print_message("parse time: %.3f ms for a %zu-byte DSN, %.1f ms for a 10 MiB one\n", frame_ms,
                  len, big_ms);
    assert_true(frame_ms < 20.0); /* generous: sanitizers and a busy machine */

    /* Nesting deeper than the container limit is refused before GMime recurses into it. */
    size_t depth = BOUNCE_CONTAINERS_MAX + 10, cap = depth * 80 + 256;
    m = malloc(cap);
    assert_non_null(m);
    len = (size_t)snprintf(m, cap, "MIME-Version: 1.0\n");
    for (size_t i = 0; i < depth; i++)
        len += (size_t)snprintf(m + len, cap - len,
                                "Content-Type: multipart/mixed; boundary=\"b%zu\"\n\n--b%zu\n", i,
                                i);
    assert_int_equal(bounce_parse(m, len, NULL, &r), SMTPSTATUS_EMALFORMED);
    free(m);
}

static void
test_utf8_address(void **state)
{
    (void)state;
    struct bounce_result r;
    size_t len;
    char *m = make_dsn(1, 0, "utf-8", &len);
    /* RFC 6533: "utf-8; j\x{F6}rg@..." names jörg. */
    char *at = strstr(m, "u0@example.org");
    assert_non_null(at);
    const char *esc = "j\\x{F6}rg@example.org\nAction: failed\nStatus: 5.1.1\n\n--B--\n";
    memcpy(at, esc, strlen(esc) + 1);
    assert_int_equal(bounce_parse(m, strlen(m), NULL, &r), 0);
    assert_string_equal(r.recipients[0].final_recipient, "j\xc3\xb6rg@example.org");
    bounce_result_free(&r);
    free(m);
}

static void
test_json_names(void **state)
{
    (void)state;
    struct bounce_result r;
    assert_int_equal(parse_sample(sample_path("postfix_dsn.eml"), &r), 0);
    json_t *o = answer_json_bounce(r.format, r.reporting_mta, r.truncated, r.recipients, r.count);
    json_t *a = json_array_get(json_object_get(o, "recipients"), 0);
    static const char *const names[] = {
        "final_recipient", "original_recipient", "action",    "status",
        "remote_mta",      "diagnostic_code",    "reason",    "retry",
        "recipient_invalid", "retry_after",      "rule",      "failed"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_non_null(json_object_get(a, names[i]));
    assert_string_equal(json_string_value(json_object_get(a, "reason")), "bad-mailbox");
    /* "" is null, as everywhere in the JSON. */
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(o, "recipients"), 1),
                                             "remote_mta")));
    json_decref(o);
    bounce_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_dsn),  cmocka_unit_test(test_exim),
        cmocka_unit_test(test_qmail),        cmocka_unit_test(test_gmail_and_microsoft),
        cmocka_unit_test(test_bad_input),    cmocka_unit_test(test_limits),
        cmocka_unit_test(test_utf8_address), cmocka_unit_test(test_json_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
