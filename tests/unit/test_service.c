/*
 * Unit tests for the daemon's dispatch (service.c), the registry diff (served.c) and the
 * response arena, without a socket: who may reload, the batch limit, unknown operations, what a
 * reload answers, and the exact diff between two registries the test builds itself.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_build.h"
#include "registry.h"
#include "served.h"
#include "service.h"
#include "answer.h"

static struct served embedded;

static int
setup(void **state)
{
    (void)state;
    served_init_embedded(&embedded, 7);
    return 0;
}

static void
init_service(struct service *svc)
{
    memset(svc, 0, sizeof *svc);
    svc->current = &embedded;
    svc->self_uid = 1000;
    svc->image_path = "";
}

static void
test_admin_rules(void **state)
{
    (void)state;
    struct service svc;
    init_service(&svc);
    /* {known, pid, uid, gid, groups_known, in_group}: a Unix socket peer knows its groups. */
    struct peer root = {1, 1, 0, 0, 1, 0}, self = {1, 2, 1000, 1000, 1, 0};
    struct peer other = {1, 3, 3000, 3000, 1, 0}, unknown = {0, 0, 0, 0, 0, 0};
    struct peer in_group = {1, 4, 2002, 100, 1, 1}, by_gid = {1, 5, 4000, 50, 1, 0};
    /* A TCP peer is known by its uid alone. */
    struct peer tcp_root = {1, 0, 0, 0, 0, 0}, tcp_self = {1, 0, 1000, 0, 0, 0};
    struct peer tcp_other = {1, 0, 4000, 50, 0, 1};
    assert_true(service_peer_is_admin(&svc, &root));
    assert_true(service_peer_is_admin(&svc, &self));
    assert_false(service_peer_is_admin(&svc, &other));
    /* Credentials that could not be read are never trusted, even if they read as root. */
    assert_false(service_peer_is_admin(&svc, &unknown));
    assert_false(service_peer_is_admin(&svc, &in_group));
    assert_null(service_admin_group(&svc));
    svc.has_admin_gid = 1;
    svc.admin_gid = 50;
    assert_int_equal(*service_admin_group(&svc), 50);
    /* Membership is the peer's credentials' (its supplementary groups as the kernel recorded
     * them), not a list of names resolved when the daemon started. */
    assert_true(service_peer_is_admin(&svc, &in_group));
    assert_true(service_peer_is_admin(&svc, &by_gid));
    assert_false(service_peer_is_admin(&svc, &other));
    assert_true(service_peer_is_admin(&svc, &tcp_root));
    assert_true(service_peer_is_admin(&svc, &tcp_self));
    /* Groups a TCP peer's uid has would need NSS on the loop: it is no member by group. */
    assert_false(service_peer_is_admin(&svc, &tcp_other));
}

static enum service_result
handle(struct service *svc, Smtpstatus__V1__Request *req, const struct peer *peer,
       struct arena *a, Smtpstatus__V1__Response *resp)
{
    return service_handle(svc, req, peer, a, resp);
}

static void
test_reload_gate(void **state)
{
    (void)state;
    struct service svc;
    init_service(&svc);
    struct arena a = {0};
    Smtpstatus__V1__Response resp;
    Smtpstatus__V1__ReloadRequest rr = SMTPSTATUS__V1__RELOAD_REQUEST__INIT;
    Smtpstatus__V1__Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.id = 42;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_RELOAD;
    req.reload = &rr;
    struct peer other = {1, 3, 3000, 3000, 1, 0}, root = {1, 1, 0, 0, 1, 0};

    assert_int_equal(handle(&svc, &req, &other, &a, &resp), SERVICE_DONE);
    assert_int_equal(resp.id, 42);
    assert_int_equal(resp.result_case, SMTPSTATUS__V1__RESPONSE__RESULT_ERROR);
    assert_int_equal(resp.error->code, SMTPSTATUS__V1__ERROR__CODE__PERMISSION_DENIED);
    assert_non_null(strstr(resp.error->message, "uid 3000"));
    assert_int_equal(svc.stats.errors[SMTPSTATUS__V1__ERROR__CODE__PERMISSION_DENIED], 1);

    assert_int_equal(handle(&svc, &req, &root, &a, &resp), SERVICE_RELOAD);
    svc.reload_busy = 1;
    assert_int_equal(handle(&svc, &req, &root, &a, &resp), SERVICE_DONE);
    assert_int_equal(resp.error->code, SMTPSTATUS__V1__ERROR__CODE__BUSY);
    assert_int_equal(svc.stats.requests[OP_RELOAD], 3);

    /* A failed reload names every problem with its place. */
    struct diag d;
    diag_init(&d);
    diag_add(&d, DIAG_ERROR, "dir/smtp-enhanced-status-codes-3.csv", 12, 3, "duplicate code");
    service_reload_response(&svc, 42, 0, &d, &a, &resp);
    assert_int_equal(resp.error->code, SMTPSTATUS__V1__ERROR__CODE__RELOAD_FAILED);
    assert_int_equal(resp.error->n_problems, 1);
    assert_string_equal(resp.error->problems[0],
                        "dir/smtp-enhanced-status-codes-3.csv:12:3: error: duplicate code");
    /* A good one gives the registry's facts and the diff. */
    service_reload_response(&svc, 42, 1, &d, &a, &resp);
    assert_int_equal(resp.result_case, SMTPSTATUS__V1__RESPONSE__RESULT_RELOAD);
    assert_int_equal(resp.reload->registry->generation, 7);
    assert_int_equal(resp.reload->registry->codes, 81);
    assert_string_equal(resp.reload->registry->source, "embedded");
    diag_free(&d);
    arena_free(&a);
}

