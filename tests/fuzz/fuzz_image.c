/*
 * libFuzzer target for the registry image reader (client/src/image.c): validation by
 * smtpstatus_image_open(), then every kind of lookup over many codes, touching every string and
 * array an answer points at, so that AddressSanitizer reports any read outside the image that
 * validation let through.
 *
 * The input is copied into a heap buffer of exactly its size (malloc's alignment is at least
 * the 8 bytes the reader needs), so that a read one byte past the image is caught. An input is
 * opened as it is first. If that fails and the input is at least a header long, the header's
 * image_size is set to the input's length and its checksum recomputed, and it is opened again:
 * a mutated image almost never carries a matching checksum, and without this repair the
 * fuzzer would never get past the checksum to the table validation. Besides memory errors, the
 * target aborts when a lookup of a valid code fails or an answer breaks the contract in
 * smtpstatus.h. tests/fuzz/README.md says how to run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

/* Bounds on the work done for one input, so that an image with many records stays fast. */
#define FUZZ_GRID_SUBJECTS      16u /* subjects 0..15, plus 999 and those in the image */
#define FUZZ_GRID_DETAILS       40u /* details 0..39, plus 999 */
#define FUZZ_MAX_TABLE_SUBJECTS 64u
#define FUZZ_MAX_CODES          4096u
#define FUZZ_MAX_ASSOC_LOOKUPS  8u /* per basic code */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_image: %s\n", what);
    abort();
}

static void
touch(const char *s)
{
    if (s != NULL)
        sink += strlen(s);
}

static void
touch_part(const smtpstatus_image *img, const smtpstatus_part *p)
{
    touch(p->title);
    touch(p->description);
    touch(p->reference);
    touch(p->submitter);
    touch(p->change_controller);
    for (uint32_t i = 0; i < p->field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_part_field(img, p, i, &f) != 0)
            fail("part field below field_count not found");
        touch(f.name);
        touch(f.value);
    }
    smtpstatus_field f;
    if (smtpstatus_image_part_field(img, p, p->field_count, &f) != SMTPSTATUS_EINVAL)
        fail("part field at field_count did not fail with EINVAL");
}

static void
touch_entry(const smtpstatus_image *img, const smtpstatus_entry *e)
{
    touch_part(img, &e->cls);
    touch_part(img, &e->subject);
    touch(e->title);
    touch(e->description);
    touch(e->reference);
    touch(e->submitter);
    touch(e->change_controller);
    touch(e->basic_codes_raw);
    if (e->registered &&
        (e->title == NULL || e->description == NULL || e->reference == NULL ||
         e->submitter == NULL || e->change_controller == NULL || e->basic_codes_raw == NULL))
        fail("a registered entry has a NULL string");
    if (!e->registered && (e->title != NULL || e->basic_code_count != 0 || e->field_count != 0))
        fail("an unregistered entry has code fields");
    if (!e->subject_registered && e->subject.title != NULL)
        fail("an unregistered subject has a title");
    for (uint32_t k = 0; k < e->basic_code_count; k++) {
        uint16_t b = e->basic_codes[k];
        if (b < SMTPSTATUS_IMAGE_BASIC_MIN || b > SMTPSTATUS_IMAGE_BASIC_MAX)
            fail("associated basic code out of range");
        sink += b;
    }
    for (uint32_t i = 0; i < e->field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(img, e, i, &f) != 0)
            fail("entry field below field_count not found");
        touch(f.name);
        touch(f.value);
    }
    smtpstatus_field f;
    if (smtpstatus_image_entry_field(img, e, e->field_count, &f) != SMTPSTATUS_EINVAL)
        fail("entry field at field_count did not fail with EINVAL");
}

static void
lookup(const smtpstatus_image *img, uint8_t cls, uint16_t subject, uint16_t detail)
{
    smtpstatus_code code = {cls, subject, detail};
    smtpstatus_entry e;
    int valid = (cls == 0 || cls == 2 || cls == 4 || cls == 5) &&
                subject <= SMTPSTATUS_IMAGE_MAX_SUBJECT && detail <= SMTPSTATUS_IMAGE_MAX_DETAIL;
    int rc = smtpstatus_image_lookup(img, code, &e);
    if (!valid) {
        if (rc != SMTPSTATUS_EINVAL)
            fail("lookup of an invalid code did not fail with EINVAL");
        return;
    }
    if (rc != 0)
        fail("lookup of a valid code failed");
    if (e.code.cls != cls || e.code.subject != subject || e.code.detail != detail)
        fail("lookup answered for another code");
    touch_entry(img, &e);
}

