/*
 * libFuzzer target for the socketmap protocol (daemon/socketmap.c): arbitrary bytes are what a
 * client sent on a connection. They are cut into netstrings as socketmap_server.c cuts them,
 * each request is answered from the embedded image (the built-in rules), and the input is also
 * fed a byte at a time, to check that framing does not depend on how reads split it.
 *
 * Besides memory errors, it aborts when: framing returns a request longer than the limit or
 * outside the input, or consumes nothing; framing in one piece and byte by byte disagree; an
 * answer is not exactly one well-formed netstring of OK, NOTFOUND, TEMP or PERM; a status
 * answer turns a 2.X.X into anything, a 4.X.X or 5.X.X into something but 4.X.X or 5.X.X, or
 * changes the explanatory text. tests/fuzz/README.md says how to run it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_socketmap: %s\n", what);
    abort();
}

/* Checks one answer to request req[0..len). */
static void
check_answer(const char *req, size_t len, const struct buf *out)
{
    const char *p, *why;
    size_t pl, used;
    if (socketmap_frame(out->data, out->len, 200000, &p, &pl, &used, &why) != SOCKETMAP_REQUEST ||
        used != out->len)
        fail("an answer is not one netstring");
    int ok = pl >= 3 && memcmp(p, "OK ", 3) == 0;
    if (!ok && !(pl == 9 && memcmp(p, "NOTFOUND ", 9) == 0) &&
        !(pl >= 5 && memcmp(p, "TEMP ", 5) == 0) && !(pl >= 5 && memcmp(p, "PERM ", 5) == 0))
        fail("an answer is not OK, NOTFOUND, TEMP or PERM");
    if (!ok || len < 7 || memcmp(req, "status ", 7) != 0)
        return;
    /* OK from the status map: "C.S.D TEXT" for a key "C'.S'.D' TEXT". */
    const char *key = req + 7;
    size_t kl = len - 7;
    const char *ksp = memchr(key, ' ', kl), *asp = memchr(p + 3, ' ', pl - 3);
    if (ksp == NULL || asp == NULL)
        fail("a status answer for a key without a code and text");
    if (key[0] == '2' || (p[3] != '4' && p[3] != '5'))
        fail("a status answer crosses between success and failure");
    size_t ktext = kl - (size_t)(ksp + 1 - key), atext = pl - (size_t)(asp + 1 - p);
    if (ktext != atext || memcmp(ksp + 1, asp + 1, ktext) != 0)
        fail("a status answer changed the explanatory text");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct buf out = {0};
    size_t off = 0, requests = 0;
    enum socketmap_frame last = SOCKETMAP_NEED_MORE;
    while (off < size) {
        const char *p, *why;
        size_t pl, used;
        last = socketmap_frame(in + off, size - off, SOCKETMAP_REQUEST_MAX, &p, &pl, &used, &why);
        if (last != SOCKETMAP_REQUEST)
            break;
        if (pl > SOCKETMAP_REQUEST_MAX || used == 0 || used > size - off || p < in + off ||
            p + pl > in + size)
            fail("a request out of bounds");
        off += used;
        requests++;
        buf_reset(&out);
        if (socketmap_answer(NULL, p, pl, &out) != 0)
            fail("out of memory");
        check_answer(p, pl, &out);
        last = SOCKETMAP_NEED_MORE;
    }
    if (last == SOCKETMAP_NEED_MORE && size - off > SOCKETMAP_REQUEST_MAX + SOCKETMAP_FRAMING_MAX)
        fail("framing waits for more than the limit");

    /* Byte by byte, as the server's buffer fills: the same requests, the same end. */
    size_t start = 0, seen = 0;
    enum socketmap_frame end = SOCKETMAP_NEED_MORE;
    for (size_t n = 1; n <= size; n++) {
        const char *p, *why;
        size_t pl, used;
        end = socketmap_frame(in + start, n - start, SOCKETMAP_REQUEST_MAX, &p, &pl, &used, &why);
        if (end == SOCKETMAP_BAD)
            break;
        if (end == SOCKETMAP_REQUEST) {
            if (used != n - start)
                fail("a request ends before the bytes that made it whole");
            start = n;
            seen++;
            end = SOCKETMAP_NEED_MORE;
        }
    }
    if (seen != requests || end != last)
        fail("framing depends on how the reads split the input");
    buf_free(&out);
    return 0;
}
