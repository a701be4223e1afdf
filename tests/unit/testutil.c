/* Helpers shared by the unit tests; see testutil.h. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
testutil_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

void
testutil_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

const char *
testutil_shared_iana(const char *sub)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", SHARED_IANA_DIR, sub);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: %s is absent (a user's clone has no ../shared); this behaviour is also "
               "covered by tests on the project's own data\n",
               path);
        skip();
    }
    return path;
}

const char *
testutil_project_data(void)
{
    return PROJECT_DATA_DIR;
}

const char *
testutil_tempdir(void)
{
    static char path[256];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/smtpstatus-test.XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(path) == NULL)
        fail_msg("mkdtemp: %s", strerror(errno));
    return path;
}

void
testutil_rmtree(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", path);
    assert_int_equal(system(cmd), 0);
}

uint64_t
testutil_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
