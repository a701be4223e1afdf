/*
 * The one way strings are made well-formed UTF-8 before they go into a protobuf string or JSON
 * (client/src/utf8.c): the copy that mends bad bytes and cuts between characters, the cut of a
 * prefix, and their use where the daemon keeps text it did not write (daemon/diag.c: file
 * names and messages, and lines cut to a buffer).
 */
#include "testutil.h"

#include <string.h>

#include "diag.h"
#include "utf8.h"

/* Whether s[0..n) is well-formed UTF-8 by smtpstatus__utf8_char(). */
static int
well_formed(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = u[i] < 0x80 ? 1 : smtpstatus__utf8_char(u + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

static void
test_copy_mends_each_bad_byte(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\xff", "?"},
        {"5.\xe2\x82", "5.??"},       /* a character cut off at the end */
        {"a\xc3\xa9z", "a\xc3\xa9z"}, /* a whole one stays */
        {"\x80\xbf", "??"},           /* stray continuation bytes */
        {"\xc0\xaf", "??"},           /* overlong '/' */
        {"\xed\xa0\x80", "???"},      /* a surrogate */
        {"\xf4\x90\x80\x80", "????"}, /* above U+10FFFF */
        {"ok \xe2\x82\xac \xf0\x9d\x84\x9e", "ok \xe2\x82\xac \xf0\x9d\x84\x9e"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = smtpstatus__utf8_copy(out, sizeof out, cases[i].in, strlen(cases[i].in));
        assert_int_equal(n, strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
        /* In place gives the same. */
        char buf[64];
        strcpy(buf, cases[i].in);
        assert_int_equal(smtpstatus__utf8_copy(buf, sizeof buf, buf, strlen(buf)), n);
        assert_string_equal(buf, cases[i].out);
    }
}

/* A copy into a short buffer ends before the first character that does not fit whole. */
static void
test_copy_cuts_between_characters(void **state)
{
    (void)state;
    static const char in[] = "a\xe2\x82\xac\xff"
                             "b";
    static const char *const want[] = {
        "", "a", "a", "a", "a\xe2\x82\xac", "a\xe2\x82\xac?", "a\xe2\x82\xac?b", "a\xe2\x82\xac?b"};
    for (size_t size = 1; size <= 8; size++) {
        char out[16];
        memset(out, 'Z', sizeof out);
        size_t n = smtpstatus__utf8_copy(out, size, in, sizeof in - 1);
        assert_string_equal(out, want[size - 1]);
        assert_int_equal(n, strlen(want[size - 1]));
        assert_int_equal(out[size], 'Z');
    }
}

static void
test_whole(void **state)
{
    (void)state;
    static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"; /* a é € 𝄞 */
    static const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10};
    for (size_t len = 0; len < sizeof want / sizeof want[0]; len++)
        if (smtpstatus__utf8_whole(text, len) != want[len])
            fail_msg("prefix of %zu bytes: %zu, want %zu", len, smtpstatus__utf8_whole(text, len),
                     want[len]);
}

/* Registry diagnostics: a file name or a message with bad bytes is mended when added, and a
 * line cut to a buffer ends between characters, at every buffer size. */
static void
test_diag_lines_are_well_formed(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    diag_add(&d, DIAG_WARNING, "/reg/\xff\xe2\x82\xac.csv", 3, 1, "word '\xfe' and \xc3\xa9");
    char line[128];
    int full = diag_format(&d.items[0], line, sizeof line);
    assert_string_equal(line, "/reg/?\xe2\x82\xac.csv:3:1: warning: word '?' and \xc3\xa9");
    for (size_t size = 1; size <= (size_t)full + 1; size++) {
        char cut[128];
        memset(cut, 'Z', sizeof cut);
        assert_int_equal(diag_format(&d.items[0], cut, size), full);
        size_t n = strlen(cut);
        if (!well_formed(cut, n) || memcmp(cut, line, n) != 0 || n + 4 < size)
            fail_msg("size %zu: \"%s\" is not the longest well-formed prefix", size, cut);
        assert_int_equal(cut[size], 'Z');
    }
    char **lines;
    size_t count;
    assert_int_equal(diag_lines(&d, 1, &lines, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(lines[0], line);
    diag_lines_free(lines, count);
    diag_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_mends_each_bad_byte),
        cmocka_unit_test(test_copy_cuts_between_characters),
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_diag_lines_are_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
