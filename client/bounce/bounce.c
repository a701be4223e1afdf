/*
 * Bounce messages read whole (see bounce.h). GMime parses the MIME structure; this file finds
 * the delivery report in it (the first message/delivery-status or message/global-delivery-status
 * part, depth first, not inside a returned message), reads its per-message and per-recipient
 * fields, and otherwise reads the first text/plain part as one of the plain-text bounces it
 * knows by their fixed sentences. Every recipient's diagnostic is classified with the library's
 * smtpstatus_classify(), which already understands the wrappers MTAs put around a reply
 * ("Remote host said:", "SMTP error from remote mail server after ...", "Remote Server
 * returned '...'").
 *
 * Formats, as read here (the sample messages in tests/data/bounces/ show each one):
 * - qmail-send: a "qmail-send program" greeting, then one block per address, opened by a
 *   "<address>:" line and closed by a blank line, up to a line starting "--- ".
 * - Exim: the "created automatically by mail delivery software" opening, then after a line
 *   ending "failed:" (or "has not yet been delivered", a delay warning) each address indented
 *   two spaces and its details indented four ("host NAME [IP]", "SMTP error from remote mail
 *   server after RCPT TO:<...>:", the reply lines).
 * - Gmail: "wasn't delivered to ADDRESS because" (or "There was a temporary problem delivering
 *   your message to ADDRESS", a delay) and the reply after "The response ... was:".
 * - Microsoft (Exchange Online): "Delivery has failed to these recipients or groups:" (or
 *   "...has been delayed..."), and under "Diagnostic information for administrators:" the
 *   "Generating server:" and each address followed by "Remote Server returned '...'" or
 *   "#550 5.1.10 ...##".
 */
#include "bounce.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "utf8.h"

/* ---- strings ------------------------------------------------------------------------------- */

static int
is_wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A case-insensitive search of needle in s[0..n); NULL when absent. */
static const char *
find_ci(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (strncasecmp(s + i, needle, m) == 0)
            return s + i;
    return NULL;
}

static int
starts_ci(const char *s, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && strncasecmp(s, prefix, m) == 0;
}

/* s[0..n) trimmed, unfolded (each run of line ends and the blanks after them is one space), cut
 * to BOUNCE_FIELD_MAX bytes, NULs made '?', mended into UTF-8: a new malloc'd string, or NULL
 * when out of memory. */
static char *
field_dup(const char *s, size_t n)
{
    while (n > 0 && is_wsp(s[0]))
        s++, n--;
    while (n > 0 && is_wsp(s[n - 1]))
        n--;
    if (n > BOUNCE_FIELD_MAX)
        n = BOUNCE_FIELD_MAX;
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n') {
            while (i + 1 < n && is_wsp(s[i + 1]))
                i++;
            d[k++] = ' ';
        } else {
            d[k++] = s[i] == '\0' ? '?' : s[i];
        }
    }
    k = smtpstatus__utf8_copy(d, k + 1, d, k);
    d[k] = '\0';
    return d;
}

/* Like field_dup(), but line ends are kept as LF (a multi-line reply stays multi-line). */
static char *
lines_dup(const char *s, size_t n)
{
    while (n > 0 && is_wsp(s[n - 1]))
        n--;
    if (n > BOUNCE_FIELD_MAX)
        n = BOUNCE_FIELD_MAX;
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r')
            d[k++] = s[i] == '\0' ? '?' : s[i];
    k = smtpstatus__utf8_copy(d, k + 1, d, k);
    d[k] = '\0';
    return d;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes RFC 6533's \x{HEX} escapes of a utf-8 address in place (an escape that is not one,
 * or names no Unicode scalar value, stays as written). */
