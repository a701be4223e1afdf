/*
 * libFuzzer target for the reply classifier (client/src/classify.c): arbitrary bytes are
 * classified as a received reply, so that AddressSanitizer reports any read past the reply or
 * write past the caller's text buffer, and the result is checked against the contract in
 * smtpstatus.h. The input is copied into a heap buffer of exactly its size, and classified
 * three times: with no text buffer and no image, with a small heap text buffer whose size
 * follows the input's length (1 to 16 bytes, so every cut point gets tried), and with a heap
 * buffer large enough for any text and the embedded image. The three answers must agree, the
 * small text must be the prefix of the large one that fits whole, and the large one must be exactly text_len
 * bytes long, valid UTF-8 (by the library's own smtpstatus__utf8_char()) and free of the C0, DEL
 * and C1 controls the classifier replaces, TAB and LF aside. Any broken invariant aborts with a
 * message. tests/fuzz/README.md says how to run the targets.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

#include "../../client/src/utf8.h"

/* Text is never longer than the input read, which stops at SMTPSTATUS_CLASSIFY_MAX. */
#define BIG_TEXT_SIZE  (SMTPSTATUS_CLASSIFY_MAX + 1u)
#define SMALL_TEXT_MAX 16u

#define ALL_PROBLEMS                                                                               \
    (SMTPSTATUS_PROBLEM_BASIC_MISMATCH | SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH |                    \
     SMTPSTATUS_PROBLEM_CLASS_MISMATCH | SMTPSTATUS_PROBLEM_MALFORMED_LINE |                       \
     SMTPSTATUS_PROBLEM_TRUNCATED | SMTPSTATUS_PROBLEM_IP_NOT_CODE | SMTPSTATUS_PROBLEM_NO_CODE |  \
     SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ | SMTPSTATUS_PROBLEM_MISSING_ENHANCED |                    \
     SMTPSTATUS_PROBLEM_LINE_TOO_LONG | SMTPSTATUS_PROBLEM_BAD_CHARACTER |                         \
     SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR | SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS |          \
     SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_reply_classify: %s\n", what);
    abort();
}

static int
code_equal(smtpstatus_code a, smtpstatus_code b)
{
    return a.cls == b.cls && a.subject == b.subject && a.detail == b.detail;
}

