/*
 * The image builder: compiles a loaded registry, with the standard basic reply codes, into the
 * flat image of proto/smtpstatus_image.h. It is the only writer of that format; the reader in
 * client/src/image.c validates every image it produces before the builder hands it out.
 */
#ifndef SMTPSTATUSD_IMAGE_BUILD_H
#define SMTPSTATUSD_IMAGE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "rules.h"
#include "vendors.h"

struct image_build_options {
    uint64_t generation;        /* written into the header */
    uint64_t built_at;          /* Unix seconds */
    const struct rules *rules;  /* compiled (rules_compile()); NULL: the image has no rules, and
                                   readers fall back on the embedded image's built-in ones */
    const struct vendors *vendors; /* sorted (vendors_parse()); NULL: the image has no vendor
                                      codes, and readers use the embedded image's */
};

/*
 * Builds the image of `r`. Returns 0 with a 64-byte aligned buffer in *out (owned by
 * the caller, freed with free()) and its size in *len, or a negative SMTPSTATUS_E* error
 * (ENOMEM, or EINVAL when the registry exceeds the format's limits). Pure computation.
 */
int image_build(const struct registry *r, const struct image_build_options *opt, void **out,
                size_t *len);

#endif
