/*
 * The reason engine against tests/data/replies_reasons.tsv, the development corpus of issue 12:
 * real replies labelled by hand with the refusing server's codes, a reason, retry and
 * recipient_invalid (the file's header says how). Each reply is classified with the embedded
 * image (the built-in rules), from a heap copy of exactly its length, and the test prints four
 * accuracies: codes (basic and enhanced both exactly right, the parser's part), reason, retry
 * and recipient_invalid. With SMTPSTATUS_CORPUS_MISSES set in the environment it also prints
 * every case that misses, with what was expected and what came out, and the rule that decided.
 *
 * It asserts floors: the codes' accuracy now, and the reason's once the real built-in rules
 * are in data/reasons.csv (see REASON_FLOOR).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

#define CORPUS_PATH    PROJECT_DATA_DIR "/../tests/data/replies_reasons.tsv"
#define CORPUS_COLUMNS 8
#define CORPUS_MIN     300 /* the corpus has 376 cases; fewer means it was cut by mistake */

/* The parser finds both codes exactly in at least this share of the corpus: 360 of 376 (0.957)
 * today, some of the misses being labels that read a nested reply's codes differently. The
 * issue's goal, 0.99, is for the held-out corpus. */
#define CODES_FLOOR 0.95
/*
 * The share of the corpus whose reason is right: 372 of 376 (0.989) with the built-in rules of
 * this commit. The rules were first written without looking at the corpus (0.854), then
 * corrected where a miss showed a general wording or an ordering they lacked; the floor keeps
 * a few points of slack for rule changes that trade one case for another.
 */
#define REASON_FLOOR 0.95

static int
yes_no(const char *s, unsigned line)
{
    if (strcmp(s, "yes") == 0)
        return 1;
    if (strcmp(s, "no") == 0)
        return 0;
    fail_msg("%s line %u: \"%s\" is not yes or no", CORPUS_PATH, line, s);
    return -1;
}

/* Splits a line into its columns, in place; fails the test on a wrong count. */
static void
split_columns(char *s, unsigned line, char **col)
{
    for (int i = 0; i < CORPUS_COLUMNS; i++) {
        col[i] = s;
        char *tab = strchr(s, '\t');
        if (i == CORPUS_COLUMNS - 1) {
            if (tab != NULL)
                fail_msg("%s line %u: more than %d columns", CORPUS_PATH, line, CORPUS_COLUMNS);
            break;
        }
        if (tab == NULL)
            fail_msg("%s line %u: %d columns, want %d", CORPUS_PATH, line, i + 1, CORPUS_COLUMNS);
        *tab = '\0';
        s = tab + 1;
    }
}

struct tally {
    unsigned cases, codes, reason, retry, invalid;
};

