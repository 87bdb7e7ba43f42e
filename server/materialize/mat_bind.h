/*
 * mat_bind.h — binding a Parquet file to a feature view for the
 * materializer: which column feeds which join key, timestamp or feature,
 * and whether its type is compatible. Pure functions of the file's schema
 * and the view (any thread); the parquet reader itself knows nothing of
 * featd's types, the mapping lives here.
 *
 * Compatibility (docs/materializer.md "Schema check"): a column is accepted
 * when its values convert to the view's type without loss of meaning —
 *   join key int64    INT32/INT64 signed ints, UINT8/16/32
 *   join key string   BYTE_ARRAY STRING/ENUM/JSON
 *   event/created ts  TIMESTAMP (millis, micros, nanos; nanos floored to
 *                     µs), INT96, DATE (midnight UTC)
 *   features          mat_bind_readable_as(): int32 -> int32/int64,
 *                     float -> float/double, FLOAT16 -> float/double,
 *                     timestamps of any unit -> timestamp, strings, bytes,
 *                     list<...> of a matching element -> the *_list types
 * and refused otherwise (double -> float, int64 -> int32, UINT64 -> int64,
 * decimals, strings <-> numbers, scalar <-> list, maps and structs).
 * Key and timestamp columns must be flat; nulls in them reject the row.
 */
#ifndef FEATD_MAT_BIND_H
#define FEATD_MAT_BIND_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/featd.h"
#include "parquet/parquet.h"

/* What a column is used for (selects the compatibility rule). */
enum mat_role {
    MAT_ROLE_KEY = 0,       /* join key (type FT_INT64 / FT_STRING) */
    MAT_ROLE_EVENT_TS,      /* event-time column */
    MAT_ROLE_CREATED_TS,    /* created-time column */
    MAT_ROLE_FEATURE        /* a feature of type t */
};

/* The compatibility table above for one column. On false, why says what
 * is wrong in words that name the column and both types. Used by mat_bind;
 * exported for tests/unit/check_mat.c, which walks the table case by case. */
bool mat_bind_compatible(const struct pq_column *c, enum mat_role role, enum featd_type t,
                         char *why, size_t whylen);

/* Whether column c converts to featd type t without loss of meaning (the
 * features rule above; also used for keys and timestamps). On false, why
 * names the column and both types. Used by mat_bind_compatible; exported
 * for tests/unit/check_mat.c (the Parquet conformance corpus). */
bool mat_bind_readable_as(const struct pq_column *c, enum featd_type t, char *why,
                          size_t whylen);

/* The columns of one file that feed one view. */
struct mat_binding {
    const struct cfg_view *v;   /* not owned */
    int *key_col;               /* [v->nkeys] top-level column index */
    int event_col;
    int created_col;            /* -1 when the view has none */
    int *feat_col;              /* [v->nfeatures] */
};

/* Finds and checks every column the view needs in f. FEATD_ERR with the
 * first problem in why ("missing column 'rev30' (feature revenue_30d)",
 * "column 'rev30' is BYTE_ARRAY STRING, not readable as double"). Free
 * with mat_bind_free (also after an error). */
int mat_bind(struct pq_file *f, const struct cfg_view *v, struct mat_binding *b, char *why,
             size_t whylen) FEATD_MUSTCHECK;
void mat_bind_free(struct mat_binding *b);

#endif
