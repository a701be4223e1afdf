/*
 * Unit tests for registry.c: loading IANA's three tables, on the real IANA files in ../shared
 * (skipped, saying why, when absent) and on tables this test writes itself with every quirk of
 * the real data; every error with its file:line:col; a table cut at every byte and with random
 * byte flips; and the embedded default checked against IANA's later registry.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "csv.h"
#include "registry.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define HDR_PART "\"Code\",\"Summary\",\"Description\",\"Reference\",\"Submitter\",\"Change Controller\"\n"
#define HDR_CODES                                                                                  \
    "\"Code\",\"Sample Text\",\"Associated basic status code\",\"Description\",\"Reference\","     \
    "\"Submitter\",\"Change Controller\"\n"

static const char good_classes[] = HDR_PART
    "\"2.XXX.XXX\",\"Success\",\"ok\",\"[RFC3463]\",\"G. V\",\"IESG\"\n"
    "\"4.XXX.XXX\",\"Persistent Transient Failure\",\"later\",\"[RFC3463]\",\"G. V\",\"IESG\"\n"
    "\"5.XXX.XXX\",\"Permanent Failure\",\"never\",\"[RFC3463]\",\"G. V\",\"IESG\"\n";
static const char good_subjects[] = HDR_PART
    "\"X.0.XXX\",\"Other or Undefined Status\",\"d\",\"[RFC3463]\",\"G. V\",\"IESG\"\n"
    "\"X.1.XXX\",\"Addressing Status\",\"d\",\"[RFC3463]\",\"G. V\",\"IESG\"\n"
    "\"X.7.XXX\",\"Security or Policy Status\",\"d\",\"[RFC3463]\",\"G. V\",\"IESG\"\n";
static const char good_codes[] = HDR_CODES
    "\"X.0.0\",\"Other undefined Status\",\"Any\",\"d\",\"[RFC3463]\",\"G. V\",\"IESG\"\n"
    "\"X.1.1\",\"Bad destination mailbox address\",\"451, 550\",\"d\",\"[RFC3463]\",\"G. V\","
    "\"IESG\"\n"
    "\"X.7.1\",\"Delivery not authorized, message refused\",\"550\",\"d\",\"[RFC3463]\",\"G. V\","
    "\"IESG\"\n";

struct load {
    struct registry *r;
    struct diag d;
    int rc;
};

static struct load
load3(const char *classes, size_t nc, const char *subjects, size_t ns, const char *codes,
      size_t nd)
{
    struct registry_input in[REGISTRY_TABLES] = {
        {"t/" REGISTRY_FILE_CLASSES, classes, nc},
        {"t/" REGISTRY_FILE_SUBJECTS, subjects, ns},
        {"t/" REGISTRY_FILE_CODES, codes, nd},
    };
    struct load l;
    diag_init(&l.d);
    l.rc = registry_load_buffers(in, "t", &l.r, &l.d);
    return l;
}

static struct load
load_strings(const char *classes, const char *subjects, const char *codes)
{
    return load3(classes, strlen(classes), subjects, strlen(subjects), codes, strlen(codes));
}

static void
load_done(struct load *l)
{
    registry_free(l->r);
    diag_free(&l->d);
}

/* Asserts that the load failed and that one error reads exactly `want`. */
static void
assert_error(struct load *l, const char *want)
{
    if (l->rc == 0)
        fail_msg("load succeeded; expected: %s", want);
    assert_null(l->r);
    char buf[1024];
    for (size_t i = 0; i < l->d.count; i++) {
        diag_format(&l->d.items[i], buf, sizeof buf);
        if (strcmp(buf, want) == 0)
            return;
    }
    for (size_t i = 0; i < l->d.count; i++) {
        diag_format(&l->d.items[i], buf, sizeof buf);
        print_message("got: %s\n", buf);
    }
    fail_msg("no diagnostic reads: %s", want);
}

static const struct registry_code *
find(const struct registry *r, unsigned subject, unsigned detail)
{
    const struct registry_code *c = registry_find_code(r, (uint16_t)subject, (uint16_t)detail);
    if (c == NULL)
        fail_msg("X.%u.%u not loaded", subject, detail);
    return c;
}

/* ---- project-written tables ------------------------------------------------------------------ */

static void
test_good_minimal(void **state)
{
    (void)state;
    struct load l = load_strings(good_classes, good_subjects, good_codes);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.d.count, 0);
    assert_int_equal(l.r->class_count, 3);
    assert_int_equal(l.r->subject_count, 3);
    assert_int_equal(l.r->code_count, 3);
    assert_string_equal(l.r->source, "t");
    const struct registry_code *c = find(l.r, 1, 1);
    assert_string_equal(c->text.title, "Bad destination mailbox address");
    assert_int_equal(c->assoc.count, 2);
    assert_int_equal(c->assoc.codes[0], 451);
    assert_int_equal(c->assoc.codes[1], 550);
    assert_int_equal(c->text.line, 3);
    assert_int_equal(find(l.r, 0, 0)->assoc.flags, SMTPSTATUS_IMAGE_BASIC_ANY);
    assert_null(registry_find_code(l.r, 1, 2));
    load_done(&l);
}

