/*
 * The registry image reader: validation and lookups (see smtpstatus.h and
 * proto/smtpstatus_image.h).
 *
 * Validation is done once, when an image is opened, and it is complete: after it, every offset,
 * count, index entry and string reference in the image is known to lie inside the buffer and to
 * point at a record of the right kind. That is what lets the lookups below index the tables
 * directly, in O(1), with no check but the range of the code asked for and no allocation.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image_internal.h"
#include "reason.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the image format is little-endian; this reader does not convert"
#endif

/* The public flags are the image's flags, passed through as they are. */
_Static_assert(SMTPSTATUS_ASSOC_ANY == SMTPSTATUS_IMAGE_BASIC_ANY, "assoc flag");
_Static_assert(SMTPSTATUS_ASSOC_NOT_GIVEN == SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN, "assoc flag");
_Static_assert(SMTPSTATUS_ASSOC_OTHERS_OK == SMTPSTATUS_IMAGE_BASIC_OTHERS_OK, "assoc flag");
_Static_assert(SMTPSTATUS_ENTRY_SHIFTED_ROW == SMTPSTATUS_IMAGE_CODE_SHIFTED_ROW, "entry flag");
_Static_assert(SMTPSTATUS_MATCH_EXACT == SMTPSTATUS_IMAGE_MATCH_EXACT, "match");
_Static_assert(SMTPSTATUS_MATCH_WILDCARD == SMTPSTATUS_IMAGE_MATCH_WILDCARD, "match");
_Static_assert(SMTPSTATUS_MATCH_ANY == SMTPSTATUS_IMAGE_MATCH_ANY, "match");

/* ---- validation ----------------------------------------------------------------------------- */

struct bounds {
    size_t tables_end; /* where the string pool starts */
    size_t strings_size;
    const char *strings;
};

/* Checks that count records of `size` bytes at `off` lie inside [header, tables_end). */
static int
table_ok(const struct bounds *b, uint32_t off, uint64_t count, size_t size)
{
    if (off % SMTPSTATUS_IMAGE_ALIGN != 0 || off < sizeof(struct smtpstatus_image_header))
        return 0;
    if (count > (b->tables_end - off) / size || off > b->tables_end)
        return 0;
    return 1;
}

static int
str_ok(const struct bounds *b, struct smtpstatus_image_str s)
{
    return (uint64_t)s.off + s.len < b->strings_size && b->strings[s.off + s.len] == '\0';
}

static int
range_ok(uint32_t first, uint32_t count, uint32_t total)
{
    return first <= total && count <= total - first;
}

static int
rule_ok(const struct bounds *b, const struct smtpstatus_image_rule *r, int in_db)
{
    const unsigned known = SMTPSTATUS_IMAGE_RULE_HAS_PATTERN | SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED |
                           SMTPSTATUS_IMAGE_RULE_HAS_STATUS | SMTPSTATUS_IMAGE_RULE_ADMIN;
    if ((r->flags & ~known) != 0 || r->reserved8 != 0 || r->reserved16 != 0)
        return 0;
    if (r->reason < SMTPSTATUS_REASON_SUCCESS || r->reason > SMTPSTATUS_REASON_MAX ||
        r->retry > SMTPSTATUS_IMAGE_RETRY_NO)
        return 0;
    if (r->basic != SMTPSTATUS_IMAGE_ANY &&
        (r->basic < SMTPSTATUS_IMAGE_BASIC_MIN || r->basic > SMTPSTATUS_IMAGE_BASIC_MAX ||
         r->basic_class != 0))
        return 0;
    if (r->basic_class != 0 && (r->basic_class < 2 || r->basic_class > 5))
        return 0;
    if (r->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED) {
        if ((r->enhanced_class != 0 && r->enhanced_class != 2 && r->enhanced_class != 4 &&
             r->enhanced_class != 5) ||
            r->subject > SMTPSTATUS_IMAGE_MAX_SUBJECT ||
            (r->detail != SMTPSTATUS_IMAGE_ANY && r->detail > SMTPSTATUS_IMAGE_MAX_DETAIL))
            return 0;
    } else if (r->enhanced_class != 0 || r->subject != 0 || r->detail != 0) {
        return 0;
    }
    if (r->flags & SMTPSTATUS_IMAGE_RULE_HAS_STATUS) {
        if ((r->status_class != 2 && r->status_class != 4 && r->status_class != 5) ||
            r->status_subject > SMTPSTATUS_IMAGE_MAX_SUBJECT ||
            r->status_detail > SMTPSTATUS_IMAGE_MAX_DETAIL)
            return 0;
    } else if (r->status_class != 0 || r->status_subject != 0 || r->status_detail != 0) {
        return 0;
    }
    /* Only a database holds patterns; a rule that claims one needs it. */
    if ((r->flags & SMTPSTATUS_IMAGE_RULE_HAS_PATTERN) && (!in_db || r->pattern.len == 0))
        return 0;
    return str_ok(b, r->name) && str_ok(b, r->pattern) && str_ok(b, r->note) &&
           str_ok(b, r->source);
}

