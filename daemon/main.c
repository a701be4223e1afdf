/*
 * smtpstatusd: options, start-up, --check, reload orchestration and the event loop.
 *
 * Start-up takes the run directory's lock (one daemon per run directory), chooses what to serve
 * (--registry when it loads; else the last registry saved in the state directory; else the
 * embedded default; a broken --registry is reported with every file:line:col and does not stop
 * the daemon), reads the administrator's rules file (--rules, default
 * /etc/smtpstatusd/reasons.csv when it exists) and compiles it with the built-in rules into the
 * image it publishes, starts the protobuf socket server, and says it is ready: a log line, READY=1 to
 * systemd when NOTIFY_SOCKET is set, and the parent's exit when it daemonized. It also starts
 * the JSON debug port (http_server.c) on loopback unless --http off. SIGHUP, the reload
 * operation and POST /v1/reload (with --http-admin) reload the registry and the rules file
 * together on the thread pool; SIGINT and
 * SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "diag.h"
#include "dirs.h"
#include "frame.h"
#include "http_server.h"
#include "image_build.h"
#include "image_server.h"
#include "listen_fds.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "conn_limits.h"
#include "reload.h"
#include "rpc_server.h"
#include "rules_load.h"
#include "served.h"
#include "service.h"
#include "socketmap_server.h"
#include "smtpstatus.h"
#include "publish.h"
#include "state.h"

#define SOCKET_NAME "smtpstatusd.sock"
#define LOCK_NAME "smtpstatusd.lock"
#define DEFAULT_IDLE_TIMEOUT 60
#define DEFAULT_MAX_CONNECTIONS 1024
#define HTTP_SOCKET_NAME "smtpstatusd-http.sock"
#define DEFAULT_HTTP "127.0.0.1:3463"
#define DEFAULT_HTTP_HEADER_TIMEOUT 10

struct options {
    const char *registry_dir; /* NULL: none configured */
    struct rules_config rules; /* the administrator's rules file */
    char rundir[PATH_MAX];
    int rundir_by_default; /* neither --rundir nor $SMTPSTATUS_RUNDIR */
    char statedir[PATH_MAX];
    const char *admin_group;
    unsigned idle_timeout;     /* seconds */
    unsigned max_connections;
    int foreground;
    int check;
    const char *http;          /* ADDR:PORT, or "off" */
    int http_unix;             /* also listen on RUNDIR/smtpstatusd-http.sock */
    int http_allow_remote;     /* a non-loopback address is allowed */
    int http_admin;            /* POST /v1/reload is enabled */
    unsigned http_header_timeout; /* seconds */
    size_t max_output_buffer;     /* bytes of unread answers, all connections together */
    int socketmap;                /* serve RUNDIR/socketmap.sock (--socketmap on, the default) */
    enum log_target log_target;
};

/* Who asked for the running reload, so that its answer goes back the way the question came. */
enum reload_surface { RELOAD_BY_SIGNAL, RELOAD_BY_SOCKET, RELOAD_BY_HTTP };

/* ReloadAttempt.trigger of each surface. */
static const char *const surface_names[] = {"signal", "socket", "http"};

