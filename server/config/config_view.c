/*
 * config_view.c — the structural part of the config: "entities" (names and
 * typed join keys) and "feature_views" (entity references and the flattened
 * join keys, features and their types, ttl, the Parquet source with column
 * renames, materialization, and the schema fingerprint). The keys allowed at
 * each level are the *_keys[] lists below, for the unknown-key check.
 * Entities must be parsed before views (views resolve entity names).
 */
#include "config/config_int.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const entity_keys[] = { "name", "join_keys", NULL };
static const char *const join_key_keys[] = { "name", "type", NULL };
static const char *const view_keys[] = { "name", "entities", "ttl_seconds", "features", "source",
                                         "materialization", "quality", NULL };
static const char *const feature_keys[] = { "name", "type", "expect", NULL };
static const char *const source_keys[] = { "path", "event_timestamp_column",
                                           "created_timestamp_column", "columns", "stream", NULL };
static const char *const mat_keys[] = { "mode", "interval_seconds", NULL };

/* ------------------------------------------------------------------------ */
/* Members shared by entities and views                                     */
/* ------------------------------------------------------------------------ */

/* A required name member; NULL when missing or not a string. A string that
 * breaks the name rule is reported but still returned, so that references to
 * it do not cascade into more errors (the load fails anyway). */
static const char *config_view_name(json_t *obj, const char *base, struct config_errs *e)
{
    json_t *v = config_json_member(obj, "name", JSON_STRING, true, false, base, e);
    if (v == NULL) {
        return NULL;
    }
    const char *s = json_string_value(v);
    char why[128], p[CFG_JPATH_MAX], q[QBUF];
    const char *bad = config_json_name_problem(s, why, sizeof why);
    if (bad != NULL) {
        config_err_path_key(p, base, "name");
        config_err_add(e, p, "%s: %s (" NAME_RULE ")", config_err_quote(s, q, sizeof q), bad);
    }
    return s;
}

/* A type member; -1 (after an error) when bad. join_key restricts to
 * int64/string. */
static int config_view_type(json_t *obj, const char *base, bool join_key, struct config_errs *e)
{
    json_t *v = config_json_member(obj, "type", JSON_STRING, true, false, base, e);
    if (v == NULL) {
        return -1;
    }
    char p[CFG_JPATH_MAX], q[QBUF];
    config_err_path_key(p, base, "type");
    const char *s = json_string_value(v);
    int t = config_type_parse(s);
    if (t < 0) {
        const char *sug = config_err_suggest(s, config_type_names, FT__COUNT);
        if (join_key) {
            config_err_add(e, p, "unknown type %s (expected int64 or string)",
                           config_err_quote(s, q, sizeof q));
        } else if (sug != NULL) {
            config_err_add(e, p, "unknown type %s (did you mean \"%s\"? expected one of "
                           TYPE_LIST ")", config_err_quote(s, q, sizeof q), sug);
        } else {
            config_err_add(e, p, "unknown type %s (expected one of " TYPE_LIST ")",
                           config_err_quote(s, q, sizeof q));
        }
        return -1;
    }
    if (join_key && t != FT_INT64 && t != FT_STRING) {
        config_err_add(e, p, "type %s is not allowed for a join key (expected int64 or string)",
                       config_err_quote(s, q, sizeof q));
        return -1;
    }
    return t;
}

/* An optional integer member in [min, max]; *out keeps its default when
 * absent or bad. */
static void config_view_int(json_t *obj, const char *key, const char *base, int64_t min,
                            int64_t max, int64_t *out, struct config_errs *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return;
    }
    char p[CFG_JPATH_MAX];
    config_err_path_key(p, base, key);
    (void)config_json_int_in(v, min, max, p, out, e);
}

/* A column-name member: malloc'd copy, or NULL when absent/null/bad. */
static char *config_view_column(json_t *obj, const char *key, const char *base, bool nullable,
                                struct config_errs *e)
{
    json_t *v = config_json_member(obj, key, JSON_STRING, false, nullable, base, e);
    if (v == NULL) {
        return NULL;
    }
    char p[CFG_JPATH_MAX], why[128], q[QBUF];
    const char *s = json_string_value(v);
    const char *bad = config_json_text_problem(s, CFG_COLUMN_MAX, why, sizeof why);
    if (bad != NULL) {
        config_err_path_key(p, base, key);
        config_err_add(e, p, "%s: bad column name: %s", config_err_quote(s, q, sizeof q), bad);
        return NULL;
    }
    return util_xstrdup(s);
}

