/*
 * Unit tests for the socket's kept answers (answer_cache.c) and their use by the socket server:
 * which request shapes are recognised without an unpack (and that each agrees with protobuf-c's
 * unpack), that a kept answer with its prefix is byte for byte the packed uncached answer for
 * every id, that the bounds on entries and bytes hold over many distinct questions, and, through
 * a real daemon, that a reload to a registry with another title changes the answer, and that a
 * malformed frame carrying a kept question still gets the malformed-frame error.
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "answer.h"
#include "answer_cache.h"
#include "frame.h"
#include "served.h"
#include "service.h"
#include "smtpstatus.h"

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
    svc->image_path = "";
}

/* Packs req (unframed) into out; returns its length. */
static size_t
pack_request(const Smtpstatus__V1__Request *req, uint8_t *out, size_t cap)
{
    size_t n = smtpstatus__v1__request__get_packed_size(req);
    assert_true(n <= cap);
    smtpstatus__v1__request__pack(req, out);
    return n;
}

static size_t
lookup_request(uint64_t id, char **codes, size_t n, uint8_t *out, size_t cap)
{
    Smtpstatus__V1__LookupRequest l = SMTPSTATUS__V1__LOOKUP_REQUEST__INIT;
    l.n_codes = n;
    l.codes = codes;
    Smtpstatus__V1__Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.id = id;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_LOOKUP;
    req.lookup = &l;
    return pack_request(&req, out, cap);
}

/* The shapes clients send are recognised, and what is recognised is what protobuf-c reads. */
static void
test_key_shapes(void **state)
{
    (void)state;
    uint8_t buf[256];
    char *codes[] = {"5.1.1"};
    struct answer_key k;
    const uint64_t ids[] = {0, 1, 127, 128, UINT64_C(1) << 35, UINT64_MAX};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        size_t n = lookup_request(ids[i], codes, 1, buf, sizeof buf);
        assert_int_equal(answer_cache_key(buf, n, &k), 1);
        Smtpstatus__V1__Request *r = smtpstatus__v1__request__unpack(NULL, n, buf);
        assert_non_null(r);
        assert_int_equal(k.op, r->op_case);
        assert_true(k.id == r->id);
        assert_int_equal(k.len, smtpstatus__v1__lookup_request__get_packed_size(r->lookup));
        smtpstatus__v1__request__free_unpacked(r, NULL);
    }
    /* A two-byte tag (field 16 and up), and a request without an id. */
    Smtpstatus__V1__ClassifyRequest cl = SMTPSTATUS__V1__CLASSIFY_REQUEST__INIT;
    static char no_user[] = "550 5.1.1 no such user";
    cl.reply = (ProtobufCBinaryData){sizeof no_user - 1, (uint8_t *)no_user};
    Smtpstatus__V1__Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.op_case = SMTPSTATUS__V1__REQUEST__OP_CLASSIFY;
    req.classify = &cl;
    size_t n = pack_request(&req, buf, sizeof buf);
    assert_int_equal(buf[0], 0x82);
    assert_int_equal(answer_cache_key(buf, n, &k), 1);
    assert_int_equal(k.op, SMTPSTATUS__V1__REQUEST__OP_CLASSIFY);
    assert_true(k.id == 0);

    /* Anything else is left to the full unpack. */
    n = lookup_request(5, codes, 1, buf, sizeof buf); /* 08 05 5a 07 0a 05 "5.1.1" */
    assert_int_equal(n, 11);
    assert_int_equal(answer_cache_key(buf, 0, &k), 0);
    assert_int_equal(answer_cache_key(buf, n - 1, &k), 0); /* cut short */
    buf[n] = 0x08;
    assert_int_equal(answer_cache_key(buf, n + 1, &k), 0); /* something after the op */
    uint8_t op_first[] = {0x5a, 0x00, 0x08, 0x05};           /* the id after the op */
    assert_int_equal(answer_cache_key(op_first, sizeof op_first, &k), 0);
    uint8_t long_tag[] = {0xda, 0x00, 0x00}; /* field 11 in a two-byte tag */
    assert_int_equal(answer_cache_key(long_tag, sizeof long_tag, &k), 0);
    uint8_t varint_op[] = {0x58, 0x01};      /* field 11 as a varint */
    assert_int_equal(answer_cache_key(varint_op, sizeof varint_op, &k), 0);
    uint8_t field9[] = {0x4a, 0x00}, field21[] = {0xaa, 0x01, 0x00};
    assert_int_equal(answer_cache_key(field9, sizeof field9, &k), 0);
    assert_int_equal(answer_cache_key(field21, sizeof field21, &k), 0);
    uint8_t long_id[16] = {0x08};            /* an id varint of 11 bytes */
    memset(long_id + 1, 0x80, 10);
    long_id[11] = 0x01;
    long_id[12] = 0x5a;
    long_id[13] = 0x00;
    assert_int_equal(answer_cache_key(long_id, 14, &k), 0);
    uint8_t long_len[] = {0x5a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}; /* 6-byte length */
    assert_int_equal(answer_cache_key(long_len, sizeof long_len, &k), 0);
}