static int
vendor_ok(const struct bounds *b, const struct smtpstatus_image_vendor *v)
{
    if ((v->cls != 0 && v->cls != 2 && v->cls != 4 && v->cls != 5) || v->reserved != 0 ||
        v->reason < SMTPSTATUS_REASON_SUCCESS || v->reason > SMTPSTATUS_REASON_MAX)
        return 0;
    if ((v->subject == SMTPSTATUS_IMAGE_ANY) != (v->detail == SMTPSTATUS_IMAGE_ANY))
        return 0;
    if (v->subject != SMTPSTATUS_IMAGE_ANY &&
        (v->subject > SMTPSTATUS_IMAGE_MAX_SUBJECT || v->detail > SMTPSTATUS_IMAGE_MAX_DETAIL))
        return 0;
    if (!str_ok(b, v->provider) || !str_ok(b, v->code) || !str_ok(b, v->meaning) ||
        !str_ok(b, v->source) || v->provider.len == 0 || v->code.len == 0)
        return 0;
    if (v->subject == SMTPSTATUS_IMAGE_ANY)
        return v->cls == 0; /* a provider's token has no class */
    /* An enhanced code's text is the code the record is filed under, in its class. */
    smtpstatus_code c;
    if (smtpstatus_code_parse(b->strings + v->code.off, v->code.len, 0, &c, NULL) != 0)
        return 0;
    return c.subject == v->subject && c.detail == v->detail && (v->cls == 0 || v->cls == c.cls);
}

/* Whether vendor record b may follow record a: by (subject, detail, class), the tokens (subject
 * and detail SMTPSTATUS_IMAGE_ANY) last by code text, as the binary searches expect. */
static int
vendor_order_ok(const struct bounds *bd, const struct smtpstatus_image_vendor *a,
                const struct smtpstatus_image_vendor *b)
{
    uint64_t ka = (uint64_t)a->subject << 24 | (uint64_t)a->detail << 8 | a->cls;
    uint64_t kb = (uint64_t)b->subject << 24 | (uint64_t)b->detail << 8 | b->cls;
    if (ka != kb)
        return ka < kb;
    if (a->subject != SMTPSTATUS_IMAGE_ANY)
        return 1;
    return strcmp(bd->strings + a->code.off, bd->strings + b->code.off) <= 0;
}

/* Whether the rules database, rules_db_size bytes at rules_db_off, overlaps no table (the
 * prefilter included). It must not: the image's checksum leaves its bytes out, and the daemon's
 * memfd does not have the database's own compared (SMTPSTATUS__CHECK_DB_LATER), so a table
 * inside it would go unchecked. Every span was bounded by validate_tables() and the caller. */
