/*
 * smtpstatusd-update (see update.h). The order of the steps is what keeps a failure harmless:
 * everything that can fail for a reason outside this host (the download, the content) is done
 * in memory and in a staging directory beside the registry directory, under a lock on their
 * parent; only a complete, validated set reaches the one rename that installs it. On Linux that
 * rename is renameat2(RENAME_EXCHANGE), so the registry directory is never missing, not even
 * for an instant; where the file system cannot exchange, two renames with a rollback.
 */
#include "update.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "code_diff.h"
#include "csv.h"
#include "diag.h"
#include "fetch.h"
#include "file_write.h"
#include "image_build.h"
#include "output.h"
#include "registry.h"

static const char *const table_file[REGISTRY_TABLES] = {
    REGISTRY_FILE_CLASSES, REGISTRY_FILE_SUBJECTS, REGISTRY_FILE_CODES};

/* Where the update reads and writes; every path absolute. */
struct paths {
    char dir[PATH_MAX];     /* the registry directory, without a trailing slash */
    char parent[PATH_MAX];  /* its parent: the staging directory and the lock live there */
    char prev[PATH_MAX];    /* DIR.prev: the set installed before this update */
    char staging[PATH_MAX]; /* PARENT/.NAME.new.XXXXXX, until mkdtemp() fills it in */
};

/* The downloaded files. Owns data[]. */
struct download {
    char url[REGISTRY_TABLES][PATH_MAX];
    char *data[REGISTRY_TABLES];
    size_t len[REGISTRY_TABLES];
};

/* A registry compiled into an image, for the diff and the summary. Owns buf and owned. */
struct compiled {
    void *buf;
    smtpstatus_image *owned;
    const smtpstatus_image *img; /* owned, or the embedded image */
};

/* Fills *p from the --registry argument. Returns 0, or -1 after saying what is wrong. */
static int
make_paths(const char *arg, struct paths *p)
{
    char abs[PATH_MAX], cwd[PATH_MAX];
    int n;
    if (arg[0] == '/') {
        n = snprintf(abs, sizeof abs, "%s", arg);
    } else {
        if (getcwd(cwd, sizeof cwd) == NULL) {
            output_error("registry", arg, "cannot find the current directory: %s", strerror(errno));
            return -1;
        }
        n = snprintf(abs, sizeof abs, "%s/%s", cwd, arg);
    }
    if (n < 0 || (size_t)n >= sizeof abs - 32) {
        output_error("registry", arg, "%s: the path is too long", arg);
        return -1;
    }
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    char *slash = strrchr(abs, '/');
    const char *name = slash + 1;
    if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        output_error("registry", arg, "%s: name the registry directory itself, such as %s", arg,
                     UPDATE_DEFAULT_DIR);
        return -1;
    }
    snprintf(p->dir, sizeof p->dir, "%s", abs);
    snprintf(p->parent, sizeof p->parent, "%.*s", slash == abs ? 1 : (int)(slash - abs), abs);
    int a = snprintf(p->prev, sizeof p->prev, "%s.prev", abs);
    int b = snprintf(p->staging, sizeof p->staging, "%s/.%s.new.XXXXXX",
                     strcmp(p->parent, "/") == 0 ? "" : p->parent, name);
    if (a < 0 || (size_t)a >= sizeof p->prev || b < 0 || (size_t)b >= sizeof p->staging) {
        output_error("registry", arg, "%s: the path is too long", arg);
        return -1;
    }
    return 0;
}

/* mkdir -p, mode 0755. Returns 0 or -1 with errno. */
static int
make_dirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Removes a registry set: the files in `path`, then the directory. A missing path is fine.
 * Returns 0, or -1 with errno (a subdirectory or anything else unexpected is left alone). */
