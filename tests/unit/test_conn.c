/*
 * Unit tests for a stream server's connections (conn.c), on a real libuv loop with a Unix socket
 * listener and real client sockets: the cap refuses the connection past it, the idle timeout
 * closes, a close after writes sends everything queued (in order, what the socket did not take
 * copied from several buffers) before the end of the stream, stopping the set frees every
 * connection with writes still queued, and a client that does not read spends the output budget
 * and waits while one that reads is served, then gets everything once it reads. The tests wait
 * on progress: they run the loop a turn at a time until what they wait for has happened, with a
 * bound on the turns.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "conn_limits.h"
#include "log.h"

#define HEADER     4
#define ANSWER     (16u << 10) /* bytes of one answer's body, unless a test says otherwise */
#define BIG_ANSWER (1u << 20)  /* more than a socket takes at once: a write is cut */
#define MAX_TURNS  200000      /* of the loop, before a test gives up waiting */
#define BUDGET     ((size_t)64 << 10)
#define QUEUE_BIG  ((size_t)64 << 20) /* a throttle that does not step in */

/* The test's server: each 'b' a client sends asks for one answer (a 4-byte header and ANSWER
 * bytes, written as two buffers), 'q' asks for the answers and then the end of the stream. */
struct tconn {
    char before[24]; /* so that the struct conn is not at the block's start */
    struct conn base;
    char *owned; /* malloc'd when accepted, freed in release: ASan sees a leak or a double free */
    unsigned todo;
    int quit;
};

struct tserver {
    uv_loop_t loop;
    uv_pipe_t listener;
    struct conn_set set;
    struct conn_limits limits;
    char path[108];
    size_t answer;     /* bytes of an answer's body */
    unsigned answers;  /* written, numbered from 0 on every connection together */
    int accepted, refused, timeouts, released, resumed, closing;
    struct tconn *last; /* the last connection accepted, while open */
};

static struct tconn *
tconn_of(struct conn *base)
{
    return CONN_OWNER(base, struct tconn, base);
}

static struct tserver *
tserver_of(struct conn *base)
{
    return CONN_OWNER(base->set, struct tserver, set);
}

static void
serve(struct tconn *c)
{
    struct tserver *s = tserver_of(&c->base);
    static unsigned char body[BIG_ANSWER];
    while (c->base.phase == CONN_PHASE_OPEN && c->todo > 0 && !c->base.throttled &&
           !conn_must_wait(&c->base)) {
        unsigned k = s->answers++;
        unsigned char head[HEADER] = {'H', (unsigned char)k, (unsigned char)(k >> 8),
                                      (unsigned char)(k >> 16)};
        for (size_t i = 0; i < s->answer; i++)
            body[i] = (unsigned char)((k + i) % 251);
        uv_buf_t b[2] = {uv_buf_init((char *)head, HEADER),
                         uv_buf_init((char *)body, (unsigned)s->answer)};
        c->todo--;
        if (conn_write(&c->base, b, 2) != 0)
            return;
        memset(body, 0, s->answer); /* conn_write() copied what it kept */
    }
    if (c->quit && c->todo == 0) {
        conn_close_after_writes(&c->base);
        return;
    }
    conn_read(&c->base, !(c->base.throttled || c->base.budget.waiting));
}

static void
t_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)h;
    static char buf[4096];
    (void)suggested;
    *out = uv_buf_init(buf, sizeof buf);
}

static void
t_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct tconn *c = tconn_of(st->data);
    if (nread < 0) {
        conn_close(&c->base);
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        if (b->base[i] == 'b')
            c->todo++;
        else if (b->base[i] == 'q')
            c->quit = 1;
    }
    if (nread > 0)
        conn_touch(&c->base);
    serve(c);
}

static void
t_accepted(struct conn *base)
{
    struct tconn *c = tconn_of(base);
    struct tserver *s = tserver_of(base);
    c->owned = malloc(32);
    assert_non_null(c->owned);
    assert_int_equal(base->phase, CONN_PHASE_OPEN);
    s->accepted++;
    s->last = c;
}

