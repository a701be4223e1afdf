/*
 * Reading HTTP/1.1 requests from a byte stream with llhttp, within the port's limits: a target
 * of at most HTTP_URI_LIMIT bytes (else 414), header fields of at most HTTP_HEADER_LIMIT bytes
 * (else 431), a body of at most HTTP_BODY_LIMIT bytes (else 413, before the body is sent when
 * Content-Length says so). It knows nothing of sockets: http_server.c feeds it what a
 * connection reads, and the fuzzer feeds it arbitrary bytes. Each whole request goes to the
 * owner's on_request callback, in order.
 */
#ifndef SMTPSTATUSD_HTTP_READER_H
#define SMTPSTATUSD_HTTP_READER_H

#include <stddef.h>

#include <llhttp.h>

#include "buf.h"
#include "http_api.h"

/* What the owner is told. `arg` is http_reader.arg. */
struct http_reader_hooks {
    /* A request has begun (its first byte is here). May be NULL. */
    void (*on_begin)(void *arg);
    /* The client sent Expect: 100-continue and its body is within the limit: the owner sends
     * "100 Continue". Returns 0, or -1 to fail the request with 500. May be NULL. */
    int (*on_continue)(void *arg);
    /* A whole request; `keep_alive` is 0 when the connection must close after the answer.
     * Returns 0 to go on reading, or 1 to pause: http_reader_feed() then stops after this
     * request and says where (see there). `req` is valid only during the call. */
    int (*on_request)(void *arg, const struct http_request *req, int keep_alive);
};

struct http_reader {
    llhttp_t parser;
    const struct http_reader_hooks *hooks;
    void *arg;
    int local_peer;  /* copied into each request */
    struct buf url;  /* owned; the target being read */
    struct buf body; /* owned; the body being read */
    int unix_peer;   /* copied into each request */
    long peer_uid;   /* copied into each request */
    size_t header_bytes;
    char field[16];   /* the header name being read, lower case, cut */
    size_t field_len; /* its full length */
    char value[256];  /* the value of a header kept below, lower case, cut */
    size_t value_len; /* its full length */
    int expect_continue;
    char host[256]; /* the Host header's value */
    size_t host_len;
    int host_state; /* 0: none yet, 1: one kept, -1: repeated or too long */
    char content_type[64];
    size_t content_type_len; /* over sizeof content_type: too long to be one we accept */
    int has_content_type;
    int has_origin;
    int refuse_status; /* a limit a callback found broken: 413, 414, 431 or 500 */
};

/* Prepares r for a new connection. `hooks` must outlive r. */
void http_reader_init(struct http_reader *r, const struct http_reader_hooks *hooks, void *arg,
                      int local_peer);

/* Frees what r owns. */
void http_reader_free(struct http_reader *r);

enum http_read_status {
    HTTP_READ_OK,     /* all of data was consumed; more may come */
    HTTP_READ_PAUSED, /* on_request returned 1: *consumed bytes were read, the rest was not */
    HTTP_READ_ERROR   /* malformed or over a limit: answer *status and close */
};

/*
 * Parses data[0..len), calling the hooks for each request in it. On HTTP_READ_PAUSED,
 * *consumed is how many bytes were read (the rest belongs to later requests: feed it after
 * http_reader_resume()). On HTTP_READ_ERROR, *status is the status to answer (400, 413, 414,
 * 431 or 500) and message[0..message_size) says why; nothing more can be read.
 */
enum http_read_status http_reader_feed(struct http_reader *r, const char *data, size_t len,
                                       size_t *consumed, int *status, char *message,
                                       size_t message_size);

/* Resumes after HTTP_READ_PAUSED; does nothing when the reader is not paused (llhttp_resume()
 * only lifts a pause), so the owner need not remember whether it paused. */
void http_reader_resume(struct http_reader *r);

#endif
