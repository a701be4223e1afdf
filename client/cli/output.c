/*
 * The printers of the smtpstatus CLI (see output.h): every answer the CLI gives, either as
 * concise text for a person or as one JSON object built with jansson.
 *
 * Nothing here decides what to look up or where the answer comes from; each function takes an
 * answer the library already produced and shows it. The JSON field names are those of the
 * socket API (proto/smtpstatus.proto): a lookup is an Entry with `class` and `subject` as
 * {code, title, description} parts, a classification has `basic`, `enhanced`, `kind`, `retry`,
 * `reason`, `recipient_invalid`, `retry_after`, `rule`, `rule_note`, `status`, `subject`,
 * `registered`, `problems` and `text`. Where the protobuf API says "" for "none",
 * JSON says null.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "answer_json.h"
#include "output.h"

#define LINE_WIDTH 76 /* columns of human output, indentation included */
#define INDENT     4

static int json_mode;
static size_t json_flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
static const char *program = "smtpstatus";

void
output_configure(int json, int pretty)
{
    json_mode = json || pretty;
    json_flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
}

void
output_program(const char *name)
{
    program = name;
}

static void
vwarnx(const char *fmt, va_list ap)
{
    /* Keep answers and messages in the order they were made when both go to one file. */
    fflush(stdout);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void
output_warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarnx(fmt, ap);
    va_end(ap);
}

/* ---- JSON helpers --------------------------------------------------------------------------- */

/* The JSON builders are shared with the daemon's HTTP port (client/json/answer_json.h). */
#define jstr answer_json_str
#define jset answer_json_set
#define jstr_or_null answer_json_str_or_null

/* Writes one object on stdout and frees it. */
static void
emit(json_t *obj)
{
    if (obj == NULL || json_dumpf(obj, stdout, json_flags) != 0)
        output_warnx("cannot write the JSON answer (out of memory?)");
    else
        fputc('\n', stdout);
    json_decref(obj);
}

/* ---- shared pieces -------------------------------------------------------------------------- */

/* "5.1.1" or "X.1.1"; buf has SMTPSTATUS_CODE_STRLEN bytes. */
static const char *
code_str(smtpstatus_code c, char *buf)
{
    if (smtpstatus_code_format(c, buf, SMTPSTATUS_CODE_STRLEN) < 0)
        strcpy(buf, "?");
    return buf;
}

/* Prints text word-wrapped to LINE_WIDTH, each line starting with `indent` spaces; runs of
 * white space (line breaks included) become one space. */
static void
print_wrapped(int indent, const char *text)
{
    int col = 0;
    const char *p = text;
    for (;;) {
        p += strspn(p, " \t\r\n");
        size_t n = strcspn(p, " \t\r\n");
        if (n == 0)
            break;
        if (col > indent && col + 1 + (int)n > LINE_WIDTH) {
            fputc('\n', stdout);
            col = 0;
        }
        if (col == 0)
            col = printf("%*s", indent, "");
        else
            col += printf(" ");
        col += printf("%.*s", (int)n, p);
        p += n;
    }
    if (col > 0)
        fputc('\n', stdout);
}

/* "(Permanent Failure / Addressing Status)" for the entry's class and subject, as known. */
static void
print_headline(const smtpstatus_entry *e)
{
    char code[SMTPSTATUS_CODE_STRLEN];
    printf("%s  %s", code_str(e->code, code), e->registered ? e->title : "(not registered)");
    const char *cls = e->code.cls != 0 ? e->cls.title : NULL;
    const char *subj = e->subject_registered ? e->subject.title : NULL;
    if (cls != NULL && subj != NULL)
        printf("  (%s / %s)", cls, subj);
    else if (cls != NULL || subj != NULL)
        printf("  (%s)", cls != NULL ? cls : subj);
    fputc('\n', stdout);
}

/* ---- errors --------------------------------------------------------------------------------- */