static void
decode_utf8_escapes(char *s)
{
    char *w = s;
    for (const char *r = s; *r != '\0';) {
        if (r[0] == '\\' && r[1] == 'x' && r[2] == '{') {
            uint32_t cp = 0;
            const char *q = r + 3;
            int digits = 0, h;
            while ((h = hexval(*q)) >= 0 && digits < 6) {
                cp = cp * 16 + (uint32_t)h;
                q++, digits++;
            }
            if (*q == '}' && digits > 0 && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)) {
                /* The UTF-8 form is never longer than the escape (at least 5 bytes). */
                if (cp < 0x80) {
                    *w++ = (char)cp;
                } else if (cp < 0x800) {
                    *w++ = (char)(0xC0 | cp >> 6);
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *w++ = (char)(0xE0 | cp >> 12);
                    *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *w++ = (char)(0xF0 | cp >> 18);
                    *w++ = (char)(0x80 | (cp >> 12 & 0x3F));
                    *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                }
                r = q + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* A typed field's value ("rfc822; user@example.org", "dns; mx.example.org", "smtp; 550 ...")
 * without its type, as a new string; the type, when it is "utf-8", has its escapes decoded.
 * *type (if not NULL) gets the type's start and *type_len its length (0 without one). */
static char *
typed_dup(const char *s, size_t n, const char **type, size_t *type_len)
{
    const char *semi = memchr(s, ';', n);
    if (type != NULL) {
        *type = s;
        *type_len = 0;
    }
    if (semi == NULL)
        return field_dup(s, n);
    const char *t = s;
    size_t tl = (size_t)(semi - s);
    while (tl > 0 && is_wsp(*t))
        t++, tl--;
    while (tl > 0 && is_wsp(t[tl - 1]))
        tl--;
    if (type != NULL) {
        *type = t;
        *type_len = tl;
    }
    char *v = field_dup(semi + 1, n - (size_t)(semi + 1 - s));
    if (v != NULL && tl == 5 && strncasecmp(t, "utf-8", 5) == 0)
        decode_utf8_escapes(v);
    return v;
}

/* An address as a text bounce writes it ("<user@example.org>", "user@example.org<mailto:..>")
 * as a new string. */
static char *
address_dup(const char *s, size_t n)
{
    while (n > 0 && is_wsp(*s))
        s++, n--;
    const char *lt = memchr(s, '<', n);
    if (n > 0 && s[0] == '<') {
        const char *gt = memchr(s, '>', n);
        return field_dup(s + 1, gt != NULL ? (size_t)(gt - s - 1) : n - 1);
    }
    if (lt != NULL)
        n = (size_t)(lt - s);
    size_t k = 0;
    while (k < n && !is_wsp(s[k]))
        k++;
    return field_dup(s, k);
}

/* ---- the result ---------------------------------------------------------------------------- */

static void
recipient_free(smtpstatus_bounce_recipient *r)
{
    free((char *)r->final_recipient);
    free((char *)r->original_recipient);
    free((char *)r->action);
    free((char *)r->status);
    free((char *)r->remote_mta);
    free((char *)r->diagnostic_code);
    free((char *)r->last_attempt_date);
    free((char *)r->will_retry_until);
    free((char *)r->rule);
}

void
bounce_result_free(struct bounce_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++)
        recipient_free(&r->recipients[i]);
    free(r->recipients);
    free(r->reporting_mta);
    memset(r, 0, sizeof *r);
}

/* Takes *rec (its strings, NULL meaning "") into the result after classifying it; returns 0 or
 * SMTPSTATUS_ENOMEM (rec's strings are freed either way). Over the recipient limit it is
 * dropped and the result marked. */
static int
add_recipient(struct bounce_result *res, smtpstatus_bounce_recipient *rec,
              const smtpstatus_image *img)
{
    const char **fields[] = {&rec->final_recipient, &rec->original_recipient,
                             &rec->action,          &rec->status,
                             &rec->remote_mta,      &rec->diagnostic_code,
                             &rec->last_attempt_date, &rec->will_retry_until};
    int oom = 0;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (*fields[i] == NULL && (*fields[i] = strdup("")) == NULL)
            oom = 1;
    if (oom || res->count >= BOUNCE_RECIPIENTS_MAX) {
        res->truncated |= !oom;
        recipient_free(rec);
        return oom ? SMTPSTATUS_ENOMEM : 0;
    }

    /* The reply if there is one; else the status with the diagnostic's words; else the status. */
    smtpstatus_classification cl;
    const char *diag = rec->diagnostic_code;
    int rc = smtpstatus_classify(img, diag, strlen(diag), &cl, NULL, 0);
    if (rc != 0 && rec->status[0] != '\0') {
        size_t n = strlen(rec->status) + 1 + strlen(diag) + 1;
        char *joined = malloc(n);
        if (joined == NULL) {
            recipient_free(rec);
            return SMTPSTATUS_ENOMEM;
        }
        snprintf(joined, n, "%s %s", rec->status, diag);
        smtpstatus_classify(img, joined, strlen(joined), &cl, NULL, 0);
        free(joined);
    }
    rec->reason = cl.reason;
    rec->retry = cl.retry;
    rec->recipient_invalid = cl.recipient_invalid;
    rec->retry_after = cl.retry_after;
    rec->rule = strdup(cl.rule != NULL ? cl.rule : "");
    /* A bounce that gives no status gets the reply's: its enhanced code, or CLASS.0.0. */
    if (rec->status[0] == '\0' && (cl.has_enhanced || cl.basic != 0)) {
        char code[SMTPSTATUS_CODE_STRLEN];
        if (cl.has_enhanced)
            smtpstatus_code_format(cl.enhanced, code, sizeof code);
        else
            snprintf(code, sizeof code, "%u.0.0", cl.basic / 100u);
        free((char *)rec->status);
        rec->status = strdup(code);
    }
    if (rec->rule == NULL || rec->status == NULL) {
        recipient_free(rec);
        return SMTPSTATUS_ENOMEM;
    }
    if (res->count % 16 == 0) {
        smtpstatus_bounce_recipient *grown =
            realloc(res->recipients, (res->count + 16) * sizeof *grown);
        if (grown == NULL) {
            recipient_free(rec);
            return SMTPSTATUS_ENOMEM;
        }
        res->recipients = grown;
    }
    res->recipients[res->count++] = *rec;
    return 0;
}

/* ---- lines --------------------------------------------------------------------------------- */

struct line {
    const char *p; /* the line, without its line end */
    size_t n;
};

/* The line at *off in s[0..len), advancing *off past its end; 0 at the end of s. */
static int
next_line(const char *s, size_t len, size_t *off, struct line *l)
{
    if (*off >= len)
        return 0;
    const char *p = s + *off;
    const char *nl = memchr(p, '\n', len - *off);
    size_t n = nl != NULL ? (size_t)(nl - p) : len - *off;
    *off += n + (nl != NULL);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    l->p = p;
    l->n = n;
    return 1;
}

static int
blank(const struct line *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!is_wsp(l->p[i]))
            return 0;
    return 1;
}

/* ---- message/delivery-status ---------------------------------------------------------------- */

enum dsn_field {
    F_REPORTING_MTA,
    F_FINAL_RECIPIENT,
    F_ORIGINAL_RECIPIENT,
    F_ACTION,
    F_STATUS,
    F_REMOTE_MTA,
    F_DIAGNOSTIC_CODE,
    F_LAST_ATTEMPT_DATE,
    F_WILL_RETRY_UNTIL,
    F_COUNT
};

static const char *const dsn_names[F_COUNT] = {
    "Reporting-MTA", "Final-Recipient",   "Original-Recipient", "Action",          "Status",
    "Remote-MTA",    "Diagnostic-Code",   "Last-Attempt-Date",  "Will-Retry-Until"};

struct span {
    const char *p;
    size_t n;
};

/* One group of fields, as RFC 3464 separates them by blank lines. */
struct dsn_group {
    struct span f[F_COUNT]; /* p NULL: absent; the first of each name counts */
};

static int
dsn_recipient(struct bounce_result *res, const struct dsn_group *g, const smtpstatus_image *img)
{
    smtpstatus_bounce_recipient rec = {0};
    const struct span *f = g->f;
    if (f[F_FINAL_RECIPIENT].p != NULL)
        rec.final_recipient = typed_dup(f[F_FINAL_RECIPIENT].p, f[F_FINAL_RECIPIENT].n, NULL, NULL);
    if (f[F_ORIGINAL_RECIPIENT].p != NULL)
        rec.original_recipient =
            typed_dup(f[F_ORIGINAL_RECIPIENT].p, f[F_ORIGINAL_RECIPIENT].n, NULL, NULL);
    if (f[F_ACTION].p != NULL && (rec.action = field_dup(f[F_ACTION].p, f[F_ACTION].n)) != NULL) {
        /* A keyword, perhaps with a comment after it: keep the keyword, in lower case. */
        char *a = (char *)rec.action;
        size_t k = 0;
        while (a[k] != '\0' && !is_wsp(a[k]) && a[k] != '(') {
            a[k] = (char)tolower((unsigned char)a[k]);
            k++;
        }
        a[k] = '\0';
    }
    if (f[F_STATUS].p != NULL && (rec.status = field_dup(f[F_STATUS].p, f[F_STATUS].n)) != NULL) {
        char *st = (char *)rec.status; /* "5.1.1 (comment)": the code alone */
        size_t k = 0;
        while (st[k] != '\0' && !is_wsp(st[k]) && st[k] != '(')
            k++;
        st[k] = '\0';
    }
    if (f[F_REMOTE_MTA].p != NULL)
        rec.remote_mta = typed_dup(f[F_REMOTE_MTA].p, f[F_REMOTE_MTA].n, NULL, NULL);
    if (f[F_DIAGNOSTIC_CODE].p != NULL)
        rec.diagnostic_code =
            typed_dup(f[F_DIAGNOSTIC_CODE].p, f[F_DIAGNOSTIC_CODE].n, NULL, NULL);
    if (f[F_LAST_ATTEMPT_DATE].p != NULL)
        rec.last_attempt_date = field_dup(f[F_LAST_ATTEMPT_DATE].p, f[F_LAST_ATTEMPT_DATE].n);
    if (f[F_WILL_RETRY_UNTIL].p != NULL)
        rec.will_retry_until = field_dup(f[F_WILL_RETRY_UNTIL].p, f[F_WILL_RETRY_UNTIL].n);
    rec.failed = rec.action != NULL && strcmp(rec.action, "failed") == 0;
    return add_recipient(res, &rec, img);
}

/* Reads the fields of a delivery-status body s[0..len). Returns 0 (with or without
 * recipients) or SMTPSTATUS_ENOMEM. */
static int
parse_dsn(const char *s, size_t len, const smtpstatus_image *img, struct bounce_result *res)
{
    struct dsn_group g;
    memset(&g, 0, sizeof g);
    struct span *last = NULL; /* the field a continuation line extends */
    int have = 0;             /* g holds a field */
    size_t off = 0;
    struct line l;
    for (;;) {
        int more = next_line(s, len, &off, &l);
        if (!more || blank(&l)) {
            if (have) {
                if (g.f[F_REPORTING_MTA].p != NULL && res->reporting_mta == NULL &&
                    (res->reporting_mta = typed_dup(g.f[F_REPORTING_MTA].p,
                                                    g.f[F_REPORTING_MTA].n, NULL, NULL)) == NULL)
                    return SMTPSTATUS_ENOMEM;
                if (g.f[F_FINAL_RECIPIENT].p != NULL || g.f[F_ORIGINAL_RECIPIENT].p != NULL) {
                    int rc = dsn_recipient(res, &g, img);
                    if (rc != 0)
                        return rc;
                }
            }
            memset(&g, 0, sizeof g);
            last = NULL;
            have = 0;
            if (!more)
                return 0;
            continue;
        }
        if (l.p[0] == ' ' || l.p[0] == '\t') {
            if (last != NULL)
                last->n = (size_t)(l.p + l.n - last->p);
            continue;
        }
        last = NULL;
        const char *colon = memchr(l.p, ':', l.n);
        if (colon == NULL)
            continue;
        size_t nl = (size_t)(colon - l.p);
        if (nl == 15 && strncasecmp(l.p, "Final-Recipient", 15) == 0 &&
            g.f[F_FINAL_RECIPIENT].p != NULL) {
            /* A report that leaves out the blank lines: a second recipient starts a group. */
            int rc = dsn_recipient(res, &g, img);
            if (rc != 0)
                return rc;
            memset(&g, 0, sizeof g);
        }
        for (int i = 0; i < F_COUNT; i++) {
            if (nl == strlen(dsn_names[i]) && strncasecmp(l.p, dsn_names[i], nl) == 0) {
                if (g.f[i].p == NULL) {
                    g.f[i].p = colon + 1;
                    g.f[i].n = (size_t)(l.p + l.n - colon - 1);
                    last = &g.f[i];
                }
                break;
            }
        }
        have = 1;
    }
}

/* ---- plain-text bounces -------------------------------------------------------------------- */

/* Adds a text bounce's recipient: address a[0..an), diagnostic d (owned, may be NULL), remote
 * MTA m (owned, may be NULL). */
static int
text_recipient(struct bounce_result *res, const smtpstatus_image *img, const char *a, size_t an,
               char *d, char *m, int delayed)
{
    smtpstatus_bounce_recipient rec = {0};
    rec.final_recipient = address_dup(a, an);
    rec.action = strdup(delayed ? "delayed" : "failed");
    rec.failed = !delayed;
    rec.diagnostic_code = d;
    rec.remote_mta = m;
    return add_recipient(res, &rec, img);
}

/* qmail-send: "<addr>:" blocks. */
static int
parse_qmail(const char *s, size_t len, const smtpstatus_image *img, struct bounce_result *res)
{
    size_t off = 0;
    struct line l;
    while (next_line(s, len, &off, &l)) {
        if (starts_ci(l.p, l.n, "--- "))
            break;
        if (l.n < 4 || l.p[0] != '<' || l.p[l.n - 1] != ':' || l.p[l.n - 2] != '>')
            continue;
        struct line head = l;
        const char *start = NULL, *end = NULL, *said = NULL, *mta = NULL;
        size_t mta_n = 0;
        while (next_line(s, len, &off, &l) && !blank(&l) && !starts_ci(l.p, l.n, "--- ")) {
            if (start == NULL)
                start = l.p;
            if (starts_ci(l.p, l.n, "Giving up on "))
                continue; /* its own line: not the reply */
            end = l.p + l.n;
            const char *rs = find_ci(l.p, l.n, "Remote host said: ");
            if (rs != NULL && said == NULL)
                said = rs + 18;
            const char *ct = find_ci(l.p, l.n, "Connected to ");
            if (ct != NULL && mta == NULL) {
                mta = ct + 13;
                while (mta + mta_n < l.p + l.n && !is_wsp(mta[mta_n]))
                    mta_n++;
            } else if (mta == NULL && find_ci(l.p, l.n, " does not like ") != NULL) {
                mta = l.p;
                while (mta_n < l.n && !is_wsp(mta[mta_n]))
                    mta_n++;
            }
        }
        char *d = NULL;
        if (start != NULL && end != NULL) {
            const char *from = said != NULL ? said : start;
            if ((d = field_dup(from, (size_t)(end - from))) == NULL)
                return SMTPSTATUS_ENOMEM;
        }
        char *m = mta != NULL ? field_dup(mta, mta_n) : NULL;
        int rc = text_recipient(res, img, head.p, head.n - 1, d, m, 0);
        if (rc != 0)
            return rc;
        if (l.p != NULL && starts_ci(l.p, l.n, "--- "))
            break;
    }
    return 0;
}

/* Exim: addresses indented two spaces, their details four. */
static int
parse_exim(const char *s, size_t len, const smtpstatus_image *img, struct bounce_result *res,
           int delayed)
{
    size_t off = 0;
    struct line l;
    int in_list = 0;
    while (next_line(s, len, &off, &l)) {
        if (!in_list) {
            in_list = (l.n > 0 && l.p[l.n - 1] == ':' &&
                       (find_ci(l.p, l.n, "failed:") != NULL ||
                        find_ci(l.p, l.n, "delayed:") != NULL)) ||
                      (delayed && l.n > 0 && l.p[l.n - 1] == ':');
            continue;
        }
        if (blank(&l))
            continue;
        if (!(l.n > 2 && l.p[0] == ' ' && l.p[1] == ' ' && !is_wsp(l.p[2])))
            break; /* back at the margin: the list ended */
        struct line head = l;
        const char *mta = NULL, *reply = NULL, *first = NULL, *end = NULL;
        size_t mta_n = 0, mark = off;
        while (next_line(s, len, &off, &l) && l.n > 4 && l.p[0] == ' ' && l.p[1] == ' ' &&
               l.p[2] == ' ' && l.p[3] == ' ') {
            mark = off;
            const char *t = l.p;
            size_t tn = l.n;
            while (tn > 0 && is_wsp(*t))
                t++, tn--;
            if (starts_ci(t, tn, "host ") && mta == NULL) {
                mta = t + 5;
                while (mta_n < tn - 5 && !is_wsp(mta[mta_n]))
                    mta_n++;
                continue;
            }
            if (reply == NULL && find_ci(t, tn, "error from remote mail server") != NULL) {
                reply = l.p + l.n; /* the reply starts on the next line */
                continue;
            }
            if (first == NULL)
                first = t;
            end = t + tn;
        }
        off = mark; /* the line that ended the details is read again */
        char *d = NULL;
        if (first != NULL) {
            /* The reply lines, each with its indentation taken away. */
            size_t n = (size_t)(end - first);
            char *buf = malloc(n + 1);
            if (buf == NULL)
                return SMTPSTATUS_ENOMEM;
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                buf[k++] = first[i];
                if (first[i] == '\n')
                    while (i + 1 < n && (first[i + 1] == ' ' || first[i + 1] == '\t'))
                        i++;
            }
            d = lines_dup(buf, k);
            free(buf);
            if (d == NULL)
                return SMTPSTATUS_ENOMEM;
        }
        char *m = mta != NULL ? field_dup(mta, mta_n) : NULL;
        int rc = text_recipient(res, img, head.p, head.n, d, m, delayed);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The reply in a Microsoft diagnostic line, its wrapper taken off. */
static char *
microsoft_reply(const char *t, size_t tn)
{
    if (starts_ci(t, tn, "Remote Server returned '")) {
        t += 24, tn -= 24;
        const char *q = memrchr(t, '\'', tn);
        if (q != NULL)
            tn = (size_t)(q - t);
    } else if (tn > 0 && t[0] == '#') {
        t++, tn--;
        const char *hh = find_ci(t, tn, "##");
        if (hh != NULL)
            tn = (size_t)(hh - t);
    }
    return field_dup(t, tn);
}

/* Exchange Online: the administrators' section, each address and the line under it. */
static int
parse_microsoft(const char *s, size_t len, const smtpstatus_image *img,
                struct bounce_result *res, int delayed)
{
    const char *sec = find_ci(s, len, "Diagnostic information for administrators:");
    if (sec == NULL)
        return 0;
    size_t off = (size_t)(sec - s);
    struct line l, prev = {NULL, 0};
    next_line(s, len, &off, &l);
    while (next_line(s, len, &off, &l)) {
        const char *t = l.p;
        size_t tn = l.n;
        while (tn > 0 && is_wsp(*t))
            t++, tn--;
        if (starts_ci(t, tn, "Original message headers:"))
            break;
        if (starts_ci(t, tn, "Generating server:")) {
            if (res->reporting_mta == NULL &&
                (res->reporting_mta = field_dup(t + 18, tn - 18)) == NULL)
                return SMTPSTATUS_ENOMEM;
            continue;
        }
        if (tn == 0)
            continue;
        int address = memchr(t, '@', tn) != NULL && memchr(t, ' ', tn) == NULL;
        if (address) {
            prev.p = t;
            prev.n = tn;
            continue;
        }
        if (prev.p != NULL) {
            char *d = microsoft_reply(t, tn);
            if (d == NULL)
                return SMTPSTATUS_ENOMEM;
            int rc = text_recipient(res, img, prev.p, prev.n, d, NULL, delayed);
            if (rc != 0)
                return rc;
            prev.p = NULL;
        }
    }
    return 0;
}

/* Gmail: one recipient, named in a sentence, and the reply after "... was:". */
static int
parse_gmail(const char *s, size_t len, const smtpstatus_image *img, struct bounce_result *res)
{
    static const char *const openers[] = {"wasn't delivered to ", "was not delivered to ",
                                          "temporary problem delivering your message to "};
    for (size_t i = 0; i < 3; i++) {
        const char *p = find_ci(s, len, openers[i]);
        if (p == NULL)
            continue;
        p += strlen(openers[i]);
        size_t rest = len - (size_t)(p - s), an = 0;
        while (an < rest && !is_wsp(p[an]))
            an++;
        while (an > 0 && (p[an - 1] == '.' || p[an - 1] == ','))
            an--;
        char *d = NULL;
        const char *was = find_ci(s, len, " was:");
        if (was != NULL) {
            size_t off = (size_t)(was - s);
            struct line l;
            next_line(s, len, &off, &l);
            while (next_line(s, len, &off, &l) && blank(&l))
                ;
            const char *from = l.p;
            const char *to = l.p + l.n;
            while (next_line(s, len, &off, &l) && !blank(&l))
                to = l.p + l.n;
            if (from != NULL && (d = lines_dup(from, (size_t)(to - from))) == NULL)
                return SMTPSTATUS_ENOMEM;
        }
        return text_recipient(res, img, p, an, d, NULL, i == 2);
    }
    return 0;
}

/* Tries the text bounces this file knows on s[0..len), in turn. */
static int
parse_text(const char *s, size_t len, const smtpstatus_image *img, struct bounce_result *res)
{
    int rc = 0;
    if (find_ci(s, len, "This is the qmail-send program") != NULL) {
        res->format = "qmail";
        rc = parse_qmail(s, len, img, res);
    } else if (find_ci(s, len, "created automatically by mail delivery software") != NULL) {
        res->format = "exim";
        rc = parse_exim(s, len, img, res, find_ci(s, len, "has not yet been delivered") != NULL);
    } else if (find_ci(s, len, "Delivery has failed to these recipients") != NULL ||
               find_ci(s, len, "Delivery has been delayed to these recipients") != NULL) {
        res->format = "microsoft";
        rc = parse_microsoft(s, len, img, res,
                             find_ci(s, len, "Delivery has been delayed") != NULL);
    } else {
        res->format = "gmail";
        rc = parse_gmail(s, len, img, res);
    }
    return rc;
}

/* ---- MIME ---------------------------------------------------------------------------------- */

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void
gmime_start(void)
{
    g_mime_init();
}

/* What the walk found: the first report part and the first text/plain part. */
struct found {
    GMimeObject *report;
    GMimeObject *text;
};

static void
walk(GMimeObject *obj, unsigned depth, struct found *f)
{
    if (obj == NULL || depth > BOUNCE_DEPTH_MAX || f->report != NULL)
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n && f->report == NULL; i++)
            walk(g_mime_multipart_get_part(mp, i), depth + 1, f);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj))
        return; /* a returned message: its parts are the original's, not the report's */
    if (ct == NULL)
        return;
    if (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
        g_mime_content_type_is_type(ct, "message", "global-delivery-status")) {
        if (GMIME_IS_PART(obj))
            f->report = obj;
        return;
    }
    if (f->text == NULL && GMIME_IS_TEXT_PART(obj) &&
        g_mime_content_type_is_type(ct, "text", "plain"))
        f->text = obj;
}

