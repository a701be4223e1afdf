/*
 * smtpstatusd: start-up, --check, and the event loop.
 *
 * Start-up loads the registry named by --registry (or takes the embedded default), compiles
 * and validates its image, logs one line saying what it serves, and runs a libuv loop until
 * SIGINT or SIGTERM. A broken --registry directory does not stop the daemon: it says so, with
 * every file:line:col, and serves the embedded default. `--check` runs the same loading and
 * validation, prints a summary and every diagnostic, and exits 0 when the registry is usable,
 * like `nginx -t`.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "diag.h"
#include "image_build.h"
#include "log.h"
#include "registry.h"
#include "smtpstatus.h"

struct options {
    const char *registry_dir; /* NULL: the embedded default */
    int check;
};

/* What the daemon serves: an image it built (owned buffer) or the embedded one (static). */
struct served {
    void *buf;               /* owned; NULL for the embedded image */
    smtpstatus_image *owned; /* handle over buf, owned */
    const smtpstatus_image *img;
};

struct daemon {
    uv_loop_t *loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    struct served served;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: smtpstatusd [--registry DIR] [--check] [--log-level LEVEL]\n"
            "\n"
            "Serves the IANA SMTP Enhanced Status Codes registry to local mail software.\n"
            "\n"
            "  --registry DIR     load IANA's three CSV files (smtp-enhanced-status-codes-1.csv,\n"
            "                     -2.csv, -3.csv) from DIR; default: the embedded registry\n"
            "  --check            validate the registry, print a summary and every warning\n"
            "                     with its file:line:col, and exit: 0 usable, 1 not usable\n"
            "  --log-level LEVEL  error, warning, info (default) or debug\n"
            "  -h, --help         show this help and exit\n"
            "  -V, --version      show the version and exit\n");
}

static void
parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"registry", required_argument, NULL, 'r'}, {"check", no_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    int c;
    enum log_level level;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->registry_dir = optarg;
            break;
        case 'c':
            o->check = 1;
            break;
        case 'l':
            if (log_parse_level(optarg, &level) != 0)
                fatal("--log-level: unknown level \"%s\" (use error, warning, info or debug)",
                      optarg);
            log_set_level(level);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("smtpstatusd %s\n", SMTPSTATUS_VERSION_STRING);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smtpstatusd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        exit(2);
    }
}

/*
 * Loads `dir` and compiles its image into *out. Returns 0, or -1 with the reasons in `d`.
 * Blocks on file I/O: called at start-up, before the loop runs.
 */
static int
load_served(const char *dir, uint64_t generation, struct served *out, struct diag *d)
{
    struct registry *r = NULL;
    memset(out, 0, sizeof *out);
    if (registry_load_dir(dir, &r, d) != 0)
        return -1;
    struct image_build_options opt = {.generation = generation, .built_at = (uint64_t)time(NULL)};
    size_t len = 0;
    int rc = image_build(r, &opt, &out->buf, &len);
    registry_free(r);
    if (rc == 0)
        rc = smtpstatus_image_open(out->buf, len, &out->owned);
    if (rc != 0) {
        diag_add(d, DIAG_ERROR, dir, 0, 0, "cannot compile the registry image: %s",
                 smtpstatus_strerror(rc));
        free(out->buf);
        out->buf = NULL;
        return -1;
    }
    out->img = out->owned;
    return 0;
}

static void
served_free(struct served *s)
{
    smtpstatus_image_close(s->owned);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static void
summary(const smtpstatus_image *img, char *buf, size_t size)
{
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(img, &s);
    snprintf(buf, size,
             "%" PRIu32 " classes, %" PRIu32 " subjects, %" PRIu32 " codes, %" PRIu32
             " basic codes",
             s.class_count, s.subject_count, s.code_count, s.basic_count);
}

static int
run_check(const struct options *o)
{
    char line[256];
    if (o->registry_dir == NULL) {
        const smtpstatus_image *img = smtpstatus_image_embedded();
        if (img == NULL) {
            printf("smtpstatusd: the embedded registry is not usable: its image is invalid\n");
            return 1;
        }
        summary(img, line, sizeof line);
        printf("smtpstatusd: the embedded registry is usable: %s\n", line);
        return 0;
    }
    struct diag d;
    diag_init(&d);
    struct served s;
    int rc = load_served(o->registry_dir, 1, &s, &d);
    diag_print(&d, stderr);
    if (rc != 0) {
        printf("smtpstatusd: registry %s is not usable: %zu error%s, %zu warning%s\n",
               o->registry_dir, d.errors, d.errors == 1 ? "" : "s", d.warnings,
               d.warnings == 1 ? "" : "s");
    } else {
        summary(s.img, line, sizeof line);
        printf("smtpstatusd: registry %s is usable: %s; %zu warning%s\n", o->registry_dir, line,
               d.warnings, d.warnings == 1 ? "" : "s");
        served_free(&s);
    }
    diag_free(&d);
    return rc == 0 ? 0 : 1;
}

static void
on_stop_signal(uv_signal_t *h, int signum)
{
    log_info("received %s; shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_stop(h->loop);
}

static void
on_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Chooses what to serve at start-up: --registry when it loads, else the embedded default. */
static void
choose_served(const struct options *o, struct served *out)
{
    if (o->registry_dir != NULL) {
        struct diag d;
        diag_init(&d);
        int rc = load_served(o->registry_dir, 1, out, &d);
        for (size_t i = 0; i < d.count; i++) {
            char msg[1024];
            diag_format(&d.items[i], msg, sizeof msg);
            if (d.items[i].severity == DIAG_ERROR)
                log_error("%s", msg);
            else
                log_warnx("%s", msg);
        }
        diag_free(&d);
        if (rc == 0)
            return;
        log_error("registry %s is not usable; serving the embedded default instead",
                  o->registry_dir);
    }
    memset(out, 0, sizeof *out);
    out->img = smtpstatus_image_embedded();
    if (out->img == NULL)
        fatal("the embedded registry image is invalid; the build is broken");
}

int
main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    if (o.check)
        return run_check(&o);

    struct daemon d = {.loop = uv_default_loop()};
    choose_served(&o, &d.served);
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(d.served.img, &s);
    char line[256];
    summary(d.served.img, line, sizeof line);
    log_info("serving generation %" PRIu64 " from %s: %s", s.generation, s.source, line);

    int rc;
    if ((rc = uv_signal_init(d.loop, &d.sigint)) != 0 ||
        (rc = uv_signal_start(&d.sigint, on_stop_signal, SIGINT)) != 0 ||
        (rc = uv_signal_init(d.loop, &d.sigterm)) != 0 ||
        (rc = uv_signal_start(&d.sigterm, on_stop_signal, SIGTERM)) != 0)
        fatal("cannot watch signals: %s", uv_strerror(rc));
    log_info("ready");
    fflush(stderr);

    uv_run(d.loop, UV_RUN_DEFAULT);

    uv_walk(d.loop, on_close_walk, NULL);
    uv_run(d.loop, UV_RUN_DEFAULT);
    uv_loop_close(d.loop);
    served_free(&d.served);
    log_info("stopped");
    return 0;
}
