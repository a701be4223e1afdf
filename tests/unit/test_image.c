/*
 * Unit tests of the registry image: the builder (daemon/image_build.c) and the reader
 * (client/src/image.c), on an image built from the project's own data/. Lookups are checked
 * against named facts and against the loaded registry for every code and every basic reply
 * code; validation is checked against truncation at every length, single-byte corruption of
 * every byte, and structural corruption with the checksum recomputed, so that the table checks
 * (not the checksum) are what refuse it. Every image under test sits in a heap block of exactly
 * its size, so that ASan reports any read past its end; the random-corruption test then uses
 * every lookup on each corrupt image the reader accepts.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic_codes.h"
#include "image_build.h"
#include "registry.h"
#include "vendors.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

#include <xxhash.h>

#define TEST_GENERATION 42u
#define TEST_BUILT_AT   1700000000u
#define HDR_SIZE        sizeof(struct smtpstatus_image_header)
#define SUPERSEDED_OFF  offsetof(struct smtpstatus_image_header, superseded)
#define IMAGE_SIZE_OFF  offsetof(struct smtpstatus_image_header, image_size)
#define CHECKSUM_OFF    offsetof(struct smtpstatus_image_header, checksum)

/* The registry loaded from data/ and its image, built once for the whole run. */
static struct registry *reg;
static unsigned char *image;
static size_t image_len;
static smtpstatus_image *img;

static volatile size_t sink; /* keeps string reads from being optimised away */

/* ---- helpers -------------------------------------------------------------------------------- */

static struct registry *
load_registry(const char *dir)
{
    struct diag d;
    diag_init(&d);
    struct registry *r = NULL;
    int rc = registry_load_dir(dir, &r, &d);
    if (rc != 0 || d.errors != 0) {
        diag_print(&d, stdout);
        fail_msg("cannot load the registry in %s", dir);
    }
    diag_free(&d);
    assert_non_null(r);
    return r;
}

static unsigned char *
build(const struct registry *r, uint64_t generation, uint64_t built_at, size_t *len)
{
    struct image_build_options opt = {.generation = generation, .built_at = built_at};
    void *out = NULL;
    assert_int_equal(image_build(r, &opt, &out, len), 0);
    assert_non_null(out);
    assert_int_equal((uintptr_t)out % SMTPSTATUS_IMAGE_ALIGN, 0);
    return out;
}

/* A heap block of exactly `size` bytes (one, never read, when size is 0), 8-byte aligned,
 * holding the first `copy` bytes of src and zeros after them. The caller frees it. */
static unsigned char *
exact_copy(const void *src, size_t copy, size_t size)
{
    unsigned char *p = malloc(size > 0 ? size : 1);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % SMTPSTATUS_IMAGE_ALIGN, 0);
    size_t n = copy < size ? copy : size;
    memcpy(p, src, n);
    memset(p + n, 0, size - n);
    return p;
}

static struct smtpstatus_image_header *
hdr(unsigned char *buf)
{
    return (struct smtpstatus_image_header *)(void *)buf;
}

static struct smtpstatus_image_code *
codes_of(unsigned char *buf)
{
    return (struct smtpstatus_image_code *)(void *)(buf + hdr(buf)->codes_off);
}

static struct smtpstatus_image_subject *
subjects_of(unsigned char *buf)
{
    return (struct smtpstatus_image_subject *)(void *)(buf + hdr(buf)->subjects_off);
}

static struct smtpstatus_image_basic *
basics_of(unsigned char *buf)
{
    return (struct smtpstatus_image_basic *)(void *)(buf + hdr(buf)->basics_off);
}

static uint16_t *
u16_at(unsigned char *buf, uint32_t off)
{
    return (uint16_t *)(void *)(buf + off);
}

#define reseal testutil_image_reseal

/* Opens buf[0..len), closes it again, and returns what open returned. A failed open must leave
 * *out NULL. */
static int
try_open(const void *buf, size_t len)
{
    smtpstatus_image *h = (smtpstatus_image *)(uintptr_t)1;
    int rc = smtpstatus_image_open(buf, len, &h);
    if (rc != 0)
        assert_null(h);
    else
        assert_non_null(h);
    smtpstatus_image_close(h);
    return rc;
}

/* Index of code X.subject.detail in the image's code table (which is the registry's order). */
static uint32_t
code_index(uint16_t subject, uint16_t detail)
{
    for (size_t i = 0; i < reg->code_count; i++)
        if (reg->codes[i].subject == subject && reg->codes[i].detail == detail)
            return (uint32_t)i;
    fail_msg("X.%u.%u is not in the registry", subject, detail);
    return 0;
}

static smtpstatus_entry
lookup(const smtpstatus_image *im, uint8_t cls, uint16_t subject, uint16_t detail)
{
    smtpstatus_entry e;
    memset(&e, 0xA5, sizeof e);
    smtpstatus_code c = {cls, subject, detail};
    assert_int_equal(smtpstatus_image_lookup(im, c, &e), 0);
    assert_int_equal(e.code.cls, cls);
    assert_int_equal(e.code.subject, subject);
    assert_int_equal(e.code.detail, detail);
    return e;
}

static void
assert_part_null(const smtpstatus_part *p)
{
    assert_null(p->title);
    assert_null(p->description);
    assert_null(p->reference);
    assert_null(p->submitter);
    assert_null(p->change_controller);
    assert_int_equal(p->field_count, 0);
}

static void
assert_code_fields_null(const smtpstatus_entry *e)
{
    assert_int_equal(e->registered, 0);
    assert_null(e->title);
    assert_null(e->description);
    assert_null(e->reference);
    assert_null(e->submitter);
    assert_null(e->change_controller);
    assert_null(e->basic_codes_raw);
    assert_null(e->basic_codes);
    assert_int_equal(e->basic_code_count, 0);
    assert_int_equal(e->basic_classes, 0);
    assert_int_equal(e->assoc_flags, 0);
    assert_int_equal(e->flags, 0);
    assert_int_equal(e->line, 0);
    assert_int_equal(e->field_count, 0);
}

static void
assert_part_matches(const smtpstatus_image *im, const smtpstatus_part *p,
                    const struct registry_text *t)
{
    assert_string_equal(p->title, t->title);
    assert_string_equal(p->description, t->description);
    assert_string_equal(p->reference, t->reference);
    assert_string_equal(p->submitter, t->submitter);
    assert_string_equal(p->change_controller, t->change_controller);
    assert_int_equal(p->field_count, t->field_count);
    for (uint32_t k = 0; k < p->field_count; k++) {
        smtpstatus_field f;
        assert_int_equal(smtpstatus_image_part_field(im, p, k, &f), 0);
        assert_string_equal(f.name, t->fields[k].name);
        assert_string_equal(f.value, t->fields[k].value);
    }
}

/* Checks a registered entry against the registry's row, field by field. */
static void
assert_entry_matches(const smtpstatus_image *im, const smtpstatus_entry *e,
                     const struct registry_code *c)
{
    assert_int_equal(e->registered, 1);
    assert_int_equal(e->subject_registered, 1);
    assert_string_equal(e->title, c->text.title);
    assert_string_equal(e->description, c->text.description);
    assert_string_equal(e->reference, c->text.reference);
    assert_string_equal(e->submitter, c->text.submitter);
    assert_string_equal(e->change_controller, c->text.change_controller);
    assert_string_equal(e->basic_codes_raw, c->basic_raw);
    assert_int_equal(e->basic_code_count, c->assoc.count);
    assert_non_null(e->basic_codes);
    for (uint32_t k = 0; k < c->assoc.count; k++)
        assert_int_equal(e->basic_codes[k], c->assoc.codes[k]);
    assert_int_equal(e->basic_classes, c->assoc.classes);
    assert_int_equal(e->assoc_flags, c->assoc.flags);
    assert_int_equal(e->flags, c->flags);
    assert_int_equal(e->line, c->text.line);
    assert_int_equal(e->field_count, c->text.field_count);
    for (uint32_t k = 0; k < e->field_count; k++) {
        smtpstatus_field f;
        assert_int_equal(smtpstatus_image_entry_field(im, e, k, &f), 0);
        assert_string_equal(f.name, c->text.fields[k].name);
        assert_string_equal(f.value, c->text.fields[k].value);
    }
}

static int
group_setup(void **state)
{
    (void)state;
    reg = load_registry(testutil_project_data());
    image = build(reg, TEST_GENERATION, TEST_BUILT_AT, &image_len);
    return smtpstatus_image_open(image, image_len, &img);
}

static int
group_teardown(void **state)
{
    (void)state;
    smtpstatus_image_close(img);
    free(image);
    registry_free(reg);
    return 0;
}

/* ---- the built image ------------------------------------------------------------------------ */

static void
test_open_summary(void **state)
{
    (void)state;
    assert_non_null(img);
    assert_int_equal(image_len % SMTPSTATUS_IMAGE_ALIGN, 0);
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(img, &s);
    assert_int_equal(s.version, SMTPSTATUS_IMAGE_VERSION);
    assert_int_equal(s.generation, TEST_GENERATION);
    assert_int_equal(s.built_at, TEST_BUILT_AT);
    assert_int_equal(s.source_digest, reg->source_digest);
    assert_int_equal(s.size, image_len);
    assert_int_equal(s.checksum, smtpstatus_image_checksum(image, image_len));
    assert_string_equal(s.source, testutil_project_data());
    assert_int_equal(s.class_count, 3);
    assert_int_equal(s.subject_count, 8);
    assert_int_equal(s.code_count, 81);
    assert_int_equal(smtpstatus_image_class_count(img), 3);
    assert_int_equal(smtpstatus_image_subject_count(img), 8);
    assert_int_equal(smtpstatus_image_code_count(img), 81);
    assert_int_equal(smtpstatus_image_basic_count(img), s.basic_count);
    assert_true(s.basic_count > 0);
    assert_int_equal(hdr(image)->superseded, 0);
    assert_memory_equal(image, SMTPSTATUS_IMAGE_MAGIC, SMTPSTATUS_IMAGE_MAGIC_LEN);
    assert_int_equal(hdr(image)->header_size, HDR_SIZE);
}

