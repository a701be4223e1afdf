/*
 * Answers to the socket API's registry questions, from an image (see answer.h).
 */
#include "answer.h"

#include <stdio.h>

#include "search.h"

#define RENDER_MAX 65536 /* bytes of rendered output */

typedef Smtpstatus__V1__Response Response;

void *
answer_new_msg(struct arena *a, const void *init, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p != NULL)
        memcpy(p, init, size);
    return p;
}

void
answer_error(uint64_t id, Smtpstatus__V1__Error__Code code, const char *message,
             struct arena *a, Response *resp)
{
    /* Never written, so shared by every thread and every arena that runs dry. */
    static Smtpstatus__V1__Error oom = {PROTOBUF_C_MESSAGE_INIT(&smtpstatus__v1__error__descriptor),
                                        SMTPSTATUS__V1__ERROR__CODE__INTERNAL,
                                        (char *)"out of memory", 0, NULL};
    *resp = (Response)SMTPSTATUS__V1__RESPONSE__INIT;
    resp->id = id;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_ERROR;
    Smtpstatus__V1__Error *e = ANSWER_NEW(a, Smtpstatus__V1__Error, SMTPSTATUS__V1__ERROR__INIT);
    char *m = e != NULL ? arena_strndup(a, message, strlen(message)) : NULL;
    if (m == NULL) {
        e = &oom;
    } else {
        e->code = code;
        e->message = m;
    }
    resp->error = e;
}

static char *
code_name(struct arena *a, smtpstatus_code c)
{
    char *p = arena_alloc(a, SMTPSTATUS_CODE_STRLEN);
    if (p != NULL)
        smtpstatus_code_format(c, p, SMTPSTATUS_CODE_STRLEN);
    return p;
}

/* `code` must outlive the response: a literal, or a string in the arena. */
static Smtpstatus__V1__Part *
make_part(struct arena *a, char *code, const smtpstatus_part *p)
{
    Smtpstatus__V1__Part *m = ANSWER_NEW(a, Smtpstatus__V1__Part, SMTPSTATUS__V1__PART__INIT);
    if (m != NULL) {
        m->code = code;
        m->title = answer_str(p->title);
        m->description = answer_str(p->description);
    }
    return m;
}

/* "X.S.XXX" in the arena, without printf: this runs for every entry of every lookup. */
static char *
subject_pattern(struct arena *a, uint16_t subject)
{
    smtpstatus_code c = {0, subject, 0};
    char *p = arena_alloc(a, SMTPSTATUS_CODE_STRLEN + 3);
    if (p != NULL) {
        int n = smtpstatus_code_format(c, p, SMTPSTATUS_CODE_STRLEN);
        memcpy(p + n - 1, "XXX", 4); /* "X.S.0" -> "X.S.XXX" */
    }
    return p;
}

/* Sets m's vendors to v[0..n), the image's rows (their strings stay in the image). */
static void
set_vendors(struct arena *a, Smtpstatus__V1__Entry *m, const smtpstatus_vendor *v, size_t n)
{
    Smtpstatus__V1__Vendor **list = ANSWER_NEW_ARRAY(a, n, Smtpstatus__V1__Vendor *);
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        Smtpstatus__V1__Vendor *x =
            ANSWER_NEW(a, Smtpstatus__V1__Vendor, SMTPSTATUS__V1__VENDOR__INIT);
        if (x == NULL)
            return;
        x->provider = answer_str(v[i].provider);
        x->code = answer_str(v[i].code);
        x->meaning = answer_str(v[i].meaning);
        x->reason = answer_str(smtpstatus_reason_name(v[i].reason));
        x->source = answer_str(v[i].source);
        list[m->n_vendors++] = x;
    }
    m->vendors = list;
}

/* The vendor rows of `code` (counted first, then copied), or of a token when `token` is not
 * NULL, into m. */
static void
add_vendors(struct arena *a, const smtpstatus_image *img, Smtpstatus__V1__Entry *m,
            smtpstatus_code code, const char *token)
{
    size_t n = 0;
    int rc = token != NULL ? smtpstatus_image_vendor_token(img, token, strlen(token), NULL, 0, &n)
                           : smtpstatus_image_vendors(img, code, NULL, 0, &n);
    if (rc != 0 || n == 0)
        return;
    smtpstatus_vendor *v = ANSWER_NEW_ARRAY(a, n, smtpstatus_vendor);
    if (v == NULL)
        return;
    if (token != NULL)
        smtpstatus_image_vendor_token(img, token, strlen(token), v, n, &n);
    else
        smtpstatus_image_vendors(img, code, v, n, &n);
    set_vendors(a, m, v, n);
}