static void
test_limits_and_unknown(void **state)
{
    (void)state;
    struct service svc;
    init_service(&svc);
    struct arena a = {0};
    Smtpstatus__V1__Response resp;
    struct peer p = {1, 1, 3000, 3000, 1, 0};

    Smtpstatus__V1__Request none = SMTPSTATUS__V1__REQUEST__INIT;
    none.id = 5;
    handle(&svc, &none, &p, &a, &resp);
    assert_int_equal(resp.error->code, SMTPSTATUS__V1__ERROR__CODE__UNKNOWN_OPERATION);
    assert_int_equal(svc.stats.requests[OP_UNKNOWN], 1);

    char *codes[ANSWER_MAX_BATCH + 1];
    for (int i = 0; i <= ANSWER_MAX_BATCH; i++)
        codes[i] = (char *)"5.1.1";
    Smtpstatus__V1__LookupRequest lr = SMTPSTATUS__V1__LOOKUP_REQUEST__INIT;
    lr.codes = codes;
    lr.n_codes = ANSWER_MAX_BATCH + 1;
    Smtpstatus__V1__Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_LOOKUP;
    req.lookup = &lr;
    handle(&svc, &req, &p, &a, &resp);
    assert_int_equal(resp.error->code, SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT);
    lr.n_codes = ANSWER_MAX_BATCH;
    handle(&svc, &req, &p, &a, &resp);
    assert_int_equal(resp.result_case, SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP);
    assert_int_equal(resp.lookup->n_entries, ANSWER_MAX_BATCH);
    assert_string_equal(resp.lookup->entries[ANSWER_MAX_BATCH - 1]->title,
                        "Bad destination mailbox address");
    /* The whole answer packs within the frame limit's order of magnitude: 1024 entries. */
    assert_true(smtpstatus__v1__response__get_packed_size(&resp) > 1024);
    arena_free(&a);
}

/* When set, build_edited() puts "Reworded: " before every code's description. */
static int reword_descriptions;

/* Copies one CSV line of quoted fields from `line` (n bytes) to `o`, with "Reworded: " put at
 * the start of the fourth field (the description); returns the end of what it wrote. */
static char *
reword_line(char *o, const char *line, size_t n)
{
    int field = 0, quoted = 0;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        *o++ = c;
        if (c == '"' && quoted && i + 1 < n && line[i + 1] == '"') {
            *o++ = line[++i];
        } else if (c == '"') {
            quoted = !quoted;
            if (quoted && field == 3)
                o += sprintf(o, "Reworded: ");
        } else if (c == ',' && !quoted) {
            field++;
        }
    }
    return o;
}