/* The requests of test_byte_identical: every registry question, answers and errors. */
static size_t
question(int i, uint64_t id, uint8_t *buf, size_t cap)
{
    static char *one[] = {"5.1.1"}, *three[] = {"X.7.26", "4.2.2", "5.9.99"};
    static char *bad[] = {"5.1"}, *token[] = {"TSS04"};
    Smtpstatus__V1__Request req = SMTPSTATUS__V1__REQUEST__INIT;
    req.id = id;
    Smtpstatus__V1__BasicRequest b = SMTPSTATUS__V1__BASIC_REQUEST__INIT;
    Smtpstatus__V1__RenderRequest r = SMTPSTATUS__V1__RENDER_REQUEST__INIT;
    Smtpstatus__V1__ClassifyRequest c = SMTPSTATUS__V1__CLASSIFY_REQUEST__INIT;
    Smtpstatus__V1__SearchRequest s = SMTPSTATUS__V1__SEARCH_REQUEST__INIT;
    Smtpstatus__V1__ListRequest l = SMTPSTATUS__V1__LIST_REQUEST__INIT;
    switch (i) {
    case 0:
        return lookup_request(id, one, 1, buf, cap);
    case 1:
        return lookup_request(id, three, 3, buf, cap);
    case 2:
        return lookup_request(id, bad, 1, buf, cap);
    case 3:
        return lookup_request(id, token, 1, buf, cap);
    case 4:
        b.basic = 550;
        req.op_case = SMTPSTATUS__V1__REQUEST__OP_BASIC;
        req.basic = &b;
        break;
    case 5:
        b.basic = 999; /* an Error answer */
        req.op_case = SMTPSTATUS__V1__REQUEST__OP_BASIC;
        req.basic = &b;
        break;
    case 6:
        r.basic = 550;
        r.enhanced = "5.1.1";
        r.use_default_text = 1;
        req.op_case = SMTPSTATUS__V1__REQUEST__OP_RENDER;
        req.render = &r;
        break;
    case 7:
        static char full[] = "452 4.2.2 Mailbox full";
        c.reply = (ProtobufCBinaryData){sizeof full - 1, (uint8_t *)full};
        req.op_case = SMTPSTATUS__V1__REQUEST__OP_CLASSIFY;
        req.classify = &c;
        break;
    case 8:
        s.query = "mailbox";
        s.limit = 3;
        req.op_case = SMTPSTATUS__V1__REQUEST__OP_SEARCH;
        req.search = &s;
        break;
    default:
        l.subject = 1;
        l.has_subject = 1;
        req.op_case = SMTPSTATUS__V1__REQUEST__OP_LIST;
        req.list = &l;
        break;
    }
    return pack_request(&req, buf, cap);
}
#define QUESTIONS 10

