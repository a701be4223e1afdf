/*
 * smtpstatus: the command-line client of libsmtpstatus.
 *
 * It reads the whole command line (options may come before or after the subcommand; "--" ends
 * them), chooses where answers come from once at start-up (the "source" section below: the
 * registry built into the library with --offline, else the daemon of the run directory), runs
 * one subcommand against that source, and hands each answer to the printers in output.c.
 * Every lookup, render and classification is the library's own, run on a
 * `const smtpstatus_image *`, so the CLI answers exactly as the daemon does.
 *
 * Exit status (also in --help):
 *   0  found / answered
 *   1  not found or invalid input: an unregistered or malformed code (each still answered as
 *      far as it can be), an unknown basic code, a search with no match, a reply with no code,
 *      a reply that cannot be rendered
 *   2  usage error: unknown option or subcommand, wrong number of arguments
 *   3  daemon unavailable (without --offline)
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "output.h"
#include "smtpstatus.h"

enum {
    EXIT_ANSWERED = 0,
    EXIT_NOT_FOUND = 1, /* or invalid input */
    EXIT_USAGE = 2,
    EXIT_UNAVAILABLE = 3
};

#define STDIN_MAX   (16u << 20) /* the most "-" reads from standard input */
#define SOCKET_NAME "smtpstatusd.sock"

struct options {
    int json, pretty, offline, help, version;
    int smtputf8, dsn, has_width;
    unsigned width;
    const char *rundir; /* --rundir, or NULL for smtpstatus_default_rundir() */
    const char *command;
    char **args; /* the words after the subcommand, options removed */
    size_t nargs;
};

/* ---- where answers come from ------------------------------------------------------------------
 *
 * The one place that knows about the daemon. source_open() runs once, before any subcommand,
 * and leaves src->img set to the image every answer is read from; the subcommands never ask
 * where it came from. --offline: the image built into the library. Otherwise: the daemon of
 * the run directory, whose client library side is not written yet, so today that path reports
 * "daemon unavailable". To plug the daemon in, fill in the marked branch of source_open() (attach
 * to the daemon, set src->img to its published image) and source_close(), and the two calls
 * that only the daemon can answer, source_reload() and source_stats().
 */

enum source_need {
    NEED_IMAGE, /* lookups, render, classify, info: any registry image will do */
    NEED_DAEMON /* reload, stats: only the daemon can answer */
};

