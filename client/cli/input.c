/*
 * The arguments of the smtpstatus subcommands (see input.h): standard input read whole, up to
 * STDIN_MAX, argument words joined into one text, and enhanced codes parsed by the library with
 * a hint when the word is a basic reply code instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "output.h"

#define STDIN_MAX (16u << 20) /* the most "-" reads from standard input */

/* Reads all of standard input into a new NUL-terminated buffer (*out, freed by the caller) and
 * its length (without the NUL). Returns 0, or EXIT_NOT_FOUND after saying why. Blocks on
 * stdin. */
static int
read_stdin(char **out, size_t *len)
{
    size_t size = 4096, n = 0;
    char *buf = malloc(size);
    while (buf != NULL) {
        if (n + 1 == size) {
            if (size > STDIN_MAX) {
                free(buf);
                output_error(NULL, NULL, "standard input is larger than %u MiB", STDIN_MAX >> 20);
                return EXIT_NOT_FOUND;
            }
            char *bigger = realloc(buf, size * 2);
            if (bigger == NULL)
                break;
            buf = bigger;
            size *= 2;
        }
        size_t got = fread(buf + n, 1, size - 1 - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                output_error(NULL, NULL, "cannot read standard input: %s", strerror(errno));
                return EXIT_NOT_FOUND;
            }
            buf[n] = '\0';
            *out = buf;
            *len = n;
            return 0;
        }
    }
    free(buf);
    output_error(NULL, NULL, "out of memory");
    return EXIT_NOT_FOUND;
}

char *
join_words(char *const *w, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(w[i]) + 1;
    char *s = malloc(len), *p = s;
    for (size_t i = 0; s != NULL && i < n; i++) {
        size_t k = strlen(w[i]);
        if (i > 0)
            *p++ = ' ';
        memcpy(p, w[i], k);
        p += k;
    }
    if (s != NULL)
        *p = '\0';
    return s;
}

int
text_argument(char *const *w, size_t n, int none_is_stdin, char **text, size_t *len)
{
    if ((n == 0 && none_is_stdin) || (n == 1 && strcmp(w[0], "-") == 0))
        return read_stdin(text, len);
    if ((*text = join_words(w, n)) == NULL) {
        output_error(NULL, NULL, "out of memory");
        return EXIT_NOT_FOUND;
    }
    *len = strlen(*text);
    return 0;
}

int
looks_like_code(const char *w)
{
    return strchr(w, '.') != NULL && w[strspn(w, "0123456789.Xx")] == '\0';
}

int
parse_code(const char *w, smtpstatus_code *code)
{
    size_t errpos = 0;
    int rc = smtpstatus_code_parse(w, strlen(w), SMTPSTATUS_PARSE_ALLOW_X, code, &errpos);
    if (rc == 0)
        return 0;
    output_code_error(w, rc, errpos);
    uint16_t basic;
    if (smtpstatus_basic_parse(w, strlen(w), &basic) == 0)
        output_warnx("%u is a basic reply code: try `smtpstatus basic %u`", basic, basic);
    return EXIT_NOT_FOUND;
}
