/*
 * Vendor codes, the writer side: reads data/vendors.csv (what large mail providers document
 * their own codes to mean) with the registry's CSV reader, checks every row, and sorts the rows
 * into the order of the image's vendor table (proto/smtpstatus_image.h), which image_build()
 * writes and client/src/vendors.c searches. Every problem is reported as file:line:col.
 *
 * Columns are found by header name, in any order and any letter case, and all six are required:
 * Provider, Code (an enhanced code "5.7.708" or a provider's token "TSS04", "RTR:BB"), Class
 * ("4" or "5" for an enhanced code, the same digit the code starts with; empty for a token or
 * for a code used in any class), Reason (a reason name), Meaning and Source. Other columns are
 * ignored with a warning. The rows never change the registry: they are shown beside it.
 */
#ifndef SMTPSTATUSD_VENDORS_H
#define SMTPSTATUSD_VENDORS_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define VENDORS_MAX 20000u   /* rows in one file */
#define VENDORS_TOKEN_MAX 32u /* bytes of a provider's token */

struct vendor {
    uint8_t cls;      /* 2, 4 or 5; 0 for any class, and for a token */
    uint8_t reason;   /* smtpstatus_reason */
    uint16_t subject; /* or SMTPSTATUS_IMAGE_ANY for a token */
    uint16_t detail;  /* or SMTPSTATUS_IMAGE_ANY for a token */
    unsigned line;    /* the row's line in its file */
    char *provider;   /* owned; never NULL, never "" */
    char *code;       /* owned: the Code column as written, blanks trimmed */
    char *meaning;    /* owned */
    char *source;     /* owned */
};

/* The rows of a vendors file, in image order. Owns its rows and their strings. */
struct vendors {
    struct vendor *items;
    size_t count;
};

/*
 * Parses a vendors file, buf[0..len), named `file` in diagnostics, into *v (which must be
 * empty), sorted as the image wants them: enhanced codes by (subject, detail, class), then the
 * tokens by code text; rows of one code by provider, then reason name. Two rows with the same
 * provider, code, class and reason are an error. Returns 0, or -1 with every error in `d` and
 * *v left empty. Does no I/O.
 */
int vendors_parse(struct vendors *v, const char *buf, size_t len, const char *file,
                  struct diag *d);

/* Frees everything `v` holds and leaves it empty. NULL is allowed. */
void vendors_free(struct vendors *v);

#endif