static void
t_refuse(struct conn *base)
{
    tserver_of(base)->refused++;
    uv_buf_t b = uv_buf_init("full", 4);
    if (conn_write(base, &b, 1) == 0)
        conn_close_after_writes(base);
}

static void
t_timer(struct conn *base)
{
    if (!conn_idle_expired(base))
        return;
    tserver_of(base)->timeouts++;
    conn_close(base);
}

static void
t_resume(struct conn *base)
{
    tserver_of(base)->resumed++;
    serve(tconn_of(base));
}

static void
t_closing(struct conn *base)
{
    struct tserver *s = tserver_of(base);
    s->closing++;
    if (s->last == tconn_of(base))
        s->last = NULL;
}

static void
t_release(struct conn *base)
{
    struct tconn *c = tconn_of(base);
    assert_int_equal(base->phase, CONN_PHASE_CLOSED);
    assert_int_equal(base->open_handles, 0);
    free(c->owned);
    tserver_of(base)->released++;
}

static const struct conn_ops t_ops = {
    .alloc = t_alloc,
    .read = t_read,
    .accepted = t_accepted,
    .refuse = t_refuse,
    .timer = t_timer,
    .resume = t_resume,
    .closing = t_closing,
    .release = t_release,
};

static struct tserver *
server_new(unsigned max_connections, unsigned idle_ms, size_t queue_limit, size_t budget)
{
    struct tserver *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(uv_loop_init(&s->loop), 0);
    struct conn_limits *limits = NULL;
    if (budget > 0) {
        assert_int_equal(conn_limits_init(&s->limits, &s->loop, budget), 0);
        limits = &s->limits;
    }
    struct conn_set_options opt = {
        .ops = &t_ops,
        .conn_size = sizeof(struct tconn),
        .conn_offset = offsetof(struct tconn, base),
        .name = "test",
        .log_prefix = "test: ",
        .max_connections = max_connections,
        .idle_timeout_ms = idle_ms,
        .write_queue_limit = queue_limit,
        .limits = limits,
    };
    conn_set_init(&s->set, &s->loop, &opt);
    s->answer = ANSWER;
    snprintf(s->path, sizeof s->path, "%s/conn.sock", testutil_tempdir());
    assert_int_equal(uv_pipe_init(&s->loop, &s->listener, 0), 0);
    assert_int_equal(uv_pipe_bind(&s->listener, s->path), 0);
    assert_int_equal(conn_set_listen(&s->set, (uv_stream_t *)&s->listener, 16), 0);
    return s;
}

/* Stops everything and runs the loop until every handle has closed: nothing outlives the test. */
static void
server_free(struct tserver *s)
{
    conn_set_stop(&s->set);
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->set.opt.limits != NULL)
        conn_limits_close(&s->limits);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_int_equal(s->released, s->accepted);
    assert_int_equal(conn_set_open(&s->set), 0);
    if (s->set.opt.limits != NULL)
        assert_int_equal(s->limits.output_used, 0);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    free(s);
}

static int
client_connect(struct tserver *s)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void
client_send(int fd, const char *what)
{
    assert_int_equal(send(fd, what, strlen(what), MSG_NOSIGNAL), (ssize_t)strlen(what));
}

/* What a client has read of its answers. Each must be whole and numbered above the one before
 * it: an answer cut, repeated, reordered or mixed with another shows. */
struct answers {
    size_t size;   /* of an answer's body */
    size_t bytes;  /* read */
    size_t count;  /* whole answers read */
    long last;     /* the number of the last answer begun, -1 before the first */
    unsigned head; /* the number being read from the current answer's header */
};

/* Reads what the client has been sent and checks it. Returns 1 at the end of the stream, else
 * 0 once nothing more is there to read now. */