/* Every quirk that IANA's real files have, in tables written here. */
static void
test_quirks(void **state)
{
    (void)state;
    /* BOM, CRLF, a field spanning lines, no final newline */
    static const char classes[] =
        "\xEF\xBB\xBF\"Code\",\"Summary\",\"Description\",\"Reference\",\"Submitter\","
        "\"Change Controller\"\r\n"
        "\"2.XXX.XXX\",\"Success\",\"line one\r\nline two\",\"[RFC3463]\",\"G. V\",\"IESG\"\r\n"
        "\"4.XXX.XXX\",\"Persistent Transient Failure\",\"x\",\"[RFC3463]\",\"G. V\",\"IESG\"\r\n"
        "\"5.XXX.XXX\",\"Permanent Failure\",\"y\",\"[RFC3463]\",\"G. V\",\"IESG\"";
    /* reordered columns, an extra column, unquoted fields */
    static const char subjects[] =
        "Summary,Code,Note,Description,Reference,Submitter,Change Controller\n"
        "Other or Undefined Status,X.0.XXX,n0,d,[RFC3463],G. V,IESG\n"
        "Mailbox Status,X.2.XXX,n2,d,[RFC3463],G. V,IESG\n"
        "Mail Delivery Protocol Status,X.5.XXX,n5,d,[RFC3463],G. V,IESG\n"
        "Message Content or Media Status,X.6.XXX,n6,d,[RFC3463],G. V,IESG\n"
        "Security or Policy Status,X.7.XXX,n7,d,[RFC3463],G. V,IESG\n";
    static const char codes[] =
        HDR_CODES
        "\"X.0.0\",\"Other undefined Status\",\"Any\",\"Trailing spaces stay.   \",\"r\",\"s\","
        "\"c\"\n"
        "\"X.2.2\",\"Mailbox full\",\"552\",\"the \"\"@\"\" sign\",\"r\",\"s\",\"c\"\n"
        "\"X.2.4\",\"Mailing list expansion problem\",\"450, 452\",\"d\",\"r\",\"s\",\"c\"\n"
        "\"X.5.0\",\"Other or undefined protocol status\",\"220, 250, 251,\n502, 503\",\"d\","
        "\"r\",\"s\",\"c\"\n"
        "\"X.6.8\",\"UTF-8 string reply is required,\nbut not permitted\",\"Not given\",\"d\","
        "\"r\",\"s\",\"c\"\n"
        "\"X.6.10\",\"\",\"\",\"A deprecated duplicate.\",\"r\",\"\",\"\"\n"
        "\"X.7.15\",\"Priority Level is too low\","
        "\"450, 550 (other 4XX or 5XX codes are allowed)\",\"d\",\"r\",\"s\",\"c\"\n"
        "\"X.7.17\",\"Mailbox owner has changed\",\"5XX\",\"d\",\"r\",\"s\",\"c\"\n"
        "\"X.7.28\",\"Mail flood detected\",\"The message appears to be part of a flood.\",\"\","
        "\"r\",\"s\",\"c\"\n"
        "\"X.7.99\",\"Priority\",\"250 or 251\",\"d\",\"r\",\"s\",\"c\"";
    struct load l = load_strings(classes, subjects, codes);
    if (l.rc != 0)
        diag_print(&l.d, stdout);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.r->class_count, 3);
    assert_int_equal(l.r->subject_count, 5);
    assert_int_equal(l.r->code_count, 10);

    assert_string_equal(l.r->classes[0].text.description, "line one\nline two");
    assert_int_equal(l.r->classes[2].number, 5);
    assert_int_equal(l.r->subjects[1].number, 2);
    assert_string_equal(l.r->subjects[1].text.title, "Mailbox Status");
    assert_int_equal(l.r->subjects[1].text.field_count, 1);
    assert_string_equal(l.r->subjects[1].text.fields[0].name, "Note");
    assert_string_equal(l.r->subjects[1].text.fields[0].value, "n2");

    assert_string_equal(find(l.r, 0, 0)->text.description, "Trailing spaces stay.   ");
    assert_string_equal(find(l.r, 2, 2)->text.description, "the \"@\" sign");
    const struct registry_code *c = find(l.r, 5, 0);
    assert_int_equal(c->assoc.count, 5);
    assert_string_equal(c->basic_raw, "220, 250, 251,\n502, 503");
    assert_string_equal(find(l.r, 6, 8)->text.title,
                        "UTF-8 string reply is required, but not permitted");
    c = find(l.r, 6, 10);
    assert_string_equal(c->text.title, "");
    assert_int_equal(c->assoc.flags, SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN);
    c = find(l.r, 7, 15);
    assert_int_equal(c->assoc.flags, SMTPSTATUS_IMAGE_BASIC_OTHERS_OK);
    assert_int_equal(c->assoc.classes, (1u << 4) | (1u << 5));
    assert_int_equal(find(l.r, 7, 17)->assoc.classes, 1u << 5);
    assert_int_equal(find(l.r, 7, 99)->assoc.count, 2);

    /* The shifted row: repaired, flagged, and reported with its line. */
    c = find(l.r, 7, 28);
    assert_int_equal(c->flags, SMTPSTATUS_IMAGE_CODE_SHIFTED_ROW);
    assert_string_equal(c->text.description, "The message appears to be part of a flood.");
    assert_int_equal(c->assoc.flags, SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN);
    assert_int_equal(c->assoc.count, 0);
    assert_int_equal(l.d.errors, 0);
    assert_int_equal(l.d.warnings, 1);
    char msg[512];
    diag_format(&l.d.items[0], msg, sizeof msg);
    assert_non_null(strstr(msg, "t/" REGISTRY_FILE_CODES ":12:"));
    assert_non_null(strstr(msg, "warning: X.7.28: shifted row"));
    load_done(&l);
}