static int
db_apart(const struct smtpstatus_image_header *h)
{
    const struct {
        uint32_t off;
        uint64_t bytes;
    } t[] = {
        {h->classes_off, (uint64_t)h->class_count * sizeof(struct smtpstatus_image_class)},
        {h->subjects_off, (uint64_t)h->subject_count * sizeof(struct smtpstatus_image_subject)},
        {h->codes_off, (uint64_t)h->code_count * sizeof(struct smtpstatus_image_code)},
        {h->basics_off, (uint64_t)h->basic_count * sizeof(struct smtpstatus_image_basic)},
        {h->subject_index_off, (uint64_t)SMTPSTATUS_IMAGE_SUBJECT_SLOTS * sizeof(uint16_t)},
        {h->detail_index_off, (uint64_t)h->detail_index_count * sizeof(uint16_t)},
        {h->basic_index_off, (uint64_t)SMTPSTATUS_IMAGE_BASIC_SLOTS * sizeof(uint16_t)},
        {h->u16_off, (uint64_t)h->u16_count * sizeof(uint16_t)},
        {h->u32_off, (uint64_t)h->u32_count * sizeof(uint32_t)},
        {h->fields_off, (uint64_t)h->field_count * sizeof(struct smtpstatus_image_field)},
        {h->rules_off, (uint64_t)h->rule_count * sizeof(struct smtpstatus_image_rule)},
        {h->vendors_off, (uint64_t)h->vendor_count * sizeof(struct smtpstatus_image_vendor)},
        {h->rules_prefilter_off,
         h->rules_prefilter_off != 0 ? SMTPSTATUS_IMAGE_PREFILTER_BYTES : 0u},
    };
    uint64_t from = h->rules_db_off, to = from + h->rules_db_size;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].bytes > 0 && t[i].off < to && from < t[i].off + t[i].bytes)
            return 0;
    return 1;
}

/* The reason rules, their pattern database and the vendors' codes (from image version 2 on). */
static int
validate_reasons(struct smtpstatus_image *img, const struct bounds *b)
{
    const struct smtpstatus_image_header *h = img->hdr;
    if (h->admin_rule_count > h->rule_count)
        return SMTPSTATUS_EIMG_CORRUPT;
    if (h->rules_db_size > 0 &&
        (h->rules_db_off % SMTPSTATUS_IMAGE_DB_ALIGN != 0 ||
         h->rules_db_off < sizeof(struct smtpstatus_image_header) ||
         h->rules_db_off > b->tables_end || h->rules_db_size > b->tables_end - h->rules_db_off ||
         !db_apart(h)))
        return SMTPSTATUS_EIMG_BOUNDS;
    if (h->rules_db_size == 0 && (h->rules_db_off != 0 || h->rules_db_checksum != 0 ||
                                  h->rules_prefilter_off != 0))
        return SMTPSTATUS_EIMG_CORRUPT;
    if (h->rules_prefilter_off != 0) {
        if (!table_ok(b, h->rules_prefilter_off, SMTPSTATUS_IMAGE_PREFILTER_BYTES, 1))
            return SMTPSTATUS_EIMG_BOUNDS;
        img->prefilter = img->base + h->rules_prefilter_off;
    }
    for (uint32_t i = 0; i < h->rule_count; i++) {
        const struct smtpstatus_image_rule *r = &img->rules[i];
        if (!rule_ok(b, r, h->rules_db_size > 0) ||
            ((r->flags & SMTPSTATUS_IMAGE_RULE_ADMIN) != 0) != (i < h->admin_rule_count))
            return SMTPSTATUS_EIMG_CORRUPT;
    }
    for (uint32_t i = 0; i < h->vendor_count; i++)
        if (!vendor_ok(b, &img->vendors[i]) ||
            (i > 0 && !vendor_order_ok(b, &img->vendors[i - 1], &img->vendors[i])))
            return SMTPSTATUS_EIMG_CORRUPT;
    return 0;
}

