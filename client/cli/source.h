/*
 * Where the smtpstatus CLI's answers come from: the one place that knows there are two sources.
 * source_open() runs once, before any subcommand. With --offline it sets src->img to the
 * registry built into the library, and every answer is read from that image. Otherwise it makes
 * src->daemon, a handle on the daemon of the run directory (--rundir, else $SMTPSTATUS_RUNDIR,
 * else the default), which connects on the first question. Each subcommand asks whichever is
 * set; both kinds of answer come in the library's types and go to the same printers.
 * daemon_failed() turns every way a question to the daemon can fail into a message and an exit
 * status.
 */
#ifndef SMTPSTATUS_CLI_SOURCE_H
#define SMTPSTATUS_CLI_SOURCE_H

#include "cli.h"
#include "smtpstatus.h"

struct source {
    const smtpstatus_image *img; /* --offline: the embedded image; else the daemon's shared
                                    image, pinned, when it is usable; else NULL */
    smtpstatus *daemon;          /* unless --offline: the handle on the daemon; else NULL */
    int shared;                  /* img is the daemon's shared image, pinned */
    unsigned timeout_ms;         /* the handle's limit per question */
};

/*
 * Opens the source of answers. Returns 0 with src->img or src->daemon set (both when the
 * daemon's shared image answers), or an exit status after saying what went wrong. Does not
 * connect to the daemon's socket yet.
 */
int source_open(struct source *src, const struct options *opt);

/* Lets go of what source_open() took: the pin of the shared image, the daemon's handle and its
 * connection. The embedded image is static and never freed. */
void source_close(struct source *src);

/* Whether something accepts connections on the daemon's socket: 0, or a negative errno. Does not
 * block beyond connect(2) on a local socket. */
int source_daemon_probe(const struct source *src);

/*
 * Reports a question to the daemon that failed with `rc`; `r` is the daemon's answer when it
 * sent one (an error it named), else NULL. `key` and `input` name the question in the JSON
 * error object, as for output_error(). Returns EXIT_UNAVAILABLE when no usable answer came (no
 * daemon, none in time, one this client cannot read), else EXIT_NOT_FOUND. May connect to the
 * socket once more, to say why no daemon answered.
 */
int daemon_failed(const struct source *src, int rc, const smtpstatus_result *r, const char *key,
                  const char *input);

#endif
