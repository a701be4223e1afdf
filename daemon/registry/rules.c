/*
 * Reason rules, the writer side (see rules.h): the rules file's columns and values, and the
 * compilation of all patterns into one Vectorscan database.
 *
 * Vectorscan (Hyperscan's portable fork, Debian's libvectorscan) matches every pattern in one
 * pass over the reply, in time linear in its length whatever the patterns are, which is what
 * keeps classification fast with a thousand rules and makes a pattern that would backtrack
 * without end in a PCRE engine harmless. What it cannot do (back-references, look-around) is
 * refused at compile time with the pattern's position.
 */
#include "rules.h"

#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "image_internal.h"
#include "pattern_literals.h"

enum column { COL_NAME, COL_REASON, COL_BASIC, COL_ENHANCED, COL_PATTERN, COL_RETRY, COL_STATUS,
              COL_NOTE, COL_SOURCE, COL_COUNT };

static const char *const column_names[COL_COUNT] = {
    "Name", "Reason", "Basic", "Enhanced", "Pattern", "Retry", "Status", "Note", "Source",
};
_Static_assert(COL_COUNT <= CSV_COLUMNS_MAX, "csv_row_ctx holds every column");

static int
is_x(char ch)
{
    return ch == 'X' || ch == 'x';
}

/* Basic: "550", "5XX" or empty. */
static int
parse_basic(const struct csv_row_ctx *c, struct rule *r)
{
    const char *s;
    size_t n;
    csv_row_text(c, COL_BASIC, &s, &n);
    r->basic = SMTPSTATUS_IMAGE_ANY;
    r->basic_class = 0;
    if (n == 0)
        return 0;
    if (n == 3 && s[0] >= '2' && s[0] <= '5' && is_x(s[1]) && is_x(s[2])) {
        r->basic_class = (uint8_t)(s[0] - '0');
        return 0;
    }
    if (n == 3 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
        s[2] <= '9') {
        r->basic = (uint16_t)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
        return 0;
    }
    csv_row_bad(c, COL_BASIC, "expected a basic code such as 550, a class such as 5XX, or nothing; got",
        s, n);
    return -1;
}

/* A run of 1 to 3 digits at s[*i..n), or 'X' when allow_x; SMTPSTATUS_IMAGE_ANY for X. */
static int
part(const char *s, size_t n, size_t *i, int allow_x, uint16_t *out)
{
    if (allow_x && *i < n && is_x(s[*i])) {
        (*i)++;
        *out = SMTPSTATUS_IMAGE_ANY;
        return 0;
    }
    unsigned v = 0, digits = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9' && digits < 4) {
        v = v * 10 + (unsigned)(s[*i] - '0');
        (*i)++;
        digits++;
    }
    if (digits == 0 || digits > 3)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Enhanced: "5.7.1", "X.7.1", "5.7.X", "X.7.X" or empty. */
static int
parse_enhanced(const struct csv_row_ctx *c, struct rule *r)
{
    const char *s;
    size_t n, i = 1;
    csv_row_text(c, COL_ENHANCED, &s, &n);
    r->has_enhanced = 0;
    if (n == 0)
        return 0;
    uint16_t subject = 0, detail = 0;
    int ok = n >= 5 && (is_x(s[0]) || s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.';
    i = 2;
    ok = ok && part(s, n, &i, 0, &subject) == 0 && i < n && s[i] == '.';
    i++;
    ok = ok && part(s, n, &i, 1, &detail) == 0 && i == n;
    if (!ok) {
        csv_row_bad(c, COL_ENHANCED, "expected a code such as 5.7.1, X.7.1, 5.7.X or nothing; got", s, n);
        return -1;
    }
    r->has_enhanced = 1;
    r->enhanced_class = is_x(s[0]) ? 0 : (uint8_t)(s[0] - '0');
    r->subject = subject;
    r->detail = detail;
    return 0;
}

static int
parse_reason(const struct csv_row_ctx *c, struct rule *r)
{
    const char *s;
    size_t n;
    csv_row_text(c, COL_REASON, &s, &n);
    char low[32];
    if (n > 0 && n < sizeof low) {
        for (size_t i = 0; i < n; i++)
            low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]);
        r->reason = smtpstatus_reason_from_name(low, n);
        if (r->reason != 0)
            return 0;
    }
    csv_row_bad(c, COL_REASON,
        "unknown reason (one of success, intermediate, bad-mailbox, mailbox-disabled, "
        "mailbox-full, message-too-big, bad-sender, policy, auth, routing, rate-limit, "
        "greylisting, tls-required, protocol, content, server-error, expired, other)",
        s, n);
    return -1;
}

