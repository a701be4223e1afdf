/*
 * The embedded default registry: the image that the build compiles from data/ and links into
 * the library as a byte array (generated/embedded_image.c), so that the daemon can serve and
 * `smtpstatus --offline` can answer with no file read at run time. It is validated once, on
 * first use, like any other image, but for its checksums, which the build made (see
 * SMTPSTATUS__CHECK_BOUNDS).
 */
#include <pthread.h>

#include "image_internal.h"

/* Defined in the generated file; 64-byte aligned, read-only. */
extern const unsigned char smtpstatus__embedded_image[];
extern const size_t smtpstatus__embedded_image_len;

static struct smtpstatus_image embedded;
static int embedded_rc;
static pthread_once_t embedded_once = PTHREAD_ONCE_INIT;

static void
embedded_init(void)
{
    embedded_rc = smtpstatus__image_init(&embedded, smtpstatus__embedded_image,
                                         smtpstatus__embedded_image_len, SMTPSTATUS__CHECK_BOUNDS);
}

const smtpstatus_image *
smtpstatus_image_embedded(void)
{
    pthread_once(&embedded_once, embedded_init);
    return embedded_rc == 0 ? &embedded : NULL;
}

const void *
smtpstatus_embedded_image_data(size_t *len)
{
    *len = smtpstatus__embedded_image_len;
    return smtpstatus__embedded_image;
}
