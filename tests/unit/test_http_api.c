/*
 * Unit tests for the JSON debug port's endpoints (http_api.c) and metrics (metrics.c), without
 * a socket: what only a unit test can reach (no registry loaded: 503; a remote peer asking to
 * reload with --http-admin: 403), the reload answers, routing and methods, and the Prometheus
 * exposition.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_api.h"
#include "metrics.h"

static struct served embedded;

static int
setup(void **state)
{
    (void)state;
    served_init_embedded(&embedded, 3);
    return 0;
}

struct fixture {
    struct service svc;
    struct metrics metrics;
    struct http_api api;
    struct buf body;
    struct http_response resp;
    char dir_buf[256];
    const char *dir;
};

static void
init(struct fixture *f, int admin)
{
    memset(f, 0, sizeof *f);
    f->svc.current = &embedded;
    f->svc.image_path = "";
    f->api = (struct http_api){.svc = &f->svc, .metrics = &f->metrics, .admin = admin};
}

/* Asks `req`; returns the result, the answer in f. */
static enum http_api_result
ask_req(struct fixture *f, const struct http_request *req)
{
    buf_reset(&f->body);
    return http_api_handle(&f->api, req, &f->body, &f->resp, f->dir_buf, sizeof f->dir_buf,
                           &f->dir);
}

/* A request as curl sends it to 127.0.0.1:3463, with a JSON Content-Type. */
static struct http_request
curl_request(enum http_method method, const char *target, const char *body, int local)
{
    return (struct http_request){
        .method = method,
        .target = target,
        .target_len = strlen(target),
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .local_peer = local,
        .host = "127.0.0.1:3463",
        .host_len = 14,
        .content_type = "application/json",
        .content_type_len = 16,
    };
}

/* Asks `target` with `method` (and `body`); returns the result, the answer in f. */
static enum http_api_result
ask(struct fixture *f, enum http_method method, const char *target, const char *body, int local)
{
    struct http_request req = curl_request(method, target, body, local);
    return ask_req(f, &req);
}

/* The answer's JSON (owned by the caller). */
static json_t *
answer(struct fixture *f)
{
    json_t *j = json_loadb(f->body.data, f->body.len, 0, NULL);
    assert_non_null(j);
    return j;
}

static void
assert_error(struct fixture *f, int status, const char *code)
{
    assert_int_equal(f->resp.status, status);
    json_t *j = answer(f);
    json_t *e = json_object_get(j, "error");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), status);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    json_decref(j);
}

static void
test_lookup_and_counts(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 0);
    assert_int_equal(ask(&f, HTTP_METHOD_GET, "/v1/codes/4.2.2", NULL, 1), HTTP_API_DONE);
    assert_int_equal(f.resp.status, 200);
    assert_int_equal(f.resp.op, HTTP_OP_LOOKUP);
    json_t *j = answer(&f);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "4.2.2");
    assert_true(json_is_true(json_object_get(j, "registered")));
    json_decref(j);
    assert_int_equal(f.metrics.http_requests[HTTP_OP_LOOKUP], 1);
    /* A trailing ? with nothing after it is no query. */
    ask(&f, HTTP_METHOD_GET, "/v1/codes/4.2.2?", NULL, 1);
    assert_int_equal(f.resp.status, 200);
    ask(&f, HTTP_METHOD_GET, "/v1/codes/4.2.2?pretty=1", NULL, 1);
    assert_non_null(strstr(f.body.data, "\n  \"code\": \"4.2.2\""));
    /* Answers come from the cache the second time, the same bytes; a new generation (a
     * reload) empties it. */
    ask(&f, HTTP_METHOD_GET, "/v1/codes/5.1.1", NULL, 1);
    char first[4096];
    assert_true(f.body.len < sizeof first);
    memcpy(first, f.body.data, f.body.len);
    size_t first_len = f.body.len;
    ask(&f, HTTP_METHOD_GET, "/v1/codes/5.1.1", NULL, 1);
    assert_int_equal(f.resp.status, 200);
    assert_int_equal(f.body.len, first_len);
    assert_memory_equal(f.body.data, first, first_len);
    struct served next = embedded;
    next.generation = 9;
    f.svc.current = &next;
    ask(&f, HTTP_METHOD_GET, "/v1/codes/5.1.1?pretty=1", NULL, 1);
    assert_non_null(strstr(f.body.data, "\n  \"code\": \"5.1.1\""));
    ask(&f, HTTP_METHOD_GET, "/v1/codes/5.1.1", NULL, 1);
    assert_memory_equal(f.body.data, first, first_len);
    buf_free(&f.body);
    http_api_free(&f.api);
}

