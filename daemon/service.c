/*
 * The socket API's operations (see service.h). The registry questions are answered by
 * answer.c, the code the library runs in-process on the daemon's shared image; this file adds
 * what only the daemon knows (hello, registry info, reload, stats) and counts. Strings that come
 * from the image are pointed at, not copied: the image outlives the response, which is packed
 * before the loop can swap registries.
 */
#include "service.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "bounce.h"
#include "smtpstatus.h"

#define VERSION SMTPSTATUS_VERSION_STRING
#define PROTOCOL 1

typedef Smtpstatus__V1__Response Response;

static const char *const error_names[SERVICE_ERROR_CODES] = {
    "unspecified",     "invalid_argument",  "not_found", "permission_denied", "frame_too_large",
    "malformed_frame", "unknown_operation", "reload_failed", "busy",           "internal",
    "too_many_connections"};

static const char *const op_names[OP_COUNT] = {
    "hello",  "lookup",        "basic",  "search", "list", "render",
    "classify", "registry_info", "reload", "stats",  "bounce", "unknown"};

const char *
service_op_name(enum service_op op)
{
    return (unsigned)op < OP_COUNT ? op_names[op] : "unknown";
}

const char *
service_error_name(int code)
{
    return (unsigned)code < SERVICE_ERROR_CODES ? error_names[code] : "unknown";
}

void
service_error(struct service *svc, uint64_t id, Smtpstatus__V1__Error__Code code,
              const char *message, struct arena *a, Response *resp)
{
    answer_error(id, code, message, a, resp);
    if ((unsigned)resp->error->code < SERVICE_ERROR_CODES)
        svc->stats.errors[resp->error->code]++;
}

/* s made well-formed UTF-8 in the arena: a path (the source directory, the image's) is any
 * bytes the file system allows, and a protobuf string must be UTF-8. NULL stays "". */
static char *
utf8_field(struct arena *a, const char *s)
{
    return s != NULL ? arena_utf8dup(a, s, strlen(s)) : answer_str(s);
}

static void
handle_hello(struct service *svc, struct arena *a, Response *resp)
{
    Smtpstatus__V1__HelloResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__HelloResponse, SMTPSTATUS__V1__HELLO_RESPONSE__INIT);
    if (m == NULL)
        return;
    m->version = (char *)VERSION;
    m->protocol = PROTOCOL;
    m->generation = svc->current->generation;
    m->image_path = utf8_field(a, svc->image_path);
    m->http_address = answer_str(svc->http_address);
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_HELLO;
    resp->hello = m;
}

static Smtpstatus__V1__CodeDiff *
make_diff(struct arena *a, const struct code_diff *d)
{
    Smtpstatus__V1__CodeDiff *m = ANSWER_NEW(a, Smtpstatus__V1__CodeDiff, SMTPSTATUS__V1__CODE_DIFF__INIT);
    if (m != NULL) {
        m->n_added = d->added_count;
        m->added = d->added;
        m->n_removed = d->removed_count;
        m->removed = d->removed;
        m->n_changed = d->changed_count;
        m->changed = d->changed;
        m->descriptions_differ = (uint32_t)d->descriptions_differ;
        m->fields = ANSWER_NEW_ARRAY(a, d->field_count, Smtpstatus__V1__CodeFieldChange *);
        if (m->fields == NULL)
            return m;
        for (size_t i = 0; i < d->field_count; i++) {
            Smtpstatus__V1__CodeFieldChange *f = ANSWER_NEW(
                a, Smtpstatus__V1__CodeFieldChange, SMTPSTATUS__V1__CODE_FIELD_CHANGE__INIT);
            if (f == NULL)
                return m;
            /* code_diff_compute() made them well-formed UTF-8 and owns them. */
            f->code = d->fields[i].code;
            f->field = d->fields[i].field;
            f->old_value = d->fields[i].old;
            f->new_value = d->fields[i].new;
            m->fields[i] = f;
        }
        m->n_fields = d->field_count;
    }
    return m;
}

