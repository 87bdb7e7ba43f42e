/*
 * lookup.c — the request path from a decoded frame to its answer.
 *
 *   conn_process_input ─frame─► lookup_handle_frame
 *        │ proto_decode_request (into the request's arena)
 *        ├─ ping / list_feature_views / server_info ─► answered at once
 *        └─ get_online_features ─► lookup_plan_build   (validate against the
 *              registry the worker holds: feature refs, join keys and types,
 *              column lengths, limits)
 *           ─► lookup_send: ONE "MGET" per attempt holding, per view, the
 *              view's current-generation key followed by its row keys
 *              (deduplicated per view) ─► rlink (async hiredis)
 *           ─► lookup_redis_cb: if a view's current generation differs from
 *              the one the keys were built with, the worker's cache is
 *              updated and the MGET resent (bounded); MGET is atomic, so a
 *              reply whose current keys match is one consistent snapshot per
 *              view — never a mix of generations
 *           ─► lookup_answer: decode rows, project, statuses, encode, write
 *   A per-request timer answers DEADLINE_EXCEEDED; the request object stays
 *   alive until hiredis has called back (hiredis 0.14 has no timeouts).
 */
#include "serve/lookup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "net/conn.h"
#include "online/online.h"
#include "wire/frame.h"

#define LOOKUP_MAX_ATTEMPTS 4
#define LOOKUP_ARENA_LIMIT (512u * 1024 * 1024)
#define LOOKUP_FREE_CACHE 256
#define LOOKUP_MAX_DEADLINE_MS 600000
#define LOOKUP_STALL_RESET_US 1000000           /* see lookup_deadline_cb */
#define LOOKUP_MAX_RESPONSE_BYTES (64u * 1024 * 1024)   /* = libfeatd's default frame limit */

struct plan_view {
    const struct cfg_view *v;
    size_t vidx;            /* index in the registry's views */
    int *key_col;           /* per join key of v: index of the request's column */
    uint64_t gen;           /* generation the keys of this attempt use; 0 = none */
    int cur_arg;            /* argv index of the view's current key */
    int *row_arg;           /* per row: argv index of its row key; 0 = not fetched */
    uint8_t *seen;          /* per feature of v: already requested */
};

struct plan_feat {
    size_t pv;              /* index in plan->views */
    int fidx;               /* feature index in the view */
    char *name;             /* "view:feature" */
};

struct lookup_plan {
    size_t nviews, nfeats, nrows;
    struct plan_view *views;
    struct plan_feat *feats;
    int argc;
    const char **argv;
    size_t *argvlen;
};

/* ---- request objects ---- */

static struct request *request_new(struct serve_ctx *ctx, const struct request_sink *sink)
{
    struct request *rq = ctx->free_reqs;
    if (rq) {
        ctx->free_reqs = rq->next_free;
        ctx->nfree_reqs--;
    } else {
        rq = malloc(sizeof(*rq));
        if (rq == NULL) {
            return NULL;
        }
    }
    memset(rq, 0, offsetof(struct request, arena));
    arena_init(&rq->arena, LOOKUP_ARENA_LIMIT);
    rq->ctx = ctx;
    rq->sink = *sink;
    if (sink->kind == SINK_CONN) {
        conn_ref(sink->conn);
    }
    rq->reg = registry_ref(ctx->reg);
    rq->start_us = util_mono_us();
    rq->type = MREQ_GET;
    return rq;
}

static void request_free(struct request *rq)
{
    struct serve_ctx *ctx = rq->ctx;
    if (rq->timer_set) {
        evtimer_del(&rq->timer);
    }
    registry_unref(rq->reg);
    if (rq->sink.kind == SINK_CONN) {
        conn_unref(rq->sink.conn);
    }
    arena_release(&rq->arena);
    if (ctx->nfree_reqs < LOOKUP_FREE_CACHE) {
        rq->next_free = ctx->free_reqs;
        ctx->free_reqs = rq;
        ctx->nfree_reqs++;
    } else {
        free(rq);
    }
}

