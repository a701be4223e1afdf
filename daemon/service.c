/*
 * The socket API's operations (see service.h). Each handler reads the registry being served
 * through libsmtpstatus, the same code an in-process client runs, and builds its Response from
 * the arena. Strings that come from the image are pointed at, not copied: the image outlives
 * the response, which is packed before the loop can swap registries.
 */
#include "service.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpstatus.h"

#define VERSION SMTPSTATUS_VERSION_STRING
#define PROTOCOL 1
#define RENDER_MAX 65536 /* bytes of rendered output */

typedef Smtpstatus__V1__Response Response;

static void *
new_msg(struct arena *a, const void *init, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p != NULL)
        memcpy(p, init, size);
    return p;
}

#define NEW(a, type, INIT) ((type *)new_msg((a), &(type)INIT, sizeof(type)))
#define NEW_ARRAY(a, n, type) ((type *)arena_alloc((a), (n) ? (n) * sizeof(type) : 1))

/* A string from the image or a literal: protobuf-c wants char *, and only reads it. */
static char *
str(const char *s)
{
    return (char *)(s != NULL ? s : "");
}

static char *
code_name(struct arena *a, smtpstatus_code c)
{
    char *p = arena_alloc(a, SMTPSTATUS_CODE_STRLEN);
    if (p != NULL)
        smtpstatus_code_format(c, p, SMTPSTATUS_CODE_STRLEN);
    return p;
}

static const char *const error_names[SERVICE_ERROR_CODES] = {
    "unspecified",     "invalid_argument",  "not_found", "permission_denied", "frame_too_large",
    "malformed_frame", "unknown_operation", "reload_failed", "busy",           "internal"};

static const char *const op_names[OP_COUNT] = {
    "hello",  "lookup",        "basic",  "search", "list", "render",
    "classify", "registry_info", "reload", "stats",  "unknown"};

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
    static Smtpstatus__V1__Error oom = SMTPSTATUS__V1__ERROR__INIT;
    *resp = (Response)SMTPSTATUS__V1__RESPONSE__INIT;
    resp->id = id;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_ERROR;
    Smtpstatus__V1__Error *e = NEW(a, Smtpstatus__V1__Error, SMTPSTATUS__V1__ERROR__INIT);
    if (e == NULL) {
        /* The loop is single-threaded, so one static answer for "no memory" is safe. */
        oom.code = SMTPSTATUS__V1__ERROR__CODE__INTERNAL;
        oom.message = (char *)"out of memory";
        e = &oom;
    } else {
        e->code = code;
        e->message = arena_strndup(a, message, strlen(message));
        if (e->message == NULL)
            e->message = (char *)"";
    }
    resp->error = e;
    if ((unsigned)e->code < SERVICE_ERROR_CODES)
        svc->stats.errors[e->code]++;
}

/* `code` must outlive the response: a literal, or a string in the arena. */
static Smtpstatus__V1__Part *
make_part(struct arena *a, char *code, const smtpstatus_part *p)
{
    Smtpstatus__V1__Part *m = NEW(a, Smtpstatus__V1__Part, SMTPSTATUS__V1__PART__INIT);
    if (m != NULL) {
        m->code = code;
        m->title = str(p->title);
        m->description = str(p->description);
    }
    return m;
}

/* "X.S.XXX" in the arena, without printf: this runs for every entry of every lookup. */
static char *
subject_pattern(struct arena *a, uint16_t subject)
{
    smtpstatus_code c = {0, subject, 0};
    char *p = arena_alloc(a, SMTPSTATUS_CODE_STRLEN + 3);
    if (p != NULL) {
        int n = smtpstatus_code_format(c, p, SMTPSTATUS_CODE_STRLEN);
        memcpy(p + n - 1, "XXX", 4); /* "X.S.0" -> "X.S.XXX" */
    }
    return p;
}

