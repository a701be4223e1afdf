/*
 * smtpstatusd-update: the command line of update.h, the writer-side program behind
 * `smtpstatus update`. The smtpstatus command execs it with the options it was given (so that
 * the command itself links neither libcurl nor the registry compiler), and
 * smtpstatus-update.service runs it directly. Its options, output and exit statuses are those
 * of `smtpstatus update`; its messages name the program as argv[0] does, so they read
 * "smtpstatus: ..." when the command ran it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "smtpstatus.h"
#include "update.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: smtpstatusd-update [OPTIONS]\n"
            "\n"
            "Downloads IANA's registry files, checks them, installs them (the previous set\n"
            "kept as DIR.prev), makes the daemon reload them, and prints what changed; what\n"
            "`smtpstatus update` runs.\n"
            "\n"
            "Options:\n"
            "  --from URL              where the three CSV files are (default\n"
            "                          " UPDATE_DEFAULT_FROM ")\n"
            "  --registry DIR          the directory to install them in (default\n"
            "                          " UPDATE_DEFAULT_DIR ")\n"
            "  --allow-removals        install a set that lacks codes the installed one has\n"
            "                          (refused otherwise, as a likely bad download)\n"
            "  --offline               install only; do not ask the daemon to reload\n"
            "  --rundir DIR            the daemon's run directory ($SMTPSTATUS_RUNDIR, else\n"
            "                          " SMTPSTATUS_RUNDIR_DEFAULT ")\n"
            "  --timeout MS            give up on the daemon's answer after MS milliseconds\n"
            "                          (default %u)\n"
            "  --socket                accepted, as by smtpstatus: update always asks the socket\n"
            "  --json, --pretty        the summary as one JSON object (indented with --pretty)\n"
            "  -h, --help              this help\n"
            "  -V, --version           the version\n"
            "\n"
            "Exit status: 0 the registry is current; 1 nothing was installed, or the daemon\n"
            "refused the reload; 2 usage error; 3 the daemon's socket cannot be used.\n",
            DEFAULT_TIMEOUT_MS);
}

/* Says what is wrong with the command line; returns EXIT_USAGE. */
static int
usage_error(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", prog, what, prog);
    return EXIT_USAGE;
}

/* Opens the handle on the daemon that update_run() reloads through. Returns 0, or an exit
 * status after saying why, as the smtpstatus command does for its other subcommands. */
static int
open_daemon(const char *rundir, unsigned timeout_ms, int socket_only, smtpstatus **out)
{
    smtpstatus_options so = {rundir, timeout_ms, socket_only};
    int rc = smtpstatus_open(&so, out);
    if (rc == SMTPSTATUS_ENOSPC) {
        output_warnx("the daemon's socket path is too long; use a shorter --rundir, or --offline");
        return EXIT_UNAVAILABLE;
    }
    if (rc != 0) {
        output_error(NULL, NULL, "%s", smtpstatus_strerror(rc));
        return EXIT_NOT_FOUND;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    enum { O_FROM = 256, O_REGISTRY, O_ALLOW_REMOVALS, O_OFFLINE, O_RUNDIR, O_TIMEOUT, O_SOCKET,
           O_JSON, O_PRETTY };
    static const struct option longopts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"registry", required_argument, NULL, O_REGISTRY},
        {"allow-removals", no_argument, NULL, O_ALLOW_REMOVALS},
        {"offline", no_argument, NULL, O_OFFLINE},
        {"rundir", required_argument, NULL, O_RUNDIR},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"socket", no_argument, NULL, O_SOCKET},
        {"json", no_argument, NULL, O_JSON},
        {"pretty", no_argument, NULL, O_PRETTY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *prog = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
    struct update_options opt = {0};
    const char *rundir = NULL;
    unsigned timeout_ms = DEFAULT_TIMEOUT_MS;
    int offline = 0, socket_only = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_FROM:
        case O_REGISTRY:
        case O_RUNDIR:
            if (optarg[0] == '\0')
                return usage_error(prog, c == O_FROM ? "--from needs a URL"
                                                     : "--registry and --rundir need a directory");
            *(c == O_FROM ? &opt.from : c == O_REGISTRY ? &opt.registry : &rundir) = optarg;
            break;
        case O_TIMEOUT: {
            char *end = NULL;
            unsigned long ms = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || ms == 0 ||
                ms > MAX_TIMEOUT_MS)
                return usage_error(prog, "--timeout needs a number of milliseconds");
            timeout_ms = (unsigned)ms;
            break;
        }
        case O_ALLOW_REMOVALS: opt.allow_removals = 1; break;
        case O_OFFLINE: offline = 1; break;
        case O_SOCKET: socket_only = 1; break;
        case O_JSON: opt.json = 1; break;
        case O_PRETTY: opt.pretty = 1; break;
        case 'h': usage(stdout); return EXIT_ANSWERED;
        case 'V': printf("smtpstatusd-update %s\n", SMTPSTATUS_VERSION_STRING); return 0;
        default: return usage_error(prog, "unknown option, or an option without its value");
        }
    }
    if (optind < argc)
        return usage_error(prog, "it takes no arguments, only options");

    output_program(prog);
    output_configure(opt.json, opt.pretty);
    smtpstatus *daemon = NULL;
    int status = offline ? 0 : open_daemon(rundir, timeout_ms, socket_only, &daemon);
    if (status == 0)
        status = update_run(&opt, daemon);
    smtpstatus_close(daemon);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        output_warnx("cannot write the output: %s", strerror(errno));
        if (status == EXIT_ANSWERED)
            status = EXIT_NOT_FOUND;
    }
    return status;
}
