/*
 * The JSON debug port's endpoints (see http_api.h). Each handler parses its path and query,
 * asks the image being served through libsmtpstatus, and has answer_json.c build the object
 * that the CLI's --json would print for the same question. Query strings are percent-decoded
 * into bounded stack buffers: a target is at most HTTP_URI_LIMIT bytes, so no value is longer.
 */
#include "http_api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "answer_json.h"
#include "bounce.h"
#include "search.h"
#include "smtpstatus.h"

#define RENDER_MAX   65536 /* bytes of rendered output */
#define JSON_TYPE    "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

const char *
http_api_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/* The stable name of an error status, in the socket API's vocabulary where it has one. */
static const char *
error_code_name(int status)
{
    switch (status) {
    case 400:
        return "invalid_argument";
    case 403:
        return "permission_denied";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 409:
        return "busy";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 422:
        return "reload_failed";
    case 431:
        return "headers_too_large";
    case 503:
        return "unavailable";
    default:
        return "internal";
    }
}

/* ---- output --------------------------------------------------------------------------------- */

/* Dumps `o` (taking the reference) after what `body` holds. Returns 0, or -1 when `o` is NULL
 * or memory ran out; the body is then as it was. */
static int
dump(json_t *o, int pretty, struct buf *body)
{
    if (o == NULL)
        return -1;
    size_t flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    size_t room = body->cap - body->len;
    size_t n = json_dumpb(o, body->data ? body->data + body->len : NULL, room, flags);
    if (n > room) {
        /* It did not fit: make room for exactly what it needs and dump again. */
        if (buf_reserve(body, n + 1) != 0) {
            json_decref(o);
            return -1;
        }
        n = json_dumpb(o, body->data + body->len, body->cap - body->len, flags);
    }
    json_decref(o);
    if (n == 0)
        return -1;
    body->len += n;
    return buf_append(body, "\n", 1);
}

static void
error_pretty(struct http_api *api, int status, const char *message, int pretty, struct buf *body,
             struct http_response *resp)
{
    (void)api;
    resp->status = status;
    resp->content_type = JSON_TYPE;
    json_t *o = json_object(), *e = json_object();
    answer_json_set(e, "status", json_integer(status));
    answer_json_set(e, "code", answer_json_str(error_code_name(status)));
    answer_json_set(e, "message", answer_json_str(message));
    answer_json_set(o, "error", e);
    size_t start = body->len;
    if (dump(o, pretty, body) != 0) {
        /* No memory even for the error: a fixed answer that needs none. */
        body->len = start;
        resp->status = 500;
        buf_puts(body, "{\"error\":{\"status\":500,\"code\":\"internal\",\"message\":\"out of "
                       "memory\"}}\n");
    }
}

void
http_api_error(struct http_api *api, int status, const char *message, struct buf *body,
               struct http_response *resp)
{
    resp->op = HTTP_OP_UNKNOWN;
    resp->allow = NULL;
    error_pretty(api, status, message, 0, body, resp);
}

/* Dumps an answer with status 200, or a 500 when it could not be built. */
static void
answer(struct http_api *api, json_t *o, int pretty, struct buf *body, struct http_response *resp)
{
    resp->status = 200;
    resp->content_type = JSON_TYPE;
    size_t start = body->len;
    if (dump(o, pretty, body) != 0) {
        body->len = start;
        error_pretty(api, 500, "out of memory", pretty, body, resp);
    }
}

/* ---- the query string ----------------------------------------------------------------------- */

static int
hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out[0..size) with a NUL ('+' is a space when plus_space).
 * Returns the decoded length, or -1 for a bad escape or an output that does not fit. */
static long
decode(const char *s, size_t n, char *out, size_t size, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex(s[i + 1]) : -1, lo = i + 2 < n ? hex(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = c;
    }
    if (size == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

struct query {
    const char *s; /* after the '?', not NUL-ended */
    size_t len;
};

/* Finds parameter `name` and decodes its value into out[0..size). Returns 1 when found, 0 when
 * absent, -1 when its value is malformed, holds a NUL, or is too long. The first occurrence
 * counts. */
static int
query_get(const struct query *q, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    const char *p = q->s, *end = q->s + q->len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : pe;
            long n = decode(v, (size_t)(pe - v), out, size, 1);
            /* Values are used as C strings: a %00 would silently cut one short. */
            return n < 0 || strlen(out) != (size_t)n ? -1 : 1;
        }
        p = pe + (amp != NULL);
    }
    return 0;
}

/* Checks that every parameter is one of `known` (NULL-terminated). Returns 0, or -1 with the
 * first unknown name (cut to fit) in bad[0..size). */
static int
query_check(const struct query *q, const char *const *known, char *bad, size_t size)
{
    const char *p = q->s, *end = q->s + q->len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        size_t klen = (size_t)((eq ? eq : pe) - p);
        int ok = klen == 0; /* "a=1&&b=2" has an empty parameter: ignore it */
        for (size_t i = 0; !ok && known[i] != NULL; i++)
            ok = strlen(known[i]) == klen && memcmp(known[i], p, klen) == 0;
        if (!ok) {
            snprintf(bad, size, "%.*s", (int)(klen < 64 ? klen : 64), p);
            return -1;
        }
        p = pe + (amp != NULL);
    }
    return 0;
}

