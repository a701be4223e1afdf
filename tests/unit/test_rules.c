/*
 * Unit tests of the reason rules' writer (daemon/rules.c): every error of a rules file at its
 * exact file:line:col, the limits (pattern length, rule count), the order of the
 * administrator's and the built-in rules, the compilation of all patterns with every bad one
 * reported in one run, the copy of an image's built-in rules, and a pattern that would take a
 * backtracking regex engine exponential time.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_build.h"
#include "registry.h"
#include "rules.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* ---- helpers -------------------------------------------------------------------------------- */

/* Whether some item of d, formatted "file:line:col: severity: message", starts with `want`. */
static int
has_diag(const struct diag *d, const char *want)
{
    char line[1024];
    for (size_t i = 0; i < d->count; i++) {
        diag_format(&d->items[i], line, sizeof line);
        if (strncmp(line, want, strlen(want)) == 0)
            return 1;
    }
    return 0;
}

#define assert_diag(d, want)                                                                       \
    do {                                                                                           \
        if (!has_diag((d), (want))) {                                                              \
            diag_print((d), stdout);                                                               \
            fail_msg("no diagnostic starting \"%s\"", (want));                                     \
        }                                                                                          \
    } while (0)

/* Parses a NUL-terminated rules file into r; returns what rules_parse() returned. */
static int
parse(struct rules *r, const char *text, const char *file, int admin, struct diag *d)
{
    return rules_parse(r, text, strlen(text), file, admin, d);
}

/* Parses text, which must be refused, and checks that r stays empty. The caller frees d. */
static void
parse_bad(const char *text, const char *file, int admin, struct diag *d)
{
    struct rules r = {0};
    diag_init(d);
    assert_int_equal(parse(&r, text, file, admin, d), -1);
    assert_true(d->errors > 0);
    assert_int_equal(r.count, 0);
    assert_null(r.items);
    rules_free(&r);
}

static struct registry *
load_registry(void)
{
    struct diag d;
    diag_init(&d);
    struct registry *reg = NULL;
    if (registry_load_dir(testutil_project_data(), &reg, &d) != 0 || d.errors != 0) {
        diag_print(&d, stdout);
        fail_msg("cannot load the registry in %s", testutil_project_data());
    }
    diag_free(&d);
    return reg;
}

/* Builds and opens an image of the project's registry with the compiled rules r. *buf gets the
 * image's bytes, which the caller frees after closing the image. */
static smtpstatus_image *
open_image(const struct rules *r, void **buf)
{
    struct registry *reg = load_registry();
    struct image_build_options opt = {.generation = 1, .built_at = 1700000000u, .rules = r};
    size_t len = 0;
    assert_int_equal(image_build(reg, &opt, buf, &len), 0);
    registry_free(reg);
    smtpstatus_image *img = NULL;
    assert_int_equal(smtpstatus_image_open(*buf, len, &img), 0);
    return img;
}

/* ---- the columns' values --------------------------------------------------------------------- */

static void
test_bad_values(void **state)
{
    (void)state;
    /* Columns:    1      8     14       23    29 */
    static const char text[] = "Reason,Basic,Enhanced,Retry,Status\n"
                               "policy,55,,,\n"          /* 2 */
                               "policy,6XX,,,\n"         /* 3 */
                               "policy,5X5,,,\n"         /* 4 */
                               "policy,,5.7,,\n"         /* 5 */
                               "policy,,3.1.1,,\n"       /* 6 */
                               "policy,,5.1000.1,,\n"    /* 7 */
                               "policy,,X.X.1,,\n"       /* 8 */
                               "policy,,,maybe,\n"       /* 9 */
                               "policy,,,,X.7.1\n"       /* 10 */
                               "bogus,,,,\n"             /* 11 */
                               "policy,550,X.7.X,no,4.7.1\n"; /* 12: good */
    struct diag d;
    parse_bad(text, "t.csv", 1, &d);
    assert_diag(&d, "t.csv:2:8: error: Basic:");
    assert_diag(&d, "t.csv:3:8: error: Basic:");
    assert_diag(&d, "t.csv:4:8: error: Basic:");
    assert_diag(&d, "t.csv:5:9: error: Enhanced:");
    assert_diag(&d, "t.csv:6:9: error: Enhanced:");
    assert_diag(&d, "t.csv:7:9: error: Enhanced:");
    assert_diag(&d, "t.csv:8:9: error: Enhanced:");
    assert_diag(&d, "t.csv:9:10: error: Retry:");
    assert_diag(&d, "t.csv:10:11: error: Status:");
    assert_diag(&d, "t.csv:11:1: error: Reason: unknown reason");
    assert_int_equal(d.errors, 10);
    diag_free(&d);
}

