/*
 * libsmtpstatus: SMTP status codes for local mail software.
 *
 * This header is the library's whole public face. It covers the syntax of enhanced status
 * codes (RFC 3463) and basic reply codes (RFC 5321), and the reader of compiled registry
 * images: validation, and lookups that take O(1) time, allocate nothing and return pointers
 * into the image.
 *
 * Conventions (as in libuv): functions return 0 or a negative SMTPSTATUS_E* error, with results
 * in out-parameters last. smtpstatus_strerror() names every error. The library never aborts,
 * never exits, never prints and never installs signal handlers. Strings in results are
 * NUL-terminated UTF-8 owned by the image they came from: they stay valid while that image is
 * open, and the caller never frees them.
 */
#ifndef SMTPSTATUS_H
#define SMTPSTATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMTPSTATUS_VERSION_STRING "0.1.0"

/* Errors. Every value is negative and distinct from every negative errno. */
#define SMTPSTATUS_ERRNO_MAP(X)                                                                    \
    X(EINVAL, -4001, "invalid argument")                                                          \
    X(ENOMEM, -4002, "out of memory")                                                             \
    X(ENOSPC, -4003, "output buffer too small")                                                   \
    X(EEMPTY, -4010, "empty code")                                                                \
    X(ECLASS, -4011, "class must be 2, 4 or 5")                                                   \
    X(ENOCLASSX, -4012, "class-free form X.S.D is not allowed here")                              \
    X(ESUBJECT, -4013, "subject must be 1 to 3 digits")                                           \
    X(EDETAIL, -4014, "detail must be 1 to 3 digits")                                             \
    X(EDOT, -4015, "expected '.' between class, subject and detail")                              \
    X(ETRAILING, -4016, "unexpected characters after the code")                                   \
    X(EPATTERN, -4017, "not an IANA pattern (N.XXX.XXX or X.S.XXX)")                              \
    X(EBASIC, -4018, "basic reply code must be three digits: 2-5, then 0-5, then 0-9")            \
    X(EIMG_TRUNCATED, -4030, "image truncated: shorter than its header or its stated size")       \
    X(EIMG_MAGIC, -4031, "not a registry image (bad magic)")                                      \
    X(EIMG_VERSION, -4032, "unsupported registry image version")                                  \
    X(EIMG_SIZE, -4033, "image size does not match its header")                                   \
    X(EIMG_CHECKSUM, -4034, "image checksum mismatch")                                            \
    X(EIMG_BOUNDS, -4035, "image table or string out of bounds")                                  \
    X(EIMG_CORRUPT, -4036, "image structure is inconsistent")                                     \
    X(EIMG_FOREIGN, -4037, "image not trusted: owned by another user, or writable by others")     \
    X(EIMG_NOTFILE, -4038, "image is a symbolic link or not a regular file")                      \
    X(EIMG_MISSING, -4039, "no image published in the run directory")                             \
    X(ENOTFOUND, -4040, "no such entry")                                                          \
    X(ECLASSMISMATCH, -4050, "enhanced code class differs from the basic code's first digit")     \
    X(E3YZ, -4051, "3yz replies carry no enhanced status code")                                   \
    X(ENONASCII, -4052, "non-ASCII text needs SMTPUTF8")                                          \
    X(EUTF8, -4053, "text is not valid UTF-8")                                                    \
    X(ENOREPLY, -4054, "no reply code found")                                                    \
    X(EUNAVAILABLE, -4060, "the daemon is not running (no socket, or it refused the connection)") \
    X(ETIMEOUT, -4061, "the daemon did not answer in time")                                       \
    X(EPROTO, -4062, "the daemon's answer is malformed")                                          \
    X(EPERM, -4063, "the daemon refused: this user may not do that")                              \
    X(ERELOAD, -4064, "the reload failed; nothing changed")                                       \
    X(EBUSY, -4065, "the daemon is busy with another reload")                                     \
    X(EDAEMON, -4066, "the daemon answered with an error")                                        \
    X(ERUNDIR_FOREIGN, -4070, "run directory not trusted: another user owns it or may write it")  \
    X(EPEER_FOREIGN, -4071, "socket not trusted: another user's process serves it, not the daemon") \
    X(ETOOBIG, -4080, "the message is over the bounce size limit")                               \
    X(ENOTBOUNCE, -4081, "no delivery report or known bounce in the message")                    \
    X(EMALFORMED, -4082, "the message cannot be read as MIME (or nests too deeply)")

typedef enum {
#define SMTPSTATUS_ERR_ENUM(name, value, text) SMTPSTATUS_##name = value,
    SMTPSTATUS_ERRNO_MAP(SMTPSTATUS_ERR_ENUM)
#undef SMTPSTATUS_ERR_ENUM
} smtpstatus_errno;

/* Returns a static English description of `err` (any int, including 0 and unknown values). */
const char *smtpstatus_strerror(int err);

/* Returns the symbolic name of `err`: "SMTPSTATUS_ECLASS" and the like, "SMTPSTATUS_OK" for 0,
 * "ENOENT" and the like for a negative errno, "UNKNOWN" for anything else. */
const char *smtpstatus_err_name(int err);

/* ---- Code syntax --------------------------------------------------------------------------- */

/* An enhanced status code. `cls` is 2, 4 or 5, or 0 for the class-free form "X.S.D". The
 * struct has padding: compare codes field by field, never with memcmp(). */
typedef struct smtpstatus_code {
    uint8_t cls;
    uint16_t subject; /* 0 to 999 */
    uint16_t detail;  /* 0 to 999 */
} smtpstatus_code;

/* Flags of smtpstatus_code_parse(). */
#define SMTPSTATUS_PARSE_ALLOW_X 0x1u /* accept the class-free form "X.S.D" (x or X) */

/* The longest formatted code, "5.999.999", plus its NUL. */
#define SMTPSTATUS_CODE_STRLEN 10

/*
 * Parses exactly one enhanced status code from `s[0..len)` per RFC 3463:
 * class "." subject "." detail, where class is 2, 4 or 5 and subject and detail are 1 to 3
 * digits (leading zeros allowed, as the grammar allows them). No spaces or other characters are
 * allowed anywhere. Returns 0 and sets *out, or the error naming the first part that is wrong
 * (EEMPTY, ECLASS, ENOCLASSX, EDOT, ESUBJECT, EDETAIL, ETRAILING), leaving *out untouched.
 * `*errpos` (if not NULL) receives the byte offset of the offending character (len on success).
 * SMTPSTATUS_EINVAL, with *errpos 0, for a NULL `out`, a NULL `s` with len > 0, or unknown flags.
 */
int smtpstatus_code_parse(const char *s, size_t len, unsigned flags, smtpstatus_code *out,
                          size_t *errpos);

/* Writes "C.S.D" (or "X.S.D" when cls is 0) and a NUL into buf[0..size). Returns the length
 * written, without the NUL, or SMTPSTATUS_ENOSPC / SMTPSTATUS_EINVAL, in which case buf holds
 * "" (when size > 0): never a cut-off code that would read as another code. */
int smtpstatus_code_format(smtpstatus_code code, char *buf, size_t size);

/* An IANA pattern: "2.XXX.XXX" names a class, "X.2.XXX" (or "X.2.YYY") names a subject. */
typedef struct smtpstatus_pattern {
    uint8_t cls;      /* 2, 4 or 5 for a class pattern; 0 for a subject pattern */
    uint16_t subject; /* the subject, for a subject pattern */
} smtpstatus_pattern;

/* Parses an IANA pattern from s[0..len). A class pattern has cls 2, 4 or 5 (and subject 0); a
 * subject pattern has cls 0. Returns 0, or EEMPTY, ESUBJECT (a bad subject in "X.S.XXX"),
 * EPATTERN (anything else) or EINVAL; *errpos as for smtpstatus_code_parse(). */
int smtpstatus_pattern_parse(const char *s, size_t len, smtpstatus_pattern *out, size_t *errpos);