static int
truthy(const char *v)
{
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || v[0] == '\0';
}

int
http_api_wants_pretty(const char *target, size_t len)
{
    const char *qm = memchr(target, '?', len);
    if (qm == NULL)
        return 0;
    struct query q = {qm + 1, len - (size_t)(qm + 1 - target)};
    char v[8];
    return query_get(&q, "pretty", v, sizeof v) == 1 && truthy(v);
}

/* Parses an unsigned decimal value of at most `max`. Returns 0, or -1. */
static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (s[0] < '0' || s[0] > '9' || strlen(s) > 9)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---- handlers ------------------------------------------------------------------------------- */

struct ctx {
    struct http_api *api;
    const smtpstatus_image *img;
    struct query q;
    int pretty;
    struct buf *body;
    struct http_response *resp;
};

static void fail(struct ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct ctx *c, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_pretty(c->api, status, msg, c->pretty, c->body, c->resp);
}

/* Refuses parameters the endpoint does not know: a typo would otherwise be silently ignored. */
static int
known_params(struct ctx *c, const char *const *known)
{
    char bad[80];
    if (query_check(&c->q, known, bad, sizeof bad) == 0)
        return 0;
    fail(c, 400, "unknown query parameter \"%s\"", bad);
    return -1;
}

/* ---- the lookup cache ---------------------------------------------------------------------- */

/* A registry never changes while it is served, so the JSON of a lookup is made once per
 * registry and code: a direct-mapped table of answers, emptied when the registry served is
 * another (a reload). A lookup then costs a copy, not a jansson tree and a dump. */
#define CACHE_SLOTS 1024

struct cache_slot {
    uint32_t key; /* cache_key(); 0: empty */
    size_t len;
    char *body; /* owned */
};

struct http_api_cache {
    const smtpstatus_image *img; /* the registry the answers are of */
    uint64_t generation;
    struct cache_slot slots[CACHE_SLOTS];
};

static uint32_t
cache_key(smtpstatus_code c, int pretty)
{
    return 1u + ((uint32_t)c.cls << 21 | (uint32_t)c.subject << 11 | (uint32_t)c.detail << 1 |
                 (uint32_t)(pretty != 0));
}

static void
cache_clear(struct http_api_cache *cache)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(cache->slots[i].body);
        cache->slots[i] = (struct cache_slot){0};
    }
}

void
http_api_free(struct http_api *api)
{
    if (api->cache != NULL) {
        cache_clear(api->cache);
        free(api->cache);
        api->cache = NULL;
    }
}

/* The slot for `key` in the cache of the registry served now, or NULL without a cache. */
static struct cache_slot *
cache_slot(struct http_api *api, uint32_t key)
{
    const struct served *s = api->svc->current;
    if (api->cache == NULL && (api->cache = calloc(1, sizeof *api->cache)) == NULL)
        return NULL;
    if (api->cache->img != s->img || api->cache->generation != s->generation) {
        cache_clear(api->cache);
        api->cache->img = s->img;
        api->cache->generation = s->generation;
    }
    return &api->cache->slots[(key ^ (key >> 10)) % CACHE_SLOTS];
}

/* GET /v1/codes/{code}: one code, registered or not. */
static void
get_code(struct ctx *c, const char *raw, size_t raw_len)
{
    static const char *const known[] = {"pretty", NULL};
    if (known_params(c, known) != 0)
        return;
    char word[64];
    long n = decode(raw, raw_len, word, sizeof word, 0);
    if (n < 0) {
        fail(c, 400, "\"%.*s\" is not an enhanced status code: bad escape, or too long",
             (int)(raw_len < 64 ? raw_len : 64), raw);
        return;
    }
    smtpstatus_code code;
    smtpstatus_entry e;
    size_t errpos = 0;
    int rc = smtpstatus_code_parse(word, (size_t)n, SMTPSTATUS_PARSE_ALLOW_X, &code, &errpos);
    if (rc == 0)
        rc = smtpstatus_image_lookup(c->img, code, &e);
    size_t tokens = 0;
    if (rc != 0 &&
        smtpstatus_image_vendor_token(c->img, word, (size_t)n, NULL, 0, &tokens) == 0 &&
        tokens > 0) {
        /* A provider's own token ("TSS04"): answered with its vendors' rows. */
        answer(c->api, answer_json_token(c->img, word, NULL, 0), c->pretty, c->body, c->resp);
        return;
    }
    if (rc != 0) {
        /* Not %s: the word may hold bytes that are not UTF-8; answer_json_str() mends them. */
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" is not an enhanced status code: at byte %zu: %s", word,
                 errpos, smtpstatus_strerror(rc));
        error_pretty(c->api, 400, msg, c->pretty, c->body, c->resp);
        return;
    }
    uint32_t key = cache_key(code, c->pretty);
    struct cache_slot *slot = cache_slot(c->api, key);
    if (slot != NULL && slot->key == key) {
        c->resp->status = 200;
        c->resp->content_type = JSON_TYPE;
        if (buf_append(c->body, slot->body, slot->len) != 0)
            fail(c, 500, "out of memory");
        return;
    }
    size_t start = c->body->len;
    answer(c->api, answer_json_lookup(c->img, &e), c->pretty, c->body, c->resp);
    if (slot != NULL && c->resp->status == 200) {
        char *copy = malloc(c->body->len - start);
        if (copy != NULL) {
            memcpy(copy, c->body->data + start, c->body->len - start);
            free(slot->body);
            *slot = (struct cache_slot){key, c->body->len - start, copy};
        }
    }
}

