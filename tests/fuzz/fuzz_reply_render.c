/*
 * libFuzzer target for smtpstatus_render(): whatever the codes, width, flags and text, a
 * rendered reply must parse back, through smtpstatus_classify(), as a well-formed reply with the
 * same basic code and (when one was given) the same enhanced code on every line, every line
 * within the width and free of control characters. The first bytes of the input choose the
 * parameters; the rest is the text.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t basics[] = {211, 220, 221, 250, 251, 252, 354, 421, 450, 451,
                                  452, 454, 500, 501, 503, 550, 552, 553, 554, 556};

/* Problems a faithful rendering can never cause, whatever the caller's text says. */
#define NEVER                                                                                     \
    (SMTPSTATUS_PROBLEM_BASIC_MISMATCH | SMTPSTATUS_PROBLEM_MALFORMED_LINE |                      \
     SMTPSTATUS_PROBLEM_TRUNCATED | SMTPSTATUS_PROBLEM_NO_CODE | SMTPSTATUS_PROBLEM_LINE_TOO_LONG | \
     SMTPSTATUS_PROBLEM_BAD_CHARACTER)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    uint16_t basic = basics[data[0] % (sizeof basics / sizeof basics[0])];
    int has_enh = data[1] & 1;
    smtpstatus_code enh = {(uint8_t)(data[1] & 2 ? 0 : basic / 100), (uint16_t)(data[2] % 12),
                           (uint16_t)(data[3] * 4 % 1000)};
    smtpstatus_render_options o = {(unsigned)(data[4] * 2u), data[5] & 1,
                                   data[5] & 2 ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    size_t tn = size - 6;
    char *text = malloc(tn ? tn : 1); /* exact size: ASan sees any overread */
    memcpy(text, data + 6, tn);

    static char buf[64 * 1024];
    size_t len = 0;
    unsigned warnings;
    int rc = smtpstatus_render(NULL, basic, has_enh ? &enh : NULL, text, tn, &o, buf, sizeof buf,
                               &len, &warnings);
    free(text);
    if (rc != 0 || o.form != SMTPSTATUS_FORM_REPLY)
        return 0;
    if (strlen(buf) != len)
        abort();

    unsigned width = o.width ? o.width : SMTPSTATUS_WIDTH_DEFAULT;
    for (const char *p = buf; *p;) {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL || (size_t)(eol - p) > width)
            abort();
        for (const char *q = p; q < eol; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                abort();
        p = eol + 2;
    }

    smtpstatus_classification c;
    smtpstatus_reply_origin origin;
    if (smtpstatus_classify_origin(NULL, buf, len, &c, NULL, 0, &origin) != 0)
        abort();
    /* A caller's text that quotes a failure ("... said: 550 5.1.1 ...") in a failure is read as
     * the reply behind it, by design; the rendered reply is then an outer one (the nearest
     * outer reply is the last quoted before it, which may be the caller's too). */
    if (origin.found & SMTPSTATUS_FOUND_NESTED) {
        if (basic < 400 || origin.outer_basic < 400 || c.basic < 400)
            abort();
        return 0;
    }
    if (c.basic != basic || (c.problems & NEVER))
        abort();
    if (has_enh) {
        uint8_t cls = enh.cls ? enh.cls : (uint8_t)(basic / 100);
        if (!c.has_enhanced || c.enhanced.cls != cls || c.enhanced.subject != enh.subject ||
            c.enhanced.detail != enh.detail)
            abort();
        if (c.problems & (SMTPSTATUS_PROBLEM_MISSING_ENHANCED | SMTPSTATUS_PROBLEM_CLASS_MISMATCH))
            abort();
    } else if (!(warnings & SMTPSTATUS_WARN_CODE_LIKE_TEXT)) {
        /* No line starts with something a reader takes for an enhanced code. */
        if (c.problems & SMTPSTATUS_PROBLEM_MISSING_ENHANCED)
            abort();
    }
    return 0;
}
