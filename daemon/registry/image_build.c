/*
 * Compiles a registry into the flat image of proto/smtpstatus_image.h (see image_build.h).
 *
 * The fixed-size part (header, record tables, indexes, small integer pools, extra fields) is
 * sized up front and written in place; strings are interned into a separate pool as records
 * are written, so each distinct text is stored once, and the pool is appended last. The result
 * is opened with the client's reader before it is returned, so the builder can never hand out
 * an image that a client would refuse.
 */
#include "image_build.h"

#include <stdlib.h>
#include <string.h>

#include "basic_codes.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

/* ---- the string pool ------------------------------------------------------------------------ */

struct pool {
    char *buf;
    size_t len, cap;
    struct slot {
        uint64_t hash;
        struct smtpstatus_image_str ref;
    } *slots;
    size_t nslots, used;
    int failed; /* ENOMEM or the pool outgrew 32-bit offsets */
};

static int
pool_reserve(struct pool *p, size_t extra)
{
    if (p->len + extra <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + extra)
        cap *= 2;
    char *b = realloc(p->buf, cap);
    if (b == NULL)
        return -1;
    p->buf = b;
    p->cap = cap;
    return 0;
}

static int
pool_grow_slots(struct pool *p)
{
    size_t n = p->nslots ? p->nslots * 2 : 256;
    struct slot *s = calloc(n, sizeof *s);
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->slots[i].hash == 0)
            continue;
        size_t j = p->slots[i].hash & (n - 1);
        while (s[j].hash != 0)
            j = (j + 1) & (n - 1);
        s[j] = p->slots[i];
    }
    free(p->slots);
    p->slots = s;
    p->nslots = n;
    return 0;
}

/* Returns the pool reference of s[0..n), adding it once. The empty string is {0, 0}. */
static struct smtpstatus_image_str
pool_add(struct pool *p, const char *s, size_t n)
{
    struct smtpstatus_image_str none = {0, 0};
    if (n == 0 || p->failed)
        return none;
    uint64_t h = smtpstatus_fnv64(SMTPSTATUS_FNV64_INIT, s, n) | 1; /* 0 marks a free slot */
    if ((p->used + 1) * 2 > p->nslots && pool_grow_slots(p) != 0) {
        p->failed = 1;
        return none;
    }
    size_t j = h & (p->nslots - 1);
    while (p->slots[j].hash != 0) {
        struct slot *sl = &p->slots[j];
        if (sl->hash == h && sl->ref.len == n && memcmp(p->buf + sl->ref.off, s, n) == 0)
            return sl->ref;
        j = (j + 1) & (p->nslots - 1);
    }
    if (n > UINT32_MAX - p->len - 1 || pool_reserve(p, n + 1) != 0) {
        p->failed = 1;
        return none;
    }
    struct smtpstatus_image_str ref = {(uint32_t)p->len, (uint32_t)n};
    memcpy(p->buf + p->len, s, n);
    p->buf[p->len + n] = '\0';
    p->len += n + 1;
    p->slots[j].hash = h;
    p->slots[j].ref = ref;
    p->used++;
    return ref;
}

static struct smtpstatus_image_str
pool_str(struct pool *p, const char *s)
{
    return pool_add(p, s, strlen(s));
}

/* ---- layout --------------------------------------------------------------------------------- */

struct layout {
    size_t classes, subjects, codes, basics, subject_index, detail_index, basic_index, u16, u32,
        fields, rules, rules_prefilter, rules_db, vendors, end;
    size_t rule_count, vendor_count;
    uint32_t detail_index_count, u16_count, u32_count, field_count, basic_count;
};

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static int
is_basic_record(const struct registry *r, uint16_t code)
{
    for (size_t i = 0; i < basic_codes_count; i++)
        if (basic_codes[i].code == code)
            return 1;
    for (size_t i = 0; i < r->code_count; i++)
        for (uint32_t k = 0; k < r->codes[i].assoc.count; k++)
            if (r->codes[i].assoc.codes[k] == code)
                return 1;
    return 0;
}

/* How code `c` matches basic code `b`, or 0. "Any" does not reach 3yz replies, which carry no
 * enhanced code (RFC 3463 has classes 2, 4 and 5 only). */
