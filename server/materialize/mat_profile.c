/*
 * mat_profile.c — streaming feature profiles and the population stability
 * index (contract in materialize/mat_profile.h).
 */
#include "materialize/mat_profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mat_profile_init(struct mat_feature_profile *p, bool numeric, const double *edges)
{
    memset(p, 0, sizeof(*p));
    p->numeric = numeric;
    p->min = INFINITY;
    p->max = -INFINITY;
    if (numeric && edges != NULL) {
        memcpy(p->edges, edges, sizeof(p->edges));
        p->have_edges = true;
    }
}

void mat_profile_null(struct mat_feature_profile *p)
{
    p->nulls++;
}

/* The bin of x: the last edge at or below x, clamped to the bins. */
static size_t mat_profile_bin(const double *edges, double x)
{
    size_t lo = 0, hi = MAT_PROFILE_BINS;     /* bins [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (x >= edges[mid]) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void mat_profile_value(struct mat_feature_profile *p, double x)
{
    p->values++;
    if (!p->numeric) {
        return;
    }
    if (isnan(x)) {
        p->nan++;
        return;
    }
    p->min = x < p->min ? x : p->min;
    p->max = x > p->max ? x : p->max;
    p->sum += x;
    if (p->have_edges) {
        p->hist[mat_profile_bin(p->edges, x)]++;
        return;
    }
    /* reservoir sampling (Algorithm R): every value kept with equal chance */
    uint64_t seen = p->values - p->nan;
    if (p->nsample < MAT_PROFILE_SAMPLE) {
        if (p->sample == NULL && seen == 1) {
            p->sample = malloc(MAT_PROFILE_SAMPLE * sizeof(double));
            p->rng = 0x9E3779B97F4A7C15ULL;
        }
        if (p->sample != NULL) {
            p->sample[p->nsample++] = x;
        }
        return;
    }
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    uint64_t j = p->rng % seen;
    if (j < MAT_PROFILE_SAMPLE) {
        p->sample[j] = x;
    }
}

void mat_profile_finish(struct mat_feature_profile *p)
{
    if (!p->have_edges && mat_profile_edges(p, p->edges)) {
        p->have_edges = true;
        memset(p->hist, 0, sizeof(p->hist));
        for (size_t i = 0; p->sample != NULL && i < p->nsample; i++) {
            p->hist[mat_profile_bin(p->edges, p->sample[i])]++;
        }
    }
    mat_profile_free(p);
}

void mat_profile_free(struct mat_feature_profile *p)
{
    free(p->sample);
    p->sample = NULL;
    p->nsample = 0;
}

double mat_profile_mean(const struct mat_feature_profile *p)
{
    uint64_t n = p->values - p->nan;
    return p->numeric && n > 0 ? p->sum / (double)n : 0;
}

bool mat_profile_edges(const struct mat_feature_profile *p, double edges[MAT_PROFILE_BINS + 1])
{
    if (!p->numeric || p->min > p->max || !isfinite(p->min) || !isfinite(p->max)) {
        return false;
    }
    double lo = p->min, hi = p->max;
    if (hi == lo) {
        lo -= 0.5;
        hi += 0.5;
    }
    for (size_t i = 0; i <= MAT_PROFILE_BINS; i++) {
        edges[i] = lo + (hi - lo) * (double)i / MAT_PROFILE_BINS;
    }
    edges[MAT_PROFILE_BINS] = hi;   /* exactly, whatever the rounding */
    return true;
}

double mat_profile_psi(const uint64_t expected[MAT_PROFILE_BINS],
                       const uint64_t actual[MAT_PROFILE_BINS])
{
    uint64_t ne = 0, na = 0;
    for (size_t i = 0; i < MAT_PROFILE_BINS; i++) {
        ne += expected[i];
        na += actual[i];
    }
    if (ne == 0 || na == 0) {
        return -1;
    }
    double psi = 0;
    for (size_t i = 0; i < MAT_PROFILE_BINS; i++) {
        double e = (double)expected[i] / (double)ne, a = (double)actual[i] / (double)na;
        e = e > 0 ? e : MAT_PROFILE_PSI_EPS;
        a = a > 0 ? a : MAT_PROFILE_PSI_EPS;
        psi += (a - e) * log(a / e);
    }
    return psi;
}

