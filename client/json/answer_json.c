/*
 * Answers as JSON (see answer_json.h). The builders were the CLI's --json printers; they live
 * here so that the daemon's HTTP port builds the same objects from the same code, and the CLI
 * only chooses where the object goes.
 */
#include "answer_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

json_t *
answer_json_str(const char *s)
{
    return s != NULL ? answer_json_strn(s, strlen(s)) : json_null();
}

json_t *
answer_json_strn(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j != NULL)
        return j;
    /* Not UTF-8: mended the way the socket API mends it, so both surfaces say the same. */
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    j = json_stringn(copy, smtpstatus__utf8_copy(copy, len + 1, s, len));
    free(copy);
    return j;
}

json_t *
answer_json_str_or_null(const char *s)
{
    return s == NULL || s[0] == '\0' ? json_null() : answer_json_str(s);
}

void
answer_json_set(json_t *obj, const char *key, json_t *value)
{
    /* json_object_set_new() takes the reference even when it fails. */
    if (obj != NULL)
        json_object_set_new(obj, key, value);
    else
        json_decref(value);
}

#define jstr answer_json_str
#define jset answer_json_set

/* "5.1.1" or "X.1.1"; buf has SMTPSTATUS_CODE_STRLEN bytes. */
static const char *
code_str(smtpstatus_code c, char *buf)
{
    if (smtpstatus_code_format(c, buf, SMTPSTATUS_CODE_STRLEN) < 0)
        strcpy(buf, "?");
    return buf;
}

/* ---- entries -------------------------------------------------------------------------------- */

static json_t *
part_json(const char *code, const smtpstatus_part *p)
{
    json_t *o = json_object();
    jset(o, "code", jstr(code));
    jset(o, "title", jstr(p->title));
    jset(o, "description", jstr(p->description));
    jset(o, "reference", answer_json_str_or_null(p->reference));
    return o;
}

json_t *
answer_json_vendors(const smtpstatus_vendor *v, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        json_t *o = json_object();
        jset(o, "provider", jstr(v[i].provider));
        jset(o, "code", jstr(v[i].code));
        jset(o, "meaning", jstr(v[i].meaning));
        jset(o, "reason", jstr(smtpstatus_reason_name(v[i].reason)));
        jset(o, "source", jstr(v[i].source));
        json_array_append_new(list, o);
    }
    return list;
}

/* The image's vendor rows for `code`, or of `token` when it is not NULL, as a JSON array. */
static json_t *
image_vendors(const smtpstatus_image *img, smtpstatus_code code, const char *token)
{
    size_t n = 0;
    smtpstatus_vendor *v = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t cap = n;
        if (pass == 1 && (n == 0 || (v = malloc(n * sizeof *v)) == NULL))
            break;
        if ((token != NULL ? smtpstatus_image_vendor_token(img, token, strlen(token), v, cap, &n)
                           : smtpstatus_image_vendors(img, code, v, cap, &n)) != 0)
            n = 0;
        if (pass == 1 && n > cap)
            n = cap;
    }
    json_t *list = answer_json_vendors(v, v != NULL ? n : 0);
    free(v);
    return list;
}

json_t *
answer_json_lookup(const smtpstatus_image *img, const smtpstatus_entry *e)
{
    json_t *o = answer_json_entry(img, e);
    jset(o, "vendors", image_vendors(img, e->code, NULL));
    return o;
}

