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
            featd_value_free(gc->col.values[j]);
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
        featd_value_free(v);
        return FEATD_ERR;
    }
    if (gc->col.n_values == gc->cap) {
        size_t ncap = gc->cap ? gc->cap * 2 : 8;
        Featd__V1__Value **a = realloc(gc->col.values, ncap * sizeof *a);
        if (a == NULL) {
            featd_value_free(v);
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
            featd_value_free(v);
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
    return add_value(g, join_key, featd_value_dup(v));
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
