/*
 * Loads and validates IANA's three registry tables (see registry.h). The CSV layer gives rows
 * of fields with their positions; this file gives them meaning: it maps columns by header name,
 * checks that each code fits its table, parses the associated basic codes, repairs IANA's
 * shifted X.7.28 row with a warning, and rejects duplicates and codes of unknown subjects. It
 * keeps going after an error so that one run reports every problem.
 */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "smtpstatus.h"
#include "smtpstatus_image.h"

/* The meaning of a column, whatever its position. */
enum role { ROLE_CODE, ROLE_TITLE, ROLE_ASSOC, ROLE_DESC, ROLE_REF, ROLE_SUBMITTER, ROLE_CC,
            ROLE_COUNT };

enum table_kind { TABLE_CLASSES, TABLE_SUBJECTS, TABLE_CODES };

/* IANA's header names per role; NULL where the table has no such column. */
static const char *const role_names[REGISTRY_TABLES][ROLE_COUNT] = {
    [TABLE_CLASSES] = {"Code", "Summary", NULL, "Description", "Reference", "Submitter",
                       "Change Controller"},
    [TABLE_SUBJECTS] = {"Code", "Summary", NULL, "Description", "Reference", "Submitter",
                        "Change Controller"},
    [TABLE_CODES] = {"Code", "Sample Text", "Associated basic status code", "Description",
                     "Reference", "Submitter", "Change Controller"},
};

/* Columns without which a table means nothing; the others default to empty, with a warning. */
static const unsigned char role_required[ROLE_COUNT] = {[ROLE_CODE] = 1, [ROLE_TITLE] = 1};

struct columns {
    int idx[ROLE_COUNT];                /* column of each role, or -1 */
    unsigned char extra[CSV_MAX_FIELDS]; /* 1 for a column the loader does not know */
    const struct csv_row *header;
};

struct loader {
    struct diag *d;
    int oom;
};

static char *
dup_n(struct loader *L, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL) {
        L->oom = 1;
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A copy of s[0..n) with runs of white space folded to one space and the ends trimmed. */
static char *
dup_folded(struct loader *L, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL) {
        L->oom = 1;
        return NULL;
    }
    size_t o = 0;
    int pending_space = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(s[i])) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space)
            p[o++] = ' ';
        pending_space = 0;
        p[o++] = s[i];
    }
    p[o] = '\0';
    return p;
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

static int
header_is(const struct csv_field *f, const char *name)
{
    const char *s = f->text;
    size_t n = f->len;
    trim(&s, &n);
    return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* Maps the header row of `t` to roles. Returns 0, or -1 after reporting errors. */
static int
map_columns(struct loader *L, enum table_kind kind, const char *file, const struct csv_table *t,
            struct columns *cols)
{
    memset(cols, 0, sizeof *cols);
    for (int r = 0; r < ROLE_COUNT; r++)
        cols->idx[r] = -1;
    if (t->count == 0) {
        diag_add(L->d, DIAG_ERROR, file, 1, 1, "the file is empty: expected a header row");
        return -1;
    }
    const struct csv_row *h = &t->rows[0];
    cols->header = h;
    int rc = 0;
    for (size_t c = 0; c < h->count; c++) {
        int role = -1;
        for (int r = 0; r < ROLE_COUNT; r++) {
            if (role_names[kind][r] != NULL && header_is(&h->fields[c], role_names[kind][r]))
                role = r;
        }
        if (role < 0) {
            cols->extra[c] = 1;
            continue;
        }
        if (cols->idx[role] >= 0) {
            diag_add(L->d, DIAG_ERROR, file, h->fields[c].line, h->fields[c].col,
                     "column \"%s\" appears twice (first in column %d)", role_names[kind][role],
                     cols->idx[role] + 1);
            rc = -1;
            continue;
        }
        cols->idx[role] = (int)c;
    }
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (role_names[kind][r] == NULL || cols->idx[r] >= 0)
            continue;
        if (role_required[r]) {
            diag_add(L->d, DIAG_ERROR, file, h->line, 1, "missing column \"%s\" in the header",
                     role_names[kind][r]);
            rc = -1;
        } else {
            diag_add(L->d, DIAG_WARNING, file, h->line, 1,
                     "missing column \"%s\" in the header; it is left empty",
                     role_names[kind][r]);
        }
    }
    return rc;
}