static void
test_unparsable_assoc_is_a_warning(void **state)
{
    (void)state;
    static const char codes[] =
        HDR_CODES "\"X.1.1\",\"Bad\",\"550, maybe 551\",\"has a description\",\"r\",\"s\",\"c\"\n";
    struct load l = load_strings(good_classes, good_subjects, codes);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.d.warnings, 1);
    char msg[512];
    diag_format(&l.d.items[0], msg, sizeof msg);
    assert_string_equal(msg, "t/" REGISTRY_FILE_CODES
                             ":2:21: warning: X.1.1: \"Associated basic status code\" is not a "
                             "list of codes (unexpected word 'maybe'); no basic codes are "
                             "associated");
    const struct registry_code *c = find(l.r, 1, 1);
    assert_int_equal(c->assoc.count, 0);
    assert_string_equal(c->basic_raw, "550, maybe 551");
    assert_string_equal(c->text.description, "has a description");
    load_done(&l);
}

static void
test_errors(void **state)
{
    (void)state;
    struct load l;

    l = load_strings(good_classes, good_subjects,
                     HDR_CODES "\"X.1.1\",\"a\",\"550\",\"d\",\"r\",\"s\",\"c\"\n"
                               "\"X.1.1\",\"b\",\"550\",\"d\",\"r\",\"s\",\"c\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":3:1: error: duplicate code X.1.1 (first at line 2)");
    load_done(&l);

    l = load_strings(good_classes, good_subjects,
                     HDR_CODES "\"5.1.1\",\"a\",\"550\",\"d\",\"r\",\"s\",\"c\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES
                     ":2:2: error: code \"5.1.1\" does not fit this table (expected an enumerated "
                     "code X.S.D): this table lists codes without their class, as X.S.D");
    load_done(&l);

    l = load_strings(good_classes, good_subjects,
                     HDR_CODES "\"X.1.1000\",\"a\",\"550\",\"d\",\"r\",\"s\",\"c\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES
                     ":2:9: error: code \"X.1.1000\" does not fit this table (expected an "
                     "enumerated code X.S.D): detail must be 1 to 3 digits");
    load_done(&l);

    l = load_strings(good_classes, good_subjects,
                     HDR_CODES "\"X.3.1\",\"a\",\"550\",\"d\",\"r\",\"s\",\"c\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":2:1: error: code X.3.1 has no subject X.3.XXX in "
                     "t/" REGISTRY_FILE_SUBJECTS);
    load_done(&l);

    l = load_strings(good_classes, HDR_PART "\"X.1.1\",\"s\",\"d\",\"r\",\"s\",\"c\"\n",
                     good_codes);
    assert_error(&l, "t/" REGISTRY_FILE_SUBJECTS
                     ":2:6: error: code \"X.1.1\" does not fit this table (expected a subject "
                     "X.S.XXX): not an IANA pattern (N.XXX.XXX or X.S.XXX)");
    load_done(&l);

    l = load_strings(HDR_PART "\"X.1.XXX\",\"s\",\"d\",\"r\",\"s\",\"c\"\n", good_subjects,
                     good_codes);
    assert_error(&l, "t/" REGISTRY_FILE_CLASSES
                     ":2:2: error: code \"X.1.XXX\" does not fit this table (expected a class "
                     "N.XXX.XXX): not an IANA pattern (N.XXX.XXX or X.S.XXX)");
    load_done(&l);

    l = load_strings(HDR_PART "\"2.XXX.XXX\",\"a\",\"d\",\"r\",\"s\",\"c\"\n"
                              "\"2.XXX.XXX\",\"b\",\"d\",\"r\",\"s\",\"c\"\n",
                     good_subjects, good_codes);
    assert_error(&l, "t/" REGISTRY_FILE_CLASSES
                     ":3:1: error: duplicate class 2.XXX.XXX (first at line 2)");
    load_done(&l);

    l = load_strings(good_classes,
                     HDR_PART "\"X.1.XXX\",\"a\",\"d\",\"r\",\"s\",\"c\"\n"
                              "\"X.1.XXX\",\"b\",\"d\",\"r\",\"s\",\"c\"\n",
                     good_codes);
    assert_error(&l, "t/" REGISTRY_FILE_SUBJECTS
                     ":3:1: error: duplicate subject X.1.XXX (first at line 2)");
    load_done(&l);

    l = load_strings(good_classes, good_subjects,
                     "\"Code\",\"Description\"\n\"X.1.1\",\"d\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":1:1: error: missing column \"Sample Text\" in "
                     "the header");
    load_done(&l);

    l = load_strings(good_classes, good_subjects,
                     HDR_CODES "\"X.1.1\",\"a\",\"550\",\"d\",\"r\",\"s\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":2:1: error: row has 6 fields; the header has 7");
    load_done(&l);

    l = load_strings(good_classes, good_subjects, "");
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":1:1: error: the file is empty: expected a header "
                     "row");
    load_done(&l);

    l = load_strings(good_classes, good_subjects, HDR_CODES);
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":1:1: error: the table has a header but no rows");
    load_done(&l);

    l = load_strings(good_classes, good_subjects,
                     "\"Code\",\"Sample Text\",\"Code\"\n\"X.1.1\",\"a\",\"X.1.2\"\n");
    assert_error(&l, "t/" REGISTRY_FILE_CODES ":1:22: error: column \"Code\" appears twice "
                     "(first in column 1)");
    load_done(&l);

    /* A CSV error is reported with its place, and the other tables are still checked. */
    l = load_strings(HDR_PART "\"2.XXX.XXX\",\"unterminated\n", good_subjects,
                     HDR_CODES "\"X.9.1\",\"a\",\"550\",\"d\",\"r\",\"s\",\"c\"\n");
    assert_int_equal(l.rc, -1);
    assert_true(l.d.errors >= 1);
    const struct diag_item *first = diag_first_error(&l.d);
    assert_string_equal(first->file, "t/" REGISTRY_FILE_CLASSES);
    assert_int_equal(first->line, 2);
    assert_int_equal(first->col, 13);
    load_done(&l);
}