/* Whether the class-free code of `e` is among the associations of basic code `b`. */
static int
associated(const smtpstatus_image *img, const smtpstatus_basic *b, const smtpstatus_entry *e)
{
    for (uint32_t i = 0; i < b->assoc_count; i++) {
        smtpstatus_code code;
        smtpstatus_match match;
        if (smtpstatus_image_basic_assoc(img, b, i, &code, &match) == 0 &&
            code.subject == e->code.subject && code.detail == e->code.detail)
            return 1;
    }
    return 0;
}

/* GET /v1/codes?basic=550&q=words&subject=7: the registered codes that pass every filter given
 * (none: all of them), in code order, as the CLI's search answer. */
static void
list_codes(struct ctx *c)
{
    static const char *const known[] = {"basic", "q", "subject", "pretty", NULL};
    if (known_params(c, known) != 0)
        return;
    char words[HTTP_URI_LIMIT], basic_s[16], subject_s[16];
    int has_q = query_get(&c->q, "q", words, sizeof words);
    int has_basic = query_get(&c->q, "basic", basic_s, sizeof basic_s);
    int has_subject = query_get(&c->q, "subject", subject_s, sizeof subject_s);
    if (has_q < 0 || has_basic < 0 || has_subject < 0) {
        fail(c, 400, "malformed query: a bad %%-escape or a value too long");
        return;
    }
    smtpstatus_basic b = {0};
    if (has_basic) {
        uint16_t code;
        if (smtpstatus_basic_parse(basic_s, strlen(basic_s), &code) != 0) {
            fail(c, 400, "basic=\"%s\" is not a basic reply code: %s", basic_s,
                 smtpstatus_strerror(SMTPSTATUS_EBASIC));
            return;
        }
        /* A valid code nobody lists (299) has no associations: the filter lets nothing by. */
        if (smtpstatus_image_lookup_basic(c->img, code, &b) != 0)
            b.assoc_count = 0;
    }
    unsigned long subject = 0;
    if (has_subject && parse_uint(subject_s, 999, &subject) != 0) {
        fail(c, 400, "subject=\"%s\" is not a subject number (0 to 999)", subject_s);
        return;
    }
    if (!has_q)
        words[0] = '\0';
    char folded[sizeof words];
    struct search_words w;
    if (search_words_parse(words, strlen(words), folded, &w) != 0) {
        fail(c, 400, "q=: a search takes at most %d different words", SEARCH_MAX_WORDS);
        return;
    }
    uint32_t count = smtpstatus_image_code_count(c->img);
    const struct served *s = c->api->svc->current;
    struct search_text local = {0};
    const struct search_text *text = s->search;
    if (s->img != c->img || text == NULL || text->count != count) {
        text = &local;
        if (search_text_build(c->img, NULL, &local) != 0) {
            fail(c, 500, "out of memory");
            return;
        }
    }
    smtpstatus_entry *found = malloc((count ? count : 1) * sizeof *found);
    if (found == NULL) {
        search_text_free(&local);
        fail(c, 500, "out of memory");
        return;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        smtpstatus_entry *e = &found[n];
        if (has_q && !search_text_matches(text, i, &w))
            continue;
        if (smtpstatus_image_code_at(c->img, i, e) != 0)
            continue;
        if (has_subject && e->code.subject != subject)
            continue;
        if (has_basic && !associated(c->img, &b, e))
            continue;
        n++;
    }
    json_t *o = answer_json_search(c->img, words, found, n);
    /* The filters as understood, so a script can tell what the list answers. */
    answer_json_set(o, "basic", has_basic ? json_integer(atoi(basic_s)) : json_null());
    answer_json_set(o, "subject", has_subject ? json_integer((json_int_t)subject) : json_null());
    free(found);
    search_text_free(&local);
    answer(c->api, o, c->pretty, c->body, c->resp);
}