void lookup_free_cache(struct serve_ctx *ctx)
{
    while (ctx->free_reqs) {
        struct request *rq = ctx->free_reqs;
        ctx->free_reqs = rq->next_free;
        free(rq);
    }
    ctx->nfree_reqs = 0;
}

static void request_maybe_free(struct request *rq)
{
    if (rq->responded && !rq->redis_pending) {
        struct serve_ctx *ctx = rq->ctx;
        request_free(rq);
        if (ctx->on_free) {
            ctx->on_free(ctx->on_free_arg);
        }
    }
}

/* Marks rq answered: stops its timer, records metrics. */
static void request_mark_answered(struct request *rq, int code)
{
    struct serve_ctx *ctx = rq->ctx;
    rq->responded = 1;
    if (rq->timer_set) {
        evtimer_del(&rq->timer);
        rq->timer_set = 0;
    }
    METRICS_INC(ctx->metrics->requests[rq->type][code]);
    metrics_observe(&ctx->metrics->request_latency, (uint64_t)(util_mono_us() - rq->start_us));
}

/* ---- sinks ---- */

/* SINK_CONN: encodes resp into the connection's output (when it is still
 * open) and releases the connection's pending slot. */
static void sink_conn_answer(struct conn *c, const Featd__V1__Response *resp)
{
    struct evbuffer *out = conn_output(c);
    if (out && proto_write_response(out, resp) != FEATD_OK) {
        conn_close(c, "out of memory writing a response");
    }
    conn_request_done(c);
}

/* Records metrics and hands resp to the request's sink. */
static void request_answer(struct request *rq, const Featd__V1__Response *resp, int code)
{
    request_mark_answered(rq, code);
    if (rq->sink.kind == SINK_CALLBACK) {
        rq->sink.fn(rq->sink.arg, resp);
    } else {
        sink_conn_answer(rq->sink.conn, resp);
    }
}

/* Ends connection c with an error not tied to a request (request id 0):
 * the error is its last output. */
static void sink_conn_fail(struct conn *c, int code, const char *msg, const char *reason)
{
    if (!conn_live(c)) {
        return;
    }
    log_conn(LOG_INFO, c, "%s: %s", reason, msg);
    if (proto_write_error(conn_output(c), 0, code, msg) != FEATD_OK) {
        conn_close(c, "out of memory writing an error");
        return;
    }
    conn_close_after_flush(c, reason);
}

static void request_error(struct request *rq, int code, const char *fmt, ...) FEATD_PRINTF(3, 4);

static void request_error(struct request *rq, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    Featd__V1__Error err = FEATD__V1__ERROR__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    err.code = (Featd__V1__ErrorCode)code;
    err.message = msg;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
    resp.error = &err;
    request_answer(rq, &resp, code);
}

/* ---- non-lookup requests ---- */

static void lookup_ping(struct request *rq)
{
    Featd__V1__PingResponse pong = FEATD__V1__PING_RESPONSE__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    pong.server_time_us = util_now_us();
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_PING;
    resp.ping = &pong;
    request_answer(rq, &resp, 0);
}

static void lookup_list_views(struct request *rq)
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
    lr->n_views = cfg->nviews;
    lr->views = infos;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS;
    resp.list_feature_views = lr;
    request_answer(rq, &resp, 0);
}

static void lookup_server_info(struct request *rq)
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
    si.redis = (char *)rlink_endpoint(rq->ctx->redis);
    si.redis_connected = rlink_ready(rq->ctx->redis);
    si.config_path = (char *)(pi.config_path ? pi.config_path : "");
    si.feature_views = (uint32_t)cfg->nviews;
    si.max_frame_bytes = cfg->server.max_frame_bytes;
    si.max_entities_per_request = (uint32_t)cfg->server.max_entities_per_request;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_SERVER_INFO;
    resp.server_info = &si;
    request_answer(rq, &resp, 0);
}

/* ---- GetOnlineFeatures: validation and plan ---- */

#define BAD(...) do { request_error(rq, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, __VA_ARGS__); \
                      return NULL; } while (0)
#define NOMEM() do { request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, \
                      "request needs more memory than allowed"); return NULL; } while (0)

