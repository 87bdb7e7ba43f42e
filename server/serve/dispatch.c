/*
 * dispatch.c — the serving protocol's entry points (see dispatch.h): a
 * frame becomes a request (decoded into its arena), is routed by body, and
 * Ping, ListFeatureViews and ServerInfo are answered here; GetOnlineFeatures
 * goes on to lookup.c. Frames that do not decode end the connection with an
 * error (request_conn_fail).
 */
#include "serve/dispatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonw.h"
#include "core/util.h"
#include "serve/lookup.h"
#include "serve/serve_auth.h"
#include "serve/write.h"

/* ---- requests answered at once ---- */

static void dispatch_ping(struct request *rq)
{
    Featd__V1__PingResponse pong = FEATD__V1__PING_RESPONSE__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    pong.server_time_us = util_now_us();
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_PING;
    resp.ping = &pong;
    request_answer(rq, &resp, 0);
}

static void dispatch_list_views(struct request *rq)
{
    const struct featd_config *cfg = rq->reg->cfg;
    struct arena *a = &rq->arena;
    Featd__V1__ListFeatureViewsResponse *lr = arena_alloc(a, sizeof(*lr));
    Featd__V1__FeatureViewInfo **infos = arena_alloc(a, sizeof(*infos) * (cfg->nviews + 1));
    if (lr == NULL || infos == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    featd__v1__list_feature_views_response__init(lr);
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        Featd__V1__FeatureViewInfo *fi = arena_alloc(a, sizeof(*fi));
        Featd__V1__JoinKeySpec **keys = arena_alloc(a, sizeof(*keys) * (v->nkeys + 1));
        Featd__V1__FeatureSpec **feats = arena_alloc(a, sizeof(*feats) * (v->nfeatures + 1));
        Featd__V1__JoinKeySpec *kspecs = arena_alloc(a, sizeof(*kspecs) * (v->nkeys + 1));
        Featd__V1__FeatureSpec *fspecs = arena_alloc(a, sizeof(*fspecs) * (v->nfeatures + 1));
        if (!fi || !keys || !feats || !kspecs || !fspecs) {
            request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        featd__v1__feature_view_info__init(fi);
        fi->name = v->name;
        fi->n_entities = v->nentities;
        fi->entities = v->entities;
        for (size_t k = 0; k < v->nkeys; k++) {
            featd__v1__join_key_spec__init(&kspecs[k]);
            kspecs[k].name = v->keys[k].name;
            kspecs[k].type = (char *)config_type_name(v->keys[k].type);
            keys[k] = &kspecs[k];
        }
        fi->n_join_keys = v->nkeys;
        fi->join_keys = keys;
        for (size_t f = 0; f < v->nfeatures; f++) {
            featd__v1__feature_spec__init(&fspecs[f]);
            fspecs[f].name = v->features[f].name;
            fspecs[f].type = (char *)config_type_name(v->features[f].type);
            feats[f] = &fspecs[f];
        }
        fi->n_features = v->nfeatures;
        fi->features = feats;
        fi->ttl_seconds = v->ttl_seconds;
        fi->fingerprint = (char *)v->fingerprint_hex;
        uint64_t g = gencache_get(&rq->ctx->gens, i);
        fi->generation = g == GENCACHE_UNKNOWN ? 0 : g;
        fi->materialization_mode = v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "incremental";
        infos[i] = fi;
    }
    /* with auth, only the views the token may read */
    size_t n = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        if (serve_auth_may_list(rq, cfg->views[i].name)) {
            infos[n++] = infos[i];
        }
    }
    lr->n_views = n;
    lr->views = infos;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS;
    resp.list_feature_views = lr;
    request_answer(rq, &resp, 0);
}

static void dispatch_server_info(struct request *rq)
{
    const struct featd_config *cfg = rq->reg->cfg;
    Featd__V1__ServerInfoResponse si = FEATD__V1__SERVER_INFO_RESPONSE__INIT;
    struct serve_process_info pi;
    rq->ctx->info(&pi);
    si.version = FEATD_VERSION;
    si.uptime_seconds = (util_now_us() - pi.start_us) / 1000000;
    si.workers = (uint32_t)pi.workers;
    si.connections = (uint64_t)atomic_load(&metrics_connections_open);
    si.requests_total = pi.requests_total;
    /* protobuf strings must be valid UTF-8; a path from the command line
     * or an endpoint from the environment need not be */
    char redis[1024], path[8192];
    struct rroute *rt = rq->ctx->redis;
    const char *ep = rroute_endpoint(rt), *cp = pi.config_path ? pi.config_path : "";
    jsonw_text_fit(redis, sizeof(redis), ep, strlen(ep));
    jsonw_text_fit(path, sizeof(path), cp, strlen(cp));
    si.redis = redis;
    si.redis_connected = rroute_ready(rt);
    si.redis_mode = (char *)rroute_mode(rt);
    si.redis_nodes = (uint32_t)rroute_nodes(rt);
    size_t nm = rroute_nmasters(rt);
    si.redis_masters = nm ? arena_alloc(&rq->arena, sizeof(char *) * nm) : NULL;
    for (size_t i = 0; si.redis_masters && i < nm; i++) {
        const char *m = rroute_master_endpoint(rt, i);
        char *t = arena_alloc(&rq->arena, strlen(m) * 6 + 1);   /* text_fit may escape */
        if (t == NULL) {
            break;
        }
        jsonw_text_fit(t, strlen(m) * 6 + 1, m, strlen(m));
        si.redis_masters[si.n_redis_masters++] = t;
    }
    si.config_path = path;
    si.feature_views = (uint32_t)cfg->nviews;
    si.max_frame_bytes = cfg->server.max_frame_bytes;
    si.max_entities_per_request = (uint32_t)cfg->server.max_entities_per_request;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_SERVER_INFO;
    resp.server_info = &si;
    request_answer(rq, &resp, 0);
}


