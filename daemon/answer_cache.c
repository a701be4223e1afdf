/* Packed answers kept per question and generation (see answer_cache.h). */
#include "answer_cache.h"

#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

#define TAG_ID 0x08u /* field 1, varint */
#define OP_FIRST SMTPSTATUS__V1__REQUEST__OP_HELLO
#define OP_LAST SMTPSTATUS__V1__REQUEST__OP_BOUNCE
#define LEN_VARINT_MAX 5 /* what protobuf-c reads of a length prefix */

/* A varint of at most `max` bytes at p[0..len) (the tenth byte, if any, carrying only the 64th
 * bit). Returns its size, or 0 when it is longer, cut short or out of range. */
static size_t
varint(const uint8_t *p, size_t len, size_t max, uint64_t *out)
{
    size_t hdr;
    uint64_t v;
    if (smtpstatus__frame_header(p, len, &hdr, &v) != FRAME_HEADER || hdr > max)
        return 0;
    *out = v;
    return hdr;
}

int
answer_cache_key(const uint8_t *msg, size_t len, struct answer_key *key)
{
    size_t off = 0, n;
    uint64_t id = 0, tag, sub;
    if (len > 0 && msg[0] == TAG_ID) {
        if ((n = varint(msg + 1, len - 1, SMTPSTATUS_FRAME_HEADER_MAX, &id)) == 0)
            return 0;
        off = 1 + n;
    }
    /* The operation's tag in its shortest form: one byte below field 16, two from there. */
    if ((n = varint(msg + off, len - off, 2, &tag)) == 0 || (n == 2 && msg[off + 1] == 0))
        return 0;
    uint64_t field = tag >> 3;
    if ((tag & 7u) != 2 || field < OP_FIRST || field > OP_LAST)
        return 0;
    off += n;
    if ((n = varint(msg + off, len - off, LEN_VARINT_MAX, &sub)) == 0)
        return 0;
    off += n;
    if (sub != len - off)
        return 0; /* something follows the operation, or it is cut short */
    key->op = (Smtpstatus__V1__Request__OpCase)field;
    key->id = id;
    key->bytes = msg + off;
    key->len = (size_t)sub;
    uint8_t op = (uint8_t)field;
    key->hash = smtpstatus_fnv64(smtpstatus_fnv64(SMTPSTATUS_FNV64_INIT, &op, 1), key->bytes,
                                 key->len);
    return 1;
}

static size_t
entry_size(const struct answer_cache_entry *e)
{
    return sizeof *e + e->key_len + e->value_len;
}

static void
clear(struct answer_cache *c)
{
    for (size_t i = 0; i < ANSWER_CACHE_SLOTS && c->entries > 0; i++) {
        if (c->slots[i] != NULL) {
            free(c->slots[i]);
            c->slots[i] = NULL;
            c->entries--;
        }
    }
    c->bytes = 0;
}

void
answer_cache_free(struct answer_cache *c)
{
    clear(c);
}

void
answer_cache_sync(struct answer_cache *c, const void *img, uint64_t generation)
{
    if (c->img == img && c->generation == generation)
        return;
    clear(c);
    c->img = img;
    c->generation = generation;
}

static size_t
slot_of(uint64_t hash)
{
    return (size_t)(hash ^ (hash >> 32)) & (ANSWER_CACHE_SLOTS - 1);
}

const struct answer_cache_entry *
answer_cache_get(const struct answer_cache *c, const struct answer_key *key)
{
    const struct answer_cache_entry *e = c->slots[slot_of(key->hash)];
    if (e == NULL || e->hash != key->hash || e->op != key->op || e->key_len != key->len ||
        memcmp(e->data, key->bytes, key->len) != 0)
        return NULL;
    return e;
}

const struct answer_cache_entry *
answer_cache_put(struct answer_cache *c, const struct answer_key *key,
                 const Smtpstatus__V1__Response *resp)
{
    Smtpstatus__V1__Response anon = *resp;
    anon.id = 0;
    size_t n = smtpstatus__v1__response__get_packed_size(&anon);
    if (key->len > ANSWER_CACHE_KEY_MAX || n > ANSWER_CACHE_VALUE_MAX)
        return NULL;
    struct answer_cache_entry *e = malloc(sizeof *e + key->len + n);
    if (e == NULL)
        return NULL;
    e->hash = key->hash;
    e->key_len = (uint32_t)key->len;
    e->value_len = (uint32_t)n;
    e->op = key->op;
    e->error_code = resp->result_case == SMTPSTATUS__V1__RESPONSE__RESULT_ERROR
                        ? (int)resp->error->code
                        : -1;
    memcpy(e->data, key->bytes, key->len);
    smtpstatus__v1__response__pack(&anon, e->data + key->len);
    struct answer_cache_entry **slot = &c->slots[slot_of(key->hash)];
    if (*slot != NULL) {
        c->bytes -= entry_size(*slot);
        c->entries--;
        free(*slot);
        *slot = NULL;
    }
    if (c->bytes + entry_size(e) > ANSWER_CACHE_BYTES)
        clear(c);
    *slot = e;
    c->entries++;
    c->bytes += entry_size(e);
    return e;
}

size_t
answer_cache_prefix(uint8_t out[ANSWER_CACHE_PREFIX_MAX], uint64_t id, size_t value_len)
{
    uint8_t idf[1 + SMTPSTATUS_FRAME_HEADER_MAX];
    size_t idn = 0;
    if (id != 0) {
        idf[0] = TAG_ID;
        idn = 1 + smtpstatus__frame_put_header(idf + 1, id);
    }
    size_t h = smtpstatus__frame_put_header(out, idn + value_len);
    memcpy(out + h, idf, idn);
    return h + idn;
}