static void
test_lookup_registered(void **state)
{
    (void)state;
    smtpstatus_entry e = lookup(img, 5, 1, 1);
    assert_int_equal(e.registered, 1);
    assert_int_equal(e.subject_registered, 1);
    assert_string_equal(e.title, "Bad destination mailbox address");
    assert_string_equal(e.cls.title, "Permanent Failure");
    assert_string_equal(e.subject.title, "Addressing Status");
    assert_string_equal(e.basic_codes_raw, "451, 550");
    assert_int_equal(e.basic_code_count, 2);
    assert_int_equal(e.basic_codes[0], 451);
    assert_int_equal(e.basic_codes[1], 550);
    assert_int_equal(e.basic_classes, 0);
    assert_int_equal(e.assoc_flags, 0);
    assert_int_equal(e.flags, 0);
    assert_int_equal(e.line, 4); /* data/smtp-enhanced-status-codes-3.csv line 4 */
    assert_string_equal(e.submitter, "G. Vaudreuil");
    assert_string_equal(e.change_controller, "IESG");

    e = lookup(img, 4, 2, 2);
    assert_int_equal(e.registered, 1);
    assert_string_equal(e.title, "Mailbox full");
    assert_string_equal(e.cls.title, "Persistent Transient Failure");
    assert_int_equal(e.basic_code_count, 1);
    assert_int_equal(e.basic_codes[0], 552);

    /* The class-free form: the code and subject are there, the class part is all NULL. */
    e = lookup(img, 0, 1, 1);
    assert_int_equal(e.registered, 1);
    assert_int_equal(e.subject_registered, 1);
    assert_string_equal(e.title, "Bad destination mailbox address");
    assert_string_equal(e.subject.title, "Addressing Status");
    assert_part_null(&e.cls);

    /* A two-digit detail. */
    e = lookup(img, 5, 1, 10);
    assert_int_equal(e.registered, 1);
    assert_string_equal(e.title, "Recipient address has null MX");
    assert_int_equal(e.basic_code_count, 1);
    assert_int_equal(e.basic_codes[0], 556);
}

static void
test_lookup_unregistered(void **state)
{
    (void)state;
    static const smtpstatus_code known_subject[] = {
        {5, 1, 99}, {5, 7, 708}, {2, 0, 999}, {4, 1, 98}, {0, 7, 31}};
    for (size_t i = 0; i < sizeof known_subject / sizeof known_subject[0]; i++) {
        smtpstatus_code c = known_subject[i];
        smtpstatus_entry e = lookup(img, c.cls, c.subject, c.detail);
        assert_int_equal(e.subject_registered, 1);
        assert_non_null(e.subject.title);
        assert_true(e.subject.title[0] != '\0');
        if (c.cls != 0)
            assert_non_null(e.cls.title);
        else
            assert_part_null(&e.cls);
        assert_code_fields_null(&e);
    }
    smtpstatus_entry e = lookup(img, 5, 7, 708);
    assert_string_equal(e.cls.title, "Permanent Failure");

    /* An unknown subject: only the class is known. */
    e = lookup(img, 5, 9, 1);
    assert_int_equal(e.subject_registered, 0);
    assert_part_null(&e.subject);
    assert_code_fields_null(&e);
    assert_string_equal(e.cls.title, "Permanent Failure");
    e = lookup(img, 0, 999, 999);
    assert_int_equal(e.subject_registered, 0);
    assert_part_null(&e.subject);
    assert_part_null(&e.cls);
    assert_code_fields_null(&e);
}

static void
test_lookup_associations(void **state)
{
    (void)state;
    smtpstatus_entry e = lookup(img, 2, 0, 0);
    assert_int_equal(e.registered, 1);
    assert_string_equal(e.cls.title, "Success");
    assert_string_equal(e.basic_codes_raw, "Any");
    assert_int_equal(e.assoc_flags, SMTPSTATUS_ASSOC_ANY);
    assert_int_equal(e.basic_code_count, 0);

    e = lookup(img, 5, 7, 17);
    assert_string_equal(e.basic_codes_raw, "5XX");
    assert_int_equal(e.basic_classes, 1u << 5);
    assert_int_equal(e.basic_code_count, 0);
    assert_int_equal(e.assoc_flags, 0);

    e = lookup(img, 4, 7, 15);
    assert_int_equal(e.basic_code_count, 2);
    assert_int_equal(e.basic_codes[0], 450);
    assert_int_equal(e.basic_codes[1], 550);
    assert_int_equal(e.basic_classes, (1u << 4) | (1u << 5));
    assert_true(e.assoc_flags & SMTPSTATUS_ASSOC_OTHERS_OK);
    assert_false(e.assoc_flags & SMTPSTATUS_ASSOC_ANY);

    /* X.6.10 has empty Sample Text and associated code: "" rather than NULL, and NOT_GIVEN. */
    e = lookup(img, 5, 6, 10);
    assert_int_equal(e.registered, 1);
    assert_non_null(e.title);
    assert_string_equal(e.title, "");
    assert_string_equal(e.basic_codes_raw, "");
    assert_string_equal(e.submitter, "");
    assert_int_equal(e.assoc_flags, SMTPSTATUS_ASSOC_NOT_GIVEN);
    assert_int_equal(e.basic_code_count, 0);

    e = lookup(img, 5, 1, 0);
    assert_string_equal(e.basic_codes_raw, "Not given");
    assert_int_equal(e.assoc_flags, SMTPSTATUS_ASSOC_NOT_GIVEN);
}

static void
test_lookup_out_of_range(void **state)
{
    (void)state;
    static const smtpstatus_code bad[] = {{5, 1000, 0}, {5, 0, 1000},     {3, 1, 1},
                                          {1, 1, 1},    {6, 1, 1},        {9, 1, 1},
                                          {255, 1, 1},  {0, 65535, 65535}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtpstatus_entry e;
        assert_int_equal(smtpstatus_image_lookup(img, bad[i], &e), SMTPSTATUS_EINVAL);
    }
    smtpstatus_entry e;
    assert_int_equal(smtpstatus_image_code_at(img, 81, &e), SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_image_code_at(img, UINT32_MAX, &e), SMTPSTATUS_EINVAL);
    smtpstatus_part p;
    uint8_t digit;
    uint16_t subject;
    assert_int_equal(smtpstatus_image_class_at(img, 3, &digit, &p), SMTPSTATUS_EINVAL);
    assert_int_equal(smtpstatus_image_subject_at(img, 8, &subject, &p), SMTPSTATUS_EINVAL);
    smtpstatus_basic b;
    assert_int_equal(smtpstatus_image_basic_at(img, smtpstatus_image_basic_count(img), &b),
                     SMTPSTATUS_EINVAL);
}

/* Every code, class and subject of the registry, through every lookup path. */
static void
test_lookup_matches_registry(void **state)
{
    (void)state;
    assert_int_equal(smtpstatus_image_code_count(img), reg->code_count);
    for (uint32_t i = 0; i < reg->code_count; i++) {
        const struct registry_code *c = &reg->codes[i];
        static const uint8_t classes[] = {0, 2, 4, 5};
        for (size_t k = 0; k < sizeof classes; k++) {
            smtpstatus_entry e = lookup(img, classes[k], c->subject, c->detail);
            assert_entry_matches(img, &e, c);
            const struct registry_part *sp = NULL;
            for (size_t j = 0; j < reg->subject_count; j++)
                if (reg->subjects[j].number == c->subject)
                    sp = &reg->subjects[j];
            assert_non_null(sp);
            assert_part_matches(img, &e.subject, &sp->text);
            if (classes[k] == 0)
                assert_part_null(&e.cls);
        }
        smtpstatus_entry e;
        memset(&e, 0xA5, sizeof e);
        assert_int_equal(smtpstatus_image_code_at(img, i, &e), 0);
        assert_int_equal(e.code.cls, 0);
        assert_int_equal(e.code.subject, c->subject);
        assert_int_equal(e.code.detail, c->detail);
        assert_entry_matches(img, &e, c);
        assert_part_null(&e.cls);
    }

    assert_int_equal(smtpstatus_image_class_count(img), reg->class_count);
    for (uint32_t i = 0; i < reg->class_count; i++) {
        uint8_t digit = 0;
        smtpstatus_part p;
        assert_int_equal(smtpstatus_image_class_at(img, i, &digit, &p), 0);
        assert_int_equal(digit, reg->classes[i].number);
        assert_part_matches(img, &p, &reg->classes[i].text);
        smtpstatus_entry e = lookup(img, digit, 0, 0);
        assert_part_matches(img, &e.cls, &reg->classes[i].text);
    }
    assert_int_equal(smtpstatus_image_subject_count(img), reg->subject_count);
    for (uint32_t i = 0; i < reg->subject_count; i++) {
        uint16_t subject = 0;
        smtpstatus_part p;
        assert_int_equal(smtpstatus_image_subject_at(img, i, &subject, &p), 0);
        assert_int_equal(subject, reg->subjects[i].number);
        assert_part_matches(img, &p, &reg->subjects[i].text);
    }

    /* Every valid code that is not in the registry answers as unregistered. */
    for (uint16_t s = 0; s <= 999; s++) {
        for (uint16_t d = 0; d <= 999; d += (d < 40 ? 1 : 37)) {
            if (registry_find_code(reg, s, d) != NULL)
                continue;
            smtpstatus_entry e = lookup(img, 4, s, d);
            assert_code_fields_null(&e);
            assert_int_equal(e.subject_registered, s <= 7);
        }
    }
}

