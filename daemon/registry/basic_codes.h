/*
 * The standard basic reply codes: what RFC 5321 and its extensions say each three-digit reply
 * means. IANA's enhanced-code registry does not carry them, so the project keeps them here and
 * the image builder writes them into every image, where a lookup of 550 finds both its meaning
 * and the enhanced codes associated with it.
 */
#ifndef SMTPSTATUSD_BASIC_CODES_H
#define SMTPSTATUSD_BASIC_CODES_H

#include <stddef.h>
#include <stdint.h>

struct basic_code_def {
    uint16_t code;
    const char *text;      /* the RFC's reply text, with its placeholders */
    const char *reference; /* "RFC 5321 4.2.3" and the like */
    const char *sample;    /* the default text a server may send as is: no placeholders */
};

/* The table, ascending by code, each code once. Static storage. */
extern const struct basic_code_def basic_codes[];
extern const size_t basic_codes_count;

#endif
