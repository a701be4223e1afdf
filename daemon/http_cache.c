/*
 * The lookup answers of the registry served (see http_cache.h): 1024 slots keyed by code and
 * indentation, each owning one malloc'd answer. A collision replaces the answer in its slot;
 * the registry's codes are a few hundred, so most stay.
 */
#include "http_cache.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 1024

struct cache_slot {
    uint32_t key; /* http_cache_key(); 0: empty */
    size_t len;
    char *body; /* owned */
};

struct http_cache {
    const smtpstatus_image *img; /* the registry the answers are of */
    uint64_t generation;
    struct cache_slot slots[CACHE_SLOTS];
};

uint32_t
http_cache_key(smtpstatus_code c, int pretty)
{
    return 1u + ((uint32_t)c.cls << 21 | (uint32_t)c.subject << 11 | (uint32_t)c.detail << 1 |
                 (uint32_t)(pretty != 0));
}

static struct cache_slot *
slot_of(struct http_cache *cache, uint32_t key)
{
    return &cache->slots[(key ^ (key >> 10)) % CACHE_SLOTS];
}

static void
clear(struct http_cache *cache)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(cache->slots[i].body);
        cache->slots[i] = (struct cache_slot){0};
    }
}

const char *
http_cache_get(struct http_cache **cache, const smtpstatus_image *img, uint64_t generation,
               uint32_t key, size_t *len)
{
    struct http_cache *h = *cache;
    if (h == NULL && (h = *cache = calloc(1, sizeof *h)) == NULL)
        return NULL;
    if (h->img != img || h->generation != generation) {
        clear(h);
        h->img = img;
        h->generation = generation;
    }
    const struct cache_slot *slot = slot_of(h, key);
    if (slot->key != key)
        return NULL;
    *len = slot->len;
    return slot->body;
}

void
http_cache_put(struct http_cache *cache, uint32_t key, const char *body, size_t len)
{
    if (cache == NULL)
        return;
    char *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, body, len);
    struct cache_slot *slot = slot_of(cache, key);
    free(slot->body);
    *slot = (struct cache_slot){key, len, copy};
}

void
http_cache_free(struct http_cache *cache)
{
    if (cache == NULL)
        return;
    clear(cache);
    free(cache);
}
