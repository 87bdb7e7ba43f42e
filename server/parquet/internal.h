/*
 * internal.h — declarations shared by the reader's modules (not for other
 * featd modules: they use parquet.h). Exposed to the unit tests and the
 * fuzz harness so that the thrift reader and the decoders can be tested
 * with hand-built inputs. Includes pq_types.h, not parquet.h.
 *
 *   thrift.c   pq_thrift_*   Thrift compact protocol reader + generic skipper
 *   meta.c     pq_meta_*     FileMetaData / schema / page header parsing
 *   rle.c      pq_rle_*      bit unpacking, RLE/bit-packed hybrid, RLE and
 *                            legacy BIT_PACKED levels, bit widths
 *   delta.c    pq_delta_*    DELTA_BINARY_PACKED (DELTA_LENGTH_BYTE_ARRAY
 *                            and DELTA_BYTE_ARRAY build on it in column.c),
 *                            BYTE_STREAM_SPLIT
 *   column.c   pq_column_read, pq_column_vec_free: pages, dictionaries,
 *                            values, levels
 *   parquet.c  pq_open_*, pq_close, accessors, names, conversions
 *   codec.c    pq_codec_*    decompressors (codec.h)
 */
#ifndef FEATD_PQ_INTERNAL_H
#define FEATD_PQ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"
#include "core/util.h"
#include "parquet/pq_types.h"

#define PQ_THRIFT_MAX_DEPTH 32      /* nested structs/lists while parsing/skipping */
#define PQ_MAX_SCHEMA_DEPTH 64
#define PQ_MAX_TYPE_LENGTH (1 << 20)

/* Errors are written with util_seterr (util.h). */

/* ---- thrift.c ---------------------------------------------------------- */

enum pq_ttype {
    PQ_T_STOP = 0, PQ_T_TRUE = 1, PQ_T_FALSE = 2, PQ_T_BYTE = 3, PQ_T_I16 = 4,
    PQ_T_I32 = 5, PQ_T_I64 = 6, PQ_T_DOUBLE = 7, PQ_T_BINARY = 8, PQ_T_LIST = 9,
    PQ_T_SET = 10, PQ_T_MAP = 11, PQ_T_STRUCT = 12
};

/* A bounded cursor over compact-protocol bytes. Errors are sticky: after the
 * first one every call fails and err holds the first reason. */
struct pq_thrift {
    const uint8_t *p;       /* next byte */
    const uint8_t *end;     /* one past the last readable byte */
    int depth;              /* current struct/list nesting */
    bool failed;
    char *err;
    size_t errlen;
};

void pq_thrift_init(struct pq_thrift *t, const uint8_t *p, size_t len, char *err, size_t errlen);
int pq_thrift_fail(struct pq_thrift *t, const char *what);      /* sets error, returns FEATD_ERR */
/*
 * Next field header of the struct being read. *last is the previous field
 * id of this struct (start with 0). Returns 1 with *id and *type set, 0 at
 * STOP, FEATD_ERR on error. Boolean fields carry their value in the type
 * (PQ_T_TRUE / PQ_T_FALSE).
 */
int pq_thrift_field(struct pq_thrift *t, int16_t *last, int16_t *id, int *type) FEATD_MUSTCHECK;
/* Integer of any thrift integer type (byte/i16/i32/i64), checked into [min,max]. */
int pq_thrift_int(struct pq_thrift *t, int type, int64_t min, int64_t max, int64_t *v) FEATD_MUSTCHECK;
/* Binary/string: pointer into the buffer and length (bounded by the buffer). */
int pq_thrift_binary(struct pq_thrift *t, int type, const uint8_t **p, size_t *len) FEATD_MUSTCHECK;
/* List/set header: element type and count (count <= remaining bytes). */
int pq_thrift_list(struct pq_thrift *t, int type, int *etype, size_t *count) FEATD_MUSTCHECK;
/* Enter/leave a nested struct (depth limit); type checked to be STRUCT. */
int pq_thrift_enter(struct pq_thrift *t, int type) FEATD_MUSTCHECK;
void pq_thrift_leave(struct pq_thrift *t);
/* Skip one value of the given type, whatever it holds (depth/length limited). */
int pq_thrift_skip(struct pq_thrift *t, int type) FEATD_MUSTCHECK;

/* ---- meta.c ------------------------------------------------------------ */

struct pq_schema_el {
    char *name;
    int type;               /* physical, -1 for groups */
    int type_length;
    int repetition;         /* 0 REQUIRED, 1 OPTIONAL, 2 REPEATED, -1 absent */
    int num_children;
    int converted;          /* -1 absent */
    int scale, precision;   /* SchemaElement fields 7/8, -1 absent */
    int logical;            /* enum pq_logical, -1 when no LogicalType */
    bool lt_list, lt_map;   /* LogicalType LIST / MAP */
    int lt_unit;            /* TIME/TIMESTAMP */
    bool lt_utc;
    int lt_bits;
    bool lt_signed;
    int lt_scale, lt_precision;
};

struct pq_chunk_meta {
    int type;               /* physical */
    int codec;
    uint32_t encodings;     /* bitmask */
    int64_t num_values;
    int64_t total_uncompressed_size;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset;     /* -1 absent */
    bool has_meta;
    bool has_file_path;     /* external file: unsupported */
};

