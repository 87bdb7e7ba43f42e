/*
 * admin_lookup.c — POST /get-online-features, the Feast-shaped JSON lookup,
 * with no protobuf serialization on the way in or out:
 *
 *   JSON body ─ admin_lookup_build ─► featd.v1.Request, built in the
 *     request's arena (dispatch_begin, serve/dispatch.h, on the admin
 *     thread's worker) ─► dispatch_run: the same validation, Redis
 *     pipeline and statuses as a protobuf lookup
 *     ─► admin_lookup_answer_get: the answer's cells (struct
 *        proto_get_answer, values as decoded from the rows)
 *        ─ admin_lookup_json ─► 200 application/json
 *     ─► admin_lookup_answer: errors ─► {"error": {...}} with the HTTP
 *        status of the featd.v1.ErrorCode
 *
 * Values are written with common/jsonw.h (the mapping is in
 * docs/operations.md). Admin thread only.
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
#include "online/online.h"
#include "serve/dispatch.h"
#include "wire/proto.h"

#define ADMIN_MAX_DEADLINE_MS 600000

/* ---- the answer as JSON ---- */

/* A string value up to its first NUL byte: what a protobuf-c client reads
 * of it (libfeatd, featd-cli), so both lookups agree byte for byte. */
static void admin_lookup_string(struct jsonw *j, const char *s, size_t n)
{
    jsonw_str(j, s, n ? strnlen(s, n) : 0);
}

/* One cell: a value of type t as decoded from a row (NULL = null). */
static void admin_lookup_value(struct jsonw *j, enum featd_type t, const struct online_value *v)
{
    if (v == NULL) {
        jsonw_lit(j, "null");
        return;
    }
    switch (t) {
    case FT_BOOL:
        jsonw_lit(j, v->u.b ? "true" : "false");
        return;
    case FT_INT32:
        jsonw_i64(j, v->u.i32);
        return;
    case FT_INT64:
        jsonw_i64(j, v->u.i64);
        return;
    case FT_FLOAT:
        jsonw_float(j, v->u.f);
        return;
    case FT_DOUBLE:
        jsonw_double(j, v->u.d);
        return;
    case FT_STRING:
        admin_lookup_string(j, v->s, v->slen);
        return;
    case FT_BYTES:
        jsonw_base64(j, v->s, v->slen);
        return;
    case FT_TIMESTAMP:
        jsonw_time(j, v->u.i64);
        return;
    case FT_FLOAT_LIST:
    case FT_DOUBLE_LIST:
    case FT_INT64_LIST:
        jsonw_char(j, '[');
        for (uint32_t i = 0; i < v->count; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            if (t == FT_FLOAT_LIST) {
                jsonw_float(j, online_row_list_float(v, i));
            } else if (t == FT_DOUBLE_LIST) {
                jsonw_double(j, online_row_list_double(v, i));
            } else {
                jsonw_i64(j, online_row_list_int64(v, i));
            }
        }
        jsonw_char(j, ']');
        return;
    case FT_STRING_LIST: {
        const uint8_t *cur = v->raw, *end = v->raw + v->rawlen;
        const char *s;
        size_t n;
        jsonw_char(j, '[');
        for (uint32_t i = 0; i < v->count && online_row_list_next_string(&cur, end, &s, &n) == FEATD_OK; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            admin_lookup_string(j, s, n);
        }
        jsonw_char(j, ']');
        return;
    }
    default:
        jsonw_lit(j, "null");
        return;
    }
}