struct daemon {
    uv_loop_t *loop;
    struct options opt;
    uv_signal_t sigint, sigterm, sighup;
    struct served current;
    struct publisher publisher;
    struct image_server images; /* RUNDIR/image.sock: the current image's sealed memfd */
    struct service svc;
    struct rpc_server rpc;
    struct http_server http;
    struct socketmap_server socketmap;
    struct http_server_options http_opt;
    struct metrics metrics;
    struct conn_limits limits;
    struct reload_job *job; /* the running reload, or NULL */
    enum reload_surface job_surface;
    int lock_fd;
    char socket_path[PATH_MAX];
    char lock_path[PATH_MAX];
    char http_socket_path[PATH_MAX];
    char image_socket_path[PATH_MAX];
    char socketmap_path[PATH_MAX];
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: smtpstatusd [options]\n"
            "\n"
            "Serves the IANA SMTP Enhanced Status Codes registry to local mail software.\n"
            "\n"
            "  --registry DIR         load IANA's three CSV files (smtp-enhanced-status-codes-1.csv,\n"
            "                         -2.csv, -3.csv) from DIR, and reload from there on SIGHUP\n"
            "  --rules FILE           the administrator's reason rules (CSV: Reason, Basic,\n"
            "                         Enhanced, Pattern, Retry, Status, Note, Name), tried before\n"
            "                         the built-in ones and reloaded with the registry (default\n"
            "                         " RULES_DEFAULT_FILE " when it exists). It must be root's\n"
            "                         or the daemon's user's, and writable by its owner alone\n"
            "  --rundir DIR           socket, lock and image (default: $SMTPSTATUS_RUNDIR, else\n"
            "                         " SMTPSTATUS_RUNDIR_DEFAULT " whoever runs it, where every user's\n"
            "                         clients look; a daemon of your own needs --rundir or\n"
            "                         SMTPSTATUS_RUNDIR, and its clients the same)\n"
            "  --statedir DIR         the last reloaded registry (default: /var/lib/smtpstatusd for\n"
            "                         root, else $XDG_STATE_HOME/smtpstatusd or\n"
            "                         ~/.local/state/smtpstatusd; made with its parents). The\n"
            "                         daemon refuses a run or state directory that is not its\n"
            "                         user's or root's, or that anyone else may write\n"
            "  --admin-group NAME     members of this group may reload (root and the daemon's own\n"
            "                         user always may)\n"
            "  --idle-timeout SECS    close a client connection that completes no request for\n"
            "                         this long (default %d)\n"
            "  --max-connections N    serve at most N clients at once on each of the socket and\n"
            "                         the HTTP port (default %d)\n"
            "  --http ADDR:PORT|off   the JSON debug port (default %s; port 0 picks a free one\n"
            "                         and the log says which); off disables it\n"
            "  --http-unix            also serve it on RUNDIR/" HTTP_SOCKET_NAME "\n"
            "                         (curl --unix-socket)\n"
            "  --http-allow-remote    allow --http on an address that is not loopback\n"
            "  --http-admin           enable POST /v1/reload (Content-Type: application/json)\n"
            "                         for administrators: on the Unix socket those who may\n"
            "                         reload over the socket API; over TCP root and the\n"
            "                         daemon's user, as the kernel identifies a loopback client;\n"
            "                         never with an Origin header\n"
            "  --http-header-timeout SECS\n"
            "                         close an HTTP client whose request takes longer than this\n"
            "                         to arrive (default %d)\n"
            "  --socketmap on|off     serve the socketmap protocol on RUNDIR/" SOCKETMAP_SOCKET_NAME "\n"
            "                         for Postfix's smtp_delivery_status_filter (maps \"status\"\n"
            "                         and \"reason\"; default on)\n"
            "  --max-output-buffer BYTES\n"
            "                         hold at most this much of the answers clients have not read,\n"
            "                         all connections together; K, M, G suffixes (default 64M);\n"
            "                         past it clients holding none are served from a reserve of\n"
            "                         1/8 more, and those holding the most are closed\n"
            "  --log-level LEVEL      error, warning, info (default) or debug\n"
            "  --log-target TARGET    auto (default: syslog once detached, stderr with\n"
            "                         --foreground), stderr or syslog (/dev/log)\n"
            "  --foreground           do not detach\n"
            "  --check                validate the registry (--registry DIR or the embedded one)\n"
            "                         and the rules file, print a summary and every warning with\n"
            "                         its file:line:col, and exit: 0 usable, 1 not usable\n"
            "  -h, --help             show this help and exit\n"
            "  -V, --version          show the version and exit\n",
            DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_HTTP,
            DEFAULT_HTTP_HEADER_TIMEOUT);
}

static unsigned
parse_count(const char *opt, const char *s, unsigned min, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
        fatal("%s: \"%s\" is not a number from %u to %u", opt, s, min, max);
    return (unsigned)v;
}

static void
default_statedir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (geteuid() == 0)
        snprintf(buf, size, "/var/lib/smtpstatusd");
    else if (xdg != NULL && xdg[0] == '/')
        snprintf(buf, size, "%s/smtpstatusd", xdg);
    else if (home != NULL && home[0] == '/')
        snprintf(buf, size, "%s/.local/state/smtpstatusd", home);
    else
        snprintf(buf, size, "/tmp/smtpstatusd-state-%ld", (long)geteuid());
}

