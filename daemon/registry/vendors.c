/*
 * Vendor codes, the writer side (see vendors.h): the vendors file's columns and values, and the
 * order the image's vendor table is searched in.
 */
#include "vendors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

enum column { COL_PROVIDER, COL_CODE, COL_CLASS, COL_REASON, COL_MEANING, COL_SOURCE, COL_COUNT };

static const char *const column_names[COL_COUNT] = {
    "Provider", "Code", "Class", "Reason", "Meaning", "Source",
};
_Static_assert(COL_COUNT <= CSV_COLUMNS_MAX, "csv_row_ctx holds every column");

static int
is_token_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* A provider's token: capital letters and digits, in runs joined by one '_', ':' or '-'. */
static int
valid_token(const char *s, size_t n)
{
    if (n == 0 || n > VENDORS_TOKEN_MAX || !is_token_char(s[0]) || !is_token_char(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (is_token_char(s[i]))
            continue;
        if ((s[i] != '_' && s[i] != ':' && s[i] != '-') || !is_token_char(s[i + 1]))
            return 0;
    }
    return 1;
}

/* Code and Class together: an enhanced code with its class, or a token with none. */
static int
parse_code(const struct csv_row_ctx *c, struct vendor *v)
{
    const char *s, *k;
    size_t n, kn;
    csv_row_text(c, COL_CODE, &s, &n);
    csv_row_text(c, COL_CLASS, &k, &kn);
    int rc = 0;
    if (n > 0 && memchr(s, '.', n) != NULL) {
        smtpstatus_code code;
        char canon[SMTPSTATUS_CODE_STRLEN];
        if (smtpstatus_code_parse(s, n, 0, &code, NULL) != 0 ||
            smtpstatus_code_format(code, canon, sizeof canon) != (int)n ||
            memcmp(canon, s, n) != 0) {
            csv_row_bad(c, COL_CODE, "expected an enhanced code such as 5.7.708 (no leading zeros) or a "
                             "provider's token such as TSS04; got", s, n);
            return -1;
        }
        v->subject = code.subject;
        v->detail = code.detail;
        if (kn == 0) {
            v->cls = 0;
        } else if (kn == 1 && k[0] == (char)('0' + code.cls)) {
            v->cls = code.cls;
        } else {
            csv_row_bad(c, COL_CLASS, "expected the code's own class digit, or nothing for any class; got",
                k, kn);
            rc = -1;
        }
        return rc;
    }
    if (!valid_token(s, n)) {
        csv_row_bad(c, COL_CODE, "expected an enhanced code such as 5.7.708 or a provider's token of "
                         "capital letters and digits, joined by '_', ':' or '-' (at most "
                         "32 bytes), such as TSS04; got", s, n);
        return -1;
    }
    v->cls = 0;
    v->subject = SMTPSTATUS_IMAGE_ANY;
    v->detail = SMTPSTATUS_IMAGE_ANY;
    if (kn != 0) {
        csv_row_bad(c, COL_CLASS, "a provider's token has no class; expected nothing, got", k, kn);
        rc = -1;
    }
    return rc;
}

static int
parse_reason(const struct csv_row_ctx *c, struct vendor *v)
{
    const char *s;
    size_t n;
    csv_row_text(c, COL_REASON, &s, &n);
    char low[32];
    if (n > 0 && n < sizeof low) {
        for (size_t i = 0; i < n; i++)
            low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]);
        smtpstatus_reason r = smtpstatus_reason_from_name(low, n);
        if (r != 0) {
            v->reason = (uint8_t)r;
            return 0;
        }
    }
    csv_row_bad(c, COL_REASON,
        "unknown reason (one of success, intermediate, bad-mailbox, mailbox-disabled, "
        "mailbox-full, message-too-big, bad-sender, policy, auth, routing, rate-limit, "
        "greylisting, tls-required, protocol, content, server-error, expired, other)",
        s, n);
    return -1;
}

static void
vendor_free(struct vendor *v)
{
    free(v->provider);
    free(v->code);
    free(v->meaning);
    free(v->source);
    memset(v, 0, sizeof *v);
}

/* Copies column k, trimmed, into *out; an empty value is an error. Returns 0, -1 after
 * reporting, or SMTPSTATUS_ENOMEM. */
static int
required_text(const struct csv_row_ctx *c, enum column k, char **out)
{
    const char *s;
    size_t n;
    csv_row_text(c, k, &s, &n);
    if ((*out = strndup(s, n)) == NULL)
        return SMTPSTATUS_ENOMEM;
    if (n == 0) {
        csv_row_bad(c, k, "every row needs one; got", s, n);
        return -1;
    }
    return 0;
}

