/*
 * What changed between two registry images: the codes added, removed and changed, and for each
 * changed code which fields changed and how. The daemon's reload reports it (served.h keeps the
 * diff of the reload that made the registry served), and smtpstatusd-update prints it before
 * it installs a downloaded registry.
 */
#ifndef SMTPSTATUSD_CODE_DIFF_H
#define SMTPSTATUSD_CODE_DIFF_H

#include <stddef.h>

#include "smtpstatus.h"

/* One field of one code that a reload or an update changed: "5.1.1", "basic_codes", "550", "550, 551".
 * The field is "title", "description", "reference", "submitter", "change_controller",
 * "basic_codes" (the associated basic codes as IANA wrote them) or "field:NAME" for an extra
 * column; a value is "" when the field is empty or absent. All owned, well-formed UTF-8. */
struct code_field_change {
    char *code;
    char *field;
    char *old;
    char *new;
};

/* Codes added, removed and changed by a reload or an update, each as "X.S.D", ascending, and
 * for the changed ones which fields changed (in code order, then in the order above).
 *
 * The built-in registry's descriptions are the project's own words, not IANA's, so the first
 * reload or update from it to IANA's data would list nearly every description. When the old
 * image is the built-in one, description changes are therefore summarised, not listed:
 * descriptions_differ counts the codes whose description changed, no "description" field
 * change is listed, and a code whose only change is its description is not in `changed`. From
 * any other registry descriptions are listed like every other field and descriptions_differ
 * is 0. */
struct code_diff {
    char **added;
    size_t added_count;
    char **removed;
    size_t removed_count;
    char **changed;
    size_t changed_count;
    struct code_field_change *fields;
    size_t field_count;
    size_t descriptions_differ;
};

/* Computes what changed from `old` to `new` (codes compared by every field, see struct
 * code_diff). Returns 0, or -1 on ENOMEM with *diff empty. The strings are owned by *diff. */
int code_diff_compute(const smtpstatus_image *old, const smtpstatus_image *new,
                      struct code_diff *diff);

/* Frees what *diff owns and leaves it empty. */
void code_diff_free(struct code_diff *diff);

#endif