void
output_error(const char *key, const char *input, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    output_warnx("%s", msg);
    if (!json_mode)
        return;
    json_t *o = json_object();
    if (key != NULL)
        jset(o, key, jstr(input));
    jset(o, "error", jstr(msg));
    emit(o);
}

void
output_code_error(const char *word, int err, size_t errpos)
{
    const char *why = smtpstatus_strerror(err);
    output_warnx("\"%s\" is not an enhanced status code: %s", word, why);
    /* The caret goes under the offending character: count characters, not UTF-8 bytes. */
    size_t col = 0;
    for (size_t i = 0; i < errpos && word[i] != '\0'; i++)
        col += ((unsigned char)word[i] & 0xC0) != 0x80;
    fprintf(stderr, "    %s\n    %*s^\n", word, (int)col, "");
    if (!json_mode)
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "at byte %zu: %s", errpos, why);
    json_t *o = json_object();
    jset(o, "code", jstr(word));
    jset(o, "error", jstr(msg));
    jset(o, "error_name", jstr(smtpstatus_err_name(err)));
    jset(o, "offset", json_integer((json_int_t)errpos));
    emit(o);
}

/* ---- lookup, search ------------------------------------------------------------------------- */

static void output_entry_body(const smtpstatus_image *img, const smtpstatus_entry *e);

/* The "Vendors:" block: one wrapped paragraph per provider's row, and where it is documented. */
static void
print_vendors(const smtpstatus_vendor *v, size_t n)
{
    if (n == 0)
        return;
    printf("%*sVendors:\n", INDENT, "");
    for (size_t i = 0; i < n; i++) {
        char *line = NULL;
        const char *reason = smtpstatus_reason_name(v[i].reason);
        if (asprintf(&line, "%s %s (%s): %s", v[i].provider, v[i].code,
                     reason != NULL ? reason : "other", v[i].meaning) < 0)
            continue;
        print_wrapped(INDENT + 2, line);
        free(line);
        printf("%*sSource: %s\n", INDENT + 4, "", v[i].source);
    }
}

void
output_entry(const smtpstatus_image *img, const smtpstatus_entry *e, const smtpstatus_vendor *v,
             size_t nv)
{
    if (json_mode) {
        emit(answer_json_entry_vendors(img, e, v, nv));
        return;
    }
    print_headline(e);
    output_entry_body(img, e);
    print_vendors(v, nv);
}

void
output_token(const char *token, const smtpstatus_vendor *v, size_t n)
{
    if (json_mode) {
        emit(answer_json_token(NULL, token, v, n));
        return;
    }
    printf("%s  (a provider's own code, not an enhanced status code)\n", n > 0 ? v[0].code : token);
    print_vendors(v, n);
}

/* What the registry says of e, under its headline. */
static void
output_entry_body(const smtpstatus_image *img, const smtpstatus_entry *e)
{
    if (e->registered) {
        print_wrapped(INDENT, e->description);
        if (e->basic_codes_raw[0] != '\0')
            printf("%*sBasic codes: %s\n", INDENT, "", e->basic_codes_raw);
        if (e->reference[0] != '\0')
            printf("%*sReference: %s\n", INDENT, "", e->reference);
        for (uint32_t i = 0; i < e->field_count; i++) {
            smtpstatus_field f;
            if (smtpstatus_image_entry_field(img, e, i, &f) == 0 && f.value[0] != '\0')
                printf("%*s%s: %s\n", INDENT, "", f.name, f.value);
        }
        if (e->flags & SMTPSTATUS_ENTRY_SHIFTED_ROW)
            printf("%*sNote: IANA's row for this code is shifted; it was repaired on load.\n",
                   INDENT, "");
        return;
    }
    /* A valid code that is not registered still means what its class and subject mean. */
    char code[SMTPSTATUS_CODE_STRLEN];
    printf("%*s%s is not in the registry; its class and subject say:\n", INDENT, "",
           code_str(e->code, code));
    char *line = NULL;
    if (e->code.cls != 0 &&
        asprintf(&line, "%u.XXX.XXX %s: %s", e->code.cls, e->cls.title, e->cls.description) >= 0) {
        print_wrapped(INDENT, line);
        free(line);
    }
    if (e->subject_registered) {
        if (asprintf(&line, "X.%u.XXX %s: %s", e->code.subject, e->subject.title,
                     e->subject.description) >= 0) {
            print_wrapped(INDENT, line);
            free(line);
        }
    } else {
        printf("%*sX.%u.XXX: no such subject in the registry\n", INDENT, "", e->code.subject);
    }
}