static void
test_good_values(void **state)
{
    (void)state;
    static const char text[] = "Reason,Basic,Enhanced,Retry,Status,Pattern\n"
                               " Rate-Limit ,5xx,x.7.x,YES,4.7.1,\n"
                               "bad-mailbox,550,5.1.10,no,,\\buser unknown\\b\n"
                               "auth,,X.7.26,,,\n"
                               "other,,,,,\n";
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, text, "g.csv", 1, &d), 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(r.count, 4);
    assert_int_equal(r.admin_count, 4);

    const struct rule *x = &r.items[0];
    assert_int_equal(x->reason, SMTPSTATUS_REASON_RATE_LIMIT);
    assert_int_equal(x->basic, SMTPSTATUS_IMAGE_ANY);
    assert_int_equal(x->basic_class, 5);
    assert_true(x->has_enhanced);
    assert_int_equal(x->enhanced_class, 0);
    assert_int_equal(x->subject, 7);
    assert_int_equal(x->detail, SMTPSTATUS_IMAGE_ANY);
    assert_int_equal(x->retry, SMTPSTATUS_IMAGE_RETRY_YES);
    assert_true(x->has_status);
    assert_int_equal(x->status.cls, 4);
    assert_int_equal(x->status.subject, 7);
    assert_int_equal(x->status.detail, 1);
    assert_string_equal(x->pattern, "");

    x = &r.items[1];
    assert_int_equal(x->basic, 550);
    assert_int_equal(x->basic_class, 0);
    assert_int_equal(x->enhanced_class, 5);
    assert_int_equal(x->subject, 1);
    assert_int_equal(x->detail, 10);
    assert_int_equal(x->retry, SMTPSTATUS_IMAGE_RETRY_NO);
    assert_false(x->has_status);
    assert_string_equal(x->pattern, "\\buser unknown\\b");
    assert_int_equal(x->line, 3);
    assert_int_equal(x->pattern_col, 28);

    assert_int_equal(r.items[2].enhanced_class, 0);
    assert_int_equal(r.items[2].detail, 26);
    assert_false(r.items[3].has_enhanced);
    assert_int_equal(r.items[3].basic, SMTPSTATUS_IMAGE_ANY);
    assert_int_equal(r.items[3].retry, SMTPSTATUS_IMAGE_RETRY_DEFAULT);
    rules_free(&r);
    diag_free(&d);
}

/* ---- the header ------------------------------------------------------------------------------ */

static void
test_header(void **state)
{
    (void)state;
    struct diag d;
    parse_bad("Name,Basic\nx,550\n", "h.csv", 1, &d);
    assert_diag(&d, "h.csv:1:1: error: missing column \"Reason\"");
    diag_free(&d);

    parse_bad("Reason,Basic,reason\npolicy,550,policy\n", "h.csv", 1, &d);
    assert_diag(&d, "h.csv:1:14: error: column \"Reason\" appears twice");
    diag_free(&d);

    /* An unknown column is a warning, and the file is read. */
    struct rules r = {0};
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason,Colour\npolicy,red\n", "h.csv", 1, &d), 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);
    assert_diag(&d, "h.csv:1:8: warning: unknown column \"Colour\"");
    assert_int_equal(r.count, 1);
    rules_free(&r);
    diag_free(&d);

    parse_bad("", "h.csv", 1, &d);
    assert_diag(&d, "h.csv:1:1: error:");
    diag_free(&d);
}

