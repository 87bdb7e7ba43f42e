/*
 * pq_types.h — the Parquet reader's data types: physical and logical type
 * enums, struct pq_column (one top-level column), struct pq_vec (a decoded
 * column chunk) and struct pq_options (reader limits). Split from parquet.h
 * so that internal.h can embed them without including the public API
 * (parquet.h includes this file; featd code includes parquet.h).
 */
#ifndef FEATD_PQ_TYPES_H
#define FEATD_PQ_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * zeroes (zero-length for byte arrays). Reused across pq_column_read calls
 * (buffers grow, never shrink until pq_column_vec_free). Initialise with
 * PQ_VEC_INIT.
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

/* Reader limits. pq_options_default (parquet.h) fills the defaults noted below. */
struct pq_options {
    size_t max_page_size;       /* decompressed page bytes, default 256 MiB */
    size_t max_footer_size;     /* footer bytes, default 64 MiB */
    size_t max_chunk_size;      /* compressed column chunk bytes, default 1 GiB */
    size_t max_values;          /* levels (rows or list elements) per column
                                   chunk, default 256 Mi */
    size_t max_data_size;       /* decoded byte-array bytes per chunk, default
                                   1 GiB (and < 4 GiB: offsets are 32-bit) */
};

#endif
