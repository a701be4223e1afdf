/*
 * The rules' prefilter's gram and its test (see prefilter.h).
 */
#include "prefilter.h"

#include "smtpstatus_image.h"

unsigned char
smtpstatus__prefilter_fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

uint32_t
smtpstatus__prefilter_bit(unsigned char a, unsigned char b, unsigned char c)
{
    uint32_t g = (uint32_t)smtpstatus__prefilter_fold(a) |
                 (uint32_t)smtpstatus__prefilter_fold(b) << 8 |
                 (uint32_t)smtpstatus__prefilter_fold(c) << 16;
    return (uint32_t)(g * 2654435761u) >> (32u - SMTPSTATUS_IMAGE_PREFILTER_BITS);
}

int
smtpstatus__prefilter_may_match(const unsigned char *bitmap, const char *text, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i + SMTPSTATUS_IMAGE_PREFILTER_GRAM <= len; i++) {
        uint32_t bit = smtpstatus__prefilter_bit(t[i], t[i + 1], t[i + 2]);
        if (bitmap[bit >> 3] & (1u << (bit & 7u)))
            return 1;
    }
    return 0;
}
