/*
 * featd_get.c — libfeatd's GetOnlineFeatures request builder (struct
 * featd_get, featd_get_*; API in featd_client.h). The
 * builder owns deep copies of every feature name and entity value it is
 * given; featd_get_request hands out a view of them that stays valid until
 * the builder is next changed or freed. Not thread-safe (one builder per
 * thread); only libc and protobuf-c are used.
 */
#include "featd_client.h"

#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

static void value_free(Featd__V1__Value *v)
{
    if (v == NULL) {
        return;
    }
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        free(v->string_val);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        free(v->bytes_val.data);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL:
        if (v->float_list_val != NULL) {
            free(v->float_list_val->val);
            free(v->float_list_val);
        }
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL:
        if (v->double_list_val != NULL) {
            free(v->double_list_val->val);
            free(v->double_list_val);
        }
        break;
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL:
        if (v->int64_list_val != NULL) {
            free(v->int64_list_val->val);
            free(v->int64_list_val);
        }
        break;
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL:
        if (v->string_list_val != NULL) {
            for (size_t i = 0; i < v->string_list_val->n_val; i++) {
                free(v->string_list_val->val[i]);
            }
            free(v->string_list_val->val);
            free(v->string_list_val);
        }
        break;
    default:
        break;
    }
    free(v);
}

/* Copies n elements of size sz (NULL when n == 0); *ok = false on OOM. */
static void *dup_array(const void *p, size_t n, size_t sz, bool *ok)
{
    if (n == 0 || p == NULL) {
        return NULL;
    }
    if (n > SIZE_MAX / sz) {
        *ok = false;
        return NULL;
    }
    void *q = malloc(n * sz);
    if (q == NULL) {
        *ok = false;
        return NULL;
    }
    memcpy(q, p, n * sz);
    return q;
}

static char *dup_str(const char *s, bool *ok)
{
    char *d = strdup(s ? s : "");
    if (d == NULL) {
        *ok = false;
    }
    return d;
}

/* Deep copy of any value; NULL on OOM. */
static Featd__V1__Value *value_dup(const Featd__V1__Value *src)
{
    Featd__V1__Value *v = malloc(sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    featd__v1__value__init(v);
    bool ok = true;
    v->kind_case = src->kind_case;
    switch (src->kind_case) {
    case FEATD__V1__VALUE__KIND_BOOL_VAL:
        v->bool_val = src->bool_val;
        break;
    case FEATD__V1__VALUE__KIND_INT32_VAL:
        v->int32_val = src->int32_val;
        break;
    case FEATD__V1__VALUE__KIND_INT64_VAL:
        v->int64_val = src->int64_val;
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_VAL:
        v->float_val = src->float_val;
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_VAL:
        v->double_val = src->double_val;
        break;
    case FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL:
        v->timestamp_us_val = src->timestamp_us_val;
        break;
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        v->string_val = dup_str(src->string_val, &ok);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        v->bytes_val.len = src->bytes_val.len;
        v->bytes_val.data = dup_array(src->bytes_val.data, src->bytes_val.len, 1, &ok);
        if (v->bytes_val.data == NULL) {
            v->bytes_val.len = 0;
        }
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: {
        Featd__V1__FloatList *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__float_list__init(l);
        if (src->float_list_val != NULL) {
            l->val = dup_array(src->float_list_val->val, src->float_list_val->n_val,
                               sizeof(float), &ok);
            l->n_val = l->val ? src->float_list_val->n_val : 0;
        }
        v->float_list_val = l;
        break;
    }
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: {
        Featd__V1__DoubleList *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__double_list__init(l);
        if (src->double_list_val != NULL) {
            l->val = dup_array(src->double_list_val->val, src->double_list_val->n_val,
                               sizeof(double), &ok);
            l->n_val = l->val ? src->double_list_val->n_val : 0;
        }
        v->double_list_val = l;
        break;
    }
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: {
        Featd__V1__Int64List *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__int64_list__init(l);
        if (src->int64_list_val != NULL) {
            l->val = dup_array(src->int64_list_val->val, src->int64_list_val->n_val,
                               sizeof(int64_t), &ok);
            l->n_val = l->val ? src->int64_list_val->n_val : 0;
        }
        v->int64_list_val = l;
        break;
    }
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: {
        Featd__V1__StringList *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__string_list__init(l);
        v->string_list_val = l;
        const Featd__V1__StringList *sl = src->string_list_val;
        if (sl != NULL && sl->n_val > 0) {
            l->val = calloc(sl->n_val, sizeof(char *));
            if (l->val == NULL) {
                ok = false;
                break;
            }
            for (size_t i = 0; i < sl->n_val && ok; i++) {
                l->val[i] = dup_str(sl->val[i], &ok);
                l->n_val = i + 1;
            }
        }
        break;
    }
    default:
        v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
        break;
    }
    if (!ok) {
        value_free(v);
        return NULL;
    }
    return v;
}

/* ---- GetOnlineFeatures builder ---- */

struct get_col {
    Featd__V1__EntityColumn col;
    size_t cap;                         /* capacity of col.values */
};

struct featd_get {
    Featd__V1__Request req;
    Featd__V1__GetOnlineFeaturesRequest body;
    char **features;
    size_t nfeatures, capfeatures;
    struct get_col **gcols;             /* owned columns */
    Featd__V1__EntityColumn **cols;     /* &gcols[i]->col, what body.entities points at */
    size_t ncols, capcols;
    uint32_t deadline_ms;
    bool held;                  /* generation_mode HELD (shadow reads) */
};

struct featd_get *featd_get_new(void)
{
    struct featd_get *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return NULL;
    }
    featd__v1__request__init(&g->req);
    featd__v1__get_online_features_request__init(&g->body);
    return g;
}

