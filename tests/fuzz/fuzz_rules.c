/*
 * libFuzzer target for the reason rules (issue 12): arbitrary bytes are read as an
 * administrator's rules file by daemon/rules.c, and every file that parses goes the way the
 * daemon takes it: the embedded image's built-in rules are appended after it
 * (rules_append_image()), all patterns are compiled into one Vectorscan database
 * (rules_compile()), image_build() writes an image with them, smtpstatus_image_open() must accept
 * it, and client/src/reason.c classifies a few fixed replies, and the input itself, with it.
 * The same bytes are also parsed as a built-in rules file (no compile), for its own checks.
 *
 * Besides memory errors, the target aborts when rules_parse() or rules_compile() break their
 * contract (a failure without an error, a success with one, a failed parse that changed the rule
 * set), when an image built from compiled rules does not open, or when a classification breaks
 * an invariant of smtpstatus.h: the reason is one of the 18; the rule and its note are never
 * NULL, and a rule that decided is one of the set's; retry is 0 or 1; 2yz is success and 3yz
 * intermediate, never retried; recipient_invalid only for a permanent bad-mailbox failure that
 * is not retried. To bound the time of one input, compiling is skipped for a file of more than
 * FUZZ_MAX_RULES rules or with a pattern over FUZZ_MAX_PATTERN bytes (Vectorscan's compile time
 * grows with both). The registry under the images is a tiny one, loaded once.
 * tests/fuzz/README.md says how to run it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "image_build.h"
#include "registry.h"
#include "rules.h"
#include "smtpstatus.h"

#define FUZZ_MAX_RULES 64u
#define FUZZ_MAX_PATTERN 256u
#define FUZZ_MAX_SELF_REPLY 1024u /* bytes of the input classified as a reply */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_rules: %s\n", what);
    abort();
}

/* The registry under every image: the three tables of corpus/csv/minimal, in short. */
static const char classes_csv[] =
    "Code,Summary,Description,Reference,Submitter,Change Controller\n"
    "2.XXX.XXX,Success,Delivered.,[RFC3463],G. Vaudreuil,IESG\n"
    "4.XXX.XXX,Persistent Transient Failure,Retry later.,[RFC3463],G. Vaudreuil,IESG\n"
    "5.XXX.XXX,Permanent Failure,Do not retry.,[RFC3463],G. Vaudreuil,IESG\n";
static const char subjects_csv[] =
    "Code,Summary,Description,Reference,Submitter,Change Controller\n"
    "X.0.XXX,Other or Undefined Status,No subject applies.,[RFC3463],G. Vaudreuil,IESG\n"
    "X.1.XXX,Addressing Status,The address.,[RFC3463],G. Vaudreuil,IESG\n"
    "X.7.XXX,Security or Policy Status,Policy.,[RFC3463],G. Vaudreuil,IESG\n";
static const char codes_csv[] =
    "Code,Sample Text,Associated basic status code,Description,Reference,Submitter,"
    "Change Controller\n"
    "X.0.0,Other undefined Status,Any,Generic.,[RFC3463],G. Vaudreuil,IESG\n"
    "X.1.1,Bad destination mailbox address,\"451, 550\",No such user.,[RFC3463],G. Vaudreuil,"
    "IESG\n"
    "X.7.1,Delivery not authorized,\"450, 550\",Refused.,[RFC3463],G. Vaudreuil,IESG\n";

static struct registry *
tiny_registry(void)
{
    static struct registry *reg;
    if (reg != NULL)
        return reg;
    struct registry_input in[REGISTRY_TABLES] = {
        {.name = REGISTRY_FILE_CLASSES, .data = classes_csv, .len = sizeof classes_csv - 1},
        {.name = REGISTRY_FILE_SUBJECTS, .data = subjects_csv, .len = sizeof subjects_csv - 1},
        {.name = REGISTRY_FILE_CODES, .data = codes_csv, .len = sizeof codes_csv - 1},
    };
    struct diag d;
    diag_init(&d);
    if (registry_load_buffers(in, "fuzz", &reg, &d) != 0) {
        diag_print(&d, stderr);
        fail("the tiny registry does not load");
    }
    diag_free(&d);
    return reg;
}