static int
client_read(int fd, struct answers *a)
{
    unsigned char buf[8192];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0) {
            assert_int_equal(a->bytes % (HEADER + a->size), 0);
            return 1;
        }
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            return 0;
        }
        for (ssize_t i = 0; i < n; i++, a->bytes++) {
            size_t off = a->bytes % (HEADER + a->size);
            if (off == 0) {
                assert_int_equal(buf[i], 'H');
                a->head = 0;
            } else if (off < HEADER) {
                a->head |= (unsigned)buf[i] << (8 * (off - 1));
                if (off == HEADER - 1) {
                    assert_true((long)a->head > a->last);
                    a->last = (long)a->head;
                }
            } else if (buf[i] != (unsigned char)((a->head + off - HEADER) % 251)) {
                fail_msg("byte %zu of answer %u is wrong", off - HEADER, a->head);
            }
            if (off == HEADER + a->size - 1)
                a->count++;
        }
    }
}

/* Whether the client's connection has ended, after `want` bytes (compared with *got). */
static int
client_eof(int fd, const char *want, size_t *got)
{
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0)
        return 1;
    if (n > 0) {
        assert_true(*got + (size_t)n <= strlen(want));
        assert_memory_equal(buf, want + *got, (size_t)n);
        *got += (size_t)n;
    }
    return 0;
}

#define RUN_UNTIL(s, mode, cond)                                                                   \
    do {                                                                                           \
        int turns_ = 0;                                                                            \
        while (!(cond)) {                                                                          \
            if (++turns_ > MAX_TURNS)                                                              \
                fail_msg("waited %d turns of the loop for: %s", MAX_TURNS, #cond);                \
            uv_run(&(s)->loop, (mode));                                                            \
        }                                                                                          \
    } while (0)

static void
test_cap_refuses_the_next(void **state)
{
    (void)state;
    struct tserver *s = server_new(2, 60000, QUEUE_BIG, 0);
    int fd[4];
    for (int i = 0; i < 3; i++)
        fd[i] = client_connect(s);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->accepted == 3);
    assert_int_equal(s->refused, 1);
    /* The third is told why, then its stream ends; the other two stay open. */
    size_t got = 0;
    RUN_UNTIL(s, UV_RUN_NOWAIT, client_eof(fd[2], "full", &got));
    assert_int_equal(got, 4);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->released == 1);
    assert_int_equal(conn_set_open(&s->set), 2);
    char c;
    assert_int_equal(recv(fd[0], &c, 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
    /* One leaves: the next is served. */
    close(fd[0]);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->released == 2);
    assert_int_equal(conn_set_open(&s->set), 1);
    fd[3] = client_connect(s);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->accepted == 4);
    assert_int_equal(s->refused, 1);
    assert_int_equal(conn_set_open(&s->set), 2);
    server_free(s);
    for (int i = 1; i < 4; i++)
        close(fd[i]);
}

static void
test_idle_timeout_closes(void **state)
{
    (void)state;
    struct tserver *s = server_new(8, 5, QUEUE_BIG, 0);
    int fd = client_connect(s);
    /* The timer is the only thing left to happen: each turn waits for it, not for a time. */
    RUN_UNTIL(s, UV_RUN_ONCE, s->released == 1);
    assert_int_equal(s->timeouts, 1);
    assert_int_equal(s->closing, 1);
    size_t got = 0;
    assert_true(client_eof(fd, "", &got));
    server_free(s);
    close(fd);
}

static void
test_close_after_writes_flushes_then_closes(void **state)
{
    (void)state;
    struct tserver *s = server_new(8, 60000, QUEUE_BIG, 0);
    s->answer = BIG_ANSWER;
    int fd = client_connect(s);
    /* More than the socket's buffers take: the first write is cut within the body, and the
     * rest of it and the other answers wait in writes. */
    enum { N = 4 };
    char req[N + 2];
    memset(req, 'b', N);
    req[N] = 'q';
    req[N + 1] = '\0';
    client_send(fd, req);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->answers == N);
    struct tconn *c = s->last;
    assert_non_null(c);
    assert_int_equal(c->base.phase, CONN_PHASE_DRAINING);
    assert_true(conn_write_queue(&c->base) > 0);
    assert_int_equal(s->released, 0);
    struct answers a = {.size = BIG_ANSWER, .last = -1};
    RUN_UNTIL(s, UV_RUN_NOWAIT, client_read(fd, &a));
    assert_int_equal(a.count, N);
    assert_int_equal(a.last, N - 1);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->released == 1);
    assert_int_equal(s->timeouts, 0);
    server_free(s);
    close(fd);
}