/* The framed answer of service_handle() to the request in buf, packed whole; its counts in
 * *stats_out. Returns its length. */
static size_t
uncached(const uint8_t *buf, size_t n, uint8_t *out, size_t cap, struct stats *stats_out)
{
    struct service svc;
    init_service(&svc);
    struct arena a = {0};
    struct peer nobody = {1, 1, 65534, 65534, 1, 0};
    Smtpstatus__V1__Request *req = smtpstatus__v1__request__unpack(NULL, n, buf);
    assert_non_null(req);
    Smtpstatus__V1__Response resp;
    assert_int_equal(service_handle(&svc, req, &nobody, &a, &resp), SERVICE_DONE);
    assert_true(service_answer_keepable(req, &resp));
    size_t len = smtpstatus__v1__response__get_packed_size(&resp);
    assert_true(len + SMTPSTATUS_FRAME_HEADER_MAX <= cap);
    size_t h = smtpstatus__frame_put_header(out, len);
    smtpstatus__v1__response__pack(&resp, out + h);
    *stats_out = svc.stats;
    arena_free(&a);
    smtpstatus__v1__request__free_unpacked(req, NULL);
    return h + len;
}

/* A kept answer, behind the prefix for each id, is byte for byte the answer packed whole, and
 * counts what service_handle() counts. */
static void
test_byte_identical(void **state)
{
    (void)state;
    static struct answer_cache cache;
    answer_cache_sync(&cache, embedded.img, embedded.generation);
    static uint8_t want[1 << 20], got[1 << 20];
    uint8_t req[512];
    const uint64_t ids[] = {0, 9, 300, UINT64_C(1) << 35, UINT64_MAX};
    for (int q = 0; q < QUESTIONS; q++) {
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            size_t n = question(q, ids[i], req, sizeof req);
            struct stats st;
            size_t want_len = uncached(req, n, want, sizeof want, &st);
            struct answer_key k;
            assert_int_equal(answer_cache_key(req, n, &k), 1);
            const struct answer_cache_entry *e = answer_cache_get(&cache, &k);
            if (i == 0) {
                /* Kept from the first answer, whatever its id. */
                assert_null(e);
                struct arena a = {0};
                Smtpstatus__V1__Request *r = smtpstatus__v1__request__unpack(NULL, n, req);
                Smtpstatus__V1__Response resp;
                struct service svc;
                init_service(&svc);
                struct peer nobody = {1, 1, 65534, 65534, 1, 0};
                service_handle(&svc, r, &nobody, &a, &resp);
                e = answer_cache_put(&cache, &k, &resp);
                arena_free(&a);
                smtpstatus__v1__request__free_unpacked(r, NULL);
                if (q == QUESTIONS - 1 && e == NULL) {
                    /* A whole subject's list may be over the answer limit: not kept. */
                    assert_true(want_len > ANSWER_CACHE_VALUE_MAX);
                    break;
                }
            }
            assert_non_null(e);
            size_t p = answer_cache_prefix(got, ids[i], e->value_len);
            memcpy(got + p, answer_cache_value(e), e->value_len);
            assert_int_equal(p + e->value_len, want_len);
            assert_memory_equal(got, want, want_len);
            /* The counts of a kept answer are the first answer's. */
            struct service svc;
            init_service(&svc);
            service_count_kept(&svc, e->op, e->error_code);
            assert_memory_equal(svc.stats.requests, st.requests, sizeof st.requests);
            assert_memory_equal(svc.stats.errors, st.errors, sizeof st.errors);
        }
    }
    /* Error answers are counted as errors: 999 is no basic code. */
    size_t n = question(5, 1, req, sizeof req);
    struct answer_key k;
    assert_int_equal(answer_cache_key(req, n, &k), 1);
    assert_int_equal(answer_cache_get(&cache, &k)->error_code,
                     SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT);
    /* Another generation of the registry empties the cache. */
    answer_cache_sync(&cache, embedded.img, embedded.generation + 1);
    assert_null(answer_cache_get(&cache, &k));
    assert_int_equal(cache.entries, 0);
    assert_int_equal(cache.bytes, 0);
    answer_cache_free(&cache);
}