/* Reads one row into *v. Returns 0, -1 after reporting, or SMTPSTATUS_ENOMEM. */
static int
parse_row(const struct csv_row_ctx *c, struct vendor *v)
{
    memset(v, 0, sizeof *v);
    v->line = c->row->line;
    int bad_row = 0, oom = 0;
    bad_row |= parse_code(c, v);
    bad_row |= parse_reason(c, v);
    static const enum column texts[] = {COL_PROVIDER, COL_CODE, COL_MEANING, COL_SOURCE};
    char **dest[] = {&v->provider, &v->code, &v->meaning, &v->source};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int rc = required_text(c, texts[i], dest[i]);
        /* An empty Code was already reported by parse_code(). */
        if (rc == -1 && texts[i] != COL_CODE)
            bad_row = -1;
        else if (rc == SMTPSTATUS_ENOMEM)
            oom = 1;
    }
    if (oom || bad_row != 0) {
        vendor_free(v);
        return oom ? SMTPSTATUS_ENOMEM : -1;
    }
    return 0;
}

/* Maps the header row to columns, all of them required. Returns 0, or -1 after reporting. */
static int
map_header(struct csv_row_ctx *c, const struct csv_row *h)
{
    static const int required[COL_COUNT] = {1, 1, 1, 1, 1, 1};
    return csv_map_columns(h, column_names, required, COL_COUNT, c->col, c->file, c->d);
}

/* The image's order (see vendors.h), rows of one code by provider then reason name, as
 * data/README.md keeps the file; the line breaks the last ties, so sorting is stable. */
static int
compare(const void *pa, const void *pb)
{
    const struct vendor *a = pa, *b = pb;
    if (a->subject != b->subject)
        return a->subject < b->subject ? -1 : 1;
    if (a->detail != b->detail)
        return a->detail < b->detail ? -1 : 1;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    int r = strcmp(a->code, b->code);
    if (r == 0)
        r = strcmp(a->provider, b->provider);
    if (r == 0)
        r = strcmp(smtpstatus_reason_name((smtpstatus_reason)a->reason),
                   smtpstatus_reason_name((smtpstatus_reason)b->reason));
    if (r == 0)
        r = a->line < b->line ? -1 : a->line > b->line;
    return r;
}

int
vendors_parse(struct vendors *v, const char *buf, size_t len, const char *file, struct diag *d)
{
    memset(v, 0, sizeof *v);
    struct csv_table t;
    if (csv_parse(buf, len, file, &t, d) != 0)
        return -1;
    if (t.count == 0) {
        diag_add(d, DIAG_ERROR, file, 1, 1, "the file is empty: expected a header row");
        csv_table_free(&t);
        return -1;
    }
    struct csv_row_ctx c = {.file = file, .d = d, .row = &t.rows[0], .names = column_names};
    if (map_header(&c, &t.rows[0]) != 0) {
        csv_table_free(&t);
        return -1;
    }
    size_t rows = t.count - 1;
    if (rows > VENDORS_MAX) {
        diag_add(d, DIAG_ERROR, file, t.rows[VENDORS_MAX + 1].line, 1,
                 "more than %u rows in one file", VENDORS_MAX);
        csv_table_free(&t);
        return -1;
    }
    struct vendor *items = calloc(rows ? rows : 1, sizeof *items);
    if (items == NULL) {
        diag_add(d, DIAG_ERROR, file, 0, 0, "out of memory");
        csv_table_free(&t);
        return -1;
    }
    size_t got = 0;
    int failed = 0;
    for (size_t i = 1; i < t.count; i++) {
        c.row = &t.rows[i];
        int rc = parse_row(&c, &items[got]);
        if (rc == 0) {
            got++;
            continue;
        }
        failed = 1;
        if (rc == SMTPSTATUS_ENOMEM) {
            diag_add(d, DIAG_ERROR, file, c.row->line, 1, "out of memory");
            break;
        }
    }
    csv_table_free(&t);
    qsort(items, got, sizeof *items, compare);
    /* After sorting, a repeated row sits right after its twin. */
    for (size_t i = 1; i < got; i++) {
        const struct vendor *a = &items[i - 1], *b = &items[i];
        if (a->cls == b->cls && a->reason == b->reason && strcmp(a->code, b->code) == 0 &&
            strcmp(a->provider, b->provider) == 0) {
            const struct vendor *later = a->line > b->line ? a : b;
            diag_add(d, DIAG_ERROR, file, later->line, 1,
                     "the row on line %u already gives %s's %s with reason %s",
                     later == a ? b->line : a->line, b->provider, b->code,
                     smtpstatus_reason_name((smtpstatus_reason)b->reason));
            failed = 1;
        }
    }
    if (failed) {
        for (size_t i = 0; i < got; i++)
            vendor_free(&items[i]);
        free(items);
        return -1;
    }
    v->items = items;
    v->count = got;
    return 0;
}

void
vendors_free(struct vendors *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->count; i++)
        vendor_free(&v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}
