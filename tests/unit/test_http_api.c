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

/* Asks `target` with `method` (and `body`); returns the result, the answer in f. */
static enum http_api_result
ask(struct fixture *f, enum http_method method, const char *target, const char *body, int local)
{
    struct http_request req = {method, target, strlen(target), body, body ? strlen(body) : 0,
                               local};
    buf_reset(&f->body);
    return http_api_handle(&f->api, &req, &f->body, &f->resp, f->dir_buf, sizeof f->dir_buf,
                           &f->dir);
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
    assert_error(&f, 409, "busy");
    assert_non_null(strstr(f.body.data, "--registry"));
    buf_free(&f.body);
    http_api_free(&f.api);
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
        cmocka_unit_test(test_lookup_and_counts),  cmocka_unit_test(test_no_registry_is_503),
        cmocka_unit_test(test_methods_and_paths),  cmocka_unit_test(test_reload_rules),
        cmocka_unit_test(test_metrics_exposition),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
