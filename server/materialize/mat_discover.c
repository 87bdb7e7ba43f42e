/*
 * mat_discover.c — listing a view's source.path into snapshot candidates
 * (rules in mat_discover.h).
 */
#include "materialize/mat_discover.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config/config.h"
#include "core/util.h"

static bool hidden(const char *base)
{
    return base[0] == '.' || base[0] == '_';
}

bool mat_discover_is_data_name(const char *name)
{
    size_t n = strlen(name);
    return !hidden(name) && n > 8 && strcasecmp(name + n - 8, ".parquet") == 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    if (s == NULL) {
        return path;
    }
    /* "dir/" -> look before the trailing slash */
    if (s[1] == '\0') {
        const char *e = s;
        while (e > path && e[-1] != '/') {
            e--;
        }
        return e;
    }
    return s + 1;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, dir, a);
    size_t o = a;
    if (a > 0 && dir[a - 1] != '/') {
        p[o++] = '/';
    }
    memcpy(p + o, name, b + 1);
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names directly inside dir (not '.'/'..'), sorted. *names malloc'd. */
static int list_dir(const char *dir, char ***names, size_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int e = errno;
        char rel[1100];
        util_seterr(err, errlen, "cannot list %s: %s%s", dir, strerror(e),
                    config_err_relative(dir, rel, sizeof rel));
        return FEATD_ERR;
    }
    size_t cap = 0;
    int rc = FEATD_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (*n >= MAT_MAX_ENTRIES) {
            util_seterr(err, errlen, "%s holds more than %d entries", dir, MAT_MAX_ENTRIES);
            rc = FEATD_ERR;
            break;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = realloc(*names, nc * sizeof(*nn));
            if (nn == NULL) {
                util_seterr(err, errlen, "out of memory");
                rc = FEATD_ERR;
                break;
            }
            *names = nn;
            cap = nc;
        }
        char *s = strdup(de->d_name);
        if (s == NULL) {
            util_seterr(err, errlen, "out of memory");
            rc = FEATD_ERR;
            break;
        }
        (*names)[(*n)++] = s;
        errno = 0;
    }
    if (rc == FEATD_OK && errno != 0) {
        int e = errno;
        char rel[1100];
        util_seterr(err, errlen, "cannot list %s: %s%s", dir, strerror(e),
                    config_err_relative(dir, rel, sizeof rel));
        rc = FEATD_ERR;
    }
    closedir(d);
    if (rc == FEATD_OK && *n > 1) {
        qsort(*names, *n, sizeof(**names), cmp_str);
    }
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static void snap_free(struct mat_snapshot *s)
{
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].path);
        free(s->files[i].name);
    }
    free(s->files);
    free(s->name);
    free(s->path);
    memset(s, 0, sizeof(*s));
}

void mat_discover_listing_free(struct mat_listing *l)
{
    for (size_t i = 0; i < l->nsnaps; i++) {
        snap_free(&l->snaps[i]);
    }
    free(l->snaps);
    memset(l, 0, sizeof(*l));
}

uint64_t mat_discover_file_sig(const struct mat_file *f)
{
    uint64_t h = util_fnv1a(UTIL_FNV_INIT, f->name, strlen(f->name) + 1);
    h = util_fnv1a(h, &f->size, sizeof(f->size));
    return util_fnv1a(h, &f->mtime_ns, sizeof(f->mtime_ns));
}

static void note_ignored(struct mat_listing *l, const char *name)
{
    if (l->nignored++ == 0) {
        util_strlcpy(l->ignored_example, name, sizeof(l->ignored_example));
    }
}

/* Fills a directory entry: complete flag, data files, signature. */
static int fill_dir(struct mat_snapshot *s, struct mat_listing *l, char *err, size_t errlen)
{
    char **names = NULL;
    size_t n = 0;
    if (list_dir(s->path, &names, &n, err, errlen) != FEATD_OK) {
        free_names(names, n);
        return FEATD_ERR;
    }
    uint64_t sig = util_fnv1a(UTIL_FNV_INIT, s->name, strlen(s->name) + 1);
    int rc = FEATD_OK;
    for (size_t i = 0; i < n && rc == FEATD_OK; i++) {
        char *p = join(s->path, names[i]);
        if (p == NULL) {
            util_seterr(err, errlen, "out of memory");
            rc = FEATD_ERR;
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0) {
            free(p);        /* vanished meanwhile: the next poll sees it right */
            continue;
        }
        if (strcmp(names[i], "_SUCCESS") == 0 && S_ISREG(st.st_mode)) {
            s->complete = true;
            int64_t m = mtime_ns(&st);
            sig = util_fnv1a(sig, &m, sizeof(m));
            free(p);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !mat_discover_is_data_name(names[i])) {
            if (!hidden(names[i])) {
                note_ignored(l, p);
            }
            free(p);
            continue;
        }
        struct mat_file *nf = realloc(s->files, (s->nfiles + 1) * sizeof(*nf));
        char *name = join(s->name, names[i]);
        if (nf == NULL || name == NULL) {
            if (nf) {
                s->files = nf;
            }
            free(name);
            free(p);
            util_seterr(err, errlen, "out of memory");
            rc = FEATD_ERR;
            break;
        }
        s->files = nf;
        struct mat_file *f = &s->files[s->nfiles++];
        f->path = p;
        f->name = name;
        f->size = (int64_t)st.st_size;
        f->mtime_ns = mtime_ns(&st);
        uint64_t fs = mat_discover_file_sig(f);
        sig = util_fnv1a(sig, &fs, sizeof(fs));
    }
    free_names(names, n);
    s->sig = sig;
    if (rc == FEATD_OK && !s->complete) {
        /* not yet: its files are not candidates */
        for (size_t i = 0; i < s->nfiles; i++) {
            free(s->files[i].path);
            free(s->files[i].name);
        }
        free(s->files);
        s->files = NULL;
        s->nfiles = 0;
    }
    return rc;
}

