/*
 * Unit tests for what a reload of the rules file needs besides the rules reader: the registry
 * read back out of an image (registry_image.c) builds the same image again, and the rules diff
 * (rules_diff.c) says what an administrator expects: a line inserted at the top is one rule
 * added, an edited rule is one change wherever it moved, a named rule is known by its name.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "image_build.h"
#include "registry.h"
#include "registry_image.h"
#include "rules.h"
#include "rules_diff.h"
#include "served.h"

#define HEADER "Name,Reason,Basic,Enhanced,Pattern,Retry,Note\n"

static void
test_registry_round_trip(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    struct registry *a = NULL, *b = NULL;
    assert_int_equal(registry_load_dir(testutil_project_data(), &a, &d), 0);
    struct image_build_options opt = {.generation = 3, .built_at = 1700000000};
    void *ia, *ib;
    size_t la, lb;
    smtpstatus_image *img;
    assert_int_equal(image_build(a, &opt, &ia, &la), 0);
    assert_int_equal(smtpstatus_image_open(ia, la, &img), 0);
    assert_int_equal(registry_from_image(img, &b), 0);
    assert_int_equal(image_build(b, &opt, &ib, &lb), 0);
    /* Every byte: texts, lines, extra fields, associations, source and digest. */
    assert_int_equal(la, lb);
    assert_memory_equal(ia, ib, la);
    smtpstatus_image_close(img);
    registry_free(a);
    registry_free(b);
    free(ia);
    free(ib);
    diag_free(&d);
}

/* The image of the embedded registry with the administrator's rules `csv`, into *s. */
static void
build(struct served *s, const char *csv)
{
    struct diag d;
    diag_init(&d);
    struct rules r = {0};
    assert_int_equal(rules_parse(&r, csv, strlen(csv), "/etc/r.csv", 1, &d), 0);
    assert_int_equal(rules_append_image(&r, smtpstatus_image_embedded()), 0);
    assert_int_equal(rules_compile(&r, 0, &d), 0);
    assert_int_equal(served_rebuild(s, smtpstatus_image_embedded(), &r, 2, 1700000000), 0);
    assert_string_equal(s->rules_file, "/etc/r.csv");
    rules_free(&r);
    diag_free(&d);
}

static void
diff_of(const char *old_csv, const char *new_csv, struct rule_diff *diff)
{
    struct served a, b;
    build(&a, old_csv);
    build(&b, new_csv);
    assert_int_equal(rule_diff_compute(a.img, b.img, diff), 0);
    served_free(&a);
    served_free(&b);
}

static void
test_insert_at_top(void **state)
{
    (void)state;
    struct rule_diff d;
    diff_of(HEADER ",policy,5XX,,alpha,,\n,rate-limit,5XX,,beta,,\n",
            HEADER ",greylisting,4XX,,gamma,,\n,policy,5XX,,alpha,,\n,rate-limit,5XX,,beta,,\n",
            &d);
    assert_int_equal(d.added_count, 1);
    assert_string_equal(d.added[0].name, "/etc/r.csv:2");
    assert_string_equal(d.added[0].reason, "greylisting");
    assert_string_equal(d.added[0].basic, "4XX");
    assert_string_equal(d.added[0].pattern, "gamma");
    assert_true(d.added[0].admin);
    assert_int_equal(d.removed_count, 0);
    assert_int_equal(d.changed_count, 0);
    rule_diff_free(&d);
}

static void
test_edit_and_remove(void **state)
{
    (void)state;
    struct rule_diff d;
    /* beta moves up a line and changes its reason; alpha goes; gamma is new; the X.7.1 rule
     * keeps its line and changes its pattern. */
    diff_of(HEADER ",policy,5XX,,alpha,,\n,rate-limit,5XX,,beta,,\n,auth,,X.7.1,delta,,\n",
            HEADER ",policy,5XX,,beta,no,\n,content,,,gamma,,\n,auth,,X.7.1,epsilon,,\n", &d);
    assert_int_equal(d.added_count, 1);
    assert_string_equal(d.added[0].pattern, "gamma");
    assert_int_equal(d.removed_count, 1);
    assert_string_equal(d.removed[0].pattern, "alpha");
    assert_string_equal(d.removed[0].name, "/etc/r.csv:2");
    assert_int_equal(d.changed_count, 2);
    assert_string_equal(d.changed[0].name, "/etc/r.csv:2");
    assert_string_equal(d.changed[0].was, "/etc/r.csv:3");
    assert_string_equal(d.changed[0].reason, "policy");
    /* Paired by the line it is on: /etc/r.csv:4 before and after, so no "was". */
    assert_string_equal(d.changed[1].name, "/etc/r.csv:4");
    assert_string_equal(d.changed[1].was, "");
    assert_string_equal(d.changed[1].enhanced, "X.7.1");
    assert_string_equal(d.changed[1].pattern, "epsilon");
    rule_diff_free(&d);
}

static void
test_named_rules(void **state)
{
    (void)state;
    struct rule_diff d;
    /* A named rule is the same rule whatever it says; the same words under another name are a
     * rename. The built-in rules did not change. */
    diff_of(HEADER "one,policy,5XX,,alpha,,\ntwo,auth,5XX,,beta,,\n",
            HEADER "two,auth,5XX,,beta-2,,\nthree,policy,5XX,,alpha,,\n", &d);
    assert_int_equal(d.added_count, 0);
    assert_int_equal(d.removed_count, 0);
    assert_int_equal(d.changed_count, 2);
    assert_string_equal(d.changed[0].name, "two");
    assert_string_equal(d.changed[0].was, "");
    assert_string_equal(d.changed[1].name, "three");
    assert_string_equal(d.changed[1].was, "one");
    rule_diff_free(&d);
}

static void
test_counts(void **state)
{
    (void)state;
    struct served s;
    build(&s, HEADER ",policy,5XX,,alpha,,\n,rate-limit,5XX,,beta,,\n");
    uint32_t admin, builtin, e_admin, e_builtin;
    rules_image_counts(s.img, &admin, &builtin);
    rules_image_counts(smtpstatus_image_embedded(), &e_admin, &e_builtin);
    assert_int_equal(admin, 2);
    assert_int_equal(e_admin, 0);
    assert_true(e_builtin > 0);
    assert_int_equal(builtin, e_builtin);
    /* From the embedded rules to these: two added, and nothing else. */
    struct rule_diff d;
    assert_int_equal(rule_diff_compute(smtpstatus_image_embedded(), s.img, &d), 0);
    assert_int_equal(d.added_count, 2);
    assert_int_equal(d.removed_count + d.changed_count, 0);
    rule_diff_free(&d);
    served_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_round_trip),
        cmocka_unit_test(test_insert_at_top),
        cmocka_unit_test(test_edit_and_remove),
        cmocka_unit_test(test_named_rules),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, testutil_teardown);
}
