/*
 * Vendor codes: the vendors file reader (daemon/vendors.c) with its file:line:col errors and
 * its sort, the image's vendor table as image_build() writes it and the reader checks it, and
 * the lookups of client/src/vendors.c over the project's data/vendors.csv. Expected counts are
 * derived from the data file itself, so adding a row does not break these tests.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_build.h"
#include "registry.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"
#include "vendors.h"

#define HEADER "Provider,Code,Class,Reason,Meaning,Source\n"

static struct vendors data;   /* data/vendors.csv, parsed */
static char data_path[4096];

static int
group_setup(void **state)
{
    (void)state;
    snprintf(data_path, sizeof data_path, "%s/vendors.csv", testutil_project_data());
    size_t len = 0;
    char *csv = testutil_read_file(data_path, &len);
    struct diag d;
    diag_init(&d);
    int rc = vendors_parse(&data, csv, len, data_path, &d);
    diag_print(&d, stdout);
    int clean = rc == 0 && d.errors + d.warnings == 0;
    diag_free(&d);
    free(csv);
    return clean ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    vendors_free(&data);
    return testutil_teardown(state);
}

/* Parses `csv`, expecting failure, and returns the first error formatted, in a static buffer. */
static const char *
first_error(const char *csv)
{
    static char line[1024];
    struct vendors v;
    struct diag d;
    diag_init(&d);
    assert_int_equal(vendors_parse(&v, csv, strlen(csv), "v.csv", &d), -1);
    assert_int_equal(v.count, 0);
    assert_null(v.items);
    const struct diag_item *e = diag_first_error(&d);
    assert_non_null(e);
    diag_format(e, line, sizeof line);
    diag_free(&d);
    return line;
}

/* How many rows of the data file have Code `code` (and Class `cls` when it is not NULL). */
static size_t
rows_of(const char *code, const char *cls)
{
    size_t n = 0;
    for (size_t i = 0; i < data.count; i++) {
        const struct vendor *v = &data.items[i];
        if (strcmp(v->code, code) != 0)
            continue;
        if (cls != NULL && v->cls != (cls[0] ? cls[0] - '0' : 0))
            continue;
        n++;
    }
    return n;
}

/* ---- the reader of vendors.csv -------------------------------------------------------------- */

static void
test_errors_have_positions(void **state)
{
    (void)state;
    /* A bad reason: at the Reason field of line 3, past its quote. */
    assert_string_equal(first_error(HEADER "Gmail,4.7.28,4,rate-limit,m,s\n"
                                           "Gmail,4.7.0,4,\"slow-down\",m,s\n"),
                        "v.csv:3:16: error: Reason: unknown reason (one of success, "
                        "intermediate, bad-mailbox, mailbox-disabled, mailbox-full, "
                        "message-too-big, bad-sender, policy, auth, routing, rate-limit, "
                        "greylisting, tls-required, protocol, content, server-error, "
                        "expired, other) \"slow-down\"");
    /* A bad code, a token that is not one, leading zeros. */
    const char *e = first_error(HEADER "Microsoft 365,5.7.70x,5,policy,m,s\n");
    assert_non_null(strstr(e, "v.csv:2:15: error: Code: expected an enhanced code"));
    e = first_error(HEADER "Yahoo,tss04,,policy,m,s\n");
    assert_non_null(strstr(e, "v.csv:2:7: error: Code: expected an enhanced code"));
    e = first_error(HEADER "Gmail,5.07.1,5,policy,m,s\n");
    assert_non_null(strstr(e, "v.csv:2:7: error: Code:"));
    /* A class that is not the code's, and a token with a class. */
    e = first_error(HEADER "Gmail,5.7.1,4,policy,m,s\n");
    assert_non_null(strstr(e, "v.csv:2:13: error: Class: expected the code's own class"));
    e = first_error(HEADER "Yahoo,TSS04,4,policy,m,s\n");
    assert_non_null(strstr(e, "v.csv:2:13: error: Class: a provider's token has no class"));
    /* A missing column, and an empty required field. */
    e = first_error("Provider,Code,Class,Meaning,Source\nGmail,4.7.28,4,m,s\n");
    assert_string_equal(e, "v.csv:1:1: error: missing column \"Reason\" in the header");
    e = first_error(HEADER "Gmail,4.7.28,4,rate-limit,,s\n");
    assert_non_null(strstr(e, "v.csv:2:"));
    assert_non_null(strstr(e, "Meaning: every row needs one"));
    /* The same row twice, reported at the later line. */
    e = first_error(HEADER "Gmail,4.7.28,4,rate-limit,m,s\nAOL,TS01,,policy,m,s\n"
                           "Gmail,4.7.28,4,rate-limit,other words,s\n");
    assert_non_null(strstr(e, "v.csv:4:1: error: the row on line 2 already gives Gmail's 4.7.28"));
    /* A CSV error keeps the CSV reader's position. */
    e = first_error(HEADER "Gmail,\"4.7.28,4,rate-limit,m,s\n");
    assert_non_null(strstr(e, "v.csv:2:"));
    /* Every bad row is reported, not only the first. */
    struct vendors v;
    struct diag d;
    diag_init(&d);
    const char *two = HEADER "Gmail,4.7.28,4,nope,m,s\nGmail,9.7.28,4,policy,m,s\n";
    assert_int_equal(vendors_parse(&v, two, strlen(two), "v.csv", &d), -1);
    assert_int_equal(d.errors, 2);
    diag_free(&d);
}