static void
test_missing_optional_column_is_a_warning(void **state)
{
    (void)state;
    static const char codes[] =
        "\"Code\",\"Sample Text\",\"Associated basic status code\"\n\"X.1.1\",\"Bad\",\"550\"\n";
    struct load l = load_strings(good_classes, good_subjects, codes);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.d.warnings, 4); /* Description, Reference, Submitter, Change Controller */
    assert_string_equal(find(l.r, 1, 1)->text.reference, "");
    load_done(&l);
}

/* A blank spreadsheet row is skipped with a warning; a short non-sentence in the basic code
 * column of a row with no description is not taken for IANA's shifted row. */
static void
test_blank_row_and_not_shifted(void **state)
{
    (void)state;
    static const char codes[] = HDR_CODES
        "\"X.1.1\",\"Bad\",\"550\",\"d\",\"r\",\"s\",\"c\"\n"
        ",,,,,,\n"
        "\"X.7.1\",\"Sample\",\"TBD\",\"\",\"r\",\"s\",\"c\"\n";
    struct load l = load_strings(good_classes, good_subjects, codes);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.r->code_count, 2);
    assert_int_equal(l.d.warnings, 2);
    char msg[512];
    diag_format(&l.d.items[0], msg, sizeof msg);
    assert_string_equal(msg, "t/" REGISTRY_FILE_CODES ":3:1: warning: empty row skipped");
    diag_format(&l.d.items[1], msg, sizeof msg);
    assert_non_null(strstr(msg, ":4:19: warning: X.7.1: \"Associated basic status code\" is not a "
                                "list of codes"));
    const struct registry_code *c = find(l.r, 7, 1);
    assert_int_equal(c->flags, 0);
    assert_string_equal(c->text.description, "");
    assert_string_equal(c->basic_raw, "TBD");
    load_done(&l);
}