/* GET /v1/basic/{nnn}: a basic reply code's meaning and associated enhanced codes. */
static void
get_basic(struct ctx *c, const char *raw, size_t raw_len)
{
    static const char *const known[] = {"pretty", NULL};
    if (known_params(c, known) != 0)
        return;
    char word[16];
    uint16_t code;
    long n = decode(raw, raw_len, word, sizeof word, 0);
    if (n < 0 || smtpstatus_basic_parse(word, (size_t)n, &code) != 0) {
        fail(c, 400, "\"%.*s\" is not a basic reply code: %s", (int)(raw_len < 32 ? raw_len : 32),
             raw, smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return;
    }
    smtpstatus_basic rec;
    int rc = smtpstatus_image_lookup_basic(c->img, code, &rec);
    if (rc == SMTPSTATUS_ENOTFOUND) {
        fail(c, 404, "%u has no standard meaning, and no enhanced code is associated with it",
             code);
        return;
    }
    if (rc != 0) {
        fail(c, 400, "%s: %s", word, smtpstatus_strerror(rc));
        return;
    }
    smtpstatus_basic_answer b = {rec.code, rec.standard, rec.text, rec.reference, rec.assoc_count};
    json_t *o = answer_json_basic(&b, rec.sample_text);
    for (uint32_t i = 0; i < rec.assoc_count; i++) {
        smtpstatus_code ec;
        smtpstatus_match match;
        smtpstatus_entry e;
        if (smtpstatus_image_basic_assoc(c->img, &rec, i, &ec, &match) == 0 &&
            smtpstatus_image_lookup(c->img, ec, &e) == 0)
            answer_json_basic_add(o, ec, match, e.title);
    }
    answer(c->api, o, c->pretty, c->body, c->resp);
}

/* The parameters of a render, from the query or from a JSON body. */
struct render_args {
    unsigned long basic;
    int has_basic;
    char code[64];
    int has_code;
    const char *text; /* NULL: the default text */
    size_t text_len;
    unsigned long width;
    int smtputf8, dsn;
};

static void
do_render(struct ctx *c, const struct render_args *r)
{
    if (!r->has_basic) {
        fail(c, 400, "render needs a basic reply code (basic=550)");
        return;
    }
    smtpstatus_code code;
    size_t errpos = 0;
    int prc = r->has_code ? smtpstatus_code_parse(r->code, strlen(r->code),
                                                  SMTPSTATUS_PARSE_ALLOW_X, &code, &errpos)
                          : 0;
    if (prc != 0) {
        int rc = prc;
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" is not an enhanced status code: at byte %zu: %s", r->code,
                 errpos, smtpstatus_strerror(rc));
        error_pretty(c->api, 400, msg, c->pretty, c->body, c->resp);
        return;
    }
    char *out = malloc(RENDER_MAX);
    if (out == NULL) {
        fail(c, 500, "out of memory");
        return;
    }
    size_t len = 0;
    unsigned warnings = 0;
    smtpstatus_render_options opt = {(unsigned)r->width, r->smtputf8,
                                     r->dsn ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    int rc = r->basic > 999
                 ? SMTPSTATUS_EBASIC
                 : smtpstatus_render(c->img, (uint16_t)r->basic, r->has_code ? &code : NULL,
                                     r->text, r->text_len, &opt, out, RENDER_MAX, &len, &warnings);
    if (rc != 0)
        fail(c, 400, "cannot render: %s", smtpstatus_strerror(rc));
    else
        answer(c->api,
               answer_json_render((uint16_t)r->basic, r->has_code ? &code : NULL, r->dsn, out, len,
                                  warnings),
               c->pretty, c->body, c->resp);
    free(out);
}

/* GET /v1/render?basic=550&code=5.1.1&text=...&width=76&smtputf8=1&dsn=1 */
static void
render_get(struct ctx *c)
{
    static const char *const known[] = {"basic",    "code", "enhanced", "text",   "width",
                                        "smtputf8", "dsn",  "form",     "pretty", NULL};
    if (known_params(c, known) != 0)
        return;
    struct render_args r = {0};
    char basic_s[16], width_s[16], flag[16], text[HTTP_URI_LIMIT];
    int hb = query_get(&c->q, "basic", basic_s, sizeof basic_s);
    int hc = query_get(&c->q, "code", r.code, sizeof r.code);
    if (hc == 0)
        hc = query_get(&c->q, "enhanced", r.code, sizeof r.code);
    int ht = query_get(&c->q, "text", text, sizeof text);
    int hw = query_get(&c->q, "width", width_s, sizeof width_s);
    if (hb < 0 || hc < 0 || ht < 0 || hw < 0) {
        fail(c, 400, "malformed query: a bad %%-escape or a value too long");
        return;
    }
    if (hb && parse_uint(basic_s, 999, &r.basic) != 0) {
        fail(c, 400, "basic=\"%s\" is not a basic reply code: %s", basic_s,
             smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return;
    }
    if (hw && parse_uint(width_s, 100000, &r.width) != 0) {
        fail(c, 400, "width=\"%s\" is not a number of octets", width_s);
        return;
    }
    r.has_basic = hb;
    r.has_code = hc && r.code[0] != '\0';
    if (ht) {
        r.text = text;
        r.text_len = strlen(text);
    }
    r.smtputf8 = query_get(&c->q, "smtputf8", flag, sizeof flag) == 1 && truthy(flag);
    r.dsn = (query_get(&c->q, "dsn", flag, sizeof flag) == 1 && truthy(flag)) ||
            (query_get(&c->q, "form", flag, sizeof flag) == 1 && strcmp(flag, "dsn") == 0);
    do_render(c, &r);
}

/* POST /v1/render {"basic": 550, "code": "5.1.1", "text": "...", "width": 76, "smtputf8": false,
 * "form": "reply"|"dsn"} */
static void
render_post(struct ctx *c, const char *body, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL || !json_is_object(j)) {
        if (j == NULL)
            fail(c, 400, "the body is not JSON: %s (line %d, column %d)", err.text, err.line,
                 err.column);
        else
            fail(c, 400, "the body must be a JSON object");
        json_decref(j);
        return;
    }
    struct render_args r = {0};
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "basic") == 0 && json_is_integer(v) && json_integer_value(v) >= 0) {
            r.basic = (unsigned long)json_integer_value(v);
            r.has_basic = 1;
        } else if ((strcmp(key, "code") == 0 || strcmp(key, "enhanced") == 0) &&
                   (json_is_string(v) || json_is_null(v))) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            snprintf(r.code, sizeof r.code, "%s", s);
            r.has_code = s[0] != '\0';
        } else if (strcmp(key, "text") == 0 && (json_is_string(v) || json_is_null(v))) {
            r.text = json_is_string(v) ? json_string_value(v) : NULL;
            r.text_len = json_is_string(v) ? json_string_length(v) : 0;
        } else if (strcmp(key, "width") == 0 && json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= 100000) {
            r.width = (unsigned long)json_integer_value(v);
        } else if (strcmp(key, "smtputf8") == 0 && json_is_boolean(v)) {
            r.smtputf8 = json_is_true(v);
        } else if (strcmp(key, "dsn") == 0 && json_is_boolean(v)) {
            r.dsn = json_is_true(v);
        } else if (strcmp(key, "form") == 0 && json_is_string(v) &&
                   (strcmp(json_string_value(v), "dsn") == 0 ||
                    strcmp(json_string_value(v), "reply") == 0)) {
            r.dsn = strcmp(json_string_value(v), "dsn") == 0;
        } else {
            fail(c, 400, "\"%s\" is not a render field, or its value has the wrong type", key);
            json_decref(j);
            return;
        }
    }
    do_render(c, &r);
    json_decref(j);
}