/* The Entry for a lookup's answer. */
static Smtpstatus__V1__Entry *
make_entry(struct arena *a, const smtpstatus_entry *e)
{
    Smtpstatus__V1__Entry *m = NEW(a, Smtpstatus__V1__Entry, SMTPSTATUS__V1__ENTRY__INIT);
    if (m == NULL)
        return NULL;
    m->code = code_name(a, e->code);
    m->registered = e->registered != 0;
    static char *const class_patterns[] = {[2] = "2.XXX.XXX", [4] = "4.XXX.XXX",
                                           [5] = "5.XXX.XXX"};
    if (e->code.cls != 0)
        m->class_ = make_part(a, class_patterns[e->code.cls], &e->cls);
    if (e->subject_registered)
        m->subject = make_part(a, subject_pattern(a, e->code.subject), &e->subject);
    if (!e->registered)
        return m;
    m->title = str(e->title);
    m->description = str(e->description);
    m->reference = str(e->reference);
    m->submitter = str(e->submitter);
    m->change_controller = str(e->change_controller);
    m->basic_codes_raw = str(e->basic_codes_raw);
    m->basic_any = (e->assoc_flags & SMTPSTATUS_ASSOC_ANY) != 0;
    m->n_basic_codes = e->basic_code_count;
    m->basic_codes = NEW_ARRAY(a, e->basic_code_count, uint32_t);
    for (uint32_t i = 0; m->basic_codes != NULL && i < e->basic_code_count; i++)
        m->basic_codes[i] = e->basic_codes[i];
    static char *const wildcards[] = {NULL, NULL, "2XX", NULL, "4XX", "5XX"};
    m->basic_classes = NEW_ARRAY(a, 3, char *);
    for (unsigned d = 2; m->basic_classes != NULL && d <= 5; d++)
        if (wildcards[d] != NULL && (e->basic_classes & (1u << d)))
            m->basic_classes[m->n_basic_classes++] = wildcards[d];
    return m;
}

static void
handle_hello(struct service *svc, struct arena *a, Response *resp)
{
    Smtpstatus__V1__HelloResponse *m =
        NEW(a, Smtpstatus__V1__HelloResponse, SMTPSTATUS__V1__HELLO_RESPONSE__INIT);
    if (m == NULL)
        return;
    m->version = (char *)VERSION;
    m->protocol = PROTOCOL;
    m->generation = svc->current->generation;
    m->image_path = str(svc->image_path);
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_HELLO;
    resp->hello = m;
}

static void
handle_lookup(struct service *svc, const Smtpstatus__V1__LookupRequest *req, struct arena *a,
              Response *resp)
{
    if (req->n_codes > SERVICE_MAX_BATCH) {
        char msg[96];
        snprintf(msg, sizeof msg, "a lookup takes at most %d codes; this one has %zu",
                 SERVICE_MAX_BATCH, req->n_codes);
        service_error(svc, resp->id, SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT, msg, a, resp);
        return;
    }
    Smtpstatus__V1__LookupResponse *m =
        NEW(a, Smtpstatus__V1__LookupResponse, SMTPSTATUS__V1__LOOKUP_RESPONSE__INIT);
    Smtpstatus__V1__Entry **entries = NEW_ARRAY(a, req->n_codes, Smtpstatus__V1__Entry *);
    if (m == NULL || entries == NULL)
        return;
    for (size_t i = 0; i < req->n_codes; i++) {
        const char *s = req->codes[i];
        smtpstatus_code c;
        smtpstatus_entry e;
        size_t errpos = 0;
        int rc = smtpstatus_code_parse(s, strlen(s), SMTPSTATUS_PARSE_ALLOW_X, &c, &errpos);
        if (rc == 0)
            rc = smtpstatus_image_lookup(svc->current->img, c, &e);
        if (rc == 0) {
            entries[i] = make_entry(a, &e);
        } else {
            /* One bad code in a batch does not spoil the others. */
            entries[i] = NEW(a, Smtpstatus__V1__Entry, SMTPSTATUS__V1__ENTRY__INIT);
            if (entries[i] != NULL) {
                entries[i]->code = arena_strndup(a, s, strlen(s));
                entries[i]->error =
                    arena_printf(a, "at byte %zu: %s", errpos, smtpstatus_strerror(rc));
            }
        }
    }
    m->n_entries = req->n_codes;
    m->entries = entries;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP;
    resp->lookup = m;
}

