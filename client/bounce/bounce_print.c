/*
 * The output of a parsed bounce (see bounce_print.h), in both forms the CLI knows.
 */
#include "bounce_print.h"

#include <jansson.h>

#include "answer_json.h"

static const char *
or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

int
bounce_print(FILE *f, int json, int pretty, const char *format, const char *reporting_mta,
             int truncated, const smtpstatus_bounce_recipient *r, size_t n)
{
    if (json) {
        json_t *o = answer_json_bounce(format, reporting_mta, truncated, r, n);
        size_t flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
        int rc = o != NULL && json_dumpf(o, f, flags) == 0 ? 0 : -1;
        json_decref(o);
        fputc('\n', f);
        return rc == 0 && !ferror(f) ? 0 : -1;
    }
    fprintf(f, "%s bounce from %s: %zu recipient%s%s\n", or_dash(format), or_dash(reporting_mta),
            n, n == 1 ? "" : "s", truncated ? " (more were left out: over the limit)" : "");
    for (size_t i = 0; i < n; i++) {
        const smtpstatus_bounce_recipient *x = &r[i];
        const char *reason = smtpstatus_reason_name(x->reason);
        fprintf(f, "%s: %s %s %s%s\n", or_dash(x->final_recipient), or_dash(x->action),
                or_dash(x->status), reason != NULL ? reason : "other",
                x->recipient_invalid ? " (the address is invalid)" : "");
        if (x->original_recipient != NULL && x->original_recipient[0] != '\0')
            fprintf(f, "  original recipient: %s\n", x->original_recipient);
        fprintf(f, "  retry: %s", x->retry ? "yes" : "no");
        if (x->retry_after > 0)
            fprintf(f, ", after %u s", (unsigned)x->retry_after);
        if (x->rule != NULL && x->rule[0] != '\0')
            fprintf(f, "; rule %s", x->rule);
        fputc('\n', f);
        if (x->remote_mta != NULL && x->remote_mta[0] != '\0')
            fprintf(f, "  remote MTA: %s\n", x->remote_mta);
        if (x->diagnostic_code != NULL && x->diagnostic_code[0] != '\0') {
            fputs("  diagnostic: ", f);
            for (const char *p = x->diagnostic_code; *p != '\0'; p++) {
                if (*p == '\n')
                    fputs("\n              ", f); /* a multi-line reply, lined up */
                else
                    fputc(*p, f);
            }
            fputc('\n', f);
        }
        if (x->will_retry_until != NULL && x->will_retry_until[0] != '\0')
            fprintf(f, "  will retry until: %s\n", x->will_retry_until);
    }
    return ferror(f) ? -1 : 0;
}

void
bounce_print_error(int json, const char *message)
{
    if (json) {
        json_t *o = json_pack("{s:{s:s}}", "error", "message", message);
        if (o != NULL)
            json_dumpf(o, stdout, JSON_COMPACT);
        json_decref(o);
        fputc('\n', stdout);
        return;
    }
    fprintf(stderr, "smtpstatus: bounce: %s\n", message);
}