/* Name of a Value's set field ("int64_val"), "null" when none. */
static const char *lookup_kind_name(int kind)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(&featd__v1__value__descriptor, (unsigned)kind);
    return fd ? fd->name : "null";
}

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

static struct lookup_plan *lookup_plan_build(struct request *rq, const Featd__V1__GetOnlineFeaturesRequest *g)
{
    const struct featd_config *cfg = rq->reg->cfg;
    struct arena *a = &rq->arena;
    struct lookup_plan *p = arena_alloc(a, sizeof(*p));
    if (p == NULL) {
        NOMEM();
    }
    memset(p, 0, sizeof(*p));

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
                pf->name = g->features[i];  /* already "view:feature" (lives as long as rq) */
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

    /* Entity columns: names unique, lengths equal, limits. */
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

    /* Each view's join keys must be present with the right types; every
     * column must be used by some view. */
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
                        lookup_kind_name(kc));
                }
            }
        }
    }
    for (size_t c = 0; c < g->n_entities; c++) {
        if (!used[c]) {
            BAD("join key \"%s\" is not used by any requested feature view", g->entities[c]->join_key);
        }
    }
    return p;
}

/* ---- keys and the Redis command ---- */

/* The join-key values of one row for pv's view (types already checked). */
static void lookup_key_of(const struct plan_view *pv, const Featd__V1__GetOnlineFeaturesRequest *g,
                          size_t row, struct online_key *keys)
{
    for (size_t k = 0; k < pv->v->nkeys; k++) {
        const Featd__V1__Value *val = g->entities[pv->key_col[k]]->values[row];
        if (val->kind_case == FEATD__V1__VALUE__KIND_INT64_VAL) {
            keys[k].i = val->int64_val;
        } else if (val->kind_case == FEATD__V1__VALUE__KIND_INT32_VAL) {
            keys[k].i = val->int32_val;
        } else {
            keys[k].s = val->string_val;
            keys[k].slen = strlen(val->string_val);
        }
    }
}