static int
parse_retry(const struct csv_row_ctx *c, struct rule *r)
{
    const char *s;
    size_t n;
    csv_row_text(c, COL_RETRY, &s, &n);
    if (n == 0)
        r->retry = SMTPSTATUS_IMAGE_RETRY_DEFAULT;
    else if (n == 3 && strncasecmp(s, "yes", 3) == 0)
        r->retry = SMTPSTATUS_IMAGE_RETRY_YES;
    else if (n == 2 && strncasecmp(s, "no", 2) == 0)
        r->retry = SMTPSTATUS_IMAGE_RETRY_NO;
    else {
        csv_row_bad(c, COL_RETRY, "expected yes, no or nothing; got", s, n);
        return -1;
    }
    return 0;
}

static int
parse_status(const struct csv_row_ctx *c, struct rule *r)
{
    const char *s;
    size_t n;
    csv_row_text(c, COL_STATUS, &s, &n);
    r->has_status = 0;
    if (n == 0)
        return 0;
    if (smtpstatus_code_parse(s, n, 0, &r->status, NULL) != 0) {
        csv_row_bad(c, COL_STATUS, "expected an enhanced code such as 4.7.1 or nothing; got", s, n);
        return -1;
    }
    r->has_status = 1;
    return 0;
}

static int
valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
              ch == '_'))
            return 0;
    }
    return 1;
}

static void
rule_free(struct rule *r)
{
    free(r->name);
    free(r->pattern);
    free(r->note);
    free(r->source);
    memset(r, 0, sizeof *r);
}

/* Reads one row into *r. Returns 0, -1 after reporting, or SMTPSTATUS_ENOMEM. */
static int
parse_row(const struct csv_row_ctx *c, int admin, struct rule *r)
{
    memset(r, 0, sizeof *r);
    r->admin = admin;
    r->line = c->row->line;
    int bad_row = 0;
    bad_row |= parse_reason(c, r);
    bad_row |= parse_basic(c, r);
    bad_row |= parse_enhanced(c, r);
    bad_row |= parse_retry(c, r);
    bad_row |= parse_status(c, r);

    const char *s;
    size_t n;
    csv_row_text(c, COL_NAME, &s, &n);
    if (n > 0 && !valid_name(s, n)) {
        csv_row_bad(c, COL_NAME, "a name is 1 to 128 of a-z, 0-9, '-', '.' and '_'; got", s, n);
        bad_row = -1;
    } else if (n == 0 && !admin) {
        csv_row_bad(c, COL_NAME, "every built-in rule needs a name; got", s, n);
        bad_row = -1;
    }
    char defname[4200];
    if (n == 0) {
        snprintf(defname, sizeof defname, "%s:%u", c->file, r->line);
        s = defname;
        n = strlen(defname);
    }
    r->name = strndup(s, n);

    const struct csv_field *p = csv_row_field(c, COL_PATTERN);
    r->pattern_col = p->line ? p->col + p->quoted : 1;
    if (p->len > RULES_PATTERN_MAX) {
        diag_add(c->d, DIAG_ERROR, c->file, p->line, p->col,
                 "Pattern: %zu bytes, more than the %u a pattern may have", p->len,
                 RULES_PATTERN_MAX);
        bad_row = -1;
    }
    r->pattern = strndup(p->text, p->len);
    const struct csv_field *note = csv_row_field(c, COL_NOTE);
    r->note = strndup(note->text, note->len);
    csv_row_text(c, COL_SOURCE, &s, &n);
    if (n == 0 && !admin) {
        csv_row_bad(c, COL_SOURCE, "every built-in rule needs a source; got", s, n);
        bad_row = -1;
    }
    r->source = strndup(s, n);
    if (r->name == NULL || r->pattern == NULL || r->note == NULL || r->source == NULL) {
        rule_free(r);
        return SMTPSTATUS_ENOMEM;
    }
    if (bad_row != 0) {
        rule_free(r);
        return -1;
    }
    return 0;
}

