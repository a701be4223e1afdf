/*
 * Unit tests of the reason engine's reader (client/src/reason.c) through smtpstatus_classify():
 * images are built here from the project's registry and rules each test writes, so that every
 * decision is checked against rules whose order and contents the test knows. Covered: table
 * order, the administrator's rules first, code-only and pattern rules in one order, basic and
 * enhanced wildcards, 2yz and 3yz, retry and its overrides, recipient_invalid, the rule's
 * strings and status, retry_after, what text the patterns see, the fallback on the embedded
 * rules, the validation of rule records, the database scanned in place or copied and a damaged
 * one, many threads at once, and the reason names.
 */
#include "testutil.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_build.h"
#include "prefilter.h"
#include "registry.h"
#include "rules.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"


static struct registry *reg;

/* An image built by the test: its bytes and the open handle. */
struct built {
    unsigned char *buf;
    size_t len;
    smtpstatus_image *img;
};

static int
setup(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    if (registry_load_dir(testutil_project_data(), &reg, &d) != 0 || d.errors != 0) {
        diag_print(&d, stdout);
        return -1;
    }
    diag_free(&d);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    registry_free(reg);
    return 0;
}

/* Builds the bytes of an image with the administrator's rules `admin` (file "admin.csv") and
 * the built-in rules `builtin` (file "builtin.csv"), either may be NULL; with no rules at all
 * when both are NULL. */
static void
build_bytes(const char *admin, const char *builtin, struct built *b)
{
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    if ((admin != NULL && rules_parse(&r, admin, strlen(admin), "admin.csv", 1, &d) != 0) ||
        (builtin != NULL &&
         rules_parse(&r, builtin, strlen(builtin), "builtin.csv", 0, &d) != 0) ||
        rules_compile(&r, 0, &d) != 0) {
        diag_print(&d, stdout);
        fail_msg("the test's rules do not load");
    }
    struct image_build_options opt = {.generation = 7, .built_at = 1700000000u,
                                      .rules = admin != NULL || builtin != NULL ? &r : NULL};
    void *out = NULL;
    assert_int_equal(image_build(reg, &opt, &out, &b->len), 0);
    b->buf = out;
    b->img = NULL;
    rules_free(&r);
    diag_free(&d);
}

static void
build(const char *admin, const char *builtin, struct built *b)
{
    build_bytes(admin, builtin, b);
    assert_int_equal(smtpstatus_image_open(b->buf, b->len, &b->img), 0);
}

static void
unbuild(struct built *b)
{
    smtpstatus_image_close(b->img);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* Classifies a NUL-terminated reply with img. */
static smtpstatus_classification
classify(const smtpstatus_image *img, const char *reply)
{
    smtpstatus_classification out;
    size_t n = strlen(reply);
    char *copy = malloc(n > 0 ? n : 1); /* exactly n bytes: ASan sees a read past the end */
    assert_non_null(copy);
    memcpy(copy, reply, n);
    int rc = smtpstatus_classify(img, copy, n, &out, NULL, 0);
    free(copy);
    assert_true(rc == 0 || rc == SMTPSTATUS_ENOREPLY);
    return out;
}

/* The reason and rule of reply with img, checked. */
#define assert_decides(img, reply, want_reason, want_rule)                                         \
    do {                                                                                           \
        smtpstatus_classification o_ = classify((img), (reply));                                   \
        if (o_.reason != (want_reason) || strcmp(o_.rule, (want_rule)) != 0)                       \
            fail_msg("\"%s\": got %s by \"%s\", want %s by \"%s\"", (reply),                      \
                     smtpstatus_reason_name(o_.reason), o_.rule,                                   \
                     smtpstatus_reason_name(want_reason), (want_rule));                            \
    } while (0)

#define BUILTIN_HEADER "Name,Reason,Basic,Enhanced,Pattern,Retry,Status,Note,Source\n"

/* ---- order ---------------------------------------------------------------------------------- */

static void
test_first_match_wins(void **state)
{
    (void)state;
    struct built b;
    /* r1's pattern occurs later in the text than r2's: table order decides, not text order. */
    build(NULL,
          BUILTIN_HEADER "r1,policy,,,zzz,,,,s\n"
                         "r2,auth,,,aaa,,,,s\n"
                         "r3,routing,,,aaa,,,,s\n",
          &b);
    assert_decides(b.img, "550 aaa then zzz", SMTPSTATUS_REASON_POLICY, "r1");
    assert_decides(b.img, "550 aaa", SMTPSTATUS_REASON_AUTH, "r2");
    assert_decides(b.img, "550 nothing", SMTPSTATUS_REASON_OTHER, "");
    /* Patterns are case-insensitive. */
    assert_decides(b.img, "550 AaA", SMTPSTATUS_REASON_AUTH, "r2");
    unbuild(&b);

    build(NULL,
          BUILTIN_HEADER "r3,routing,,,aaa,,,,s\n"
                         "r2,auth,,,aaa,,,,s\n",
          &b);
    assert_decides(b.img, "550 aaa", SMTPSTATUS_REASON_ROUTING, "r3");
    unbuild(&b);
}

static void
test_admin_beats_builtin(void **state)
{
    (void)state;
    struct built b;
    build("Reason,Pattern,Name\n"
          "policy,blocked,\n"
          "content,,named\n",
          BUILTIN_HEADER "b1,auth,,,blocked,,,,s\n"
                         "b2,routing,,X.1.1,,,,,s\n",
          &b);
    assert_decides(b.img, "550 5.7.1 blocked", SMTPSTATUS_REASON_POLICY, "admin.csv:2");
    /* The admin's code-only rule with no codes matches every failure before any built-in. */
    assert_decides(b.img, "550 5.1.1 no such user", SMTPSTATUS_REASON_CONTENT, "named");
    unbuild(&b);
}

static void
test_code_only_and_pattern_order(void **state)
{
    (void)state;
    struct built b;
    /* An earlier code-only rule beats a later pattern rule... */
    build(NULL,
          BUILTIN_HEADER "c1,bad-mailbox,,X.1.1,,,,,s\n"
                         "p1,policy,,,unknown,,,,s\n",
          &b);
    smtpstatus_classification o = classify(b.img, "550 5.1.1 user unknown");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_string_equal(o.rule, "c1");
    assert_false(o.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE);
    /* ...and where the code-only rule does not apply, the pattern rule decides. */
    assert_decides(b.img, "550 5.1.2 domain unknown", SMTPSTATUS_REASON_POLICY, "p1");
    unbuild(&b);

    /* ...and an earlier pattern rule beats a later code-only rule, which it overrides. */
    build(NULL,
          BUILTIN_HEADER "p1,policy,,,unknown,,,,s\n"
                         "c1,bad-mailbox,,X.1.1,,,,,s\n",
          &b);
    o = classify(b.img, "550 5.1.1 user unknown");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_POLICY);
    assert_string_equal(o.rule, "p1");
    assert_true(o.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE);
    assert_decides(b.img, "550 5.1.1 gone", SMTPSTATUS_REASON_BAD_MAILBOX, "c1");
    unbuild(&b);
}

