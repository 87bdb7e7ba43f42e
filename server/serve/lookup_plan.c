/*
 * lookup_plan.c — validation and plan of a GetOnlineFeatures request (see
 * lookup_plan.h). Cheap bounds come first, so a hostile request cannot make
 * it loop: more feature references than the registry has features, or more
 * entity columns than the requested views have join keys, are refused
 * before anything is compared pairwise.
 */
#include "serve/lookup_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonw.h"
#include "wire/proto.h"

static void plan_fail(struct lookup_plan_error *err, int code, const char *fmt, ...) FEATD_PRINTF(3, 4);

static void plan_fail(struct lookup_plan_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* the message quotes request text: keep it valid UTF-8 on one line */
    jsonw_text_fitv(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
}

#define BAD(...) do { plan_fail(err, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, __VA_ARGS__); \
                      return FEATD_ERR; } while (0)
#define NOMEM() do { plan_fail(err, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, \
                      "request needs more memory than allowed"); return FEATD_ERR; } while (0)

/* Finds or adds the plan view for v. */
static struct plan_view *plan_view_for(struct lookup_plan *p, const struct featd_config *cfg,
                                       const struct cfg_view *v, struct arena *a)
{
    for (size_t i = 0; i < p->nviews; i++) {
        if (p->views[i].v == v) {
            return &p->views[i];
        }
    }
    struct plan_view *pv = &p->views[p->nviews];
    memset(pv, 0, sizeof(*pv));
    pv->v = v;
    pv->vidx = (size_t)(v - cfg->views);
    pv->seen = arena_alloc(a, v->nfeatures);
    if (pv->seen == NULL) {
        return NULL;
    }
    memset(pv->seen, 0, v->nfeatures);
    p->nviews++;
    return pv;
}

/* The feature references: each "view:feature" or "view:*" resolved, no
 * feature twice; fills p->views (one per view, in first-use order) and
 * p->feats (in request order). */
static int plan_features(struct lookup_plan *p, const struct featd_config *cfg,
                         const Featd__V1__GetOnlineFeaturesRequest *g, struct arena *a,
                         struct lookup_plan_error *err)
{
    if (g->n_features == 0) {
        BAD("no features requested: give at least one \"view:feature\" or \"view:*\"");
    }
    /* Cheap bounds first, so a hostile request cannot make us loop: more
     * references than the registry has features means duplicates. */
    size_t registry_feats = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        registry_feats += cfg->views[i].nfeatures;
    }
    if (g->n_features > registry_feats) {
        BAD("%zu feature references, but the registry has only %zu features: some are repeated",
            g->n_features, registry_feats);
    }
    /* Upper bounds: every ref is one view and at most all its features. */
    size_t max_feats = 0;
    p->views = arena_alloc(a, sizeof(*p->views) * g->n_features);
    const struct cfg_view **ref_view = arena_alloc(a, sizeof(*ref_view) * g->n_features);
    const char **ref_feat = arena_alloc(a, sizeof(*ref_feat) * g->n_features);
    if (p->views == NULL || ref_view == NULL || ref_feat == NULL) {
        NOMEM();
    }
    for (size_t i = 0; i < g->n_features; i++) {
        const char *ref = g->features[i];
        const char *colon = strchr(ref, ':');
        if (colon == NULL || colon == ref || colon[1] == '\0') {
            BAD("feature reference \"%s\" is not of the form \"view:feature\" or \"view:*\"", ref);
        }
        const struct cfg_view *v = config_find_viewn(cfg, ref, (size_t)(colon - ref));
        if (v == NULL) {
            BAD("unknown feature view \"%.*s\" in feature reference \"%s\"", (int)(colon - ref), ref, ref);
        }
        ref_view[i] = v;
        ref_feat[i] = colon + 1;
        max_feats += strcmp(colon + 1, "*") == 0 ? v->nfeatures : 1;
    }
    p->feats = arena_alloc(a, sizeof(*p->feats) * max_feats);
    if (p->feats == NULL) {
        NOMEM();
    }
    for (size_t i = 0; i < g->n_features; i++) {
        const struct cfg_view *v = ref_view[i];
        const char *fname = ref_feat[i];
        bool all = strcmp(fname, "*") == 0;
        struct plan_view *pv = plan_view_for(p, cfg, v, a);
        if (pv == NULL) {
            NOMEM();
        }
        size_t pvi = (size_t)(pv - p->views);
        int from, to;
        if (all) {
            from = 0;
            to = (int)v->nfeatures;
        } else {
            from = config_feature_index(v, fname, strlen(fname));
            if (from < 0) {
                BAD("feature view \"%s\" has no feature \"%s\"", v->name, fname);
            }
            to = from + 1;
        }
        for (int f = from; f < to; f++) {
            if (pv->seen[f]) {
                BAD("feature \"%s:%s\" is requested more than once", v->name, v->features[f].name);
            }
            pv->seen[f] = 1;
            struct plan_feat *pf = &p->feats[p->nfeats++];
            pf->pv = pvi;
            pf->fidx = f;
            if (!all) {
                pf->name = g->features[i];  /* already "view:feature" (g outlives the plan) */
                continue;
            }
            size_t nl = strlen(v->name), fl = strlen(v->features[f].name);
            pf->name = arena_alloc(a, nl + fl + 2);
            if (pf->name == NULL) {
                NOMEM();
            }
            memcpy(pf->name, v->name, nl);
            pf->name[nl] = ':';
            memcpy(pf->name + nl + 1, v->features[f].name, fl + 1);
        }
    }
    return FEATD_OK;
}