/* Parses a basic reply code, per RFC 5321 4.2: three digits, the first 2 to 5, the second
 * 0 to 5. Returns 0 and sets *out (200..559), or SMTPSTATUS_EBASIC. */
int smtpstatus_basic_parse(const char *s, size_t len, uint16_t *out);

/* ---- Registry images ------------------------------------------------------------------------ */

/* A validated, read-only registry image. Opaque. */
typedef struct smtpstatus_image smtpstatus_image;

/*
 * Validates the image in buf[0..len) and returns a handle to it in *out. It checks the magic,
 * version, size, both checksums, and every table offset, index, string and count against the
 * buffer, so that no later lookup can read outside it. The reason rules' pattern database is
 * the one part whose meaning it cannot check: its checksum and Vectorscan's header and CRC say
 * it is intact, but Vectorscan runs its bytecode as it finds it, so classify only with images
 * from a writer you trust (the daemon's, checked by owner, or the built-in one). The buffer
 * must be 8-byte aligned (64-byte aligned lets that database be used in place rather than
 * copied) and must stay valid, unchanged but for the superseded word, until
 * smtpstatus_image_close(). The handle is allocated here and owned by the caller. Returns 0,
 * SMTPSTATUS_ENOMEM, an EIMG_* error, or SMTPSTATUS_EINVAL for a NULL `out`, a NULL buffer or
 * one that is not 8-byte aligned.
 */
int smtpstatus_image_open(const void *buf, size_t len, smtpstatus_image **out);

/* Frees a handle from smtpstatus_image_open(). Does not touch the buffer. NULL is allowed. */
void smtpstatus_image_close(smtpstatus_image *img);

/* The image compiled from data/ at build time, validated on first use. Static storage: the
 * returned handle is never freed and is safe to share between threads. Returns NULL only if
 * the build produced an invalid image. */
const smtpstatus_image *smtpstatus_image_embedded(void);

/* Bytes of the embedded image, for writing it out. */
const void *smtpstatus_embedded_image_data(size_t *len);

typedef struct smtpstatus_image_summary {
    uint32_t version;
    uint64_t generation;
    uint64_t built_at;      /* Unix seconds */
    uint64_t source_digest; /* FNV-1a 64 of the source files */
    uint64_t checksum;
    uint64_t size;
    const char *source;     /* a directory, or "embedded" */
    uint32_t class_count;
    uint32_t subject_count;
    uint32_t code_count;
    uint32_t basic_count;
} smtpstatus_image_summary;

/* Fills *out with the image's header facts. */
void smtpstatus_image_summarize(const smtpstatus_image *img, smtpstatus_image_summary *out);

/* An extra CSV column kept from the source (a header IANA does not define). */
typedef struct smtpstatus_field {
    const char *name;
    const char *value;
} smtpstatus_field;

/* A class (2, 4, 5) or subject (X.S.XXX) sub-code entry, with IANA's fields. */
typedef struct smtpstatus_part {
    const char *title; /* IANA "Summary" */
    const char *description;
    const char *reference;
    const char *submitter;
    const char *change_controller;
    uint32_t field_count; /* extra columns; see smtpstatus_image_part_field() */
    uint32_t fields_first_;
} smtpstatus_part;

/* Which basic codes an enhanced code is associated with. */
#define SMTPSTATUS_ASSOC_ANY 0x1u       /* "Any" */
#define SMTPSTATUS_ASSOC_NOT_GIVEN 0x2u /* "Not given", or empty */
#define SMTPSTATUS_ASSOC_OTHERS_OK 0x4u /* other codes of the listed classes are allowed */

/* Flags of an entry. */
#define SMTPSTATUS_ENTRY_SHIFTED_ROW 0x1u /* IANA's row was shifted and repaired on load */

/*
 * The answer to a lookup of one code. A code is registered when its subject and detail are in
 * the enumerated table; an unregistered but valid code (5.1.99) still has its class and, when
 * known, its subject. Every pointer is into the image, NULL where noted, "" for empty fields.
 */
typedef struct smtpstatus_entry {
    smtpstatus_code code;
    int registered;             /* 1 if X.S.D is in the enumerated table */
    int subject_registered;     /* 1 if X.S.XXX is in the subject table */
    smtpstatus_part cls;        /* the class entry; all NULL when code.cls is 0 */
    smtpstatus_part subject;    /* the subject entry; all NULL when not subject_registered */
    const char *title;          /* IANA "Sample Text"; NULL when not registered */
    const char *description;
    const char *reference;
    const char *submitter;
    const char *change_controller;
    const char *basic_codes_raw; /* "Associated basic status code" as IANA wrote it */
    const uint16_t *basic_codes; /* exact associated codes, ascending; into the image */
    uint32_t basic_code_count;
    uint32_t basic_classes;      /* bit N set: "NXX" is associated */
    uint32_t assoc_flags;        /* SMTPSTATUS_ASSOC_* */
    uint32_t flags;              /* SMTPSTATUS_ENTRY_* */
    uint32_t line;               /* source line of the row, 0 for unregistered codes */
    uint32_t field_count;        /* extra columns; see smtpstatus_image_entry_field() */
    uint32_t fields_first_;
} smtpstatus_entry;

/*
 * Looks `code` up. Returns 0 and fills *out for every syntactically valid code, registered or
 * not; SMTPSTATUS_EINVAL for a code out of range. O(1), allocates nothing.
 */
int smtpstatus_image_lookup(const smtpstatus_image *img, smtpstatus_code code,
                            smtpstatus_entry *out);

/* Extra column i (< entry->field_count) of an entry or part. */
int smtpstatus_image_entry_field(const smtpstatus_image *img, const smtpstatus_entry *entry,
                                 uint32_t i, smtpstatus_field *out);
int smtpstatus_image_part_field(const smtpstatus_image *img, const smtpstatus_part *part,
                                uint32_t i, smtpstatus_field *out);

/* Number of registered enumerated codes, and the i-th in (subject, detail) order as a
 * class-free entry (code.cls 0). */
uint32_t smtpstatus_image_code_count(const smtpstatus_image *img);
int smtpstatus_image_code_at(const smtpstatus_image *img, uint32_t i, smtpstatus_entry *out);

/* Whether every word of `query` (separated by blanks) occurs, ASCII case-insensitively, in the
 * entry's title or description: the search rule that the daemon and the CLI share. An empty
 * query matches everything. */
int smtpstatus_entry_matches(const smtpstatus_entry *entry, const char *query);

/* Class i (in digit order) and subject i (in number order) of the image. */
uint32_t smtpstatus_image_class_count(const smtpstatus_image *img);
int smtpstatus_image_class_at(const smtpstatus_image *img, uint32_t i, uint8_t *digit,
                              smtpstatus_part *out);
uint32_t smtpstatus_image_subject_count(const smtpstatus_image *img);
int smtpstatus_image_subject_at(const smtpstatus_image *img, uint32_t i, uint16_t *subject,
                                smtpstatus_part *out);

/* How an enhanced code is tied to a basic code. */
typedef enum {
    SMTPSTATUS_MATCH_EXACT = 1,    /* the registry lists this basic code */
    SMTPSTATUS_MATCH_WILDCARD = 2, /* the registry lists its class, as "5XX" */
    SMTPSTATUS_MATCH_ANY = 3       /* the registry says "Any" */
} smtpstatus_match;

/* A basic reply code and the enhanced codes the registry associates with it. */
typedef struct smtpstatus_basic {
    uint16_t code;
    int standard;          /* 1 if an RFC defines this reply; text and reference are set */
    const char *text;      /* the RFC's reply text, placeholders such as <domain> included;
                              "" when not standard */
    const char *reference; /* "RFC 5321 4.2.3" and the like, "" when not standard */
    const char *sample_text; /* a default text a server may send as is: no placeholders; ""
                                when not standard or when the reply needs the caller's (334) */
    uint32_t assoc_count;  /* see smtpstatus_image_basic_assoc() */
    uint32_t assoc_first_;
} smtpstatus_basic;

