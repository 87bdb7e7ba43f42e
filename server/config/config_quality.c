/*
 * config_quality.c — the feature-quality keys of DESIGN §12: a feature's
 * "expect" (min/max for numeric features, allowed values for strings,
 * not_null, max_null_fraction), a view's "quality" gate (min_rows,
 * max_row_change, max_psi, baseline, on_violation, keep_generations;
 * snapshot-mode views only). Every problem is reported with its JSON path,
 * like every other key. (The serving log, DESIGN 12's top-level
 * "serving_log", is config_servlog.c's.)
 */
#include "config/config_int.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const expect_keys[] = { "min", "max", "not_null", "max_null_fraction", "allowed",
                                           NULL };
static const char *const quality_keys[] = { "min_rows", "max_row_change", "max_psi", "baseline",
                                            "on_violation", "keep_generations", NULL };

/* A numeric member in [lo, hi] into *out (true); absent or null: false, no
 * error; wrong: false after an error. */
static bool config_quality_num(json_t *obj, const char *key, const char *base, double lo, double hi,
                               double *out, struct config_errs *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return false;
    }
    char p[CFG_JPATH_MAX];
    config_err_path_key(p, base, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        config_err_add(e, p, "expected a number (got %s)", config_json_kind(v));
        return false;
    }
    double d = json_number_value(v);
    if (d < lo || d > hi) {
        config_err_add(e, p, "%g is out of range (expected %g..%g)", d, lo, hi);
        return false;
    }
    *out = d;
    return true;
}

static bool config_quality_is_numeric(enum featd_type t)
{
    return t == FT_BOOL || t == FT_INT32 || t == FT_INT64 || t == FT_FLOAT || t == FT_DOUBLE ||
           t == FT_TIMESTAMP;
}

void config_quality_expect(json_t *feature, const char *base, struct cfg_feature *f,
                           struct config_errs *e)
{
    char xb[CFG_JPATH_MAX], p[CFG_JPATH_MAX];
    json_t *x = config_json_member(feature, "expect", JSON_OBJECT, false, true, base, e);
    if (x == NULL) {
        return;
    }
    config_err_path_key(xb, base, "expect");
    config_json_check_keys(x, xb, expect_keys, "expect", e);
    struct cfg_expect *r = &f->expect;
    r->has = true;
    r->max_null_fraction = 1;
    bool numeric = config_quality_is_numeric(f->type);
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "max" : "min";
        json_t *v = json_object_get(x, key);
        if (v != NULL && !json_is_null(v) && !numeric) {
            config_err_path_key(p, xb, key);
            config_err_add(e, p, "%s applies to numeric features (bool, int32, int64, float, "
                           "double, timestamp), not %s", key, config_type_name(f->type));
            continue;
        }
        if (config_quality_num(x, key, xb, -INFINITY, INFINITY, k ? &r->max : &r->min, e)) {
            *(k ? &r->has_max : &r->has_min) = true;
        }
    }
    if (r->has_min && r->has_max && r->min > r->max) {
        config_err_path_key(p, xb, "min");
        config_err_add(e, p, "min %g is above max %g", r->min, r->max);
    }
    json_t *nn = json_object_get(x, "not_null");
    if (nn != NULL && !json_is_boolean(nn)) {
        config_err_path_key(p, xb, "not_null");
        config_err_add(e, p, "expected true or false (got %s)", config_json_kind(nn));
    }
    r->not_null = json_is_true(nn);
    config_quality_num(x, "max_null_fraction", xb, 0, 1, &r->max_null_fraction, e);
    json_t *al = json_object_get(x, "allowed");
    if (al == NULL || json_is_null(al)) {
        return;
    }
    config_err_path_key(p, xb, "allowed");
    if (f->type != FT_STRING) {
        config_err_add(e, p, "allowed applies to string features, not %s",
                       config_type_name(f->type));
        return;
    }
    if (!json_is_array(al) || json_array_size(al) == 0) {
        config_err_add(e, p, "expected a non-empty array of strings (or null)");
        return;
    }
    r->allowed = calloc(json_array_size(al), sizeof(char *));
    for (size_t i = 0; r->allowed != NULL && i < json_array_size(al); i++) {
        json_t *s = json_array_get(al, i);
        if (!json_is_string(s)) {
            char ip[CFG_JPATH_MAX];
            config_err_path_idx(ip, p, i);
            config_err_add(e, ip, "expected a string (got %s)", config_json_kind(s));
            continue;
        }
        r->allowed[r->nallowed++] = util_xstrdup(json_string_value(s));
    }
}

void config_quality_expect_free(struct cfg_expect *x)
{
    for (size_t i = 0; i < x->nallowed; i++) {
        free(x->allowed[i]);
    }
    free(x->allowed);
    memset(x, 0, sizeof(*x));
}

void config_quality_view(json_t *view, const char *base, struct cfg_view *v, struct config_errs *e)
{
    char qb[CFG_JPATH_MAX], p[CFG_JPATH_MAX];
    json_t *q = config_json_member(view, "quality", JSON_OBJECT, false, true, base, e);
    if (q == NULL) {
        return;
    }
    config_err_path_key(qb, base, "quality");
    config_json_check_keys(q, qb, quality_keys, "quality", e);
    struct cfg_quality *g = &v->quality;
    g->has = true;
    g->max_row_change = -1;
    g->max_psi = -1;
    g->keep_generations = 2;
    if (v->source_path == NULL || v->mat_mode != MAT_SNAPSHOT) {
        config_err_add(e, qb, "quality gates snapshots: the view needs a source in snapshot "
                       "materialization mode");
    }
    double d;
    if (config_quality_num(q, "min_rows", qb, 0, 1e15, &d, e)) {
        g->min_rows = (int64_t)d;
    }
    config_quality_num(q, "max_row_change", qb, 0, 1e6, &g->max_row_change, e);
    config_quality_num(q, "max_psi", qb, 0, 10, &g->max_psi, e);
    if (config_quality_num(q, "keep_generations", qb, 1, 2, &d, e)) {
        g->keep_generations = (int)d;
    }
    json_t *b = config_json_member(q, "baseline", JSON_STRING, false, true, qb, e);
    if (b != NULL) {
        g->baseline = util_xstrdup(json_string_value(b));
    }
    json_t *ov = json_object_get(q, "on_violation");
    if (ov != NULL && !json_is_null(ov)) {
        config_err_path_key(p, qb, "on_violation");
        const char *s = json_is_string(ov) ? json_string_value(ov) : "";
        if (strcmp(s, "hold") == 0) {
            g->on_violation = VIOLATION_HOLD;
        } else if (strcmp(s, "warn") == 0) {
            g->on_violation = VIOLATION_WARN;
        } else {
            config_err_add(e, p, "expected \"hold\" or \"warn\"");
        }
    }
}
