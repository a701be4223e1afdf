/*
 * The compiled registry image: the on-disk and in-memory ABI shared by the daemon
 * that writes it and every client that maps it.
 *
 * An image is one flat, position-independent, read-only blob: a fixed header, fixed-size
 * record tables, direct indexes and a string pool. Every reference inside it is an offset from
 * the start of the image, never a pointer, so it can be mapped at any address and read from any
 * language. All integers are little-endian, of fixed width, and every table starts at an offset
 * that is a multiple of 8. A client must validate an image before trusting any offset in it;
 * client/src/image.c is the reference reader.
 *
 * Exactly one word of a published image ever changes: `superseded` in the header. The daemon
 * stores it with release semantics after the successor image has been renamed into place;
 * clients load it with acquire semantics before a lookup. The checksum treats it as zero.
 */
#ifndef SMTPSTATUS_IMAGE_H
#define SMTPSTATUS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define SMTPSTATUS_IMAGE_MAGIC      "SMTPSIMG" /* 8 bytes, no terminator in the file */
#define SMTPSTATUS_IMAGE_MAGIC_LEN  8
#define SMTPSTATUS_IMAGE_VERSION    4u
#define SMTPSTATUS_IMAGE_ALIGN      8u          /* every table offset is a multiple of this */
#define SMTPSTATUS_IMAGE_DB_ALIGN   64u         /* rules_db_off is a multiple of this */
#define SMTPSTATUS_IMAGE_PREFILTER_BITS 15u     /* the prefilter has 1 << this many bits */
#define SMTPSTATUS_IMAGE_PREFILTER_GRAM 3u      /* bytes in each of its grams */
#define SMTPSTATUS_IMAGE_PREFILTER_BYTES (1u << (SMTPSTATUS_IMAGE_PREFILTER_BITS - 3u))
#define SMTPSTATUS_IMAGE_NONE       0xFFFFu     /* "no record" in the u16 indexes */
#define SMTPSTATUS_IMAGE_MAX_SUBJECT 999u       /* subject and detail have 1 to 3 digits */
#define SMTPSTATUS_IMAGE_MAX_DETAIL 999u
#define SMTPSTATUS_IMAGE_SUBJECT_SLOTS 1000u    /* subject index length */
#define SMTPSTATUS_IMAGE_BASIC_MIN  200u        /* basic index covers 200..599 */
#define SMTPSTATUS_IMAGE_BASIC_MAX  599u
#define SMTPSTATUS_IMAGE_BASIC_SLOTS 400u
#define SMTPSTATUS_IMAGE_MAX_RECORDS 0xFFFEu    /* record numbers must fit below NONE */
#define SMTPSTATUS_IMAGE_MAX_SIZE   (64u << 20) /* readers refuse anything larger */

/* Flags of a code record (smtpstatus_image_code.flags). */
#define SMTPSTATUS_IMAGE_CODE_SHIFTED_ROW 0x1u /* source row was shifted; repaired on load */

/* Flags of an associated-basic-code list (smtpstatus_image_code.basic_flags). */
#define SMTPSTATUS_IMAGE_BASIC_ANY        0x1u /* "Any" */
#define SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN  0x2u /* "Not given", or empty */
#define SMTPSTATUS_IMAGE_BASIC_OTHERS_OK  0x4u /* "(other 4XX or 5XX codes are allowed)" */

/* Flags of a basic reply code record (smtpstatus_image_basic.flags). */
#define SMTPSTATUS_IMAGE_BASIC_STANDARD 0x1u /* defined by an RFC; text and reference are set */

/* How a code reference in a basic record matches (low 2 bits of the u32 ref). */
#define SMTPSTATUS_IMAGE_MATCH_EXACT    1u /* the code lists this basic code */
#define SMTPSTATUS_IMAGE_MATCH_WILDCARD 2u /* the code lists this class, as "5XX" */
#define SMTPSTATUS_IMAGE_MATCH_ANY      3u /* the code says "Any" */

/* A string: `len` bytes at strings_off + off, followed by a NUL the reader checks for. The
 * empty string is {0, 0} and the pool always starts with a NUL. The writer puts valid UTF-8 with
 * no control characters other than TAB and LF there; readers check bounds, not content. */
struct smtpstatus_image_str {
    uint32_t off; /* offset inside the string pool */
    uint32_t len; /* length in bytes, without the NUL */
};
_Static_assert(sizeof(struct smtpstatus_image_str) == 8, "str size");

