/*
 * The reason engine's reader side (see reason.h): reason names, the rules' one-pass matching,
 * and the retry decision that follows from the reason.
 *
 * A rule matches when its codes match the reply's and, if it has a pattern, the pattern occurs
 * in the text. The first matching rule in table order wins. Two kinds of rules are looked at
 * separately so that neither costs a walk over the whole table: rules with a pattern are found
 * by one Vectorscan scan, whose callback keeps the lowest-numbered one whose codes also match;
 * rules with codes only are kept in short lists by enhanced subject, built once per image, and
 * only the lists that can match are walked. The lower of the two winners decides.
 */
#include "reason.h"

#include <hs/hs_runtime.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image_internal.h"
#include "prefilter.h"

/* The built-in rules to fall back on are the embedded image's (smtpstatus_image_embedded(),
 * declared in smtpstatus.h). The reference is strong: a weak one would not pull embedded.o out
 * of the static library. The build-time image compiler, which links only the core and makes
 * the embedded image, defines its own that returns NULL (daemon/mkimage.c). */

static const char *const reason_names[SMTPSTATUS_REASON_MAX + 1] = {
    [SMTPSTATUS_REASON_SUCCESS] = "success",
    [SMTPSTATUS_REASON_INTERMEDIATE] = "intermediate",
    [SMTPSTATUS_REASON_BAD_MAILBOX] = "bad-mailbox",
    [SMTPSTATUS_REASON_MAILBOX_DISABLED] = "mailbox-disabled",
    [SMTPSTATUS_REASON_MAILBOX_FULL] = "mailbox-full",
    [SMTPSTATUS_REASON_MESSAGE_TOO_BIG] = "message-too-big",
    [SMTPSTATUS_REASON_BAD_SENDER] = "bad-sender",
    [SMTPSTATUS_REASON_POLICY] = "policy",
    [SMTPSTATUS_REASON_AUTH] = "auth",
    [SMTPSTATUS_REASON_ROUTING] = "routing",
    [SMTPSTATUS_REASON_RATE_LIMIT] = "rate-limit",
    [SMTPSTATUS_REASON_GREYLISTING] = "greylisting",
    [SMTPSTATUS_REASON_TLS_REQUIRED] = "tls-required",
    [SMTPSTATUS_REASON_PROTOCOL] = "protocol",
    [SMTPSTATUS_REASON_CONTENT] = "content",
    [SMTPSTATUS_REASON_SERVER_ERROR] = "server-error",
    [SMTPSTATUS_REASON_EXPIRED] = "expired",
    [SMTPSTATUS_REASON_OTHER] = "other",
};

const char *
smtpstatus_reason_name(smtpstatus_reason reason)
{
    if ((unsigned)reason < SMTPSTATUS_REASON_SUCCESS || (unsigned)reason > SMTPSTATUS_REASON_MAX)
        return NULL;
    return reason_names[reason];
}

smtpstatus_reason
smtpstatus_reason_from_name(const char *name, size_t len)
{
    if (name == NULL)
        return 0;
    for (unsigned r = SMTPSTATUS_REASON_SUCCESS; r <= SMTPSTATUS_REASON_MAX; r++)
        if (strlen(reason_names[r]) == len && memcmp(reason_names[r], name, len) == 0)
            return (smtpstatus_reason)r;
    return 0;
}

/* ---- the image's compiled rules --------------------------------------------------------------- */

/* Code-only rules by the enhanced subject they name: subjects 0 to 7 have a list each, the
 * rest share one; rules that name no enhanced code have their own. Lists hold rule numbers in
 * table order. */
#define SUBJECT_LISTS 8
enum { LIST_OTHER_SUBJECT = SUBJECT_LISTS, LIST_NO_ENHANCED, LIST_COUNT };

