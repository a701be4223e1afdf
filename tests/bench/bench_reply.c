/*
 * Benchmark of reply rendering and classification, each against an in-process floor measured
 * in the same run:
 *   render   - smtpstatus_render() of "550 5.1.1 <sample text>" (one line, text from the
 *              registry) against snprintf() of the same line from a string already in hand;
 *   render_wrapped - a 430-byte text wrapped at 76 octets into 7 lines, against snprintf() of
 *              the same 7 lines already cut;
 *   classify - smtpstatus_classify() of a 3-line Gmail-style reply against sscanf() pulling the
 *              basic and enhanced codes out of its first line.
 * Each prints one JSON object per line on stdout: ns_per_op, ops_per_sec, the baseline's
 * ns_per_op and the ratio (ours / baseline). The best of several samples counts; the whole run
 * takes a few seconds.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smtpstatus.h"

#define SAMPLES 15
#define OPS_PER_SAMPLE 20000

static volatile size_t sink;

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef void (*op_fn)(void);

/* The best ns/op of SAMPLES samples of OPS_PER_SAMPLE calls. */
static double
measure(op_fn op)
{
    double best = 1e30;
    for (int s = 0; s < SAMPLES; s++) {
        double t0 = now_ns();
        for (int i = 0; i < OPS_PER_SAMPLE; i++)
            op();
        double ns = (now_ns() - t0) / OPS_PER_SAMPLE;
        if (ns < best)
            best = ns;
    }
    return best;
}

static char out[4096];
static const smtpstatus_code c511 = {5, 1, 1};
static const char *sample_text;
static const char long_text[] =
    "The message could not be delivered because the recipient's mailbox does not exist at "
    "this site; please check the spelling of the address, and if the problem persists contact "
    "the postmaster of the receiving domain, who can be reached at postmaster@example.org "
    "during office hours, Monday to Friday, or by telephone on the number listed on our web "
    "site at https://example.org/postmaster which also explains our policy.";
static char cut_lines[16][128];
static int cut_count;
static const char gmail[] =
    "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\r\n"
    "550-5.7.26 sender and Gmail users, and has been blocked. The sender must\r\n"
    "550 5.7.26 authenticate with at least one of SPF or DKIM. 4si1234567abc.12 - gsmtp\r\n";

static void
op_render(void)
{
    size_t len;
    smtpstatus_render(NULL, 550, &c511, NULL, 0, NULL, out, sizeof out, &len, NULL);
    sink += len;
}

static void
op_render_floor(void)
{
    sink += (size_t)snprintf(out, sizeof out, "%u %s %s\r\n", 550u, "5.1.1", sample_text);
}

static void
op_render_wrapped(void)
{
    size_t len;
    smtpstatus_render(NULL, 550, &c511, long_text, sizeof long_text - 1, NULL, out, sizeof out,
                      &len, NULL);
    sink += len;
}

static void
op_render_wrapped_floor(void)
{
    size_t len = 0;
    for (int i = 0; i < cut_count; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%u%c%s %s\r\n", 550u,
                                i + 1 < cut_count ? '-' : ' ', "5.1.1", cut_lines[i]);
    sink += len;
}

static void
op_classify(void)
{
    smtpstatus_classification c;
    smtpstatus_classify(smtpstatus_image_embedded(), gmail, sizeof gmail - 1, &c, out,
                        sizeof out);
    sink += c.basic + c.text_len;
}

static void
op_classify_floor(void)
{
    unsigned basic, cls, subject, detail;
    char sep;
    if (sscanf(gmail, "%3u%c%u.%u.%u", &basic, &sep, &cls, &subject, &detail) == 5)
        sink += basic + detail;
}

static void
report(const char *name, const char *baseline, double ns, double base_ns)
{
    printf("{\"bench\":\"%s\",\"ns_per_op\":%.1f,\"ops_per_sec\":%.0f,\"baseline\":\"%s\","
           "\"baseline_ns_per_op\":%.1f,\"ratio\":%.2f}\n",
           name, ns, 1e9 / ns, baseline, base_ns, ns / base_ns);
}

int
main(void)
{
    smtpstatus_entry e;
    if (smtpstatus_image_lookup(smtpstatus_image_embedded(), c511, &e) != 0)
        return 1;
    sample_text = e.title;

    /* The floor of the wrapped case gets the very lines the library produces, already cut. */
    size_t len;
    smtpstatus_render(NULL, 550, &c511, long_text, sizeof long_text - 1, NULL, out, sizeof out,
                      &len, NULL);
    for (const char *p = out; *p && cut_count < 16; cut_count++) {
        const char *eol = strstr(p, "\r\n");
        snprintf(cut_lines[cut_count], sizeof cut_lines[0], "%.*s", (int)(eol - p - 10), p + 10);
        p = eol + 2;
    }

    double a = measure(op_render), b = measure(op_render_floor);
    report("render", "snprintf_line", a, b);
    a = measure(op_render_wrapped);
    b = measure(op_render_wrapped_floor);
    report("render_wrapped", "snprintf_cut_lines", a, b);
    a = measure(op_classify);
    b = measure(op_classify_floor);
    report("classify", "sscanf_first_line", a, b);
    fprintf(stderr, "sink %zu\n", (size_t)sink);
    return 0;
}
