/*
 * cli_parquet_dump.h — text renderings of a Parquet file for `featd-cli
 * parquet dump|schema`, the test fixtures' .expected.jsonl and the fuzzer.
 */
#ifndef FEATD_CLI_PARQUET_DUMP_H
#define FEATD_CLI_PARQUET_DUMP_H

#include <stdio.h>

#include "parquet/parquet.h"

/*
 * Text renderings. cli_parquet_dump_json writes every row of f as one JSON
 * object per line (keys = column names in file order; formats in
 * docs/parquet.md); FEATD_ERR with the reason in err for any column it
 * cannot read (rows of earlier row groups are already written).
 * cli_parquet_dump_schema writes the human-readable schema / row group report.
 */
int cli_parquet_dump_json(struct pq_file *f, FILE *out, char *err, size_t errlen) FEATD_MUSTCHECK;
void cli_parquet_dump_schema(struct pq_file *f, const char *path, FILE *out);

#endif