struct smtpstatus__rules_db {
    const hs_database_t *db; /* NULL when no rule has a pattern or the database is unusable
                                here; else in the image, or in `copy` */
    void *copy;              /* NULL, or copy_size bytes mapped by db_load(), unmapped by
                                db_unload() */
    size_t copy_size;
    /* Set once Vectorscan refused `db` when sizing a scratch space for it (its platform or CRC):
     * then it is not asked again, as each asking reads the whole database. */
    atomic_int refused;
    uint64_t id;       /* tells a thread's scratch space which database it was sized for */
    uint32_t *lists[LIST_COUNT];
    uint32_t list_len[LIST_COUNT];
    uint32_t storage[]; /* the lists' rule numbers */
};

static _Atomic uint64_t next_db_id = 1;

static int
rule_has_pattern(const struct smtpstatus_image_rule *r)
{
    return (r->flags & SMTPSTATUS_IMAGE_RULE_HAS_PATTERN) != 0;
}

static unsigned
list_of(const struct smtpstatus_image_rule *r)
{
    if (!(r->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED))
        return LIST_NO_ENHANCED;
    return r->subject < SUBJECT_LISTS ? r->subject : LIST_OTHER_SUBJECT;
}

/* Vectorscan 5.4's database header (its src/database.h; the version that hs_database_size()
 * compares pins this layout): the bytecode's offset from the header is a u32 at byte 36, and
 * hs_deserialize_database_at() sets it to 64 at a 64-byte aligned address. Vectorscan reads it
 * without a bound (its CRC check and every scan start there), so in an image, where nothing
 * computed it, it is compared before anything else is. */
#define HS_DB_BYTECODE_FIELD 36u
#define HS_DB_BYTECODE_AT    64u

/* Whether db[0..len), at a 64-byte aligned address, is a database of this library's Vectorscan
 * whose bytecode lies inside it. */
static int
db_usable(const unsigned char *db, size_t len)
{
    size_t size = 0;
    uint32_t bytecode;
    if (len < HS_DB_BYTECODE_AT ||
        hs_database_size((const hs_database_t *)(const void *)db, &size) != HS_SUCCESS ||
        size != len)
        return 0;
    memcpy(&bytecode, db + HS_DB_BYTECODE_FIELD, sizeof bytecode);
    return bytecode == HS_DB_BYTECODE_AT;
}

/*
 * Points c->db at the image's database, bytes[0..len) (see smtpstatus_image.h), or leaves it
 * NULL when this library cannot use it (another Vectorscan version or CPU, or damaged).
 *
 * An image that starts on a 64-byte boundary (a mapping, or the embedded array) holds the
 * database ready to scan: it is used in place, with no copy, and Vectorscan reads only the pages
 * a scan needs. Deserializing a copy was most of the cost of a one-shot `smtpstatus classify`
 * (tests/bench/bench_cli_startup.c). Here the header is checked (db_usable()); Vectorscan checks
 * the platform and the bytecode's CRC when the first scratch space is sized for it. What the
 * bytecode says is run as it is: smtpstatus_image_open() tells its callers to classify only
 * with images from a writer they trust. An image the caller put at another boundary
 * (smtpstatus_image_open() asks for 8 bytes) gets a read-only copy at an aligned address, where
 * the same bytes are the same database.
 */
static void
db_load(struct smtpstatus__rules_db *c, const char *bytes, size_t len)
{
    if ((uintptr_t)bytes % SMTPSTATUS_IMAGE_DB_ALIGN == 0) {
        if (db_usable((const unsigned char *)bytes, len))
            c->db = (const hs_database_t *)(const void *)bytes;
        return;
    }
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return;
    memcpy(mem, bytes, len);
    if (mprotect(mem, len, PROT_READ) != 0 || !db_usable(mem, len)) {
        munmap(mem, len);
        return;
    }
    c->db = mem;
    c->copy = mem;
    c->copy_size = len;
}

/* Unmaps the copy db_load() made, if any. */
static void
db_unload(struct smtpstatus__rules_db *c)
{
    if (c->copy != NULL)
        munmap(c->copy, c->copy_size);
}

