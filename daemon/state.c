/*
 * Saving the last good registry in the state directory (see state.h). Layout:
 *   statedir/registry -> registry.XXXXXX   a symbolic link, swapped by rename()
 *   statedir/registry.XXXXXX/              the three CSV files of one saved set
 */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"
#include "file_write.h"

char *
state_registry_dir(const char *statedir, char *buf, size_t size)
{
    snprintf(buf, size, "%s/registry", statedir);
    return buf;
}

/* dir/name into buf; -1 when it does not fit. */
static int
join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Removes a saved set directory and its files. */
static void
remove_set(const char *dir)
{
    static const char *const names[] = {REGISTRY_FILE_CLASSES, REGISTRY_FILE_SUBJECTS,
                                        REGISTRY_FILE_CODES};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (join(path, sizeof path, dir, names[i]) == 0)
            unlink(path);
    rmdir(dir);
}

int
state_save(const char *statedir, const struct registry_files *f, struct diag *d)
{
    static const char *const names[] = {REGISTRY_FILE_CLASSES, REGISTRY_FILE_SUBJECTS,
                                        REGISTRY_FILE_CODES};
    char set[4096], path[4096], link[4096], tmp_link[4096], old[4096];
    if (strlen(statedir) > sizeof set - 64) {
        diag_add(d, DIAG_ERROR, statedir, 0, 0, "the state directory's path is too long");
        return -1;
    }
    /* The parents are the daemon's alone (~/.local/state, as XDG asks: 0700). */
    char why[128];
    int rc = dirs_make(statedir, 0755, 0700);
    if (rc != 0) {
        diag_add(d, DIAG_ERROR, statedir, 0, 0, "cannot create the state directory: %s",
                 strerror(-rc));
        return -1;
    }
    if (dirs_check(statedir, why, sizeof why) != 0) {
        diag_add(d, DIAG_ERROR, statedir, 0, 0, "refusing the state directory: %s", why);
        return -1;
    }
    snprintf(set, sizeof set, "%s/registry.XXXXXX", statedir);
    if (mkdtemp(set) == NULL) {
        diag_add(d, DIAG_ERROR, statedir, 0, 0, "cannot save the registry: %s",
                 strerror(errno));
        return -1;
    }
    chmod(set, 0755);
    for (int i = 0; i < REGISTRY_TABLES; i++) {
        if (join(path, sizeof path, set, names[i]) != 0 ||
            file_write_new(path, f->data[i], f->len[i]) != 0) {
            diag_add(d, DIAG_ERROR, path, 0, 0, "cannot save: %s", strerror(errno));
            remove_set(set);
            return -1;
        }
    }
    state_registry_dir(statedir, link, sizeof link);
    if (join(tmp_link, sizeof tmp_link, statedir, "registry.new") != 0)
        return -1; /* cannot happen: the length was checked above */
    ssize_t on = readlink(link, old, sizeof old - 1);
    old[on > 0 ? on : 0] = '\0';
    unlink(tmp_link);
    /* A relative link, so the state directory can be moved as a whole. */
    char base[4096];
    snprintf(base, sizeof base, "%s", set);
    if (file_sync_dir(set) != 0 || symlink(basename(base), tmp_link) != 0 ||
        rename(tmp_link, link) != 0 || file_sync_dir(statedir) != 0) {
        diag_add(d, DIAG_ERROR, link, 0, 0, "cannot save the registry: %s", strerror(errno));
        unlink(tmp_link);
        remove_set(set);
        return -1;
    }
    if (on > 0 && strchr(old, '/') == NULL && strncmp(old, "registry.", 9) == 0) {
        if (join(path, sizeof path, statedir, old) == 0)
            remove_set(path);
    }
    return 0;
}

/* Whether `name` is one mkdtemp() makes for a set: "registry." and six characters. */
static int
is_set_name(const char *name)
{
    return strncmp(name, "registry.", 9) == 0 && strlen(name) == 9 + 6 &&
           strcmp(name, "registry.new") != 0;
}

/* Removes the set directory `path` with whatever a crash left in it (a set holds files only),
 * as a warning in `d` when it cannot. Returns 0 or -1. */
static int
remove_partial(const char *path, struct diag *d)
{
    DIR *dir = opendir(path);
    if (dir == NULL) {
        diag_add(d, DIAG_WARNING, path, 0, 0, "cannot remove a partly saved registry: %s",
                 strerror(errno));
        return -1;
    }
    struct dirent *e;
    char file[4096];
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            join(file, sizeof file, path, e->d_name) == 0)
            unlink(file);
    closedir(dir);
    if (rmdir(path) != 0) {
        diag_add(d, DIAG_WARNING, path, 0, 0, "cannot remove a partly saved registry: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

int
state_clean(const char *statedir, struct diag *d)
{
    char link[4096], path[4096];
    /* The live set is told by what the link leads to, however the link was written. */
    struct stat live;
    int has_live = stat(state_registry_dir(statedir, link, sizeof link), &live) == 0;
    DIR *dir = opendir(statedir);
    if (dir == NULL) {
        if (errno != ENOENT)
            diag_add(d, DIAG_WARNING, statedir, 0, 0, "cannot read the state directory: %s",
                     strerror(errno));
        return 0;
    }
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        struct stat st;
        if (join(path, sizeof path, statedir, e->d_name) != 0 || lstat(path, &st) != 0)
            continue;
        if (strcmp(e->d_name, "registry.new") == 0 && S_ISLNK(st.st_mode)) {
            unlink(path); /* the link state_save() was about to rename into place */
        } else if (is_set_name(e->d_name) && S_ISDIR(st.st_mode) &&
                   !(has_live && st.st_dev == live.st_dev && st.st_ino == live.st_ino)) {
            removed += remove_partial(path, d) == 0;
        }
    }
    closedir(dir);
    return removed;
}
