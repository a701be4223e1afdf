/*
 * Reason rules, the writer side: reads a rules file (the built-in data/reasons.csv or the
 * administrator's --rules file) with the registry's CSV reader, checks every row, and compiles
 * all patterns into one Vectorscan database that image_build() puts in the image ready to scan,
 * where client/src/reason.c matches them in one pass. Every problem is reported as file:line:col.
 *
 * Columns are found by header name, in any order and any letter case: Reason (required), Name,
 * Basic ("550", "5XX" or empty), Enhanced ("5.7.1", "X.7.1", "5.7.X", "X.7.X" or empty),
 * Pattern (a case-insensitive regular expression in the PCRE syntax Vectorscan accepts, found
 * anywhere in the reply), Retry ("yes", "no" or empty), Status (an enhanced code to report
 * instead), Note and Source. Other columns are ignored with a warning.
 */
#ifndef SMTPSTATUSD_RULES_H
#define SMTPSTATUSD_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "smtpstatus.h"

#define RULES_MAX 20000u         /* rules in one file */
#define RULES_PATTERN_MAX 1024u  /* bytes of one pattern */

struct rule {
    smtpstatus_reason reason;
    uint16_t basic;          /* 200..599, or SMTPSTATUS_IMAGE_ANY */
    uint8_t basic_class;     /* 2..5 for "NXX", else 0 */
    uint8_t retry;           /* SMTPSTATUS_IMAGE_RETRY_* */
    int has_enhanced;
    uint8_t enhanced_class;  /* 2, 4, 5, or 0 for "X" */
    uint16_t subject;
    uint16_t detail;         /* or SMTPSTATUS_IMAGE_ANY */
    int has_status;
    smtpstatus_code status;
    int admin;               /* from the administrator's file */
    unsigned line;           /* the row's line in its file */
    unsigned pattern_col;    /* the Pattern field's column, for compile errors */
    char *name;              /* owned; never NULL */
    char *pattern;           /* owned; "" for none */
    char *note;              /* owned; never NULL */
    char *source;            /* owned; never NULL */
};

/* A rule set. Owns its rules, their strings, the file name and the compiled database. */
struct rules {
    struct rule *items;
    size_t count;
    size_t admin_count;  /* the first admin_count rules are the administrator's */
    char *file;          /* the administrator's file, for diagnostics; NULL when none */
    unsigned char *db;   /* the database after rules_compile(), in the image's form (see
                            smtpstatus_image.h); 64-byte aligned; NULL when no rule has a
                            pattern */
    size_t db_size;
    unsigned char *prefilter; /* SMTPSTATUS_IMAGE_PREFILTER_BYTES after rules_compile(), when
                                 every pattern's literals are known (pattern_literals.h); else
                                 NULL */
};

/*
 * Parses a rules file, buf[0..len), named `file` in diagnostics, and appends its rules to `r`.
 * For the administrator's file (admin 1) rules are marked admin and must come before any
 * built-in rule; Name is optional and defaults to "FILE:LINE". For the built-in file (admin 0)
 * every row needs a unique Name and a Source. Returns 0, or -1 with errors in `d` and `r`
 * unchanged. Does no I/O.
 */
int rules_parse(struct rules *r, const char *buf, size_t len, const char *file, int admin,
                struct diag *d);

/* Appends the built-in (non-admin) rules of `img`, as copies; used by the daemon to put its
 * embedded rules after the administrator's. Returns 0 or SMTPSTATUS_ENOMEM. */
int rules_append_image(struct rules *r, const smtpstatus_image *img);

/*
 * Compiles every pattern of `r` into one database and keeps it in r->db, ready for the image.
 * `portable` compiles for any CPU of this architecture (for the embedded image that the build
 * makes), else for this host. A pattern that does not compile, matches the empty string, or
 * exceeds Vectorscan's resource limits is an error at its file:line:col; every such pattern is
 * reported. Returns 0, or -1 with errors in `d`. May take a while for large sets: the daemon
 * calls it off the event loop.
 */
int rules_compile(struct rules *r, int portable, struct diag *d);

/* Frees everything `r` holds and leaves it empty. */
void rules_free(struct rules *r);

#endif
