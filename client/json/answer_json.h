/*
 * Answers as JSON: the one place that turns a library answer (an entry, a basic code's record, a
 * rendered reply, a classification, a registry's facts) into a jansson object. The smtpstatus
 * CLI's --json and the daemon's HTTP port both build their objects here, so the two speak the
 * same vocabulary as the socket API (proto/smtpstatus.proto): `code`, `class`, `subject`,
 * `title`, `description`, `basic_codes`, `registered`, `kind`, `retry`, `problems`, ... Where the
 * protobuf API says "" for "none", JSON says null.
 *
 * Ownership: every function that returns a json_t * returns a new reference that the caller
 * owns (json_decref() frees it), or NULL when out of memory. Nothing here prints, and nothing
 * keeps a pointer to its arguments: strings are copied into the objects.
 */
#ifndef SMTPSTATUS_ANSWER_JSON_H
#define SMTPSTATUS_ANSWER_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "smtpstatus.h"

/* A JSON string for s, or null for NULL. Bytes that are not valid UTF-8 become '?' (each byte
 * of an ill-formed sequence; well-formed characters stay), so that the output is always valid
 * JSON. */
json_t *answer_json_str(const char *s);

/* A JSON string for s[0..len), which may hold NULs (escaped) and bad UTF-8 (each bad byte
 * becomes '?'). */
json_t *answer_json_strn(const char *s, size_t len);

/* A JSON string for s, or null when s is NULL or "". */
json_t *answer_json_str_or_null(const char *s);

/* Sets obj[key] to value, taking the reference. A NULL obj or value is tolerated (the key is
 * then left out, which the caller's dump reports as a missing answer). */
void answer_json_set(json_t *obj, const char *key, json_t *value);

/* The Entry of the socket API: a registered code, or a valid but unregistered one with its
 * class and subject parts. `img` is the image `e` came from, for the extra CSV columns
 * ("fields"), or NULL for an entry that carries none. */
json_t *answer_json_entry(const smtpstatus_image *img, const smtpstatus_entry *e);

/* The answer to a lookup: the Entry and "vendors": [{"provider", "code", "meaning", "reason",
 * "source"}], what providers document the code to mean, from `img` (its own rows, or the
 * embedded image's when it has none; img must not be NULL). Search, list and classify entries
 * (answer_json_entry()) leave vendors out. */
json_t *answer_json_lookup(const smtpstatus_image *img, const smtpstatus_entry *e);

/* The same, with "vendors" from v[0..n) (e.g. the daemon's answer) instead of from an image. */
json_t *answer_json_entry_vendors(const smtpstatus_image *img, const smtpstatus_entry *e,
                                  const smtpstatus_vendor *v, size_t n);

/* The vendor rows v[0..n) as a JSON array of {"provider", "code", "meaning", "reason",
 * "source"}. */
json_t *answer_json_vendors(const smtpstatus_vendor *v, size_t n);

/* The Entry for a lookup of a provider's own token ("TSS04"): code (as the providers write it),
 * registered false, the IANA fields null or empty, and "vendors": the token's rows from `img`
 * when img is not NULL, else v[0..n). */
json_t *answer_json_token(const smtpstatus_image *img, const char *token,
                          const smtpstatus_vendor *v, size_t n);

/* {"query", "count", "entries"}: the answer to a search or a listing, entries[0..n). */
json_t *answer_json_search(const smtpstatus_image *img, const char *query,
                           const smtpstatus_entry *entries, size_t n);

/* The record of a basic reply code, with an empty "associations" array that
 * answer_json_basic_add() fills. `sample_text` NULL (not known) becomes null. */
json_t *answer_json_basic(const smtpstatus_basic_answer *b, const char *sample_text);

/* Appends one association {code, match, title} to a basic code's object. */
void answer_json_basic_add(json_t *basic, smtpstatus_code code, smtpstatus_match match,
                           const char *title);

/* A rendered reply: reply[0..len) as smtpstatus_render() wrote it (CRLF line ends) for `basic`
 * and `enhanced` (NULL for none; a class-free code takes the basic code's class), the form, the
 * lines, and the names of the SMTPSTATUS_WARN_* bits in `warnings`. */
json_t *answer_json_render(uint16_t basic, const smtpstatus_code *enhanced, int dsn,
                           const char *reply, size_t len, unsigned warnings);

/* The name of one SMTPSTATUS_WARN_* bit ("not_associated"), or NULL. */
const char *answer_json_warning_name(unsigned bit);

/* The SMTPSTATUS_WARN_* bit named `name`, or 0 for a name this build does not know. */
unsigned answer_json_warning_bit(const char *name);

/* A classified reply and its text; `img` as for answer_json_entry(). With an image, "entry" is
 * answer_json_lookup()'s, with the providers' "vendors"; without one (the socket's answer) it
 * has no "vendors" and the caller adds the answer's. */
json_t *answer_json_classification(const smtpstatus_image *img, const smtpstatus_classification *c,
                                   const char *text);

/* The CodeDiff of the socket API: {"added", "removed", "changed", "fields",
 * "descriptions_differ"}, "fields" from changes[0..info->field_change_count) (each {"code",
 * "field", "old", "new"}; none when changes is NULL). */
json_t *answer_json_diff(const smtpstatus_registry_info *info,
                         const smtpstatus_code_change *changes);

/* The RegistryInfo of the socket API: source, generation, loaded_at, digest, the counts,
 * last_diff and warnings. */
json_t *answer_json_registry(const smtpstatus_registry_info *info,
                             const smtpstatus_code_change *changes);

/* The ReloadAttempt of the socket API: {"at", "source", "trigger", "ok", "problems"}, or null
 * for NULL (no reload tried since the daemon started). */
json_t *answer_json_last_reload(const smtpstatus_reload_attempt *a);

/* The ReloadResponse: {"registry": ..., "diff": ...}. */
json_t *answer_json_reloaded(const smtpstatus_registry_info *info,
                             const smtpstatus_code_change *changes);

/* The rules of a registry (file, admin, builtin) with the changes[0..info->change_count) of its
 * last reload under "last_diff"; and those changes alone, as a reload answer's "rules_diff":
 * {"added": [...], "removed": [...], "changed": [...]}, each rule an object. */
json_t *answer_json_rules(const smtpstatus_rules_info *info,
                          const smtpstatus_rule_change *changes);
json_t *answer_json_rule_diff(const smtpstatus_rule_change *changes, size_t n);

/* One recipient of a bounce message: final_recipient, original_recipient, action, failed,
 * status, remote_mta, diagnostic_code, last_attempt_date, will_retry_until, and the
 * classification's reason, retry, recipient_invalid, retry_after and rule ("" is null). */
json_t *answer_json_bounce_recipient(const smtpstatus_bounce_recipient *r);

/* A parsed bounce: {"format", "reporting_mta", "truncated", "recipients": [r[0..n)]}. */
json_t *answer_json_bounce(const char *format, const char *reporting_mta, int truncated,
                           const smtpstatus_bounce_recipient *r, size_t n);

#endif
