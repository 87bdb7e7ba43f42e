/*
 * cli_parquet.h — `featd-cli parquet schema|dump FILE`: inspect a Parquet
 * file with featd's own reader (server/parquet/parquet.h). The JSON format
 * of `dump` is documented in docs/parquet.md.
 */
#ifndef FEATD_CLI_PARQUET_H
#define FEATD_CLI_PARQUET_H

#include <stdio.h>

#include "featd.h"

struct pq_file;

/*
 * Entry point for `featd-cli parquet ...`; argv[0] is "parquet".
 * Returns the process exit status: 0 success, 1 the file was refused (one
 * line on stderr), 2 usage error.
 */
int cli_parquet_main(int argc, char **argv);

/*
 * Write every row of f as one JSON object per line to out (the `dump`
 * format). Returns FEATD_OK, or FEATD_ERR with the reason in err (rows
 * already written stay written). Also used by the fuzz harness.
 */
int cli_parquet_dump(struct pq_file *f, FILE *out, char *err, size_t errlen) FEATD_MUSTCHECK;

/* Write the human-readable `schema` report of f to out. */
void cli_parquet_schema(struct pq_file *f, const char *path, FILE *out);

#endif
