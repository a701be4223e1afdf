/*
 * The reply classifier: it reads an SMTP reply as a client received it, one line or many, CRLF
 * or LF, possibly cut off or damaged, and says what it means (the basic and enhanced codes, the
 * kind, whether to retry, the registry's entry) and everything that is wrong with it, as
 * SMTPSTATUS_PROBLEM_* bits. Mail software calls it on the replies it logs and bounces, which
 * come from every kind of server, so it takes the enhanced code where servers actually put it
 * (after the basic code, as RFC 2034 says, or as "#5.1.1" or "(#5.1.1)" in the text, as qmail
 * and others write it) and never takes one it did not see: an address such as 192.0.2.1 in
 * the code's place is reported, not read as 2.0.2. The code grammar is code.c's, so that one
 * parser decides what a code is. The text it hands back is always valid UTF-8 with no control
 * character but TAB and LF: C0 controls and DEL become '?', as does a C1 control (U+0080 to
 * U+009F, which render also treats as a control), one '?' for its two bytes; bytes that are not
 * well-formed UTF-8 (utf8.h: stray continuation bytes, overlong forms, surrogates, truncated
 * sequences, anything above U+10FFFF) become one '?' per offending byte, so "\xe2\x82" cut off
 * at the end of a line gives "??". One pass over the input, no allocation, no state.
 */
#include "smtpstatus.h"

#include <string.h>

#include "utf8.h"

/* What was found while reading the reply, line after line. */
struct scan {
    smtpstatus_classification *out;
    char *text; /* the caller's buffer, text_size bytes, NULL when 0 */
    size_t text_size;
    size_t stored; /* bytes of text stored; less than out->text_len once the buffer is full */
    int full;      /* a character did not fit whole: nothing more is stored after it */
    unsigned prefixed_with; /* lines with a basic code, with the enhanced code after it */
    unsigned prefixed_bare; /* lines with a basic code, without one */
    int last_continues;     /* the last line read was "NNN-" */
};

/* Our own test rather than isdigit(), whose answer depends on the locale. */
static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* NUL, the other C0 controls but TAB, and DEL: nothing a reply's text should carry. */
static int
is_bad_ascii(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
code_equal(smtpstatus_code a, smtpstatus_code b)
{
    return a.cls == b.cls && a.subject == b.subject && a.detail == b.detail;
}

/* Appends one byte of text. Counts every byte, stores those that fit with room for the NUL. */
static void
text_put(struct scan *sc, char c)
{
    if (!sc->full && sc->text_size > 0 && sc->stored < sc->text_size - 1)
        sc->text[sc->stored++] = c;
    sc->out->text_len++;
}

/*
 * Appends s[0..n) to the text, cleaned as the file comment says: a well-formed character other
 * than a control is copied, and each C0 control but TAB, DEL, C1 control or byte of an
 * ill-formed sequence becomes '?' and sets SMTPSTATUS_PROBLEM_BAD_CHARACTER. Reads no byte at or
 * past s[n], so a sequence cut off by the line's end is ill-formed.
 */
static void
text_put_clean(struct scan *sc, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < n;) {
        size_t l = u[i] < 0x80 ? 1 : smtpstatus__utf8_char(u + i, n - i);
        int bad = l == 0 || (l == 1 && is_bad_ascii(u[i])) ||
                  (l == 2 && u[i] == 0xC2 && u[i + 1] <= 0x9F);
        if (bad) {
            sc->out->problems |= SMTPSTATUS_PROBLEM_BAD_CHARACTER;
            text_put(sc, '?');
            i += l > 0 ? l : 1;
            continue;
        }
        /* A character that does not fit whole is not begun: the text stays well-formed. */
        if (sc->text_size > 0 && sc->stored + l > sc->text_size - 1)
            sc->full = 1;
        for (size_t k = 0; k < l; k++)
            text_put(sc, s[i + k]);
        i += l;
    }
}

/*
 * Whether s[0..n), a run of digits and dots, is a dotted number of four or more parts, as an
 * IPv4 address is. Dots at the end are left out, since "listed: 192.0.2.1." ends a sentence.
 */
static int
is_dotted_number(const char *s, size_t n)
{
    unsigned parts = 1;

    while (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || !is_digit(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] != '.')
            continue;
        if (s[i - 1] == '.')
            return 0;
        parts++;
    }
    return parts >= 4;
}

/*
 * Reads the code-like token at s[0..len): the longest run of digits and dots. Returns 1 and sets
 * *code when the whole run is an enhanced code (smtpstatus_code_parse(), no "X" class), else 0.
 * A dotted number of four or more parts (192.0.2.1, 5.1.1.1) is an address, or at any rate not
 * a code, and sets SMTPSTATUS_PROBLEM_IP_NOT_CODE: callers only ask where a code could stand.
 * *used gets the run's length, so that the caller can check what follows it.
 */