/* Builds argv for one attempt with each view's gen from the worker cache. */
static int lookup_build_command(struct request *rq)
{
    struct lookup_plan *p = rq->plan;
    const Featd__V1__GetOnlineFeaturesRequest *g = rq->msg->get_online_features;
    struct arena *a = &rq->arena;
    const char *prefix = rq->reg->cfg->redis.key_prefix;
    struct fbuf *sb = &rq->ctx->scratch;

    size_t maxargs = 1 + p->nviews * (1 + p->nrows);
    p->argv = arena_alloc(a, sizeof(*p->argv) * maxargs);
    p->argvlen = arena_alloc(a, sizeof(*p->argvlen) * maxargs);
    size_t tcap = 16;
    while (tcap < 2 * p->nrows) {
        tcap *= 2;
    }
    int *table = arena_alloc(a, sizeof(int) * tcap);
    size_t maxkeys = 1;
    for (size_t i = 0; i < p->nviews; i++) {
        maxkeys = p->views[i].v->nkeys > maxkeys ? p->views[i].v->nkeys : maxkeys;
    }
    struct online_key *keys = arena_alloc(a, sizeof(*keys) * maxkeys);
    if (!p->argv || !p->argvlen || !table || !keys) {
        return FEATD_ENOMEM;
    }
    int argc = 0;
    p->argv[argc] = "MGET";
    p->argvlen[argc++] = 4;

    for (size_t i = 0; i < p->nviews; i++) {
        struct plan_view *pv = &p->views[i];
        uint64_t cached = gencache_get(&rq->ctx->gens, pv->vidx);
        pv->gen = cached == GENCACHE_UNKNOWN ? 0 : cached;
        fbuf_reset(sb);
        if (online_current_key(sb, prefix, pv->v) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        pv->cur_arg = argc;
        p->argvlen[argc] = sb->len;
        p->argv[argc++] = arena_memdup(a, sb->data, sb->len);
        memset(pv->row_arg, 0, sizeof(int) * (p->nrows ? p->nrows : 1));
        if (pv->gen == 0) {
            continue;   /* no data for the view (as far as we know): current key only */
        }
        memset(table, 0xff, sizeof(int) * tcap);    /* -1 = empty */
        fbuf_reset(sb);
        if (online_gen_prefix(sb, prefix, pv->v, pv->gen) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        size_t base_len = sb->len;
        for (size_t r = 0; r < p->nrows; r++) {
            sb->len = base_len;
            lookup_key_of(pv, g, r, keys);
            if (online_entity_key(sb, pv->v, keys) != FEATD_OK) {
                return FEATD_ENOMEM;
            }
            uint64_t h = util_fnv1a(UTIL_FNV_INIT, sb->data + base_len, sb->len - base_len);
            size_t slot = h & (tcap - 1);
            int found = 0;
            while (table[slot] >= 0) {
                int ai = table[slot];
                if (p->argvlen[ai] == sb->len && memcmp(p->argv[ai], sb->data, sb->len) == 0) {
                    found = ai;
                    break;
                }
                slot = (slot + 1) & (tcap - 1);
            }
            if (!found) {
                p->argvlen[argc] = sb->len;
                p->argv[argc] = arena_memdup(a, sb->data, sb->len);
                if (p->argv[argc] == NULL) {
                    return FEATD_ENOMEM;
                }
                table[slot] = argc;
                found = argc++;
            }
            pv->row_arg[r] = found;
        }
    }
    p->argc = argc;
    return FEATD_OK;
}

static void lookup_redis_cb(redisAsyncContext *ac, void *r, void *priv);

static void lookup_send(struct request *rq)
{
    struct serve_ctx *ctx = rq->ctx;
    int rc = lookup_build_command(rq);
    if (rc != FEATD_OK) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "request needs more memory than allowed");
        return;
    }
    if (ctx->inflight >= (uint64_t)rq->reg->cfg->server.max_inflight_requests) {
        METRICS_INC(ctx->metrics->inflight_limit_hits_total);
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      "server busy: %" PRIu64 " requests already waiting on Redis (max_inflight_requests)",
                      ctx->inflight);
        return;
    }
    rc = rlink_command_argv(ctx->redis, lookup_redis_cb, rq, rq->plan->argc, rq->plan->argv,
                            rq->plan->argvlen);
    if (rc != FEATD_OK) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store unavailable: %s",
                      rlink_status(ctx->redis));
        return;
    }
    rq->redis_pending = 1;
    rq->sent_us = util_mono_us();
    rq->attempts++;
    ctx->inflight++;
    METRICS_SET(ctx->metrics->inflight, ctx->inflight);
    METRICS_ADD(ctx->metrics->keys_fetched_total, (uint64_t)(rq->plan->argc - 1 - (int)rq->plan->nviews));
}

/* ---- answer assembly ---- */

/* Logs a corrupt stored row at most once a second per worker thread (the
 * rows_corrupt_total counter counts them all). */
static void lookup_log_corrupt(const struct cfg_view *v, const char *why)
{
    static _Thread_local int64_t last_us;
    static _Thread_local uint64_t suppressed;
    int64_t now = util_mono_us();
    if (now - last_us < 1000000) {
        suppressed++;
        return;
    }
    log_warn("lookup", "corrupt row in view %s (%s): reported as INVALID (%" PRIu64 " more since the last "
             "message)", v->name, why, suppressed);
    last_us = now;
    suppressed = 0;
}

/* SINK_CALLBACK for a GetOnlineFeatures answer: the callback wants a
 * decoded Response, so the answer is encoded and decoded again. */
static int sink_callback_answer_get(struct request *rq, const struct proto_get_answer *ga, uint32_t *sizes)
{
    struct evbuffer *tmp = evbuffer_new();
    Featd__V1__Response *resp = NULL;
    int rc = tmp ? proto_write_get_answer(tmp, ga, sizes) : FEATD_ERR;
    if (rc == FEATD_OK) {
        size_t n = evbuffer_get_length(tmp);
        const uint8_t *data = evbuffer_pullup(tmp, -1);
        resp = data ? featd__v1__response__unpack(NULL, n - FRAME_HEADER, data + FRAME_HEADER) : NULL;
    }
    if (tmp) {
        evbuffer_free(tmp);
    }
    if (resp == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      rc == FEATD_EAGAIN ? "the answer exceeds the response limit (64 MiB)"
                                         : "out of memory encoding the answer");
        return FEATD_ERR;
    }
    request_mark_answered(rq, 0);
    rq->sink.fn(rq->sink.arg, resp);
    featd__v1__response__free_unpacked(resp, NULL);
    return FEATD_OK;
}

