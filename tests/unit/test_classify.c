/*
 * Unit tests of the reply classifier (client/src/classify.c). The bulk of them is the corpus in
 * tests/data/replies.tsv: reply strings written for this project in the shapes servers send
 * (single and multi-line, CRLF and LF, Postfix, Exchange, qmail and Gmail styles, damaged and
 * cut-off replies, addresses where a code would be, control characters, valid and ill-formed
 * UTF-8), each with every field of its expected
 * result. Each reply is classified from a heap copy of exactly its length, so that ASan catches
 * a read past the end, and every mismatch is printed with the case's name before the test
 * fails. The tests after it cover what a table cannot: the registry entry, a text buffer too
 * small, argument errors, input over SMTPSTATUS_CLASSIFY_MAX (also cutting a UTF-8 character in
 * two), and the name functions.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

#define CORPUS_PATH         PROJECT_DATA_DIR "/../tests/data/replies.tsv"
#define WRAPPED_CORPUS_PATH PROJECT_DATA_DIR "/../tests/data/replies_wrapped.tsv"
#define CORPUS_MIN_CASES    60
#define CORPUS_MAX_CASES    1024
#define CORPUS_COLUMNS      8

/* The corpus file being read, for failure messages. */
static const char *corpus_path = CORPUS_PATH;

/* Large enough for the text of any corpus case. */
#define TEXT_BUF_SIZE 4096

/* The length of a string literal that may contain NULs. */
#define LIT(s) (s), (sizeof(s) - 1)

/* One row of the corpus, with reply and text unescaped into malloc'd buffers. */
struct corpus_case {
    unsigned line;
    const char *name;
    char *reply;
    size_t reply_len;
    uint16_t basic;
    int has_enhanced;
    smtpstatus_code enhanced;
    const char *kind;
    int retry;
    unsigned problems;
    char *text;
    size_t text_len;
};

/* Copies s[0..len) into a heap block of exactly len bytes (one unreadable byte when len is 0),
 * so that any read at or past s[len] is an ASan error. The caller frees it. */
static char *
exact_copy(const char *s, size_t len)
{
    char *p = malloc(len > 0 ? len : 1);
    assert_non_null(p);
    if (len > 0)
        memcpy(p, s, len);
    return p;
}

static int
code_equal(smtpstatus_code a, smtpstatus_code b)
{
    return a.cls == b.cls && a.subject == b.subject && a.detail == b.detail;
}

/* Classifies a heap copy of exactly s[0..len). */
static int
classify_exact(const smtpstatus_image *img, const char *s, size_t len,
               smtpstatus_classification *out, char *text, size_t text_size)
{
    char *p = exact_copy(s, len);
    int r = smtpstatus_classify(img, p, len, out, text, text_size);
    free(p);
    return r;
}

/* Prints bytes with the corpus's escapes, for failure messages. Static buffer: one call per
 * printf. */
static const char *
show(const char *s, size_t len)
{
    static char buf[2][256];
    static int which;
    char *b = buf[which ^= 1];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 8 < sizeof buf[0]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == '\t' || c == '\\') {
            b[n++] = '\\';
            b[n++] = c == '\r' ? 'r' : c == '\n' ? 'n' : c == '\t' ? 't' : '\\';
        } else if (c < 0x20 || c >= 0x7f) {
            n += (size_t)snprintf(b + n, sizeof buf[0] - n, "\\x%02x", c);
        } else {
            b[n++] = (char)c;
        }
    }
    if (n + 8 >= sizeof buf[0])
        n += (size_t)snprintf(b + n, sizeof buf[0] - n, "...");
    b[n] = '\0';
    return b;
}

/* Parses the problems column: "-" or comma-separated smtpstatus_problem_name() names. */
static unsigned
parse_problems(const char *s, unsigned line)
{
    unsigned bits = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        unsigned bit = 0;
        for (unsigned b = 1; b != 0; b <<= 1) {
            const char *name = smtpstatus_problem_name(b);
            if (name != NULL && strlen(name) == n && strncmp(name, s, n) == 0)
                bit = b;
        }
        if (bit == 0)
            fail_msg("%s line %u: unknown problem \"%.*s\"", corpus_path, line, (int)n, s);
        bits |= bit;
        s += n;
        if (*s == ',')
            s++;
    }
    return bits;
}

/* Writes the names of the bits in `problems` into buf, for failure messages. */
static const char *
problem_list(unsigned problems, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    if (problems == 0)
        return "-";
    for (unsigned b = 1; b != 0; b <<= 1) {
        if ((problems & b) == 0)
            continue;
        const char *name = smtpstatus_problem_name(b);
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? "," : "",
                              name != NULL ? name : "?");
        if (n >= size)
            break;
    }
    return buf;
}

