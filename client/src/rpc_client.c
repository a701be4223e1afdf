/*
 * The library's client of the daemon's socket API (see "Asking the daemon" in smtpstatus.h).
 *
 * One handle holds one connection, opened on first use. A call frames one Request, writes it,
 * and reads until one whole Response frame is in, all within the handle's timeout, using poll()
 * on a non-blocking socket. When a reused connection turns out to be dead before any byte of
 * the answer came (the daemon restarted), the call reconnects and tries once more. A mutex
 * serializes calls, so a handle can be shared by threads. Answers are kept whole in a result
 * object; the accessors point into it, which is why the caller frees results, not strings.
 * Before each connect the run directory must pass the trust rules (trust.h), and after it the
 * process that serves the socket must too: a socket another user planted gets no question.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "frame.h"
#include "shared_image.h"
#include "smtpstatus.h"
#include "smtpstatus.pb-c.h"
#include "trust.h"

#define DEFAULT_TIMEOUT_MS 5000u
#define WHY_MAX            256u /* a trust refusal's reason (trust.h) */
#define ANSWER_LIMIT                                                                               \
    (16u << 20) /* the largest answer a client accepts (a full list is ~60 KiB)                    \
                 */

typedef Smtpstatus__V1__Response Response;
typedef Smtpstatus__V1__Request Request;

struct smtpstatus {
    pthread_mutex_t lock;
    struct sockaddr_un addr;
    char rundir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd;      /* -1 when not connected */
    int refused; /* under lock: why the socket was last refused (trust.h), else 0 */
    char refusal[sizeof(((struct sockaddr_un *)0)->sun_path) + 2 + WHY_MAX]; /* "PATH: why" */
    unsigned timeout_ms;
    uint64_t next_id;
    uint64_t socket_calls;      /* calls the daemon answered; under lock */
    struct shared_image shared; /* the daemon's published image (shared_image.h) */
};

struct smtpstatus_result {
    Response *resp;  /* owned: protobuf-c's unpacked message; or, for an answer from the shared
                        image, in `arena` */
    struct arena *arena;          /* owned: a shared-image answer's pieces; else NULL */
    smtpstatus *h;                /* whose pin `pinned` is */
    const smtpstatus_image *pinned; /* the shared image the answer points into, pinned until
                                       the result is freed; else NULL */
    uint16_t *codes; /* owned: entries' basic codes, converted to uint16_t */
    size_t *code_at; /* owned: where each entry's codes start in `codes` */
};

/* ---- the handle ------------------------------------------------------------------------------ */