struct source {
    const smtpstatus_image *img; /* every answer is read from this; never NULL once open */
    int offline;                 /* img is the embedded image */
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Whether something accepts connections on the Unix socket `path`: 0 or a negative errno. Does
 * not block beyond connect(2) on a local socket. */
static int
socket_probe(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1); /* the caller checked that it fits */
    int rc = connect(fd, (const struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Says that the daemon cannot answer and why, with a hint; returns EXIT_UNAVAILABLE. */
static int
daemon_unavailable(const struct source *src)
{
    int rc = socket_probe(src->socket_path);
    if (rc != 0) {
        output_warnx("no daemon answers at %s: %s", src->socket_path, strerror(-rc));
        output_warnx("start it with `smtpstatusd`, point --rundir at its run directory, "
                     "or use --offline");
    } else {
        /* PLUG IN: the library's RPC client goes here. */
        output_warnx("the daemon client is not built yet; use --offline");
    }
    return EXIT_UNAVAILABLE;
}

/*
 * Opens the source of answers for a subcommand that needs `need`. Returns 0 with src->img set,
 * or an exit status after saying what went wrong. May connect to the daemon's socket.
 */
static int
source_open(struct source *src, const struct options *opt, enum source_need need)
{
    memset(src, 0, sizeof *src);
    if (opt->offline) {
        src->offline = 1;
        src->img = smtpstatus_image_embedded();
        if (src->img == NULL) {
            output_warnx("the registry built into the library is not a valid image; "
                         "this build is broken");
            return EXIT_NOT_FOUND;
        }
        return 0;
    }
    char rundir[PATH_MAX];
    if (opt->rundir != NULL)
        snprintf(rundir, sizeof rundir, "%s", opt->rundir);
    else if (smtpstatus_default_rundir(rundir, sizeof rundir) != 0)
        rundir[0] = '\0';
    int n = snprintf(src->socket_path, sizeof src->socket_path, "%s/" SOCKET_NAME, rundir);
    if (rundir[0] == '\0' || n < 0 || (size_t)n >= sizeof src->socket_path) {
        output_warnx("the daemon's socket path is too long (%s/" SOCKET_NAME "); "
                     "use a shorter --rundir, or --offline",
                     rundir);
        return EXIT_UNAVAILABLE;
    }
    /* PLUG IN: attach to the daemon here (the image it publishes in `rundir`, with the socket
     * as fallback), set src->img to that image's pinned snapshot, and return 0; keep
     * reporting EXIT_UNAVAILABLE when it cannot be reached. `need` says whether an image is
     * enough (NEED_IMAGE) or the socket must answer (NEED_DAEMON). */
    (void)need;
    return daemon_unavailable(src);
}

/* Lets go of what source_open() took. */
static void
source_close(struct source *src)
{
    /* PLUG IN: release the daemon connection and the pinned image; the embedded image is
     * static and never freed. */
    src->img = NULL;
}

/* Asks the daemon to reload its registry, from `dir` when not NULL (an absolute path). */
static int
source_reload(struct source *src, const char *dir)
{
    /* PLUG IN: the reload RPC; print its diff with output.c. */
    (void)dir;
    return daemon_unavailable(src);
}

/* Asks the daemon for its counters. */
static int
source_stats(struct source *src)
{
    /* PLUG IN: the stats RPC; print the counters with output.c. */
    return daemon_unavailable(src);
}

/* ---- input helpers -------------------------------------------------------------------------- */

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

/* The words w[0..n) joined by single spaces, in a new string (NULL when out of memory). */
static char *
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

/* The argument words as one text: standard input for a lone "-" (and, when `none_is_stdin`,
 * for no words at all), else the words joined by spaces. Returns 0 with *text (freed by the
 * caller) and *len, or an exit status. */
static int
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

/* Whether a word is meant as an enhanced code: digits, X and dots, with a dot ("5.1.1",
 * "X.1.1", and the mistyped "5.1" or "5..1"). */
static int
looks_like_code(const char *w)
{
    return strchr(w, '.') != NULL && w[strspn(w, "0123456789.Xx")] == '\0';
}

/* Parses a code that may be class-free; on error reports it and returns EXIT_NOT_FOUND. */
static int
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

/* ---- subcommands ---------------------------------------------------------------------------- */

/* lookup CODE...: one answer per code, in order. */
static int
cmd_lookup(const struct options *opt, struct source *src)
{
    int status = EXIT_ANSWERED;
    for (size_t i = 0; i < opt->nargs; i++) {
        smtpstatus_code code;
        smtpstatus_entry e;
        if (parse_code(opt->args[i], &code) != 0) {
            status = EXIT_NOT_FOUND;
            continue;
        }
        int rc = smtpstatus_image_lookup(src->img, code, &e);
        if (rc != 0) {
            output_error("code", opt->args[i], "%s: %s", opt->args[i], smtpstatus_strerror(rc));
            status = EXIT_NOT_FOUND;
            continue;
        }
        output_entry(src->img, &e);
        if (!e.registered)
            status = EXIT_NOT_FOUND;
    }
    return status;
}

/* basic NNN: the reply code's standard text and the enhanced codes associated with it. */
static int
cmd_basic(const struct options *opt, struct source *src)
{
    const char *w = opt->args[0];
    uint16_t code;
    smtpstatus_basic b;
    if (smtpstatus_basic_parse(w, strlen(w), &code) != 0) {
        output_error("basic", w, "\"%s\" is not a basic reply code: %s", w,
                     smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return EXIT_NOT_FOUND;
    }
    int rc = smtpstatus_image_lookup_basic(src->img, code, &b);
    if (rc == SMTPSTATUS_ENOTFOUND) {
        output_error("basic", w,
                     "%u has no standard meaning, and no enhanced code is associated with it",
                     code);
        return EXIT_NOT_FOUND;
    }
    if (rc != 0) {
        output_error("basic", w, "%s: %s", w, smtpstatus_strerror(rc));
        return EXIT_NOT_FOUND;
    }
    output_basic(src->img, &b);
    return EXIT_ANSWERED;
}

/* Whether every word of `query` (separated by blanks) occurs, ASCII case-insensitively, in
 * `title` or `description`: the daemon's rule for search. */
static int
matches(const char *query, const char *title, const char *description)
{
    for (const char *q = query;;) {
        q += strspn(q, " \t");
        size_t n = strcspn(q, " \t");
        if (n == 0)
            return 1;
        int found = 0;
        for (const char *hay[] = {title, description}, **h = hay; !found && h < hay + 2; h++)
            for (const char *p = *h; !found && *p != '\0'; p++)
                found = strncasecmp(p, q, n) == 0;
        if (!found)
            return 0;
        q += n;
    }
}

/* search WORDS...: the registered codes whose title or description holds every word. */
static int
cmd_search(const struct options *opt, struct source *src)
{
    char *query = join_words(opt->args, opt->nargs);
    if (query == NULL) {
        output_error(NULL, NULL, "out of memory");
        return EXIT_NOT_FOUND;
    }
    if (query[strspn(query, " \t")] == '\0') {
        free(query);
        output_warnx("search needs at least one word");
        return EXIT_USAGE;
    }
    uint32_t count = smtpstatus_image_code_count(src->img);
    smtpstatus_entry *found = calloc(count + 1, sizeof *found);
    if (found == NULL) {
        free(query);
        output_error(NULL, NULL, "out of memory");
        return EXIT_NOT_FOUND;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < count; i++)
        if (smtpstatus_image_code_at(src->img, i, &found[n]) == 0 &&
            matches(query, found[n].title, found[n].description))
            n++;
    output_search(src->img, query, found, n);
    free(found);
    free(query);
    return n > 0 ? EXIT_ANSWERED : EXIT_NOT_FOUND;
}

/* Reports why smtpstatus_render() refused; returns EXIT_NOT_FOUND. */
static int
render_refused(int rc, const struct options *opt, uint16_t basic, const smtpstatus_code *code)
{
    char name[SMTPSTATUS_CODE_STRLEN] = "";
    if (code != NULL)
        smtpstatus_code_format(*code, name, sizeof name);
    switch (rc) {
    case SMTPSTATUS_ECLASSMISMATCH:
        output_error(NULL, NULL,
                     "cannot render %u with %s: the enhanced class must be %u, as the reply "
                     "code's first digit (RFC 3463)",
                     basic, name, basic / 100);
        break;
    case SMTPSTATUS_E3YZ:
        output_error(NULL, NULL, "cannot render %u with %s: %s", basic, name,
                     smtpstatus_strerror(rc));
        break;
    case SMTPSTATUS_ENONASCII:
        output_error(NULL, NULL,
                     "the text is not ASCII: pass --smtputf8 if the session negotiated "
                     "SMTPUTF8");
        break;
    case SMTPSTATUS_EINVAL:
        output_error(NULL, NULL,
                     "cannot render with --width %u: too small for the code prefix and one "
                     "character, or above %u",
                     opt->width, SMTPSTATUS_WIDTH_MAX);
        break;
    default:
        output_error(NULL, NULL, "cannot render %u: %s", basic, smtpstatus_strerror(rc));
        break;
    }
    return EXIT_NOT_FOUND;
}

/* render BASIC [ENHANCED] [TEXT | -]: the reply a server sends (or its DSN fields). */
static int
cmd_render(const struct options *opt, struct source *src)
{
    const char *w = opt->args[0];
    uint16_t basic;
    if (smtpstatus_basic_parse(w, strlen(w), &basic) != 0) {
        output_error("basic", w, "\"%s\" is not a basic reply code: %s", w,
                     smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return EXIT_NOT_FOUND;
    }
    /* The second word is the enhanced code when it looks like one ("" for none); otherwise
     * it is the start of the text, as in `render 250 OK`. */
    size_t next = 1;
    smtpstatus_code code;
    const smtpstatus_code *enhanced = NULL;
    if (opt->nargs > 1 && opt->args[1][0] == '\0') {
        next = 2;
    } else if (opt->nargs > 1 && looks_like_code(opt->args[1])) {
        if (parse_code(opt->args[1], &code) != 0)
            return EXIT_NOT_FOUND;
        enhanced = &code;
        next = 2;
    }
    char *text = NULL;
    size_t text_len = 0;
    if (next < opt->nargs) {
        int rc = text_argument(opt->args + next, opt->nargs - next, 0, &text, &text_len);
        if (rc != 0)
            return rc;
        /* A reply text read from a file or a pipe ends with a line break, not an empty line. */
        while (text_len > 0 && (text[text_len - 1] == '\n' || text[text_len - 1] == '\r'))
            text[--text_len] = '\0';
    }
    smtpstatus_render_options ro = {opt->width, opt->smtputf8,
                                    opt->dsn ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    char small[4096], *buf = small;
    size_t len = 0;
    unsigned warnings = 0;
    int rc = smtpstatus_render(src->img, basic, enhanced, text, text_len, &ro, buf, sizeof small,
                               &len, &warnings);
    if (rc == SMTPSTATUS_ENOSPC && (buf = malloc(len + 1)) != NULL)
        rc = smtpstatus_render(src->img, basic, enhanced, text, text_len, &ro, buf, len + 1, &len,
                               &warnings);
    int status = EXIT_ANSWERED;
    if (buf == NULL) {
        output_error(NULL, NULL, "out of memory");
        status = EXIT_NOT_FOUND;
    } else if (rc != 0) {
        status = render_refused(rc, opt, basic, enhanced);
    } else {
        output_render(basic, enhanced, opt->dsn, buf, len, warnings);
    }
    if (buf != small)
        free(buf);
    free(text);
    return status;
}

/* classify [REPLY | -]: what a reply means; no REPLY or "-" reads it from stdin. */
static int
cmd_classify(const struct options *opt, struct source *src)
{
    char *reply = NULL;
    size_t len = 0;
    int rc = text_argument(opt->args, opt->nargs, 1, &reply, &len);
    if (rc != 0)
        return rc;
    smtpstatus_classification c;
    size_t text_size = len + 1;
    char *text = malloc(text_size);
    if (text != NULL) {
        rc = smtpstatus_classify(src->img, reply, len, &c, text, text_size);
        if (c.text_len >= text_size) {
            /* Never the case today (the text is never longer than the reply), but the API
             * allows it: ask again with room for all of it. */
            char *bigger = realloc(text, c.text_len + 1);
            if (bigger != NULL) {
                text = bigger;
                text_size = c.text_len + 1;
                rc = smtpstatus_classify(src->img, reply, len, &c, text, text_size);
            }
        }
    }
    free(reply);
    if (text == NULL) {
        output_error(NULL, NULL, "out of memory");
        return EXIT_NOT_FOUND;
    }
    int status = EXIT_ANSWERED;
    if (rc == 0 || rc == SMTPSTATUS_ENOREPLY) {
        output_classification(src->img, &c, text);
        if (rc != 0) {
            output_warnx("no reply code found");
            status = EXIT_NOT_FOUND;
        }
    } else {
        output_error(NULL, NULL, "cannot classify: %s", smtpstatus_strerror(rc));
        status = EXIT_NOT_FOUND;
    }
    free(text);
    return status;
}

/* info: the summary of the image answers come from. */
static int
cmd_info(const struct options *opt, struct source *src)
{
    (void)opt;
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(src->img, &s);
    output_info(&s);
    return EXIT_ANSWERED;
}

/* reload [DIR]: the daemon reloads its registry, from DIR when given. */
static int
cmd_reload(const struct options *opt, struct source *src)
{
    if (opt->nargs == 0)
        return source_reload(src, NULL);
    /* The daemon does not share our working directory. */
    char *dir = realpath(opt->args[0], NULL);
    if (dir == NULL) {
        output_error("directory", opt->args[0], "%s: %s", opt->args[0], strerror(errno));
        return EXIT_NOT_FOUND;
    }
    int rc = source_reload(src, dir);
    free(dir);
    return rc;
}

/* stats: the daemon's counters. */
static int
cmd_stats(const struct options *opt, struct source *src)
{
    (void)opt;
    return source_stats(src);
}

static const struct command {
    const char *name;
    int (*run)(const struct options *opt, struct source *src);
    size_t min_args, max_args;
    enum source_need need;
    int renders; /* takes --width, --smtputf8, --dsn */
} commands[] = {
    {"lookup", cmd_lookup, 1, SIZE_MAX, NEED_IMAGE, 0},
    {"basic", cmd_basic, 1, 1, NEED_IMAGE, 0},
    {"search", cmd_search, 1, SIZE_MAX, NEED_IMAGE, 0},
    {"render", cmd_render, 1, SIZE_MAX, NEED_IMAGE, 1},
    {"classify", cmd_classify, 0, SIZE_MAX, NEED_IMAGE, 0},
    {"info", cmd_info, 0, 0, NEED_IMAGE, 0},
    {"reload", cmd_reload, 0, 1, NEED_DAEMON, 0},
    {"stats", cmd_stats, 0, 0, NEED_DAEMON, 0},
};

/* ---- the command line ----------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    char rundir[PATH_MAX];
    if (smtpstatus_default_rundir(rundir, sizeof rundir) != 0)
        snprintf(rundir, sizeof rundir, "(too long)");
    fprintf(f,
            "usage: smtpstatus [OPTIONS] COMMAND [ARGS...]\n"
            "\n"
            "Commands:\n"
            "  lookup CODE...          what enhanced status codes mean (5.1.1, X.1.1, 5.7.708)\n"
            "  basic NNN               a basic reply code's standard text and the enhanced\n"
            "                          codes associated with it (exact, wildcard, any)\n"
            "  search WORDS...         registered codes whose title or description holds\n"
            "                          every word (case-insensitive)\n"
            "  render BASIC [ENHANCED] [TEXT | -]\n"
            "                          a correct reply (RFC 5321, RFC 2034); no TEXT: the\n"
            "                          registry's text; \"-\": the text from standard input\n"
            "  classify [REPLY | -]    what a server's reply means and whether to retry; no\n"
            "                          REPLY or \"-\" reads it from standard input (use that\n"
            "                          for multi-line replies)\n"
            "  info                    the registry answers come from\n"
            "  reload [DIR]            make the daemon reload its registry (daemon only)\n"
            "  stats                   the daemon's counters (daemon only)\n"
            "\n"
            "Options, before or after the command:\n"
            "  --json                  one JSON object per answer, one per line\n"
            "  --pretty                indented JSON (implies --json)\n"
            "  --offline               answer from the registry built into the library,\n"
            "                          with no daemon\n"
            "  --rundir DIR            the daemon's run directory (default: %s)\n"
            "  --width N               render: octets per line, without CRLF (default %u,\n"
            "                          at most %u)\n"
            "  --smtputf8              render: the session negotiated SMTPUTF8 (UTF-8 text)\n"
            "  --dsn                   render: RFC 3464 Status, Action and Diagnostic-Code\n"
            "                          fields instead of reply lines\n"
            "  -h, --help              this help\n"
            "  -V, --version           the version\n"
            "  --                      end of options: later words are arguments\n"
            "\n"
            "Exit status:\n"
            "  0  found, answered\n"
            "  1  not found or invalid input: an unregistered or malformed code, an unknown\n"
            "     basic code, no search match, a reply with no code, a reply that cannot be\n"
            "     rendered\n"
            "  2  usage error\n"
            "  3  daemon unavailable: start smtpstatusd, or use --offline\n",
            rundir, SMTPSTATUS_WIDTH_DEFAULT, SMTPSTATUS_WIDTH_MAX);
}

/* Says what is wrong with the command line; returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("smtpstatus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'smtpstatus --help' for more information.\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* The value of option `name` at argv[*i]: after '=' in the same word, else the next word.
 * NULL when it is missing. */
static const char *
option_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* Whether argv word `arg` is option `name`, alone or as "name=value" when `takes_value`. */
static int
is_option(const char *arg, const char *name, int takes_value)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || (takes_value && arg[n] == '='));
}

/*
 * Reads the whole command line into *opt: options anywhere, the first other word is the
 * subcommand, the rest are its arguments; "--" makes every later word an argument, and a lone
 * "-" is an argument. Returns 0, or EXIT_USAGE after saying why. opt->args is allocated here.
 */
static int
parse_args(int argc, char **argv, struct options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->args = calloc((size_t)argc + 1, sizeof *opt->args);
    if (opt->args == NULL)
        return usage_error("out of memory");
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (opt->command == NULL)
                opt->command = arg;
            else
                opt->args[opt->nargs++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (strcmp(arg, "--json") == 0) {
            opt->json = 1;
        } else if (strcmp(arg, "--pretty") == 0) {
            opt->pretty = 1;
        } else if (strcmp(arg, "--offline") == 0) {
            opt->offline = 1;
        } else if (strcmp(arg, "--smtputf8") == 0) {
            opt->smtputf8 = 1;
        } else if (strcmp(arg, "--dsn") == 0) {
            opt->dsn = 1;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            opt->help = 1;
        } else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            opt->version = 1;
        } else if (is_option(arg, "--rundir", 1)) {
            opt->rundir = option_value(argc, argv, &i, "--rundir");
            if (opt->rundir == NULL || opt->rundir[0] == '\0')
                return usage_error("--rundir needs a directory");
        } else if (is_option(arg, "--width", 1)) {
            const char *v = option_value(argc, argv, &i, "--width");
            char *end = NULL;
            errno = 0;
            unsigned long w = v != NULL && v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
            if (v == NULL || end == NULL || *end != '\0' || errno != 0 || w == 0 || w > 100000)
                return usage_error("--width needs a number of octets per line, such as 76");
            opt->width = (unsigned)w;
            opt->has_width = 1;
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    return 0;
}

/* Runs the command line in *opt; returns the exit status. */
static int
run(const struct options *opt)
{
    if (opt->help) {
        usage(stdout);
        return EXIT_ANSWERED;
    }
    if (opt->version) {
        printf("smtpstatus %s\n", SMTPSTATUS_VERSION_STRING);
        return EXIT_ANSWERED;
    }
    if (opt->command == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, opt->command) == 0)
            cmd = &commands[i];
    if (cmd == NULL)
        return usage_error("unknown command '%s'", opt->command);
    if (opt->nargs < cmd->min_args)
        return usage_error("%s needs more arguments", cmd->name);
    if (opt->nargs > cmd->max_args)
        return usage_error("%s: too many arguments", cmd->name);
    if (!cmd->renders && (opt->has_width || opt->smtputf8 || opt->dsn))
        return usage_error("--width, --smtputf8 and --dsn are options of render, not of %s",
                           cmd->name);
    if (cmd->need == NEED_DAEMON && opt->offline)
        return usage_error("%s asks the daemon, so it cannot run --offline", cmd->name);
    output_configure(opt->json, opt->pretty);

    struct source src;
    int status = source_open(&src, opt, cmd->need);
    if (status == 0) {
        status = cmd->run(opt, &src);
        source_close(&src);
    }
    return status;
}

int
main(int argc, char **argv)
{
    struct options opt;
    int status = parse_args(argc, argv, &opt);
    if (status == 0)
        status = run(&opt);
    free(opt.args);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "smtpstatus: cannot write the output: %s\n", strerror(errno));
        if (status == EXIT_ANSWERED)
            status = EXIT_NOT_FOUND;
    }
    return status;
}
