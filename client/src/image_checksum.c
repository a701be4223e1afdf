/*
 * The image checksum: XXH3 64 (seed 0) of the whole image, with the `superseded` and `checksum`
 * header words read as zero (proto/smtpstatus_image.h). Writer and reader call this one
 * function. Like the FNV-1a it replaced, it is not cryptographic and need not be: it catches a
 * truncated or damaged image; but a client that attaches to the daemon's image hashes all of it
 * on every start, and XXH3 reads it a vector at a time where FNV-1a went byte by byte. xxHash is
 * compiled into this file (XXH_INLINE_ALL, its documented header-only use) rather than linked,
 * so that the command line loads no further shared library at each start, and so that no
 * program linking libsmtpstatus.a needs libxxhash.
 */
#include <stddef.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#if XXH_VERSION_NUMBER < 800
#error "XXH3 is stable from xxHash 0.8.0 on; older releases hash differently"
#endif

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
    /* The streaming API gives the same hash as one call over the bytes it was fed, so the two
     * words need no copy of the image. Its calls fail only on a NULL state or input. */
    XXH3_state_t st;
    (void)XXH3_64bits_reset(&st);
    (void)XXH3_64bits_update(&st, p, sup);
    (void)XXH3_64bits_update(&st, zero, 8);
    (void)XXH3_64bits_update(&st, p + sup + 8, sum - (sup + 8));
    (void)XXH3_64bits_update(&st, zero, 8);
    (void)XXH3_64bits_update(&st, p + sum + 8, len - (sum + 8));
    return XXH3_64bits_digest(&st);
}