/* ---- basic reply codes ---------------------------------------------------------------------- */

static const struct basic_code_def *
standard_basic(unsigned code)
{
    for (size_t i = 0; i < basic_codes_count; i++)
        if (basic_codes[i].code == code)
            return &basic_codes[i];
    return NULL;
}

static int
assoc_lists(const struct registry_code *c, unsigned code)
{
    for (uint32_t k = 0; k < c->assoc.count; k++)
        if (c->assoc.codes[k] == code)
            return 1;
    return 0;
}

/* Finds code X.subject.detail among the associations of basic `code` and returns its match
 * kind, or 0. */
static int
assoc_match(unsigned code, uint16_t subject, uint16_t detail)
{
    smtpstatus_basic b;
    assert_int_equal(smtpstatus_image_lookup_basic(img, (uint16_t)code, &b), 0);
    for (uint32_t i = 0; i < b.assoc_count; i++) {
        smtpstatus_code c;
        smtpstatus_match m;
        assert_int_equal(smtpstatus_image_basic_assoc(img, &b, i, &c, &m), 0);
        if (c.subject == subject && c.detail == detail)
            return (int)m;
    }
    return 0;
}

static void
test_basic_named(void **state)
{
    (void)state;
    smtpstatus_basic b;
    assert_int_equal(smtpstatus_image_lookup_basic(img, 550, &b), 0);
    assert_int_equal(b.code, 550);
    assert_int_equal(b.standard, 1);
    assert_string_equal(b.text, "Requested action not taken: mailbox unavailable");
    assert_string_equal(b.reference, "RFC 5321 4.2.3");
    assert_int_equal(assoc_match(550, 1, 1), SMTPSTATUS_MATCH_EXACT);
    assert_int_equal(assoc_match(550, 7, 1), SMTPSTATUS_MATCH_EXACT);
    assert_int_equal(assoc_match(550, 7, 15), SMTPSTATUS_MATCH_EXACT);
    assert_int_equal(assoc_match(550, 7, 17), SMTPSTATUS_MATCH_WILDCARD);
    assert_int_equal(assoc_match(550, 0, 0), SMTPSTATUS_MATCH_ANY);
    assert_int_equal(assoc_match(550, 2, 2), 0);
    assert_int_equal(assoc_match(550, 1, 0), 0); /* "Not given" */

    /* Every code whose row lists 550 is an exact match; the kinds come in order. */
    for (size_t i = 0; i < reg->code_count; i++)
        if (assoc_lists(&reg->codes[i], 550))
            assert_int_equal(assoc_match(550, reg->codes[i].subject, reg->codes[i].detail),
                             SMTPSTATUS_MATCH_EXACT);
    smtpstatus_match prev = SMTPSTATUS_MATCH_EXACT;
    for (uint32_t i = 0; i < b.assoc_count; i++) {
        smtpstatus_code c;
        smtpstatus_match m;
        assert_int_equal(smtpstatus_image_basic_assoc(img, &b, i, &c, &m), 0);
        assert_true(m >= prev);
        prev = m;
    }
    smtpstatus_code c;
    smtpstatus_match m;
    assert_int_equal(smtpstatus_image_basic_assoc(img, &b, b.assoc_count, &c, &m),
                     SMTPSTATUS_EINVAL);
    /* A forged reference range is checked against the image again. */
    smtpstatus_basic forged = b;
    forged.assoc_first_ = UINT32_MAX;
    assert_int_equal(smtpstatus_image_basic_assoc(img, &forged, 0, &c, &m), SMTPSTATUS_EINVAL);
    forged.assoc_first_ = hdr(image)->u32_count;
    assert_int_equal(smtpstatus_image_basic_assoc(img, &forged, 0, &c, &m), SMTPSTATUS_EINVAL);

    /* "Any" does not reach a 3yz reply, which carries no enhanced code. */
    assert_int_equal(smtpstatus_image_lookup_basic(img, 354, &b), 0);
    assert_int_equal(b.standard, 1);
    assert_int_equal(assoc_match(354, 0, 0), 0);

    assert_int_equal(smtpstatus_image_lookup_basic(img, 556, &b), 0);
    assert_int_equal(b.standard, 1);
    assert_string_equal(b.text, "Domain does not accept mail");
    assert_string_equal(b.reference, "RFC 7504 3");
    assert_int_equal(assoc_match(556, 1, 10), SMTPSTATUS_MATCH_EXACT);

    /* 422 is only in IANA's associations (X.7.12), not in any RFC. */
    assert_int_equal(smtpstatus_image_lookup_basic(img, 422, &b), 0);
    assert_int_equal(b.code, 422);
    assert_int_equal(b.standard, 0);
    assert_string_equal(b.text, "");
    assert_string_equal(b.reference, "");
    assert_int_equal(assoc_match(422, 7, 12), SMTPSTATUS_MATCH_EXACT);
}

static void
test_basic_errors(void **state)
{
    (void)state;
    smtpstatus_basic b;
    /* Second digit above 5 or first digit outside 2-5: not a reply code. */
    static const uint16_t invalid[] = {0,   1,   99,  100, 199, 260,  299,  399,
                                       560, 597, 599, 600, 999, 1000, 65535};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_int_equal(smtpstatus_image_lookup_basic(img, invalid[i], &b), SMTPSTATUS_EBASIC);
    /* Valid, but neither standard nor associated with any code. */
    static const uint16_t absent[] = {200, 201, 259, 456, 549, 559};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        assert_int_equal(smtpstatus_image_lookup_basic(img, absent[i], &b), SMTPSTATUS_ENOTFOUND);
}

/* Every number 0..1100 against an oracle made from the RFC table and the registry: a record
 * exactly for the valid codes that are standard or listed by some row, and its associations
 * are, in order, the codes that list it, then those that list its class, then "Any". */
static void
test_basic_matches_registry(void **state)
{
    (void)state;
    uint32_t records = 0;
    int prev_code = -1;
    for (unsigned code = 0; code <= 1100; code++) {
        int valid = code >= 200 && code <= 599 && code / 10 % 10 <= 5;
        const struct basic_code_def *def = valid ? standard_basic(code) : NULL;
        int listed = 0;
        for (size_t i = 0; valid && i < reg->code_count; i++)
            listed |= assoc_lists(&reg->codes[i], code);
        smtpstatus_basic b;
        int rc = smtpstatus_image_lookup_basic(img, (uint16_t)code, &b);
        if (!valid) {
            assert_int_equal(rc, SMTPSTATUS_EBASIC);
            continue;
        }
        if (def == NULL && !listed) {
            assert_int_equal(rc, SMTPSTATUS_ENOTFOUND);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(b.code, code);
        assert_int_equal(b.standard, def != NULL);
        assert_string_equal(b.text, def ? def->text : "");
        assert_string_equal(b.reference, def ? def->reference : "");

        /* The expected list, built the slow way. */
        uint32_t n = 0;
        for (int m = SMTPSTATUS_MATCH_EXACT; m <= SMTPSTATUS_MATCH_ANY; m++) {
            for (size_t i = 0; i < reg->code_count; i++) {
                const struct registry_code *c = &reg->codes[i];
                int want;
                if (assoc_lists(c, code))
                    want = SMTPSTATUS_MATCH_EXACT;
                else if (c->assoc.classes & (1u << (code / 100)))
                    want = SMTPSTATUS_MATCH_WILDCARD;
                else if ((c->assoc.flags & SMTPSTATUS_IMAGE_BASIC_ANY) && code / 100 != 3)
                    want = SMTPSTATUS_MATCH_ANY;
                else
                    want = 0;
                if (want != m)
                    continue;
                smtpstatus_code got;
                smtpstatus_match gm;
                assert_true(n < b.assoc_count);
                assert_int_equal(smtpstatus_image_basic_assoc(img, &b, n, &got, &gm), 0);
                assert_int_equal(got.cls, 0);
                assert_int_equal(got.subject, c->subject);
                assert_int_equal(got.detail, c->detail);
                assert_int_equal(gm, m);
                n++;
            }
        }
        assert_int_equal(b.assoc_count, n);

        /* basic_at enumerates the same records in ascending order. */
        smtpstatus_basic at;
        assert_int_equal(smtpstatus_image_basic_at(img, records, &at), 0);
        assert_int_equal(at.code, code);
        assert_true((int)at.code > prev_code);
        assert_int_equal(at.assoc_count, b.assoc_count);
        assert_int_equal(at.standard, b.standard);
        assert_ptr_equal(at.text, b.text);
        prev_code = (int)code;
        records++;
    }
    assert_int_equal(records, smtpstatus_image_basic_count(img));
}

/* ---- extra columns -------------------------------------------------------------------------- */

/* The value the test writes into the extra column of the row for `code`: empty for X.0.0, so
 * that an empty extra field is covered too. */
static void
flag_value(const char *code, char *buf, size_t size)
{
    if (strcmp(code, "X.0.0") == 0)
        buf[0] = '\0';
    else
        snprintf(buf, size, "flag %s", code);
}

/* Appends a column to every record of the CSV in[0..len): "Flag As" to the header, and
 * flag_value() of its first field to each row. Quote-aware; keeps the file's line endings.
 * Returns a malloc'd buffer and its length in *outlen. */
static char *
add_column(const char *in, size_t len, size_t *outlen)
{
    size_t cap = len * 2 + 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    int quoted = 0, header = 1;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] == '"')
            quoted = !quoted;
        if (i < len && (in[i] != '\n' || quoted))
            continue;
        if (i == len && start == len)
            break;
        size_t end = i;
        if (end > start && in[end - 1] == '\r')
            end--;
        char value[64];
        if (header) {
            snprintf(value, sizeof value, "Flag As");
        } else {
            assert_true(in[start] == '"');
            const char *q = memchr(in + start + 1, '"', end - start - 1);
            assert_non_null(q);
            char code[16];
            size_t clen = (size_t)(q - (in + start + 1));
            assert_true(clen < sizeof code);
            memcpy(code, in + start + 1, clen);
            code[clen] = '\0';
            flag_value(code, value, sizeof value);
        }
        header = 0;
        assert_true(n + (end - start) + strlen(value) + 8 + (i - end) < cap);
        memcpy(out + n, in + start, end - start);
        n += end - start;
        n += (size_t)sprintf(out + n, ",\"%s\"", value);
        size_t tail = (i < len ? i + 1 : i) - end;
        memcpy(out + n, in + end, tail);
        n += tail;
        start = i + 1;
    }
    *outlen = n;
    return out;
}

