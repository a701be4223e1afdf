/*
 * What a reload changed in the reason rules: rules added, removed and changed between the rule
 * sets of two images. An image without rules stands for the built-in rules of the embedded
 * image, which is what its readers use.
 *
 * A rule is known by its name when it has one of its own (every built-in rule, and an
 * administrator's rule with a Name). An administrator's rule without a Name is named FILE:LINE,
 * which moves whenever a line is inserted above it, so it is known by what it says instead: a
 * rule of the new file that says exactly what a rule of the old file said is the same rule,
 * wherever it moved (one line inserted at the top is one rule added, not every rule changed).
 * What is left is paired, when it can be, as a change: first rules that match the same replies
 * (same Pattern, Basic and Enhanced) and decide differently, then rules on the same line.
 */
#ifndef SMTPSTATUSD_RULES_DIFF_H
#define SMTPSTATUSD_RULES_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "smtpstatus.h"

/* One rule in a diff, as people recognize it. Strings owned by the diff, never NULL. */
struct rule_ref {
    char *name;         /* the rule's Name, or FILE:LINE */
    char *was;          /* for a change: the name it had before when that differs, else "" */
    const char *reason; /* smtpstatus_reason_name(): static */
    char basic[8];      /* "550", "5XX" or "" */
    char enhanced[24];  /* "5.7.1", "X.7.X" or "" (room for any image values) */
    char *pattern;      /* as written; "" for none */
    int admin;          /* from the administrator's file */
};

struct rule_diff {
    struct rule_ref *added;   /* as they are now, in rule order */
    size_t added_count;
    struct rule_ref *removed; /* as they were, in their old order */
    size_t removed_count;
    struct rule_ref *changed; /* as they are now */
    size_t changed_count;
};

/* Computes what changed from the rules of `old` to those of `new`. Returns 0, or -1 on ENOMEM
 * with *diff empty. Pure computation. */
int rule_diff_compute(const smtpstatus_image *old, const smtpstatus_image *new,
                      struct rule_diff *diff);

void rule_diff_free(struct rule_diff *diff);

/* The administrator's and the built-in rules that classifications with `img` use (those of the
 * embedded image when img has none). */
void rules_image_counts(const smtpstatus_image *img, uint32_t *admin, uint32_t *builtin);

#endif