static void
test_throttle_resumes_when_read(void **state)
{
    (void)state;
    /* A queue limit of two answers: the client's reading lets the rest be answered. */
    struct tserver *s = server_new(8, 60000, 2 * (HEADER + ANSWER), 0);
    int fd = client_connect(s);
    enum { N = 64 };
    char req[N + 1];
    memset(req, 'b', N);
    req[N] = '\0';
    client_send(fd, req);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->last != NULL && s->last->base.throttled);
    assert_true(s->answers < N);
    struct answers a = {.size = ANSWER, .last = -1};
    RUN_UNTIL(s, UV_RUN_NOWAIT, (client_read(fd, &a), a.count == N));
    assert_true(s->resumed > 0);
    assert_int_equal(s->answers, N);
    server_free(s);
    close(fd);
}

static void
test_stop_frees_everything(void **state)
{
    (void)state;
    struct tserver *s = server_new(8, 60000, QUEUE_BIG, BUDGET);
    int fd[3];
    for (int i = 0; i < 3; i++) {
        fd[i] = client_connect(s);
        client_send(fd[i], "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"); /* 32 answers: 512 KiB */
    }
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->accepted == 3 && s->limits.output_used > 0);
    /* Writes are queued, and nobody reads: stopping must free them and every block. */
    server_free(s);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

static void
test_slow_reader_hits_the_budget(void **state)
{
    (void)state;
    struct tserver *s = server_new(8, 60000, QUEUE_BIG, BUDGET);
    enum { N = 200 };
    int slow = client_connect(s);
    char req[N + 1];
    memset(req, 'b', N);
    req[N] = '\0';
    client_send(slow, req);
    RUN_UNTIL(s, UV_RUN_NOWAIT, s->last != NULL && s->last->base.budget.waiting);
    struct tconn *sc = s->last;
    unsigned slow_answers = s->answers;
    assert_true(slow_answers < N);
    assert_true(s->limits.output_used >= BUDGET);
    assert_true(s->limits.output_used < BUDGET + s->limits.output_reserve + HEADER + ANSWER);
    assert_int_equal(s->limits.output_pauses, 1);
    /* The budget is spent, but not by this one: it is answered from the reserve. */
    int reader = client_connect(s);
    client_send(reader, "b");
    struct answers r = {.size = ANSWER, .last = -1};
    RUN_UNTIL(s, UV_RUN_NOWAIT, (client_read(reader, &r), r.count == 1));
    assert_int_equal(r.last, slow_answers);
    assert_true(sc->base.budget.waiting);
    assert_int_equal(s->resumed, 0);
    assert_int_equal(s->answers, slow_answers + 1);
    /* The slow one reads at last: it is resumed and gets all it asked for, in order. */
    struct answers a = {.size = ANSWER, .last = -1};
    RUN_UNTIL(s, UV_RUN_NOWAIT, (client_read(slow, &a), a.count == N));
    assert_true(s->resumed > 0);
    assert_int_equal(s->answers, N + 1);
    assert_int_equal(s->limits.output_used, 0);
    server_free(s);
    close(slow);
    close(reader);
}

int
main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cap_refuses_the_next, testutil_teardown),
        cmocka_unit_test_teardown(test_idle_timeout_closes, testutil_teardown),
        cmocka_unit_test_teardown(test_close_after_writes_flushes_then_closes, testutil_teardown),
        cmocka_unit_test_teardown(test_throttle_resumes_when_read, testutil_teardown),
        cmocka_unit_test_teardown(test_stop_frees_everything, testutil_teardown),
        cmocka_unit_test_teardown(test_slow_reader_hits_the_budget, testutil_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
