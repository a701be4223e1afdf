/*
 * The HTTP port's endpoints about the daemon itself (see http_admin.h): the registry and rules
 * served and their last reload in the shape of the socket API's RegistryInfo, the health check,
 * the metrics, and the reload, whose request is checked here (http_auth.c says who may) and
 * whose answer is made when the daemon has finished it.
 */
#include "http_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer_json.h"
#include "http_auth.h"

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The rules of `s` as the library's types: *info, and the changes of its last reload in a
 * malloc'd array (the caller's; NULL with info->change_count 0 on ENOMEM). The strings are s's. */
static smtpstatus_rule_change *
rule_changes(const struct served *s, smtpstatus_rules_info *info)
{
    const struct rule_diff *d = &s->last_rule_diff;
    info->file = s->rules_file != NULL ? s->rules_file : "";
    rules_image_counts(s->img, &info->admin_count, &info->builtin_count);
    size_t n = d->added_count + d->removed_count + d->changed_count;
    smtpstatus_rule_change *v = malloc((n ? n : 1) * sizeof *v);
    info->change_count = v != NULL ? n : 0;
    if (v == NULL)
        return NULL;
    const struct {
        const char *change;
        const struct rule_ref *refs;
        size_t count;
    } lists[] = {{"added", d->added, d->added_count},
                 {"removed", d->removed, d->removed_count},
                 {"changed", d->changed, d->changed_count}};
    size_t k = 0;
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < lists[l].count; i++) {
            const struct rule_ref *r = &lists[l].refs[i];
            v[k++] = (smtpstatus_rule_change){lists[l].change, r->name,     r->was,     r->reason,
                                              r->basic,        r->enhanced, r->pattern, r->admin};
        }
    return v;
}

/* The registry served, in the shape of the socket API's RegistryInfo. */
static json_t *
registry_json(const struct service *svc)
{
    const struct served *s = svc->current;
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(s->img, &sum);
    char digest[17];
    snprintf(digest, sizeof digest, "%016" PRIx64, sum.source_digest);
    smtpstatus_registry_info info = {
        .generation = s->generation,
        .source = sum.source,
        .loaded_at = s->loaded_at,
        .digest = digest,
        .class_count = sum.class_count,
        .subject_count = sum.subject_count,
        .code_count = sum.code_count,
        .basic_count = sum.basic_count,
        .added = (const char *const *)s->last_diff.added,
        .added_count = s->last_diff.added_count,
        .removed = (const char *const *)s->last_diff.removed,
        .removed_count = s->last_diff.removed_count,
        .changed = (const char *const *)s->last_diff.changed,
        .changed_count = s->last_diff.changed_count,
        .warnings = (const char *const *)s->warnings,
        .warning_count = s->warning_count,
        .field_change_count = s->last_diff.field_count,
        .descriptions_differ = (uint32_t)s->last_diff.descriptions_differ,
    };
    smtpstatus_code_change *fields = NULL;
    if (info.field_change_count > 0 &&
        (fields = calloc(info.field_change_count, sizeof *fields)) == NULL)
        info.field_change_count = 0;
    for (size_t i = 0; i < info.field_change_count; i++) {
        const struct code_field_change *c = &s->last_diff.fields[i];
        fields[i] = (smtpstatus_code_change){c->code, c->field, c->old, c->new};
    }
    const struct reload_attempt *r = &svc->last_reload;
    smtpstatus_reload_attempt last = {
        r->at, r->source, r->trigger, r->ok, (const char *const *)r->problems, r->problem_count};
    json_t *o = answer_json_registry(&info, fields);
    free(fields);
    answer_json_set(o, "last_reload", answer_json_last_reload(r->known ? &last : NULL));
    smtpstatus_rules_info rules;
    smtpstatus_rule_change *changes = rule_changes(s, &rules);
    answer_json_set(o, "rules", answer_json_rules(&rules, changes));
    free(changes);
    return o;
}