/* POST /v1/classify with the raw reply as the body. */
static void
classify(struct ctx *c, const char *body, size_t len)
{
    smtpstatus_classification cl;
    char *text = malloc(len + 1);
    if (text == NULL) {
        fail(c, 500, "out of memory");
        return;
    }
    smtpstatus_classify(c->img, body != NULL ? body : "", len, &cl, text, len + 1);
    answer(c->api, answer_json_classification(c->img, &cl, text), c->pretty, c->body, c->resp);
    free(text);
}

/* POST /v1/bounce with the raw message as the body (at most HTTP_BODY_LIMIT bytes, as every
 * body; the transport answers 413 above it). Parsed on the loop, as the socket's Bounce is (see
 * service.c). Not a bounce this parser can read: 422 with the reason. */
static void
bounce(struct ctx *c, const char *body, size_t len)
{
    struct bounce_result res;
    int rc = bounce_parse(body, body != NULL ? len : 0, c->img, &res);
    if (rc == SMTPSTATUS_ENOMEM) {
        fail(c, 500, "out of memory");
        return;
    }
    if (rc != 0) {
        fail(c, 422, "%s", smtpstatus_strerror(rc));
        return;
    }
    answer(c->api,
           answer_json_bounce(res.format, res.reporting_mta, res.truncated, res.recipients,
                              res.count),
           c->pretty, c->body, c->resp);
    bounce_result_free(&res);
}

/* The rules of `s` as the library's types: *info, and the changes of its last reload in a
 * malloc'd array (the caller's; NULL with info->change_count 0 on ENOMEM). The strings are s's. */
static smtpstatus_rule_change *
rule_changes(const struct served *s, smtpstatus_rules_info *info)
{
    const struct rule_diff *d = &s->last_rule_diff;
    info->file = s->rules_file != NULL ? s->rules_file : "";
    rules_image_counts(s->img, &info->admin_count, &info->builtin_count);
    size_t n = d->added_count + d->removed_count + d->changed_count;
    smtpstatus_rule_change *v = malloc((n ? n : 1) * sizeof *v);
    info->change_count = v != NULL ? n : 0;
    if (v == NULL)
        return NULL;
    const struct {
        const char *change;
        const struct rule_ref *refs;
        size_t count;
    } lists[] = {{"added", d->added, d->added_count},
                 {"removed", d->removed, d->removed_count},
                 {"changed", d->changed, d->changed_count}};
    size_t k = 0;
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < lists[l].count; i++) {
            const struct rule_ref *r = &lists[l].refs[i];
            v[k++] = (smtpstatus_rule_change){lists[l].change, r->name, r->was, r->reason,
                                              r->basic, r->enhanced, r->pattern, r->admin};
        }
    return v;
}