static unsigned
match_of(const struct registry_code *c, uint16_t b)
{
    for (uint32_t k = 0; k < c->assoc.count; k++)
        if (c->assoc.codes[k] == b)
            return SMTPSTATUS_IMAGE_MATCH_EXACT;
    unsigned digit = b / 100;
    if (c->assoc.classes & (1u << digit))
        return SMTPSTATUS_IMAGE_MATCH_WILDCARD;
    if ((c->assoc.flags & SMTPSTATUS_IMAGE_BASIC_ANY) && digit != 3)
        return SMTPSTATUS_IMAGE_MATCH_ANY;
    return 0;
}

static uint32_t
refs_of(const struct registry *r, uint16_t b)
{
    uint32_t n = 0;
    for (size_t i = 0; i < r->code_count; i++)
        n += match_of(&r->codes[i], b) != 0;
    return n;
}

static uint32_t
detail_span(const struct registry *r, uint16_t subject)
{
    uint32_t span = 0;
    for (size_t i = 0; i < r->code_count; i++)
        if (r->codes[i].subject == subject && r->codes[i].detail + 1u > span)
            span = r->codes[i].detail + 1u;
    return span;
}

static int
plan(const struct registry *r, const struct rules *rules, const struct vendors *vendors,
     struct layout *L)
{
    memset(L, 0, sizeof *L);
    L->rule_count = rules != NULL ? rules->count : 0;
    L->vendor_count = vendors != NULL ? vendors->count : 0;
    if (L->rule_count > UINT32_MAX / sizeof(struct smtpstatus_image_rule) ||
        L->vendor_count > UINT32_MAX / sizeof(struct smtpstatus_image_vendor) ||
        (rules != NULL && rules->db_size > SMTPSTATUS_IMAGE_MAX_SIZE))
        return SMTPSTATUS_EINVAL;
    if (r->class_count > SMTPSTATUS_IMAGE_MAX_RECORDS ||
        r->subject_count > SMTPSTATUS_IMAGE_MAX_RECORDS ||
        r->code_count > SMTPSTATUS_IMAGE_MAX_RECORDS)
        return SMTPSTATUS_EINVAL;

    for (size_t i = 0; i < r->subject_count; i++)
        L->detail_index_count += detail_span(r, r->subjects[i].number);
    size_t fields = 0;
    for (size_t i = 0; i < r->class_count; i++)
        fields += r->classes[i].text.field_count;
    for (size_t i = 0; i < r->subject_count; i++)
        fields += r->subjects[i].text.field_count;
    for (size_t i = 0; i < r->code_count; i++) {
        fields += r->codes[i].text.field_count;
        L->u16_count += r->codes[i].assoc.count;
    }
    if (fields > UINT32_MAX / 2)
        return SMTPSTATUS_EINVAL;
    L->field_count = (uint32_t)fields;
    for (uint16_t b = SMTPSTATUS_IMAGE_BASIC_MIN; b <= SMTPSTATUS_IMAGE_BASIC_MAX; b++) {
        if (!is_basic_record(r, b))
            continue;
        L->basic_count++;
        L->u32_count += refs_of(r, b);
    }