/* Many distinct questions, small and large: the cache never holds more than its bounds, and
 * keeps answering what it holds. */
static void
test_bounds(void **state)
{
    (void)state;
    static struct answer_cache cache;
    answer_cache_sync(&cache, embedded.img, embedded.generation);
    struct service svc;
    init_service(&svc);
    struct peer nobody = {1, 1, 65534, 65534, 1, 0};
    struct arena a = {0};
    uint8_t req[4096];
    char names[16][16];
    char *codes[16];
    size_t max_entries = 0, max_bytes = 0, kept = 0;
    uint64_t seed = 14;
    for (int i = 0; i < 20000; i++) {
        /* Up to 16 codes each: answers from a few hundred bytes to over ten kilobytes. */
        size_t count = 1 + (size_t)(testutil_rand(&seed) % 16);
        for (size_t j = 0; j < count; j++) {
            static const int classes[] = {2, 4, 5};
            snprintf(names[j], sizeof names[j], "%d.%d.%d", classes[j % 3],
                     (int)(testutil_rand(&seed) % 8), (int)(testutil_rand(&seed) % 1000));
            codes[j] = names[j];
        }
        size_t n = lookup_request((uint64_t)i, codes, count, req, sizeof req);
        struct answer_key k;
        assert_int_equal(answer_cache_key(req, n, &k), 1);
        if (answer_cache_get(&cache, &k) != NULL)
            continue;
        Smtpstatus__V1__Request *r = smtpstatus__v1__request__unpack(NULL, n, req);
        Smtpstatus__V1__Response resp;
        service_handle(&svc, r, &nobody, &a, &resp);
        const struct answer_cache_entry *e = answer_cache_put(&cache, &k, &resp);
        if (e != NULL) {
            kept++;
            assert_ptr_equal(answer_cache_get(&cache, &k), e);
        }
        arena_reset(&a);
        smtpstatus__v1__request__free_unpacked(r, NULL);
        assert_true(cache.entries <= ANSWER_CACHE_SLOTS);
        assert_true(cache.bytes <= ANSWER_CACHE_BYTES);
        if (cache.entries > max_entries)
            max_entries = cache.entries;
        if (cache.bytes > max_bytes)
            max_bytes = cache.bytes;
    }
    /* The byte bound was reached (so it was the bound that held), and answers were kept. */
    assert_true(max_bytes > ANSWER_CACHE_BYTES / 2);
    assert_true(kept > ANSWER_CACHE_SLOTS);
    size_t counted = 0;
    for (size_t i = 0; i < ANSWER_CACHE_SLOTS; i++)
        counted += cache.slots[i] != NULL;
    assert_int_equal(counted, cache.entries);

    /* A question over the key limit is not kept. */
    static char longcode[ANSWER_CACHE_KEY_MAX + 8];
    memset(longcode, '5', sizeof longcode - 1);
    char *lc[] = {longcode};
    size_t n = lookup_request(1, lc, 1, req, sizeof req);
    struct answer_key k;
    assert_int_equal(answer_cache_key(req, n, &k), 1);
    Smtpstatus__V1__Request *r = smtpstatus__v1__request__unpack(NULL, n, req);
    Smtpstatus__V1__Response resp;
    service_handle(&svc, r, &nobody, &a, &resp);
    size_t before = cache.entries;
    assert_null(answer_cache_put(&cache, &k, &resp));
    assert_int_equal(cache.entries, before);
    smtpstatus__v1__request__free_unpacked(r, NULL);
    arena_free(&a);
    answer_cache_free(&cache);
    assert_int_equal(cache.entries, 0);
}

/* ---- through a real daemon ------------------------------------------------------------------ */