/* ---- built-in rules: names and sources ------------------------------------------------------- */

static void
test_builtin_name_source(void **state)
{
    (void)state;
    struct diag d;
    /* Line 2 has neither; line 3 has a name that is not one. */
    parse_bad("Name,Reason,Source\n"
              ",policy,\n"
              "Bad Name,policy,somewhere\n",
              "b.csv", 0, &d);
    assert_diag(&d, "b.csv:2:1: error: Name:");
    assert_diag(&d, "b.csv:2:9: error: Source:");
    assert_diag(&d, "b.csv:3:1: error: Name:");
    assert_int_equal(d.errors, 3);
    diag_free(&d);

    /* No Name or Source column at all. */
    parse_bad("Reason\npolicy\n", "b.csv", 0, &d);
    assert_diag(&d, "b.csv:2:1: error: Name:");
    assert_diag(&d, "b.csv:2:1: error: Source:");
    diag_free(&d);

    parse_bad("Name,Reason,Source\n"
              "same,policy,s\n"
              "other,auth,s\n"
              "same,auth,s\n",
              "b.csv", 0, &d);
    assert_diag(&d, "b.csv:4:1: error: Name: \"same\" is already the name of the rule on line 2");
    diag_free(&d);

    /* Every duplicate is named, each against the first row with its name. The check sorts
     * the names: a file of RULES_MAX rules (test_rule_count_limit) must not cost RULES_MAX^2
     * comparisons at every reload. */
    parse_bad("Name,Reason,Source\n"
              "zz,policy,s\n"
              "aa,auth,s\n"
              "zz,auth,s\n"
              "aa,auth,s\n"
              "zz,auth,s\n",
              "b.csv", 0, &d);
    assert_diag(&d, "b.csv:4:1: error: Name: \"zz\" is already the name of the rule on line 2");
    assert_diag(&d, "b.csv:5:1: error: Name: \"aa\" is already the name of the rule on line 3");
    assert_diag(&d, "b.csv:6:1: error: Name: \"zz\" is already the name of the rule on line 2");
    assert_int_equal(d.errors, 3);
    diag_free(&d);

    /* The administrator's rules need neither, and are named FILE:LINE by default. */
    struct rules r = {0};
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason,Name\npolicy,\nauth,mine\n", "/etc/a.csv", 1, &d), 0);
    assert_int_equal(r.count, 2);
    assert_string_equal(r.items[0].name, "/etc/a.csv:2");
    assert_string_equal(r.items[1].name, "mine");
    assert_string_equal(r.items[0].source, "");
    assert_string_equal(r.file, "/etc/a.csv");
    rules_free(&r);
    diag_free(&d);
}

/* ---- limits ---------------------------------------------------------------------------------- */

static void
test_pattern_limit(void **state)
{
    (void)state;
    size_t n = RULES_PATTERN_MAX;
    char *text = malloc(n + 64);
    assert_non_null(text);
    struct diag d;

    /* Exactly the limit is allowed. */
    int k = snprintf(text, 64, "Reason,Pattern\npolicy,");
    memset(text + k, 'a', n);
    strcpy(text + k + n, "\n");
    struct rules r = {0};
    diag_init(&d);
    assert_int_equal(parse(&r, text, "p.csv", 1, &d), 0);
    assert_int_equal(strlen(r.items[0].pattern), n);
    rules_free(&r);
    diag_free(&d);

    /* One byte more is not, at the field's place. */
    memset(text + k, 'a', n + 1);
    strcpy(text + k + n + 1, "\n");
    parse_bad(text, "p.csv", 1, &d);
    assert_diag(&d, "p.csv:2:8: error: Pattern: 1025 bytes, more than the 1024");
    diag_free(&d);
    free(text);
}