static int
validate_tables(struct smtpstatus_image *img, const struct bounds *b)
{
    const struct smtpstatus_image_header *h = img->hdr;

    if (!str_ok(b, h->source))
        return SMTPSTATUS_EIMG_BOUNDS;
    if (h->class_count > 3 || h->subject_count > SMTPSTATUS_IMAGE_SUBJECT_SLOTS ||
        h->code_count > SMTPSTATUS_IMAGE_MAX_RECORDS ||
        h->basic_count > SMTPSTATUS_IMAGE_BASIC_SLOTS)
        return SMTPSTATUS_EIMG_CORRUPT;

    for (uint32_t i = 0; i < h->class_count; i++) {
        const struct smtpstatus_image_class *c = &img->classes[i];
        if (c->digit != 2 && c->digit != 4 && c->digit != 5)
            return SMTPSTATUS_EIMG_CORRUPT;
        if (i > 0 && c->digit <= img->classes[i - 1].digit)
            return SMTPSTATUS_EIMG_CORRUPT;
        if (!str_ok(b, c->title) || !str_ok(b, c->description) || !str_ok(b, c->reference) ||
            !str_ok(b, c->submitter) || !str_ok(b, c->change_controller))
            return SMTPSTATUS_EIMG_BOUNDS;
        if (!range_ok(c->fields_first, c->fields_count, h->field_count))
            return SMTPSTATUS_EIMG_BOUNDS;
        img->class_by_digit[c->digit] = c;
    }

    for (uint32_t s = 0; s < SMTPSTATUS_IMAGE_SUBJECT_SLOTS; s++) {
        uint16_t v = img->subject_index[s];
        if (v != SMTPSTATUS_IMAGE_NONE && (v >= h->subject_count || img->subjects[v].subject != s))
            return SMTPSTATUS_EIMG_CORRUPT;
    }
    for (uint32_t i = 0; i < h->subject_count; i++) {
        const struct smtpstatus_image_subject *s = &img->subjects[i];
        if (s->subject > SMTPSTATUS_IMAGE_MAX_SUBJECT || img->subject_index[s->subject] != i)
            return SMTPSTATUS_EIMG_CORRUPT;
        if (!str_ok(b, s->title) || !str_ok(b, s->description) || !str_ok(b, s->reference) ||
            !str_ok(b, s->submitter) || !str_ok(b, s->change_controller))
            return SMTPSTATUS_EIMG_BOUNDS;
        if (!range_ok(s->fields_first, s->fields_count, h->field_count) ||
            s->detail_span > SMTPSTATUS_IMAGE_MAX_DETAIL + 1 ||
            !range_ok(s->detail_base, s->detail_span, h->detail_index_count))
            return SMTPSTATUS_EIMG_BOUNDS;
        for (uint32_t d = 0; d < s->detail_span; d++) {
            uint16_t v = img->detail_index[s->detail_base + d];
            if (v == SMTPSTATUS_IMAGE_NONE)
                continue;
            if (v >= h->code_count || img->codes[v].subject != s->subject ||
                img->codes[v].detail != d)
                return SMTPSTATUS_EIMG_CORRUPT;
        }
    }

    for (uint32_t i = 0; i < h->code_count; i++) {
        const struct smtpstatus_image_code *c = &img->codes[i];
        if (c->subject > SMTPSTATUS_IMAGE_MAX_SUBJECT || c->detail > SMTPSTATUS_IMAGE_MAX_DETAIL)
            return SMTPSTATUS_EIMG_CORRUPT;
        if (i > 0 && (c->subject < c[-1].subject ||
                      (c->subject == c[-1].subject && c->detail <= c[-1].detail)))
            return SMTPSTATUS_EIMG_CORRUPT;
        uint16_t si = img->subject_index[c->subject];
        if (si == SMTPSTATUS_IMAGE_NONE)
            return SMTPSTATUS_EIMG_CORRUPT;
        const struct smtpstatus_image_subject *s = &img->subjects[si];
        if (c->detail >= s->detail_span || img->detail_index[s->detail_base + c->detail] != i)
            return SMTPSTATUS_EIMG_CORRUPT;
        if (!str_ok(b, c->title) || !str_ok(b, c->description) || !str_ok(b, c->reference) ||
            !str_ok(b, c->submitter) || !str_ok(b, c->change_controller) ||
            !str_ok(b, c->basic_raw))
            return SMTPSTATUS_EIMG_BOUNDS;
        if (!range_ok(c->fields_first, c->fields_count, h->field_count) ||
            !range_ok(c->basic_first, c->basic_count, h->u16_count))
            return SMTPSTATUS_EIMG_BOUNDS;
        if (c->reserved != 0 || (c->flags & ~SMTPSTATUS_IMAGE_CODE_SHIFTED_ROW) != 0)
            return SMTPSTATUS_EIMG_CORRUPT;
        for (uint32_t k = 0; k < c->basic_count; k++) {
            uint16_t v = img->u16[c->basic_first + k];
            if (v < SMTPSTATUS_IMAGE_BASIC_MIN || v > SMTPSTATUS_IMAGE_BASIC_MAX)
                return SMTPSTATUS_EIMG_CORRUPT;
        }
    }

    for (uint32_t s = 0; s < SMTPSTATUS_IMAGE_BASIC_SLOTS; s++) {
        uint16_t v = img->basic_index[s];
        if (v != SMTPSTATUS_IMAGE_NONE &&
            (v >= h->basic_count || img->basics[v].code != s + SMTPSTATUS_IMAGE_BASIC_MIN))
            return SMTPSTATUS_EIMG_CORRUPT;
    }
    for (uint32_t i = 0; i < h->basic_count; i++) {
        const struct smtpstatus_image_basic *bc = &img->basics[i];
        if (bc->code < SMTPSTATUS_IMAGE_BASIC_MIN || bc->code > SMTPSTATUS_IMAGE_BASIC_MAX ||
            img->basic_index[bc->code - SMTPSTATUS_IMAGE_BASIC_MIN] != i || bc->reserved != 0)
            return SMTPSTATUS_EIMG_CORRUPT;
        if (!str_ok(b, bc->text) || !str_ok(b, bc->reference) || !str_ok(b, bc->sample) ||
            !range_ok(bc->refs_first, bc->refs_count, h->u32_count))
            return SMTPSTATUS_EIMG_BOUNDS;
    }
    /* Every reference, not only those a record points at: a caller may hand back a
     * smtpstatus_basic with any range inside the pool. */
    for (uint32_t k = 0; k < h->u32_count; k++) {
        uint32_t ref = img->u32[k];
        if ((ref >> 2) >= h->code_count || (ref & 3u) < SMTPSTATUS_IMAGE_MATCH_EXACT)
            return SMTPSTATUS_EIMG_CORRUPT;
    }

    for (uint32_t i = 0; i < h->field_count; i++)
        if (!str_ok(b, img->fields[i].name) || !str_ok(b, img->fields[i].value))
            return SMTPSTATUS_EIMG_BOUNDS;
    return 0;
}

