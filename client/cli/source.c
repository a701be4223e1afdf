/*
 * Where the smtpstatus CLI's answers come from (see source.h): the embedded image with
 * --offline, else a handle on the daemon of the run directory. Also the messages for a question
 * the daemon did not answer, each naming what to do next: start the daemon, point --rundir at
 * it, raise --timeout, or use --offline. A daemon the library does not trust (trust.h) is
 * reported as unavailable too, with the path and why.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "output.h"
#include "source.h"

#define SOCKET_NAME "smtpstatusd.sock"

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

int
source_daemon_probe(const struct source *src)
{
    return socket_probe(smtpstatus_socket_path(src->daemon));
}

int
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
    case SMTPSTATUS_ERUNDIR_FOREIGN:
    case SMTPSTATUS_EPEER_FOREIGN: {
        char why[320];
        smtpstatus_socket_refusal(src->daemon, why, sizeof why);
        output_warnx("not trusted: %s", why);
        output_warnx("only root, you or the daemon's user may own the run directory and serve "
                     "its socket, or another user could forge the answers; point --rundir or "
                     "SMTPSTATUS_RUNDIR at the daemon's (default " SMTPSTATUS_RUNDIR_DEFAULT
                     "), or use --offline");
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

int
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
    smtpstatus_options so = {opt->rundir, opt->timeout_ms, opt->socket_only};
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
    src->shared = smtpstatus_pin(src->daemon, &src->img) == 0;
    return 0;
}

void
source_close(struct source *src)
{
    if (src->shared)
        smtpstatus_unpin(src->daemon, src->img);
    smtpstatus_close(src->daemon);
    src->daemon = NULL;
    src->img = NULL;
}