int
smtpstatus_open(const smtpstatus_options *opt, smtpstatus **out)
{
    char rundir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (out == NULL)
        return SMTPSTATUS_EINVAL;
    *out = NULL;
    if (opt != NULL && opt->rundir != NULL) {
        if (strlen(opt->rundir) >= sizeof rundir)
            return SMTPSTATUS_ENOSPC;
        strcpy(rundir, opt->rundir);
    } else if (smtpstatus_default_rundir(rundir, sizeof rundir) != 0) {
        return SMTPSTATUS_ENOSPC;
    }
    smtpstatus *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SMTPSTATUS_ENOMEM;
    memcpy(h->rundir, rundir, sizeof h->rundir);
    h->addr.sun_family = AF_UNIX;
    int n = snprintf(h->addr.sun_path, sizeof h->addr.sun_path, "%s/smtpstatusd.sock", rundir);
    if (n < 0 || (size_t)n >= sizeof h->addr.sun_path) {
        free(h);
        return SMTPSTATUS_ENOSPC;
    }
    if (shared_image_init(&h->shared, rundir, opt != NULL && opt->socket_only) != 0) {
        free(h);
        return SMTPSTATUS_ENOSPC;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->fd = -1;
    h->timeout_ms = opt != NULL && opt->timeout_ms ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->next_id = 1;
    *out = h;
    return 0;
}

void
smtpstatus_close(smtpstatus *h)
{
    if (h == NULL)
        return;
    if (h->fd >= 0)
        close(h->fd);
    shared_image_free(&h->shared);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

const char *
smtpstatus_socket_path(const smtpstatus *h)
{
    return h->addr.sun_path;
}

struct shared_image *
smtpstatus__shared_of(smtpstatus *h)
{
    return &h->shared;
}

uint64_t
smtpstatus__socket_calls(smtpstatus *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t n = h->socket_calls;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- transport ------------------------------------------------------------------------------ */

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records why the socket was refused, for smtpstatus_socket_refusal(); returns err. Under the
 * lock. */
static int
refuse(smtpstatus *h, int err, const char *path, const char *why)
{
    h->refused = err;
    snprintf(h->refusal, sizeof h->refusal, "%s: %s", path, why);
    return err;
}

/* Connects to a daemon the trust rules accept. Returns 0, EUNAVAILABLE (no socket, or nobody
 * listening), ETIMEOUT, or ERUNDIR_FOREIGN / EPEER_FOREIGN (recorded). Under the lock. */
static int
connect_to_daemon(smtpstatus *h)
{
    char why[WHY_MAX];
    int rc = smtpstatus__trust_rundir(h->rundir, why, sizeof why);
    if (rc == SMTPSTATUS_ERUNDIR_FOREIGN)
        return refuse(h, rc, h->rundir, why);
    /* Any other failure to stat the directory makes connect() fail too, and say it as before. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE ? SMTPSTATUS_EUNAVAILABLE : SMTPSTATUS_ENOMEM;
    if (connect(fd, (struct sockaddr *)&h->addr, sizeof h->addr) != 0) {
        int e = errno;
        close(fd);
        /* A full backlog (EAGAIN) means the daemon is there but swamped: say so as a timeout. */
        return e == EAGAIN ? SMTPSTATUS_ETIMEOUT : SMTPSTATUS_EUNAVAILABLE;
    }
    /* The directory may have been swapped since it was checked; who listens cannot be faked. */
    rc = smtpstatus__trust_peer(fd, h->rundir, why, sizeof why);
    if (rc != 0) {
        close(fd);
        return rc == SMTPSTATUS_EPEER_FOREIGN ? refuse(h, rc, h->addr.sun_path, why)
                                              : SMTPSTATUS_EUNAVAILABLE;
    }
    h->refused = 0;
    h->refusal[0] = '\0';
    h->fd = fd;
    return 0;
}

int
smtpstatus_socket_refusal(smtpstatus *h, char *buf, size_t size)
{
    if (h == NULL || buf == NULL || size == 0)
        return SMTPSTATUS_EINVAL;
    pthread_mutex_lock(&h->lock);
    int err = h->refused;
    snprintf(buf, size, "%s", err != 0 ? h->refusal : "");
    pthread_mutex_unlock(&h->lock);
    return err;
}

static void
disconnect(smtpstatus *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int
wait_for(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return SMTPSTATUS_ETIMEOUT;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return SMTPSTATUS_EUNAVAILABLE;
    }
}

/* Writes all of buf. Returns 0, ETIMEOUT, or EUNAVAILABLE when the peer is gone. */
static int
send_all(int fd, const unsigned char *buf, size_t len, int64_t deadline)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_for(fd, POLLOUT, deadline);
            if (rc != 0)
                return rc;
            continue;
        }
        return SMTPSTATUS_EUNAVAILABLE;
    }
    return 0;
}

/*
 * Reads one whole frame into a malloc'd buffer (*msg, *len). Returns 0; EUNAVAILABLE when the
 * connection closed (with *got_any telling whether part of an answer had come); ETIMEOUT;
 * EPROTO for a frame that breaks the rules; ENOMEM.
 */
static int
recv_frame(int fd, int64_t deadline, unsigned char **msg, size_t *len, int *got_any)
{
    unsigned char hdr[SMTPSTATUS_FRAME_HEADER_MAX];
    size_t have = 0, hdr_len = 0;
    uint64_t body = 0;
    unsigned char *buf = NULL;
    *got_any = 0;
    for (;;) {
        /* Read the header a byte at a time: the body must not be read past this frame. */
        size_t want = hdr_len == 0 ? 1 : hdr_len + (size_t)body - have;
        unsigned char *dst = hdr_len == 0 ? hdr + have : buf + (have - hdr_len);
        ssize_t n = recv(fd, dst, want, 0);
        if (n == 0) {
            free(buf);
            return SMTPSTATUS_EUNAVAILABLE;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int rc = wait_for(fd, POLLIN, deadline);
                if (rc != 0) {
                    free(buf);
                    return rc;
                }
                continue;
            }
            free(buf);
            return SMTPSTATUS_EUNAVAILABLE;
        }
        *got_any = 1;
        have += (size_t)n;
        if (hdr_len == 0) {
            enum frame_status st = smtpstatus__frame_header(hdr, have, &hdr_len, &body);
            if (st == FRAME_MALFORMED || (st == FRAME_HEADER && body > ANSWER_LIMIT))
                return SMTPSTATUS_EPROTO;
            if (st == FRAME_NEED_MORE)
                continue;
            if ((buf = malloc(body ? (size_t)body : 1)) == NULL)
                return SMTPSTATUS_ENOMEM;
        }
        if (have == hdr_len + body) {
            *msg = buf;
            *len = (size_t)body;
            return 0;
        }
    }
}

/* One exchange on the current connection. */
static int
exchange(smtpstatus *h, const unsigned char *frame, size_t frame_len, int64_t deadline,
         Response **resp, int *got_any)
{
    *got_any = 0;
    int rc = send_all(h->fd, frame, frame_len, deadline);
    if (rc != 0)
        return rc;
    unsigned char *msg;
    size_t len;
    rc = recv_frame(h->fd, deadline, &msg, &len, got_any);
    if (rc != 0)
        return rc;
    *resp = smtpstatus__v1__response__unpack(NULL, len, msg);
    free(msg);
    return *resp != NULL ? 0 : SMTPSTATUS_EPROTO;
}