static int
remove_set(const char *path)
{
    /* Never through a symbolic link: only a directory of ours is emptied. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            unlinkat(dirfd(d), e->d_name, 0) != 0)
            rc = -1;
    }
    int saved = errno;
    closedir(d);
    if (rc != 0) {
        errno = saved;
        return -1;
    }
    return rmdir(path);
}

/* Downloads the three files from base URL `from`. Returns 0, or -1 after saying why. */
static int
download(const char *from, struct download *dl, int json)
{
    size_t n = strlen(from);
    const char *sep = n > 0 && from[n - 1] == '/' ? "" : "/";
    char why[PATH_MAX + 256];
    if (fetch_init(why, sizeof why) != 0) {
        output_error("from", from, "%s", why);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < REGISTRY_TABLES && rc == 0; i++) {
        int m = snprintf(dl->url[i], sizeof dl->url[i], "%s%s%s", from, sep, table_file[i]);
        if (m < 0 || (size_t)m >= sizeof dl->url[i]) {
            output_error("from", from, "%s: the URL is too long", from);
            rc = -1;
        } else if (fetch_url(dl->url[i], CSV_MAX_INPUT, &dl->data[i], &dl->len[i], why,
                             sizeof why) != 0) {
            output_error("from", from, "cannot download %s; nothing was changed", why);
            rc = -1;
        } else if (!json) {
            printf("downloaded %s (%zu bytes)\n", dl->url[i], dl->len[i]);
        }
    }
    fetch_cleanup();
    return rc;
}

static void
download_free(struct download *dl)
{
    for (int i = 0; i < REGISTRY_TABLES; i++)
        free(dl->data[i]);
}

static void
compiled_free(struct compiled *c)
{
    smtpstatus_image_close(c->owned);
    free(c->buf);
    memset(c, 0, sizeof *c);
}

/* Compiles `r` into an image. Returns 0, or a negative SMTPSTATUS_E* error. */
static int
compile(const struct registry *r, struct compiled *out)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    struct image_build_options o = {.generation = 1, .built_at = (uint64_t)time(NULL)};
    int rc = image_build(r, &o, &out->buf, &len);
    if (rc == 0)
        rc = smtpstatus_image_open(out->buf, len, &out->owned);
    if (rc != 0) {
        compiled_free(out);
        return rc;
    }
    out->img = out->owned;
    return 0;
}

/* The title of class-free code `s` ("X.7.29") in `img`, or "". */
static const char *
title_of(const smtpstatus_image *img, const char *s)
{
    smtpstatus_code code;
    smtpstatus_entry e;
    if (smtpstatus_code_parse(s, strlen(s), SMTPSTATUS_PARSE_ALLOW_X, &code, NULL) != 0 ||
        smtpstatus_image_lookup(img, code, &e) != 0 || e.title == NULL)
        return "";
    return e.title;
}

static void
print_diff(const struct code_diff *diff, const smtpstatus_image *old, const smtpstatus_image *new)
{
    for (size_t i = 0; i < diff->added_count; i++)
        printf("added    %-8s %s\n", diff->added[i], title_of(new, diff->added[i]));
    for (size_t i = 0; i < diff->removed_count; i++)
        printf("removed  %-8s %s\n", diff->removed[i], title_of(old, diff->removed[i]));
    size_t f = 0;
    for (size_t i = 0; i < diff->changed_count; i++) {
        printf("changed  %-8s %s\n", diff->changed[i], title_of(new, diff->changed[i]));
        /* The field changes come in the order of `changed`. */
        for (; f < diff->field_count && strcmp(diff->fields[f].code, diff->changed[i]) == 0;
             f++) {
            smtpstatus_code_change c = {diff->fields[f].code, diff->fields[f].field,
                                        diff->fields[f].old, diff->fields[f].new};
            output_field_changes("           ", &c, 1, 0);
        }
    }
    output_field_changes("", NULL, 0, (uint32_t)diff->descriptions_differ);
}

static json_t *
json_field_changes(const struct code_diff *diff)
{
    json_t *a = json_array();
    for (size_t i = 0; i < diff->field_count; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "code", diff->fields[i].code,
                                           "field", diff->fields[i].field, "old",
                                           diff->fields[i].old, "new", diff->fields[i].new));
    return a;
}

static json_t *
json_codes(char **codes, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(codes[i]));
    return a;
}

/*
 * Moves the staging directory to p->dir and the set there before (if any) to p->prev. Returns
 * 0; or -1 after saying why, with p->dir as it was. *prev_kept is set to 1 when p->prev holds
 * the previous set afterwards.
 */
