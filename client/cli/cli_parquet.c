/*
 * cli_parquet.c — `featd-cli parquet schema FILE` (schema, row groups,
 * codecs, encodings, sizes) and `featd-cli parquet dump FILE` (one JSON
 * object per row; format in docs/parquet.md, implemented by cli_parquet_dump_json)
 * and `featd-cli parquet bench FILE` (decode every column of every row group,
 * print rows, seconds and rows/s; used by bench/parquet).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_parquet.h"
#include "cli/cli_parquet_dump.h"

static const char usage_text[] =
    "usage: featd-cli parquet schema FILE   schema, row groups, codecs, encodings, sizes\n"
    "       featd-cli parquet dump FILE     one JSON object per row (docs/parquet.md)\n"
    "       featd-cli parquet bench FILE    decode every column; rows, seconds, rows/s\n"
    "Exit status: 0 success, 1 the file was refused, 2 usage error.\n";

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Checks argv like the other commands: --help/-h (also after a subcommand)
 * print the usage on stdout and return 0; a bad usage returns 2 after a
 * message; -1 = go on. */
static int parquet_args(int argc, char **argv)
{
    if (argc >= 2 && (is_help(argv[1]) || strcmp(argv[1], "help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(argv[1], "schema") != 0 && strcmp(argv[1], "dump") != 0 &&
        strcmp(argv[1], "bench") != 0) {
        return cli_usage_error("parquet", "unknown subcommand \"%s\" (schema, dump or bench)",
                               argv[1]);
    }
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        }
    }
    if (argc == 3 && argv[2][0] == '-' && argv[2][1] != '\0') {
        return cli_usage_error("parquet", "%s: unknown option %s", argv[1], argv[2]);
    }
    if (argc != 3) {
        return cli_usage_error("parquet", "%s needs exactly one FILE", argv[1]);
    }
    return -1;
}

/* Decode every column of every row group; print rows, values and timing. */
static int bench(struct pq_file *f, char *err, size_t errlen)
{
    struct timespec t0, t1;
    struct pq_vec v = PQ_VEC_INIT;
    size_t vals = 0;
    int64_t rows = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int rg = 0; rg < pq_num_row_groups(f); rg++) {
        for (int c = 0; c < pq_num_columns(f); c++) {
            if (pq_column_read(f, rg, c, &v, err, errlen) != FEATD_OK) {
                pq_column_vec_free(&v);
                return FEATD_ERR;
            }
            vals += v.nvals;
        }
        rows += pq_row_group_num_rows(f, rg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pq_column_vec_free(&v);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("rows=%lld values=%zu seconds=%.6f rows_per_sec=%.0f\n", (long long)rows, vals, secs,
           secs > 0 ? (double)rows / secs : 0.0);
    return FEATD_OK;
}

int cli_parquet_main(int argc, char **argv)
{
    char err[512];
    struct pq_file *f;
    int arc = parquet_args(argc, argv);
    if (arc >= 0) {
        return arc;
    }
    if (pq_open_file(argv[2], NULL, &f, err, sizeof err) != FEATD_OK) {
        fprintf(stderr, "featd-cli parquet: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[1], "schema") == 0) {
        cli_parquet_dump_schema(f, argv[2], stdout);
    } else if (strcmp(argv[1], "bench") == 0) {
        if (bench(f, err, sizeof err) != FEATD_OK) {
            fprintf(stderr, "featd-cli parquet: %s: %s\n", argv[2], err);
            rc = 1;
        }
    } else if (cli_parquet_dump_json(f, stdout, err, sizeof err) != FEATD_OK) {
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