static void
test_rule_count_limit(void **state)
{
    (void)state;
    /* RULES_MAX rules are read; one more is refused at the first rule over. */
    size_t size = 16 + (RULES_MAX + 1) * 7;
    char *text = malloc(size);
    assert_non_null(text);
    size_t n = (size_t)sprintf(text, "Reason\n");
    for (unsigned i = 0; i < RULES_MAX; i++)
        n += (size_t)sprintf(text + n, "other\n");

    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(rules_parse(&r, text, n, "n.csv", 1, &d), 0);
    assert_int_equal(r.count, RULES_MAX);
    assert_string_equal(r.items[RULES_MAX - 1].name, "n.csv:20001");
    rules_free(&r);
    diag_free(&d);

    n += (size_t)sprintf(text + n, "other\n");
    diag_init(&d);
    assert_int_equal(rules_parse(&r, text, n, "n.csv", 1, &d), -1);
    assert_int_equal(r.count, 0);
    assert_diag(&d, "n.csv:20002:1: error: more than 20000 rules");
    diag_free(&d);
    free(text);
}

/* ---- the administrator's rules and the built-in ones ---------------------------------------- */

static void
test_admin_first(void **state)
{
    (void)state;
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason,Pattern\npolicy,one\nauth,two\n", "a.csv", 1, &d), 0);
    assert_int_equal(parse(&r, "Name,Reason,Source\nb1,routing,s\n", "b.csv", 0, &d), 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.admin_count, 2);
    assert_true(r.items[0].admin);
    assert_true(r.items[1].admin);
    assert_false(r.items[2].admin);
    assert_string_equal(r.items[0].name, "a.csv:2");
    assert_string_equal(r.items[1].name, "a.csv:3");
    assert_string_equal(r.items[2].name, "b1");

    /* Once built-in rules are there, an administrator's file cannot go after them. */
    assert_int_equal(parse(&r, "Reason\npolicy\n", "late.csv", 1, &d), -1);
    assert_diag(&d, "late.csv: error:");
    assert_int_equal(r.count, 3);
    assert_int_equal(r.admin_count, 2);
    rules_free(&r);
    diag_free(&d);
}

/* Regression: a second administrator's file used to be put in front of the first one with
 * admin_count set to the second file's count alone, so the first file's rules turned into
 * built-in rules in the image, and r->file named the second file for all of them. */
static void
test_second_admin_file(void **state)
{
    (void)state;
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason\npolicy\nauth\n", "a.csv", 1, &d), 0);
    assert_int_equal(parse(&r, "Reason\nrouting\n", "b.csv", 1, &d), -1);
    assert_diag(&d, "b.csv: error:");
    assert_int_equal(r.count, 2);
    assert_int_equal(r.admin_count, 2);
    assert_string_equal(r.file, "a.csv");
    assert_string_equal(r.items[0].name, "a.csv:2");
    rules_free(&r);
    diag_free(&d);
}

/* ---- compiling ------------------------------------------------------------------------------- */

static void
test_compile_errors(void **state)
{
    (void)state;
    /* Every bad pattern is named, at its line and the Pattern column (after the quote when
     * quoted), in one run: a back-reference, a look-behind, a pattern that matches the empty
     * string, and a syntax error. */
    static const char text[] = "Reason,Pattern,Note\n"
                               "policy,fine,\n"         /* 2 */
                               "policy,(a)\\1,\n"       /* 3 */
                               "policy,(?<=a)b,\n"      /* 4 */
                               "policy,fine too,\n"     /* 5 */
                               "policy,a*,\n"           /* 6 */
                               "policy,\"x(y\",\n";     /* 7 */
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, text, "c.csv", 1, &d), 0);
    assert_int_equal(rules_compile(&r, 0, &d), -1);
    assert_diag(&d, "c.csv:3:8: error: Pattern:");
    assert_diag(&d, "c.csv:4:8: error: Pattern:");
    assert_diag(&d, "c.csv:6:8: error: Pattern:");
    assert_diag(&d, "c.csv:7:9: error: Pattern:");
    assert_int_equal(d.errors, 4);
    assert_null(r.db);
    assert_int_equal(r.db_size, 0);
    rules_free(&r);
    diag_free(&d);
}