int
smtpstatus__image_init(struct smtpstatus_image *img, const void *buf, size_t len,
                       enum smtpstatus__image_check check)
{
    memset(img, 0, sizeof *img);
    if (buf == NULL || (uintptr_t)buf % SMTPSTATUS_IMAGE_ALIGN != 0)
        return SMTPSTATUS_EINVAL;
    if (len < sizeof(struct smtpstatus_image_header))
        return SMTPSTATUS_EIMG_TRUNCATED;
    const struct smtpstatus_image_header *h = buf;
    if (memcmp(h->magic, SMTPSTATUS_IMAGE_MAGIC, SMTPSTATUS_IMAGE_MAGIC_LEN) != 0)
        return SMTPSTATUS_EIMG_MAGIC;
    if (h->version != SMTPSTATUS_IMAGE_VERSION || h->header_size != sizeof *h)
        return SMTPSTATUS_EIMG_VERSION;
    if (h->image_size > len)
        return SMTPSTATUS_EIMG_TRUNCATED;
    if (h->image_size != len || h->image_size > SMTPSTATUS_IMAGE_MAX_SIZE ||
        h->image_size % SMTPSTATUS_IMAGE_ALIGN != 0)
        return SMTPSTATUS_EIMG_SIZE;
    if (check != SMTPSTATUS__CHECK_BOUNDS && smtpstatus_image_checksum(buf, len) != h->checksum)
        return SMTPSTATUS_EIMG_CHECKSUM;
    if (check == SMTPSTATUS__CHECK_ALL &&
        smtpstatus_image_rules_db_checksum(buf, len) != h->rules_db_checksum)
        return SMTPSTATUS_EIMG_CHECKSUM;

