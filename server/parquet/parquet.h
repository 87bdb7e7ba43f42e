/*
 * parquet.h — featd's own streaming Parquet reader (DESIGN.md §7).
 *
 * Usage:
 *
 *     struct pq_file *f;
 *     if (pq_open_file(path, NULL, &f, err, sizeof err) != FEATD_OK) ...
 *     struct pq_vec v = PQ_VEC_INIT;
 *     for (int rg = 0; rg < pq_num_row_groups(f); rg++)
 *         for (int c = 0; c < pq_num_columns(f); c++) {
 *             if (pq_read_column(f, rg, c, &v, err, sizeof err) != FEATD_OK) ...
 *             ... use v (valid until the next pq_read_column into v) ...
 *         }
 *     pq_vec_free(&v);
 *     pq_close(f);
 *
 * Scope: flat columns of every physical type, and list<primitive> columns in
 * the 3-level form (any element name, e.g. "element" or "item") and the legacy
 * 2-level / bare-repeated forms. Maps, structs, lists of structs and deeper
 * nesting are reported as unsupported columns: the file opens, the column's
 * `supported` is false with a reason, and reading it fails naming the column.
 * Encrypted files are refused at open.
 *
 * Memory: the footer, plus per pq_read_column one column chunk's compressed
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

/* Physical types (Parquet thrift `Type`). */
enum pq_physical {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,       /* 12 bytes: LE int64 nanos-of-day, LE int32 Julian day */
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FLBA = 7         /* FIXED_LEN_BYTE_ARRAY, type_length bytes */
};

/* Logical type, from LogicalType or (when absent) ConvertedType. */
enum pq_logical {
    PQ_LT_NONE = 0,     /* no annotation */
    PQ_LT_STRING,       /* STRING / UTF8 */
    PQ_LT_ENUM,
    PQ_LT_JSON,
    PQ_LT_BSON,
    PQ_LT_UUID,
    PQ_LT_INT,          /* int_bits / int_signed */
    PQ_LT_DATE,         /* INT32 days since the epoch */
    PQ_LT_TIME,         /* time of day, time_unit */
    PQ_LT_TIMESTAMP,    /* time_unit, utc */
    PQ_LT_DECIMAL,      /* scale / precision */
    PQ_LT_FLOAT16,      /* FLBA(2) IEEE half */
    PQ_LT_INTERVAL,
    PQ_LT_NULL,         /* LogicalType UNKNOWN: always null */
    PQ_LT_OTHER         /* a LogicalType member this reader does not know: raw physical */
};

enum pq_time_unit { PQ_MILLIS = 0, PQ_MICROS = 1, PQ_NANOS = 2 };

/*
 * One top-level column of the file (a top-level schema field). For list
 * columns the type fields describe the element. Owned by the pq_file.
 */
struct pq_column {
    const char *name;           /* top-level field name */
    enum pq_physical physical;  /* of the value / list element */
    enum pq_logical logical;
    int converted_type;         /* raw thrift ConvertedType, -1 when absent */
    int type_length;            /* FLBA width, else 0 */
    int int_bits;               /* PQ_LT_INT: 8/16/32/64 */
    bool int_signed;            /* PQ_LT_INT */
    enum pq_time_unit time_unit;/* PQ_LT_TIMESTAMP / PQ_LT_TIME */
    bool utc;                   /* timestamp isAdjustedToUTC (informational) */
    int scale, precision;       /* PQ_LT_DECIMAL */
    bool nullable;              /* the row's value (or list) may be null */
    bool is_list;               /* list<element> */
    bool element_nullable;      /* list elements may be null */
    bool supported;             /* false: maps, structs, deep nesting... */
    const char *unsupported_reason; /* when !supported, e.g. "MAP columns are not supported" */
    int leaf;                   /* index of its first leaf column chunk */
    int nleaves;                /* leaf chunks it spans (1 when supported) */
    int max_def, max_rep;       /* level maxima of the (first) leaf */
    int def_list;               /* lists: def >= def_list means the list is not null */
    int def_elem;               /* lists: def >= def_elem means an element slot exists */
};

/*
 * A decoded column chunk. Values are "spaced": one slot per row for flat
 * columns, one slot per list element for list columns; a null slot holds
 * zeroes (zero-length for byte arrays). Reused across pq_read_column calls
 * (buffers grow, never shrink until pq_vec_free). Initialise with PQ_VEC_INIT.
 */
struct pq_vec {
    enum pq_physical physical;  /* of the slots */
    int width;                  /* bytes per slot for fixed-width types:
                                   BOOLEAN 1 (uint8_t 0/1), INT32 4, INT64 8,
                                   INT96 12, FLOAT 4, DOUBLE 8, FLBA type_length;
                                   0 for BYTE_ARRAY */
    bool is_list;
    size_t nrows;               /* rows in the row group */
    uint8_t *valid;             /* [nrows] 1 = value (or list) present, 0 = null */
    size_t nvals;               /* slots: == nrows for flat columns, total list
                                   elements (incl. null elements) for lists */
    void *vals;                 /* fixed width: [nvals * width] bytes, native
                                   endian int32_t/int64_t/float/double/uint8_t */
    uint32_t *offs;             /* BYTE_ARRAY: [nvals + 1] offsets into data */
    uint8_t *data;              /* BYTE_ARRAY bytes */
    size_t ndata;
    uint32_t *list_offs;        /* lists: [nrows + 1] slot offsets; row r's
                                   elements are slots list_offs[r]..list_offs[r+1]
                                   (empty for null and empty lists) */
    uint8_t *elem_valid;        /* lists: [nvals] 1 = element present */
    /* capacities (private) */
    size_t cap_rows, cap_vals_bytes, cap_offs, cap_data, cap_list, cap_elem;
};
#define PQ_VEC_INIT {0}

/* Reader limits. pq_options_default fills the defaults noted below. */
struct pq_options {
    size_t max_page_size;       /* decompressed page bytes, default 256 MiB */
    size_t max_footer_size;     /* footer bytes, default 64 MiB */
    size_t max_chunk_size;      /* compressed column chunk bytes, default 1 GiB */
    size_t max_values;          /* levels (rows or list elements) per column
                                   chunk, default 256 Mi */
    size_t max_data_size;       /* decoded byte-array bytes per chunk, default
                                   1 GiB (and < 4 GiB: offsets are 32-bit) */
};
void pq_options_default(struct pq_options *o);

struct pq_file;

/*
 * Open a file with pread (no mmap; memory does not grow with the file).
 * opts may be NULL (defaults; copied). Parses and validates the footer and
 * the schema. Fails (FEATD_ERR, *out NULL, reason in err) for non-Parquet,
 * truncated or corrupt footers, encrypted files, and bad schemas.
 */
int pq_open_file(const char *path, const struct pq_options *opts, struct pq_file **out,
                 char *err, size_t errlen) FEATD_MUSTCHECK;
/* Same, over an already-open fd (not closed by pq_close). */
int pq_open_fd(int fd, const struct pq_options *opts, struct pq_file **out,
               char *err, size_t errlen) FEATD_MUSTCHECK;
/* Same, over a memory buffer that must outlive the pq_file (not copied). */
int pq_open_mem(const uint8_t *buf, size_t len, const struct pq_options *opts,
                struct pq_file **out, char *err, size_t errlen) FEATD_MUSTCHECK;
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
int pq_read_column(struct pq_file *f, int rg, int col, struct pq_vec *v,
                   char *err, size_t errlen) FEATD_MUSTCHECK;
void pq_vec_free(struct pq_vec *v);

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