/* SINK_CONN for a GetOnlineFeatures answer: written straight from the
 * decoded rows (proto_write_get_answer). */
static int sink_conn_answer_get(struct request *rq, const struct proto_get_answer *ga, uint32_t *sizes)
{
    struct evbuffer *out = conn_output(rq->sink.conn);
    int rc = out ? proto_write_get_answer(out, ga, sizes) : FEATD_OK;
    if (rc != FEATD_OK) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      rc == FEATD_EAGAIN ? "the answer (%zu features x %zu rows) exceeds the response "
                                           "limit (64 MiB); ask for fewer entities or features"
                                         : "out of memory encoding the answer (%zu features x %zu rows)",
                      ga->nfeatures, ga->nrows);
        return FEATD_ERR;
    }
    request_mark_answered(rq, 0);
    conn_request_done(rq->sink.conn);
    return FEATD_OK;
}

/* Answers a GetOnlineFeatures request through its sink (or with an error
 * when the answer cannot be encoded). */
static void request_answer_get(struct request *rq, const struct proto_get_answer *ga, uint32_t *sizes)
{
    if (rq->sink.kind == SINK_CALLBACK) {
        (void)sink_callback_answer_get(rq, ga, sizes);
    } else {
        (void)sink_conn_answer_get(rq, ga, sizes);
    }
}

#define ANSWER_NOMEM() do { request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, \
                          "response needs more memory than allowed"); return; } while (0)

/* Decodes each (view, row) once, points every requested cell at its value,
 * computes statuses, and writes the answer. Row values point into the reply,
 * which lives until this callback returns: we encode before that. */
