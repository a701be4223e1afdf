/*
 * Diagnostics list (see diag.h). The loader keeps going after a problem so that one run shows
 * a person everything that is wrong, which means reporting must never be the thing that fails:
 * diag_add() absorbs allocation failures by counting the item and dropping its text, and the
 * error and warning counters stay exact either way, so "did loading fail" never depends on
 * memory. Formatting follows the compiler convention "file:line:col: error: message".
 */
#include "diag.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void
diag_init(struct diag *d)
{
    memset(d, 0, sizeof *d);
}

void
diag_free(struct diag *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    diag_init(d);
}

/* Makes room for one more item. Returns 0, or -1 when the array cannot grow. */
static int
diag_reserve(struct diag *d)
{
    if (d->count < d->cap)
        return 0;
    size_t cap = d->cap ? d->cap : 8;
    if (d->cap != 0) {
        if (cap > SIZE_MAX / 2 / sizeof *d->items)
            return -1;
        cap *= 2;
    }
    struct diag_item *items = realloc(d->items, cap * sizeof *items);
    if (items == NULL)
        return -1;
    d->items = items;
    d->cap = cap;
    return 0;
}

static char *diag_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Returns a malloc'd copy of the formatted message, or NULL on ENOMEM or a formatting error. */
static char *
diag_vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

void
diag_add(struct diag *d, enum diag_severity severity, const char *file, unsigned line, unsigned col,
         const char *fmt, ...)
{
    /* Count first: the counters are what callers decide on, and they must not depend on
     * whether the text could be stored. */
    if (severity == DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;

    va_list ap;
    va_start(ap, fmt);
    char *message = diag_vformat(fmt, ap);
    va_end(ap);
    char *fcopy = strdup(file != NULL ? file : "");
    if (message == NULL || fcopy == NULL || diag_reserve(d) != 0) {
        free(message);
        free(fcopy);
        d->dropped++;
        return;
    }
    /* Mended once here, so that every line made from an item is well-formed UTF-8 wherever it
     * goes (a protobuf string, JSON): a path or a quoted field may hold any byte. */
    smtpstatus__utf8_copy(message, strlen(message) + 1, message, strlen(message));
    smtpstatus__utf8_copy(fcopy, strlen(fcopy) + 1, fcopy, strlen(fcopy));
    d->items[d->count++] = (struct diag_item){
        .severity = severity,
        .file = fcopy,
        .line = line,
        .col = col,
        .message = message,
    };
}

/* A bounded writer that keeps counting past the end of the buffer, the way snprintf does. */
struct diag_out {
    char *buf;
    size_t size;
    size_t len; /* bytes the full output needs, without the NUL */
};

static void __attribute__((format(printf, 2, 3)))
diag_out_printf(struct diag_out *o, const char *fmt, ...)
{
    char *dst = NULL;
    size_t room = 0;
    if (o->len < o->size) {
        dst = o->buf + o->len;
        room = o->size - o->len;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* The column is only meaningful together with a line, so it is left out when the line is. */
int
diag_format(const struct diag_item *item, char *buf, size_t size)
{
    struct diag_out o = {.buf = buf, .size = buf != NULL ? size : 0, .len = 0};
    if (o.size > 0)
        buf[0] = '\0';
    const char *file = item->file != NULL ? item->file : "";
    const char *sep = "";
    if (*file != '\0') {
        diag_out_printf(&o, "%s", file);
        sep = ":";
    }
    if (item->line != 0) {
        diag_out_printf(&o, "%s%u", sep, item->line);
        sep = ":";
        if (item->col != 0)
            diag_out_printf(&o, ":%u", item->col);
    }
    diag_out_printf(&o, "%s%s%s: %s", sep, *sep != '\0' ? " " : "",
                    item->severity == DIAG_ERROR ? "error" : "warning",
                    item->message != NULL ? item->message : "");
    /* A line cut to the buffer ends between characters, not inside one. */
    if (o.size > 0 && o.len >= o.size)
        buf[smtpstatus__utf8_whole(buf, o.size - 1)] = '\0';
    return o.len > INT_MAX ? INT_MAX : (int)o.len;
}

int
diag_lines(const struct diag *d, int warnings_only, char ***lines, size_t *count)
{
    *lines = NULL;
    *count = 0;
    size_t n = warnings_only ? d->warnings : d->count;
    if (n == 0)
        return 0;
    char **v = calloc(d->count, sizeof *v);
    if (v == NULL)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (warnings_only && d->items[i].severity != DIAG_WARNING)
            continue;
        char line[DIAG_LINE_MAX + 1];
        diag_format(&d->items[i], line, sizeof line);
        if ((v[k] = strdup(line)) == NULL) {
            diag_lines_free(v, k);
            return -1;
        }
        k++;
    }
    *lines = v;
    *count = k;
    return 0;
}

void
diag_lines_free(char **lines, size_t count)
{
    for (size_t i = 0; lines != NULL && i < count; i++)
        free(lines[i]);
    free(lines);
}

void
diag_print(const struct diag *d, FILE *f)
{
    char small[512];
    for (size_t i = 0; i < d->count; i++) {
        int n = diag_format(&d->items[i], small, sizeof small);
        char *line = small;
        if ((size_t)n >= sizeof small) {
            /* A long file name or message: print it whole if memory allows, else truncated. */
            char *big = malloc((size_t)n + 1);
            if (big != NULL) {
                diag_format(&d->items[i], big, (size_t)n + 1);
                line = big;
            }
        }
        fprintf(f, "%s\n", line);
        if (line != small)
            free(line);
    }
}

const struct diag_item *
diag_first_error(const struct diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        if (d->items[i].severity == DIAG_ERROR)
            return &d->items[i];
    return NULL;
}
