/*
 * A registry read back out of a compiled image. The daemon needs one when it rebuilds the image
 * it serves without reading a registry directory: at start-up with an administrator's rules over
 * the embedded default, and on a reload that has no directory to read (the rules file changed,
 * the registry did not). The image holds every field the loader keeps, so building the result
 * again gives the same registry, source and digest included.
 */
#ifndef SMTPSTATUSD_REGISTRY_IMAGE_H
#define SMTPSTATUSD_REGISTRY_IMAGE_H

#include "registry.h"
#include "smtpstatus.h"

/*
 * Copies the classes, subjects and codes of `img` into a new registry in *out (owned by the
 * caller, freed with registry_free()). Returns 0, or SMTPSTATUS_ENOMEM with *out NULL. Pure
 * computation over a validated image.
 */
int registry_from_image(const smtpstatus_image *img, struct registry **out);

#endif