static void
parse_options(int argc, char **argv, struct options *o)
{
    enum { O_REGISTRY = 256, O_RULES, O_RUNDIR, O_STATEDIR, O_ADMIN, O_IDLE, O_MAXCONN, O_LOG, O_FG,
           O_CHECK, O_HTTP, O_HTTP_UNIX, O_HTTP_REMOTE, O_HTTP_ADMIN, O_HTTP_HTIMEOUT, O_MAXOUT,
           O_LOG_TARGET, O_SOCKETMAP };
    static const struct option longopts[] = {
        {"registry", required_argument, NULL, O_REGISTRY},
        {"rules", required_argument, NULL, O_RULES},
        {"rundir", required_argument, NULL, O_RUNDIR},
        {"statedir", required_argument, NULL, O_STATEDIR},
        {"admin-group", required_argument, NULL, O_ADMIN},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"log-level", required_argument, NULL, O_LOG},
        {"log-target", required_argument, NULL, O_LOG_TARGET},
        {"foreground", no_argument, NULL, O_FG},
        {"check", no_argument, NULL, O_CHECK},
        {"http", required_argument, NULL, O_HTTP},
        {"http-unix", no_argument, NULL, O_HTTP_UNIX},
        {"http-allow-remote", no_argument, NULL, O_HTTP_REMOTE},
        {"http-admin", no_argument, NULL, O_HTTP_ADMIN},
        {"http-header-timeout", required_argument, NULL, O_HTTP_HTIMEOUT},
        {"max-output-buffer", required_argument, NULL, O_MAXOUT},
        {"socketmap", required_argument, NULL, O_SOCKETMAP},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->idle_timeout = DEFAULT_IDLE_TIMEOUT;
    o->max_connections = DEFAULT_MAX_CONNECTIONS;
    o->http = DEFAULT_HTTP;
    o->http_header_timeout = DEFAULT_HTTP_HEADER_TIMEOUT;
    o->max_output_buffer = CONN_LIMITS_DEFAULT_OUTPUT;
    o->socketmap = 1;
    int c;
    enum log_level level;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_REGISTRY:
            o->registry_dir = optarg;
            break;
        case O_RULES:
            if (optarg[0] == '\0')
                fatal("--rules: give the path of a rules file");
            o->rules.path = optarg;
            o->rules.required = 1;
            break;
        case O_RUNDIR:
            snprintf(o->rundir, sizeof o->rundir, "%s", optarg);
            break;
        case O_STATEDIR:
            snprintf(o->statedir, sizeof o->statedir, "%s", optarg);
            break;
        case O_ADMIN:
            o->admin_group = optarg;
            break;
        case O_IDLE:
            o->idle_timeout = parse_count("--idle-timeout", optarg, 1, 86400);
            break;
        case O_MAXCONN:
            o->max_connections = parse_count("--max-connections", optarg, 1, 1000000);
            break;
        case O_LOG:
            if (log_parse_level(optarg, &level) != 0)
                fatal("--log-level: unknown level \"%s\" (use error, warning, info or debug)",
                      optarg);
            log_set_level(level);
            break;
        case O_LOG_TARGET:
            if (log_parse_target(optarg, &o->log_target) != 0)
                fatal("--log-target: unknown target \"%s\" (use auto, stderr or syslog)", optarg);
            break;
        case O_FG:
            o->foreground = 1;
            break;
        case O_CHECK:
            o->check = 1;
            break;
        case O_HTTP:
            o->http = optarg;
            break;
        case O_HTTP_UNIX:
            o->http_unix = 1;
            break;
        case O_HTTP_REMOTE:
            o->http_allow_remote = 1;
            break;
        case O_HTTP_ADMIN:
            o->http_admin = 1;
            break;
        case O_HTTP_HTIMEOUT:
            o->http_header_timeout = parse_count("--http-header-timeout", optarg, 1, 3600);
            break;
        case O_MAXOUT:
            if (conn_limits_parse_size(optarg, &o->max_output_buffer) != 0)
                fatal("--max-output-buffer: \"%s\" is not a size of at least 64K (bytes, or "
                      "with K, M or G)", optarg);
            break;
        case O_SOCKETMAP:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
                fatal("--socketmap: use on or off, not \"%s\"", optarg);
            o->socketmap = strcmp(optarg, "on") == 0;
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
    const char *env = getenv("SMTPSTATUS_RUNDIR");
    o->rundir_by_default = o->rundir[0] == '\0' && (env == NULL || env[0] == '\0');
    if (o->rundir[0] == '\0' && smtpstatus_default_rundir(o->rundir, sizeof o->rundir) != 0)
        fatal("cannot choose a run directory; give --rundir");
    if (o->statedir[0] == '\0')
        default_statedir(o->statedir, sizeof o->statedir);
    if (o->rules.path == NULL)
        o->rules.path = RULES_DEFAULT_FILE;
    o->rules.self_uid = geteuid();
}

/* ---- loading at start-up ----------------------------------------------------------------- */

/* Loads `dir` and compiles it with `rules` (image_build_options.rules) into *out. Returns 0, or
 * -1 with the reasons in `d`. */
static int
load_served(const char *dir, const struct rules *rules, uint64_t generation, struct served *out,
            struct diag *d)
{
    struct registry *r = NULL;
    memset(out, 0, sizeof *out);
    if (registry_load_dir(dir, &r, d) != 0)
        return -1;
    int rc = served_build(out, r, rules, generation, (uint64_t)time(NULL));
    registry_free(r);
    if (rc != 0) {
        diag_add(d, DIAG_ERROR, dir, 0, 0, "cannot compile the registry image: %s",
                 smtpstatus_strerror(rc));
        return -1;
    }
    return 0;
}

static void
log_diag(const struct diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        char msg[1024];
        diag_format(&d->items[i], msg, sizeof msg);
        if (d->items[i].severity == DIAG_ERROR)
            log_error("%s", msg);
        else
            log_warnx("%s", msg);
    }
}