/* Classifies one line's case, counts what is right, and prints it when it misses and `show`. */
static void
run_case(char *s, unsigned line, int show, struct tally *t)
{
    char *col[CORPUS_COLUMNS];
    split_columns(s, line, col);
    size_t len;
    char *reply = testutil_corpus_field(CORPUS_PATH, line, col[1], &len);
    uint16_t basic = (uint16_t)strtoul(col[2], NULL, 10);
    int has_enhanced = strcmp(col[3], "-") != 0;
    smtpstatus_code enhanced = {0, 0, 0};
    if (has_enhanced && smtpstatus_code_parse(col[3], strlen(col[3]), 0, &enhanced, NULL) != 0)
        fail_msg("%s line %u: bad enhanced code \"%s\"", CORPUS_PATH, line, col[3]);
    smtpstatus_reason reason = smtpstatus_reason_from_name(col[4], strlen(col[4]));
    if (reason == 0)
        fail_msg("%s line %u: unknown reason \"%s\"", CORPUS_PATH, line, col[4]);
    int retry = yes_no(col[5], line);
    int invalid = yes_no(col[6], line);

    smtpstatus_classification o;
    int rc = smtpstatus_classify(NULL, reply, len, &o, NULL, 0);
    assert_true(rc == 0 || rc == SMTPSTATUS_ENOREPLY);
    free(reply);

    int codes_ok = o.basic == basic && o.has_enhanced == has_enhanced &&
                   (!has_enhanced || (o.enhanced.cls == enhanced.cls &&
                                      o.enhanced.subject == enhanced.subject &&
                                      o.enhanced.detail == enhanced.detail));
    int reason_ok = o.reason == reason;
    int retry_ok = o.retry == retry;
    int invalid_ok = o.recipient_invalid == invalid;
    t->cases++;
    t->codes += codes_ok;
    t->reason += reason_ok;
    t->retry += retry_ok;
    t->invalid += invalid_ok;
    if (show && !(codes_ok && reason_ok && retry_ok && invalid_ok)) {
        char got_enh[SMTPSTATUS_CODE_STRLEN] = "-";
        if (o.has_enhanced)
            smtpstatus_code_format(o.enhanced, got_enh, sizeof got_enh);
        printf("miss %s (line %u):%s%s%s%s want %s %s %s retry=%s invalid=%s; got %u %s %s "
               "retry=%s invalid=%s rule=\"%s\"\n",
               col[0], line, codes_ok ? "" : " codes", reason_ok ? "" : " reason",
               retry_ok ? "" : " retry", invalid_ok ? "" : " invalid", col[2], col[3], col[4],
               col[5], col[6], o.basic, got_enh, smtpstatus_reason_name(o.reason),
               o.retry ? "yes" : "no", o.recipient_invalid ? "yes" : "no", o.rule);
    }
}

static void
test_reasons_corpus(void **state)
{
    (void)state;
    size_t len;
    char *buf = testutil_read_file(CORPUS_PATH, &len);
    assert_int_equal(strlen(buf), len);
    const char *env = getenv("SMTPSTATUS_CORPUS_MISSES");
    int show = env != NULL && *env != '\0' && strcmp(env, "0") != 0;

    struct tally t = {0};
    unsigned line = 0;
    char *next;
    for (char *s = buf; s != NULL && *s != '\0'; s = next) {
        line++;
        next = strchr(s, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (*s == '\0' || *s == '#')
            continue;
        run_case(s, line, show, &t);
    }
    free(buf);

    assert_true(t.cases >= CORPUS_MIN);
    double n = t.cases;
    printf("%s: %u cases\n", CORPUS_PATH, t.cases);
    printf("  codes exact        %3u  %.3f (floor %.2f)\n", t.codes, t.codes / n, CODES_FLOOR);
    printf("  reason             %3u  %.3f (floor %.2f)\n", t.reason, t.reason / n,
           REASON_FLOOR);
    printf("  retry              %3u  %.3f\n", t.retry, t.retry / n);
    printf("  recipient_invalid  %3u  %.3f\n", t.invalid, t.invalid / n);
    if (!show)
        printf("  (set SMTPSTATUS_CORPUS_MISSES=1 to list the misses)\n");
    assert_true(t.codes / n >= CODES_FLOOR);
    assert_true(t.reason / n >= REASON_FLOOR);
}

/*
 * Regression: classify() with a NULL image must use the embedded image's built-in rules also in
 * a program linked with the static library that never names smtpstatus_image_embedded()
 * itself, like this one (keep it so). reason.c used to reach the embedded image through a weak
 * reference, which does not pull embedded.o out of an archive: such a program got reason
 * "other" and no rule for every failure.
 */
static void
test_null_image_uses_builtin_rules(void **state)
{
    (void)state;
    static const char reply[] = "550 5.1.1 <nobody@example.com>: Recipient address rejected: "
                                "User unknown in virtual mailbox table";
    smtpstatus_classification o;
    assert_int_equal(smtpstatus_classify(NULL, reply, sizeof reply - 1, &o, NULL, 0), 0);
    assert_string_not_equal(o.rule, "");
    assert_int_equal(o.reason, SMTPSTATUS_REASON_BAD_MAILBOX);
    assert_true(o.recipient_invalid);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_image_uses_builtin_rules),
        cmocka_unit_test(test_reasons_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