static void
copy_file(const char *from_dir, const char *to_dir, const char *name, int extra_column)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", from_dir, name);
    size_t len;
    char *data = testutil_read_file(path, &len);
    snprintf(path, sizeof path, "%s/%s", to_dir, name);
    if (extra_column) {
        size_t n;
        char *more = add_column(data, len, &n);
        testutil_write_file(path, more, n);
        free(more);
    } else {
        testutil_write_file(path, data, len);
    }
    free(data);
}

static void
test_extra_fields(void **state)
{
    (void)state;
    char dir[256];
    snprintf(dir, sizeof dir, "%s", testutil_tempdir());
    copy_file(testutil_project_data(), dir, REGISTRY_FILE_CLASSES, 0);
    copy_file(testutil_project_data(), dir, REGISTRY_FILE_SUBJECTS, 0);
    copy_file(testutil_project_data(), dir, REGISTRY_FILE_CODES, 1);
    struct registry *r = load_registry(dir);
    testutil_rmtree(dir);
    assert_int_equal(r->code_count, 81);

    size_t len;
    unsigned char *buf = build(r, 7, 8, &len);
    smtpstatus_image *im = NULL;
    assert_int_equal(smtpstatus_image_open(buf, len, &im), 0);

    for (uint32_t i = 0; i < r->code_count; i++) {
        smtpstatus_entry e;
        assert_int_equal(smtpstatus_image_code_at(im, i, &e), 0);
        assert_entry_matches(im, &e, &r->codes[i]);
        char code[SMTPSTATUS_CODE_STRLEN], want[64];
        assert_true(smtpstatus_code_format(e.code, code, sizeof code) > 0);
        flag_value(code, want, sizeof want);
        assert_int_equal(e.field_count, 1);
        smtpstatus_field f = {NULL, NULL};
        assert_int_equal(smtpstatus_image_entry_field(im, &e, 0, &f), 0);
        assert_string_equal(f.name, "Flag As");
        assert_string_equal(f.value, want);
        assert_int_equal(smtpstatus_image_entry_field(im, &e, 1, &f), SMTPSTATUS_EINVAL);
        assert_int_equal(smtpstatus_image_entry_field(im, &e, UINT32_MAX, &f), SMTPSTATUS_EINVAL);
        /* The class and subject tables have no extra column. */
        assert_int_equal(e.subject.field_count, 0);
        assert_int_equal(smtpstatus_image_part_field(im, &e.subject, 0, &f), SMTPSTATUS_EINVAL);
    }
    smtpstatus_entry e = lookup(im, 5, 1, 1);
    smtpstatus_field f;
    assert_int_equal(smtpstatus_image_entry_field(im, &e, 0, &f), 0);
    assert_string_equal(f.value, "flag X.1.1");
    assert_int_equal(e.cls.field_count, 0);
    assert_int_equal(smtpstatus_image_part_field(im, &e.cls, 0, &f), SMTPSTATUS_EINVAL);

    /* A forged field range in the entry is checked against the image again. */
    e.fields_first_ = UINT32_MAX;
    assert_int_equal(smtpstatus_image_entry_field(im, &e, 0, &f), SMTPSTATUS_EINVAL);
    e.fields_first_ = hdr(buf)->field_count;
    assert_int_equal(smtpstatus_image_entry_field(im, &e, 0, &f), SMTPSTATUS_EINVAL);

    /* An unregistered code has no fields. */
    e = lookup(im, 5, 1, 99);
    assert_int_equal(e.field_count, 0);
    assert_int_equal(smtpstatus_image_entry_field(im, &e, 0, &f), SMTPSTATUS_EINVAL);

    smtpstatus_image_close(im);
    free(buf);
    registry_free(r);
}

/* ---- validation ----------------------------------------------------------------------------- */

static void
test_truncated_every_length(void **state)
{
    (void)state;
    for (size_t n = 0; n < image_len; n++) {
        unsigned char *p = exact_copy(image, n, n);
        /* Shorter than the header, or shorter than the size the header states. */
        assert_int_equal(try_open(p, n), SMTPSTATUS_EIMG_TRUNCATED);
        free(p);
    }
}

static void
test_trailing_bytes(void **state)
{
    (void)state;
    for (size_t extra = 1; extra <= 8; extra++) {
        unsigned char *p = exact_copy(image, image_len, image_len + extra);
        assert_int_equal(try_open(p, image_len + extra), SMTPSTATUS_EIMG_SIZE);
        free(p);
    }
    /* A stated size that matches the buffer but is not a multiple of 8. */
    unsigned char *p = exact_copy(image, image_len, image_len + 4);
    hdr(p)->image_size = image_len + 4;
    reseal(p, image_len + 4);
    assert_int_equal(try_open(p, image_len + 4), SMTPSTATUS_EIMG_SIZE);
    free(p);
}

/* The error a single changed byte at `off` must give, given the header it produced. */
static int
expected_flip_error(size_t off, const unsigned char *p)
{
    if (off < SMTPSTATUS_IMAGE_MAGIC_LEN)
        return SMTPSTATUS_EIMG_MAGIC;
    if (off < SUPERSEDED_OFF) /* version, header_size */
        return SMTPSTATUS_EIMG_VERSION;
    if (off < SUPERSEDED_OFF + 8)
        return 0;
    if (off < IMAGE_SIZE_OFF + 8) {
        uint64_t size;
        memcpy(&size, p + IMAGE_SIZE_OFF, sizeof size);
        return size > image_len ? SMTPSTATUS_EIMG_TRUNCATED : SMTPSTATUS_EIMG_SIZE;
    }
    /* Anywhere else, the checksum. XXH3's steps are not all bijections as FNV-1a's were, so
     * some change could leave it as it was, with odds of about 2^-64 for each: none here does. */
    return SMTPSTATUS_EIMG_CHECKSUM;
}

static void
test_byte_flips(void **state)
{
    (void)state;
    unsigned char *p = exact_copy(image, image_len, image_len);
    const size_t pool = hdr(image)->strings_off;
    for (size_t off = 0; off < image_len; off++) {
        /* Every bit of the header and tables; in the string pool, where every change can only
         * be caught by the checksum, one bit per byte (moving with the offset) keeps the
         * run short under ASan. */
        for (unsigned bit = 0; bit < 8; bit++) {
            if (off >= pool && bit != off % 8)
                continue;
            p[off] ^= (unsigned char)(1u << bit);
            int want = expected_flip_error(off, p);
            int rc = try_open(p, image_len);
            if (rc != want)
                fail_msg("byte %zu bit %u: got %s, want %s", off, bit, smtpstatus_err_name(rc),
                         smtpstatus_err_name(want));
            p[off] ^= (unsigned char)(1u << bit);
        }
        /* And the whole byte, which for the size and version words means a far-off value. */
        p[off] ^= 0xFF;
        int want = expected_flip_error(off, p);
        int rc = try_open(p, image_len);
        if (rc != want)
            fail_msg("byte %zu ^ 0xff: got %s, want %s", off, smtpstatus_err_name(rc),
                     smtpstatus_err_name(want));
        p[off] ^= 0xFF;
    }
    assert_memory_equal(p, image, image_len);
    free(p);
}

/* The superseded word is outside the checksum: any value opens, and lookups work. */
static void
test_superseded_word(void **state)
{
    (void)state;
    unsigned char *p = exact_copy(image, image_len, image_len);
    static const uint64_t values[] = {1, TEST_GENERATION + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        hdr(p)->superseded = values[i];
        smtpstatus_image *h = NULL;
        assert_int_equal(smtpstatus_image_open(p, image_len, &h), 0);
        smtpstatus_entry e = lookup(h, 5, 1, 1);
        assert_string_equal(e.title, "Bad destination mailbox address");
        smtpstatus_image_close(h);
    }
    free(p);
}

static void
test_bad_magic_version(void **state)
{
    (void)state;
    unsigned char *p = exact_copy(image, image_len, image_len);
    memcpy(p, "SMTPSIMH", 8);
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_MAGIC);
    reseal(p, image_len);
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_MAGIC);
    /* The magic is checked before the size: even a header-sized buffer says MAGIC. */
    unsigned char *small = exact_copy(p, HDR_SIZE, HDR_SIZE);
    assert_int_equal(try_open(small, HDR_SIZE), SMTPSTATUS_EIMG_MAGIC);
    free(small);

    memcpy(p, image, image_len);
    hdr(p)->version = SMTPSTATUS_IMAGE_VERSION + 1;
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_VERSION);
    reseal(p, image_len);
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_VERSION);
    hdr(p)->version = 0;
    reseal(p, image_len);
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_VERSION);

    memcpy(p, image, image_len);
    hdr(p)->header_size = HDR_SIZE + 8;
    reseal(p, image_len);
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_VERSION);

    memcpy(p, image, image_len);
    hdr(p)->checksum ^= 1;
    assert_int_equal(try_open(p, image_len), SMTPSTATUS_EIMG_CHECKSUM);
    free(p);
}

