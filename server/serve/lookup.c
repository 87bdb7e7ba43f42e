/*
 * lookup.c — GetOnlineFeatures: from a validated plan to the answer.
 *
 * The request path, file by file (normal flow (a) to (h)):
 *
 *   (a) read      net/conn.c          conn_read_cb: one recvmsg(2) into the input buffer (+ receive timestamp)
 *   (b) frame     wire/frame.c        conn_process_input ─ frame_parse ─► the
 *                                     connection's handler (at most
 *                                     CONN_FRAMES_PER_EVENT per event)
 *   (c) decode    serve/dispatch.c    dispatch_frame: request_new (serve/request.c),
 *                                     proto_decode_request (wire/proto.c) into the
 *                                     request's arena; route by body: ping,
 *                                     list_feature_views, server_info answered at once
 *   (d) validate  serve/lookup_plan.c lookup_plan_build: feature refs, join keys
 *                                     and types, column lengths, limits
 *   (e) MGET      serve/lookup.c      lookup_send: ONE "MGET" per attempt holding,
 *                                     per view, the view's current-generation key
 *                                     and its row keys (deduplicated per view)
 *                                     ─► redis/rlink.c (async hiredis) ─►
 *                                     lookup_redis_cb: a view whose current
 *                                     generation differs from the one the keys
 *                                     were built with updates the generation cache
 *                                     (serve/gencache.h) and the MGET is resent
 *                                     (bounded). MGET is atomic, so a reply whose
 *                                     current keys match is one consistent
 *                                     snapshot per view, never a mix of generations
 *   (f) answer    serve/lookup.c      lookup_answer: decode each row once
 *                                     (online/), project, statuses
 *   (g) encode    serve/request.c     request_answer_get ─► the request's sink:
 *                                     proto_write_get_answer (wire/proto.c) into
 *                                     the connection's output
 *   (h) write     net/conn.c          conn_request_done ─► flush list ─►
 *                                     conn_flush_all (low priority, once per
 *                                     loop iteration)
 *
 * Phases (featd_request_phase_seconds; struct metrics_req_trace): queued
 * runs from (a)'s kernel receive timestamp to request_new in (c), decode to
 * the first MGET in (e) (rq->first_sent_us), redis to lookup_redis_cb
 * (rq->reply_us), encode to the answer in (g) (rq->ready_us), write to (h)'s
 * flush pass, which observes them all (conn_request_answered).
 *
 * A per-request timer (request_deadline_start) answers DEADLINE_EXCEEDED;
 * the request object stays alive until hiredis has called back (hiredis 0.14
 * has no timeouts).
 */
#include "serve/lookup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/fbuf.h"
#include "core/util.h"
#include "online/online.h"
#include "serve/lookup_plan.h"

#define LOOKUP_MAX_ATTEMPTS 8     /* a reader racing back-to-back flips (e2e_serve's flip storm) must still get through */
#define LOOKUP_MAX_DEADLINE_MS 600000
#define LOOKUP_MAX_RESPONSE_BYTES (64u * 1024 * 1024)   /* = libfeatd's default frame limit */

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

/* Builds argv for one attempt with each view's gen from the generation cache. */
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
        if (online_key_current(sb, prefix, pv->v) != FEATD_OK) {
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
        if (online_key_gen_prefix(sb, prefix, pv->v, pv->gen) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        size_t base_len = sb->len;
        for (size_t r = 0; r < p->nrows; r++) {
            sb->len = base_len;
            lookup_key_of(pv, g, r, keys);
            if (online_key_entity(sb, pv->v, keys) != FEATD_OK) {
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
    if (rq->first_sent_us == 0) {
        rq->first_sent_us = rq->sent_us;
    }
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
    static _Thread_local struct log_limit limit;
    uint64_t suppressed;
    if (!log_limit_take(&limit, 1, util_mono_us(), &suppressed)) {
        return;
    }
    log_warn("lookup", "corrupt row in view %s (%s): reported as INVALID (%" PRIu64 " more since the last "
             "message)", v->name, why, suppressed);
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
        rq->reply_us = util_mono_us();
        metrics_observe(&ctx->metrics->redis_latency, (uint64_t)(rq->reply_us - rq->sent_us));
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

void lookup_start(struct request *rq)
{
    const Featd__V1__GetOnlineFeaturesRequest *g = rq->msg->get_online_features;
    struct lookup_plan_error err;
    rq->plan = lookup_plan_build(rq->reg->cfg, g, &rq->arena, &err);
    if (rq->plan == NULL) {
        request_error(rq, err.code, "%s", err.msg);
        return;
    }
    METRICS_ADD(rq->ctx->metrics->entities_requested_total, rq->plan->nrows);
    rq->entities = (uint32_t)rq->plan->nrows;
    rq->features = (uint32_t)rq->plan->nfeats;
    int64_t dl = g->deadline_ms ? (int64_t)g->deadline_ms : (int64_t)rq->reg->cfg->server.request_timeout_ms;
    if (dl > LOOKUP_MAX_DEADLINE_MS) {
        dl = LOOKUP_MAX_DEADLINE_MS;
    }
    rq->deadline_ms = dl;
    lookup_send(rq);
    if (!rq->responded) {
        request_deadline_start(rq);
    }
}

