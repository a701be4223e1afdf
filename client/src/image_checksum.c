/*
 * The image's two checksums (proto/smtpstatus_image.h), XXH3 64 (seed 0): one of the whole image
 * but its rules database, with the `superseded` and `checksum` header words read as zero, and
 * one of the database. Writer and reader call these same functions. Like the FNV-1a it
 * replaced, XXH3 is not cryptographic and need not be: it catches a truncated or damaged image;
 * but a client that attaches to the daemon's image hashes it on every start, and XXH3 reads it
 * a vector at a time where FNV-1a went byte by byte. xxHash is
 * compiled into this file (XXH_INLINE_ALL, its documented header-only use) rather than linked,
 * so that the command line loads no further shared library at each start, and so that no
 * program linking libsmtpstatus.a needs libxxhash.
 */
#include <stddef.h>
#include <string.h>

#include "smtpstatus.h"
#include "smtpstatus_image.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#if XXH_VERSION_NUMBER < 800
#error "XXH3 is stable from xxHash 0.8.0 on; older releases hash differently"
#endif

/* Where the rules database lies in buf[0..len), from its header, in *off and *size; 0 when
 * there is none or the header puts it outside the buffer (then the image checksum covers every
 * byte, disagrees with the writer's, and the image is refused). */
static void
rules_db_span(const unsigned char *buf, size_t len, size_t *off, size_t *size)
{
    /* Copied out: these functions ask for no alignment of buf. */
    uint32_t o, n;
    memcpy(&o, buf + offsetof(struct smtpstatus_image_header, rules_db_off), sizeof o);
    memcpy(&n, buf + offsetof(struct smtpstatus_image_header, rules_db_size), sizeof n);
    *off = o;
    *size = n;
    if (n == 0 || o < sizeof(struct smtpstatus_image_header) || o > len || n > len - o)
        *off = *size = 0;
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
    size_t db_off, db_size;
    rules_db_span(p, len, &db_off, &db_size);
    /* The streaming API gives the same hash as one call over the bytes it was fed, so the two
     * words and the database need no copy of the image. Its calls fail only on a NULL state or
     * input. */
    XXH3_state_t st;
    (void)XXH3_64bits_reset(&st);
    (void)XXH3_64bits_update(&st, p, sup);
    (void)XXH3_64bits_update(&st, zero, 8);
    (void)XXH3_64bits_update(&st, p + sup + 8, sum - (sup + 8));
    (void)XXH3_64bits_update(&st, zero, 8);
    if (db_size > 0) {
        (void)XXH3_64bits_update(&st, p + sum + 8, db_off - (sum + 8));
        (void)XXH3_64bits_update(&st, p + db_off + db_size, len - (db_off + db_size));
    } else {
        (void)XXH3_64bits_update(&st, p + sum + 8, len - (sum + 8));
    }
    return XXH3_64bits_digest(&st);
}

uint64_t
smtpstatus_image_rules_db_checksum(const void *buf, size_t len)
{
    if (len < sizeof(struct smtpstatus_image_header))
        return 0;
    size_t db_off, db_size;
    rules_db_span(buf, len, &db_off, &db_size);
    return db_size > 0 ? XXH3_64bits((const unsigned char *)buf + db_off, db_size) : 0;
}