/* XXH3_64bits() of buf[0..len) with the superseded and checksum words zeroed and the bytes
 * [cut, cut + cut_len) left out, by Debian's libxxhash (linked, not the copy that
 * image_checksum.c compiles in). */
static uint64_t
xxh3_zeroed_cut(const unsigned char *buf, size_t len, size_t cut, size_t cut_len)
{
    unsigned char *z = exact_copy(buf, len, len);
    memset(z + SUPERSEDED_OFF, 0, 8);
    memset(z + CHECKSUM_OFF, 0, 8);
    memmove(z + cut, z + cut + cut_len, len - cut - cut_len);
    uint64_t h = XXH3_64bits(z, len - cut_len);
    free(z);
    return h;
}

static uint64_t
xxh3_zeroed(const unsigned char *buf, size_t len)
{
    return xxh3_zeroed_cut(buf, len, 0, 0);
}

/* The checksum is XXH3 64 with seed 0 (proto/smtpstatus_image.h), whatever the two skipped
 * words hold, at lengths that take each of XXH3's paths and across the streaming API's
 * internal buffer; and one changed bit outside those words changes it. */
static void
test_checksum_is_xxh3(void **state)
{
    (void)state;
    enum { SMALL = 256 };
    unsigned char small[SMALL];
    for (size_t i = 0; i < SMALL; i++)
        small[i] = (unsigned char)(i * 131 + 7);
    memset(small + SUPERSEDED_OFF, 0, 8);
    memset(small + CHECKSUM_OFF, 0, 8);
    /* Pinned, from Python's xxhash.xxh3_64 of the same bytes: a change of algorithm or seed
     * in both the library and the test would still be seen. */
    assert_true(smtpstatus_image_checksum(small, SMALL) == 0x2b651929fe112e94ull);
    memset(small + SUPERSEDED_OFF, 0xA5, 8);
    memset(small + CHECKSUM_OFF, 0x5A, 8);
    const uint64_t want = xxh3_zeroed(small, SMALL);
    assert_true(want == 0x2b651929fe112e94ull);
    assert_true(smtpstatus_image_checksum(small, SMALL) == want);

    /* Prefixes of the image under test (tens of kilobytes), and the embedded image, which
     * holds the reason rules' database too (hundreds). */
    static const size_t lens[] = {HDR_SIZE, 240, 241, 1024, 1025, 4096 + 8, 20000};
    assert_true(image_len > lens[sizeof lens / sizeof lens[0] - 1]);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        assert_true(smtpstatus_image_checksum(image, lens[i]) == xxh3_zeroed(image, lens[i]));
    assert_true(smtpstatus_image_checksum(image, image_len) == xxh3_zeroed(image, image_len));
    assert_true(smtpstatus_image_checksum(image, image_len) == hdr(image)->checksum);
    size_t em_len = 0;
    const unsigned char *em = smtpstatus_embedded_image_data(&em_len);
    assert_true(em_len > 100000);
    /* The embedded image's checksum leaves its rules database out; that has its own. */
    const struct smtpstatus_image_header *eh = (const void *)em;
    assert_true(eh->rules_db_size > 100000);
    assert_true(smtpstatus_image_checksum(em, em_len) ==
                xxh3_zeroed_cut(em, em_len, eh->rules_db_off, eh->rules_db_size));
    assert_true(smtpstatus_image_checksum(em, em_len) == eh->checksum);
    assert_true(smtpstatus_image_rules_db_checksum(em, em_len) ==
                XXH3_64bits(em + eh->rules_db_off, eh->rules_db_size));
    assert_true(smtpstatus_image_rules_db_checksum(em, em_len) == eh->rules_db_checksum);
    /* A database the header places past the end is not left out: the whole image is hashed,
     * which the writer never does, so such an image is refused. */
    unsigned char *past = exact_copy(em, em_len, em_len);
    struct smtpstatus_image_header *ph = (void *)past;
    ph->rules_db_size = (uint32_t)(em_len - ph->rules_db_off + 8);
    assert_true(smtpstatus_image_checksum(past, em_len) == xxh3_zeroed(past, em_len));
    assert_true(smtpstatus_image_rules_db_checksum(past, em_len) == 0);
    free(past);
    /* A changed byte of the database leaves the image's checksum as it was and changes the
     * database's, which smtpstatus_image_open() compares too. */
    unsigned char *db_edit = exact_copy(em, em_len, em_len);
    db_edit[eh->rules_db_off + eh->rules_db_size / 3] ^= 0x10;
    assert_true(smtpstatus_image_checksum(db_edit, em_len) == eh->checksum);
    assert_true(smtpstatus_image_rules_db_checksum(db_edit, em_len) != eh->rules_db_checksum);
    assert_int_equal(try_open(db_edit, em_len), SMTPSTATUS_EIMG_CHECKSUM);
    assert_int_equal(try_open(em, em_len), 0);
    free(db_edit);

    for (size_t off = 0; off < SMALL; off++) {
        unsigned char bit = (unsigned char)(1u << (off % 8));
        small[off] ^= bit;
        int skipped = (off >= SUPERSEDED_OFF && off < SUPERSEDED_OFF + 8) ||
                      (off >= CHECKSUM_OFF && off < CHECKSUM_OFF + 8);
        uint64_t got = smtpstatus_image_checksum(small, SMALL);
        if (skipped ? got != want : got == want)
            fail_msg("bit %u of byte %zu: checksum %016llx", off % 8, off,
                     (unsigned long long)got);
        small[off] ^= bit;
    }
}

/* Applies `mutate` to a copy of the image, recomputes the checksum, and checks the error. */
static void
expect_resealed(void (*mutate)(unsigned char *p), int want)
{
    unsigned char *p = exact_copy(image, image_len, image_len);
    reseal(p, image_len);
    assert_int_equal(try_open(p, image_len), 0); /* resealing alone changes nothing */
    mutate(p);
    reseal(p, image_len);
    int rc = try_open(p, image_len);
    if (rc != want)
        fail_msg("got %s, want %s", smtpstatus_err_name(rc), smtpstatus_err_name(want));
    free(p);
}

static void
mut_u32_off_past_pool(unsigned char *p)
{
    hdr(p)->u32_off = hdr(p)->strings_off + 8;
}
static void
mut_codes_into_pool(unsigned char *p)
{
    /* Starts before the pool but ends inside it. */
    hdr(p)->codes_off = hdr(p)->strings_off - 8;
}
static void
mut_subject_index_past_end(unsigned char *p)
{
    hdr(p)->subject_index_off = UINT32_MAX - 7;
}
static void
mut_detail_count_too_big(unsigned char *p)
{
    hdr(p)->detail_index_count = UINT32_MAX;
}
static void
mut_offset_in_header(unsigned char *p)
{
    hdr(p)->fields_off = 0;
}

static void
test_corrupt_offset_past_pool(void **state)
{
    (void)state;
    expect_resealed(mut_u32_off_past_pool, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_codes_into_pool, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_subject_index_past_end, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_detail_count_too_big, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_offset_in_header, SMTPSTATUS_EIMG_BOUNDS);
}

static void
mut_title_at_pool_end(unsigned char *p)
{
    codes_of(p)[3].title.off = hdr(p)->strings_size;
    codes_of(p)[3].title.len = 0;
}
static void
mut_title_len_past_pool(unsigned char *p)
{
    codes_of(p)[3].title.len = hdr(p)->strings_size;
}
static void
mut_title_wraps(unsigned char *p)
{
    /* off + len wraps around in 32 bits to a small, NUL-holding offset. */
    codes_of(p)[3].title.off = UINT32_MAX;
    codes_of(p)[3].title.len = 1;
}
static void
mut_source_past_pool(unsigned char *p)
{
    hdr(p)->source.off = hdr(p)->strings_size + 100;
}
static void
mut_basic_text_past_pool(unsigned char *p)
{
    basics_of(p)[0].text.len = UINT32_MAX;
}

static void
test_corrupt_string_past_pool(void **state)
{
    (void)state;
    expect_resealed(mut_title_at_pool_end, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_title_len_past_pool, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_title_wraps, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_source_past_pool, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_basic_text_past_pool, SMTPSTATUS_EIMG_BOUNDS);
}

static void
mut_title_unterminated(unsigned char *p)
{
    struct smtpstatus_image_code *c = &codes_of(p)[code_index(1, 1)];
    assert_true(c->title.len > 1);
    c->title.len -= 1;
}
static void
mut_subject_title_unterminated(unsigned char *p)
{
    struct smtpstatus_image_subject *s = &subjects_of(p)[1];
    assert_true(s->title.len > 1);
    s->title.len += 1; /* takes in the NUL; the next string's first byte is not one */
}

static void
test_corrupt_string_unterminated(void **state)
{
    (void)state;
    expect_resealed(mut_title_unterminated, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_subject_title_unterminated, SMTPSTATUS_EIMG_BOUNDS);
}

static void
mut_subject_index(unsigned char *p)
{
    uint16_t *si = u16_at(p, hdr(p)->subject_index_off);
    si[1] = si[2];
}
static void
mut_subject_index_unknown(unsigned char *p)
{
    uint16_t *si = u16_at(p, hdr(p)->subject_index_off);
    si[500] = si[2];
}
static void
mut_subject_index_dropped(unsigned char *p)
{
    uint16_t *si = u16_at(p, hdr(p)->subject_index_off);
    si[3] = SMTPSTATUS_IMAGE_NONE;
}

