/*
 * http_write.c — the HTTP write bodies (featd's and Feast's) built into a
 * WriteFeatures request (contract in http_write.h): the body is parsed
 * with jansson, each df column is classified against the view (join key,
 * feature, event time, created time) and its values converted by
 * online/online_json.h into protobuf Values in the request's arena. The
 * request's own rules are left to serve/write_check.c.
 */
#include "http/http_write.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "common/jsonw.h"
#include "config/config.h"
#include "core/fbuf.h"
#include "online/online_json.h"

#define BAD(...) do { snprintf(msg, msglen, __VA_ARGS__); return FEATD_ERR; } while (0)
#define NOMEM() do { snprintf(msg, msglen, "request needs more memory than allowed"); return FEATD_ENOMEM; } while (0)

/* The body's keys per endpoint (Feast's request models plus featd's name). */
static bool hw_key_known(enum http_write_kind kind, const char *k)
{
    if (strcmp(k, "df") == 0 || strcmp(k, "allow_registry_cache") == 0 || strcmp(k, "transform_on_write") == 0) {
        return true;
    }
    if (kind == HTTP_WRITE_PUSH) {
        return strcmp(k, "feature_view") == 0 || strcmp(k, "push_source_name") == 0 || strcmp(k, "to") == 0;
    }
    return strcmp(k, "feature_view_name") == 0 || strcmp(k, "feature_view") == 0;
}

static bool hw_is_event(const struct cfg_view *v, const char *k)
{
    return strcmp(k, "event_timestamp") == 0 || (v->event_ts_column && strcmp(k, v->event_ts_column) == 0);
}

static bool hw_is_created(const struct cfg_view *v, const char *k)
{
    return strcmp(k, "created") == 0 || strcmp(k, "created_timestamp") == 0 ||
           (v->created_ts_column && strcmp(k, v->created_ts_column) == 0);
}

