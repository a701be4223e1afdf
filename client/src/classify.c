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

#include <stdint.h>
#include <string.h>

#include "reason.h"
#include "utf8.h"

/* Problems that describe one reply's shape: they start afresh when a quoted reply begins. */
#define REPLY_PROBLEMS                                                                             \
    (SMTPSTATUS_PROBLEM_BASIC_MISMATCH | SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH |                    \
     SMTPSTATUS_PROBLEM_MALFORMED_LINE | SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR)

/* RFC 3463 defines subjects 0 to 7. A code read from the text, not from its place after the
 * basic code, must have one of them: vendors' pseudo-codes ("4.16.1") use others. */
#define TEXT_SUBJECT_MAX 7

/* What was found while reading the reply, line after line. */
struct scan {
    smtpstatus_classification *out;
    smtpstatus_reply_origin *origin;
    char *text; /* the caller's buffer, text_size bytes, NULL when 0 */
    size_t text_size;
    size_t stored; /* bytes of text stored; less than out->text_len once the buffer is full */
    int full;      /* a character did not fit whole: nothing more is stored after it */
    unsigned text_lines;    /* lines of the reported reply's text so far */
    int line_in_text;       /* this line has started its text line */
    int have_reply;         /* a code has been found: a reply is being read */
    unsigned prefixed_with; /* lines with a basic code, with the enhanced code after it */
    unsigned prefixed_bare; /* lines with a basic code, without one */
    int last_continues;     /* the last reply line read was "NNN-" */
    int last_with;          /* it had an enhanced code in its place: last_enhanced */
    smtpstatus_code last_enhanced;
    int first_set;          /* the reply's first enhanced code, for ENHANCED_MISMATCH */
    smtpstatus_code first;
    int bare_set; /* an enhanced code of the basic code's class later in the text */
    smtpstatus_code bare;
    int weak;       /* the reply so far is a code in a client's or a log's words ("got code
                     * \"503\"", "dsn=4.4.1"): a reply quoted after it replaces it, not nested */
    int transcript; /* a server line of a session transcript ("<<< 550 ...") has been read */
    size_t remote_at; /* where "smtp error from remote" is in the current line; SIZE_MAX: not
                       * looked for yet */
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

/* Appends s[0..n), ASCII, as text_put() of each byte would: what fits is stored, and the text
 * is full from the first byte that does not. */
static void
text_put_run(struct scan *sc, const char *s, size_t n)
{
    sc->out->text_len += n;
    if (sc->full || sc->text_size == 0)
        return;
    size_t room = sc->text_size - 1 - sc->stored;
    size_t take = n < room ? n : room;
    memcpy(sc->text + sc->stored, s, take);
    sc->stored += take;
    if (take < n)
        sc->full = 1;
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
        /* Most text is printable ASCII: a run of it is copied whole, as far as it fits. */
        size_t run = 0;
        while (i + run < n && u[i + run] < 0x80 && !is_bad_ascii(u[i + run]))
            run++;
        if (run > 0) {
            text_put_run(sc, s + i, run);
            i += run;
            continue;
        }
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
        if (take_code(p, (size_t)(end - p), &used, code, problems) &&
            code->subject <= TEXT_SUBJECT_MAX)
            return 1;
        p += used;
    }
    return 0;
}

/* Records an enhanced code found for the reply: the first one of its final basic code's lines
 * is the reply's, and one that differs from the first of all is a problem. */
static void
note_enhanced(struct scan *sc, smtpstatus_code code)
{
    smtpstatus_classification *out = sc->out;

    if (!out->has_enhanced) {
        out->has_enhanced = 1;
        out->enhanced = code;
    }
    if (!sc->first_set) {
        sc->first_set = 1;
        sc->first = code;
    } else if (!code_equal(sc->first, code)) {
        out->problems |= SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH;
    }
}

/* Marks that a reply is being read, from `at` on when none was before. */
static void
note_reply(struct scan *sc, const char *at)
{
    sc->have_reply = 1;
    if (sc->origin->reply == NULL)
        sc->origin->reply = at;
}

static int
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether s[0..n) ends with the lowercase ASCII word w, in any case. */
static int
ends_with_ci(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);

    if (k > n)
        return 0;
    for (size_t i = 0; i < k; i++) {
        if (lower(s[n - k + i]) != w[i])
            return 0;
    }
    return 1;
}