/* Replies of every class and shape the rules look at. */
static const char *const replies[] = {
    "250 2.0.0 Ok: queued as 4XyZ12AbC\r\n",
    "354 End data with <CR><LF>.<CR><LF>\r\n",
    "550 5.1.1 <user@example.com>: Recipient address rejected: User unknown\r\n",
    "452-4.2.2 The email account that you tried to reach is over quota.\r\n"
    "452 4.2.2 Please direct the recipient to https://support.example.com/ 12si.3 - gsmtp\r\n",
    "550 5.7.1 Too many messages, try again later in 5 minutes\r\n",
    "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to user complaints\r\n",
    "host mx.example.net[192.0.2.7] said: 554 5.7.1 Service unavailable; Client host [IP] "
    "blocked using zen.example.org (in reply to RCPT TO command)",
    "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    "451 Greylisted, please try again in 300 seconds\r\n",
    "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n",
    "Connection timed out",
};

/* The invariants of one answer. `r` is the rule set the image was built from. */
static void
check(int rc, const smtpstatus_classification *c, const struct rules *r)
{
    if (rc != 0 && rc != SMTPSTATUS_ENOREPLY)
        fail("classify returned an error other than ENOREPLY");
    if (c->reason < SMTPSTATUS_REASON_SUCCESS || c->reason > SMTPSTATUS_REASON_MAX ||
        smtpstatus_reason_name(c->reason) == NULL)
        fail("reason out of range");
    if (c->rule == NULL || c->rule_note == NULL)
        fail("rule or rule_note is NULL");
    if (c->retry != 0 && c->retry != 1)
        fail("retry is neither 0 nor 1");
    if (c->recipient_invalid != 0 && c->recipient_invalid != 1)
        fail("recipient_invalid is neither 0 nor 1");
    if (c->recipient_invalid && (c->reason != SMTPSTATUS_REASON_BAD_MAILBOX || c->retry))
        fail("recipient_invalid without a permanent bad-mailbox failure");
    unsigned cls = c->basic != 0 ? c->basic / 100u : (c->has_enhanced ? c->enhanced.cls : 0u);
    if (cls == 2 && (c->reason != SMTPSTATUS_REASON_SUCCESS || c->retry || c->rule[0] != '\0'))
        fail("a 2yz reply is not a success, or is retried, or a rule decided it");
    if (cls == 3 && (c->reason != SMTPSTATUS_REASON_INTERMEDIATE || c->retry))
        fail("a 3yz reply is not intermediate, or is retried");
    if ((c->reason == SMTPSTATUS_REASON_SUCCESS || c->reason == SMTPSTATUS_REASON_INTERMEDIATE) &&
        cls != 2 && cls != 3)
        fail("a failure classified as success or intermediate");
    if (c->retry_after > 30u * 86400u)
        fail("retry_after over 30 days");
    if (c->has_status && (c->status.cls != 2 && c->status.cls != 4 && c->status.cls != 5))
        fail("a rule's status has a bad class");
    if (c->rule[0] == '\0') {
        if (c->rule_note[0] != '\0' || c->has_status)
            fail("a note or status without a rule");
        return;
    }
    /* An administrator's rule may share a built-in rule's name: any of that name will do. */
    int named = 0;
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->items[i].name, c->rule) == 0) {
            named = 1;
            if (r->items[i].reason == c->reason)
                return;
        }
    fail(named ? "the reason is not the deciding rule's" : "the deciding rule is none of the set's");
}

static void
classify_all(const smtpstatus_image *img, const struct rules *r, const char *input, size_t len)
{
    static char text[SMTPSTATUS_CLASSIFY_MAX + 1];
    smtpstatus_classification c;
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        int rc = smtpstatus_classify(img, replies[i], strlen(replies[i]), &c, text, sizeof text);
        check(rc, &c, r);
    }
    /* The patterns came from the input: the input is where they are likeliest to match. */
    size_t n = len < FUZZ_MAX_SELF_REPLY ? len : FUZZ_MAX_SELF_REPLY;
    check(smtpstatus_classify(img, input, n, &c, text, sizeof text), &c, r);
    char with_code[FUZZ_MAX_SELF_REPLY + 16];
    memcpy(with_code, "550 5.1.1 ", 10);
    memcpy(with_code + 10, input, n);
    check(smtpstatus_classify(img, with_code, n + 10, &c, text, sizeof text), &c, r);
}