static int
take_code(const char *s, size_t len, size_t *used, smtpstatus_code *code, unsigned *problems)
{
    size_t n = 0;

    while (n < len && (is_digit(s[n]) || s[n] == '.'))
        n++;
    *used = n;
    if (n == 0)
        return 0;
    if (is_dotted_number(s, n)) {
        *problems |= SMTPSTATUS_PROBLEM_IP_NOT_CODE;
        return 0;
    }
    return smtpstatus_code_parse(s, n, 0, code, NULL) == 0;
}

/*
 * Looks for "#C.S.D" in s[0..len), the form qmail ("(#5.1.1)") and others write in the text,
 * and returns 1 with the first one in *code. The '#' bounds the code on the left and the
 * longest-run rule of take_code() on the right, so "#5.1.10" is never read as 5.1.1 and
 * "#5.1.1.2" is no code. Linear in len: the runs after two '#' never overlap, since '#' is
 * neither a digit nor a dot.
 */
static int
find_hash_code(const char *s, size_t len, smtpstatus_code *code, unsigned *problems)
{
    const char *p = s;
    const char *end = s + len;

    while ((p = memchr(p, '#', (size_t)(end - p))) != NULL) {
        size_t used;
        p++;
        if (take_code(p, (size_t)(end - p), &used, code, problems))
            return 1;
        p += used;
    }
    return 0;
}

/* Records an enhanced code found on a line: the first one is the reply's, a different one
 * later on is a problem. */
static void
note_enhanced(struct scan *sc, smtpstatus_code code)
{
    smtpstatus_classification *out = sc->out;

    if (!out->has_enhanced) {
        out->has_enhanced = 1;
        out->enhanced = code;
    } else if (!code_equal(out->enhanced, code)) {
        out->problems |= SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH;
    }
}

/*
 * Reads one line, line[0..n) without its line ending: its basic code and separator, the
 * enhanced code after them (followed by ' ', TAB or the line's end: RFC 5321's textstring
 * allows HT) or in the text, and appends the rest, cleaned by text_put_clean(), to the text. A
 * line that does not start with a valid basic code followed by ' ', '-' or its end is
 * malformed, and all of it is text.
 */
static void
scan_line(struct scan *sc, const char *line, size_t n)
{
    smtpstatus_classification *out = sc->out;
    uint16_t basic;
    size_t start = 0;
    int enhanced_after_prefix = 0;
    smtpstatus_code code;

    /* RFC 5321 4.5.3.1.5: 512 octets with CRLF, the widest line render writes too. */
    if (n > SMTPSTATUS_WIDTH_MAX)
        out->problems |= SMTPSTATUS_PROBLEM_LINE_TOO_LONG;

    if (n >= 3 && smtpstatus_basic_parse(line, 3, &basic) == 0 &&
        (n == 3 || line[3] == ' ' || line[3] == '-')) {
        if (out->basic == 0)
            out->basic = basic;
        else if (basic != out->basic)
            out->problems |= SMTPSTATUS_PROBLEM_BASIC_MISMATCH;
        sc->last_continues = n > 3 && line[3] == '-';
        start = n > 3 ? 4 : 3;

        size_t used;
        if (take_code(line + start, n - start, &used, &code, &out->problems) &&
            (start + used == n || line[start + used] == ' ' || line[start + used] == '\t')) {
            enhanced_after_prefix = 1;
            note_enhanced(sc, code);
            start += used < n - start ? used + 1 : used;
        }
        if (enhanced_after_prefix)
            sc->prefixed_with++;
        else
            sc->prefixed_bare++;
    } else {
        out->problems |= SMTPSTATUS_PROBLEM_MALFORMED_LINE;
        sc->last_continues = 0;
    }

    if (!enhanced_after_prefix && find_hash_code(line + start, n - start, &code, &out->problems))
        note_enhanced(sc, code);

    if (out->line_count > 0)
        text_put(sc, '\n');
    text_put_clean(sc, line + start, n - start);
    out->line_count++;
}

/*
 * Classifies reply[0..len); see smtpstatus.h for the contract. Lines end at LF, and a CR just
 * before the LF belongs to the line ending; a final LF does not start another line, and a CR
 * anywhere else is a bad character. Input past SMTPSTATUS_CLASSIFY_MAX is not read, and sets
 * SMTPSTATUS_PROBLEM_TRUNCATED. Returns SMTPSTATUS_EINVAL, touching nothing, for a NULL out, a
 * NULL reply with len > 0 or a NULL text with text_size > 0; SMTPSTATUS_ENOREPLY when neither a
 * basic nor an enhanced code was found, with *out and the text filled all the same; else 0.
 * out->entry is the registry's answer for the enhanced code when there is one and img is not
 * NULL, and all zero otherwise. Reads no byte at or past reply[len], allocates nothing, and runs
 * in time linear in len.
 */