/* The offset of the first lowercase ASCII word w in s[0..n), in any case, or n. */
static size_t
find_ci(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);

    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && lower(s[i + j]) == w[j])
            j++;
        if (j == k)
            return i;
    }
    return n;
}

/*
 * Whether line[i..i+3) is a basic code where a reply could begin: three digits, then ' ', '-'
 * or the line's end. Sets *basic, and *out_of_grammar for a 4yz or 5yz code whose second digit
 * is over 5 ("571"), which servers do send; a 2yz or 3yz one, or a first digit outside 2 to 5,
 * is no code.
 */
static int
basic_at(const char *line, size_t n, size_t i, uint16_t *basic, int *out_of_grammar)
{
    if (n - i < 3 || (n - i > 3 && line[i + 3] != ' ' && line[i + 3] != '-'))
        return 0;
    *out_of_grammar = 0;
    if (smtpstatus_basic_parse(line + i, 3, basic) == 0)
        return 1;
    if ((line[i] != '4' && line[i] != '5') || !is_digit(line[i + 1]) || !is_digit(line[i + 2]))
        return 0;
    *basic = (uint16_t)((line[i] - '0') * 100 + (line[i + 1] - '0') * 10 + (line[i + 2] - '0'));
    *out_of_grammar = 1;
    return 1;
}

/* Bit 0: what may stand just before a reply quoted in a line (a blank, a quote, "<", "(", "[",
 * the ';' and ':' that end "smtp;" and "said:", or the '#' of Exchange's "#550 5.1.1 ... ##");
 * bit 1: what a basic code starts with. */
static const unsigned char reply_start[256] = {
    ['\t'] = 1, [' '] = 1, ['\''] = 1, ['"'] = 1, ['<'] = 1, [';'] = 1, [':'] = 1, ['('] = 1,
    ['['] = 1,  ['#'] = 1, ['2'] = 2,  ['3'] = 2,  ['4'] = 2, ['5'] = 2,
};

/* The character that closes the opening one c ('[', '(', a quote), or 0. */
static char
closer(char c)
{
    return c == '[' ? ']' : c == '(' ? ')' : c == '"' || c == '\'' ? c : 0;
}

static int
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Whether s[0..n) ends with a time of day, "09:01:36", maybe followed by up to two words of
 * letters ("PM", "CET"): a log's timestamp, after which a logged reply begins. Looks at no more
 * than the last 30 bytes.
 */
static int
ends_with_time(const char *s, size_t n)
{
    for (int w = 0; w < 3; w++) {
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n >= 8 && is_digit(s[n - 1]) && is_digit(s[n - 2]) && s[n - 3] == ':' &&
            is_digit(s[n - 4]) && is_digit(s[n - 5]) && s[n - 6] == ':' && is_digit(s[n - 7]))
            return 1;
        size_t k = 0;
        while (k < 5 && k < n && is_alpha(s[n - 1 - k]))
            k++;
        if (k == 0 || k == n || (s[n - 1 - k] != ' ' && s[n - 1 - k] != '\t'))
            return 0;
        n -= k;
    }
    return 0;
}

/* Whether the word that ends at s[n - 1] (back to a blank or the start) holds an '@': a mailbox,
 * as in OpenSMTPD's "x@example.com: 550 ...". */
static int
word_has_at(const char *s, size_t n)
{
    while (n > 0 && s[n - 1] != ' ' && s[n - 1] != '\t') {
        if (s[--n] == '@')
            return 1;
    }
    return 0;
}

/*
 * Whether the words before line[i] introduce a reply, as MTAs and DSNs print one they quote:
 * Postfix "said:" and "refused to talk to me:", qmail "Remote host said:", RFC 3464 "smtp;",
 * Sendmail "Deferred:" and "<<<", Exchange "returned" (with a quote or not), Exim "reason:",
 * "host H [A]:", OpenSMTPD's "stat=\"" (its delivery log), "BANNER rejected:" and the like (its
 * session errors) and "x@example.com:" (its bounce), a '#' that starts the line (Exchange's
 * "#550 5.1.1 ... ##"), client libraries' "...Exception:", "Error:", "command failed:", "got
 * response [" and 'with message "', a command named in quotes ("'RCPT':"), Postfix's log
 * field "dsn=", a DSN's "Status:", a log's timestamp ("09:01:36 PM CET") and, on a line that
 * says "SMTP error from remote" before it, any ':'. That phrase is looked for once a line (in
 * sc->remote_at), so a line costs one pass however many numbers it holds.
 */