static void
handle_basic(struct service *svc, const Smtpstatus__V1__BasicRequest *req, struct arena *a,
             Response *resp)
{
    smtpstatus_basic b;
    int rc = req->basic > 999 ? SMTPSTATUS_EBASIC
                              : smtpstatus_image_lookup_basic(svc->current->img,
                                                              (uint16_t)req->basic, &b);
    if (rc != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%u: %s", req->basic,
                 rc == SMTPSTATUS_ENOTFOUND ? "no standard meaning and no enhanced code is "
                                              "associated with it"
                                            : smtpstatus_strerror(rc));
        service_error(svc, resp->id,
                      rc == SMTPSTATUS_ENOTFOUND ? SMTPSTATUS__V1__ERROR__CODE__NOT_FOUND
                                                 : SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT,
                      msg, a, resp);
        return;
    }
    Smtpstatus__V1__BasicResponse *m =
        NEW(a, Smtpstatus__V1__BasicResponse, SMTPSTATUS__V1__BASIC_RESPONSE__INIT);
    Smtpstatus__V1__BasicAssociation **as =
        NEW_ARRAY(a, b.assoc_count, Smtpstatus__V1__BasicAssociation *);
    if (m == NULL || as == NULL)
        return;
    m->basic = b.code;
    m->standard = b.standard != 0;
    m->text = str(b.text);
    m->reference = str(b.reference);
    static char *const match_names[] = {NULL, "exact", "wildcard", "any"};
    for (uint32_t i = 0; i < b.assoc_count; i++) {
        smtpstatus_code c;
        smtpstatus_match match;
        smtpstatus_entry e;
        smtpstatus_image_basic_assoc(svc->current->img, &b, i, &c, &match);
        smtpstatus_image_lookup(svc->current->img, c, &e);
        as[i] = NEW(a, Smtpstatus__V1__BasicAssociation,
                    SMTPSTATUS__V1__BASIC_ASSOCIATION__INIT);
        if (as[i] == NULL)
            return;
        as[i]->code = code_name(a, c);
        as[i]->match = match_names[match];
        as[i]->title = str(e.title);
    }
    m->n_associations = b.assoc_count;
    m->associations = as;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_BASIC;
    resp->basic = m;
}

/* search and list: the registry's codes of one subject, or matching a query, in code order. */
static void
handle_select(struct service *svc, const char *query, int has_subject, uint32_t subject,
              uint32_t limit, int is_search, struct arena *a, Response *resp)
{
    const smtpstatus_image *img = svc->current->img;
    uint32_t n = smtpstatus_image_code_count(img);
    Smtpstatus__V1__LookupResponse *m =
        NEW(a, Smtpstatus__V1__LookupResponse, SMTPSTATUS__V1__LOOKUP_RESPONSE__INIT);
    Smtpstatus__V1__Entry **entries = NEW_ARRAY(a, n, Smtpstatus__V1__Entry *);
    if (m == NULL || entries == NULL)
        return;
    for (uint32_t i = 0; i < n && (limit == 0 || m->n_entries < limit); i++) {
        smtpstatus_entry e;
        smtpstatus_image_code_at(img, i, &e);
        if (has_subject && e.code.subject != subject)
            continue;
        if (is_search && !smtpstatus_entry_matches(&e, query))
            continue;
        entries[m->n_entries++] = make_entry(a, &e);
    }
    m->entries = entries;
    resp->result_case = is_search ? SMTPSTATUS__V1__RESPONSE__RESULT_SEARCH
                                  : SMTPSTATUS__V1__RESPONSE__RESULT_LIST;
    if (is_search)
        resp->search = m;
    else
        resp->list = m;
}