static int
install(const struct paths *p, int had_dir, int *prev_kept)
{
    *prev_kept = 0;
    if (!had_dir) {
        if (rename(p->staging, p->dir) != 0) {
            output_error("registry", p->dir, "cannot install %s: %s; nothing was changed", p->dir,
                         strerror(errno));
            remove_set(p->staging);
            return -1;
        }
    } else if (renameat2(AT_FDCWD, p->staging, AT_FDCWD, p->dir, RENAME_EXCHANGE) == 0) {
        /* The new set is in place; the staging name now holds the set before it. */
        if (remove_set(p->prev) != 0 || rename(p->staging, p->prev) != 0)
            output_warnx("cannot keep the previous set as %s (%s); it is in %s", p->prev,
                         strerror(errno), p->staging);
        else
            *prev_kept = 1;
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        /* This file system cannot exchange: two renames, undone if the second fails. */
        if (remove_set(p->prev) != 0 || rename(p->dir, p->prev) != 0) {
            output_error("registry", p->dir, "cannot move %s aside to %s: %s; %s is as it was",
                         p->dir, p->prev, strerror(errno), p->dir);
            remove_set(p->staging);
            return -1;
        }
        if (rename(p->staging, p->dir) != 0) {
            int saved = errno;
            if (rename(p->prev, p->dir) != 0) {
                output_error("registry", p->dir,
                             "cannot install %s (%s), nor put the set before it back from %s "
                             "(%s): %s is missing until you move %s back",
                             p->dir, strerror(saved), p->prev, strerror(errno), p->dir, p->prev);
            } else {
                output_error("registry", p->dir, "cannot install %s: %s; nothing was changed",
                             p->dir, strerror(saved));
            }
            remove_set(p->staging);
            return -1;
        }
        *prev_kept = 1;
    } else {
        output_error("registry", p->dir, "cannot install %s: %s; nothing was changed", p->dir,
                     strerror(errno));
        remove_set(p->staging);
        return -1;
    }
    if (file_sync_dir(p->parent) != 0)
        output_warnx("cannot sync %s: %s", p->parent, strerror(errno));
    return 0;
}

/* Removes PARENT/.NAME.new.* directories: staging left by an update that died. Call it under
 * the lock. */
static void
remove_stale_staging(const struct paths *p)
{
    const char *name = strrchr(p->dir, '/');
    name = name != NULL ? name + 1 : p->dir;
    char prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof prefix, ".%s.new.", name);
    DIR *d = opendir(p->parent);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[PATH_MAX + NAME_MAX + 2];
        snprintf(path, sizeof path, "%s/%s", p->parent, e->d_name);
        if (remove_set(path) != 0)
            output_warnx("cannot remove %s, left by an earlier update: %s", path,
                         strerror(errno));
    }
    closedir(d);
}

/* Writes the downloaded files into a new staging directory. Returns 0, or -1 after saying why
 * (and removing what it made). */
static int
stage(struct paths *p, const struct download *dl)
{
    if (mkdtemp(p->staging) == NULL) {
        output_error("registry", p->dir, "cannot create a directory in %s: %s%s", p->parent,
                     strerror(errno),
                     errno == EACCES || errno == EROFS
                         ? " (run as root, or give --registry DIR for a directory of yours)"
                         : "");
        return -1;
    }
    int rc = chmod(p->staging, 0755); /* the daemon's user reads it */
    for (int i = 0; i < REGISTRY_TABLES && rc == 0; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", p->staging, table_file[i]);
        rc = file_write_new(path, dl->data[i], dl->len[i]);
    }
    if (rc == 0)
        rc = file_sync_dir(p->staging);
    if (rc != 0) {
        output_error("registry", p->dir, "cannot write the new files in %s: %s", p->staging,
                     strerror(errno));
        remove_set(p->staging);
    }
    return rc;
}

/* Asks the daemon to reload p->dir and says how it went. Returns the exit status; *generation
 * is the new one, or 0. */
