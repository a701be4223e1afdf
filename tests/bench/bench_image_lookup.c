/*
 * Benchmark of the image lookups against the fastest thing they could be: a plain C array that
 * already holds every answer, measured in the same run on the same codes.
 *
 * Both sides answer from the embedded image (smtpstatus_image_embedded()). The baseline tables
 * are filled beforehand from that image's own answers, so each baseline lookup is a range check,
 * a direct index and a struct copy into the caller's out parameter, and the answers are
 * checked to be identical, field by field, before anything is timed. The codes are a fixed,
 * pseudo-random mix of registered codes, unregistered details of registered subjects and
 * unregistered subjects, in classes 2, 4 and 5; the basic codes mix codes that have a record
 * with any code from 200 to 599. Samples of the two sides alternate and the best (lowest)
 * ns/op of each side is reported, as one JSON object per line on stdout; the ratio is
 * image / baseline. Checksums of the answers go to stderr, which also keeps the compiler from
 * dropping the work.
 *
 * Given the path of smtpstatusd, it also starts the real daemon in a temp run directory (the
 * embedded registry) and measures the same lookups through the image the daemon published, as a
 * long-lived client does them: smtpstatus_shared_lookup() on a held pin, which is one acquire
 * load and the lookup ("shared_lookup", against the static array refilled from that image). In the same run
 * it times one lookup asked of the daemon's socket with smtpstatus_lookup() ("socket_lookup":
 * connect once, then one round trip per lookup), and prints the shared lookup against it
 * ("shared_vs_socket": ratio = shared / socket, speedup = socket / shared). Bounded: at most
 * 10 s to wait for the daemon, SOCKET_OPS round trips. tests/bench/README.md says how to run it
 * and read it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "smtpstatus.h"

#define BENCH_CODES       4096u /* pre-generated codes, looked up in order */
#define BENCH_PASSES      64u   /* passes over the codes per timed sample */
#define BENCH_MIN_SAMPLES 5u    /* per side, whatever the time budget says */
#define BENCH_MAX_SAMPLES 100u  /* per side */
#define BENCH_BUDGET_NS   1.5e9 /* per benchmark, both sides together */
#define BENCH_SEED        0x5eedc0de2024ull
#define SOCKET_OPS        20000u /* round trips timed for socket_lookup */

/* The baseline's direct tables cover subjects 0..7 and details 0..31, which hold every
 * registered code of the embedded data; other codes take the out-of-range path. */
#define BASE_SUBJECTS 8u
#define BASE_DETAILS  32u
#define BASE_CLASSES  4u /* slots for classes 0, 2, 4 and 5 */

#if defined(__has_attribute)
#if __has_attribute(noipa)
/* As opaque to the optimiser as the library's functions are from here. */
#define BENCH_OPAQUE __attribute__((noipa))
#endif
#endif
#ifndef BENCH_OPAQUE
#define BENCH_OPAQUE __attribute__((noinline))
#endif

static const int8_t class_slot[6] = {0, -1, 1, -1, 2, 3};

static smtpstatus_entry table[BASE_CLASSES][BASE_SUBJECTS][BASE_DETAILS];
static smtpstatus_entry beyond_detail[BASE_CLASSES][BASE_SUBJECTS]; /* detail >= BASE_DETAILS */
static smtpstatus_entry beyond_subject[BASE_CLASSES];               /* subject >= BASE_SUBJECTS */

#define BASIC_SLOTS 400u
static smtpstatus_basic basic_table[BASIC_SLOTS];
static int basic_rc[BASIC_SLOTS];

static smtpstatus_code codes[BENCH_CODES];
static uint16_t basics[BENCH_CODES];