void
output_search(const smtpstatus_image *img, const char *query, const smtpstatus_entry *entries,
              size_t n)
{
    if (json_mode) {
        emit(answer_json_search(img, query, entries, n));
    } else {
        for (size_t i = 0; i < n; i++) {
            char code[SMTPSTATUS_CODE_STRLEN];
            printf("%-9s %s\n", code_str(entries[i].code, code), entries[i].title);
        }
    }
    if (n == 0)
        output_warnx("no registered code matches \"%s\"", query);
}

/* ---- basic codes ---------------------------------------------------------------------------- */

static const char *const match_names[] = {"?", "exact", "wildcard", "any"};

void
output_basic(const smtpstatus_basic_answer *b, const char *sample_text,
             const struct output_assoc *assoc)
{
    json_t *o = NULL;
    if (json_mode) {
        o = answer_json_basic(b, sample_text);
    } else if (b->standard) {
        printf("%u  %s  (%s)\n", b->code, b->text, b->reference);
    } else {
        printf("%u  (no standard reply text)\n", b->code);
    }
    if (!json_mode && b->assoc_count == 0)
        printf("%*sNo enhanced code is associated with it.\n", INDENT, "");
    else if (!json_mode)
        printf("%*sEnhanced codes:\n", INDENT, "");
    for (size_t i = 0; i < b->assoc_count; i++) {
        const struct output_assoc *a = &assoc[i];
        const char *mname = (unsigned)a->match < 4 ? match_names[a->match] : "?";
        char code[SMTPSTATUS_CODE_STRLEN];
        code_str(a->code, code);
        if (json_mode) {
            answer_json_basic_add(o, a->code, a->match, a->title);
        } else {
            printf("%*s%-9s %-9s %s\n", 2 * INDENT, "", code, mname, a->title);
        }
    }
    if (json_mode)
        emit(o);
}

/* ---- render --------------------------------------------------------------------------------- */

/* The human text of each warning; JSON names them (answer_json_warning_name()). */
static const struct {
    unsigned bit;
    const char *text;
} warning_table[] = {
    {SMTPSTATUS_WARN_NOT_ASSOCIATED,
     "the registry does not associate this basic code with the enhanced code"},
    {SMTPSTATUS_WARN_UNREGISTERED, "the enhanced code is not registered"},
    {SMTPSTATUS_WARN_REPLACED, "control characters in the text were replaced"},
    {SMTPSTATUS_WARN_SPLIT_WORD, "a word longer than a line was split"},
    {SMTPSTATUS_WARN_CODE_LIKE_TEXT,
     "a line's text starts with a dotted number that readers will take for an enhanced code"},
};

void
output_render(uint16_t basic, const smtpstatus_code *enhanced, int dsn, const char *reply,
              size_t len, unsigned warnings)
{
    size_t nwarn = sizeof warning_table / sizeof warning_table[0];
    if (!json_mode) {
        for (size_t i = 0; i < len; i++)
            if (!(reply[i] == '\r' && i + 1 < len && reply[i + 1] == '\n'))
                fputc(reply[i], stdout);
        for (size_t i = 0; i < nwarn; i++)
            if (warnings & warning_table[i].bit)
                output_warnx("warning: %s", warning_table[i].text);
        return;
    }
    emit(answer_json_render(basic, enhanced, dsn, reply, len, warnings));
}

