/*
 * smtpstatus: the command-line client of libsmtpstatus.
 *
 * It reads the whole command line (options may come before or after the subcommand; "--" ends
 * them), chooses where answers come from once at start-up (the "source" section below: the
 * registry built into the library with --offline, else the daemon of the run directory), runs
 * one subcommand against that source, and hands each answer to the printers in output.c.
 * Offline, every lookup, render and classification is the library's own, run on the embedded
 * image; otherwise the library's client asks the daemon, which runs the same code on the
 * registry it serves. Both answers come in the same library types and print alike.
 *
 * Exit status (also in --help):
 *   0  found / answered
 *   1  not found, invalid input or refused: an unregistered or malformed code (each still
 *      answered as far as it can be), an unknown basic code, a search with no match, a reply
 *      with no code, a reply that cannot be rendered; a reload the daemon refused (a broken
 *      registry, a user who may not reload, another reload running)
 *   2  usage error: unknown option or subcommand, wrong number of arguments
 *   3  daemon unavailable (without --offline): no daemon on the socket, no answer within
 *      --timeout, or an answer this client cannot read
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

#define STDIN_MAX          (16u << 20) /* the most "-" reads from standard input */
#define SOCKET_NAME        "smtpstatusd.sock"
#define DEFAULT_TIMEOUT_MS 5000u /* --timeout: the limit of each question to the daemon */
#define MAX_TIMEOUT_MS     3600000u
#define LOOKUP_BATCH       1024u /* codes per lookup request: the daemon's limit */

struct options {
    int json, pretty, offline, help, version;
    int smtputf8, dsn, has_width;
    unsigned width;
    unsigned timeout_ms; /* --timeout, DEFAULT_TIMEOUT_MS when not given */
    const char *rundir;  /* --rundir, or NULL for smtpstatus_default_rundir() */
    const char *command;
    char **args; /* the words after the subcommand, options removed */
    size_t nargs;
};

/* ---- where answers come from ------------------------------------------------------------------
 *
 * The one place that knows there are two sources. source_open() runs once, before any
 * subcommand. With --offline it sets src->img to the registry built into the library, and
 * every answer is read from that image. Otherwise it makes src->daemon, a handle on the daemon
 * of the run directory (--rundir, else $SMTPSTATUS_RUNDIR, else the default), which connects on
 * the first question. Each subcommand asks whichever is set; both kinds of answer come in the
 * library's types and go to the same printers. daemon_failed() turns every way a question to
 * the daemon can fail into a message and an exit status.
 */