/* ---- load_dir ---------------------------------------------------------------------------------- */

static void
write_set(const char *dir, const char *classes, const char *subjects, const char *codes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_CLASSES);
    testutil_write_file(path, classes, strlen(classes));
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_SUBJECTS);
    testutil_write_file(path, subjects, strlen(subjects));
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_CODES);
    testutil_write_file(path, codes, strlen(codes));
}

static void
test_load_dir(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp);
    write_set(dir, good_classes, good_subjects, good_codes);

    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_dir(dir, &r, &d), 0);
    assert_int_equal(r->code_count, 3);
    assert_string_equal(r->source, dir);
    uint64_t digest = r->source_digest;
    registry_free(r);

    /* The digest follows the bytes of the files. */
    write_set(dir, good_classes, good_subjects,
              HDR_CODES "\"X.1.1\",\"Changed\",\"550\",\"d\",\"r\",\"s\",\"c\"\n");
    assert_int_equal(registry_load_dir(dir, &r, &d), 0);
    assert_true(r->source_digest != digest);
    registry_free(r);

    /* A file that is missing, one that is a directory, one that is too large. */
    char path[512], msg[1024];
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_SUBJECTS);
    assert_int_equal(remove(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_CLASSES);
    assert_int_equal(remove(path), 0);
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_CODES);
    char *big = malloc(CSV_MAX_INPUT + 1);
    assert_non_null(big);
    memset(big, 'a', CSV_MAX_INPUT + 1);
    testutil_write_file(path, big, CSV_MAX_INPUT + 1);
    free(big);

    diag_free(&d);
    assert_int_equal(registry_load_dir(dir, &r, &d), -1);
    assert_null(r);
    assert_int_equal(d.errors, 3);
    diag_format(&d.items[0], msg, sizeof msg);
    assert_non_null(strstr(msg, REGISTRY_FILE_CLASSES ": error: cannot open: No such file"));
    diag_format(&d.items[1], msg, sizeof msg);
    assert_non_null(strstr(msg, REGISTRY_FILE_SUBJECTS ": error: is a directory, not a regular "
                                                       "file"));
    diag_format(&d.items[2], msg, sizeof msg);
    assert_non_null(strstr(msg, REGISTRY_FILE_CODES ": error: file is 4194305 bytes; the limit "
                                "is 4194304"));
    diag_free(&d);
    testutil_rmtree(dir);
}

/* A FIFO in a reload directory blocked a thread-pool thread forever (open() waited for a
 * writer); a symbolic link to a device was read without end. Each is refused at once. */
static void
test_load_dir_special_files(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256], path[512], msg[1024];
    snprintf(dir, sizeof dir, "%s", tmp);
    static const struct {
        const char *file, *want;
    } cases[] = {
        {REGISTRY_FILE_CLASSES, "is a FIFO, not a regular file"},
        {REGISTRY_FILE_SUBJECTS, "is a symbolic link, not a regular file"},
        {REGISTRY_FILE_CODES, "is a device, not a regular file"},
    };
    for (size_t i = 0; i < 3; i++) {
        write_set(dir, good_classes, good_subjects, good_codes);
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        assert_int_equal(remove(path), 0);
        if (i == 0)
            assert_int_equal(mkfifo(path, 0644), 0);
        else if (i == 1)
            assert_int_equal(symlink("/dev/zero", path), 0);
        else if (mknod(path, S_IFCHR | 0644, makedev(1, 5)) != 0)
            assert_int_equal(symlink("/dev/zero", path), 0); /* no CAP_MKNOD: a link then */
        struct registry *r = NULL;
        struct diag d;
        diag_init(&d);
        assert_int_equal(registry_load_dir(dir, &r, &d), -1);
        assert_null(r);
        assert_int_equal(d.errors, 1);
        diag_format(&d.items[0], msg, sizeof msg);
        if (i < 2 || strstr(msg, "symbolic link") == NULL)
            assert_non_null(strstr(msg, cases[i].want));
        assert_non_null(strstr(msg, cases[i].file));
        diag_free(&d);
        assert_int_equal(remove(path), 0);
    }
    /* A directory that is a symbolic link: followed for the administrator's own directories
     * (the state directory's link), refused when a client names it. */
    write_set(dir, good_classes, good_subjects, good_codes);
    char link[512];
    snprintf(link, sizeof link, "%s.link", dir);
    assert_int_equal(symlink(dir, link), 0);
    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_dir(link, &r, &d), 0);
    registry_free(r);
    int fd = registry_dir_open(link, 0, &d);
    assert_int_equal(fd, -1);
    diag_format(&d.items[d.count - 1], msg, sizeof msg);
    assert_non_null(strstr(msg, "is a symbolic link"));
    diag_free(&d);
    assert_int_equal(unlink(link), 0);
    testutil_rmtree(dir);
}

