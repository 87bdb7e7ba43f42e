/*
 * mat_quality.c — the quality gate of a snapshot run: per-row profiling and
 * expect rules, the verdict against a reference profile, and the JSON form
 * (contract in materialize/mat_quality.h).
 */
#include "materialize/mat_quality.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "online/online_expect.h"

int mat_quality_begin(struct mat_quality *q, const struct cfg_view *v,
                      const struct mat_quality_ref *ref)
{
    memset(q, 0, sizeof(*q));
    q->v = v;
    size_t n = v->nfeatures ? v->nfeatures : 1;
    q->prof = calloc(n, sizeof(*q->prof));
    q->expect_bad = calloc(n, sizeof(*q->expect_bad));
    if (q->prof == NULL || q->expect_bad == NULL) {
        mat_quality_free(q);
        return FEATD_ERR;
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        bool numeric = online_expect_numeric(v->features[f].type);
        const double *edges = NULL;
        if (ref != NULL && ref->have && ref->features != NULL && ref->have_feature[f] &&
            ref->features[f].have_edges) {
            edges = ref->features[f].edges;
        }
        mat_profile_init(&q->prof[f], numeric, edges);
    }
    return FEATD_OK;
}

void mat_quality_free(struct mat_quality *q)
{
    for (size_t f = 0; q->prof != NULL && f < q->v->nfeatures; f++) {
        mat_profile_free(&q->prof[f]);
    }
    free(q->prof);
    free(q->expect_bad);
    q->prof = NULL;
    q->expect_bad = NULL;
}

/* "42" or "42|abc": an entity's join-key values for an example. */
static void mat_quality_key_text(const struct cfg_view *v, const struct online_key *keys,
                                 char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t k = 0; k < v->nkeys && off + 1 < cap; k++) {
        int n = v->keys[k].type == FT_INT64
                    ? snprintf(out + off, cap - off, "%s%" PRId64, k ? "|" : "", keys[k].i)
                    : snprintf(out + off, cap - off, "%s%.*s", k ? "|" : "",
                               (int)(keys[k].slen > 64 ? 64 : keys[k].slen), keys[k].s);
        if (n < 0) {
            break;
        }
        off += (size_t)n < cap - off ? (size_t)n : cap - off - 1;
    }
}

void mat_quality_row(struct mat_quality *q, const struct online_key *keys,
                     const struct online_value *vals)
{
    const struct cfg_view *v = q->v;
    q->rows++;
    bool noted = false;
    for (size_t f = 0; f < v->nfeatures; f++) {
        const struct online_value *x = &vals[f];
        if (x->is_null) {
            mat_profile_null(&q->prof[f]);
        } else {
            mat_profile_value(&q->prof[f], online_expect_number(v->features[f].type, x));
        }
        if (v->features[f].expect.has && !online_expect_keeps(&v->features[f], x, NULL, 0)) {
            q->expect_bad[f]++;
            if (!noted && q->nexamples < MAT_QUALITY_EXAMPLES) {
                mat_quality_key_text(v, keys, q->examples[q->nexamples++], MAT_QUALITY_KEY_TEXT);
                noted = true;
            }
        }
    }
}

/* Appends one report line (cut at cap). */
static void mat_quality_line(char *report, size_t cap, size_t *off, const char *fmt, ...)
    FEATD_PRINTF(4, 5);
static void mat_quality_line(char *report, size_t cap, size_t *off, const char *fmt, ...)
{
    if (*off + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
    }
    if (*off + 1 < cap) {
        report[(*off)++] = '\n';
        report[*off] = '\0';
    }
}

void mat_quality_finish(struct mat_quality *q)
{
    for (size_t f = 0; f < q->v->nfeatures; f++) {
        mat_profile_finish(&q->prof[f]);
    }
}