/* The decoded content of a leaf part, as a new GByteArray (NUL-ended, the NUL not counted),
 * or NULL. */
static GByteArray *
part_content(GMimeObject *obj)
{
    GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
    if (w == NULL)
        return NULL;
    GMimeStream *mem = g_mime_stream_mem_new();
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    g_mime_data_wrapper_write_to_stream(w, mem);
    GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    g_object_unref(mem);
    if (b != NULL) {
        g_byte_array_append(b, (const guint8 *)"", 1);
        b->len--;
    }
    return b;
}

/* Multipart and message/rfc822 (or global, news) parts in the message, counted from its bytes
 * before GMime sees it: GMime's parser recurses once per level, so this bounds its stack (an
 * over-count, as a mention in a text also counts, errs on the safe side). */
static size_t
containers(const char *msg, size_t len)
{
    size_t n = 0;
    if (len == 0) /* an empty message may come as NULL, which memchr() must not see */
        return 0;
    for (const char *p = msg; (p = memchr(p, '/', (size_t)(msg + len - p))) != NULL; p++) {
        size_t before = (size_t)(p - msg);
        size_t after = (size_t)(msg + len - p) - 1;
        if ((before >= 9 && strncasecmp(p - 9, "multipart", 9) == 0) ||
            (before >= 7 && strncasecmp(p - 7, "message", 7) == 0 &&
             ((after >= 6 && strncasecmp(p + 1, "rfc822", 6) == 0) ||
              (after >= 6 && strncasecmp(p + 1, "global", 6) == 0) ||
              (after >= 4 && strncasecmp(p + 1, "news", 4) == 0))))
            n++;
    }
    return n;
}