static int
connect_daemon(const char *rundir)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/smtpstatusd.sock", rundir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void
send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one framed Response (the caller frees it), or returns NULL at the end of the stream. */
static Smtpstatus__V1__Response *
read_response(int fd, uint8_t *frame, size_t cap, size_t *frame_len)
{
    size_t len = 0, hdr;
    uint64_t n;
    for (;;) {
        enum frame_status st = smtpstatus__frame_header(frame, len, &hdr, &n);
        assert_int_not_equal(st, FRAME_MALFORMED);
        if (st == FRAME_HEADER && len == hdr + n)
            break;
        size_t want = st == FRAME_HEADER ? hdr + (size_t)n - len : 1;
        assert_true(len + want <= cap);
        ssize_t r = read(fd, frame + len, want);
        assert_true(r >= 0);
        if (r == 0) {
            assert_int_equal(len, 0);
            return NULL;
        }
        len += (size_t)r;
    }
    *frame_len = len;
    Smtpstatus__V1__Response *resp = smtpstatus__v1__response__unpack(NULL, (size_t)n, frame + hdr);
    assert_non_null(resp);
    return resp;
}

/* The title of 5.1.1 in a lookup answer with this id. */
static void
assert_title(Smtpstatus__V1__Response *r, uint64_t id, const char *title)
{
    assert_non_null(r);
    assert_true(r->id == id);
    assert_int_equal(r->result_case, SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP);
    assert_int_equal(r->lookup->n_entries, 1);
    assert_string_equal(r->lookup->entries[0]->title, title);
    smtpstatus__v1__response__free_unpacked(r, NULL);
}

/* Asks for 5.1.1 three times with ids 1, 2, 3 (the last two from the cache) on fd; checks
 * that the three answers differ only in their id and have this title. */
static void
ask_three(int fd, const char *title)
{
    char *codes[] = {"5.1.1"};
    uint8_t req[64], frame[3][8192];
    size_t len[3];
    for (uint64_t id = 1; id <= 3; id++) {
        uint8_t msg[48];
        size_t n = lookup_request(id, codes, 1, msg, sizeof msg);
        size_t h = smtpstatus__frame_put_header(req, n);
        memcpy(req + h, msg, n);
        send_all(fd, req, h + n);
    }
    for (uint64_t id = 1; id <= 3; id++)
        assert_title(read_response(fd, frame[id - 1], sizeof frame[0], &len[id - 1]), id, title);
    /* One-byte ids: the frames are the same size and differ in the id byte alone, which
     * follows the length prefix and the id's tag. */
    size_t hdr;
    uint64_t n;
    assert_int_equal(smtpstatus__frame_header(frame[0], len[0], &hdr, &n), FRAME_HEADER);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(len[i], len[0]);
        assert_memory_equal(frame[i], frame[0], hdr + 1);
        assert_int_equal(frame[i][hdr + 1], i + 1);
        assert_memory_equal(frame[i] + hdr + 2, frame[0] + hdr + 2, len[0] - hdr - 2);
    }
}

/* Copies every CSV file of the project's data into dir, the title of X.1.1 edited. */
static void
edited_registry(const char *dir)
{
    DIR *d = opendir(testutil_project_data());
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 4 || strcmp(de->d_name + nl - 4, ".csv") != 0)
            continue;
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/%s", testutil_project_data(), de->d_name);
        snprintf(dst, sizeof dst, "%s/%s", dir, de->d_name);
        size_t len;
        char *text = testutil_read_file(src, &len);
        const char *old = "\"X.1.1\",\"Bad destination mailbox address\"";
        char *at = strstr(text, old);
        if (at != NULL) {
            const char *new = "\"X.1.1\",\"No such mailbox here\"";
            char *out = malloc(len + strlen(new));
            assert_non_null(out);
            size_t pre = (size_t)(at - text);
            memcpy(out, text, pre);
            memcpy(out + pre, new, strlen(new));
            size_t rest = len - pre - strlen(old);
            memcpy(out + pre + strlen(new), at + strlen(old), rest);
            testutil_write_file(dst, out, pre + strlen(new) + rest);
            free(out);
        } else {
            testutil_write_file(dst, text, len);
        }
        free(text);
    }
    closedir(d);
}

