/*
 * Our half of the side-by-side benchmark with Sisimai (issue 12): classifies every reply of the
 * hand-labelled development corpus tests/data/replies_reasons.tsv with the library and the
 * embedded image (its built-in reason rules, data/reasons.csv as it was at build time), and
 * prints how often both codes and the reason are the corpus's, and how long one classification
 * takes. It reads the corpus exactly as tests/bench/sisimai_reasons.pl does (lines starting with
 * '#' and empty lines skipped, eight TAB-separated columns, the escapes \r \n \t \\ and \xHH in
 * the reply) and times the same way (median of 5 runs over the whole corpus, each run about
 * 1.2 s), so that tests/bench/run-sisimai-bench.sh can put the two side by side.
 *
 * Usage: bench_reasons_corpus [--verbose] [--corpus FILE]
 * Prints on stdout:
 *   smtpstatus_codes_accuracy 0.xx    (basic and enhanced both exactly the corpus's)
 *   smtpstatus_reason_accuracy 0.xx
 *   smtpstatus_ns_per_reply NNNN      (median of 5 runs; smtpstatus_classify() of one reply)
 * With --verbose, every miss and a per-reason table go to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corpus_escape.h"
#include "smtpstatus.h"

#ifndef REASONS_CORPUS
#define REASONS_CORPUS "tests/data/replies_reasons.tsv"
#endif

#define COLUMNS 8
#define RUNS 5
#define RUN_NS 1.2e9
#define MAX_ROUNDS 100000L

struct reply_case {
    char *name;
    char *reply; /* unescaped; may hold NUL bytes */
    size_t len;
    unsigned basic;
    char *enhanced; /* as written in the corpus, or "-" */
    char *reason;
    unsigned line;
};

static volatile size_t sink;
static char text[SMTPSTATUS_CLASSIFY_MAX + 1];

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p == NULL) {
        fprintf(stderr, "bench_reasons_corpus: out of memory\n");
        exit(1);
    }
    memcpy(p, s, n + 1);
    return p;
}

