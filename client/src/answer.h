/*
 * Answers to the registry questions of the socket API (lookup, basic, search, list, render,
 * classify), built from a registry image into a protobuf-c Response whose every piece comes
 * from an arena. The daemon answers its socket with these, and the library answers the same
 * calls in-process from the daemon's shared image, so the two give the same Response for the
 * same image. Strings from the image are pointed at, not copied: the image must outlive the
 * response.
 */
#ifndef SMTPSTATUS_ANSWER_H
#define SMTPSTATUS_ANSWER_H

#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "smtpstatus.h"
#include "smtpstatus.pb-c.h"

/* Internal to the library, so prefixed (see arena.h). */
#define answer_new_msg smtpstatus__answer_new_msg
#define answer_is_query smtpstatus__answer_is_query
#define answer_query smtpstatus__answer_query
#define answer_error smtpstatus__answer_error

#define ANSWER_MAX_BATCH 1024 /* codes in one lookup */

#define ANSWER_STR_(x) #x
#define ANSWER_STR(x) ANSWER_STR_(x) /* a number macro as a string literal */

struct search_text;

/* A protobuf-c message of `type`, initialized with INIT, in the arena; NULL on ENOMEM. */
#define ANSWER_NEW(a, type, INIT) ((type *)answer_new_msg((a), &(type)INIT, sizeof(type)))
/* An array of n `type`s (at least one byte) in the arena; NULL on ENOMEM. */
#define ANSWER_NEW_ARRAY(a, n, type) ((type *)arena_alloc((a), (n) ? (n) * sizeof(type) : 1))

void *answer_new_msg(struct arena *a, const void *init, size_t size);

/* A string from the image or a literal: protobuf-c wants char *, and only reads it. */
static inline char *
answer_str(const char *s)
{
    return (char *)(s != NULL ? s : "");
}

/*
 * Whether `req` is one of the questions above, which any holder of an image can answer; the
 * others (hello, registry info, reload, stats) need the daemon.
 */
int answer_is_query(const Smtpstatus__V1__Request *req);

/*
 * Answers a question (answer_is_query()) from `img` into *resp, with req's id: a result, or an
 * Error response for a bad argument (INVALID_ARGUMENT, NOT_FOUND, a search of too many
 * different words). `text` is img's text folded once for searching (search.h), or NULL to fold
 * it for this answer alone. Check a->failed afterwards: when an allocation failed, *resp is
 * incomplete and must not be used. Never blocks; a search costs at most SEARCH_MAX_WORDS
 * passes over the registry's text.
 */
void answer_query(const smtpstatus_image *img, const struct search_text *text,
                  const Smtpstatus__V1__Request *req, struct arena *a,
                  Smtpstatus__V1__Response *resp);

/* Makes *resp an Error response for request `id`, its message copied into the arena. When the
 * arena cannot give the Error, it is a static INTERNAL "out of memory" one. */
void answer_error(uint64_t id, Smtpstatus__V1__Error__Code code, const char *message,
                  struct arena *a, Smtpstatus__V1__Response *resp);

#endif