/* Sends `req` and returns the daemon's Response (owned by the caller) in *resp. */
static int
call(smtpstatus *h, Request *req, Response **resp)
{
    *resp = NULL;
    pthread_mutex_lock(&h->lock);
    req->id = h->next_id++;
    size_t n = smtpstatus__v1__request__get_packed_size(req);
    unsigned char *frame = malloc(SMTPSTATUS_FRAME_HEADER_MAX + n);
    if (frame == NULL) {
        pthread_mutex_unlock(&h->lock);
        return SMTPSTATUS_ENOMEM;
    }
    size_t hl = smtpstatus__frame_put_header(frame, n);
    smtpstatus__v1__request__pack(req, frame + hl);

    int64_t deadline = now_ms() + h->timeout_ms;
    int rc = SMTPSTATUS_EUNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = h->fd >= 0, got_any = 0;
        if (!reused && (rc = connect_to_daemon(h)) != 0)
            break;
        rc = exchange(h, frame, hl + n, deadline, resp, &got_any);
        if (rc == 0)
            break;
        disconnect(h);
        /* Only a connection that died before answering is worth one more try. */
        if (!(reused && rc == SMTPSTATUS_EUNAVAILABLE && !got_any))
            break;
    }
    free(frame);
    if (rc == 0 && (*resp)->id == 0 &&
        (*resp)->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_ERROR)
        disconnect(h); /* the daemon closes a connection whose framing it refused */
    /* An error about the framing itself answers a request the daemon could not read: id 0. */
    if (rc == 0 && (*resp)->id != req->id &&
        !((*resp)->id == 0 && (*resp)->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_ERROR)) {
        smtpstatus__v1__response__free_unpacked(*resp, NULL);
        *resp = NULL;
        disconnect(h);
        rc = SMTPSTATUS_EPROTO;
    }
    if (rc == 0)
        h->socket_calls++;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* ---- results -------------------------------------------------------------------------------- */

void
smtpstatus_result_free(smtpstatus_result *r)
{
    if (r == NULL)
        return;
    if (r->arena != NULL) {
        arena_free(r->arena);
        free(r->arena);
        smtpstatus_unpin(r->h, r->pinned);
    } else if (r->resp != NULL) {
        smtpstatus__v1__response__free_unpacked(r->resp, NULL);
    }
    free(r->codes);
    free(r->code_at);
    free(r);
}

static int
error_of(const Smtpstatus__V1__Error *e)
{
    switch (e->code) {
    case SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT:
        return SMTPSTATUS_EINVAL;
    case SMTPSTATUS__V1__ERROR__CODE__NOT_FOUND:
        return SMTPSTATUS_ENOTFOUND;
    case SMTPSTATUS__V1__ERROR__CODE__PERMISSION_DENIED:
        return SMTPSTATUS_EPERM;
    case SMTPSTATUS__V1__ERROR__CODE__RELOAD_FAILED:
        return SMTPSTATUS_ERELOAD;
    case SMTPSTATUS__V1__ERROR__CODE__BUSY:
        return SMTPSTATUS_EBUSY;
    case SMTPSTATUS__V1__ERROR__CODE__TOO_MANY_CONNECTIONS:
        return SMTPSTATUS_EUNAVAILABLE;
    default:
        return SMTPSTATUS_EDAEMON;
    }
}

/* The entries an answer carries: those of a lookup, search or list, or the one entry of a
 * classification. */
static Smtpstatus__V1__Entry *const *
wire_entries(const smtpstatus_result *r, size_t *n)
{
    const Smtpstatus__V1__LookupResponse *l = NULL;
    *n = 0;
    switch (r->resp->result_case) {
    case SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP:
        l = r->resp->lookup;
        break;
    case SMTPSTATUS__V1__RESPONSE__RESULT_SEARCH:
        l = r->resp->search;
        break;
    case SMTPSTATUS__V1__RESPONSE__RESULT_LIST:
        l = r->resp->list;
        break;
    case SMTPSTATUS__V1__RESPONSE__RESULT_CLASSIFY:
        *n = r->resp->classify->entry != NULL;
        return &r->resp->classify->entry;
    default:
        return NULL;
    }
    *n = l->n_entries;
    return l->entries;
}