json_t *mat_profile_to_json(const struct mat_feature_profile *p)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "values", json_integer((json_int_t)p->values));
    json_object_set_new(o, "nulls", json_integer((json_int_t)p->nulls));
    if (p->numeric) {
        json_object_set_new(o, "nan", json_integer((json_int_t)p->nan));
        if (p->min <= p->max) {
            json_object_set_new(o, "min", json_real(p->min));
            json_object_set_new(o, "max", json_real(p->max));
            json_object_set_new(o, "mean", json_real(mat_profile_mean(p)));
        }
        if (p->have_edges) {
            json_t *ed = json_array(), *h = json_array();
            for (size_t i = 0; i <= MAT_PROFILE_BINS; i++) {
                json_array_append_new(ed, json_real(p->edges[i]));
            }
            for (size_t i = 0; i < MAT_PROFILE_BINS; i++) {
                json_array_append_new(h, json_integer((json_int_t)p->hist[i]));
            }
            json_object_set_new(o, "edges", ed);
            json_object_set_new(o, "hist", h);
        }
    }
    return o;
}

static bool mat_profile_count(const json_t *j, const char *key, uint64_t *out, bool required)
{
    const json_t *v = json_object_get(j, key);
    if (v == NULL) {
        return !required;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

int mat_profile_from_json(const json_t *j, struct mat_feature_profile *p, char *why,
                          size_t whylen)
{
    const json_t *ed = json_object_get(j, "edges"), *h = json_object_get(j, "hist");
    const json_t *mn = json_object_get(j, "min"), *mx = json_object_get(j, "max");
    mat_profile_init(p, ed != NULL || mn != NULL || json_object_get(j, "nan") != NULL, NULL);
    if (!json_is_object(j) || !mat_profile_count(j, "values", &p->values, true) ||
        !mat_profile_count(j, "nulls", &p->nulls, true) ||
        !mat_profile_count(j, "nan", &p->nan, false)) {
        snprintf(why, whylen, "expected an object with integer \"values\" and \"nulls\"");
        return FEATD_ERR;
    }
    if ((mn != NULL) != (mx != NULL) || (mn && (!json_is_number(mn) || !json_is_number(mx)))) {
        snprintf(why, whylen, "\"min\" and \"max\" must both be numbers");
        return FEATD_ERR;
    }
    if (mn != NULL) {
        p->min = json_number_value(mn);
        p->max = json_number_value(mx);
        const json_t *me = json_object_get(j, "mean");
        uint64_t n = p->values - (p->nan <= p->values ? p->nan : p->values);
        p->sum = json_is_number(me) ? json_number_value(me) * (double)n : 0;
    }
    if (ed == NULL && h == NULL) {
        return FEATD_OK;
    }
    if (!json_is_array(ed) || json_array_size(ed) != MAT_PROFILE_BINS + 1 ||
        (h != NULL && (!json_is_array(h) || json_array_size(h) != MAT_PROFILE_BINS))) {
        snprintf(why, whylen, "\"edges\" must be %d numbers and \"hist\" %d counts",
                 MAT_PROFILE_BINS + 1, MAT_PROFILE_BINS);
        return FEATD_ERR;
    }
    for (size_t i = 0; i <= MAT_PROFILE_BINS; i++) {
        const json_t *v = json_array_get(ed, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
            (i > 0 && json_number_value(v) <= p->edges[i - 1])) {
            snprintf(why, whylen, "\"edges\" must be finite and strictly ascending (entry %zu)", i);
            return FEATD_ERR;
        }
        p->edges[i] = json_number_value(v);
    }
    for (size_t i = 0; h != NULL && i < MAT_PROFILE_BINS; i++) {
        const json_t *v = json_array_get(h, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(why, whylen, "\"hist\" entry %zu is not a count", i);
            return FEATD_ERR;
        }
        p->hist[i] = (uint64_t)json_integer_value(v);
    }
    p->have_edges = true;
    p->numeric = true;
    return FEATD_OK;
}