/* Takes X.7 out of the index and numbers its record so that subject_index[number] would be
 * the two bytes just past the image: a reader that trusted the number would read there. */
static void
mut_subject_number(unsigned char *p)
{
    uint16_t *si = u16_at(p, hdr(p)->subject_index_off);
    struct smtpstatus_image_subject *s = &subjects_of(p)[si[7]];
    si[7] = SMTPSTATUS_IMAGE_NONE;
    s->subject = (uint32_t)(image_len - hdr(p)->subject_index_off) / 2;
}

static void
test_corrupt_subject_index(void **state)
{
    (void)state;
    expect_resealed(mut_subject_index, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_subject_index_unknown, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_subject_index_dropped, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_subject_number, SMTPSTATUS_EIMG_CORRUPT);
}

static uint16_t *
detail_slot(unsigned char *p, uint16_t subject, uint16_t detail)
{
    uint16_t *si = u16_at(p, hdr(p)->subject_index_off);
    const struct smtpstatus_image_subject *s = &subjects_of(p)[si[subject]];
    assert_true(detail < s->detail_span);
    return u16_at(p, hdr(p)->detail_index_off) + s->detail_base + detail;
}

static void
mut_detail_index(unsigned char *p)
{
    *detail_slot(p, 1, 1) = (uint16_t)code_index(1, 2);
}
static void
mut_detail_index_dropped(unsigned char *p)
{
    *detail_slot(p, 7, 1) = SMTPSTATUS_IMAGE_NONE;
}

/* Shortens X.7's span by one: X.7.30's slot still names it, but lies outside the span, so no
 * lookup can reach that code. */
static void
mut_detail_span_short(unsigned char *p)
{
    uint16_t *si = u16_at(p, hdr(p)->subject_index_off);
    struct smtpstatus_image_subject *s = &subjects_of(p)[si[7]];
    assert_int_equal(s->detail_span, 31);
    assert_int_equal(*detail_slot(p, 7, 30), code_index(7, 30));
    s->detail_span = 30;
}

static void
test_corrupt_detail_index(void **state)
{
    (void)state;
    expect_resealed(mut_detail_index, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_detail_index_dropped, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_detail_span_short, SMTPSTATUS_EIMG_CORRUPT);
}

/* Swaps the records of X.1.0 and X.1.1 and their detail index slots, so that every index
 * agrees and only the order of the code table is wrong. */
static void
mut_code_order(unsigned char *p)
{
    uint32_t a = code_index(1, 0), b = code_index(1, 1);
    assert_int_equal(b, a + 1);
    struct smtpstatus_image_code *c = codes_of(p), t = c[a];
    c[a] = c[b];
    c[b] = t;
    *detail_slot(p, 1, 0) = (uint16_t)b;
    *detail_slot(p, 1, 1) = (uint16_t)a;
}

static void
test_corrupt_code_order(void **state)
{
    (void)state;
    expect_resealed(mut_code_order, SMTPSTATUS_EIMG_CORRUPT);
}

static void
set_first_ref(unsigned char *p, uint32_t ref)
{
    struct smtpstatus_image_basic *b = basics_of(p);
    for (uint32_t i = 0; i < hdr(p)->basic_count; i++) {
        if (b[i].refs_count > 0) {
            uint32_t *u32 = (uint32_t *)(void *)(p + hdr(p)->u32_off);
            u32[b[i].refs_first] = ref;
            return;
        }
    }
    fail_msg("no basic record has references");
}
static void
mut_ref_past_codes(unsigned char *p)
{
    set_first_ref(p, hdr(p)->code_count << 2 | SMTPSTATUS_IMAGE_MATCH_EXACT);
}
static void
mut_ref_no_match(unsigned char *p)
{
    set_first_ref(p, 0);
}
static void
mut_basic_count(unsigned char *p)
{
    /* A record whose refs run past the u32 pool. */
    basics_of(p)[0].refs_first = hdr(p)->u32_count;
    basics_of(p)[0].refs_count = 1;
}

static void
test_corrupt_basic_ref(void **state)
{
    (void)state;
    expect_resealed(mut_ref_past_codes, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_ref_no_match, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_basic_count, SMTPSTATUS_EIMG_BOUNDS);
}

static void
mut_codes_unaligned(unsigned char *p)
{
    hdr(p)->codes_off += 4;
}
static void
mut_subject_index_unaligned(unsigned char *p)
{
    hdr(p)->subject_index_off += 2;
}
static void
mut_strings_unaligned(unsigned char *p)
{
    hdr(p)->strings_off += 1;
    hdr(p)->strings_size -= 1;
}

static void
test_corrupt_unaligned_offset(void **state)
{
    (void)state;
    expect_resealed(mut_codes_unaligned, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_subject_index_unaligned, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_strings_unaligned, SMTPSTATUS_EIMG_BOUNDS);
}

static void
mut_code_reserved(unsigned char *p)
{
    codes_of(p)[5].reserved = 0x100;
}
static void
mut_code_flags(unsigned char *p)
{
    codes_of(p)[5].flags |= 0x8;
}
static void
mut_basic_reserved(unsigned char *p)
{
    basics_of(p)[1].reserved = 1;
}

/* The embedded image, its header edited by `edit` and both checksums made right again, opens
 * with `want`. */
static void
expect_embedded_edited(void (*edit)(struct smtpstatus_image_header *h), int want)
{
    size_t em_len = 0;
    const unsigned char *em = smtpstatus_embedded_image_data(&em_len);
    unsigned char *p = exact_copy(em, em_len, em_len);
    edit((struct smtpstatus_image_header *)(void *)p);
    reseal(p, em_len);
    int rc = try_open(p, em_len);
    if (rc != want)
        fail_msg("got %s, want %s", smtpstatus_err_name(rc), smtpstatus_err_name(want));
    free(p);
}
static void
edit_nothing(struct smtpstatus_image_header *h)
{
    (void)h;
}
static void
edit_prefilter_unaligned(struct smtpstatus_image_header *h)
{
    h->rules_prefilter_off += 4;
}
static void
edit_prefilter_past_tables(struct smtpstatus_image_header *h)
{
    h->rules_prefilter_off = h->strings_off - SMTPSTATUS_IMAGE_PREFILTER_BYTES + 8;
}
static void
edit_prefilter_in_header(struct smtpstatus_image_header *h)
{
    h->rules_prefilter_off = 8;
}
static void
edit_prefilter_over_db(struct smtpstatus_image_header *h)
{
    h->rules_prefilter_off = h->rules_db_off + h->rules_db_size / 2 / 8 * 8;
}
static void
edit_prefilter_without_db(struct smtpstatus_image_header *h)
{
    h->rules_db_off = 0;
    h->rules_db_size = 0;
    h->rules_db_checksum = 0;
}

/* The rules' prefilter: the built-in rules have one, and it must lie among the tables, apart
 * from the database, and only beside a database. */
static void
test_prefilter_bounds(void **state)
{
    (void)state;
    size_t em_len = 0;
    const struct smtpstatus_image_header *eh =
        (const void *)smtpstatus_embedded_image_data(&em_len);
    assert_true(eh->rules_prefilter_off != 0);
    assert_true(eh->rules_prefilter_off % SMTPSTATUS_IMAGE_ALIGN == 0);
    expect_embedded_edited(edit_nothing, 0);
    expect_embedded_edited(edit_prefilter_unaligned, SMTPSTATUS_EIMG_BOUNDS);
    expect_embedded_edited(edit_prefilter_past_tables, SMTPSTATUS_EIMG_BOUNDS);
    expect_embedded_edited(edit_prefilter_in_header, SMTPSTATUS_EIMG_BOUNDS);
    expect_embedded_edited(edit_prefilter_over_db, SMTPSTATUS_EIMG_BOUNDS);
    expect_embedded_edited(edit_prefilter_without_db, SMTPSTATUS_EIMG_CORRUPT);
}

static void
test_corrupt_reserved(void **state)
{
    (void)state;
    expect_resealed(mut_code_reserved, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_code_flags, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_basic_reserved, SMTPSTATUS_EIMG_CORRUPT);
}

static void
mut_class_count(unsigned char *p)
{
    hdr(p)->class_count = 4;
}
static void
mut_class_digit(unsigned char *p)
{
    struct smtpstatus_image_class *c = (void *)(p + hdr(p)->classes_off);
    c[1].digit = 3;
}
static void
mut_pool_first_byte(unsigned char *p)
{
    p[hdr(p)->strings_off] = 'x';
}
static void
mut_strings_size(unsigned char *p)
{
    hdr(p)->strings_size -= 8;
}
static void
mut_empty_pool(unsigned char *p)
{
    hdr(p)->strings_off = (uint32_t)image_len;
    hdr(p)->strings_size = 0;
}
static void
mut_detail_span(unsigned char *p)
{
    subjects_of(p)[7].detail_span = SMTPSTATUS_IMAGE_MAX_DETAIL + 2;
}
static void
mut_assoc_code(unsigned char *p)
{
    uint16_t *u16 = u16_at(p, hdr(p)->u16_off);
    u16[codes_of(p)[code_index(1, 1)].basic_first] = 199;
}
static void
mut_basic_index(unsigned char *p)
{
    uint16_t *bi = u16_at(p, hdr(p)->basic_index_off);
    bi[550 - SMTPSTATUS_IMAGE_BASIC_MIN] = bi[551 - SMTPSTATUS_IMAGE_BASIC_MIN];
}
static void
mut_code_fields(unsigned char *p)
{
    codes_of(p)[0].fields_count = 1; /* there are no extra fields in data/ */
}