json_t *
answer_json_token(const smtpstatus_image *img, const char *token, const smtpstatus_vendor *v,
                  size_t n)
{
    json_t *o = json_object();
    jset(o, "code", jstr(img != NULL || n == 0 ? token : v[0].code));
    jset(o, "registered", json_false());
    static const char *const nulls[] = {"class", "subject", "title", "description", "reference",
                                        "submitter", "change_controller"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        jset(o, nulls[i], json_null());
    jset(o, "basic_codes", json_array());
    jset(o, "basic_classes", json_array());
    jset(o, "basic_any", json_false());
    jset(o, "basic_codes_raw", json_null());
    jset(o, "fields", json_object());
    if (img != NULL) {
        json_t *list = image_vendors(img, (smtpstatus_code){0, 0, 0}, token);
        /* The token as the providers write it ("TSS04" for "tss04"). */
        json_t *first = json_array_get(list, 0);
        if (first != NULL)
            jset(o, "code", json_incref(json_object_get(first, "code")));
        jset(o, "vendors", list);
    } else {
        jset(o, "vendors", answer_json_vendors(v, n));
    }
    return o;
}

json_t *
answer_json_entry_vendors(const smtpstatus_image *img, const smtpstatus_entry *e,
                          const smtpstatus_vendor *v, size_t n)
{
    json_t *o = answer_json_entry(img, e);
    jset(o, "vendors", answer_json_vendors(v, n));
    return o;
}

json_t *
answer_json_entry(const smtpstatus_image *img, const smtpstatus_entry *e)
{
    char code[SMTPSTATUS_CODE_STRLEN];
    json_t *o = json_object();
    jset(o, "code", jstr(code_str(e->code, code)));
    jset(o, "registered", json_boolean(e->registered));
    if (e->code.cls != 0) {
        char name[16];
        snprintf(name, sizeof name, "%u.XXX.XXX", e->code.cls);
        jset(o, "class", part_json(name, &e->cls));
    } else {
        jset(o, "class", json_null());
    }
    if (e->subject_registered) {
        char name[16];
        snprintf(name, sizeof name, "X.%u.XXX", e->code.subject);
        jset(o, "subject", part_json(name, &e->subject));
    } else {
        jset(o, "subject", json_null());
    }
    int r = e->registered;
    jset(o, "title", r ? jstr(e->title) : json_null());
    jset(o, "description", r ? jstr(e->description) : json_null());
    jset(o, "reference", r ? jstr(e->reference) : json_null());
    jset(o, "submitter", r ? jstr(e->submitter) : json_null());
    jset(o, "change_controller", r ? jstr(e->change_controller) : json_null());
    json_t *codes = json_array();
    for (uint32_t i = 0; r && i < e->basic_code_count; i++)
        json_array_append_new(codes, json_integer(e->basic_codes[i]));
    jset(o, "basic_codes", codes);
    json_t *classes = json_array();
    for (unsigned d = 2; r && d <= 5; d++) {
        if (e->basic_classes & (1u << d)) {
            char wild[4] = {(char)('0' + d), 'X', 'X', '\0'};
            json_array_append_new(classes, jstr(wild));
        }
    }
    jset(o, "basic_classes", classes);
    jset(o, "basic_any", json_boolean(r && (e->assoc_flags & SMTPSTATUS_ASSOC_ANY)));
    jset(o, "basic_codes_raw", r ? jstr(e->basic_codes_raw) : json_null());
    json_t *fields = json_object();
    for (uint32_t i = 0; img != NULL && i < e->field_count; i++) {
        smtpstatus_field f;
        if (smtpstatus_image_entry_field(img, e, i, &f) == 0)
            jset(fields, f.name, jstr(f.value));
    }
    jset(o, "fields", fields);
    return o;
}

json_t *
answer_json_search(const smtpstatus_image *img, const char *query, const smtpstatus_entry *entries,
                   size_t n)
{
    json_t *o = json_object();
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, answer_json_entry(img, &entries[i]));
    jset(o, "query", jstr(query));
    jset(o, "count", json_integer((json_int_t)n));
    jset(o, "entries", list);
    return o;
}

/* ---- basic codes ---------------------------------------------------------------------------- */

json_t *
answer_json_basic(const smtpstatus_basic_answer *b, const char *sample_text)
{
    json_t *o = json_object();
    jset(o, "basic", json_integer(b->code));
    jset(o, "standard", json_boolean(b->standard));
    jset(o, "text", answer_json_str_or_null(b->text));
    jset(o, "reference", answer_json_str_or_null(b->reference));
    jset(o, "sample_text", answer_json_str_or_null(sample_text));
    jset(o, "associations", json_array());
    return o;
}

void
answer_json_basic_add(json_t *basic, smtpstatus_code code, smtpstatus_match match,
                      const char *title)
{
    static const char *const match_names[] = {"?", "exact", "wildcard", "any"};
    char name[SMTPSTATUS_CODE_STRLEN];
    json_t *j = json_object();
    jset(j, "code", jstr(code_str(code, name)));
    jset(j, "match", jstr((unsigned)match < 4 ? match_names[match] : "?"));
    jset(j, "title", jstr(title));
    json_t *list = json_object_get(basic, "associations");
    if (list == NULL || json_array_append_new(list, j) != 0)
        json_decref(j);
}

/* ---- render --------------------------------------------------------------------------------- */

static const struct {
    unsigned bit;
    const char *name;
} warning_names[] = {
    {SMTPSTATUS_WARN_NOT_ASSOCIATED, "not_associated"},
    {SMTPSTATUS_WARN_UNREGISTERED, "unregistered"},
    {SMTPSTATUS_WARN_REPLACED, "replaced"},
    {SMTPSTATUS_WARN_SPLIT_WORD, "split_word"},
    {SMTPSTATUS_WARN_CODE_LIKE_TEXT, "code_like_text"},
};
#define WARNING_COUNT (sizeof warning_names / sizeof warning_names[0])

const char *
answer_json_warning_name(unsigned bit)
{
    for (size_t i = 0; i < WARNING_COUNT; i++)
        if (warning_names[i].bit == bit)
            return warning_names[i].name;
    return NULL;
}