/* Builds an image from the project's data with `edit` applied to the code table. */
static smtpstatus_image *
build_edited(const char *drop1, const char *drop2, const char *from, const char *to,
             void **buf)
{
    static const char *const names[] = {REGISTRY_FILE_CLASSES, REGISTRY_FILE_SUBJECTS,
                                        REGISTRY_FILE_CODES};
    struct registry_input in[REGISTRY_TABLES];
    char *data[REGISTRY_TABLES];
    size_t len[REGISTRY_TABLES];
    for (int i = 0; i < REGISTRY_TABLES; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", testutil_project_data(), names[i]);
        data[i] = testutil_read_file(path, &len[i]);
    }
    /* The project writes one row per line: drop or edit whole lines of the code table. */
    char *out = malloc(len[2] * 2 + 256), *o = out;
    for (char *line = data[2]; *line;) {
        char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line + 1) : strlen(line);
        int drop = (drop1 && strncmp(line, drop1, strlen(drop1)) == 0) ||
                   (drop2 && strncmp(line, drop2, strlen(drop2)) == 0);
        if (!drop && from != NULL && strncmp(line, from, strlen(from)) == 0) {
            o += sprintf(o, "%s", to);
        } else if (!drop && reword_descriptions && line[0] == '"' && line[1] == 'X') {
            o = reword_line(o, line, n);
        } else if (!drop) {
            memcpy(o, line, n);
            o += n;
        }
        line += n;
    }
    for (int i = 0; i < REGISTRY_TABLES; i++)
        in[i] = (struct registry_input){names[i], data[i], len[i]};
    in[2].data = out;
    in[2].len = (size_t)(o - out);
    struct registry *r;
    struct diag d;
    diag_init(&d);
    assert_int_equal(registry_load_buffers(in, "t", &r, &d), 0);
    size_t n;
    struct image_build_options opt = {.generation = 1};
    assert_int_equal(image_build(r, &opt, buf, &n), 0);
    smtpstatus_image *img;
    assert_int_equal(smtpstatus_image_open(*buf, n, &img), 0);
    registry_free(r);
    diag_free(&d);
    for (int i = 0; i < REGISTRY_TABLES; i++)
        free(data[i]);
    free(out);
    return img;
}

/* A code whose title and associated basic codes changed: exactly those two fields are listed,
 * with their old and new values. */
static void
test_code_diff_fields(void **state)
{
    (void)state;
    void *b_full, *b_edited;
    smtpstatus_image *full = build_edited(NULL, NULL, NULL, NULL, &b_full);
    smtpstatus_image *edited = build_edited(
        NULL, NULL, "\"X.2.2\"",
        "\"X.2.2\",\"Mailbox over quota\",\"552, 452\",\"The recipient has used up their mailbox "
        "storage quota. Meant to be treated as temporary, even when it arrives with a 552 reply, "
        "because the recipient can free up space.\",\"[RFC3463] (Standards Track)\",\"G. "
        "Vaudreuil\",\"IESG\"\n",
        &b_edited);
    struct code_diff d;
    assert_int_equal(code_diff_compute(full, edited, &d), 0);
    assert_int_equal(d.added_count + d.removed_count, 0);
    assert_int_equal(d.changed_count, 1);
    assert_string_equal(d.changed[0], "X.2.2");
    assert_int_equal(d.field_count, 2);
    assert_string_equal(d.fields[0].code, "X.2.2");
    assert_string_equal(d.fields[0].field, "title");
    assert_string_equal(d.fields[0].old, "Mailbox full");
    assert_string_equal(d.fields[0].new, "Mailbox over quota");
    assert_string_equal(d.fields[1].code, "X.2.2");
    assert_string_equal(d.fields[1].field, "basic_codes");
    assert_string_equal(d.fields[1].old, "552");
    assert_string_equal(d.fields[1].new, "552, 452");
    assert_int_equal(d.descriptions_differ, 0);
    code_diff_free(&d);
    smtpstatus_image_close(full);
    smtpstatus_image_close(edited);
    free(b_full);
    free(b_edited);
}

/* From the built-in registry to data whose every description differs (as IANA's do from the
 * project's words): one count, no description listed, no code changed for that alone; the
 * title change of X.2.2 is still listed. From any other registry descriptions are listed. */
static void
test_code_diff_builtin_descriptions(void **state)
{
    (void)state;
    void *b_full, *b_reworded;
    smtpstatus_image *full = build_edited(NULL, NULL, NULL, NULL, &b_full);
    reword_descriptions = 1;
    smtpstatus_image *reworded = build_edited(
        NULL, NULL, "\"X.2.2\"",
        "\"X.2.2\",\"Mailbox over quota\",\"552\",\"Reworded\",\"[RFC3463] (Standards "
        "Track)\",\"G. Vaudreuil\",\"IESG\"\n",
        &b_reworded);
    reword_descriptions = 0;
    uint32_t codes = smtpstatus_image_code_count(reworded);
    assert_true(codes > 50);

    struct code_diff d;
    assert_int_equal(code_diff_compute(smtpstatus_image_embedded(), reworded, &d), 0);
    assert_int_equal(d.descriptions_differ, codes);
    assert_int_equal(d.added_count + d.removed_count, 0);
    assert_int_equal(d.changed_count, 1);
    assert_string_equal(d.changed[0], "X.2.2");
    assert_int_equal(d.field_count, 1);
    assert_string_equal(d.fields[0].field, "title");
    code_diff_free(&d);

    assert_int_equal(code_diff_compute(full, reworded, &d), 0);
    assert_int_equal(d.descriptions_differ, 0);
    assert_int_equal(d.changed_count, codes);
    assert_int_equal(d.field_count, codes + 1);
    code_diff_free(&d);

    smtpstatus_image_close(full);
    smtpstatus_image_close(reworded);
    free(b_full);
    free(b_reworded);
}

