/* Varint length prefixes of the socket API's frames (see frame.h and proto/FRAMING.md). */
#include "frame.h"

enum frame_status
smtpstatus__frame_header(const uint8_t *buf, size_t len, size_t *hdr_len, uint64_t *msg_len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < SMTPSTATUS_FRAME_HEADER_MAX; i++) {
        if (i == len)
            return FRAME_NEED_MORE;
        uint64_t bits = buf[i] & 0x7fu;
        /* The tenth byte may only carry the 64th bit. */
        if (i == SMTPSTATUS_FRAME_HEADER_MAX - 1 && bits > 1)
            return FRAME_MALFORMED;
        v |= bits << (7 * i);
        if ((buf[i] & 0x80u) == 0) {
            *hdr_len = i + 1;
            *msg_len = v;
            return FRAME_HEADER;
        }
    }
    return FRAME_MALFORMED;
}

size_t
smtpstatus__frame_put_header(uint8_t out[SMTPSTATUS_FRAME_HEADER_MAX], uint64_t msg_len)
{
    size_t n = 0;
    do {
        uint8_t b = msg_len & 0x7fu;
        msg_len >>= 7;
        out[n++] = (uint8_t)(b | (msg_len ? 0x80u : 0));
    } while (msg_len != 0);
    return n;
}