static Smtpstatus__V1__RuleRef **
make_rule_refs(struct arena *a, const struct rule_ref *refs, size_t n)
{
    Smtpstatus__V1__RuleRef **v = ANSWER_NEW_ARRAY(a, n, Smtpstatus__V1__RuleRef *);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        Smtpstatus__V1__RuleRef *m =
            ANSWER_NEW(a, Smtpstatus__V1__RuleRef, SMTPSTATUS__V1__RULE_REF__INIT);
        if (m == NULL)
            return NULL;
        /* Names and patterns come from the rules file: any bytes its owner wrote. */
        m->name = utf8_field(a, refs[i].name);
        m->reason = answer_str(refs[i].reason);
        m->basic = arena_strndup(a, refs[i].basic, strlen(refs[i].basic));
        m->enhanced = arena_strndup(a, refs[i].enhanced, strlen(refs[i].enhanced));
        m->pattern = utf8_field(a, refs[i].pattern);
        m->admin = refs[i].admin != 0;
        m->was = utf8_field(a, refs[i].was);
        v[i] = m;
    }
    return v;
}

/* The rules diff, or NULL on ENOMEM (a->failed says so). */
static Smtpstatus__V1__RuleDiff *
make_rule_diff(struct arena *a, const struct rule_diff *d)
{
    Smtpstatus__V1__RuleDiff *m =
        ANSWER_NEW(a, Smtpstatus__V1__RuleDiff, SMTPSTATUS__V1__RULE_DIFF__INIT);
    if (m != NULL) {
        m->n_added = d->added_count;
        m->added = make_rule_refs(a, d->added, d->added_count);
        m->n_removed = d->removed_count;
        m->removed = make_rule_refs(a, d->removed, d->removed_count);
        m->n_changed = d->changed_count;
        m->changed = make_rule_refs(a, d->changed, d->changed_count);
    }
    return m;
}

/* The last reload attempt, or NULL (on ENOMEM too: a->failed says which) when none was made.
 * Its strings are the daemon's, well-formed already, and outlive the response. */
static Smtpstatus__V1__ReloadAttempt *
make_attempt(struct arena *a, const struct reload_attempt *r)
{
    if (!r->known)
        return NULL;
    Smtpstatus__V1__ReloadAttempt *m =
        ANSWER_NEW(a, Smtpstatus__V1__ReloadAttempt, SMTPSTATUS__V1__RELOAD_ATTEMPT__INIT);
    if (m == NULL)
        return NULL;
    m->at = r->at;
    m->source = answer_str(r->source);
    m->trigger = answer_str(r->trigger);
    m->ok = r->ok != 0;
    m->n_problems = r->problem_count;
    m->problems = r->problems;
    return m;
}

static Smtpstatus__V1__RegistryInfo *
make_info(struct service *svc, struct arena *a)
{
    const struct served *s = svc->current;
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(s->img, &sum);
    Smtpstatus__V1__RegistryInfo *m =
        ANSWER_NEW(a, Smtpstatus__V1__RegistryInfo, SMTPSTATUS__V1__REGISTRY_INFO__INIT);
    if (m == NULL)
        return NULL;
    m->generation = s->generation;
    m->source = utf8_field(a, sum.source);
    m->loaded_at = s->loaded_at;
    m->digest = arena_printf(a, "%016" PRIx64, sum.source_digest);
    m->classes = sum.class_count;
    m->subjects = sum.subject_count;
    m->codes = sum.code_count;
    m->basic_codes = sum.basic_count;
    m->last_diff = make_diff(a, &s->last_diff);
    m->n_warnings = s->warning_count;
    m->warnings = s->warnings;
    m->last_reload = make_attempt(a, &svc->last_reload);
    rules_image_counts(s->img, &m->admin_rules, &m->builtin_rules);
    m->rules_file = utf8_field(a, s->rules_file != NULL ? s->rules_file : "");
    m->last_rule_diff = make_rule_diff(a, &s->last_rule_diff);
    return m;
}