static void
test_no_registry_is_503(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 0);
    struct served none = {0};
    f.svc.current = &none;
    const char *targets[] = {"/v1/codes/5.1.1", "/v1/codes?q=x", "/v1/basic/550",
                             "/v1/registry",    "/healthz",      "/v1/render?basic=550"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        ask(&f, HTTP_METHOD_GET, targets[i], NULL, 1);
        assert_error(&f, 503, "unavailable");
    }
    /* The metrics still answer: they are how one sees what is wrong. */
    ask(&f, HTTP_METHOD_GET, "/metrics", NULL, 1);
    assert_int_equal(f.resp.status, 200);
    buf_free(&f.body);
    http_api_free(&f.api);
}

static void
test_methods_and_paths(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 0);
    ask(&f, HTTP_METHOD_POST, "/v1/codes/5.1.1", "", 1);
    assert_error(&f, 405, "method_not_allowed");
    assert_string_equal(f.resp.allow, "GET, HEAD");
    ask(&f, HTTP_METHOD_GET, "/v1/classify", NULL, 1);
    assert_error(&f, 405, "method_not_allowed");
    assert_string_equal(f.resp.allow, "POST");
    ask(&f, HTTP_METHOD_OTHER, "/v1/render", NULL, 1);
    assert_string_equal(f.resp.allow, "GET, HEAD, POST");
    ask(&f, HTTP_METHOD_GET, "/v1/codes/", NULL, 1);
    assert_error(&f, 404, "not_found");
    ask(&f, HTTP_METHOD_GET, "/v1/codesX", NULL, 1);
    assert_error(&f, 404, "not_found");
    ask(&f, HTTP_METHOD_GET, "/healthz?verbose=1", NULL, 1);
    assert_error(&f, 400, "invalid_argument");
    ask(&f, HTTP_METHOD_HEAD, "/healthz", NULL, 1);
    assert_int_equal(f.resp.status, 200);
    assert_true(f.body.len > 0); /* the transport leaves the body out, with its length */
    buf_free(&f.body);
    http_api_free(&f.api);
}

static void
test_reload_rules(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 0);
    assert_int_equal(ask(&f, HTTP_METHOD_POST, "/v1/reload", NULL, 1), HTTP_API_DONE);
    assert_error(&f, 403, "permission_denied");
    buf_free(&f.body);
    http_api_free(&f.api);
    init(&f, 1);
    /* Even with --http-admin, a peer that is not on loopback may not reload. */
    assert_int_equal(ask(&f, HTTP_METHOD_POST, "/v1/reload", NULL, 0), HTTP_API_DONE);
    assert_error(&f, 403, "permission_denied");
    assert_int_equal(ask(&f, HTTP_METHOD_POST, "/v1/reload", NULL, 1), HTTP_API_RELOAD);
    assert_null(f.dir);
    assert_int_equal(ask(&f, HTTP_METHOD_POST, "/v1/reload", "{\"directory\": \"/srv/iana\"}", 1),
                     HTTP_API_RELOAD);
    assert_string_equal(f.dir, "/srv/iana");
    assert_int_equal(ask(&f, HTTP_METHOD_POST, "/v1/reload", "{\"directory\": 7}", 1),
                     HTTP_API_DONE);
    assert_error(&f, 400, "invalid_argument");
    f.svc.reload_busy = 1;
    assert_int_equal(ask(&f, HTTP_METHOD_POST, "/v1/reload", NULL, 1), HTTP_API_DONE);
    assert_error(&f, 409, "busy");

    /* The answers to a reload that finished, failed, or could not start. */
    buf_reset(&f.body);
    http_api_reload_response(&f.api, 1, 0, NULL, 0, &f.body, &f.resp);
    assert_int_equal(f.resp.status, 200);
    json_t *j = answer(&f);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "registry"), "generation")), 3);
    assert_true(json_is_array(json_object_get(json_object_get(j, "diff"), "added")));
    json_decref(j);
    struct diag d;
    diag_init(&d);
    diag_add(&d, DIAG_ERROR, "codes.csv", 4, 2, "duplicate code X.1.0");
    buf_reset(&f.body);
    http_api_reload_response(&f.api, 0, 0, &d, 0, &f.body, &f.resp);
    assert_error(&f, 422, "reload_failed");
    assert_non_null(strstr(f.body.data, "codes.csv:4:2: error: duplicate code X.1.0"));
    diag_free(&d);
    buf_reset(&f.body);
    http_api_reload_response(&f.api, 0, -EBUSY, NULL, 0, &f.body, &f.resp);
    assert_error(&f, 409, "busy");
    buf_reset(&f.body);
    http_api_reload_response(&f.api, 0, -EINVAL, NULL, 0, &f.body, &f.resp);
    assert_error(&f, 400, "invalid_argument");
    assert_non_null(strstr(f.body.data, "no directory given and no --registry configured"));
    buf_free(&f.body);
    http_api_free(&f.api);
}