unsigned
answer_json_warning_bit(const char *name)
{
    for (size_t i = 0; i < WARNING_COUNT; i++)
        if (strcmp(warning_names[i].name, name) == 0)
            return warning_names[i].bit;
    return 0;
}

json_t *
answer_json_render(uint16_t basic, const smtpstatus_code *enhanced, int dsn, const char *reply,
                   size_t len, unsigned warnings)
{
    json_t *o = json_object();
    jset(o, "basic", json_integer(basic));
    if (enhanced != NULL) {
        smtpstatus_code c = *enhanced;
        if (c.cls == 0)
            c.cls = (uint8_t)(basic / 100);
        char code[SMTPSTATUS_CODE_STRLEN];
        jset(o, "enhanced", jstr(code_str(c, code)));
    } else {
        jset(o, "enhanced", json_null());
    }
    jset(o, "form", jstr(dsn ? "dsn" : "reply"));
    jset(o, "reply", answer_json_strn(reply, len));
    json_t *lines = json_array();
    for (size_t start = 0, i = 0; i + 1 < len; i++) {
        if (reply[i] == '\r' && reply[i + 1] == '\n') {
            json_array_append_new(lines, answer_json_strn(reply + start, i - start));
            start = i + 2;
        }
    }
    jset(o, "lines", lines);
    json_t *w = json_array();
    for (size_t i = 0; i < WARNING_COUNT; i++)
        if (warnings & warning_names[i].bit)
            json_array_append_new(w, jstr(warning_names[i].name));
    jset(o, "warnings", w);
    return o;
}

/* ---- classify ------------------------------------------------------------------------------- */

json_t *
answer_json_classification(const smtpstatus_image *img, const smtpstatus_classification *c,
                           const char *text)
{
    char code[SMTPSTATUS_CODE_STRLEN] = "";
    if (c->has_enhanced)
        code_str(c->enhanced, code);
    json_t *o = json_object();
    jset(o, "basic", c->basic != 0 ? json_integer(c->basic) : json_null());
    jset(o, "enhanced", c->has_enhanced ? jstr(code) : json_null());
    jset(o, "kind", jstr(smtpstatus_kind_name(c->kind)));
    jset(o, "retry", json_boolean(c->retry));
    /* The decision, named as in the socket API's ClassifyResponse. */
    const char *reason = smtpstatus_reason_name(c->reason);
    jset(o, "reason", jstr(reason != NULL ? reason : "other"));
    jset(o, "recipient_invalid", json_boolean(c->recipient_invalid));
    jset(o, "retry_after", json_integer(c->retry_after));
    jset(o, "rule", answer_json_str_or_null(c->rule));
    jset(o, "rule_note", answer_json_str_or_null(c->rule_note));
    char status[SMTPSTATUS_CODE_STRLEN];
    jset(o, "status", c->has_status ? jstr(code_str(c->status, status)) : json_null());
    jset(o, "subject",
         c->has_enhanced && c->entry.subject_registered ? jstr(c->entry.subject.title)
                                                        : json_null());
    jset(o, "registered", json_boolean(c->has_enhanced && c->entry.registered));
    json_t *problems = json_array();
    for (unsigned bit = 1; bit != 0; bit <<= 1)
        if ((c->problems & bit) && smtpstatus_problem_name(bit) != NULL)
            json_array_append_new(problems, jstr(smtpstatus_problem_name(bit)));
    jset(o, "problems", problems);
    jset(o, "text", jstr(text));
    jset(o, "line_count", json_integer(c->line_count));
    /* With an image, the entry is the lookup's answer, providers' meanings included. */
    jset(o, "entry", !c->has_enhanced ? json_null()
                     : img != NULL    ? answer_json_lookup(img, &c->entry)
                                      : answer_json_entry(NULL, &c->entry));
    return o;
}

/* ---- the daemon's registry ------------------------------------------------------------------ */

static json_t *
strings_json(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, jstr(v[i]));
    return a;
}

json_t *
answer_json_diff(const smtpstatus_registry_info *info, const smtpstatus_code_change *changes)
{
    json_t *o = json_object();
    jset(o, "added", strings_json(info->added, info->added_count));
    jset(o, "removed", strings_json(info->removed, info->removed_count));
    jset(o, "changed", strings_json(info->changed, info->changed_count));
    json_t *a = json_array();
    for (size_t i = 0; changes != NULL && i < info->field_change_count; i++) {
        json_t *x = json_object();
        jset(x, "code", jstr(changes[i].code));
        jset(x, "field", jstr(changes[i].field));
        jset(x, "old", jstr(changes[i].old_value));
        jset(x, "new", jstr(changes[i].new_value));
        json_array_append_new(a, x);
    }
    jset(o, "fields", a);
    jset(o, "descriptions_differ", json_integer(info->descriptions_differ));
    return o;
}

