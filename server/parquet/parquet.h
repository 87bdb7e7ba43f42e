/*
 * parquet.h — featd's own streaming Parquet reader: the public API (open,
 * schema accessors, column decoding, time conversions). The data types are
 * in pq_types.h; the modules' shared internals in internal.h.
 *
 * Usage:
 *
 *     struct pq_file *f;
 *     if (pq_open_file(path, NULL, &f, err, sizeof err) != FEATD_OK) ...
 *     struct pq_vec v = PQ_VEC_INIT;
 *     for (int rg = 0; rg < pq_num_row_groups(f); rg++)
 *         for (int c = 0; c < pq_num_columns(f); c++) {
 *             if (pq_column_read(f, rg, c, &v, err, sizeof err) != FEATD_OK) ...
 *             ... use v (valid until the next pq_column_read into v) ...
 *         }
 *     pq_column_vec_free(&v);
 *     pq_close(f);
 *
 * Scope: flat columns of every physical type, and list<primitive> columns in
 * the 3-level form (any element name, e.g. "element" or "item") and the legacy
 * 2-level / bare-repeated forms. Maps, structs, lists of structs and deeper
 * nesting are reported as unsupported columns: the file opens, the column's
 * `supported` is false with a reason, and reading it fails naming the column.
 * Encrypted files are refused at open.
 *
 * Memory: the footer, plus per pq_column_read one column chunk's compressed
 * bytes (pread into a reused buffer), one decompressed page and the decoded
 * vector. Nothing is proportional to the file size. Every size, count, offset,
 * bit width and enum read from the file is checked before use; the limits in
 * struct pq_options bound what a hostile file can make the reader allocate.
 *
 * Threading: a pq_file is used by one thread at a time (it owns scratch
 * buffers); open one per thread to read a file in parallel.
 */
#ifndef FEATD_PQ_PARQUET_H
#define FEATD_PQ_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/featd.h"
#include "parquet/pq_types.h"

struct pq_file;

/*
 * Open a file with pread (no mmap; memory does not grow with the file).
 * opts may be NULL (defaults; copied). Parses and validates the footer and
 * the schema. Fails (FEATD_ERR, *out NULL, reason in err) for non-Parquet,
 * truncated or corrupt footers, encrypted files, and bad schemas.
 */
int pq_open_file(const char *path, const struct pq_options *opts, struct pq_file **out,
                 char *err, size_t errlen) FEATD_MUSTCHECK;
/*
 * Test and fuzz API (featd itself only opens files): pq_open_mem is
 * pq_open_file over a memory buffer that must outlive the pq_file (not
 * copied); pq_options_default fills o with the defaults noted in struct
 * pq_options (pq_open_file uses them for a NULL opts). Callers:
 * tests/unit/check_parquet.c, check_pq_decode.c, tests/fuzz/fuzz_parquet.c.
 */
void pq_options_default(struct pq_options *o);
int pq_open_mem(const uint8_t *buf, size_t len, const struct pq_options *opts,
                struct pq_file **out, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Free f and everything it owns (columns, names, scratch); closes its fd. NULL is a no-op. */
void pq_close(struct pq_file *f);

int64_t pq_num_rows(const struct pq_file *f);          /* FileMetaData.num_rows */
int pq_num_row_groups(const struct pq_file *f);
int64_t pq_row_group_num_rows(const struct pq_file *f, int rg);
int pq_num_columns(const struct pq_file *f);            /* top-level columns */
const struct pq_column *pq_column(const struct pq_file *f, int col);
/* Index of the top-level column called name, or -1. */
int pq_find_column(const struct pq_file *f, const char *name);
const char *pq_created_by(const struct pq_file *f);     /* "" when absent */

/* Column chunk metadata, for `featd-cli parquet schema` and diagnostics. */
struct pq_chunk_info {
    int codec;                  /* enum pq_codec (codec.h) */
    uint32_t encodings;         /* bit (1u << encoding) for each listed encoding */
    int64_t num_values;
    int64_t total_compressed_size;
    int64_t total_uncompressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset;     /* -1 when absent */
};
/* Info of leaf `leaf` (pq_column.leaf) in row group rg; FEATD_ERR when out of range. */
int pq_chunk_info(const struct pq_file *f, int rg, int leaf, struct pq_chunk_info *out) FEATD_MUSTCHECK;
/* Parquet names, for messages: "PLAIN", "RLE_DICTIONARY", "INT96", ... */
const char *pq_encoding_name(int encoding);
const char *pq_physical_name(int physical);
/* Human-readable type of a column, e.g. "INT64 TIMESTAMP(MICROS,UTC)",
 * "list<FLOAT>", "BYTE_ARRAY STRING". Writes into buf, returns buf. */
const char *pq_column_type_string(const struct pq_column *c, char *buf, size_t len);

/*
 * Decode top-level column col of row group rg into v (buffers reused).
 * Reads every page of the chunk: dictionary page (found even when
 * dictionary_page_offset is absent or bogus), data pages v1/v2, every
 * encoding; decompresses through pq_codec_decompress. On FEATD_ERR, err
 * names the column and the reason, and v's content is unspecified (still
 * safe to reuse or free).
 */
int pq_column_read(struct pq_file *f, int rg, int col, struct pq_vec *v,
                   char *err, size_t errlen) FEATD_MUSTCHECK;
void pq_column_vec_free(struct pq_vec *v);

/*
 * Timestamps: convert the nvals slots of v (a vector of column c) into
 * microseconds since the epoch in out[nvals]. Accepts TIMESTAMP (MILLIS,
 * MICROS, NANOS; nanoseconds are floored), INT96 (Julian day + nanos, with
 * wrapping 64-bit arithmetic like Spark/Arrow), DATE (midnight UTC), and
 * unannotated INT64 (taken as µs). Null slots give 0. FEATD_ERR when the
 * column is not a time type or a MILLIS value overflows.
 */
int pq_timestamps_us(const struct pq_column *c, const struct pq_vec *v, int64_t *out,
                     char *err, size_t errlen) FEATD_MUSTCHECK;
/* One INT96 value (12 bytes) as µs since the epoch, wrapping arithmetic. */
int64_t pq_int96_to_us(const uint8_t *p);
/* IEEE half (FLOAT16, little-endian 2 bytes) to float. */
float pq_half_to_float(const uint8_t *p);


#endif