/* The registry served, in the shape of the socket API's RegistryInfo. */
static json_t *
registry_json(const struct service *svc)
{
    const struct served *s = svc->current;
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(s->img, &sum);
    char digest[17];
    snprintf(digest, sizeof digest, "%016" PRIx64, sum.source_digest);
    smtpstatus_registry_info info = {
        .generation = s->generation,
        .source = sum.source,
        .loaded_at = s->loaded_at,
        .digest = digest,
        .class_count = sum.class_count,
        .subject_count = sum.subject_count,
        .code_count = sum.code_count,
        .basic_count = sum.basic_count,
        .added = (const char *const *)s->last_diff.added,
        .added_count = s->last_diff.added_count,
        .removed = (const char *const *)s->last_diff.removed,
        .removed_count = s->last_diff.removed_count,
        .changed = (const char *const *)s->last_diff.changed,
        .changed_count = s->last_diff.changed_count,
        .warnings = (const char *const *)s->warnings,
        .warning_count = s->warning_count,
        .field_change_count = s->last_diff.field_count,
        .descriptions_differ = (uint32_t)s->last_diff.descriptions_differ,
    };
    smtpstatus_code_change *fields = NULL;
    if (info.field_change_count > 0 &&
        (fields = calloc(info.field_change_count, sizeof *fields)) == NULL)
        info.field_change_count = 0;
    for (size_t i = 0; i < info.field_change_count; i++) {
        const struct code_field_change *c = &s->last_diff.fields[i];
        fields[i] = (smtpstatus_code_change){c->code, c->field, c->old, c->new};
    }
    const struct reload_attempt *r = &svc->last_reload;
    smtpstatus_reload_attempt last = {
        r->at, r->source, r->trigger, r->ok, (const char *const *)r->problems, r->problem_count};
    json_t *o = answer_json_registry(&info, fields);
    free(fields);
    answer_json_set(o, "last_reload", answer_json_last_reload(r->known ? &last : NULL));
    smtpstatus_rules_info rules;
    smtpstatus_rule_change *changes = rule_changes(s, &rules);
    answer_json_set(o, "rules", answer_json_rules(&rules, changes));
    free(changes);
    return o;
}

void
http_api_reload_response(struct http_api *api, int ok, int start_error, const struct diag *d,
                         int pretty, struct buf *body, struct http_response *resp)
{
    resp->op = HTTP_OP_RELOAD;
    resp->allow = NULL;
    if (start_error == -EBUSY) {
        error_pretty(api, 409, "a reload is already running", pretty, body, resp);
        return;
    }
    if (start_error == -EINVAL) {
        error_pretty(api, 400,
                     "no directory given and no --registry configured, and no rules file to "
                     "reload: give {\"directory\": DIR}, or start smtpstatusd with --registry "
                     "DIR",
                     pretty, body, resp);
        return;
    }
    if (start_error != 0) {
        error_pretty(api, 500, "the reload could not be started", pretty, body, resp);
        return;
    }
    if (!ok) {
        resp->status = 422;
        resp->content_type = JSON_TYPE;
        json_t *o = json_object(), *e = json_object(), *problems = json_array();
        for (size_t i = 0; d != NULL && i < d->count; i++) {
            char line[1024];
            diag_format(&d->items[i], line, sizeof line);
            json_array_append_new(problems, answer_json_str(line));
        }
        answer_json_set(e, "status", json_integer(422));
        answer_json_set(e, "code", answer_json_str("reload_failed"));
        answer_json_set(e, "message",
                        answer_json_str("the registry and the rules were not reloaded; nothing "
                                        "changed"));
        answer_json_set(e, "problems", problems);
        answer_json_set(o, "error", e);
        size_t start = body->len;
        if (dump(o, pretty, body) != 0) {
            body->len = start;
            error_pretty(api, 500, "out of memory", pretty, body, resp);
        }
        return;
    }
    json_t *reg = registry_json(api->svc);
    json_t *o = json_object();
    answer_json_set(o, "registry", reg);
    answer_json_set(o, "diff", json_incref(json_object_get(reg, "last_diff")));
    json_t *rules = json_object_get(reg, "rules");
    answer_json_set(o, "rules_diff", json_incref(json_object_get(rules, "last_diff")));
    answer(api, o, pretty, body, resp);
}

/* Whether s[0..n) holds a control character (NUL included): a directory goes into the log. */
static int
has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/* Whether h[0..n), a lower-case Host value, names this host by a loopback name: localhost,
 * 127.0.0.1 or [::1], each with an optional port. */
static int
loopback_host(const char *h, size_t n)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t k = strlen(names[i]);
        if (n < k || memcmp(h, names[i], k) != 0)
            continue;
        if (n == k)
            return 1;
        if (h[k] != ':' || n - k - 1 < 1 || n - k - 1 > 5)
            return 0;
        for (size_t j = k + 1; j < n; j++)
            if (h[j] < '0' || h[j] > '9')
                return 0;
        return 1;
    }
    return 0;
}