/* ------------------------------------------------------------------------ */
/* Entities                                                                 */
/* ------------------------------------------------------------------------ */

/* Parses one entity into ent (fields left NULL/0 when bad). */
static void config_view_entity(json_t *obj, const char *base, struct cfg_entity *ent,
                               struct config_errs *e)
{
    if (!json_is_object(obj)) {
        config_err_add(e, base, "expected an entity object (got %s)", config_json_kind(obj));
        e->entities_broken = true;
        return;
    }
    config_json_check_keys(obj, base, entity_keys, "an entity", e);
    const char *name = config_view_name(obj, base, e);
    if (name != NULL) {
        ent->name = util_xstrdup(name);
    } else {
        e->entities_broken = true;
    }
    json_t *keys;
    void *items;
    char kbase[CFG_JPATH_MAX];
    size_t n = config_json_list(obj, "join_keys", base, CFG_MAX_ENTITY_KEYS,
                                "empty (an entity needs at least one join key)",
                                sizeof *ent->keys, &items, &keys, kbase, e);
    ent->keys = items;
    ent->nkeys = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX];
        config_err_path_idx(p, kbase, i);
        json_t *k = json_array_get(keys, i);
        if (!json_is_object(k)) {
            config_err_add(e, p, "expected a join key object {\"name\", \"type\"} (got %s)",
                           config_json_kind(k));
            continue;
        }
        config_json_check_keys(k, p, join_key_keys, "a join key", e);
        const char *kn = config_view_name(k, p, e);
        int t = config_view_type(k, p, true, e);
        ent->keys[i].type = t < 0 ? FT_INT64 : (enum featd_type)t;
        if (kn == NULL) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (ent->keys[j].name != NULL && strcmp(ent->keys[j].name, kn) == 0) {
                char np[CFG_JPATH_MAX], q[QBUF];
                config_err_path_key(np, p, "name");
                config_err_add(e, np, "duplicate join key %s (also join_keys[%zu])",
                               config_err_quote(kn, q, sizeof q), j);
                break;
            }
        }
        ent->keys[i].name = util_xstrdup(kn);
    }
}

void config_view_parse_entities(struct featd_config *cfg, json_t *root, struct config_errs *e)
{
    json_t *arr;
    void *items;
    char base[CFG_JPATH_MAX];
    size_t n = config_json_list(root, "entities", "$", CFG_MAX_ENTITIES, NULL,
                                sizeof *cfg->entities, &items, &arr, base, e);
    if (arr == NULL) {
        e->entities_broken = true;
    }
    cfg->entities = items;
    cfg->nentities = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX];
        config_err_path_idx(p, base, i);
        config_view_entity(json_array_get(arr, i), p, &cfg->entities[i], e);
        const char *name = cfg->entities[i].name;
        for (size_t j = 0; name != NULL && j < i; j++) {
            if (cfg->entities[j].name != NULL && strcmp(cfg->entities[j].name, name) == 0) {
                char np[CFG_JPATH_MAX], q[QBUF];
                config_err_path_key(np, p, "name");
                config_err_add(e, np, "duplicate entity name %s (also $.entities[%zu])",
                               config_err_quote(name, q, sizeof q), j);
                break;
            }
        }
    }
}