static int
introduced(struct scan *sc, const char *line, size_t n, size_t i)
{
    static const char *const words[] = {
        "said:",     "me:",     "smtp;",  "deferred:", "<<<",   "reason:",   "]:",
        "returned",  ">:",      "data:",  "connection:", "stat=", "rejected:", "diagnostic-code:",
        "exception:", "error:", "failed:", "dsn=",     "status:", "':",      "\":"};
    /* Words that introduce a reply only with an opening bracket or quote before it. */
    static const char *const opened[] = {"response", "message"};
    size_t j = i;
    int open = 0;

    if (j > 0 && line[j - 1] == '#') {
        /* Exchange's "#550": only at the line's start, so "ticket #450" in words is no reply. */
        while (--j > 0 && (line[j - 1] == ' ' || line[j - 1] == '\t'))
            ;
        return j == 0;
    }
    while (j > 0 && (line[j - 1] == ' ' || line[j - 1] == '\t'))
        j--;
    if (j > 0 && (line[j - 1] == '\'' || line[j - 1] == '"' || line[j - 1] == '[')) {
        j--;
        open = 1;
        while (j > 0 && (line[j - 1] == ' ' || line[j - 1] == '\t'))
            j--;
    }
    if (j == 0)
        return 1; /* an indented reply: nothing but blanks before it */
    if (j == i && line[j - 1] == ':')
        return 0; /* a port ("[192.0.2.1]:587 ..."): a ':' that ends words has a blank after it */
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        if (ends_with_ci(line, j, words[k]))
            return 1;
    }
    for (size_t k = 0; open && k < sizeof opened / sizeof opened[0]; k++) {
        if (ends_with_ci(line, j, opened[k]))
            return 1;
    }
    if (j < i && !open && ends_with_time(line, j))
        return 1;
    if (line[j - 1] != ':')
        return 0;
    if (word_has_at(line, j - 1))
        return 1;
    if (sc->remote_at == SIZE_MAX)
        sc->remote_at = find_ci(line, n, "smtp error from remote");
    return sc->remote_at < n && sc->remote_at + 22 <= j;
}

/*
 * Whether line[i..i+3) is a basic code in a client's words, closed by the bracket or quote that
 * opens it: "Error SMTP: [550] ...", "SMTP Error (550): ...", 'got code "503"'. The words before
 * the opening one must end with "error" or "smtp" (a ':' after them allowed) or "got code":
 * "Expected response code [250]" is the code the client wanted, not the server's. Sets *basic
 * and *out_of_grammar as basic_at() does.
 */
static int
delimited_basic(const char *line, size_t n, size_t i, uint16_t *basic, int *out_of_grammar)
{
    static const char *const words[] = {"error", "smtp", "got code"};
    char c = closer(line[i - 1]);
    size_t j = i - 1;

    if (c == 0 || n - i < 4 || line[i + 3] != c || !basic_at(line, i + 3, i, basic, out_of_grammar))
        return 0;
    while (j > 0 && (line[j - 1] == ' ' || line[j - 1] == '\t'))
        j--;
    if (j > 0 && line[j - 1] == ':')
        j--;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        if (ends_with_ci(line, j, words[k]))
            return 1;
    }
    return 0;
}

/*
 * Where the enhanced code of a reply whose basic code is at line[i] would stand: after the
 * separator and after a doubled basic code ("554 554 5.7.0"), whose ' ' sets *doubled.
 */
static size_t
code_place(const char *line, size_t n, size_t i, int *doubled)
{
    size_t at = n - i > 3 ? i + 4 : n;

    *doubled = n - at >= 4 && memcmp(line + at, line + i, 3) == 0 && line[at + 3] == ' ';
    return *doubled ? at + 4 : at;
}

/* Whether line[at..n) starts with an enhanced code followed by ' ', TAB or the line's end;
 * the code goes to *code, and *used gets the length of the code-like run. */
