/*
 * The registry model: IANA's three "SMTP Enhanced Status Codes" tables (classes, subjects,
 * enumerated codes) loaded from CSV and validated.
 *
 * Columns are found by header name, so IANA may reorder or add columns; a column the loader
 * does not know is kept as an extra field of each row. Every problem is reported through a
 * `struct diag` with file, line and column. Structural problems (a missing file or column, a
 * code that does not fit its table, a duplicate, a code whose subject is not registered) are
 * errors and fail the load. Problems in the data that leave the registry usable are warnings:
 * an "Associated basic status code" that is not a list of codes, and the shifted row that IANA
 * published for X.7.28, which is repaired and flagged. Nothing is dropped silently.
 */
#ifndef SMTPSTATUSD_REGISTRY_H
#define SMTPSTATUSD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic_assoc.h"
#include "diag.h"

/* IANA's file names, in table order. */
#define REGISTRY_FILE_CLASSES  "smtp-enhanced-status-codes-1.csv"
#define REGISTRY_FILE_SUBJECTS "smtp-enhanced-status-codes-2.csv"
#define REGISTRY_FILE_CODES    "smtp-enhanced-status-codes-3.csv"
#define REGISTRY_TABLES        3

struct registry_field {
    char *name;
    char *value;
};

/* Text fields common to every row. All strings are owned by the registry, never NULL. */
struct registry_text {
    char *title; /* "Summary" for classes and subjects, "Sample Text" for codes, folded to one
                    line: runs of white space become one space, no leading or trailing space */
    char *description; /* as IANA wrote it, line breaks included */
    char *reference;
    char *submitter;
    char *change_controller;
    struct registry_field *fields; /* extra columns, in header order */
    size_t field_count;
    unsigned line; /* the row's first line in its file */
};

/* A class (digit 2, 4 or 5) or a subject (0 to 999). */
struct registry_part {
    uint16_t number;
    struct registry_text text;
};

struct registry_code {
    uint16_t subject;
    uint16_t detail;
    uint32_t flags; /* SMTPSTATUS_IMAGE_CODE_* */
    struct registry_text text;
    char *basic_raw; /* "Associated basic status code" as written */
    struct basic_assoc assoc;
};

/* A loaded registry. Owns everything it points to; registry_free() releases it. Tables are
 * sorted: classes by digit, subjects by number, codes by (subject, detail). */
struct registry {
    struct registry_part *classes;
    size_t class_count;
    struct registry_part *subjects;
    size_t subject_count;
    struct registry_code *codes;
    size_t code_count;
    char *source;           /* a directory, or a name such as "embedded" */
    uint64_t source_digest; /* FNV-1a 64 over the three files, in table order */
};

/* One file's bytes, as handed to registry_load_buffers(). */
struct registry_input {
    const char *name; /* used in diagnostics, e.g. "dir/smtp-enhanced-status-codes-3.csv" */
    const char *data;
    size_t len;
};

/*
 * Loads IANA's three tables from in[0..REGISTRY_TABLES) (classes, subjects, codes). `source`
 * is recorded in the registry. Returns 0 and a new registry in *out (owned by the caller), or
 * -1 with every error found in `d`; warnings go to `d` either way. Does no I/O.
 */
int registry_load_buffers(const struct registry_input in[REGISTRY_TABLES], const char *source,
                          struct registry **out, struct diag *d);

/* The three files of a registry directory, as read. Owns its paths and buffers. */
struct registry_files {
    char *path[REGISTRY_TABLES];
    char *data[REGISTRY_TABLES];
    size_t len[REGISTRY_TABLES];
};

/* The users who may have written a directory that a client names for a reload: root, the
 * daemon's own user and the administrator who asks. A directory anybody else could have
 * written is not read, however its files look. */
#define REGISTRY_OWNERS_MAX 3
struct registry_owners {
    uid_t uid[REGISTRY_OWNERS_MAX];
    size_t count;
};

/*
 * Opens the directory `dir` for registry_files_readat(); a symbolic link to one only when
 * `follow` (the configured directory and the state directory's link, which administrators
 * set up; never a directory a client names). Returns the descriptor, which the caller closes,
 * or -1 with the reason in `d`. Never blocks on a FIFO or a device.
 */
int registry_dir_open(const char *dir, int follow, struct diag *d);

/*
 * Reads the three files named REGISTRY_FILE_* from the open directory `dirfd` (`dir` names it
 * in diagnostics) into *f: each opened from `dirfd`, so that the three come from the one
 * directory even while `smtpstatus update` renames another into its place, with O_NOFOLLOW
 * and O_NONBLOCK, and read only when it is a regular file of at most CSV_MAX_INPUT bytes (a
 * FIFO, a device or a symbolic link is refused at once). With `owners`, the directory and each
 * file must also belong to one of them and be writable by nobody else; the checks are made on
 * the descriptors read from, so nothing can be swapped in between. Returns 0, or -1 with every
 * reason in `d` and *f empty. Blocks on file I/O: the daemon calls it off the event loop.
 */
int registry_files_readat(int dirfd, const char *dir, const struct registry_owners *owners,
                          struct registry_files *f, struct diag *d);

/* registry_dir_open(dir, 1) and registry_files_readat() without owners: for the
 * administrator's own directories. Returns 0 or -1 as above. Blocks on file I/O. */
int registry_files_read(const char *dir, struct registry_files *f, struct diag *d);

/* Frees what registry_files_read() put in *f and leaves it empty. */
void registry_files_free(struct registry_files *f);

/* Loads files read by registry_files_read(), as registry_load_buffers() does. */
int registry_load_files(const struct registry_files *f, const char *source,
                        struct registry **out, struct diag *d);

/*
 * Reads the three files of `dir` as registry_files_read() does and loads them as
 * registry_load_buffers() does. Blocks on file I/O: the daemon calls it off the event loop.
 * Returns 0 or -1 as above.
 */
int registry_load_dir(const char *dir, struct registry **out, struct diag *d);

/* Frees a registry. NULL is allowed. */
void registry_free(struct registry *r);

/* The code X.subject.detail, or NULL. O(log n). */
const struct registry_code *registry_find_code(const struct registry *r, uint16_t subject,
                                               uint16_t detail);

#endif