static void
test_overrides_code(void **state)
{
    (void)state;
    struct built b;
    /* REASON_OVERRIDES_CODE compares the pattern rule's reason with the first code-only rule
     * for the enhanced code, wherever that rule stands. */
    build(NULL,
          BUILTIN_HEADER "ms,bad-mailbox,,5.1.10,RecipientNotFound,,,,s\n"
                         "same,routing,,X.1.10,null mx,,,,s\n"
                         "c-10,routing,,X.1.10,,,,,s\n"
                         "c-any,policy,,,,,,,s\n",
          &b);
    smtpstatus_classification o =
        classify(b.img, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_string_equal(o.rule, "ms");
    assert_true(o.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE);

    o = classify(b.img, "550 5.1.10 null MX");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_ROUTING);
    assert_false(o.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE);

    /* A code-only winner never overrides; nor does a pattern rule without an enhanced code. */
    o = classify(b.img, "550 5.1.10 nothing known");
    assert_string_equal(o.rule, "c-10");
    assert_false(o.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE);
    o = classify(b.img, "550 RecipientNotFound");
    assert_string_equal(o.rule, "c-any");
    assert_false(o.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE);
    unbuild(&b);
}

/* ---- codes ---------------------------------------------------------------------------------- */

static void
test_basic_codes(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "exact,auth,554,,,,,,s\n"
                         "class,policy,5XX,,,,,,s\n"
                         "four,routing,4XX,,,,,,s\n",
          &b);
    assert_decides(b.img, "554 no", SMTPSTATUS_REASON_AUTH, "exact");
    assert_decides(b.img, "550 no", SMTPSTATUS_REASON_POLICY, "class");
    assert_decides(b.img, "571 no", SMTPSTATUS_REASON_POLICY, "class");
    assert_decides(b.img, "421 no", SMTPSTATUS_REASON_ROUTING, "four");
    unbuild(&b);
}

static void
test_enhanced_codes(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "x71,auth,,X.7.1,,,,,s\n"
                         "57x,policy,,5.7.X,,,,,s\n"
                         "x7x,routing,,X.7.X,,,,,s\n"
                         "exact,content,,5.6.1,,,,,s\n"
                         "big,message-too-big,,X.3.4,,,,,s\n",
          &b);
    assert_decides(b.img, "550 5.7.1 no", SMTPSTATUS_REASON_AUTH, "x71");
    assert_decides(b.img, "450 4.7.1 no", SMTPSTATUS_REASON_AUTH, "x71");
    assert_decides(b.img, "550 5.7.26 no", SMTPSTATUS_REASON_POLICY, "57x");
    assert_decides(b.img, "550 5.7.0 no", SMTPSTATUS_REASON_POLICY, "57x");
    assert_decides(b.img, "450 4.7.0 no", SMTPSTATUS_REASON_ROUTING, "x7x");
    assert_decides(b.img, "550 5.6.1 no", SMTPSTATUS_REASON_CONTENT, "exact");
    assert_decides(b.img, "450 4.6.1 no", SMTPSTATUS_REASON_OTHER, "");
    assert_decides(b.img, "550 5.6.10 no", SMTPSTATUS_REASON_OTHER, "");
    assert_decides(b.img, "552 5.3.4 too big", SMTPSTATUS_REASON_MESSAGE_TOO_BIG, "big");
    /* A rule that names an enhanced code never matches a reply without one. */
    assert_decides(b.img, "550 no code", SMTPSTATUS_REASON_OTHER, "");
    /* Subjects over 7 share a list: they are still told apart. */
    unbuild(&b);

    build(NULL,
          BUILTIN_HEADER "s12,policy,,X.12.1,,,,,s\n"
                         "s9,auth,,X.9.X,,,,,s\n",
          &b);
    assert_decides(b.img, "550 5.12.1 no", SMTPSTATUS_REASON_POLICY, "s12");
    assert_decides(b.img, "550 5.9.1 no", SMTPSTATUS_REASON_AUTH, "s9");
    assert_decides(b.img, "550 5.12.2 no", SMTPSTATUS_REASON_OTHER, "");
    unbuild(&b);
}