unsigned
output_render_warning_bit(const char *name)
{
    return answer_json_warning_bit(name);
}

/* ---- classify ------------------------------------------------------------------------------- */

static const struct {
    unsigned bit;
    const char *text;
} problem_table[] = {
    {SMTPSTATUS_PROBLEM_BASIC_MISMATCH, "the lines carry different basic codes"},
    {SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH, "the lines carry different enhanced codes"},
    {SMTPSTATUS_PROBLEM_CLASS_MISMATCH,
     "the enhanced code's class differs from the basic code's first digit"},
    {SMTPSTATUS_PROBLEM_MALFORMED_LINE, "a line does not start with \"NNN-\" or \"NNN \""},
    {SMTPSTATUS_PROBLEM_TRUNCATED, "the reply is cut short"},
    {SMTPSTATUS_PROBLEM_IP_NOT_CODE, "a dotted number is an address, not an enhanced code"},
    {SMTPSTATUS_PROBLEM_NO_CODE, "no basic reply code anywhere"},
    {SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ, "a 3yz reply carries an enhanced code"},
    {SMTPSTATUS_PROBLEM_MISSING_ENHANCED, "some lines have the enhanced code, some do not"},
    {SMTPSTATUS_PROBLEM_LINE_TOO_LONG, "a line is longer than 510 octets"},
    {SMTPSTATUS_PROBLEM_BAD_CHARACTER, "control characters or bad UTF-8 (shown as '?')"},
    {SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR,
     "the basic code's second digit is over 5, outside RFC 5321's grammar"},
    {SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS,
     "the reason decided whether to retry, against the reply's class"},
    {SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE,
     "the reason differs from what the enhanced code alone means"},
};

/* The kind, and the retry decision where a failure has one (the reason may decide it against
 * the kind: "550 5.7.1 ... try again later"). */
static const char *
kind_phrase(smtpstatus_kind kind, int retry)
{
    switch (kind) {
    case SMTPSTATUS_KIND_SUCCESS:
        return "success";
    case SMTPSTATUS_KIND_INTERMEDIATE:
        return "intermediate: the server waits for more";
    case SMTPSTATUS_KIND_TRANSIENT:
        return retry ? "transient failure: retry later" : "transient failure, but do not retry";
    case SMTPSTATUS_KIND_PERMANENT:
        return retry ? "permanent failure, but retry later" : "permanent failure: do not retry";
    default:
        return "unknown: no usable reply code";
    }
}

/* "Reason: rate-limit, retry after 300 s: NOTE" and "Rule: NAME": the decision in one line,
 * and which rule made it. */
static void
print_decision(const smtpstatus_classification *c)
{
    const char *name = smtpstatus_reason_name(c->reason);
    printf("%*sReason: %s", INDENT, "", name != NULL ? name : "other");
    if (c->reason != SMTPSTATUS_REASON_SUCCESS && c->reason != SMTPSTATUS_REASON_INTERMEDIATE) {
        if (!c->retry)
            printf(", do not retry");
        else if (c->retry_after != 0)
            printf(", retry after %" PRIu32 " s", c->retry_after);
        else
            printf(", retry later");
        if (c->recipient_invalid)
            printf(", stop sending to this address");
    }
    if (c->rule_note != NULL && c->rule_note[0] != '\0')
        printf(": %s", c->rule_note);
    fputc('\n', stdout);
    if (c->rule != NULL && c->rule[0] != '\0') {
        printf("%*sRule: %s", INDENT, "", c->rule);
        if (c->has_status) {
            char status[SMTPSTATUS_CODE_STRLEN];
            printf(" (report %s instead)", code_str(c->status, status));
        }
        fputc('\n', stdout);
    }
}

