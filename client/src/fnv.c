/*
 * FNV-1a 64: the image checksum and the source digest. It is not cryptographic and need not
 * be: it catches truncation and corruption of a file the daemon wrote, and it tells two
 * registry sources apart. Both sides of the image format call these same functions.
 */
#include <string.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define FNV64_PRIME 0x100000001b3ull

uint64_t
smtpstatus_fnv64(uint64_t h, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV64_PRIME;
    }
    return h;
}

uint64_t
smtpstatus_image_checksum(const void *buf, size_t len)
{
    static const unsigned char zero[8];
    const unsigned char *p = buf;
    const size_t sup = offsetof(struct smtpstatus_image_header, superseded);
    const size_t sum = offsetof(struct smtpstatus_image_header, checksum);
    _Static_assert(offsetof(struct smtpstatus_image_header, superseded) <
                       offsetof(struct smtpstatus_image_header, checksum),
                   "checksum skips superseded first");

    if (len < sizeof(struct smtpstatus_image_header))
        return 0; /* no image is that short; the reader refuses it before asking */
    uint64_t h = SMTPSTATUS_FNV64_INIT;
    h = smtpstatus_fnv64(h, p, sup);
    h = smtpstatus_fnv64(h, zero, 8);
    h = smtpstatus_fnv64(h, p + sup + 8, sum - (sup + 8));
    h = smtpstatus_fnv64(h, zero, 8);
    h = smtpstatus_fnv64(h, p + sum + 8, len - (sum + 8));
    return h;
}