static void
test_success_intermediate(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "any,policy,,,,,,,s\n"
                         "okish,auth,,,ok,,,,s\n",
          &b);
    smtpstatus_classification o = classify(b.img, "250 2.0.0 ok queued");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_SUCCESS);
    assert_string_equal(o.rule, "");
    assert_false(o.retry);
    assert_false(o.has_status);
    o = classify(b.img, "354 ok, go ahead");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_INTERMEDIATE);
    assert_string_equal(o.rule, "");
    o = classify(b.img, "334 VXNlcm5hbWU6");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_INTERMEDIATE);
    /* An enhanced code alone of class 2 is a success too. */
    o = classify(b.img, "2.1.5 ok");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_SUCCESS);
    unbuild(&b);
}

static void
test_success_rules_never_decide_failures(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "s,success,,,queued,,,,s\n"
                         "i,intermediate,,,queued,,,,s\n"
                         "s2,success,5XX,,,,,,s\n"
                         "p,policy,,,queued,,,,s\n",
          &b);
    assert_decides(b.img, "550 queued", SMTPSTATUS_REASON_POLICY, "p");
    assert_decides(b.img, "450 4.7.1 queued", SMTPSTATUS_REASON_POLICY, "p");
    assert_decides(b.img, "550 other", SMTPSTATUS_REASON_OTHER, "");
    unbuild(&b);
}

/* ---- retry ---------------------------------------------------------------------------------- */

static void
test_retry(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "rl,rate-limit,,,too fast,,,,s\n"
                         "gl,greylisting,,,greylisted,,,,s\n"
                         "no4,policy,4XX,,never again,no,,,s\n"
                         "yes5,policy,5XX,,come back,yes,,,s\n"
                         "pol,policy,,,blocked,,,,s\n",
          &b);
    const unsigned over = SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS;

    /* 4yz: retried by default, with or without a rule. */
    smtpstatus_classification o = classify(b.img, "450 4.7.1 blocked");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_POLICY);
    assert_true(o.retry);
    assert_false(o.problems & over);
    o = classify(b.img, "451 nothing matches");
    assert_true(o.retry);
    assert_false(o.problems & over);

    /* 5yz: not retried, unless the reason is rate-limit or greylisting. */
    o = classify(b.img, "550 5.7.1 blocked");
    assert_false(o.retry);
    assert_false(o.problems & over);
    o = classify(b.img, "550 5.7.1 too fast");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_RATE_LIMIT);
    assert_true(o.retry);
    assert_true(o.problems & over);
    o = classify(b.img, "554 greylisted, see you");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_GREYLISTING);
    assert_true(o.retry);
    assert_true(o.problems & over);
    /* A 4yz rate limit is retried as its class says: nothing overridden. */
    o = classify(b.img, "421 4.7.0 too fast");
    assert_true(o.retry);
    assert_false(o.problems & over);

    /* The Retry column wins over the class and the reason. */
    o = classify(b.img, "451 4.7.1 never again");
    assert_string_equal(o.rule, "no4");
    assert_false(o.retry);
    assert_true(o.problems & over);
    o = classify(b.img, "550 5.7.1 come back");
    assert_string_equal(o.rule, "yes5");
    assert_true(o.retry);
    assert_true(o.problems & over);
    unbuild(&b);
}

static void
test_recipient_invalid(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "keep,bad-mailbox,,,try me later,yes,,,s\n"
                         "gone,bad-mailbox,,,no such user,,,,s\n"
                         "off,mailbox-disabled,,,disabled,,,,s\n"
                         "full,mailbox-full,,,full,,,,s\n",
          &b);
    smtpstatus_classification o = classify(b.img, "550 5.1.1 no such user");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_true(o.recipient_invalid);
    assert_false(o.retry);
    /* Transient, or retried by its rule: the address is not proven gone. */
    o = classify(b.img, "450 4.1.1 no such user");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_false(o.recipient_invalid);
    o = classify(b.img, "550 5.1.1 no such user, try me later");
    assert_string_equal(o.rule, "keep");
    assert_false(o.recipient_invalid);
    /* Other reasons never prove it. */
    o = classify(b.img, "550 5.2.1 disabled");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_MAILBOX_DISABLED);
    assert_false(o.recipient_invalid);
    o = classify(b.img, "552 5.2.2 full");
    assert_false(o.recipient_invalid);
    o = classify(b.img, "550 5.1.1 whatever");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_OTHER);
    assert_false(o.recipient_invalid);
    unbuild(&b);
}

/* ---- the rule's strings and status ---------------------------------------------------------- */

static void
test_rule_strings_status(void **state)
{
    (void)state;
    struct built b;
    build("Reason,Pattern,Note,Status\n"
          "rate-limit,slow down,\"Wait, then retry.\",4.7.1\n",
          BUILTIN_HEADER "named,policy,,,listed,,5.7.1,Ask for delisting.,doc\n"
                         "plain,auth,,,spf,,,,doc\n",
          &b);
    smtpstatus_classification o = classify(b.img, "550 slow down");
    assert_string_equal(o.rule, "admin.csv:2");
    assert_string_equal(o.rule_note, "Wait, then retry.");
    assert_true(o.has_status);
    assert_int_equal(o.status.cls, 4);
    assert_int_equal(o.status.subject, 7);
    assert_int_equal(o.status.detail, 1);

    o = classify(b.img, "554 listed at a DNSBL");
    assert_string_equal(o.rule, "named");
    assert_string_equal(o.rule_note, "Ask for delisting.");
    assert_true(o.has_status);
    assert_int_equal(o.status.cls, 5);

    o = classify(b.img, "550 spf fail");
    assert_string_equal(o.rule, "plain");
    assert_string_equal(o.rule_note, "");
    assert_false(o.has_status);
    assert_int_equal(o.status.cls, 0);

    o = classify(b.img, "550 unknown");
    assert_string_equal(o.rule, "");
    assert_string_equal(o.rule_note, "");
    assert_false(o.has_status);
    unbuild(&b);
}

