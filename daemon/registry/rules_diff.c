/*
 * The rules diff (see rules_diff.h). Each pairing pass hashes the rules of the new set that are
 * still unpaired, sorts them, and looks each unpaired old rule up among them, so a diff of
 * thousands of rules stays far from quadratic.
 */
#include "rules_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

/* One side of the diff: the rules of an image, and what became of each. */
struct side {
    const smtpstatus_image *img;
    const struct smtpstatus_image_rule *recs;
    uint32_t count;
    int *peer;     /* index of the paired rule on the other side, or -1 */
    int *changed;  /* paired, and something differs */
};

static const smtpstatus_image *
effective(const smtpstatus_image *img)
{
    return img->hdr->rule_count > 0 ? img : smtpstatus_image_embedded();
}

void
rules_image_counts(const smtpstatus_image *img, uint32_t *admin, uint32_t *builtin)
{
    const smtpstatus_image *e = effective(img);
    *admin = e->hdr->admin_rule_count;
    *builtin = e->hdr->rule_count - e->hdr->admin_rule_count;
}

static int
is_admin(const struct smtpstatus_image_rule *r)
{
    return (r->flags & SMTPSTATUS_IMAGE_RULE_ADMIN) != 0;
}

static int
str_eq(const struct side *a, struct smtpstatus_image_str x, const struct side *b,
       struct smtpstatus_image_str y)
{
    return x.len == y.len && memcmp(a->img->strings + x.off, b->img->strings + y.off, x.len) == 0;
}

static uint64_t
str_hash(uint64_t h, const struct side *s, struct smtpstatus_image_str x)
{
    return smtpstatus_fnv64(h, s->img->strings + x.off, x.len);
}

/* An administrator's rule named after its place (FILE:LINE): a Name of its own cannot hold a
 * colon. */
static int
line_named(const struct side *s, const struct smtpstatus_image_rule *r)
{
    return is_admin(r) && memchr(s->img->strings + r->name.off, ':', r->name.len) != NULL;
}

/* What decides which replies a rule matches. */
static uint64_t
trigger_hash(const struct side *s, const struct smtpstatus_image_rule *r)
{
    uint16_t k[6] = {r->basic, r->basic_class, (uint16_t)(r->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED),
                     r->enhanced_class, r->subject, r->detail};
    return str_hash(smtpstatus_fnv64(SMTPSTATUS_FNV64_INIT, k, sizeof k), s, r->pattern);
}

static int
trigger_eq(const struct side *a, const struct smtpstatus_image_rule *x, const struct side *b,
           const struct smtpstatus_image_rule *y)
{
    return x->basic == y->basic && x->basic_class == y->basic_class &&
           (x->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED) ==
               (y->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED) &&
           x->enhanced_class == y->enhanced_class && x->subject == y->subject &&
           x->detail == y->detail && str_eq(a, x->pattern, b, y->pattern);
}

/* Everything a rule says, but where it is and what it is called. */
static uint64_t
content_hash(const struct side *s, const struct smtpstatus_image_rule *r)
{
    uint16_t k[6] = {r->reason, r->retry, (uint16_t)(r->flags & SMTPSTATUS_IMAGE_RULE_HAS_STATUS),
                     r->status_class, r->status_subject, r->status_detail};
    uint64_t h = smtpstatus_fnv64(trigger_hash(s, r), k, sizeof k);
    return str_hash(str_hash(h, s, r->note), s, r->source);
}

static int
content_eq(const struct side *a, const struct smtpstatus_image_rule *x, const struct side *b,
           const struct smtpstatus_image_rule *y)
{
    return trigger_eq(a, x, b, y) && x->reason == y->reason && x->retry == y->retry &&
           (x->flags & SMTPSTATUS_IMAGE_RULE_HAS_STATUS) ==
               (y->flags & SMTPSTATUS_IMAGE_RULE_HAS_STATUS) &&
           x->status_class == y->status_class && x->status_subject == y->status_subject &&
           x->status_detail == y->status_detail && str_eq(a, x->note, b, y->note) &&
           str_eq(a, x->source, b, y->source);
}