/* Reads `dir` with the owners {root, 40300, 40301}; returns registry_files_readat()'s result
 * and the first error in msg. */
static int
read_owned(const char *dir, char *msg, size_t size)
{
    struct registry_owners owners = {{0, 40300, 40301}, 3};
    struct registry_files f;
    struct diag d;
    diag_init(&d);
    int fd = registry_dir_open(dir, 0, &d);
    assert_true(fd >= 0);
    int rc = registry_files_readat(fd, dir, &owners, &f, &d);
    close(fd);
    msg[0] = '\0';
    if (d.count > 0)
        diag_format(&d.items[0], msg, size);
    registry_files_free(&f);
    diag_free(&d);
    return rc;
}

/* A reload could name any directory at all: one a user wrote is refused, whoever asks. */
static void
test_named_dir_owners(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* making files of other users needs root */
    const char *tmp = testutil_tempdir();
    char dir[256], path[512], msg[1024];
    snprintf(dir, sizeof dir, "%s", tmp);
    write_set(dir, good_classes, good_subjects, good_codes);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(read_owned(dir, msg, sizeof msg), 0);

    /* A directory of uid 40302 (no owner in the list), then of 40301 (one). */
    assert_int_equal(chown(dir, 40302, 40302), 0);
    assert_int_equal(read_owned(dir, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "is owned by uid 40302"));
    assert_int_equal(chown(dir, 40301, 40301), 0);
    assert_int_equal(read_owned(dir, msg, sizeof msg), 0);
    assert_int_equal(chown(dir, 0, 0), 0);

    /* One file of another user, one writable by its group, a directory others may write. */
    snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE_CODES);
    assert_int_equal(chown(path, 40302, 40302), 0);
    assert_int_equal(read_owned(dir, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, REGISTRY_FILE_CODES ": error: is owned by uid 40302"));
    assert_int_equal(chown(path, 0, 0), 0);
    assert_int_equal(chmod(path, 0664), 0);
    assert_int_equal(read_owned(dir, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, REGISTRY_FILE_CODES ": error: is writable by its group"));
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(chmod(dir, 01777), 0);
    assert_int_equal(read_owned(dir, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "is writable by others (mode 1777)"));
    /* Without owners (the configured directory), the same directory reads. */
    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_dir(dir, &r, &d), 0);
    registry_free(r);
    diag_free(&d);
    testutil_rmtree(dir);
}

/* ---- damage -------------------------------------------------------------------------------- */

struct project_files {
    char *buf[REGISTRY_TABLES];
    size_t len[REGISTRY_TABLES];
};

static void
read_project(struct project_files *p)
{
    static const char *const names[] = {REGISTRY_FILE_CLASSES, REGISTRY_FILE_SUBJECTS,
                                        REGISTRY_FILE_CODES};
    for (int i = 0; i < REGISTRY_TABLES; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", testutil_project_data(), names[i]);
        p->buf[i] = testutil_read_file(path, &p->len[i]);
    }
}

static void
free_project(struct project_files *p)
{
    for (int i = 0; i < REGISTRY_TABLES; i++)
        free(p->buf[i]);
}

/* Rows of the project's table 3 that the first `cut` bytes hold. The project writes one row
 * per line, so a row is complete when its closing quote is in the prefix; a prefix that ends
 * just after a row's last comma also holds a whole row, whose last field is empty. */
static size_t
complete_rows(const char *buf, size_t len, size_t cut)
{
    size_t lines = 0;
    for (size_t i = 0; i < cut; i++)
        lines += buf[i] == '\n';
    if (cut > 0 && buf[cut - 1] != '\n' && (cut == len || buf[cut] == '\n'))
        lines++;
    if (cut > 0 && buf[cut - 1] == ',') {
        size_t i = cut;
        while (i < len && buf[i] != '\n' && buf[i] != ',')
            i++;
        lines += i == len || buf[i] == '\n';
    }
    return lines > 0 ? lines - 1 : 0;
}

/* Every prefix of the code table either loads exactly its complete rows or is refused with an
 * error that names the file and a line. */
