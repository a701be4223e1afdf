/*
 * The diff between two registry images, code by code and field by field (see code_diff.h).
 */
#include "code_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void
code_diff_free(struct code_diff *diff)
{
    char **lists[] = {diff->added, diff->removed, diff->changed};
    size_t counts[] = {diff->added_count, diff->removed_count, diff->changed_count};
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < counts[l]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    for (size_t i = 0; i < diff->field_count; i++) {
        free(diff->fields[i].code);
        free(diff->fields[i].field);
        free(diff->fields[i].old);
        free(diff->fields[i].new);
    }
    free(diff->fields);
    memset(diff, 0, sizeof *diff);
}

static int
str_differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

/* What a code's entry looked like, as the diff compares it. */
struct entry_view {
    const smtpstatus_image *img;
    smtpstatus_entry e;
};

/* Appends one field change; returns -1 on ENOMEM. */
static int
push_field(struct code_diff *diff, const char *code, const char *field, const char *old,
           const char *new)
{
    struct code_field_change *grown =
        realloc(diff->fields, (diff->field_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    diff->fields = grown;
    struct code_field_change *c = &grown[diff->field_count];
    c->code = strdup(code);
    c->field = smtpstatus__utf8_strdup(field);
    c->old = smtpstatus__utf8_strdup(old != NULL ? old : "");
    c->new = smtpstatus__utf8_strdup(new != NULL ? new : "");
    diff->field_count++; /* freed whole by code_diff_free() even when a copy failed */
    return c->code != NULL && c->field != NULL && c->old != NULL && c->new != NULL ? 0 : -1;
}

/* The value of extra column `name` of an entry, or NULL when it has none. */
static const char *
extra_value(const struct entry_view *v, const char *name)
{
    for (uint32_t i = 0; i < v->e.field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(v->img, &v->e, i, &f) == 0 && f.name != NULL &&
            strcmp(f.name, name) == 0)
            return f.value != NULL ? f.value : "";
    }
    return NULL;
}

/* Compares one extra column of `from` with `to`, unless `to` has a column of that name and
 * `from` is the new entry (that pair is compared from the old side). */
static int
diff_extras(struct code_diff *diff, const char *code, const struct entry_view *a,
            const struct entry_view *b, int *changed)
{
    for (uint32_t i = 0; i < a->e.field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(a->img, &a->e, i, &f) != 0 || f.name == NULL)
            continue;
        const char *nv = extra_value(b, f.name);
        const char *ov = f.value != NULL ? f.value : "";
        if (nv != NULL && strcmp(ov, nv) == 0)
            continue;
        char field[256];
        snprintf(field, sizeof field, "field:%s", f.name);
        *changed = 1;
        if (push_field(diff, code, field, ov, nv) != 0)
            return -1;
    }
    for (uint32_t i = 0; i < b->e.field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(b->img, &b->e, i, &f) != 0 || f.name == NULL ||
            extra_value(a, f.name) != NULL)
            continue;
        char field[256];
        snprintf(field, sizeof field, "field:%s", f.name);
        *changed = 1;
        if (push_field(diff, code, field, "", f.value) != 0)
            return -1;
    }
    return 0;
}

/* Lists what changed between two entries of the same code; sets *changed when anything did
 * that is listed (a description change summarised by `summarise` counts only in
 * descriptions_differ). Returns -1 on ENOMEM. */
static int
diff_entry(struct code_diff *diff, const char *code, const struct entry_view *a,
           const struct entry_view *b, int summarise, int *changed)
{
    const smtpstatus_entry *x = &a->e, *y = &b->e;
    struct {
        const char *field, *old, *new;
    } plain[] = {
        {"title", x->title, y->title},
        {"description", x->description, y->description},
        {"basic_codes", x->basic_codes_raw, y->basic_codes_raw},
        {"reference", x->reference, y->reference},
        {"submitter", x->submitter, y->submitter},
        {"change_controller", x->change_controller, y->change_controller},
    };
    *changed = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (!str_differs(plain[i].old, plain[i].new))
            continue;
        if (summarise && strcmp(plain[i].field, "description") == 0) {
            diff->descriptions_differ++;
            continue;
        }
        *changed = 1;
        if (push_field(diff, code, plain[i].field, plain[i].old, plain[i].new) != 0)
            return -1;
    }
    if (diff_extras(diff, code, a, b, changed) != 0)
        return -1;
    /* What the raw text parses to can change with the loader while the text stays: say so. */
    if (!*changed &&
        (x->basic_code_count != y->basic_code_count || x->basic_classes != y->basic_classes ||
         x->assoc_flags != y->assoc_flags || x->flags != y->flags ||
         memcmp(x->basic_codes, y->basic_codes, x->basic_code_count * sizeof(uint16_t)) != 0)) {
        *changed = 1;
        if (push_field(diff, code, "basic_codes", x->basic_codes_raw, y->basic_codes_raw) != 0)
            return -1;
    }
    return 0;
}

/* Appends "X.S.D" to a list; returns -1 on ENOMEM. */
static int
push(char ***list, size_t *count, const smtpstatus_entry *e)
{
    char name[SMTPSTATUS_CODE_STRLEN];
    smtpstatus_code_format(e->code, name, sizeof name);
    char **grown = realloc(*list, (*count + 1) * sizeof **list);
    if (grown == NULL)
        return -1;
    *list = grown;
    if ((grown[*count] = strdup(name)) == NULL)
        return -1;
    (*count)++;
    return 0;
}

static int
code_cmp(const smtpstatus_entry *a, const smtpstatus_entry *b)
{
    if (a->code.subject != b->code.subject)
        return a->code.subject < b->code.subject ? -1 : 1;
    return a->code.detail < b->code.detail ? -1 : a->code.detail > b->code.detail;
}

int
code_diff_compute(const smtpstatus_image *old, const smtpstatus_image *new,
                  struct code_diff *diff)
{
    memset(diff, 0, sizeof *diff);
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(old, &sum);
    int summarise = old == smtpstatus_image_embedded() ||
                    (sum.source != NULL && strcmp(sum.source, "embedded") == 0);
    uint32_t n_old = smtpstatus_image_code_count(old), n_new = smtpstatus_image_code_count(new);
    uint32_t i = 0, j = 0;
    int rc = 0;
    /* Both tables are sorted by (subject, detail): one merge walk finds every difference. */
    while (rc == 0 && (i < n_old || j < n_new)) {
        smtpstatus_entry a, b;
        if (i < n_old)
            smtpstatus_image_code_at(old, i, &a);
        if (j < n_new)
            smtpstatus_image_code_at(new, j, &b);
        int c = i == n_old ? 1 : j == n_new ? -1 : code_cmp(&a, &b);
        if (c < 0) {
            rc = push(&diff->removed, &diff->removed_count, &a);
            i++;
        } else if (c > 0) {
            rc = push(&diff->added, &diff->added_count, &b);
            j++;
        } else {
            char name[SMTPSTATUS_CODE_STRLEN];
            smtpstatus_code_format(b.code, name, sizeof name);
            struct entry_view va = {old, a}, vb = {new, b};
            int changed = 0;
            rc = diff_entry(diff, name, &va, &vb, summarise, &changed);
            if (rc == 0 && changed)
                rc = push(&diff->changed, &diff->changed_count, &b);
            i++;
            j++;
        }
    }
    if (rc != 0)
        code_diff_free(diff);
    return rc;
}