/* Whether compiling r stays cheap enough for one fuzz input. */
static int
small_enough(const struct rules *r)
{
    if (r->count > FUZZ_MAX_RULES)
        return 0;
    for (size_t i = 0; i < r->count; i++)
        if (strlen(r->items[i].pattern) > FUZZ_MAX_PATTERN)
            return 0;
    return 1;
}

static void
check_parse(int rc, const struct diag *d, const struct rules *r, size_t before)
{
    if (rc != 0 && rc != -1)
        fail("rules_parse() returned neither 0 nor -1");
    if (rc != 0 && (d->errors == 0 || r->count != before))
        fail("rules_parse() failed without an error, or changed the rule set");
    if (rc == 0 && d->errors != 0)
        fail("rules_parse() succeeded with errors");
    for (size_t i = 0; i < d->count; i++) {
        char line[256];
        int n = diag_format(&d->items[i], line, sizeof line);
        if (n < 0 || strlen(line) != ((size_t)n < sizeof line ? (size_t)n : sizeof line - 1))
            fail("diag_format() returned a length that does not match its output");
    }
    for (size_t i = 0; i < r->count; i++) {
        const struct rule *x = &r->items[i];
        if (x->name == NULL || x->pattern == NULL || x->note == NULL || x->source == NULL ||
            x->reason < SMTPSTATUS_REASON_SUCCESS || x->reason > SMTPSTATUS_REASON_MAX)
            fail("a parsed rule is incomplete or has a bad reason");
        if ((i < r->admin_count) != (x->admin != 0))
            fail("admin_count does not match the admin rules");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct registry *reg = tiny_registry();
    /* An exact-size copy, so that AddressSanitizer sees a read past the end. */
    char *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);

    /* As a built-in rules file: parse only. */
    struct diag d;
    diag_init(&d);
    struct rules builtin = {0};
    check_parse(rules_parse(&builtin, buf, size, "fuzz-builtin.csv", 0, &d), &d, &builtin, 0);
    rules_free(&builtin);
    diag_free(&d);

    /* As the administrator's file, then the daemon's way to an image. */
    diag_init(&d);
    struct rules r = {0};
    int rc = rules_parse(&r, buf, size, "fuzz.csv", 1, &d);
    check_parse(rc, &d, &r, 0);
    if (rc == 0 && small_enough(&r)) {
        size_t admin = r.count;
        if (rules_append_image(&r, smtpstatus_image_embedded()) != 0)
            fail("rules_append_image() failed");
        if (r.admin_count != admin)
            fail("rules_append_image() changed admin_count");
        size_t errors = d.errors;
        int crc = rules_compile(&r, 0, &d);
        if (crc != 0 && crc != -1)
            fail("rules_compile() returned neither 0 nor -1");
        if ((crc != 0) != (d.errors > errors))
            fail("rules_compile() failed without an error, or succeeded with one");
        if (crc == 0) {
            struct image_build_options opt = {.generation = 1, .built_at = 0, .rules = &r};
            void *img_buf = NULL;
            size_t img_len = 0;
            int brc = image_build(reg, &opt, &img_buf, &img_len);
            if (brc != 0 && brc != SMTPSTATUS_ENOMEM) {
                fprintf(stderr, "fuzz_rules: image_build: %s\n", smtpstatus_err_name(brc));
                fail("image_build() refused compiled rules");
            }
            if (brc == 0) {
                smtpstatus_image *img = NULL;
                int orc = smtpstatus_image_open(img_buf, img_len, &img);
                if (orc != 0) {
                    fprintf(stderr, "fuzz_rules: smtpstatus_image_open: %s\n",
                            smtpstatus_err_name(orc));
                    fail("an image built from compiled rules does not open");
                }
                classify_all(img, &r, buf, size);
                smtpstatus_image_close(img);
                free(img_buf);
            }
        }
    }
    rules_free(&r);
    diag_free(&d);
    free(buf);
    return 0;
}