    size_t off = align8(sizeof(struct smtpstatus_image_header));
    L->classes = off;
    off = align8(off + r->class_count * sizeof(struct smtpstatus_image_class));
    L->subjects = off;
    off = align8(off + r->subject_count * sizeof(struct smtpstatus_image_subject));
    L->codes = off;
    off = align8(off + r->code_count * sizeof(struct smtpstatus_image_code));
    L->basics = off;
    off = align8(off + L->basic_count * sizeof(struct smtpstatus_image_basic));
    L->subject_index = off;
    off = align8(off + SMTPSTATUS_IMAGE_SUBJECT_SLOTS * sizeof(uint16_t));
    L->detail_index = off;
    off = align8(off + L->detail_index_count * sizeof(uint16_t));
    L->basic_index = off;
    off = align8(off + SMTPSTATUS_IMAGE_BASIC_SLOTS * sizeof(uint16_t));
    L->u16 = off;
    off = align8(off + L->u16_count * sizeof(uint16_t));
    L->u32 = off;
    off = align8(off + L->u32_count * sizeof(uint32_t));
    L->fields = off;
    off = align8(off + L->field_count * sizeof(struct smtpstatus_image_field));
    L->rules = L->rule_count > 0 ? off : 0;
    off = align8(off + L->rule_count * sizeof(struct smtpstatus_image_rule));
    if (rules != NULL && rules->db_size > 0 && rules->prefilter != NULL) {
        L->rules_prefilter = off;
        off = align8(off + SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    }
    if (rules != NULL && rules->db_size > 0) {
        /* Where readers scan it in place (see smtpstatus_image.h). */
        off = (off + SMTPSTATUS_IMAGE_DB_ALIGN - 1) & ~(size_t)(SMTPSTATUS_IMAGE_DB_ALIGN - 1);
        L->rules_db = off;
        off = align8(off + rules->db_size);
    }
    L->vendors = L->vendor_count > 0 ? off : 0;
    off = align8(off + L->vendor_count * sizeof(struct smtpstatus_image_vendor));
    L->end = off;
    return L->end > SMTPSTATUS_IMAGE_MAX_SIZE ? SMTPSTATUS_EINVAL : 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

struct writer {
    unsigned char *img;
    const struct layout *L;
    struct pool pool;
    uint32_t next_field;
};

static void
write_fields(struct writer *w, const struct registry_text *t, uint32_t *first, uint32_t *count)
{
    struct smtpstatus_image_field *f = (void *)(w->img + w->L->fields);
    *first = w->next_field;
    *count = (uint32_t)t->field_count;
    for (size_t i = 0; i < t->field_count; i++) {
        f[w->next_field].name = pool_str(&w->pool, t->fields[i].name);
        f[w->next_field].value = pool_str(&w->pool, t->fields[i].value);
        w->next_field++;
    }
}

#define WRITE_TEXT(w, rec, t)                                                                      \
    do {                                                                                           \
        (rec)->title = pool_str(&(w)->pool, (t)->title);                                           \
        (rec)->description = pool_str(&(w)->pool, (t)->description);                               \
        (rec)->reference = pool_str(&(w)->pool, (t)->reference);                                   \
        (rec)->submitter = pool_str(&(w)->pool, (t)->submitter);                                   \
        (rec)->change_controller = pool_str(&(w)->pool, (t)->change_controller);                   \
        (rec)->line = (t)->line;                                                                   \
        write_fields((w), (t), &(rec)->fields_first, &(rec)->fields_count);                        \
    } while (0)

static void
write_tables(struct writer *w, const struct registry *r)
{
    const struct layout *L = w->L;
    unsigned char *img = w->img;
    struct smtpstatus_image_class *cls = (void *)(img + L->classes);
    struct smtpstatus_image_subject *sub = (void *)(img + L->subjects);
    struct smtpstatus_image_code *codes = (void *)(img + L->codes);
    struct smtpstatus_image_basic *basics = (void *)(img + L->basics);
    uint16_t *subject_index = (void *)(img + L->subject_index);
    uint16_t *detail_index = (void *)(img + L->detail_index);
    uint16_t *basic_index = (void *)(img + L->basic_index);
    uint16_t *u16 = (void *)(img + L->u16);
    uint32_t *u32 = (void *)(img + L->u32);

    for (size_t i = 0; i < r->class_count; i++) {
        cls[i].digit = r->classes[i].number;
        WRITE_TEXT(w, &cls[i], &r->classes[i].text);
    }

    for (uint32_t i = 0; i < SMTPSTATUS_IMAGE_SUBJECT_SLOTS; i++)
        subject_index[i] = SMTPSTATUS_IMAGE_NONE;
    for (uint32_t i = 0; i < L->detail_index_count; i++)
        detail_index[i] = SMTPSTATUS_IMAGE_NONE;
    uint32_t base = 0;
    for (size_t i = 0; i < r->subject_count; i++) {
        sub[i].subject = r->subjects[i].number;
        WRITE_TEXT(w, &sub[i], &r->subjects[i].text);
        sub[i].detail_base = base;
        sub[i].detail_span = detail_span(r, r->subjects[i].number);
        base += sub[i].detail_span;
        subject_index[sub[i].subject] = (uint16_t)i;
    }

    uint32_t u16_next = 0;
    for (size_t i = 0; i < r->code_count; i++) {
        const struct registry_code *c = &r->codes[i];
        struct smtpstatus_image_code *rec = &codes[i];
        rec->subject = c->subject;
        rec->detail = c->detail;
        rec->flags = c->flags;
        WRITE_TEXT(w, rec, &c->text);
        rec->basic_raw = pool_str(&w->pool, c->basic_raw);
        rec->basic_first = u16_next;
        rec->basic_count = c->assoc.count;
        memcpy(u16 + u16_next, c->assoc.codes, c->assoc.count * sizeof(uint16_t));
        u16_next += c->assoc.count;
        rec->basic_flags = c->assoc.flags;
        rec->basic_classes = c->assoc.classes;
        /* The loader guarantees every code's subject is registered. */
        const struct smtpstatus_image_subject *s = &sub[subject_index[c->subject]];
        detail_index[s->detail_base + c->detail] = (uint16_t)i;
    }

    for (uint32_t i = 0; i < SMTPSTATUS_IMAGE_BASIC_SLOTS; i++)
        basic_index[i] = SMTPSTATUS_IMAGE_NONE;
    uint32_t nb = 0, u32_next = 0;
    for (uint16_t b = SMTPSTATUS_IMAGE_BASIC_MIN; b <= SMTPSTATUS_IMAGE_BASIC_MAX; b++) {
        if (!is_basic_record(r, b))
            continue;
        struct smtpstatus_image_basic *rec = &basics[nb];
        rec->code = b;
        for (size_t k = 0; k < basic_codes_count; k++) {
            if (basic_codes[k].code != b)
                continue;
            rec->flags = SMTPSTATUS_IMAGE_BASIC_STANDARD;
            rec->text = pool_str(&w->pool, basic_codes[k].text);
            rec->reference = pool_str(&w->pool, basic_codes[k].reference);
            rec->sample = pool_str(&w->pool, basic_codes[k].sample);
        }
        rec->refs_first = u32_next;
        for (unsigned m = SMTPSTATUS_IMAGE_MATCH_EXACT; m <= SMTPSTATUS_IMAGE_MATCH_ANY; m++)
            for (size_t i = 0; i < r->code_count; i++)
                if (match_of(&r->codes[i], b) == m)
                    u32[u32_next++] = (uint32_t)i << 2 | m;
        rec->refs_count = u32_next - rec->refs_first;
        basic_index[b - SMTPSTATUS_IMAGE_BASIC_MIN] = (uint16_t)nb;
        nb++;
    }
}

static void
write_rules(struct writer *w, const struct rules *rules)
{
    if (rules == NULL)
        return;
    struct smtpstatus_image_rule *rec = (void *)(w->img + w->L->rules);
    for (size_t i = 0; i < rules->count; i++) {
        const struct rule *x = &rules->items[i];
        struct smtpstatus_image_rule *y = &rec[i];
        y->basic = x->basic;
        y->basic_class = x->basic_class;
        y->reason = (uint8_t)x->reason;
        y->retry = x->retry;
        y->flags = (uint16_t)((x->pattern[0] != '\0' ? SMTPSTATUS_IMAGE_RULE_HAS_PATTERN : 0) |
                              (x->has_enhanced ? SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED : 0) |
                              (x->has_status ? SMTPSTATUS_IMAGE_RULE_HAS_STATUS : 0) |
                              (i < rules->admin_count ? SMTPSTATUS_IMAGE_RULE_ADMIN : 0));
        if (x->has_enhanced) {
            y->enhanced_class = x->enhanced_class;
            y->subject = x->subject;
            y->detail = x->detail;
        }
        if (x->has_status) {
            y->status_class = x->status.cls;
            y->status_subject = x->status.subject;
            y->status_detail = x->status.detail;
        }
        y->line = x->line;
        y->name = pool_str(&w->pool, x->name);
        y->pattern = pool_str(&w->pool, x->pattern);
        y->note = pool_str(&w->pool, x->note);
        y->source = pool_str(&w->pool, x->source);
    }
    if (rules->db_size > 0)
        memcpy(w->img + w->L->rules_db, rules->db, rules->db_size);
    if (w->L->rules_prefilter != 0)
        memcpy(w->img + w->L->rules_prefilter, rules->prefilter, SMTPSTATUS_IMAGE_PREFILTER_BYTES);
}

/* The vendors come sorted from vendors_parse(), in the order the reader searches. */
static void
write_vendors(struct writer *w, const struct vendors *vendors)
{
    if (vendors == NULL)
        return;
    struct smtpstatus_image_vendor *rec = (void *)(w->img + w->L->vendors);
    for (size_t i = 0; i < vendors->count; i++) {
        const struct vendor *x = &vendors->items[i];
        struct smtpstatus_image_vendor *y = &rec[i];
        y->cls = x->cls;
        y->reason = x->reason;
        y->subject = x->subject;
        y->detail = x->detail;
        y->provider = pool_str(&w->pool, x->provider);
        y->code = pool_str(&w->pool, x->code);
        y->meaning = pool_str(&w->pool, x->meaning);
        y->source = pool_str(&w->pool, x->source);
    }
}

int
image_build(const struct registry *r, const struct image_build_options *opt, void **out,
            size_t *len)
{
    struct layout L;
    *out = NULL;
    *len = 0;
    int rc = plan(r, opt->rules, opt->vendors, &L);
    if (rc != 0)
        return rc;

    struct writer w = {.L = &L};
    w.img = calloc(1, L.end);
    if (w.img == NULL || pool_reserve(&w.pool, 1) != 0) {
        free(w.img);
        return SMTPSTATUS_ENOMEM;
    }
    w.pool.buf[0] = '\0'; /* offset 0 is the empty string */
    w.pool.len = 1;

    struct smtpstatus_image_header h = {0};
    h.source = pool_str(&w.pool, r->source);
    write_tables(&w, r);
    write_rules(&w, opt->rules);
    write_vendors(&w, opt->vendors);

    size_t total = align8(L.end + w.pool.len);
    unsigned char *img = NULL;
    if (w.pool.failed)
        rc = SMTPSTATUS_ENOMEM;
    else if (total > SMTPSTATUS_IMAGE_MAX_SIZE)
        rc = SMTPSTATUS_EINVAL;
    /* 64-byte aligned, as a mapping is: the daemon classifies with this buffer, and scans the
     * rules database in place as its clients do (reason.c). */
    else if ((img = aligned_alloc(SMTPSTATUS_IMAGE_DB_ALIGN,
                                  (total + SMTPSTATUS_IMAGE_DB_ALIGN - 1) &
                                      ~(size_t)(SMTPSTATUS_IMAGE_DB_ALIGN - 1))) == NULL)
        rc = SMTPSTATUS_ENOMEM;
    if (rc != 0) {
        free(w.img);
        free(w.pool.buf);
        free(w.pool.slots);
        return rc;
    }
    memcpy(img, w.img, L.end);
    free(w.img);
    memcpy(img + L.end, w.pool.buf, w.pool.len);
    memset(img + L.end + w.pool.len, 0, total - L.end - w.pool.len);
    free(w.pool.buf);
    free(w.pool.slots);

    memcpy(h.magic, SMTPSTATUS_IMAGE_MAGIC, SMTPSTATUS_IMAGE_MAGIC_LEN);
    h.version = SMTPSTATUS_IMAGE_VERSION;
    h.header_size = sizeof h;
    h.image_size = total;
    h.generation = opt->generation;
    h.built_at = opt->built_at;
    h.source_digest = r->source_digest;
    h.class_count = (uint32_t)r->class_count;
    h.subject_count = (uint32_t)r->subject_count;
    h.code_count = (uint32_t)r->code_count;
    h.basic_count = L.basic_count;
    h.classes_off = (uint32_t)L.classes;
    h.subjects_off = (uint32_t)L.subjects;
    h.codes_off = (uint32_t)L.codes;
    h.basics_off = (uint32_t)L.basics;
    h.subject_index_off = (uint32_t)L.subject_index;
    h.detail_index_off = (uint32_t)L.detail_index;
    h.detail_index_count = L.detail_index_count;
    h.basic_index_off = (uint32_t)L.basic_index;
    h.u16_off = (uint32_t)L.u16;
    h.u16_count = L.u16_count;
    h.u32_off = (uint32_t)L.u32;
    h.u32_count = L.u32_count;
    h.fields_off = (uint32_t)L.fields;
    h.field_count = L.field_count;
    h.rules_off = (uint32_t)L.rules;
    h.rule_count = (uint32_t)L.rule_count;
    h.rules_db_off = (uint32_t)L.rules_db;
    h.rules_db_size = opt->rules != NULL ? (uint32_t)opt->rules->db_size : 0;
    h.rules_prefilter_off = (uint32_t)L.rules_prefilter;
    h.vendors_off = (uint32_t)L.vendors;
    h.vendor_count = (uint32_t)L.vendor_count;
    h.admin_rule_count = opt->rules != NULL ? (uint32_t)opt->rules->admin_count : 0;
    h.strings_off = (uint32_t)L.end;
    h.strings_size = (uint32_t)(total - L.end);
    memcpy(img, &h, sizeof h);
    /* The database's checksum first: the image's covers the header that carries it. */
    h.rules_db_checksum = smtpstatus_image_rules_db_checksum(img, total);
    memcpy(img, &h, sizeof h);
    uint64_t sum = smtpstatus_image_checksum(img, total);
    memcpy(img + offsetof(struct smtpstatus_image_header, checksum), &sum, sizeof sum);

    smtpstatus_image *check = NULL;
    rc = smtpstatus_image_open(img, total, &check);
    smtpstatus_image_close(check);
    if (rc != 0) {
        free(img);
        return rc;
    }
    *out = img;
    *len = total;
    return 0;
}
