/*
 * fuzz_parquet.c — libFuzzer harness over the whole decode path: open the
 * input as an in-memory Parquet file, decode every column chunk of every
 * row group, convert time columns, and render the JSON dump (to /dev/null).
 * Limits are lowered so that a hostile header cannot make one run allocate
 * hundreds of MiB (the default limits are exercised by the unit tests).
 * Built and run by `make fuzz` (mk/parquet.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_parquet_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    char err[512];
    struct pq_options o;
    struct pq_file *f;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
    }
    pq_options_default(&o);
    o.max_page_size = 16 << 20;
    o.max_values = 4 << 20;
    o.max_data_size = 64 << 20;
    if (pq_open_mem(data, size, &o, &f, err, sizeof err) != FEATD_OK) {
        return 0;
    }
    struct pq_vec v = PQ_VEC_INIT;
    int64_t *ts = NULL;
    for (int rg = 0; rg < pq_num_row_groups(f); rg++) {
        for (int c = 0; c < pq_num_columns(f); c++) {
            if (pq_column_read(f, rg, c, &v, err, sizeof err) != FEATD_OK) {
                continue;
            }
            const struct pq_column *col = pq_column(f, c);
            int64_t *t = realloc(ts, (v.nvals + 1) * sizeof *t);
            if (t == NULL) {
                continue;
            }
            ts = t;
            if (pq_timestamps_us(col, &v, ts, err, sizeof err) != FEATD_OK) {
                continue;
            }
        }
    }
    free(ts);
    pq_column_vec_free(&v);
    if (cli_parquet_dump_json(f, devnull, err, sizeof err) != FEATD_OK) {
        /* refused: fine */
    }
    pq_close(f);
    return 0;
}