json_t *
answer_json_registry(const smtpstatus_registry_info *info, const smtpstatus_code_change *changes)
{
    json_t *o = json_object();
    jset(o, "source", jstr(info->source));
    jset(o, "generation", json_integer((json_int_t)info->generation));
    jset(o, "loaded_at", json_integer((json_int_t)info->loaded_at));
    jset(o, "digest", jstr(info->digest));
    jset(o, "classes", json_integer(info->class_count));
    jset(o, "subjects", json_integer(info->subject_count));
    jset(o, "codes", json_integer(info->code_count));
    jset(o, "basic_codes", json_integer(info->basic_count));
    jset(o, "last_diff", answer_json_diff(info, changes));
    jset(o, "warnings", strings_json(info->warnings, info->warning_count));
    return o;
}

json_t *
answer_json_last_reload(const smtpstatus_reload_attempt *a)
{
    if (a == NULL)
        return json_null();
    json_t *o = json_object();
    jset(o, "at", json_integer((json_int_t)a->at));
    jset(o, "source", jstr(a->source));
    jset(o, "trigger", jstr(a->trigger));
    jset(o, "ok", json_boolean(a->ok));
    jset(o, "problems", strings_json(a->problems, a->problem_count));
    return o;
}

json_t *
answer_json_rule_diff(const smtpstatus_rule_change *changes, size_t n)
{
    static const char *const lists[] = {"added", "removed", "changed"};
    json_t *o = json_object();
    for (size_t l = 0; l < 3; l++) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            const smtpstatus_rule_change *c = &changes[i];
            if (strcmp(c->change, lists[l]) != 0)
                continue;
            json_t *x = json_object();
            jset(x, "name", jstr(c->name));
            if (l == 2)
                jset(x, "was", jstr(c->was));
            jset(x, "reason", jstr(c->reason));
            jset(x, "basic", jstr(c->basic));
            jset(x, "enhanced", jstr(c->enhanced));
            jset(x, "pattern", jstr(c->pattern));
            jset(x, "admin", json_boolean(c->admin));
            json_array_append_new(a, x);
        }
        jset(o, lists[l], a);
    }
    return o;
}

json_t *
answer_json_rules(const smtpstatus_rules_info *info, const smtpstatus_rule_change *changes)
{
    json_t *o = json_object();
    jset(o, "file", jstr(info->file));
    jset(o, "admin", json_integer(info->admin_count));
    jset(o, "builtin", json_integer(info->builtin_count));
    jset(o, "last_diff", answer_json_rule_diff(changes, info->change_count));
    return o;
}

json_t *
answer_json_reloaded(const smtpstatus_registry_info *info, const smtpstatus_code_change *changes)
{
    json_t *o = json_object();
    jset(o, "registry", answer_json_registry(info, changes));
    jset(o, "diff", answer_json_diff(info, changes));
    return o;
}

/* ---- bounce messages ------------------------------------------------------------------------ */

json_t *
answer_json_bounce_recipient(const smtpstatus_bounce_recipient *r)
{
    json_t *o = json_object();
    jset(o, "final_recipient", answer_json_str_or_null(r->final_recipient));
    jset(o, "original_recipient", answer_json_str_or_null(r->original_recipient));
    jset(o, "action", answer_json_str_or_null(r->action));
    jset(o, "failed", json_boolean(r->failed));
    jset(o, "status", answer_json_str_or_null(r->status));
    jset(o, "remote_mta", answer_json_str_or_null(r->remote_mta));
    jset(o, "diagnostic_code", answer_json_str_or_null(r->diagnostic_code));
    jset(o, "last_attempt_date", answer_json_str_or_null(r->last_attempt_date));
    jset(o, "will_retry_until", answer_json_str_or_null(r->will_retry_until));
    const char *reason = smtpstatus_reason_name(r->reason);
    jset(o, "reason", jstr(reason != NULL ? reason : "other"));
    jset(o, "retry", json_boolean(r->retry));
    jset(o, "recipient_invalid", json_boolean(r->recipient_invalid));
    jset(o, "retry_after", json_integer(r->retry_after));
    jset(o, "rule", answer_json_str_or_null(r->rule));
    return o;
}

json_t *
answer_json_bounce(const char *format, const char *reporting_mta, int truncated,
                   const smtpstatus_bounce_recipient *r, size_t n)
{
    json_t *o = json_object();
    jset(o, "format", answer_json_str_or_null(format));
    jset(o, "reporting_mta", answer_json_str_or_null(reporting_mta));
    jset(o, "truncated", json_boolean(truncated));
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, answer_json_bounce_recipient(&r[i]));
    jset(o, "recipients", a);
    return o;
}