/*
 * Looks a basic reply code up. Returns 0 for a code with a standard meaning or that some
 * enhanced code lists by number, SMTPSTATUS_ENOTFOUND for any other valid code (even one that a
 * "5XX" or "Any" entry would cover), SMTPSTATUS_EBASIC for an invalid one. The associations of
 * a record include codes that list it by number, by class ("5XX") and by "Any"; "Any" never
 * reaches a 3yz reply, which carries no enhanced code. O(1), allocates nothing.
 */
int smtpstatus_image_lookup_basic(const smtpstatus_image *img, uint16_t code,
                                  smtpstatus_basic *out);

/* Association i (< basic->assoc_count): the class-free enhanced code and how it matches.
 * Exact matches come first, then wildcards, then "Any". */
int smtpstatus_image_basic_assoc(const smtpstatus_image *img, const smtpstatus_basic *basic,
                                 uint32_t i, smtpstatus_code *code, smtpstatus_match *match);

/* Number of basic code records, and the i-th in ascending order. */
uint32_t smtpstatus_image_basic_count(const smtpstatus_image *img);
int smtpstatus_image_basic_at(const smtpstatus_image *img, uint32_t i, smtpstatus_basic *out);

/* ---- Rendering replies ---------------------------------------------------------------------- */

/* Output forms of smtpstatus_render(). */
typedef enum {
    SMTPSTATUS_FORM_REPLY = 0, /* the reply lines a server sends, each ending in CRLF */
    SMTPSTATUS_FORM_DSN = 1    /* RFC 3464 fields: Status, Action, Diagnostic-Code */
} smtpstatus_form;

#define SMTPSTATUS_WIDTH_DEFAULT 76u  /* octets per line, without CRLF */
#define SMTPSTATUS_WIDTH_MAX 510u     /* RFC 5321 4.5.3.1.5: 512 octets with CRLF */

typedef struct smtpstatus_render_options {
    unsigned width;       /* line length limit without CRLF; 0: SMTPSTATUS_WIDTH_DEFAULT */
    int smtputf8;         /* 1: the session negotiated SMTPUTF8, so UTF-8 text may be sent */
    smtpstatus_form form; /* SMTPSTATUS_FORM_REPLY or SMTPSTATUS_FORM_DSN */
} smtpstatus_render_options;

/* Warnings of smtpstatus_render(): the reply was rendered, but look at it. */
#define SMTPSTATUS_WARN_NOT_ASSOCIATED 0x1u /* the registry does not list this basic code */
#define SMTPSTATUS_WARN_UNREGISTERED 0x2u   /* the enhanced code is valid but not registered */
#define SMTPSTATUS_WARN_REPLACED 0x4u       /* control characters in the text were replaced */
#define SMTPSTATUS_WARN_SPLIT_WORD 0x8u     /* a word longer than a line was split */
#define SMTPSTATUS_WARN_CODE_LIKE_TEXT 0x10u /* no enhanced code was given, and a line's text
                                                starts with a dotted number ("4.2.2 ...") that
                                                a reader will take for one */

/*
 * Renders a reply for basic code `basic` (2yz to 5yz) with the enhanced code `*enhanced` (NULL
 * for none; a class-free code takes its class from `basic`) and the caller's text
 * (text[0..text_len), or NULL for the registry's sample text of the code, else the basic code's
 * sample text, which has no placeholders).
 *
 * The reply form follows RFC 5321 4.2 and RFC 2034: "550-5.1.1 text" continuation lines, a final
 * "550 5.1.1 text" line, the enhanced code on every line, CRLF after each, no line longer than
 * the width. Text is word-wrapped; a word longer than a line is split, never dropped. A line
 * break in the text (LF, CR or CRLF) starts a new line; no other control character is copied:
 * TAB becomes a space and the rest become '?'. Non-ASCII text is refused unless
 * opt->smtputf8, and must then be valid UTF-8, which is never split inside a character. The DSN
 * form writes "Status:", "Action:" and "Diagnostic-Code: smtp; ..." lines for the same status:
 * the reply is not wrapped at the width there (only at 510 octets) and the field is folded at
 * 78 octets instead. It needs a 2yz, 4yz or 5yz code and uses class.0.0 when no enhanced code is
 * given. With smtputf8, UTF-8 text makes those fields for message/global-delivery-status
 * (RFC 6533); without it they are ASCII, as message/delivery-status (RFC 3464) requires.
 *
 * Writes the output and a NUL into buf[0..size) and its length (without the NUL) into *len.
 * When buf is too small, returns SMTPSTATUS_ENOSPC with *len set to the size needed, less the
 * NUL, as snprintf() does, and buf holds "" (when size > 0): never a cut-off reply that a peer
 * would wait on. Refuses with EBASIC (basic outside 2yz-5yz), E3YZ (an enhanced code
 * on a 3yz reply), ECLASSMISMATCH (RFC 3463: the classes must agree), ENONASCII, EUTF8 or
 * EINVAL (a width too small for the code prefix and one character, or above
 * SMTPSTATUS_WIDTH_MAX). *warnings (if not NULL) gets SMTPSTATUS_WARN_* bits. Allocates nothing.
 */
int smtpstatus_render(const smtpstatus_image *img, uint16_t basic, const smtpstatus_code *enhanced,
                      const char *text, size_t text_len, const smtpstatus_render_options *opt,
                      char *buf, size_t size, size_t *len, unsigned *warnings);

/* ---- Classifying replies -------------------------------------------------------------------- */

typedef enum {
    SMTPSTATUS_KIND_UNKNOWN = 0,      /* no usable code */
    SMTPSTATUS_KIND_SUCCESS = 2,      /* 2yz */
    SMTPSTATUS_KIND_INTERMEDIATE = 3, /* 3yz */
    SMTPSTATUS_KIND_TRANSIENT = 4,    /* 4yz: try again later */
    SMTPSTATUS_KIND_PERMANENT = 5     /* 5yz: do not retry as is */
} smtpstatus_kind;

/* Problems found by smtpstatus_classify(). */
#define SMTPSTATUS_PROBLEM_BASIC_MISMATCH 0x001u    /* lines carry different basic codes */
#define SMTPSTATUS_PROBLEM_ENHANCED_MISMATCH 0x002u /* lines carry different enhanced codes */
#define SMTPSTATUS_PROBLEM_CLASS_MISMATCH 0x004u    /* a 2yz, 4yz or 5yz reply whose enhanced
                                                       class differs from its first digit */
#define SMTPSTATUS_PROBLEM_MALFORMED_LINE 0x008u    /* a line does not start "NNN-" or "NNN " */
#define SMTPSTATUS_PROBLEM_TRUNCATED 0x010u         /* the last line is a "NNN-" continuation, or
                                                       the input was over SMTPSTATUS_CLASSIFY_MAX */
#define SMTPSTATUS_PROBLEM_IP_NOT_CODE 0x020u       /* "550-192.0.2.1": an address, not a code */
#define SMTPSTATUS_PROBLEM_NO_CODE 0x040u           /* no basic code anywhere */
#define SMTPSTATUS_PROBLEM_ENHANCED_ON_3YZ 0x080u   /* a 3yz reply with an enhanced code */
#define SMTPSTATUS_PROBLEM_MISSING_ENHANCED 0x100u  /* some lines have the enhanced code, some not */
#define SMTPSTATUS_PROBLEM_LINE_TOO_LONG 0x200u     /* a line over 510 octets, not counting its
                                                       CRLF or LF (RFC 5321 4.5.3.1.5) */
#define SMTPSTATUS_PROBLEM_BAD_CHARACTER 0x400u     /* NUL, another C0 control but TAB, DEL, a
                                                       C1 control or ill-formed UTF-8; each
                                                       becomes '?' in the text */