static void
test_columns_by_name_and_sorted(void **state)
{
    (void)state;
    /* Columns in another order and case, an extra column (a warning), rows out of order. */
    const char *csv = "source,MEANING,reason,class,code,provider,Note\n"
                      "s1,m1,policy,,TSS04,Yahoo,x\n"
                      "s2,m2,policy,5,5.7.708,Microsoft 365,x\n"
                      "s3,m3,rate-limit,4,4.7.28,Gmail,x\n"
                      "s4,m4,policy,,RTR:BB,AOL,x\n"
                      "s5,m5,auth,5,5.7.1,Microsoft 365,x\n"
                      "s6,m6,policy,5,5.7.1,Gmail,x\n"
                      "s7,m7,policy,4,4.7.1,Gmail,x\n"
                      "s8,m8,policy,,TSS04,AOL,x\n"
                      "s9,m9,policy,,5.7.1,Outlook.com,x\n";
    struct vendors v;
    struct diag d;
    diag_init(&d);
    assert_int_equal(vendors_parse(&v, csv, strlen(csv), "v.csv", &d), 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);
    diag_free(&d);
    static const char *const want[][2] = {
        {"Outlook.com", "5.7.1"},     {"Gmail", "4.7.1"},  {"Gmail", "5.7.1"},
        {"Microsoft 365", "5.7.1"},   {"Gmail", "4.7.28"}, {"Microsoft 365", "5.7.708"},
        {"AOL", "RTR:BB"},            {"AOL", "TSS04"},    {"Yahoo", "TSS04"},
    };
    assert_int_equal(v.count, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < v.count; i++) {
        assert_string_equal(v.items[i].provider, want[i][0]);
        assert_string_equal(v.items[i].code, want[i][1]);
    }
    assert_int_equal(v.items[0].cls, 0);                     /* empty Class: any class */
    assert_int_equal(v.items[6].subject, SMTPSTATUS_IMAGE_ANY); /* a token */
    assert_int_equal(v.items[5].line, 3);
    assert_string_equal(v.items[5].meaning, "m2");
    assert_string_equal(v.items[5].source, "s2");
    assert_int_equal(v.items[5].reason, SMTPSTATUS_REASON_POLICY);
    vendors_free(&v);
    vendors_free(&v); /* empty: does nothing */
}

static void
test_data_file_is_sorted_as_the_image(void **state)
{
    (void)state;
    /* data/README.md asks the file to be kept in image order: the sort must not move a row. */
    for (size_t i = 1; i < data.count; i++)
        assert_true(data.items[i - 1].line < data.items[i].line);
}

/* ---- the image ------------------------------------------------------------------------------ */

static struct registry *
load_registry(void)
{
    struct diag d;
    diag_init(&d);
    struct registry *r = NULL;
    assert_int_equal(registry_load_dir(testutil_project_data(), &r, &d), 0);
    diag_free(&d);
    return r;
}