static int
code_at(const char *line, size_t n, size_t at, smtpstatus_code *code, size_t *used,
        unsigned *problems)
{
    return take_code(line + at, n - at, used, code, problems) &&
           (at + *used == n || line[at + *used] == ' ' || line[at + *used] == '\t');
}

/*
 * Reads the codes of a reply that begins at line[i] with the basic code `basic` (checked by
 * basic_at()): the separator, a doubled basic code ("554 554 5.7.0"), and the enhanced code
 * after them, followed by ' ', TAB or the line's end. Returns the offset where the reply's
 * text begins on the line. The final line decides: a basic code that differs from the reply's
 * so far replaces it, and the enhanced code is looked for afresh.
 */
static size_t
read_prefix(struct scan *sc, const char *line, size_t n, size_t i, uint16_t basic,
            int out_of_grammar)
{
    smtpstatus_classification *out = sc->out;
    int doubled;
    size_t start = code_place(line, n, i, &doubled);
    size_t used;
    smtpstatus_code code;

    note_reply(sc, line + i);
    if (out_of_grammar)
        out->problems |= SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR;
    if (out->basic == 0) {
        out->basic = basic;
    } else if (basic != out->basic) {
        out->problems |= SMTPSTATUS_PROBLEM_BASIC_MISMATCH;
        out->basic = basic;
        out->has_enhanced = 0;
    }
    sc->last_continues = n - i > 3 && line[i + 3] == '-';

    if (doubled)
        sc->origin->found |= SMTPSTATUS_FOUND_DOUBLED;
    sc->last_with = 0;
    if (code_at(line, n, start, &code, &used, &out->problems)) {
        note_enhanced(sc, code);
        sc->prefixed_with++;
        sc->last_with = 1;
        sc->last_enhanced = code;
        return start + used < n ? start + used + 1 : start + used;
    }
    sc->prefixed_bare++;
    return start;
}

/*
 * Looks in s[0..n) for an enhanced code standing on its own in the text of a 4yz or 5yz reply
 * without one in its place ("553 ... - 5.7.1 [BL23]", "450 cuda_nsu 4.7.1 ..."): bounded by the
 * text's start, a space or an opening bracket on the left and by a space, punctuation or the
 * end on the right, of the basic code's class, with an RFC 3463 subject. The first one is kept
 * as the reply's enhanced code if no other turns up. A dotted number of four parts or more
 * (192.0.2.1, 4.16.55.1) is not one, and is no problem here: it is not where a code stands.
 * With `after_prefix`, s follows a basic code whose enhanced code was not in its place; a code
 * that only blanks separate from it is one that read_prefix() refused ("550 5.1.1: ..."), and
 * is refused here too.
 */
static void
find_bare_code(struct scan *sc, const char *s, size_t n, int after_prefix)
{
    unsigned cls = sc->out->basic / 100u;

    if (sc->out->has_enhanced || sc->bare_set || (cls != 4 && cls != 5))
        return;
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && (is_digit(s[k]) || s[k] == '.'))
            k++;
        if (k == i) {
            if (s[i] != ' ' && s[i] != '\t')
                after_prefix = 0;
            i++;
            continue;
        }
        if (after_prefix) {
            i = k;
            after_prefix = 0;
            continue;
        }
        size_t m = k;
        while (m > i && s[m - 1] == '.')
            m--;
        smtpstatus_code code;
        int left =
            i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '(' || s[i - 1] == '[';
        int right = k == n || s[k] == ' ' || s[k] == '\t' || s[k] == ',' || s[k] == ';' ||
                    s[k] == ')' || s[k] == ']' || s[k] == ':';
        if (left && right && !is_dotted_number(s + i, m - i) &&
            smtpstatus_code_parse(s + i, m - i, 0, &code, NULL) == 0 && code.cls == cls &&
            code.subject <= TEXT_SUBJECT_MAX) {
            sc->bare_set = 1;
            sc->bare = code;
            return;
        }
        i = k;
    }
}

/*
 * One piece of a line's text, s[0..n): its '#' code counts for the reply being read unless the
 * line had the enhanced code in its place (`prefixed`), a code standing alone in it is noted
 * (find_bare_code(); `after_prefix` when s follows a basic code), and it is appended to the
 * text when `keep` (else it is the words around a reply).
 */