#define SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR 0x800u /* a 4yz or 5yz basic code whose second
                                                          digit is over 5 ("571"): outside RFC
                                                          5321's grammar, reported all the same */

#define SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS 0x1000u /* the reason decided retry against the
                                                             reply's class: a 5yz retried
                                                             ("550 5.7.1 ... try again later"),
                                                             or a 4yz a rule says not to retry */
#define SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CODE 0x2000u  /* the reason is not what the enhanced
                                                             code alone means (Microsoft's 5.1.10
                                                             "RecipientNotFound" is bad-mailbox,
                                                             IANA's X.1.10 is a null MX) */

/*
 * Why a reply failed, or that it did not: the decision a mail helper acts on. The names
 * (smtpstatus_reason_name()) are the JSON and protobuf spellings.
 */
typedef enum smtpstatus_reason {
    SMTPSTATUS_REASON_SUCCESS = 1,     /* "success": a 2yz reply */
    SMTPSTATUS_REASON_INTERMEDIATE,    /* "intermediate": a 3yz reply (354, 334) */
    SMTPSTATUS_REASON_BAD_MAILBOX,     /* "bad-mailbox": no such recipient, invalid or moved */
    SMTPSTATUS_REASON_MAILBOX_DISABLED, /* "mailbox-disabled": exists but disabled, suspended,
                                           inactive or locked */
    SMTPSTATUS_REASON_MAILBOX_FULL,    /* "mailbox-full": over quota, mailbox or disk full */
    SMTPSTATUS_REASON_MESSAGE_TOO_BIG, /* "message-too-big": size limits */
    SMTPSTATUS_REASON_BAD_SENDER,      /* "bad-sender": the sender address or domain refused */
    SMTPSTATUS_REASON_POLICY,          /* "policy": spam and virus filters, block lists,
                                          reputation, rDNS and HELO policy, local policy */
    SMTPSTATUS_REASON_AUTH,            /* "auth": SPF, DKIM, DMARC, SMTP AUTH */
    SMTPSTATUS_REASON_ROUTING,         /* "routing": no such domain, null MX, relay denied,
                                          loops */
    SMTPSTATUS_REASON_RATE_LIMIT,      /* "rate-limit": rate, volume, connection and count
                                          limits */
    SMTPSTATUS_REASON_GREYLISTING,     /* "greylisting" */
    SMTPSTATUS_REASON_TLS_REQUIRED,    /* "tls-required": STARTTLS required, TLS failed */
    SMTPSTATUS_REASON_PROTOCOL,        /* "protocol": command sequence or syntax errors */
    SMTPSTATUS_REASON_CONTENT,         /* "content": message format problems */
    SMTPSTATUS_REASON_SERVER_ERROR,    /* "server-error": the receiver's own problems */
    SMTPSTATUS_REASON_EXPIRED,         /* "expired": expired in the queue, timeouts */
    SMTPSTATUS_REASON_OTHER,           /* "other": a failure that fits none of the above */
} smtpstatus_reason;
#define SMTPSTATUS_REASON_MAX SMTPSTATUS_REASON_OTHER

/* The name of a reason ("bad-mailbox"); NULL for a value out of range. Static. */
const char *smtpstatus_reason_name(smtpstatus_reason reason);

/* The reason named `name` (exactly as smtpstatus_reason_name() spells it), or 0 when none is. */
smtpstatus_reason smtpstatus_reason_from_name(const char *name, size_t len);

/* ---- Vendor codes ----------------------------------------------------------------------------- */

/*
 * What a large mail provider documents one of its codes to mean: an enhanced code it uses its
 * own way or that IANA does not register (Microsoft's 5.7.708 and 5.1.10, Gmail's 4.7.28), or a
 * token of its own (Yahoo's "TSS04"). Vendor rows never change the registry's answer: a lookup
 * of 5.1.10 stays IANA's null MX, with Microsoft's use beside it. The rows come from the
 * project's data/vendors.csv. Every pointer is into the image the row came from (for the
 * smtpstatus_image_* calls below, possibly the embedded image, which lives for the whole
 * program), or into the result (smtpstatus_result_vendor()).
 */
typedef struct smtpstatus_vendor {
    const char *provider;     /* "Microsoft 365", "Gmail", "Yahoo", ... */
    const char *code;         /* as the provider writes it: "5.7.708", "TSS04" */
    const char *meaning;      /* what it means and what to do, in the project's own words */
    smtpstatus_reason reason; /* the reason it stands for */
    const char *source;       /* the provider's documentation the fact comes from */
} smtpstatus_vendor;

/*
 * The vendor rows for `code`: those the providers document for its class, and those used in any
 * class; a class-free code (X.7.708, cls 0) gets the rows of every class. Writes the first
 * min(cap, *count) rows to out[] in the image's order (by class, then provider) and sets *count
 * to the number of rows there are, so a caller may ask with cap 0 first. An image that carries
 * no vendor rows (vendor_count 0, as the daemon's published images may be) is answered from the
 * embedded image's. Returns 0, or SMTPSTATUS_EINVAL for a code out of range, a NULL `count`, or
 * a NULL `out` with cap > 0. O(log n) in the rows, allocates nothing.
 */
int smtpstatus_image_vendors(const smtpstatus_image *img, smtpstatus_code code,
                             smtpstatus_vendor *out, size_t cap, size_t *count);

/*
 * The vendor rows for a provider's own token, token[0..len) ("TSS04", "RTR:BB"), compared
 * ignoring ASCII letter case; as smtpstatus_image_vendors() otherwise. A word that is not a
 * token (an enhanced code, too long, empty) simply has no rows. Returns 0, or SMTPSTATUS_EINVAL
 * for a NULL `count`, a NULL token with len > 0, or a NULL `out` with cap > 0.
 */
int smtpstatus_image_vendor_token(const smtpstatus_image *img, const char *token, size_t len,
                                  smtpstatus_vendor *out, size_t cap, size_t *count);

/* Number of vendor rows the image answers with (the embedded image's when it has none), and
 * row i of them in table order: enhanced codes by (subject, detail, class), then tokens. */
uint32_t smtpstatus_image_vendor_count(const smtpstatus_image *img);
int smtpstatus_image_vendor_at(const smtpstatus_image *img, uint32_t i, smtpstatus_vendor *out);

/* The largest reply smtpstatus_classify() reads; longer input is cut and marked. */
#define SMTPSTATUS_CLASSIFY_MAX 65536u

typedef struct smtpstatus_classification {
    uint16_t basic;           /* the basic code, or 0 when none was found */
    int has_enhanced;         /* 1 if an enhanced code was found */
    smtpstatus_code enhanced; /* valid when has_enhanced */
    smtpstatus_kind kind;     /* from the basic code; from the enhanced class without one */
    int retry;                /* 1 for a transient failure: queue and try again later */
    unsigned problems;        /* SMTPSTATUS_PROBLEM_* */
    unsigned line_count;      /* reply lines seen */
    smtpstatus_entry entry;   /* the registry's answer for the enhanced code (has_enhanced) */
    size_t text_len;          /* full length of the text, without the NUL; more than
                                 text_size - 1 when it was cut */
    smtpstatus_reason reason; /* always set (SMTPSTATUS_REASON_OTHER when nothing tells) */
    int recipient_invalid;    /* 1 only when the reply proves the address is gone: stop
                                 sending to it */
    uint32_t retry_after;     /* seconds the text asks to wait ("try again in 5 minutes"), or 0 */
    const char *rule;         /* the rule that decided: "FILE:LINE" or a built-in rule's name;
                                 "" when none did. Into img's memory: valid as long as img is
                                 (from smtpstatus_result_classification(): as long as the
                                 result is) */
    const char *rule_note;    /* what to do, for people; "" when the rule has none. As rule */
    int has_status;           /* 1 when the rule gives a status to report instead */
    smtpstatus_code status;   /* valid when has_status */
} smtpstatus_classification;

/*
 * Classifies a raw reply as received (reply[0..len): one line or many, CRLF or LF, possibly
 * damaged). It finds the basic code at the start of each line, and the enhanced code where
 * servers put it: after the basic code and its ' ' or '-', or in "(#5.1.1)" and "#5.1.0" forms
 * anywhere in the text. Subject and detail have 1 to 3 digits (5.1.10, 5.7.708). A dotted
 * number with more parts (an IPv4 address) is never taken for a code. The parser never invents a
 * code it did not see.
 *
 * It also reads replies as they reach helpers: quoted in an MTA's or a DSN's words (Postfix
 * "host H[A] said: 550 ...", Exim "SMTP error from remote mail server after RCPT TO:<a@b>:
 * 550 ...", Sendmail "Deferred: 451 ..." and "<<< 550 ...", qmail "Remote host said: ...",
 * OpenSMTPD 'stat="550 ..."', "BANNER rejected: 554 ..." and "x@example.com: 550 ...",
 * Exchange "Remote Server returned '550 ...'" and "#550 5.1.1 ... ##" at a line's start,
 * "Diagnostic-Code: smtp; 550 ..."), a reply
 * quoted inside another (the inner one is reported, its text is the text; see
 * smtpstatus_classify_origin() for the outer one), a multi-line reply Postfix joined into one
 * line, a doubled basic code ("554 554 5.7.0"), an enhanced code later in the text of a 4yz or
 * 5yz reply when it has the basic code's class and a subject of 0 to 7 ("450 cuda_nsu 4.7.1",
 * "553 ... - 5.7.1 [BL23]"), and an enhanced code alone ("5.7.8 Username ..."). Client
 * libraries' and logs' words count too: a basic code in brackets or parentheses after "Error" or
 * "SMTP" ("SMTP Error (550): ..."), "...Exception: 451 ...", "Error: 550 ...", the reply a
 * client got ("Expected response code(s) [250] but got response [530 5.7.0 ...]", 'got code
 * "503", with message "503 ..."'; the code it expected is never the reply), a basic code after
 * a log's time of day ("09:01:36 PM CET  452 ..."), and an enhanced code alone after Postfix's
 * "dsn=", a DSN's "Status:", a command named in quotes ("'RCPT': 4.2.0 ...") or a log's
 * "host[A]: ". In a session transcript the server's lines ("S:", "<<<", "SMTP<<", swaks' "<-"
 * and "<**") are read without their marker, the client's (">>>", "C:", "->", "SMTP>>") never,
 * the last failure decides, and a line without a marker after a server line is the MTA's own
 * summary, not the reply. A reply quoted in the text of an expiry (X.4.7) is context. A time, a
 * date, a port or a number in words is never a code. Vendors'
 * pseudo-codes ("[#4.16.1]", "4.16.55.1", "(554.30)") are not codes. A 4yz or 5yz basic code
 * with a second digit over 5 ("571") is reported with SMTPSTATUS_PROBLEM_BASIC_OUT_OF_GRAMMAR.
 * When the lines of a reply carry different basic codes, the final line's decides
 * (BASIC_MISMATCH is set), and the enhanced code is the first one of the lines with it.
 *
 * Reason: the reason rules of `img` (the administrator's first, then the built-in ones; the
 * embedded image's built-in rules when img is NULL) are tried in order over the reported reply's
 * text and codes, and the first that matches decides out->reason, out->rule and out->rule_note.
 * Matching runs all patterns in one pass and allocates nothing after the first call on a thread
 * for an image (which sets up that thread's scratch space; on ENOMEM the reason is decided from
 * the codes alone and out->rule is "").
 *
 * Retry rule: the basic code decides, unless the reason does. RFC 5321 makes the basic code
 * drive the SMTP state machine, and RFC 3463 says the enhanced code refines it but does not
 * replace it; so when the two classes disagree (450 with 5.1.1), the reply is transient and
 * retried, and SMTPSTATUS_PROBLEM_CLASS_MISMATCH is set. Only when no basic code was found does
 * the enhanced class decide. 2yz and 3yz are never retried. A 5yz reply whose reason is
 * rate-limit or greylisting, or a reply whose rule says Retry yes or no against its class, is
 * decided by the reason, with SMTPSTATUS_PROBLEM_REASON_OVERRIDES_CLASS. out->recipient_invalid
 * is 1 only for a permanent bad-mailbox failure.
 *
 * The text, with each line's code prefixes removed and lines joined by LF, goes to
 * text[0..text_size) with a NUL (cut if it does not fit; out->text_len is the full length).
 * `img` (may be NULL) fills out->entry, which is all zero without an enhanced code or without
 * img. The enhanced code after the prefix counts only when a space, a TAB or the end of the
 * line follows it. The text is valid UTF-8, also when cut short by text_size: it is cut
 * between characters. A line ends at LF (a CR just before it is part of the ending); a final
 * line ending does not start a new line. Returns 0, or ENOREPLY when no basic or enhanced code was
 * found (out is still filled), or EINVAL, with *out untouched, for a NULL out, a NULL reply with
 * len > 0, or a NULL text with text_size > 0. Allocates nothing.
 */
int smtpstatus_classify(const smtpstatus_image *img, const char *reply, size_t len,
                        smtpstatus_classification *out, char *text, size_t text_size);

/* How smtpstatus_classify_origin() found the reply it reports (smtpstatus_reply_origin.found). */
#define SMTPSTATUS_FOUND_WRAPPED 0x01u          /* inside words before it on its line: an MTA's
                                                   ("host H[A] said:", "Remote Server returned '",
                                                   "Deferred:") or a DSN's ("Diagnostic-Code:
                                                   smtp;") */
#define SMTPSTATUS_FOUND_NESTED 0x02u           /* quoted in another reply's text; that outer
                                                   reply is kept as context */
#define SMTPSTATUS_FOUND_ENHANCED_IN_TEXT 0x04u /* the enhanced code stood later in the text
                                                   ("553 ... - 5.7.1 [BL23]", "450 cuda_nsu
                                                   4.7.1 ...") */
#define SMTPSTATUS_FOUND_ENHANCED_ALONE 0x08u   /* an enhanced code with no basic code before it
                                                   ("5.7.8 Username and ...") */
#define SMTPSTATUS_FOUND_DOUBLED 0x10u          /* the basic code twice ("554 554 5.7.0") */

/*
 * Where the reported reply was found in the input. Every pointer points into the `reply` buffer
 * given to smtpstatus_classify_origin() and is valid exactly as long as that buffer is; nothing
 * is allocated or copied. A span is NULL with length 0 when there is none.
 */
typedef struct smtpstatus_reply_origin {
    unsigned found;       /* SMTPSTATUS_FOUND_* */
    const char *reply;    /* the reported reply: from its first code (or the start of its first
                             line, when only a '#' code was found) to the end of its last line */
    size_t reply_len;
    const char *wrapper;  /* the words before the reply on its first line, trimmed ("host
                             mx.example.com[192.0.2.1] said:"), when FOUND_WRAPPED */
    size_t wrapper_len;
    uint16_t outer_basic; /* the outer reply of FOUND_NESTED (0: none, or it had no basic code) */
    int outer_has_enhanced;
    smtpstatus_code outer_enhanced; /* valid when outer_has_enhanced */
    const char *outer;    /* the outer reply, from its first code to the inner reply's code */
    size_t outer_len;
} smtpstatus_reply_origin;

/*
 * smtpstatus_classify(), and where the reply was found. The same arguments, results and
 * errors, and then *origin (may be NULL) is filled, also for ENOREPLY (all zero then); it is
 * untouched on EINVAL. A reply quoted inside another (a relay's "554 5.0.0 ... host H said:
 * 550 5.1.1 ...") is reported, since its server is the one that refused; the outer reply's
 * codes and span are the context in *origin, and the text is the inner reply's. Allocates
 * nothing.
 */
int smtpstatus_classify_origin(const smtpstatus_image *img, const char *reply, size_t len,
                               smtpstatus_classification *out, char *text, size_t text_size,
                               smtpstatus_reply_origin *origin);

/* Static names: "success", "intermediate", "transient", "permanent", "unknown". */
const char *smtpstatus_kind_name(smtpstatus_kind kind);

/* The name of one SMTPSTATUS_PROBLEM_* bit, e.g. "class_mismatch"; NULL for 0, an unknown bit,
 * or more than one bit. */
const char *smtpstatus_problem_name(unsigned problem);

/* ---- Asking the daemon ----------------------------------------------------------------------- */

/*
 * A handle on the daemon. Lookups, lookups by basic code, search, list, render and classify are
 * answered in-process from the daemon's shared image whenever it is usable (see "Answering from
 * the shared image" below), by the same code the daemon answers its socket with; the result
 * then pins the image until it is freed. Otherwise, and for registry info, reload and stats,
 * the handle asks over the socket: it connects on first use, and reconnects once when the
 * connection turns out to be broken (the daemon restarted). One handle may be shared by several
 * threads: socket calls on it are serialized. Every socket call has a timeout covering connect,
 * send and receive.
 */
typedef struct smtpstatus smtpstatus;

typedef struct smtpstatus_options {
    const char *rundir;  /* NULL: smtpstatus_default_rundir() */
    unsigned timeout_ms; /* each call's limit; 0: 5000 */
    int socket_only;     /* never map the shared image: every answer comes from the socket */
} smtpstatus_options;

/* Creates a handle (owned by the caller; smtpstatus_close() frees it). Does not connect yet.
 * Returns 0, SMTPSTATUS_ENOMEM, or SMTPSTATUS_ENOSPC when the socket path is too long. */
int smtpstatus_open(const smtpstatus_options *opt, smtpstatus **out);

/* Closes the connection and frees the handle. NULL is allowed. */
void smtpstatus_close(smtpstatus *h);

/* The socket path of a handle ("RUNDIR/smtpstatusd.sock"); valid while the handle is. */
const char *smtpstatus_socket_path(const smtpstatus *h);

/*
 * A daemon's answer. Owned by the caller and freed with smtpstatus_result_free(); every pointer
 * an accessor returns stays valid until then. A call that returns 0 or the error the daemon
 * sent (EINVAL, ENOTFOUND, EPERM, ERELOAD, EBUSY, EDAEMON) also sets *out, so that
 * smtpstatus_result_message() and smtpstatus_result_problem() can say why; a transport error
 * (EUNAVAILABLE, ETIMEOUT, EPROTO, ENOMEM) leaves *out NULL.
 */
typedef struct smtpstatus_result smtpstatus_result;

void smtpstatus_result_free(smtpstatus_result *r);

/* The daemon's error message ("" when it answered), and its i-th problem ("file:line:col:
 * error: ...") for a failed reload; NULL past the last. */
const char *smtpstatus_result_message(const smtpstatus_result *r);
const char *smtpstatus_result_problem(const smtpstatus_result *r, size_t i);

/* Lookups of one or more codes ("5.1.1", "X.1.1"; at most 1024), in request order. */
int smtpstatus_lookup(smtpstatus *h, const char *const *codes, size_t n,
                      smtpstatus_result **out);

/* The registry's codes whose title or description holds every word of `query`. */
int smtpstatus_search(smtpstatus *h, const char *query, unsigned limit, smtpstatus_result **out);

/* Every registered code, or those of one subject (subject >= 0). */
int smtpstatus_list(smtpstatus *h, int subject, smtpstatus_result **out);

/* Entries of a lookup, search or list answer. */
size_t smtpstatus_result_entry_count(const smtpstatus_result *r);

/*
 * Entry i as a smtpstatus_entry (pointers into r; extra CSV fields are not carried over the
 * socket, so field_count is 0). Returns 0; SMTPSTATUS_EINVAL past the end; or, for a code the
 * daemon could not look up, SMTPSTATUS_EINVAL with *why (if not NULL) set to its reason.
 */
int smtpstatus_result_entry(const smtpstatus_result *r, size_t i, smtpstatus_entry *out,
                            const char **why);

/*
 * The vendor rows the daemon sent with entry i of a lookup, search or list answer (i 0: the
 * entry of a classify answer): their number, and row k of them (pointers into r). A lookup of a
 * provider's token ("TSS04") answers with an entry whose code is the token, registered false,
 * and the token's rows; smtpstatus_result_entry() refuses it (SMTPSTATUS_EINVAL, *why saying it
 * is a provider's code), and smtpstatus_result_entry_code() gives its text. An unknown reason
 * name from a newer daemon reads as SMTPSTATUS_REASON_OTHER. smtpstatus_result_vendor() returns
 * 0, or SMTPSTATUS_EINVAL past the end.
 */
size_t smtpstatus_result_vendor_count(const smtpstatus_result *r, size_t i);
int smtpstatus_result_vendor(const smtpstatus_result *r, size_t i, size_t k,
                             smtpstatus_vendor *out);

/* The code of entry i as the daemon wrote it ("5.1.1", "X.1.1", "TSS04"); NULL past the end.
 * Valid until smtpstatus_result_free(r). */
const char *smtpstatus_result_entry_code(const smtpstatus_result *r, size_t i);

/* A basic reply code and its associations. */
int smtpstatus_lookup_basic_remote(smtpstatus *h, uint16_t basic, smtpstatus_result **out);

typedef struct smtpstatus_basic_answer {
    uint16_t code;
    int standard;
    const char *text;
    const char *reference;
    size_t assoc_count;
} smtpstatus_basic_answer;

int smtpstatus_result_basic(const smtpstatus_result *r, smtpstatus_basic_answer *out);
int smtpstatus_result_basic_assoc(const smtpstatus_result *r, size_t i, smtpstatus_code *code,
                                  smtpstatus_match *match, const char **title);

/* Renders through the daemon, with the registry it serves. Arguments as smtpstatus_render(),
 * but the enhanced code is text ("5.1.1", "X.1.1"; NULL or "" for none) and text NULL means the
 * default text. */
int smtpstatus_render_remote(smtpstatus *h, uint16_t basic, const char *enhanced,
                             const char *text, const smtpstatus_render_options *opt,
                             smtpstatus_result **out);

/* The output of a render answer (CRLF line ends), its lines without CRLF, and its warnings
 * (names such as "not_associated"). Line i and warning i are NULL past the last. */
const char *smtpstatus_result_render_output(const smtpstatus_result *r);
const char *smtpstatus_result_render_line(const smtpstatus_result *r, size_t i);
const char *smtpstatus_result_render_warning(const smtpstatus_result *r, size_t i);

/* Classifies a reply through the daemon, with the registry it serves. */
int smtpstatus_classify_remote(smtpstatus *h, const char *reply, size_t len,
                               smtpstatus_result **out);

/* A classify answer as a smtpstatus_classification (text_len set, entry filled when an enhanced
 * code was found, and the reason, retry_after, recipient_invalid, rule, rule_note and status
 * the daemon decided) and its text in *text. Here rule, rule_note, the entry's strings and
 * *text point into r, not into an image: they stay valid until smtpstatus_result_free(r). The
 * line count is not carried over the socket and stays 0. */
int smtpstatus_result_classification(const smtpstatus_result *r, smtpstatus_classification *out,
                                     const char **text);

/* ---- Bounce messages ---------------------------------------------------------------------- */

/*
 * One recipient of a bounce message (a delivery status notification, RFC 3464, or one of the
 * common plain-text bounces: qmail, Exim, Gmail, Microsoft). The strings are the message's,
 * unfolded and made valid UTF-8; "" when the message does not say. The classification is of
 * the diagnostic code (the remote server's reply) with the registry and rules of whoever
 * parsed it, or of the status alone when there is no reply.
 */
typedef struct smtpstatus_bounce_recipient {
    const char *final_recipient;    /* "user@example.org": the address, its type ("rfc822;")
                                       dropped and a utf-8 type's \x{HH} escapes decoded */
    const char *original_recipient; /* the same, of Original-Recipient */
    const char *action;             /* "failed", "delayed", "delivered", "relayed", "expanded" */
    int failed;                     /* 1 when the message bounced for this recipient (action
                                       "failed"); a delayed recipient is reported with 0 */
    const char *status;             /* "5.1.1"; for a bounce without one, the classified
                                       reply's enhanced code or CLASS.0.0 */
    const char *remote_mta;         /* "mx.example.org" or "192.0.2.25", type dropped */
    const char *diagnostic_code;    /* the reply as the report gives it, type dropped
                                       ("550 5.1.1 <user@example.org>: ... unknown") */
    const char *last_attempt_date;  /* as written */
    const char *will_retry_until;   /* as written */
    smtpstatus_reason reason;       /* the classification of the diagnostic code */
    int retry;
    int recipient_invalid;
    uint32_t retry_after;
    const char *rule;               /* "" when no rule decided */
} smtpstatus_bounce_recipient;

/* The largest message a daemon takes over its socket: the frame limit less room for the
 * request around it. smtpstatus_bounce_remote() sends the first this many bytes of a longer
 * one and says so (the report parts come before the returned message, which is what makes a
 * bounce long). */
#define SMTPSTATUS_BOUNCE_REMOTE_MAX 65000u

/*
 * Parses a bounce message msg[0..len) through the daemon (which holds the MIME parser, so
 * that this library does not load GLib). A message over SMTPSTATUS_BOUNCE_REMOTE_MAX is cut
 * to that many bytes first (smtpstatus_result_bounce() then sets *truncated). Returns 0, or
 * SMTPSTATUS_EINVAL with the daemon's message (smtpstatus_result_message()) when the message is
 * not a bounce it can read, or a transport error; *out as for the other calls.
 */
int smtpstatus_bounce_remote(smtpstatus *h, const char *msg, size_t len, smtpstatus_result **out);

/* A bounce answer: its format ("dsn", "qmail", "exim", "gmail", "microsoft"), the reporting
 * MTA ("" when none), the number of recipients, and whether the message or its recipients were
 * cut to a limit. Strings are r's. Returns 0 or SMTPSTATUS_EINVAL for another kind of
 * answer. */
int smtpstatus_result_bounce(const smtpstatus_result *r, const char **format,
                             const char **reporting_mta, size_t *count, int *truncated);

/* Recipient i of a bounce answer, its strings r's. Returns 0, or SMTPSTATUS_EINVAL past the
 * last or for another kind of answer. */
int smtpstatus_result_bounce_recipient(const smtpstatus_result *r, size_t i,
                                       smtpstatus_bounce_recipient *out);

/* What the daemon serves. */
typedef struct smtpstatus_registry_info {
    uint64_t generation;
    const char *source;   /* a directory, or "embedded" */
    uint64_t loaded_at;   /* Unix seconds */
    const char *digest;   /* hex FNV-1a 64 of the source files */
    uint32_t class_count, subject_count, code_count, basic_count;
    const char *const *added; /* the diff of the reload that made this registry */
    size_t added_count;
    const char *const *removed;
    size_t removed_count;
    const char *const *changed;
    size_t changed_count;
    const char *const *warnings; /* the loader's warnings, "file:line:col: warning: ..." */
    size_t warning_count;
    size_t field_change_count;    /* fields of the changed codes that changed: see
                                     smtpstatus_result_code_change() */
    uint32_t descriptions_differ; /* from the built-in registry (whose descriptions are the
                                     project's own words): codes whose description changed,
                                     counted here instead of listed as field changes */
} smtpstatus_registry_info;

/* One field of one changed code, with its old and new values ("" when empty or absent). */
typedef struct smtpstatus_code_change {
    const char *code;      /* "X.S.D" */
    const char *field;     /* "title", "description", "basic_codes", "reference", "submitter",
                              "change_controller", or "field:NAME" for an extra column */
    const char *old_value;
    const char *new_value;
} smtpstatus_code_change;

int smtpstatus_registry_info_get(smtpstatus *h, smtpstatus_result **out);

/* Field change i (< field_change_count) of a registry-info or reload answer: the reload's for a
 * reload answer, else the last successful reload's. Returns 0, or SMTPSTATUS_EINVAL past the
 * last or for another kind of answer. Strings are r's. */
int smtpstatus_result_code_change(const smtpstatus_result *r, size_t i,
                                  smtpstatus_code_change *out);

/* Reloads `dir` (NULL: the daemon's configured directory). Admin only: EPERM otherwise.
 * ERELOAD when the registry is broken (the problems say where); nothing changes then. */
int smtpstatus_reload(smtpstatus *h, const char *dir, smtpstatus_result **out);

/* The registry of a registry-info or reload answer. */
int smtpstatus_result_registry(const smtpstatus_result *r, smtpstatus_registry_info *out);

/* The last reload the daemon tried since it started, whether it worked or not. */
typedef struct smtpstatus_reload_attempt {
    uint64_t at;                 /* Unix seconds, when it ended */
    const char *source;          /* the directory it read; "" when none was given or configured */
    const char *trigger;         /* "signal", "socket" or "http" */
    int ok;                      /* 1: a new generation is served; 0: nothing changed */
    const char *const *problems; /* why it failed, and its warnings: "file:line:col: error: ..." */
    size_t problem_count;
} smtpstatus_reload_attempt;

/* The last reload attempt that a registry-info or reload answer reports. Returns 0;
 * SMTPSTATUS_ENOTFOUND when the daemon has tried none since it started; SMTPSTATUS_EINVAL for
 * another kind of answer. The strings are r's: valid until smtpstatus_result_free(r). */
int smtpstatus_result_last_reload(const smtpstatus_result *r, smtpstatus_reload_attempt *out);

/* The reason rules of the generation that a registry-info or reload answer describes. */
typedef struct smtpstatus_rules_info {
    const char *file;       /* the administrator's rules file in use; "" when none */
    uint32_t admin_count;   /* the administrator's rules, tried first */
    uint32_t builtin_count; /* the built-in rules */
    size_t change_count;    /* rules the reload changed: see smtpstatus_result_rule_change() */
} smtpstatus_rules_info;

/* One rule that a reload added, removed or changed. */
typedef struct smtpstatus_rule_change {
    const char *change;   /* "added", "removed" (as it was) or "changed" (as it is now) */
    const char *name;     /* the rule's Name, or FILE:LINE for an administrator's rule without */
    const char *was;      /* "changed": the name it had before when that differs; else "" */
    const char *reason;   /* "rate-limit", ... */
    const char *basic;    /* "550", "5XX" or "" */
    const char *enhanced; /* "5.7.1", "X.7.1", "5.7.X" or "" */
    const char *pattern;  /* as written; "" for none */
    int admin;            /* 1: from the administrator's rules file */
} smtpstatus_rule_change;

/* The rules of a registry-info or reload answer (zeros and "" from a daemon that does not say).
 * The changes are the reload's for a reload answer, else the last successful reload's. Returns
 * 0 or SMTPSTATUS_EINVAL for another kind of answer. Strings are r's. */
int smtpstatus_result_rules(const smtpstatus_result *r, smtpstatus_rules_info *out);

/* Change i (added first, then removed, then changed) of a registry-info or reload answer.
 * Returns 0, or SMTPSTATUS_EINVAL past the last or for another kind of answer. */
int smtpstatus_result_rule_change(const smtpstatus_result *r, size_t i,
                                  smtpstatus_rule_change *out);

/* The daemon's counters. */
int smtpstatus_stats(smtpstatus *h, smtpstatus_result **out);

/* Counter i of a stats answer: its group ("requests", "errors", or "daemon" for
 * connections_open, connections_total, reloads_ok, reloads_failed, generation,
 * uptime_seconds), name and value. SMTPSTATUS_EINVAL past the last. */
int smtpstatus_result_counter(const smtpstatus_result *r, size_t i, const char **group,
                              const char **name, uint64_t *value);

/* ---- Answering from the shared image --------------------------------------------------------- */

/*
 * The daemon publishes the registry it serves as an image file, RUNDIR/registry. A handle maps
 * it on first use and answers lookups, lookups by basic code, render and classify in-process,
 * with the smtpstatus_image_* functions above: no syscall, no allocation, no round trip.
 *
 * Trust: the file is opened with O_NOFOLLOW and must be a regular file owned by root, by the
 * caller's own user, or by the owner of the run directory when only root can have made that
 * directory (its parent is not writable by others); it must not be writable by group or others.
 * It is mapped read-only and validated whole (magic, version, every offset and length, both
 * checksums) before the first lookup; the daemon's sealed memfd, which the daemon validated
 * whole before it sealed it, has its reason rules' database checked before the first
 * classification instead (its header, and Vectorscan's CRC of its bytecode), and a database
 * that fails is not used (the patterns match nothing; the code-only rules decide). An image
 * that fails any check is refused, the reason is
 * kept for smtpstatus_client_status_get(), and the socket answers instead; attaching is retried
 * with a backoff from 100 ms to 5 s, so a broken file costs a few syscalls a second, not one per
 * call.
 *
 * Lifetime: a pinned image, and every pointer taken from it, stays valid until it is unpinned,
 * even after the daemon has published a newer image, stopped or been killed (the file is never
 * changed, only superseded). Unpinned images that the daemon has superseded are unmapped, so a
 * long-lived process holds at most the current mapping plus the ones it still pins.
 *
 * Threads: every function here may be called from any thread on a shared handle; a pinned image
 * may be read from any thread. Pinning takes no lock. The library never installs signal handlers
 * and never aborts; the daemon never truncates a published file, so a mapping cannot fault.
 */

/* Pins the current shared image into *img. Returns 0, or why no usable image is there now: an
 * SMTPSTATUS_EIMG_* error (missing, refused, corrupt), a negative errno, or
 * SMTPSTATUS_EUNAVAILABLE for a socket_only handle; then *img is NULL and the socket functions
 * answer. Each pin is released with smtpstatus_unpin(). */
int smtpstatus_pin(smtpstatus *h, const smtpstatus_image **img);

/* Releases a pin from smtpstatus_pin() or smtpstatus_refresh(). NULL is allowed. */
void smtpstatus_unpin(smtpstatus *h, const smtpstatus_image *img);

/*
 * Keeps a pinned image current, for a caller that holds one across many lookups. *img is a pin
 * or NULL. When the daemon has not superseded it this is one acquire load and returns 0 at once;
 * otherwise the pin is released, and *img becomes a pin of the new image (0), or NULL
 * (an error as smtpstatus_pin(): use the socket). Pointers taken from the old image are invalid
 * after a call that changed *img.
 */
int smtpstatus_refresh(smtpstatus *h, const smtpstatus_image **img);

/*
 * smtpstatus_refresh(h, img), then smtpstatus_image_lookup(*img, code, out), in one call: the
 * usual way to look codes up through the shared image. Returns as smtpstatus_image_lookup(), or
 * with *img NULL an error as smtpstatus_pin() when no image is usable (ask the socket).
 */
int smtpstatus_shared_lookup(smtpstatus *h, const smtpstatus_image **img, smtpstatus_code code,
                             smtpstatus_entry *out);

/* Where the shared image in use came from. */
typedef enum smtpstatus_image_origin {
    SMTPSTATUS_ORIGIN_NONE = 0,   /* no image in use */
    SMTPSTATUS_ORIGIN_DAEMON = 1, /* the running daemon's sealed memfd, from RUNDIR/image.sock:
                                     each reload reaches it at once */
    SMTPSTATUS_ORIGIN_COPY = 2    /* a private copy of RUNDIR/registry, taken when no daemon
                                     answered there; checked for a newer image once a second */
} smtpstatus_image_origin;

/* Which path answers, and how it went. */
typedef struct smtpstatus_client_status {
    int shared;             /* 1: the shared image answers; 0: the socket does */
    const char *image_path; /* RUNDIR/registry; valid while the handle is */
    uint64_t generation;    /* of the image in use; 0 when none */
    int error;              /* why no image is in use: an SMTPSTATUS_EIMG_* error, or a negative
                               errno; 0 when one is, or none was tried */
    char error_detail[320]; /* the same for a person: "PATH: reason" */
    uint64_t pins;          /* answers from the shared image: pins, and calls answered from it */
    uint64_t socket_calls;  /* answers from the daemon's socket */
    uint64_t attaches;      /* images mapped and validated */
    uint64_t refusals;      /* images refused, or found missing */
    uint32_t mappings;      /* images mapped now: the current one, and superseded pinned ones */
    smtpstatus_image_origin origin; /* of the image in use */
    int64_t published_at;   /* when the image in use was published (Unix seconds: the mtime of
                               the memfd or of the file copied); 0 when none */
} smtpstatus_client_status;

void smtpstatus_client_status_get(smtpstatus *h, smtpstatus_client_status *out);

/* ---- Where the daemon lives ------------------------------------------------------------------ */

/* The system daemon's run directory (systemd's RuntimeDirectory=smtpstatusd). */
#define SMTPSTATUS_RUNDIR_DEFAULT "/run/smtpstatusd"

/*
 * The run directory that the daemon and its clients agree on, written into buf[0..size):
 * $SMTPSTATUS_RUNDIR, else SMTPSTATUS_RUNDIR_DEFAULT, whoever the caller is, so that local mail
 * software finds the system daemon; a per-user daemon is asked for by setting the variable.
 * Returns 0, or SMTPSTATUS_ENOSPC.
 *
 * Trust: a handle believes a run directory, its socket and its image only when root, the caller
 * or the daemon's user owns them (the directory's owner, when its parent is root's and nobody
 * else may write there) and nobody else may write the directory or the image. It checks the
 * directory before it connects and the serving process's user (SO_PEERCRED) after; a refusal is
 * SMTPSTATUS_ERUNDIR_FOREIGN or SMTPSTATUS_EPEER_FOREIGN, and smtpstatus_socket_refusal() says
 * why. An image that fails the same rules is SMTPSTATUS_EIMG_FOREIGN.
 */
int smtpstatus_default_rundir(char *buf, size_t size);

/*
 * Why the handle last refused the daemon's socket, for a person: "PATH: reason" into
 * buf[0..size), truncated to fit. Returns that refusal's error (SMTPSTATUS_ERUNDIR_FOREIGN or
 * SMTPSTATUS_EPEER_FOREIGN), or 0 with buf "" when no socket has been refused since the handle
 * last connected; SMTPSTATUS_EINVAL for a NULL argument or size 0. Thread-safe.
 */
int smtpstatus_socket_refusal(smtpstatus *h, char *buf, size_t size);

/* ---- Helpers shared by the image writer and reader ------------------------------------------ */

/* FNV-1a 64 of buf[0..len), continuing from `h` (start with SMTPSTATUS_FNV64_INIT). */
#define SMTPSTATUS_FNV64_INIT 0xcbf29ce484222325ull
uint64_t smtpstatus_fnv64(uint64_t h, const void *buf, size_t len);

/* The checksum that an image header carries: XXH3 64 (seed 0) of buf[0..len) with the
 * superseded and checksum words read as zero and the rules database, where the header places
 * it inside the buffer, left out. `len` must be at least the header size. */
uint64_t smtpstatus_image_checksum(const void *buf, size_t len);

/* The rules database's checksum that an image header carries: XXH3 64 (seed 0) of the bytes
 * the header places the database at; 0 when it has none or places it outside buf[0..len). */
uint64_t smtpstatus_image_rules_db_checksum(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