/* The Entry for an answer, with the vendors' rows for its code when `vendors` (lookup and
 * classify; a search or list answer leaves them out, as its JSON does). */
static Smtpstatus__V1__Entry *
make_entry(struct arena *a, const smtpstatus_image *img, const smtpstatus_entry *e, int vendors)
{
    Smtpstatus__V1__Entry *m = ANSWER_NEW(a, Smtpstatus__V1__Entry, SMTPSTATUS__V1__ENTRY__INIT);
    if (m == NULL)
        return NULL;
    if (vendors)
        add_vendors(a, img, m, e->code, NULL);
    m->code = code_name(a, e->code);
    m->registered = e->registered != 0;
    static char *const class_patterns[] = {[2] = "2.XXX.XXX", [4] = "4.XXX.XXX",
                                           [5] = "5.XXX.XXX"};
    if (e->code.cls != 0)
        m->class_ = make_part(a, class_patterns[e->code.cls], &e->cls);
    if (e->subject_registered)
        m->subject = make_part(a, subject_pattern(a, e->code.subject), &e->subject);
    if (!e->registered)
        return m;
    m->title = answer_str(e->title);
    m->description = answer_str(e->description);
    m->reference = answer_str(e->reference);
    m->submitter = answer_str(e->submitter);
    m->change_controller = answer_str(e->change_controller);
    m->basic_codes_raw = answer_str(e->basic_codes_raw);
    m->basic_any = (e->assoc_flags & SMTPSTATUS_ASSOC_ANY) != 0;
    m->n_basic_codes = e->basic_code_count;
    m->basic_codes = ANSWER_NEW_ARRAY(a, e->basic_code_count, uint32_t);
    for (uint32_t i = 0; m->basic_codes != NULL && i < e->basic_code_count; i++)
        m->basic_codes[i] = e->basic_codes[i];
    static char *const wildcards[] = {NULL, NULL, "2XX", NULL, "4XX", "5XX"};
    m->basic_classes = ANSWER_NEW_ARRAY(a, 3, char *);
    for (unsigned d = 2; m->basic_classes != NULL && d <= 5; d++)
        if (wildcards[d] != NULL && (e->basic_classes & (1u << d)))
            m->basic_classes[m->n_basic_classes++] = wildcards[d];
    return m;
}

static void
handle_lookup(const smtpstatus_image *img, const Smtpstatus__V1__LookupRequest *req, struct arena *a,
              Response *resp)
{
    if (req->n_codes > ANSWER_MAX_BATCH) {
        char msg[96];
        snprintf(msg, sizeof msg, "a lookup takes at most %d codes; this one has %zu",
                 ANSWER_MAX_BATCH, req->n_codes);
        answer_error(resp->id, SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT, msg, a, resp);
        return;
    }
    Smtpstatus__V1__LookupResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__LookupResponse, SMTPSTATUS__V1__LOOKUP_RESPONSE__INIT);
    Smtpstatus__V1__Entry **entries = ANSWER_NEW_ARRAY(a, req->n_codes, Smtpstatus__V1__Entry *);
    if (m == NULL || entries == NULL)
        return;
    for (size_t i = 0; i < req->n_codes; i++) {
        const char *s = req->codes[i];
        smtpstatus_code c = {0, 0, 0};
        smtpstatus_entry e;
        size_t errpos = 0;
        int rc = smtpstatus_code_parse(s, strlen(s), SMTPSTATUS_PARSE_ALLOW_X, &c, &errpos);
        if (rc == 0)
            rc = smtpstatus_image_lookup(img, c, &e);
        size_t nv = 0;
        if (rc == 0) {
            entries[i] = make_entry(a, img, &e, 1);
        } else if (smtpstatus_image_vendor_token(img, s, strlen(s), NULL, 0, &nv) == 0 &&
                   nv > 0) {
            /* A provider's own token ("TSS04"): not IANA's, but documented by a provider. */
            entries[i] = ANSWER_NEW(a, Smtpstatus__V1__Entry, SMTPSTATUS__V1__ENTRY__INIT);
            if (entries[i] != NULL) {
                add_vendors(a, img, entries[i], c, s);
                entries[i]->code =
                    entries[i]->n_vendors > 0 ? entries[i]->vendors[0]->code : "";
            }
        } else {
            /* One bad code in a batch does not spoil the others. */
            entries[i] = ANSWER_NEW(a, Smtpstatus__V1__Entry, SMTPSTATUS__V1__ENTRY__INIT);
            if (entries[i] != NULL) {
                /* Echoed as asked, but mended: a request's bytes are not checked as UTF-8 by
                 * protobuf-c, and a runtime that checks would reject the whole answer. */
                entries[i]->code = arena_utf8dup(a, s, strlen(s));
                entries[i]->error =
                    arena_printf(a, "at byte %zu: %s", errpos, smtpstatus_strerror(rc));
            }
        }
    }
    m->n_entries = req->n_codes;
    m->entries = entries;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_LOOKUP;
    resp->lookup = m;
}