/* ---- retry_after ---------------------------------------------------------------------------- */

static void
test_retry_after(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        uint32_t want;
    } cases[] = {
        {"450 4.7.1 Too many messages, try again in 5 minutes", 300},
        {"421 4.7.0 Please retry after 300 seconds", 300},
        {"451 Temporarily deferred, try later; in 1 hour the limit resets", 3600},
        {"451 4.7.1 please wait 2 min", 120},
        {"421 Try again in 2 hours", 7200},
        {"421 try again in 1 day", 86400},
        {"421 4.7.28 Come back in 30 secs", 30},
        {"450 4.2.0 Greylisted, TRY AGAIN IN 10 MINUTES", 600},
        /* No retry word: a limit, not a wait. */
        {"550 5.7.1 Too many messages in 1 hour", 0},
        {"421 Rate limited: 100 messages in 1 hour", 0},
        /* Capped at 30 days. */
        {"421 try again in 90 days", 30u * 86400u},
        {"421 try again in 99999999 days", 30u * 86400u},
        /* Not a number of units. */
        {"421 try again in a few minutes", 0},
        {"421 try again in 0 minutes", 0},
        {"421 try again in 5 messages", 0},
        {"421 try again within 5 minutes", 0},
        /* A retry word on another line does not count. */
        {"421-try again later\r\n421 limit: 100 in 1 hour\r\n", 0},
        /* 2yz: never. */
        {"250 2.0.0 OK, try again in 5 minutes for more", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smtpstatus_classification o = classify(NULL, cases[i].reply);
        if (o.retry_after != cases[i].want)
            fail_msg("\"%s\": retry_after %u, want %u", cases[i].reply, o.retry_after,
                     cases[i].want);
    }
}

/* ---- what the patterns see ------------------------------------------------------------------ */

static void
test_patterns_see_reply_not_wrapper(void **state)
{
    (void)state;
    struct built b;
    build(NULL,
          BUILTIN_HEADER "sh,policy,,,spamhaus,,,,s\n"
                         "rcpt,bad-mailbox,,,in reply to rcpt to,,,,s\n",
          &b);
    /* The host name in Postfix's words is not the server's reply. */
    smtpstatus_classification o =
        classify(b.img, "host spamhaus.example[192.0.2.1] said: 550 5.1.1 User unknown");
    assert_int_equal(o.basic, 550);
    assert_string_not_equal(o.rule, "sh");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_OTHER);
    /* What follows the reply is seen. */
    assert_decides(b.img,
                   "host mx.example.com[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT "
                   "TO command)",
                   SMTPSTATUS_REASON_BAD_MAILBOX, "rcpt");
    /* And the reply itself. */
    assert_decides(b.img,
                   "host mx.example.com[192.0.2.1] said: 554 5.7.1 Listed by Spamhaus",
                   SMTPSTATUS_REASON_POLICY, "sh");
    /* Exchange's wrapper too. */
    o = classify(b.img, "spamhaus.example Remote Server returned '550 5.1.10 not found'");
    assert_int_equal(o.basic, 550);
    assert_string_equal(o.rule, "");
    unbuild(&b);
}

/* ---- the embedded rules --------------------------------------------------------------------- */

static void
test_no_rules_falls_back_on_embedded(void **state)
{
    (void)state;
    const smtpstatus_image *emb = smtpstatus_image_embedded();
    assert_non_null(emb);

    struct built b;
    build(NULL, NULL, &b);
    static const char *const replies[] = {
        "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown",
        "550 5.7.1 Service unavailable; try again later",
        "421 4.7.0 Try again later",
        "552 5.2.2 Mailbox full",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found",
        "554 nothing in particular",
    };
    int decided = 0;
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        smtpstatus_classification a = classify(b.img, replies[i]);
        smtpstatus_classification e = classify(NULL, replies[i]);
        assert_int_equal(a.reason, e.reason);
        assert_string_equal(a.rule, e.rule);
        assert_int_equal(a.retry, e.retry);
        assert_int_equal(a.recipient_invalid, e.recipient_invalid);
        decided += a.rule[0] != '\0';
    }
    /* The embedded image has rules, and they decided at least one of these. */
    assert_true(decided > 0);
    unbuild(&b);
}

/* ---- corrupt rule records ------------------------------------------------------------------- */

static struct smtpstatus_image_header *
hdr_of(unsigned char *buf)
{
    return (struct smtpstatus_image_header *)(void *)buf;
}

static struct smtpstatus_image_rule *
rule_at(unsigned char *buf, uint32_t i)
{
    return (struct smtpstatus_image_rule *)(void *)(buf + hdr_of(buf)->rules_off) + i;
}

#define reseal testutil_image_reseal

/* One damage done to a copy of a good image. */
typedef void damage_fn(unsigned char *buf);