/* The baseline of smtpstatus_image_lookup(): same contract, answers precomputed. */
static BENCH_OPAQUE int
baseline_lookup(smtpstatus_code code, smtpstatus_entry *out)
{
    if (code.cls > 5 || class_slot[code.cls] < 0 || code.subject > 999 || code.detail > 999)
        return SMTPSTATUS_EINVAL;
    int k = class_slot[code.cls];
    if (code.subject < BASE_SUBJECTS && code.detail < BASE_DETAILS) {
        *out = table[k][code.subject][code.detail];
        return 0;
    }
    *out = code.subject < BASE_SUBJECTS ? beyond_detail[k][code.subject] : beyond_subject[k];
    out->code = code;
    return 0;
}

/* The baseline of smtpstatus_image_lookup_basic(). */
static BENCH_OPAQUE int
baseline_lookup_basic(uint16_t code, smtpstatus_basic *out)
{
    if (code < 200 || code > 599)
        return SMTPSTATUS_EBASIC;
    unsigned i = code - 200u;
    if (basic_rc[i] != 0)
        return basic_rc[i];
    *out = basic_table[i];
    return 0;
}

static uint64_t
rng_next(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
part_equal(const smtpstatus_part *a, const smtpstatus_part *b)
{
    return a->title == b->title && a->description == b->description &&
           a->reference == b->reference && a->submitter == b->submitter &&
           a->change_controller == b->change_controller && a->field_count == b->field_count &&
           a->fields_first_ == b->fields_first_;
}

static int
entry_equal(const smtpstatus_entry *a, const smtpstatus_entry *b)
{
    return a->code.cls == b->code.cls && a->code.subject == b->code.subject &&
           a->code.detail == b->code.detail && a->registered == b->registered &&
           a->subject_registered == b->subject_registered && part_equal(&a->cls, &b->cls) &&
           part_equal(&a->subject, &b->subject) && a->title == b->title &&
           a->description == b->description && a->reference == b->reference &&
           a->submitter == b->submitter && a->change_controller == b->change_controller &&
           a->basic_codes_raw == b->basic_codes_raw && a->basic_codes == b->basic_codes &&
           a->basic_code_count == b->basic_code_count && a->basic_classes == b->basic_classes &&
           a->assoc_flags == b->assoc_flags && a->flags == b->flags && a->line == b->line &&
           a->field_count == b->field_count && a->fields_first_ == b->fields_first_;
}

static int
basic_equal(const smtpstatus_basic *a, const smtpstatus_basic *b)
{
    return a->code == b->code && a->standard == b->standard && a->text == b->text &&
           a->reference == b->reference && a->assoc_count == b->assoc_count &&
           a->assoc_first_ == b->assoc_first_;
}

/* Fills the baseline tables from the image's own answers. Returns 0, or -1 if the image
 * refuses a valid code. */
static int
fill_baseline(const smtpstatus_image *img)
{
    static const uint8_t classes[BASE_CLASSES] = {0, 2, 4, 5};
    for (unsigned k = 0; k < BASE_CLASSES; k++) {
        for (uint16_t s = 0; s < BASE_SUBJECTS; s++) {
            for (uint16_t d = 0; d < BASE_DETAILS; d++)
                if (smtpstatus_image_lookup(img, (smtpstatus_code){classes[k], s, d},
                                            &table[k][s][d]) != 0)
                    return -1;
            if (smtpstatus_image_lookup(img, (smtpstatus_code){classes[k], s, 999},
                                        &beyond_detail[k][s]) != 0)
                return -1;
        }
        if (smtpstatus_image_lookup(img, (smtpstatus_code){classes[k], 999, 999},
                                    &beyond_subject[k]) != 0)
            return -1;
    }
    for (unsigned i = 0; i < BASIC_SLOTS; i++)
        basic_rc[i] = smtpstatus_image_lookup_basic(img, (uint16_t)(200 + i), &basic_table[i]);
    return 0;
}

/* Fills codes[] and basics[] with the fixed mix described at the top. Returns 0 or -1. */
static int
generate(const smtpstatus_image *img)
{
    static const uint8_t classes[] = {2, 4, 5};
    uint64_t rng = BENCH_SEED;
    uint32_t ncodes = smtpstatus_image_code_count(img);
    uint32_t nsubjects = smtpstatus_image_subject_count(img);
    uint32_t nbasics = smtpstatus_image_basic_count(img);
    if (ncodes == 0 || nsubjects == 0 || nbasics == 0)
        return -1;

    for (unsigned i = 0; i < BENCH_CODES; i++) {
        uint64_t r = rng_next(&rng);
        smtpstatus_code c = {classes[r % 3], 0, 0};
        smtpstatus_entry e;
        unsigned kind = (unsigned)(r >> 8) % 4; /* 0, 1: registered; 2: detail; 3: subject */
        if (kind < 2) {
            if (smtpstatus_image_code_at(img, (uint32_t)((r >> 16) % ncodes), &e) != 0)
                return -1;
            c.subject = e.code.subject;
            c.detail = e.code.detail;
        } else if (kind == 2) {
            smtpstatus_part p;
            if (smtpstatus_image_subject_at(img, (uint32_t)((r >> 16) % nsubjects), &c.subject,
                                            &p) != 0)
                return -1;
            do
                c.detail = (uint16_t)(rng_next(&rng) % 1000);
            while (smtpstatus_image_lookup(img, c, &e) != 0 || e.registered);
        } else {
            do
                c.subject = (uint16_t)(rng_next(&rng) % 1000);
            while (smtpstatus_image_lookup(img, c, &e) != 0 || e.subject_registered);
            c.detail = (uint16_t)(rng_next(&rng) % 1000);
        }
        codes[i] = c;

        uint64_t rb = rng_next(&rng);
        smtpstatus_basic b;
        if (rb % 2 == 0 && smtpstatus_image_basic_at(img, (uint32_t)((rb >> 8) % nbasics), &b) == 0)
            basics[i] = b.code;
        else
            basics[i] = (uint16_t)(200 + (rb >> 8) % 400);
    }
    return 0;
}

/* Checks that the baseline gives the image's answers for every benchmark code. */
static int
verify(const smtpstatus_image *img)
{
    for (unsigned i = 0; i < BENCH_CODES; i++) {
        smtpstatus_entry a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        int ra = smtpstatus_image_lookup(img, codes[i], &a);
        int rb = baseline_lookup(codes[i], &b);
        if (ra != rb || (ra == 0 && !entry_equal(&a, &b))) {
            fprintf(stderr, "bench_image_lookup: baseline differs for %u.%u.%u\n", codes[i].cls,
                    codes[i].subject, codes[i].detail);
            return -1;
        }
        smtpstatus_basic x, y;
        memset(&x, 0, sizeof x);
        memset(&y, 0, sizeof y);
        ra = smtpstatus_image_lookup_basic(img, basics[i], &x);
        rb = baseline_lookup_basic(basics[i], &y);
        if (ra != rb || (ra == 0 && !basic_equal(&x, &y))) {
            fprintf(stderr, "bench_image_lookup: basic baseline differs for %u\n", basics[i]);
            return -1;
        }
    }
    return 0;
}

/* The daemon's handle and the pin the shared_lookup side holds and refreshes. */
static smtpstatus *shared_handle;
static const smtpstatus_image *shared_pin;

/* One timed sample of either side; returns ns per lookup and adds to *sum. The image side is
 * `img`, or the daemon's shared image when shared_handle is set. */
static double
sample_lookup(const smtpstatus_image *img, int baseline, uint64_t *sum)
{
    smtpstatus_entry out;
    memset(&out, 0, sizeof out);
    uint64_t acc = 0;
    double t0 = now_ns();
    for (unsigned p = 0; p < BENCH_PASSES; p++) {
        for (unsigned i = 0; i < BENCH_CODES; i++) {
            int rc = baseline        ? baseline_lookup(codes[i], &out)
                     : shared_handle ? smtpstatus_shared_lookup(shared_handle, &shared_pin,
                                                                codes[i], &out)
                                     : smtpstatus_image_lookup(img, codes[i], &out);
            acc = acc * 31 + ((uintptr_t)out.title ^ (uintptr_t)out.subject.title ^
                              (uint64_t)out.registered ^ (uint64_t)(unsigned)rc);
        }
    }
    double t1 = now_ns();
    *sum += acc;
    return (t1 - t0) / ((double)BENCH_PASSES * BENCH_CODES);
}

static double
sample_basic(const smtpstatus_image *img, int baseline, uint64_t *sum)
{
    smtpstatus_basic out;
    memset(&out, 0, sizeof out);
    uint64_t acc = 0;
    double t0 = now_ns();
    for (unsigned p = 0; p < BENCH_PASSES; p++) {
        for (unsigned i = 0; i < BENCH_CODES; i++) {
            int rc = baseline ? baseline_lookup_basic(basics[i], &out)
                              : smtpstatus_image_lookup_basic(img, basics[i], &out);
            acc = acc * 31 +
                  ((uintptr_t)out.text ^ (uint64_t)out.assoc_count ^ (uint64_t)(unsigned)rc);
        }
    }
    double t1 = now_ns();
    *sum += acc;
    return (t1 - t0) / ((double)BENCH_PASSES * BENCH_CODES);
}

typedef double (*sample_fn)(const smtpstatus_image *img, int baseline, uint64_t *sum);

/*
 * Runs alternating samples of the image and the baseline, within BENCH_BUDGET_NS, prints the
 * JSON line and the checksums. Returns 0, or -1 when the two sides' checksums differ.
 */
static int
run(const char *name, sample_fn fn, const smtpstatus_image *img, double *best_out)
{
    uint64_t sum_img = 0, sum_base = 0, warm = 0;
    fn(img, 0, &warm);
    fn(img, 1, &warm);

    double best_img = 0, best_base = 0;
    unsigned samples = 0;
    double start = now_ns();
    while (samples < BENCH_MAX_SAMPLES &&
           (samples < BENCH_MIN_SAMPLES || now_ns() - start < BENCH_BUDGET_NS)) {
        /* Alternate which side goes first, so neither always follows the other. */
        int first = (int)(samples & 1u);
        double a = fn(img, first, first ? &sum_base : &sum_img);
        double b = fn(img, !first, first ? &sum_img : &sum_base);
        double t_img = first ? b : a, t_base = first ? a : b;
        if (samples == 0 || t_img < best_img)
            best_img = t_img;
        if (samples == 0 || t_base < best_base)
            best_base = t_base;
        samples++;
    }

    unsigned long long ops = (unsigned long long)samples * BENCH_PASSES * BENCH_CODES;
    printf("{\"bench\":\"%s\",\"ns_per_op\":%.3f,\"baseline\":\"static_array\","
           "\"baseline_ns_per_op\":%.3f,\"ratio\":%.3f,\"ops\":%llu}\n",
           name, best_img, best_base, best_base > 0 ? best_img / best_base : 0.0, ops);
    fflush(stdout);
    fprintf(stderr, "%s: %u samples per side; checksum image %016llx baseline %016llx\n", name,
            samples, (unsigned long long)sum_img, (unsigned long long)sum_base);
    if (best_out != NULL)
        *best_out = best_img;
    if (sum_img != sum_base) {
        fprintf(stderr, "%s: checksums differ: the two sides did not do the same work\n", name);
        return -1;
    }
    return 0;
}

/* ---- the daemon ----------------------------------------------------------------------------- */

static struct bench_daemon daemon_run;

static void
remove_daemon(void)
{
    bench_daemon_remove(&daemon_run);
}

/* Mean ns of one lookup asked of the daemon's socket, over SOCKET_OPS round trips. */
static double
socket_lookup_ns(smtpstatus *h, uint64_t *sum)
{
    char text[3][16];
    for (unsigned i = 0; i < 3; i++)
        smtpstatus_code_format(codes[i], text[i], sizeof text[i]);
    double t0 = now_ns();
    for (unsigned i = 0; i < SOCKET_OPS; i++) {
        const char *one[] = {text[i % 3]};
        smtpstatus_result *r = NULL;
        smtpstatus_entry e;
        if (smtpstatus_lookup(h, one, 1, &r) != 0 || smtpstatus_result_entry(r, 0, &e, NULL) != 0) {
            smtpstatus_result_free(r);
            return -1;
        }
        *sum += e.registered;
        smtpstatus_result_free(r);
    }
    return (now_ns() - t0) / SOCKET_OPS;
}

static int
run_shared(const char *daemon_path)
{
    atexit(remove_daemon);
    if (bench_daemon_start(&daemon_run, daemon_path, NULL, -1) != 0)
        return -1;
    smtpstatus_options so = {.rundir = daemon_run.rundir, .timeout_ms = 1000, .socket_only = 1};
    smtpstatus *sock;
    if (smtpstatus_open(&so, &sock) != 0) {
        fprintf(stderr, "bench_image_lookup: cannot open the socket of the daemon %s\n",
                daemon_path);
        return -1;
    }
    smtpstatus_options o = {.rundir = daemon_run.rundir};
    if (smtpstatus_open(&o, &shared_handle) != 0 ||
        smtpstatus_pin(shared_handle, &shared_pin) != 0) {
        fprintf(stderr, "bench_image_lookup: the daemon's shared image is not usable\n");
        return -1;
    }
    if (fill_baseline(shared_pin) != 0 || verify(shared_pin) != 0)
        return -1;
    double shared_ns = 0;
    int rc = run("shared_lookup", sample_lookup, shared_pin, &shared_ns);

    uint64_t sum = 0;
    socket_lookup_ns(sock, &sum); /* warm-up: connect, first answers */
    double socket_ns = socket_lookup_ns(sock, &sum);
    if (socket_ns < 0) {
        fprintf(stderr, "bench_image_lookup: a lookup over the socket failed\n");
        return -1;
    }
    printf("{\"bench\":\"shared_vs_socket\",\"ns_per_op\":%.3f,\"baseline\":\"socket_lookup\","
           "\"baseline_ns_per_op\":%.1f,\"ratio\":%.5f,\"speedup\":%.0f,\"socket_ops\":%u}\n",
           shared_ns, socket_ns, shared_ns / socket_ns, socket_ns / shared_ns, SOCKET_OPS);
    fprintf(stderr, "socket_lookup: %llu registered answers\n", (unsigned long long)sum);
    smtpstatus_client_status cs;
    smtpstatus_client_status_get(shared_handle, &cs);
    if (!cs.shared || cs.socket_calls != 0) {
        fprintf(stderr, "bench_image_lookup: the shared side did not answer from the image\n");
        rc = -1;
    }
    smtpstatus_unpin(shared_handle, shared_pin);
    smtpstatus_close(shared_handle);
    smtpstatus_close(sock);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: bench_image_lookup [PATH_TO_SMTPSTATUSD]\n");
        return 2;
    }
    const smtpstatus_image *img = smtpstatus_image_embedded();
    if (img == NULL) {
        fprintf(stderr, "bench_image_lookup: the embedded image is invalid\n");
        return 1;
    }
    if (fill_baseline(img) != 0 || generate(img) != 0) {
        fprintf(stderr, "bench_image_lookup: the embedded image refuses a valid code\n");
        return 1;
    }
    if (verify(img) != 0)
        return 1;
    int rc = 0;
    rc |= run("image_lookup", sample_lookup, img, NULL);
    rc |= run("image_lookup_basic", sample_basic, img, NULL);
    if (argc == 2)
        rc |= run_shared(argv[1]);
    return rc != 0 ? 1 : 0;
}