size_t mat_quality_verdict(const struct mat_quality *q, const struct mat_quality_ref *ref,
                           char *report, size_t cap, double *psi_out)
{
    const struct cfg_view *v = q->v;
    const struct cfg_quality *g = &v->quality;
    size_t bad = 0, off = 0;
    if (cap > 0) {
        report[0] = '\0';
    }
    char ex[MAT_QUALITY_EXAMPLES * (MAT_QUALITY_KEY_TEXT + 2) + 8] = "";
    for (size_t i = 0; i < q->nexamples; i++) {
        size_t l = strlen(ex);
        snprintf(ex + l, sizeof(ex) - l, "%s%s", i ? ", " : " (e.g. ", q->examples[i]);
    }
    if (q->nexamples) {
        size_t l = strlen(ex);
        snprintf(ex + l, sizeof(ex) - l, ")");
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        const struct cfg_feature *ft = &v->features[f];
        const struct mat_feature_profile *p = &q->prof[f];
        if (q->expect_bad[f] > 0) {
            bad++;
            mat_quality_line(report, cap, &off, "expect: feature %s: %" PRIu64 " of %" PRIu64
                             " rows break its rules%s", ft->name, q->expect_bad[f], q->rows, ex);
        }
        uint64_t all = p->values + p->nulls;
        if (ft->expect.has && ft->expect.max_null_fraction < 1 && all > 0 &&
            (double)p->nulls / (double)all > ft->expect.max_null_fraction) {
            bad++;
            mat_quality_line(report, cap, &off, "max_null_fraction: feature %s: %.4f of the rows "
                             "are null (at most %g)", ft->name, (double)p->nulls / (double)all,
                             ft->expect.max_null_fraction);
        }
        double psi = -1;
        if (ref != NULL && ref->have && ref->features != NULL && ref->have_feature[f] &&
            p->have_edges) {
            psi = mat_profile_psi(ref->features[f].hist, p->hist);
        }
        if (psi_out != NULL) {
            psi_out[f] = psi;
        }
        if (g->has && g->max_psi >= 0 && psi > g->max_psi) {
            bad++;
            mat_quality_line(report, cap, &off, "max_psi: feature %s: PSI %.3f > %g", ft->name, psi,
                             g->max_psi);
        }
    }
    if (g->has && q->rows < (uint64_t)g->min_rows) {
        bad++;
        mat_quality_line(report, cap, &off, "min_rows: %" PRIu64 " rows (at least %" PRId64 ")",
                         q->rows, g->min_rows);
    }
    if (g->has && g->max_row_change >= 0 && ref != NULL && ref->have && ref->rows > 0) {
        double change = fabs((double)q->rows - (double)ref->rows) / (double)ref->rows;
        if (change > g->max_row_change) {
            bad++;
            mat_quality_line(report, cap, &off, "max_row_change: %" PRIu64 " rows against %" PRIu64
                             " (%.1f%% change, at most %g%%)", q->rows, ref->rows, change * 100,
                             g->max_row_change * 100);
        }
    }
    return bad;
}

json_t *mat_quality_to_json(const struct mat_quality *q)
{
    json_t *o = json_object(), *fs = json_object();
    if (o == NULL || fs == NULL) {
        json_decref(o);
        json_decref(fs);
        return NULL;
    }
    json_object_set_new(o, "rows", json_integer((json_int_t)q->rows));
    for (size_t f = 0; f < q->v->nfeatures; f++) {
        json_object_set_new(fs, q->v->features[f].name, mat_profile_to_json(&q->prof[f]));
    }
    json_object_set_new(o, "features", fs);
    return o;
}

int mat_quality_ref_from_json(const json_t *j, const struct cfg_view *v,
                              struct mat_quality_ref *ref, char *why, size_t whylen)
{
    memset(ref, 0, sizeof(*ref));
    const json_t *rows = json_object_get(j, "rows"), *fs = json_object_get(j, "features");
    if (!json_is_object(j) || !json_is_integer(rows) || json_integer_value(rows) < 0 ||
        !json_is_object(fs)) {
        snprintf(why, whylen, "expected {\"rows\": N, \"features\": {...}}");
        return FEATD_ERR;
    }
    size_t n = v->nfeatures ? v->nfeatures : 1;
    ref->features = calloc(n, sizeof(*ref->features));
    ref->have_feature = calloc(n, sizeof(*ref->have_feature));
    if (ref->features == NULL || ref->have_feature == NULL) {
        mat_quality_ref_free(ref);
        snprintf(why, whylen, "out of memory");
        return FEATD_ERR;
    }
    ref->rows = (uint64_t)json_integer_value(rows);
    for (size_t f = 0; f < v->nfeatures; f++) {
        const json_t *p = json_object_get(fs, v->features[f].name);
        if (p == NULL) {
            continue;
        }
        char w[200];
        if (mat_profile_from_json(p, &ref->features[f], w, sizeof w) != FEATD_OK) {
            snprintf(why, whylen, "feature %s: %s", v->features[f].name, w);
            mat_quality_ref_free(ref);
            return FEATD_ERR;
        }
        ref->have_feature[f] = true;
    }
    ref->have = true;
    return FEATD_OK;
}

void mat_quality_ref_free(struct mat_quality_ref *ref)
{
    free(ref->features);
    free(ref->have_feature);
    memset(ref, 0, sizeof(*ref));
}