static int
reload_daemon(smtpstatus *daemon, const struct paths *p, int json, uint64_t *generation)
{
    *generation = 0;
    if (daemon == NULL) {
        if (!json)
            printf("not asking smtpstatusd to reload (--offline): run `smtpstatus reload %s` "
                   "or `systemctl reload smtpstatusd`\n",
                   p->dir);
        return EXIT_ANSWERED;
    }
    smtpstatus_result *r = NULL;
    smtpstatus_registry_info info;
    int rc = smtpstatus_reload(daemon, p->dir, &r);
    if (rc == 0 && smtpstatus_result_registry(r, &info) != 0)
        rc = SMTPSTATUS_EPROTO;
    int status = EXIT_NOT_FOUND;
    switch (rc) {
    case 0:
        *generation = info.generation;
        if (!json)
            printf("smtpstatusd reloaded %s: generation %" PRIu64 ", %" PRIu32
                   " codes; %zu added, %zu removed, %zu changed\n",
                   p->dir, info.generation, info.code_count, info.added_count, info.removed_count,
                   info.changed_count);
        status = EXIT_ANSWERED;
        break;
    case SMTPSTATUS_EUNAVAILABLE:
        if (!json)
            printf("smtpstatusd is not running at %s; it serves %s when it starts with "
                   "--registry %s (as smtpstatusd.service does)\n",
                   smtpstatus_socket_path(daemon), p->dir, p->dir);
        status = EXIT_ANSWERED;
        break;
    case SMTPSTATUS_ERELOAD:
        output_error("registry", p->dir, "installed, but smtpstatusd could not reload %s: %s",
                     p->dir, smtpstatus_result_message(r));
        for (size_t i = 0; smtpstatus_result_problem(r, i) != NULL; i++)
            fprintf(stderr, "%s\n", smtpstatus_result_problem(r, i));
        break;
    case SMTPSTATUS_EPERM:
        output_error("registry", p->dir,
                     "installed, but smtpstatusd refused to reload: %s; run `smtpstatus reload "
                     "%s` as root or a member of its --admin-group",
                     smtpstatus_result_message(r), p->dir);
        break;
    default:
        output_error("registry", p->dir,
                     "installed, but smtpstatusd did not reload: %s; run `smtpstatus reload %s`",
                     r != NULL && smtpstatus_result_message(r)[0] ? smtpstatus_result_message(r)
                                                                  : smtpstatus_strerror(rc),
                     p->dir);
        break;
    }
    smtpstatus_result_free(r);
    return status;
}

/* Loads the set installed now, for the diff. Returns its registry (owned by the caller), or
 * NULL when there is none or it does not load (then the diff is against the embedded one). */
static struct registry *
load_installed(const struct paths *p, int had_dir)
{
    if (!had_dir)
        return NULL;
    struct registry *r = NULL;
    struct diag d;
    diag_init(&d);
    if (registry_load_dir(p->dir, &r, &d) != 0) {
        diag_print(&d, stderr);
        output_warnx("the set installed in %s does not load (%zu error%s); comparing with the "
                     "embedded registry instead",
                     p->dir, d.errors, d.errors == 1 ? "" : "s");
        r = NULL;
    }
    diag_free(&d);
    return r;
}

