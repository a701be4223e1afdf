/*
 * FNV-1a 64: the source digest, which tells two registry sources apart, and the hash of the
 * small keys in hash tables on both sides (the image builder's string pool, the rules diff, the
 * search words, the daemon's answer cache). It is not cryptographic and need not be. The image
 * checksum, which a client computes over the whole image on every start, is XXH3 instead
 * (image_checksum.c).
 */
#include <string.h>

#include "smtpstatus.h"

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
