/*
 * admin_lookup.c — POST /get-online-features, the Feast-shaped JSON lookup:
 *
 *   JSON body ─ admin_lookup_build ─► featd.v1.Request (packed)
 *     ─► dispatch_submit (serve/dispatch.h, on the admin thread's worker)
 *     ─► admin_lookup_sink ─► admin_lookup_json ─► 200 application/json
 *
 * Request errors answer {"error": {...}} with the HTTP status of the
 * featd.v1.ErrorCode. Values are written with common/jsonw.h (the mapping
 * is in docs/operations.md). Admin thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "admin/admin_internal.h"
#include "common/jsonw.h"
#include "config/config.h"
#include "core/arena.h"
#include "core/metrics.h"
#include "serve/dispatch.h"
#include "wire/proto.h"

#define ADMIN_BUILD_LIMIT (256u * 1024 * 1024)   /* arena bound of one decoded body */
#define ADMIN_MAX_DEADLINE_MS 600000

/* One featd.v1.Value as JSON. */
static void admin_lookup_value(struct jsonw *j, const Featd__V1__Value *v)
{
    if (v == NULL) {
        jsonw_lit(j, "null");
        return;
    }
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_BOOL_VAL:
        jsonw_lit(j, v->bool_val ? "true" : "false");
        break;
    case FEATD__V1__VALUE__KIND_INT32_VAL:
        jsonw_i64(j, v->int32_val);
        break;
    case FEATD__V1__VALUE__KIND_INT64_VAL:
        jsonw_i64(j, v->int64_val);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_VAL:
        jsonw_float(j, v->float_val);
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_VAL:
        jsonw_double(j, v->double_val);
        break;
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        jsonw_strz(j, v->string_val);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        jsonw_base64(j, v->bytes_val.data, v->bytes_val.len);
        break;
    case FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL:
        jsonw_time(j, v->timestamp_us_val);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: {
        const Featd__V1__FloatList *l = v->float_list_val;
        jsonw_char(j, '[');
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            jsonw_float(j, l->val[i]);
        }
        jsonw_char(j, ']');
        break;
    }
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: {
        const Featd__V1__DoubleList *l = v->double_list_val;
        jsonw_char(j, '[');
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            jsonw_double(j, l->val[i]);
        }
        jsonw_char(j, ']');
        break;
    }
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: {
        const Featd__V1__Int64List *l = v->int64_list_val;
        jsonw_char(j, '[');
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            jsonw_i64(j, l->val[i]);
        }
        jsonw_char(j, ']');
        break;
    }
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: {
        const Featd__V1__StringList *l = v->string_list_val;
        jsonw_char(j, '[');
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            jsonw_strz(j, l->val[i]);
        }
        jsonw_char(j, ']');
        break;
    }
    default:
        jsonw_lit(j, "null");
        break;
    }
}


/* The response as Feast-shaped JSON into j (check jsonw_ok after). */
static void admin_lookup_json(struct jsonw *j, const Featd__V1__GetOnlineFeaturesResponse *g)
{
    jsonw_lit(j, "{\"metadata\":{\"feature_names\":[");
    for (size_t i = 0; i < g->n_feature_names; i++) {
        if (i) {
            jsonw_char(j, ',');
        }
        jsonw_strz(j, g->feature_names[i]);
    }
    jsonw_lit(j, "]},\"results\":[");
    for (size_t f = 0; f < g->n_results; f++) {
        const Featd__V1__FeatureVector *fv = g->results[f];
        jsonw_lit(j, f ? ",{\"values\":[" : "{\"values\":[");
        for (size_t r = 0; r < fv->n_values; r++) {
            if (r) {
                jsonw_char(j, ',');
            }
            admin_lookup_value(j, fv->values[r]);
        }
        jsonw_lit(j, "],\"statuses\":[");
        for (size_t r = 0; r < fv->n_statuses; r++) {
            int s = (int)fv->statuses[r];
            jsonw_lit(j, r ? ",\"" : "\"");
            jsonw_lit(j, s >= 0 && s < METRICS_STATUSES ? metrics_status_names[s] : "INVALID");
            jsonw_char(j, '"');
        }
        jsonw_lit(j, "],\"event_timestamps\":[");
        for (size_t r = 0; r < fv->n_event_timestamps_us; r++) {
            if (r) {
                jsonw_char(j, ',');
            }
            jsonw_time(j, fv->event_timestamps_us[r]);
        }
        jsonw_lit(j, "]}");
    }
    jsonw_lit(j, "]}\n");
}