static void dmg_reason_0(unsigned char *b) { rule_at(b, 1)->reason = 0; }
static void dmg_reason_19(unsigned char *b) { rule_at(b, 1)->reason = SMTPSTATUS_REASON_MAX + 1; }
static void dmg_flags(unsigned char *b) { rule_at(b, 1)->flags |= 0x10; }
static void dmg_retry(unsigned char *b) { rule_at(b, 1)->retry = 3; }
static void dmg_reserved(unsigned char *b) { rule_at(b, 1)->reserved16 = 1; }
static void dmg_basic(unsigned char *b) { rule_at(b, 1)->basic = 600; }
static void dmg_basic_class(unsigned char *b) { rule_at(b, 1)->basic_class = 6; }
static void dmg_basic_both(unsigned char *b)
{
    rule_at(b, 1)->basic = 550;
    rule_at(b, 1)->basic_class = 5;
}
static void dmg_enh_class(unsigned char *b) { rule_at(b, 1)->enhanced_class = 3; }
static void dmg_enh_subject(unsigned char *b) { rule_at(b, 1)->subject = 1000; }
static void dmg_enh_without_flag(unsigned char *b) { rule_at(b, 2)->subject = 1; }
static void dmg_status(unsigned char *b) { rule_at(b, 1)->status_class = 3; }
static void dmg_status_without_flag(unsigned char *b) { rule_at(b, 2)->status_class = 5; }
static void dmg_admin_flag_off(unsigned char *b) { rule_at(b, 0)->flags &= ~SMTPSTATUS_IMAGE_RULE_ADMIN; }
static void dmg_admin_flag_on(unsigned char *b) { rule_at(b, 1)->flags |= SMTPSTATUS_IMAGE_RULE_ADMIN; }
static void dmg_admin_count(unsigned char *b) { hdr_of(b)->admin_rule_count = 2; }
static void dmg_admin_count_over(unsigned char *b)
{
    hdr_of(b)->admin_rule_count = hdr_of(b)->rule_count + 1;
}
static void dmg_pattern_no_db(unsigned char *b)
{
    hdr_of(b)->rules_db_size = 0;
    hdr_of(b)->rules_db_off = 0;
}
static void dmg_pattern_empty(unsigned char *b) { rule_at(b, 0)->pattern.len = 0; }
static void dmg_db_off_only(unsigned char *b) { hdr_of(b)->rules_db_size = 0; }
static void dmg_name_oob(unsigned char *b) { rule_at(b, 1)->name.off = 0x7fffffffu; }
static void dmg_rules_off_oob(unsigned char *b) { hdr_of(b)->rules_off = hdr_of(b)->image_size; }
static void dmg_rules_off_align(unsigned char *b) { hdr_of(b)->rules_off += 4; }
static void dmg_rule_count(unsigned char *b) { hdr_of(b)->rule_count = 0x10000000u; }
static void dmg_db_oob(unsigned char *b) { hdr_of(b)->rules_db_size = hdr_of(b)->image_size; }
/* 64 bytes earlier: over the end of the rules table, which the padding before the database is
 * shorter than. */
static void dmg_db_over_rules(unsigned char *b) { hdr_of(b)->rules_db_off -= 64; }
static void dmg_db_align(unsigned char *b)
{
    /* Still inside the image: only its alignment is wrong. */
    hdr_of(b)->rules_db_off += 8;
    hdr_of(b)->rules_db_size -= 8;
}

static void
test_corrupt_rules_refused(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        damage_fn *fn;
    } damages[] = {
        {"reason 0", dmg_reason_0},
        {"reason 19", dmg_reason_19},
        {"unknown flag", dmg_flags},
        {"retry 3", dmg_retry},
        {"reserved16", dmg_reserved},
        {"basic 600", dmg_basic},
        {"basic class 6", dmg_basic_class},
        {"basic and basic class", dmg_basic_both},
        {"enhanced class 3", dmg_enh_class},
        {"enhanced subject 1000", dmg_enh_subject},
        {"enhanced fields without the flag", dmg_enh_without_flag},
        {"status class 3", dmg_status},
        {"status without the flag", dmg_status_without_flag},
        {"admin rule without the flag", dmg_admin_flag_off},
        {"built-in rule with the flag", dmg_admin_flag_on},
        {"admin_rule_count 2", dmg_admin_count},
        {"admin_rule_count over rule_count", dmg_admin_count_over},
        {"HAS_PATTERN without a database", dmg_pattern_no_db},
        {"HAS_PATTERN with an empty pattern", dmg_pattern_empty},
        {"database offset without a size", dmg_db_off_only},
        {"name out of bounds", dmg_name_oob},
        {"rules_off out of bounds", dmg_rules_off_oob},
        {"rules_off misaligned", dmg_rules_off_align},
        {"rule_count too large", dmg_rule_count},
        {"database out of bounds", dmg_db_oob},
        {"database not on a 64-byte boundary", dmg_db_align},
        {"database over the rules table", dmg_db_over_rules},
    };
    struct built good;
    /* Rule 0 is the administrator's, with a pattern; rule 1 a built-in with codes and a
     * status; rule 2 a built-in with no codes. */
    build_bytes("Reason,Pattern\npolicy,blocked\n",
                BUILTIN_HEADER "b1,auth,550,X.7.X,,,4.7.1,,s\n"
                               "b2,routing,,,,,,,s\n",
                &good);
    smtpstatus_image *img = NULL;
    assert_int_equal(smtpstatus_image_open(good.buf, good.len, &img), 0);
    smtpstatus_image_close(img);

    unsigned char *copy = malloc(good.len);
    assert_non_null(copy);
    for (size_t i = 0; i < sizeof damages / sizeof damages[0]; i++) {
        memcpy(copy, good.buf, good.len);
        damages[i].fn(copy);
        reseal(copy, good.len);
        img = (smtpstatus_image *)(uintptr_t)1;
        int rc = smtpstatus_image_open(copy, good.len, &img);
        if (rc != SMTPSTATUS_EIMG_CORRUPT && rc != SMTPSTATUS_EIMG_BOUNDS)
            fail_msg("%s: open returned %d (%s)", damages[i].what, rc, smtpstatus_strerror(rc));
        assert_null(img);
    }
    free(copy);
    free(good.buf);
}

