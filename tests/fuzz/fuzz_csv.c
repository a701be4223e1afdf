/*
 * libFuzzer target for the registry loader: CSV reader, column mapping, basic-code parsing and
 * validation (daemon/csv.c, daemon/registry.c, daemon/basic_assoc.c), and, for every input that
 * loads, the image builder and the reader that must accept what it builds.
 *
 * An input is the three IANA tables (classes, subjects, enumerated codes) joined by a form
 * feed byte (0x0C), which the CSV reader refuses as a control character, so no table can need
 * one. A missing table is empty; further form feeds stay in the codes table. Each table is
 * copied into a heap buffer of exactly its length so that AddressSanitizer sees a read past
 * its end. Besides memory errors, the target aborts when the loader breaks its contract (a
 * failure without an error, a success with one), when a registry that loaded cannot be built
 * or its image opened, or when a lookup in the image disagrees with the registry it was built
 * from. tests/fuzz/README.md says how to run it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "image_build.h"
#include "registry.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define FUZZ_SEPARATOR '\f'

/* Codes cross-checked against the image per input, to bound the time of one run. */
#define FUZZ_MAX_CHECKED_CODES 256u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

/* Stops the run with a message: the fuzzer reports an abort as a crash, with the input. */
static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_csv: %s\n", what);
    abort();
}

static void
expect_str(const char *image_str, const char *registry_str, const char *what)
{
    if (image_str == NULL || registry_str == NULL || strcmp(image_str, registry_str) != 0)
        fail(what);
}

static void
check_part(const smtpstatus_image *img, const smtpstatus_part *part, const struct registry_text *t)
{
    expect_str(part->title, t->title, "part title differs from the registry");
    expect_str(part->description, t->description, "part description differs");
    expect_str(part->reference, t->reference, "part reference differs");
    expect_str(part->submitter, t->submitter, "part submitter differs");
    expect_str(part->change_controller, t->change_controller, "part change controller differs");
    if (part->field_count != t->field_count)
        fail("part field count differs");
    for (uint32_t i = 0; i < part->field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_part_field(img, part, i, &f) != 0)
            fail("part field lookup failed");
        expect_str(f.name, t->fields[i].name, "part field name differs");
        expect_str(f.value, t->fields[i].value, "part field value differs");
    }
}

/* Checks that the image answers for code X.S.D what the registry says about it. */
static void
check_code(const smtpstatus_image *img, const struct registry *r, const struct registry_code *c,
           uint8_t cls)
{
    smtpstatus_code code = {cls, c->subject, c->detail};
    smtpstatus_entry e;
    if (smtpstatus_image_lookup(img, code, &e) != 0)
        fail("lookup of a registered code failed");
    if (!e.registered || !e.subject_registered)
        fail("registered code not found in the image");
    if (registry_find_code(r, c->subject, c->detail) != c)
        fail("registry_find_code() does not find a loaded code");
    expect_str(e.title, c->text.title, "code title differs from the registry");
    expect_str(e.description, c->text.description, "code description differs");
    expect_str(e.reference, c->text.reference, "code reference differs");
    expect_str(e.submitter, c->text.submitter, "code submitter differs");
    expect_str(e.change_controller, c->text.change_controller, "code change controller differs");
    expect_str(e.basic_codes_raw, c->basic_raw, "code basic_codes_raw differs");
    if (e.flags != c->flags || e.line != c->text.line || e.assoc_flags != c->assoc.flags ||
        e.basic_classes != c->assoc.classes || e.basic_code_count != c->assoc.count)
        fail("code flags, line or associations differ");
    for (uint32_t k = 0; k < e.basic_code_count; k++)
        if (e.basic_codes[k] != c->assoc.codes[k])
            fail("associated basic code differs");
    if (e.field_count != c->text.field_count)
        fail("code field count differs");
    for (uint32_t i = 0; i < e.field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(img, &e, i, &f) != 0)
            fail("code field lookup failed");
        expect_str(f.name, c->text.fields[i].name, "code field name differs");
        expect_str(f.value, c->text.fields[i].value, "code field value differs");
    }

    /* Each exact associated basic code must list this code back among its exact matches,
     * which come before the others. */
    for (uint32_t k = 0; k < c->assoc.count; k++) {
        smtpstatus_basic b;
        if (smtpstatus_image_lookup_basic(img, c->assoc.codes[k], &b) != 0)
            fail("associated basic code has no record");
        int found = 0;
        for (uint32_t i = 0; i < b.assoc_count && !found; i++) {
            smtpstatus_code back;
            smtpstatus_match m;
            if (smtpstatus_image_basic_assoc(img, &b, i, &back, &m) != 0)
                fail("basic association lookup failed");
            if (m != SMTPSTATUS_MATCH_EXACT)
                break;
            found = back.subject == c->subject && back.detail == c->detail;
        }
        if (!found)
            fail("basic code does not list its associated enhanced code as an exact match");
    }
}