static const struct cfg_entity *config_view_find_entity(const struct featd_config *cfg,
                                                         const char *name)
{
    for (size_t i = 0; i < cfg->nentities; i++) {
        if (cfg->entities[i].name != NULL && strcmp(cfg->entities[i].name, name) == 0) {
            return &cfg->entities[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* A view's entities and join keys                                          */
/* ------------------------------------------------------------------------ */

/*
 * Resolves the view's n entity names (array arr at abase) into v->entities
 * (copies) and ents (the declared entity, NULL when unknown, duplicated or
 * not a string; each reported). Returns false when a name is not a string or
 * not declared (then a view without join keys is not reported again).
 */
static bool config_view_entity_refs(const struct featd_config *cfg, json_t *arr,
                                    const char *abase, struct cfg_view *v,
                                    const struct cfg_entity **ents, struct config_errs *e)
{
    bool all_known = true;
    for (size_t i = 0; i < v->nentities; i++) {
        char p[CFG_JPATH_MAX], q[QBUF];
        config_err_path_idx(p, abase, i);
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s)) {
            config_err_add(e, p, "expected an entity name string (got %s)", config_json_kind(s));
            all_known = false;
            continue;
        }
        const char *name = json_string_value(s);
        v->entities[i] = util_xstrdup(name);
        ents[i] = config_view_find_entity(cfg, name);
        if (ents[i] == NULL && e->entities_broken) {
            all_known = false;
            continue;
        }
        if (ents[i] == NULL) {
            const char *cands[CFG_MAX_ENTITIES];
            size_t nc = 0;
            for (size_t j = 0; j < cfg->nentities && nc < CFG_MAX_ENTITIES; j++) {
                cands[nc++] = cfg->entities[j].name;
            }
            config_err_unknown(e, p, "entity", name, cands, nc,
                               " (not declared in $.entities)");
            all_known = false;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (v->entities[j] != NULL && strcmp(v->entities[j], name) == 0) {
                config_err_add(e, p, "duplicate entity %s in the view (also entities[%zu])",
                               config_err_quote(name, q, sizeof q), j);
                ents[i] = NULL;
                break;
            }
        }
    }
    return all_known;
}

/* Flattens the join keys of ents[0..v->nentities) into v->keys (room for
 * maxkeys), in entity order then key order; owner[j] records the entity
 * index of v->keys[j]. A name in two entities is reported at abase. */
static void config_view_flatten_keys(struct cfg_view *v, const struct cfg_entity **ents,
                                     size_t *owner, size_t maxkeys, const char *abase,
                                     struct config_errs *e)
{
    for (size_t i = 0; i < v->nentities; i++) {
        const struct cfg_entity *ent = ents[i];
        if (ent == NULL) {
            continue;
        }
        for (size_t k = 0; k < ent->nkeys; k++) {
            const struct cfg_join_key *jk = &ent->keys[k];
            if (jk->name == NULL) {
                continue;
            }
            bool dup = false;
            for (size_t j = 0; j < v->nkeys; j++) {
                if (strcmp(v->keys[j].name, jk->name) == 0 && owner[j] == i) {
                    dup = true;     /* duplicate inside the entity: reported there */
                    break;
                }
                if (strcmp(v->keys[j].name, jk->name) == 0) {
                    char q[QBUF];
                    config_err_add(e, abase, "join key %s appears in more than one of the "
                                   "view's entities (entity \"%s\"); join key names must be "
                                   "unique in a view", config_err_quote(jk->name, q, sizeof q),
                                   ent->name);
                    dup = true;
                    break;
                }
            }
            if (!dup && v->nkeys < maxkeys) {
                owner[v->nkeys] = i;
                v->keys[v->nkeys].name = util_xstrdup(jk->name);
                v->keys[v->nkeys].type = jk->type;
                v->nkeys++;
            }
        }
    }
}

/* The view's entity list; fills v->entities and the flattened v->keys. */
static void config_view_entities(const struct featd_config *cfg, json_t *obj, const char *base,
                                 struct cfg_view *v, struct config_errs *e)
{
    json_t *arr;
    void *items;
    char abase[CFG_JPATH_MAX];
    size_t n = config_json_list(obj, "entities", base, CFG_MAX_VIEW_ENTS,
                                "empty: the view has no join keys (expected at least one "
                                "entity name)", sizeof *v->entities, &items, &arr, abase, e);
    v->entities = items;
    if (n == 0) {
        return;
    }
    const struct cfg_entity **ents = calloc(n, sizeof *ents);
    size_t maxkeys = n * CFG_MAX_ENTITY_KEYS;
    v->keys = calloc(maxkeys, sizeof *v->keys);
    size_t *owner = calloc(maxkeys, sizeof *owner);     /* entity index per key */
    if (ents == NULL || v->keys == NULL || owner == NULL) {
        free(ents);
        free(owner);
        config_err_add(e, abase, "out of memory");
        return;
    }
    v->nentities = n;
    bool all_known = config_view_entity_refs(cfg, arr, abase, v, ents, e);
    config_view_flatten_keys(v, ents, owner, maxkeys, abase, e);
    bool keyless_entity = false;   /* already reported at the entity */
    for (size_t i = 0; i < n; i++) {
        keyless_entity |= ents[i] != NULL && ents[i]->nkeys == 0;
    }
    if (v->nkeys == 0 && all_known && !keyless_entity) {
        config_err_add(e, abase, "the view's entities have no join keys");
    }
    if (v->nkeys > CFG_MAX_VIEW_KEYS) {
        config_err_add(e, abase, "the view's entities have %zu join keys together (at most %d)",
                       v->nkeys, CFG_MAX_VIEW_KEYS);
    }
    free(owner);
    free(ents);
}

/* ------------------------------------------------------------------------ */
/* Features, source, materialization                                        */
/* ------------------------------------------------------------------------ */

static void config_view_features(json_t *obj, const char *base, struct cfg_view *v,
                                 struct config_errs *e)
{
    json_t *arr;
    void *items;
    char fbase[CFG_JPATH_MAX];
    size_t n = config_json_list(obj, "features", base, CFG_MAX_FEATURES,
                                "empty (a feature view needs at least one feature)",
                                sizeof *v->features, &items, &arr, fbase, e);
    v->features = items;
    v->nfeatures = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX], np[CFG_JPATH_MAX], q[QBUF];
        config_err_path_idx(p, fbase, i);
        config_err_path_key(np, p, "name");
        json_t *f = json_array_get(arr, i);
        if (!json_is_object(f)) {
            config_err_add(e, p, "expected a feature object {\"name\", \"type\"} (got %s)",
                           config_json_kind(f));
            continue;
        }
        config_json_check_keys(f, p, feature_keys, "a feature", e);
        const char *name = config_view_name(f, p, e);
        int t = config_view_type(f, p, false, e);
        v->features[i].type = t < 0 ? FT_BOOL : (enum featd_type)t;
        if (name == NULL) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (v->features[j].name != NULL && strcmp(v->features[j].name, name) == 0) {
                config_err_add(e, np, "duplicate feature name %s (also features[%zu])",
                               config_err_quote(name, q, sizeof q), j);
                break;
            }
        }
        for (size_t j = 0; j < v->nkeys; j++) {
            if (strcmp(v->keys[j].name, name) == 0) {
                config_err_add(e, np, "feature %s clashes with the view's join key of the same "
                               "name", config_err_quote(name, q, sizeof q));
                break;
            }
        }
        v->features[i].name = util_xstrdup(name);
        if (t >= 0) {
            config_quality_expect(f, p, &v->features[i], e);
        }
    }
}