/* A reload to a registry where 5.1.1 has another title: the kept answer goes with the old
 * generation, and the next answers (kept again) carry the new title. */
static void
test_daemon_reload(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* reload is for root, the daemon's user or the admin group */
    const char *tmp = testutil_tempdir();
    char dir[256], edited[300];
    snprintf(dir, sizeof dir, "%s", tmp);
    snprintf(edited, sizeof edited, "%s/edited", tmp);
    assert_int_equal(mkdir(edited, 0755), 0);
    edited_registry(edited);
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, testutil_project_data());

    int fd = connect_daemon(d.rundir);
    ask_three(fd, "Bad destination mailbox address");
    smtpstatus_options o = {.rundir = d.rundir, .timeout_ms = 10000, .socket_only = 1};
    smtpstatus *h;
    assert_int_equal(smtpstatus_open(&o, &h), 0);
    smtpstatus_result *r;
    assert_int_equal(smtpstatus_reload(h, edited, &r), 0);
    smtpstatus_result_free(r);
    ask_three(fd, "No such mailbox here");

    /* The stats count the kept answers as lookups. */
    assert_int_equal(smtpstatus_stats(h, &r), 0);
    const char *group, *name;
    uint64_t value, lookups = 0;
    for (size_t i = 0; smtpstatus_result_counter(r, i, &group, &name, &value) == 0; i++)
        if (strcmp(group, "requests") == 0 && strcmp(name, "lookup") == 0)
            lookups = value;
    assert_int_equal(lookups, 6);
    smtpstatus_result_free(r);
    smtpstatus_close(h);
    close(fd);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

/* A frame that holds a kept question and then a stray byte is no Request: the malformed-frame
 * error and a close, as before the cache. */
static void
test_daemon_malformed_after_kept(void **state)
{
    (void)state;
    const char *tmp = testutil_tempdir();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp);
    struct testutil_daemon d;
    testutil_daemon_start(&d, dir, NULL);
    int fd = connect_daemon(d.rundir);
    uint8_t frame[8192];
    size_t len;
    char *codes[] = {"5.1.1"};
    uint8_t msg[64], req[80];
    size_t n = lookup_request(4, codes, 1, msg, sizeof msg);
    size_t h = smtpstatus__frame_put_header(req, n);
    memcpy(req + h, msg, n);
    send_all(fd, req, h + n);
    Smtpstatus__V1__Response *r = read_response(fd, frame, sizeof frame, &len);
    assert_true(r != NULL && r->id == 4 && r->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP);
    smtpstatus__v1__response__free_unpacked(r, NULL);
    /* The same request with a field 15 (render) tag and no length after it. */
    msg[n] = 0x7a;
    h = smtpstatus__frame_put_header(req, n + 1);
    memcpy(req + h, msg, n + 1);
    send_all(fd, req, h + n + 1);
    r = read_response(fd, frame, sizeof frame, &len);
    assert_non_null(r);
    assert_int_equal(r->result_case, SMTPSTATUS__V1__RESPONSE__RESULT_ERROR);
    assert_int_equal(r->error->code, SMTPSTATUS__V1__ERROR__CODE__MALFORMED_FRAME);
    assert_true(r->id == 0);
    smtpstatus__v1__response__free_unpacked(r, NULL);
    assert_null(read_response(fd, frame, sizeof frame, &len));
    close(fd);
    testutil_daemon_stop(&d);
    testutil_rmtree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_shapes),
        cmocka_unit_test(test_byte_identical),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test_teardown(test_daemon_reload, testutil_teardown),
        cmocka_unit_test_teardown(test_daemon_malformed_after_kept, testutil_teardown),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