/* The invariants of one answer on its own, for an input of `size` bytes. */
static void
check_one(int rc, const smtpstatus_classification *c, size_t size)
{
    if (rc != 0 && rc != SMTPSTATUS_ENOREPLY)
        fail("classify returned an error other than ENOREPLY");
    if ((rc == SMTPSTATUS_ENOREPLY) != (c->basic == 0 && !c->has_enhanced))
        fail("ENOREPLY does not match the codes found");

    if (c->basic != 0) {
        uint16_t b;
        char digits[3] = {(char)('0' + c->basic / 100), (char)('0' + c->basic / 10 % 10),
                          (char)('0' + c->basic % 10)};
        int valid =
            c->basic >= 200 && c->basic <= 559 && smtpstatus_basic_parse(digits, 3, &b) == 0;
        int out_of_grammar = c->basic >= 460 && c->basic <= 599 && c->basic % 100 >= 60;
        if (!valid && !out_of_grammar)
            fail("basic code is not a reply code, even a 4yz or 5yz one out of grammar");
        /* The flag may come from another line of the reply, whose code the final one replaced. */
        if (out_of_grammar && (c->problems & SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR) == 0)
            fail("an out-of-grammar basic code without BASIC_OUT_OF_GRAMMAR");
    }
    if (c->has_enhanced) {
        char buf[SMTPSTATUS_CODE_STRLEN];
        smtpstatus_code back;
        if (c->enhanced.cls != 2 && c->enhanced.cls != 4 && c->enhanced.cls != 5)
            fail("enhanced class is not 2, 4 or 5");
        int n = smtpstatus_code_format(c->enhanced, buf, sizeof buf);
        if (n < 0 || smtpstatus_code_parse(buf, (size_t)n, 0, &back, NULL) != 0 ||
            !code_equal(back, c->enhanced))
            fail("enhanced code does not format and parse back");
    }

    smtpstatus_kind want = SMTPSTATUS_KIND_UNKNOWN;
    if (c->basic != 0)
        want = (smtpstatus_kind)(c->basic / 100);
    else if (c->has_enhanced)
        want = (smtpstatus_kind)c->enhanced.cls;
    if (c->kind != want)
        fail("kind does not follow the basic code, or the enhanced class without one");
    /* Retry follows the kind unless the reason overrode it, and then it says so. */
    if ((c->retry != (c->kind == SMTPSTATUS_KIND_TRANSIENT)) !=
        ((c->problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS) != 0))
        fail("retry differs from the kind without REASON_OVERRIDES_CLASS, or the reverse");
    if (smtpstatus_reason_name(c->reason) == NULL || c->rule == NULL || c->rule_note == NULL)
        fail("no reason or rule");
    if (c->recipient_invalid &&
        (c->reason != SMTPSTATUS_REASON_BAD_MAILBOX || c->retry || c->kind != SMTPSTATUS_KIND_PERMANENT))
        fail("recipient_invalid without a permanent bad-mailbox verdict");

    if ((c->problems & ~(unsigned)ALL_PROBLEMS) != 0)
        fail("undefined problem bit set");
    if (((c->problems & SMTPSTATUS_PROBLEM_NO_CODE) != 0) != (c->basic == 0))
        fail("NO_CODE does not match the basic code");
    if ((c->problems & SMTPSTATUS_PROBLEM_CLASS_MISMATCH) != 0 &&
        (!c->has_enhanced || c->basic == 0 || c->enhanced.cls == c->basic / 100))
        fail("CLASS_MISMATCH without a mismatch");
    if (((c->problems & SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ) != 0) !=
        (c->has_enhanced && c->basic / 100 == 3))
        fail("ENHANCED_ON_3YZ does not match the codes");
    if (size > SMTPSTATUS_CLASSIFY_MAX && (c->problems & SMTPSTATUS_PROBLEM_TRUNCATED) == 0)
        fail("input over SMTPSTATUS_CLASSIFY_MAX not marked TRUNCATED");

    size_t read = size < SMTPSTATUS_CLASSIFY_MAX ? size : SMTPSTATUS_CLASSIFY_MAX;
    if ((c->line_count == 0) != (size == 0))
        fail("line_count is 0 for a non-empty input, or not 0 for an empty one");
    if (c->text_len > read)
        fail("text longer than the input read");
}

/* Every span of the origin lies within the input read, and the origin is empty without a code. */
static void
check_origin(int rc, const smtpstatus_reply_origin *o, const char *reply, size_t size)
{
    size_t read = size < SMTPSTATUS_CLASSIFY_MAX ? size : SMTPSTATUS_CLASSIFY_MAX;
    const char *spans[3] = {o->reply, o->wrapper, o->outer};
    const size_t lens[3] = {o->reply_len, o->wrapper_len, o->outer_len};

    for (int i = 0; i < 3; i++) {
        if (spans[i] == NULL
                ? lens[i] != 0
                : spans[i] < reply || lens[i] > read || (size_t)(spans[i] - reply) > read - lens[i])
            fail("an origin span lies outside the input");
    }
    if (rc == SMTPSTATUS_ENOREPLY && (o->found != 0 || o->reply != NULL))
        fail("origin filled without a code");
    if (rc == 0 && o->reply == NULL)
        fail("a reply was classified but the origin does not say where");
    if (((o->found & SMTPSTATUS_FOUND_NESTED) != 0) != (o->outer != NULL))
        fail("FOUND_NESTED does not match the outer span");
    if (((o->found & SMTPSTATUS_FOUND_WRAPPED) != 0) != (o->wrapper != NULL))
        fail("FOUND_WRAPPED does not match the wrapper span");
}