static const char *
plural(size_t n)
{
    return n == 1 ? "" : "s";
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

/* The rules that classifications with `img` use, for the log. */
static void
rules_summary(const smtpstatus_image *img, char *buf, size_t size)
{
    uint32_t admin, builtin;
    rules_image_counts(img, &admin, &builtin);
    snprintf(buf, size, "%" PRIu32 " administrator's rule%s, %" PRIu32 " built-in", admin,
             plural(admin), builtin);
}

/* --check of the rules file: every problem on stderr, a summary on stdout. Returns 0 when the
 * rules are usable (also when the default file is missing: the built-in rules alone are). */
static int
check_rules(const struct options *o)
{
    struct diag d;
    diag_init(&d);
    struct rules r = {0};
    int missing;
    int rc = rules_load(&o->rules, &r, &missing, &d);
    diag_print(&d, stderr);
    uint32_t admin = (uint32_t)r.admin_count, builtin = (uint32_t)(r.count - r.admin_count);
    if (r.count == 0)
        rules_image_counts(smtpstatus_image_embedded(), &admin, &builtin);
    if (rc != 0)
        printf("smtpstatusd: rules %s are not usable: %zu error%s, %zu warning%s\n",
               o->rules.path, d.errors, plural(d.errors), d.warnings, plural(d.warnings));
    else if (missing)
        printf("smtpstatusd: no rules file %s: the %" PRIu32 " built-in rules alone\n",
               o->rules.path, builtin);
    else
        printf("smtpstatusd: rules %s are usable: %" PRIu32 " administrator's rule%s before %" PRIu32
               " built-in; %zu warning%s\n",
               o->rules.path, admin, plural(admin), builtin, d.warnings, plural(d.warnings));
    rules_free(&r);
    diag_free(&d);
    return rc == 0 ? 0 : 1;
}

static int
check_registry(const struct options *o)
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
    int rc = load_served(o->registry_dir, NULL, 1, &s, &d);
    diag_print(&d, stderr);
    if (rc != 0) {
        printf("smtpstatusd: registry %s is not usable: %zu error%s, %zu warning%s\n",
               o->registry_dir, d.errors, plural(d.errors), d.warnings, plural(d.warnings));
    } else {
        summary(s.img, line, sizeof line);
        printf("smtpstatusd: registry %s is usable: %s; %zu warning%s\n", o->registry_dir, line,
               d.warnings, plural(d.warnings));
        served_free(&s);
    }
    diag_free(&d);
    return rc == 0 ? 0 : 1;
}

/* --check: the registry and the rules file, each reported whatever the other gives. */
static int
run_check(const struct options *o)
{
    int bad = check_registry(o);
    bad |= check_rules(o);
    return bad;
}

/* Tries one directory at start-up; logs everything it finds. */
static int
try_dir(const char *what, const char *dir, const struct rules *rules, uint64_t generation,
        struct served *out)
{
    struct diag d;
    diag_init(&d);
    int rc = load_served(dir, rules, generation, out, &d);
    log_diag(&d);
    if (rc != 0)
        log_error("%s %s is not usable: %zu error%s", what, dir, d.errors, plural(d.errors));
    diag_free(&d);
    return rc;
}

/* A --rules file that does not exist stops the daemon, before it detaches, so that the
 * message reaches whoever started it. */
static void
require_rules_file(const struct options *o)
{
    struct stat st;
    if (o->rules.required && lstat(o->rules.path, &st) != 0 && errno == ENOENT)
        fatal("--rules %s: no such file. Create it (a CSV file with a header row such as "
              "Reason,Basic,Enhanced,Pattern,Note and one rule per row), or leave --rules out",
              o->rules.path);
}

/* The administrator's rules at start-up, into *rules (empty when there are none): any problem
 * but a missing --rules file (require_rules_file()) is logged with its file:line:col, and the daemon starts with the built-in rules alone until a reload of a
 * mended file succeeds, as it starts with the embedded registry when --registry is broken. */
static void
load_start_rules(const struct options *o, struct rules *rules)
{
    struct diag d;
    diag_init(&d);
    int missing;
    int rc = rules_load(&o->rules, rules, &missing, &d);
    log_diag(&d);
    if (rc != 0) {
        rules_free(rules);
        log_error("rules %s are not usable: %zu error%s; classifying with the built-in rules "
                  "alone until a reload of the mended file succeeds",
                  o->rules.path, d.errors, plural(d.errors));
    } else if (!missing) {
        log_info("rules %s: %zu administrator's rule%s", o->rules.path, rules->admin_count,
                 plural(rules->admin_count));
    }
    diag_free(&d);
}

/* --registry when it loads, else the saved state, else the embedded default, each with the
 * administrator's `rules` (when there are any). A --registry directory that does not exist yet
 * is not an error: a service names the directory that `smtpstatus update` creates, and a reload
 * or SIGHUP loads it once it is there. */
static void
choose_served(const struct options *o, const struct rules *rules, uint64_t generation,
              struct served *out)
{
    char saved[PATH_MAX];
    struct stat st;
    int broken = 0; /* --registry exists but does not load */
    if (o->registry_dir != NULL && stat(o->registry_dir, &st) != 0 && errno == ENOENT) {
        log_info("registry %s does not exist yet; a reload or SIGHUP loads it once it does",
                 o->registry_dir);
    } else if (o->registry_dir != NULL) {
        if (try_dir("registry", o->registry_dir, rules, generation, out) == 0)
            return;
        broken = 1;
    }
    state_registry_dir(o->statedir, saved, sizeof saved);
    if (stat(saved, &st) == 0) {
        if (try_dir("saved registry", saved, rules, generation, out) == 0)
            return;
    } else if (broken) {
        log_error("no saved registry in %s either", o->statedir);
    }
    if (broken)
        log_error("serving the embedded default registry instead");
    if (rules->count > 0) {
        int rc = served_rebuild(out, smtpstatus_image_embedded(), rules, generation,
                                (uint64_t)time(NULL));
        if (rc == 0)
            return;
        log_error("cannot compile the administrator's rules into an image: %s; classifying "
                  "with the built-in rules alone",
                  smtpstatus_strerror(rc));
    }
    served_init_embedded(out, generation);
}

