/*
 * The printers of the smtpstatus CLI: each answer, for people or as one JSON object.
 *
 * commands.c decides what to ask and source.c where the answer comes from; the functions here only
 * show an answer that is already there. Human output is concise text on stdout; --json writes
 * one JSON object per answer (built with jansson, one line each unless --pretty) using the
 * field names of the socket API (proto/smtpstatus.proto), so the CLI, the daemon and the HTTP
 * port speak one vocabulary. Error messages go to stderr, prefixed "smtpstatus: ", in both
 * modes; with --json an answer that is an error is also written to stdout as an object with an
 * "error" field, so that a script reading stdout sees one object per question.
 *
 * Answers from the daemon come in the same library types as those read from an image (an
 * smtpstatus_entry, an smtpstatus_classification), so both sources print alike; only the
 * registry facts differ in shape (an image's summary, the daemon's registry info).
 */
#ifndef SMTPSTATUS_CLI_OUTPUT_H
#define SMTPSTATUS_CLI_OUTPUT_H

#include <stddef.h>

#include "smtpstatus.h"

/* Chooses the output form for every later call: json 1 for JSON, pretty 1 to indent it. */
void output_configure(int json, int pretty);

/* Names the program in messages: "smtpstatus" unless called (smtpstatusd-update calls it with
 * the name it was run by). `name` must outlive every later call. */
void output_program(const char *name);

/* Writes the program's name ("smtpstatus: ") and the message to stderr. */
void output_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reports a question that has no answer (bad input, not found): the message on stderr and,
 * with --json, {"<key>": <input>, "error": <message>} on stdout. `key` names the input's field
 * ("code", "basic", "input"); input may be NULL.
 */
void output_error(const char *key, const char *input, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reports a malformed enhanced code `word`: which part is wrong (from `err`, an error of
 * smtpstatus_code_parse()) and where (`errpos`), with a caret under the offending byte.
 */
void output_code_error(const char *word, int err, size_t errpos);

/* One lookup answer: a registered code, or a valid but unregistered one with the meaning of
 * its class and subject, then what providers document it to mean, v[0..nv) (a "Vendors:"
 * block; "vendors" in JSON). `img` is the image `e` came from (for the extra CSV columns), or
 * NULL for an entry from the daemon, which carries none (field_count 0). */
void output_entry(const smtpstatus_image *img, const smtpstatus_entry *e, const smtpstatus_vendor *v,
                  size_t nv);

/* The answer to a lookup of a provider's own token ("TSS04"): its vendor rows v[0..n). */
void output_token(const char *token, const smtpstatus_vendor *v, size_t n);

/* One enhanced code associated with a basic code, and the title of its entry. */
struct output_assoc {
    smtpstatus_code code; /* class-free: X.1.1 */
    smtpstatus_match match;
    const char *title;
};

/* The answer for a basic reply code: b->assoc_count associations in assoc[], exact matches
 * first. `sample_text` is the basic code's sample text, or NULL where it is not known (the
 * daemon does not send it), which JSON shows as null. */
void output_basic(const smtpstatus_basic_answer *b, const char *sample_text,
                  const struct output_assoc *assoc);

/* The answer to a search: entries[0..n), in code order. `query` is the words as given; `img`
 * as for output_entry(). */
void output_search(const smtpstatus_image *img, const char *query, const smtpstatus_entry *entries,
                   size_t n);

/*
 * A rendered reply or DSN fields: reply[0..len) with CRLF line ends, as smtpstatus_render()
 * wrote it, for `basic` and `enhanced` (NULL for none; class-free codes take the basic code's
 * class). `warnings` are SMTPSTATUS_WARN_* bits: JSON lists them, human output names them on
 * stderr. Human output turns CRLF into LF.
 */
void output_render(uint16_t basic, const smtpstatus_code *enhanced, int dsn, const char *reply,
                   size_t len, unsigned warnings);

/* The SMTPSTATUS_WARN_* bit of a warning name from the daemon ("not_associated"), or 0 for a
 * name this build does not know. */
unsigned output_render_warning_bit(const char *name);

/* A classified reply and its text (the prefixes removed, lines joined by LF); `img` is the
 * image that filled c->entry, or NULL when the daemon did, and then v[0..nv) are the vendor
 * rows of the daemon's answer (the image's own are used otherwise). */
void output_classification(const smtpstatus_image *img, const smtpstatus_classification *c,
                           const char *text, const smtpstatus_vendor *v, size_t nv);

/* The summary of a registry image: the embedded one (info --offline; `where` is NULL) or the
 * daemon's shared image (`where` says which path answers, the image file, and whether the image
 * is the daemon's memfd or a private copy of the file). `daemon_down` 1: no daemon runs, which
 * comes first, with the generation served and when it was published. `daemon` is the daemon's
 * registry-info answer, for its last reload attempt, or NULL when it gave none. */
void output_info(const smtpstatus_image_summary *s, const smtpstatus_client_status *where,
                 int daemon_down, const smtpstatus_result *daemon);

/* What the daemon serves, asked over its socket (info): the fields output_info() shows that the
 * daemon knows too, in the same form, then the diff of the reload that made this registry and
 * the loader's warnings, the last reload attempt of `daemon` (the answer `info` comes from),
 * and `where` (why the shared image did not answer). */
void output_registry(const smtpstatus_registry_info *info, const smtpstatus_client_status *where,
                     const smtpstatus_result *daemon);

/* A reload that succeeded (r holds its answer): the registry now served and what changed
 * ("added: X.7.30"), the reason rules and the rules it added, removed or changed ("rule added
 * /etc/smtpstatusd/reasons.csv:2: rate-limit for 5XX /zorglub/"); the loader's warnings go to
 * stderr, as the compiler-style lines the daemon sent. */
void output_reloaded(const smtpstatus_registry_info *info, const smtpstatus_result *r);

/* The field changes of a code diff, one a line after `indent` ("5.1.1 basic_codes: 550 -> 550,
 * 551"; an empty value shows as "(empty)"), then, when descriptions_differ is not 0, the one
 * line that summarises the description changes from the built-in registry. */
void output_field_changes(const char *indent, const smtpstatus_code_change *changes, size_t n,
                          uint32_t descriptions_differ);

/* A reload the daemon refused because the registry is broken (r holds its ERELOAD answer):
 * its message, then every problem ("file:line:col: error: ...") on stderr as it came; with
 * --json also {"error": ..., "problems": [...]} on stdout. */
void output_reload_failed(const smtpstatus_result *r);

/* The daemon's counters (r holds its stats answer), by group. */
void output_stats(const smtpstatus_result *r);

#endif