static void
test_compile_ok(void **state)
{
    (void)state;
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    /* No pattern: no database. */
    assert_int_equal(parse(&r, "Reason,Enhanced\npolicy,X.7.1\n", "o.csv", 1, &d), 0);
    assert_int_equal(rules_compile(&r, 0, &d), 0);
    assert_null(r.db);
    rules_free(&r);

    assert_int_equal(parse(&r, "Reason,Pattern\npolicy,\\bblocked\\b\nauth,\nother,sp[a4]m\n",
                           "o.csv", 1, &d),
                     0);
    assert_int_equal(rules_compile(&r, 1, &d), 0);
    assert_non_null(r.db);
    assert_true(r.db_size > 0);
    assert_non_null(r.prefilter); /* both patterns need a literal: "blocked", "spam" or "sp4m" */
    /* Compiling again replaces the database. */
    assert_int_equal(rules_compile(&r, 0, &d), 0);
    assert_non_null(r.db);
    assert_non_null(r.prefilter);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 0);
    rules_free(&r);
    rules_free(&r); /* an emptied set frees again harmlessly */
    diag_free(&d);
}

/* A pattern that needs no literal of 3 bytes leaves the image without a prefilter, which the
 * administrator is told at the first such pattern; the rules still compile. */
static void
test_no_prefilter_warning(void **state)
{
    (void)state;
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason,Pattern\npolicy,\\bblocked\\b\nauth,4\\d\\d\n"
                               "other,[a-z]{9}\n",
                           "o.csv", 1, &d),
                     0);
    assert_int_equal(rules_compile(&r, 0, &d), 0);
    assert_non_null(r.db);
    assert_null(r.prefilter);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);
    char **lines = NULL;
    size_t count = 0;
    assert_int_equal(diag_lines(&d, 1, &lines, &count), 0);
    assert_int_equal(count, 1);
    assert_non_null(strstr(lines[0], "o.csv:3:"));
    assert_non_null(strstr(lines[0], "no literal of 3 bytes"));
    diag_lines_free(lines, count);
    rules_free(&r);
    diag_free(&d);
}

/* ---- copying an image's built-in rules ------------------------------------------------------ */

static void
test_append_image(void **state)
{
    (void)state;
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason,Pattern\npolicy,admin one\nauth,\n", "a.csv", 1, &d), 0);
    assert_int_equal(parse(&r,
                           "Name,Reason,Basic,Enhanced,Pattern,Retry,Status,Note,Source\n"
                           "b1,rate-limit,5XX,X.7.X,too fast,yes,4.7.1,Slow down.,doc 1\n"
                           "b2,bad-mailbox,550,5.1.10,,no,,Stop.,doc 2\n",
                           "b.csv", 0, &d),
                     0);
    assert_int_equal(rules_compile(&r, 0, &d), 0);
    void *buf = NULL;
    smtpstatus_image *img = open_image(&r, &buf);

    struct rules copy = {0};
    assert_int_equal(rules_append_image(&copy, img), 0);
    assert_int_equal(copy.count, 2);
    assert_int_equal(copy.admin_count, 0);
    for (size_t i = 0; i < 2; i++) {
        const struct rule *a = &r.items[2 + i], *b = &copy.items[i];
        assert_false(b->admin);
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->pattern, b->pattern);
        assert_string_equal(a->note, b->note);
        assert_string_equal(a->source, b->source);
        assert_int_equal(a->reason, b->reason);
        assert_int_equal(a->basic, b->basic);
        assert_int_equal(a->basic_class, b->basic_class);
        assert_int_equal(a->retry, b->retry);
        assert_int_equal(a->has_enhanced, b->has_enhanced);
        assert_int_equal(a->enhanced_class, b->enhanced_class);
        assert_int_equal(a->subject, b->subject);
        assert_int_equal(a->detail, b->detail);
        assert_int_equal(a->has_status, b->has_status);
        assert_int_equal(a->status.cls, b->status.cls);
        assert_int_equal(a->status.subject, b->status.subject);
        assert_int_equal(a->status.detail, b->status.detail);
        assert_int_equal(a->line, b->line);
    }

    /* The copies go after a new administrator's file and compile again. */
    struct rules fresh = {0};
    assert_int_equal(parse(&fresh, "Reason,Pattern\nother,new admin\n", "n.csv", 1, &d), 0);
    assert_int_equal(rules_append_image(&fresh, img), 0);
    assert_int_equal(fresh.count, 3);
    assert_int_equal(fresh.admin_count, 1);
    assert_string_equal(fresh.items[1].name, "b1");
    assert_int_equal(rules_compile(&fresh, 0, &d), 0);
    assert_int_equal(d.errors, 0);

    rules_free(&fresh);
    rules_free(&copy);
    smtpstatus_image_close(img);
    free(buf);
    rules_free(&r);
    diag_free(&d);
}