/* While a request is decoded (or built by dispatch_begin's caller), its
 * arena may hold at most DISPATCH_DECODE_FACTOR x the input (protobuf-c's
 * structs are ~30x the wire size of an empty Value), so one input cannot
 * claim the whole per-request limit before any request limit is checked.
 * dispatch_arena_unbound restores the full limit. */
static void dispatch_arena_bound(struct request *rq, size_t input_len)
{
    size_t cap = DISPATCH_DECODE_FACTOR * input_len + 65536;
    rq->arena.limit = cap < REQUEST_ARENA_LIMIT ? cap : REQUEST_ARENA_LIMIT;
}

static void dispatch_arena_unbound(struct request *rq)
{
    rq->arena.limit = REQUEST_ARENA_LIMIT;
}

/* Decodes a frame into the request's arena (bounded as above). */
static Featd__V1__Request *dispatch_decode(struct request *rq, const uint8_t *data, size_t len)
{
    dispatch_arena_bound(rq, len);
    Featd__V1__Request *msg = proto_decode_request(&rq->arena, data, len);
    dispatch_arena_unbound(rq);
    return msg;
}

/* Routes a decoded request by body, then releases it unless Redis still
 * owes it a reply. */
static void dispatch_route(struct request *rq)
{
    rq->id = rq->msg->request_id;
    if (rq->sink.kind == SINK_CONN && !serve_auth_gate(rq)) {
        request_maybe_free(rq);
        return;
    }
    switch (rq->msg->body_case) {
    case FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES:
        lookup_start(rq);
        break;
    case FEATD__V1__REQUEST__BODY_WRITE_FEATURES:
        write_start(rq);
        break;
    case FEATD__V1__REQUEST__BODY_PING:
        rq->type = MREQ_PING;
        dispatch_ping(rq);
        break;
    case FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS:
        rq->type = MREQ_LIST_VIEWS;
        dispatch_list_views(rq);
        break;
    case FEATD__V1__REQUEST__BODY_SERVER_INFO:
        rq->type = MREQ_SERVER_INFO;
        dispatch_server_info(rq);
        break;
    default:
        request_error(rq, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                      "request %" PRIu64 " has no body (expected get_online_features, ping, "
                      "list_feature_views, server_info, write_features or auth)", rq->id);
        break;
    }
    request_maybe_free(rq);
}

/* The conn_handler frame entry: arg is the serve context. */
static void dispatch_frame(void *arg, struct conn *c, const uint8_t *data, size_t len)
{
    struct serve_ctx *ctx = arg;
    const struct request_sink sink = { .kind = SINK_CONN, .conn = c };
    struct request *rq = request_new(ctx, &sink);
    if (rq == NULL) {
        request_conn_fail(c, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory", "out of memory");
        conn_request_done(c);
        return;
    }
    rq->msg = dispatch_decode(rq, data, len);
    if (rq->msg == NULL) {
        METRICS_INC(ctx->metrics->decode_errors_total);
        rq->responded = 1;
        if (rq->arena.exhausted) {
            request_conn_fail(c, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                              "request needs more memory to decode than allowed", "request too big to decode");
        } else {
            request_conn_fail(c, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                              "malformed frame: payload is not a featd.v1.Request protobuf", "decode error");
        }
        conn_request_done(c);
        request_maybe_free(rq);
        return;
    }
    dispatch_route(rq);
}

/* Connection-level refusals are RESOURCE_EXHAUSTED errors with request id 0. */
static int dispatch_refuse(struct evbuffer *out, const char *msg)
{
    return proto_write_error(out, 0, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg);
}

const struct conn_handler dispatch_conn_handler = {
    .frame = dispatch_frame,
    .refuse = dispatch_refuse,
};

/* ---- requests from elsewhere than a connection ---- */

struct request *dispatch_begin(struct serve_ctx *ctx, int type, size_t input_len,
                               const struct request_callbacks *cb, void *arg)
{
    const struct request_sink rs = { .kind = SINK_CALLBACK, .cb = cb, .arg = arg };
    struct request *rq = request_new(ctx, &rs);
    if (rq) {
        rq->type = type;
        dispatch_arena_bound(rq, input_len);
    }
    return rq;
}

void dispatch_run(struct request *rq, Featd__V1__Request *msg)
{
    dispatch_arena_unbound(rq);
    rq->msg = msg;
    dispatch_route(rq);
}

void dispatch_cancel(struct request *rq)
{
    rq->responded = 1;      /* never answered, never counted */
    request_maybe_free(rq);
}