/* ---- the database in place ------------------------------------------------------------------ */

/* The rules of the two tests below: a pattern rule ahead of a code-only rule that also matches
 * their reply, so that the reason says whether the pattern was found. */
#define IN_PLACE_RULES BUILTIN_HEADER "p,policy,,,blocked,,,,s\n" \
                                      "c,auth,550,,,,,,s\n"
#define IN_PLACE_REPLY "550 5.7.1 blocked here"

/* A copy of `good` at an address `skew` bytes past a 64-byte boundary, to be freed with free()
 * on the returned base; *at is where the image starts. */
static unsigned char *
copy_at(const struct built *good, size_t skew, unsigned char **at)
{
    unsigned char *base = aligned_alloc(64, (good->len + skew + 63) / 64 * 64);
    assert_non_null(base);
    memcpy(base + skew, good->buf, good->len);
    *at = base + skew;
    return base;
}

/* How many read-only anonymous mappings of this process are `bytes` long, rounded up to pages:
 * the copy reason.c makes of a database it cannot use in place. */
static int
database_copies(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = (bytes + page - 1) / page * page;
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long from, to, inode;
        char perms[8];
        int end = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %n", &from, &to, perms, &inode, &end) >= 4 &&
            to - from == want && strcmp(perms, "r--p") == 0 && inode == 0 &&
            (line[end] == '\n' || line[end] == '\0'))
            n++;
    }
    fclose(f);
    return n;
}

static void
test_database_in_place_and_copied(void **state)
{
    (void)state;
    struct built good;
    build_bytes(NULL, IN_PLACE_RULES, &good);
    assert_int_equal(hdr_of(good.buf)->rules_db_off % SMTPSTATUS_IMAGE_DB_ALIGN, 0);
    assert_true(hdr_of(good.buf)->rules_db_size > 0);
    /* At a 64-byte boundary the database is scanned where it is; 8 bytes past one (all that
     * smtpstatus_image_open() asks for), a copy at a boundary is. Both find the pattern. */
    static const size_t skews[] = {0, 8, 16, 32, 56};
    for (size_t i = 0; i < sizeof skews / sizeof skews[0]; i++) {
        unsigned char *at;
        unsigned char *base = copy_at(&good, skews[i], &at);
        smtpstatus_image *img = NULL;
        assert_int_equal(smtpstatus_image_open(at, good.len, &img), 0);
        int copies = database_copies(hdr_of(good.buf)->rules_db_size);
        assert_decides(img, IN_PLACE_REPLY, SMTPSTATUS_REASON_POLICY, "p");
        assert_decides(img, "550 5.7.1 other", SMTPSTATUS_REASON_AUTH, "c");
        /* A copy only where the image is off a 64-byte boundary, and gone with the image. */
        assert_int_equal(database_copies(hdr_of(good.buf)->rules_db_size),
                         copies + (skews[i] != 0));
        smtpstatus_image_close(img);
        assert_int_equal(database_copies(hdr_of(good.buf)->rules_db_size), copies);
        free(base);
    }
    free(good.buf);
}

/* Damage done to the database at db[0..len) of an image, which the test then reseals. */
typedef void db_damage_fn(unsigned char *db, size_t len);

static void db_magic(unsigned char *db, size_t len) { (void)len; db[0] ^= 0x5a; }
static void db_quarter(unsigned char *db, size_t len) { db[len / 4] ^= 0x5a; }
static void db_half(unsigned char *db, size_t len) { db[len / 2] ^= 0x5a; }
/* The bytecode's offset (a u32 at byte 36 of Vectorscan 5.4's header), which Vectorscan reads
 * without a bound: far away, then a little off. */
static void
db_bytecode_far(unsigned char *db, size_t len)
{
    (void)len;
    uint32_t v = 0x40000000u;
    memcpy(db + 36, &v, sizeof v);
}
static void
db_bytecode_near(unsigned char *db, size_t len)
{
    (void)len;
    uint32_t v = 128u;
    memcpy(db + 36, &v, sizeof v);
}

static void
test_damaged_database_leaves_patterns_unmatched(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        db_damage_fn *fn;
    } damages[] = {
        /* Not the last bytes, which may be the slack Vectorscan leaves after the bytecode. */
        {"magic", db_magic},
        {"a quarter in", db_quarter},
        {"half way", db_half},
        {"bytecode offset far out", db_bytecode_far},
        {"bytecode offset off by 64", db_bytecode_near},
    };
    struct built good;
    build_bytes(NULL, IN_PLACE_RULES, &good);
    const struct smtpstatus_image_header *h = hdr_of(good.buf);
    for (size_t i = 0; i < sizeof damages / sizeof damages[0]; i++) {
        for (size_t skew = 0; skew <= 8; skew += 8) {
            unsigned char *at;
            unsigned char *base = copy_at(&good, skew, &at);
            damages[i].fn(at + h->rules_db_off, h->rules_db_size);
            /* Both checksums are made to hold: only the reader's look at Vectorscan's header
             * and Vectorscan's own checks can notice. */
            reseal(at, good.len);
            smtpstatus_image *img = NULL;
            assert_int_equal(smtpstatus_image_open(at, good.len, &img), 0);
            /* The code-only rule still decides; twice, as a second call must not trust a
             * scratch space whose sizing failed. */
            print_message("%s, %zu bytes past a 64-byte boundary\n", damages[i].what, skew);
            assert_decides(img, IN_PLACE_REPLY, SMTPSTATUS_REASON_AUTH, "c");
            assert_decides(img, IN_PLACE_REPLY, SMTPSTATUS_REASON_AUTH, "c");
            smtpstatus_image_close(img);
            free(base);
        }
    }
    free(good.buf);
}