static void
handle_basic(const smtpstatus_image *img, const Smtpstatus__V1__BasicRequest *req, struct arena *a,
             Response *resp)
{
    smtpstatus_basic b;
    int rc = req->basic > 999 ? SMTPSTATUS_EBASIC
                              : smtpstatus_image_lookup_basic(img,
                                                              (uint16_t)req->basic, &b);
    if (rc != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%u: %s", req->basic,
                 rc == SMTPSTATUS_ENOTFOUND ? "no standard meaning and no enhanced code is "
                                              "associated with it"
                                            : smtpstatus_strerror(rc));
        answer_error(resp->id,
                     rc == SMTPSTATUS_ENOTFOUND ? SMTPSTATUS__V1__ERROR__CODE__NOT_FOUND
                                                : SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT,
                     msg, a, resp);
        return;
    }
    Smtpstatus__V1__BasicResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__BasicResponse, SMTPSTATUS__V1__BASIC_RESPONSE__INIT);
    Smtpstatus__V1__BasicAssociation **as =
        ANSWER_NEW_ARRAY(a, b.assoc_count, Smtpstatus__V1__BasicAssociation *);
    if (m == NULL || as == NULL)
        return;
    m->basic = b.code;
    m->standard = b.standard != 0;
    m->text = answer_str(b.text);
    m->reference = answer_str(b.reference);
    static char *const match_names[] = {NULL, "exact", "wildcard", "any"};
    for (uint32_t i = 0; i < b.assoc_count; i++) {
        smtpstatus_code c;
        smtpstatus_match match;
        smtpstatus_entry e;
        smtpstatus_image_basic_assoc(img, &b, i, &c, &match);
        smtpstatus_image_lookup(img, c, &e);
        as[i] = ANSWER_NEW(a, Smtpstatus__V1__BasicAssociation,
                    SMTPSTATUS__V1__BASIC_ASSOCIATION__INIT);
        if (as[i] == NULL)
            return;
        as[i]->code = code_name(a, c);
        as[i]->match = match_names[match];
        as[i]->title = answer_str(e.title);
    }
    m->n_associations = b.assoc_count;
    m->associations = as;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_BASIC;
    resp->basic = m;
}

/* search and list: the registry's codes of one subject, or matching a query, in code order.
 * `text` is img's folded text, or NULL to fold it here for this answer. */
static void
handle_select(const smtpstatus_image *img, const struct search_text *text, const char *query,
              int has_subject, uint32_t subject, uint32_t limit, int is_search, struct arena *a,
              Response *resp)
{
    uint32_t n = smtpstatus_image_code_count(img);
    struct search_words words;
    struct search_text local;
    if (is_search) {
        size_t qlen = strlen(query);
        char *folded = arena_alloc(a, qlen + 1);
        if (folded == NULL)
            return;
        if (search_words_parse(query, qlen, folded, &words) != 0) {
            answer_error(resp->id, SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT,
                         "a search takes at most " ANSWER_STR(SEARCH_MAX_WORDS)
                         " different words",
                         a, resp);
            return;
        }
        if (text == NULL || text->count != n) {
            if (search_text_build(img, a, &local) != 0)
                return;
            text = &local;
        }
    }
    Smtpstatus__V1__LookupResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__LookupResponse, SMTPSTATUS__V1__LOOKUP_RESPONSE__INIT);
    Smtpstatus__V1__Entry **entries = ANSWER_NEW_ARRAY(a, n, Smtpstatus__V1__Entry *);
    if (m == NULL || entries == NULL)
        return;
    for (uint32_t i = 0; i < n && (limit == 0 || m->n_entries < limit); i++) {
        smtpstatus_entry e;
        if (is_search && !search_text_matches(text, i, &words))
            continue;
        smtpstatus_image_code_at(img, i, &e);
        if (has_subject && e.code.subject != subject)
            continue;
        entries[m->n_entries++] = make_entry(a, img, &e, 0);
    }
    m->entries = entries;
    resp->result_case = is_search ? SMTPSTATUS__V1__RESPONSE__RESULT_SEARCH
                                  : SMTPSTATUS__V1__RESPONSE__RESULT_LIST;
    if (is_search)
        resp->search = m;
    else
        resp->list = m;
}