/* Other checks of the reader, each reached with a valid checksum. */
static void
test_corrupt_other(void **state)
{
    (void)state;
    expect_resealed(mut_class_count, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_class_digit, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_pool_first_byte, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_strings_size, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_empty_pool, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_detail_span, SMTPSTATUS_EIMG_BOUNDS);
    expect_resealed(mut_assoc_code, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_basic_index, SMTPSTATUS_EIMG_CORRUPT);
    expect_resealed(mut_code_fields, SMTPSTATUS_EIMG_BOUNDS);
}

/* Reads a string the image returned to its end: ASan reports it if the NUL is not inside. */
static void
touch(const char *s)
{
    if (s != NULL)
        sink += strlen(s);
}

static void
touch_part(const smtpstatus_image *im, const smtpstatus_part *p)
{
    touch(p->title);
    touch(p->description);
    touch(p->reference);
    touch(p->submitter);
    touch(p->change_controller);
    for (uint32_t k = 0; k < p->field_count; k++) {
        smtpstatus_field f;
        if (smtpstatus_image_part_field(im, p, k, &f) == 0) {
            touch(f.name);
            touch(f.value);
        }
    }
}

static void
touch_entry(const smtpstatus_image *im, const smtpstatus_entry *e)
{
    touch_part(im, &e->cls);
    touch_part(im, &e->subject);
    touch(e->title);
    touch(e->description);
    touch(e->reference);
    touch(e->submitter);
    touch(e->change_controller);
    touch(e->basic_codes_raw);
    for (uint32_t k = 0; k < e->basic_code_count; k++)
        sink += e->basic_codes[k];
    for (uint32_t k = 0; k < e->field_count; k++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(im, e, k, &f) == 0) {
            touch(f.name);
            touch(f.value);
        }
    }
}

static void
touch_basic(const smtpstatus_image *im, const smtpstatus_basic *b)
{
    touch(b->text);
    touch(b->reference);
    for (uint32_t k = 0; k < b->assoc_count; k++) {
        smtpstatus_code c;
        smtpstatus_match m;
        assert_int_equal(smtpstatus_image_basic_assoc(im, b, k, &c, &m), 0);
        assert_true(m >= SMTPSTATUS_MATCH_EXACT && m <= SMTPSTATUS_MATCH_ANY);
        assert_true(c.subject <= 999 && c.detail <= 999);
    }
}

/* Uses every read path of an image the reader accepted. */
static void
exercise(const smtpstatus_image *im)
{
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(im, &s);
    touch(s.source);
    static const uint8_t classes[] = {0, 2, 4, 5};
    static const uint16_t numbers[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,   9,   10,  11,  12,
                                       15, 17, 20, 28, 29, 30, 31, 99, 255, 256, 500, 998, 999};
    const size_t nn = sizeof numbers / sizeof numbers[0];
    for (size_t c = 0; c < sizeof classes; c++) {
        for (size_t i = 0; i < nn; i++) {
            for (size_t j = 0; j < nn; j++) {
                smtpstatus_entry e;
                smtpstatus_code code = {classes[c], numbers[i], numbers[j]};
                assert_int_equal(smtpstatus_image_lookup(im, code, &e), 0);
                touch_entry(im, &e);
            }
        }
    }
    for (uint32_t i = 0; i < smtpstatus_image_code_count(im); i++) {
        smtpstatus_entry e;
        assert_int_equal(smtpstatus_image_code_at(im, i, &e), 0);
        touch_entry(im, &e);
    }
    for (uint32_t i = 0; i < smtpstatus_image_class_count(im); i++) {
        uint8_t digit;
        smtpstatus_part p;
        assert_int_equal(smtpstatus_image_class_at(im, i, &digit, &p), 0);
        touch_part(im, &p);
    }
    for (uint32_t i = 0; i < smtpstatus_image_subject_count(im); i++) {
        uint16_t subject;
        smtpstatus_part p;
        assert_int_equal(smtpstatus_image_subject_at(im, i, &subject, &p), 0);
        touch_part(im, &p);
    }
    for (uint32_t i = 0; i < smtpstatus_image_basic_count(im); i++) {
        smtpstatus_basic b;
        assert_int_equal(smtpstatus_image_basic_at(im, i, &b), 0);
        touch_basic(im, &b);
    }
    for (uint16_t code = 200; code <= 599; code++) {
        smtpstatus_basic b;
        if (smtpstatus_image_lookup_basic(im, code, &b) == 0)
            touch_basic(im, &b);
    }
}

static void
test_random_corruption(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed1234abcdull;
    const struct smtpstatus_image_header *h0 = hdr(image);
    const size_t tables_end = h0->strings_off;
    unsigned char *p = exact_copy(image, image_len, image_len);
    unsigned opened = 0, iterations = 4000;
    for (unsigned it = 0; it < iterations; it++) {
        memcpy(p, image, image_len);
        /* Half the images get one edit, which the reader accepts more often. */
        unsigned edits = it % 2 ? 1 : 1 + (unsigned)(testutil_rand(&seed) % 6);
        for (unsigned k = 0; k < edits; k++) {
            uint64_t r = testutil_rand(&seed);
            /* Mostly the header and tables, where a bad value could send a read astray. */
            size_t off;
            switch (r % 8) {
            case 0:
                off = (size_t)(r >> 8) % image_len;
                break;
            case 1:
            case 2:
                off = (size_t)(r >> 8) % HDR_SIZE;
                break;
            default:
                off = HDR_SIZE + (size_t)(r >> 8) % (tables_end - HDR_SIZE);
                break;
            }
            /* Editing the magic or version only ever gives MAGIC or VERSION, and editing the
             * superseded word or checksum nothing at all: move most such edits further on. */
            if (off >= SUPERSEDED_OFF && off < CHECKSUM_OFF + 8 && r % 5 != 0)
                off += 24;
            if (off < SUPERSEDED_OFF)
                off += 64;
            uint64_t v = testutil_rand(&seed);
            switch (v % 4) {
            case 0: /* one random byte */
                p[off] = (unsigned char)(v >> 8);
                break;
            case 1: /* a small aligned 32-bit value */
                off &= ~(size_t)3;
                if (off + 4 <= image_len) {
                    uint32_t w = (uint32_t)(v >> 8) % 1100;
                    memcpy(p + off, &w, 4);
                }
                break;
            case 2: /* a small aligned 16-bit value, as in the indexes */
                off &= ~(size_t)1;
                {
                    uint16_t w = (uint16_t)((v >> 8) % 1100);
                    memcpy(p + off, &w, 2);
                }
                break;
            default: /* adjust a 32-bit word by a little */
                off &= ~(size_t)3;
                if (off + 4 <= image_len) {
                    uint32_t w;
                    memcpy(&w, p + off, 4);
                    w += (uint32_t)((int32_t)((v >> 8) % 33) - 16);
                    memcpy(p + off, &w, 4);
                }
                break;
            }
        }
        reseal(p, image_len);
        smtpstatus_image *im = NULL;
        int rc = smtpstatus_image_open(p, image_len, &im);
        if (rc != 0) {
            assert_null(im);
            assert_true(rc == SMTPSTATUS_EIMG_MAGIC || rc == SMTPSTATUS_EIMG_VERSION ||
                        rc == SMTPSTATUS_EIMG_TRUNCATED || rc == SMTPSTATUS_EIMG_SIZE ||
                        rc == SMTPSTATUS_EIMG_BOUNDS || rc == SMTPSTATUS_EIMG_CORRUPT);
            continue;
        }
        opened++;
        exercise(im);
        smtpstatus_image_close(im);
    }
    free(p);
    /* Some corruptions (text in the pool, lines, flags the reader does not check) are
     * harmless; make sure the read paths above did run. */
    assert_true(opened > 0);
    assert_true(opened < iterations);
    printf("random corruption: %u of %u corrupt images opened and were read in bounds\n", opened,
           iterations);
}

static void
test_bad_arguments(void **state)
{
    (void)state;
    smtpstatus_image *h = (smtpstatus_image *)(uintptr_t)1;
    assert_int_equal(smtpstatus_image_open(NULL, image_len, &h), SMTPSTATUS_EINVAL);
    assert_null(h);
    assert_int_equal(smtpstatus_image_open(image, image_len, NULL), SMTPSTATUS_EINVAL);

    unsigned char *p = malloc(image_len + 8);
    assert_non_null(p);
    for (size_t shift = 1; shift < 8; shift++) {
        memcpy(p + shift, image, image_len);
        h = (smtpstatus_image *)(uintptr_t)1;
        assert_int_equal(smtpstatus_image_open(p + shift, image_len, &h), SMTPSTATUS_EINVAL);
        assert_null(h);
    }
    free(p);
    smtpstatus_image_close(NULL);
}

/* ---- the embedded image and determinism ----------------------------------------------------- */