/* ---- threads -------------------------------------------------------------------------------- */

#define THREADS    8
#define ROUNDS     200

static const char *const thread_replies[] = {
    "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown",
    "550 5.7.1 blocked by policy",
    "421 4.7.0 too fast, try again in 5 minutes",
    "450 4.2.0 greylisted",
    "250 2.0.0 ok",
    "554 5.7.1 listed at spamhaus",
    "552 5.2.2 mailbox full",
    "host spamhaus.example[192.0.2.1] said: 550 5.1.1 User unknown",
};
#define NREPLIES (sizeof thread_replies / sizeof thread_replies[0])

struct thread_arg {
    pthread_barrier_t *start;
    const smtpstatus_image *imgs[2];
    int nimgs;
    smtpstatus_classification want[2][NREPLIES];
    int mismatches;
};

static void *
thread_main(void *p)
{
    struct thread_arg *a = p;
    /* All threads start at once, so that they race to build each image's database. */
    pthread_barrier_wait(a->start);
    for (int round = 0; round < ROUNDS; round++)
        for (size_t i = 0; i < NREPLIES; i++) {
            int k = (int)((round + i) % (size_t)a->nimgs);
            smtpstatus_classification o;
            smtpstatus_classify(a->imgs[k], thread_replies[i], strlen(thread_replies[i]), &o,
                                NULL, 0);
            const smtpstatus_classification *w = &a->want[k][i];
            if (o.reason != w->reason || strcmp(o.rule, w->rule) != 0 || o.retry != w->retry ||
                o.retry_after != w->retry_after || o.problems != w->problems ||
                o.recipient_invalid != w->recipient_invalid)
                a->mismatches++;
        }
    return NULL;
}

/* Runs THREADS threads over fresh images (whose databases no thread has built yet) and
 * compares each answer with the one a single thread got from other copies of the images. */
static void
run_threads(int nimgs)
{
    static const char *const builtins[2] = {
        BUILTIN_HEADER "a1,bad-mailbox,,X.1.1,user unknown,,,,s\n"
                       "a2,rate-limit,,,too fast,,,,s\n"
                       "a3,greylisting,,,greylisted,,,,s\n"
                       "a4,policy,,,spamhaus|blocked,,,,s\n",
        BUILTIN_HEADER "b1,policy,,,user unknown|blocked,,,,s\n"
                       "b2,mailbox-full,,X.2.2,,,,,s\n"
                       "b3,server-error,4XX,,,,,,s\n",
    };
    struct built ref[2], fresh[2];
    struct thread_arg *args = calloc(THREADS, sizeof *args);
    assert_non_null(args);
    for (int k = 0; k < nimgs; k++) {
        build(NULL, builtins[k], &ref[k]);
        build(NULL, builtins[k], &fresh[k]);
    }
    for (int t = 0; t < THREADS; t++) {
        args[t].nimgs = nimgs;
        for (int k = 0; k < nimgs; k++) {
            args[t].imgs[k] = fresh[k].img;
            for (size_t i = 0; i < NREPLIES; i++) {
                args[t].want[k][i] = classify(ref[k].img, thread_replies[i]);
            }
        }
    }
    /* The two images must give different answers, or alternating proves nothing. */
    if (nimgs == 2)
        assert_string_not_equal(args[0].want[0][0].rule, args[0].want[1][0].rule);

    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t].start = &start;
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(args[t].mismatches, 0);
    for (int k = 0; k < nimgs; k++) {
        unbuild(&ref[k]);
        unbuild(&fresh[k]);
    }
    free(args);
}

static void
test_threads_one_image(void **state)
{
    (void)state;
    run_threads(1);
}

static void
test_threads_two_images(void **state)
{
    (void)state;
    run_threads(2);
}

/* ---- names ---------------------------------------------------------------------------------- */

/* ---- the prefilter -------------------------------------------------------------------------- */

/* A 64-byte aligned copy of the embedded image, opened; without its prefilter when `bare`. */
static smtpstatus_image *
open_embedded_copy(int bare, unsigned char **bytes)
{
    size_t len = 0;
    const void *em = smtpstatus_embedded_image_data(&len);
    *bytes = aligned_alloc(SMTPSTATUS_IMAGE_DB_ALIGN, (len + 63) / 64 * 64);
    assert_non_null(*bytes);
    memcpy(*bytes, em, len);
    if (bare) {
        ((struct smtpstatus_image_header *)(void *)*bytes)->rules_prefilter_off = 0;
        reseal(*bytes, len);
    }
    smtpstatus_image *img = NULL;
    assert_int_equal(smtpstatus_image_open(*bytes, len, &img), 0);
    return img;
}

struct prefilter_tally {
    unsigned texts, cleared, by_pattern;
};

