/*
 * cli_parquet.h — `featd-cli parquet schema|dump FILE`: inspect a Parquet
 * file with featd's own reader (server/parquet/parquet.h). The JSON format
 * of `dump` is documented in docs/parquet.md.
 */
#ifndef FEATD_CLI_PARQUET_H
#define FEATD_CLI_PARQUET_H

#include "core/featd.h"

/*
 * Entry point for `featd-cli parquet schema|dump|bench FILE`; argv[0] is "parquet".
 * Returns the process exit status: 0 success, 1 the file was refused (one
 * line on stderr), 2 usage error.
 */
int cli_parquet_main(int argc, char **argv);

#endif