struct pq_row_group {
    int64_t num_rows;
    struct pq_chunk_meta *chunks;   /* [nleaves] */
};

struct pq_leaf {
    int physical;
    int max_def, max_rep;
    int column;             /* top-level column index */
};

struct pq_meta {
    int64_t num_rows;
    char *created_by;
    struct pq_schema_el *schema;
    size_t nschema;
    struct pq_row_group *rgs;
    size_t nrgs;
    size_t nrg_chunks;      /* chunks per row group as parsed (checked == nleaves) */
    bool encrypted;         /* encryption_algorithm or crypto_metadata present */
};

/* Parse FileMetaData from buf[0..len). On error frees what it built. */
int pq_meta_parse(const uint8_t *buf, size_t len, struct pq_meta *m, char *err, size_t errlen) FEATD_MUSTCHECK;
void pq_meta_free(struct pq_meta *m);

enum pq_page_type { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };

struct pq_page_header {
    int type;
    int32_t uncompressed_size;
    int32_t compressed_size;
    int32_t num_values;     /* data v1/v2, dictionary */
    int encoding;
    int def_encoding, rep_encoding;   /* v1 */
    int32_t num_rows;                 /* v2 */
    int32_t def_len, rep_len;         /* v2 */
    bool is_compressed;               /* v2, default true */
    bool has_data, has_dict, has_v2;
};
/* Parse one PageHeader; *used = bytes consumed. All values range-checked
 * (non-negative sizes and counts, known enums). */
int pq_meta_page_header(const uint8_t *p, size_t len, struct pq_page_header *h, size_t *used,
                        char *err, size_t errlen) FEATD_MUSTCHECK;

/* ---- rle.c ------------------------------------------------------------- */

/* Unpack n values of bw bits (0..64), LSB-first, from in (inlen bytes,
 * must hold ceil(n*bw/8) bytes). Used by DELTA_BINARY_PACKED miniblocks. */
void pq_rle_unpack64(const uint8_t *in, size_t inlen, uint64_t *out, size_t n, int bw);

/*
 * RLE/bit-packed hybrid: decode exactly n values of width bw (0..32) from
 * in[0..len) into out. Fails when the data ends early or a run header is
 * corrupt. A final bit-packed run may be shorter than its declared groups
 * when the values needed are present. *used (may be NULL) = bytes consumed.
 */
int pq_rle_decode32(const uint8_t *in, size_t len, int bw, uint32_t *out, size_t n,
                    size_t *used, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Same for levels (bw <= 8), writing bytes; values checked <= max. */
int pq_rle_levels(const uint8_t *in, size_t len, int bw, int max, uint8_t *out, size_t n,
                  char *err, size_t errlen) FEATD_MUSTCHECK;
/* Legacy BIT_PACKED levels (MSB-first), values checked <= max. *used = bytes. */
int pq_rle_bitpacked_levels(const uint8_t *in, size_t len, int bw, int max, uint8_t *out,
                            size_t n, size_t *used, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Bits needed for values 0..max. */
int pq_rle_bit_width(uint64_t max);

/* ---- delta.c ----------------------------------------------------------- */

/*
 * DELTA_BINARY_PACKED: read the header, then decode its total count of
 * values into out (capacity cap values). Fails when the count exceeds cap,
 * for malformed headers (block size not a multiple of 128, miniblock size
 * not a multiple of 32, bit width > 64) or truncated data. Arithmetic wraps
 * (mod 2^64; INT32 columns truncate). *count = values decoded, *used =
 * bytes consumed through the end of the last miniblock holding values.
 */
int pq_delta_binary(const uint8_t *in, size_t len, uint64_t *out, size_t cap, size_t *count,
                    size_t *used, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Just the total value count of a DELTA_BINARY_PACKED header. */
int pq_delta_count(const uint8_t *in, size_t len, size_t *count, char *err, size_t errlen) FEATD_MUSTCHECK;
/* BYTE_STREAM_SPLIT: n values of width w from in (needs n*w bytes) into out. */
int pq_delta_byte_stream_split(const uint8_t *in, size_t len, size_t n, int w, uint8_t *out,
                               char *err, size_t errlen) FEATD_MUSTCHECK;

/* ---- parquet.c / column.c ---------------------------------------------- */

/* A growable scratch buffer owned by the pq_file. */
struct pq_buf {
    uint8_t *p;
    size_t cap;
};

struct pq_file {
    struct pq_options opts;
    int fd;                 /* -1 for memory */
    bool own_fd;
    const uint8_t *mem;     /* memory mode: whole file */
    uint64_t size;          /* file size */
    uint64_t data_end;      /* first byte of the footer (pages must end before) */
    struct pq_meta meta;
    struct pq_leaf *leaves;
    size_t nleaves;
    struct pq_column *cols;
    size_t ncols;
    /* scratch, reused across pq_column_read calls */
    struct pq_buf chunk;    /* pread'd column chunk */
    struct pq_buf page;     /* decompressed page */
    struct pq_buf def, rep; /* levels of one page */
    struct pq_buf idx;      /* dictionary indices / delta values */
    struct pq_buf tmp;      /* DELTA_BYTE_ARRAY / misc */
    struct pq_buf dict;     /* dictionary values (fixed) or bytes */
    struct pq_buf dict_offs;/* dictionary byte-array offsets */
};

#endif
