/*
 * cli_parquet.c — `featd-cli parquet schema FILE` (schema, row groups,
 * codecs, encodings, sizes) and `featd-cli parquet dump FILE` (one JSON
 * object per row; format in docs/parquet.md, implemented by pq_dump_json).
 */
#include <stdio.h>
#include <string.h>

#include "cli_parquet.h"
#include "parquet/parquet.h"

static int usage(void)
{
    fprintf(stderr, "usage: featd-cli parquet schema FILE\n"
                    "       featd-cli parquet dump FILE\n");
    return 2;
}

int cli_parquet_main(int argc, char **argv)
{
    char err[512];
    struct pq_file *f;
    if (argc != 3 || (strcmp(argv[1], "schema") != 0 && strcmp(argv[1], "dump") != 0)) {
        return usage();
    }
    if (pq_open_file(argv[2], NULL, &f, err, sizeof err) != FEATD_OK) {
        fprintf(stderr, "featd-cli parquet: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[1], "schema") == 0) {
        pq_dump_schema(f, argv[2], stdout);
    } else if (pq_dump_json(f, stdout, err, sizeof err) != FEATD_OK) {
        fflush(stdout);
        fprintf(stderr, "featd-cli parquet: %s: %s\n", argv[2], err);
        rc = 1;
    }
    pq_close(f);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "featd-cli parquet: write error\n");
        rc = 1;
    }
    return rc;
}
