/*
 * mat_discover.h — what the materializer finds in a view's source.path
 * (docs/materializer.md "Sources"; pure file-system logic, no Redis).
 *
 * Candidates ("entries"):
 *   - source.path contains a glob metacharacter (* ? [): every match of the
 *     glob (glob(3), no brace or tilde expansion) is an entry;
 *   - source.path is a directory: every entry directly inside it;
 *   - source.path is a regular file: that file is the only entry.
 * Entries whose base name starts with '.' or '_' are ignored (hidden files,
 * _SUCCESS, _temporary, .crc files of Spark/Hadoop).
 *
 * An entry is
 *   - a snapshot FILE: a regular file whose name ends in ".parquet" (any
 *     case); always complete (writers are expected to rename it into
 *     place; a half-written file fails to parse and is retried once it
 *     changes);
 *   - a snapshot DIRECTORY: complete when it contains a regular file named
 *     "_SUCCESS"; its data files are the "*.parquet" regular files directly
 *     inside it (same '.'/'_' rule, no recursion), in name order;
 *   - anything else (other files, sockets, ...): ignored and counted.
 * Entries are ordered by their path, bytewise (strcmp). "Newest" means last
 * in that order: name snapshots so that they sort in time order (ISO dates,
 * zero-padded sequence numbers), as Spark, Airflow and dbt do. mtimes are
 * NOT used for ordering (copies and syncs rewrite them) but are part of an
 * entry's identity (its signature), so a file replaced in place under the
 * same name counts as new.
 */
#ifndef FEATD_MAT_DISCOVER_H
#define FEATD_MAT_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

#define MAT_MAX_ENTRIES 100000      /* entries in a source, files in a snapshot dir */

struct mat_file {
    char *path;             /* path to open */
    char *name;             /* display / progress name: relative to the source
                               directory ("snap_2/part-0.parquet"), or to the
                               glob's literal directory part */
    int64_t size;
    int64_t mtime_ns;
};

struct mat_snapshot {
    char *name;             /* display name (as mat_file.name) */
    char *path;
    bool complete;          /* files: always; dirs: has _SUCCESS */
    struct mat_file *files; /* data files in order (a file entry: itself);
                               empty for incomplete directories */
    size_t nfiles;
    uint64_t sig;           /* identity: names, sizes and mtimes of the data
                               files (and of _SUCCESS) */
};

struct mat_listing {
    struct mat_snapshot *snaps; /* sorted by path */
    size_t nsnaps;
    size_t nignored;        /* entries that are neither (non-Parquet files...) */
    char ignored_example[256];  /* one of them, for messages */
};

/*
 * Lists source_path. FEATD_ERR with a reason when the source does not exist
 * or cannot be read, or has more than MAT_MAX_ENTRIES entries. An empty
 * source is FEATD_OK with nsnaps 0. Free with mat_discover_listing_free (also
 * after an error).
 */
int mat_discover(const char *source_path, struct mat_listing *out, char *err,
                 size_t errlen) FEATD_MUSTCHECK;
void mat_discover_listing_free(struct mat_listing *l);

/* Snapshot mode: the last complete entry, or NULL. *newer (may
 * be NULL) gets the last incomplete entry after it, or NULL. */
const struct mat_snapshot *mat_discover_newest_complete(const struct mat_listing *l,
                                                        const struct mat_snapshot **newer);

/* Identity of one file: hash of its name, size and mtime. */
uint64_t mat_discover_file_sig(const struct mat_file *f);

/* True when name ends in ".parquet" (any case) and does not start with '.'
 * or '_'. Used by mat_discover; exported for tests/unit/check_mat.c, which
 * checks the naming rule on its own. */
bool mat_discover_is_data_name(const char *name);

#endif