int
update_run(const struct update_options *opt, smtpstatus *daemon)
{
    const char *from = opt->from != NULL ? opt->from : UPDATE_DEFAULT_FROM;
    struct paths p;
    struct download dl;
    memset(&dl, 0, sizeof dl);
    if (make_paths(opt->registry != NULL ? opt->registry : UPDATE_DEFAULT_DIR, &p) != 0)
        return EXIT_NOT_FOUND;
    struct stat st;
    int had_dir = lstat(p.dir, &st) == 0;
    if (had_dir && !S_ISDIR(st.st_mode)) {
        output_error("registry", p.dir, "%s is not a directory%s; give --registry a directory",
                     p.dir, S_ISLNK(st.st_mode) ? " but a symbolic link" : "");
        return EXIT_NOT_FOUND;
    }
    if (make_dirs(p.parent) != 0) {
        output_error("registry", p.dir, "cannot create %s: %s%s", p.parent, strerror(errno),
                     errno == EACCES || errno == EROFS
                         ? " (run as root, or give --registry DIR for a directory of yours)"
                         : "");
        return EXIT_NOT_FOUND;
    }
    /* One update at a time per parent directory (a timer and an admin may overlap). */
    int lock = open(p.parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        output_error("registry", p.dir, "%s: %s", p.parent,
                     errno == EWOULDBLOCK ? "another smtpstatus update is running there"
                                          : strerror(errno));
        if (lock >= 0)
            close(lock);
        return EXIT_NOT_FOUND;
    }

    /* Under the lock: what is there now, and no staging directory left by an update that
     * died (nothing else makes them). */
    had_dir = lstat(p.dir, &st) == 0;
    if (had_dir && !S_ISDIR(st.st_mode)) {
        output_error("registry", p.dir, "%s is not a directory; give --registry a directory",
                     p.dir);
        close(lock);
        return EXIT_NOT_FOUND;
    }
    remove_stale_staging(&p);

    int status = EXIT_NOT_FOUND;
    struct registry *next = NULL, *before = NULL;
    struct compiled cnext = {0}, cbefore = {0};
    struct code_diff diff = {0};
    struct diag d;
    diag_init(&d);
    if (download(from, &dl, opt->json || opt->pretty) != 0)
        goto out;

    /* Validate with the daemon's loader, each problem named by the URL it is in. */
    struct registry_input in[REGISTRY_TABLES];
    for (int i = 0; i < REGISTRY_TABLES; i++)
        in[i] = (struct registry_input){dl.url[i], dl.data[i], dl.len[i]};
    int loaded = registry_load_buffers(in, p.dir, &next, &d);
    diag_print(&d, stderr);
    if (loaded != 0) {
        output_error("from", from,
                     "the downloaded files are not a usable registry (%zu error%s above); "
                     "nothing was changed",
                     d.errors, d.errors == 1 ? "" : "s");
        goto out;
    }
    int rc = compile(next, &cnext);
    before = load_installed(&p, had_dir);
    if (rc == 0 && before != NULL)
        rc = compile(before, &cbefore);
    else if (rc == 0)
        cbefore.img = smtpstatus_image_embedded();
    if (rc == 0 && code_diff_compute(cbefore.img, cnext.img, &diff) != 0)
        rc = SMTPSTATUS_ENOMEM;
    if (rc != 0) {
        output_error("from", from,
                     "cannot compile the downloaded registry: %s; nothing was "
                     "changed",
                     smtpstatus_strerror(rc));
        goto out;
    }
    const char *baseline = before != NULL ? p.dir : "the embedded registry";

    if (before != NULL && before->source_digest == next->source_digest) {
        if (opt->json || opt->pretty) {
            json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "registry", p.dir, "from", from,
                                  "installed", 0, "current", 1);
            json_dumpf(o, stdout, JSON_PRESERVE_ORDER | (opt->pretty ? JSON_INDENT(2) : 0));
            putchar('\n');
            json_decref(o);
        } else {
            printf("%s is current: the files at %s are the ones installed\n", p.dir, from);
        }
        status = EXIT_ANSWERED;
        goto out;
    }
    if (diff.removed_count > 0 && !opt->allow_removals) {
        output_error("from", from,
                     "the downloaded registry lacks %zu code%s that %s has (first %s); IANA "
                     "deprecates codes rather than removing them, so this looks like a partial "
                     "or wrong download. Nothing was changed; give --allow-removals to install "
                     "it anyway",
                     diff.removed_count, diff.removed_count == 1 ? "" : "s", baseline,
                     diff.removed[0]);
        goto out;
    }

    int prev_kept = 0;
    if (stage(&p, &dl) != 0 || install(&p, had_dir, &prev_kept) != 0)
        goto out;
    smtpstatus_image_summary sum;
    smtpstatus_image_summarize(cnext.img, &sum);
    if (!opt->json && !opt->pretty) {
        print_diff(&diff, cbefore.img, cnext.img);
        printf("installed %s: %" PRIu32 " classes, %" PRIu32 " subjects, %" PRIu32
               " codes; %zu added, %zu removed, %zu changed since %s%s%s%s; %zu warning%s\n",
               p.dir, sum.class_count, sum.subject_count, sum.code_count, diff.added_count,
               diff.removed_count, diff.changed_count, baseline, prev_kept ? " (kept as " : "",
               prev_kept ? p.prev : "", prev_kept ? ")" : "", d.warnings,
               d.warnings == 1 ? "" : "s");
    }
    uint64_t generation = 0;
    status = reload_daemon(daemon, &p, opt->json || opt->pretty, &generation);
    if (opt->json || opt->pretty) {
        json_t *o = json_pack(
            "{s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:i, s:o}", "registry", p.dir, "from", from,
            "installed", 1, "current", 1, "added", json_codes(diff.added, diff.added_count),
            "removed", json_codes(diff.removed, diff.removed_count), "changed",
            json_codes(diff.changed, diff.changed_count), "warnings", (json_int_t)d.warnings,
            "previous", prev_kept ? json_string(p.prev) : json_null());
        if (o != NULL) {
            json_object_set_new(o, "fields", json_field_changes(&diff));
            json_object_set_new(o, "descriptions_differ",
                                json_integer((json_int_t)diff.descriptions_differ));
        }
        if (o != NULL && generation != 0)
            json_object_set_new(o, "generation", json_integer((json_int_t)generation));
        if (o == NULL ||
            json_dumpf(o, stdout, JSON_PRESERVE_ORDER | (opt->pretty ? JSON_INDENT(2) : 0)) != 0)
            status = EXIT_NOT_FOUND;
        putchar('\n');
        json_decref(o);
    }
out:
    code_diff_free(&diff);
    compiled_free(&cnext);
    if (cbefore.owned != NULL)
        compiled_free(&cbefore);
    registry_free(next);
    registry_free(before);
    diag_free(&d);
    download_free(&dl);
    close(lock);
    return status;
}