void featd_get_reset(struct featd_get *g)
{
    for (size_t i = 0; i < g->nfeatures; i++) {
        free(g->features[i]);
    }
    g->nfeatures = 0;
    for (size_t i = 0; i < g->ncols; i++) {
        struct get_col *gc = g->gcols[i];
        for (size_t j = 0; j < gc->col.n_values; j++) {
            value_free(gc->col.values[j]);
        }
        free(gc->col.values);
        free(gc->col.join_key);
        free(gc);
    }
    g->ncols = 0;
    g->deadline_ms = 0;
    g->held = false;
}

void featd_get_free(struct featd_get *g)
{
    if (g == NULL) {
        return;
    }
    featd_get_reset(g);
    free(g->features);
    free(g->gcols);
    free(g->cols);
    free(g);
}

/* Grows an array of pointers to hold one more; FEATD_ERR on OOM. */
static int grow_ptrs(void ***arr, size_t n, size_t *cap)
{
    if (n < *cap) {
        return FEATD_OK;
    }
    size_t ncap = *cap ? *cap * 2 : 8;
    void **p = realloc(*arr, ncap * sizeof(void *));
    if (p == NULL) {
        return FEATD_ERR;
    }
    *arr = p;
    *cap = ncap;
    return FEATD_OK;
}

int featd_get_add_feature(struct featd_get *g, const char *ref)
{
    if (g == NULL || ref == NULL) {
        return FEATD_ERR;
    }
    size_t cap = g->capfeatures;
    void **arr = (void **)g->features;
    if (grow_ptrs(&arr, g->nfeatures, &cap) != FEATD_OK) {
        return FEATD_ERR;
    }
    g->features = (char **)arr;
    g->capfeatures = cap;
    char *s = strdup(ref);
    if (s == NULL) {
        return FEATD_ERR;
    }
    g->features[g->nfeatures++] = s;
    return FEATD_OK;
}

