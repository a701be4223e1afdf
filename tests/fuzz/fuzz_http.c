/*
 * libFuzzer target for the JSON debug port's request path: arbitrary bytes are read as a
 * client's stream by http_reader.c (llhttp, the URI, header and body limits), in two pieces
 * split where the first byte says, as two reads would bring them; each whole request is routed
 * and answered by http_api.c against the embedded registry, as http_server.c answers it. A
 * reload is answered as a failed one. Every answer must have a known status and a body; a JSON
 * answer must parse back as one JSON object, and an error answer must carry its status.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_api.h"
#include "http_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct served current;
static struct service svc;
static struct metrics metrics;
static struct http_api api;
static struct buf body;

static void
check_answer(const struct http_response *r, const struct buf *b)
{
    if (strcmp(http_api_reason(r->status), "Unknown") == 0 || b->len == 0)
        abort();
    if (strcmp(r->content_type, "application/json") != 0)
        return;
    json_t *j = json_loadb(b->data, b->len, 0, NULL);
    if (j == NULL || !json_is_object(j))
        abort();
    if (r->status != 200) {
        json_t *st = json_object_get(json_object_get(j, "error"), "status");
        if (!json_is_integer(st) || json_integer_value(st) != r->status)
            abort();
    }
    json_decref(j);
}

static int
on_request(void *arg, const struct http_request *req, int keep_alive)
{
    (void)arg;
    struct http_response r;
    char dir_buf[256];
    const char *dir;
    buf_reset(&body);
    if (http_api_handle(&api, req, &body, &r, dir_buf, sizeof dir_buf, &dir) == HTTP_API_RELOAD) {
        struct diag d;
        diag_init(&d);
        diag_add(&d, DIAG_ERROR, "fuzz", 1, 1, "no reloads here");
        buf_reset(&body);
        http_api_reload_response(&api, 0, 0, &d, 0, &body, &r);
        diag_free(&d);
    }
    check_answer(&r, &body);
    return !keep_alive; /* stop reading after Connection: close, as the server does */
}

static const struct http_reader_hooks hooks = {NULL, NULL, on_request};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (current.img == NULL) {
        served_init_embedded(&current, 1);
        svc.current = &current;
        svc.image_path = "";
        api = (struct http_api){.svc = &svc, .metrics = &metrics, .admin = 1};
    }
    if (size == 0)
        return 0;
    /* The first byte: where the stream is cut in two reads, and whether the peer is local (so
     * that reload is reached too). */
    size_t cut = (size_t)(data[0] >> 1) * (size - 1) / 127;
    int local = data[0] & 1;
    size -= 1;
    char *buf = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    memcpy(buf, data + 1, size);
    struct http_reader r;
    http_reader_init(&r, &hooks, NULL, local);
    size_t consumed;
    int status;
    char msg[256];
    enum http_read_status st = http_reader_feed(&r, buf, cut, &consumed, &status, msg, sizeof msg);
    if (st == HTTP_READ_OK)
        st = http_reader_feed(&r, buf + cut, size - cut, &consumed, &status, msg, sizeof msg);
    if (st == HTTP_READ_ERROR) {
        struct http_response resp;
        buf_reset(&body);
        http_api_error(&api, status, msg, &body, &resp);
        check_answer(&resp, &body);
    }
    http_reader_free(&r);
    free(buf);
    return 0;
}