int
bounce_parse(const char *msg, size_t len, const smtpstatus_image *img, struct bounce_result *out)
{
    if (out == NULL || (msg == NULL && len > 0))
        return SMTPSTATUS_EINVAL;
    memset(out, 0, sizeof *out);
    if (len > BOUNCE_MESSAGE_MAX)
        return SMTPSTATUS_ETOOBIG;
    if (containers(msg, len) > BOUNCE_CONTAINERS_MAX)
        return SMTPSTATUS_EMALFORMED;
    pthread_once(&gmime_once, gmime_start);

    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(msg != NULL ? msg : "", len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (m == NULL)
        return SMTPSTATUS_EMALFORMED;

    struct found f = {NULL, NULL};
    walk(g_mime_message_get_mime_part(m), 0, &f);
    int rc = 0;
    if (f.report != NULL) {
        GByteArray *b = part_content(f.report);
        out->format = "dsn";
        if (b != NULL) {
            rc = parse_dsn((const char *)b->data, b->len, img, out);
            g_byte_array_free(b, TRUE);
        }
    }
    if (rc == 0 && out->count == 0 && f.text != NULL) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(f.text));
        if (text != NULL) {
            char *reporting = out->reporting_mta; /* a DSN's, kept */
            out->reporting_mta = NULL;
            rc = parse_text(text, strlen(text), img, out);
            if (out->reporting_mta == NULL)
                out->reporting_mta = reporting;
            else
                free(reporting);
            g_free(text);
        }
    }
    g_object_unref(m);
    if (rc == 0 && out->count == 0 && !out->truncated)
        rc = SMTPSTATUS_ENOTBOUNCE;
    if (rc == 0 && out->reporting_mta == NULL && (out->reporting_mta = strdup("")) == NULL)
        rc = SMTPSTATUS_ENOMEM;
    if (rc != 0)
        bounce_result_free(out);
    return rc;
}