/* The entity columns: names unique and non-empty, lengths equal, at most
 * max_entities_per_request rows; sets p->nrows. */
static int plan_columns(struct lookup_plan *p, const struct featd_config *cfg,
                        const Featd__V1__GetOnlineFeaturesRequest *g, struct lookup_plan_error *err)
{
    if (g->n_entities == 0) {
        BAD("no entity columns given: requested views need join keys");
    }
    size_t view_keys = 0;
    for (size_t i = 0; i < p->nviews; i++) {
        view_keys += p->views[i].v->nkeys;
    }
    if (g->n_entities > view_keys) {
        /* More columns than join keys: among the first view_keys + 1 one is
         * unused or repeated. Name it without looking at all the others. */
        for (size_t c = 0; c <= view_keys; c++) {
            const char *name = g->entities[c]->join_key;
            bool used = false;
            for (size_t i = 0; i < p->nviews && !used; i++) {
                for (size_t k = 0; k < p->views[i].v->nkeys && !used; k++) {
                    used = strcmp(p->views[i].v->keys[k].name, name) == 0;
                }
            }
            if (!used) {
                BAD("join key \"%s\" is not used by any requested feature view", name);
            }
            for (size_t d = 0; d < c; d++) {
                if (strcmp(g->entities[d]->join_key, name) == 0) {
                    BAD("join key \"%s\" is given more than once", name);
                }
            }
        }
    }
    size_t nrows = g->entities[0]->n_values;
    for (size_t c = 0; c < g->n_entities; c++) {
        const Featd__V1__EntityColumn *col = g->entities[c];
        if (col->join_key[0] == '\0') {
            BAD("entity column %zu has an empty join_key", c);
        }
        for (size_t d = 0; d < c; d++) {
            if (strcmp(g->entities[d]->join_key, col->join_key) == 0) {
                BAD("join key \"%s\" is given more than once", col->join_key);
            }
        }
        if (col->n_values != nrows) {
            BAD("entity columns have unequal lengths: \"%s\" has %zu values, \"%s\" has %zu",
                g->entities[0]->join_key, nrows, col->join_key, col->n_values);
        }
    }
    if (nrows > (size_t)cfg->server.max_entities_per_request) {
        BAD("too many entities: %zu rows exceed max_entities_per_request (%d)", nrows,
            cfg->server.max_entities_per_request);
    }
    p->nrows = nrows;
    return FEATD_OK;
}

/* Each view's join keys must be present with the right types; every column
 * must be used by some view. Fills each plan view's key_col and row_arg. */
static int plan_join_keys(struct lookup_plan *p, const Featd__V1__GetOnlineFeaturesRequest *g,
                          struct arena *a, struct lookup_plan_error *err)
{
    size_t nrows = p->nrows;
    bool *used = arena_alloc(a, sizeof(bool) * g->n_entities);
    if (used == NULL) {
        NOMEM();
    }
    memset(used, 0, sizeof(bool) * g->n_entities);
    for (size_t i = 0; i < p->nviews; i++) {
        struct plan_view *pv = &p->views[i];
        const struct cfg_view *v = pv->v;
        pv->key_col = arena_alloc(a, sizeof(int) * v->nkeys);
        pv->row_arg = arena_alloc(a, sizeof(int) * (nrows ? nrows : 1));
        if (pv->key_col == NULL || pv->row_arg == NULL) {
            NOMEM();
        }
        for (size_t k = 0; k < v->nkeys; k++) {
            const struct cfg_join_key *jk = &v->keys[k];
            int found = -1;
            for (size_t c = 0; c < g->n_entities; c++) {
                if (strcmp(g->entities[c]->join_key, jk->name) == 0) {
                    found = (int)c;
                    break;
                }
            }
            if (found < 0) {
                BAD("missing join key \"%s\" required by feature view \"%s\"", jk->name, v->name);
            }
            pv->key_col[k] = found;
            if (used[found]) {
                continue;   /* already type-checked for another view */
            }
            used[found] = true;
            const Featd__V1__EntityColumn *col = g->entities[found];
            for (size_t r = 0; r < nrows; r++) {
                const Featd__V1__Value *val = col->values[r];
                int kc = val->kind_case;
                bool ok = jk->type == FT_INT64
                              ? (kc == FEATD__V1__VALUE__KIND_INT64_VAL || kc == FEATD__V1__VALUE__KIND_INT32_VAL)
                              : kc == FEATD__V1__VALUE__KIND_STRING_VAL;
                if (!ok) {
                    BAD("join key \"%s\" row %zu: expected %s, got %s", jk->name, r,
                        jk->type == FT_INT64 ? "int64_val" : "string_val",
                        proto_value_kind_name(kc));
                }
            }
        }
    }
    for (size_t c = 0; c < g->n_entities; c++) {
        if (!used[c]) {
            BAD("join key \"%s\" is not used by any requested feature view", g->entities[c]->join_key);
        }
    }
    return FEATD_OK;
}

struct lookup_plan *lookup_plan_build(const struct featd_config *cfg, const Featd__V1__GetOnlineFeaturesRequest *g,
                                      struct arena *a, struct lookup_plan_error *err)
{
    struct lookup_plan *p = arena_alloc(a, sizeof(*p));
    if (p == NULL) {
        plan_fail(err, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "request needs more memory than allowed");
        return NULL;
    }
    memset(p, 0, sizeof(*p));
    if (plan_features(p, cfg, g, a, err) != FEATD_OK || plan_columns(p, cfg, g, err) != FEATD_OK ||
        plan_join_keys(p, g, a, err) != FEATD_OK) {
        return NULL;
    }
    return p;
}