/* An image of data/ with `v` as its vendors (NULL: none). */
static unsigned char *
build(const struct vendors *v, size_t *len)
{
    struct registry *r = load_registry();
    struct image_build_options opt = {.generation = 7, .built_at = 1, .vendors = v};
    void *img = NULL;
    assert_int_equal(image_build(r, &opt, &img, len), 0);
    registry_free(r);
    return img;
}

static void
test_image_table(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = build(&data, &len);
    const struct smtpstatus_image_header *h = (const void *)buf;
    assert_int_equal(h->vendor_count, data.count);
    assert_int_not_equal(h->vendors_off, 0);
    assert_int_equal(h->vendors_off % SMTPSTATUS_IMAGE_ALIGN, 0);
    smtpstatus_image *img = NULL;
    assert_int_equal(smtpstatus_image_open(buf, len, &img), 0);
    assert_int_equal(smtpstatus_image_vendor_count(img), data.count);
    for (uint32_t i = 0; i < data.count; i++) {
        smtpstatus_vendor v;
        assert_int_equal(smtpstatus_image_vendor_at(img, i, &v), 0);
        assert_string_equal(v.provider, data.items[i].provider);
        assert_string_equal(v.code, data.items[i].code);
        assert_string_equal(v.meaning, data.items[i].meaning);
        assert_string_equal(v.source, data.items[i].source);
        assert_int_equal(v.reason, data.items[i].reason);
    }
    smtpstatus_vendor v;
    assert_int_equal(smtpstatus_image_vendor_at(img, (uint32_t)data.count, &v), SMTPSTATUS_EINVAL);
    smtpstatus_image_close(img);
    free(buf);

    /* The embedded image carries the same table. */
    const smtpstatus_image *em = smtpstatus_image_embedded();
    assert_non_null(em);
    assert_int_equal(smtpstatus_image_vendor_count(em), data.count);
}

/* Rewrites vendor record i of a copy of buf with `edit`, fixes the checksum, and opens it. */
static int
open_edited(const unsigned char *buf, size_t len, uint32_t i,
            void (*edit)(struct smtpstatus_image_vendor *, struct smtpstatus_image_vendor *))
{
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    const struct smtpstatus_image_header *h = (const void *)copy;
    struct smtpstatus_image_vendor *v = (void *)(copy + h->vendors_off);
    edit(&v[i], i + 1 < h->vendor_count ? &v[i + 1] : NULL);
    uint64_t sum = smtpstatus_image_checksum(copy, len);
    memcpy(copy + offsetof(struct smtpstatus_image_header, checksum), &sum, sizeof sum);
    smtpstatus_image *img = NULL;
    int rc = smtpstatus_image_open(copy, len, &img);
    smtpstatus_image_close(img);
    free(copy);
    return rc;
}

static void
swap_next(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    struct smtpstatus_image_vendor t = *a;
    *a = *b;
    *b = t;
}
static void
bad_reason(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    (void)b;
    a->reason = SMTPSTATUS_REASON_MAX + 1;
}
static void
bad_class(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    (void)b;
    a->cls = 3;
}
static void
other_detail(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    (void)b;
    a->detail = (uint16_t)(a->detail + 1); /* no longer the code its text says */
}
static void
token_with_class(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    (void)b;
    a->cls = 5;
}
static void
string_out_of_pool(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    (void)b;
    a->meaning.off = 0xFFFFFF00u;
}
static void
no_change(struct smtpstatus_image_vendor *a, struct smtpstatus_image_vendor *b)
{
    (void)a;
    (void)b;
}

static void
test_corrupt_vendor_records_refused(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = build(&data, &len);
    /* Find two neighbours of different codes, the first enhanced, and the first token. */
    uint32_t pair = 0, token = 0;
    while (pair + 1 < data.count &&
           (data.items[pair].subject == data.items[pair + 1].subject &&
            data.items[pair].detail == data.items[pair + 1].detail))
        pair++;
    while (token < data.count && data.items[token].subject != SMTPSTATUS_IMAGE_ANY)
        token++;
    assert_true(pair + 1 < data.count);
    assert_true(token + 1 < data.count);
    assert_string_not_equal(data.items[token].code, data.items[data.count - 1].code);

    assert_int_equal(open_edited(buf, len, 0, no_change), 0);
    assert_int_equal(open_edited(buf, len, pair, swap_next), SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, token - 1, swap_next), SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, (uint32_t)data.count - 2, swap_next),
                     strcmp(data.items[data.count - 2].code, data.items[data.count - 1].code) == 0
                         ? 0
                         : SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, 0, bad_reason), SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, 0, bad_class), SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, 0, other_detail), SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, token, token_with_class), SMTPSTATUS_EIMG_CORRUPT);
    assert_int_equal(open_edited(buf, len, 0, string_out_of_pool), SMTPSTATUS_EIMG_CORRUPT);
    free(buf);
}