/* A web page in a browser on this host is a loopback peer too: what it can send (an Origin, a
 * Host of its own name after DNS rebinding, a form's Content-Type) may not reload. */
static void
test_reload_refuses_browsers(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 1);
    struct http_request req = curl_request(HTTP_METHOD_POST, "/v1/reload", NULL, 1);
    assert_int_equal(ask_req(&f, &req), HTTP_API_RELOAD);
    req.has_origin = 1;
    assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
    assert_error(&f, 403, "permission_denied");
    assert_non_null(strstr(f.body.data, "Origin"));
    req.has_origin = 0;

    static const char *const good_hosts[] = {"localhost", "localhost:3463", "127.0.0.1", "[::1]",
                                             "[::1]:80"};
    static const char *const bad_hosts[] = {
        "evil.example", "evil.example:3463", "localhost:", "127.0.0.1:x", "127.0.0.1:123456",
        "[::1]x",       "localhost.evil",    "127.0.0.10"};
    for (size_t i = 0; i < sizeof good_hosts / sizeof good_hosts[0]; i++) {
        req.host = good_hosts[i];
        req.host_len = strlen(good_hosts[i]);
        assert_int_equal(ask_req(&f, &req), HTTP_API_RELOAD);
    }
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        req.host = bad_hosts[i];
        req.host_len = strlen(bad_hosts[i]);
        assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
        assert_error(&f, 403, "permission_denied");
    }
    req.host = NULL;
    req.host_len = 0;
    assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
    assert_error(&f, 403, "permission_denied");
    req.host = "localhost";
    req.host_len = 9;

    static const char *const bad_types[] = {"text/plain", "application/x-www-form-urlencoded",
                                            "multipart/form-data", "application/jsonp"};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        req.content_type = bad_types[i];
        req.content_type_len = strlen(bad_types[i]);
        assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
        assert_error(&f, 403, "permission_denied");
        assert_non_null(strstr(f.body.data, "Content-Type"));
    }
    req.content_type = NULL;
    req.content_type_len = 0;
    assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
    assert_error(&f, 403, "permission_denied");
    req.content_type = "application/json; charset=utf-8";
    req.content_type_len = strlen(req.content_type);
    assert_int_equal(ask_req(&f, &req), HTTP_API_RELOAD);

    /* Classify keeps working with curl's default form type and no Origin rule. */
    req = curl_request(HTTP_METHOD_POST, "/v1/classify", "550 5.1.1 no", 1);
    req.content_type = "application/x-www-form-urlencoded";
    req.content_type_len = strlen(req.content_type);
    assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
    assert_int_equal(f.resp.status, 200);

    /* On the Unix socket, a peer that is no administrator is told its uid. */
    req = curl_request(HTTP_METHOD_POST, "/v1/reload", NULL, 0);
    req.unix_peer = 1;
    req.peer_uid = 65534;
    assert_int_equal(ask_req(&f, &req), HTTP_API_DONE);
    assert_error(&f, 403, "permission_denied");
    assert_non_null(strstr(f.body.data, "uid 65534"));
    buf_free(&f.body);
    http_api_free(&f.api);
}

/* A reload directory goes into the log, so it may not hold a control character. */
static void
test_reload_directory_control_characters(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 1);
    assert_int_equal(
        ask(&f, HTTP_METHOD_POST, "/v1/reload", "{\"directory\": \"/srv/x\\nreloaded /etc\"}", 1),
        HTTP_API_DONE);
    assert_error(&f, 400, "invalid_argument");
    assert_int_equal(
        ask(&f, HTTP_METHOD_POST, "/v1/reload", "{\"directory\": \"/srv/\\u001b[2J\"}", 1),
        HTTP_API_DONE);
    assert_error(&f, 400, "invalid_argument");
    assert_int_equal(
        ask(&f, HTTP_METHOD_POST, "/v1/reload", "{\"directory\": \"/srv/a\\u0000b\"}", 1),
        HTTP_API_DONE);
    assert_error(&f, 400, "invalid_argument");
    assert_int_equal(
        ask(&f, HTTP_METHOD_POST, "/v1/reload", "{\"directory\": \"/srv/caf\u00e9\"}", 1),
        HTTP_API_RELOAD);
    buf_free(&f.body);
    http_api_free(&f.api);
}

