/*
 * mat_bind.c — binding a Parquet file's columns to a feature view
 * (contract in mat_bind.h).
 */
#include "materialize/mat_bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- types ---- */

bool mat_bind_readable_as(const struct pq_column *c, enum featd_type t, char *why,
                          size_t whylen)
{
    char tb[160];
    bool want_list = t == FT_FLOAT_LIST || t == FT_DOUBLE_LIST || t == FT_INT64_LIST
                     || t == FT_STRING_LIST;
    if (!c->supported) {
        util_seterr(why, whylen, "column '%s': %s", c->name, c->unsupported_reason);
        return false;
    }
    if (want_list != c->is_list) {
        util_seterr(why, whylen, "column '%s' is %s, %s expected", c->name,
                    pq_column_type_string(c, tb, sizeof tb), config_type_name(t));
        return false;
    }
    bool ok = false;
    int p = c->physical, l = c->logical;
    /* integers that fit the target without changing meaning */
    bool fits32 = l == PQ_LT_NONE || (l == PQ_LT_INT && (c->int_signed || c->int_bits < 32));
    bool fits64 = l == PQ_LT_NONE || (l == PQ_LT_INT && (c->int_signed || c->int_bits < 64));
    switch (t) {
    case FT_BOOL: ok = p == PQ_BOOLEAN; break;
    case FT_INT32: ok = p == PQ_INT32 && fits32; break;
    case FT_INT64:
    case FT_INT64_LIST:
        ok = (p == PQ_INT32 || p == PQ_INT64) && fits64;
        break;
    case FT_FLOAT:
    case FT_FLOAT_LIST:
        ok = p == PQ_FLOAT || (p == PQ_FLBA && l == PQ_LT_FLOAT16);
        break;
    case FT_DOUBLE:
    case FT_DOUBLE_LIST:
        ok = p == PQ_FLOAT || p == PQ_DOUBLE || (p == PQ_FLBA && l == PQ_LT_FLOAT16);
        break;
    case FT_STRING:
    case FT_STRING_LIST:
        ok = p == PQ_BYTE_ARRAY && (l == PQ_LT_STRING || l == PQ_LT_ENUM || l == PQ_LT_JSON);
        break;
    case FT_BYTES: ok = (p == PQ_BYTE_ARRAY || p == PQ_FLBA) && l != PQ_LT_DECIMAL; break;
    case FT_TIMESTAMP:
        ok = p == PQ_INT96 || (p == PQ_INT64 && l == PQ_LT_TIMESTAMP)
             || (p == PQ_INT32 && l == PQ_LT_DATE);
        break;
    default: ok = false; break;
    }
    if (!ok) {
        util_seterr(why, whylen, "column '%s' is %s, not readable as %s", c->name,
                    pq_column_type_string(c, tb, sizeof tb), config_type_name(t));
    }
    return ok;
}

/* ---- schema check ---- */

bool mat_bind_compatible(const struct pq_column *c, enum mat_role role, enum featd_type t,
                         char *why, size_t whylen)
{
    char tb[160];
    switch (role) {
    case MAT_ROLE_KEY:
        if (t != FT_INT64 && t != FT_STRING) {
            util_seterr(why, whylen, "join key column '%s': join keys are int64 or string", c->name);
            return false;
        }
        if (!mat_bind_readable_as(c, t, why, whylen)) {
            return false;
        }
        return true;
    case MAT_ROLE_EVENT_TS:
    case MAT_ROLE_CREATED_TS:
        if (!c->supported || c->is_list) {
            util_seterr(why, whylen, "%s column '%s' is %s, a timestamp is expected",
                   role == MAT_ROLE_EVENT_TS ? "event-time" : "created-time", c->name,
                   c->supported ? pq_column_type_string(c, tb, sizeof tb)
                                : c->unsupported_reason);
            return false;
        }
        if (!mat_bind_readable_as(c, FT_TIMESTAMP, NULL, 0)) {
            util_seterr(why, whylen, "%s column '%s' is %s, a timestamp is expected (TIMESTAMP of "
                   "any unit, INT96 or DATE)",
                   role == MAT_ROLE_EVENT_TS ? "event-time" : "created-time", c->name,
                   pq_column_type_string(c, tb, sizeof tb));
            return false;
        }
        return true;
    case MAT_ROLE_FEATURE:
    default:
        return mat_bind_readable_as(c, t, why, whylen);
    }
}

void mat_bind_free(struct mat_binding *b)
{
    free(b->key_col);
    free(b->feat_col);
    memset(b, 0, sizeof(*b));
}

static int bind_one(struct pq_file *f, const char *col, enum mat_role role, enum featd_type t,
                    const char *what, int *out, char *why, size_t whylen)
{
    int idx = pq_find_column(f, col);
    if (idx < 0) {
        util_seterr(why, whylen, "missing column '%s' (%s)", col, what);
        return FEATD_ERR;
    }
    char tmp[320];
    if (!mat_bind_compatible(pq_column(f, idx), role, t, tmp, sizeof(tmp))) {
        util_seterr(why, whylen, "%s (%s)", tmp, what);
        return FEATD_ERR;
    }
    *out = idx;
    return FEATD_OK;
}

int mat_bind(struct pq_file *f, const struct cfg_view *v, struct mat_binding *b, char *why,
             size_t whylen)
{
    memset(b, 0, sizeof(*b));
    b->v = v;
    b->created_col = -1;
    b->key_col = calloc(v->nkeys ? v->nkeys : 1, sizeof(int));
    b->feat_col = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(int));
    if (b->key_col == NULL || b->feat_col == NULL) {
        util_seterr(why, whylen, "out of memory");
        return FEATD_ERR;
    }
    char what[200];
    for (size_t k = 0; k < v->nkeys; k++) {
        snprintf(what, sizeof(what), "join key %s %s", v->keys[k].name,
                 config_type_name(v->keys[k].type));
        if (bind_one(f, v->keys[k].name, MAT_ROLE_KEY, v->keys[k].type, what, &b->key_col[k],
                     why, whylen) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (bind_one(f, v->event_ts_column, MAT_ROLE_EVENT_TS, FT_TIMESTAMP,
                 "event_timestamp_column", &b->event_col, why, whylen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (v->created_ts_column != NULL &&
        bind_one(f, v->created_ts_column, MAT_ROLE_CREATED_TS, FT_TIMESTAMP,
                 "created_timestamp_column", &b->created_col, why, whylen) != FEATD_OK) {
        return FEATD_ERR;
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        snprintf(what, sizeof(what), "feature %s %s", v->features[i].name,
                 config_type_name(v->features[i].type));
        if (bind_one(f, v->features[i].column, MAT_ROLE_FEATURE, v->features[i].type, what,
                     &b->feat_col[i], why, whylen) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}