/* Whether t[0..n), a lower-case Content-Type value, is application/json (parameters allowed). */
static int
json_content_type(const char *t, size_t n)
{
    static const char want[] = "application/json";
    size_t k = sizeof want - 1;
    if (t == NULL || n < k || memcmp(t, want, k) != 0)
        return 0;
    return n == k || t[k] == ';' || t[k] == ' ' || t[k] == '\t';
}

/* POST /v1/reload [{"directory": DIR}] */
static enum http_api_result
reload(struct ctx *c, const struct http_request *req, char *dir_buf, size_t dir_size,
       const char **dir)
{
    *dir = NULL;
    if (!c->api->admin) {
        fail(c, 403,
             "reload over HTTP is off; start smtpstatusd with --http-admin to enable it "
             "(or use smtpstatus reload)");
        return HTTP_API_DONE;
    }
    if (!req->local_peer) {
        if (req->unix_peer)
            fail(c, 403,
                 "reload is for root, the daemon's user or the admin group; uid %ld is none",
                 req->peer_uid);
        else if (req->peer_uid >= 0)
            fail(c, 403,
                 "reload over TCP is for root and the daemon's user; uid %ld is neither "
                 "(members of the admin group reload over the Unix sockets: smtpstatus reload, "
                 "or curl --unix-socket RUNDIR/smtpstatusd-http.sock with --http-unix)",
                 req->peer_uid);
        else
            fail(c, 403,
                 "reload over TCP needs a loopback client that the kernel identifies as root "
                 "or the daemon's user, and this one could not be identified; use smtpstatus "
                 "reload, or curl --unix-socket RUNDIR/smtpstatusd-http.sock with --http-unix");
        return HTTP_API_DONE;
    }
    /* A browser on this host is on loopback too: a web page must not reload, by a cross-site
     * POST (text/plain needs no CORS preflight) or by DNS rebinding a name it controls. */
    if (req->has_origin) {
        fail(c, 403, "reload is refused to a request with an Origin header (a browser's)");
        return HTTP_API_DONE;
    }
    if (req->host == NULL || !loopback_host(req->host, req->host_len)) {
        fail(c, 403, "reload needs Host: localhost, 127.0.0.1 or [::1] (with a port or without)");
        return HTTP_API_DONE;
    }
    if (!json_content_type(req->content_type, req->content_type_len)) {
        fail(c, 403,
             "reload needs Content-Type: application/json (curl -H 'Content-Type: "
             "application/json'), which a web page cannot send without asking");
        return HTTP_API_DONE;
    }
    if (req->body_len > 0) {
        json_error_t err;
        json_t *j = json_loadb(req->body, req->body_len, 0, &err);
        json_t *d = json_object_get(j, "directory");
        if (j == NULL || !json_is_object(j) || json_object_size(j) > 1 ||
            (json_object_size(j) == 1 && !json_is_string(d))) {
            fail(c, 400, "the body must be empty or {\"directory\": \"DIR\"}");
            json_decref(j);
            return HTTP_API_DONE;
        }
        if (d != NULL) {
            if (json_string_length(d) == 0 || json_string_length(d) >= dir_size ||
                has_control(json_string_value(d), json_string_length(d))) {
                fail(c, 400,
                     "\"directory\" must be a path of 1 to %zu bytes without control characters",
                     dir_size - 1);
                json_decref(j);
                return HTTP_API_DONE;
            }
            memcpy(dir_buf, json_string_value(d), json_string_length(d) + 1);
            *dir = dir_buf;
        }
        json_decref(j);
    }
    if (c->api->svc->reload_busy) {
        fail(c, 409, "a reload is already running");
        return HTTP_API_DONE;
    }
    return HTTP_API_RELOAD;
}

/* GET /healthz */
static void
healthz(struct ctx *c)
{
    json_t *o = json_object();
    answer_json_set(o, "status", answer_json_str("ok"));
    answer_json_set(o, "generation", json_integer((json_int_t)c->api->svc->current->generation));
    answer(c->api, o, c->pretty, c->body, c->resp);
}

/* GET /metrics */
static void
metrics(struct ctx *c)
{
    size_t start = c->body->len;
    if (metrics_render(c->api->metrics, c->api->svc, (uint64_t)time(NULL), c->body) != 0) {
        c->body->len = start;
        fail(c, 500, "out of memory");
        return;
    }
    c->resp->status = 200;
    c->resp->content_type = METRICS_TYPE;
}

/* ---- routing -------------------------------------------------------------------------------- */

static int
path_is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

static int
path_under(const char *path, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(path, prefix, n) == 0;
}

/* Allows `methods` (a mask of 1 << HTTP_METHOD_*) or answers 405 with `allow`. */
static int
method_ok(struct ctx *c, enum http_method m, unsigned methods, const char *allow)
{
    if (methods & (1u << m))
        return 1;
    c->resp->allow = allow;
    fail(c, 405, "this resource allows %s", allow);
    return 0;
}

