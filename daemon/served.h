/*
 * The registry the daemon serves: a compiled image with the facts about where it came from.
 * Exactly one is current at a time; a reload builds a new one off the loop and swaps it in
 * on the loop, so readers on the loop never see a half-made one.
 */
#ifndef SMTPSTATUSD_SERVED_H
#define SMTPSTATUSD_SERVED_H

#include <stddef.h>
#include <stdint.h>

#include "code_diff.h"
#include "diag.h"
#include "registry.h"
#include "rules.h"
#include "rules_diff.h"
#include "smtpstatus.h"

struct search_text;

struct served {
    void *buf;                   /* the image bytes, owned; NULL for the embedded image */
    size_t len;
    smtpstatus_image *owned;     /* handle over buf, owned; NULL for the embedded image */
    const smtpstatus_image *img; /* what lookups use: owned, or the embedded image */
    uint64_t generation;
    uint64_t loaded_at;          /* Unix seconds */
    char **warnings;             /* the loader's warnings, "file:line:col: warning: ..." */
    size_t warning_count;
    struct code_diff last_diff;  /* of the reload that made this registry (empty at start) */
    struct rule_diff last_rule_diff; /* the reason rules that reload changed (empty at start) */
    char *rules_file;            /* the administrator's rules file in the image, owned; NULL
                                    when it has none of the administrator's rules */
    struct search_text *search;  /* img's text folded for searching (search.h), owned; NULL
                                    when it could not be made: each search folds its own */
};

/* The last reload the daemon tried, whatever came of it, so that an administrator sees a
 * failed one in `smtpstatus info`, GET /v1/registry and /metrics, not only in the log. Its
 * strings are well-formed UTF-8 (they go into protobuf strings and JSON) and owned by it. */
struct reload_attempt {
    int known;           /* 0 until the first reload is tried */
    uint64_t at;         /* Unix seconds, when it ended */
    char *source;        /* the directory it read; "" when none was given or configured */
    const char *trigger; /* "signal", "socket" or "http": a static string */
    int ok;              /* a new generation is served */
    char **problems;     /* why it failed, and its warnings: diag_lines() of its diagnostics */
    size_t problem_count;
};

/*
 * Records a reload attempt in *r, freeing what r held: `source` (NULL for none) and the lines
 * of `d` (NULL for none) are copied, and `extra` (NULL or "" for none) is one more problem line
 * after them. Returns 0, or -1 on ENOMEM, when *r still says when, how and whether, but may lack
 * its source and problems.
 */
int served_reload_attempt_set(struct reload_attempt *r, uint64_t at, const char *trigger,
                              const char *source, int ok, const struct diag *d, const char *extra);

/* Frees what *r owns and leaves it unknown. */
void served_reload_attempt_free(struct reload_attempt *r);

/* Serves the embedded image as generation `generation`. Never fails. */
void served_init_embedded(struct served *s, uint64_t generation);

/*
 * Builds the image of `r` with `rules` (NULL, or a set without any rule: an image without rules,
 * whose readers use the built-in ones) as generation `generation`, built at `built_at`, into *s
 * (zeroed here) and prepares it for serving; rules->file becomes s->rules_file when it holds
 * administrator's rules. Returns 0, or a negative SMTPSTATUS_E* error with *s empty. Pure
 * computation.
 */
int served_build(struct served *s, const struct registry *r, const struct rules *rules,
                 uint64_t generation, uint64_t built_at);

/* served_build() over the registry that `img` holds (registry_from_image()): the same registry
 * with other rules. Returns as served_build(). */
int served_rebuild(struct served *s, const smtpstatus_image *img, const struct rules *rules,
                   uint64_t generation, uint64_t built_at);

/* Prepares what searching `s->img` needs, once per registry rather than once per search: call
 * it when img is set. Out of memory leaves s->search NULL, which is slower, not wrong. */
void served_prepare(struct served *s);

/* The bytes of the image being served, and their length in *len. */
const void *served_image_bytes(const struct served *s, size_t *len);

/* Frees what `s` owns and leaves it zeroed. */
void served_free(struct served *s);

#endif