    /* The string pool comes last and every table must end before it. */
    if (h->strings_off % SMTPSTATUS_IMAGE_ALIGN != 0 || h->strings_off < sizeof *h ||
        h->strings_off > len || h->strings_size != len - h->strings_off || h->strings_size == 0)
        return SMTPSTATUS_EIMG_BOUNDS;
    const unsigned char *base = buf;
    struct bounds b = {h->strings_off, h->strings_size, (const char *)base + h->strings_off};
    if (b.strings[0] != '\0')
        return SMTPSTATUS_EIMG_CORRUPT;
    if (!table_ok(&b, h->classes_off, h->class_count, sizeof(struct smtpstatus_image_class)) ||
        !table_ok(&b, h->subjects_off, h->subject_count,
                  sizeof(struct smtpstatus_image_subject)) ||
        !table_ok(&b, h->codes_off, h->code_count, sizeof(struct smtpstatus_image_code)) ||
        !table_ok(&b, h->basics_off, h->basic_count, sizeof(struct smtpstatus_image_basic)) ||
        !table_ok(&b, h->subject_index_off, SMTPSTATUS_IMAGE_SUBJECT_SLOTS, sizeof(uint16_t)) ||
        !table_ok(&b, h->detail_index_off, h->detail_index_count, sizeof(uint16_t)) ||
        !table_ok(&b, h->basic_index_off, SMTPSTATUS_IMAGE_BASIC_SLOTS, sizeof(uint16_t)) ||
        !table_ok(&b, h->u16_off, h->u16_count, sizeof(uint16_t)) ||
        !table_ok(&b, h->u32_off, h->u32_count, sizeof(uint32_t)) ||
        !table_ok(&b, h->fields_off, h->field_count, sizeof(struct smtpstatus_image_field)) ||
        (h->rule_count > 0 &&
         !table_ok(&b, h->rules_off, h->rule_count, sizeof(struct smtpstatus_image_rule))) ||
        (h->vendor_count > 0 &&
         !table_ok(&b, h->vendors_off, h->vendor_count, sizeof(struct smtpstatus_image_vendor))))
        return SMTPSTATUS_EIMG_BOUNDS;
    if ((h->rule_count == 0 && h->rules_off != 0) || (h->vendor_count == 0 && h->vendors_off != 0))
        return SMTPSTATUS_EIMG_CORRUPT;

    img->base = base;
    img->size = len;
    img->hdr = h;
    img->classes = (const void *)(base + h->classes_off);
    img->subjects = (const void *)(base + h->subjects_off);
    img->codes = (const void *)(base + h->codes_off);
    img->basics = (const void *)(base + h->basics_off);
    img->subject_index = (const void *)(base + h->subject_index_off);
    img->detail_index = (const void *)(base + h->detail_index_off);
    img->basic_index = (const void *)(base + h->basic_index_off);
    img->u16 = (const void *)(base + h->u16_off);
    img->u32 = (const void *)(base + h->u32_off);
    img->fields = (const void *)(base + h->fields_off);
    img->strings = b.strings;
    img->rules = (const void *)(base + h->rules_off);
    img->vendors = (const void *)(base + h->vendors_off);
    atomic_init(&img->rules_db, NULL);
    int rc = validate_tables(img, &b);
    if (rc == 0)
        rc = validate_reasons(img, &b);
    if (rc != 0)
        memset(img, 0, sizeof *img);
    return rc;
}

int
smtpstatus_image_open(const void *buf, size_t len, smtpstatus_image **out)
{
    if (out == NULL)
        return SMTPSTATUS_EINVAL;
    *out = NULL;
    struct smtpstatus_image *img = malloc(sizeof *img);
    if (img == NULL)
        return SMTPSTATUS_ENOMEM;
    int rc = smtpstatus__image_init(img, buf, len, SMTPSTATUS__CHECK_ALL);
    if (rc != 0) {
        free(img);
        return rc;
    }
    *out = img;
    return 0;
}

void
smtpstatus_image_close(smtpstatus_image *img)
{
    if (img != NULL)
        smtpstatus__reason_release(img);
    free(img);
}

void
smtpstatus_image_summarize(const smtpstatus_image *img, smtpstatus_image_summary *out)
{
    const struct smtpstatus_image_header *h = img->hdr;
    out->version = h->version;
    out->generation = h->generation;
    out->built_at = h->built_at;
    out->source_digest = h->source_digest;
    out->checksum = h->checksum;
    out->size = h->image_size;
    out->source = img->strings + h->source.off;
    out->class_count = h->class_count;
    out->subject_count = h->subject_count;
    out->code_count = h->code_count;
    out->basic_count = h->basic_count;
}

/* ---- lookups -------------------------------------------------------------------------------- */

#define STR(img, s) ((img)->strings + (s).off)

