/*
 * featd_write.c — libfeatd's WriteFeatures request builder (struct
 * featd_write, featd_write_*; API in featd_client.h; DESIGN §11): rows of
 * one view, column-wise, for featd_write (blocking, featd_client.c) or for
 * featd_send + featd_recv + featd_write_result (pipelined). The framing is
 * featd_client.c's, as for lookups.
 *
 * The builder owns its view name, column names, values (deep copies made
 * with featd_value_dup) and event times; featd_write_request hands out a
 * view of them that stays valid until the builder is next changed or freed.
 * Not thread-safe (one builder per thread); only libc and protobuf-c.
 */
#include "featd_client.h"

#include <stdlib.h>
#include <string.h>

/* One column: a join key's (EntityColumn) or a feature's (FeatureColumn).
 * The protobuf struct of its kind is filled by featd_write_request. */
struct wcol {
    char *name;
    Featd__V1__Value **vals;
    size_t n, cap;
    union {
        Featd__V1__EntityColumn e;
        Featd__V1__FeatureColumn f;
    } pb;
};

/* The columns of one kind, with the pointer array the request points at. */
struct wcols {
    struct wcol **v;
    Featd__V1__EntityColumn **e;    /* &v[i]->pb.e (join keys) */
    Featd__V1__FeatureColumn **f;   /* &v[i]->pb.f (features) */
    size_t n, cap;
    size_t hint;                /* where the next lookup starts: rows added
                                   column by column hit it every time */
};

struct featd_write {
    Featd__V1__Request req;
    Featd__V1__WriteFeaturesRequest body;
    char *view;
    struct wcols keys, feats;
    int64_t *ts;
    size_t nts, capts;
};

static void wcols_clear(struct wcols *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        struct wcol *c = cs->v[i];
        for (size_t j = 0; j < c->n; j++) {
            featd_value_free(c->vals[j]);
        }
        free(c->vals);
        free(c->name);
        free(c);
    }
    cs->n = 0;
    cs->hint = 0;
}

static void wcols_free(struct wcols *cs)
{
    wcols_clear(cs);
    free(cs->v);
    free(cs->e);
    free(cs->f);
}

/* The column named name, created (empty) on first use; NULL on OOM. */
static struct wcol *wcols_get(struct wcols *cs, const char *name)
{
    for (size_t k = 0; k < cs->n; k++) {
        size_t i = (cs->hint + k) % cs->n;
        if (strcmp(cs->v[i]->name, name) == 0) {
            cs->hint = (i + 1) % cs->n;
            return cs->v[i];
        }
    }
    if (cs->n == cs->cap) {
        size_t ncap = cs->cap ? cs->cap * 2 : 8;
        struct wcol **a = realloc(cs->v, ncap * sizeof *a);
        if (a == NULL) {
            return NULL;
        }
        cs->v = a;
        Featd__V1__EntityColumn **e = realloc(cs->e, ncap * sizeof *e);
        if (e == NULL) {
            return NULL;
        }
        cs->e = e;
        Featd__V1__FeatureColumn **f = realloc(cs->f, ncap * sizeof *f);
        if (f == NULL) {
            return NULL;
        }
        cs->f = f;
        cs->cap = ncap;
    }
    struct wcol *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->name = strdup(name);
    if (c->name == NULL) {
        free(c);
        return NULL;
    }
    cs->v[cs->n++] = c;
    cs->hint = 0;
    return c;
}

/* Appends v (owned: freed on failure) to column name of cs. */
static int wcols_add(struct wcols *cs, const char *name, Featd__V1__Value *v)
{
    if (v == NULL) {
        return FEATD_ERR;
    }
    struct wcol *c = name != NULL ? wcols_get(cs, name) : NULL;
    if (c == NULL) {
        featd_value_free(v);
        return FEATD_ERR;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        Featd__V1__Value **a = realloc(c->vals, ncap * sizeof *a);
        if (a == NULL) {
            featd_value_free(v);
            return FEATD_ERR;
        }
        c->vals = a;
        c->cap = ncap;
    }
    c->vals[c->n++] = v;
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

/* A string value owning a copy of s (bytes when is_bytes); NULL on OOM. */
static Featd__V1__Value *new_bytes(const void *p, size_t n, bool is_bytes)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND__NOT_SET);
    if (v == NULL) {
        return NULL;
    }
    char *d = malloc(n + 1);
    if (d == NULL) {
        free(v);
        return NULL;
    }
    if (n > 0) {
        memcpy(d, p, n);
    }
    d[n] = '\0';
    if (is_bytes) {
        v->kind_case = FEATD__V1__VALUE__KIND_BYTES_VAL;
        v->bytes_val.data = (uint8_t *)d;
        v->bytes_val.len = n;
    } else {
        v->kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
        v->string_val = d;
    }
    return v;
}

/* ---- the builder ---- */

struct featd_write *featd_write_new(const char *feature_view)
{
    struct featd_write *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return NULL;
    }
    featd__v1__request__init(&w->req);
    featd__v1__write_features_request__init(&w->body);
    if (featd_write_set_view(w, feature_view) != FEATD_OK) {
        free(w);
        return NULL;
    }
    return w;
}

void featd_write_reset(struct featd_write *w)
{
    wcols_clear(&w->keys);
    wcols_clear(&w->feats);
    w->nts = 0;
}

void featd_write_free(struct featd_write *w)
{
    if (w == NULL) {
        return;
    }
    wcols_free(&w->keys);
    wcols_free(&w->feats);
    free(w->ts);
    free(w->view);
    free(w);
}