static struct cfg_feature *config_view_feature(struct cfg_view *v, const char *name)
{
    for (size_t i = 0; i < v->nfeatures; i++) {
        if (v->features[i].name != NULL && strcmp(v->features[i].name, name) == 0) {
            return &v->features[i];
        }
    }
    return NULL;
}

/* source.columns (feature name -> column name) at cbase; then every
 * feature without a rename reads the column of its own name. */
static void config_view_renames(json_t *cols, const char *cbase, struct cfg_view *v,
                                struct config_errs *e)
{
    const char *key;
    json_t *val;
    if (cols != NULL) {
        json_object_foreach(cols, key, val) {
            char p[CFG_JPATH_MAX], q[QBUF], why[128];
            config_err_path_key(p, cbase, key);
            struct cfg_feature *f = config_view_feature(v, key);
            if (f == NULL) {
                config_err_add(e, p, "%s is not a feature of view \"%s\" (renames map feature "
                               "name -> column name)", config_err_quote(key, q, sizeof q),
                               v->name ? v->name : "?");
                continue;
            }
            if (!json_is_string(val)) {
                config_err_add(e, p, "expected a column name string (got %s)",
                               config_json_kind(val));
                continue;
            }
            const char *bad = config_json_text_problem(json_string_value(val), CFG_COLUMN_MAX,
                                                       why, sizeof why);
            if (bad != NULL) {
                config_err_add(e, p, "%s: bad column name: %s",
                               config_err_quote(json_string_value(val), q, sizeof q), bad);
                continue;
            }
            free(f->column);
            f->column = util_xstrdup(json_string_value(val));
        }
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        struct cfg_feature *f = &v->features[i];
        if (f->column == NULL && f->name != NULL) {
            f->column = util_xstrdup(f->name);
        }
    }
}