/* Moves every non-empty string reference in the record tables of p by `delta` bytes. */
static void
shift_strings(unsigned char *p, int64_t delta)
{
#define SHIFT(s) ((s).off = (s).len != 0 ? (uint32_t)((int64_t)(s).off + delta) : (s).off)
    const struct smtpstatus_image_header *h = hdr(p);
    struct smtpstatus_image_class *cl = (void *)(p + h->classes_off);
    for (uint32_t i = 0; i < h->class_count; i++) {
        SHIFT(cl[i].title);
        SHIFT(cl[i].description);
        SHIFT(cl[i].reference);
        SHIFT(cl[i].submitter);
        SHIFT(cl[i].change_controller);
    }
    struct smtpstatus_image_subject *su = subjects_of(p);
    for (uint32_t i = 0; i < h->subject_count; i++) {
        SHIFT(su[i].title);
        SHIFT(su[i].description);
        SHIFT(su[i].reference);
        SHIFT(su[i].submitter);
        SHIFT(su[i].change_controller);
    }
    struct smtpstatus_image_code *co = codes_of(p);
    for (uint32_t i = 0; i < h->code_count; i++) {
        SHIFT(co[i].title);
        SHIFT(co[i].description);
        SHIFT(co[i].reference);
        SHIFT(co[i].submitter);
        SHIFT(co[i].change_controller);
        SHIFT(co[i].basic_raw);
    }
    struct smtpstatus_image_rule *ru = (void *)(p + h->rules_off);
    for (uint32_t i = 0; i < h->rule_count; i++) {
        SHIFT(ru[i].name);
        SHIFT(ru[i].pattern);
        SHIFT(ru[i].note);
        SHIFT(ru[i].source);
    }
    struct smtpstatus_image_vendor *ve = (void *)(p + h->vendors_off);
    for (uint32_t i = 0; i < h->vendor_count; i++) {
        SHIFT(ve[i].provider);
        SHIFT(ve[i].code);
        SHIFT(ve[i].meaning);
        SHIFT(ve[i].source);
    }
    struct smtpstatus_image_basic *ba = basics_of(p);
    for (uint32_t i = 0; i < h->basic_count; i++) {
        SHIFT(ba[i].text);
        SHIFT(ba[i].reference);
        SHIFT(ba[i].sample);
    }
    struct smtpstatus_image_field *fi = (void *)(p + h->fields_off);
    for (uint32_t i = 0; i < h->field_count; i++) {
        SHIFT(fi[i].name);
        SHIFT(fi[i].value);
    }
#undef SHIFT
}

/* The build compiles data/ with smtpstatus-mkimage --source embedded. Built here the same way,
 * with the embedded header's generation and time, the image must be the same bytes, checksum
 * included. */
static void
test_embedded_matches_build(void **state)
{
    (void)state;
    const smtpstatus_image *em = smtpstatus_image_embedded();
    assert_non_null(em);
    assert_ptr_equal(smtpstatus_image_embedded(), em);
    size_t em_len = 0;
    const unsigned char *em_data = smtpstatus_embedded_image_data(&em_len);
    assert_non_null(em_data);
    assert_int_equal((uintptr_t)em_data % SMTPSTATUS_IMAGE_ALIGN, 0);
    /* The library does not hash the embedded image when it opens it (embedded.c): its checksum
     * is checked here instead. */
    assert_true(smtpstatus_image_checksum(em_data, em_len) ==
                ((const struct smtpstatus_image_header *)em_data)->checksum);

    smtpstatus_image_summary es;
    smtpstatus_image_summarize(em, &es);
    assert_string_equal(es.source, "embedded");
    assert_int_equal(es.size, em_len);
    assert_int_equal(es.source_digest, reg->source_digest);
    assert_int_equal(es.class_count, 3);
    assert_int_equal(es.subject_count, 8);
    assert_int_equal(es.code_count, 81);

    struct registry *r = load_registry(testutil_project_data());
    free(r->source);
    r->source = strdup("embedded");
    assert_non_null(r->source);
    /* The embedded image carries the built-in rules, compiled for any CPU. */
    char path[4096];
    snprintf(path, sizeof path, "%s/reasons.csv", testutil_project_data());
    size_t csv_len = 0;
    char *csv = testutil_read_file(path, &csv_len);
    struct rules rules = {0};
    struct diag d;
    diag_init(&d);
    assert_int_equal(rules_parse(&rules, csv, csv_len, path, 0, &d), 0);
    assert_int_equal(rules_compile(&rules, 1, &d), 0);
    assert_int_equal(d.errors + d.warnings, 0);
    diag_free(&d);
    free(csv);
    /* And the vendors' codes. */
    snprintf(path, sizeof path, "%s/vendors.csv", testutil_project_data());
    csv = testutil_read_file(path, &csv_len);
    struct vendors vendors = {0};
    diag_init(&d);
    assert_int_equal(vendors_parse(&vendors, csv, csv_len, path, &d), 0);
    assert_int_equal(d.errors + d.warnings, 0);
    diag_free(&d);
    free(csv);
    struct image_build_options opt = {.generation = es.generation,
                                      .built_at = es.built_at,
                                      .rules = &rules,
                                      .vendors = &vendors};
    void *buf = NULL;
    size_t len;
    assert_int_equal(image_build(r, &opt, &buf, &len), 0);
    assert_int_equal(len, em_len);
    assert_memory_equal(buf, em_data, em_len);
    free(buf);
    registry_free(r);

    /* Against the image of the same data under its directory name: every header field but
     * generation, built_at, checksum and source is equal, and so is every answer. */
    r = load_registry(testutil_project_data());
    opt.generation = TEST_GENERATION;
    unsigned char *named = NULL;
    assert_int_equal(image_build(r, &opt, (void **)&named, &len), 0);
    registry_free(r);
    rules_free(&rules);
    vendors_free(&vendors);
    const struct smtpstatus_image_header *a = (const void *)em_data, *b = hdr(named);
    assert_int_equal(a->source_digest, b->source_digest);
    assert_int_equal(a->class_count, b->class_count);
    assert_int_equal(a->subject_count, b->subject_count);
    assert_int_equal(a->code_count, b->code_count);
    assert_int_equal(a->basic_count, b->basic_count);
    assert_int_equal(a->detail_index_count, b->detail_index_count);
    assert_int_equal(a->u16_count, b->u16_count);
    assert_int_equal(a->u32_count, b->u32_count);
    assert_int_equal(a->field_count, b->field_count);
    assert_int_equal(a->strings_off, b->strings_off);
    assert_int_equal(a->subject_index_off, b->subject_index_off);
    /* The tables differ only in where each string is: the source string comes first in the
     * pool, so every other string sits len("embedded") - len(dir) bytes away. */
    unsigned char *shifted = exact_copy(em_data, em_len, em_len);
    shift_strings(shifted, (int64_t)b->source.len - (int64_t)a->source.len);
    assert_memory_equal(shifted + HDR_SIZE, named + HDR_SIZE, a->strings_off - HDR_SIZE);
    free(shifted);
    /* The pool is the source string, then the same strings in the same order. */
    size_t ea = a->source.len + 1, eb = b->source.len + 1;
    size_t used_a = a->strings_size, used_b = b->strings_size;
    while (used_a > 0 && em_data[a->strings_off + used_a - 1] == '\0')
        used_a--;
    while (used_b > 0 && named[b->strings_off + used_b - 1] == '\0')
        used_b--;
    assert_int_equal(used_a - ea, used_b - eb);
    assert_memory_equal(em_data + a->strings_off + 1 + ea, named + b->strings_off + 1 + eb,
                        used_a - ea - 1);
    for (uint32_t i = 0; i < reg->code_count; i++) {
        smtpstatus_entry e;
        assert_int_equal(smtpstatus_image_code_at(em, i, &e), 0);
        assert_entry_matches(em, &e, &reg->codes[i]);
    }
    free(named);
}

static void
test_build_deterministic(void **state)
{
    (void)state;
    size_t len1, len2;
    unsigned char *b1 = build(reg, TEST_GENERATION, TEST_BUILT_AT, &len1);
    unsigned char *b2 = build(reg, TEST_GENERATION, TEST_BUILT_AT, &len2);
    assert_int_equal(len1, image_len);
    assert_int_equal(len2, image_len);
    assert_memory_equal(b1, image, image_len);
    assert_memory_equal(b2, image, image_len);
    free(b2);

    /* A second load of the same files gives the same image too. */
    struct registry *r = load_registry(testutil_project_data());
    b2 = build(r, TEST_GENERATION, TEST_BUILT_AT, &len2);
    assert_int_equal(len2, len1);
    assert_memory_equal(b1, b2, len1);
    free(b2);

    /* Only generation, built_at and the checksum change with the options. */
    b2 = build(r, TEST_GENERATION + 1, TEST_BUILT_AT + 1, &len2);
    assert_int_equal(len2, len1);
    assert_memory_equal(b1 + HDR_SIZE, b2 + HDR_SIZE, len1 - HDR_SIZE);
    hdr(b2)->generation = TEST_GENERATION;
    hdr(b2)->built_at = TEST_BUILT_AT;
    hdr(b2)->checksum = hdr(b1)->checksum;
    assert_memory_equal(b1, b2, HDR_SIZE);
    free(b2);
    registry_free(r);
    free(b1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_summary),
        cmocka_unit_test(test_lookup_registered),
        cmocka_unit_test(test_lookup_unregistered),
        cmocka_unit_test(test_lookup_associations),
        cmocka_unit_test(test_lookup_out_of_range),
        cmocka_unit_test(test_lookup_matches_registry),
        cmocka_unit_test(test_basic_named),
        cmocka_unit_test(test_basic_errors),
        cmocka_unit_test(test_basic_matches_registry),
        cmocka_unit_test(test_extra_fields),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_superseded_word),
        cmocka_unit_test(test_checksum_is_xxh3),
        cmocka_unit_test(test_bad_magic_version),
        cmocka_unit_test(test_corrupt_offset_past_pool),
        cmocka_unit_test(test_corrupt_string_past_pool),
        cmocka_unit_test(test_corrupt_string_unterminated),
        cmocka_unit_test(test_corrupt_subject_index),
        cmocka_unit_test(test_corrupt_detail_index),
        cmocka_unit_test(test_corrupt_code_order),
        cmocka_unit_test(test_corrupt_basic_ref),
        cmocka_unit_test(test_corrupt_unaligned_offset),
        cmocka_unit_test(test_corrupt_reserved),
        cmocka_unit_test(test_prefilter_bounds),
        cmocka_unit_test(test_corrupt_other),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_embedded_matches_build),
        cmocka_unit_test(test_build_deterministic),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