/* Builds img's rules database, or returns NULL on ENOMEM. A database this library cannot load
 * (made for another CPU or Vectorscan version, or damaged) leaves the patterns unmatched: the
 * code-only rules still decide. */
static struct smtpstatus__rules_db *
rules_db_build(const smtpstatus_image *img)
{
    const struct smtpstatus_image_header *h = img->hdr;
    uint32_t code_only = 0;
    for (uint32_t i = 0; i < h->rule_count; i++)
        code_only += !rule_has_pattern(&img->rules[i]);
    struct smtpstatus__rules_db *c = calloc(1, sizeof *c + code_only * sizeof(uint32_t));
    if (c == NULL)
        return NULL;
    c->id = atomic_fetch_add_explicit(&next_db_id, 1, memory_order_relaxed);
    atomic_init(&c->refused, 0);
    for (uint32_t i = 0; i < h->rule_count; i++)
        if (!rule_has_pattern(&img->rules[i]))
            c->list_len[list_of(&img->rules[i])]++;
    uint32_t *p = c->storage;
    for (unsigned l = 0; l < LIST_COUNT; l++) {
        c->lists[l] = p;
        p += c->list_len[l];
        c->list_len[l] = 0;
    }
    for (uint32_t i = 0; i < h->rule_count; i++) {
        unsigned l = list_of(&img->rules[i]);
        if (!rule_has_pattern(&img->rules[i]))
            c->lists[l][c->list_len[l]++] = i;
    }
    if (h->rules_db_size > 0)
        db_load(c, (const char *)img->base + h->rules_db_off, h->rules_db_size);
    return c;
}

/* img's rules database, built on first use. Racing threads each build one; the first to
 * publish wins and the others free theirs. */
