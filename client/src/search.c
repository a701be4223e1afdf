/*
 * The bounded search (see search.h).
 */
#include "search.h"

#include <stdlib.h>
#include <string.h>

static char
fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int
search_words_parse(const char *query, size_t len, char *folded, struct search_words *out)
{
    uint64_t hash[SEARCH_MAX_WORDS];
    out->count = 0;
    size_t i = 0;
    while (i < len) {
        if (query[i] == ' ' || query[i] == '\t') {
            i++;
            continue;
        }
        size_t start = i;
        uint64_t h = SMTPSTATUS_FNV64_INIT;
        for (; i < len && query[i] != ' ' && query[i] != '\t'; i++) {
            folded[i] = fold(query[i]);
            h = smtpstatus_fnv64(h, &folded[i], 1);
        }
        const char *w = folded + start;
        size_t n = i - start;
        /* The hash keeps a query of one word repeated 30,000 times linear. */
        size_t k = 0;
        while (k < out->count &&
               (hash[k] != h || out->len[k] != n || memcmp(out->word[k], w, n) != 0))
            k++;
        if (k < out->count)
            continue;
        if (out->count == SEARCH_MAX_WORDS)
            return SMTPSTATUS_EINVAL;
        hash[out->count] = h;
        out->word[out->count] = w;
        out->len[out->count++] = n;
    }
    return 0;
}

static void *
take(struct arena *a, size_t size)
{
    return a != NULL ? arena_alloc(a, size) : malloc(size);
}

int
search_text_build(const smtpstatus_image *img, struct arena *a, struct search_text *out)
{
    memset(out, 0, sizeof *out);
    uint32_t n = smtpstatus_image_code_count(img);
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        smtpstatus_entry e;
        smtpstatus_image_code_at(img, i, &e);
        total += (e.title ? strlen(e.title) : 0) + 1 + (e.description ? strlen(e.description) : 0);
    }
    if (total > UINT32_MAX)
        return SMTPSTATUS_ENOMEM; /* an image is far smaller; never reached */
    char *text = take(a, total ? total : 1);
    uint32_t *start = take(a, ((size_t)n + 1) * sizeof *start);
    if (text == NULL || start == NULL) {
        if (a == NULL) {
            free(text);
            free(start);
        }
        return SMTPSTATUS_ENOMEM;
    }
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        smtpstatus_entry e;
        smtpstatus_image_code_at(img, i, &e);
        start[i] = (uint32_t)at;
        for (const char *p = e.title ? e.title : ""; *p != '\0'; p++)
            text[at++] = fold(*p);
        /* A NUL between them: no query word holds one, so none matches across the two. */
        text[at++] = '\0';
        for (const char *p = e.description ? e.description : ""; *p != '\0'; p++)
            text[at++] = fold(*p);
    }
    start[n] = (uint32_t)at;
    *out = (struct search_text){text, start, n, a != NULL};
    return 0;
}

void
search_text_free(struct search_text *t)
{
    if (t == NULL)
        return;
    if (!t->in_arena) {
        free(t->text);
        free(t->start);
    }
    memset(t, 0, sizeof *t);
}

int
search_text_matches(const struct search_text *t, uint32_t i, const struct search_words *w)
{
    const char *text = t->text + t->start[i];
    size_t len = t->start[i + 1] - t->start[i];
    for (size_t k = 0; k < w->count; k++)
        if (memmem(text, len, w->word[k], w->len[k]) == NULL)
            return 0;
    return 1;
}