/* Converts the entries' basic codes to uint16_t once, so entries can point at them. */
static int
convert_codes(smtpstatus_result *r)
{
    size_t n;
    Smtpstatus__V1__Entry *const *entries = wire_entries(r, &n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += entries[i]->n_basic_codes;
    r->codes = calloc(total ? total : 1, sizeof *r->codes);
    r->code_at = calloc(n ? n : 1, sizeof *r->code_at);
    if (r->codes == NULL || r->code_at == NULL)
        return SMTPSTATUS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        r->code_at[i] = k;
        for (size_t j = 0; j < entries[i]->n_basic_codes; j++) {
            uint32_t v = entries[i]->basic_codes[j];
            if (v > 999)
                return SMTPSTATUS_EPROTO;
            r->codes[k++] = (uint16_t)v;
        }
    }
    return 0;
}

/* Answers a registry question from the shared image `img` (pinned; the result takes the pin)
 * with the daemon's own code, into r->resp. Returns 0 or ENOMEM (and unpins). */
static int
answer_locally(smtpstatus *h, const smtpstatus_image *img, const Request *req,
               smtpstatus_result *r)
{
    r->arena = calloc(1, sizeof *r->arena);
    if (r->arena == NULL) {
        smtpstatus_unpin(h, img);
        return SMTPSTATUS_ENOMEM;
    }
    r->h = h;
    r->pinned = img;
    r->resp = arena_alloc(r->arena, sizeof *r->resp);
    if (r->resp != NULL)
        answer_query(img, NULL, req, r->arena, r->resp);
    return r->arena->failed ? SMTPSTATUS_ENOMEM : 0;
}

/* Runs a call and wraps its answer; `want` is the result case a success must have. Registry
 * questions are answered from the daemon's shared image when it is usable, else (and for the
 * daemon's own questions) over the socket. */
static int
run(smtpstatus *h, Request *req, Smtpstatus__V1__Response__ResultCase want, smtpstatus_result **out)
{
    if (h == NULL || out == NULL)
        return SMTPSTATUS_EINVAL;
    *out = NULL;
    smtpstatus_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return SMTPSTATUS_ENOMEM;
    const smtpstatus_image *img;
    int rc;
    if (answer_is_query(req) && smtpstatus_pin(h, &img) == 0)
        rc = answer_locally(h, img, req, r);
    else
        rc = call(h, req, &r->resp);
    if (rc != 0) {
        smtpstatus_result_free(r);
        return rc;
    }
    if (r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_ERROR) {
        *out = r;
        return error_of(r->resp->error);
    }
    if (r->resp->result_case != want || (rc = convert_codes(r)) != 0) {
        smtpstatus_result_free(r);
        return rc != 0 ? rc : SMTPSTATUS_EPROTO;
    }
    *out = r;
    return 0;
}

const char *
smtpstatus_result_message(const smtpstatus_result *r)
{
    return r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_ERROR ? r->resp->error->message
                                                                          : "";
}

const char *
smtpstatus_result_problem(const smtpstatus_result *r, size_t i)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_ERROR ||
        i >= r->resp->error->n_problems)
        return NULL;
    return r->resp->error->problems[i];
}

/* ---- the calls ------------------------------------------------------------------------------ */

int
smtpstatus_lookup(smtpstatus *h, const char *const *codes, size_t n, smtpstatus_result **out)
{
    Smtpstatus__V1__LookupRequest lr = SMTPSTATUS__V1__LOOKUP_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    if (codes == NULL && n > 0)
        return SMTPSTATUS_EINVAL;
    lr.n_codes = n;
    lr.codes = (char **)codes;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_LOOKUP;
    req.lookup = &lr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP, out);
}

int
smtpstatus_search(smtpstatus *h, const char *query, unsigned limit, smtpstatus_result **out)
{
    Smtpstatus__V1__SearchRequest sr = SMTPSTATUS__V1__SEARCH_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    if (query == NULL)
        return SMTPSTATUS_EINVAL;
    sr.query = (char *)query;
    sr.limit = limit;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_SEARCH;
    req.search = &sr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_SEARCH, out);
}

int
smtpstatus_list(smtpstatus *h, int subject, smtpstatus_result **out)
{
    Smtpstatus__V1__ListRequest lr = SMTPSTATUS__V1__LIST_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    lr.has_subject = subject >= 0;
    lr.subject = subject >= 0 ? (uint32_t)subject : 0;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_LIST;
    req.list = &lr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_LIST, out);
}

int
smtpstatus_lookup_basic_remote(smtpstatus *h, uint16_t basic, smtpstatus_result **out)
{
    Smtpstatus__V1__BasicRequest br = SMTPSTATUS__V1__BASIC_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    br.basic = basic;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_BASIC;
    req.basic = &br;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_BASIC, out);
}

int
smtpstatus_registry_info_get(smtpstatus *h, smtpstatus_result **out)
{
    Smtpstatus__V1__RegistryInfoRequest ir = SMTPSTATUS__V1__REGISTRY_INFO_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_REGISTRY_INFO;
    req.registry_info = &ir;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_REGISTRY_INFO, out);
}