static struct smtpstatus__rules_db *
rules_db_get(const smtpstatus_image *img)
{
    struct smtpstatus_image *m = (struct smtpstatus_image *)img;
    /* Pairs with the release of the compare-exchange below. */
    struct smtpstatus__rules_db *c = atomic_load_explicit(&m->rules_db, memory_order_acquire);
    if (c != NULL)
        return c;
    struct smtpstatus__rules_db *fresh = rules_db_build(img);
    if (fresh == NULL)
        return NULL;
    if (atomic_compare_exchange_strong_explicit(&m->rules_db, &c, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    db_unload(fresh);
    free(fresh);
    return c;
}

void
smtpstatus__reason_release(smtpstatus_image *img)
{
    struct smtpstatus__rules_db *c =
        atomic_exchange_explicit(&img->rules_db, NULL, memory_order_acquire);
    if (c == NULL)
        return;
    db_unload(c);
    free(c);
}

/* ---- each thread's scratch space ------------------------------------------------------------ */

struct thread_scratch {
    hs_scratch_t *scratch;
    uint64_t db_id; /* the database the scratch was last sized for */
};

static pthread_key_t scratch_key;
static int scratch_key_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local struct thread_scratch *thread_scratch;

static void
scratch_free(void *p)
{
    struct thread_scratch *t = p;
    hs_free_scratch(t->scratch);
    free(t);
}

static void
scratch_key_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

/* This thread's scratch space, big enough for c's database; NULL on ENOMEM or when Vectorscan
 * refuses the database. */
static hs_scratch_t *
scratch_for(struct smtpstatus__rules_db *c)
{
    /* Relaxed: the flag guards no other data, and a thread that misses it only asks again. */
    if (atomic_load_explicit(&c->refused, memory_order_relaxed))
        return NULL;
    struct thread_scratch *t = thread_scratch;
    if (t == NULL) {
        pthread_once(&scratch_once, scratch_key_init);
        if (!scratch_key_ok || (t = calloc(1, sizeof *t)) == NULL)
            return NULL;
        if (pthread_setspecific(scratch_key, t) != 0) {
            free(t);
            return NULL;
        }
        thread_scratch = t;
    }
    if (t->db_id != c->id) {
        /* On failure hs_alloc_scratch() may have freed the old scratch: size it again next
         * time rather than trust it. */
        t->db_id = 0;
        hs_error_t e = hs_alloc_scratch(c->db, &t->scratch);
        if (e != HS_SUCCESS) {
            if (e != HS_NOMEM)
                atomic_store_explicit(&c->refused, 1, memory_order_relaxed);
            return NULL;
        }
        t->db_id = c->id;
    }
    return t->scratch;
}

/* ---- matching ------------------------------------------------------------------------------- */

static int
codes_match(const struct smtpstatus_image_rule *r, const smtpstatus_classification *cls)
{
    /* "5XX" is the reply's class: the enhanced code's when a client stripped the basic code. */
    unsigned reply_class = cls->basic != 0 ? cls->basic / 100u
                                           : (cls->has_enhanced ? cls->enhanced.cls : 0u);
    if (r->basic != SMTPSTATUS_IMAGE_ANY) {
        if (cls->basic != r->basic)
            return 0;
    } else if (r->basic_class != 0 && reply_class != r->basic_class) {
        return 0;
    }
    if (r->flags & SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED) {
        if (!cls->has_enhanced || cls->enhanced.subject != r->subject)
            return 0;
        if (r->enhanced_class != 0 && cls->enhanced.cls != r->enhanced_class)
            return 0;
        if (r->detail != SMTPSTATUS_IMAGE_ANY && cls->enhanced.detail != r->detail)
            return 0;
    }
    return 1;
}

/* A failure's reason never comes from a rule that says success or intermediate. */
static int
rule_applies(const struct smtpstatus_image_rule *r, const smtpstatus_classification *cls)
{
    return r->reason > SMTPSTATUS_REASON_INTERMEDIATE && codes_match(r, cls);
}

struct scan_ctx {
    const struct smtpstatus_image_rule *rules;
    uint32_t rule_count;
    const smtpstatus_classification *cls;
    uint32_t best; /* lowest matching rule number so far, or UINT32_MAX */
};

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
         void *ctx)
{
    (void)from, (void)to, (void)flags;
    struct scan_ctx *s = ctx;
    if (id < s->best && id < s->rule_count && rule_applies(&s->rules[id], s->cls))
        s->best = id;
    return s->best == 0; /* nothing can beat rule 0: stop */
}

/* The first code-only rule of list l that applies, or UINT32_MAX. */
static uint32_t
first_in_list(const smtpstatus_image *img, const struct smtpstatus__rules_db *c, unsigned l,
              const smtpstatus_classification *cls)
{
    for (uint32_t k = 0; k < c->list_len[l]; k++)
        if (rule_applies(&img->rules[c->lists[l][k]], cls))
            return c->lists[l][k];
    return UINT32_MAX;
}

static uint32_t
min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* The first code-only rule that applies to cls, restricted to rules that name an enhanced code
 * when enhanced_only, or UINT32_MAX. */
static uint32_t
first_code_rule(const smtpstatus_image *img, const struct smtpstatus__rules_db *c,
                const smtpstatus_classification *cls, int enhanced_only)
{
    uint32_t best = enhanced_only ? UINT32_MAX : first_in_list(img, c, LIST_NO_ENHANCED, cls);
    if (cls->has_enhanced) {
        unsigned l = cls->enhanced.subject < SUBJECT_LISTS ? cls->enhanced.subject
                                                           : LIST_OTHER_SUBJECT;
        best = min_u32(best, first_in_list(img, c, l, cls));
    }
    return best;
}

/* ---- the decision --------------------------------------------------------------------------- */

/* Reasons that ask for a later retry even when the reply is permanent: the receiver refused
 * this message now, not the address or the content. */
static int
reason_is_transient(smtpstatus_reason r)
{
    return r == SMTPSTATUS_REASON_RATE_LIMIT || r == SMTPSTATUS_REASON_GREYLISTING;
}

static void
decide_retry(smtpstatus_classification *out, const struct smtpstatus_image_rule *rule)
{
    int by_code = out->retry;
    unsigned cls = out->basic != 0 ? out->basic / 100u
                                   : (out->has_enhanced ? out->enhanced.cls : 0u);
    int retry = by_code;
    if (rule != NULL && rule->retry == SMTPSTATUS_IMAGE_RETRY_YES)
        retry = 1;
    else if (rule != NULL && rule->retry == SMTPSTATUS_IMAGE_RETRY_NO)
        retry = 0;
    else if (reason_is_transient(out->reason) && cls != 2 && cls != 3)
        retry = 1;
    else if (cls == 0)
        retry = out->reason == SMTPSTATUS_REASON_SERVER_ERROR;
    if (cls == 2 || cls == 3)
        retry = 0;
    if (retry != by_code)
        out->problems |= SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS;
    out->retry = retry;
    out->recipient_invalid =
        out->reason == SMTPSTATUS_REASON_BAD_MAILBOX && cls == 5 && !retry;
}

void
smtpstatus__reason_decide(const smtpstatus_image *img, smtpstatus_classification *out,
                          const char *text, size_t len)
{
    out->rule = "";
    out->rule_note = "";

    unsigned cls = out->basic != 0 ? out->basic / 100u
                                   : (out->has_enhanced ? out->enhanced.cls : 0u);
    if (cls == 2 || cls == 3) {
        out->reason = cls == 2 ? SMTPSTATUS_REASON_SUCCESS : SMTPSTATUS_REASON_INTERMEDIATE;
        out->retry = 0;
        return;
    }
    out->reason = SMTPSTATUS_REASON_OTHER;
    out->retry_after = smtpstatus__retry_after(text, len);

    if (img == NULL || img->hdr->rule_count == 0)
        img = smtpstatus_image_embedded(); /* NULL only inside smtpstatus-mkimage */
    struct smtpstatus__rules_db *c = img != NULL ? rules_db_get(img) : NULL;
    if (c == NULL) {
        decide_retry(out, NULL);
        return;
    }

    uint32_t best = first_code_rule(img, c, out, 0);
    /* The prefilter first: a text it clears costs no scratch space and no read of the
     * database, most of a one-shot classification's time (tests/bench/bench_cli_startup.c). */
    int may_match = c->db != NULL && best > 0 && len > 0 &&
                    (img->prefilter == NULL ||
                     smtpstatus__prefilter_may_match(img->prefilter, text, len));
    hs_scratch_t *scratch = may_match ? scratch_for(c) : NULL;
    if (scratch != NULL) {
        struct scan_ctx s = {img->rules, img->hdr->rule_count, out, best};
        if (len > UINT32_MAX)
            len = UINT32_MAX;
        hs_error_t e = hs_scan(c->db, text, (unsigned int)len, 0, scratch, on_match, &s);
        if (e == HS_SUCCESS || e == HS_SCAN_TERMINATED)
            best = s.best;
    }
    if (best == UINT32_MAX) {
        decide_retry(out, NULL);
        return;
    }

    const struct smtpstatus_image_rule *rule = &img->rules[best];
    out->reason = (smtpstatus_reason)rule->reason;
    out->rule = img->strings + rule->name.off;
    out->rule_note = img->strings + rule->note.off;
    if (rule->flags & SMTPSTATUS_IMAGE_RULE_HAS_STATUS) {
        out->has_status = 1;
        out->status.cls = rule->status_class;
        out->status.subject = rule->status_subject;
        out->status.detail = rule->status_detail;
    }
    if (rule_has_pattern(rule) && out->has_enhanced) {
        uint32_t by_code = first_code_rule(img, c, out, 1);
        if (by_code != UINT32_MAX && img->rules[by_code].reason != rule->reason)
            out->problems |= SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE;
    }
    decide_retry(out, rule);
}

/* ---- retry-after ---------------------------------------------------------------------------- */

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Whether the word that starts at t[i..n) is `w`, whole (no letter follows it). */
static int
word_at(const char *t, size_t n, size_t i, const char *w)
{
    size_t k = 0;
    for (; w[k] != '\0'; k++)
        if (i + k >= n || lower((unsigned char)t[i + k]) != w[k])
            return 0;
    return i + k >= n || lower((unsigned char)t[i + k]) < 'a' || lower((unsigned char)t[i + k]) > 'z';
}

/* Seconds per unit for the unit word at t[i..n), or 0. */
static uint32_t
unit_at(const char *t, size_t n, size_t i)
{
    static const struct {
        const char *word;
        uint32_t seconds;
    } units[] = {
        {"seconds", 1}, {"second", 1},   {"secs", 1},   {"sec", 1},    {"s", 1},
        {"minutes", 60}, {"minute", 60}, {"mins", 60},  {"min", 60},   {"m", 60},
        {"hours", 3600}, {"hour", 3600}, {"hrs", 3600}, {"hr", 3600},  {"h", 3600},
        {"days", 86400}, {"day", 86400},
    };
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (word_at(t, n, i, units[u].word))
            return units[u].seconds;
    return 0;
}

/* Whether a word asking for a retry ("again", "retry", "later", "wait", "back") stands in the
 * `window` bytes before t[i], on the same line. */
static int
retry_word_before(const char *t, size_t i, size_t window)
{
    static const char *const words[] = {"again", "retry", "later", "wait", "back", "deferred"};
    size_t start = i > window ? i - window : 0;
    for (size_t k = i; k > start; k--)
        if (t[k - 1] == '\n')
            start = k;
    for (size_t k = start; k < i; k++) {
        if (k > 0 && lower((unsigned char)t[k - 1]) >= 'a' && lower((unsigned char)t[k - 1]) <= 'z')
            continue;
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
            if (word_at(t, i, k, words[w]))
                return 1;
    }
    return 0;
}

#define RETRY_AFTER_MAX (30u * 86400u)
#define RETRY_WORD_WINDOW 48

static int
is_letter(char c)
{
    int l = lower((unsigned char)c);
    return l >= 'a' && l <= 'z';
}

/* Whether the word just before t[i] (blanks skipped) is `w`, whole. */
static int
word_before(const char *t, size_t i, const char *w)
{
    while (i > 0 && t[i - 1] == ' ')
        i--;
    size_t n = strlen(w);
    if (i < n || (i > n && is_letter(t[i - n - 1])))
        return 0;
    return word_at(t, i, i - n, w);
}

/*
 * Finds "in N unit", "after N unit", "for N unit" with a retry word shortly before, or
 * "wait N unit". Driven by the digits, which are rare in reply text, so that a reply without
 * any costs one pass of byte compares.
 */
uint32_t
smtpstatus__retry_after(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9' || (i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9'))
            continue;
        size_t j = i;
        uint64_t num = 0;
        while (j < n && t[j] >= '0' && t[j] <= '9' && j - i < 8)
            num = num * 10 + (uint64_t)(t[j++] - '0');
        if (num == 0 || (j < n && t[j] >= '0' && t[j] <= '9'))
            continue;
        while (j < n && t[j] == ' ')
            j++;
        uint32_t unit = unit_at(t, n, j);
        if (unit == 0)
            continue;
        int waits = word_before(t, i, "wait");
        if (!waits && !word_before(t, i, "in") && !word_before(t, i, "after") &&
            !word_before(t, i, "for"))
            continue;
        if (!waits && !retry_word_before(t, i, RETRY_WORD_WINDOW))
            continue;
        uint64_t s = num * unit;
        return s > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (uint32_t)s;
    }
    return 0;
}