/* The column-level clashes of a view at base: the timestamp columns against
 * each other, the join keys and the features; features reading a join key's
 * or another feature's column. has_source: whether "source" was given
 * (errors about the default event-time column then name the source path). */
static void config_view_column_clashes(const char *base, const char *sbase, const char *cbase,
                                       bool has_source, const struct cfg_view *v,
                                       struct config_errs *e)
{
    char ep[CFG_JPATH_MAX], cp[CFG_JPATH_MAX];
    config_err_path_key(ep, sbase, "event_timestamp_column");
    config_err_path_key(cp, sbase, "created_timestamp_column");
    const char *ev = v->event_ts_column, *cr = v->created_ts_column;
    char q[QBUF];
    if (cr != NULL && strcmp(ev, cr) == 0) {
        config_err_add(e, cp, "same column as event_timestamp_column %s (expected a different "
                       "column or null)", config_err_quote(ev, q, sizeof q));
    }
    for (size_t j = 0; j < v->nkeys; j++) {
        if (strcmp(v->keys[j].name, ev) == 0) {
            config_err_add(e, has_source ? ep : sbase, "event-time column %s clashes with join "
                           "key of the same name", config_err_quote(ev, q, sizeof q));
        }
        if (cr != NULL && strcmp(v->keys[j].name, cr) == 0) {
            config_err_add(e, cp, "created-time column %s clashes with join key of the same name",
                           config_err_quote(cr, q, sizeof q));
        }
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        const struct cfg_feature *f = &v->features[i];
        if (f->name == NULL || f->column == NULL) {
            continue;
        }
        char fp[CFG_JPATH_MAX], fb[CFG_JPATH_MAX];
        config_err_pathf(fb, "%s.features[%zu]", base, i);
        config_err_path_key(fp, fb, "name");
        bool renamed = strcmp(f->name, f->column) != 0;
        char rp[CFG_JPATH_MAX];
        config_err_path_key(rp, cbase, f->name);
        const char *where = renamed ? rp : fp;
        if (strcmp(f->name, ev) == 0) {
            config_err_add(e, fp, "feature %s clashes with the event-time column",
                           config_err_quote(f->name, q, sizeof q));
        } else if (cr != NULL && strcmp(f->name, cr) == 0) {
            config_err_add(e, fp, "feature %s clashes with the created-time column",
                           config_err_quote(f->name, q, sizeof q));
        } else if (renamed && strcmp(f->column, ev) == 0) {
            config_err_add(e, where, "column %s is the event-time column",
                           config_err_quote(f->column, q, sizeof q));
        } else if (renamed && cr != NULL && strcmp(f->column, cr) == 0) {
            config_err_add(e, where, "column %s is the created-time column",
                           config_err_quote(f->column, q, sizeof q));
        }
        if (renamed) {
            for (size_t j = 0; j < v->nkeys; j++) {
                if (strcmp(v->keys[j].name, f->column) == 0) {
                    config_err_add(e, where, "column %s is the join key column of the same name",
                                   config_err_quote(f->column, q, sizeof q));
                }
            }
        }
        for (size_t j = 0; j < i; j++) {
            const struct cfg_feature *g = &v->features[j];
            if (g->name != NULL && g->column != NULL && strcmp(g->column, f->column) == 0 &&
                strcmp(g->name, f->name) != 0) {
                config_err_add(e, where, "features \"%s\" and \"%s\" both read column %s",
                               g->name, f->name, config_err_quote(f->column, q, sizeof q));
                break;
            }
        }
    }
}

/* source: path, timestamp columns, renames; then the column-level checks
 * (run even without a source, against the defaults). */