static void
handle_stats(struct service *svc, struct arena *a, uint64_t now, Response *resp)
{
    Smtpstatus__V1__StatsResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__StatsResponse, SMTPSTATUS__V1__STATS_RESPONSE__INIT);
    Smtpstatus__V1__Counter **rq = ANSWER_NEW_ARRAY(a, OP_COUNT, Smtpstatus__V1__Counter *);
    Smtpstatus__V1__Counter **er = ANSWER_NEW_ARRAY(a, SERVICE_ERROR_CODES, Smtpstatus__V1__Counter *);
    if (m == NULL || rq == NULL || er == NULL)
        return;
    for (int i = 0; i < OP_COUNT; i++) {
        rq[i] = ANSWER_NEW(a, Smtpstatus__V1__Counter, SMTPSTATUS__V1__COUNTER__INIT);
        if (rq[i] == NULL)
            return;
        rq[i]->name = (char *)op_names[i];
        rq[i]->value = svc->stats.requests[i];
    }
    for (int i = 0; i < SERVICE_ERROR_CODES; i++) {
        er[i] = ANSWER_NEW(a, Smtpstatus__V1__Counter, SMTPSTATUS__V1__COUNTER__INIT);
        if (er[i] == NULL)
            return;
        er[i]->name = (char *)error_names[i];
        er[i]->value = svc->stats.errors[i];
    }
    m->n_requests = OP_COUNT;
    m->requests = rq;
    m->n_errors = SERVICE_ERROR_CODES;
    m->errors = er;
    m->connections_open = svc->stats.connections_open;
    m->connections_total = svc->stats.connections_total;
    m->reloads_ok = svc->stats.reloads_ok;
    m->reloads_failed = svc->stats.reloads_failed;
    m->generation = svc->current->generation;
    m->uptime_seconds = now > svc->stats.started_at ? now - svc->stats.started_at : 0;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_STATS;
    resp->stats = m;
}

int
service_peer_is_admin(const struct service *svc, const struct peer *peer)
{
    if (!peer->known)
        return 0;
    if (peer->uid == 0 || peer->uid == svc->self_uid)
        return 1;
    /* Group membership is what the kernel recorded for the peer, not what the group file
     * said at start-up: a member added or removed since counts from the next connection. */
    if (!svc->has_admin_gid || !peer->groups_known)
        return 0;
    return peer->gid == svc->admin_gid || peer->in_group;
}

const gid_t *
service_admin_group(const struct service *svc)
{
    return svc->has_admin_gid ? &svc->admin_gid : NULL;
}

/* A recipient's strings made the response's (the parse result is freed before it is sent). */
static Smtpstatus__V1__BounceRecipient *
bounce_recipient(struct arena *a, const smtpstatus_bounce_recipient *r)
{
    Smtpstatus__V1__BounceRecipient *m = ANSWER_NEW(a, Smtpstatus__V1__BounceRecipient,
                                                    SMTPSTATUS__V1__BOUNCE_RECIPIENT__INIT);
    if (m == NULL)
        return NULL;
    m->final_recipient = utf8_field(a, r->final_recipient);
    m->original_recipient = utf8_field(a, r->original_recipient);
    m->action = utf8_field(a, r->action);
    m->failed = r->failed;
    m->status = utf8_field(a, r->status);
    m->remote_mta = utf8_field(a, r->remote_mta);
    m->diagnostic_code = utf8_field(a, r->diagnostic_code);
    m->last_attempt_date = utf8_field(a, r->last_attempt_date);
    m->will_retry_until = utf8_field(a, r->will_retry_until);
    m->reason = (Smtpstatus__V1__Reason)r->reason;
    m->retry = r->retry;
    m->recipient_invalid = r->recipient_invalid;
    m->retry_after = r->retry_after;
    m->rule = utf8_field(a, r->rule);
    return m;
}