int featd_write_set_view(struct featd_write *w, const char *feature_view)
{
    char *s = strdup(feature_view ? feature_view : "");
    if (s == NULL) {
        return FEATD_ERR;
    }
    free(w->view);
    w->view = s;
    return FEATD_OK;
}

int featd_write_add_key_int64(struct featd_write *w, const char *join_key, int64_t val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_INT64_VAL);
    if (v != NULL) {
        v->int64_val = val;
    }
    return wcols_add(&w->keys, join_key, v);
}

int featd_write_add_key_string(struct featd_write *w, const char *join_key, const char *s)
{
    s = s ? s : "";
    return wcols_add(&w->keys, join_key, new_bytes(s, strlen(s), false));
}

int featd_write_add_key_value(struct featd_write *w, const char *join_key,
                              const Featd__V1__Value *v)
{
    return wcols_add(&w->keys, join_key,
                     v ? featd_value_dup(v) : new_value(FEATD__V1__VALUE__KIND__NOT_SET));
}

int featd_write_add_null(struct featd_write *w, const char *feature)
{
    return wcols_add(&w->feats, feature, new_value(FEATD__V1__VALUE__KIND__NOT_SET));
}

int featd_write_add_bool(struct featd_write *w, const char *feature, bool val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_BOOL_VAL);
    if (v != NULL) {
        v->bool_val = val;
    }
    return wcols_add(&w->feats, feature, v);
}

int featd_write_add_int32(struct featd_write *w, const char *feature, int32_t val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_INT32_VAL);
    if (v != NULL) {
        v->int32_val = val;
    }
    return wcols_add(&w->feats, feature, v);
}

int featd_write_add_int64(struct featd_write *w, const char *feature, int64_t val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_INT64_VAL);
    if (v != NULL) {
        v->int64_val = val;
    }
    return wcols_add(&w->feats, feature, v);
}

int featd_write_add_float(struct featd_write *w, const char *feature, float val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_FLOAT_VAL);
    if (v != NULL) {
        v->float_val = val;
    }
    return wcols_add(&w->feats, feature, v);
}

int featd_write_add_double(struct featd_write *w, const char *feature, double val)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_DOUBLE_VAL);
    if (v != NULL) {
        v->double_val = val;
    }
    return wcols_add(&w->feats, feature, v);
}

int featd_write_add_string(struct featd_write *w, const char *feature, const char *s)
{
    s = s ? s : "";
    return wcols_add(&w->feats, feature, new_bytes(s, strlen(s), false));
}

int featd_write_add_bytes(struct featd_write *w, const char *feature, const void *p, size_t n)
{
    if (p == NULL && n > 0) {
        return FEATD_ERR;
    }
    return wcols_add(&w->feats, feature, new_bytes(p, n, true));
}

int featd_write_add_timestamp(struct featd_write *w, const char *feature, int64_t us)
{
    Featd__V1__Value *v = new_value(FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL);
    if (v != NULL) {
        v->timestamp_us_val = us;
    }
    return wcols_add(&w->feats, feature, v);
}

int featd_write_add_value(struct featd_write *w, const char *feature, const Featd__V1__Value *v)
{
    return wcols_add(&w->feats, feature,
                     v ? featd_value_dup(v) : new_value(FEATD__V1__VALUE__KIND__NOT_SET));
}

int featd_write_add_event_time(struct featd_write *w, int64_t us)
{
    if (w->nts == w->capts) {
        size_t ncap = w->capts ? w->capts * 2 : 64;
        int64_t *a = realloc(w->ts, ncap * sizeof *a);
        if (a == NULL) {
            return FEATD_ERR;
        }
        w->ts = a;
        w->capts = ncap;
    }
    w->ts[w->nts++] = us;
    return FEATD_OK;
}

size_t featd_write_nrows(const struct featd_write *w)
{
    return w->nts;
}

size_t featd_write_nkeys(const struct featd_write *w)
{
    return w->keys.n;
}

size_t featd_write_nfeatures(const struct featd_write *w)
{
    return w->feats.n;
}

const Featd__V1__Request *featd_write_request(struct featd_write *w, uint64_t request_id)
{
    for (size_t i = 0; i < w->keys.n; i++) {
        struct wcol *c = w->keys.v[i];
        featd__v1__entity_column__init(&c->pb.e);
        c->pb.e.join_key = c->name;
        c->pb.e.n_values = c->n;
        c->pb.e.values = c->vals;
        w->keys.e[i] = &c->pb.e;
    }
    for (size_t i = 0; i < w->feats.n; i++) {
        struct wcol *c = w->feats.v[i];
        featd__v1__feature_column__init(&c->pb.f);
        c->pb.f.name = c->name;
        c->pb.f.n_values = c->n;
        c->pb.f.values = c->vals;
        w->feats.f[i] = &c->pb.f;
    }
    featd__v1__write_features_request__init(&w->body);
    w->body.feature_view = w->view;
    w->body.n_entities = w->keys.n;
    w->body.entities = w->keys.e;
    w->body.n_features = w->feats.n;
    w->body.features = w->feats.f;
    w->body.n_event_timestamps_us = w->nts;
    w->body.event_timestamps_us = w->ts;
    featd__v1__request__init(&w->req);
    w->req.request_id = request_id;
    w->req.body_case = FEATD__V1__REQUEST__BODY_WRITE_FEATURES;
    w->req.write_features = &w->body;
    return &w->req;
}
