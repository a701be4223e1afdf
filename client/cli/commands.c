/*
 * The subcommands of smtpstatus (see commands.h). Most come in three parts: an _image helper
 * that answers from the embedded image with the library's own lookup, render or classification,
 * a _daemon helper that asks the daemon and reads its answer into the same library types, and
 * the cmd_ function that parses the arguments, picks the helper for the source, and reports the
 * answer or why there is none. reload and stats only ask the daemon.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "input.h"
#include "output.h"

#define LOOKUP_BATCH 1024u /* codes per lookup request: the daemon's limit */

/* The vendor rows of `code` in the image, or of `token` when it is not NULL: a malloc'd array
 * in *v (NULL when there are none) and its length. */
static size_t
image_vendors(const smtpstatus_image *img, smtpstatus_code code, const char *token,
              smtpstatus_vendor **v)
{
    size_t n = 0, cap;
    *v = NULL;
    int rc = token != NULL ? smtpstatus_image_vendor_token(img, token, strlen(token), NULL, 0, &n)
                           : smtpstatus_image_vendors(img, code, NULL, 0, &n);
    if (rc != 0 || n == 0 || (*v = malloc(n * sizeof **v)) == NULL)
        return 0;
    cap = n;
    if (token != NULL)
        smtpstatus_image_vendor_token(img, token, strlen(token), *v, cap, &n);
    else
        smtpstatus_image_vendors(img, code, *v, cap, &n);
    return n < cap ? n : cap;
}

/* lookup CODE... from the image: one answer per code, in order. A provider's token ("TSS04")
 * is answered with its vendor rows; an unregistered code stays "not found" for IANA, whatever
 * providers document it to mean. */
static int
lookup_image(const struct options *opt, const smtpstatus_image *img)
{
    int status = EXIT_ANSWERED;
    for (size_t i = 0; i < opt->nargs; i++) {
        smtpstatus_code code = {0, 0, 0};
        smtpstatus_entry e;
        smtpstatus_vendor *v = NULL;
        const char *w = opt->args[i];
        size_t nv;
        if (smtpstatus_code_parse(w, strlen(w), SMTPSTATUS_PARSE_ALLOW_X, &code, NULL) != 0 &&
            (nv = image_vendors(img, code, w, &v)) > 0) {
            output_token(w, v, nv);
            free(v);
            continue;
        }
        if (parse_code(w, &code) != 0) {
            status = EXIT_NOT_FOUND;
            continue;
        }
        int rc = smtpstatus_image_lookup(img, code, &e);
        if (rc != 0) {
            output_error("code", w, "%s: %s", w, smtpstatus_strerror(rc));
            status = EXIT_NOT_FOUND;
            continue;
        }
        nv = image_vendors(img, code, NULL, &v);
        output_entry(img, &e, v, nv);
        free(v);
        if (!e.registered)
            status = EXIT_NOT_FOUND;
    }
    return status;
}

/* The vendor rows of entry i of the daemon's answer r: a malloc'd array in *v (NULL when there
 * are none) and its length. */
static size_t
result_vendors(const smtpstatus_result *r, size_t i, smtpstatus_vendor **v)
{
    size_t n = smtpstatus_result_vendor_count(r, i), got = 0;
    *v = NULL;
    if (n == 0 || (*v = malloc(n * sizeof **v)) == NULL)
        return 0;
    for (size_t k = 0; k < n; k++)
        got += smtpstatus_result_vendor(r, i, k, &(*v)[got]) == 0;
    return got;
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
            smtpstatus_vendor *v = NULL;
            if (smtpstatus_result_entry(r, i, &e, &why) == 0) {
                size_t nv = result_vendors(r, i, &v);
                output_entry(NULL, &e, v, nv);
                free(v);
                if (!e.registered)
                    status = EXIT_NOT_FOUND;
                continue;
            }
            size_t nv = result_vendors(r, i, &v);
            if (nv > 0) {
                /* A provider's token: the daemon answers with its vendors only. */
                output_token(smtpstatus_result_entry_code(r, i), v, nv);
                free(v);
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

int
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

int
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
    } else if (src->img == NULL) {
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

int
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

int
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

int
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
        smtpstatus_vendor *v = NULL;
        size_t nv = r != NULL ? result_vendors(r, 0, &v) : 0;
        output_classification(src->img, &c, text, v, nv);
        free(v);
        if (rc != 0) {
            output_warnx("no reply code found");
            status = EXIT_NOT_FOUND;
        }
    } else if (rc == SMTPSTATUS_ENOMEM) {
        output_error(NULL, NULL, "out of memory");
        status = EXIT_NOT_FOUND;
    } else if (src->img == NULL) {
        status = daemon_failed(src, rc, r, NULL, NULL);
    } else {
        output_error(NULL, NULL, "cannot classify: %s", smtpstatus_strerror(rc));
        status = EXIT_NOT_FOUND;
    }
    free(own_text);
    smtpstatus_result_free(r);
    return status;
}

int
cmd_info(const struct options *opt, struct source *src)
{
    (void)opt;
    smtpstatus_client_status where;
    if (src->daemon != NULL)
        smtpstatus_client_status_get(src->daemon, &where);
    if (src->img != NULL) {
        smtpstatus_image_summary s;
        smtpstatus_image_summarize(src->img, &s);
        /* A copy is taken only when no daemon answered on image.sock: ask its socket too, so
         * that a stopped daemon is not taken for a running one. */
        int down = src->daemon != NULL && where.origin == SMTPSTATUS_ORIGIN_COPY &&
                   source_daemon_probe(src) != 0;
        /* The image cannot say how the last reload went; the daemon, when it is there, can. */
        smtpstatus_result *r = NULL;
        if (src->daemon != NULL && !down && smtpstatus_registry_info_get(src->daemon, &r) != 0) {
            smtpstatus_result_free(r);
            r = NULL;
        }
        output_info(&s, src->daemon != NULL ? &where : NULL, down, r);
        smtpstatus_result_free(r);
        if (!down)
            return EXIT_ANSWERED;
        output_warnx("the daemon is not running (no answer at %s); the answers come from the "
                     "image it left, generation %llu",
                     smtpstatus_socket_path(src->daemon), (unsigned long long)s.generation);
        return EXIT_UNAVAILABLE;
    }
    smtpstatus_result *r;
    smtpstatus_registry_info info;
    int rc = smtpstatus_registry_info_get(src->daemon, &r);
    if (rc == 0 && smtpstatus_result_registry(r, &info) != 0)
        rc = SMTPSTATUS_EPROTO;
    int status = rc == 0 ? EXIT_ANSWERED : daemon_failed(src, rc, r, NULL, NULL);
    if (rc == 0)
        output_registry(&info, &where, r);
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
        output_reloaded(&info, r);
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

int
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

int
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