/* Reads the corpus; exits with a message on a malformed line, as the Perl script dies. */
static struct reply_case *
read_corpus(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    struct reply_case *cases = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    unsigned lineno = 0;
    while ((got = getline(&line, &line_cap, f)) != -1) {
        lineno++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n') /* Perl's chomp */
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *field[COLUMNS];
        size_t flen[COLUMNS];
        size_t k = 0;
        char *p = line, *end = line + len;
        for (;;) {
            char *tab = memchr(p, '\t', (size_t)(end - p));
            if (k < COLUMNS) {
                field[k] = p;
                flen[k] = (size_t)((tab != NULL ? tab : end) - p);
            }
            k++;
            if (tab == NULL)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (k != COLUMNS) {
            fprintf(stderr, "%s:%u: expected %d columns, got %zu\n", path, lineno, COLUMNS, k);
            exit(1);
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 512;
            if ((cases = realloc(cases, cap * sizeof *cases)) == NULL) {
                fprintf(stderr, "bench_reasons_corpus: out of memory\n");
                exit(1);
            }
        }
        struct reply_case *c = &cases[n++];
        c->line = lineno;
        c->name = dup_str(field[0]);
        c->len = corpus_unescape(field[1], flen[1], NULL);
        if ((c->reply = malloc(c->len ? c->len : 1)) == NULL) {
            fprintf(stderr, "bench_reasons_corpus: out of memory\n");
            exit(1);
        }
        memcpy(c->reply, field[1], c->len);
        c->basic = (unsigned)strtoul(field[2], NULL, 10);
        c->enhanced = dup_str(field[3]);
        c->reason = dup_str(field[4]);
    }
    free(line);
    fclose(f);
    *count = n;
    return cases;
}

/* Nanoseconds per reply for `rounds` passes over the corpus. */
static double
time_rounds(const struct reply_case *cases, size_t n, long rounds)
{
    const smtpstatus_image *img = smtpstatus_image_embedded();
    double t0 = now_ns();
    for (long r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            smtpstatus_classification c;
            smtpstatus_classify(img, cases[i].reply, cases[i].len, &c, text, sizeof text);
            sink += c.basic + (size_t)c.reason;
        }
    return (now_ns() - t0) / ((double)rounds * (double)n);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    const char *path = REASONS_CORPUS;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--verbose] [--corpus FILE]\n", argv[0]);
            return 2;
        }
    }

    size_t n = 0;
    struct reply_case *cases = read_corpus(path, &n);
    if (n == 0) {
        fprintf(stderr, "%s: no cases\n", path);
        return 1;
    }

    const smtpstatus_image *img = smtpstatus_image_embedded();
    size_t codes_ok = 0, reason_ok = 0;
    size_t per_total[SMTPSTATUS_REASON_MAX + 2] = {0}, per_ok[SMTPSTATUS_REASON_MAX + 2] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct reply_case *k = &cases[i];
        smtpstatus_classification c;
        smtpstatus_classify(img, k->reply, k->len, &c, text, sizeof text);
        char enh[32] = "-";
        if (c.has_enhanced)
            snprintf(enh, sizeof enh, "%u.%u.%u", c.enhanced.cls, c.enhanced.subject,
                     c.enhanced.detail);
        const char *ours = smtpstatus_reason_name(c.reason);
        if (ours == NULL)
            ours = "?";
        int cok = c.basic == k->basic && strcmp(enh, k->enhanced) == 0;
        int rok = strcmp(ours, k->reason) == 0;
        codes_ok += cok;
        reason_ok += rok;
        /* Reasons the library does not know count in the last row. */
        unsigned want = smtpstatus_reason_from_name(k->reason, strlen(k->reason));
        unsigned row = want != 0 ? want : SMTPSTATUS_REASON_MAX + 1;
        per_total[row]++;
        per_ok[row] += rok;
        if (verbose && (!cok || !rok))
            fprintf(stderr, "miss %s (line %u): codes %u %s want %u %s; reason %s (rule %s) "
                    "want %s\n",
                    k->name, k->line, c.basic, enh, k->basic, k->enhanced, ours,
                    c.rule[0] != '\0' ? c.rule : "none", k->reason);
    }
    if (verbose) {
        fprintf(stderr, "%-17s %5s %5s %6s\n", "reason", "cases", "right", "share");
        for (unsigned r = 1; r <= SMTPSTATUS_REASON_MAX + 1; r++)
            if (per_total[r] > 0)
                fprintf(stderr, "%-17s %5zu %5zu %6.2f\n",
                        r <= SMTPSTATUS_REASON_MAX ? smtpstatus_reason_name(r) : "(unknown)",
                        per_total[r], per_ok[r], (double)per_ok[r] / (double)per_total[r]);
    }

    /* Speed, timed as the Perl script times Sisimai: rounds for about RUN_NS per run, then the
     * median of RUNS runs. */
    double probe = 0;
    for (long r = 1; r <= MAX_ROUNDS; r *= 2)
        if ((probe = time_rounds(cases, n, r)) * (double)r * (double)n >= RUN_NS / 20)
            break;
    long rounds = (long)(RUN_NS / (probe * (double)n));
    if (rounds < 1)
        rounds = 1;
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    double runs[RUNS];
    for (int r = 0; r < RUNS; r++)
        runs[r] = time_rounds(cases, n, rounds);
    qsort(runs, RUNS, sizeof runs[0], cmp_double);

    printf("smtpstatus_codes_accuracy %.2f\n", (double)codes_ok / (double)n);
    printf("smtpstatus_reason_accuracy %.2f\n", (double)reason_ok / (double)n);
    printf("smtpstatus_ns_per_reply %.0f\n", runs[RUNS / 2]);
    if (verbose)
        fprintf(stderr, "cases %zu, rounds per run %ld, runs (ns/reply) %.0f %.0f %.0f %.0f %.0f\n",
                n, rounds, runs[0], runs[1], runs[2], runs[3], runs[4]);

    for (size_t i = 0; i < n; i++) {
        free(cases[i].name);
        free(cases[i].reply);
        free(cases[i].enhanced);
        free(cases[i].reason);
    }
    free(cases);
    return 0;
}
