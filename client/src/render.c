/*
 * Reply rendering: a basic code, an enhanced code and text become the reply lines a server
 * sends (RFC 5321 4.2, RFC 2034) or the RFC 3464 DSN fields for the same status (see
 * smtpstatus_render() in smtpstatus.h).
 *
 * Nothing is allocated. The text is walked twice: a wrapper finds each output line as a range
 * of the caller's text that fits the width once cleaned (runs of blanks become one space,
 * controls become '?'), and an emitter copies that range, cleaning it the same way. Both agree
 * on lengths because cleaning never makes a range longer. The wrapper is a pure function of its
 * position, so the caller can look one line ahead to know which line is the last.
 */
#include <string.h>

#include "smtpstatus.h"
#include "utf8.h"

#define DSN_FOLD 78u /* RFC 5322 2.1.1: lines SHOULD be at most 78 characters */

/* ---- output ------------------------------------------------------------------------------ */

/* Writes into buf[0..size) and counts past it, as snprintf() does. */
struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void
put(struct out *o, const char *s, size_t n)
{
    if (o->len < o->size) {
        size_t room = o->size - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void
put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* ---- wrapping ------------------------------------------------------------------------------ */

static int
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int
is_break(unsigned char c)
{
    return c == '\r' || c == '\n';
}

struct wrap {
    const unsigned char *t;
    size_t n;
    size_t avail;    /* bytes of text a line may hold */
    size_t pos;      /* next byte to read */
    size_t line_end; /* end of the current logical line (a line of the caller's text) */
    int in_line;     /* a logical line is being wrapped */
    int produced;    /* the current logical line has produced an output line */
    size_t lines;    /* output lines so far */
    unsigned warnings;
};

/* Whether t[i..b) starts with a C1 control (U+0080..U+009F), which cleaning turns into '?'. */
static int
is_c1(const unsigned char *t, size_t i, size_t b)
{
    return t[i] == 0xC2 && i + 1 < b && t[i + 1] >= 0x80 && t[i + 1] <= 0x9F;
}

/* The cleaned length of the word at t[a..b): a C1 control is two bytes that become one '?', so
 * a word's cleaned length can be shorter than its byte length, never longer. */
static size_t
clean_len(const unsigned char *t, size_t a, size_t b)
{
    size_t n = 0;
    for (size_t i = a; i < b; i += is_c1(t, i, b) ? 2 : 1)
        n++;
    return n;
}

/* Where to split a word that starts at `a` and is longer than a line: as many bytes as fit,
 * backed off to a character boundary. The width check in smtpstatus_render() leaves room for
 * at least one whole character. */
static size_t
split_point(const unsigned char *t, size_t a, size_t avail)
{
    size_t cut = a + avail;
    while (cut > a + 1 && (t[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/*
 * Finds the next output line: the range t[*a..*b) (blank-trimmed; empty for an empty line).
 * Returns 1, or 0 when the text is done. Lines of the caller's text (ended by LF, CR or CRLF;
 * a final line break ends the text) are wrapped greedily at word boundaries.
 */
static int
wrap_next(struct wrap *w, size_t *a, size_t *b)
{
    const unsigned char *t = w->t;
    for (;;) {
        if (!w->in_line) {
            if (w->pos >= w->n && w->lines > 0)
                return 0;
            w->line_end = w->pos;
            while (w->line_end < w->n && !is_break(t[w->line_end]))
                w->line_end++;
            w->in_line = 1;
            w->produced = 0;
        }
        while (w->pos < w->line_end && is_blank(t[w->pos]))
            w->pos++;
        if (w->pos < w->line_end) {
            size_t start = w->pos, end = w->pos, used = 0;
            while (w->pos < w->line_end) {
                size_t ws = w->pos, we = ws;
                while (we < w->line_end && !is_blank(t[we]))
                    we++;
                size_t wl = clean_len(t, ws, we);
                if (used == 0 && wl > w->avail) {
                    end = split_point(t, ws, w->avail);
                    w->pos = end;
                    w->warnings |= SMTPSTATUS_WARN_SPLIT_WORD;
                    break;
                }
                if (used > 0 && used + 1 + wl > w->avail)
                    break;
                used += (used > 0) + wl;
                end = we;
                w->pos = we;
                while (w->pos < w->line_end && is_blank(t[w->pos]))
                    w->pos++;
            }
            *a = start;
            *b = end;
            w->produced = 1;
            w->lines++;
            return 1;
        }
        int empty_line = !w->produced;
        size_t at = w->pos;
        if (w->pos < w->n) /* consume the line break: CRLF, LF or CR */
            w->pos += (t[w->pos] == '\r' && w->pos + 1 < w->n && t[w->pos + 1] == '\n') ? 2 : 1;
        w->in_line = 0;
        if (empty_line) {
            *a = *b = at;
            w->lines++;
            return 1;
        }
    }
}

/*
 * Calls word(ctx, s, n) for each cleaned word of t[a..b): blanks separate words, C0 controls
 * and DEL become '?', C1 controls become '?', everything else is copied. Sets
 * SMTPSTATUS_WARN_REPLACED in *warnings when something was replaced.
 */
static void
for_each_word(const unsigned char *t, size_t a, size_t b, unsigned *warnings,
              void (*word)(void *ctx, const char *s, size_t n), void *ctx)
{
    char tmp[SMTPSTATUS_WIDTH_MAX];
    size_t i = a;
    while (i < b) {
        while (i < b && is_blank(t[i]))
            i++;
        size_t n = 0;
        while (i < b && !is_blank(t[i]) && n < sizeof tmp) {
            unsigned char c = t[i];
            if (c < 0x20 || c == 0x7F) {
                tmp[n++] = '?';
                *warnings |= SMTPSTATUS_WARN_REPLACED;
                i++;
            } else if (is_c1(t, i, b)) {
                tmp[n++] = '?';
                *warnings |= SMTPSTATUS_WARN_REPLACED;
                i += 2;
            } else {
                tmp[n++] = (char)c;
                i++;
            }
        }
        if (n > 0)
            word(ctx, tmp, n);
    }
}

/* ---- the two forms ------------------------------------------------------------------------ */

struct line_sink {
    struct out *o;
    int glue;   /* the next word follows without a space: it continues "550-" */
    size_t col; /* DSN: the current column, for folding */
};

static void
reply_word(void *ctx, const char *s, size_t n)
{
    struct line_sink *k = ctx;
    if (!k->glue)
        put(k->o, " ", 1);
    k->glue = 0;
    put(k->o, s, n);
}

static void
dsn_word(void *ctx, const char *s, size_t n)
{
    struct line_sink *k = ctx;
    if (k->glue) {
        k->glue = 0;
    } else if (k->col + 1 + n > DSN_FOLD) {
        put(k->o, "\r\n ", 3);
        k->col = 1;
    } else {
        put(k->o, " ", 1);
        k->col++;
    }
    put(k->o, s, n);
    k->col += n;
}

/* Whether t[0..n) starts with digits '.' digits, as "4.2.2" or "192.0.2.1" do. */
static int
starts_with_dotted_number(const unsigned char *t, size_t n)
{
    size_t i = 0;
    while (i < n && t[i] >= '0' && t[i] <= '9')
        i++;
    return i > 0 && i + 1 < n && t[i] == '.' && t[i + 1] >= '0' && t[i + 1] <= '9';
}

/* Whether a reader would take the start of t[0..n) for a code: a dotted number, or a basic
 * code before one ("550 5.1.1", read as a doubled code, as in "554 554 5.7.0"). The blanks
 * between them are any run, which the line holds as one space. */
static int
starts_code_like(const unsigned char *t, size_t n)
{
    if (starts_with_dotted_number(t, n))
        return 1;
    for (size_t i = 0; i < 3; i++)
        if (i >= n || t[i] < '0' || t[i] > '9')
            return 0;
    if (n > 4 && t[3] == '-')
        return starts_with_dotted_number(t + 4, n - 4);
    size_t i = 3;
    while (i < n && is_blank(t[i]))
        i++;
    return i > 3 && starts_with_dotted_number(t + i, n - i);
}

/*
 * Writes every line of the reply: "550-5.1.1 words" CRLF, ..., "550 5.1.1 words" CRLF (without
 * an enhanced code: "550-words"; a last line with nothing after the code: "550"). With `dsn`
 * the same lines become one folded Diagnostic-Code value.
 */
static void
emit_lines(struct wrap *w, const char *code3, const char *enh, struct out *o, int dsn,
           unsigned *warnings)
{
    void (*word)(void *, const char *, size_t) = dsn ? dsn_word : reply_word;
    struct line_sink k = {.o = o, .col = strlen("Diagnostic-Code: smtp;")};
    size_t a, b, na, nb;
    int have = wrap_next(w, &a, &b);
    while (have) {
        int more = wrap_next(w, &na, &nb);
        char prefix[4 + SMTPSTATUS_CODE_STRLEN];
        size_t el = strlen(enh);
        memcpy(prefix, code3, 3);
        prefix[3] = more ? '-' : ' ';
        memcpy(prefix + 4, enh, el);
        size_t pn = 4 + el;
        if (el == 0 && (a == b || !dsn))
            pn = a == b && !more ? 3 : 4;
        if (dsn) {
            dsn_word(&k, prefix, pn);
        } else {
            put(o, prefix, pn);
        }
        /* "550-" is followed by the first word directly; "550-5.1.1" by a space. */
        k.glue = el == 0 && pn == 4;
        if (el == 0 && starts_code_like(w->t + a, b - a))
            *warnings |= SMTPSTATUS_WARN_CODE_LIKE_TEXT;
        for_each_word(w->t, a, b, warnings, word, &k);
        k.glue = 0;
        if (!dsn)
            put(o, "\r\n", 2);
        a = na;
        b = nb;
        have = more;
    }
}

/* ---- validation --------------------------------------------------------------------------- */

static int
check_text(const unsigned char *t, size_t n, int smtputf8)
{
    for (size_t i = 0; i < n;) {
        if (t[i] < 0x80) {
            i++;
            continue;
        }
        if (!smtputf8)
            return SMTPSTATUS_ENONASCII;
        size_t l = smtpstatus__utf8_char(t + i, n - i);
        if (l == 0)
            return SMTPSTATUS_EUTF8;
        i += l;
    }
    return 0;
}

/* Whether the registry ties `basic` to the entry, exactly, by class or by "Any". */
static int
associated(const smtpstatus_entry *e, uint16_t basic)
{
    for (uint32_t i = 0; i < e->basic_code_count; i++)
        if (e->basic_codes[i] == basic)
            return 1;
    if (e->basic_classes & (1u << (basic / 100)))
        return 1;
    return (e->assoc_flags & SMTPSTATUS_ASSOC_ANY) != 0;
}

int
smtpstatus_render(const smtpstatus_image *img, uint16_t basic, const smtpstatus_code *enhanced,
                  const char *text, size_t text_len, const smtpstatus_render_options *opt,
                  char *buf, size_t size, size_t *len, unsigned *warnings)
{
    static const smtpstatus_render_options defaults = {0, 0, SMTPSTATUS_FORM_REPLY};
    unsigned warn = 0;
    if (opt == NULL)
        opt = &defaults;
    if (len == NULL || (buf == NULL && size > 0) || (text == NULL && text_len > 0) ||
        (opt->form != SMTPSTATUS_FORM_REPLY && opt->form != SMTPSTATUS_FORM_DSN))
        return SMTPSTATUS_EINVAL;
    if (img == NULL && (img = smtpstatus_image_embedded()) == NULL)
        return SMTPSTATUS_EINVAL;

    char code3[4] = {(char)('0' + basic / 100 % 10), (char)('0' + basic / 10 % 10),
                     (char)('0' + basic % 10), '\0'};
    uint16_t parsed;
    if (basic > 999 || smtpstatus_basic_parse(code3, 3, &parsed) != 0)
        return SMTPSTATUS_EBASIC;
    uint8_t cls = (uint8_t)(basic / 100);

    smtpstatus_code code = {0, 0, 0};
    smtpstatus_entry entry;
    char enh[SMTPSTATUS_CODE_STRLEN] = "";
    if (enhanced != NULL) {
        code = *enhanced;
        if (code.cls == 0)
            code.cls = cls;
        if (cls == 3)
            return SMTPSTATUS_E3YZ;
        if (code.cls != 2 && code.cls != 4 && code.cls != 5)
            return SMTPSTATUS_EINVAL;
        if (code.cls != cls)
            return SMTPSTATUS_ECLASSMISMATCH;
        int rc = smtpstatus_image_lookup(img, code, &entry);
        if (rc != 0)
            return rc;
        if (!entry.registered)
            warn |= SMTPSTATUS_WARN_UNREGISTERED;
        else if (!associated(&entry, basic))
            warn |= SMTPSTATUS_WARN_NOT_ASSOCIATED;
        smtpstatus_code_format(code, enh, sizeof enh);
    } else if (opt->form == SMTPSTATUS_FORM_DSN) {
        if (cls == 3)
            return SMTPSTATUS_E3YZ;
        code.cls = cls; /* DSN Status is required: class.0.0 */
    }

    if (text == NULL) {
        smtpstatus_basic b;
        if (enhanced != NULL && entry.registered && entry.title[0] != '\0')
            text = entry.title;
        else if (smtpstatus_image_lookup_basic(img, basic, &b) == 0)
            text = b.sample_text;
        else
            text = "";
        text_len = strlen(text);
    }
    int rc = check_text((const unsigned char *)text, text_len, opt->smtputf8);
    if (rc != 0)
        return rc;

    size_t width = opt->width ? opt->width : SMTPSTATUS_WIDTH_DEFAULT;
    size_t prefix = 4 + (enh[0] ? strlen(enh) + 1 : 0); /* "550-5.1.1 " or "550-" */
    size_t min_text = opt->smtputf8 ? 4 : 1;               /* one whole character */
    if (width > SMTPSTATUS_WIDTH_MAX || width < prefix + min_text)
        return SMTPSTATUS_EINVAL;

    /* A DSN carries the reply unwrapped; its header field is folded instead. */
    if (opt->form == SMTPSTATUS_FORM_DSN)
        width = SMTPSTATUS_WIDTH_MAX;
    struct wrap w = {.t = (const unsigned char *)text, .n = text_len, .avail = width - prefix};
    struct out o = {buf, size, 0};
    if (opt->form == SMTPSTATUS_FORM_REPLY) {
        emit_lines(&w, code3, enh, &o, 0, &warn);
    } else {
        static const char *const action[] = {[2] = "delivered", [4] = "delayed", [5] = "failed"};
        char status[SMTPSTATUS_CODE_STRLEN];
        smtpstatus_code_format(code, status, sizeof status);
        put_str(&o, "Status: ");
        put_str(&o, status);
        put_str(&o, "\r\nAction: ");
        put_str(&o, action[cls]);
        put_str(&o, "\r\nDiagnostic-Code: smtp;");
        emit_lines(&w, code3, enh, &o, 1, &warn);
        put_str(&o, "\r\n");
    }
    w.warnings |= warn;

    *len = o.len;
    if (warnings != NULL)
        *warnings = w.warnings;
    if (o.len >= size) {
        if (size > 0)
            buf[0] = '\0';
        return SMTPSTATUS_ENOSPC;
    }
    buf[o.len] = '\0';
    return 0;
}
