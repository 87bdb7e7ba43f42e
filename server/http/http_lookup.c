/*
 * http_lookup.c — the Feast-shaped JSON lookup, both directions (see
 * http_lookup.h): the body is parsed with jansson and built straight into
 * the request's arena; the answer is written with common/jsonw.h from the
 * cells the lookup assembled (no protobuf round trip either way). The value
 * mapping is in docs/operations.md.
 */
#include "http/http_lookup.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonw.h"
#include "config/config.h"
#include "core/metrics.h"
#include "online/online.h"
#include "online/online_json.h"

/* ---- the answer as JSON ---- */


/* The name of feature f as names asks: ref "view:feature" -> "feature" or
 * "view__feature". */
static void http_lookup_name(struct jsonw *j, const char *ref, enum http_names names)
{
    const char *colon = strchr(ref, ':');
    if (names == HTTP_NAMES_REF || colon == NULL) {
        jsonw_strz(j, ref);
    } else if (names == HTTP_NAMES_BARE) {
        jsonw_strz(j, colon + 1);
    } else {
        size_t vlen = (size_t)(colon - ref);
        char buf[512];
        size_t flen = strlen(colon + 1);
        if (vlen + 2 + flen < sizeof(buf)) {
            memcpy(buf, ref, vlen);
            memcpy(buf + vlen, "__", 2);
            memcpy(buf + vlen + 2, colon + 1, flen);
            jsonw_str(j, buf, vlen + 2 + flen);
        } else {
            jsonw_strz(j, ref);     /* names are bounded far below this by the registry */
        }
    }
}

/* The join-key column col: its request values, PRESENT, the epoch. */
static void http_lookup_key_column(struct jsonw *j, const Featd__V1__EntityColumn *col, const char *epoch,
                                   size_t epoch_len)
{
    jsonw_lit(j, "{\"values\":[");
    for (size_t r = 0; r < col->n_values; r++) {
        const Featd__V1__Value *v = col->values[r];
        if (r) {
            jsonw_char(j, ',');
        }
        if (v->kind_case == FEATD__V1__VALUE__KIND_INT64_VAL) {
            jsonw_i64(j, v->int64_val);
        } else if (v->kind_case == FEATD__V1__VALUE__KIND_STRING_VAL) {
            jsonw_strz(j, v->string_val);
        } else {
            jsonw_lit(j, "null");
        }
    }
    jsonw_lit(j, "],\"statuses\":[");
    for (size_t r = 0; r < col->n_values; r++) {
        jsonw_lit(j, r ? ",\"PRESENT\"" : "\"PRESENT\"");
    }
    jsonw_lit(j, "],\"event_timestamps\":[");
    for (size_t r = 0; r < col->n_values; r++) {
        if (r) {
            jsonw_char(j, ',');
        }
        jsonw_raw(j, epoch, epoch_len);
    }
    jsonw_lit(j, "]}");
}

int http_lookup_json(struct jsonw *j, const struct proto_get_answer *ga,
                     const Featd__V1__GetOnlineFeaturesRequest *g, enum http_names names)
{
    size_t nf = ga->nfeatures, nr = ga->nrows;
    size_t max = ga->max_bytes ? (size_t)ga->max_bytes : SIZE_MAX;
    size_t nk = names != HTTP_NAMES_REF && g != NULL ? g->n_entities : 0;
    char epoch[JSONW_TIME_MAX + 2];
    struct jsonw ew;
    jsonw_init_fixed(&ew, epoch, sizeof(epoch));
    jsonw_time(&ew, 0);
    size_t epoch_len = ew.len;
    char last[JSONW_TIME_MAX + 2];      /* the last event time written, formatted */
    memcpy(last, epoch, epoch_len);
    size_t last_len = epoch_len;
    int64_t last_ts = 0;

    jsonw_lit(j, "{\"metadata\":{\"feature_names\":[");
    for (size_t k = 0; k < nk; k++) {
        if (k) {
            jsonw_char(j, ',');
        }
        jsonw_strz(j, g->entities[k]->join_key);
    }
    for (size_t f = 0; f < nf; f++) {
        if (f || nk) {
            jsonw_char(j, ',');
        }
        http_lookup_name(j, ga->names[f], names);
    }
    jsonw_lit(j, "]},\"results\":[");
    for (size_t k = 0; k < nk; k++) {
        if (k) {
            jsonw_char(j, ',');
        }
        http_lookup_key_column(j, g->entities[k], epoch, epoch_len);
    }
    for (size_t f = 0; f < nf; f++) {
        enum featd_type t = (enum featd_type)ga->types[f];
        jsonw_lit(j, f || nk ? ",{\"values\":[" : "{\"values\":[");
        for (size_t r = 0; r < nr; r++) {
            if (r) {
                jsonw_char(j, ',');
            }
            online_json_write_value(j, t, ga->cells[f * nr + r]);
            if (j->len > max) {
                return FEATD_EAGAIN;    /* checked per cell: a huge answer stops early */
            }
        }
        jsonw_lit(j, "],\"statuses\":[");
        for (size_t r = 0; r < nr; r++) {
            int s = ga->statuses[f * nr + r];
            jsonw_lit(j, r ? ",\"" : "\"");
            jsonw_lit(j, s < METRICS_STATUSES ? metrics_status_names[s] : "INVALID");
            jsonw_char(j, '"');
        }
        jsonw_lit(j, "],\"event_timestamps\":[");
        for (size_t r = 0; r < nr; r++) {
            int64_t ts = ga->event_ts[f * nr + r];
            if (r) {
                jsonw_char(j, ',');
            }
            if (ts != last_ts) {
                /* rows of one load share their time: formatted once */
                struct jsonw tw;
                jsonw_init_fixed(&tw, last, sizeof(last));
                jsonw_time(&tw, ts);
                last_len = tw.len;
                last_ts = ts;
            }
            jsonw_raw(j, last, last_len);
        }
        jsonw_lit(j, "]}");
        if (j->len > max) {
            return FEATD_EAGAIN;
        }
    }
    jsonw_lit(j, "]}\n");
    if (j->len > max) {
        return FEATD_EAGAIN;
    }
    return jsonw_ok(j) ? FEATD_OK : FEATD_ERR;
}