int
smtpstatus_reload(smtpstatus *h, const char *dir, smtpstatus_result **out)
{
    Smtpstatus__V1__ReloadRequest rr = SMTPSTATUS__V1__RELOAD_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    rr.directory = (char *)(dir != NULL ? dir : "");
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_RELOAD;
    req.reload = &rr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD, out);
}

int
smtpstatus_stats(smtpstatus *h, smtpstatus_result **out)
{
    Smtpstatus__V1__StatsRequest sr = SMTPSTATUS__V1__STATS_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_STATS;
    req.stats = &sr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_STATS, out);
}

int
smtpstatus_render_remote(smtpstatus *h, uint16_t basic, const char *enhanced, const char *text,
                         const smtpstatus_render_options *opt, smtpstatus_result **out)
{
    Smtpstatus__V1__RenderRequest rr = SMTPSTATUS__V1__RENDER_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    rr.basic = basic;
    rr.enhanced = (char *)(enhanced != NULL ? enhanced : "");
    rr.use_default_text = text == NULL;
    rr.text = (char *)(text != NULL ? text : "");
    if (opt != NULL) {
        rr.width = opt->width;
        rr.smtputf8 = opt->smtputf8 != 0;
        rr.dsn = opt->form == SMTPSTATUS_FORM_DSN;
    }
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_RENDER;
    req.render = &rr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_RENDER, out);
}

int
smtpstatus_classify_remote(smtpstatus *h, const char *reply, size_t len, smtpstatus_result **out)
{
    Smtpstatus__V1__ClassifyRequest cr = SMTPSTATUS__V1__CLASSIFY_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    if (reply == NULL && len > 0)
        return SMTPSTATUS_EINVAL;
    cr.reply.data = (uint8_t *)reply;
    cr.reply.len = len;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_CLASSIFY;
    req.classify = &cr;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_CLASSIFY, out);
}

int
smtpstatus_bounce_remote(smtpstatus *h, const char *msg, size_t len, smtpstatus_result **out)
{
    Smtpstatus__V1__BounceRequest br = SMTPSTATUS__V1__BOUNCE_REQUEST__INIT;
    Request req = SMTPSTATUS__V1__REQUEST__INIT;
    if (msg == NULL && len > 0)
        return SMTPSTATUS_EINVAL;
    /* A longer message would be over the daemon's frame limit: its report parts come first. */
    br.truncated = len > SMTPSTATUS_BOUNCE_REMOTE_MAX;
    br.message.data = (uint8_t *)msg;
    br.message.len = br.truncated ? SMTPSTATUS_BOUNCE_REMOTE_MAX : len;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_BOUNCE;
    req.bounce = &br;
    return run(h, &req, SMTPSTATUS__V1__RESPONSE__RESULT_BOUNCE, out);
}

/* ---- accessors ------------------------------------------------------------------------------ */

size_t
smtpstatus_result_entry_count(const smtpstatus_result *r)
{
    size_t n;
    if (r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_CLASSIFY)
        return 0; /* its entry is the classification's */
    wire_entries(r, &n);
    return n;
}

/* A class or subject part from the wire, which carries title and description only. */
static void
fill_part(const Smtpstatus__V1__Part *p, smtpstatus_part *out)
{
    memset(out, 0, sizeof *out);
    if (p == NULL)
        return;
    out->title = p->title;
    out->description = p->description;
    out->reference = "";
    out->submitter = "";
    out->change_controller = "";
}

/* Fills *out from wire entry i of the answer (its codes converted by convert_codes()). */
static int
fill_entry(const smtpstatus_result *r, size_t i, const Smtpstatus__V1__Entry *e,
           smtpstatus_entry *out)
{
    memset(out, 0, sizeof *out);
    if (smtpstatus_code_parse(e->code, strlen(e->code), SMTPSTATUS_PARSE_ALLOW_X, &out->code,
                              NULL) != 0)
        return SMTPSTATUS_EPROTO;
    fill_part(e->class_, &out->cls);
    fill_part(e->subject, &out->subject);
    out->subject_registered = e->subject != NULL;
    out->registered = e->registered;
    if (!e->registered)
        return 0;
    out->title = e->title;
    out->description = e->description;
    out->reference = e->reference;
    out->submitter = e->submitter;
    out->change_controller = e->change_controller;
    out->basic_codes_raw = e->basic_codes_raw;
    out->basic_codes = r->codes + r->code_at[i];
    out->basic_code_count = (uint32_t)e->n_basic_codes;
    for (size_t k = 0; k < e->n_basic_classes; k++) {
        const char *w = e->basic_classes[k];
        if (w[0] >= '2' && w[0] <= '5')
            out->basic_classes |= 1u << (w[0] - '0');
    }
    out->assoc_flags = e->basic_any ? SMTPSTATUS_ASSOC_ANY : 0;
    return 0;
}

