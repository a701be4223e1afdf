/*
 * The socketmap protocol's framing and the status and reason maps (see socketmap.h). Nothing
 * here does I/O or keeps state between calls.
 */
#include "socketmap.h"

#include <stdio.h>
#include <string.h>

enum socketmap_frame
socketmap_frame(const char *buf, size_t len, size_t limit, const char **payload,
                size_t *payload_len, size_t *consumed, const char **why)
{
    size_t i = 0, n = 0;
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        n = n * 10 + (size_t)(buf[i] - '0');
        if (n > limit) {
            *why = "netstring longer than the limit";
            return SOCKETMAP_BAD;
        }
        if (i >= 20) { /* zeros alone, forever */
            *why = "netstring length with too many digits";
            return SOCKETMAP_BAD;
        }
    }
    if (i == len)
        return SOCKETMAP_NEED_MORE;
    if (i == 0 || buf[i] != ':') {
        *why = i == 0 ? "not a netstring: no length" : "not a netstring: no ':' after the length";
        return SOCKETMAP_BAD;
    }
    size_t start = i + 1;
    if (len - start < n + 1)
        return SOCKETMAP_NEED_MORE;
    if (buf[start + n] != ',') {
        *why = "not a netstring: no ',' after the data";
        return SOCKETMAP_BAD;
    }
    *payload = buf + start;
    *payload_len = n;
    *consumed = start + n + 1;
    return SOCKETMAP_REQUEST;
}

int
socketmap_put(struct buf *out, const char *word, const char *data, size_t dlen)
{
    size_t wlen = strlen(word);
    return buf_printf(out, "%zu:%s ", wlen + 1 + dlen, word) != 0 ||
                   buf_append(out, data, dlen) != 0 || buf_append(out, ",", 1) != 0
               ? -1
               : 0;
}

int
socketmap_reason_code(smtpstatus_reason reason, unsigned *subject, unsigned *detail)
{
    static const struct {
        smtpstatus_reason reason;
        unsigned char subject, detail;
    } map[] = {
        {SMTPSTATUS_REASON_BAD_MAILBOX, 1, 1},     /* bad destination mailbox address */
        {SMTPSTATUS_REASON_MAILBOX_DISABLED, 2, 1}, /* mailbox disabled */
        {SMTPSTATUS_REASON_MAILBOX_FULL, 2, 2},    /* mailbox full */
        {SMTPSTATUS_REASON_MESSAGE_TOO_BIG, 3, 4}, /* message too big for system */
        {SMTPSTATUS_REASON_ROUTING, 1, 2},         /* bad destination system address */
        {SMTPSTATUS_REASON_POLICY, 7, 1},          /* delivery not authorized */
        {SMTPSTATUS_REASON_TLS_REQUIRED, 7, 10},   /* encryption needed */
        {SMTPSTATUS_REASON_CONTENT, 6, 0},         /* other media error */
        {SMTPSTATUS_REASON_SERVER_ERROR, 3, 0},    /* other mail system status */
        {SMTPSTATUS_REASON_EXPIRED, 4, 7},         /* delivery time expired */
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].reason == reason) {
            *subject = map[i].subject;
            *detail = map[i].detail;
            return 1;
        }
    return 0;
}

/* The enhanced code at the start of key[0..len), which a space ends; the text after that space
 * in *text. Returns 0, or -1 when the key does not start so. */
static int
split_key(const char *key, size_t len, smtpstatus_code *code, const char **text, size_t *tlen)
{
    const char *sp = memchr(key, ' ', len);
    if (sp == NULL || smtpstatus_code_parse(key, (size_t)(sp - key), 0, code, NULL) != 0)
        return -1;
    *text = sp + 1;
    *tlen = len - (size_t)(sp + 1 - key);
    return 0;
}

int
socketmap_status(const smtpstatus_image *img, const char *key, size_t len, struct buf *out)
{
    smtpstatus_code in, res;
    const char *text;
    size_t tlen;
    if (split_key(key, len, &in, &text, &tlen) != 0 || in.cls == 2 || tlen == 0)
        return socketmap_put(out, "NOTFOUND", "", 0);
    smtpstatus_classification c;
    smtpstatus_classify(img, text, tlen, &c, NULL, 0);
    res = in;
    unsigned basic_cls = c.basic / 100u;
    if (c.has_status && (c.status.cls == 4 || c.status.cls == 5)) {
        res = c.status;
    } else if (basic_cls == in.cls) {
        /* Only where the rules decided against the reply's class: a 450 with 5.1.1 is retried
         * by the basic code, and Postfix already reports it as 4.X.X. */
        if (c.problems & SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS)
            res.cls = c.retry ? 4 : 5;
        unsigned s, d;
        if (in.subject == 0 && in.detail == 0 && !c.has_enhanced &&
            socketmap_reason_code(c.reason, &s, &d)) {
            res.subject = (uint16_t)s;
            res.detail = (uint16_t)d;
        }
    }
    if (res.cls == in.cls && res.subject == in.subject && res.detail == in.detail)
        return socketmap_put(out, "NOTFOUND", "", 0);
    char code[16];
    int n = smtpstatus_code_format(res, code, sizeof code);
    if (n < 0)
        return socketmap_put(out, "NOTFOUND", "", 0);
    size_t cl = (size_t)n;
    return buf_printf(out, "%zu:OK %s ", 3 + cl + 1 + tlen, code) != 0 ||
                   buf_append(out, text, tlen) != 0 || buf_append(out, ",", 1) != 0
               ? -1
               : 0;
}

int
socketmap_reason(const smtpstatus_image *img, const char *key, size_t len, struct buf *out)
{
    smtpstatus_classification c;
    if (smtpstatus_classify(img, key, len, &c, NULL, 0) != 0)
        return socketmap_put(out, "NOTFOUND", "", 0);
    const char *name = smtpstatus_reason_name(c.reason);
    char fields[160];
    int n = snprintf(fields, sizeof fields,
                     "reason=%s retry=%s recipient_invalid=%s retry_after=%lu rule=",
                     name != NULL ? name : "other", c.retry ? "yes" : "no",
                     c.recipient_invalid ? "yes" : "no", (unsigned long)c.retry_after);
    if (n < 0 || (size_t)n >= sizeof fields)
        return socketmap_put(out, "TEMP", "internal error", 14);
    const char *rule = c.rule != NULL ? c.rule : "";
    size_t rl = strlen(rule);
    return buf_printf(out, "%zu:OK %s", 3 + (size_t)n + rl, fields) != 0 ||
                   buf_append(out, rule, rl) != 0 || buf_append(out, ",", 1) != 0
               ? -1
               : 0;
}

int
socketmap_answer(const smtpstatus_image *img, const char *payload, size_t len, struct buf *out)
{
    const char *sp = memchr(payload, ' ', len);
    if (sp == NULL)
        return socketmap_put(out, "PERM", "expected \"NAME KEY\"", 19);
    size_t nl = (size_t)(sp - payload), kl = len - nl - 1;
    const char *key = sp + 1;
    if (nl == 6 && memcmp(payload, "status", 6) == 0)
        return socketmap_status(img, key, kl, out);
    if (nl == 6 && memcmp(payload, "reason", 6) == 0)
        return socketmap_reason(img, key, kl, out);
    static const char unknown[] = "unknown map; this server has \"status\" and \"reason\"";
    return socketmap_put(out, "PERM", unknown, sizeof unknown - 1);
}