static void lookup_answer(struct request *rq, const redisReply *reply)
{
    struct lookup_plan *p = rq->plan;
    struct arena *a = &rq->arena;
    struct metrics *m = rq->ctx->metrics;
    size_t nf = p->nfeats, nr = p->nrows, ncells = nf * nr > 0 ? nf * nr : 1;
    int64_t now = util_now_us();
    if (ncells > LOOKUP_MAX_RESPONSE_BYTES / 4) {     /* every cell takes >= 4 bytes on the wire */
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      "the answer (%zu features x %zu rows) exceeds the response limit (64 MiB); "
                      "ask for fewer entities or features", nf, nr);
        return;
    }

    const struct online_value **cells = arena_alloc(a, sizeof(*cells) * ncells);
    uint8_t *statuses = arena_alloc(a, ncells);
    int64_t *ets = arena_alloc(a, sizeof(*ets) * ncells);
    uint32_t *sizes = arena_alloc(a, sizeof(*sizes) * ncells);
    uint8_t *types = arena_alloc(a, nf ? nf : 1);
    char **names = arena_alloc(a, sizeof(*names) * (nf ? nf : 1));
    if (!cells || !statuses || !ets || !sizes || !types || !names) {
        ANSWER_NOMEM();
    }
    /* the requested features grouped by view (counting sort): vf[vstart[i]..
     * vstart[i + 1]) are the feature indexes of plan view i */
    size_t *vstart = arena_alloc(a, sizeof(*vstart) * (p->nviews + 1));
    size_t *vf = arena_alloc(a, sizeof(*vf) * (nf ? nf : 1));
    if (!vstart || !vf) {
        ANSWER_NOMEM();
    }
    memset(vstart, 0, sizeof(*vstart) * (p->nviews + 1));
    for (size_t f = 0; f < nf; f++) {
        const struct cfg_view *v = p->views[p->feats[f].pv].v;
        types[f] = (uint8_t)v->features[p->feats[f].fidx].type;
        names[f] = p->feats[f].name;
        vstart[p->feats[f].pv + 1]++;
    }
    for (size_t i = 0; i < p->nviews; i++) {
        vstart[i + 1] += vstart[i];
    }
    for (size_t f = 0; f < nf; f++) {
        vf[vstart[p->feats[f].pv]++] = f;   /* vstart[i] moves to view i's end */
    }
    for (size_t i = p->nviews; i > 0; i--) {
        vstart[i] = vstart[i - 1];
    }
    vstart[0] = 0;

    /* Each distinct row key is decoded once, however many rows repeat it. */
    struct decoded_row {
        struct online_value *vals;  /* NULL: not found or corrupt */
        int64_t ts;
        int status;
        bool done;
    };
    struct decoded_row *rows = arena_alloc(a, sizeof(*rows) * (size_t)p->argc);
    if (rows == NULL) {
        ANSWER_NOMEM();
    }
    memset(rows, 0, sizeof(*rows) * (size_t)p->argc);
    uint64_t st_counts[METRICS_STATUSES] = { 0 };
    for (size_t i = 0; i < p->nviews; i++) {
        const struct plan_view *pv = &p->views[i];
        const struct cfg_view *v = pv->v;
        int64_t ttl_us = v->ttl_seconds * 1000000;
        for (size_t r = 0; r < nr; r++) {
            int arg = pv->row_arg[r];
            struct decoded_row *d = arg ? &rows[arg] : NULL;
            struct decoded_row tmp = { NULL, 0, FEATD__V1__FIELD_STATUS__NOT_FOUND, true };
            if (d == NULL || !d->done) {
                const redisReply *e = arg ? reply->element[arg - 1] : NULL;
                if (e != NULL && e->type == REDIS_REPLY_STRING) {
                    char err[128];
                    int64_t cts;
                    tmp.vals = arena_alloc(a, sizeof(*tmp.vals) * v->nfeatures);
                    if (tmp.vals == NULL) {
                        ANSWER_NOMEM();
                    }
                    if (online_row_decode((const uint8_t *)e->str, e->len, v, &tmp.ts, &cts, tmp.vals,
                                          err, sizeof(err)) != FEATD_OK) {
                        METRICS_INC(m->rows_corrupt_total);
                        lookup_log_corrupt(v, err);
                        tmp.status = FEATD__V1__FIELD_STATUS__INVALID;
                        tmp.ts = 0;
                        tmp.vals = NULL;
                    } else {
                        tmp.status = (ttl_us > 0 && tmp.ts < now - ttl_us) ? FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE
                                                                       : FEATD__V1__FIELD_STATUS__PRESENT;
                    }
                }
                if (d == NULL) {
                    d = &tmp;
                } else {
                    *d = tmp;
                }
            }
            int status = d->status;
            int64_t ts = d->ts;
            const struct online_value *ov = d->vals;
            for (size_t k = vstart[i]; k < vstart[i + 1]; k++) {
                size_t f = vf[k];
                size_t c = f * nr + r;
                const struct online_value *x = ov ? &ov[p->feats[f].fidx] : NULL;
                int fs = status;
                if (x && x->is_null) {
                    x = NULL;
                    if (fs == FEATD__V1__FIELD_STATUS__PRESENT) {
                        fs = FEATD__V1__FIELD_STATUS__NULL_VALUE;
                    }
                }
                cells[c] = x;
                statuses[c] = (uint8_t)fs;
                ets[c] = ts;
                st_counts[fs]++;
            }
        }
    }
    for (size_t s = 0; s < METRICS_STATUSES; s++) {
        if (st_counts[s]) {
            METRICS_ADD(m->value_statuses[s], st_counts[s]);
        }
    }
    /* every feature of a view has its rows' timestamps: the encoder copies
     * the first one's column (the counting sort kept features in order) */
    size_t *ts_same = arena_alloc(a, sizeof(*ts_same) * (nf ? nf : 1));
    if (ts_same == NULL) {
        ANSWER_NOMEM();
    }
    for (size_t f = 0; f < nf; f++) {
        ts_same[f] = vf[vstart[p->feats[f].pv]];
    }
    struct proto_get_answer ga = {
        .request_id = rq->id, .nfeatures = nf, .nrows = nr, .names = names, .types = types,
        .cells = cells, .statuses = statuses, .event_ts = ets, .ts_same = ts_same,
        .max_bytes = LOOKUP_MAX_RESPONSE_BYTES,
    };
    request_answer_get(rq, &ga, sizes);
}