static void
test_code_diff(void **state)
{
    (void)state;
    void *b_full, *b_less, *b_changed;
    smtpstatus_image *full = build_edited(NULL, NULL, NULL, NULL, &b_full);
    smtpstatus_image *less = build_edited("\"X.7.29\"", "\"X.7.30\"", NULL, NULL, &b_less);
    smtpstatus_image *changed = build_edited(
        "\"X.7.30\"", NULL, "\"X.2.2\"",
        "\"X.2.2\",\"Mailbox full\",\"452, 552\",\"d\",\"[RFC3463]\",\"G. Vaudreuil\",\"IESG\"\n",
        &b_changed);

    struct code_diff d;
    assert_int_equal(code_diff_compute(less, full, &d), 0);
    assert_int_equal(d.added_count, 2);
    assert_string_equal(d.added[0], "X.7.29");
    assert_string_equal(d.added[1], "X.7.30");
    assert_int_equal(d.removed_count, 0);
    assert_int_equal(d.changed_count, 0);
    code_diff_free(&d);

    assert_int_equal(code_diff_compute(full, changed, &d), 0);
    assert_int_equal(d.added_count, 0);
    assert_int_equal(d.removed_count, 1);
    assert_string_equal(d.removed[0], "X.7.30");
    assert_int_equal(d.changed_count, 1);
    assert_string_equal(d.changed[0], "X.2.2");
    /* Description, associated codes and reference changed; title, submitter and change
     * controller did not. */
    assert_int_equal(d.field_count, 3);
    assert_string_equal(d.fields[0].field, "description");
    assert_string_equal(d.fields[0].new, "d");
    assert_string_equal(d.fields[1].code, "X.2.2");
    assert_string_equal(d.fields[1].field, "basic_codes");
    assert_string_equal(d.fields[1].old, "552");
    assert_string_equal(d.fields[1].new, "452, 552");
    assert_string_equal(d.fields[2].field, "reference");
    assert_string_equal(d.fields[2].old, "[RFC3463] (Standards Track)");
    assert_string_equal(d.fields[2].new, "[RFC3463]");
    assert_int_equal(d.descriptions_differ, 0);
    code_diff_free(&d);

    assert_int_equal(code_diff_compute(full, full, &d), 0);
    assert_int_equal(d.added_count + d.removed_count + d.changed_count, 0);
    assert_int_equal(d.field_count + d.descriptions_differ, 0);
    code_diff_free(&d);

    smtpstatus_image_close(full);
    smtpstatus_image_close(less);
    smtpstatus_image_close(changed);
    free(b_full);
    free(b_less);
    free(b_changed);
}

static void
test_arena(void **state)
{
    (void)state;
    struct arena a = {0};
    for (int i = 0; i < 10000; i++) {
        char *p = arena_alloc(&a, (size_t)(i % 97) + 1);
        assert_non_null(p);
        assert_int_equal(p[0], 0);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 'x', (size_t)(i % 97) + 1);
    }
    char *big = arena_alloc(&a, 1u << 20);
    assert_non_null(big);
    assert_string_equal(arena_printf(&a, "%d-%s", 42, "x"), "42-x");
    assert_string_equal(arena_strndup(&a, "abcdef", 3), "abc");
    assert_int_equal(a.failed, 0);
    arena_free(&a);
    assert_null(a.chunks);
}

static void
test_search_rule(void **state)
{
    (void)state;
    smtpstatus_entry e = {.title = "Mailbox full", .description = "The quota is exceeded."};
    assert_true(smtpstatus_entry_matches(&e, "mailbox"));
    assert_true(smtpstatus_entry_matches(&e, "MAILBOX\tquota"));
    assert_true(smtpstatus_entry_matches(&e, "  full  "));
    assert_true(smtpstatus_entry_matches(&e, ""));
    assert_false(smtpstatus_entry_matches(&e, "mailbox absent"));
    smtpstatus_entry none = {0};
    assert_false(smtpstatus_entry_matches(&none, "x"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_rules),       cmocka_unit_test(test_reload_gate),
        cmocka_unit_test(test_limits_and_unknown), cmocka_unit_test(test_code_diff),
        cmocka_unit_test(test_code_diff_fields),
        cmocka_unit_test(test_code_diff_builtin_descriptions),
        cmocka_unit_test(test_arena),           cmocka_unit_test(test_search_rule),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
