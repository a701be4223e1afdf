/* Unit tests for basic_assoc.c: every free-text form of IANA's "Associated basic status code"
 * column, and the words it must refuse. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "basic_assoc.h"
#include "smtpstatus_image.h"

static struct basic_assoc
parse_ok(const char *text)
{
    struct basic_assoc a;
    char err[128] = "";
    size_t off = 99;
    int rc = basic_assoc_parse(text, strlen(text), &a, err, sizeof err, &off);
    if (rc != 0)
        fail_msg("\"%s\" refused: %s", text, err);
    return a;
}

static void
assert_codes(const struct basic_assoc *a, const uint16_t *want, uint32_t n)
{
    assert_int_equal(a->count, n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(a->codes[i], want[i]);
}

static void
test_exact_lists(void **state)
{
    (void)state;
    struct basic_assoc a = parse_ok("451, 550");
    assert_codes(&a, (const uint16_t[]){451, 550}, 2);
    assert_int_equal(a.classes, 0);
    assert_int_equal(a.flags, 0);

    a = parse_ok("553, 550"); /* IANA's order is not ascending; ours is */
    assert_codes(&a, (const uint16_t[]){550, 553}, 2);

    a = parse_ok("250 or 251");
    assert_codes(&a, (const uint16_t[]){250, 251}, 2);

    /* X.5.0: a line break inside the list */
    a = parse_ok("220, 250, 251, 252, 253, 451, 452, 454, 458, 459, 501,\n502, 503, 554");
    assert_int_equal(a.count, 14);
    assert_int_equal(a.codes[0], 220);
    assert_int_equal(a.codes[13], 554);

    a = parse_ok("550, 550, 451"); /* duplicates collapse */
    assert_codes(&a, (const uint16_t[]){451, 550}, 2);
}

static void
test_words(void **state)
{
    (void)state;
    struct basic_assoc a = parse_ok("Any");
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_ANY);
    assert_int_equal(a.count, 0);

    a = parse_ok("Not given");
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN);

    a = parse_ok("not\ngiven");
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN);

    a = parse_ok("");
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN);
    a = parse_ok("  \n ");
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN);

    a = parse_ok("5XX");
    assert_int_equal(a.classes, 1u << 5);
    assert_int_equal(a.count, 0);
    assert_int_equal(a.flags, 0);

    a = parse_ok("4xx, 2XX");
    assert_int_equal(a.classes, (1u << 4) | (1u << 2));
}

static void
test_others_allowed(void **state)
{
    (void)state;
    struct basic_assoc a = parse_ok("450, 550 (other 4XX or 5XX codes are allowed)");
    assert_codes(&a, (const uint16_t[]){450, 550}, 2);
    assert_int_equal(a.classes, (1u << 4) | (1u << 5));
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_OTHERS_OK);

    a = parse_ok("552 (other 4XX or 5XX codes are allowed)");
    assert_codes(&a, (const uint16_t[]){552}, 1);
    assert_int_equal(a.flags, SMTPSTATUS_IMAGE_BASIC_OTHERS_OK);
}

static void
expect_refusal(const char *text, size_t want_off, const char *want_in_msg)
{
    struct basic_assoc a;
    char err[128] = "";
    size_t off = 12345;
    int rc = basic_assoc_parse(text, strlen(text), &a, err, sizeof err, &off);
    if (rc != -1)
        fail_msg("\"%s\" was accepted", text);
    assert_int_equal(off, want_off);
    if (strstr(err, want_in_msg) == NULL)
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, err, want_in_msg);
}

static void
test_refusals(void **state)
{
    (void)state;
    /* The shifted X.7.28 row puts a sentence here. */
    expect_refusal("The message appears to be part of a mail flood", 0, "unexpected word 'The'");
    expect_refusal("550, 650", 5, "not a basic reply code: '650'");
    expect_refusal("550, 560", 5, "'560'");
    expect_refusal("55", 0, "unexpected word '55'");
    expect_refusal("5500", 0, "'5500'");
    expect_refusal("3XX", 0, "'3XX'");
    expect_refusal("550 (other", 10, "missing ')'");
    expect_refusal("550)", 3, "unbalanced ')'");
    expect_refusal("((550))", 1, "nested '('");
    expect_refusal("550; 551", 3, "unexpected character ';'");
    expect_refusal("Not sure", 0, "\"given\"");
    expect_refusal("(Any)", 1, "unexpected word 'Any'");
    expect_refusal("other 5XX", 0, "unexpected word 'other'");
}

static void
test_too_many(void **state)
{
    (void)state;
    char text[1024] = "";
    size_t n = 0;
    for (unsigned c = 500; c < 500 + BASIC_ASSOC_MAX_CODES; c++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%u, ", c);
    struct basic_assoc a;
    assert_int_equal(basic_assoc_parse(text, n, &a, NULL, 0, NULL), 0);
    assert_int_equal(a.count, BASIC_ASSOC_MAX_CODES);
    snprintf(text + n, sizeof text - n, "%u", 520u);
    /* 520 is in the list already: still fine */
    assert_int_equal(basic_assoc_parse(text, strlen(text), &a, NULL, 0, NULL), 0);
    snprintf(text + n, sizeof text - n, "%u", 551u);
    char err[128];
    size_t off;
    assert_int_equal(basic_assoc_parse(text, strlen(text), &a, err, sizeof err, &off), -1);
    assert_int_equal(off, n);
    assert_non_null(strstr(err, "too many codes"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_lists), cmocka_unit_test(test_words),
        cmocka_unit_test(test_others_allowed), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