static void
test_cut_at_every_byte(void **state)
{
    (void)state;
    struct project_files p;
    read_project(&p);
    size_t full_rows = complete_rows(p.buf[2], p.len[2], p.len[2]);
    assert_int_equal(full_rows, 81);
    size_t loaded = 0, refused = 0;
    for (size_t cut = 0; cut < p.len[2]; cut++) {
        char *prefix = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        assert_non_null(prefix);
        memcpy(prefix, p.buf[2], cut);
        struct load l = load3(p.buf[0], p.len[0], p.buf[1], p.len[1], prefix, cut);
        if (l.rc == 0) {
            if (l.r->code_count != complete_rows(p.buf[2], p.len[2], cut))
                fail_msg("cut at %zu loaded %zu codes; the prefix has %zu complete rows", cut,
                         l.r->code_count, complete_rows(p.buf[2], p.len[2], cut));
            loaded++;
        } else {
            const struct diag_item *e = diag_first_error(&l.d);
            assert_non_null(e);
            assert_string_equal(e->file, "t/" REGISTRY_FILE_CODES);
            assert_true(e->line >= 1);
            refused++;
        }
        load_done(&l);
        free(prefix);
    }
    /* Cuts after each row's last comma, closing quote or newline load; the rest are refused. */
    assert_int_equal(loaded, 3 * full_rows - 1);
    assert_int_equal(refused, p.len[2] - loaded);

    /* The class table too. */
    for (size_t cut = 0; cut < p.len[0]; cut++) {
        struct load l = load3(p.buf[0], cut, p.buf[1], p.len[1], p.buf[2], p.len[2]);
        if (l.rc == 0)
            assert_int_equal(l.r->class_count, complete_rows(p.buf[0], p.len[0], cut));
        else
            assert_non_null(diag_first_error(&l.d));
        load_done(&l);
    }
    free_project(&p);
}

static void
test_random_byte_flips(void **state)
{
    (void)state;
    struct project_files p;
    read_project(&p);
    uint64_t seed = 0x5eed5eedull;
    size_t refused = 0;
    for (int iter = 0; iter < 3000; iter++) {
        int table = (int)(testutil_rand(&seed) % REGISTRY_TABLES);
        char *copy = malloc(p.len[table]);
        assert_non_null(copy);
        memcpy(copy, p.buf[table], p.len[table]);
        int flips = 1 + (int)(testutil_rand(&seed) % 4);
        for (int f = 0; f < flips; f++)
            copy[testutil_rand(&seed) % p.len[table]] ^= (char)(1 + testutil_rand(&seed) % 255);
        const char *b[3] = {p.buf[0], p.buf[1], p.buf[2]};
        size_t n[3] = {p.len[0], p.len[1], p.len[2]};
        b[table] = copy;
        struct load l = load3(b[0], n[0], b[1], n[1], b[2], n[2]);
        if (l.rc != 0) {
            assert_true(l.d.errors > 0);
            assert_non_null(diag_first_error(&l.d));
            refused++;
        } else {
            assert_true(l.r->code_count > 0);
        }
        load_done(&l);
        free(copy);
    }
    /* Most flips break quoting, codes or UTF-8; some only change text, and must load. */
    assert_true(refused > 300);
    assert_true(refused < 3000);
    free_project(&p);
}

/* ---- the real IANA files --------------------------------------------------------------------- */

static void
test_iana_2017(void **state)
{
    (void)state;
    const char *dir = testutil_shared_iana("2017");
    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_dir(dir, &r, &d), 0);
    assert_int_equal(r->class_count, 3);
    assert_int_equal(r->subject_count, 8);
    assert_int_equal(r->code_count, 79);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);
    assert_int_equal(d.items[0].line, 312);
    assert_non_null(strstr(d.items[0].message, "X.7.28: shifted row"));

    const struct registry_code *c = find(r, 7, 28);
    assert_int_equal(c->flags, SMTPSTATUS_IMAGE_CODE_SHIFTED_ROW);
    assert_non_null(strstr(c->text.description, "mail flood"));
    assert_string_equal(find(r, 1, 10)->text.title, "Recipient address has null MX");
    assert_string_equal(find(r, 6, 8)->text.title,
                        "UTF-8 string reply is required, but not permitted by the SMTP client");
    assert_int_equal(find(r, 5, 0)->assoc.count, 14);
    assert_int_equal(find(r, 7, 0)->assoc.count, 11);
    assert_null(registry_find_code(r, 7, 29));
    registry_free(r);
    diag_free(&d);
}

static void
test_iana_later(void **state)
{
    (void)state;
    const char *dir = testutil_shared_iana("later");
    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_dir(dir, &r, &d), 0);
    assert_int_equal(r->code_count, 81);
    assert_string_equal(find(r, 7, 29)->text.title, "ARC validation failure");
    assert_string_equal(find(r, 7, 30)->text.title, "REQUIRETLS support required");
    registry_free(r);
    diag_free(&d);
}