static void
lookup_grid(const smtpstatus_image *img)
{
    static const uint8_t classes[] = {0, 2, 4, 5};
    uint32_t nsub = smtpstatus_image_subject_count(img);
    if (nsub > FUZZ_MAX_TABLE_SUBJECTS)
        nsub = FUZZ_MAX_TABLE_SUBJECTS;
    for (uint32_t s = 0; s < FUZZ_GRID_SUBJECTS + 1 + nsub; s++) {
        uint16_t subject;
        if (s < FUZZ_GRID_SUBJECTS) {
            subject = (uint16_t)s;
        } else if (s == FUZZ_GRID_SUBJECTS) {
            subject = SMTPSTATUS_IMAGE_MAX_SUBJECT;
        } else {
            smtpstatus_part p;
            if (smtpstatus_image_subject_at(img, s - FUZZ_GRID_SUBJECTS - 1, &subject, &p) != 0)
                fail("subject_at below subject_count failed");
            if (subject < FUZZ_GRID_SUBJECTS)
                continue;
        }
        for (size_t c = 0; c < sizeof classes; c++) {
            for (uint16_t d = 0; d < FUZZ_GRID_DETAILS; d++)
                lookup(img, classes[c], subject, d);
            lookup(img, classes[c], subject, SMTPSTATUS_IMAGE_MAX_DETAIL);
        }
    }
    /* Out of range: every one must fail with EINVAL. */
    lookup(img, 1, 1, 1);
    lookup(img, 3, 1, 1);
    lookup(img, 9, 0, 0);
    lookup(img, 255, 0, 0);
    lookup(img, 5, SMTPSTATUS_IMAGE_MAX_SUBJECT + 1, 0);
    lookup(img, 5, 0, SMTPSTATUS_IMAGE_MAX_DETAIL + 1);
    lookup(img, 0, UINT16_MAX, UINT16_MAX);
}

static void
walk_tables(const smtpstatus_image *img)
{
    uint32_t n = smtpstatus_image_class_count(img);
    for (uint32_t i = 0; i <= n; i++) {
        uint8_t digit = 0;
        smtpstatus_part p;
        int rc = smtpstatus_image_class_at(img, i, &digit, &p);
        if (i == n) {
            if (rc != SMTPSTATUS_EINVAL)
                fail("class_at(class_count) did not fail with EINVAL");
            break;
        }
        if (rc != 0 || (digit != 2 && digit != 4 && digit != 5))
            fail("class_at below class_count failed or gave a bad digit");
        touch_part(img, &p);
    }

    n = smtpstatus_image_subject_count(img);
    for (uint32_t i = 0; i <= n; i++) {
        uint16_t subject = 0;
        smtpstatus_part p;
        int rc = smtpstatus_image_subject_at(img, i, &subject, &p);
        if (i == n) {
            if (rc != SMTPSTATUS_EINVAL)
                fail("subject_at(subject_count) did not fail with EINVAL");
            break;
        }
        if (rc != 0 || subject > SMTPSTATUS_IMAGE_MAX_SUBJECT)
            fail("subject_at below subject_count failed or gave a bad subject");
        touch_part(img, &p);
    }

    n = smtpstatus_image_code_count(img);
    for (uint32_t i = 0; i <= n && i <= FUZZ_MAX_CODES; i++) {
        smtpstatus_entry e;
        int rc = smtpstatus_image_code_at(img, i, &e);
        if (i == n) {
            if (rc != SMTPSTATUS_EINVAL)
                fail("code_at(code_count) did not fail with EINVAL");
            break;
        }
        if (rc != 0 || !e.registered || !e.subject_registered || e.code.cls != 0)
            fail("code_at below code_count did not give a registered class-free entry");
        touch_entry(img, &e);
    }
}

static void
touch_basic(const smtpstatus_image *img, const smtpstatus_basic *b)
{
    touch(b->text);
    touch(b->reference);
    for (uint32_t i = 0; i < b->assoc_count; i++) {
        smtpstatus_code code;
        smtpstatus_match m;
        if (smtpstatus_image_basic_assoc(img, b, i, &code, &m) != 0)
            fail("basic_assoc below assoc_count failed");
        if (code.cls != 0 || m < SMTPSTATUS_MATCH_EXACT || m > SMTPSTATUS_MATCH_ANY)
            fail("basic_assoc gave a bad code or match");
        if (i < FUZZ_MAX_ASSOC_LOOKUPS) {
            uint8_t cls = (uint8_t)(b->code / 100);
            lookup(img, cls == 2 || cls == 4 || cls == 5 ? cls : 0, code.subject, code.detail);
        }
    }
    smtpstatus_code code;
    smtpstatus_match m;
    if (smtpstatus_image_basic_assoc(img, b, b->assoc_count, &code, &m) != SMTPSTATUS_EINVAL)
        fail("basic_assoc(assoc_count) did not fail with EINVAL");
}

