/*
 * Bounce messages read whole: a delivery status notification (RFC 3464 multipart/report with
 * report-type=delivery-status, and RFC 6533's message/global-delivery-status) or one of the
 * common bounces that are not DSNs (qmail-send's, Exim's plain-text ones, Gmail's and
 * Microsoft's human-readable ones) in, one result per recipient out, each with the diagnostic
 * classified by smtpstatus_classify(). MIME is GMime's; this small static library is the only
 * code that links it (and so GLib), so libsmtpstatus stays thin: the daemon links it for its
 * Bounce operation and POST /v1/bounce, and the smtpstatus-bounce helper program for
 * `smtpstatus bounce --offline`.
 *
 * Limits: a message of at most BOUNCE_MESSAGE_MAX bytes, at most BOUNCE_CONTAINERS_MAX
 * multipart and message/rfc822 parts (which bounds the nesting GMime's recursive parser sees),
 * a report found at most BOUNCE_DEPTH_MAX parts deep, at most BOUNCE_RECIPIENTS_MAX recipients
 * (the rest are dropped and the result says so), and fields of at most BOUNCE_FIELD_MAX bytes
 * (cut). `Action: delayed` recipients are reported, with failed 0, so that a caller can see a
 * warning for what it is; a bounce processor acts on those with failed 1.
 */
#ifndef SMTPSTATUS_BOUNCE_H
#define SMTPSTATUS_BOUNCE_H

#include <stddef.h>

#include "smtpstatus.h"

#define BOUNCE_MESSAGE_MAX    (10u << 20) /* bytes of a message */
#define BOUNCE_RECIPIENTS_MAX 1000u
#define BOUNCE_DEPTH_MAX      16u
#define BOUNCE_CONTAINERS_MAX 256u
#define BOUNCE_FIELD_MAX      4096u /* bytes of one field's value */

struct bounce_result {
    const char *format;        /* static: "dsn", "qmail", "exim", "gmail", "microsoft" */
    char *reporting_mta;       /* owned; "" when the report names none */
    size_t count;
    smtpstatus_bounce_recipient *recipients; /* owned, and every string in them */
    int truncated;             /* recipients over BOUNCE_RECIPIENTS_MAX were dropped */
};

/*
 * Parses msg[0..len) (a whole message with its header, CRLF or LF line ends) into *out, which
 * the caller frees with bounce_result_free() after a 0 return (on error *out is left empty and
 * needs no freeing, though freeing it is harmless). Diagnostics are classified with `img` (NULL:
 * the embedded image); nothing in *out points into img or msg. Returns 0, SMTPSTATUS_EINVAL for
 * NULL arguments, SMTPSTATUS_ETOOBIG over BOUNCE_MESSAGE_MAX, SMTPSTATUS_EMALFORMED when the
 * message nests over the limits, SMTPSTATUS_ENOTBOUNCE when it holds no delivery report and no
 * bounce text this parser knows, or SMTPSTATUS_ENOMEM. Thread-safe (GMime is initialised once);
 * takes time linear in len, up to a few tens of milliseconds for a 10 MiB message.
 */
int bounce_parse(const char *msg, size_t len, const smtpstatus_image *img,
                 struct bounce_result *out);

/* Frees what *r owns and empties it. NULL and an empty result are allowed. */
void bounce_result_free(struct bounce_result *r);

#endif
