/*
 * The image handle's layout, shared by the reader (image.c) and the embedded image
 * (embedded.c), which keeps its handle in static storage instead of allocating one.
 */
#ifndef SMTPSTATUS_IMAGE_INTERNAL_H
#define SMTPSTATUS_IMAGE_INTERNAL_H

#include <stdatomic.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

struct smtpstatus__rules_db; /* reason.c: the image's pattern database and rule lists */

/* Pointers into a validated image; nothing here is owned. */
struct smtpstatus_image {
    const unsigned char *base;
    size_t size;
    const struct smtpstatus_image_header *hdr;
    const struct smtpstatus_image_class *classes;
    const struct smtpstatus_image_subject *subjects;
    const struct smtpstatus_image_code *codes;
    const struct smtpstatus_image_basic *basics;
    const uint16_t *subject_index;
    const uint16_t *detail_index;
    const uint16_t *basic_index;
    const uint16_t *u16;
    const uint32_t *u32;
    const struct smtpstatus_image_field *fields;
    const char *strings;
    const struct smtpstatus_image_class *class_by_digit[10]; /* NULL where absent */
    const struct smtpstatus_image_rule *rules;     /* header.rule_count records */
    const struct smtpstatus_image_vendor *vendors; /* header.vendor_count records */
    const unsigned char *prefilter; /* the rules' prefilter (SMTPSTATUS_IMAGE_PREFILTER_BYTES),
                                       or NULL when the image has none */
    /* Set once, on the first classification that needs it (reason.c); owned by the image and
     * freed by smtpstatus__reason_release(). */
    _Atomic(struct smtpstatus__rules_db *) rules_db;
};

/* How much of an image's integrity smtpstatus__image_init() checks; every bound, always. */
enum smtpstatus__image_check {
    /* Both checksums: smtpstatus_image_open(), and a client's copy of the published file. */
    SMTPSTATUS__CHECK_ALL,
    /* The image's checksum only: the daemon's sealed memfd, which the daemon checked whole
     * before it sealed it. The rules database is left to the checks made before its first use:
     * its header by reason.c, its bytecode's CRC by Vectorscan, which cover every byte a scan
     * reads. A one-shot `smtpstatus lookup` never reads the database's pages, two thirds of the
     * image, and a classification reads them once rather than twice; in a virtual machine each
     * page first read costs microseconds. */
    SMTPSTATUS__CHECK_DB_LATER,
    /* Neither: the image linked into this program (embedded.c). The build computed it and
     * tests/unit/test_image.c checks its checksums, so hashing it again at every
     * `smtpstatus --offline` start would catch nothing. */
    SMTPSTATUS__CHECK_BOUNDS,
};

/* Validates buf[0..len), its checksums as `check` says, and fills *img. Returns 0 or an error
 * as smtpstatus_image_open(). */
int smtpstatus__image_init(struct smtpstatus_image *img, const void *buf, size_t len,
                           enum smtpstatus__image_check check);

#endif