static void config_view_source(json_t *obj, const char *base, struct cfg_view *v,
                               struct config_errs *e)
{
    char sbase[CFG_JPATH_MAX];
    config_err_path_key(sbase, base, "source");
    json_t *src = config_json_member(obj, "source", JSON_OBJECT, false, true, base, e);
    json_t *cols = NULL;
    char *event_col = NULL;
    if (src != NULL) {
        config_json_check_keys(src, sbase, source_keys, "a source", e);
        /* a view fed by a stream alone needs no Parquet path */
        bool stream = config_stream_parse(src, sbase, v, e);
        json_t *p = config_json_member(src, "path", JSON_STRING, !stream, false, sbase, e);
        if (p != NULL) {
            char why[128], q[QBUF], pp[CFG_JPATH_MAX];
            const char *bad = config_json_text_problem(json_string_value(p), CFG_PATH_STR_MAX,
                                                       why, sizeof why);
            if (bad != NULL) {
                config_err_path_key(pp, sbase, "path");
                config_err_add(e, pp, "%s: bad path: %s",
                               config_err_quote(json_string_value(p), q, sizeof q), bad);
            } else {
                v->source_path = util_xstrdup(json_string_value(p));
            }
        }
        event_col = config_view_column(src, "event_timestamp_column", sbase, false, e);
        v->created_ts_column = config_view_column(src, "created_timestamp_column", sbase, true, e);
        cols = config_json_member(src, "columns", JSON_OBJECT, false, true, sbase, e);
    }
    v->event_ts_column = event_col ? event_col : util_xstrdup("event_timestamp");
    char cbase[CFG_JPATH_MAX];
    config_err_path_key(cbase, sbase, "columns");
    config_view_renames(cols, cbase, v, e);
    config_view_column_clashes(base, sbase, cbase, src != NULL, v, e);
}

static void config_view_materialization(json_t *obj, const char *base, struct cfg_view *v,
                                        struct config_errs *e)
{
    v->mat_mode = MAT_SNAPSHOT;
    v->mat_interval_seconds = 60;
    char mbase[CFG_JPATH_MAX];
    config_err_path_key(mbase, base, "materialization");
    json_t *m = config_json_member(obj, "materialization", JSON_OBJECT, false, true, base, e);
    if (m == NULL) {
        return;
    }
    config_json_check_keys(m, mbase, mat_keys, "materialization", e);
    json_t *mode = json_object_get(m, "mode");
    if (mode != NULL) {
        char p[CFG_JPATH_MAX], q[QBUF];
        config_err_path_key(p, mbase, "mode");
        if (!json_is_string(mode)) {
            config_err_add(e, p, "expected a string, snapshot or incremental (got %s)",
                           config_json_kind(mode));
        } else if (strcmp(json_string_value(mode), "snapshot") == 0) {
            v->mat_mode = MAT_SNAPSHOT;
        } else if (strcmp(json_string_value(mode), "incremental") == 0) {
            v->mat_mode = MAT_INCREMENTAL;
        } else {
            config_err_add(e, p, "unknown mode %s (expected snapshot or incremental)",
                           config_err_quote(json_string_value(mode), q, sizeof q));
        }
    }
    config_view_int(m, "interval_seconds", mbase, 1, CFG_INTERVAL_MAX, &v->mat_interval_seconds,
                    e);
}

/* ------------------------------------------------------------------------ */
/* Views                                                                    */
/* ------------------------------------------------------------------------ */

static uint64_t config_view_fnv_field(uint64_t h, char tag, const char *s)
{
    h = util_fnv1a(h, &tag, 1);
    return util_fnv1a(h, s, strlen(s) + 1);   /* the NUL separates fields */
}

/*
 * Schema fingerprint: FNV-1a 64 over 'V' name NUL, then per join key
 * 'K' name NUL 'T' type-name NUL, then per feature 'F' name NUL 'T'
 * type-name NUL. Type names (not enum values) keep it stable across
 * recompiles; order matters because rows are packed in schema order.
 */