#define FILL_PART(img, out, rec)                                                                   \
    do {                                                                                           \
        (out)->title = STR(img, (rec)->title);                                                     \
        (out)->description = STR(img, (rec)->description);                                         \
        (out)->reference = STR(img, (rec)->reference);                                             \
        (out)->submitter = STR(img, (rec)->submitter);                                             \
        (out)->change_controller = STR(img, (rec)->change_controller);                             \
        (out)->field_count = (rec)->fields_count;                                                  \
        (out)->fields_first_ = (rec)->fields_first;                                                \
    } while (0)

static const smtpstatus_part no_part;

static void
fill_code(const smtpstatus_image *img, const struct smtpstatus_image_code *c,
          smtpstatus_entry *out)
{
    out->registered = 1;
    out->title = STR(img, c->title);
    out->description = STR(img, c->description);
    out->reference = STR(img, c->reference);
    out->submitter = STR(img, c->submitter);
    out->change_controller = STR(img, c->change_controller);
    out->basic_codes_raw = STR(img, c->basic_raw);
    out->basic_codes = img->u16 + c->basic_first;
    out->basic_code_count = c->basic_count;
    out->basic_classes = c->basic_classes;
    out->assoc_flags = c->basic_flags;
    out->flags = c->flags;
    out->line = c->line;
    out->field_count = c->fields_count;
    out->fields_first_ = c->fields_first;
}

static void
clear_code(smtpstatus_entry *out)
{
    out->registered = 0;
    out->title = NULL;
    out->description = NULL;
    out->reference = NULL;
    out->submitter = NULL;
    out->change_controller = NULL;
    out->basic_codes_raw = NULL;
    out->basic_codes = NULL;
    out->basic_code_count = 0;
    out->basic_classes = 0;
    out->assoc_flags = 0;
    out->flags = 0;
    out->line = 0;
    out->field_count = 0;
    out->fields_first_ = 0;
}

int
smtpstatus_image_lookup(const smtpstatus_image *img, smtpstatus_code code, smtpstatus_entry *out)
{
    if (code.subject > SMTPSTATUS_IMAGE_MAX_SUBJECT || code.detail > SMTPSTATUS_IMAGE_MAX_DETAIL ||
        (code.cls != 0 && code.cls != 2 && code.cls != 4 && code.cls != 5))
        return SMTPSTATUS_EINVAL;
    out->code = code;

    const struct smtpstatus_image_class *cls = img->class_by_digit[code.cls];
    if (cls != NULL)
        FILL_PART(img, &out->cls, cls);
    else
        out->cls = no_part;

    uint16_t si = img->subject_index[code.subject];
    if (si == SMTPSTATUS_IMAGE_NONE) {
        out->subject_registered = 0;
        out->subject = no_part;
        clear_code(out);
        return 0;
    }
    const struct smtpstatus_image_subject *s = &img->subjects[si];
    out->subject_registered = 1;
    FILL_PART(img, &out->subject, s);

    uint16_t ci = code.detail < s->detail_span ? img->detail_index[s->detail_base + code.detail]
                                               : SMTPSTATUS_IMAGE_NONE;
    if (ci == SMTPSTATUS_IMAGE_NONE)
        clear_code(out);
    else
        fill_code(img, &img->codes[ci], out);
    return 0;
}

static int
field_at(const smtpstatus_image *img, uint32_t first, uint32_t count, uint32_t i,
         smtpstatus_field *out)
{
    /* first and count come back from the caller: check them against the image again. */
    if (i >= count || !range_ok(first, count, img->hdr->field_count))
        return SMTPSTATUS_EINVAL;
    const struct smtpstatus_image_field *f = &img->fields[first + i];
    out->name = STR(img, f->name);
    out->value = STR(img, f->value);
    return 0;
}

int
smtpstatus_image_entry_field(const smtpstatus_image *img, const smtpstatus_entry *entry,
                             uint32_t i, smtpstatus_field *out)
{
    return field_at(img, entry->fields_first_, entry->field_count, i, out);
}

int
smtpstatus_image_part_field(const smtpstatus_image *img, const smtpstatus_part *part, uint32_t i,
                            smtpstatus_field *out)
{
    return field_at(img, part->fields_first_, part->field_count, i, out);
}

uint32_t
smtpstatus_image_code_count(const smtpstatus_image *img)
{
    return img->hdr->code_count;
}