static void
check_image(const smtpstatus_image *img, const struct registry *r)
{
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(img, &sum);
    if (sum.class_count != r->class_count || sum.subject_count != r->subject_count ||
        sum.code_count != r->code_count || sum.source_digest != r->source_digest)
        fail("image summary differs from the registry");
    expect_str(sum.source, r->source, "image source differs");

    for (size_t i = 0; i < r->class_count; i++) {
        const struct registry_part *p = &r->classes[i];
        smtpstatus_code code = {(uint8_t)p->number, 0, 0};
        smtpstatus_entry e;
        if (smtpstatus_image_lookup(img, code, &e) != 0)
            fail("lookup in a registered class failed");
        check_part(img, &e.cls, &p->text);
    }
    for (size_t i = 0; i < r->subject_count; i++) {
        const struct registry_part *p = &r->subjects[i];
        smtpstatus_code code = {0, p->number, SMTPSTATUS_IMAGE_MAX_DETAIL};
        smtpstatus_entry e;
        if (smtpstatus_image_lookup(img, code, &e) != 0 || !e.subject_registered)
            fail("registered subject not found in the image");
        check_part(img, &e.subject, &p->text);
    }

    static const uint8_t classes[] = {0, 2, 4, 5};
    size_t n = r->code_count < FUZZ_MAX_CHECKED_CODES ? r->code_count : FUZZ_MAX_CHECKED_CODES;
    for (size_t i = 0; i < n; i++)
        check_code(img, r, &r->codes[i], classes[i % sizeof classes]);

    /* A few codes whatever the registry holds, registered or not, and two out of range. */
    static const smtpstatus_code fixed[] = {
        {2, 0, 0}, {4, 4, 7}, {5, 1, 1}, {5, 7, 28}, {5, 999, 999}, {0, 1, 1}, {2, 6, 0},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        smtpstatus_entry e;
        if (smtpstatus_image_lookup(img, fixed[i], &e) != 0)
            fail("lookup of a valid code failed");
        sink += e.registered ? strlen(e.title) : 0;
    }
    smtpstatus_entry e;
    if (smtpstatus_image_lookup(img, (smtpstatus_code){5, 1000, 0}, &e) != SMTPSTATUS_EINVAL ||
        smtpstatus_image_lookup(img, (smtpstatus_code){3, 1, 1}, &e) != SMTPSTATUS_EINVAL)
        fail("lookup of an invalid code did not fail with EINVAL");
}

/* Returns a heap copy of p[0..n) of exactly n bytes (one byte when n is 0). */
static char *
copy_exact(const uint8_t *p, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);
    if (c == NULL)
        abort();
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[REGISTRY_TABLES] = {
        "fuzz/" REGISTRY_FILE_CLASSES, "fuzz/" REGISTRY_FILE_SUBJECTS, "fuzz/" REGISTRY_FILE_CODES};
    struct registry_input in[REGISTRY_TABLES];
    char *bufs[REGISTRY_TABLES];

    size_t start = 0;
    for (int t = 0; t < REGISTRY_TABLES; t++) {
        size_t end = start;
        if (t < REGISTRY_TABLES - 1) {
            while (end < size && data[end] != FUZZ_SEPARATOR)
                end++;
        } else {
            end = size;
        }
        size_t len = end - start;
        bufs[t] = copy_exact(len > 0 ? data + start : NULL, len);
        in[t] = (struct registry_input){.name = names[t], .data = bufs[t], .len = len};
        start = end < size ? end + 1 : size;
    }

    struct diag d;
    diag_init(&d);
    struct registry *r = NULL;
    int rc = registry_load_buffers(in, "fuzz", &r, &d);
    if (rc != 0 && (r != NULL || d.errors == 0))
        fail("registry_load_buffers() failed without an error, or returned a registry");
    if (rc == 0 && (r == NULL || d.errors != 0))
        fail("registry_load_buffers() succeeded with errors");
    for (size_t i = 0; i < d.count; i++) {
        char line[256];
        int n = diag_format(&d.items[i], line, sizeof line);
        if (n < 0 || strlen(line) != ((size_t)n < sizeof line ? (size_t)n : sizeof line - 1))
            fail("diag_format() returned a length that does not match its output");
    }

    if (rc == 0) {
        struct image_build_options opt = {.generation = 1, .built_at = 0};
        void *buf = NULL;
        size_t len = 0;
        int brc = image_build(r, &opt, &buf, &len);
        if (brc != 0 && brc != SMTPSTATUS_EINVAL && brc != SMTPSTATUS_ENOMEM) {
            fprintf(stderr, "fuzz_csv: image_build: %s\n", smtpstatus_err_name(brc));
            fail("image_build() made an image that the reader refuses");
        }
        if (brc == 0) {
            smtpstatus_image *img = NULL;
            int orc = smtpstatus_image_open(buf, len, &img);
            if (orc != 0) {
                fprintf(stderr, "fuzz_csv: smtpstatus_image_open: %s\n", smtpstatus_err_name(orc));
                fail("a built image does not open");
            }
            check_image(img, r);
            smtpstatus_image_close(img);
            free(buf);
        }
    }

    registry_free(r);
    diag_free(&d);
    for (int t = 0; t < REGISTRY_TABLES; t++)
        free(bufs[t]);
    return 0;
}
