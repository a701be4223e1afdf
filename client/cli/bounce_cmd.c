/*
 * `smtpstatus bounce [FILE | -]`: a bounce message read whole, one result per recipient. The
 * MIME parser (GMime, and with it GLib) stays out of this program, which must start fast: the
 * message goes to the daemon over its socket (smtpstatus_bounce_remote()), and with --offline
 * this process becomes the smtpstatus-bounce helper, which parses it here with the embedded
 * registry. Both print through bounce_print.c, so the two answers look alike.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounce_print.h"
#include "commands.h"
#include "helper.h"

#ifndef SMTPSTATUS_BOUNCE_HELPER
#define SMTPSTATUS_BOUNCE_HELPER "/usr/libexec/smtpstatus/smtpstatus-bounce"
#endif

#define MESSAGE_MAX (16u << 20) /* read at most this much; the daemon takes less */

/* Becomes the helper; returns only when that fails. */
static int
run_helper(const struct options *opt)
{
    char path[PATH_MAX + 32];
    helper_path("SMTPSTATUS_BOUNCE_HELPER", "smtpstatus-bounce", SMTPSTATUS_BOUNCE_HELPER, path,
                sizeof path);
    char *argv[4];
    int k = 0;
    argv[k++] = path;
    if (opt->json)
        argv[k++] = opt->pretty ? "--pretty" : "--json";
    if (opt->nargs > 0)
        argv[k++] = opt->args[0];
    argv[k] = NULL;
    fflush(stdout);
    execv(path, argv);
    char why[PATH_MAX + 96];
    snprintf(why, sizeof why, "cannot run %s: %s", path, strerror(errno));
    bounce_print_error(opt->json, why);
    return EXIT_UNAVAILABLE;
}

/* The message from FILE, or standard input for "-" or none. Returns 0 or -1 after saying why. */
static int
read_message(const struct options *opt, char **out, size_t *len)
{
    const char *path = opt->nargs > 0 ? opt->args[0] : "-";
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        char why[PATH_MAX + 96];
        snprintf(why, sizeof why, "cannot open %s: %s", path, strerror(errno));
        bounce_print_error(opt->json, why);
        return -1;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            char *grown = cap < MESSAGE_MAX ? realloc(buf, cap * 2) : NULL;
            if (grown == NULL)
                break; /* at the limit: the rest is not read; the daemon cuts it anyway */
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = buf == NULL || ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(buf);
        bounce_print_error(opt->json, "cannot read the message");
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int
cmd_bounce(const struct options *opt, struct source *src)
{
    if (opt->offline || src->daemon == NULL)
        return run_helper(opt);
    char *msg = NULL;
    size_t len = 0;
    if (read_message(opt, &msg, &len) != 0)
        return EXIT_NOT_FOUND;
    smtpstatus_result *r = NULL;
    int rc = smtpstatus_bounce_remote(src->daemon, msg, len, &r);
    free(msg);
    if (rc != 0) {
        int status = rc == SMTPSTATUS_EINVAL && r != NULL
                         ? (bounce_print_error(opt->json, smtpstatus_result_message(r)),
                            EXIT_NOT_FOUND)
                         : daemon_failed(src, rc, r, NULL, NULL);
        smtpstatus_result_free(r);
        return status;
    }
    const char *format, *reporting;
    size_t n;
    int truncated;
    smtpstatus_bounce_recipient *v = NULL;
    int status = EXIT_ANSWERED;
    if (smtpstatus_result_bounce(r, &format, &reporting, &n, &truncated) != 0 ||
        (v = calloc(n ? n : 1, sizeof *v)) == NULL) {
        bounce_print_error(opt->json, "out of memory");
        status = EXIT_NOT_FOUND;
    } else {
        for (size_t i = 0; i < n; i++)
            smtpstatus_result_bounce_recipient(r, i, &v[i]);
        if (bounce_print(stdout, opt->json, opt->pretty, format, reporting, truncated, v, n) != 0)
            status = EXIT_NOT_FOUND;
    }
    free(v);
    smtpstatus_result_free(r);
    return status;
}
