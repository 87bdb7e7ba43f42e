/*
 * servlog_file.c — the serving log's file and its rotation (contract in
 * servlog_file.h). Writer thread only.
 */
#include "servlog/servlog_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/featd.h"
#include "core/util.h"

void servlog_file_init(struct servlog_file *f, const char *path, uint64_t max_bytes, int keep)
{
    f->fd = -1;
    f->path = util_xstrdup(path);
    f->size = 0;
    f->max_bytes = max_bytes;
    f->keep = keep < 1 ? 1 : keep;
    f->rotations = 0;
}

int servlog_file_open(struct servlog_file *f, char *err, size_t errlen)
{
    servlog_file_close(f);
    f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        snprintf(err, errlen, "cannot open serving log %s: %s", f->path, strerror(errno));
        return FEATD_ERR;
    }
    struct stat st;
    f->size = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return FEATD_OK;
}

void servlog_file_close(struct servlog_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

void servlog_file_free(struct servlog_file *f)
{
    servlog_file_close(f);
    free(f->path);
    f->path = NULL;
}

int servlog_file_rotate(struct servlog_file *f, char *err, size_t errlen)
{
    size_t cap = strlen(f->path) + 16;
    char *from = malloc(cap), *to = malloc(cap);
    if (from == NULL || to == NULL) {
        free(from);
        free(to);
        snprintf(err, errlen, "out of memory rotating %s", f->path);
        return FEATD_ERR;
    }
    servlog_file_close(f);
    for (int k = f->keep; k >= 1; k--) {
        if (k == 1) {
            snprintf(from, cap, "%s", f->path);
        } else {
            snprintf(from, cap, "%s.%d", f->path, k - 1);
        }
        snprintf(to, cap, "%s.%d", f->path, k);
        (void)rename(from, to);    /* a missing older file is fine */
    }
    free(from);
    free(to);
    f->rotations++;
    return servlog_file_open(f, err, errlen);
}

int servlog_file_write(struct servlog_file *f, const char *p, size_t n, char *err, size_t errlen)
{
    if (f->size > 0 && f->size + n > f->max_bytes) {
        if (servlog_file_rotate(f, err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (f->fd < 0 && servlog_file_open(f, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(err, errlen, "cannot write serving log %s: %s", f->path, strerror(errno));
            return FEATD_ERR;
        }
        p += w;
        n -= (size_t)w;
        f->size += (uint64_t)w;
    }
    return FEATD_OK;
}