static void
put_piece(struct scan *sc, const char *s, size_t n, int prefixed, int after_prefix, int keep)
{
    smtpstatus_code code;

    if (!prefixed && find_hash_code(s, n, &code, &sc->out->problems)) {
        note_reply(sc, s);
        note_enhanced(sc, code);
    }
    if (sc->out->basic != 0)
        find_bare_code(sc, s, n, after_prefix && !prefixed);
    if (!keep)
        return;
    if (!sc->line_in_text) {
        if (sc->text_lines > 0)
            text_put(sc, '\n');
        sc->text_lines++;
        sc->line_in_text = 1;
    }
    text_put_clean(sc, s, n);
}

/*
 * A reply quoted at line[i], after the words line[0..i): it is the one to report. What was
 * read before it becomes the outer reply (kept in the origin as context) and its text is
 * dropped, and the reply's own problems start afresh.
 */
/* Forgets the reply read so far, its text and its problems, for one that replaces it. */
static void
reset_reply(struct scan *sc)
{
    smtpstatus_classification *out = sc->out;

    out->basic = 0;
    out->has_enhanced = 0;
    out->problems &= ~(unsigned)REPLY_PROBLEMS;
    out->text_len = 0;
    sc->stored = 0;
    sc->full = 0;
    sc->text_lines = 0;
    sc->line_in_text = 0;
    sc->prefixed_with = sc->prefixed_bare = 0;
    sc->last_continues = 0;
    sc->first_set = sc->bare_set = 0;
    sc->weak = 0;
}

static void
begin_quoted(struct scan *sc, const char *line, size_t i)
{
    smtpstatus_classification *out = sc->out;
    smtpstatus_reply_origin *o = sc->origin;
    size_t w = 0, e = i;

    if (sc->have_reply && o->reply != NULL && !sc->weak) {
        o->found |= SMTPSTATUS_FOUND_NESTED;
        o->outer_basic = out->basic;
        o->outer_has_enhanced = out->has_enhanced || sc->bare_set;
        o->outer_enhanced = out->has_enhanced ? out->enhanced : sc->bare;
        o->outer = o->reply;
        o->outer_len = (size_t)(line + i - o->reply);
        while (o->outer_len > 0 &&
               (o->outer[o->outer_len - 1] == ' ' || o->outer[o->outer_len - 1] == '\t'))
            o->outer_len--;
    }
    while (w < i && (line[w] == ' ' || line[w] == '\t'))
        w++;
    while (e > w &&
           (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\'' || line[e - 1] == '"'))
        e--;
    /* How the outer reply's codes were found says nothing about this one's. */
    o->found &= SMTPSTATUS_FOUND_NESTED;
    o->wrapper = e > w ? line + w : NULL;
    o->wrapper_len = e - w;
    if (e > w)
        o->found |= SMTPSTATUS_FOUND_WRAPPED;
    o->reply = line + i;
    reset_reply(sc);
}

/*
 * The length of a session transcript's marker that starts line[0..n) (after blanks, and with a
 * blank or the line's end after it), or 0: "<<<", "S:", "SMTP<<" (Exim's debug output) and
 * swaks' "<-", "<~", "<**", "<~*" mark the server's lines (*server is set), ">>>", "C:",
 * "SMTP>>", "->" and "~>" the client's.
 */
static size_t
transcript_marker(const char *line, size_t n, int *server)
{
    static const char *const marks[] = {"<<<", "<~*", "<**", "<-", "<~", "S:", "SMTP<<",
                                        ">>>", "->",  "~>",  "C:", "SMTP>>"};
    size_t w = 0;

    while (w < n && (line[w] == ' ' || line[w] == '\t'))
        w++;
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        size_t l = strlen(marks[k]);
        if (n - w >= l && memcmp(line + w, marks[k], l) == 0 &&
            (n - w == l || line[w + l] == ' ' || line[w + l] == '\t')) {
            *server = k < 7;
            return w + l;
        }
    }
    return 0;
}

/*
 * How many quote characters to leave off the end of line[0..n): Exchange's "returned '...'"
 * closes its quote (and its "'<...>'" the angle bracket too), and OpenSMTPD's log its
 * 'stat="..."', which are not the server's text.
 */