/* Classifies text with the prefilter and without, and fails on any difference. */
static void
same_with_and_without(const smtpstatus_image *with, const smtpstatus_image *without,
                      const unsigned char *bitmap, const char *text, struct prefilter_tally *t)
{
    smtpstatus_classification a = classify(with, text), b = classify(without, text);
    if (a.reason != b.reason || a.retry != b.retry ||
        a.recipient_invalid != b.recipient_invalid || strcmp(a.rule, b.rule) != 0)
        fail_msg("\"%s\": %s by \"%s\" with the prefilter, %s by \"%s\" without", text,
                 smtpstatus_reason_name(a.reason), a.rule, smtpstatus_reason_name(b.reason),
                 b.rule);
    t->texts++;
    t->cleared += !smtpstatus__prefilter_may_match(bitmap, text, strlen(text));
    t->by_pattern += strncmp(b.rule, "code-", 5) != 0 && strncmp(b.rule, "class-", 6) != 0 &&
                     b.rule[0] != '\0';
}

/* Every line of the project's reply corpora, as it is and in upper case, gets the same reason,
 * rule and retry from the built-in rules with the image's prefilter as from a full scan. */
static void
test_prefilter_changes_no_answer(void **state)
{
    (void)state;
    unsigned char *with_bytes, *without_bytes;
    smtpstatus_image *with = open_embedded_copy(0, &with_bytes);
    smtpstatus_image *without = open_embedded_copy(1, &without_bytes);
    const struct smtpstatus_image_header *h = (const void *)with_bytes;
    assert_true(h->rules_prefilter_off != 0);
    const unsigned char *bitmap = with_bytes + h->rules_prefilter_off;

    static const char *const corpora[] = {"replies.tsv", "replies_reasons.tsv",
                                          "replies_wrapped.tsv"};
    struct prefilter_tally t = {0};
    same_with_and_without(with, without, bitmap, "550 5.1.1 no", &t);
    for (size_t c = 0; c < sizeof corpora / sizeof corpora[0]; c++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/../tests/data/%s", PROJECT_DATA_DIR, corpora[c]);
        size_t len;
        char *buf = testutil_read_file(path, &len);
        char *next;
        for (char *line = buf; line != NULL && *line != '\0'; line = next) {
            next = strchr(line, '\n');
            if (next != NULL)
                *next++ = '\0';
            same_with_and_without(with, without, bitmap, line, &t);
            for (char *p = line; *p != '\0'; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - ('a' - 'A'));
            same_with_and_without(with, without, bitmap, line, &t);
        }
        free(buf);
    }
    printf("prefilter: %u texts, %u cleared whole, %u decided by a pattern rule: the same "
           "answers\n", t.texts, t.cleared, t.by_pattern);
    /* Both paths were taken, often. */
    assert_true(t.texts > 1000);
    assert_true(t.cleared > 20);
    assert_true(t.by_pattern > 300);
    smtpstatus_image_close(with);
    smtpstatus_image_close(without);
    free(with_bytes);
    free(without_bytes);
}

static void
test_reason_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "success", "intermediate", "bad-mailbox", "mailbox-disabled", "mailbox-full",
        "message-too-big", "bad-sender", "policy", "auth", "routing", "rate-limit",
        "greylisting", "tls-required", "protocol", "content", "server-error", "expired", "other",
    };
    assert_int_equal(sizeof names / sizeof names[0], 18);
    assert_int_equal(SMTPSTATUS_REASON_MAX, 18);
    for (unsigned r = 1; r <= SMTPSTATUS_REASON_MAX; r++) {
        const char *n = smtpstatus_reason_name((smtpstatus_reason)r);
        assert_non_null(n);
        assert_string_equal(n, names[r - 1]);
        assert_int_equal(smtpstatus_reason_from_name(n, strlen(n)), r);
    }
    assert_null(smtpstatus_reason_name((smtpstatus_reason)0));
    assert_null(smtpstatus_reason_name((smtpstatus_reason)(SMTPSTATUS_REASON_MAX + 1)));
    assert_null(smtpstatus_reason_name((smtpstatus_reason)-1));
    assert_int_equal(smtpstatus_reason_from_name(NULL, 0), 0);
    assert_int_equal(smtpstatus_reason_from_name("", 0), 0);
    assert_int_equal(smtpstatus_reason_from_name("Policy", 6), 0);
    assert_int_equal(smtpstatus_reason_from_name("policyx", 7), 0);
    assert_int_equal(smtpstatus_reason_from_name("policyx", 6), SMTPSTATUS_REASON_POLICY);
    assert_int_equal(smtpstatus_reason_from_name("auth", 3), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_admin_beats_builtin),
        cmocka_unit_test(test_code_only_and_pattern_order),
        cmocka_unit_test(test_overrides_code),
        cmocka_unit_test(test_basic_codes),
        cmocka_unit_test(test_enhanced_codes),
        cmocka_unit_test(test_success_intermediate),
        cmocka_unit_test(test_success_rules_never_decide_failures),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_recipient_invalid),
        cmocka_unit_test(test_rule_strings_status),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_patterns_see_reply_not_wrapper),
        cmocka_unit_test(test_no_rules_falls_back_on_embedded),
        cmocka_unit_test(test_corrupt_rules_refused),
        cmocka_unit_test(test_database_in_place_and_copied),
        cmocka_unit_test(test_damaged_database_leaves_patterns_unmatched),
        cmocka_unit_test(test_threads_one_image),
        cmocka_unit_test(test_threads_two_images),
        cmocka_unit_test(test_prefilter_changes_no_answer),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
