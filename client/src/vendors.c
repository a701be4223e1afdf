/*
 * Vendor codes, the reader side (see smtpstatus.h): binary searches over the image's vendor
 * table, which image.c has validated and checked to be sorted (proto/smtpstatus_image.h). An
 * image without vendor rows, as the daemon publishes them, answers from the embedded image's,
 * as it does for the reason rules (reason.c).
 */
#include <string.h>

#include "image_internal.h"

/* The fallback is the embedded image (smtpstatus.h). The reference is strong, as in reason.c:
 * a weak one would not pull the embedded image out of the static library. */

#define STR(img, s) ((img)->strings + (s).off)
#define TOKEN_MAX 32u /* the longest token the writer accepts (daemon/vendors.h) */

/* The image whose vendor table answers for `img`. */
static const smtpstatus_image *
table_of(const smtpstatus_image *img)
{
    if (img->hdr->vendor_count == 0) {
        const smtpstatus_image *em = smtpstatus_image_embedded();
        if (em != NULL)
            return em;
    }
    return img;
}

static void
fill(const smtpstatus_image *img, const struct smtpstatus_image_vendor *v, smtpstatus_vendor *out)
{
    out->provider = STR(img, v->provider);
    out->code = STR(img, v->code);
    out->meaning = STR(img, v->meaning);
    out->reason = (smtpstatus_reason)v->reason;
    out->source = STR(img, v->source);
}

/* The first record whose (subject, detail) is not below the key's. */
static uint32_t
lower_bound(const smtpstatus_image *img, uint16_t subject, uint16_t detail)
{
    uint32_t lo = 0, hi = img->hdr->vendor_count;
    uint32_t key = (uint32_t)subject << 16 | detail;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct smtpstatus_image_vendor *v = &img->vendors[mid];
        if (((uint32_t)v->subject << 16 | v->detail) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int
smtpstatus_image_vendors(const smtpstatus_image *img, smtpstatus_code code,
                         smtpstatus_vendor *out, size_t cap, size_t *count)
{
    if (img == NULL || count == NULL || (out == NULL && cap > 0) ||
        code.subject > SMTPSTATUS_IMAGE_MAX_SUBJECT || code.detail > SMTPSTATUS_IMAGE_MAX_DETAIL ||
        (code.cls != 0 && code.cls != 2 && code.cls != 4 && code.cls != 5))
        return SMTPSTATUS_EINVAL;
    img = table_of(img);
    size_t n = 0;
    uint32_t total = img->hdr->vendor_count;
    for (uint32_t i = lower_bound(img, code.subject, code.detail); i < total; i++) {
        const struct smtpstatus_image_vendor *v = &img->vendors[i];
        if (v->subject != code.subject || v->detail != code.detail)
            break;
        if (code.cls != 0 && v->cls != 0 && v->cls != code.cls)
            continue;
        if (n < cap)
            fill(img, v, &out[n]);
        n++;
    }
    *count = n;
    return 0;
}

int
smtpstatus_image_vendor_token(const smtpstatus_image *img, const char *token, size_t len,
                              smtpstatus_vendor *out, size_t cap, size_t *count)
{
    if (img == NULL || count == NULL || (out == NULL && cap > 0) || (token == NULL && len > 0))
        return SMTPSTATUS_EINVAL;
    *count = 0;
    char key[TOKEN_MAX + 1];
    if (len == 0 || len > TOKEN_MAX || memchr(token, '\0', len) != NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        key[i] = (char)(token[i] >= 'a' && token[i] <= 'z' ? token[i] - ('a' - 'A') : token[i]);
    key[len] = '\0';
    img = table_of(img);
    /* Tokens come last, sorted by their text. */
    uint32_t total = img->hdr->vendor_count;
    uint32_t lo = lower_bound(img, SMTPSTATUS_IMAGE_ANY, SMTPSTATUS_IMAGE_ANY), hi = total;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(STR(img, img->vendors[mid].code), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    for (uint32_t i = lo; i < total && strcmp(STR(img, img->vendors[i].code), key) == 0; i++) {
        if (n < cap)
            fill(img, &img->vendors[i], &out[n]);
        n++;
    }
    *count = n;
    return 0;
}

uint32_t
smtpstatus_image_vendor_count(const smtpstatus_image *img)
{
    return table_of(img)->hdr->vendor_count;
}

int
smtpstatus_image_vendor_at(const smtpstatus_image *img, uint32_t i, smtpstatus_vendor *out)
{
    img = table_of(img);
    if (out == NULL || i >= img->hdr->vendor_count)
        return SMTPSTATUS_EINVAL;
    fill(img, &img->vendors[i], out);
    return 0;
}
