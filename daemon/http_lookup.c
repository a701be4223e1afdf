/*
 * The HTTP port's endpoints that ask the registry about SMTP statuses (see http_lookup.h). Each
 * parses its path and query, asks the image being served through libsmtpstatus, and has
 * answer_json.c build the object that the CLI's --json would print for the same question. Query
 * values are percent-decoded into bounded stack buffers (http_query.h).
 */
#include "http_lookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer_json.h"
#include "bounce.h"
#include "http_cache.h"
#include "search.h"

#define RENDER_MAX 65536 /* bytes of rendered output */

/* GET /v1/codes/{code}: one code, registered or not. */
void
http_lookup_code(struct http_ctx *c, const char *raw, size_t raw_len)
{
    static const char *const known[] = {"pretty", NULL};
    if (http_respond_known_params(c, known) != 0)
        return;
    char word[64];
    long n = http_query_decode(raw, raw_len, word, sizeof word, 0);
    if (n < 0) {
        http_respond_fail(c, 400,
                          "\"%.*s\" is not an enhanced status code: bad escape, or too long",
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
    if (rc != 0 && smtpstatus_image_vendor_token(c->img, word, (size_t)n, NULL, 0, &tokens) == 0 &&
        tokens > 0) {
        /* A provider's own token ("TSS04"): answered with its vendors' rows. */
        http_respond_json(c, answer_json_token(c->img, word, NULL, 0));
        return;
    }
    if (rc != 0) {
        /* Not %s: the word may hold bytes that are not UTF-8; answer_json_str() mends them. */
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" is not an enhanced status code: at byte %zu: %s", word,
                 errpos, smtpstatus_strerror(rc));
        http_respond_error(400, msg, c->pretty, c->body, c->resp);
        return;
    }
    const struct served *s = c->api->svc->current;
    uint32_t key = http_cache_key(code, c->pretty);
    size_t len;
    const char *cached = http_cache_get(&c->api->cache, s->img, s->generation, key, &len);
    if (cached != NULL) {
        c->resp->status = 200;
        c->resp->content_type = HTTP_JSON_TYPE;
        if (buf_append(c->body, cached, len) != 0)
            http_respond_fail(c, 500, "out of memory");
        return;
    }
    size_t start = c->body->len;
    http_respond_json(c, answer_json_lookup(c->img, &e));
    if (c->resp->status == 200)
        http_cache_put(c->api->cache, key, c->body->data + start, c->body->len - start);
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
void
http_lookup_list(struct http_ctx *c)
{
    static const char *const known[] = {"basic", "q", "subject", "pretty", NULL};
    if (http_respond_known_params(c, known) != 0)
        return;
    char words[HTTP_URI_LIMIT], basic_s[16], subject_s[16];
    int has_q = http_query_get(&c->q, "q", words, sizeof words);
    int has_basic = http_query_get(&c->q, "basic", basic_s, sizeof basic_s);
    int has_subject = http_query_get(&c->q, "subject", subject_s, sizeof subject_s);
    if (has_q < 0 || has_basic < 0 || has_subject < 0) {
        http_respond_fail(c, 400, "malformed query: a bad %%-escape or a value too long");
        return;
    }
    smtpstatus_basic b = {0};
    if (has_basic) {
        uint16_t code;
        if (smtpstatus_basic_parse(basic_s, strlen(basic_s), &code) != 0) {
            http_respond_fail(c, 400, "basic=\"%s\" is not a basic reply code: %s", basic_s,
                              smtpstatus_strerror(SMTPSTATUS_EBASIC));
            return;
        }
        /* A valid code nobody lists (299) has no associations: the filter lets nothing by. */
        if (smtpstatus_image_lookup_basic(c->img, code, &b) != 0)
            b.assoc_count = 0;
    }
    unsigned long subject = 0;
    if (has_subject && http_query_uint(subject_s, 999, &subject) != 0) {
        http_respond_fail(c, 400, "subject=\"%s\" is not a subject number (0 to 999)", subject_s);
        return;
    }
    if (!has_q)
        words[0] = '\0';
    char folded[sizeof words];
    struct search_words w;
    if (search_words_parse(words, strlen(words), folded, &w) != 0) {
        http_respond_fail(c, 400, "q=: a search takes at most %d different words",
                          SEARCH_MAX_WORDS);
        return;
    }
    uint32_t count = smtpstatus_image_code_count(c->img);
    const struct served *s = c->api->svc->current;
    struct search_text local = {0};
    const struct search_text *text = s->search;
    if (s->img != c->img || text == NULL || text->count != count) {
        text = &local;
        if (search_text_build(c->img, NULL, &local) != 0) {
            http_respond_fail(c, 500, "out of memory");
            return;
        }
    }
    smtpstatus_entry *found = malloc((count ? count : 1) * sizeof *found);
    if (found == NULL) {
        search_text_free(&local);
        http_respond_fail(c, 500, "out of memory");
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
    http_respond_json(c, o);
}

/* GET /v1/basic/{nnn}: a basic reply code's meaning and associated enhanced codes. */
void
http_lookup_basic(struct http_ctx *c, const char *raw, size_t raw_len)
{
    static const char *const known[] = {"pretty", NULL};
    if (http_respond_known_params(c, known) != 0)
        return;
    char word[16];
    uint16_t code;
    long n = http_query_decode(raw, raw_len, word, sizeof word, 0);
    if (n < 0 || smtpstatus_basic_parse(word, (size_t)n, &code) != 0) {
        http_respond_fail(c, 400, "\"%.*s\" is not a basic reply code: %s",
                          (int)(raw_len < 32 ? raw_len : 32), raw,
                          smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return;
    }
    smtpstatus_basic rec;
    int rc = smtpstatus_image_lookup_basic(c->img, code, &rec);
    if (rc == SMTPSTATUS_ENOTFOUND) {
        http_respond_fail(
            c, 404, "%u has no standard meaning, and no enhanced code is associated with it", code);
        return;
    }
    if (rc != 0) {
        http_respond_fail(c, 400, "%s: %s", word, smtpstatus_strerror(rc));
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
    http_respond_json(c, o);
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
do_render(struct http_ctx *c, const struct render_args *r)
{
    if (!r->has_basic) {
        http_respond_fail(c, 400, "render needs a basic reply code (basic=550)");
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
        http_respond_error(400, msg, c->pretty, c->body, c->resp);
        return;
    }
    char *out = malloc(RENDER_MAX);
    if (out == NULL) {
        http_respond_fail(c, 500, "out of memory");
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
        http_respond_fail(c, 400, "cannot render: %s", smtpstatus_strerror(rc));
    else
        http_respond_json(c, answer_json_render((uint16_t)r->basic, r->has_code ? &code : NULL,
                                                r->dsn, out, len, warnings));
    free(out);
}

/* GET /v1/render?basic=550&code=5.1.1&text=...&width=76&smtputf8=1&dsn=1 */
void
http_lookup_render_get(struct http_ctx *c)
{
    static const char *const known[] = {"basic",    "code", "enhanced", "text",   "width",
                                        "smtputf8", "dsn",  "form",     "pretty", NULL};
    if (http_respond_known_params(c, known) != 0)
        return;
    struct render_args r = {0};
    char basic_s[16], width_s[16], flag[16], text[HTTP_URI_LIMIT];
    int hb = http_query_get(&c->q, "basic", basic_s, sizeof basic_s);
    int hc = http_query_get(&c->q, "code", r.code, sizeof r.code);
    if (hc == 0)
        hc = http_query_get(&c->q, "enhanced", r.code, sizeof r.code);
    int ht = http_query_get(&c->q, "text", text, sizeof text);
    int hw = http_query_get(&c->q, "width", width_s, sizeof width_s);
    if (hb < 0 || hc < 0 || ht < 0 || hw < 0) {
        http_respond_fail(c, 400, "malformed query: a bad %%-escape or a value too long");
        return;
    }
    if (hb && http_query_uint(basic_s, 999, &r.basic) != 0) {
        http_respond_fail(c, 400, "basic=\"%s\" is not a basic reply code: %s", basic_s,
                          smtpstatus_strerror(SMTPSTATUS_EBASIC));
        return;
    }
    if (hw && http_query_uint(width_s, 100000, &r.width) != 0) {
        http_respond_fail(c, 400, "width=\"%s\" is not a number of octets", width_s);
        return;
    }
    r.has_basic = hb;
    r.has_code = hc && r.code[0] != '\0';
    if (ht) {
        r.text = text;
        r.text_len = strlen(text);
    }
    r.smtputf8 =
        http_query_get(&c->q, "smtputf8", flag, sizeof flag) == 1 && http_query_truthy(flag);
    r.dsn = (http_query_get(&c->q, "dsn", flag, sizeof flag) == 1 && http_query_truthy(flag)) ||
            (http_query_get(&c->q, "form", flag, sizeof flag) == 1 && strcmp(flag, "dsn") == 0);
    do_render(c, &r);
}

/* POST /v1/render {"basic": 550, "code": "5.1.1", "text": "...", "width": 76, "smtputf8": false,
 * "form": "reply"|"dsn"} */
void
http_lookup_render_post(struct http_ctx *c, const char *body, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL || !json_is_object(j)) {
        if (j == NULL)
            http_respond_fail(c, 400, "the body is not JSON: %s (line %d, column %d)", err.text,
                              err.line, err.column);
        else
            http_respond_fail(c, 400, "the body must be a JSON object");
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
            http_respond_fail(c, 400,
                              "\"%s\" is not a render field, or its value has the wrong type", key);
            json_decref(j);
            return;
        }
    }
    do_render(c, &r);
    json_decref(j);
}

/* POST /v1/classify with the raw reply as the body. */
void
http_lookup_classify(struct http_ctx *c, const char *body, size_t len)
{
    smtpstatus_classification cl;
    char *text = malloc(len + 1);
    if (text == NULL) {
        http_respond_fail(c, 500, "out of memory");
        return;
    }
    smtpstatus_classify(c->img, body != NULL ? body : "", len, &cl, text, len + 1);
    http_respond_json(c, answer_json_classification(c->img, &cl, text));
    free(text);
}

/* POST /v1/bounce with the raw message as the body (at most HTTP_BODY_LIMIT bytes, as every
 * body; the transport answers 413 above it). Parsed on the loop, as the socket's Bounce is (see
 * service.c). Not a bounce this parser can read: 422 with the reason. */
void
http_lookup_bounce(struct http_ctx *c, const char *body, size_t len)
{
    struct bounce_result res;
    int rc = bounce_parse(body, body != NULL ? len : 0, c->img, &res);
    if (rc == SMTPSTATUS_ENOMEM) {
        http_respond_fail(c, 500, "out of memory");
        return;
    }
    if (rc != 0) {
        http_respond_fail(c, 422, "%s", smtpstatus_strerror(rc));
        return;
    }
    http_respond_json(c, answer_json_bounce(res.format, res.reporting_mta, res.truncated,
                                            res.recipients, res.count));
    bounce_result_free(&res);
}