static void lookup_redis_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct request *rq = priv;
    struct serve_ctx *ctx = rq->ctx;
    redisReply *reply = r;
    (void)ac;
    rq->redis_pending = 0;
    ctx->inflight--;
    METRICS_SET(ctx->metrics->inflight, ctx->inflight);
    if (reply) {
        metrics_observe(&ctx->metrics->redis_latency, (uint64_t)(util_mono_us() - rq->sent_us));
    }
    if (rq->responded) {
        request_maybe_free(rq);
        return;
    }
    struct lookup_plan *p = rq->plan;
    if (reply == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store unavailable: %s",
                      rlink_status(ctx->redis));
    } else if (reply->type == REDIS_REPLY_ERROR) {
        METRICS_INC(ctx->metrics->redis_errors_total);
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store error: %.*s",
                      (int)(reply->len > 300 ? 300 : reply->len), reply->str);
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)(p->argc - 1)) {
        METRICS_INC(ctx->metrics->redis_errors_total);
        request_error(rq, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected reply from Redis to MGET");
    } else {
        bool stale = false;
        for (size_t i = 0; i < p->nviews; i++) {
            struct plan_view *pv = &p->views[i];
            uint64_t cur;
            if (online_gen_parse(reply->element[pv->cur_arg - 1], &cur) != FEATD_OK) {
                request_error(rq, FEATD__V1__ERROR_CODE__INTERNAL,
                              "corrupt current-generation pointer for feature view \"%s\"", pv->v->name);
                request_maybe_free(rq);
                return;
            }
            gencache_note(&ctx->gens, rq->reg, pv->vidx, cur);
            if (cur != pv->gen) {
                stale = true;
            }
        }
        if (stale && rq->attempts < LOOKUP_MAX_ATTEMPTS && rq->reg == ctx->reg) {
            METRICS_INC(ctx->metrics->generation_retries_total);
            lookup_send(rq);
        } else if (stale) {
            request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE,
                          "feature view generations kept changing during the lookup; retry");
        } else {
            lookup_answer(rq, reply);
        }
    }
    request_maybe_free(rq);
}

static void lookup_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct request *rq = arg;
    struct rlink *redis = rq->ctx->redis;
    (void)fd;
    (void)what;
    rq->timer_set = 0;
    if (rq->responded) {
        return;
    }
    int64_t dl_us = rq->deadline_ms * 1000;
    request_error(rq, FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED,
                  "deadline of %" PRId64 " ms exceeded waiting for the online store", rq->deadline_ms);
    request_maybe_free(rq);     /* rq may be gone from here on */
    /* A Redis that makes no progress for long (stopped, half-open link)
     * would keep every command forever: drop the link and reconnect. */
    int64_t stalled = rlink_stalled_us(redis);
    if (stalled > 2 * dl_us && stalled > LOOKUP_STALL_RESET_US) {
        char why[96];
        snprintf(why, sizeof(why), "no reply for %" PRId64 " ms", stalled / 1000);
        rlink_reset(redis, why);
    }
}

static void lookup_get(struct request *rq)
{
    const Featd__V1__GetOnlineFeaturesRequest *g = rq->msg->get_online_features;
    rq->plan = lookup_plan_build(rq, g);
    if (rq->plan == NULL) {
        return;     /* answered with the reason */
    }
    METRICS_ADD(rq->ctx->metrics->entities_requested_total, rq->plan->nrows);
    int64_t dl = g->deadline_ms ? (int64_t)g->deadline_ms : (int64_t)rq->reg->cfg->server.request_timeout_ms;
    if (dl > LOOKUP_MAX_DEADLINE_MS) {
        dl = LOOKUP_MAX_DEADLINE_MS;
    }
    rq->deadline_ms = dl;
    lookup_send(rq);
    if (!rq->responded) {
        struct timeval tv = { dl / 1000, (dl % 1000) * 1000 };
        evtimer_assign(&rq->timer, rq->ctx->base, lookup_deadline_cb, rq);
        evtimer_add(&rq->timer, &tv);
        rq->timer_set = 1;
    }
}

