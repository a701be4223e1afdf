/*
 * The socket API's operations: one decoded Request in, one Response out, answered from the
 * registry being served. This file knows nothing of sockets or of the event loop, so the same
 * dispatch serves the Unix socket, is fuzzed directly, and can be tested without a daemon.
 * Reload is the one operation it cannot finish by itself: it checks the peer and says so, and
 * the caller runs the reload off the loop and fills the response when it is done.
 */
#ifndef SMTPSTATUSD_SERVICE_H
#define SMTPSTATUSD_SERVICE_H

#include <stdint.h>
#include <sys/types.h>

#include "arena.h"
#include "diag.h"
#include "peer.h"
#include "served.h"
#include "smtpstatus.pb-c.h"

/* Operations, as counted in stats. */
enum service_op {
    OP_HELLO,
    OP_LOOKUP,
    OP_BASIC,
    OP_SEARCH,
    OP_LIST,
    OP_RENDER,
    OP_CLASSIFY,
    OP_REGISTRY_INFO,
    OP_RELOAD,
    OP_STATS,
    OP_BOUNCE,
    OP_UNKNOWN,
    OP_COUNT
};

#define SERVICE_ERROR_CODES 11 /* values of Smtpstatus__V1__Error__Code */

struct stats {
    uint64_t requests[OP_COUNT];
    uint64_t errors[SERVICE_ERROR_CODES];
    uint64_t connections_open;
    uint64_t connections_total;
    uint64_t reloads_ok;
    uint64_t reloads_failed;
    uint64_t started_at; /* Unix seconds */
};

struct service {
    const struct served *current; /* the registry being served; the daemon swaps it */
    struct stats stats;
    uid_t self_uid;               /* the daemon's own user is an administrator */
    gid_t admin_gid;              /* a peer whose gid or supplementary groups, as the kernel
                                     recorded them when it connected, hold this group is an
                                     administrator ... */
    int has_admin_gid;            /* ... when this is set (--admin-group) */
    const char *image_path;       /* for hello; "" until an image is published */
    const char *http_address;     /* for hello: the HTTP port's TCP address; "" when off */
    int reload_busy;              /* a reload is running */
    struct reload_attempt last_reload; /* shown in registry info; the daemon records it */
};

enum service_result {
    SERVICE_DONE,  /* *resp is complete */
    SERVICE_RELOAD /* the peer may reload: run it, then service_reload_response() */
};

/*
 * Answers `req` into *resp (initialized here, id copied), allocating every piece from `a`.
 * Returns SERVICE_RELOAD for an authorized reload when none is running (the caller sets
 * svc->reload_busy while it runs), SERVICE_DONE otherwise. Counts the request and any error in
 * svc->stats. Never blocks.
 */
enum service_result service_handle(struct service *svc, const Smtpstatus__V1__Request *req,
                                   const struct peer *peer, struct arena *a,
                                   Smtpstatus__V1__Response *resp);

/* The operation of a request's op field (OP_UNKNOWN for none or one this daemon does not
 * know). */
enum service_op service_op_of(Smtpstatus__V1__Request__OpCase op_case);

/*
 * Whether `resp`, service_handle()'s answer to `req`, may be given again to the same question
 * for as long as the registry served is the same one (answer_cache.h): the answer to a registry
 * question, which depends on the question and the registry alone, unless it is an INTERNAL
 * error (memory that ran short may not next time).
 */
int service_answer_keepable(const Smtpstatus__V1__Request *req,
                            const Smtpstatus__V1__Response *resp);

/* Counts a request answered again with a kept answer, as service_handle() counted it the first
 * time: the request under its operation, and the answer's Error code unless it is -1. */
void service_count_kept(struct service *svc, Smtpstatus__V1__Request__OpCase op_case,
                        int error_code);

/* Makes *resp an Error response for request `id`, counting it. */
void service_error(struct service *svc, uint64_t id, Smtpstatus__V1__Error__Code code,
                   const char *message, struct arena *a, Smtpstatus__V1__Response *resp);

/*
 * Fills the response to a reload of request `id`: on success (ok) the new registry's info and
 * its diff (svc->current must already be the new registry); on failure RELOAD_FAILED with every
 * error of `d` as a problem. Counts the reload.
 */
void service_reload_response(struct service *svc, uint64_t id, int ok, const struct diag *d,
                             struct arena *a, Smtpstatus__V1__Response *resp);

/* The stable names of an operation ("lookup") and of an error code ("not_found"), as the stats
 * answer and the metrics use them; "unknown" for a value out of range. Static strings. */
const char *service_op_name(enum service_op op);
const char *service_error_name(int code);

/* Whether `peer` may reload: root, the daemon's own user, or a member of the admin group by
 * the credentials the kernel gave for it (a TCP peer, known by its uid alone, is never one by
 * group). Decided anew for each request; never blocks. */
int service_peer_is_admin(const struct service *svc, const struct peer *peer);

/* The admin group to look for among a connecting peer's supplementary groups
 * (peer_from_unix()), or NULL when there is none. Points into svc. */
const gid_t *service_admin_group(const struct service *svc);

#endif