void
output_classification(const smtpstatus_image *img, const smtpstatus_classification *c,
                      const char *text, const smtpstatus_vendor *v, size_t nv)
{
    char code[SMTPSTATUS_CODE_STRLEN] = "";
    if (c->has_enhanced)
        code_str(c->enhanced, code);
    if (json_mode) {
        json_t *o = answer_json_classification(img, c, text);
        json_t *entry = json_object_get(o, "entry");
        if (img == NULL && json_is_object(entry))
            json_object_set_new(entry, "vendors", answer_json_vendors(v, nv));
        emit(o);
        return;
    }
    /* "550 5.1.1  permanent failure: do not retry", with whichever codes were found. */
    if (c->basic != 0)
        printf("%u%s", c->basic, c->has_enhanced ? " " : "");
    printf("%s%s%s\n", code, c->basic != 0 || c->has_enhanced ? "  " : "",
           kind_phrase(c->kind, c->retry));
    if (c->has_enhanced) {
        printf("%*s", INDENT, "");
        print_headline(&c->entry);
    }
    print_decision(c);
    if (text[0] != '\0') {
        printf("%*sText: ", INDENT, "");
        for (const char *p = text; *p != '\0'; p++) {
            if (*p == '\n')
                printf("\n%*s", INDENT + 6, "");
            else
                fputc(*p, stdout);
        }
        fputc('\n', stdout);
    }
    for (size_t i = 0; i < sizeof problem_table / sizeof problem_table[0]; i++)
        if (c->problems & problem_table[i].bit)
            printf("%*sProblem: %s (%s)\n", INDENT, "", problem_table[i].text,
                   smtpstatus_problem_name(problem_table[i].bit));
}

/* ---- info ----------------------------------------------------------------------------------- */