/* ---- errors ---- */

const char *http_code_name(int code)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(&featd__v1__error_code__descriptor, code);
    return ev ? ev->name : "INTERNAL";
}

int http_status_of(int code)
{
    switch (code) {
    case FEATD__V1__ERROR_CODE__OK: return 200;
    case FEATD__V1__ERROR_CODE__INVALID_ARGUMENT: return 400;
    case FEATD__V1__ERROR_CODE__UNAVAILABLE: return 503;
    case FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED: return 504;
    case FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED: return 429;
    case FEATD__V1__ERROR_CODE__UNAUTHENTICATED: return 401;
    case FEATD__V1__ERROR_CODE__PERMISSION_DENIED: return 403;
    default: return 500;
    }
}

void http_error_json(struct jsonw *j, const char *code_name, const char *msg)
{
    jsonw_lit(j, "{\"error\":{\"code\":");
    jsonw_strz(j, code_name);
    jsonw_lit(j, ",\"message\":");
    jsonw_strz(j, msg);
    jsonw_lit(j, "}}\n");
}

/* ---- the request from JSON ---- */
/* Type of join key name in the registry: FT_INT64, FT_STRING, or -1 when no
 * entity declares it (the lookup then reports it as unused). */
static int http_lookup_key_type(const struct featd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nentities; i++) {
        for (size_t k = 0; k < cfg->entities[i].nkeys; k++) {
            if (strcmp(cfg->entities[i].keys[k].name, name) == 0) {
                return (int)cfg->entities[i].keys[k].type;
            }
        }
    }
    return -1;
}


#define BAD(...) do { snprintf(msg, msglen, __VA_ARGS__); return FEATD_ERR; } while (0)
#define NOMEM() do { snprintf(msg, msglen, "request needs more memory than allowed"); return FEATD_ENOMEM; } while (0)

/* A copy of JSON string s in a (a lookup may be sent again after the body
 * is freed); NULL when a is exhausted. */
static char *http_lookup_str(struct arena *a, const json_t *s)
{
    return arena_strndup(a, json_string_value(s), json_string_length(s));
}

