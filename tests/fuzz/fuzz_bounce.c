/*
 * libFuzzer target for the bounce parser (client/bounce/bounce.c): arbitrary bytes are parsed as
 * a bounce message, so that AddressSanitizer reports any read past the message and GMime's or
 * our recursion that the limits should have stopped. The input is copied into a heap buffer of
 * exactly its size. The result is checked against bounce.h's contract: 0 with between one and
 * BOUNCE_RECIPIENTS_MAX recipients (or none when it says it dropped some), every string set,
 * NUL-free within its length and valid UTF-8, action "failed" exactly when failed is set; any
 * other return is one of the errors bounce.h names. Seeds: tests/data/bounces/ (run-fuzzers.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"

#include "../../client/src/utf8.h"

static void
check_string(const char *s, const char *what)
{
    if (s == NULL) {
        fprintf(stderr, "fuzz_bounce: %s is NULL\n", what);
        abort();
    }
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = smtpstatus__utf8_char((const unsigned char *)s + i, n - i);
        if (k == 0) {
            fprintf(stderr, "fuzz_bounce: %s is not UTF-8 at byte %zu\n", what, i);
            abort();
        }
        i += k;
    }
    if (n > BOUNCE_FIELD_MAX) {
        fprintf(stderr, "fuzz_bounce: %s is %zu bytes, over the field limit\n", what, n);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size ? size : 1);
    if (msg == NULL)
        return 0;
    memcpy(msg, data, size);
    struct bounce_result r;
    int rc = bounce_parse(msg, size, NULL, &r);
    free(msg);
    if (rc != 0) {
        if (rc != SMTPSTATUS_ENOTBOUNCE && rc != SMTPSTATUS_EMALFORMED &&
            rc != SMTPSTATUS_ETOOBIG && rc != SMTPSTATUS_ENOMEM) {
            fprintf(stderr, "fuzz_bounce: unexpected error %d\n", rc);
            abort();
        }
        return 0;
    }
    if (r.count > BOUNCE_RECIPIENTS_MAX || (r.count == 0 && !r.truncated) || r.format == NULL) {
        fprintf(stderr, "fuzz_bounce: %zu recipients\n", r.count);
        abort();
    }
    check_string(r.reporting_mta, "reporting_mta");
    for (size_t i = 0; i < r.count; i++) {
        const smtpstatus_bounce_recipient *x = &r.recipients[i];
        check_string(x->final_recipient, "final_recipient");
        check_string(x->original_recipient, "original_recipient");
        check_string(x->action, "action");
        check_string(x->status, "status");
        check_string(x->remote_mta, "remote_mta");
        check_string(x->diagnostic_code, "diagnostic_code");
        check_string(x->last_attempt_date, "last_attempt_date");
        check_string(x->will_retry_until, "will_retry_until");
        check_string(x->rule, "rule");
        if (x->failed != (strcmp(x->action, "failed") == 0)) {
            fprintf(stderr, "fuzz_bounce: failed %d with action \"%s\"\n", x->failed, x->action);
            abort();
        }
    }
    bounce_result_free(&r);
    return 0;
}