static const struct csv_field *
field_of(const struct columns *cols, const struct csv_row *row, enum role role)
{
    int i = cols->idx[role];
    return i < 0 ? NULL : &row->fields[i];
}

/* Fills the common text of a row. Returns 0, or -1 on ENOMEM (L->oom set). */
static int
load_text(struct loader *L, const struct columns *cols, const struct csv_row *row,
          struct registry_text *out)
{
    static const char empty[] = "";
    const struct csv_field *f;
    memset(out, 0, sizeof *out);
    out->line = row->line;

    f = field_of(cols, row, ROLE_TITLE);
    out->title = f ? dup_folded(L, f->text, f->len) : dup_n(L, empty, 0);
    char **plain[] = {&out->description, &out->reference, &out->submitter,
                      &out->change_controller};
    const enum role plain_roles[] = {ROLE_DESC, ROLE_REF, ROLE_SUBMITTER, ROLE_CC};
    for (size_t i = 0; i < 4; i++) {
        f = field_of(cols, row, plain_roles[i]);
        *plain[i] = f ? dup_n(L, f->text, f->len) : dup_n(L, empty, 0);
    }

    size_t extras = 0;
    for (size_t c = 0; c < row->count; c++)
        extras += cols->extra[c];
    if (extras > 0) {
        out->fields = calloc(extras, sizeof *out->fields);
        if (out->fields == NULL) {
            L->oom = 1;
            return -1;
        }
        for (size_t c = 0; c < row->count; c++) {
            if (!cols->extra[c])
                continue;
            struct registry_field *rf = &out->fields[out->field_count++];
            const struct csv_field *name = &cols->header->fields[c];
            const char *ns = name->text;
            size_t nn = name->len;
            trim(&ns, &nn);
            rf->name = dup_n(L, ns, nn);
            rf->value = dup_n(L, row->fields[c].text, row->fields[c].len);
        }
    }
    return L->oom ? -1 : 0;
}

static void
free_text(struct registry_text *t)
{
    free(t->title);
    free(t->description);
    free(t->reference);
    free(t->submitter);
    free(t->change_controller);
    for (size_t i = 0; i < t->field_count; i++) {
        free(t->fields[i].name);
        free(t->fields[i].value);
    }
    free(t->fields);
}

/* Checks the row's width against the header. */
static int
check_width(struct loader *L, const char *file, const struct columns *cols,
            const struct csv_row *row)
{
    if (row->count == cols->header->count)
        return 0;
    diag_add(L->d, DIAG_ERROR, file, row->line, 1, "row has %zu fields; the header has %zu",
             row->count, cols->header->count);
    return -1;
}

/*
 * The line and column of byte `off` of a field's unescaped text, for diagnostics. It follows
 * line breaks inside the field; a "" escape before `off` counts as one byte, which is close
 * enough in text that a code column never has.
 */
