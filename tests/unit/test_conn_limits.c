/*
 * Unit tests for the fair output budget (conn_limits.c), driven by fake connections with no
 * sockets: while the budget is spent only connections holding unread answers wait, one holding
 * nothing is served from the reserve, a waiter whose answers have been read is resumed, and when
 * the reserve is spent too the connections holding the most are closed, largest first, so that
 * what open connections hold stays within conn_limits.h's bound however many never read.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "conn_limits.h"
#include "log.h"

#define MiB    ((size_t)1 << 20)
#define KiB    ((size_t)1 << 10)
#define BUDGET (4 * MiB)  /* its reserve is BUDGET / 8 */
#define ANSWER (40 * KiB) /* about a list of every code */

struct fake {
    struct conn_limits_conn b; /* first: the callbacks cast back */
    int resumed;
    int shed;
};

static struct conn_limits *shedding; /* the budget the shed callback checks against */

static void
fake_resume(struct conn_limits_conn *b)
{
    ((struct fake *)b)->resumed++;
}

/* Closed for holding the most: no open connection may hold more than it did. */
static void
fake_shed(struct conn_limits_conn *b)
{
    struct fake *f = (struct fake *)b;
    f->shed++;
    assert_true(b->closed);
    for (struct conn_limits_conn *h = shedding->holders; h != NULL; h = h->hnext)
        assert_true(h->held <= b->held);
}

static void
fake_init(struct fake *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&f[i], 0, sizeof f[i]);
        f[i].b.resume = fake_resume;
        f[i].b.shed = fake_shed;
    }
}

struct budget {
    uv_loop_t loop;
    struct conn_limits l;
};