/* ---- lookups -------------------------------------------------------------------------------- */

static smtpstatus_code
code_of(const char *s)
{
    smtpstatus_code c;
    assert_int_equal(smtpstatus_code_parse(s, strlen(s), SMTPSTATUS_PARSE_ALLOW_X, &c, NULL), 0);
    return c;
}

/* The rows for `code` in img, checking that a count-only call agrees. */
static size_t
vendors_of(const smtpstatus_image *img, const char *code, smtpstatus_vendor *out, size_t cap)
{
    size_t n = 99, m = 99;
    assert_int_equal(smtpstatus_image_vendors(img, code_of(code), NULL, 0, &n), 0);
    assert_int_equal(smtpstatus_image_vendors(img, code_of(code), out, cap, &m), 0);
    assert_int_equal(n, m);
    return n;
}

static int
has_provider(const smtpstatus_vendor *v, size_t n, const char *provider)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].provider, provider) == 0)
            return 1;
    return 0;
}

static void
test_lookups(void **state)
{
    (void)state;
    const smtpstatus_image *img = smtpstatus_image_embedded();
    smtpstatus_vendor v[32];
    smtpstatus_entry e;

    /* 5.7.708: not IANA's; Microsoft's, and for class 5 only. */
    assert_int_equal(smtpstatus_image_lookup(img, code_of("5.7.708"), &e), 0);
    assert_false(e.registered);
    size_t n = vendors_of(img, "5.7.708", v, 32);
    assert_true(n >= 1);
    assert_int_equal(n, rows_of("5.7.708", NULL));
    assert_true(has_provider(v, n, "Microsoft 365"));
    assert_string_equal(v[0].code, "5.7.708");
    assert_int_equal(v[0].reason, SMTPSTATUS_REASON_POLICY);
    assert_non_null(strstr(v[0].source, "https://"));
    assert_int_equal(vendors_of(img, "4.7.708", v, 32), rows_of("4.7.708", NULL));
    assert_int_equal(vendors_of(img, "4.7.708", v, 32), 0);
    assert_int_equal(vendors_of(img, "X.7.708", v, 32), rows_of("5.7.708", NULL));

    /* 5.1.10 stays IANA's null MX, with Microsoft's use beside it. */
    assert_int_equal(smtpstatus_image_lookup(img, code_of("5.1.10"), &e), 0);
    assert_true(e.registered);
    assert_non_null(strstr(e.title, "null MX"));
    n = vendors_of(img, "5.1.10", v, 32);
    assert_int_equal(n, rows_of("5.1.10", NULL));
    assert_true(has_provider(v, n, "Microsoft 365"));
    assert_int_equal(v[0].reason, SMTPSTATUS_REASON_BAD_MAILBOX);

    /* 4.7.28: Gmail's rate limit, class 4 only. */
    n = vendors_of(img, "4.7.28", v, 32);
    assert_int_equal(n, rows_of("4.7.28", "4"));
    assert_true(has_provider(v, n, "Gmail"));
    assert_int_equal(v[0].reason, SMTPSTATUS_REASON_RATE_LIMIT);
    assert_int_equal(vendors_of(img, "5.7.28", v, 32), rows_of("5.7.28", NULL));

    /* A code with several rows: every row of its class, and a short buffer gets the first. */
    n = vendors_of(img, "5.7.1", v, 32);
    assert_int_equal(n, rows_of("5.7.1", "5") + rows_of("5.7.1", ""));
    assert_true(n >= 2);
    size_t all = n;
    smtpstatus_vendor one;
    assert_int_equal(smtpstatus_image_vendors(img, code_of("5.7.1"), &one, 1, &n), 0);
    assert_int_equal(n, all);
    assert_string_equal(one.provider, v[0].provider);
    assert_string_equal(one.meaning, v[0].meaning);

    /* No rows; bad arguments. */
    assert_int_equal(vendors_of(img, "5.1.99", v, 32), 0);
    smtpstatus_code bad = {3, 1, 1};
    assert_int_equal(smtpstatus_image_vendors(img, bad, v, 32, &n), SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_image_vendors(img, code_of("5.7.1"), NULL, 1, &n),
                     SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_image_vendors(img, code_of("5.7.1"), v, 32, NULL),
                     SMTPSTATUS_EINVAL);
}