int
smtpstatus_result_entry(const smtpstatus_result *r, size_t i, smtpstatus_entry *out,
                        const char **why)
{
    size_t n;
    Smtpstatus__V1__Entry *const *entries = wire_entries(r, &n);
    if (why != NULL)
        *why = NULL;
    if (i >= smtpstatus_result_entry_count(r))
        return SMTPSTATUS_EINVAL;
    if (entries[i]->error[0] != '\0') {
        memset(out, 0, sizeof *out);
        if (why != NULL)
            *why = entries[i]->error;
        return SMTPSTATUS_EINVAL;
    }
    if (fill_entry(r, i, entries[i], out) == 0)
        return 0;
    /* A lookup of a provider's token: its vendors answer, the registry has no entry. */
    if (why != NULL && entries[i]->n_vendors > 0)
        *why = "a provider's own code, not an enhanced status code: see its vendors";
    memset(out, 0, sizeof *out);
    return SMTPSTATUS_EINVAL;
}

/* Wire entry i of the answer, or NULL past the end (a classify answer's entry is i 0). */
static const Smtpstatus__V1__Entry *
wire_entry(const smtpstatus_result *r, size_t i)
{
    size_t n;
    Smtpstatus__V1__Entry *const *entries = wire_entries(r, &n);
    return i < n ? entries[i] : NULL;
}

size_t
smtpstatus_result_vendor_count(const smtpstatus_result *r, size_t i)
{
    const Smtpstatus__V1__Entry *e = wire_entry(r, i);
    return e != NULL ? e->n_vendors : 0;
}

int
smtpstatus_result_vendor(const smtpstatus_result *r, size_t i, size_t k, smtpstatus_vendor *out)
{
    const Smtpstatus__V1__Entry *e = wire_entry(r, i);
    if (e == NULL || k >= e->n_vendors || out == NULL)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__Vendor *v = e->vendors[k];
    out->provider = v->provider;
    out->code = v->code;
    out->meaning = v->meaning;
    out->source = v->source;
    out->reason = smtpstatus_reason_from_name(v->reason, strlen(v->reason));
    if (out->reason == 0)
        out->reason = SMTPSTATUS_REASON_OTHER; /* a reason this build does not know */
    return 0;
}

const char *
smtpstatus_result_entry_code(const smtpstatus_result *r, size_t i)
{
    const Smtpstatus__V1__Entry *e = wire_entry(r, i);
    return e != NULL ? e->code : NULL;
}

int
smtpstatus_result_basic(const smtpstatus_result *r, smtpstatus_basic_answer *out)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_BASIC)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__BasicResponse *b = r->resp->basic;
    out->code = (uint16_t)b->basic;
    out->standard = b->standard;
    out->text = b->text;
    out->reference = b->reference;
    out->assoc_count = b->n_associations;
    return 0;
}

int
smtpstatus_result_basic_assoc(const smtpstatus_result *r, size_t i, smtpstatus_code *code,
                              smtpstatus_match *match, const char **title)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_BASIC ||
        i >= r->resp->basic->n_associations)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__BasicAssociation *a = r->resp->basic->associations[i];
    if (smtpstatus_code_parse(a->code, strlen(a->code), SMTPSTATUS_PARSE_ALLOW_X, code, NULL) != 0)
        return SMTPSTATUS_EPROTO;
    *match = strcmp(a->match, "exact") == 0      ? SMTPSTATUS_MATCH_EXACT
             : strcmp(a->match, "wildcard") == 0 ? SMTPSTATUS_MATCH_WILDCARD
                                                 : SMTPSTATUS_MATCH_ANY;
    *title = a->title;
    return 0;
}

/* The RegistryInfo of a registry-info or reload answer, or NULL for another answer. */
static const Smtpstatus__V1__RegistryInfo *
registry_of(const smtpstatus_result *r)
{
    if (r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_REGISTRY_INFO)
        return r->resp->registry_info;
    if (r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD)
        return r->resp->reload->registry;
    return NULL;
}

/* The code diff of a registry-info or reload answer (the reload's for a reload answer), or
 * NULL. */
static const Smtpstatus__V1__CodeDiff *
code_diff_of(const smtpstatus_result *r)
{
    if (r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD && r->resp->reload->diff)
        return r->resp->reload->diff;
    const Smtpstatus__V1__RegistryInfo *info = registry_of(r);
    return info != NULL ? info->last_diff : NULL;
}

int
smtpstatus_result_code_change(const smtpstatus_result *r, size_t i, smtpstatus_code_change *out)
{
    if (registry_of(r) == NULL)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__CodeDiff *d = code_diff_of(r);
    if (d == NULL || i >= d->n_fields || d->fields[i] == NULL)
        return SMTPSTATUS_EINVAL;
    out->code = d->fields[i]->code;
    out->field = d->fields[i]->field;
    out->old_value = d->fields[i]->old_value;
    out->new_value = d->fields[i]->new_value;
    return 0;
}