static int
setup(void **state)
{
    struct budget *t = calloc(1, sizeof *t);
    assert_non_null(t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(conn_limits_init(&t->l, &t->loop, BUDGET), 0);
    assert_int_equal(t->l.output_reserve, BUDGET / 8);
    shedding = &t->l;
    log_set_level(LOG_LEVEL_ERROR); /* the shedding's warning is expected here */
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct budget *t = *state;
    conn_limits_close(&t->l);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    free(t);
    return 0;
}

static void
test_only_holders_wait(void **state)
{
    struct conn_limits *l = &((struct budget *)*state)->l;
    struct fake f[2];
    fake_init(f, 2);
    assert_int_equal(conn_limits_must_wait(l, &f[0].b), 0);
    conn_limits_charge(l, &f[0].b, BUDGET);
    assert_true(conn_limits_spent(l));
    assert_int_equal(conn_limits_must_wait(l, &f[0].b), 1);
    /* The old policy paused this one too, until the holder went. */
    assert_int_equal(conn_limits_must_wait(l, &f[1].b), 0);
    assert_false(f[1].b.waiting);
    assert_int_equal(l->waiting, 1);
    assert_int_equal(l->output_pauses, 1);
    assert_int_equal(f[0].shed + f[1].shed, 0);
    conn_limits_release(l, &f[0].b, BUDGET);
    assert_int_equal(f[0].resumed, 1);
    assert_int_equal(l->waiting, 0);
    assert_null(l->holders);
}

static void
test_read_answers_resume_the_waiter(void **state)
{
    struct conn_limits *l = &((struct budget *)*state)->l;
    struct fake f[2];
    fake_init(f, 2);
    conn_limits_charge(l, &f[0].b, BUDGET);
    conn_limits_charge(l, &f[1].b, ANSWER);
    assert_int_equal(conn_limits_must_wait(l, &f[0].b), 1);
    assert_int_equal(conn_limits_must_wait(l, &f[1].b), 1);
    /* f[1] reads its answer: the budget is still spent, by f[0], which keeps waiting. */
    conn_limits_release(l, &f[1].b, ANSWER);
    assert_int_equal(f[1].resumed, 1);
    assert_false(f[1].b.waiting);
    assert_int_equal(f[0].resumed, 0);
    assert_true(f[0].b.waiting);
    assert_int_equal(conn_limits_must_wait(l, &f[1].b), 0);
    conn_limits_release(l, &f[0].b, BUDGET);
    assert_int_equal(f[0].resumed, 1);
}

static void
test_reserve_spent_sheds_the_largest(void **state)
{
    struct conn_limits *l = &((struct budget *)*state)->l;
    struct fake f[5];
    fake_init(f, 5);
    conn_limits_charge(l, &f[0].b, BUDGET / 2 + MiB / 2);
    conn_limits_charge(l, &f[1].b, BUDGET / 2 - MiB / 2);
    assert_int_equal(conn_limits_must_wait(l, &f[1].b), 1);
    /* Served from the reserve, which holds B/8 = 512 KiB: 400 KiB, then 200 KiB more. */
    assert_int_equal(conn_limits_must_wait(l, &f[2].b), 0);
    conn_limits_charge(l, &f[2].b, 400 * KiB);
    assert_int_equal(conn_limits_must_wait(l, &f[3].b), 0);
    assert_int_equal(l->output_shed, 0);
    conn_limits_charge(l, &f[3].b, 200 * KiB);
    /* The reserve is spent: the next to hold nothing gets room by closing f[0] alone. */
    assert_int_equal(conn_limits_must_wait(l, &f[4].b), 0);
    assert_int_equal(f[0].shed, 1);
    assert_int_equal(f[1].shed + f[2].shed + f[3].shed, 0);
    assert_int_equal(l->output_shed, 1);
    assert_int_equal(l->output_closed, BUDGET / 2 + MiB / 2);
    assert_int_equal(conn_limits_must_wait(l, &f[4].b), 0);
    assert_int_equal(l->output_shed, 1);
    /* Its writes end, cancelled: the budget is three quarters free, and f[1] goes on. */
    conn_limits_release(l, &f[0].b, BUDGET / 2 + MiB / 2);
    assert_int_equal(l->output_closed, 0);
    assert_int_equal(l->output_used, BUDGET / 2 - MiB / 2 + 600 * KiB);
    assert_int_equal(f[1].resumed, 1);
    assert_int_equal(f[0].resumed, 0);
    conn_limits_release(l, &f[1].b, BUDGET / 2 - MiB / 2);
    conn_limits_release(l, &f[2].b, 400 * KiB);
    conn_limits_release(l, &f[3].b, 200 * KiB);
    assert_int_equal(l->output_used, 0);
    assert_null(l->holders);
}

/* 1000 clients that never read arrive in turn, each answered as the servers answer: 256 KiB
 * written at a time while the budget is unspent, one answer at a time from the reserve, until
 * it must wait or holds its 1 MiB. A reader checked between them is never kept waiting, and
 * what open connections hold stays within B + R + one answer. */
static void
test_non_readers_cannot_stall_a_reader(void **state)
{
    struct conn_limits *l = &((struct budget *)*state)->l;
    enum { N = 1000 };
    struct fake *f = calloc(N + 1, sizeof *f);
    assert_non_null(f);
    fake_init(f, N + 1);
    struct fake *reader = &f[N];
    for (int i = 0; i < N; i++) {
        while (f[i].b.held < MiB && !f[i].b.closed && !conn_limits_must_wait(l, &f[i].b))
            conn_limits_charge(l, &f[i].b, conn_limits_spent(l) ? ANSWER : 256 * KiB);
        assert_true(l->output_used - l->output_closed <= BUDGET + l->output_reserve + ANSWER);
        /* The end of the turn: the closed connections' writes are cancelled. */
        for (int j = 0; j <= i; j++)
            if (f[j].b.closed && f[j].b.held > 0)
                conn_limits_release(l, &f[j].b, f[j].b.held);
        assert_int_equal(conn_limits_must_wait(l, &reader->b), 0);
        assert_false(reader->b.waiting);
    }
    assert_true(conn_limits_spent(l));
    assert_true(l->output_used <= BUDGET + l->output_reserve + ANSWER);
    assert_true(l->output_shed > 0);
    assert_true(l->waiting > 0);
    for (int i = 0; i < N; i++)
        if (f[i].b.held > 0)
            conn_limits_release(l, &f[i].b, f[i].b.held);
    assert_int_equal(l->output_used, 0);
    assert_int_equal(l->waiting, 0);
    free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_holders_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_answers_resume_the_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_spent_sheds_the_largest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_readers_cannot_stall_a_reader, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
