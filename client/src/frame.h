/*
 * Framing of the socket API (proto/FRAMING.md): each message is preceded by its length as a
 * base-128 varint, as protobuf's writeDelimitedTo() writes it. The daemon and the client both
 * frame with these functions, so they agree byte for byte.
 */
#ifndef SMTPSTATUS_FRAME_H
#define SMTPSTATUS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SMTPSTATUS_FRAME_HEADER_MAX 10u        /* a 64-bit varint */
#define SMTPSTATUS_FRAME_LIMIT_DEFAULT 65536u  /* bytes of message, without the header */

enum frame_status {
    FRAME_NEED_MORE = 0, /* buf holds the start of a header: read more */
    FRAME_HEADER = 1,    /* *hdr_len and *msg_len are set */
    FRAME_MALFORMED = -1 /* a varint over 10 bytes or with bits beyond 64 */
};

/*
 * Reads the length prefix at buf[0..len). Returns FRAME_HEADER with the prefix's size in
 * *hdr_len and the message's length in *msg_len, FRAME_NEED_MORE when buf ends inside the
 * prefix, or FRAME_MALFORMED. Compare *msg_len with the limit before waiting for the body.
 */
enum frame_status smtpstatus__frame_header(const uint8_t *buf, size_t len, size_t *hdr_len,
                                           uint64_t *msg_len);

/* Writes the prefix for a message of msg_len bytes into out; returns its size (1 to 10). */
size_t smtpstatus__frame_put_header(uint8_t out[SMTPSTATUS_FRAME_HEADER_MAX], uint64_t msg_len);

#endif
