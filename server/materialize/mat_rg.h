/*
 * mat_rg.h — row-group-at-a-time decoding, for the materializer, of a
 * Parquet file bound to a feature view (mat_bind.h): entity keys,
 * timestamps and feature values in the online tier's types
 * (online/online_key.h, online/online_row.h). Materializer thread only;
 * a struct mat_rg belongs to its mat_ctx.
 */
#ifndef FEATD_MAT_RG_H
#define FEATD_MAT_RG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/featd.h"
#include "online/online_key.h"
#include "online/online_row.h"
#include "materialize/mat_bind.h"
#include "parquet/parquet.h"
#include "core/fbuf.h"

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
    struct fbuf lists;          /* packed list values of the current row */
    size_t *list_off;           /* [nfeat] offsets into lists */
    const struct pq_file *file; /* columns' owner (for pq_column) */
    const struct mat_binding *b;
};

/* init: an empty reader (no allocation). free: releases every buffer and
 * leaves g empty again, ready for the next file. */
void mat_rg_init(struct mat_rg *g);
void mat_rg_free(struct mat_rg *g);

/* Reads the join-key and timestamp columns of row group rg. */
int mat_rg_read_keys(struct mat_rg *g, struct pq_file *f, const struct mat_binding *b, int rg,
                     char *err, size_t errlen) FEATD_MUSTCHECK;
/* Reads the feature columns of the same row group (after mat_rg_read_keys). */
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
 * Row r's feature values (after mat_rg_read_features) into vals[nfeat]. Pointers
 * stay valid until the next call. FEATD_ERR with why for values the online
 * tier cannot represent (a null element inside a list, a list longer than
 * ONLINE_MAX_LIST).
 */
int mat_rg_row_values(struct mat_rg *g, size_t r, struct online_value *vals, const char **why);

#endif