int
smtpstatus_image_code_at(const smtpstatus_image *img, uint32_t i, smtpstatus_entry *out)
{
    if (i >= img->hdr->code_count)
        return SMTPSTATUS_EINVAL;
    const struct smtpstatus_image_code *c = &img->codes[i];
    smtpstatus_code code = {0, c->subject, c->detail};
    return smtpstatus_image_lookup(img, code, out);
}

uint32_t
smtpstatus_image_class_count(const smtpstatus_image *img)
{
    return img->hdr->class_count;
}

int
smtpstatus_image_class_at(const smtpstatus_image *img, uint32_t i, uint8_t *digit,
                          smtpstatus_part *out)
{
    if (i >= img->hdr->class_count)
        return SMTPSTATUS_EINVAL;
    *digit = (uint8_t)img->classes[i].digit;
    FILL_PART(img, out, &img->classes[i]);
    return 0;
}

uint32_t
smtpstatus_image_subject_count(const smtpstatus_image *img)
{
    return img->hdr->subject_count;
}

int
smtpstatus_image_subject_at(const smtpstatus_image *img, uint32_t i, uint16_t *subject,
                            smtpstatus_part *out)
{
    if (i >= img->hdr->subject_count)
        return SMTPSTATUS_EINVAL;
    *subject = (uint16_t)img->subjects[i].subject;
    FILL_PART(img, out, &img->subjects[i]);
    return 0;
}

static void
fill_basic(const smtpstatus_image *img, const struct smtpstatus_image_basic *b,
           smtpstatus_basic *out)
{
    out->code = b->code;
    out->standard = (b->flags & SMTPSTATUS_IMAGE_BASIC_STANDARD) != 0;
    out->text = STR(img, b->text);
    out->reference = STR(img, b->reference);
    out->sample_text = STR(img, b->sample);
    out->assoc_count = b->refs_count;
    out->assoc_first_ = b->refs_first;
}

int
smtpstatus_image_lookup_basic(const smtpstatus_image *img, uint16_t code, smtpstatus_basic *out)
{
    /* RFC 5321 4.2's grammar: first digit 2 to 5, second 0 to 5. */
    if (code < 200 || code > 559 || code / 10 % 10 > 5)
        return SMTPSTATUS_EBASIC;
    uint16_t bi = img->basic_index[code - SMTPSTATUS_IMAGE_BASIC_MIN];
    if (bi == SMTPSTATUS_IMAGE_NONE)
        return SMTPSTATUS_ENOTFOUND;
    fill_basic(img, &img->basics[bi], out);
    return 0;
}

int
smtpstatus_image_basic_assoc(const smtpstatus_image *img, const smtpstatus_basic *basic,
                             uint32_t i, smtpstatus_code *code, smtpstatus_match *match)
{
    if (i >= basic->assoc_count ||
        !range_ok(basic->assoc_first_, basic->assoc_count, img->hdr->u32_count))
        return SMTPSTATUS_EINVAL;
    uint32_t ref = img->u32[basic->assoc_first_ + i];
    const struct smtpstatus_image_code *c = &img->codes[ref >> 2];
    code->cls = 0;
    code->subject = c->subject;
    code->detail = c->detail;
    *match = (smtpstatus_match)(ref & 3u);
    return 0;
}

uint32_t
smtpstatus_image_basic_count(const smtpstatus_image *img)
{
    return img->hdr->basic_count;
}

int
smtpstatus_image_basic_at(const smtpstatus_image *img, uint32_t i, smtpstatus_basic *out)
{
    if (i >= img->hdr->basic_count)
        return SMTPSTATUS_EINVAL;
    fill_basic(img, &img->basics[i], out);
    return 0;
}

int
smtpstatus_entry_matches(const smtpstatus_entry *entry, const char *query)
{
    const char *hay[] = {entry->title ? entry->title : "",
                         entry->description ? entry->description : ""};
    for (const char *q = query;;) {
        q += strspn(q, " \t");
        size_t n = strcspn(q, " \t");
        if (n == 0)
            return 1;
        int found = 0;
        for (int h = 0; h < 2 && !found; h++)
            for (const char *p = hay[h]; !found && *p != '\0'; p++)
                found = strncasecmp(p, q, n) == 0;
        if (!found)
            return 0;
        q += n;
    }
}