/* The header, at offset 0. */
struct smtpstatus_image_header {
    char magic[SMTPSTATUS_IMAGE_MAGIC_LEN]; /* SMTPSTATUS_IMAGE_MAGIC */
    uint32_t version;                       /* SMTPSTATUS_IMAGE_VERSION */
    uint32_t header_size;                   /* sizeof(struct smtpstatus_image_header) */
    uint64_t superseded;       /* 0 while current; the successor's generation once superseded */
    uint64_t image_size;       /* total bytes, header included; equals the file size */
    uint64_t checksum;         /* XXH3 64, seed 0, of all bytes but the rules database's, with
                                  superseded and checksum as 0 (see rules_db_checksum) */
    uint64_t generation;       /* increases with each image the daemon publishes */
    uint64_t built_at;         /* Unix time in seconds when the image was compiled */
    uint64_t source_digest;    /* FNV-1a 64 over the source CSV files, in table order */
    struct smtpstatus_image_str source; /* where the registry came from: a directory, "embedded" */
    uint32_t class_count;       /* records in the class table */
    uint32_t subject_count;     /* records in the subject table */
    uint32_t code_count;        /* records in the code table */
    uint32_t basic_count;       /* records in the basic reply code table */
    uint32_t classes_off;       /* struct smtpstatus_image_class[class_count], by digit */
    uint32_t subjects_off;      /* struct smtpstatus_image_subject[subject_count], by number */
    uint32_t codes_off;         /* struct smtpstatus_image_code[code_count], by (subject, detail) */
    uint32_t basics_off;        /* struct smtpstatus_image_basic[basic_count], by code */
    uint32_t subject_index_off; /* uint16_t[SUBJECT_SLOTS]: subject -> subject record or NONE */
    uint32_t detail_index_off;  /* uint16_t[detail_index_count]: see smtpstatus_image_subject */
    uint32_t detail_index_count;
    uint32_t basic_index_off;   /* uint16_t[BASIC_SLOTS]: code - BASIC_MIN -> basic record or NONE */
    uint32_t u16_off;           /* uint16_t[u16_count]: associated basic code lists */
    uint32_t u16_count;
    uint32_t u32_off;           /* uint32_t[u32_count]: basic -> code references */
    uint32_t u32_count;
    uint32_t fields_off;        /* struct smtpstatus_image_field[field_count]: extra CSV columns */
    uint32_t field_count;
    uint32_t strings_off;       /* the string pool */
    uint32_t strings_size;
    uint32_t rules_off;         /* struct smtpstatus_image_rule[rule_count], in match order */
    uint32_t rule_count;
    uint32_t rules_db_off;      /* the rules' patterns as one Vectorscan database, in the form
                                   hs_deserialize_database_at() leaves at a 64-byte aligned
                                   address: a reader whose image starts 64-byte aligned scans it
                                   in place. A multiple of SMTPSTATUS_IMAGE_DB_ALIGN. */
    uint32_t rules_db_size;     /* bytes (hs_database_size()); 0 when no rule has a pattern */
    uint32_t vendors_off;       /* struct smtpstatus_image_vendor[vendor_count], sorted */
    uint32_t vendor_count;
    uint32_t admin_rule_count;  /* the first admin_rule_count rules are the administrator's */
    uint32_t rules_prefilter_off; /* uint8_t[SMTPSTATUS_IMAGE_PREFILTER_BYTES], see below: a
                                     table like the others, apart from the database; 0 when
                                     the writer could not make one (then every text is
                                     scanned), and always 0 without a database */
    uint64_t rules_db_checksum; /* XXH3 64, seed 0, of the rules database's bytes; 0 when none.
                                   Apart from `checksum` so that a reader need not read the
                                   database's pages until it classifies: a lookup never does,
                                   and they are two thirds of the image. The database overlaps
                                   no table. */
};
_Static_assert(sizeof(struct smtpstatus_image_header) == 192, "header size");

_Static_assert(offsetof(struct smtpstatus_image_header, rules_prefilter_off) == 180,
               "rules_prefilter_off offset");
_Static_assert(offsetof(struct smtpstatus_image_header, rules_db_checksum) == 184,
               "rules_db_checksum offset");