static struct get_col *find_col(struct featd_get *g, const char *key)
{
    for (size_t i = 0; i < g->ncols; i++) {
        if (strcmp(g->gcols[i]->col.join_key, key) == 0) {
            return g->gcols[i];
        }
    }
    if (g->ncols == g->capcols) {
        size_t ncap = g->capcols ? g->capcols * 2 : 4;
        struct get_col **a = realloc(g->gcols, ncap * sizeof *a);
        if (a == NULL) {
            return NULL;
        }
        g->gcols = a;
        Featd__V1__EntityColumn **b = realloc(g->cols, ncap * sizeof *b);
        if (b == NULL) {
            return NULL;
        }
        g->cols = b;
        g->capcols = ncap;
    }
    struct get_col *gc = calloc(1, sizeof *gc);
    if (gc == NULL) {
        return NULL;
    }
    featd__v1__entity_column__init(&gc->col);
    gc->col.join_key = strdup(key);
    if (gc->col.join_key == NULL) {
        free(gc);
        return NULL;
    }
    g->gcols[g->ncols] = gc;
    g->cols[g->ncols] = &gc->col;
    g->ncols++;
    return gc;
}

/* Takes ownership of v (freed on failure). */
static int add_value(struct featd_get *g, const char *key, Featd__V1__Value *v)
{
    if (v == NULL) {
        return FEATD_ERR;
    }
    struct get_col *gc = g && key ? find_col(g, key) : NULL;
    if (gc == NULL) {
        value_free(v);
        return FEATD_ERR;
    }
    if (gc->col.n_values == gc->cap) {
        size_t ncap = gc->cap ? gc->cap * 2 : 8;
        Featd__V1__Value **a = realloc(gc->col.values, ncap * sizeof *a);
        if (a == NULL) {
            value_free(v);
            return FEATD_ERR;
        }
        gc->col.values = a;
        gc->cap = ncap;
    }
    gc->col.values[gc->col.n_values++] = v;
    return FEATD_OK;
}

static Featd__V1__Value *new_value(int kind)
{
    Featd__V1__Value *v = malloc(sizeof *v);
    if (v != NULL) {
        featd__v1__value__init(v);
        v->kind_case = kind;
    }
    return v;
}

int featd_get_add_int64(struct featd_get *g, const char *join_key, int64_t val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_INT64_VAL);
    if (v != NULL) {
        v->int64_val = val;
    }
    return add_value(g, join_key, v);
}

int featd_get_add_string(struct featd_get *g, const char *join_key, const char *s)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_STRING_VAL);
    if (v != NULL) {
        v->string_val = strdup(s ? s : "");
        if (v->string_val == NULL) {
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            value_free(v);
            return FEATD_ERR;
        }
    }
    return add_value(g, join_key, v);
}

int featd_get_add_null(struct featd_get *g, const char *join_key)
{
    return add_value(g, join_key, new_value(FEATD__V1__VALUE__KIND__NOT_SET));
}

int featd_get_add_value(struct featd_get *g, const char *join_key, const Featd__V1__Value *v)
{
    if (v == NULL) {
        return FEATD_ERR;
    }
    return add_value(g, join_key, value_dup(v));
}

void featd_get_set_deadline(struct featd_get *g, uint32_t ms)
{
    g->deadline_ms = ms;
}

void featd_get_set_held(struct featd_get *g, int held)
{
    g->held = held != 0;
}

size_t featd_get_nfeatures(const struct featd_get *g)
{
    return g->nfeatures;
}

size_t featd_get_ncolumns(const struct featd_get *g)
{
    return g->ncols;
}

const Featd__V1__Request *featd_get_request(struct featd_get *g, uint64_t request_id)
{
    featd__v1__get_online_features_request__init(&g->body);
    g->body.n_features = g->nfeatures;
    g->body.features = g->features;
    g->body.n_entities = g->ncols;
    g->body.entities = g->cols;
    g->body.deadline_ms = g->deadline_ms;
    g->body.generation_mode = g->held ? FEATD__V1__GENERATION_MODE__HELD
                                      : FEATD__V1__GENERATION_MODE__CURRENT;
    featd__v1__request__init(&g->req);
    g->req.request_id = request_id;
    g->req.body_case = FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES;
    g->req.get_online_features = &g->body;
    return &g->req;
}