/* t (Unix seconds) as "2024-05-01T12:00:00Z" in buf, or "unknown" for 0. */
static const char *
utc_time(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    snprintf(buf, size, "unknown");
    if (t != 0 && gmtime_r(&tt, &tm) != NULL)
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* Which path answered: "shared" (the daemon's image), "socket", or "offline". */
static const char *
answered_by(const smtpstatus_client_status *where)
{
    return where == NULL ? "offline" : where->shared ? "shared" : "socket";
}

/* Where the shared image in use came from: "daemon" (its sealed memfd), "copy" (a private copy
 * of the file), or NULL. */
static const char *
origin_name(const smtpstatus_client_status *where)
{
    if (where == NULL || !where->shared)
        return NULL;
    return where->origin == SMTPSTATUS_ORIGIN_DAEMON ? "daemon"
           : where->origin == SMTPSTATUS_ORIGIN_COPY ? "copy"
                                                      : NULL;
}

static void
where_json(json_t *o, const smtpstatus_client_status *where)
{
    jset(o, "answered_by", jstr(answered_by(where)));
    jset(o, "image", jstr_or_null(where != NULL ? where->image_path : NULL));
    jset(o, "image_error", jstr_or_null(where != NULL && where->error_detail[0] != '\0'
                                            ? where->error_detail
                                            : NULL));
    jset(o, "image_origin", jstr_or_null(origin_name(where)));
}

static void
print_where(const smtpstatus_client_status *where)
{
    if (where == NULL) {
        printf("Answered by: the registry built into the library (--offline)\n");
        return;
    }
    printf("Answered by: %s\n", where->shared ? "shared memory (no syscall per lookup)"
                                               : "the daemon's socket");
    if (where->shared)
        printf("Image file:  %s\n", where->image_path);
    else if (where->error_detail[0] != '\0')
        printf("Image file:  %s\n", where->error_detail);
    else
        printf("Image file:  %s (not used: --socket)\n", where->image_path);
    if (where->shared && where->origin == SMTPSTATUS_ORIGIN_DAEMON)
        printf("Mapped:      the daemon's sealed memfd, which nothing can change\n");
    else if (where->shared)
        printf("Mapped:      a private copy of the image file, taken when no daemon answered\n");
}

/* The daemon's last reload attempt, from its registry-info answer `daemon` (NULL: it gave none,
 * and nothing is shown): under "last_reload" in `o` with --json, else as lines. A failed reload
 * is shown here because the log is not where an administrator looks first. */
static void
show_last_reload(json_t *o, const smtpstatus_result *daemon)
{
    smtpstatus_reload_attempt a;
    if (daemon == NULL)
        return;
    int known = smtpstatus_result_last_reload(daemon, &a) == 0;
    if (json_mode) {
        jset(o, "last_reload", answer_json_last_reload(known ? &a : NULL));
        return;
    }
    if (!known) {
        printf("Last reload: none since the daemon started\n");
        return;
    }
    char at[32];
    printf("Last reload: %s at %s, by %s, from %s\n", a.ok ? "ok" : "FAILED",
           utc_time(a.at, at, sizeof at), a.trigger, a.source[0] ? a.source : "(no directory)");
    for (size_t i = 0; i < a.problem_count; i++)
        printf("Problem:     %s\n", a.problems[i]);
}

/* The reason rules of a registry-info or reload answer `daemon` (NULL: nothing is shown): under
 * "rules" in `o` and its changes under "rules_diff" in `diff` (each when not NULL) with --json,
 * else as lines: in the reload's lower-case style when `reloaded`, else as info's fields. */
static void
show_rules(json_t *o, json_t *diff, const smtpstatus_result *daemon, int reloaded)
{
    smtpstatus_rules_info info;
    if (daemon == NULL || smtpstatus_result_rules(daemon, &info) != 0)
        return;
    smtpstatus_rule_change *changes = calloc(info.change_count ? info.change_count : 1,
                                             sizeof *changes);
    if (changes == NULL)
        info.change_count = 0;
    for (size_t i = 0; i < info.change_count; i++)
        if (smtpstatus_result_rule_change(daemon, i, &changes[i]) != 0)
            info.change_count = i;
    if (json_mode) {
        if (o != NULL)
            jset(o, "rules", answer_json_rules(&info, changes));
        if (diff != NULL)
            jset(diff, "rules_diff", answer_json_rule_diff(changes, info.change_count));
        free(changes);
        return;
    }
    printf("%s%u administrator's (%s), %u built-in\n", reloaded ? "rules: " : "Rules:       ",
           info.admin_count, info.file[0] ? info.file : "no rules file", info.builtin_count);
    if (reloaded && info.change_count == 0)
        printf("no rule was added, removed or changed\n");
    for (size_t i = 0; i < info.change_count; i++) {
        const smtpstatus_rule_change *c = &changes[i];
        printf("%s%-8s %s", reloaded ? "rule " : "Rule ", c->change, c->name);
        if (c->was[0])
            printf(" (was %s)", c->was);
        printf(": %s", c->reason);
        if (c->basic[0] || c->enhanced[0])
            printf(" for %s%s%s", c->basic, c->basic[0] && c->enhanced[0] ? " " : "", c->enhanced);
        if (c->pattern[0])
            printf(" /%s/", c->pattern);
        printf("\n");
    }
    free(changes);
}

void
output_info(const smtpstatus_image_summary *s, const smtpstatus_client_status *where,
            int daemon_down, const smtpstatus_result *daemon)
{
    char digest[17], checksum[17], built[32], published[32];
    snprintf(digest, sizeof digest, "%016llx", (unsigned long long)s->source_digest);
    snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)s->checksum);
    utc_time(s->built_at, built, sizeof built);
    int64_t published_at = where != NULL && where->shared ? where->published_at : 0;
    utc_time(published_at > 0 ? (uint64_t)published_at : 0, published, sizeof published);
    if (json_mode) {
        json_t *o = json_object();
        jset(o, "source", jstr(s->source));
        jset(o, "generation", json_integer((json_int_t)s->generation));
        jset(o, "built_at", json_integer((json_int_t)s->built_at));
        jset(o, "digest", jstr(digest));
        jset(o, "checksum", jstr(checksum));
        jset(o, "size", json_integer((json_int_t)s->size));
        jset(o, "version", json_integer(s->version));
        jset(o, "classes", json_integer(s->class_count));
        jset(o, "subjects", json_integer(s->subject_count));
        jset(o, "codes", json_integer(s->code_count));
        jset(o, "basic_codes", json_integer(s->basic_count));
        show_last_reload(o, daemon);
        show_rules(o, NULL, daemon, 0);
        where_json(o, where);
        if (published_at > 0)
            jset(o, "published_at", json_integer((json_int_t)published_at));
        if (where != NULL)
            jset(o, "daemon_running", json_boolean(!daemon_down));
        emit(o);
        return;
    }
    if (daemon_down)
        printf("Daemon:      not running: serving generation %llu, published %s, from the "
               "image it left\n",
               (unsigned long long)s->generation, published);
    print_where(where);
    printf("Source:      %s\n", s->source);
    printf("Generation:  %llu\n", (unsigned long long)s->generation);
    if (published_at > 0)
        printf("Published:   %s\n", published);
    printf("Built:       %s\n", built);
    printf("Digest:      %s\n", digest);
    printf("Checksum:    %s\n", checksum);
    printf("Image:       %llu bytes, format version %u\n", (unsigned long long)s->size, s->version);
    printf("Contents:    %u classes, %u subjects, %u codes, %u basic codes\n", s->class_count,
           s->subject_count, s->code_count, s->basic_count);
    show_rules(NULL, NULL, daemon, 0);
    show_last_reload(NULL, daemon);
}

