/*
 * Reading HTTP/1.1 requests with llhttp (see http_reader.h). The parser's callbacks copy the
 * target and the body out of the caller's bytes, which may be reused once a feed returns, and
 * count header bytes; a broken limit fails the parse with HPE_USER and the status to answer.
 */
#include "http_reader.h"

#include <stdio.h>
#include <string.h>

static int
on_message_begin(llhttp_t *p)
{
    struct http_reader *r = p->data;
    buf_reset(&r->url);
    buf_reset(&r->body);
    r->header_bytes = 0;
    r->field_len = r->value_len = 0;
    r->expect_continue = 0;
    r->refuse_status = 0;
    r->host_len = 0;
    r->host_state = 0;
    r->content_type_len = 0;
    r->has_content_type = 0;
    r->has_origin = 0;
    if (r->hooks->on_begin != NULL)
        r->hooks->on_begin(r->arg);
    return 0;
}

static int
refuse(struct http_reader *r, int status)
{
    r->refuse_status = status;
    return HPE_USER;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (len > HTTP_URI_LIMIT - r->url.len)
        return refuse(r, 414);
    return buf_append(&r->url, at, len) == 0 ? 0 : refuse(r, 500);
}

static int
count_header(struct http_reader *r, size_t len)
{
    r->header_bytes += len;
    return r->header_bytes > HTTP_HEADER_LIMIT ? refuse(r, 431) : 0;
}

/* Appends at[0..len) to dst (of `size` bytes, `*n` used so far), lower case, cut to fit. */
static void
lower_into(char *dst, size_t size, size_t *n, const char *at, size_t len)
{
    for (size_t i = 0; i < len && *n + i < size; i++) {
        char ch = at[i];
        dst[*n + i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    *n += len;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    lower_into(r->field, sizeof r->field, &r->field_len, at, len);
    return count_header(r, len);
}

static int
field_is(const struct http_reader *r, const char *name)
{
    size_t n = strlen(name);
    return r->field_len == n && memcmp(r->field, name, n) == 0;
}

/* The headers whose values matter: Expect (100-continue), and those a reload is judged by. */
static int
value_kept(const struct http_reader *r)
{
    return field_is(r, "expect") || field_is(r, "host") || field_is(r, "content-type");
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (value_kept(r))
        lower_into(r->value, sizeof r->value, &r->value_len, at, len);
    return count_header(r, len);
}

static int
on_header_value_complete(llhttp_t *p)
{
    struct http_reader *r = p->data;
    size_t n = r->value_len;
    if (field_is(r, "expect") && n == 12 && memcmp(r->value, "100-continue", 12) == 0) {
        r->expect_continue = 1;
    } else if (field_is(r, "host")) {
        /* Two Hosts, or one cut short, name no host the reload check could trust. */
        if (r->host_state != 0 || n > sizeof r->host) {
            r->host_state = -1;
        } else {
            memcpy(r->host, r->value, n);
            r->host_len = n;
            r->host_state = 1;
        }
    } else if (field_is(r, "content-type")) {
        r->has_content_type = 1;
        r->content_type_len = n;
        if (n <= sizeof r->content_type)
            memcpy(r->content_type, r->value, n);
    } else if (field_is(r, "origin")) {
        r->has_origin = 1;
    }
    r->field_len = r->value_len = 0;
    return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
    struct http_reader *r = p->data;
    /* A body announced over the limit is refused before the client sends it. */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > HTTP_BODY_LIMIT)
        return refuse(r, 413);
    if (r->expect_continue && r->hooks->on_continue != NULL && r->hooks->on_continue(r->arg) != 0)
        return refuse(r, 500);
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (len > HTTP_BODY_LIMIT - r->body.len)
        return refuse(r, 413);
    return buf_append(&r->body, at, len) == 0 ? 0 : refuse(r, 500);
}

static enum http_method
method_of(llhttp_t *p)
{
    switch (llhttp_get_method(p)) {
    case HTTP_GET:
        return HTTP_METHOD_GET;
    case HTTP_HEAD:
        return HTTP_METHOD_HEAD;
    case HTTP_POST:
        return HTTP_METHOD_POST;
    case HTTP_CONNECT:
        return HTTP_METHOD_CONNECT;
    default:
        return HTTP_METHOD_OTHER;
    }
}

static int
on_message_complete(llhttp_t *p)
{
    struct http_reader *r = p->data;
    int ctype_ok = r->has_content_type && r->content_type_len <= sizeof r->content_type;
    struct http_request req = {
        .method = method_of(p),
        .target = r->url.data ? r->url.data : "",
        .target_len = r->url.len,
        .body = r->body.data,
        .body_len = r->body.len,
        .local_peer = r->local_peer,
        .unix_peer = r->unix_peer,
        .peer_uid = r->peer_uid,
        .http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0,
        .host = r->host_state == 1 ? r->host : NULL,
        .host_len = r->host_state == 1 ? r->host_len : 0,
        .content_type = ctype_ok ? r->content_type : NULL,
        .content_type_len = ctype_ok ? r->content_type_len : 0,
        .has_origin = r->has_origin,
    };
    return r->hooks->on_request(r->arg, &req, llhttp_should_keep_alive(p)) ? HPE_PAUSED : 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void
http_reader_init(struct http_reader *r, const struct http_reader_hooks *hooks, void *arg,
                 int local_peer)
{
    memset(r, 0, sizeof *r);
    llhttp_init(&r->parser, HTTP_REQUEST, &settings);
    r->parser.data = r;
    r->hooks = hooks;
    r->arg = arg;
    r->local_peer = local_peer;
}

void
http_reader_free(struct http_reader *r)
{
    buf_free(&r->url);
    buf_free(&r->body);
}

enum http_read_status
http_reader_feed(struct http_reader *r, const char *data, size_t len, size_t *consumed, int *status,
                 char *message, size_t message_size)
{
    *consumed = len;
    size_t done = 0;
    llhttp_errno_t err;
    for (;;) {
        err = llhttp_execute(&r->parser, data + done, len - done);
        if (err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE)
            break;
        const char *pos = llhttp_get_error_pos(&r->parser);
        if (pos != NULL && pos >= data + done && pos <= data + len)
            done = (size_t)(pos - data);
        if (err == HPE_PAUSED || llhttp_get_method(&r->parser) == HTTP_CONNECT) {
            /* A CONNECT was answered with a close: nothing after it is HTTP to us. */
            *consumed = done;
            return HTTP_READ_PAUSED;
        }
        /* Upgrade is a wish we may ignore (RFC 9110, 7.8): the request was answered, and the
         * connection goes on in HTTP/1.1. */
        llhttp_resume_after_upgrade(&r->parser);
    }
    if (err == HPE_OK)
        return HTTP_READ_OK;
    *status = r->refuse_status ? r->refuse_status : 400;
    switch (*status) {
    case 413:
        snprintf(message, message_size, "the request body is over the limit of %u bytes",
                 HTTP_BODY_LIMIT);
        break;
    case 414:
        snprintf(message, message_size, "the request target is over the limit of %u bytes",
                 HTTP_URI_LIMIT);
        break;
    case 431:
        snprintf(message, message_size,
                 "the request's header fields are over the limit of %u bytes", HTTP_HEADER_LIMIT);
        break;
    case 500:
        snprintf(message, message_size, "out of memory");
        break;
    default:
        snprintf(message, message_size, "malformed request: %s (%s)",
                 llhttp_get_error_reason(&r->parser), llhttp_errno_name(err));
        break;
    }
    return HTTP_READ_ERROR;
}

void
http_reader_resume(struct http_reader *r)
{
    llhttp_resume(&r->parser);
}