int
smtpstatus_result_registry(const smtpstatus_result *r, smtpstatus_registry_info *out)
{
    const Smtpstatus__V1__RegistryInfo *info = registry_of(r);
    if (info == NULL)
        return SMTPSTATUS_EINVAL;
    memset(out, 0, sizeof *out);
    out->generation = info->generation;
    out->source = info->source;
    out->loaded_at = info->loaded_at;
    out->digest = info->digest;
    out->class_count = info->classes;
    out->subject_count = info->subjects;
    out->code_count = info->codes;
    out->basic_count = info->basic_codes;
    const Smtpstatus__V1__CodeDiff *d = code_diff_of(r);
    if (d != NULL) {
        out->field_change_count = d->n_fields;
        out->descriptions_differ = d->descriptions_differ;
        out->added = (const char *const *)d->added;
        out->added_count = d->n_added;
        out->removed = (const char *const *)d->removed;
        out->removed_count = d->n_removed;
        out->changed = (const char *const *)d->changed;
        out->changed_count = d->n_changed;
    }
    out->warnings = (const char *const *)info->warnings;
    out->warning_count = info->n_warnings;
    return 0;
}

int
smtpstatus_result_last_reload(const smtpstatus_result *r, smtpstatus_reload_attempt *out)
{
    const Smtpstatus__V1__RegistryInfo *info = registry_of(r);
    if (info == NULL)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__ReloadAttempt *a = info->last_reload;
    if (a == NULL)
        return SMTPSTATUS_ENOTFOUND;
    out->at = a->at;
    out->source = a->source;
    out->trigger = a->trigger;
    out->ok = a->ok;
    out->problems = (const char *const *)a->problems;
    out->problem_count = a->n_problems;
    return 0;
}

/* The rules diff of a registry-info or reload answer, or NULL. */
static const Smtpstatus__V1__RuleDiff *
rule_diff_of(const smtpstatus_result *r)
{
    if (r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD && r->resp->reload->rule_diff)
        return r->resp->reload->rule_diff;
    const Smtpstatus__V1__RegistryInfo *info = registry_of(r);
    return info != NULL ? info->last_rule_diff : NULL;
}

int
smtpstatus_result_rules(const smtpstatus_result *r, smtpstatus_rules_info *out)
{
    const Smtpstatus__V1__RegistryInfo *info = registry_of(r);
    if (info == NULL)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__RuleDiff *d = rule_diff_of(r);
    out->file = info->rules_file;
    out->admin_count = info->admin_rules;
    out->builtin_count = info->builtin_rules;
    out->change_count = d != NULL ? d->n_added + d->n_removed + d->n_changed : 0;
    return 0;
}

int
smtpstatus_result_rule_change(const smtpstatus_result *r, size_t i, smtpstatus_rule_change *out)
{
    const Smtpstatus__V1__RuleDiff *d = rule_diff_of(r);
    if (d == NULL)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__RuleRef *ref;
    if (i < d->n_added) {
        out->change = "added";
        ref = d->added[i];
    } else if ((i -= d->n_added) < d->n_removed) {
        out->change = "removed";
        ref = d->removed[i];
    } else if ((i -= d->n_removed) < d->n_changed) {
        out->change = "changed";
        ref = d->changed[i];
    } else {
        return SMTPSTATUS_EINVAL;
    }
    out->name = ref->name;
    out->was = ref->was;
    out->reason = ref->reason;
    out->basic = ref->basic;
    out->enhanced = ref->enhanced;
    out->pattern = ref->pattern;
    out->admin = ref->admin;
    return 0;
}

int
smtpstatus_result_counter(const smtpstatus_result *r, size_t i, const char **group,
                          const char **name, uint64_t *value)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_STATS)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__StatsResponse *s = r->resp->stats;
    if (i < s->n_requests) {
        *group = "requests";
        *name = s->requests[i]->name;
        *value = s->requests[i]->value;
        return 0;
    }
    i -= s->n_requests;
    if (i < s->n_errors) {
        *group = "errors";
        *name = s->errors[i]->name;
        *value = s->errors[i]->value;
        return 0;
    }
    i -= s->n_errors;
    const struct {
        const char *name;
        uint64_t value;
    } daemon[] = {{"connections_open", s->connections_open},
                  {"connections_total", s->connections_total},
                  {"reloads_ok", s->reloads_ok},
                  {"reloads_failed", s->reloads_failed},
                  {"generation", s->generation},
                  {"uptime_seconds", s->uptime_seconds}};
    if (i >= sizeof daemon / sizeof daemon[0])
        return SMTPSTATUS_EINVAL;
    *group = "daemon";
    *name = daemon[i].name;
    *value = daemon[i].value;
    return 0;
}

const char *
smtpstatus_result_render_output(const smtpstatus_result *r)
{
    return r->resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_RENDER ? r->resp->render->reply
                                                                           : NULL;
}

const char *
smtpstatus_result_render_line(const smtpstatus_result *r, size_t i)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_RENDER ||
        i >= r->resp->render->n_lines)
        return NULL;
    return r->resp->render->lines[i];
}

