/*
 * mat_rg.c — row-group decoding for the materializer (contract in
 * mat_rg.h).
 */
#include "materialize/mat_rg.h"
#include "common/jsonw.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- row groups ---- */

void mat_rg_init(struct mat_rg *g)
{
    memset(g, 0, sizeof(*g));
}

static void rg_free_arrays(struct mat_rg *g)
{
    for (size_t k = 0; k < g->nkeys; k++) {
        pq_column_vec_free(&g->keys[k]);
    }
    for (size_t i = 0; i < g->nfeat; i++) {
        pq_column_vec_free(&g->feat[i]);
        free(g->feat_ts[i]);
    }
    free(g->keys);
    free(g->feat);
    free(g->feat_ts);
    free(g->cap_feat_ts);
    free(g->list_off);
    g->keys = NULL;
    g->feat = NULL;
    g->feat_ts = NULL;
    g->cap_feat_ts = NULL;
    g->list_off = NULL;
    g->nkeys = g->nfeat = 0;
}

void mat_rg_free(struct mat_rg *g)
{
    rg_free_arrays(g);
    pq_column_vec_free(&g->ev);
    pq_column_vec_free(&g->cr);
    free(g->ev_us);
    free(g->cr_us);
    fbuf_free(&g->lists);
    memset(g, 0, sizeof(*g));
}