/* Decodes a frame into the request's arena. While decoding, the arena may
 * hold at most LOOKUP_DECODE_FACTOR x the frame (protobuf-c's structs are
 * ~30x the wire size of an empty Value), so one frame cannot claim the whole
 * per-request limit before any request limit is checked. */
#define LOOKUP_DECODE_FACTOR 40
static Featd__V1__Request *lookup_decode(struct request *rq, const uint8_t *data, size_t len)
{
    size_t cap = LOOKUP_DECODE_FACTOR * len + 65536;
    rq->arena.limit = cap < LOOKUP_ARENA_LIMIT ? cap : LOOKUP_ARENA_LIMIT;
    Featd__V1__Request *msg = proto_decode_request(&rq->arena, data, len);
    rq->arena.limit = LOOKUP_ARENA_LIMIT;
    return msg;
}

/* Dispatches a decoded request by body. */
static void lookup_dispatch(struct request *rq)
{
    rq->id = rq->msg->request_id;
    switch (rq->msg->body_case) {
    case FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES:
        lookup_get(rq);
        break;
    case FEATD__V1__REQUEST__BODY_PING:
        rq->type = MREQ_PING;
        lookup_ping(rq);
        break;
    case FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS:
        rq->type = MREQ_LIST_VIEWS;
        lookup_list_views(rq);
        break;
    case FEATD__V1__REQUEST__BODY_SERVER_INFO:
        rq->type = MREQ_SERVER_INFO;
        lookup_server_info(rq);
        break;
    default:
        request_error(rq, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                      "request %" PRIu64 " has no body (expected get_online_features, ping, "
                      "list_feature_views or server_info)", rq->id);
        break;
    }
    request_maybe_free(rq);
}

static void lookup_frame(void *arg, struct conn *c, const uint8_t *data, size_t len)
{
    struct serve_ctx *ctx = arg;
    const struct request_sink sink = { .kind = SINK_CONN, .conn = c };
    struct request *rq = request_new(ctx, &sink);
    if (rq == NULL) {
        sink_conn_fail(c, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory", "out of memory");
        conn_request_done(c);
        return;
    }
    rq->msg = lookup_decode(rq, data, len);
    if (rq->msg == NULL) {
        METRICS_INC(ctx->metrics->decode_errors_total);
        rq->responded = 1;
        if (rq->arena.exhausted) {
            sink_conn_fail(c, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                           "request needs more memory to decode than allowed", "request too big to decode");
        } else {
            sink_conn_fail(c, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                           "malformed frame: payload is not a featd.v1.Request protobuf", "decode error");
        }
        conn_request_done(c);
        request_maybe_free(rq);
        return;
    }
    lookup_dispatch(rq);
}

/* Connection-level refusals are RESOURCE_EXHAUSTED errors with request id 0. */
static int lookup_refuse(struct evbuffer *out, const char *msg)
{
    return proto_write_error(out, 0, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg);
}

const struct conn_handler lookup_conn_handler = {
    .frame = lookup_frame,
    .refuse = lookup_refuse,
};

void lookup_submit(struct serve_ctx *ctx, const uint8_t *data, size_t len, int type,
                   lookup_sink_fn sink, void *sink_arg)
{
    const struct request_sink rs = { .kind = SINK_CALLBACK, .fn = sink, .arg = sink_arg };
    struct request *rq = request_new(ctx, &rs);
    if (rq == NULL) {
        Featd__V1__Error err = FEATD__V1__ERROR__INIT;
        Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
        err.code = FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED;
        err.message = "out of memory";
        resp.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
        resp.error = &err;
        sink(sink_arg, &resp);
        return;
    }
    rq->type = type;
    rq->msg = lookup_decode(rq, data, len);
    if (rq->msg == NULL) {
        METRICS_INC(ctx->metrics->decode_errors_total);
        rq->type = type;
        request_error(rq, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "malformed request");
        request_maybe_free(rq);
        return;
    }
    lookup_dispatch(rq);
}