_Static_assert(offsetof(struct smtpstatus_image_header, superseded) == 16, "superseded offset");
_Static_assert(offsetof(struct smtpstatus_image_header, superseded) % 8 == 0, "aligned word");
_Static_assert(offsetof(struct smtpstatus_image_header, checksum) == 32, "checksum offset");
_Static_assert(offsetof(struct smtpstatus_image_header, source) == 64, "source offset");
_Static_assert(offsetof(struct smtpstatus_image_header, class_count) == 72, "counts offset");
_Static_assert(offsetof(struct smtpstatus_image_header, strings_size) == 148, "strings offset");

/*
 * The rules' prefilter: a bitmap that tells, without the pattern database, that no pattern can
 * occur in a text. The writer finds, for each pattern, literals of at least 3 bytes one of which
 * every match contains, and sets the bit of one 3-byte gram of each; it makes no prefilter when
 * some pattern has no such literals. A text in which no gram of 3 consecutive bytes has its bit
 * set matches no pattern, and need not be scanned. Patterns match without regard to ASCII case,
 * so the gram of bytes a, b, c (each with A-Z taken as a-z) is
 *     g = a | b << 8 | c << 16,   bit = (uint32_t)(g * 2654435761u) >> (32 - PREFILTER_BITS),
 * which is bit (bit & 7) of byte (bit >> 3). The writer only picks grams of ASCII bytes.
 */

/* A class sub-code (2.XXX.XXX, 4.XXX.XXX, 5.XXX.XXX). */
struct smtpstatus_image_class {
    uint32_t digit;                                /* 2, 4 or 5 */
    uint32_t line;                                 /* row's line in its source file */
    struct smtpstatus_image_str title;             /* IANA "Summary" */
    struct smtpstatus_image_str description;       /* IANA "Description" */
    struct smtpstatus_image_str reference;         /* IANA "Reference" */
    struct smtpstatus_image_str submitter;         /* IANA "Submitter" */
    struct smtpstatus_image_str change_controller; /* IANA "Change Controller" */
    uint32_t fields_first;                         /* extra columns: fields[first..first+count) */
    uint32_t fields_count;
};
_Static_assert(sizeof(struct smtpstatus_image_class) == 56, "class size");

/* A subject sub-code (X.S.XXX). The codes of subject S with detail D are found in
 * detail_index[detail_base + D] for D < detail_span. */
struct smtpstatus_image_subject {
    uint32_t subject; /* 0 to 999 */
    uint32_t line;
    struct smtpstatus_image_str title;
    struct smtpstatus_image_str description;
    struct smtpstatus_image_str reference;
    struct smtpstatus_image_str submitter;
    struct smtpstatus_image_str change_controller;
    uint32_t fields_first;
    uint32_t fields_count;
    uint32_t detail_base; /* first slot of this subject in the detail index */
    uint32_t detail_span; /* highest registered detail + 1, or 0 */
};
_Static_assert(sizeof(struct smtpstatus_image_subject) == 64, "subject size");

/* An enumerated status code (X.S.D). */
struct smtpstatus_image_code {
    uint16_t subject;
    uint16_t detail;
    uint32_t flags;                                /* SMTPSTATUS_IMAGE_CODE_* */
    struct smtpstatus_image_str title;             /* IANA "Sample Text" */
    struct smtpstatus_image_str description;
    struct smtpstatus_image_str reference;
    struct smtpstatus_image_str submitter;
    struct smtpstatus_image_str change_controller;
    struct smtpstatus_image_str basic_raw;         /* "Associated basic status code", as written */
    uint32_t fields_first;
    uint32_t fields_count;
    uint32_t basic_first;   /* exact associated basic codes: u16[first..first+count), ascending */
    uint32_t basic_count;
    uint32_t basic_flags;   /* SMTPSTATUS_IMAGE_BASIC_* */
    uint32_t basic_classes; /* bit N set: "NXX" is associated (N is 2, 4 or 5) */
    uint32_t line;
    uint32_t reserved;      /* zero */
};
_Static_assert(sizeof(struct smtpstatus_image_code) == 88, "code size");

/* A basic reply code (RFC 5321 and extensions). There is a record for every standard code and
 * for every code some enhanced code is associated with. */
struct smtpstatus_image_basic {
    uint16_t code;                         /* 200 to 599 */
    uint16_t flags;                        /* SMTPSTATUS_IMAGE_BASIC_STANDARD */
    struct smtpstatus_image_str text;      /* the RFC's reply text, placeholders included */
    struct smtpstatus_image_str reference; /* e.g. "RFC 5321 4.2.3", or empty */
    struct smtpstatus_image_str sample;    /* default text to send: no placeholders; may be empty */
    uint32_t refs_first; /* u32[first..first+count): code record << 2 | SMTPSTATUS_IMAGE_MATCH_* */
    uint32_t refs_count; /* exact matches first, then wildcard, then any; by code within each */
    uint32_t reserved;   /* zero */
};
_Static_assert(sizeof(struct smtpstatus_image_basic) == 40, "basic size");

