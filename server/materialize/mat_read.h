/*
 * mat_read.h — the bridge between a Parquet file and a feature view for the
 * materializer: the schema check (which column feeds which key, timestamp
 * or feature, and whether its type is compatible), and row-group-at-a-time
 * decoding of entity keys, timestamps and feature values into the online
 * tier's types (online.h).
 *
 * Compatibility (docs/materializer.md "Schema check"): a column is accepted
 * when its values convert to the view's type without loss of meaning —
 *   join key int64    INT32/INT64 signed ints, UINT8/16/32
 *   join key string   BYTE_ARRAY STRING/ENUM/JSON
 *   event/created ts  TIMESTAMP (millis, micros, nanos; nanos floored to
 *                     µs), INT96, DATE (midnight UTC)
 *   features          pq_column_readable_as(): int32 -> int32/int64,
 *                     float -> float/double, FLOAT16 -> float/double,
 *                     timestamps of any unit -> timestamp, strings, bytes,
 *                     list<...> of a matching element -> the *_list types
 * and refused otherwise (double -> float, int64 -> int32, UINT64 -> int64,
 * decimals, strings <-> numbers, scalar <-> list, maps and structs).
 * Key and timestamp columns must be flat; nulls in them reject the row.
 */
#ifndef FEATD_MAT_READ_H
#define FEATD_MAT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/featd.h"
#include "online/online_key.h"
#include "online/online_row.h"
#include "parquet/parquet.h"
#include "core/util.h"

/* What a column is used for (selects the compatibility rule). */
enum mat_role {
    MAT_ROLE_KEY = 0,       /* join key (type FT_INT64 / FT_STRING) */
    MAT_ROLE_EVENT_TS,      /* event-time column */
    MAT_ROLE_CREATED_TS,    /* created-time column */
    MAT_ROLE_FEATURE        /* a feature of type t */
};

/* The compatibility table above for one column. On false, why says what
 * is wrong in words that name the column and both types. */
bool mat_column_compatible(const struct pq_column *c, enum mat_role role, enum featd_type t,
                           char *why, size_t whylen);

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
 * with mat_binding_free (also after an error). */
int mat_bind(struct pq_file *f, const struct cfg_view *v, struct mat_binding *b, char *why,
             size_t whylen) FEATD_MUSTCHECK;
void mat_binding_free(struct mat_binding *b);

/*
 * One row group's decoded columns. Reused across row groups and files
 * (buffers grow to the largest row group, then stay): memory is a few
 * vectors of one row group, never of a whole file.
 */
struct mat_rg {
    size_t nrows;
    size_t nkeys, nfeat;        /* sized for this view */
    struct pq_vec *keys;        /* [nkeys] */
    struct pq_vec ev, cr;
    int64_t *ev_us, *cr_us;     /* [nrows] converted timestamps */
    struct pq_vec *feat;        /* [nfeat] */
    int64_t **feat_ts;          /* [nfeat] converted timestamps (timestamp features) */
    size_t cap_rows;
    size_t *cap_feat_ts;
    bool have_feat;             /* features of this row group decoded */
    struct fbuf lists;          /* packed list values of the current row */
    size_t *list_off;           /* [nfeat] offsets into lists */
    const struct pq_file *file; /* columns' owner (for pq_column) */
    const struct mat_binding *b;
};

void mat_rg_init(struct mat_rg *g);
void mat_rg_free(struct mat_rg *g);

/* Reads the join-key and timestamp columns of row group rg. */
int mat_rg_read_keys(struct mat_rg *g, struct pq_file *f, const struct mat_binding *b, int rg,
                     char *err, size_t errlen) FEATD_MUSTCHECK;
/* Reads the feature columns of the same row group (after read_keys). */
int mat_rg_read_features(struct mat_rg *g, struct pq_file *f, int rg, char *err,
                         size_t errlen) FEATD_MUSTCHECK;

/*
 * Row r's entity key, event and created time. keys has nkeys entries;
 * string keys point into the row group's buffers. FEATD_ERR (with why)
 * when a key or the event time is null; a null created time gives
 * ONLINE_NO_CREATED_TS (it sorts first, like NULLS LAST in a DESC order).
 */
int mat_rg_row_key(const struct mat_rg *g, size_t r, struct online_key *keys, int64_t *event_us,
                   int64_t *created_us, const char **why);
/*
 * Row r's feature values (after read_features) into vals[nfeat]. Pointers
 * stay valid until the next call. FEATD_ERR with why for values the online
 * tier cannot represent (a null element inside a list, a list longer than
 * ONLINE_MAX_LIST).
 */
int mat_rg_row_values(struct mat_rg *g, size_t r, struct online_value *vals, const char **why);

#endif