struct source {
    const smtpstatus_image *img; /* --offline: the embedded image; else NULL */
    smtpstatus *daemon;          /* otherwise: the handle on the daemon's socket; else NULL */
    unsigned timeout_ms;         /* the handle's limit per question */
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
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int rc = connect(fd, (const struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/*
 * Reports a question to the daemon that failed with `rc`; `r` is the daemon's answer when it
 * sent one (an error it named), else NULL. `key` and `input` name the question in the JSON
 * error object, as for output_error(). Returns EXIT_UNAVAILABLE when no usable answer came (no
 * daemon, none in time, one this client cannot read), else EXIT_NOT_FOUND. May connect to the
 * socket once more, to say why no daemon answered.
 */
static int
daemon_failed(const struct source *src, int rc, const smtpstatus_result *r, const char *key,
              const char *input)
{
    const char *path = smtpstatus_socket_path(src->daemon);
    const char *said = r != NULL ? smtpstatus_result_message(r) : "";
    switch (rc) {
    case SMTPSTATUS_EUNAVAILABLE: {
        int e = socket_probe(path);
        if (e != 0)
            output_warnx("no daemon answers at %s: %s", path, strerror(-e));
        else
            output_warnx("the daemon at %s closed the connection without answering", path);
        output_warnx("start it with `smtpstatusd`, point --rundir at its run directory, "
                     "or use --offline");
        return EXIT_UNAVAILABLE;
    }
    case SMTPSTATUS_ETIMEOUT:
        output_warnx("the daemon at %s did not answer within %u ms", path, src->timeout_ms);
        output_warnx("it may be overloaded or stuck: see its log, raise --timeout, "
                     "or use --offline");
        return EXIT_UNAVAILABLE;
    case SMTPSTATUS_EPROTO:
        output_warnx("the daemon at %s sent an answer this client cannot read", path);
        output_warnx("is it smtpstatusd %s, as this command is? or use --offline",
                     SMTPSTATUS_VERSION_STRING);
        return EXIT_UNAVAILABLE;
    default:
        if (said[0] != '\0')
            output_error(key, input, "%s: %s", smtpstatus_strerror(rc), said);
        else
            output_error(key, input, "%s", smtpstatus_strerror(rc));
        return EXIT_NOT_FOUND;
    }
}

/*
 * Opens the source of answers. Returns 0 with src->img or src->daemon set, or an exit status
 * after saying what went wrong. Does not connect to the daemon yet.
 */
static int
source_open(struct source *src, const struct options *opt)
{
    memset(src, 0, sizeof *src);
    if (opt->offline) {
        src->img = smtpstatus_image_embedded();
        if (src->img == NULL) {
            output_warnx("the registry built into the library is not a valid image; "
                         "this build is broken");
            return EXIT_NOT_FOUND;
        }
        return 0;
    }
    smtpstatus_options so = {opt->rundir, opt->timeout_ms};
    src->timeout_ms = opt->timeout_ms;
    int rc = smtpstatus_open(&so, &src->daemon);
    if (rc == SMTPSTATUS_ENOSPC) {
        char rundir[PATH_MAX] = "";
        if (opt->rundir != NULL)
            snprintf(rundir, sizeof rundir, "%s", opt->rundir);
        else
            smtpstatus_default_rundir(rundir, sizeof rundir);
        output_warnx("the daemon's socket path is too long (%s/" SOCKET_NAME "); "
                     "use a shorter --rundir, or --offline",
                     rundir);
        return EXIT_UNAVAILABLE;
    }
    if (rc != 0) {
        output_error(NULL, NULL, "%s", smtpstatus_strerror(rc));
        return EXIT_NOT_FOUND;
    }
    return 0;
}

/* Lets go of what source_open() took: the daemon's handle and its connection. The embedded
 * image is static and never freed. */
static void
source_close(struct source *src)
{
    smtpstatus_close(src->daemon);
    src->daemon = NULL;
    src->img = NULL;
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

/* lookup CODE... from the image: one answer per code, in order. */
static int
lookup_image(const struct options *opt, const smtpstatus_image *img)
{
    int status = EXIT_ANSWERED;
    for (size_t i = 0; i < opt->nargs; i++) {
        smtpstatus_code code;
        smtpstatus_entry e;
        if (parse_code(opt->args[i], &code) != 0) {
            status = EXIT_NOT_FOUND;
            continue;
        }
        int rc = smtpstatus_image_lookup(img, code, &e);
        if (rc != 0) {
            output_error("code", opt->args[i], "%s: %s", opt->args[i], smtpstatus_strerror(rc));
            status = EXIT_NOT_FOUND;
            continue;
        }
        output_entry(img, &e);
        if (!e.registered)
            status = EXIT_NOT_FOUND;
    }
    return status;
}

/* lookup CODE... from the daemon: the codes in one request (LOOKUP_BATCH at a time), then one
 * answer per code, in order. A code the daemon could not look up is reported as --offline
 * reports it, from the library's own parse of the word. */
static int
lookup_daemon(const struct options *opt, struct source *src)
{
    int status = EXIT_ANSWERED;
    for (size_t first = 0; first < opt->nargs; first += LOOKUP_BATCH) {
        char *const *codes = opt->args + first;
        size_t n = opt->nargs - first < LOOKUP_BATCH ? opt->nargs - first : LOOKUP_BATCH;
        smtpstatus_result *r;
        int rc = smtpstatus_lookup(src->daemon, (const char *const *)codes, n, &r);
        if (rc == 0 && smtpstatus_result_entry_count(r) != n)
            rc = SMTPSTATUS_EPROTO;
        if (rc != 0) {
            status = daemon_failed(src, rc, r, NULL, NULL);
            smtpstatus_result_free(r);
            return status;
        }
        for (size_t i = 0; i < n; i++) {
            smtpstatus_entry e;
            smtpstatus_code code;
            const char *why = NULL;
            if (smtpstatus_result_entry(r, i, &e, &why) == 0) {
                output_entry(NULL, &e);
                if (!e.registered)
                    status = EXIT_NOT_FOUND;
                continue;
            }
            status = EXIT_NOT_FOUND;
            if (parse_code(codes[i], &code) == 0)
                output_error("code", codes[i], "%s: %s", codes[i],
                             why != NULL ? why : smtpstatus_strerror(SMTPSTATUS_EPROTO));
        }
        smtpstatus_result_free(r);
    }
    return status;
}

/* lookup CODE...: one answer per code, in order. */
static int
cmd_lookup(const struct options *opt, struct source *src)
{
    return src->img != NULL ? lookup_image(opt, src->img) : lookup_daemon(opt, src);
}

/* The record of basic code `code` in the image, as the daemon would send it: *b, *sample and
 * the associations in *assoc (allocated here, freed by the caller). Returns 0, ENOTFOUND,
 * EBASIC or ENOMEM. */
static int
basic_from_image(const smtpstatus_image *img, uint16_t code, smtpstatus_basic_answer *b,
                 const char **sample, struct output_assoc **assoc)
{
    smtpstatus_basic rec;
    int rc = smtpstatus_image_lookup_basic(img, code, &rec);
    if (rc != 0)
        return rc;
    *b = (smtpstatus_basic_answer){rec.code, rec.standard, rec.text, rec.reference, 0};
    *sample = rec.sample_text;
    if ((*assoc = calloc(rec.assoc_count + 1, sizeof **assoc)) == NULL)
        return SMTPSTATUS_ENOMEM;
    for (uint32_t i = 0; i < rec.assoc_count; i++) {
        struct output_assoc *a = &(*assoc)[b->assoc_count];
        smtpstatus_entry e;
        if (smtpstatus_image_basic_assoc(img, &rec, i, &a->code, &a->match) == 0 &&
            smtpstatus_image_lookup(img, a->code, &e) == 0) {
            a->title = e.title;
            b->assoc_count++;
        }
    }
    return 0;
}

/* The daemon's record of basic code `code`: *b and the associations in *assoc (allocated here,
 * freed by the caller; the titles point into *r). Returns 0 or an error of the call, with *r
 * set as smtpstatus_lookup_basic_remote() sets it. */
static int
basic_from_daemon(smtpstatus *h, uint16_t code, smtpstatus_basic_answer *b,
                  struct output_assoc **assoc, smtpstatus_result **r)
{
    int rc = smtpstatus_lookup_basic_remote(h, code, r);
    if (rc != 0)
        return rc;
    if (smtpstatus_result_basic(*r, b) != 0)
        return SMTPSTATUS_EPROTO;
    if ((*assoc = calloc(b->assoc_count + 1, sizeof **assoc)) == NULL)
        return SMTPSTATUS_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < b->assoc_count; i++) {
        struct output_assoc *a = &(*assoc)[n];
        if (smtpstatus_result_basic_assoc(*r, i, &a->code, &a->match, &a->title) == 0)
            n++;
    }
    b->assoc_count = n;
    return 0;
}

/* basic NNN: the reply code's standard text and the enhanced codes associated with it. */
static int
cmd_basic(const struct options *opt, struct source *src)
{
    const char *w = opt->args[0];
    uint16_t code;
    if (smtpstatus_basic_parse(w, strlen(w), &code) != 0) {
        output_error("basic", w, "\"%s\" is not a basic reply code: %s", w,
                     smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return EXIT_NOT_FOUND;
    }
    smtpstatus_basic_answer b;
    const char *sample = NULL; /* the socket API does not carry it */
    struct output_assoc *assoc = NULL;
    smtpstatus_result *r = NULL;
    int rc = src->img != NULL ? basic_from_image(src->img, code, &b, &sample, &assoc)
                              : basic_from_daemon(src->daemon, code, &b, &assoc, &r);
    int status = EXIT_ANSWERED;
    if (rc == 0) {
        output_basic(&b, sample, assoc);
    } else if (rc == SMTPSTATUS_ENOTFOUND) {
        output_error("basic", w,
                     "%u has no standard meaning, and no enhanced code is associated with it",
                     code);
        status = EXIT_NOT_FOUND;
    } else if (src->daemon != NULL) {
        status = daemon_failed(src, rc, r, "basic", w);
    } else {
        output_error("basic", w, "%s: %s", w, smtpstatus_strerror(rc));
        status = EXIT_NOT_FOUND;
    }
    free(assoc);
    smtpstatus_result_free(r);
    return status;
}

/* The codes of the image that match `query`, in code order: *n entries in *found (allocated
 * here, freed by the caller). Returns 0 or ENOMEM. */
static int
search_image(const smtpstatus_image *img, const char *query, smtpstatus_entry **found, size_t *n)
{
    uint32_t count = smtpstatus_image_code_count(img);
    if ((*found = calloc(count + 1, sizeof **found)) == NULL)
        return SMTPSTATUS_ENOMEM;
    for (uint32_t i = 0; i < count; i++)
        if (smtpstatus_image_code_at(img, i, &(*found)[*n]) == 0 &&
            smtpstatus_entry_matches(&(*found)[*n], query))
            ++*n;
    return 0;
}

/* The daemon's answer to a search for `query`, as search_image() gives it; the entries point
 * into *r. Returns 0 or an error of the call, with *r set as smtpstatus_search() sets it. */
static int
search_daemon(smtpstatus *h, const char *query, smtpstatus_entry **found, size_t *n,
              smtpstatus_result **r)
{
    /* The daemon separates words at spaces only; matches() at tabs too. */
    char *words = strdup(query);
    if (words == NULL)
        return SMTPSTATUS_ENOMEM;
    for (char *p = words; (p = strchr(p, '\t')) != NULL;)
        *p = ' ';
    int rc = smtpstatus_search(h, words, 0, r);
    free(words);
    if (rc != 0)
        return rc;
    size_t count = smtpstatus_result_entry_count(*r);
    if ((*found = calloc(count + 1, sizeof **found)) == NULL)
        return SMTPSTATUS_ENOMEM;
    for (size_t i = 0; i < count; i++)
        if (smtpstatus_result_entry(*r, i, &(*found)[*n], NULL) == 0)
            ++*n;
    return 0;
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
    smtpstatus_entry *found = NULL;
    size_t n = 0;
    smtpstatus_result *r = NULL;
    int rc = src->img != NULL ? search_image(src->img, query, &found, &n)
                              : search_daemon(src->daemon, query, &found, &n, &r);
    int status = n > 0 ? EXIT_ANSWERED : EXIT_NOT_FOUND;
    if (rc == 0) {
        output_search(src->img, query, found, n);
    } else if (rc == SMTPSTATUS_ENOMEM) {
        output_error(NULL, NULL, "out of memory");
        status = EXIT_NOT_FOUND;
    } else {
        status = daemon_failed(src, rc, r, NULL, NULL);
    }
    free(found);
    smtpstatus_result_free(r);
    free(query);
    return status;
}

/* The library error whose smtpstatus_strerror() text is `message`, or 0 for none. The daemon
 * refuses a render with that text, and the CLI says what to do about each error. */
static int
error_named(const char *message)
{
    static const int errors[] = {
#define SMTPSTATUS_ERR_VALUE(name, value, text) value,
        SMTPSTATUS_ERRNO_MAP(SMTPSTATUS_ERR_VALUE)
#undef SMTPSTATUS_ERR_VALUE
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (strcmp(smtpstatus_strerror(errors[i]), message) == 0)
            return errors[i];
    return 0;
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
    case SMTPSTATUS_ENOSPC: /* only the daemon, whose output has a limit */
        output_error(NULL, NULL,
                     "cannot render %u: the reply is longer than the daemon renders; "
                     "use --offline",
                     basic);
        break;
    default:
        output_error(NULL, NULL, "cannot render %u: %s", basic, smtpstatus_strerror(rc));
        break;
    }
    return EXIT_NOT_FOUND;
}

/* Renders with the image; arguments as for smtpstatus_render(). Returns the exit status. */
static int
render_image(const smtpstatus_image *img, const struct options *opt, uint16_t basic,
             const smtpstatus_code *enhanced, const char *text, size_t text_len)
{
    smtpstatus_render_options ro = {opt->width, opt->smtputf8,
                                    opt->dsn ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    char small[4096], *buf = small;
    size_t len = 0;
    unsigned warnings = 0;
    int rc = smtpstatus_render(img, basic, enhanced, text, text_len, &ro, buf, sizeof small, &len,
                               &warnings);
    if (rc == SMTPSTATUS_ENOSPC && (buf = malloc(len + 1)) != NULL)
        rc = smtpstatus_render(img, basic, enhanced, text, text_len, &ro, buf, len + 1, &len,
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
    return status;
}

/* Renders through the daemon: `word` is the enhanced code as given (NULL for none) and
 * `enhanced` its parse; text[0..text_len) is the text (NULL for the default), which may be
 * changed here. Returns the exit status. */
static int
render_daemon(const struct source *src, const struct options *opt, uint16_t basic, const char *word,
              const smtpstatus_code *enhanced, char *text, size_t text_len)
{
    /* A NUL cannot travel in the request's text. The library writes every C0 control but TAB,
     * CR and LF as '?' with the "replaced" warning, a NUL too, so send another one instead. */
    for (size_t i = 0; text != NULL && i < text_len; i++)
        if (text[i] == '\0')
            text[i] = '\x1a';
    smtpstatus_render_options ro = {opt->width, opt->smtputf8,
                                    opt->dsn ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    smtpstatus_result *r;
    int rc = smtpstatus_render_remote(src->daemon, basic, word, text, &ro, &r);
    int status = EXIT_ANSWERED;
    if (rc == SMTPSTATUS_EINVAL) {
        /* The daemon names the library's error by its text. */
        const char *said = smtpstatus_result_message(r);
        int why = error_named(said);
        if (why != 0)
            status = render_refused(why, opt, basic, enhanced);
        else
            status = daemon_failed(src, rc, r, NULL, NULL);
    } else if (rc != 0) {
        status = daemon_failed(src, rc, r, NULL, NULL);
    } else {
        unsigned warnings = 0;
        const char *w;
        for (size_t i = 0; (w = smtpstatus_result_render_warning(r, i)) != NULL; i++) {
            unsigned bit = output_render_warning_bit(w);
            if (bit == 0)
                output_warnx("warning: %s", w);
            warnings |= bit;
        }
        const char *out = smtpstatus_result_render_output(r);
        output_render(basic, enhanced, opt->dsn, out, strlen(out), warnings);
    }
    smtpstatus_result_free(r);
    return status;
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
    int status = src->img != NULL
                     ? render_image(src->img, opt, basic, enhanced, text, text_len)
                     : render_daemon(src, opt, basic, enhanced != NULL ? opt->args[1] : NULL,
                                     enhanced, text, text_len);
    free(text);
    return status;
}

/* Classifies reply[0..len) with the image into *c and a new *text (freed by the caller).
 * Returns 0, ENOREPLY (c and text still filled) or ENOMEM. */
static int
classify_image(const smtpstatus_image *img, const char *reply, size_t len,
               smtpstatus_classification *c, char **text)
{
    size_t text_size = len + 1;
    if ((*text = malloc(text_size)) == NULL)
        return SMTPSTATUS_ENOMEM;
    int rc = smtpstatus_classify(img, reply, len, c, *text, text_size);
    if (c->text_len >= text_size) {
        /* Never the case today (the text is never longer than the reply), but the API allows
         * it: ask again with room for all of it. */
        char *bigger = realloc(*text, c->text_len + 1);
        if (bigger == NULL)
            return SMTPSTATUS_ENOMEM;
        *text = bigger;
        rc = smtpstatus_classify(img, reply, len, c, *text, c->text_len + 1);
    }
    return rc;
}

/* Classifies reply[0..len) through the daemon into *c and *text (into *r). Returns 0, ENOREPLY
 * as classify_image() does, or an error of the call with *r set as
 * smtpstatus_classify_remote() sets it. */
static int
classify_daemon(smtpstatus *h, const char *reply, size_t len, smtpstatus_classification *c,
                const char **text, smtpstatus_result **r)
{
    int rc = smtpstatus_classify_remote(h, reply, len, r);
    if (rc != 0)
        return rc;
    if (smtpstatus_result_classification(*r, c, text) != 0)
        return SMTPSTATUS_EPROTO;
    /* The socket API's answer has no line count. It depends on the reply's syntax alone, not
     * on the registry, so the library's own parser counts the lines here. */
    smtpstatus_classification syntax;
    smtpstatus_classify(NULL, reply, len, &syntax, NULL, 0);
    c->line_count = syntax.line_count;
    return c->basic == 0 && !c->has_enhanced ? SMTPSTATUS_ENOREPLY : 0;
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
    char *own_text = NULL;
    const char *text = NULL;
    smtpstatus_result *r = NULL;
    if (src->img != NULL) {
        rc = classify_image(src->img, reply, len, &c, &own_text);
        text = own_text;
    } else {
        rc = classify_daemon(src->daemon, reply, len, &c, &text, &r);
    }
    free(reply);
    int status = EXIT_ANSWERED;
    if (rc == 0 || rc == SMTPSTATUS_ENOREPLY) {
        output_classification(src->img, &c, text);
        if (rc != 0) {
            output_warnx("no reply code found");
            status = EXIT_NOT_FOUND;
        }
    } else if (rc == SMTPSTATUS_ENOMEM) {
        output_error(NULL, NULL, "out of memory");
        status = EXIT_NOT_FOUND;
    } else if (src->daemon != NULL) {
        status = daemon_failed(src, rc, r, NULL, NULL);
    } else {
        output_error(NULL, NULL, "cannot classify: %s", smtpstatus_strerror(rc));
        status = EXIT_NOT_FOUND;
    }
    free(own_text);
    smtpstatus_result_free(r);
    return status;
}

/* info: the summary of the image answers come from, or what the daemon serves. */
static int
cmd_info(const struct options *opt, struct source *src)
{
    (void)opt;
    if (src->img != NULL) {
        smtpstatus_image_summary s;
        smtpstatus_image_summarize(src->img, &s);
        output_info(&s);
        return EXIT_ANSWERED;
    }
    smtpstatus_result *r;
    smtpstatus_registry_info info;
    int rc = smtpstatus_registry_info_get(src->daemon, &r);
    if (rc == 0 && smtpstatus_result_registry(r, &info) != 0)
        rc = SMTPSTATUS_EPROTO;
    int status = rc == 0 ? EXIT_ANSWERED : daemon_failed(src, rc, r, NULL, NULL);
    if (rc == 0)
        output_registry(&info);
    smtpstatus_result_free(r);
    return status;
}

/* Asks the daemon to reload its registry, from `dir` when not NULL (an absolute path), and
 * shows what changed or why nothing did. */
static int
reload(const struct source *src, const char *dir)
{
    smtpstatus_result *r;
    smtpstatus_registry_info info;
    int rc = smtpstatus_reload(src->daemon, dir, &r);
    if (rc == 0 && smtpstatus_result_registry(r, &info) != 0)
        rc = SMTPSTATUS_EPROTO;
    int status = EXIT_NOT_FOUND;
    switch (rc) {
    case 0:
        output_reloaded(&info);
        status = EXIT_ANSWERED;
        break;
    case SMTPSTATUS_ERELOAD:
        output_reload_failed(r);
        break;
    case SMTPSTATUS_EPERM:
        output_error(NULL, NULL, "the daemon refused to reload: %s", smtpstatus_result_message(r));
        output_warnx("reloading is for root, the daemon's own user and the group named by "
                     "smtpstatusd --admin-group");
        break;
    case SMTPSTATUS_EBUSY:
        output_error(NULL, NULL, "the daemon is busy with another reload; try again later");
        break;
    default:
        status = daemon_failed(src, rc, r, NULL, NULL);
        break;
    }
    smtpstatus_result_free(r);
    return status;
}

/* reload [DIR]: the daemon reloads its registry, from DIR when given. */
static int
cmd_reload(const struct options *opt, struct source *src)
{
    if (opt->nargs == 0)
        return reload(src, NULL);
    /* The daemon does not share our working directory. */
    char *dir = realpath(opt->args[0], NULL);
    if (dir == NULL) {
        output_error("directory", opt->args[0], "%s: %s", opt->args[0], strerror(errno));
        return EXIT_NOT_FOUND;
    }
    int rc = reload(src, dir);
    free(dir);
    return rc;
}

/* stats: the daemon's counters. */
static int
cmd_stats(const struct options *opt, struct source *src)
{
    (void)opt;
    smtpstatus_result *r;
    int rc = smtpstatus_stats(src->daemon, &r);
    int status = rc == 0 ? EXIT_ANSWERED : daemon_failed(src, rc, r, NULL, NULL);
    if (rc == 0)
        output_stats(r);
    smtpstatus_result_free(r);
    return status;
}

static const struct command {
    const char *name;
    int (*run)(const struct options *opt, struct source *src);
    size_t min_args, max_args;
    int daemon_only; /* only the daemon can answer: refused with --offline */
    int renders;     /* takes --width, --smtputf8, --dsn */
} commands[] = {
    {"lookup", cmd_lookup, 1, SIZE_MAX, 0, 0},
    {"basic", cmd_basic, 1, 1, 0, 0},
    {"search", cmd_search, 1, SIZE_MAX, 0, 0},
    {"render", cmd_render, 1, SIZE_MAX, 0, 1},
    {"classify", cmd_classify, 0, SIZE_MAX, 0, 0},
    {"info", cmd_info, 0, 0, 0, 0},
    {"reload", cmd_reload, 0, 1, 1, 0},
    {"stats", cmd_stats, 0, 0, 1, 0},
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
            "  --timeout MS            give up on the daemon after MS milliseconds per\n"
            "                          question (default %u)\n"
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
            "  1  not found, invalid input or refused: an unregistered or malformed code, an\n"
            "     unknown basic code, no search match, a reply with no code, a reply that\n"
            "     cannot be rendered; a reload the daemon refused (a broken registry, each\n"
            "     problem shown as file:line:col; a user who may not reload; another reload\n"
            "     running)\n"
            "  2  usage error\n"
            "  3  daemon unavailable: no daemon on the socket, no answer in time, or an\n"
            "     answer this client cannot read; start smtpstatusd, or use --offline\n",
            rundir, DEFAULT_TIMEOUT_MS, SMTPSTATUS_WIDTH_DEFAULT, SMTPSTATUS_WIDTH_MAX);
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

/* Parses a whole number from 1 to `max` into *out; returns 0, or -1 for anything else. */
static int
parse_count(const char *v, unsigned long max, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = v != NULL && v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
    if (v == NULL || end == NULL || *end != '\0' || errno != 0 || n == 0 || n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
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
    opt->timeout_ms = DEFAULT_TIMEOUT_MS;
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
            if (parse_count(option_value(argc, argv, &i, "--width"), 100000, &opt->width) != 0)
                return usage_error("--width needs a number of octets per line, such as 76");
            opt->has_width = 1;
        } else if (is_option(arg, "--timeout", 1)) {
            if (parse_count(option_value(argc, argv, &i, "--timeout"), MAX_TIMEOUT_MS,
                            &opt->timeout_ms) != 0)
                return usage_error("--timeout needs a number of milliseconds from 1 to %u, "
                                   "such as 5000",
                                   MAX_TIMEOUT_MS);
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
    if (cmd->daemon_only && opt->offline)
        return usage_error("%s asks the daemon, so it cannot run --offline", cmd->name);
    output_configure(opt->json, opt->pretty);

    struct source src;
    int status = source_open(&src, opt);
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