#define READ_METHODS ((1u << HTTP_METHOD_GET) | (1u << HTTP_METHOD_HEAD))
#define POST_METHOD  (1u << HTTP_METHOD_POST)

enum http_api_result
http_api_handle(struct http_api *api, const struct http_request *req, struct buf *body,
                struct http_response *resp, char *dir_buf, size_t dir_size, const char **dir)
{
    *resp = (struct http_response){200, JSON_TYPE, NULL, HTTP_OP_UNKNOWN};
    *dir = NULL;
    const char *path = req->target;
    const char *qm = memchr(req->target, '?', req->target_len);
    size_t plen = qm ? (size_t)(qm - path) : req->target_len;
    struct ctx c = {api, NULL, {qm ? qm + 1 : "", qm ? req->target_len - plen - 1 : 0},
                    0,   body, resp};
    if (c.q.len > 0)
        c.pretty = http_api_wants_pretty(req->target, req->target_len);
    enum http_method m = req->method;
    enum http_api_result result = HTTP_API_DONE;

    /* Which resource, and what it allows. */
    enum http_op op = HTTP_OP_UNKNOWN;
    unsigned methods = READ_METHODS;
    const char *allow = "GET, HEAD";
    const char *arg = NULL;
    size_t arg_len = 0;
    if (path_under(path, plen, "/v1/codes/") && plen > 10) {
        op = HTTP_OP_LOOKUP;
        arg = path + 10;
        arg_len = plen - 10;
    } else if (path_is(path, plen, "/v1/codes")) {
        op = HTTP_OP_LIST;
    } else if (path_under(path, plen, "/v1/basic/") && plen > 10) {
        op = HTTP_OP_BASIC;
        arg = path + 10;
        arg_len = plen - 10;
    } else if (path_is(path, plen, "/v1/render")) {
        op = HTTP_OP_RENDER;
        methods |= POST_METHOD;
        allow = "GET, HEAD, POST";
    } else if (path_is(path, plen, "/v1/classify")) {
        op = HTTP_OP_CLASSIFY;
        methods = POST_METHOD;
        allow = "POST";
    } else if (path_is(path, plen, "/v1/bounce")) {
        op = HTTP_OP_BOUNCE;
        methods = POST_METHOD;
        allow = "POST";
    } else if (path_is(path, plen, "/v1/registry")) {
        op = HTTP_OP_REGISTRY_INFO;
    } else if (path_is(path, plen, "/v1/reload")) {
        op = HTTP_OP_RELOAD;
        methods = POST_METHOD;
        allow = "POST";
    } else if (path_is(path, plen, "/healthz")) {
        op = HTTP_OP_HEALTHZ;
    } else if (path_is(path, plen, "/metrics")) {
        op = HTTP_OP_METRICS;
    }
    resp->op = op;
    api->metrics->http_requests[op]++;
    if (op == HTTP_OP_UNKNOWN) {
        fail(&c, 404, "no such resource: %.*s", (int)(plen < 200 ? plen : 200), path);
        return HTTP_API_DONE;
    }
    if (!method_ok(&c, m, methods, allow))
        return HTTP_API_DONE;
    if (op != HTTP_OP_METRICS && (api->svc->current == NULL || api->svc->current->img == NULL)) {
        fail(&c, 503, "no registry is loaded yet");
        return HTTP_API_DONE;
    }
    c.img = api->svc->current ? api->svc->current->img : NULL;
    if (op != HTTP_OP_LIST && op != HTTP_OP_RENDER && op != HTTP_OP_LOOKUP && op != HTTP_OP_BASIC) {
        static const char *const known[] = {"pretty", NULL};
        if (known_params(&c, known) != 0)
            return HTTP_API_DONE;
    }
    switch (op) {
    case HTTP_OP_LOOKUP:
        get_code(&c, arg, arg_len);
        break;
    case HTTP_OP_LIST:
        list_codes(&c);
        break;
    case HTTP_OP_BASIC:
        get_basic(&c, arg, arg_len);
        break;
    case HTTP_OP_RENDER:
        if (m == HTTP_METHOD_POST)
            render_post(&c, req->body, req->body_len);
        else
            render_get(&c);
        break;
    case HTTP_OP_CLASSIFY:
        classify(&c, req->body, req->body_len);
        break;
    case HTTP_OP_BOUNCE:
        bounce(&c, req->body, req->body_len);
        break;
    case HTTP_OP_REGISTRY_INFO:
        answer(api, registry_json(api->svc), c.pretty, body, resp);
        break;
    case HTTP_OP_RELOAD:
        result = reload(&c, req, dir_buf, dir_size, dir);
        break;
    case HTTP_OP_HEALTHZ:
        healthz(&c);
        break;
    case HTTP_OP_METRICS:
        metrics(&c);
        break;
    default:
        break;
    }
    return result;
}