/* entities.<key> (a JSON array) as the EntityColumn *out, in a. */
static int http_lookup_column(const struct featd_config *cfg, const char *key, const json_t *val,
                               struct arena *a, Featd__V1__EntityColumn **out, char *msg, size_t msglen)
{
    if (!json_is_array(val)) {
        BAD("entities.%s: expected an array of values, got %s", key, config_json_kind(val));
    }
    int kt = http_lookup_key_type(cfg, key);
    Featd__V1__EntityColumn *col = arena_alloc(a, sizeof(*col));
    size_t n = json_array_size(val);
    Featd__V1__Value **vals = arena_alloc(a, sizeof(*vals) * (n + 1));
    Featd__V1__Value *vs = arena_alloc(a, sizeof(*vs) * (n + 1));
    if (col == NULL || vals == NULL || vs == NULL) {
        NOMEM();
    }
    featd__v1__entity_column__init(col);
    col->join_key = arena_strndup(a, key, strlen(key));
    col->n_values = n;
    col->values = vals;
    if (col->join_key == NULL) {
        NOMEM();
    }
    for (size_t r = 0; r < n; r++) {
        const json_t *e = json_array_get(val, r);
        featd__v1__value__init(&vs[r]);
        vals[r] = &vs[r];
        if (json_is_integer(e) && kt != FT_STRING) {
            vs[r].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
            vs[r].int64_val = (int64_t)json_integer_value(e);
        } else if (json_is_string(e) && kt != FT_INT64) {
            if (strlen(json_string_value(e)) != json_string_length(e)) {
                BAD("entities.%s[%zu]: contains a NUL character", key, r);
            }
            vs[r].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
            vs[r].string_val = http_lookup_str(a, e);
            if (vs[r].string_val == NULL) {
                NOMEM();
            }
        } else if (kt == FT_INT64) {
            BAD("entities.%s[%zu]: join key \"%s\" is int64: expected a JSON integer, got %s", key, r, key,
                config_json_kind(e));
        } else if (kt == FT_STRING) {
            BAD("entities.%s[%zu]: join key \"%s\" is a string: expected a JSON string, got %s", key, r,
                key, config_json_kind(e));
        } else {
            BAD("entities.%s[%zu]: expected an integer or a string, got %s", key, r, config_json_kind(e));
        }
    }
    *out = col;
    return FEATD_OK;
}

/*
 * Builds the featd.v1.Request of a Feast-shaped JSON body in a (the
 * request's arena; strings are copied, root may be freed after), checked
 * against cfg's join key types; *out is the request. FEATD_ERR on a bad
 * body, FEATD_ENOMEM when a is exhausted, with a message for the client in
 * msg. *names: full_feature_names (absent = false, Feast's default).
 */
static int http_lookup_from_json(const json_t *root, const struct featd_config *cfg, struct arena *a,
                                 Featd__V1__Request **out, enum http_names *names, char *msg, size_t msglen)
{
    if (!json_is_object(root)) {
        BAD("the body must be a JSON object {\"features\": [...], \"entities\": {...}}, not %s",
            config_json_kind(root));
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)root, key, val) {
        if (strcmp(key, "features") != 0 && strcmp(key, "entities") != 0 && strcmp(key, "deadline_ms") != 0 &&
            strcmp(key, "full_feature_names") != 0 && strcmp(key, "generation_mode") != 0) {
            BAD("unknown key \"%s\" (expected features, entities, deadline_ms, full_feature_names, "
                "generation_mode%s)", key,
                strcmp(key, "feature_service") == 0 ? "; feature services are not supported: list the features" : "");
        }
    }
    Featd__V1__GetOnlineFeaturesRequest *g = arena_alloc(a, sizeof(*g));
    Featd__V1__Request *rq = arena_alloc(a, sizeof(*rq));
    if (g == NULL || rq == NULL) {
        NOMEM();
    }
    featd__v1__get_online_features_request__init(g);
    featd__v1__request__init(rq);

    const json_t *ff = json_object_get(root, "features");
    if (ff == NULL || !json_is_array(ff)) {
        BAD("\"features\" must be an array of \"view:feature\" or \"view:*\" strings%s",
            ff ? "" : " (missing)");
    }
    g->n_features = json_array_size(ff);
    g->features = arena_alloc(a, sizeof(char *) * (g->n_features + 1));
    if (g->features == NULL) {
        NOMEM();
    }
    for (size_t i = 0; i < g->n_features; i++) {
        const json_t *s = json_array_get(ff, i);
        if (!json_is_string(s)) {
            BAD("features[%zu]: expected a \"view:feature\" string, got %s", i, config_json_kind(s));
        }
        if (strlen(json_string_value(s)) != json_string_length(s)) {
            BAD("features[%zu]: contains a NUL character", i);
        }
        g->features[i] = http_lookup_str(a, s);
        if (g->features[i] == NULL) {
            NOMEM();
        }
    }

    const json_t *ents = json_object_get(root, "entities");
    if (ents == NULL || !json_is_object(ents)) {
        BAD("\"entities\" must be an object mapping each join key to an array of values%s",
            ents ? "" : " (missing)");
    }
    g->n_entities = json_object_size(ents);
    g->entities = arena_alloc(a, sizeof(*g->entities) * (g->n_entities + 1));
    if (g->entities == NULL) {
        NOMEM();
    }
    size_t ci = 0;
    json_object_foreach((json_t *)ents, key, val) {
        int rc = http_lookup_column(cfg, key, val, a, &g->entities[ci++], msg, msglen);
        if (rc != FEATD_OK) {
            return rc;
        }
    }

    const json_t *dl = json_object_get(root, "deadline_ms");
    if (dl && !json_is_null(dl)) {
        if (!json_is_integer(dl) || json_integer_value(dl) < 0 ||
            json_integer_value(dl) > HTTP_LOOKUP_MAX_DEADLINE_MS) {
            BAD("\"deadline_ms\" must be an integer from 0 (server default) to %d", HTTP_LOOKUP_MAX_DEADLINE_MS);
        }
        g->deadline_ms = (uint32_t)json_integer_value(dl);
    }
    const json_t *fn = json_object_get(root, "full_feature_names");
    if (fn && !json_is_boolean(fn) && !json_is_null(fn)) {
        BAD("\"full_feature_names\" must be true (\"view__feature\") or false (bare feature names)");
    }
    *names = fn && json_is_true(fn) ? HTTP_NAMES_FULL : HTTP_NAMES_BARE;
    /* DESIGN §12 shadow reads: "held" reads each view's held generation */
    const json_t *gm = json_object_get(root, "generation_mode");
    if (gm && !json_is_null(gm)) {
        const char *m = json_is_string(gm) ? json_string_value(gm) : "";
        if (strcmp(m, "held") == 0) {
            g->generation_mode = FEATD__V1__GENERATION_MODE__HELD;
        } else if (strcmp(m, "current") != 0) {
            BAD("\"generation_mode\" must be \"current\" (the served generation) or \"held\" (the one the "
                "quality gate holds: a shadow read)");
        }
    }

    rq->body_case = FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES;
    rq->get_online_features = g;
    *out = rq;
    return FEATD_OK;
}
/* With bare names: refuses two requested features of one bare name
 * ("view:*" expanded through cfg; unknown views are left to the lookup's
 * own check). */