/* ---- the daemon's registry, reload, stats ---------------------------------------------------- */

/* "<label>X.7.29 X.7.30" on one line, when there is any code. */
static void
print_codes(const char *label, const char *const *codes, size_t n)
{
    if (n == 0)
        return;
    fputs(label, stdout);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i > 0 ? " " : "", codes[i]);
    fputc('\n', stdout);
}

void
output_field_changes(const char *indent, const smtpstatus_code_change *changes, size_t n,
                     uint32_t descriptions_differ)
{
    for (size_t i = 0; i < n; i++) {
        const char *o = changes[i].old_value, *v = changes[i].new_value;
        printf("%s%s %s: %s -> %s\n", indent, changes[i].code, changes[i].field,
               o[0] != '\0' ? o : "(empty)", v[0] != '\0' ? v : "(empty)");
    }
    if (descriptions_differ > 0)
        printf("%sdescriptions differ for %u code%s: the built-in registry's descriptions are the "
               "project's own words\n",
               indent, descriptions_differ, descriptions_differ == 1 ? "" : "s");
}

/* The field changes of a registry-info or reload answer, malloc'd (info->field_change_count of
 * them), or NULL when there are none or memory ran out (then the count is set to 0). */
static smtpstatus_code_change *
code_changes(smtpstatus_registry_info *info, const smtpstatus_result *r)
{
    smtpstatus_code_change *v = NULL;
    if (r != NULL && info->field_change_count > 0)
        v = calloc(info->field_change_count, sizeof *v);
    for (size_t i = 0; v != NULL && i < info->field_change_count; i++)
        if (smtpstatus_result_code_change(r, i, &v[i]) != 0) {
            free(v);
            v = NULL;
        }
    if (v == NULL)
        info->field_change_count = 0;
    return v;
}

