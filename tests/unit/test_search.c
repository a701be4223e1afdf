/*
 * Unit tests for the bounded search (search.c): a query's words are folded and their repeats
 * dropped, more than SEARCH_MAX_WORDS different words are refused, and matching against the
 * text folded once per registry finds exactly what smtpstatus_entry_matches() finds, whether
 * the text was made with malloc (the daemon, per registry) or in an arena (one answer).
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "search.h"

static void
test_words(void **state)
{
    (void)state;
    struct search_words w;
    char folded[64];
    const char *q = "  Mailbox\tFULL mailbox  full MAILBOX ";
    assert_int_equal(search_words_parse(q, strlen(q), folded, &w), 0);
    assert_int_equal(w.count, 2);
    assert_int_equal(w.len[0], 7);
    assert_memory_equal(w.word[0], "mailbox", 7);
    assert_memory_equal(w.word[1], "full", 4);
    assert_int_equal(search_words_parse("", 0, folded, &w), 0);
    assert_int_equal(w.count, 0);
}

static void
test_word_cap(void **state)
{
    (void)state;
    char q[4096], folded[4096];
    size_t n = 0;
    for (int i = 0; i < SEARCH_MAX_WORDS; i++)
        n += (size_t)snprintf(q + n, sizeof q - n, "w%d ", i);
    /* Repeats of the words already there are free: 30,000 of them cost nothing more. */
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(q + n, sizeof q - n, "W1 ");
    struct search_words w;
    assert_true(n < sizeof q - 8);
    assert_int_equal(search_words_parse(q, n, folded, &w), 0);
    assert_int_equal(w.count, SEARCH_MAX_WORDS);
    n += (size_t)snprintf(q + n, sizeof q - n, "one-more");
    assert_int_equal(search_words_parse(q, n, folded, &w), SMTPSTATUS_EINVAL);
}

/* Every code of the embedded image, for several queries: the folded text answers as the
 * public rule does. */
static void
test_same_as_entry_matches(void **state)
{
    (void)state;
    const smtpstatus_image *img = smtpstatus_image_embedded();
    struct search_text heap, in_arena;
    struct arena a = {0};
    assert_int_equal(search_text_build(img, NULL, &heap), 0);
    assert_int_equal(search_text_build(img, &a, &in_arena), 0);
    assert_int_equal(heap.count, smtpstatus_image_code_count(img));
    static const char *const queries[] = {"mailbox",
                                          "MAILBOX full",
                                          "address",
                                          "system\tnot",
                                          "",
                                          "zzz",
                                          ". . .",
                                          "delivery AUTHENTICATION",
                                          "mailbox\nfull"};
    size_t hits = 0;
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        char folded[64];
        struct search_words w;
        assert_int_equal(search_words_parse(queries[q], strlen(queries[q]), folded, &w), 0);
        for (uint32_t i = 0; i < heap.count; i++) {
            smtpstatus_entry e;
            smtpstatus_image_code_at(img, i, &e);
            int want = smtpstatus_entry_matches(&e, queries[q]);
            assert_int_equal(search_text_matches(&heap, i, &w), want);
            assert_int_equal(search_text_matches(&in_arena, i, &w), want);
            hits += (size_t)want;
        }
    }
    assert_true(hits > heap.count); /* the queries do find codes */
    search_text_free(&heap);
    search_text_free(&in_arena); /* leaves the arena's to the arena */
    arena_free(&a);
    search_text_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_word_cap),
        cmocka_unit_test(test_same_as_entry_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
