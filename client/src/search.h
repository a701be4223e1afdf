/*
 * The search rule's bounded form, shared by every surface that searches: the socket API's
 * search (answer.c, in the daemon and in-process in the library) and the HTTP port's
 * /v1/codes?q=. A query is cut into words once, folded to lower case and stripped of repeats,
 * and refused past SEARCH_MAX_WORDS different words; the registry's titles and descriptions are
 * folded once per registry into one block of text. Matching is then one memmem() per word and
 * code, so a search costs at most SEARCH_MAX_WORDS passes over the registry's text whatever the
 * query holds. It matches what smtpstatus_entry_matches() matches.
 */
#ifndef SMTPSTATUS_SEARCH_H
#define SMTPSTATUS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "smtpstatus.h"

/* Internal to the library, so prefixed (see arena.h). */
#define search_words_parse  smtpstatus__search_words_parse
#define search_text_build   smtpstatus__search_text_build
#define search_text_free    smtpstatus__search_text_free
#define search_text_matches smtpstatus__search_text_matches

#define SEARCH_MAX_WORDS 32 /* different words in one query */

/* A query's different words, folded to lower case. */
struct search_words {
    size_t count;
    const char *word[SEARCH_MAX_WORDS]; /* into the caller's `folded` buffer; not NUL-ended */
    size_t len[SEARCH_MAX_WORDS];
};

/* The titles and descriptions of an image's codes, folded: code i's "title\ndescription" is
 * text[start[i] .. start[i + 1]). */
struct search_text {
    char *text;
    uint32_t *start; /* count + 1 offsets */
    uint32_t count;
    int in_arena; /* text and start come from an arena: search_text_free() leaves them */
};

/*
 * Cuts `query` (len bytes) into words at blanks, folds them into `folded` (at least len bytes,
 * which *out points into, so it must outlive *out) and drops repeats. Returns 0, or
 * SMTPSTATUS_EINVAL when the query has more than SEARCH_MAX_WORDS different words. Linear in
 * len; allocates nothing.
 */
int search_words_parse(const char *query, size_t len, char *folded, struct search_words *out);

/*
 * Folds the titles and descriptions of img's codes into *out: from `a` when it is not NULL
 * (for one answer), else with malloc (for as long as the image is served; search_text_free()
 * frees it). Returns 0 or SMTPSTATUS_ENOMEM, with *out empty then.
 */
int search_text_build(const smtpstatus_image *img, struct arena *a, struct search_text *out);

/* Frees what search_text_build() allocated with malloc, and empties *t. NULL does nothing. */
void search_text_free(struct search_text *t);

/* Whether code i (in smtpstatus_image_code_at() order) holds every word of `w`. */
int search_text_matches(const struct search_text *t, uint32_t i, const struct search_words *w);

#endif
