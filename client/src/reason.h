/*
 * The reason engine's reader side: it decides a classified reply's reason, retry and rule from
 * the reason rules of an image (proto/smtpstatus_image.h, smtpstatus_image_rule), the
 * administrator's first, then the built-in ones. The rules' patterns are matched in one pass by
 * a Vectorscan database that the writer put in the image ready to scan; each image finds it
 * once, on first use (and copies it only when the image is not 64-byte aligned), and each
 * thread keeps one scratch space for it.
 */
#ifndef SMTPSTATUS_REASON_H
#define SMTPSTATUS_REASON_H

#include <stddef.h>

#include "smtpstatus.h"

/*
 * Fills out->reason, retry, recipient_invalid, retry_after, rule, rule_note, has_status and
 * status, and the REASON_* problem bits, for a reply that smtpstatus_classify_origin() has
 * already read into *out. text[0..len) is what the patterns see: the input from the reported
 * reply to its end (the whole input when no reply was found). img NULL means the embedded
 * image. Allocates only the thread's scratch space and the image's rule lists (with a copy of
 * its database when the image is not 64-byte aligned), once.
 */
void smtpstatus__reason_decide(const smtpstatus_image *img, smtpstatus_classification *out,
                               const char *text, size_t len);

/* Frees what the reason engine cached for `img` (its rule lists and any copy of its database).
 * Called by the image's owner when the image goes away; no other thread may be classifying
 * with it. */
void smtpstatus__reason_release(smtpstatus_image *img);

/* The seconds that text[0..len) asks a sender to wait ("try again in 5 minutes", "retry after
 * 300 seconds", "in 1 hour"), or 0 when it names no wait. At most 30 days. */
uint32_t smtpstatus__retry_after(const char *text, size_t len);

#endif