/* Publishes the registry being served as the shared image. Returns 0 or -1 (logged). */
static int
publish_current(struct daemon *d)
{
    size_t len;
    const void *bytes = served_image_bytes(&d->current, &len);
    char err[256];
    if (publisher_publish(&d->publisher, bytes, len, d->current.generation, err, sizeof err) !=
        0) {
        log_error("%s; clients will ask the socket instead", err);
        d->svc.image_path = "";
        return -1;
    }
    d->svc.image_path = d->publisher.path;
    log_info("published generation %" PRIu64 " at %s", d->current.generation, d->publisher.path);
    return 0;
}

/* ---- reload ----------------------------------------------------------------------------- */

static void
on_reload_done(struct reload_job *job)
{
    struct daemon *d = job->arg;
    void *waiter = job->waiter;
    if (job->ok) {
        served_free(&d->current);
        d->current = job->next;
        memset(&job->next, 0, sizeof job->next);
        const struct code_diff *diff = &d->current.last_diff;
        const struct rule_diff *rdiff = &d->current.last_rule_diff;
        char line[256], rline[128];
        summary(d->current.img, line, sizeof line);
        rules_summary(d->current.img, rline, sizeof rline);
        log_info("reloaded %s: generation %" PRIu64 ", %s; %zu added, %zu removed, %zu changed; "
                 "%s: %zu rule%s added, %zu removed, %zu changed",
                 job->dir != NULL ? job->dir : "the rules alone", d->current.generation, line,
                 diff->added_count, diff->removed_count, diff->changed_count, rline,
                 rdiff->added_count, plural(rdiff->added_count), rdiff->removed_count,
                 rdiff->changed_count);
        for (size_t i = 0; i < d->current.warning_count; i++)
            log_warnx("%s", d->current.warnings[i]);
        if (job->publish_error[0] != '\0')
            log_error("%s; clients will ask the socket instead", job->publish_error);
        d->svc.image_path = job->publish_error[0] == '\0' ? d->publisher.path : "";
    } else {
        log_diag(&job->diag);
        log_error("reload of %s failed; still serving generation %" PRIu64,
                  job->dir != NULL ? job->dir : d->opt.rules.path,
                  d->current.generation);
    }
    if (job->ok)
        d->svc.stats.reloads_ok++;
    else
        d->svc.stats.reloads_failed++;
    /* Before anyone is told, so that a waiter's next question (registry info) sees it. */
    if (served_reload_attempt_set(&d->svc.last_reload, (uint64_t)time(NULL),
                                  surface_names[d->job_surface], job->dir, job->ok, &job->diag,
                                  job->publish_error) != 0)
        log_warnx("out of memory: the last reload's problems are not all kept for info");
    /* Idle before anyone is told: a waiter's next request, pipelined behind this reload and
     * answered from inside the notification, may be another reload. */
    enum reload_surface surface = d->job_surface; /* a reload started below changes it */
    d->job = NULL;
    d->svc.reload_busy = 0;
    rpc_server_reload_done(&d->rpc, surface == RELOAD_BY_SOCKET ? waiter : NULL, job->ok,
                           &job->diag);
    http_server_reload_done(&d->http, surface == RELOAD_BY_HTTP ? waiter : NULL, job->ok,
                            &job->diag);
    reload_job_free(job);
    free(job);
}

/* Records a reload that could not start as the last attempt, a failed one: to an
 * administrator it is one. */
static void
not_started(struct daemon *d, enum reload_surface surface, const char *dir, const char *why)
{
    served_reload_attempt_set(&d->svc.last_reload, (uint64_t)time(NULL), surface_names[surface],
                              dir, 0, NULL, why);
}

/* Whether a reload without a directory has rules to reload: a rules file exists now, or the
 * generation served has an administrator's rules (which a deleted file takes away). */
static int
has_rules_to_reload(const struct daemon *d)
{
    struct stat st;
    return d->current.rules_file != NULL || lstat(d->opt.rules.path, &st) == 0;
}

/* Starts a reload of `dir` (NULL: the configured directory; without one, the rules over the
 * registry served) and of the rules file, as one generation, that `waiter` (of `surface`) waits
 * on; `requester` is the uid of the administrator who named `dir`. Returns 0, or -EINVAL (no
 * directory and no rules), -EBUSY (a reload is running) or -ENOMEM. */