static uint64_t
name_hash(const struct side *s, const struct smtpstatus_image_rule *r)
{
    return str_hash(SMTPSTATUS_FNV64_INIT, s, r->name);
}

static int
name_eq(const struct side *a, const struct smtpstatus_image_rule *x, const struct side *b,
        const struct smtpstatus_image_rule *y)
{
    return str_eq(a, x->name, b, y->name);
}

enum pass { BY_NAME, BY_CONTENT, BY_TRIGGER };

struct keyed {
    uint64_t hash;
    uint32_t index;
};

static int
keyed_cmp(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Whether rule i of `s` takes part in a pass over the administrator's rules (admin) or the
 * built-in ones: a built-in rule is known by its name alone. */
static int
eligible(const struct side *s, uint32_t i, int admin, enum pass p)
{
    const struct smtpstatus_image_rule *r = &s->recs[i];
    return s->peer[i] < 0 && is_admin(r) == admin && (admin || p == BY_NAME);
}

/* Pairs the unpaired rules of `o` (old) and `n` (new) that the pass says are the same rule,
 * each old rule with the first such new rule. Returns 0 or -1 on ENOMEM. */
static int
pair(struct side *o, struct side *n, int admin, enum pass p)
{
    struct keyed *k = malloc((n->count ? n->count : 1) * sizeof *k);
    if (k == NULL)
        return -1;
    uint32_t m = 0;
    for (uint32_t j = 0; j < n->count; j++) {
        if (!eligible(n, j, admin, p))
            continue;
        const struct smtpstatus_image_rule *r = &n->recs[j];
        /* The names that move with the lines say nothing about which rule is which. */
        if (p == BY_NAME && admin && line_named(n, r))
            continue;
        uint64_t h = p == BY_NAME ? name_hash(n, r)
                     : p == BY_CONTENT ? content_hash(n, r)
                                       : trigger_hash(n, r);
        k[m++] = (struct keyed){h, j};
    }
    qsort(k, m, sizeof *k, keyed_cmp);
    for (uint32_t i = 0; i < o->count; i++) {
        if (!eligible(o, i, admin, p))
            continue;
        const struct smtpstatus_image_rule *x = &o->recs[i];
        if (p == BY_NAME && admin && line_named(o, x))
            continue;
        uint64_t h = p == BY_NAME ? name_hash(o, x)
                     : p == BY_CONTENT ? content_hash(o, x)
                                       : trigger_hash(o, x);
        size_t lo = 0, hi = m;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (k[mid].hash < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < m && k[lo].hash == h; lo++) {
            uint32_t j = k[lo].index;
            const struct smtpstatus_image_rule *y = &n->recs[j];
            if (n->peer[j] >= 0)
                continue;
            int same = p == BY_NAME    ? name_eq(o, x, n, y)
                       : p == BY_CONTENT ? content_eq(o, x, n, y)
                                         : trigger_eq(o, x, n, y);
            if (!same)
                continue;
            o->peer[i] = (int)j;
            n->peer[j] = (int)i;
            /* Same content and both named by their lines: the rule only moved. */
            int changed = !content_eq(o, x, n, y);
            if (!changed && !(line_named(o, x) && line_named(n, y)))
                changed = !name_eq(o, x, n, y);
            o->changed[i] = n->changed[j] = changed;
            break;
        }
    }
    free(k);
    return 0;
}

/* rules.c's spelling of a rule's codes, for people. */
static void
ref_codes(const struct smtpstatus_image_rule *r, struct rule_ref *out)
{
    if (r->basic != SMTPSTATUS_IMAGE_ANY)
        snprintf(out->basic, sizeof out->basic, "%u", r->basic);
    else if (r->basic_class != 0)
        snprintf(out->basic, sizeof out->basic, "%uXX", r->basic_class);
    if (r->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED) {
        char cls[4] = "X", det[8] = "X";
        if (r->enhanced_class != 0)
            snprintf(cls, sizeof cls, "%u", r->enhanced_class);
        if (r->detail != SMTPSTATUS_IMAGE_ANY)
            snprintf(det, sizeof det, "%u", r->detail);
        snprintf(out->enhanced, sizeof out->enhanced, "%s.%u.%s", cls, r->subject, det);
    }
}

static char *
dup_str(const struct side *s, struct smtpstatus_image_str x)
{
    char *p = malloc((size_t)x.len + 1);
    if (p != NULL) {
        memcpy(p, s->img->strings + x.off, x.len);
        p[x.len] = '\0';
    }
    return p;
}

/* Appends rule i of `s` to a list; `was` is the old side's rule for a change, or NULL. */
static int
push(struct rule_ref **list, size_t *count, const struct side *s, uint32_t i,
     const struct side *was_side, int was)
{
    struct rule_ref *grown = realloc(*list, (*count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    *list = grown;
    const struct smtpstatus_image_rule *r = &s->recs[i];
    struct rule_ref *x = &grown[*count];
    memset(x, 0, sizeof *x);
    x->reason = smtpstatus_reason_name((smtpstatus_reason)r->reason);
    x->admin = is_admin(r);
    ref_codes(r, x);
    x->name = dup_str(s, r->name);
    x->pattern = dup_str(s, r->pattern);
    if (was_side != NULL && !name_eq(s, r, was_side, &was_side->recs[was]))
        x->was = dup_str(was_side, was_side->recs[was].name);
    else
        x->was = strdup("");
    (*count)++;
    return x->name != NULL && x->pattern != NULL && x->was != NULL ? 0 : -1;
}

static int
side_init(struct side *s, const smtpstatus_image *img)
{
    s->img = effective(img);
    s->recs = s->img->rules;
    s->count = s->img->hdr->rule_count;
    size_t n = s->count ? s->count : 1;
    s->peer = malloc(n * sizeof *s->peer);
    s->changed = calloc(n, sizeof *s->changed);
    if (s->peer == NULL || s->changed == NULL)
        return -1;
    for (uint32_t i = 0; i < s->count; i++)
        s->peer[i] = -1;
    return 0;
}

int
rule_diff_compute(const smtpstatus_image *old, const smtpstatus_image *new,
                  struct rule_diff *diff)
{
    memset(diff, 0, sizeof *diff);
    struct side o = {0}, n = {0};
    int rc = side_init(&o, old) | side_init(&n, new);
    /* Built-in rules by name; then the administrator's: by their own names, by what they say
     * wherever they moved, by the replies they match, and last by the line they are on. */
    if (rc == 0)
        rc = pair(&o, &n, 0, BY_NAME) | pair(&o, &n, 1, BY_NAME) | pair(&o, &n, 1, BY_CONTENT) |
             pair(&o, &n, 1, BY_TRIGGER);
    /* By line: the names that BY_NAME skipped. */
    for (uint32_t i = 0; rc == 0 && i < o.count; i++) {
        if (o.peer[i] >= 0 || !line_named(&o, &o.recs[i]))
            continue;
        for (uint32_t j = 0; j < n.count; j++) {
            if (n.peer[j] >= 0 || !line_named(&n, &n.recs[j]) ||
                !name_eq(&o, &o.recs[i], &n, &n.recs[j]))
                continue;
            o.peer[i] = (int)j;
            n.peer[j] = (int)i;
            o.changed[i] = n.changed[j] = 1;
            break;
        }
    }
    for (uint32_t j = 0; rc == 0 && j < n.count; j++) {
        if (n.peer[j] < 0)
            rc = push(&diff->added, &diff->added_count, &n, j, NULL, 0);
        else if (n.changed[j])
            rc = push(&diff->changed, &diff->changed_count, &n, j, &o, n.peer[j]);
    }
    for (uint32_t i = 0; rc == 0 && i < o.count; i++)
        if (o.peer[i] < 0)
            rc = push(&diff->removed, &diff->removed_count, &o, i, NULL, 0);
    free(o.peer);
    free(o.changed);
    free(n.peer);
    free(n.changed);
    if (rc != 0) {
        rule_diff_free(diff);
        return -1;
    }
    return 0;
}

static void
free_list(struct rule_ref *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].was);
        free(list[i].pattern);
    }
    free(list);
}

void
rule_diff_free(struct rule_diff *diff)
{
    free_list(diff->added, diff->added_count);
    free_list(diff->removed, diff->removed_count);
    free_list(diff->changed, diff->changed_count);
    memset(diff, 0, sizeof *diff);
}
