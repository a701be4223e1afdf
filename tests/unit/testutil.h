/*
 * Helpers shared by the unit tests: reading fixture files, finding the real IANA data in
 * ../shared (and skipping, with the reason, when a user's clone does not have it), and a
 * deterministic random generator for byte-flip tests.
 */
#ifndef SMTPSTATUS_TESTUTIL_H
#define SMTPSTATUS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

/* Reads a whole file. Returns a malloc'd, NUL-terminated buffer the caller frees, and its
 * length in *len; fails the test if the file cannot be read. */
char *testutil_read_file(const char *path, size_t *len);

/* Writes buf[0..len) to path, failing the test on error. */
void testutil_write_file(const char *path, const void *buf, size_t len);

/* One field of a TSV corpus (tests/common/corpus_escape.h) unescaped into a malloc'd buffer of
 * exactly its length, so that ASan sees a read past its end (the caller frees it); *len gets
 * the length. A backslash that starts no escape fails the test, naming path:line. */
char *testutil_corpus_field(const char *path, unsigned line, const char *s, size_t *len);

/* Returns the path of the real IANA data folder `sub` ("2017" or "later") in a static buffer,
 * or skips the current test with a message saying why when ../shared is absent. */
const char *testutil_shared_iana(const char *sub);

/* The project's own embedded registry data folder (data/). */
const char *testutil_project_data(void);

/* Makes a fresh temporary directory and returns its path, which stays valid (a later call does
 * not touch it) until testutil_teardown() or exit. Every directory made here that a test has
 * not removed is removed by testutil_teardown(), and at the latest when the process exits. */
const char *testutil_tempdir(void);

/* Removes a directory and everything in it. */
void testutil_rmtree(const char *path);

/*
 * What a test that failed half-way leaves must not outlive it: stops every daemon that
 * testutil_daemon_start() started and testutil_daemon_stop() has not (SIGTERM, then SIGKILL
 * after 10 s), and removes every directory from testutil_tempdir() still there. A cmocka
 * teardown (cmocka_unit_test_teardown(test, testutil_teardown)); also run at exit. Returns 0.
 */
int testutil_teardown(void **state);

/* How many mappings of this process name `what` (a path, or "/memfd:..."), from
 * /proc/self/maps. */
int testutil_mappings_of(const char *what);

/* Stores the rules database's checksum and then the image's in the header of buf[0..len), as
 * the image builder does, so that an edit made by a test is refused for what it breaks, not
 * for the checksums it broke. */
void testutil_image_reseal(unsigned char *buf, size_t len);

/* xorshift64*: a fixed, seedable sequence so that failures reproduce. */
uint64_t testutil_rand(uint64_t *state);

/* A real smtpstatusd, run in the foreground by a test. */
struct testutil_daemon {
    pid_t pid;
    char dir[256];
    char rundir[300];
};

/* Starts SMTPSTATUSD_PATH with run directory DIR/run and state directory DIR/state (and
 * --registry when `registry` is not NULL), and waits at most 20 s for its ready line; fails the
 * test otherwise. Its log is drained in the background. The daemon gets SIGTERM if this
 * process dies first, and testutil_teardown() stops it if the test does not. */
void testutil_daemon_start(struct testutil_daemon *d, const char *dir, const char *registry);

/* Stops it with SIGTERM; fails the test unless it exits 0. */
void testutil_daemon_stop(struct testutil_daemon *d);

#endif