static size_t
closing_quote(const char *line, size_t n)
{
    if (n == 0 || (line[n - 1] != '\'' && line[n - 1] != '"'))
        return 0;
    size_t r = find_ci(line, n, "returned");
    if (r < n) {
        r += 8;
    } else if ((r = find_ci(line, n, "stat=")) < n) {
        r += 5;
    } else {
        return 0;
    }
    while (r < n && line[r] == ' ')
        r++;
    if (r >= n - 1 || line[r] != line[n - 1])
        return 0;
    return line[r + 1] == '<' && line[n - 2] == '>' ? 2 : 1;
}

/*
 * Reads one line, line[0..n) without its line ending. A reply line starts with a basic code
 * and ' ', '-' or its end (the enhanced code after it, followed by ' ', TAB or the line's end),
 * or with an enhanced code alone, whose basic code a client cut off. Then the line is searched
 * for replies quoted in it: a basic code after words that introduce a reply (introduced()) or
 * followed by an enhanced code of its class, or an indented one. One with the basic code of a
 * reply whose last line was "NNN-" continues it (Postfix joins a multi-line reply's lines with
 * spaces: "550-5.1.1 ... 550 5.1.1 ..."); another one is a new reply, quoted by what came
 * before (begin_quoted()). The text between the codes is appended, cleaned by
 * text_put_clean(). A line where no code is found is malformed, and all of it is text, unless
 * it is a folded, indented line after a reply that an MTA wrapped.
 */