/*
 * Bounce: the message parsed on the loop. A request is at most one frame (64 KiB by default),
 * which GMime and the field reader get through in well under a millisecond (tests/unit/
 * test_bounce.c measures it), so it does not need the thread pool that a reload uses; the
 * 10 MiB messages the parser takes are for the offline helper.
 */
static void
handle_bounce(struct service *svc, const Smtpstatus__V1__Request *req, struct arena *a,
              Response *resp)
{
    const Smtpstatus__V1__BounceRequest *br = req->bounce;
    struct bounce_result res;
    int rc = bounce_parse((const char *)br->message.data, br->message.len, svc->current->img,
                          &res);
    if (rc != 0) {
        service_error(svc, req->id,
                      rc == SMTPSTATUS_ENOMEM ? SMTPSTATUS__V1__ERROR__CODE__INTERNAL
                                              : SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT,
                      smtpstatus_strerror(rc), a, resp);
        return;
    }
    Smtpstatus__V1__BounceResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__BounceResponse, SMTPSTATUS__V1__BOUNCE_RESPONSE__INIT);
    Smtpstatus__V1__BounceRecipient **v =
        ANSWER_NEW_ARRAY(a, res.count, Smtpstatus__V1__BounceRecipient *);
    if (m != NULL && v != NULL) {
        m->format = answer_str(res.format);
        m->reporting_mta = utf8_field(a, res.reporting_mta);
        m->truncated = res.truncated || br->truncated;
        for (size_t i = 0; i < res.count; i++)
            v[i] = bounce_recipient(a, &res.recipients[i]);
        m->n_recipients = res.count;
        m->recipients = v;
        resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_BOUNCE;
        resp->bounce = m;
    }
    bounce_result_free(&res); /* a->failed says whether the copies were all made */
}

enum service_op
service_op_of(Smtpstatus__V1__Request__OpCase op_case)
{
    switch (op_case) {
    case SMTPSTATUS__V1__REQUEST__OP_HELLO:
        return OP_HELLO;
    case SMTPSTATUS__V1__REQUEST__OP_LOOKUP:
        return OP_LOOKUP;
    case SMTPSTATUS__V1__REQUEST__OP_BASIC:
        return OP_BASIC;
    case SMTPSTATUS__V1__REQUEST__OP_SEARCH:
        return OP_SEARCH;
    case SMTPSTATUS__V1__REQUEST__OP_LIST:
        return OP_LIST;
    case SMTPSTATUS__V1__REQUEST__OP_RENDER:
        return OP_RENDER;
    case SMTPSTATUS__V1__REQUEST__OP_CLASSIFY:
        return OP_CLASSIFY;
    case SMTPSTATUS__V1__REQUEST__OP_REGISTRY_INFO:
        return OP_REGISTRY_INFO;
    case SMTPSTATUS__V1__REQUEST__OP_RELOAD:
        return OP_RELOAD;
    case SMTPSTATUS__V1__REQUEST__OP_STATS:
        return OP_STATS;
    case SMTPSTATUS__V1__REQUEST__OP_BOUNCE:
        return OP_BOUNCE;
    default:
        return OP_UNKNOWN;
    }
}

int
service_answer_keepable(const Smtpstatus__V1__Request *req, const Response *resp)
{
    /* answer_query() reads the request and the image (and its folded text) and nothing else. */
    if (!answer_is_query(req))
        return 0;
    return resp->result_case != SMTPSTATUS__V1__RESPONSE__RESULT_ERROR ||
           resp->error->code != SMTPSTATUS__V1__ERROR__CODE__INTERNAL;
}

void
service_count_kept(struct service *svc, Smtpstatus__V1__Request__OpCase op_case, int error_code)
{
    svc->stats.requests[service_op_of(op_case)]++;
    if (error_code >= 0 && error_code < SERVICE_ERROR_CODES)
        svc->stats.errors[error_code]++;
}