int
smtpstatus_classify(const smtpstatus_image *img, const char *reply, size_t len,
                    smtpstatus_classification *out, char *text, size_t text_size)
{
    struct scan sc;

    if (out == NULL || (reply == NULL && len > 0) || (text == NULL && text_size > 0))
        return SMTPSTATUS_EINVAL;
    memset(out, 0, sizeof *out);
    memset(&sc, 0, sizeof sc);
    sc.out = out;
    sc.text = text;
    sc.text_size = text_size;

    if (len > SMTPSTATUS_CLASSIFY_MAX) {
        len = SMTPSTATUS_CLASSIFY_MAX;
        out->problems |= SMTPSTATUS_PROBLEM_TRUNCATED;
    }

    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(reply + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - reply) : len;
        size_t n = end - pos;
        if (nl != NULL && n > 0 && reply[end - 1] == '\r')
            n--;
        scan_line(&sc, reply + pos, n);
        pos = nl != NULL ? end + 1 : len;
    }
    if (text_size > 0)
        text[sc.stored] = '\0';

    if (sc.last_continues)
        out->problems |= SMTPSTATUS_PROBLEM_TRUNCATED;
    if (sc.prefixed_with > 0 && sc.prefixed_bare > 0)
        out->problems |= SMTPSTATUS_PROBLEM_MISSING_ENHANCED;
    if (out->basic == 0)
        out->problems |= SMTPSTATUS_PROBLEM_NO_CODE;

    unsigned basic_class = out->basic / 100u;
    if (out->has_enhanced && basic_class == 3) {
        /* No enhanced class is 3, so CLASS_MISMATCH would only repeat this. */
        out->problems |= SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ;
    } else if (out->has_enhanced && out->basic != 0 && out->enhanced.cls != basic_class) {
        out->problems |= SMTPSTATUS_PROBLEM_CLASS_MISMATCH;
    }

    /* RFC 5321 drives the session by the basic code; see the retry rule in smtpstatus.h. */
    if (out->basic != 0)
        out->kind = (smtpstatus_kind)basic_class;
    else if (out->has_enhanced)
        out->kind = (smtpstatus_kind)out->enhanced.cls;
    out->retry = out->kind == SMTPSTATUS_KIND_TRANSIENT;

    if (out->has_enhanced && img != NULL &&
        smtpstatus_image_lookup(img, out->enhanced, &out->entry) != 0)
        memset(&out->entry, 0, sizeof out->entry);

    return out->basic == 0 && !out->has_enhanced ? SMTPSTATUS_ENOREPLY : 0;
}

const char *
smtpstatus_kind_name(smtpstatus_kind kind)
{
    switch (kind) {
    case SMTPSTATUS_KIND_SUCCESS:
        return "success";
    case SMTPSTATUS_KIND_INTERMEDIATE:
        return "intermediate";
    case SMTPSTATUS_KIND_TRANSIENT:
        return "transient";
    case SMTPSTATUS_KIND_PERMANENT:
        return "permanent";
    case SMTPSTATUS_KIND_UNKNOWN:
        break;
    }
    return "unknown";
}

/* Returns the name of exactly one SMTPSTATUS_PROBLEM_* bit; NULL for 0, an unknown bit, or
 * more than one bit. The names are static. */
const char *
smtpstatus_problem_name(unsigned problem)
{
    switch (problem) {
    case SMTPSTATUS_PROBLEM_BASIC_MISMATCH:
        return "basic_mismatch";
    case SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH:
        return "enhanced_mismatch";
    case SMTPSTATUS_PROBLEM_CLASS_MISMATCH:
        return "class_mismatch";
    case SMTPSTATUS_PROBLEM_MALFORMED_LINE:
        return "malformed_line";
    case SMTPSTATUS_PROBLEM_TRUNCATED:
        return "truncated";
    case SMTPSTATUS_PROBLEM_IP_NOT_CODE:
        return "ip_not_code";
    case SMTPSTATUS_PROBLEM_NO_CODE:
        return "no_code";
    case SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ:
        return "enhanced_on_3yz";
    case SMTPSTATUS_PROBLEM_MISSING_ENHANCED:
        return "missing_enhanced";
    case SMTPSTATUS_PROBLEM_LINE_TOO_LONG:
        return "line_too_long";
    case SMTPSTATUS_PROBLEM_BAD_CHARACTER:
        return "bad_character";
    default:
        return NULL;
    }
}