static void
handle_render(const smtpstatus_image *img, const Smtpstatus__V1__RenderRequest *req, struct arena *a,
              Response *resp)
{
    smtpstatus_code code;
    int has_code = req->enhanced[0] != '\0';
    int rc = 0;
    if (has_code)
        rc = smtpstatus_code_parse(req->enhanced, strlen(req->enhanced),
                                   SMTPSTATUS_PARSE_ALLOW_X, &code, NULL);
    char *buf = arena_alloc(a, RENDER_MAX);
    if (buf == NULL)
        return;
    size_t len = 0;
    unsigned warnings = 0;
    smtpstatus_render_options opt = {req->width, req->smtputf8,
                                     req->dsn ? SMTPSTATUS_FORM_DSN : SMTPSTATUS_FORM_REPLY};
    if (rc == 0)
        rc = req->basic > 999 ? SMTPSTATUS_EBASIC
                              : smtpstatus_render(img, (uint16_t)req->basic,
                                                  has_code ? &code : NULL,
                                                  req->use_default_text ? NULL : req->text,
                                                  req->use_default_text ? 0 : strlen(req->text),
                                                  &opt, buf, RENDER_MAX, &len, &warnings);
    if (rc != 0) {
        answer_error(resp->id, SMTPSTATUS__V1__ERROR__CODE__INVALID_ARGUMENT,
                      smtpstatus_strerror(rc), a, resp);
        return;
    }
    Smtpstatus__V1__RenderResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__RenderResponse, SMTPSTATUS__V1__RENDER_RESPONSE__INIT);
    size_t lines = 0;
    for (size_t i = 0; i + 1 < len; i++)
        lines += buf[i] == '\r' && buf[i + 1] == '\n';
    char **lv = ANSWER_NEW_ARRAY(a, lines, char *);
    char **wv = ANSWER_NEW_ARRAY(a, 5, char *);
    if (m == NULL || lv == NULL || wv == NULL)
        return;
    m->reply = buf;
    for (const char *p = buf; *p != '\0' && m->n_lines < lines;) {
        const char *eol = strstr(p, "\r\n");
        lv[m->n_lines++] = arena_strndup(a, p, (size_t)(eol - p));
        p = eol + 2;
    }
    m->lines = lv;
    static char *const warning_names[] = {"not_associated", "unregistered", "replaced",
                                          "split_word", "code_like_text"};
    for (unsigned bit = 0; bit < 5; bit++)
        if (warnings & (1u << bit))
            wv[m->n_warnings++] = warning_names[bit];
    m->warnings = wv;
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_RENDER;
    resp->render = m;
}