static void
scan_line(struct scan *sc, const char *line, size_t n)
{
    smtpstatus_classification *out = sc->out;
    size_t seg = 0, quote = closing_quote(line, n);
    int found = 0, prefixed = 0, after_code = 0, oog;
    uint16_t basic;
    smtpstatus_code code;
    size_t used;
    unsigned scratch = 0;

    /* RFC 5321 4.5.3.1.5: 512 octets with CRLF, the widest line render writes too. */
    if (n > SMTPSTATUS_WIDTH_MAX)
        out->problems |= SMTPSTATUS_PROBLEM_LINE_TOO_LONG;
    sc->line_in_text = 0;
    sc->remote_at = SIZE_MAX;

    /* A session transcript: the server's lines are read without their marker, the client's
     * lines are not the server's words, and once a server line was read, the lines without a
     * marker are the MTA's own summary (Sendmail's "554 5.0.0 Service unavailable" after the
     * "<<< 554 ..." it quotes): context. Each complete reply replaces the one before, but a
     * success does not replace a failure ("<** 550 ..." then "<- 221 Bye"). */
    int server = 0;
    size_t mark = transcript_marker(line, n, &server);
    if (mark > 0 || sc->transcript) {
        if (mark == 0 || !server) {
            out->line_count++;
            return;
        }
        line += mark;
        n -= mark;
        while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
            line++;
            n--;
        }
        if (!(sc->have_reply && sc->last_continues)) {
            uint16_t b;
            int o;
            if (sc->have_reply && out->basic >= 400 && !(basic_at(line, n, 0, &b, &o) && b >= 400)) {
                out->line_count++;
                return;
            }
            reset_reply(sc);
            sc->have_reply = 0;
            memset(sc->origin, 0, sizeof *sc->origin);
        }
        sc->transcript = 1;
    }

    if (basic_at(line, n, 0, &basic, &oog)) {
        unsigned with = sc->prefixed_with;
        seg = read_prefix(sc, line, n, 0, basic, oog);
        prefixed = sc->prefixed_with != with;
        found = after_code = 1;
    } else if (n > 0 && is_digit(line[0]) && take_code(line, n, &used, &code, &scratch) &&
               code.subject <= TEXT_SUBJECT_MAX &&
               (used == n || line[used] == ' ' || line[used] == '\t')) {
        note_reply(sc, line);
        note_enhanced(sc, code);
        sc->origin->found |= SMTPSTATUS_FOUND_ENHANCED_ALONE;
        sc->last_continues = 0;
        seg = used < n ? used + 1 : used;
        prefixed = found = 1;
    }

    for (size_t i = seg > 0 ? seg : 1; i + 3 <= n; i++) {
        /* An enhanced code alone after words that introduce a reply, before any reply: a
         * client's wrapper ("bad response on command 'RCPT': 4.2.0 ..."), a log's
         * ("host[192.0.2.1]: 4.7.1 ...", Postfix's "dsn=4.4.1,") or a DSN's "Status: 4.4.1". */
        if (!sc->have_reply && line[i + 1] == '.' && is_digit(line[i]) &&
            (line[i - 1] == ' ' || line[i - 1] == '\t' || line[i - 1] == '=')) {
            scratch = 0;
            if (take_code(line + i, n - i, &used, &code, &scratch) &&
                code.subject <= TEXT_SUBJECT_MAX &&
                (i + used == n || line[i + used] == ' ' || line[i + used] == '\t' ||
                 line[i + used] == ',' || line[i + used] == ';') &&
                introduced(sc, line, n, i)) {
                put_piece(sc, line + seg, i - seg, prefixed, after_code, found);
                begin_quoted(sc, line, i);
                note_reply(sc, line + i);
                note_enhanced(sc, code);
                sc->origin->found |= SMTPSTATUS_FOUND_ENHANCED_ALONE;
                sc->weak = 1;
                seg = i + used;
                if (seg < n && (line[seg] == ',' || line[seg] == ';'))
                    seg++;
                while (seg < n && (line[seg] == ' ' || line[seg] == '\t'))
                    seg++;
                prefixed = found = 1;
                after_code = 0;
                i = seg - 1;
                continue;
            }
            i += used > 0 ? used - 1 : 0;
            continue;
        }
        /* One well-predicted branch a byte: most lines quote nothing. */
        if (((reply_start[(unsigned char)line[i - 1]] &
              (reply_start[(unsigned char)line[i]] >> 1)) &
             1) == 0)
            continue;
        int delim = 0;
        if (!basic_at(line, n, i, &basic, &oog)) {
            if (!delimited_basic(line, n, i, &basic, &oog))
                continue;
            delim = 1;
        }
        int hash = line[i - 1] == '#';
        int continues =
            !delim && !hash && sc->have_reply && sc->last_continues && basic == out->basic;
        if (continues) {
            /* Postfix joins a reply's lines whole: each carries the enhanced code of the line
             * before in its place, or none when that line had none there (a "#2.0.0" in its
             * text does not count), where read_prefix() looks for it (after a doubled basic
             * code too). Anything else in the words is the text's own. */
            int doubled;
            size_t at = code_place(line, n, i, &doubled);
            scratch = 0;
            int coded = code_at(line, n, at, &code, &used, &scratch);
            continues = sc->last_with ? coded && code_equal(code, sc->last_enhanced) : !coded;
        }
        /* Only a failure quotes the failure behind it: a success or an intermediate reply whose
         * text holds "550 5.1.1" is still that success, and "250 2.0.0 OK" in a failure's text
         * is no reply of the server that refused. */
        if (!continues && sc->have_reply && ((out->basic != 0 && out->basic < 400) || basic < 400))
            continue;
        /* A message expired in the queue (X.4.7) is the MTA's own verdict: a reply in its text
         * is the last attempt's error, or the MTA's own note of one (Amazon SES's "554 4.4.7
         * Message expired ... <421 4.4.0 Unable to lookup DNS ...>"), and is context. */
        if (!continues && sc->have_reply && out->has_enhanced && out->enhanced.subject == 4 &&
            out->enhanced.detail == 7)
            continue;
        if (!continues && !delim && !introduced(sc, line, n, i)) {
            int doubled;
            if (hash)
                continue;
            size_t at = code_place(line, n, i, &doubled);
            scratch = 0;
            if (!(code_at(line, n, at, &code, &used, &scratch) && code.cls == basic / 100u))
                continue;
        }
        /* The words before a reply that starts the line's reply text are no part of it. */
        put_piece(sc, line + seg, i - seg, prefixed, after_code, found);
        if (!continues) {
            begin_quoted(sc, line, i);
            /* A reply in brackets or quotes that end the line: the closing one is not its
             * text ("got response [530 5.7.0 ...]", 'with message "503 ..."'). */
            char c = closer(line[i - 1]);
            if (!delim && quote == 0 && c != 0 && line[n - 1] == c)
                quote = 1;
        }
        if (delim) {
            /* Only the basic code: its text follows the closing bracket or quote. */
            read_prefix(sc, line, i + 3, i, basic, oog);
            sc->weak = 1;
            seg = i + 4;
            if (seg < n && (line[seg] == ':' || line[seg] == ','))
                seg++;
            while (seg < n && (line[seg] == ' ' || line[seg] == '\t'))
                seg++;
            prefixed = after_code = 0;
        } else {
            unsigned with = sc->prefixed_with;
            seg = read_prefix(sc, line, n, i, basic, oog);
            prefixed = sc->prefixed_with != with;
            after_code = 1;
        }
        found = 1;
        i = seg > i ? seg - 1 : i;
    }

    if (!found) {
        if (!(sc->have_reply && sc->origin->wrapper != NULL && n > 0 &&
              (line[0] == ' ' || line[0] == '\t')))
            out->problems |= SMTPSTATUS_PROBLEM_MALFORMED_LINE;
        sc->last_continues = 0;
    }
    size_t end = n - (seg <= n - quote ? quote : 0);
    put_piece(sc, line + seg, end - seg, prefixed, after_code, 1);
    if (sc->origin->reply != NULL)
        sc->origin->reply_len = (size_t)(line + end - sc->origin->reply);
    out->line_count++;
}