int admin_lookup_json(struct jsonw *j, const struct proto_get_answer *ga)
{
    size_t nf = ga->nfeatures, nr = ga->nrows;
    size_t max = ga->max_bytes ? (size_t)ga->max_bytes : SIZE_MAX;
    jsonw_lit(j, "{\"metadata\":{\"feature_names\":[");
    for (size_t f = 0; f < nf; f++) {
        if (f) {
            jsonw_char(j, ',');
        }
        jsonw_strz(j, ga->names[f]);
    }
    jsonw_lit(j, "]},\"results\":[");
    for (size_t f = 0; f < nf; f++) {
        enum featd_type t = (enum featd_type)ga->types[f];
        jsonw_lit(j, f ? ",{\"values\":[" : "{\"values\":[");
        for (size_t r = 0; r < nr; r++) {
            if (r) {
                jsonw_char(j, ',');
            }
            admin_lookup_value(j, t, ga->cells[f * nr + r]);
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
            if (r) {
                jsonw_char(j, ',');
            }
            jsonw_time(j, ga->event_ts[f * nr + r]);
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

/* request_callbacks.answer_get: the lookup's cells become the 200 answer.
 * When the JSON cannot be made, nothing is sent and c stays pending:
 * admin_lookup_answer follows with the error. */
static int admin_lookup_answer_get(void *arg, const struct proto_get_answer *ga)
{
    struct admin_call *c = arg;
    if (c->req) {
        struct jsonw b;
        jsonw_init(&b);
        int rc = admin_lookup_json(&b, ga);
        if (rc != FEATD_OK) {
            jsonw_free(&b);
            return rc;
        }
        admin_reply(c->req, AP_LOOKUP, 200, "application/json", b.buf, b.len);
        jsonw_free(&b);
        admin_call_answered(c);
    }
    c->backend_pending = false;
    admin_call_maybe_free(c);
    return FEATD_OK;
}

/* request_callbacks.answer: an error (the only other answer a
 * GetOnlineFeatures request gets) as {"error": {...}}. */
static void admin_lookup_answer(void *arg, const Featd__V1__Response *resp)
{
    struct admin_call *c = arg;
    c->backend_pending = false;
    if (c->req) {
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
            admin_reply_error(c->req, AP_LOOKUP, (int)resp->error->code, resp->error->message);
        } else {
            admin_reply_error(c->req, AP_LOOKUP, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected response body");
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

static const struct request_callbacks admin_lookup_callbacks = {
    .answer_get = admin_lookup_answer_get,
    .answer = admin_lookup_answer,
};

/* ---- the request from JSON ---- */
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


#define BAD(...) do { snprintf(msg, msglen, __VA_ARGS__); return FEATD_ERR; } while (0)
#define NOMEM() do { snprintf(msg, msglen, "request needs more memory than allowed"); return FEATD_ENOMEM; } while (0)

/* A copy of JSON string s in a (a lookup may be sent again after the body
 * is freed); NULL when a is exhausted. */
static char *admin_lookup_str(struct arena *a, const json_t *s)
{
    return arena_strndup(a, json_string_value(s), json_string_length(s));
}

/* entities.<key> (a JSON array) as the EntityColumn *out, in a. */
static int admin_lookup_column(const struct featd_config *cfg, const char *key, const json_t *val,
                               struct arena *a, Featd__V1__EntityColumn **out, char *msg, size_t msglen)
{
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
            vs[r].string_val = admin_lookup_str(a, e);
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
 * msg.
 */
static int admin_lookup_build(const json_t *root, const struct featd_config *cfg, struct arena *a,
                              Featd__V1__Request **out, char *msg, size_t msglen)
{
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
        g->features[i] = admin_lookup_str(a, s);
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
        int rc = admin_lookup_column(cfg, key, val, a, &g->entities[ci++], msg, msglen);
        if (rc != FEATD_OK) {
            return rc;
        }
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
    *out = rq;
    return FEATD_OK;
}
#undef BAD
#undef NOMEM

/* Answers req with a refusal of the admin layer (the lookup never ran),
 * counted as a JSON lookup with that code. */
static void admin_lookup_refuse(struct evhttp_request *req, int code, const char *msg)
{
    METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_GET][code]);
    admin_reply_error(req, AP_LOOKUP, code, msg);
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
        snprintf(msg, sizeof(msg), "the body is not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                 jerr.text);
        admin_lookup_refuse(req, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, msg);
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_LOOKUP, AP_LOOKUP);
    struct request *rq = c ? dispatch_begin(&admin.w.serve, MREQ_HTTP_GET, len, &admin_lookup_callbacks, c)
                           : NULL;
    if (rq == NULL) {
        json_decref(root);
        if (c) {
            admin_call_answered(c);
            admin_call_maybe_free(c);
        }
        admin_lookup_refuse(req, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Featd__V1__Request *msg_rq = NULL;
    int rc = admin_lookup_build(root, rq->reg->cfg, &rq->arena, &msg_rq, msg, sizeof(msg));
    json_decref(root);
    if (rc != FEATD_OK) {
        dispatch_cancel(rq);
        admin_call_answered(c);
        admin_call_maybe_free(c);
        admin_lookup_refuse(req, rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                                 : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg);
        return;
    }
    rq->token = admin.token;
    rq->peer = admin.peer;
    c->backend_pending = true;
    /* The answer may come before dispatch_run returns; c is not touched after. */
    dispatch_run(rq, msg_rq);
}
