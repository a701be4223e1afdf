/*
 * The registry being served, the last reload attempt, and the diff between two registries (see
 * served.h).
 */
#include "served.h"

#include <stdlib.h>
#include <string.h>

#include "image_build.h"
#include "registry_image.h"
#include "search.h"
#include "utf8.h"

void
served_init_embedded(struct served *s, uint64_t generation)
{
    memset(s, 0, sizeof *s);
    s->img = smtpstatus_image_embedded();
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(s->img, &sum);
    s->generation = generation;
    s->loaded_at = sum.built_at;
    served_prepare(s);
}

int
served_build(struct served *s, const struct registry *r, const struct rules *rules,
             uint64_t generation, uint64_t built_at)
{
    memset(s, 0, sizeof *s);
    int with_rules = rules != NULL && rules->count > 0;
    struct image_build_options opt = {.generation = generation,
                                      .built_at = built_at,
                                      .rules = with_rules ? rules : NULL};
    int rc = image_build(r, &opt, &s->buf, &s->len);
    if (rc == 0)
        rc = smtpstatus_image_open(s->buf, s->len, &s->owned);
    if (rc == 0 && with_rules && rules->admin_count > 0 && rules->file != NULL &&
        (s->rules_file = strdup(rules->file)) == NULL)
        rc = SMTPSTATUS_ENOMEM;
    if (rc != 0) {
        served_free(s);
        return rc;
    }
    s->img = s->owned;
    s->generation = generation;
    s->loaded_at = built_at;
    served_prepare(s);
    return 0;
}

int
served_rebuild(struct served *s, const smtpstatus_image *img, const struct rules *rules,
               uint64_t generation, uint64_t built_at)
{
    struct registry *r = NULL;
    memset(s, 0, sizeof *s);
    int rc = registry_from_image(img, &r);
    if (rc == 0)
        rc = served_build(s, r, rules, generation, built_at);
    registry_free(r);
    return rc;
}

void
served_prepare(struct served *s)
{
    struct search_text *t = malloc(sizeof *t);
    if (t != NULL && search_text_build(s->img, NULL, t) != 0) {
        free(t);
        t = NULL;
    }
    s->search = t;
}

const void *
served_image_bytes(const struct served *s, size_t *len)
{
    if (s->buf == NULL)
        return smtpstatus_embedded_image_data(len);
    *len = s->len;
    return s->buf;
}

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
    memset(diff, 0, sizeof *diff);
}

void
served_free(struct served *s)
{
    smtpstatus_image_close(s->owned);
    free(s->buf);
    for (size_t i = 0; i < s->warning_count; i++)
        free(s->warnings[i]);
    free(s->warnings);
    code_diff_free(&s->last_diff);
    rule_diff_free(&s->last_rule_diff);
    free(s->rules_file);
    search_text_free(s->search);
    free(s->search);
    memset(s, 0, sizeof *s);
}

void
served_reload_attempt_free(struct reload_attempt *r)
{
    free(r->source);
    diag_lines_free(r->problems, r->problem_count);
    memset(r, 0, sizeof *r);
}

/* A malloc'd copy of s made well-formed UTF-8, or NULL on ENOMEM. */
static char *
utf8_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p != NULL)
        smtpstatus__utf8_copy(p, n + 1, s, n);
    return p;
}

int
served_reload_attempt_set(struct reload_attempt *r, uint64_t at, const char *trigger,
                          const char *source, int ok, const struct diag *d, const char *extra)
{
    served_reload_attempt_free(r);
    r->known = 1;
    r->at = at;
    r->trigger = trigger;
    r->ok = ok;
    struct diag none;
    diag_init(&none);
    int rc = diag_lines(d != NULL ? d : &none, 0, &r->problems, &r->problem_count);
    if (rc == 0 && extra != NULL && extra[0] != '\0') {
        char **grown = realloc(r->problems, (r->problem_count + 1) * sizeof *grown);
        char *line = grown != NULL ? utf8_strdup(extra) : NULL;
        if (grown != NULL)
            r->problems = grown;
        if (line == NULL)
            rc = -1;
        else
            r->problems[r->problem_count++] = line;
    }
    if ((r->source = utf8_strdup(source != NULL ? source : "")) == NULL)
        rc = -1;
    return rc;
}

static int
str_differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

static int
entry_differs(const smtpstatus_entry *a, const smtpstatus_entry *b)
{
    if (str_differs(a->title, b->title) || str_differs(a->description, b->description) ||
        str_differs(a->reference, b->reference) || str_differs(a->submitter, b->submitter) ||
        str_differs(a->change_controller, b->change_controller) ||
        str_differs(a->basic_codes_raw, b->basic_codes_raw) ||
        a->basic_code_count != b->basic_code_count || a->basic_classes != b->basic_classes ||
        a->assoc_flags != b->assoc_flags || a->flags != b->flags)
        return 1;
    return memcmp(a->basic_codes, b->basic_codes, a->basic_code_count * sizeof(uint16_t)) != 0;
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
            if (entry_differs(&a, &b))
                rc = push(&diff->changed, &diff->changed_count, &b);
            i++;
            j++;
        }
    }
    if (rc != 0)
        code_diff_free(diff);
    return rc;
}