/* A %00 ends a C string: "550%00x" must not pass as 550, in a path or in a query. */
static void
test_nul_in_target(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 0);
    ask(&f, HTTP_METHOD_GET, "/v1/basic/550", NULL, 1);
    assert_int_equal(f.resp.status, 200);
    ask(&f, HTTP_METHOD_GET, "/v1/basic/550%00x", NULL, 1);
    assert_error(&f, 400, "invalid_argument");
    ask(&f, HTTP_METHOD_GET, "/v1/codes?basic=550%00x", NULL, 1);
    assert_error(&f, 400, "invalid_argument");
    ask(&f, HTTP_METHOD_GET, "/v1/codes?subject=7%00", NULL, 1);
    assert_error(&f, 400, "invalid_argument");
    buf_free(&f.body);
    http_api_free(&f.api);
}

/* A buffer that failed once is whole again after a reset. */
static void
test_buf_reset_clears_failed(void **state)
{
    (void)state;
    struct buf b = {0};
    assert_int_equal(buf_reserve(&b, (size_t)-1), -1);
    assert_true(b.failed);
    buf_reset(&b);
    assert_false(b.failed);
    assert_int_equal(buf_puts(&b, "ok"), 0);
    assert_false(b.failed);
    buf_free(&b);
}

static void
test_metrics_exposition(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, 0);
    f.svc.stats.requests[OP_LOOKUP] = 5;
    f.svc.stats.reloads_ok = 2;
    metrics_observe(&f.metrics.latency_http, 3000);       /* 3 us: the first bucket */
    metrics_observe(&f.metrics.latency_http, 2000000000); /* 2 s: only +Inf */
    ask(&f, HTTP_METHOD_GET, "/v1/codes/5.1.1", NULL, 1);
    metrics_count_status(&f.metrics, 200);
    ask(&f, HTTP_METHOD_GET, "/metrics", NULL, 1);
    assert_int_equal(f.resp.status, 200);
    assert_non_null(strstr(f.resp.content_type, "text/plain; version=0.0.4"));
    buf_append(&f.body, "", 1);
    const char *m = f.body.data;
    assert_non_null(
        strstr(m, "smtpstatusd_requests_total{surface=\"socket\",operation=\"lookup\"} 5\n"));
    assert_non_null(
        strstr(m, "smtpstatusd_requests_total{surface=\"http\",operation=\"lookup\"} 1\n"));
    assert_non_null(
        strstr(m, "smtpstatusd_requests_total{surface=\"http\",operation=\"metrics\"} 1\n"));
    assert_non_null(strstr(m, "smtpstatusd_reloads_total{result=\"ok\"} 2\n"));
    assert_non_null(strstr(m, "smtpstatusd_http_responses_total{status=\"200\"} 1\n"));
    assert_non_null(strstr(m, "smtpstatusd_registry_generation 3\n"));
    assert_non_null(strstr(
        m, "smtpstatusd_request_duration_seconds_bucket{surface=\"http\",le=\"1e-05\"} 1\n"));
    assert_non_null(
        strstr(m, "smtpstatusd_request_duration_seconds_bucket{surface=\"http\",le=\"1\"} 1\n"));
    assert_non_null(
        strstr(m, "smtpstatusd_request_duration_seconds_bucket{surface=\"http\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(m, "smtpstatusd_request_duration_seconds_count{surface=\"http\"} 2\n"));
    assert_non_null(strstr(m, "# TYPE smtpstatusd_request_duration_seconds histogram\n"));
    buf_free(&f.body);
    http_api_free(&f.api);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_and_counts),
        cmocka_unit_test(test_no_registry_is_503),
        cmocka_unit_test(test_methods_and_paths),
        cmocka_unit_test(test_reload_rules),
        cmocka_unit_test(test_metrics_exposition),
        cmocka_unit_test(test_reload_refuses_browsers),
        cmocka_unit_test(test_reload_directory_control_characters),
        cmocka_unit_test(test_nul_in_target),
        cmocka_unit_test(test_buf_reset_clears_failed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