/* Field by field: the structs have padding. */
static void
check_same(const smtpstatus_classification *a, const smtpstatus_classification *b)
{
    if (a->basic != b->basic || a->has_enhanced != b->has_enhanced ||
        (a->has_enhanced && !code_equal(a->enhanced, b->enhanced)) || a->kind != b->kind ||
        a->retry != b->retry || a->problems != b->problems || a->line_count != b->line_count ||
        a->text_len != b->text_len)
        fail("answers differ with the text buffer or the image");
}

static void
check_entry(const smtpstatus_classification *with_img, const smtpstatus_classification *no_img)
{
    if (no_img->entry.title != NULL || no_img->entry.cls.title != NULL || no_img->entry.registered)
        fail("entry filled without an image");
    if (with_img->has_enhanced) {
        if (!code_equal(with_img->entry.code, with_img->enhanced))
            fail("entry is for another code");
        if (with_img->entry.registered && with_img->entry.title == NULL)
            fail("registered entry without a title");
    } else if (with_img->entry.title != NULL || with_img->entry.cls.title != NULL) {
        fail("entry filled without an enhanced code");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *big;
    const smtpstatus_image *img = smtpstatus_image_embedded();
    if (img == NULL)
        fail("the embedded image does not open");
    if (big == NULL && (big = malloc(BIG_TEXT_SIZE)) == NULL)
        return 0;

    char *reply = malloc(size > 0 ? size : 1);
    size_t small_size = size % SMALL_TEXT_MAX + 1;
    char *small = malloc(small_size);
    if (reply == NULL || small == NULL) {
        free(reply);
        free(small);
        return 0;
    }
    if (size > 0)
        memcpy(reply, data, size);

    smtpstatus_classification none, cut, full;
    int rc_none = smtpstatus_classify(NULL, reply, size, &none, NULL, 0);
    int rc_cut = smtpstatus_classify(NULL, reply, size, &cut, small, small_size);
    int rc_full = smtpstatus_classify(img, reply, size, &full, big, BIG_TEXT_SIZE);
    smtpstatus_classification where;
    smtpstatus_reply_origin origin;
    int rc_where = smtpstatus_classify_origin(NULL, reply, size, &where, NULL, 0, &origin);

    check_one(rc_none, &none, size);
    check_one(rc_cut, &cut, size);
    check_one(rc_full, &full, size);
    if (rc_none != rc_cut || rc_none != rc_full)
        fail("return codes differ with the text buffer or the image");
    check_same(&none, &cut);
    check_same(&none, &full);
    if (rc_where != rc_none)
        fail("smtpstatus_classify_origin() answers otherwise");
    check_same(&none, &where);
    check_origin(rc_where, &origin, reply, size);
    check_entry(&full, &cut);

    if (full.text_len >= BIG_TEXT_SIZE)
        fail("text does not fit the large buffer");
    if (strlen(big) != full.text_len)
        fail("large text is not text_len bytes up to its NUL");
    const unsigned char *t = (const unsigned char *)big;
    for (size_t i = 0; i < full.text_len;) {
        size_t l = smtpstatus__utf8_char(t + i, full.text_len - i);
        if (l == 0)
            fail("text is not valid UTF-8");
        if (l == 1 && ((t[i] < 0x20 && t[i] != '\t' && t[i] != '\n') || t[i] == 0x7f))
            fail("text holds a C0 control or DEL");
        if (l == 2 && t[i] == 0xC2 && t[i + 1] <= 0x9F)
            fail("text holds a C1 control");
        i += l;
    }
    /* A cut text ends between characters: before the first one that does not fit whole. */
    size_t room = full.text_len < small_size - 1 ? full.text_len : small_size - 1;
    size_t kept = strnlen(small, small_size);
    if (kept > room || memcmp(small, big, kept) != 0 || small[kept] != '\0' ||
        (kept < room && kept + smtpstatus__utf8_char(t + kept, full.text_len - kept) <= room))
        fail("small text is not the NUL-terminated prefix of the large one that fits whole");

    free(small);
    free(reply);
    return 0;
}
