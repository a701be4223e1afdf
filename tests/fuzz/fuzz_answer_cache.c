/*
 * libFuzzer target for answer_cache_key(), the socket server's recognition of a cacheable
 * question without an unpack. Its answer must agree with protobuf-c on every input: when it
 * recognises a Request that protobuf-c also decodes, both name the same operation and id; and
 * every Request protobuf-c packs itself (an id and one operation, no unknown fields) is
 * recognised, so that no client this project knows misses the cache. A question the key
 * recognises but protobuf-c refuses is fine: the server keeps an answer only after a full
 * unpack of those bytes succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "answer_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    memcpy(buf, data, size);
    struct answer_key key;
    int recognised = answer_cache_key(buf, size, &key);
    Smtpstatus__V1__Request *req = smtpstatus__v1__request__unpack(NULL, size, buf);
    if (recognised) {
        if (key.bytes < buf || key.len > size || (size_t)(key.bytes - buf) > size - key.len)
            abort(); /* the sub-message must lie inside the request */
        if (req != NULL && (req->op_case != key.op || req->id != key.id))
            abort();
    }
    if (req != NULL && req->op_case != SMTPSTATUS__V1__REQUEST__OP__NOT_SET &&
        req->base.n_unknown_fields == 0) {
        size_t n = smtpstatus__v1__request__get_packed_size(req);
        uint8_t *packed = malloc(n ? n : 1);
        smtpstatus__v1__request__pack(req, packed);
        struct answer_key again;
        if (!answer_cache_key(packed, n, &again) || again.op != req->op_case ||
            again.id != req->id)
            abort();
        free(packed);
    }
    smtpstatus__v1__request__free_unpacked(req, NULL);
    free(buf);
    return 0;
}