/* Splits one corpus line into its columns, in place. Fails the test on a wrong count. */
static void
split_columns(char *s, unsigned line, char **col)
{
    for (int i = 0; i < CORPUS_COLUMNS; i++) {
        col[i] = s;
        char *tab = strchr(s, '\t');
        if (i == CORPUS_COLUMNS - 1) {
            if (tab != NULL)
                fail_msg("%s line %u: more than %d columns", corpus_path, line, CORPUS_COLUMNS);
            break;
        }
        if (tab == NULL)
            fail_msg("%s line %u: %d columns, want %d", corpus_path, line, i + 1, CORPUS_COLUMNS);
        *tab = '\0';
        s = tab + 1;
    }
}

static void
parse_case(char *s, unsigned line, struct corpus_case *c)
{
    char *col[CORPUS_COLUMNS];
    split_columns(s, line, col);

    memset(c, 0, sizeof *c);
    c->line = line;
    c->name = col[0];
    c->reply = testutil_corpus_field(corpus_path, line, col[1], &c->reply_len);
    c->basic = (uint16_t)strtoul(col[2], NULL, 10);
    if (strcmp(col[3], "-") != 0) {
        c->has_enhanced = 1;
        if (smtpstatus_code_parse(col[3], strlen(col[3]), 0, &c->enhanced, NULL) != 0)
            fail_msg("%s line %u: bad enhanced code \"%s\"", corpus_path, line, col[3]);
    }
    c->kind = col[4];
    c->retry = atoi(col[5]);
    c->problems = parse_problems(col[6], line);
    c->text = testutil_corpus_field(corpus_path, line, col[7], &c->text_len);
}

/* Classifies one case and prints every field that differs. Returns 1 if all matched; *codes_ok
 * gets 1 when the basic and enhanced codes both matched, whatever the other fields did. */
static int
check_case(const smtpstatus_image *img, const struct corpus_case *c, int *codes_ok)
{
    smtpstatus_classification out;
    char *text = malloc(TEXT_BUF_SIZE);
    char want_p[256], got_p[256];
    int ok = 1;
    assert_non_null(text);

    int rc = classify_exact(img, c->reply, c->reply_len, &out, text, TEXT_BUF_SIZE);
    int want_rc = c->basic == 0 && !c->has_enhanced ? SMTPSTATUS_ENOREPLY : 0;

#define MISMATCH(...)                                                                              \
    do {                                                                                           \
        print_error("case %s (line %u, reply \"%s\"): ", c->name, c->line,                         \
                    show(c->reply, c->reply_len));                                                 \
        print_error(__VA_ARGS__);                                                                  \
        ok = 0;                                                                                    \
    } while (0)

    if (rc != want_rc)
        MISMATCH("returned %s, want %s\n", smtpstatus_err_name(rc), smtpstatus_err_name(want_rc));
    *codes_ok = out.basic == c->basic && out.has_enhanced == c->has_enhanced &&
                (!c->has_enhanced || code_equal(out.enhanced, c->enhanced));
    if (out.basic != c->basic)
        MISMATCH("basic %u, want %u\n", out.basic, c->basic);
    if (out.has_enhanced != c->has_enhanced ||
        (c->has_enhanced && !code_equal(out.enhanced, c->enhanced))) {
        char got[SMTPSTATUS_CODE_STRLEN] = "-", want[SMTPSTATUS_CODE_STRLEN] = "-";
        if (out.has_enhanced)
            smtpstatus_code_format(out.enhanced, got, sizeof got);
        if (c->has_enhanced)
            smtpstatus_code_format(c->enhanced, want, sizeof want);
        MISMATCH("enhanced %s, want %s\n", got, want);
    }
    if (strcmp(smtpstatus_kind_name(out.kind), c->kind) != 0)
        MISMATCH("kind %s, want %s\n", smtpstatus_kind_name(out.kind), c->kind);
    /* These corpora check the parser: the reason engine's verdicts are test_reason's. A reason
     * that overrides the class flips the code's retry and says so. */
    const unsigned reason_bits =
        SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS | SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE;
    int want_retry = (out.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS) ? !c->retry
                                                                               : c->retry;
    if (out.retry != want_retry)
        MISMATCH("retry %d, want %d\n", out.retry, want_retry);
    if ((out.problems & ~reason_bits) != c->problems)
        MISMATCH("problems %s, want %s\n",
                 problem_list(out.problems & ~reason_bits, got_p, sizeof got_p),
                 problem_list(c->problems, want_p, sizeof want_p));
    if (out.text_len != c->text_len || out.text_len >= TEXT_BUF_SIZE ||
        memcmp(text, c->text, c->text_len) != 0 || text[out.text_len] != '\0')
        MISMATCH("text \"%s\" (%zu), want \"%s\" (%zu)\n",
                 show(text, out.text_len < TEXT_BUF_SIZE ? out.text_len : TEXT_BUF_SIZE - 1),
                 out.text_len, show(c->text, c->text_len), c->text_len);
    if (out.has_enhanced &&
        (!code_equal(out.entry.code, out.enhanced) || out.entry.cls.title == NULL))
        MISMATCH("entry not filled for the enhanced code\n");
    if (!out.has_enhanced && (out.entry.title != NULL || out.entry.cls.title != NULL))
        MISMATCH("entry filled without an enhanced code\n");
#undef MISMATCH

    free(text);
    return ok;
}