static void
handle_render(struct service *svc, const Smtpstatus__V1__RenderRequest *req, struct arena *a,
              Response *resp)
{
    smtpstatus_code code;
    int has_code = req->enhanced[0] != '\0';
    int rc = 0;
    if (has_code)
        rc = smtpstatus_code_parse(req->enhanced, strlen(req->enhanced),
                                   SMTPSTATUS_PARSE_ALLOW_X, &code, NULL);
    char *buf = arena_alloc(a, RENDER_MAX);
    if (buf == NULL)
        return;
    size_t len = 0;
    unsigned warnings = 0;
    smtpstatus_render_options opt = {req->width, req->smtputf8,
                                     req->dsn ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    if (rc == 0)
        rc = req->basic > 999 ? SMTPSTATUS_EBASIC
                              : smtpstatus_render(svc->current->img, (uint16_t)req->basic,
                                                  has_code ? &code : NULL,
                                                  req->use_default_text ? NULL : req->text,
                                                  req->use_default_text ? 0 : strlen(req->text),
                                                  &opt, buf, RENDER_MAX, &len, &warnings);
    if (rc != 0) {
        service_error(svc, resp->id, SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT,
                      smtpstatus_strerror(rc), a, resp);
        return;
    }
    Smtpstatus__V1__RenderResponse *m =
        NEW(a, Smtpstatus__V1__RenderResponse, SMTPSTATUS__V1__RENDER_RESPONSE__INIT);
    size_t lines = 0;
    for (size_t i = 0; i + 1 < len; i++)
        lines += buf[i] == '\r' && buf[i + 1] == '\n';
    char **lv = NEW_ARRAY(a, lines, char *);
    char **wv = NEW_ARRAY(a, 5, char *);
    if (m == NULL || lv == NULL || wv == NULL)
        return;
    m->reply = buf;
    for (const char *p = buf; *p != '\0' && m->n_lines < lines;) {
        const char *eol = strstr(p, "\r\n");
        lv[m->n_lines++] = arena_strndup(a, p, (size_t)(eol - p));
        p = eol + 2;
    }
    m->lines = lv;
    static char *const warning_names[] = {"not_associated", "unregistered", "replaced",
                                          "split_word", "code_like_text"};
    for (unsigned bit = 0; bit < 5; bit++)
        if (warnings & (1u << bit))
            wv[m->n_warnings++] = warning_names[bit];
    m->warnings = wv;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_RENDER;
    resp->render = m;
}

static void
handle_classify(struct service *svc, const Smtpstatus__V1__ClassifyRequest *req,
                struct arena *a, Response *resp)
{
    smtpstatus_classification c;
    size_t text_size = req->reply.len + 1;
    char *text = arena_alloc(a, text_size);
    Smtpstatus__V1__ClassifyResponse *m =
        NEW(a, Smtpstatus__V1__ClassifyResponse, SMTPSTATUS__V1__CLASSIFY_RESPONSE__INIT);
    char **pv = NEW_ARRAY(a, 16, char *);
    if (text == NULL || m == NULL || pv == NULL)
        return;
    smtpstatus_classify(svc->current->img, (const char *)req->reply.data, req->reply.len, &c,
                        text, text_size);
    m->basic = c.basic;
    if (c.has_enhanced) {
        m->enhanced = code_name(a, c.enhanced);
        m->subject = str(c.entry.subject.title);
        m->registered = c.entry.registered != 0;
        m->entry = make_entry(a, &c.entry);
    }
    m->kind = str(smtpstatus_kind_name(c.kind));
    m->retry = c.retry != 0;
    for (unsigned bit = 1; bit != 0 && m->n_problems < 16; bit <<= 1)
        if (c.problems & bit)
            pv[m->n_problems++] = str(smtpstatus_problem_name(bit));
    m->problems = pv;
    m->text = text;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_CLASSIFY;
    resp->classify = m;
}

static Smtpstatus__V1__CodeDiff *
make_diff(struct arena *a, const struct code_diff *d)
{
    Smtpstatus__V1__CodeDiff *m = NEW(a, Smtpstatus__V1__CodeDiff, SMTPSTATUS__V1__CODE_DIFF__INIT);
    if (m != NULL) {
        m->n_added = d->added_count;
        m->added = d->added;
        m->n_removed = d->removed_count;
        m->removed = d->removed;
        m->n_changed = d->changed_count;
        m->changed = d->changed;
    }
    return m;
}

static Smtpstatus__V1__RegistryInfo *
make_info(struct service *svc, struct arena *a)
{
    const struct served *s = svc->current;
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(s->img, &sum);
    Smtpstatus__V1__RegistryInfo *m =
        NEW(a, Smtpstatus__V1__RegistryInfo, SMTPSTATUS__V1__REGISTRY_INFO__INIT);
    if (m == NULL)
        return NULL;
    m->generation = s->generation;
    m->source = str(sum.source);
    m->loaded_at = s->loaded_at;
    m->digest = arena_printf(a, "%016" PRIx64, sum.source_digest);
    m->classes = sum.class_count;
    m->subjects = sum.subject_count;
    m->codes = sum.code_count;
    m->basic_codes = sum.basic_count;
    m->last_diff = make_diff(a, &s->last_diff);
    m->n_warnings = s->warning_count;
    m->warnings = s->warnings;
    return m;
}

static void
handle_stats(struct service *svc, struct arena *a, uint64_t now, Response *resp)
{
    Smtpstatus__V1__StatsResponse *m =
        NEW(a, Smtpstatus__V1__StatsResponse, SMTPSTATUS__V1__STATS_RESPONSE__INIT);
    Smtpstatus__V1__Counter **rq = NEW_ARRAY(a, OP_COUNT, Smtpstatus__V1__Counter *);
    Smtpstatus__V1__Counter **er = NEW_ARRAY(a, SERVICE_ERROR_CODES, Smtpstatus__V1__Counter *);
    if (m == NULL || rq == NULL || er == NULL)
        return;
    for (int i = 0; i < OP_COUNT; i++) {
        rq[i] = NEW(a, Smtpstatus__V1__Counter, SMTPSTATUS__V1__COUNTER__INIT);
        if (rq[i] == NULL)
            return;
        rq[i]->name = (char *)op_names[i];
        rq[i]->value = svc->stats.requests[i];
    }
    for (int i = 0; i < SERVICE_ERROR_CODES; i++) {
        er[i] = NEW(a, Smtpstatus__V1__Counter, SMTPSTATUS__V1__COUNTER__INIT);
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
    if (!svc->has_admin_gid)
        return 0;
    if (peer->gid == svc->admin_gid)
        return 1;
    for (size_t i = 0; i < svc->admin_uid_count; i++)
        if (svc->admin_uids[i] == peer->uid)
            return 1;
    return 0;
}

static enum service_op
op_of(const Smtpstatus__V1__Request *req)
{
    switch (req->op_case) {
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
    default:
        return OP_UNKNOWN;
    }
}

enum service_result
service_handle(struct service *svc, const Smtpstatus__V1__Request *req, const struct peer *peer,
               struct arena *a, Response *resp)
{
    *resp = (Response)SMTPSTATUS__V1__RESPONSE__INIT;
    resp->id = req->id;
    enum service_op op = op_of(req);
    svc->stats.requests[op]++;
    switch (op) {
    case OP_HELLO:
        handle_hello(svc, a, resp);
        break;
    case OP_LOOKUP:
        handle_lookup(svc, req->lookup, a, resp);
        break;
    case OP_BASIC:
        handle_basic(svc, req->basic, a, resp);
        break;
    case OP_SEARCH:
        handle_select(svc, req->search->query, 0, 0, req->search->limit, 1, a, resp);
        break;
    case OP_LIST:
        handle_select(svc, "", req->list->has_subject, req->list->subject, 0, 0, a, resp);
        break;
    case OP_RENDER:
        handle_render(svc, req->render, a, resp);
        break;
    case OP_CLASSIFY:
        handle_classify(svc, req->classify, a, resp);
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
                      "the registry was not reloaded; nothing changed", a, resp);
        if (resp->error->code != SMTPSTATUS__V1__ERROR__CODE__RELOAD_FAILED)
            return;
        char **problems = NEW_ARRAY(a, d->count, char *);
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
        NEW(a, Smtpstatus__V1__ReloadResponse, SMTPSTATUS__V1__RELOAD_RESPONSE__INIT);
    if (m != NULL) {
        m->registry = make_info(svc, a);
        m->diff = make_diff(a, &svc->current->last_diff);
    }
    if (m == NULL || m->registry == NULL || m->diff == NULL) {
        service_error(svc, id, SMTPSTATUS__V1__ERROR__CODE__INTERNAL, "out of memory", a, resp);
        return;
    }
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD;
    resp->reload = m;
}