const char *
smtpstatus_result_render_warning(const smtpstatus_result *r, size_t i)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_RENDER ||
        i >= r->resp->render->n_warnings)
        return NULL;
    return r->resp->render->warnings[i];
}

int
smtpstatus_result_classification(const smtpstatus_result *r, smtpstatus_classification *out,
                                 const char **text)
{
    if (r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_CLASSIFY)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__ClassifyResponse *c = r->resp->classify;
    memset(out, 0, sizeof *out);
    out->basic = c->basic <= 999 ? (uint16_t)c->basic : 0;
    out->has_enhanced =
        c->enhanced[0] != '\0' &&
        smtpstatus_code_parse(c->enhanced, strlen(c->enhanced), 0, &out->enhanced, NULL) == 0;
    static const smtpstatus_kind kinds[] = {SMTPSTATUS_KIND_SUCCESS, SMTPSTATUS_KIND_INTERMEDIATE,
                                            SMTPSTATUS_KIND_TRANSIENT, SMTPSTATUS_KIND_PERMANENT};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (strcmp(c->kind, smtpstatus_kind_name(kinds[k])) == 0)
            out->kind = kinds[k];
    out->retry = c->retry;
    for (size_t i = 0; i < c->n_problems; i++)
        for (unsigned bit = 1; bit != 0; bit <<= 1)
            if (smtpstatus_problem_name(bit) != NULL &&
                strcmp(smtpstatus_problem_name(bit), c->problems[i]) == 0)
                out->problems |= bit;
    out->text_len = strlen(c->text);
    if (text != NULL)
        *text = c->text;
    /* Both sides number the reasons alike (smtpstatus.proto). A daemon from before reasons sends
     * none: the kind then gives what the codes alone can say. A newer reason is "other". */
    if ((int)c->reason > 0 && (int)c->reason <= (int)SMTPSTATUS_REASON_MAX)
        out->reason = (smtpstatus_reason)c->reason;
    else if ((int)c->reason == 0 && out->kind == SMTPSTATUS_KIND_SUCCESS)
        out->reason = SMTPSTATUS_REASON_SUCCESS;
    else if ((int)c->reason == 0 && out->kind == SMTPSTATUS_KIND_INTERMEDIATE)
        out->reason = SMTPSTATUS_REASON_INTERMEDIATE;
    else
        out->reason = SMTPSTATUS_REASON_OTHER;
    out->recipient_invalid = c->recipient_invalid;
    out->retry_after = c->retry_after;
    out->rule = c->rule;
    out->rule_note = c->rule_note;
    out->has_status = c->has_status && smtpstatus_code_parse(c->status, strlen(c->status), 0,
                                                             &out->status, NULL) == 0;
    if (out->has_enhanced && c->entry != NULL && fill_entry(r, 0, c->entry, &out->entry) != 0)
        return SMTPSTATUS_EPROTO;
    return 0;
}

/* ---- bounce answers -------------------------------------------------------------------------- */

int
smtpstatus_result_bounce(const smtpstatus_result *r, const char **format,
                         const char **reporting_mta, size_t *count, int *truncated)
{
    if (r == NULL || r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_BOUNCE)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__BounceResponse *b = r->resp->bounce;
    if (format != NULL)
        *format = b->format;
    if (reporting_mta != NULL)
        *reporting_mta = b->reporting_mta;
    if (count != NULL)
        *count = b->n_recipients;
    if (truncated != NULL)
        *truncated = b->truncated;
    return 0;
}

int
smtpstatus_result_bounce_recipient(const smtpstatus_result *r, size_t i,
                                   smtpstatus_bounce_recipient *out)
{
    if (r == NULL || out == NULL || r->resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_BOUNCE ||
        i >= r->resp->bounce->n_recipients)
        return SMTPSTATUS_EINVAL;
    const Smtpstatus__V1__BounceRecipient *x = r->resp->bounce->recipients[i];
    memset(out, 0, sizeof *out);
    out->final_recipient = x->final_recipient;
    out->original_recipient = x->original_recipient;
    out->action = x->action;
    out->failed = x->failed;
    out->status = x->status;
    out->remote_mta = x->remote_mta;
    out->diagnostic_code = x->diagnostic_code;
    out->last_attempt_date = x->last_attempt_date;
    out->will_retry_until = x->will_retry_until;
    /* As for a classification: a reason this library does not know is "other". */
    out->reason = (int)x->reason > 0 && (int)x->reason <= (int)SMTPSTATUS_REASON_MAX
                      ? (smtpstatus_reason)x->reason
                      : SMTPSTATUS_REASON_OTHER;
    out->retry = x->retry;
    out->recipient_invalid = x->recipient_invalid;
    out->retry_after = x->retry_after;
    out->rule = x->rule;
    return 0;
}