enum service_result
service_handle(struct service *svc, const Smtpstatus__V1__Request *req, const struct peer *peer,
               struct arena *a, Response *resp)
{
    *resp = (Response)SMTPSTATUS__V1__RESPONSE__INIT;
    resp->id = req->id;
    enum service_op op = service_op_of(req->op_case);
    svc->stats.requests[op]++;
    switch (op) {
    case OP_HELLO:
        handle_hello(svc, a, resp);
        break;
    case OP_LOOKUP:
    case OP_BASIC:
    case OP_SEARCH:
    case OP_LIST:
    case OP_RENDER:
    case OP_CLASSIFY:
        answer_query(svc->current->img, svc->current->search, req, a, resp);
        if (resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_ERROR &&
            (unsigned)resp->error->code < SERVICE_ERROR_CODES)
            svc->stats.errors[resp->error->code]++;
        break;
    case OP_REGISTRY_INFO:
        resp->registry_info = make_info(svc, a);
        if (resp->registry_info != NULL)
            resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_REGISTRY_INFO;
        break;
    case OP_RELOAD:
        if (!service_peer_is_admin(svc, peer)) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "reload is for root, the daemon's user or the admin group; uid %ld is none",
                     peer->known ? (long)peer->uid : -1L);
            service_error(svc, req->id, SMTPSTATUS__V1__ERROR__CODE__PERMISSION_DENIED, msg, a,
                          resp);
            break;
        }
        if (svc->reload_busy) {
            service_error(svc, req->id, SMTPSTATUS__V1__ERROR__CODE__BUSY,
                          "a reload is already running", a, resp);
            break;
        }
        return SERVICE_RELOAD;
    case OP_STATS:
        handle_stats(svc, a, (uint64_t)time(NULL), resp);
        break;
    case OP_BOUNCE:
        handle_bounce(svc, req, a, resp);
        break;
    default:
        service_error(svc, req->id, SMTPSTATUS__V1__ERROR__CODE__UNKNOWN_OPERATION,
                      "the request names no operation this daemon knows", a, resp);
        break;
    }
    if (resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT__NOT_SET || a->failed)
        service_error(svc, req->id, SMTPSTATUS__V1__ERROR__CODE__INTERNAL, "out of memory", a,
                      resp);
    return SERVICE_DONE;
}

void
service_reload_response(struct service *svc, uint64_t id, int ok, const struct diag *d,
                        struct arena *a, Response *resp)
{
    if (!ok) {
        service_error(svc, id, SMTPSTATUS__V1__ERROR__CODE__RELOAD_FAILED,
                      "the registry and the rules were not reloaded; nothing changed", a, resp);
        if (resp->error->code != SMTPSTATUS__V1__ERROR__CODE__RELOAD_FAILED)
            return;
        char **problems = ANSWER_NEW_ARRAY(a, d->count, char *);
        if (problems == NULL)
            return;
        for (size_t i = 0; i < d->count; i++) {
            char line[1024];
            diag_format(&d->items[i], line, sizeof line);
            if ((problems[i] = arena_strndup(a, line, strlen(line))) == NULL)
                return;
        }
        resp->error->n_problems = d->count;
        resp->error->problems = problems;
        return;
    }
    *resp = (Response)SMTPSTATUS__V1__RESPONSE__INIT;
    resp->id = id;
    Smtpstatus__V1__ReloadResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__ReloadResponse, SMTPSTATUS__V1__RELOAD_RESPONSE__INIT);
    if (m != NULL) {
        m->registry = make_info(svc, a);
        m->diff = make_diff(a, &svc->current->last_diff);
        m->rule_diff = make_rule_diff(a, &svc->current->last_rule_diff);
    }
    if (m == NULL || m->registry == NULL || m->diff == NULL || m->rule_diff == NULL ||
        a->failed) {
        service_error(svc, id, SMTPSTATUS__V1__ERROR__CODE__INTERNAL, "out of memory", a, resp);
        return;
    }
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD;
    resp->reload = m;
}