void
output_registry(const smtpstatus_registry_info *info, const smtpstatus_client_status *where,
                const smtpstatus_result *daemon)
{
    smtpstatus_registry_info fi = *info;
    smtpstatus_code_change *changes = code_changes(&fi, daemon);
    if (json_mode) {
        json_t *o = answer_json_registry(&fi, changes);
        free(changes);
        show_last_reload(o, daemon);
        show_rules(o, NULL, daemon, 0);
        where_json(o, where);
        emit(o);
        return;
    }
    print_where(where);
    char loaded[32];
    printf("Source:      %s\n", info->source);
    printf("Generation:  %llu\n", (unsigned long long)info->generation);
    printf("Loaded:      %s\n", utc_time(info->loaded_at, loaded, sizeof loaded));
    printf("Digest:      %s\n", info->digest);
    printf("Contents:    %u classes, %u subjects, %u codes, %u basic codes\n", info->class_count,
           info->subject_count, info->code_count, info->basic_count);
    if (info->added_count + info->removed_count + info->changed_count == 0)
        printf("Changes:     none\n");
    print_codes("Added:       ", info->added, info->added_count);
    print_codes("Removed:     ", info->removed, info->removed_count);
    print_codes("Changed:     ", info->changed, info->changed_count);
    output_field_changes("             ", changes, fi.field_change_count, fi.descriptions_differ);
    free(changes);
    show_rules(NULL, NULL, daemon, 0);
    for (size_t i = 0; i < info->warning_count; i++)
        printf("Warning:     %s\n", info->warnings[i]);
    show_last_reload(NULL, daemon);
}

/* Writes lines[0..n) to stderr as they are: compiler-style "file:line:col: ..." lines that an
 * editor can jump to, so without the "smtpstatus: " prefix. */
static void
print_diagnostics(const char *const *lines, size_t n)
{
    fflush(stdout);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s\n", lines[i]);
}

void
output_reloaded(const smtpstatus_registry_info *info, const smtpstatus_result *r)
{
    smtpstatus_registry_info fi = *info;
    smtpstatus_code_change *changes = code_changes(&fi, r);
    if (json_mode) {
        json_t *o = answer_json_reloaded(&fi, changes);
        show_rules(json_object_get(o, "registry"), o, r, 1);
        emit(o);
    } else {
        printf("reloaded: generation %llu from %s, %u codes\n",
               (unsigned long long)info->generation, info->source, info->code_count);
        if (info->added_count + info->removed_count + info->changed_count == 0)
            printf("no code was added, removed or changed\n");
        print_codes("added: ", info->added, info->added_count);
        print_codes("removed: ", info->removed, info->removed_count);
        print_codes("changed: ", info->changed, info->changed_count);
        output_field_changes("  ", changes, fi.field_change_count, fi.descriptions_differ);
        show_rules(NULL, NULL, r, 1);
    }
    free(changes);
    print_diagnostics(info->warnings, info->warning_count);
}

void
output_reload_failed(const smtpstatus_result *r)
{
    const char *message = smtpstatus_result_message(r);
    if (message[0] == '\0')
        message = smtpstatus_strerror(SMTPSTATUS_ERELOAD);
    size_t n = 0;
    while (smtpstatus_result_problem(r, n) != NULL)
        n++;
    output_warnx("%s", message);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s\n", smtpstatus_result_problem(r, i));
    if (!json_mode)
        return;
    json_t *o = json_object();
    json_t *problems = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(problems, jstr(smtpstatus_result_problem(r, i)));
    jset(o, "error", jstr(message));
    jset(o, "problems", problems);
    emit(o);
}

void
output_stats(const smtpstatus_result *r)
{
    const char *group, *name;
    uint64_t value;
    json_t *o = json_mode ? json_object() : NULL;
    for (size_t i = 0;
         (o != NULL || !json_mode) && smtpstatus_result_counter(r, i, &group, &name, &value) == 0;
         i++) {
        if (!json_mode) {
            printf("%-9s %-18s %llu\n", group, name, (unsigned long long)value);
            continue;
        }
        /* {"requests": {"lookup": 3, ...}, "errors": {...}, "connections_open": 1, ...}: the
         * StatsResponse of the socket API, with its counter lists as objects. */
        json_t *where = o;
        if (strcmp(group, "daemon") != 0) {
            if ((where = json_object_get(o, group)) == NULL) {
                where = json_object();
                jset(o, group, where);
            }
        }
        jset(where, name, json_integer((json_int_t)value));
    }
    if (json_mode)
        emit(o);
}