static void
place_in_field(const struct csv_field *f, size_t off, unsigned *line, unsigned *col)
{
    *line = f->line;
    *col = f->col + f->quoted;
    for (size_t i = 0; i < off && i < f->len; i++) {
        if (f->text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void
report_code_error(struct loader *L, const char *file, const struct csv_field *f, int err,
                  size_t errpos, const char *expected)
{
    unsigned line, col;
    place_in_field(f, errpos, &line, &col);
    /* err 0: the code parsed, but with a class, where the enumerated table has X. */
    diag_add(L->d, DIAG_ERROR, file, line, col,
             "code \"%.*s\" does not fit this table (expected %s): %s",
             (int)(f->len > 40 ? 40 : f->len), f->text, expected,
             err != 0 ? smtpstatus_strerror(err)
                      : "this table lists codes without their class, as X.S.D");
}

/*
 * Parses a table, maps its header and allocates `*records` for one record per row (zeroed).
 * Returns 0, or -1 after reporting why, with nothing left allocated.
 */
static int
open_table(struct loader *L, enum table_kind kind, const struct registry_input *in,
           struct csv_table *t, struct columns *cols, void **records, size_t record_size)
{
    if (csv_parse(in->data, in->len, in->name, t, L->d) != 0)
        return -1;
    int rc = map_columns(L, kind, in->name, t, cols);
    if (rc == 0 && t->count < 2) {
        diag_add(L->d, DIAG_ERROR, in->name, t->rows[0].line, 1,
                 "the table has a header but no rows");
        rc = -1;
    }
    if (rc == 0 && (*records = calloc(t->count - 1, record_size)) == NULL) {
        L->oom = 1;
        rc = -1;
    }
    if (rc != 0)
        csv_table_free(t);
    return rc;
}

/* Checks a row's width and finds its code, trimmed, in s[0..*n). Returns the code's field, or
 * NULL: after reporting a row of the wrong width (an error), or a row with nothing in it, as a
 * spreadsheet leaves behind (a warning; *blank is set, and the row is skipped). */
static const struct csv_field *
row_code(struct loader *L, const char *file, const struct columns *cols,
         const struct csv_row *row, const char **s, size_t *n, int *blank)
{
    *blank = 1;
    for (size_t c = 0; c < row->count && *blank; c++) {
        const char *t = row->fields[c].text;
        size_t tn = row->fields[c].len;
        trim(&t, &tn);
        *blank = tn == 0;
    }
    if (*blank) {
        diag_add(L->d, DIAG_WARNING, file, row->line, 1, "empty row skipped");
        return NULL;
    }
    if (check_width(L, file, cols, row) != 0)
        return NULL;
    const struct csv_field *f = field_of(cols, row, ROLE_CODE);
    *s = f->text;
    *n = f->len;
    trim(s, n);
    return f;
}

/* Loads the class or subject table into *parts. */
static int
load_parts(struct loader *L, enum table_kind kind, const struct registry_input *in,
           struct registry_part **parts, size_t *count)
{
    struct csv_table t;
    struct columns cols;
    if (open_table(L, kind, in, &t, &cols, (void **)parts, sizeof **parts) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 1; i < t.count; i++) {
        const char *s;
        size_t n, errpos = 0;
        int blank;
        const struct csv_field *f = row_code(L, in->name, &cols, &t.rows[i], &s, &n, &blank);
        if (f == NULL) {
            rc |= blank ? 0 : -1;
            continue;
        }
        const struct csv_row *row = &t.rows[i];
        smtpstatus_pattern pat;
        int err = smtpstatus_pattern_parse(s, n, &pat, &errpos);
        int want_class = kind == TABLE_CLASSES;
        if (err == 0 && (pat.cls != 0) != want_class) {
            err = SMTPSTATUS_EPATTERN;
            errpos = 0;
        }
        if (err != 0) {
            report_code_error(L, in->name, f, err, (size_t)(s - f->text) + errpos,
                              want_class ? "a class N.XXX.XXX" : "a subject X.S.XXX");
            rc = -1;
            continue;
        }
        struct registry_part *p = &(*parts)[(*count)++];
        p->number = want_class ? pat.cls : pat.subject;
        if (load_text(L, &cols, row, &p->text) != 0)
            rc = -1;
    }
    csv_table_free(&t);
    return rc;
}

/* Whether text reads as a sentence (several words ending in a full stop), as the description
 * that slid into IANA's X.7.28 basic code column does; "TBD" or "550 or so" do not. */
static int
is_sentence(const char *text, size_t len)
{
    const char *t = text;
    size_t n = len, words = 0;
    trim(&t, &n);
    for (size_t i = 0; i < n; i++)
        words += t[i] != ' ' && (i == 0 || t[i - 1] == ' ');
    return words >= 4 && n > 0 && t[n - 1] == '.';
}

/* Repairs or reports an "Associated basic status code" field that is not a list of codes. */
static void
load_assoc(struct loader *L, const char *file, const struct csv_field *f,
           struct registry_code *code)
{
    char err[128];
    size_t erroff = 0;
    char name[SMTPSTATUS_CODE_STRLEN];
    smtpstatus_code c = {0, code->subject, code->detail};
    smtpstatus_code_format(c, name, sizeof name);

    if (basic_assoc_parse(f->text, f->len, &code->assoc, err, sizeof err, &erroff) == 0)
        return;
    memset(&code->assoc, 0, sizeof code->assoc);
    code->assoc.flags = SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN;
    if (code->text.description[0] == '\0' && is_sentence(f->text, f->len)) {
        /* IANA's X.7.28 row: the description slid into this column. Keep the words where they
         * belong and say so, rather than dropping them or failing the whole registry. */
        free(code->text.description);
        code->text.description = dup_n(L, f->text, f->len);
        code->flags |= SMTPSTATUS_IMAGE_CODE_SHIFTED_ROW;
        diag_add(L->d, DIAG_WARNING, file, f->line, f->col + f->quoted,
                 "%s: shifted row: \"Associated basic status code\" holds text (%s) and "
                 "\"Description\" is empty; reading the text as the description and the basic "
                 "codes as not given",
                 name, err);
        return;
    }
    unsigned line, col;
    place_in_field(f, erroff, &line, &col);
    diag_add(L->d, DIAG_WARNING, file, line, col,
             "%s: \"Associated basic status code\" is not a list of codes (%s); no basic codes "
             "are associated",
             name, err);
}

static int
cmp_code(const void *a, const void *b)
{
    const struct registry_code *x = a, *y = b;
    if (x->subject != y->subject)
        return x->subject < y->subject ? -1 : 1;
    if (x->detail != y->detail)
        return x->detail < y->detail ? -1 : 1;
    return x->text.line < y->text.line ? -1 : x->text.line > y->text.line;
}

static int
cmp_part(const void *a, const void *b)
{
    const struct registry_part *x = a, *y = b;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return x->text.line < y->text.line ? -1 : x->text.line > y->text.line;
}

static int
load_codes(struct loader *L, const struct registry_input *in, struct registry *r)
{
    struct csv_table t;
    struct columns cols;
    if (open_table(L, TABLE_CODES, in, &t, &cols, (void **)&r->codes, sizeof *r->codes) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 1; i < t.count; i++) {
        const char *s;
        size_t n, errpos = 0;
        int blank;
        const struct csv_field *f = row_code(L, in->name, &cols, &t.rows[i], &s, &n, &blank);
        if (f == NULL) {
            rc |= blank ? 0 : -1;
            continue;
        }
        const struct csv_row *row = &t.rows[i];
        smtpstatus_code c;
        int err = smtpstatus_code_parse(s, n, SMTPSTATUS_PARSE_ALLOW_X, &c, &errpos);
        if (err != 0 || c.cls != 0) {
            if (err == 0)
                errpos = 0; /* point at the class */
            report_code_error(L, in->name, f, err, (size_t)(s - f->text) + errpos,
                              "an enumerated code X.S.D");
            rc = -1;
            continue;
        }
        struct registry_code *code = &r->codes[r->code_count++];
        code->subject = c.subject;
        code->detail = c.detail;
        if (load_text(L, &cols, row, &code->text) != 0) {
            rc = -1;
            continue;
        }
        const struct csv_field *assoc = field_of(&cols, row, ROLE_ASSOC);
        code->basic_raw = dup_n(L, assoc ? assoc->text : "", assoc ? assoc->len : 0);
        if (assoc != NULL && code->basic_raw != NULL)
            load_assoc(L, in->name, assoc, code);
        else if (assoc == NULL)
            code->assoc.flags = SMTPSTATUS_IMAGE_BASIC_NOT_GIVEN;
    }
    csv_table_free(&t);
    return L->oom ? -1 : rc;
}

/* Reports duplicate numbers in a sorted class or subject table. */
static int
check_duplicate_parts(struct loader *L, const char *file, const struct registry_part *p,
                      size_t n, int classes)
{
    int rc = 0;
    for (size_t i = 1; i < n; i++) {
        if (p[i].number != p[i - 1].number)
            continue;
        if (classes)
            diag_add(L->d, DIAG_ERROR, file, p[i].text.line, 1,
                     "duplicate class %u.XXX.XXX (first at line %u)", p[i].number,
                     p[i - 1].text.line);
        else
            diag_add(L->d, DIAG_ERROR, file, p[i].text.line, 1,
                     "duplicate subject X.%u.XXX (first at line %u)", p[i].number,
                     p[i - 1].text.line);
        rc = -1;
    }
    return rc;
}

/* Sorts each table and checks it for duplicates; codes are checked against the subject table
 * only when that table loaded, so that one broken file does not cascade into false errors. */
static int
validate(struct loader *L, const struct registry_input in[REGISTRY_TABLES], struct registry *r,
         int subjects_ok)
{
    int rc = 0;
    if (r->class_count > 0)
        qsort(r->classes, r->class_count, sizeof *r->classes, cmp_part);
    if (r->subject_count > 0)
        qsort(r->subjects, r->subject_count, sizeof *r->subjects, cmp_part);
    if (r->code_count > 0)
        qsort(r->codes, r->code_count, sizeof *r->codes, cmp_code);
    rc |= check_duplicate_parts(L, in[TABLE_CLASSES].name, r->classes, r->class_count, 1);
    rc |= check_duplicate_parts(L, in[TABLE_SUBJECTS].name, r->subjects, r->subject_count, 0);

    static const uint8_t digits[] = {2, 4, 5};
    for (size_t i = 0; i < sizeof digits && r->class_count > 0; i++) {
        int found = 0;
        for (size_t j = 0; j < r->class_count; j++)
            found |= r->classes[j].number == digits[i];
        if (!found)
            diag_add(L->d, DIAG_WARNING, in[TABLE_CLASSES].name, 0, 0,
                     "class %u.XXX.XXX is not in the table; codes of that class will have no "
                     "class description",
                     digits[i]);
    }

    for (size_t i = 0; i < r->code_count; i++) {
        const struct registry_code *c = &r->codes[i];
        if (i > 0 && c->subject == c[-1].subject && c->detail == c[-1].detail) {
            diag_add(L->d, DIAG_ERROR, in[TABLE_CODES].name, c->text.line, 1,
                     "duplicate code X.%u.%u (first at line %u)", c->subject, c->detail,
                     c[-1].text.line);
            rc = -1;
        }
        int known = !subjects_ok;
        for (size_t j = 0; j < r->subject_count; j++)
            known |= r->subjects[j].number == c->subject;
        if (!known) {
            diag_add(L->d, DIAG_ERROR, in[TABLE_CODES].name, c->text.line, 1,
                     "code X.%u.%u has no subject X.%u.XXX in %s", c->subject, c->detail,
                     c->subject, in[TABLE_SUBJECTS].name);
            rc = -1;
        }
    }
    return rc;
}

int
registry_load_buffers(const struct registry_input in[REGISTRY_TABLES], const char *source,
                      struct registry **out, struct diag *d)
{
    struct loader L = {.d = d};
    *out = NULL;
    struct registry *r = calloc(1, sizeof *r);
    if (r == NULL) {
        diag_add(d, DIAG_ERROR, NULL, 0, 0, "out of memory loading the registry");
        return -1;
    }
    r->source = dup_n(&L, source, strlen(source));
    uint64_t h = SMTPSTATUS_FNV64_INIT;
    for (int i = 0; i < REGISTRY_TABLES; i++) {
        uint64_t len = in[i].len;
        h = smtpstatus_fnv64(h, &len, sizeof len);
        h = smtpstatus_fnv64(h, in[i].data, in[i].len);
    }
    r->source_digest = h;

    /* Each table is loaded even when an earlier one failed, so that one run shows all. */
    int rc = load_parts(&L, TABLE_CLASSES, &in[TABLE_CLASSES], &r->classes, &r->class_count);
    int subjects_rc =
        load_parts(&L, TABLE_SUBJECTS, &in[TABLE_SUBJECTS], &r->subjects, &r->subject_count);
    rc |= subjects_rc;
    rc |= load_codes(&L, &in[TABLE_CODES], r);
    if (!L.oom)
        rc |= validate(&L, in, r, subjects_rc == 0);
    if (L.oom) {
        diag_add(d, DIAG_ERROR, NULL, 0, 0, "out of memory loading the registry");
        rc = -1;
    }
    if (rc != 0) {
        registry_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static int
is_symlink(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

int
registry_dir_open(const char *dir, int follow, struct diag *d)
{
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW);
    int fd = open(dir, flags);
    if (fd < 0) {
        if (errno == ELOOP || (errno == ENOTDIR && !follow && is_symlink(dir)))
            diag_add(d, DIAG_ERROR, dir, 0, 0,
                     "is a symbolic link; name the directory it points to");
        else
            diag_add(d, DIAG_ERROR, dir, 0, 0, "cannot open the directory: %s", strerror(errno));
    }
    return fd;
}

/* Whether `st` belongs to one of `owners` and nobody else may write it; if not, says why. */
static int
owned_well(const struct stat *st, const struct registry_owners *owners, const char *path,
           struct diag *d)
{
    int owner_ok = 0;
    for (size_t i = 0; i < owners->count; i++)
        owner_ok |= st->st_uid == owners->uid[i];
    if (!owner_ok) {
        diag_add(d, DIAG_ERROR, path, 0, 0,
                 "is owned by uid %ld, not by root, the daemon's user or the administrator "
                 "asking: a reload reads only the configured registry or a directory an "
                 "administrator wrote",
                 (long)st->st_uid);
        return 0;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        diag_add(d, DIAG_ERROR, path, 0, 0,
                 "is writable by %s (mode %04o): a reload reads only the configured registry "
                 "or a directory that only an administrator could have written",
                 (st->st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st->st_mode & 07777));
        return 0;
    }
    return 1;
}

static const char *
file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a regular file";
}

/* Reads the regular file `name` of `dirfd` (at most CSV_MAX_INPUT bytes) into a malloc'd
 * buffer. `path` names it in diagnostics. */
static int
read_file(int dirfd, const char *name, const char *path, const struct registry_owners *owners,
          char **buf, size_t *len, struct diag *d)
{
    *buf = NULL;
    *len = 0;
    /* Looked at before it is opened, so that a device is not even opened (opening one can
     * act, as a tape's rewinds); the fstat() below, on what is read, is the check that counts. */
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
        diag_add(d, DIAG_ERROR, path, 0, 0, "is %s, not a regular file", file_kind(st.st_mode));
        return -1;
    }
    /* O_NONBLOCK: a FIFO put in its place meanwhile opens at once instead of waiting forever
     * for a writer; fstat() then refuses it. */
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            diag_add(d, DIAG_ERROR, path, 0, 0, "is a symbolic link, not a regular file");
        else
            diag_add(d, DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_add(d, DIAG_ERROR, path, 0, 0, "is %s, not a regular file", file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    if (owners != NULL && !owned_well(&st, owners, path, d)) {
        close(fd);
        return -1;
    }
    if (st.st_size > (off_t)CSV_MAX_INPUT) {
        diag_add(d, DIAG_ERROR, path, 0, 0, "file is %lld bytes; the limit is %u",
                 (long long)st.st_size, CSV_MAX_INPUT);
        close(fd);
        return -1;
    }
    /* One byte more than allowed, so that a file that grew since fstat() is noticed. */
    size_t cap = (size_t)st.st_size + 1;
    char *p = malloc(cap);
    if (p == NULL) {
        diag_add(d, DIAG_ERROR, path, 0, 0, "out of memory");
        close(fd);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t got = read(fd, p + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            diag_add(d, DIAG_ERROR, path, 0, 0, "read failed: %s", strerror(errno));
            free(p);
            close(fd);
            return -1;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n == cap) {
            diag_add(d, DIAG_ERROR, path, 0, 0, "file changed while it was read");
            free(p);
            close(fd);
            return -1;
        }
    }
    close(fd);
    *buf = p;
    *len = n;
    return 0;
}

int
registry_files_readat(int dirfd, const char *dir, const struct registry_owners *owners,
                      struct registry_files *f, struct diag *d)
{
    static const char *const names[REGISTRY_TABLES] = {REGISTRY_FILE_CLASSES,
                                                       REGISTRY_FILE_SUBJECTS, REGISTRY_FILE_CODES};
    memset(f, 0, sizeof *f);
    if (owners != NULL) {
        struct stat st;
        if (fstat(dirfd, &st) != 0) {
            diag_add(d, DIAG_ERROR, dir, 0, 0, "cannot stat the directory: %s", strerror(errno));
            return -1;
        }
        /* A directory someone else may write is theirs: they could rename their own files
         * into it between two reads. */
        if (!owned_well(&st, owners, dir, d))
            return -1;
    }
    int rc = 0;
    for (int i = 0; i < REGISTRY_TABLES; i++) {
        size_t n = strlen(dir) + 1 + strlen(names[i]) + 1;
        f->path[i] = malloc(n);
        if (f->path[i] == NULL) {
            diag_add(d, DIAG_ERROR, dir, 0, 0, "out of memory");
            rc = -1;
            continue;
        }
        snprintf(f->path[i], n, "%s/%s", dir, names[i]);
        if (read_file(dirfd, names[i], f->path[i], owners, &f->data[i], &f->len[i], d) != 0)
            rc = -1;
    }
    if (rc != 0)
        registry_files_free(f);
    return rc;
}

int
registry_files_read(const char *dir, struct registry_files *f, struct diag *d)
{
    memset(f, 0, sizeof *f);
    int dirfd = registry_dir_open(dir, 1, d);
    if (dirfd < 0)
        return -1;
    int rc = registry_files_readat(dirfd, dir, NULL, f, d);
    close(dirfd);
    return rc;
}

void
registry_files_free(struct registry_files *f)
{
    for (int i = 0; i < REGISTRY_TABLES; i++) {
        free(f->path[i]);
        free(f->data[i]);
    }
    memset(f, 0, sizeof *f);
}

int
registry_load_files(const struct registry_files *f, const char *source, struct registry **out,
                    struct diag *d)
{
    struct registry_input in[REGISTRY_TABLES];
    for (int i = 0; i < REGISTRY_TABLES; i++)
        in[i] = (struct registry_input){f->path[i], f->data[i], f->len[i]};
    return registry_load_buffers(in, source, out, d);
}

int
registry_load_dir(const char *dir, struct registry **out, struct diag *d)
{
    struct registry_files f;
    *out = NULL;
    if (registry_files_read(dir, &f, d) != 0)
        return -1;
    int rc = registry_load_files(&f, dir, out, d);
    registry_files_free(&f);
    return rc;
}

void
registry_free(struct registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->class_count; i++)
        free_text(&r->classes[i].text);
    for (size_t i = 0; i < r->subject_count; i++)
        free_text(&r->subjects[i].text);
    for (size_t i = 0; i < r->code_count; i++) {
        free_text(&r->codes[i].text);
        free(r->codes[i].basic_raw);
    }
    free(r->classes);
    free(r->subjects);
    free(r->codes);
    free(r->source);
    free(r);
}

const struct registry_code *
registry_find_code(const struct registry *r, uint16_t subject, uint16_t detail)
{
    size_t lo = 0, hi = r->code_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct registry_code *c = &r->codes[mid];
        if (c->subject == subject && c->detail == detail)
            return c;
        if (c->subject < subject || (c->subject == subject && c->detail < detail))
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
