/*
 * The registry being served and the last reload attempt (see served.h).
 */
#include "served.h"

#include <stdio.h>
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
        char *line = grown != NULL ? smtpstatus__utf8_strdup(extra) : NULL;
        if (grown != NULL)
            r->problems = grown;
        if (line == NULL)
            rc = -1;
        else
            r->problems[r->problem_count++] = line;
    }
    if ((r->source = smtpstatus__utf8_strdup(source != NULL ? source : "")) == NULL)
        rc = -1;
    return rc;
}