/* ---- a pattern that backtracks without end in a PCRE engine --------------------------------- */

/*
 * (a+)+$ against "aaa...ab", and (x+x+)+y against "xxx...x", take time exponential in the
 * input's length in a backtracking engine (PCRE, Perl, Python's re). Vectorscan cannot
 * backtrack: it compiles every pattern into automata that read each input byte once, keeping
 * the set of states reachable so far, so its time is linear in the input whatever the pattern.
 * The test asserts that such patterns compile and that a reply of the largest size classify()
 * reads is classified, correctly, at all; with backtracking it would not finish within the
 * test's timeout.
 */
static void
test_catastrophic_patterns(void **state)
{
    (void)state;
    struct rules r = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(parse(&r, "Reason,Pattern\npolicy,(a+)+$\nauth,(x+x+)+y\n", "z.csv", 1, &d),
                     0);
    assert_int_equal(rules_compile(&r, 0, &d), 0);
    void *buf = NULL;
    smtpstatus_image *img = open_image(&r, &buf);

    size_t n = SMTPSTATUS_CLASSIFY_MAX;
    char *reply = malloc(n);
    assert_non_null(reply);
    smtpstatus_classification out;

    /* "550 aaa...ab": neither pattern matches. */
    memcpy(reply, "550 ", 4);
    memset(reply + 4, 'a', n - 5);
    reply[n - 1] = 'b';
    assert_int_equal(smtpstatus_classify(img, reply, n, &out, NULL, 0), 0);
    assert_int_equal(out.basic, 550);
    assert_int_equal(out.reason, SMTPSTATUS_REASON_OTHER);
    assert_string_equal(out.rule, "");

    /* "550 xxx...x": (x+x+)+y fails after an exponential search in PCRE. */
    memset(reply + 4, 'x', n - 4);
    assert_int_equal(smtpstatus_classify(img, reply, n, &out, NULL, 0), 0);
    assert_int_equal(out.reason, SMTPSTATUS_REASON_OTHER);

    /* And they still match what they should. */
    memset(reply + 4, 'a', n - 4);
    assert_int_equal(smtpstatus_classify(img, reply, n, &out, NULL, 0), 0);
    assert_int_equal(out.reason, SMTPSTATUS_REASON_POLICY);
    assert_string_equal(out.rule, "z.csv:2");
    reply[n - 1] = 'y';
    memset(reply + 4, 'x', n - 5);
    assert_int_equal(smtpstatus_classify(img, reply, n, &out, NULL, 0), 0);
    assert_int_equal(out.reason, SMTPSTATUS_REASON_AUTH);
    assert_string_equal(out.rule, "z.csv:3");

    free(reply);
    smtpstatus_image_close(img);
    free(buf);
    rules_free(&r);
    diag_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_builtin_name_source),
        cmocka_unit_test(test_pattern_limit),
        cmocka_unit_test(test_rule_count_limit),
        cmocka_unit_test(test_admin_first),
        cmocka_unit_test(test_second_admin_file),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_compile_ok),
        cmocka_unit_test(test_no_prefilter_warning),
        cmocka_unit_test(test_append_image),
        cmocka_unit_test(test_catastrophic_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