/* An extra column of a row: a header that is not one of IANA's, and the row's value. */
struct smtpstatus_image_field {
    struct smtpstatus_image_str name;
    struct smtpstatus_image_str value;
};
_Static_assert(sizeof(struct smtpstatus_image_field) == 16, "field size");

/* A reason rule (smtpstatus_image_rule). Rules are tried in table order; the first whose codes
 * and pattern both match decides. Pattern i of the rules database has id i, the rule's
 * index; a rule without a pattern has no id in it. */
#define SMTPSTATUS_IMAGE_RULE_HAS_PATTERN  0x1u /* pattern is set and compiled into the database */
#define SMTPSTATUS_IMAGE_RULE_HAS_ENHANCED 0x2u /* the rule names an enhanced code */
#define SMTPSTATUS_IMAGE_RULE_HAS_STATUS   0x4u /* status_* is set */
#define SMTPSTATUS_IMAGE_RULE_ADMIN        0x8u /* from the administrator's rules file */

/* smtpstatus_image_rule.retry */
#define SMTPSTATUS_IMAGE_RETRY_DEFAULT 0u /* the reason's default for the reply's class */
#define SMTPSTATUS_IMAGE_RETRY_YES     1u
#define SMTPSTATUS_IMAGE_RETRY_NO      2u

/* Any value of a wildcard part ("5XX", "X.7.1", "5.7.X"). */
#define SMTPSTATUS_IMAGE_ANY 0xFFFFu

struct smtpstatus_image_rule {
    uint16_t basic;          /* 200..599, or SMTPSTATUS_IMAGE_ANY */
    uint8_t basic_class;     /* 2, 4 or 5 for "NXX"; 0 for any (when basic is ANY) */
    uint8_t reason;          /* smtpstatus_reason, 1..SMTPSTATUS_REASON_MAX */
    uint8_t retry;           /* SMTPSTATUS_IMAGE_RETRY_* */
    uint8_t enhanced_class;  /* 2, 4 or 5; 0 for "X" (with HAS_ENHANCED) */
    uint16_t flags;          /* SMTPSTATUS_IMAGE_RULE_* */
    uint16_t subject;        /* enhanced subject (HAS_ENHANCED) */
    uint16_t detail;         /* enhanced detail, or SMTPSTATUS_IMAGE_ANY for "X" */
    uint8_t status_class;    /* the Status column (HAS_STATUS): 2, 4 or 5 */
    uint8_t reserved8;       /* zero */
    uint16_t status_subject;
    uint16_t status_detail;
    uint16_t reserved16;     /* zero */
    uint32_t line;           /* the rule's line in its file */
    struct smtpstatus_image_str name;    /* "FILE:LINE" for an admin rule without a Name, else Name */
    struct smtpstatus_image_str pattern; /* the Pattern column as written */
    struct smtpstatus_image_str note;    /* what to do, for people */
    struct smtpstatus_image_str source;  /* where the rule's fact comes from */
};
_Static_assert(sizeof(struct smtpstatus_image_rule) == 56, "rule size");

/* What a provider documents an enhanced code (or its own code) to mean. Sorted by (subject,
 * detail, class); records for a provider code that is not an enhanced code ("TSS04") come last
 * with subject and detail SMTPSTATUS_IMAGE_ANY, sorted by code text. */
struct smtpstatus_image_vendor {
    uint8_t cls;      /* 2, 4 or 5; 0 when the provider uses the code in any class */
    uint8_t reason;   /* smtpstatus_reason, 1..SMTPSTATUS_REASON_MAX */
    uint16_t subject; /* or SMTPSTATUS_IMAGE_ANY */
    uint16_t detail;  /* or SMTPSTATUS_IMAGE_ANY */
    uint16_t reserved; /* zero */
    struct smtpstatus_image_str provider; /* "Microsoft 365" */
    struct smtpstatus_image_str code;     /* the code as the provider writes it */
    struct smtpstatus_image_str meaning;  /* in the project's words */
    struct smtpstatus_image_str source;   /* where it is documented */
};
_Static_assert(sizeof(struct smtpstatus_image_vendor) == 40, "vendor size");

#endif