/* Sizes the per-view arrays (on first use or when the view changes). */
static int rg_shape(struct mat_rg *g, const struct mat_binding *b, char *err, size_t errlen)
{
    const struct cfg_view *v = b->v;
    if (g->b != NULL && g->nkeys == v->nkeys && g->nfeat == v->nfeatures && g->keys != NULL) {
        g->b = b;
        return FEATD_OK;
    }
    rg_free_arrays(g);
    size_t nk = v->nkeys ? v->nkeys : 1, nf = v->nfeatures ? v->nfeatures : 1;
    g->keys = calloc(nk, sizeof(*g->keys));
    g->feat = calloc(nf, sizeof(*g->feat));
    g->feat_ts = calloc(nf, sizeof(*g->feat_ts));
    g->cap_feat_ts = calloc(nf, sizeof(*g->cap_feat_ts));
    g->list_off = calloc(nf, sizeof(*g->list_off));
    if (!g->keys || !g->feat || !g->feat_ts || !g->cap_feat_ts || !g->list_off) {
        rg_free_arrays(g);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    g->nkeys = v->nkeys;
    g->nfeat = v->nfeatures;
    g->b = b;
    return FEATD_OK;
}

static int grow_i64(int64_t **p, size_t *cap, size_t n)
{
    if (n <= *cap) {
        return FEATD_OK;
    }
    int64_t *np = realloc(*p, (n ? n : 1) * sizeof(**p));
    if (np == NULL) {
        return FEATD_ENOMEM;
    }
    *p = np;
    *cap = n;
    return FEATD_OK;
}

static int read_ts(struct pq_file *f, int col, int rg, struct pq_vec *vec, int64_t *out,
                   char *err, size_t errlen)
{
    if (pq_column_read(f, rg, col, vec, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    return pq_timestamps_us(pq_column(f, col), vec, out, err, errlen);
}

int mat_rg_read_keys(struct mat_rg *g, struct pq_file *f, const struct mat_binding *b, int rg,
                     char *err, size_t errlen)
{
    if (rg_shape(g, b, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    g->file = f;
    int64_t n = pq_row_group_num_rows(f, rg);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 16) {
        util_seterr(err, errlen, "row group %d: bad row count %lld", rg, (long long)n);
        return FEATD_ERR;
    }
    g->nrows = (size_t)n;
    if (g->nrows > g->cap_rows) {
        size_t cap = g->nrows;
        int64_t *a = realloc(g->ev_us, cap * sizeof(*a));
        if (a != NULL) {
            g->ev_us = a;
        }
        int64_t *c = realloc(g->cr_us, cap * sizeof(*c));
        if (c != NULL) {
            g->cr_us = c;
        }
        if (a == NULL || c == NULL) {
            util_seterr(err, errlen, "out of memory (row group of %zu rows)", g->nrows);
            return FEATD_ERR;
        }
        g->cap_rows = cap;
    }
    for (size_t k = 0; k < g->nkeys; k++) {
        if (pq_column_read(f, rg, b->key_col[k], &g->keys[k], err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (g->keys[k].nrows != g->nrows) {
            util_seterr(err, errlen, "row group %d: column '%s' has %zu rows, expected %zu", rg,
                   pq_column(f, b->key_col[k])->name, g->keys[k].nrows, g->nrows);
            return FEATD_ERR;
        }
    }
    if (read_ts(f, b->event_col, rg, &g->ev, g->ev_us, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (g->ev.nrows != g->nrows) {
        util_seterr(err, errlen, "row group %d: event-time column has %zu rows, expected %zu", rg,
               g->ev.nrows, g->nrows);
        return FEATD_ERR;
    }
    if (b->created_col >= 0) {
        if (read_ts(f, b->created_col, rg, &g->cr, g->cr_us, err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (g->cr.nrows != g->nrows) {
            util_seterr(err, errlen, "row group %d: created-time column has %zu rows, expected %zu",
                   rg, g->cr.nrows, g->nrows);
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

int mat_rg_read_features(struct mat_rg *g, struct pq_file *f, int rg, char *err, size_t errlen)
{
    const struct mat_binding *b = g->b;
    const struct cfg_view *v = b->v;
    for (size_t i = 0; i < g->nfeat; i++) {
        struct pq_vec *vec = &g->feat[i];
        if (pq_column_read(f, rg, b->feat_col[i], vec, err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (vec->nrows != g->nrows) {
            util_seterr(err, errlen, "row group %d: column '%s' has %zu rows, expected %zu", rg,
                   pq_column(f, b->feat_col[i])->name, vec->nrows, g->nrows);
            return FEATD_ERR;
        }
        if (v->features[i].type == FT_TIMESTAMP) {
            if (grow_i64(&g->feat_ts[i], &g->cap_feat_ts[i], vec->nvals) != FEATD_OK) {
                util_seterr(err, errlen, "out of memory");
                return FEATD_ERR;
            }
            if (pq_timestamps_us(pq_column(f, b->feat_col[i]), vec, g->feat_ts[i], err, errlen) !=
                FEATD_OK) {
                return FEATD_ERR;
            }
        }
    }
    return FEATD_OK;
}

int mat_rg_row_key(const struct mat_rg *g, size_t r, struct online_key *keys, int64_t *event_us,
                   int64_t *created_us, const char **why)
{
    const struct cfg_view *v = g->b->v;
    for (size_t k = 0; k < g->nkeys; k++) {
        const struct pq_vec *vec = &g->keys[k];
        if (!vec->valid[r]) {
            *why = "null join key";
            return FEATD_ERR;
        }
        if (v->keys[k].type == FT_INT64) {
            const struct pq_column *c = pq_column(g->file, g->b->key_col[k]);
            if (vec->physical == PQ_INT32) {
                int32_t x = ((const int32_t *)vec->vals)[r];
                keys[k].i = (c->logical == PQ_LT_INT && !c->int_signed) ? (int64_t)(uint32_t)x
                                                                        : (int64_t)x;
            } else {
                keys[k].i = ((const int64_t *)vec->vals)[r];
            }
            keys[k].s = NULL;
            keys[k].slen = 0;
        } else {
            keys[k].s = (const char *)vec->data + vec->offs[r];
            keys[k].slen = vec->offs[r + 1] - vec->offs[r];
            keys[k].i = 0;
        }
    }
    if (!g->ev.valid[r]) {
        *why = "null event time";
        return FEATD_ERR;
    }
    *event_us = g->ev_us[r];
    *created_us = ONLINE_NO_CREATED_TS;
    if (g->b->created_col >= 0 && g->cr.valid[r]) {
        *created_us = g->cr_us[r];
        if (*created_us == ONLINE_NO_CREATED_TS) {
            *created_us = ONLINE_NO_CREATED_TS + 1;   /* keep "none" distinct */
        }
    }
    return FEATD_OK;
}

/* Scalar element i of a numeric vector as double / float / int64. */
static double num_double(const struct pq_vec *vec, const struct pq_column *c, size_t i)
{
    switch (vec->physical) {
    case PQ_FLOAT: return ((const float *)vec->vals)[i];
    case PQ_DOUBLE: return ((const double *)vec->vals)[i];
    case PQ_FLBA:
        (void)c;
        return pq_half_to_float((const uint8_t *)vec->vals + (size_t)vec->width * i);
    default: return 0;
    }
}

static int64_t num_int64(const struct pq_vec *vec, const struct pq_column *c, size_t i)
{
    if (vec->physical == PQ_INT32) {
        int32_t x = ((const int32_t *)vec->vals)[i];
        return (c->logical == PQ_LT_INT && !c->int_signed) ? (int64_t)(uint32_t)x : (int64_t)x;
    }
    return ((const int64_t *)vec->vals)[i];
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void le64(uint8_t *p, uint64_t v)
{
    le32(p, (uint32_t)v);
    le32(p + 4, (uint32_t)(v >> 32));
}

/* A string feature must be valid UTF-8: answers carry it in a protobuf
 * string field, which strict clients refuse otherwise (bytes features are
 * for anything else). */
#define MAT_RG_NOT_UTF8 "string value is not valid UTF-8 (declare the feature as bytes)"

/*
 * Appends the elements of list row r of vec (type t) to g->lists in the
 * online tier's packed list form (online/online_row.h: 4-byte / 8-byte little-endian
 * items; strings through online_row_list_put_string).
 */
static int put_list(struct mat_rg *g, const struct pq_vec *vec, const struct pq_column *c,
                    enum featd_type t, size_t r, uint32_t *count, const char **why)
{
    uint32_t lo = vec->list_offs[r], hi = vec->list_offs[r + 1];
    if (hi < lo || hi - lo > ONLINE_MAX_LIST) {
        *why = "list longer than the online tier's limit (1000000 elements)";
        return FEATD_ERR;
    }
    for (uint32_t i = lo; i < hi; i++) {
        if (!vec->elem_valid[i]) {
            *why = "null element inside a list (the online tier has no null list elements)";
            return FEATD_ERR;
        }
    }
    size_t n = hi - lo;
    *count = (uint32_t)n;
    if (t == FT_STRING_LIST) {
        for (uint32_t i = lo; i < hi; i++) {
            const char *e = (const char *)vec->data + vec->offs[i];
            size_t elen = vec->offs[i + 1] - vec->offs[i];
            if (!jsonw_utf8_valid(e, elen)) {
                *why = MAT_RG_NOT_UTF8;
                return FEATD_ERR;
            }
            if (online_row_list_put_string(&g->lists, e, elen) != FEATD_OK) {
                *why = "out of memory";
                return FEATD_ERR;
            }
        }
        return FEATD_OK;
    }
    size_t esz = t == FT_FLOAT_LIST ? 4 : 8;
    if (fbuf_reserve(&g->lists, n * esz) != FEATD_OK) {
        *why = "out of memory";
        return FEATD_ERR;
    }
    uint8_t *p = (uint8_t *)g->lists.data + g->lists.len;
    if (t == FT_FLOAT_LIST) {
        if (vec->physical == PQ_FLOAT) {
            const float *src = (const float *)vec->vals + lo;
            for (size_t i = 0; i < n; i++) {
                uint32_t u;
                memcpy(&u, &src[i], 4);
                le32(p + 4 * i, u);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                float f = (float)num_double(vec, c, lo + i);
                uint32_t u;
                memcpy(&u, &f, 4);
                le32(p + 4 * i, u);
            }
        }
    } else if (t == FT_DOUBLE_LIST) {
        for (size_t i = 0; i < n; i++) {
            double d = num_double(vec, c, lo + i);
            uint64_t u;
            memcpy(&u, &d, 8);
            le64(p + 8 * i, u);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            le64(p + 8 * i, (uint64_t)num_int64(vec, c, lo + i));
        }
    }
    g->lists.len += n * esz;
    return FEATD_OK;
}

int mat_rg_row_values(struct mat_rg *g, size_t r, struct online_value *vals, const char **why)
{
    const struct cfg_view *v = g->b->v;
    fbuf_reset(&g->lists);
    bool any_list = false;
    for (size_t i = 0; i < g->nfeat; i++) {
        const struct pq_vec *vec = &g->feat[i];
        const struct pq_column *c = pq_column(g->file, g->b->feat_col[i]);
        struct online_value *o = &vals[i];
        memset(o, 0, sizeof(*o));
        if (!vec->valid[r]) {
            o->is_null = true;
            continue;
        }
        enum featd_type t = v->features[i].type;
        switch (t) {
        case FT_BOOL:
            o->u.b = ((const uint8_t *)vec->vals)[r] != 0;
            break;
        case FT_INT32:
            o->u.i32 = ((const int32_t *)vec->vals)[r];
            break;
        case FT_INT64:
            o->u.i64 = num_int64(vec, c, r);
            break;
        case FT_FLOAT:
            o->u.f = (float)num_double(vec, c, r);
            break;
        case FT_DOUBLE:
            o->u.d = num_double(vec, c, r);
            break;
        case FT_TIMESTAMP:
            o->u.i64 = g->feat_ts[i][r];
            break;
        case FT_STRING:
        case FT_BYTES:
            if (vec->physical == PQ_FLBA) {
                o->s = (const char *)vec->vals + (size_t)vec->width * r;
                o->slen = (size_t)vec->width;
            } else {
                o->s = (const char *)vec->data + vec->offs[r];
                o->slen = vec->offs[r + 1] - vec->offs[r];
            }
            if (t == FT_STRING && !jsonw_utf8_valid(o->s, o->slen)) {
                *why = MAT_RG_NOT_UTF8;
                return FEATD_ERR;
            }
            break;
        default: /* lists */
            g->list_off[i] = g->lists.len;
            if (put_list(g, vec, c, t, r, &o->count, why) != FEATD_OK) {
                return FEATD_ERR;
            }
            o->rawlen = g->lists.len - g->list_off[i];
            any_list = true;
            break;
        }
    }
    if (any_list) {
        /* the buffer may have moved while it grew: point at it now */
        for (size_t i = 0; i < g->nfeat; i++) {
            if (config_type_is_list(v->features[i].type) && !vals[i].is_null) {
                vals[i].raw = g->lists.data ? (const uint8_t *)g->lists.data + g->list_off[i]
                                            : NULL;
            }
        }
    }
    return FEATD_OK;
}