/* Maps the header row to columns: only Reason is required. Returns 0, or -1 after reporting. */
static int
map_header(struct csv_row_ctx *c, const struct csv_row *h)
{
    static const int required[COL_COUNT] = {[COL_REASON] = 1};
    return csv_map_columns(h, column_names, required, COL_COUNT, c->col, c->file, c->d);
}

/* Orders rules by name, then by line (which differs between any two rows of a file). */
static int
by_name(const void *a, const void *b)
{
    const struct rule *x = *(const struct rule *const *)a, *y = *(const struct rule *const *)b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Reports each rule of parsed[0..n) whose name an earlier row has, at its line. Sorts, so that
 * a file of RULES_MAX rules costs n log n comparisons, not n^2. Returns 1 if any was reported
 * (or on ENOMEM), else 0. */
static int
duplicate_names(const struct rule *parsed, size_t n, const char *file, struct diag *d)
{
    if (n < 2)
        return 0;
    const struct rule **v = malloc(n * sizeof *v);
    if (v == NULL) {
        diag_add(d, DIAG_ERROR, file, 0, 0, "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = &parsed[i];
    qsort(v, n, sizeof *v, by_name);
    int dup = 0;
    for (size_t i = 1, first = 0; i < n; i++) {
        if (strcmp(v[i]->name, v[first]->name) != 0) {
            first = i;
            continue;
        }
        diag_add(d, DIAG_ERROR, file, v[i]->line, 1,
                 "Name: \"%s\" is already the name of the rule on line %u", v[i]->name,
                 v[first]->line);
        dup = 1;
    }
    free(v);
    return dup;
}

int
rules_parse(struct rules *r, const char *buf, size_t len, const char *file, int admin,
            struct diag *d)
{
    /* One administrator's file, before any built-in rule: r->file names it in diagnostics. */
    if (admin && r->count > 0) {
        if (r->admin_count > 0)
            diag_add(d, DIAG_ERROR, file, 0, 0,
                     "administrator's rules come from one file, and %s was already read",
                     r->file);
        else
            diag_add(d, DIAG_ERROR, file, 0, 0, "administrator's rules must come first");
        return -1;
    }
    struct csv_table t;
    if (csv_parse(buf, len, file, &t, d) != 0)
        return -1;
    struct csv_row_ctx c = {.file = file, .d = d, .names = column_names};
    if (t.count == 0) {
        diag_add(d, DIAG_ERROR, file, 1, 1, "the file is empty: expected a header row");
        csv_table_free(&t);
        return -1;
    }
    c.row = &t.rows[0];
    if (map_header(&c, &t.rows[0]) != 0) {
        csv_table_free(&t);
        return -1;
    }
    size_t rows = t.count - 1;
    if (rows > RULES_MAX) {
        diag_add(d, DIAG_ERROR, file, t.rows[RULES_MAX + 1].line, 1,
                 "more than %u rules in one file", RULES_MAX);
        csv_table_free(&t);
        return -1;
    }
    struct rule *parsed = calloc(rows ? rows : 1, sizeof *parsed);
    char *file_copy = admin ? strdup(file) : NULL;
    if (parsed == NULL || (admin && file_copy == NULL)) {
        free(parsed);
        free(file_copy);
        csv_table_free(&t);
        diag_add(d, DIAG_ERROR, file, 0, 0, "out of memory");
        return -1;
    }
    size_t got = 0;
    int failed = 0;
    for (size_t i = 1; i < t.count; i++) {
        c.row = &t.rows[i];
        int rc = parse_row(&c, admin, &parsed[got]);
        if (rc == 0) {
            got++;
        } else {
            failed = 1;
            if (rc == SMTPSTATUS_ENOMEM) {
                diag_add(d, DIAG_ERROR, file, c.row->line, 1, "out of memory");
                break;
            }
        }
    }
    /* A built-in rule's name is how an administrator finds it: names must be unique. */
    if (!failed)
        failed = duplicate_names(parsed, got, file, d);
    csv_table_free(&t);

    struct rule *grown = NULL;
    if (!failed && (grown = realloc(r->items, (r->count + got) * sizeof *grown + 1)) == NULL) {
        diag_add(d, DIAG_ERROR, file, 0, 0, "out of memory");
        failed = 1;
    }
    if (failed) {
        for (size_t i = 0; i < got; i++)
            rule_free(&parsed[i]);
        free(parsed);
        free(file_copy);
        return -1;
    }
    r->items = grown;
    if (admin) {
        /* Admin rules go before the built-in ones already there. */
        memmove(r->items + got, r->items, r->count * sizeof *grown);
        memcpy(r->items, parsed, got * sizeof *grown);
        r->admin_count = got;
        free(r->file);
        r->file = file_copy;
    } else {
        memcpy(r->items + r->count, parsed, got * sizeof *grown);
    }
    r->count += got;
    free(parsed);
    return 0;
}

static char *
image_str(const smtpstatus_image *img, struct smtpstatus_image_str s)
{
    return strndup(img->strings + s.off, s.len);
}

int
rules_append_image(struct rules *r, const smtpstatus_image *img)
{
    uint32_t n = img->hdr->rule_count;
    const struct smtpstatus_image_rule *recs = img->rules;
    struct rule *grown = realloc(r->items, (r->count + n) * sizeof *grown + 1);
    if (grown == NULL)
        return SMTPSTATUS_ENOMEM;
    r->items = grown;
    for (uint32_t i = 0; i < n; i++) {
        const struct smtpstatus_image_rule *x = &recs[i];
        if (x->flags & SMTPSTATUS_IMAGE_RULE_ADMIN)
            continue;
        struct rule *y = &r->items[r->count];
        memset(y, 0, sizeof *y);
        y->reason = (smtpstatus_reason)x->reason;
        y->basic = x->basic;
        y->basic_class = x->basic_class;
        y->retry = x->retry;
        y->has_enhanced = (x->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED) != 0;
        y->enhanced_class = x->enhanced_class;
        y->subject = x->subject;
        y->detail = x->detail;
        y->has_status = (x->flags & SMTPSTATUS_IMAGE_RULE_HAS_STATUS) != 0;
        y->status.cls = x->status_class;
        y->status.subject = x->status_subject;
        y->status.detail = x->status_detail;
        y->line = x->line;
        y->pattern_col = 1;
        y->name = image_str(img, x->name);
        y->pattern = image_str(img, x->pattern);
        y->note = image_str(img, x->note);
        y->source = image_str(img, x->source);
        r->count++;
        if (y->name == NULL || y->pattern == NULL || y->note == NULL || y->source == NULL)
            return SMTPSTATUS_ENOMEM;
    }
    return 0;
}

/* Reports why rule i's pattern does not compile on its own. */
static void
report_pattern(const struct rules *r, size_t i, const hs_platform_info_t *plat, struct diag *d)
{
    const struct rule *x = &r->items[i];
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile(x->pattern, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, plat, &db,
                   &err) == HS_SUCCESS) {
        hs_free_database(db);
        return;
    }
    diag_add(d, DIAG_ERROR, x->admin ? r->file : "built-in", x->line, x->pattern_col,
             "Pattern: %s (rule %s)", err != NULL ? err->message : "does not compile", x->name);
    hs_free_compile_error(err);
}

/* Warns, at the first pattern that has no literals for the prefilter (pattern_literals.h),
 * that the image has none. The answers are the same without it; a one-shot classification of
 * a reply that no pattern occurs in is slower, as Vectorscan is set up to scan it. */
static void
report_no_prefilter(const struct rules *r, const char *const *exprs, const size_t *which,
                    size_t n, struct diag *d)
{
    unsigned char *bitmap = malloc(SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    for (size_t j = 0; bitmap != NULL && j < n; j++)
        if (pattern_prefilter_build(&exprs[j], 1, bitmap) != 0) {
            const struct rule *x = &r->items[which[j]];
            diag_add(d, DIAG_WARNING, x->admin ? r->file : "built-in", x->line, x->pattern_col,
                     "Pattern: no literal of %u bytes or more is in every match (rule %s), so "
                     "every reply is scanned for the patterns, none ruled out beforehand",
                     PATTERN_LITERAL_MIN_LEN, x->name);
            break;
        }
    free(bitmap);
}

/*
 * Moves the compiled database `db` (freed here) into r->db in the form the image holds: what
 * hs_deserialize_database_at() leaves at a 64-byte aligned address. Vectorscan places the
 * bytecode by the address's remainder modulo 64, so this form is the same wherever it lands on
 * such an address, and a reader can scan it in place without a copy (client/src/reason.c). The
 * round trip through the serialized form is the public way to get it: a compiled database's
 * own layout depends on where its allocator put it. Padding is zeroed, so the image stays
 * reproducible. Returns 0, or -1 when out of memory (r->db stays NULL).
 */
static int
db_to_image_form(struct rules *r, hs_database_t *db)
{
    char *bytes = NULL;
    size_t len = 0;
    size_t size = 0;
    int rc = -1;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS ||
        hs_serialized_database_size(bytes, len, &size) != HS_SUCCESS)
        goto out;
    size_t alloc = (size + SMTPSTATUS_IMAGE_DB_ALIGN - 1) / SMTPSTATUS_IMAGE_DB_ALIGN *
                   SMTPSTATUS_IMAGE_DB_ALIGN;
    unsigned char *mem = aligned_alloc(SMTPSTATUS_IMAGE_DB_ALIGN, alloc);
    if (mem == NULL)
        goto out;
    if (hs_deserialize_database_at(bytes, len, (hs_database_t *)mem) != HS_SUCCESS) {
        free(mem);
        goto out;
    }
    r->db = mem;
    r->db_size = size;
    rc = 0;
out:
    free(bytes);
    hs_free_database(db);
    return rc;
}

int
rules_compile(struct rules *r, int portable, struct diag *d)
{
    free(r->db);
    r->db = NULL;
    r->db_size = 0;
    free(r->prefilter);
    r->prefilter = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->items[i].pattern[0] != '\0';
    if (n == 0)
        return 0;
    if (r->count > UINT32_MAX) {
        diag_add(d, DIAG_ERROR, r->file, 0, 0, "too many rules");
        return -1;
    }
    const char **exprs = calloc(n, sizeof *exprs);
    unsigned *flags = calloc(n, sizeof *flags);
    unsigned *ids = calloc(n, sizeof *ids);
    size_t *which = calloc(n, sizeof *which);
    int rc = -1;
    if (exprs == NULL || flags == NULL || ids == NULL || which == NULL) {
        diag_add(d, DIAG_ERROR, r->file, 0, 0, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (r->items[i].pattern[0] == '\0')
            continue;
        exprs[k] = r->items[i].pattern;
        flags[k] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[k] = (unsigned)i;
        which[k] = i;
        k++;
    }
    /* The generic platform runs on every CPU of the architecture; the host's is faster. */
    hs_platform_info_t generic = {.tune = HS_TUNE_FAMILY_GENERIC};
    const hs_platform_info_t *plat = portable ? &generic : NULL;
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, plat, &db, &err) !=
        HS_SUCCESS) {
        /* Name every bad pattern, not only the first one Vectorscan stopped at. */
        size_t before = d->errors;
        for (size_t j = 0; j < n; j++)
            report_pattern(r, which[j], plat, d);
        if (d->errors == before)
            diag_add(d, DIAG_ERROR, r->file, 0, 0, "the rules' patterns do not compile together: %s",
                     err != NULL ? err->message : "unknown error");
        hs_free_compile_error(err);
        goto out;
    }
    if (db_to_image_form(r, db) != 0) {
        diag_add(d, DIAG_ERROR, r->file, 0, 0, "out of memory");
        goto out;
    }
    r->prefilter = malloc(SMTPSTATUS_IMAGE_PREFILTER_BYTES);
    if (r->prefilter != NULL && pattern_prefilter_build(exprs, n, r->prefilter) != 0) {
        report_no_prefilter(r, exprs, which, n, d);
        free(r->prefilter);
        r->prefilter = NULL;
    }
    rc = 0;
out:
    free(exprs);
    free(flags);
    free(ids);
    free(which);
    return rc;
}

void
rules_free(struct rules *r)
{
    for (size_t i = 0; i < r->count; i++)
        rule_free(&r->items[i]);
    free(r->items);
    free(r->file);
    free(r->db);
    free(r->prefilter);
    memset(r, 0, sizeof *r);
}
