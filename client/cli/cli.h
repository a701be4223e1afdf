/*
 * What the files of the smtpstatus CLI share: its exit statuses and the command line as
 * smtpstatus.c read it. smtpstatus.c parses the words into a struct options and opens the source
 * of answers (source.h) once; the subcommand (commands.h) runs with both and returns one of the
 * exit statuses below; output.h prints every answer. smtpstatusd-update, which `update` execs,
 * shares the exit statuses and the defaults of update's options.
 */
#ifndef SMTPSTATUS_CLI_CLI_H
#define SMTPSTATUS_CLI_CLI_H

#include <stddef.h>

/*
 * The exit statuses of smtpstatus (also in --help):
 *   0  found / answered
 *   1  not found, invalid input or refused: an unregistered or malformed code (each still
 *      answered as far as it can be), an unknown basic code, a search with no match, a reply
 *      with no code, a reply that cannot be rendered; a reload the daemon refused (a broken
 *      registry, a user who may not reload, another reload running); an update that
 *      installed nothing (a failed or partial download, an invalid table, removed codes) or
 *      whose reload the daemon refused
 *   2  usage error: unknown option or subcommand, wrong number of arguments
 *   3  daemon unavailable (without --offline): no daemon on the socket, no answer within
 *      --timeout, an answer this client cannot read, or a run directory or socket that the
 *      library does not trust (another user's)
 */
enum {
    EXIT_ANSWERED = 0,
    EXIT_NOT_FOUND = 1, /* or invalid input */
    EXIT_USAGE = 2,
    EXIT_UNAVAILABLE = 3
};

#define DEFAULT_TIMEOUT_MS 5000u /* --timeout: the limit of each question to the daemon */
#define MAX_TIMEOUT_MS     3600000u

/* IANA's published location of the three files (the default of update's --from). */
#define UPDATE_DEFAULT_FROM "https://www.iana.org/assignments/smtp-enhanced-status-codes/"
/* The registry directory that the packaged smtpstatusd.service serves (default --registry). */
#define UPDATE_DEFAULT_DIR "/etc/smtpstatusd/registry"

/* The whole command line, as parse_args() in smtpstatus.c read it. */
struct options {
    int json, pretty, offline, socket_only, help, version;
    int smtputf8, dsn, has_width;
    unsigned width;
    unsigned timeout_ms; /* --timeout, DEFAULT_TIMEOUT_MS when not given */
    const char *rundir;  /* --rundir, or NULL for smtpstatus_default_rundir() */
    const char *from;     /* update --from URL, or NULL for IANA's location */
    const char *registry; /* update --registry DIR, or NULL for /etc/smtpstatusd/registry */
    int allow_removals;   /* update --allow-removals */
    const char *command;
    char **args; /* the words after the subcommand, options removed */
    size_t nargs;
};

#endif