/* Classifies one entry (path, display name) and appends it to l. */
static int add_entry(struct mat_listing *l, const char *path, const char *name, char *err,
                     size_t errlen)
{
    if (hidden(base_name(path))) {
        return FEATD_OK;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return FEATD_OK;    /* vanished (or a dangling link): not a candidate */
    }
    bool is_dir = S_ISDIR(st.st_mode);
    if (!is_dir && !(S_ISREG(st.st_mode) && mat_discover_is_data_name(base_name(path)))) {
        note_ignored(l, path);
        return FEATD_OK;
    }
    if (l->nsnaps >= MAT_MAX_ENTRIES) {
        util_seterr(err, errlen, "source has more than %d entries", MAT_MAX_ENTRIES);
        return FEATD_ERR;
    }
    struct mat_snapshot *ns = realloc(l->snaps, (l->nsnaps + 1) * sizeof(*ns));
    if (ns == NULL) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    l->snaps = ns;
    struct mat_snapshot *s = &l->snaps[l->nsnaps];
    memset(s, 0, sizeof(*s));
    s->path = strdup(path);
    s->name = strdup(name);
    if (s->path == NULL || s->name == NULL) {
        snap_free(s);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    l->nsnaps++;
    if (is_dir) {
        return fill_dir(s, l, err, errlen);
    }
    s->complete = true;
    s->files = calloc(1, sizeof(*s->files));
    if (s->files == NULL || (s->files[0].path = strdup(path)) == NULL ||
        (s->files[0].name = strdup(name)) == NULL) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    s->nfiles = 1;
    s->files[0].size = (int64_t)st.st_size;
    s->files[0].mtime_ns = mtime_ns(&st);
    s->sig = mat_discover_file_sig(&s->files[0]);
    return FEATD_OK;
}

static int cmp_snap(const void *a, const void *b)
{
    return strcmp(((const struct mat_snapshot *)a)->path, ((const struct mat_snapshot *)b)->path);
}

int mat_discover(const char *source_path, struct mat_listing *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (source_path == NULL || source_path[0] == '\0') {
        util_seterr(err, errlen, "the view has no source.path");
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (strpbrk(source_path, "*?[") != NULL) {
        glob_t g;
        memset(&g, 0, sizeof(g));
        int grc = glob(source_path, GLOB_NOSORT, NULL, &g);
        if (grc == GLOB_NOMATCH) {
            globfree(&g);
            return FEATD_OK;
        }
        if (grc != 0) {
            globfree(&g);
            util_seterr(err, errlen, "source %s: glob failed (%s)", source_path,
                   grc == GLOB_NOSPACE ? "out of memory" : "read error");
            return FEATD_ERR;
        }
        if (g.gl_pathc > MAT_MAX_ENTRIES) {
            globfree(&g);
            util_seterr(err, errlen, "source %s matches more than %d entries", source_path,
                   MAT_MAX_ENTRIES);
            return FEATD_ERR;
        }
        /* display names are relative to the pattern's literal directory
         * ("data/views/" of "data/views/snap-*") */
        size_t lit = (size_t)(strpbrk(source_path, "*?[") - source_path);
        while (lit > 0 && source_path[lit - 1] != '/') {
            lit--;
        }
        for (size_t i = 0; i < g.gl_pathc && rc == FEATD_OK; i++) {
            const char *m = g.gl_pathv[i];
            const char *name = strncmp(m, source_path, lit) == 0 && m[lit] ? m + lit : m;
            rc = add_entry(out, m, name, err, errlen);
        }
        globfree(&g);
    } else {
        struct stat st;
        if (stat(source_path, &st) != 0) {
            int e = errno;
            char rel[1100];
            util_seterr(err, errlen, "source %s: %s%s", source_path, strerror(e),
                        config_err_relative(source_path, rel, sizeof rel));
            return FEATD_ERR;
        }
        if (S_ISDIR(st.st_mode)) {
            char **names = NULL;
            size_t n = 0;
            rc = list_dir(source_path, &names, &n, err, errlen);
            for (size_t i = 0; i < n && rc == FEATD_OK; i++) {
                if (hidden(names[i])) {
                    continue;
                }
                char *p = join(source_path, names[i]);
                if (p == NULL) {
                    util_seterr(err, errlen, "out of memory");
                    rc = FEATD_ERR;
                    break;
                }
                rc = add_entry(out, p, names[i], err, errlen);
                free(p);
            }
            free_names(names, n);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_entry(out, source_path, base_name(source_path), err, errlen);
            if (rc == FEATD_OK && out->nsnaps == 0) {
                util_seterr(err, errlen, "source %s is a file but not named *.parquet", source_path);
                rc = FEATD_ERR;
            }
        } else {
            util_seterr(err, errlen, "source %s is neither a directory nor a file", source_path);
            return FEATD_ERR;
        }
    }
    if (rc == FEATD_OK && out->nsnaps > 1) {
        qsort(out->snaps, out->nsnaps, sizeof(*out->snaps), cmp_snap);
    }
    return rc;
}

const struct mat_snapshot *mat_discover_newest_complete(const struct mat_listing *l,
                                                        const struct mat_snapshot **newer)
{
    const struct mat_snapshot *best = NULL, *inc = NULL;
    for (size_t i = 0; i < l->nsnaps; i++) {
        if (l->snaps[i].complete) {
            best = &l->snaps[i];
            inc = NULL;
        } else {
            inc = &l->snaps[i];
        }
    }
    if (newer) {
        *newer = inc;
    }
    return best;
}