/*
 * Classifies reply[0..len); see smtpstatus.h for the contract. Lines end at LF, and a CR just
 * before the LF belongs to the line ending; a final LF does not start another line, and a CR
 * anywhere else is a bad character. Input past SMTPSTATUS_CLASSIFY_MAX is not read, and sets
 * SMTPSTATUS_PROBLEM_TRUNCATED. Returns SMTPSTATUS_EINVAL, touching nothing, for a NULL out, a
 * NULL reply with len > 0 or a NULL text with text_size > 0; SMTPSTATUS_ENOREPLY when neither a
 * basic nor an enhanced code was found, with *out, *origin and the text filled all the same;
 * else 0. out->entry is the registry's answer for the enhanced code when there is one and img
 * is not NULL, and all zero otherwise. Reads no byte at or past reply[len], allocates nothing,
 * and runs in time linear in len.
 */
int
smtpstatus_classify_origin(const smtpstatus_image *img, const char *reply, size_t len,
                           smtpstatus_classification *out, char *text, size_t text_size,
                           smtpstatus_reply_origin *origin)
{
    struct scan sc;
    smtpstatus_reply_origin scratch;

    if (out == NULL || (reply == NULL && len > 0) || (text == NULL && text_size > 0))
        return SMTPSTATUS_EINVAL;
    memset(out, 0, sizeof *out);
    memset(&sc, 0, sizeof sc);
    sc.out = out;
    sc.origin = origin != NULL ? origin : &scratch;
    memset(sc.origin, 0, sizeof *sc.origin);
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

    if (!out->has_enhanced && sc.bare_set) {
        out->has_enhanced = 1;
        out->enhanced = sc.bare;
        sc.origin->found |= SMTPSTATUS_FOUND_ENHANCED_IN_TEXT;
    }
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

    /* The patterns see the reported reply and what follows it (Postfix's "(in reply to RCPT TO
     * command)"), not the wrapper before it, whose host names could match a rule's words. */
    const char *seen = sc.origin->reply != NULL ? sc.origin->reply : reply;
    smtpstatus__reason_decide(img, out, seen, seen != NULL ? len - (size_t)(seen - reply) : 0);

    if (out->basic == 0 && !out->has_enhanced) {
        memset(sc.origin, 0, sizeof *sc.origin);
        return SMTPSTATUS_ENOREPLY;
    }
    return 0;
}

/* Classifies reply[0..len) without saying where the reply was found; see smtpstatus.h. */
int
smtpstatus_classify(const smtpstatus_image *img, const char *reply, size_t len,
                    smtpstatus_classification *out, char *text, size_t text_size)
{
    return smtpstatus_classify_origin(img, reply, len, out, text, text_size, NULL);
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
    case SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR:
        return "basic_out_of_grammar";
    case SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS:
        return "reason_overrides_class";
    case SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE:
        return "reason_overrides_code";
    default:
        return NULL;
    }
}