/* extra-column-variant.csv reads the same as the plain table, plus its extra field. */
static void
test_iana_extra_column(void **state)
{
    (void)state;
    const char *dir = testutil_shared_iana("2017");
    char path[4][512];
    static const char *const names[] = {REGISTRY_FILE_CLASSES, REGISTRY_FILE_SUBJECTS,
                                        REGISTRY_FILE_CODES, "extra-column-variant.csv"};
    char *buf[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
        buf[i] = testutil_read_file(path[i], &len[i]);
    }
    struct load plain = load3(buf[0], len[0], buf[1], len[1], buf[2], len[2]);
    struct load extra = load3(buf[0], len[0], buf[1], len[1], buf[3], len[3]);
    assert_int_equal(plain.rc, 0);
    assert_int_equal(extra.rc, 0);
    assert_int_equal(plain.r->code_count, extra.r->code_count);
    assert_int_equal(extra.d.warnings, plain.d.warnings);
    size_t flagged = 0;
    for (size_t i = 0; i < plain.r->code_count; i++) {
        const struct registry_code *a = &plain.r->codes[i], *b = &extra.r->codes[i];
        assert_int_equal(a->subject, b->subject);
        assert_int_equal(a->detail, b->detail);
        assert_string_equal(a->text.title, b->text.title);
        assert_string_equal(a->text.description, b->text.description);
        assert_string_equal(a->text.reference, b->text.reference);
        assert_string_equal(a->text.submitter, b->text.submitter);
        assert_string_equal(a->text.change_controller, b->text.change_controller);
        assert_string_equal(a->basic_raw, b->basic_raw);
        assert_memory_equal(&a->assoc, &b->assoc, sizeof a->assoc);
        assert_int_equal(a->flags, b->flags);
        assert_int_equal(a->text.field_count, 0);
        assert_int_equal(b->text.field_count, 1);
        assert_string_equal(b->text.fields[0].name, "Flag As");
        flagged += b->text.fields[0].value[0] != '\0';
    }
    assert_true(flagged > 0);
    load_done(&plain);
    load_done(&extra);
    for (int i = 0; i < 4; i++)
        free(buf[i]);
}

/* The embedded default agrees with IANA's later registry on every code, sample text and set
 * of associated basic codes. */
static void
test_embedded_matches_iana_later(void **state)
{
    (void)state;
    const char *dir = testutil_shared_iana("later");
    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_dir(dir, &r, &d), 0);
    const smtpstatus_image *img = smtpstatus_image_embedded();
    assert_non_null(img);
    assert_int_equal(smtpstatus_image_code_count(img), r->code_count);

    for (size_t i = 0; i < r->code_count; i++) {
        const struct registry_code *c = &r->codes[i];
        smtpstatus_entry e;
        smtpstatus_code code = {0, c->subject, c->detail};
        assert_int_equal(smtpstatus_image_lookup(img, code, &e), 0);
        if (!e.registered)
            fail_msg("X.%u.%u is not in the embedded registry", c->subject, c->detail);
        assert_string_equal(e.title, c->text.title);
        assert_string_equal(e.reference, c->text.reference);
        assert_string_equal(e.submitter, c->text.submitter);
        assert_string_equal(e.change_controller, c->text.change_controller);
        assert_int_equal(e.basic_code_count, c->assoc.count);
        for (uint32_t k = 0; k < c->assoc.count; k++)
            assert_int_equal(e.basic_codes[k], c->assoc.codes[k]);
        assert_int_equal(e.basic_classes, c->assoc.classes);
        assert_int_equal(e.assoc_flags, c->assoc.flags);
    }
    for (size_t i = 0; i < r->subject_count; i++) {
        uint16_t number;
        smtpstatus_part part;
        assert_int_equal(smtpstatus_image_subject_at(img, (uint32_t)i, &number, &part), 0);
        assert_int_equal(number, r->subjects[i].number);
        assert_string_equal(part.title, r->subjects[i].text.title);
    }
    for (size_t i = 0; i < r->class_count; i++) {
        uint8_t digit;
        smtpstatus_part part;
        assert_int_equal(smtpstatus_image_class_at(img, (uint32_t)i, &digit, &part), 0);
        assert_int_equal(digit, r->classes[i].number);
        assert_string_equal(part.title, r->classes[i].text.title);
    }
    registry_free(r);
    diag_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_minimal),
        cmocka_unit_test(test_quirks),
        cmocka_unit_test(test_unparsable_assoc_is_a_warning),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_optional_column_is_a_warning),
        cmocka_unit_test(test_blank_row_and_not_shifted),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_load_dir_special_files),
        cmocka_unit_test(test_named_dir_owners),
        cmocka_unit_test(test_cut_at_every_byte),
        cmocka_unit_test(test_random_byte_flips),
        cmocka_unit_test(test_iana_2017),
        cmocka_unit_test(test_iana_later),
        cmocka_unit_test(test_iana_extra_column),
        cmocka_unit_test(test_embedded_matches_iana_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