static int http_lookup_collisions(const Featd__V1__GetOnlineFeaturesRequest *g, const struct featd_config *cfg,
                                  struct arena *a, char *msg, size_t msglen)
{
    size_t cap = 0;
    for (size_t i = 0; i < g->n_features; i++) {
        const char *colon = strchr(g->features[i], ':');
        if (colon && strcmp(colon + 1, "*") == 0) {
            for (size_t v = 0; v < cfg->nviews; v++) {
                if (strlen(cfg->views[v].name) == (size_t)(colon - g->features[i]) &&
                    strncmp(cfg->views[v].name, g->features[i], (size_t)(colon - g->features[i])) == 0) {
                    cap += cfg->views[v].nfeatures;
                }
            }
        } else {
            cap++;
        }
    }
    if (cap < 2) {
        return FEATD_OK;
    }
    const char **bare = arena_alloc(a, sizeof(*bare) * cap);
    const char **view = arena_alloc(a, sizeof(*view) * cap);
    size_t *vlen = arena_alloc(a, sizeof(*vlen) * cap);
    if (bare == NULL || view == NULL || vlen == NULL) {
        NOMEM();
    }
    size_t n = 0;
    for (size_t i = 0; i < g->n_features; i++) {
        const char *ref = g->features[i], *colon = strchr(ref, ':');
        if (colon == NULL) {
            continue;
        }
        if (strcmp(colon + 1, "*") == 0) {
            for (size_t v = 0; v < cfg->nviews; v++) {
                const struct cfg_view *cv = &cfg->views[v];
                if (strlen(cv->name) == (size_t)(colon - ref) && strncmp(cv->name, ref, (size_t)(colon - ref)) == 0) {
                    for (size_t f = 0; f < cv->nfeatures && n < cap; f++) {
                        view[n] = cv->name;
                        vlen[n] = strlen(cv->name);
                        bare[n++] = cv->features[f].name;
                    }
                }
            }
        } else if (n < cap) {
            view[n] = ref;
            vlen[n] = (size_t)(colon - ref);
            bare[n++] = colon + 1;
        }
    }
    for (size_t x = 1; x < n; x++) {
        for (size_t y = 0; y < x; y++) {
            /* one feature asked twice from its view is the lookup's own error */
            if (strcmp(bare[x], bare[y]) == 0 &&
                (vlen[x] != vlen[y] || strncmp(view[x], view[y], vlen[x]) != 0)) {
                BAD("feature name \"%s\" is asked from more than one feature view: set "
                    "\"full_feature_names\": true to name them \"view__feature\"", bare[x]);
            }
        }
    }
    return FEATD_OK;
}

int http_lookup_build(const char *body, size_t len, const struct featd_config *cfg, struct arena *a,
                      Featd__V1__Request **out, enum http_names *names, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        BAD("the body is not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column, jerr.text);
    }
    int rc = http_lookup_from_json(root, cfg, a, out, names, msg, msglen);
    json_decref(root);
    if (rc == FEATD_OK && *names == HTTP_NAMES_BARE) {
        rc = http_lookup_collisions((*out)->get_online_features, cfg, a, msg, msglen);
    }
    return rc;
}
#undef BAD
#undef NOMEM
