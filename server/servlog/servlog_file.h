/*
 * servlog_file.h — the serving log's file: appends, and size-based
 * rotation (path -> path.1 -> ... -> path.keep, the oldest dropped). Used
 * by the writer thread only (servlog.c) and by tests.
 */
#ifndef FEATD_SERVLOG_FILE_H
#define FEATD_SERVLOG_FILE_H

#include <stddef.h>
#include <stdint.h>

struct servlog_file {
    int fd;                 /* -1 when closed */
    char *path;             /* owned */
    uint64_t size;          /* bytes in the open file */
    uint64_t max_bytes;     /* rotate before a write would pass it */
    int keep;               /* rotated files kept (>= 1) */
    uint64_t rotations;     /* rotations done */
};

/* A closed file for path (copied) with these bounds. */
void servlog_file_init(struct servlog_file *f, const char *path, uint64_t max_bytes, int keep);
/* Opens (appending, created 0644) the file; FEATD_ERR with a reason in err. */
int servlog_file_open(struct servlog_file *f, char *err, size_t errlen);
/* Closes the file and frees its path. */
void servlog_file_free(struct servlog_file *f);
void servlog_file_close(struct servlog_file *f);

/*
 * Appends p[0..n) (whole lines), rotating first when the file is not empty
 * and would pass max_bytes. FEATD_ERR with a reason in err when the write
 * (or the reopen after a rotation) failed; what was not written is lost.
 */
int servlog_file_write(struct servlog_file *f, const char *p, size_t n, char *err, size_t errlen);

/* Renames path.(keep-1) -> path.keep, ..., path -> path.1 and reopens path.
 * FEATD_ERR with a reason in err when the reopen fails. */
int servlog_file_rotate(struct servlog_file *f, char *err, size_t errlen);

#endif