static void
walk_basics(const smtpstatus_image *img)
{
    for (uint32_t code = SMTPSTATUS_IMAGE_BASIC_MIN; code <= SMTPSTATUS_IMAGE_BASIC_MAX; code++) {
        smtpstatus_basic b;
        int rc = smtpstatus_image_lookup_basic(img, (uint16_t)code, &b);
        int valid = code / 10 % 10 <= 5;
        if (rc == 0) {
            if (!valid || b.code != code)
                fail("lookup_basic answered for an invalid or another code");
            touch_basic(img, &b);
        } else if (rc != (valid ? SMTPSTATUS_ENOTFOUND : SMTPSTATUS_EBASIC)) {
            fail("lookup_basic failed with an unexpected error");
        }
    }
    static const uint16_t invalid[] = {0, 1, 99, 199, 600, 999, 1000, 1250, UINT16_MAX};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        smtpstatus_basic b;
        if (smtpstatus_image_lookup_basic(img, invalid[i], &b) != SMTPSTATUS_EBASIC)
            fail("lookup_basic of an invalid code did not fail with EBASIC");
    }

    uint32_t n = smtpstatus_image_basic_count(img);
    for (uint32_t i = 0; i <= n; i++) {
        smtpstatus_basic b;
        int rc = smtpstatus_image_basic_at(img, i, &b);
        if (i == n) {
            if (rc != SMTPSTATUS_EINVAL)
                fail("basic_at(basic_count) did not fail with EINVAL");
            break;
        }
        if (rc != 0 || b.code < SMTPSTATUS_IMAGE_BASIC_MIN || b.code > SMTPSTATUS_IMAGE_BASIC_MAX)
            fail("basic_at below basic_count failed or gave a bad code");
        touch(b.text);
        touch(b.reference);
    }
}

static void
exercise(const smtpstatus_image *img)
{
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(img, &sum);
    touch(sum.source);
    if (sum.class_count != smtpstatus_image_class_count(img) ||
        sum.subject_count != smtpstatus_image_subject_count(img) ||
        sum.code_count != smtpstatus_image_code_count(img) ||
        sum.basic_count != smtpstatus_image_basic_count(img))
        fail("summary counts differ from the table counts");
    walk_tables(img);
    lookup_grid(img);
    walk_basics(img);
}

/* Makes the header's image_size and both checksums agree with buf[0..len). */
static void
repair_header(unsigned char *buf, size_t len)
{
    uint64_t size = len;
    memcpy(buf + offsetof(struct smtpstatus_image_header, image_size), &size, sizeof size);
    uint64_t db = smtpstatus_image_rules_db_checksum(buf, len);
    memcpy(buf + offsetof(struct smtpstatus_image_header, rules_db_checksum), &db, sizeof db);
    uint64_t sum = smtpstatus_image_checksum(buf, len);
    memcpy(buf + offsetof(struct smtpstatus_image_header, checksum), &sum, sizeof sum);
}

static void
check_open_result(int rc, const smtpstatus_image *img)
{
    if (rc == 0 ? img == NULL : img != NULL)
        fail("smtpstatus_image_open() result and handle disagree");
    if (rc != 0 && strcmp(smtpstatus_err_name(rc), "UNKNOWN") == 0)
        fail("smtpstatus_image_open() returned an error with no name");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    if ((uintptr_t)buf % SMTPSTATUS_IMAGE_ALIGN != 0)
        fail("malloc returned a buffer that is not 8-byte aligned");
    if (size > 0)
        memcpy(buf, data, size);

    smtpstatus_image *img = NULL;
    int rc = smtpstatus_image_open(buf, size, &img);
    check_open_result(rc, img);
    if (rc != 0 && size >= sizeof(struct smtpstatus_image_header)) {
        repair_header(buf, size);
        rc = smtpstatus_image_open(buf, size, &img);
        check_open_result(rc, img);
    }
    if (rc == 0)
        exercise(img);
    smtpstatus_image_close(img);
    free(buf);
    return 0;
}