static void
test_token_lookups(void **state)
{
    (void)state;
    const smtpstatus_image *img = smtpstatus_image_embedded();
    smtpstatus_vendor v[8];
    size_t n = 0;
    assert_int_equal(smtpstatus_image_vendor_token(img, "TSS04", 5, v, 8, &n), 0);
    assert_int_equal(n, rows_of("TSS04", NULL));
    assert_true(has_provider(v, n, "Yahoo"));
    assert_string_equal(v[0].code, "TSS04");
    /* Letter case does not matter; only the given bytes count. */
    size_t m = 0;
    assert_int_equal(smtpstatus_image_vendor_token(img, "tss04xyz", 5, NULL, 0, &m), 0);
    assert_int_equal(m, n);
    /* Every token of the data file is found, each with all its rows. */
    for (size_t i = 0; i < data.count; i++) {
        if (data.items[i].subject != SMTPSTATUS_IMAGE_ANY)
            continue;
        const char *t = data.items[i].code;
        assert_int_equal(smtpstatus_image_vendor_token(img, t, strlen(t), NULL, 0, &m), 0);
        assert_int_equal(m, rows_of(t, NULL));
    }
    /* Not tokens: a code, a neighbour, nothing, too long. */
    static const char *const none[] = {"5.7.708", "TSS0", "TSS05", "", "RTR", "TSS04TSS04TSS04"
                                       "TSS04TSS04TSS04TSS04"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(smtpstatus_image_vendor_token(img, none[i], strlen(none[i]), v, 8, &m),
                         0);
        assert_int_equal(m, 0);
    }
    assert_int_equal(smtpstatus_image_vendor_token(img, NULL, 3, v, 8, &m), SMTPSTATUS_EINVAL);
}

static void
test_no_vendors_falls_back_to_embedded(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = build(NULL, &len);
    const struct smtpstatus_image_header *h = (const void *)buf;
    assert_int_equal(h->vendor_count, 0);
    assert_int_equal(h->vendors_off, 0);
    smtpstatus_image *img = NULL;
    assert_int_equal(smtpstatus_image_open(buf, len, &img), 0);
    smtpstatus_vendor v[8];
    assert_int_equal(vendors_of(img, "5.7.708", v, 8), rows_of("5.7.708", NULL));
    assert_int_equal(smtpstatus_image_vendor_count(img), data.count);
    size_t n = 0;
    assert_int_equal(smtpstatus_image_vendor_token(img, "TSS04", 5, v, 8, &n), 0);
    assert_int_equal(n, rows_of("TSS04", NULL));
    smtpstatus_image_close(img);
    free(buf);

    /* An image with its own rows answers from them, not the embedded ones. */
    const char *csv = HEADER "Example,5.7.708,5,other,mine,https://example.com/\n";
    struct vendors own;
    struct diag d;
    diag_init(&d);
    assert_int_equal(vendors_parse(&own, csv, strlen(csv), "own.csv", &d), 0);
    diag_free(&d);
    buf = build(&own, &len);
    assert_int_equal(smtpstatus_image_open(buf, len, &img), 0);
    assert_int_equal(vendors_of(img, "5.7.708", v, 8), 1);
    assert_string_equal(v[0].provider, "Example");
    assert_string_equal(v[0].meaning, "mine");
    assert_int_equal(vendors_of(img, "4.7.28", v, 8), 0);
    smtpstatus_image_close(img);
    free(buf);
    vendors_free(&own);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_have_positions),
        cmocka_unit_test(test_columns_by_name_and_sorted),
        cmocka_unit_test(test_data_file_is_sorted_as_the_image),
        cmocka_unit_test(test_image_table),
        cmocka_unit_test(test_corrupt_vendor_records_refused),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_token_lookups),
        cmocka_unit_test(test_no_vendors_falls_back_to_embedded),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