static void admin_lookup_sink(void *arg, const Featd__V1__Response *resp)
{
    struct admin_call *c = arg;
    c->backend_pending = false;
    if (c->req) {
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
            admin_reply_error(c->req, AP_LOOKUP, (int)resp->error->code, resp->error->message);
        } else if (resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES && resp->get_online_features) {
            struct jsonw b;
            jsonw_init(&b);
            admin_lookup_json(&b, resp->get_online_features);
            if (!jsonw_ok(&b)) {
                admin_reply_error(c->req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                                  "out of memory writing the JSON response");
            } else {
                admin_reply(c->req, AP_LOOKUP, 200, "application/json", b.buf, b.len);
            }
            jsonw_free(&b);
        } else {
            admin_reply_error(c->req, AP_LOOKUP, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected response body");
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

/* Type of join key name in the registry: FT_INT64, FT_STRING, or -1 when no
 * entity declares it (the lookup then reports it as unused). */
static int admin_lookup_key_type(const struct featd_config *cfg, const char *name)
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


/*
 * Builds the featd.v1.Request for a Feast-shaped JSON body into a (arena),
 * then packs it into *out (malloc'd, *outlen bytes). On a bad body returns
 * FEATD_ERR with a message for the client in msg.
 */
static int admin_lookup_build(const json_t *root, struct arena *a, uint8_t **out, size_t *outlen,
                               char *msg, size_t msglen)
{
#define BAD(...) do { snprintf(msg, msglen, __VA_ARGS__); return FEATD_ERR; } while (0)
#define NOMEM() do { snprintf(msg, msglen, "request needs more memory than allowed"); return FEATD_ENOMEM; } while (0)
    const struct featd_config *cfg = admin.w.reg->cfg;
    if (!json_is_object(root)) {
        BAD("the body must be a JSON object {\"features\": [...], \"entities\": {...}}, not %s",
            config_json_kind(root));
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)root, key, val) {
        if (strcmp(key, "features") != 0 && strcmp(key, "entities") != 0 && strcmp(key, "deadline_ms") != 0 &&
            strcmp(key, "full_feature_names") != 0) {
            BAD("unknown key \"%s\" (expected features, entities, deadline_ms, full_feature_names)", key);
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
        g->features[i] = (char *)json_string_value(s);
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
        if (!json_is_array(val)) {
            BAD("entities.%s: expected an array of values, got %s", key, config_json_kind(val));
        }
        int kt = admin_lookup_key_type(cfg, key);
        Featd__V1__EntityColumn *col = arena_alloc(a, sizeof(*col));
        size_t n = json_array_size(val);
        Featd__V1__Value **vals = arena_alloc(a, sizeof(*vals) * (n + 1));
        Featd__V1__Value *vs = arena_alloc(a, sizeof(*vs) * (n + 1));
        if (col == NULL || vals == NULL || vs == NULL) {
            NOMEM();
        }
        featd__v1__entity_column__init(col);
        col->join_key = (char *)key;
        col->n_values = n;
        col->values = vals;
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
                vs[r].string_val = (char *)json_string_value(e);
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
        g->entities[ci++] = col;
    }

    const json_t *dl = json_object_get(root, "deadline_ms");
    if (dl && !json_is_null(dl)) {
        if (!json_is_integer(dl) || json_integer_value(dl) < 0 ||
            json_integer_value(dl) > ADMIN_MAX_DEADLINE_MS) {
            BAD("\"deadline_ms\" must be an integer from 0 (server default) to %d", ADMIN_MAX_DEADLINE_MS);
        }
        g->deadline_ms = (uint32_t)json_integer_value(dl);
    }
    const json_t *fn = json_object_get(root, "full_feature_names");
    if (fn && !json_is_boolean(fn)) {
        BAD("\"full_feature_names\" must be true or false (names are always \"view:feature\")");
    }

    rq->body_case = FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES;
    rq->get_online_features = g;
    size_t len = featd__v1__request__get_packed_size(rq);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        NOMEM();
    }
    *outlen = featd__v1__request__pack(rq, buf);
    *out = buf;
    return FEATD_OK;
#undef BAD
#undef NOMEM
}

void admin_lookup_post(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    json_error_t jerr;
    char msg[512];
    if (body == NULL) {
        admin_reply_error(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_GET][FEATD__V1__ERROR_CODE__INVALID_ARGUMENT]);
        admin_reply_errorf(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                           "the body is not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                           jerr.text);
        return;
    }
    struct arena *a = malloc(sizeof(*a));
    uint8_t *pb = NULL;
    size_t pblen = 0;
    int rc = FEATD_ENOMEM;
    snprintf(msg, sizeof(msg), "out of memory");
    if (a) {
        arena_init(a, ADMIN_BUILD_LIMIT);
        rc = admin_lookup_build(root, a, &pb, &pblen, msg, sizeof(msg));
        arena_release(a);
        free(a);
    }
    json_decref(root);
    if (rc != FEATD_OK) {
        int code = rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                   : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED;
        METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_GET][code]);
        admin_reply_error(req, AP_LOOKUP, code, msg);
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_LOOKUP, AP_LOOKUP);
    if (c == NULL) {
        free(pb);
        admin_reply_error(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->backend_pending = true;
    /* The sink may run before dispatch_submit returns; c is not touched after. */
    dispatch_submit(&admin.w.serve, pb, pblen, MREQ_HTTP_GET, admin_lookup_sink, c);
    free(pb);
}