/* The protocol's Reason numbers are smtpstatus_reason's (smtpstatus.proto says so). */
#define SAME_REASON(R) \
    _Static_assert((int)SMTPSTATUS__V1__REASON__REASON_##R == (int)SMTPSTATUS_REASON_##R, #R)
SAME_REASON(SUCCESS);
SAME_REASON(INTERMEDIATE);
SAME_REASON(BAD_MAILBOX);
SAME_REASON(MAILBOX_DISABLED);
SAME_REASON(MAILBOX_FULL);
SAME_REASON(MESSAGE_TOO_BIG);
SAME_REASON(BAD_SENDER);
SAME_REASON(POLICY);
SAME_REASON(AUTH);
SAME_REASON(ROUTING);
SAME_REASON(RATE_LIMIT);
SAME_REASON(GREYLISTING);
SAME_REASON(TLS_REQUIRED);
SAME_REASON(PROTOCOL);
SAME_REASON(CONTENT);
SAME_REASON(SERVER_ERROR);
SAME_REASON(EXPIRED);
SAME_REASON(OTHER);
_Static_assert(SMTPSTATUS_REASON_MAX == SMTPSTATUS_REASON_OTHER, "a new reason needs a Reason");
#undef SAME_REASON

static void
handle_classify(const smtpstatus_image *img, const Smtpstatus__V1__ClassifyRequest *req,
                struct arena *a, Response *resp)
{
    smtpstatus_classification c;
    size_t text_size = req->reply.len + 1;
    char *text = arena_alloc(a, text_size);
    Smtpstatus__V1__ClassifyResponse *m =
        ANSWER_NEW(a, Smtpstatus__V1__ClassifyResponse, SMTPSTATUS__V1__CLASSIFY_RESPONSE__INIT);
    char **pv = ANSWER_NEW_ARRAY(a, 16, char *);
    if (text == NULL || m == NULL || pv == NULL)
        return;
    smtpstatus_classify(img, (const char *)req->reply.data, req->reply.len, &c,
                        text, text_size);
    m->basic = c.basic;
    if (c.has_enhanced) {
        m->enhanced = code_name(a, c.enhanced);
        m->subject = answer_str(c.entry.subject.title);
        m->registered = c.entry.registered != 0;
        m->entry = make_entry(a, img, &c.entry, 1);
    }
    m->kind = answer_str(smtpstatus_kind_name(c.kind));
    m->retry = c.retry != 0;
    for (unsigned bit = 1; bit != 0 && m->n_problems < 16; bit <<= 1)
        if (c.problems & bit)
            pv[m->n_problems++] = answer_str(smtpstatus_problem_name(bit));
    m->problems = pv;
    m->text = text;
    /* smtpstatus_reason and the protocol's Reason share their numbers (smtpstatus.proto). */
    m->reason = (Smtpstatus__V1__Reason)c.reason;
    m->recipient_invalid = c.recipient_invalid != 0;
    m->retry_after = c.retry_after;
    /* An administrator's rule is named after its file's path, which need not be UTF-8:
     * mended like the other strings that come from outside the registry. */
    m->rule = arena_utf8dup(a, answer_str(c.rule), strlen(answer_str(c.rule)));
    m->rule_note = arena_utf8dup(a, answer_str(c.rule_note), strlen(answer_str(c.rule_note)));
    if (m->rule == NULL || m->rule_note == NULL)
        return;
    if (c.has_status) {
        m->has_status = 1;
        m->status = code_name(a, c.status);
    }
    resp->result_case = SMTPSTATUS__V1__RESPONSE__RESULT_CLASSIFY;
    resp->classify = m;
}

int
answer_is_query(const Smtpstatus__V1__Request *req)
{
    switch (req->op_case) {
    case SMTPSTATUS__V1__REQUEST__OP_LOOKUP:
    case SMTPSTATUS__V1__REQUEST__OP_BASIC:
    case SMTPSTATUS__V1__REQUEST__OP_SEARCH:
    case SMTPSTATUS__V1__REQUEST__OP_LIST:
    case SMTPSTATUS__V1__REQUEST__OP_RENDER:
    case SMTPSTATUS__V1__REQUEST__OP_CLASSIFY:
        return 1;
    default:
        return 0;
    }
}

void
answer_query(const smtpstatus_image *img, const struct search_text *text,
             const Smtpstatus__V1__Request *req, struct arena *a, Response *resp)
{
    *resp = (Response)SMTPSTATUS__V1__RESPONSE__INIT;
    resp->id = req->id;
    switch (req->op_case) {
    case SMTPSTATUS__V1__REQUEST__OP_LOOKUP:
        handle_lookup(img, req->lookup, a, resp);
        break;
    case SMTPSTATUS__V1__REQUEST__OP_BASIC:
        handle_basic(img, req->basic, a, resp);
        break;
    case SMTPSTATUS__V1__REQUEST__OP_SEARCH:
        handle_select(img, text, req->search->query, 0, 0, req->search->limit, 1, a, resp);
        break;
    case SMTPSTATUS__V1__REQUEST__OP_LIST:
        handle_select(img, NULL, "", req->list->has_subject, req->list->subject, 0, 0, a,
                      resp);
        break;
    case SMTPSTATUS__V1__REQUEST__OP_RENDER:
        handle_render(img, req->render, a, resp);
        break;
    case SMTPSTATUS__V1__REQUEST__OP_CLASSIFY:
        handle_classify(img, req->classify, a, resp);
        break;
    default:
        break;
    }
}