void
http_admin_reload_response(struct http_api *api, int ok, int start_error, const struct diag *d,
                           int pretty, struct buf *body, struct http_response *resp)
{
    resp->op = HTTP_OP_RELOAD;
    resp->allow = NULL;
    struct http_ctx c = {api, NULL, {"", 0}, pretty, body, resp};
    if (start_error == -EBUSY) {
        http_respond_error(409, "a reload is already running", pretty, body, resp);
        return;
    }
    if (start_error == -EINVAL) {
        http_respond_error(
            400,
            "no directory given and no --registry configured, and no rules file to "
            "reload: give {\"directory\": DIR}, or start smtpstatusd with --registry "
            "DIR",
            pretty, body, resp);
        return;
    }
    if (start_error != 0) {
        http_respond_error(500, "the reload could not be started", pretty, body, resp);
        return;
    }
    if (!ok) {
        resp->status = 422;
        resp->content_type = HTTP_JSON_TYPE;
        json_t *o = json_object(), *e = json_object(), *problems = json_array();
        for (size_t i = 0; d != NULL && i < d->count; i++) {
            char line[1024];
            diag_format(&d->items[i], line, sizeof line);
            json_array_append_new(problems, answer_json_str(line));
        }
        answer_json_set(e, "status", json_integer(422));
        answer_json_set(e, "code", answer_json_str("reload_failed"));
        answer_json_set(e, "message",
                        answer_json_str("the registry and the rules were not reloaded; nothing "
                                        "changed"));
        answer_json_set(e, "problems", problems);
        answer_json_set(o, "error", e);
        size_t start = body->len;
        if (http_respond_dump(o, pretty, body) != 0) {
            body->len = start;
            http_respond_error(500, "out of memory", pretty, body, resp);
        }
        return;
    }
    json_t *reg = registry_json(api->svc);
    json_t *o = json_object();
    answer_json_set(o, "registry", reg);
    answer_json_set(o, "diff", json_incref(json_object_get(reg, "last_diff")));
    json_t *rules = json_object_get(reg, "rules");
    answer_json_set(o, "rules_diff", json_incref(json_object_get(rules, "last_diff")));
    http_respond_json(&c, o);
}

/* Whether s[0..n) holds a control character (NUL included): a directory goes into the log. */
static int
has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/* POST /v1/reload [{"directory": DIR}] */
enum http_api_result
http_admin_reload(struct http_ctx *c, const struct http_request *req, char *dir_buf,
                  size_t dir_size, const char **dir)
{
    *dir = NULL;
    char why[512];
    int refused = http_auth_reload(c->api->admin, req, why, sizeof why);
    if (refused != 0) {
        http_respond_error(refused, why, c->pretty, c->body, c->resp);
        return HTTP_API_DONE;
    }
    if (req->body_len > 0) {
        json_error_t err;
        json_t *j = json_loadb(req->body, req->body_len, 0, &err);
        json_t *d = json_object_get(j, "directory");
        if (j == NULL || !json_is_object(j) || json_object_size(j) > 1 ||
            (json_object_size(j) == 1 && !json_is_string(d))) {
            http_respond_fail(c, 400, "the body must be empty or {\"directory\": \"DIR\"}");
            json_decref(j);
            return HTTP_API_DONE;
        }
        if (d != NULL) {
            if (json_string_length(d) == 0 || json_string_length(d) >= dir_size ||
                has_control(json_string_value(d), json_string_length(d))) {
                http_respond_fail(
                    c, 400,
                    "\"directory\" must be a path of 1 to %zu bytes without control characters",
                    dir_size - 1);
                json_decref(j);
                return HTTP_API_DONE;
            }
            memcpy(dir_buf, json_string_value(d), json_string_length(d) + 1);
            *dir = dir_buf;
        }
        json_decref(j);
    }
    if (c->api->svc->reload_busy) {
        http_respond_fail(c, 409, "a reload is already running");
        return HTTP_API_DONE;
    }
    return HTTP_API_RELOAD;
}

/* GET /v1/registry */
void
http_admin_registry(struct http_ctx *c)
{
    http_respond_json(c, registry_json(c->api->svc));
}

/* GET /healthz */
void
http_admin_healthz(struct http_ctx *c)
{
    json_t *o = json_object();
    answer_json_set(o, "status", answer_json_str("ok"));
    answer_json_set(o, "generation", json_integer((json_int_t)c->api->svc->current->generation));
    http_respond_json(c, o);
}

/* GET /metrics */
void
http_admin_metrics(struct http_ctx *c)
{
    size_t start = c->body->len;
    if (metrics_render(c->api->metrics, c->api->svc, (uint64_t)time(NULL), c->body) != 0) {
        c->body->len = start;
        http_respond_fail(c, 500, "out of memory");
        return;
    }
    c->resp->status = 200;
    c->resp->content_type = METRICS_TYPE;
}
