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
    /* Set once, on the first classification that needs it (reason.c); owned by the image and
     * freed by smtpstatus__reason_release(). */
    _Atomic(struct smtpstatus__rules_db *) rules_db;
};

/* Validates buf[0..len) and fills *img. Returns 0 or an error as smtpstatus_image_open(). */
int smtpstatus__image_init(struct smtpstatus_image *img, const void *buf, size_t len);

/* smtpstatus__image_init() for the image linked into this program (embedded.c), without its
 * checksum: the build computed that image and tests/unit/test_image.c checks its checksum, so
 * hashing its half a megabyte again at every `smtpstatus --offline` start would catch nothing.
 * Every bound is still checked. */
int smtpstatus__image_init_built_in(struct smtpstatus_image *img, const void *buf, size_t len);

#endif
