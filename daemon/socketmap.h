/*
 * The socketmap protocol (Postfix's socketmap_table(5), which Sendmail and OpenSMTPD speak too)
 * and the maps it serves, apart from sockets and the event loop so that unit tests and the
 * fuzzer drive them directly; socketmap_server.c does the I/O. A request is one netstring,
 * "LEN:NAME KEY,", and so is its answer: "OK DATA", "NOTFOUND ", "TEMP REASON" or "PERM REASON".
 *
 * Two maps:
 *   status  the key is what Postfix's smtp_delivery_status_filter sends, "D.S.N TEXT" (the
 *           enhanced status it is about to report and the explanatory text, "host H[A] said:
 *           550 ... (in reply to RCPT TO command)"); the answer is the status to report instead,
 *           in the same form with the text unchanged, or NOTFOUND to leave it as it is. See
 *           socketmap_status() for the decisions.
 *   reason  the key is a reply line (or any text smtpstatus_classify() reads); the answer is
 *           "reason=R retry=yes|no recipient_invalid=yes|no retry_after=SECS rule=RULE", RULE
 *           (the rule that decided, "" when none did) last, running to the end of the answer,
 *           as it may hold spaces.
 */
#ifndef SMTPSTATUSD_SOCKETMAP_H
#define SMTPSTATUSD_SOCKETMAP_H

#include <stddef.h>

#include "buf.h"
#include "smtpstatus.h"

/* The longest request this server reads, in bytes between the colon and the comma. Postfix's
 * own limit for a reply is 100000; a delivery status and its text are under 1000 in practice
 * (an SMTP reply line is at most 512 octets), so 10000 leaves room for multi-line replies that
 * Postfix joins. Longer requests are refused with PERM, and the connection is closed. */
#define SOCKETMAP_REQUEST_MAX 10000u

/* Bytes of the "LEN:" prefix and "," of a netstring no longer than SOCKETMAP_REQUEST_MAX. */
#define SOCKETMAP_FRAMING_MAX 7u

enum socketmap_frame {
    SOCKETMAP_NEED_MORE, /* no whole netstring yet: read more */
    SOCKETMAP_REQUEST,   /* one whole netstring */
    SOCKETMAP_BAD        /* not a netstring, or longer than the limit: answer PERM, close */
};

/*
 * Looks for one netstring at the start of buf[0..len), of at most `limit` payload bytes.
 * SOCKETMAP_REQUEST: *payload and *payload_len are its contents (pointing into buf) and
 * *consumed the bytes it took, comma included. SOCKETMAP_BAD: *why is a static string for a
 * person and the log. A length is refused as soon as its digits say it is over the limit, so a
 * client cannot make the server wait for, or hold, more than limit + SOCKETMAP_FRAMING_MAX
 * bytes. Leading zeros are allowed, as Postfix's reader allows them. Pure; allocates nothing.
 */
enum socketmap_frame socketmap_frame(const char *buf, size_t len, size_t limit,
                                     const char **payload, size_t *payload_len, size_t *consumed,
                                     const char **why);

/* Appends the netstring of word[0..wlen) " " data[0..dlen) to out. Returns 0, or -1 on ENOMEM. */
int socketmap_put(struct buf *out, const char *word, const char *data, size_t dlen);

/*
 * The enhanced code that a reason stands for, when the reply gave none and Postfix reported
 * class.0.0 for it: bad-mailbox X.1.1, mailbox-disabled X.2.1, mailbox-full X.2.2,
 * message-too-big X.3.4, routing X.1.2, policy X.7.1, tls-required X.7.10, content X.6.0,
 * server-error X.3.0, expired X.4.7 (RFC 3463's and RFC 5248's meanings of those codes). Sets
 * *subject and *detail and returns 1, or returns 0 for a reason without one code that fits
 * (rate-limit, greylisting, auth, bad-sender, protocol, other, ...).
 */
int socketmap_reason_code(smtpstatus_reason reason, unsigned *subject, unsigned *detail);

/*
 * The status map. key[0..len) is "C.S.D TEXT" with C 2, 4 or 5. Answers:
 *   - a 2.X.X, a key that does not start with a valid code and a space, or an empty text:
 *     NOTFOUND (a success is never turned into a failure, nor the reverse);
 *   - the text is classified with the reason rules of `img` (the live image: the
 *     administrator's rules first, then the built-in ones). A rule's Status column, when it is
 *     4.X.X or 5.X.X, is the answer;
 *   - else the class: a 5.X.X whose reply the rules retry (rate limits, greylisting, a rule's
 *     Retry yes) becomes 4.X.X so that Postfix defers; a 4.X.X whose rule says Retry no becomes
 *     5.X.X; and a class.0.0 that Postfix made up from a basic code (the reply carried no
 *     enhanced code) takes the subject and detail of socketmap_reason_code();
 *   - OK "C'.S'.D' TEXT" with TEXT unchanged when any of that changed the code, else NOTFOUND.
 * Appends the answer's netstring to out. Returns 0, or -1 on ENOMEM. Allocates only in out.
 */
int socketmap_status(const smtpstatus_image *img, const char *key, size_t len, struct buf *out);

/* The reason map (see the top of this file). Appends the answer to out: OK with the fields, or
 * NOTFOUND for a key without any code. Returns 0, or -1 on ENOMEM. */
int socketmap_reason(const smtpstatus_image *img, const char *key, size_t len, struct buf *out);

/*
 * Answers one request, payload[0..len) ("NAME KEY"), from `img`, appending the answer's
 * netstring to out: the map's answer, or PERM for an unknown map name or a request without a
 * space. Returns 0, or -1 on ENOMEM (out may hold part of an answer: reset it).
 */
int socketmap_answer(const smtpstatus_image *img, const char *payload, size_t len,
                     struct buf *out);

#endif