static int
start_reload(struct daemon *d, enum reload_surface surface, void *waiter, const char *dir,
             uid_t requester)
{
    const char *configured = d->opt.registry_dir;
    int named = dir != NULL && (configured == NULL || strcmp(dir, configured) != 0);
    if (dir == NULL)
        dir = configured;
    if (dir == NULL && !has_rules_to_reload(d)) {
        log_warnx("reload asked with no directory, no --registry is configured, and there is "
                  "no rules file %s", d->opt.rules.path);
        not_started(d, surface, NULL,
                    "error: no directory was given, no --registry is configured, and there is "
                    "no rules file to reload");
        return -EINVAL;
    }
    if (d->job != NULL) {
        log_warnx("a reload is already running; not starting another");
        return -EBUSY;
    }
    struct reload_job *job = calloc(1, sizeof *job);
    if (job == NULL || (dir != NULL && (job->dir = strdup(dir)) == NULL)) {
        free(job);
        not_started(d, surface, dir, "error: out of memory");
        return -ENOMEM;
    }
    job->named = named;
    job->configured = configured;
    job->rules = d->opt.rules;
    /* What a client names must be what an administrator wrote: root, this daemon's user, or
     * the one asking (the kernel said who that is). */
    job->owners = (struct registry_owners){{0, d->svc.self_uid, requester}, 3};
    job->old = d->current.img;
    job->generation = d->current.generation + 1;
    job->statedir = d->opt.statedir;
    job->publisher = &d->publisher;
    job->done = on_reload_done;
    job->arg = d;
    job->waiter = waiter;
    if (dir != NULL)
        log_info("reloading from %s and %s", dir, d->opt.rules.path);
    else
        log_info("reloading the rules %s over the registry served", d->opt.rules.path);
    if (reload_start(d->loop, job) != 0) {
        reload_job_free(job);
        free(job);
        not_started(d, surface, dir, "error: the reload could not be started");
        return -ENOMEM;
    }
    d->job = job;
    d->job_surface = surface;
    d->svc.reload_busy = 1;
    return 0;
}

static int
rpc_reload(void *arg, struct rpc_conn *waiter, const char *dir, uid_t requester)
{
    return start_reload(arg, RELOAD_BY_SOCKET, waiter, dir, requester);
}

static int
http_reload(void *arg, struct http_conn *waiter, const char *dir, uid_t requester)
{
    return start_reload(arg, RELOAD_BY_HTTP, waiter, dir, requester);
}

/* ---- process setup ---------------------------------------------------------------------- */

/* Makes the run directory if needed, and refuses it, or an existing state directory, when
 * another user owns it or may write it (dirs.h): the state directory is checked here because a
 * start serves the registry saved there. Dies with what to do. */
static void
prepare_dirs(const struct options *o)
{
    char why[160];
    int rc = dirs_make(o->rundir, 0755, 0755);
    if (rc != 0 && o->rundir_by_default && geteuid() != 0)
        fatal("cannot create the run directory %s: %s. It is the system daemon's (systemd makes "
              "it for smtpstatusd.service); for a daemon of your own, give --rundir DIR or set "
              "SMTPSTATUS_RUNDIR, and point its clients at the same directory",
              o->rundir, strerror(-rc));
    if (rc != 0)
        fatal("cannot create the run directory %s: %s", o->rundir, strerror(-rc));
    if (dirs_check(o->rundir, why, sizeof why) != 0)
        fatal("refusing the run directory %s: %s. Another user could plant the socket and the "
              "image that clients believe: use a directory of this user's that nobody else may "
              "write, or another --rundir",
              o->rundir, why);
    rc = dirs_check(o->statedir, why, sizeof why);
    if (rc != 0 && rc != -ENOENT)
        fatal("refusing the state directory %s: %s. Another user could plant the registry it "
              "serves after a restart: use a directory of this user's that nobody else may "
              "write, or another --statedir",
              o->statedir, why);
}

/* One daemon per run directory: an exclusive lock on a file there. */
static int
take_lock(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        fatal("cannot open the lock file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fatal("another smtpstatusd (pid %s) is running on this run directory (%s); stop it or "
              "give another --rundir",
              pid[0] ? pid : "unknown", path);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n)
        log_warnx("cannot write the pid to %s: %s", path, strerror(errno));
    return fd;
}

/* The admin group's name becomes its gid once, here; who is in it is the kernel's record of
 * each peer when it connects (peer.h), so no NSS lookup ever runs on the loop and a change of
 * membership counts from the next connection. */
static void
resolve_admin_group(struct daemon *d)
{
    d->svc.self_uid = geteuid();
    if (d->opt.admin_group == NULL)
        return;
    struct group *g = getgrnam(d->opt.admin_group);
    if (g == NULL)
        fatal("--admin-group: no group named \"%s\"", d->opt.admin_group);
    d->svc.admin_gid = g->gr_gid;
    d->svc.has_admin_gid = 1;
}

/* READY=1 to systemd's notification socket (sd_notify(3)'s protocol, without libsystemd). */
static void
notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen(path) >= 108)
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    static const char msg[] = "READY=1";
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    if (sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa, len) < 0)
        log_warnx("cannot notify systemd: %s", strerror(errno));
    close(fd);
}

/* Detaches: the parent waits until the child is ready (or gone) and exits accordingly, so a
 * script that starts the daemon can use it as soon as the command returns. Returns the pipe end
 * the child writes one byte to when ready. */
