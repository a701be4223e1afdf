/*
 * smtpstatus: the command-line client of libsmtpstatus, and this file its command line. It reads
 * the whole command line (options may come before or after the subcommand; "--" ends them),
 * checks it against the table of subcommands below, opens the source of answers once
 * (source.h: the registry built into the library with --offline, else the daemon of the run
 * directory), runs the one subcommand (commands.h) against it, and exits with the subcommand's
 * status (cli.h), or 1 when the output could not be written.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "output.h"
#include "smtpstatus.h"
#include "source.h"

/* The subcommands, and what the command line may give each. */
static const struct command {
    const char *name;
    int (*run)(const struct options *opt, struct source *src);
    size_t min_args, max_args;
    int daemon_only; /* only the daemon can answer: refused with --offline */
    int renders;     /* takes --width, --smtputf8, --dsn */
    int no_source;   /* runs another program, which opens what it needs: no source here */
} commands[] = {
    {"lookup", cmd_lookup, 1, SIZE_MAX, 0, 0, 0},
    {"basic", cmd_basic, 1, 1, 0, 0, 0},
    {"search", cmd_search, 1, SIZE_MAX, 0, 0, 0},
    {"render", cmd_render, 1, SIZE_MAX, 0, 1, 0},
    {"classify", cmd_classify, 0, SIZE_MAX, 0, 0, 0},
    {"bounce", cmd_bounce, 0, 1, 0, 0, 0},
    {"info", cmd_info, 0, 0, 0, 0, 0},
    {"reload", cmd_reload, 0, 1, 1, 0, 0},
    {"stats", cmd_stats, 0, 0, 1, 0, 0},
    {"update", cmd_update, 0, 0, 0, 0, 1},
};

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
            "  bounce [FILE | -]       a bounce message (DSN, qmail, Exim, Gmail, Microsoft)\n"
            "                          read whole: one result per recipient, its reply\n"
            "                          classified; the daemon parses it, or with --offline\n"
            "                          the smtpstatus-bounce helper\n"
            "  info                    the registry answers come from\n"
            "  reload [DIR]            make the daemon reload its registry (daemon only)\n"
            "  stats                   the daemon's counters (daemon only)\n"
            "  update                  download IANA's registry files, check them, install\n"
            "                          them (the previous set kept as DIR.prev), make the\n"
            "                          daemon reload them, and print what changed\n"
            "\n"
            "Options, before or after the command:\n"
            "  --json                  one JSON object per answer, one per line\n"
            "  --pretty                indented JSON (implies --json)\n"
            "  --offline               answer from the registry built into the library,\n"
            "                          with no daemon\n"
            "  --socket                ask the daemon's socket, even when its shared image\n"
            "                          (RUNDIR/registry) could answer in-process\n"
            "  --rundir DIR            the daemon's run directory (default: %s;\n"
            "                          $SMTPSTATUS_RUNDIR, else " SMTPSTATUS_RUNDIR_DEFAULT ")\n"
            "  --timeout MS            give up on the daemon after MS milliseconds per\n"
            "                          question (default %u)\n"
            "  --width N               render: octets per line, without CRLF (default %u,\n"
            "                          at most %u)\n"
            "  --smtputf8              render: the session negotiated SMTPUTF8 (UTF-8 text)\n"
            "  --dsn                   render: RFC 3464 Status, Action and Diagnostic-Code\n"
            "                          fields instead of reply lines\n"
            "  --from URL              update: where the three CSV files are (default\n"
            "                          " UPDATE_DEFAULT_FROM ")\n"
            "  --registry DIR          update: the directory to install them in (default\n"
            "                          " UPDATE_DEFAULT_DIR ")\n"
            "  --allow-removals        update: install a set that lacks codes the installed\n"
            "                          one has (refused otherwise, as a likely bad download)\n"
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
            "     running); an update that installed nothing (a failed or partial download,\n"
            "     an invalid table, removed codes) or whose reload the daemon refused\n"
            "  2  usage error\n"
            "  3  daemon unavailable: no daemon on the socket, no answer in time, an\n"
            "     answer this client cannot read, or a run directory or socket of another\n"
            "     user (not root, you or the daemon's), which is refused; start\n"
            "     smtpstatusd, or use --offline\n",
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
        } else if (strcmp(arg, "--socket") == 0) {
            opt->socket_only = 1;
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
        } else if (strcmp(arg, "--allow-removals") == 0) {
            opt->allow_removals = 1;
        } else if (is_option(arg, "--from", 1)) {
            opt->from = option_value(argc, argv, &i, "--from");
            if (opt->from == NULL || opt->from[0] == '\0')
                return usage_error("--from needs a URL, such as " UPDATE_DEFAULT_FROM);
        } else if (is_option(arg, "--registry", 1)) {
            opt->registry = option_value(argc, argv, &i, "--registry");
            if (opt->registry == NULL || opt->registry[0] == '\0')
                return usage_error("--registry needs a directory");
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
    if (strcmp(cmd->name, "update") != 0 && (opt->from || opt->registry || opt->allow_removals))
        return usage_error("--from, --registry and --allow-removals are options of update, "
                           "not of %s", cmd->name);
    if (cmd->daemon_only && opt->offline)
        return usage_error("%s asks the daemon, so it cannot run --offline", cmd->name);
    output_configure(opt->json, opt->pretty);
    if (cmd->no_source)
        return cmd->run(opt, NULL);

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
