/*
 * smtpstatus-bounce: reads one bounce message (a file, or standard input for "-" or no
 * argument) and prints one result per recipient, parsed here with the embedded registry and
 * rules. It is the program behind `smtpstatus bounce --offline`, apart from the CLI so that the
 * CLI does not load GLib (which GMime needs) on every run. Exit statuses as the CLI's: 0 read,
 * 1 not a bounce this parser knows (or too large, or not MIME), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "bounce_print.h"

/* Reads f whole, up to BOUNCE_MESSAGE_MAX + 1 bytes (one more says it is too large). */
static int
read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 65536, n = 0, max = BOUNCE_MESSAGE_MAX + 1;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    for (;;) {
        if (n == cap) {
            size_t grown_cap = cap * 2 > max ? max : cap * 2;
            if (grown_cap == cap)
                break;
            char *grown = realloc(buf, grown_cap);
            if (grown == NULL) {
                free(buf);
                return -1;
            }
            buf = grown;
            cap = grown_cap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int
main(int argc, char **argv)
{
    int json = 0, pretty = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--pretty") == 0) {
            json = pretty = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: smtpstatus-bounce [--json | --pretty] [FILE | -]\n");
            return 0;
        } else if (path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: smtpstatus-bounce [--json | --pretty] [FILE | -]\n");
            return 2;
        }
    }
    FILE *f = path == NULL || strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        char why[512];
        snprintf(why, sizeof why, "cannot open %s: %s", path, strerror(errno));
        bounce_print_error(json, why);
        return 1;
    }
    char *msg = NULL;
    size_t len = 0;
    int rc = read_all(f, &msg, &len);
    if (f != stdin)
        fclose(f);
    if (rc != 0) {
        bounce_print_error(json, "cannot read the message");
        return 1;
    }
    struct bounce_result res;
    rc = bounce_parse(msg, len, NULL, &res);
    free(msg);
    if (rc != 0) {
        bounce_print_error(json, smtpstatus_strerror(rc));
        return 1;
    }
    int out = bounce_print(stdout, json, pretty, res.format, res.reporting_mta, res.truncated,
                           res.recipients, res.count);
    bounce_result_free(&res);
    if (out != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "smtpstatus-bounce: cannot write the output\n");
        return 1;
    }
    return 0;
}