static int
daemonize(void)
{
    int p[2];
    if (pipe(p) != 0)
        fatal("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid > 0) {
        close(p[1]);
        char c;
        ssize_t n;
        while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        _exit(n == 1 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
    return p[1];
}

/* Checks the HTTP options into d->http_opt, before anything starts: a bad address or a remote
 * one without --http-allow-remote stops the daemon with a message. */
static void
configure_http(struct daemon *d)
{
    const struct options *o = &d->opt;
    struct http_server_options *h = &d->http_opt;
    memset(h, 0, sizeof *h);
    h->header_timeout_ms = o->http_header_timeout * 1000u;
    h->idle_timeout_ms = o->idle_timeout * 1000u;
    h->max_connections = o->max_connections;
    h->admin = o->http_admin;
    if (strcmp(o->http, "off") != 0) {
        char err[256];
        int loopback = 0;
        if (http_server_parse_address(o->http, &h->addr, &loopback, err, sizeof err) != 0)
            fatal("--http: %s", err);
        if (!loopback && !o->http_allow_remote)
            fatal("--http %s is not a loopback address: the debug port is for this host only. "
                  "Give --http-allow-remote to serve it there anyway",
                  o->http);
        h->tcp = 1;
    }
    if (o->http_unix) {
        int n = snprintf(d->http_socket_path, sizeof d->http_socket_path,
                         "%s/" HTTP_SOCKET_NAME, o->rundir);
        if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
            fatal("the HTTP socket path %s is too long for a Unix socket; give a shorter --rundir",
                  d->http_socket_path);
        h->unix_path = d->http_socket_path;
    }
}

static void
start_http(struct daemon *d)
{
    if (!d->http_opt.tcp && d->http_opt.unix_path == NULL) {
        log_info("http: off");
        return;
    }
    char err[512];
    if (http_server_start(&d->http, d->loop, &d->svc, &d->metrics, &d->http_opt, http_reload, d,
                          err, sizeof err) != 0)
        fatal("http: %s; choose another with --http ADDR:PORT, or --http off", err);
    if (d->http_opt.tcp)
        d->svc.http_address = d->http.address;
    if (d->http_opt.tcp)
        log_info("http: listening on %s%s", d->http.address,
                 d->opt.http_admin ? " (POST /v1/reload enabled for administrators)" : "");
    if (d->http_opt.unix_path != NULL)
        log_info("http: listening on %s", d->http_opt.unix_path);
}

/* RUNDIR/socketmap.sock for Postfix and other socketmap clients; a failure is logged and the
 * daemon serves the rest. */
static void
start_socketmap(struct daemon *d)
{
    if (!d->opt.socketmap)
        return;
    int n = snprintf(d->socketmap_path, sizeof d->socketmap_path, "%s/" SOCKETMAP_SOCKET_NAME,
                     d->opt.rundir);
    if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        log_warnx("socketmap: the path %s is too long for a Unix socket; not serving it",
                  d->socketmap_path);
        return;
    }
    struct socketmap_server_options so = {
        .path = d->socketmap_path,
        .idle_timeout_ms = d->opt.idle_timeout * 1000u,
        .max_connections = d->opt.max_connections,
        .limits = &d->limits,
    };
    int rc = socketmap_server_start(&d->socketmap, d->loop, &d->svc, &so);
    if (rc != 0)
        log_warnx("socketmap: cannot listen on %s: %s", d->socketmap_path, uv_strerror(rc));
    else
        log_info("socketmap: listening on %s", d->socketmap_path);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void
on_stop_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    log_info("received %s; shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    rpc_server_stop(&d->rpc);
    socketmap_server_stop(&d->socketmap);
    http_server_stop(&d->http);
    image_server_stop(&d->images);
    conn_limits_close(&d->limits);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void
on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    struct daemon *d = h->data;
    log_info("received SIGHUP");
    if (start_reload(d, RELOAD_BY_SIGNAL, NULL, NULL, 0) != 0)
        log_warnx("SIGHUP: no reload started");
}

static void
start_signals(struct daemon *d)
{
    struct {
        uv_signal_t *h;
        uv_signal_cb cb;
        int sig;
    } s[] = {{&d->sigint, on_stop_signal, SIGINT},
             {&d->sigterm, on_stop_signal, SIGTERM},
             {&d->sighup, on_sighup, SIGHUP}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        int rc = uv_signal_init(d->loop, s[i].h);
        s[i].h->data = d;
        if (rc == 0)
            rc = uv_signal_start(s[i].h, s[i].cb, s[i].sig);
        if (rc != 0)
            fatal("cannot watch signal %d: %s", s[i].sig, uv_strerror(rc));
    }
}

int
main(int argc, char **argv)
{
    static struct daemon d;
    parse_options(argc, argv, &d.opt);
    /* Socket activation, before daemonize(): the descriptors are passed to this pid. */
    char activated[PATH_MAX], why[256];
    int listen_fd = listen_fds_take_unix(activated, sizeof activated, why, sizeof why);
    if (listen_fd == -2 && !d.opt.check)
        log_warnx("socket activation: %s; binding the socket myself", why);
    if (listen_fd >= 0 && activated[0] != '\0' && !d.opt.check) {
        char want[PATH_MAX + sizeof SOCKET_NAME + 1];
        snprintf(want, sizeof want, "%s/" SOCKET_NAME, d.opt.rundir);
        if (strcmp(activated, want) != 0)
            log_warnx("socket activation: the socket passed is %s, but clients look for %s "
                      "(and for the image beside it): make ListenStream= and --rundir agree",
                      activated, want);
    }
    if (d.opt.check)
        return run_check(&d.opt);

    require_rules_file(&d.opt);
    configure_http(&d);
    int ready_fd = d.opt.foreground ? -1 : daemonize();
    log_open(d.opt.log_target, ready_fd >= 0);
    signal(SIGPIPE, SIG_IGN);
    d.loop = uv_default_loop();
    prepare_dirs(&d.opt);
    int nl = snprintf(d.lock_path, sizeof d.lock_path, "%s/" LOCK_NAME, d.opt.rundir);
    int ns = snprintf(d.socket_path, sizeof d.socket_path, "%s/" SOCKET_NAME, d.opt.rundir);
    if (nl < 0 || ns < 0 || (size_t)ns >= sizeof(((struct sockaddr_un *)0)->sun_path))
        fatal("the socket path %s is too long for a Unix socket; give a shorter --rundir",
              d.socket_path);
    d.lock_fd = take_lock(d.lock_path);
    resolve_admin_group(&d);

    /* Generations go on from the image a previous daemon left, which is marked superseded
     * first: its clients must not take it for this daemon's registry. */
    uint64_t last_generation;
    int rc;
    struct diag pd;
    diag_init(&pd);
    if (publisher_init(&d.publisher, d.opt.rundir, &last_generation, &pd) != 0) {
        log_diag(&pd);
        fatal("cannot publish images in %s", d.opt.rundir);
    }
    log_diag(&pd);
    diag_free(&pd);
    /* A crash in the middle of saving a reload leaves a set directory behind: clear them
     * before anything can save again. */
    int partial = state_clean(d.opt.statedir, &pd);
    log_diag(&pd);
    diag_free(&pd);
    if (partial > 0)
        log_info("removed %d partly saved registr%s from %s", partial, partial == 1 ? "y" : "ies",
                 d.opt.statedir);
    struct rules rules = {0};
    load_start_rules(&d.opt, &rules);
    choose_served(&d.opt, &rules, last_generation + 1, &d.current);
    rules_free(&rules);
    d.svc.current = &d.current;
    publish_current(&d);
    /* Right after the first publish, so that clients attaching from now on get the memfd. */
    rc = snprintf(d.image_socket_path, sizeof d.image_socket_path, "%s/" IMAGE_SERVER_SOCKET_NAME,
                  d.opt.rundir);
    /* Not longer than the main socket's path, checked above. */
    rc = rc < 0 ? UV_EINVAL
                : image_server_start(&d.images, d.loop, d.image_socket_path, &d.publisher,
                                     &d.limits);
    if (rc != 0)
        log_warnx("cannot listen on %s: %s; clients will copy the image file instead",
                  d.image_socket_path, uv_strerror(rc));
    d.svc.stats.started_at = (uint64_t)time(NULL);
    smtpstatus_image_summary s;
    smtpstatus_image_summarize(d.current.img, &s);
    char line[256];
    summary(d.current.img, line, sizeof line);
    char rline[128];
    rules_summary(d.current.img, rline, sizeof rline);
    log_info("serving generation %" PRIu64 " from %s: %s; %s", d.current.generation, s.source,
             line, rline);

    struct rpc_server_options ro = {
        .path = d.socket_path,
        .has_listen_fd = listen_fd >= 0,
        .listen_fd = listen_fd,
        .frame_limit = SMTPSTATUS_FRAME_LIMIT_DEFAULT,
        .idle_timeout_ms = d.opt.idle_timeout * 1000u,
        .max_connections = d.opt.max_connections,
        .latency = &d.metrics.latency_socket,
        .limits = &d.limits,
    };
    if ((rc = conn_limits_init(&d.limits, d.loop, d.opt.max_output_buffer)) != 0)
        fatal("cannot start: %s", uv_strerror(rc));
    d.http_opt.limits = &d.limits;
    d.metrics.limits = &d.limits;
    start_http(&d); /* first: a busy HTTP port stops the daemon before the socket exists */
    rc = rpc_server_start(&d.rpc, d.loop, &d.svc, &ro, rpc_reload, &d);
    if (rc != 0)
        fatal("cannot listen on %s: %s", d.socket_path, uv_strerror(rc));
    start_socketmap(&d);
    start_signals(&d);

    if (listen_fd >= 0)
        log_info("ready: listening on %s (socket from the service manager)",
                 activated[0] ? activated : "an unnamed socket");
    else
        log_info("ready: listening on %s", d.socket_path);
    notify_ready();
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) != 1)
            log_warnx("cannot tell the parent process that the daemon is ready");
        close(ready_fd);
        log_detach_stderr();
    }

    uv_run(d.loop, UV_RUN_DEFAULT);

    uv_loop_close(d.loop);
    publisher_close(&d.publisher);
    served_free(&d.current);
    served_reload_attempt_free(&d.svc.last_reload);
    unlink(d.lock_path);
    close(d.lock_fd);
    log_info("stopped");
    return 0;
}
