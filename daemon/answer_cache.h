/*
 * Answers of the socket API kept as packed bytes, so that a question asked again is answered
 * with a copy-free write instead of an unpack, a lookup and a pack. A registry never changes
 * while it is served, so the answer to a registry question (service_answer_keepable()) is a
 * function of the question's bytes alone within one generation: the cache is keyed by the
 * operation and the exact bytes of its sub-message, holds the Response packed without its id,
 * and empties itself when the registry served is another (a reload). The request id and the
 * frame's length prefix are written in front of the kept bytes for each answer
 * (answer_cache_prefix()), which gives byte for byte what packing the whole Response gives.
 *
 * Memory is bounded: at most ANSWER_CACHE_SLOTS entries, and at most ANSWER_CACHE_BYTES bytes
 * of entries (each entry's header, key and answer counted), besides the fixed table of
 * ANSWER_CACHE_SLOTS pointers. A key over ANSWER_CACHE_KEY_MAX bytes or an answer over
 * ANSWER_CACHE_VALUE_MAX bytes is not kept. The table is direct-mapped: a new entry replaces
 * the one in its slot, and one that would go over the byte bound empties the whole cache first.
 * Everything here runs on the loop and never blocks.
 */
#ifndef SMTPSTATUSD_ANSWER_CACHE_H
#define SMTPSTATUSD_ANSWER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "smtpstatus.pb-c.h"

#define ANSWER_CACHE_SLOTS     4096u      /* entries at most (a power of two) */
#define ANSWER_CACHE_BYTES     (8u << 20) /* bytes of entries at most: 8 MiB */
#define ANSWER_CACHE_KEY_MAX   512u       /* bytes of a question kept */
#define ANSWER_CACHE_VALUE_MAX 16384u     /* bytes of an answer kept */
/* The length prefix and the id field (its tag and a 64-bit varint) before the kept bytes. */
#define ANSWER_CACHE_PREFIX_MAX (SMTPSTATUS_FRAME_HEADER_MAX + 1 + 10)

_Static_assert((ANSWER_CACHE_SLOTS & (ANSWER_CACHE_SLOTS - 1)) == 0, "slots: a power of two");

/* A question as found in a Request's bytes: its operation (the Request's op field number, as
 * Smtpstatus__V1__Request__OpCase), its id, and the bytes of the operation's sub-message. */
struct answer_key {
    Smtpstatus__V1__Request__OpCase op;
    uint64_t id;
    const uint8_t *bytes; /* points into the request; valid as long as it is */
    size_t len;
    uint64_t hash;
};

/* One kept answer. Owned by the cache; valid until the next answer_cache_put() or
 * answer_cache_sync() that changes it, or answer_cache_free(). */
struct answer_cache_entry {
    uint64_t hash;
    uint32_t key_len, value_len;
    Smtpstatus__V1__Request__OpCase op;
    int error_code; /* the answer's Error code, or -1 when it is no Error: counted at each use */
    uint8_t data[]; /* the key, then the answer */
};

struct answer_cache {
    const void *img;     /* the registry the answers are of (with the generation) */
    uint64_t generation;
    size_t entries;      /* how many slots are used */
    size_t bytes;        /* bytes of the entries, see ANSWER_CACHE_BYTES */
    struct answer_cache_entry *slots[ANSWER_CACHE_SLOTS]; /* owned */
};

/*
 * Recognises, without unpacking it, a Request of msg[0..len) made of an optional id field (tag
 * 1, a varint of at most 10 bytes) and then one operation field (tags 10 to 20, length-
 * delimited, its length a varint of at most 5 bytes) that ends the message, each tag written
 * in its shortest form: what every client this project knows sends. Returns 1 and fills *key
 * (the sub-message's bytes pointing into msg), or 0 for any other shape. A 1 says nothing of
 * whether the sub-message is valid: only a full unpack of the request does, and the cache
 * only holds answers to sub-messages that unpacked once, which the same bytes always do.
 */
int answer_cache_key(const uint8_t *msg, size_t len, struct answer_key *key);

/* Makes c hold answers of registry `img` at `generation`: empties it when it holds another's.
 * Frees entries, so it must not be called while an entry is being written. */
void answer_cache_sync(struct answer_cache *c, const void *img, uint64_t generation);

/* The answer kept for `key`, or NULL. Points into the cache (see struct answer_cache_entry). */
const struct answer_cache_entry *answer_cache_get(const struct answer_cache *c,
                                                  const struct answer_key *key);

/* The kept answer's bytes: the Response packed with id 0. */
static inline const uint8_t *
answer_cache_value(const struct answer_cache_entry *e)
{
    return e->data + e->key_len;
}

/*
 * Keeps `resp`, the answer to `key` (its id is left out), replacing what its slot held, and
 * emptying the cache first when the byte bound would be passed. Returns the entry, or NULL when
 * the key or the answer is over its limit or memory is short (then nothing is kept, and
 * nothing is freed). Frees entries, like answer_cache_sync().
 */
const struct answer_cache_entry *answer_cache_put(struct answer_cache *c,
                                                  const struct answer_key *key,
                                                  const Smtpstatus__V1__Response *resp);

/* Frees every entry; the cache is empty and may be used again. */
void answer_cache_free(struct answer_cache *c);

/*
 * Writes the frame's length prefix and the id field (none for id 0, as protobuf-c packs it) of
 * an answer whose kept bytes are value_len long into out. Returns how many bytes it wrote.
 */
size_t answer_cache_prefix(uint8_t out[ANSWER_CACHE_PREFIX_MAX], uint64_t id, size_t value_len);

#endif
