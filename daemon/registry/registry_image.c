/*
 * A registry read back out of a compiled image (see registry_image.h). The image's records are
 * read directly: they carry the row lines and extra fields that the public lookup calls do not
 * show for classes and subjects.
 */
#include "registry_image.h"

#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

struct copier {
    const smtpstatus_image *img;
    int oom;
};

/* A malloc'd copy of an image string ("" for the empty one). */
static char *
str(struct copier *c, struct smtpstatus_image_str s)
{
    char *p = malloc((size_t)s.len + 1);
    if (p == NULL) {
        c->oom = 1;
        return NULL;
    }
    memcpy(p, c->img->strings + s.off, s.len);
    p[s.len] = '\0';
    return p;
}

/* The text fields shared by the three record kinds. */
#define COPY_TEXT(c, t, rec)                                                                       \
    do {                                                                                           \
        (t)->title = str((c), (rec)->title);                                                       \
        (t)->description = str((c), (rec)->description);                                           \
        (t)->reference = str((c), (rec)->reference);                                               \
        (t)->submitter = str((c), (rec)->submitter);                                               \
        (t)->change_controller = str((c), (rec)->change_controller);                               \
        (t)->line = (rec)->line;                                                                   \
        copy_fields((c), (t), (rec)->fields_first, (rec)->fields_count);                           \
    } while (0)

static void
copy_fields(struct copier *c, struct registry_text *t, uint32_t first, uint32_t count)
{
    if (count == 0)
        return;
    t->fields = calloc(count, sizeof *t->fields);
    if (t->fields == NULL) {
        c->oom = 1;
        return;
    }
    t->field_count = count;
    for (uint32_t i = 0; i < count; i++) {
        const struct smtpstatus_image_field *f = &c->img->fields[first + i];
        t->fields[i].name = str(c, f->name);
        t->fields[i].value = str(c, f->value);
    }
}

int
registry_from_image(const smtpstatus_image *img, struct registry **out)
{
    const struct smtpstatus_image_header *h = img->hdr;
    struct copier c = {.img = img};
    struct registry *r = calloc(1, sizeof *r);
    *out = NULL;
    if (r == NULL)
        return SMTPSTATUS_ENOMEM;
    r->classes = calloc(h->class_count ? h->class_count : 1, sizeof *r->classes);
    r->subjects = calloc(h->subject_count ? h->subject_count : 1, sizeof *r->subjects);
    r->codes = calloc(h->code_count ? h->code_count : 1, sizeof *r->codes);
    if (r->classes == NULL || r->subjects == NULL || r->codes == NULL) {
        registry_free(r);
        return SMTPSTATUS_ENOMEM;
    }
    /* Counted as they are filled, so that registry_free() frees exactly what was made. */
    for (uint32_t i = 0; i < h->class_count; i++, r->class_count++) {
        const struct smtpstatus_image_class *x = &img->classes[i];
        r->classes[i].number = (uint16_t)x->digit;
        COPY_TEXT(&c, &r->classes[i].text, x);
    }
    for (uint32_t i = 0; i < h->subject_count; i++, r->subject_count++) {
        const struct smtpstatus_image_subject *x = &img->subjects[i];
        r->subjects[i].number = (uint16_t)x->subject;
        COPY_TEXT(&c, &r->subjects[i].text, x);
    }
    for (uint32_t i = 0; i < h->code_count; i++, r->code_count++) {
        const struct smtpstatus_image_code *x = &img->codes[i];
        struct registry_code *y = &r->codes[i];
        y->subject = x->subject;
        y->detail = x->detail;
        y->flags = x->flags;
        COPY_TEXT(&c, &y->text, x);
        y->basic_raw = str(&c, x->basic_raw);
        /* The reader checked basic_count against BASIC_ASSOC_MAX_CODES's worth of pool. */
        uint32_t n = x->basic_count < BASIC_ASSOC_MAX_CODES ? x->basic_count
                                                            : BASIC_ASSOC_MAX_CODES;
        memcpy(y->assoc.codes, img->u16 + x->basic_first, n * sizeof(uint16_t));
        y->assoc.count = n;
        y->assoc.classes = x->basic_classes;
        y->assoc.flags = x->basic_flags;
    }
    r->source = str(&c, h->source);
    r->source_digest = h->source_digest;
    if (c.oom) {
        registry_free(r);
        return SMTPSTATUS_ENOMEM;
    }
    *out = r;
    return 0;
}