/*
 * Runs every case of the corpus at `path` and fails if any field of any case differs, after
 * printing the count of cases, of cases whose two codes are both exact (the measure issue 12
 * sets for the held-out corpus) and of failures. Returns the number of cases.
 */
static unsigned
run_corpus(const char *path)
{
    const smtpstatus_image *img = smtpstatus_image_embedded();
    assert_non_null(img);
    size_t len;
    corpus_path = path;
    char *buf = testutil_read_file(path, &len);
    assert_int_equal(strlen(buf), len);

    static const char *names[CORPUS_MAX_CASES];
    unsigned cases = 0, failed = 0, codes_exact = 0, line = 0;
    char *next;
    for (char *s = buf; s != NULL && *s != '\0'; s = next) {
        line++;
        next = strchr(s, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (*s == '\0' || *s == '#')
            continue;
        struct corpus_case c;
        int codes_ok = 0;
        parse_case(s, line, &c);
        /* Names are unique, so that a failure message names one case. */
        for (unsigned i = 0; i < cases; i++) {
            if (strcmp(names[i], c.name) == 0)
                fail_msg("%s line %u: duplicate case name %s", path, line, c.name);
        }
        if (cases == CORPUS_MAX_CASES)
            fail_msg("%s: more than %d cases", path, CORPUS_MAX_CASES);
        names[cases++] = c.name;
        if (!check_case(img, &c, &codes_ok))
            failed++;
        codes_exact += codes_ok != 0;
        free(c.reply);
        free(c.text);
    }
    free(buf);
    print_message("%s: %u reply cases, %u with both codes exact, %u failed\n", path, cases,
                  codes_exact, failed);
    assert_int_equal(failed, 0);
    return cases;
}

static void
test_corpus(void **state)
{
    (void)state;
    assert_true(run_corpus(CORPUS_PATH) >= CORPUS_MIN_CASES);
}

/* Replies as they reach helpers: wrapped in an MTA's or a DSN's words, nested, with the codes
 * doubled, apart or stripped, and vendors' pseudo-codes that are not codes. */
static void
test_corpus_wrapped(void **state)
{
    (void)state;
    assert_true(run_corpus(WRAPPED_CORPUS_PATH) >= CORPUS_MIN_CASES);
}

/* 5.7.26 is registered in data/; 5.7.708 is valid but not registered, and still gets its class
 * and subject. Without an image the entry stays all zero. */
static void
test_registry_entry(void **state)
{
    (void)state;
    const smtpstatus_image *img = smtpstatus_image_embedded();
    smtpstatus_classification out;
    assert_non_null(img);

    assert_int_equal(classify_exact(img, LIT("550-5.7.26 unauthenticated\r\n550 5.7.26 gone\r\n"),
                                    &out, NULL, 0),
                     0);
    assert_true(out.has_enhanced);
    assert_int_equal(out.entry.registered, 1);
    assert_int_equal(out.entry.subject_registered, 1);
    assert_non_null(out.entry.title);
    assert_string_equal(out.entry.subject.title, "Security or Policy Status");
    assert_non_null(out.entry.cls.title);
    assert_int_equal(out.entry.code.cls, 5);
    assert_int_equal(out.entry.code.subject, 7);
    assert_int_equal(out.entry.code.detail, 26);

    assert_int_equal(classify_exact(img, LIT("550 5.7.708 denied\r\n"), &out, NULL, 0), 0);
    assert_true(out.has_enhanced);
    assert_int_equal(out.entry.registered, 0);
    assert_int_equal(out.entry.subject_registered, 1);
    assert_null(out.entry.title);
    assert_string_equal(out.entry.subject.title, "Security or Policy Status");
    assert_int_equal(out.entry.code.detail, 708);

    assert_int_equal(classify_exact(NULL, LIT("550 5.7.26 gone\r\n"), &out, NULL, 0), 0);
    assert_true(out.has_enhanced);
    assert_int_equal(out.entry.registered, 0);
    assert_null(out.entry.title);
    assert_null(out.entry.subject.title);
    assert_null(out.entry.cls.title);

    assert_int_equal(classify_exact(img, LIT("250 OK\r\n"), &out, NULL, 0), 0);
    assert_false(out.has_enhanced);
    assert_null(out.entry.cls.title);
}

/* Compares an origin span with the expected bytes, or with none for NULL. */
static void
assert_span(const char *span, size_t len, const char *want)
{
    if (want == NULL) {
        assert_null(span);
        assert_int_equal(len, 0);
        return;
    }
    assert_non_null(span);
    if (len != strlen(want) || memcmp(span, want, len) != 0)
        fail_msg("span \"%.*s\", want \"%s\"", (int)len, span, want);
}

/* smtpstatus_classify_origin(): where the reply was, what wrapped it, and the outer reply of
 * a nested one, as spans of the caller's input. */
static void
test_origin(void **state)
{
    (void)state;
    static const char nested[] =
        "host relay.example.net[192.0.2.30] said: 554 5.0.0 <a@example.com>: "
        "host mx.example.com[198.51.100.2] said: 550 5.1.1 no such user "
        "(in reply to RCPT TO command)";
    static const char exchange[] = "Remote Server returned '< #5.0.0 smtp;550 5.1.1 No such user>'";
    static const char plain[] = "550-5.1.1 first\r\n550 5.1.1 second\r\n";
    smtpstatus_classification out;
    smtpstatus_reply_origin o;
    char text[256];
    const smtpstatus_image *img = smtpstatus_image_embedded();

    assert_int_equal(
        smtpstatus_classify_origin(img, nested, sizeof nested - 1, &out, text, sizeof text, &o), 0);
    assert_int_equal(out.basic, 550);
    assert_int_equal(out.enhanced.detail, 1);
    assert_int_equal(o.found, SMTPSTATUS_FOUND_WRAPPED | SMTPSTATUS_FOUND_NESTED);
    assert_int_equal(o.outer_basic, 554);
    assert_true(o.outer_has_enhanced);
    assert_int_equal(o.outer_enhanced.cls, 5);
    assert_int_equal(o.outer_enhanced.subject, 0);
    assert_int_equal(o.outer_enhanced.detail, 0);
    assert_span(o.outer, o.outer_len,
                "554 5.0.0 <a@example.com>: host mx.example.com[198.51.100.2] said:");
    assert_span(o.wrapper, o.wrapper_len,
                "host relay.example.net[192.0.2.30] said: 554 5.0.0 <a@example.com>: host "
                "mx.example.com[198.51.100.2] said:");
    assert_span(o.reply, o.reply_len, "550 5.1.1 no such user (in reply to RCPT TO command)");
    assert_string_equal(text, "no such user (in reply to RCPT TO command)");

    /* Exchange's own #5.0.0 is the outer reply, with no basic code. */
    assert_int_equal(smtpstatus_classify_origin(NULL, exchange, sizeof exchange - 1, &out, text,
                                                sizeof text, &o),
                     0);
    assert_int_equal(out.basic, 550);
    assert_int_equal(o.outer_basic, 0);
    assert_true(o.outer_has_enhanced);
    assert_int_equal(o.outer_enhanced.cls, 5);
    assert_span(o.wrapper, o.wrapper_len, "Remote Server returned '< #5.0.0 smtp;");
    assert_span(o.reply, o.reply_len, "550 5.1.1 No such user");
    assert_string_equal(text, "No such user");

    /* A reply as received: no wrapper, no outer; the reply is every line, without the last
     * line ending. */
    assert_int_equal(smtpstatus_classify_origin(NULL, plain, sizeof plain - 1, &out, NULL, 0, &o),
                     0);
    assert_int_equal(o.found, 0);
    assert_span(o.wrapper, o.wrapper_len, NULL);
    assert_span(o.outer, o.outer_len, NULL);
    assert_int_equal(o.outer_basic, 0);
    assert_false(o.outer_has_enhanced);
    assert_span(o.reply, o.reply_len, "550-5.1.1 first\r\n550 5.1.1 second");

    assert_int_equal(smtpstatus_classify_origin(NULL, LIT("554 554 5.7.0 no"), &out, NULL, 0, &o),
                     0);
    assert_int_equal(o.found, SMTPSTATUS_FOUND_DOUBLED);
    assert_int_equal(
        smtpstatus_classify_origin(NULL, LIT("450 cuda_nsu 4.7.1 x"), &out, NULL, 0, &o), 0);
    assert_int_equal(o.found, SMTPSTATUS_FOUND_ENHANCED_IN_TEXT);
    assert_int_equal(smtpstatus_classify_origin(NULL, LIT("5.7.8 Username"), &out, NULL, 0, &o), 0);
    assert_int_equal(o.found, SMTPSTATUS_FOUND_ENHANCED_ALONE);

    /* No code: ENOREPLY and an empty origin; EINVAL leaves it untouched; NULL is allowed. */
    memset(&o, 'Z', sizeof o);
    assert_int_equal(smtpstatus_classify_origin(NULL, LIT("hello"), &out, NULL, 0, &o),
                     SMTPSTATUS_ENOREPLY);
    assert_int_equal(o.found, 0);
    assert_null(o.reply);
    memset(&o, 'Z', sizeof o);
    assert_int_equal(smtpstatus_classify_origin(NULL, "x", 1, NULL, NULL, 0, &o),
                     SMTPSTATUS_EINVAL);
    assert_int_equal(o.found, 0x5a5a5a5au);
    assert_int_equal(smtpstatus_classify_origin(NULL, LIT("250 OK"), &out, NULL, 0, NULL), 0);
}

/* Client libraries', logs' and transcripts' shapes (issue 12): a code in the client's or the
 * log's words is replaced by the reply that follows it, not nested in it; a transcript's
 * reply is its server line without the marker, and the MTA's summary after it is context. */
static void
test_origin_client_and_logs(void **state)
{
    (void)state;
    static const char swift[] =
        "Expected response code 354 but got code \"503\", with message \"503 RCPT first (#5.5.1)\"";
    static const char postfix_log[] = "dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] "
                                      "said: 550 5.1.1 no such user (in reply to RCPT TO command))";
    static const char transcript[] = "... while talking to mx.example.com.:\n>>> DATA\n"
                                     "<<< 550 5.6.9 bad header\n554 5.0.0 Service unavailable\n";
    smtpstatus_classification out;
    smtpstatus_reply_origin o;
    char text[256];

    assert_int_equal(
        smtpstatus_classify_origin(NULL, swift, sizeof swift - 1, &out, text, sizeof text, &o), 0);
    assert_int_equal(out.basic, 503);
    assert_true(out.has_enhanced);
    assert_int_equal(out.enhanced.subject, 5);
    assert_int_equal(o.found & SMTPSTATUS_FOUND_NESTED, 0);
    assert_span(o.reply, o.reply_len, "503 RCPT first (#5.5.1)");
    assert_string_equal(text, "RCPT first (#5.5.1)");

    assert_int_equal(smtpstatus_classify_origin(NULL, postfix_log, sizeof postfix_log - 1, &out,
                                                NULL, 0, &o),
                     0);
    assert_int_equal(out.basic, 550);
    assert_int_equal(o.found, SMTPSTATUS_FOUND_WRAPPED);
    assert_int_equal(o.outer_basic, 0);
    assert_false(o.outer_has_enhanced);

    assert_int_equal(
        smtpstatus_classify_origin(NULL, LIT("relay=none, dsn=4.4.1, status=deferred"), &out, NULL,
                                   0, &o),
        0);
    assert_int_equal(out.basic, 0);
    assert_int_equal(out.enhanced.cls, 4);
    assert_int_equal(o.found, SMTPSTATUS_FOUND_WRAPPED | SMTPSTATUS_FOUND_ENHANCED_ALONE);
    assert_span(o.wrapper, o.wrapper_len, "relay=none, dsn=");

    assert_int_equal(smtpstatus_classify_origin(NULL, transcript, sizeof transcript - 1, &out, text,
                                                sizeof text, &o),
                     0);
    assert_int_equal(out.basic, 550);
    assert_int_equal(out.enhanced.detail, 9);
    assert_int_equal(out.problems, 0);
    assert_int_equal(o.found, 0);
    assert_span(o.wrapper, o.wrapper_len, NULL);
    assert_span(o.reply, o.reply_len, "550 5.6.9 bad header");
    assert_string_equal(text, "bad header");
}

/* Every buffer size from 0 up: text_len is always the full length, the buffer always ends in
 * a NUL within its size, holds a prefix of the text, and nothing past its size is written. */
static void
test_text_buffer_sizes(void **state)
{
    (void)state;
    static const char reply[] = "250-abc\r\n250-5.0.0 de\r\n250 fgh\r\n";
    static const char want[] = "abc\nde\nfgh";
    const size_t want_len = sizeof want - 1;

    for (size_t size = 0; size <= want_len + 3; size++) {
        char buf[32];
        smtpstatus_classification out;
        memset(buf, 'Z', sizeof buf);
        int rc = classify_exact(NULL, reply, sizeof reply - 1, &out, size > 0 ? buf : NULL, size);
        assert_int_equal(rc, 0);
        assert_int_equal(out.text_len, want_len);
        assert_int_equal(out.basic, 250);
        assert_int_equal(out.line_count, 3);
        if (size > 0) {
            size_t kept = want_len < size - 1 ? want_len : size - 1;
            assert_memory_equal(buf, want, kept);
            assert_int_equal(buf[kept], '\0');
            assert_int_equal(strlen(buf), kept);
        }
        for (size_t i = size; i < sizeof buf; i++) {
            if (buf[i] != 'Z')
                fail_msg("size %zu: byte %zu written past the buffer", size, i);
        }
    }
}

/* A buffer too short for the text is cut between characters, never inside one: the text stays
 * well-formed UTF-8 at every size, and holds every character that fits whole. */
static void
test_text_buffer_cut_between_characters(void **state)
{
    (void)state;
    /* "é" (2 bytes), "€" (3), "𝄞" (4), and ASCII between them. */
    static const char reply[] = "550 5.1.1 a\xc3\xa9"
                                "b\xe2\x82\xac\xf0\x9d\x84\x9ez\r\n";
    static const char want[] = "a\xc3\xa9"
                               "b\xe2\x82\xac\xf0\x9d\x84\x9ez";
    static const size_t starts[] = {0, 1, 3, 4, 7, 11, 12, 13}; /* where characters begin */
    const size_t want_len = sizeof want - 1;

    for (size_t size = 1; size <= want_len + 1; size++) {
        char buf[32];
        smtpstatus_classification out;
        memset(buf, 'Z', sizeof buf);
        assert_int_equal(classify_exact(NULL, reply, sizeof reply - 1, &out, buf, size), 0);
        assert_int_equal(out.text_len, want_len);
        size_t kept = 0; /* the longest run of whole characters that fits with the NUL */
        for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
            if (starts[i] <= size - 1)
                kept = starts[i];
        if (strlen(buf) != kept || memcmp(buf, want, kept) != 0)
            fail_msg("size %zu: kept %zu bytes, want the %zu of whole characters", size,
                     strlen(buf), kept);
        assert_int_equal(buf[size], 'Z');
    }
}

static void
test_invalid_arguments(void **state)
{
    (void)state;
    smtpstatus_classification out;
    char text[16];

    assert_int_equal(smtpstatus_classify(NULL, "250 OK", 6, NULL, text, sizeof text),
                     SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_classify(NULL, NULL, 6, &out, text, sizeof text),
                     SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_classify(NULL, "250 OK", 6, &out, NULL, 4), SMTPSTATUS_EINVAL);

    /* A NULL reply of length 0 is an empty reply, not an error. */
    memset(text, 'Z', sizeof text);
    assert_int_equal(smtpstatus_classify(NULL, NULL, 0, &out, text, sizeof text),
                     SMTPSTATUS_ENOREPLY);
    assert_int_equal(out.problems, SMTPSTATUS_PROBLEM_NO_CODE);
    assert_int_equal(out.line_count, 0);
    assert_int_equal(out.text_len, 0);
    assert_string_equal(text, "");
    assert_int_equal(smtpstatus_classify(NULL, "250 OK", 6, &out, NULL, 0), 0);
    assert_int_equal(out.text_len, 2);
}

/* ENOREPLY still fills *out and the text; a '#' code alone is enough to answer. */
static void
test_no_reply(void **state)
{
    (void)state;
    smtpstatus_classification out;
    char text[64];

    assert_int_equal(classify_exact(NULL, LIT("connection reset\r\n"), &out, text, sizeof text),
                     SMTPSTATUS_ENOREPLY);
    assert_int_equal(out.basic, 0);
    assert_false(out.has_enhanced);
    assert_int_equal(out.kind, SMTPSTATUS_KIND_UNKNOWN);
    assert_int_equal(out.retry, 0);
    assert_int_equal(out.line_count, 1);
    assert_int_equal(out.problems, SMTPSTATUS_PROBLEM_MALFORMED_LINE | SMTPSTATUS_PROBLEM_NO_CODE);
    assert_string_equal(text, "connection reset");

    assert_int_equal(classify_exact(NULL, LIT("try later #4.3.2"), &out, text, sizeof text), 0);
    assert_int_equal(out.basic, 0);
    assert_true(out.has_enhanced);
    assert_int_equal(out.kind, SMTPSTATUS_KIND_TRANSIENT);
    assert_int_equal(out.retry, 1);
}

/* Lines are counted as received: a final line ending does not start another line. */
static void
test_line_count(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        unsigned lines;
    } cases[] = {
        {"", 0},         {"250", 1},     {"250 OK\r\n", 1}, {"250 OK\r\n\r\n", 2},
        {"\n", 1},       {"a\nb\nc", 3}, {"a\nb\nc\n", 3},  {"250-a\r\n250-b\r\n250 c\r\n", 3},
        {"\r\n\r\n", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smtpstatus_classification out;
        classify_exact(NULL, cases[i].reply, strlen(cases[i].reply), &out, NULL, 0);
        if (out.line_count != cases[i].lines)
            fail_msg("\"%s\": %u lines, want %u", show(cases[i].reply, strlen(cases[i].reply)),
                     out.line_count, cases[i].lines);
    }
}

/* Only reply[0..len) is read, even when more valid-looking bytes follow in memory. */
static void
test_length_respected(void **state)
{
    (void)state;
    static const char reply[] = "250 OK\r\n550 5.1.1 no\r\n";
    smtpstatus_classification out;
    char text[64];

    assert_int_equal(smtpstatus_classify(NULL, reply, 8, &out, text, sizeof text), 0);
    assert_int_equal(out.basic, 250);
    assert_false(out.has_enhanced);
    assert_int_equal(out.problems, 0);
    assert_int_equal(out.line_count, 1);
    assert_string_equal(text, "OK");
}

/* Fills buf[0..len) with a well-formed 250 reply of lines under 510 octets that ends exactly at
 * len with "250 end\r\n". len must leave room for one "250-x\r\n" line before that. */
static void
fill_long_reply(char *buf, size_t len)
{
    static const char last[] = "250 end\r\n";
    const size_t body = len - (sizeof last - 1);
    size_t pos = 0;

    while (pos < body) {
        /* The last continuation takes what is left, so that no line is shorter than 7. */
        size_t n = body - pos >= 107 ? 100 : body - pos;
        assert_true(n >= 7);
        memcpy(buf + pos, "250-", 4);
        memset(buf + pos + 4, 'a', n - 6);
        memcpy(buf + pos + n - 2, "\r\n", 2);
        pos += n;
    }
    memcpy(buf + body, last, sizeof last - 1);
}

/* SMTPSTATUS_CLASSIFY_MAX bytes are read in full; one byte more is cut off and marked. */
static void
test_input_over_max(void **state)
{
    (void)state;
    const size_t max = SMTPSTATUS_CLASSIFY_MAX;
    char *buf = malloc(max + 1);
    smtpstatus_classification out;
    char text[32];
    assert_non_null(buf);

    fill_long_reply(buf, max);
    assert_int_equal(smtpstatus_classify(NULL, buf, max, &out, text, sizeof text), 0);
    assert_int_equal(out.basic, 250);
    assert_int_equal(out.problems, 0);

    /* A NUL past the limit: were it read, BAD_CHARACTER and MALFORMED_LINE would be set. */
    buf[max] = '\0';
    assert_int_equal(smtpstatus_classify(NULL, buf, max + 1, &out, text, sizeof text), 0);
    assert_int_equal(out.basic, 250);
    assert_int_equal(out.problems, SMTPSTATUS_PROBLEM_TRUNCATED);
    free(buf);

    /* Far over the limit, all in one line of digits and dots. */
    size_t big = 4 * max;
    buf = malloc(big);
    assert_non_null(buf);
    memcpy(buf, "550 ", 4);
    for (size_t i = 4; i < big; i++)
        buf[i] = i % 2 ? '.' : '1';
    assert_int_equal(smtpstatus_classify(NULL, buf, big, &out, text, sizeof text), 0);
    assert_int_equal(out.basic, 550);
    assert_false(out.has_enhanced);
    assert_int_equal(out.text_len, max - 4);
    assert_int_equal(out.problems, SMTPSTATUS_PROBLEM_TRUNCATED | SMTPSTATUS_PROBLEM_LINE_TOO_LONG |
                                       SMTPSTATUS_PROBLEM_IP_NOT_CODE);
    free(buf);
}

/* A UTF-8 character that ends exactly at SMTPSTATUS_CLASSIFY_MAX is kept; one that the limit
 * cuts in two is ill-formed, as if the reply ended there, and its first byte becomes '?'. */
static void
test_utf8_at_max(void **state)
{
    (void)state;
    const size_t max = SMTPSTATUS_CLASSIFY_MAX;
    char *buf = malloc(max + 1);
    char *text = malloc(max + 1);
    smtpstatus_classification out;
    assert_non_null(buf);
    assert_non_null(text);

    fill_long_reply(buf, max - 7);
    memcpy(buf + max - 7, "250 a\xc3\xbc", 7);
    assert_int_equal(smtpstatus_classify(NULL, buf, max, &out, text, max + 1), 0);
    assert_int_equal(out.problems, 0);
    assert_true(out.text_len >= 4);
    assert_memory_equal(text + out.text_len - 4, "\na\xc3\xbc", 4);

    fill_long_reply(buf, max - 6);
    memcpy(buf + max - 6, "250 a\xc3\xbc", 7);
    assert_int_equal(smtpstatus_classify(NULL, buf, max + 1, &out, text, max + 1), 0);
    assert_int_equal(out.problems, SMTPSTATUS_PROBLEM_TRUNCATED | SMTPSTATUS_PROBLEM_BAD_CHARACTER);
    assert_true(out.text_len >= 3);
    assert_memory_equal(text + out.text_len - 3, "\na?", 3);
    assert_int_equal(text[out.text_len], '\0');

    free(text);
    free(buf);
}

static void
test_problem_names(void **state)
{
    (void)state;
    static const unsigned defined[] = {
        SMTPSTATUS_PROBLEM_BASIC_MISMATCH,   SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH,
        SMTPSTATUS_PROBLEM_CLASS_MISMATCH,   SMTPSTATUS_PROBLEM_MALFORMED_LINE,
        SMTPSTATUS_PROBLEM_TRUNCATED,        SMTPSTATUS_PROBLEM_IP_NOT_CODE,
        SMTPSTATUS_PROBLEM_NO_CODE,          SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ,
        SMTPSTATUS_PROBLEM_MISSING_ENHANCED, SMTPSTATUS_PROBLEM_LINE_TOO_LONG,
        SMTPSTATUS_PROBLEM_BAD_CHARACTER,    SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR,
        SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS, SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE,
    };
    const size_t n = sizeof defined / sizeof defined[0];
    unsigned all = 0;

    for (size_t i = 0; i < n; i++) {
        const char *name = smtpstatus_problem_name(defined[i]);
        if (name == NULL)
            fail_msg("problem 0x%x has no name", defined[i]);
        assert_true(strlen(name) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, smtpstatus_problem_name(defined[j]));
        all |= defined[i];
    }
    assert_string_equal(smtpstatus_problem_name(SMTPSTATUS_PROBLEM_CLASS_MISMATCH),
                        "class_mismatch");
    for (unsigned b = 1; b != 0; b <<= 1) {
        if ((all & b) == 0 && smtpstatus_problem_name(b) != NULL)
            fail_msg("undefined problem bit 0x%x has a name", b);
    }
    assert_null(smtpstatus_problem_name(0));
    assert_null(smtpstatus_problem_name(SMTPSTATUS_PROBLEM_TRUNCATED | SMTPSTATUS_PROBLEM_NO_CODE));
}

static void
test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(smtpstatus_kind_name(SMTPSTATUS_KIND_SUCCESS), "success");
    assert_string_equal(smtpstatus_kind_name(SMTPSTATUS_KIND_INTERMEDIATE), "intermediate");
    assert_string_equal(smtpstatus_kind_name(SMTPSTATUS_KIND_TRANSIENT), "transient");
    assert_string_equal(smtpstatus_kind_name(SMTPSTATUS_KIND_PERMANENT), "permanent");
    assert_string_equal(smtpstatus_kind_name(SMTPSTATUS_KIND_UNKNOWN), "unknown");
    assert_string_equal(smtpstatus_kind_name((smtpstatus_kind)1), "unknown");
    assert_string_equal(smtpstatus_kind_name((smtpstatus_kind)6), "unknown");
    assert_string_equal(smtpstatus_kind_name((smtpstatus_kind)-1), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_corpus_wrapped),
        cmocka_unit_test(test_registry_entry),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_origin_client_and_logs),
        cmocka_unit_test(test_text_buffer_sizes),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_no_reply),
        cmocka_unit_test(test_line_count),
        cmocka_unit_test(test_length_respected),
        cmocka_unit_test(test_input_over_max),
        cmocka_unit_test(test_utf8_at_max),
        cmocka_unit_test(test_text_buffer_cut_between_characters),
        cmocka_unit_test(test_problem_names),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
