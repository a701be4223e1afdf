/*
 * libFuzzer target for the socket API's input path: the bytes a client sends are cut into
 * frames as rpc_server.c cuts them, each frame is decoded as a Request and dispatched by
 * service.c against the embedded registry, and each Response is packed as it would be sent.
 * Malformed framing ends the stream, as it ends a connection. Every response must pack to
 * exactly its announced size and decode again.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct served current;
    static struct service svc;
    if (current.img == NULL) {
        served_init_embedded(&current, 1);
        svc.current = &current;
        svc.image_path = "";
    }
    /* The first byte chooses who is asking: root (may reload) or nobody. */
    struct peer peer = {1, 1, size > 0 && (data[0] & 1) ? 0 : 65534, 65534, 1, 0};
    uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    memcpy(buf, data, size);

    size_t off = size > 0 ? 1 : 0;
    for (;;) {
        size_t hdr;
        uint64_t n;
        enum frame_status st = smtpstatus__frame_header(buf + off, size - off, &hdr, &n);
        if (st != FRAME_HEADER || n > SMTPSTATUS_FRAME_LIMIT_DEFAULT || size - off - hdr < n)
            break;
        Smtpstatus__V1__Request *req =
            smtpstatus__v1__request__unpack(NULL, (size_t)n, buf + off + hdr);
        off += hdr + (size_t)n;
        if (req == NULL)
            break;
        struct arena a = {0};
        Smtpstatus__V1__Response resp;
        if (service_handle(&svc, req, &peer, &a, &resp) == SERVICE_RELOAD) {
            struct diag d;
            diag_init(&d);
            diag_add(&d, DIAG_ERROR, "fuzz", 1, 1, "no reloads here");
            service_reload_response(&svc, req->id, 0, &d, &a, &resp);
            diag_free(&d);
        }
        size_t len = smtpstatus__v1__response__get_packed_size(&resp);
        uint8_t *out = malloc(len ? len : 1);
        if (smtpstatus__v1__response__pack(&resp, out) != len)
            abort();
        Smtpstatus__V1__Response *back = smtpstatus__v1__response__unpack(NULL, len, out);
        if (back == NULL || back->id != req->id)
            abort();
        smtpstatus__v1__response__free_unpacked(back, NULL);
        free(out);
        arena_free(&a);
        smtpstatus__v1__request__free_unpacked(req, NULL);
    }
    free(buf);
    return 0;
}