static int hw_key_index(const struct cfg_view *v, const char *k)
{
    for (size_t i = 0; i < v->nkeys; i++) {
        if (strcmp(v->keys[i].name, k) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* The top-level members: the view's name into *name, df into *df. */
static int hw_top(const json_t *root, enum http_write_kind kind, const char **name, const json_t **df,
                  char *msg, size_t msglen)
{
    const char *nk = kind == HTTP_WRITE_PUSH ? "\"feature_view\" (or Feast's \"push_source_name\")"
                                             : "\"feature_view_name\"";
    if (!json_is_object(root)) {
        BAD("the body must be a JSON object {%s: ..., \"df\": {column: [values]}}, not %s", nk,
            config_json_kind(root));
    }
    const char *k;
    json_t *val;
    *name = NULL;
    json_object_foreach((json_t *)root, k, val) {
        if (!hw_key_known(kind, k)) {
            BAD("unknown key \"%s\" (expected %s)", k,
                kind == HTTP_WRITE_PUSH ? "feature_view or push_source_name, df, to, allow_registry_cache, "
                                          "transform_on_write"
                                        : "feature_view_name, df, allow_registry_cache, transform_on_write");
        }
        if (strcmp(k, "feature_view") == 0 || strcmp(k, "push_source_name") == 0 ||
            strcmp(k, "feature_view_name") == 0) {
            if (!json_is_string(val)) {
                BAD("\"%s\" must be a feature view's name (a string), not %s", k, config_json_kind(val));
            }
            if (*name != NULL) {
                BAD("the feature view is named twice: give one of %s", nk);
            }
            *name = json_string_value(val);
        } else if ((strcmp(k, "allow_registry_cache") == 0 || strcmp(k, "transform_on_write") == 0) &&
                   !json_is_boolean(val) && !json_is_null(val)) {
            BAD("\"%s\" must be true or false", k);
        }
    }
    if (*name == NULL) {
        BAD("missing %s: the feature view to write", nk);
    }
    const json_t *to = json_object_get(root, "to");
    if (to && !json_is_null(to)) {
        const char *t = json_is_string(to) ? json_string_value(to) : "";
        if (strcmp(t, "offline") == 0) {
            BAD("\"to\": \"offline\" is not supported: featd has no offline store (push with \"online\"; "
                "\"online_and_offline\" writes the online half)");
        }
        if (strcmp(t, "online") != 0 && strcmp(t, "online_and_offline") != 0) {
            BAD("\"to\" must be \"online\" or \"online_and_offline\" (featd writes the online store)");
        }
    }
    *df = json_object_get(root, "df");
    if (*df == NULL || !json_is_object(*df)) {
        BAD("\"df\" must be an object mapping each column to an array of values (one per row)%s",
            *df ? "" : " (missing)");
    }
    return FEATD_OK;
}

/* A join key's values (column k, JSON array col) as an EntityColumn. */
static int hw_key_column(const struct cfg_join_key *jk, const json_t *col, struct arena *a,
                         Featd__V1__EntityColumn *out, char *msg, size_t msglen)
{
    size_t n = json_array_size(col);
    char shown[72];
    featd__v1__entity_column__init(out);
    out->join_key = arena_strndup(a, jk->name, strlen(jk->name));
    out->values = arena_alloc(a, sizeof(*out->values) * (n + 1));
    Featd__V1__Value *vs = arena_alloc(a, sizeof(*vs) * (n + 1));
    if (out->join_key == NULL || out->values == NULL || vs == NULL) {
        NOMEM();
    }
    out->n_values = n;
    for (size_t r = 0; r < n; r++) {
        const json_t *e = json_array_get(col, r);
        featd__v1__value__init(&vs[r]);
        out->values[r] = &vs[r];
        if (json_is_null(e)) {
            BAD("df.%s[%zu]: a join key may not be null", jk->name, r);
        }
        if (jk->type == FT_INT64) {
            if (!online_json_int(e, INT64_MIN, INT64_MAX, &vs[r].int64_val)) {
                BAD("df.%s[%zu]: join key \"%s\" is int64: expected an integer, got %s", jk->name, r, jk->name,
                    online_json_show(e, shown, sizeof(shown)));
            }
            vs[r].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
        } else {
            if (!json_is_string(e)) {
                BAD("df.%s[%zu]: join key \"%s\" is a string: expected a JSON string, got %s", jk->name, r,
                    jk->name, online_json_show(e, shown, sizeof(shown)));
            }
            vs[r].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
            vs[r].string_val = arena_strndup(a, json_string_value(e), json_string_length(e));
            if (vs[r].string_val == NULL) {
                NOMEM();
            }
        }
    }
    return FEATD_OK;
}

/* A list value ov of type t as the Value *x, its elements in a (an empty
 * list allocates no element array: a body of many "[]" stays within the
 * request's decode bound, dispatch.h). */
static int hw_list(enum featd_type t, const struct online_value *ov, struct arena *a, Featd__V1__Value *x)
{
    uint32_t n = ov->count;
    switch (t) {
    case FT_FLOAT_LIST: {
        Featd__V1__FloatList *l = arena_alloc(a, sizeof(*l));
        float *e = n ? arena_alloc(a, sizeof(*e) * n) : NULL;
        if (l == NULL || (n && e == NULL)) {
            return FEATD_ENOMEM;
        }
        featd__v1__float_list__init(l);
        for (uint32_t i = 0; i < n; i++) {
            e[i] = online_row_list_float(ov, i);
        }
        l->n_val = n;
        l->val = e;
        x->kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
        x->float_list_val = l;
        return FEATD_OK;
    }
    case FT_DOUBLE_LIST: {
        Featd__V1__DoubleList *l = arena_alloc(a, sizeof(*l));
        double *e = n ? arena_alloc(a, sizeof(*e) * n) : NULL;
        if (l == NULL || (n && e == NULL)) {
            return FEATD_ENOMEM;
        }
        featd__v1__double_list__init(l);
        for (uint32_t i = 0; i < n; i++) {
            e[i] = online_row_list_double(ov, i);
        }
        l->n_val = n;
        l->val = e;
        x->kind_case = FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL;
        x->double_list_val = l;
        return FEATD_OK;
    }
    case FT_INT64_LIST: {
        Featd__V1__Int64List *l = arena_alloc(a, sizeof(*l));
        int64_t *e = n ? arena_alloc(a, sizeof(*e) * n) : NULL;
        if (l == NULL || (n && e == NULL)) {
            return FEATD_ENOMEM;
        }
        featd__v1__int64_list__init(l);
        for (uint32_t i = 0; i < n; i++) {
            e[i] = online_row_list_int64(ov, i);
        }
        l->n_val = n;
        l->val = e;
        x->kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
        x->int64_list_val = l;
        return FEATD_OK;
    }
    default: {     /* FT_STRING_LIST */
        Featd__V1__StringList *l = arena_alloc(a, sizeof(*l));
        char **e = n ? arena_alloc(a, sizeof(*e) * n) : NULL;
        if (l == NULL || (n && e == NULL)) {
            return FEATD_ENOMEM;
        }
        featd__v1__string_list__init(l);
        const uint8_t *cur = ov->raw, *end = ov->raw + ov->rawlen;
        for (uint32_t i = 0; i < n; i++) {
            const char *s;
            size_t sn;
            if (online_row_list_next_string(&cur, end, &s, &sn) != FEATD_OK) {
                return FEATD_ERR;
            }
            e[i] = arena_strndup(a, s, sn);
            if (e[i] == NULL) {
                return FEATD_ENOMEM;
            }
        }
        l->n_val = n;
        l->val = e;
        x->kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
        x->string_list_val = l;
        return FEATD_OK;
    }
    }
}

/* The converted value ov of feature f as the Value *x (copies in a). */
static int hw_value(const struct cfg_feature *f, const struct online_value *ov, struct arena *a,
                    Featd__V1__Value *x)
{
    featd__v1__value__init(x);
    if (ov->is_null) {
        return FEATD_OK;        /* no kind set: null */
    }
    switch (f->type) {
    case FT_BOOL:
        x->kind_case = FEATD__V1__VALUE__KIND_BOOL_VAL;
        x->bool_val = ov->u.b;
        return FEATD_OK;
    case FT_INT32:
        x->kind_case = FEATD__V1__VALUE__KIND_INT32_VAL;
        x->int32_val = ov->u.i32;
        return FEATD_OK;
    case FT_INT64:
        x->kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
        x->int64_val = ov->u.i64;
        return FEATD_OK;
    case FT_FLOAT:
        x->kind_case = FEATD__V1__VALUE__KIND_FLOAT_VAL;
        x->float_val = ov->u.f;
        return FEATD_OK;
    case FT_DOUBLE:
        x->kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL;
        x->double_val = ov->u.d;
        return FEATD_OK;
    case FT_STRING:
        x->kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
        x->string_val = arena_strndup(a, ov->s, ov->slen);
        return x->string_val ? FEATD_OK : FEATD_ENOMEM;
    case FT_BYTES:
        x->kind_case = FEATD__V1__VALUE__KIND_BYTES_VAL;
        x->bytes_val.len = ov->slen;
        x->bytes_val.data = arena_memdup(a, ov->slen ? ov->s : "", ov->slen ? ov->slen : 1);
        return x->bytes_val.data ? FEATD_OK : FEATD_ENOMEM;
    case FT_TIMESTAMP:
        x->kind_case = FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL;
        x->timestamp_us_val = ov->u.i64;
        return FEATD_OK;
    default:
        return hw_list(f->type, ov, a, x);
    }
}

/* A feature's values (JSON array col) as a FeatureColumn; sb is scratch. */
static int hw_feature_column(const struct cfg_feature *f, const json_t *col, struct arena *a, struct fbuf *sb,
                             Featd__V1__FeatureColumn *out, char *msg, size_t msglen)
{
    size_t n = json_array_size(col);
    featd__v1__feature_column__init(out);
    out->name = arena_strndup(a, f->name, strlen(f->name));
    out->values = arena_alloc(a, sizeof(*out->values) * (n + 1));
    Featd__V1__Value *vs = arena_alloc(a, sizeof(*vs) * (n + 1));
    if (out->name == NULL || out->values == NULL || vs == NULL) {
        NOMEM();
    }
    out->n_values = n;
    for (size_t r = 0; r < n; r++) {
        struct online_value ov;
        char why[256];
        out->values[r] = &vs[r];
        if (online_json_feature(json_array_get(col, r), f, &ov, sb, why, sizeof(why)) != FEATD_OK) {
            BAD("df.%s[%zu]: feature \"%s\" (%s): %s", f->name, r, f->name, config_type_name(f->type), why);
        }
        int rc = hw_value(f, &ov, a, &vs[r]);
        if (rc == FEATD_ENOMEM) {
            NOMEM();
        }
        if (rc != FEATD_OK) {
            BAD("df.%s[%zu]: feature \"%s\": a list that cannot be read back", f->name, r, f->name);
        }
    }
    return FEATD_OK;
}

/* The event times (column name, JSON array col) into w. */
static int hw_event_times(const char *name, const json_t *col, struct arena *a,
                          Featd__V1__WriteFeaturesRequest *w, char *msg, size_t msglen)
{
    size_t n = json_array_size(col);
    char shown[72];
    w->event_timestamps_us = arena_alloc(a, sizeof(int64_t) * (n + 1));
    if (w->event_timestamps_us == NULL) {
        NOMEM();
    }
    w->n_event_timestamps_us = n;
    for (size_t r = 0; r < n; r++) {
        const json_t *e = json_array_get(col, r);
        if (json_is_null(e)) {
            BAD("df.%s[%zu]: missing event time (null): each row needs one", name, r);
        }
        if (!online_json_time(e, &w->event_timestamps_us[r])) {
            BAD("df.%s[%zu]: expected an RFC 3339 time like \"2026-12-01T10:00:00Z\" (no zone = UTC) or "
                "integer microseconds, got %s", name, r, online_json_show(e, shown, sizeof(shown)));
        }
    }
    return FEATD_OK;
}

/* The created times: accepted (Feast sends them) and checked, not stored. */
static int hw_created_times(const char *name, const json_t *col, char *msg, size_t msglen)
{
    char shown[72];
    for (size_t r = 0; r < json_array_size(col); r++) {
        const json_t *e = json_array_get(col, r);
        int64_t us;
        if (!json_is_null(e) && !online_json_time(e, &us)) {
            BAD("df.%s[%zu]: expected an RFC 3339 time, integer microseconds or null, got %s", name, r,
                online_json_show(e, shown, sizeof(shown)));
        }
    }
    return FEATD_OK;
}

/* The columns of df, classified against v, into w. */
static int hw_columns(const struct cfg_view *v, const json_t *df, struct arena *a,
                      Featd__V1__WriteFeaturesRequest *w, struct http_write_info *info, char *msg, size_t msglen)
{
    size_t ncols = json_object_size(df);
    w->entities = arena_alloc(a, sizeof(*w->entities) * (ncols + 1));
    w->features = arena_alloc(a, sizeof(*w->features) * (ncols + 1));
    Featd__V1__EntityColumn *ec = arena_alloc(a, sizeof(*ec) * (ncols + 1));
    Featd__V1__FeatureColumn *fc = arena_alloc(a, sizeof(*fc) * (ncols + 1));
    if (w->entities == NULL || w->features == NULL || ec == NULL || fc == NULL) {
        NOMEM();
    }
    struct fbuf sb = { 0 };
    const char *k, *event_name = NULL, *created_name = NULL;
    json_t *col;
    int rc = FEATD_OK;
    json_object_foreach((json_t *)df, k, col) {
        if (!json_is_array(col)) {
            snprintf(msg, msglen, "df.%s: expected an array of values (one per row), got %s", k,
                     config_json_kind(col));
            rc = FEATD_ERR;
            break;
        }
        if (info->rows == 0) {
            info->rows = json_array_size(col);
        }
        int ki = hw_key_index(v, k);
        int fi = ki < 0 ? config_feature_index(v, k, strlen(k)) : -1;
        if (ki >= 0) {
            rc = hw_key_column(&v->keys[ki], col, a, &ec[w->n_entities], msg, msglen);
            w->entities[w->n_entities] = &ec[w->n_entities];
            w->n_entities++;
        } else if (fi >= 0) {
            rc = hw_feature_column(&v->features[fi], col, a, &sb, &fc[w->n_features], msg, msglen);
            w->features[w->n_features] = &fc[w->n_features];
            w->n_features++;
        } else if (hw_is_event(v, k)) {
            if (event_name != NULL) {
                snprintf(msg, msglen, "the event time is given twice (df.%s and df.%s)", event_name, k);
                rc = FEATD_ERR;
                break;
            }
            event_name = k;
            rc = hw_event_times(k, col, a, w, msg, msglen);
        } else if (hw_is_created(v, k)) {
            if (created_name != NULL) {
                snprintf(msg, msglen, "the created time is given twice (df.%s and df.%s)", created_name, k);
                rc = FEATD_ERR;
                break;
            }
            created_name = k;
            rc = hw_created_times(k, col, msg, msglen);
        } else {
            snprintf(msg, msglen, "df.%s: feature view \"%s\" has no join key or feature \"%s\" (columns: its "
                     "join keys, its features, \"event_timestamp\" and optionally \"created\")", k, v->name, k);
            rc = FEATD_ERR;
        }
        if (rc != FEATD_OK) {
            break;
        }
    }
    fbuf_free(&sb);
    if (rc == FEATD_OK && event_name == NULL) {
        snprintf(msg, msglen, "df has no event time column: send \"event_timestamp\" (RFC 3339, no zone = UTC, "
                 "or integer microseconds), one per row");
        rc = FEATD_ERR;
    }
    return rc;
}

int http_write_build(const char *body, size_t len, enum http_write_kind kind, const struct featd_config *cfg,
                     struct arena *a, Featd__V1__Request **out, struct http_write_info *info, char *msg,
                     size_t msglen)
{
    info->view = NULL;
    info->rows = 0;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        BAD("the body is not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column, jerr.text);
    }
    const char *name = NULL;
    const json_t *df = NULL;
    int rc = hw_top(root, kind, &name, &df, msg, msglen);
    Featd__V1__WriteFeaturesRequest *w = arena_alloc(a, sizeof(*w));
    Featd__V1__Request *rq = arena_alloc(a, sizeof(*rq));
    if (rc == FEATD_OK && (w == NULL || rq == NULL)) {
        snprintf(msg, msglen, "request needs more memory than allowed");
        rc = FEATD_ENOMEM;
    }
    if (rc == FEATD_OK) {
        featd__v1__write_features_request__init(w);
        featd__v1__request__init(rq);
        w->feature_view = arena_strndup(a, name, strlen(name));
        if (w->feature_view == NULL) {
            snprintf(msg, msglen, "request needs more memory than allowed");
            rc = FEATD_ENOMEM;
        }
    }
    if (rc == FEATD_OK) {
        info->view = config_find_view(cfg, name);
        if (info->view != NULL) {
            rc = hw_columns(info->view, df, a, w, info, msg, msglen);
        }
        /* else: no columns; write_check names the unknown view after the token check */
    }
    json_decref(root);
    *out = NULL;
    if (rc == FEATD_ERR && info->view != NULL) {
        /* the view alone, for http_write_auth_first's callers */
        w->n_entities = w->n_features = w->n_event_timestamps_us = 0;
    } else if (rc != FEATD_OK) {
        return rc;
    }
    rq->body_case = FEATD__V1__REQUEST__BODY_WRITE_FEATURES;
    rq->write_features = w;
    *out = rq;
    return rc;
}

bool http_write_auth_first(const struct featd_config *cfg, const struct cfg_token *t,
                           const struct http_write_info *info)
{
    return cfg->auth.enabled && info->view != NULL &&
           (t == NULL || !auth_may_read(t, info->view->name) || !auth_may_write(t, info->view->name));
}
#undef BAD
#undef NOMEM

void http_write_json(struct jsonw *j, const Featd__V1__WriteFeaturesResponse *wr)
{
    jsonw_lit(j, "{\"rows_written\":");
    jsonw_u64(j, wr->rows_written);
    jsonw_lit(j, ",\"rows_stale\":");
    jsonw_u64(j, wr->rows_stale);
    jsonw_lit(j, "}\n");
}