static void config_view_fingerprint(struct cfg_view *v)
{
    uint64_t h = UTIL_FNV_INIT;
    h = config_view_fnv_field(h, 'V', v->name);
    for (size_t i = 0; i < v->nkeys; i++) {
        h = config_view_fnv_field(h, 'K', v->keys[i].name);
        h = config_view_fnv_field(h, 'T', config_type_name(v->keys[i].type));
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        h = config_view_fnv_field(h, 'F', v->features[i].name);
        h = config_view_fnv_field(h, 'T', config_type_name(v->features[i].type));
    }
    v->fingerprint = h;
    snprintf(v->fingerprint_hex, sizeof v->fingerprint_hex, "%016" PRIx64, h);
}

void config_view_fingerprints(struct featd_config *cfg)
{
    for (size_t i = 0; i < cfg->nviews; i++) {
        config_view_fingerprint(&cfg->views[i]);
    }
}

static void config_view_parse(const struct featd_config *cfg, json_t *obj, const char *base,
                              struct cfg_view *v, struct config_errs *e)
{
    if (!json_is_object(obj)) {
        config_err_add(e, base, "expected a feature view object (got %s)", config_json_kind(obj));
        return;
    }
    config_json_check_keys(obj, base, view_keys, "a feature view", e);
    const char *name = config_view_name(obj, base, e);
    if (name != NULL) {
        v->name = util_xstrdup(name);
    }
    config_view_entities(cfg, obj, base, v, e);
    v->ttl_seconds = 0;
    config_view_int(obj, "ttl_seconds", base, 0, CFG_TTL_MAX, &v->ttl_seconds, e);
    config_view_features(obj, base, v, e);
    config_view_source(obj, base, v, e);
    config_view_materialization(obj, base, v, e);
    config_quality_view(obj, base, v, e);       /* after the mode it depends on */
}

void config_view_parse_views(struct featd_config *cfg, json_t *root, struct config_errs *e)
{
    json_t *arr;
    void *items;
    char base[CFG_JPATH_MAX];
    size_t n = config_json_list(root, "feature_views", "$", CFG_MAX_VIEWS,
                                "empty (expected at least one feature view)",
                                sizeof *cfg->views, &items, &arr, base, e);
    cfg->views = items;
    cfg->nviews = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX];
        config_err_path_idx(p, base, i);
        struct cfg_view *v = &cfg->views[i];
        config_view_parse(cfg, json_array_get(arr, i), p, v, e);
        for (size_t j = 0; v->name != NULL && j < i; j++) {
            if (cfg->views[j].name != NULL && strcmp(cfg->views[j].name, v->name) == 0) {
                char np[CFG_JPATH_MAX], q[QBUF];
                config_err_path_key(np, p, "name");
                config_err_add(e, np, "duplicate feature view name %s (also "
                               "$.feature_views[%zu])", config_err_quote(v->name, q, sizeof q), j);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Free                                                                     */
/* ------------------------------------------------------------------------ */

static void config_view_free_keys(struct cfg_join_key *k, size_t n)
{
    for (size_t i = 0; k != NULL && i < n; i++) {
        free(k[i].name);
    }
    free(k);
}

void config_view_free(struct featd_config *cfg)
{
    for (size_t i = 0; cfg->entities != NULL && i < cfg->nentities; i++) {
        free(cfg->entities[i].name);
        config_view_free_keys(cfg->entities[i].keys, cfg->entities[i].nkeys);
    }
    free(cfg->entities);
    for (size_t i = 0; cfg->views != NULL && i < cfg->nviews; i++) {
        struct cfg_view *v = &cfg->views[i];
        free(v->name);
        for (size_t j = 0; v->entities != NULL && j < v->nentities; j++) {
            free(v->entities[j]);
        }
        free(v->entities);
        config_view_free_keys(v->keys, v->nkeys);
        for (size_t j = 0; v->features != NULL && j < v->nfeatures; j++) {
            free(v->features[j].name);
            free(v->features[j].column);
            config_quality_expect_free(&v->features[j].expect);
        }
        free(v->features);
        free(v->source_path);
        free(v->stream_key);
        free(v->stream_group);
        free(v->event_ts_column);
        free(v->created_ts_column);
        free(v->quality.baseline);
    }
    free(cfg->views);
}
