/*
 * write.c — the WriteFeatures request path (contract in write.h):
 * auth (serve_auth_write), validation (write_check), then per row the key,
 * the packed row and an EVALSHA of the shared LWW script, each addressed
 * by its entity key's slot (one write per node per loop iteration, rlink
 * flushes once). A NOSCRIPT reply (script cache flushed, failover) resends
 * that row with EVAL, which caches the script again. Counts
 * featd_push_rows_total{view,result} and featd_write_event_age_seconds.
 */
#include "serve/write.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "online/online_key.h"
#include "online/online_push.h"
#include "serve/serve_auth.h"
#include "serve/write_check.h"

/* One row's script call; the callback's private pointer. The key and row
 * are kept (arena) for a resend with EVAL. */
struct write_cmd {
    struct request *rq;
    const char *key, *row;
    size_t keylen, rowlen;
    int64_t at_ms, event_us;
    unsigned slot;
    bool evaled;            /* already resent with EVAL */
};

struct write_state {
    struct write_rows rows;
    char field[ONLINE_PUSH_FIELD_MAX];
    size_t fieldlen;
    struct write_cmd *cmds;
    size_t ncmds;
    uint32_t written, stale;
    bool failed;            /* a command failed: answer UNAVAILABLE */
    char why[400];          /* the first failure */
};

static struct metrics_view *write_mview(struct request *rq)
{
    int slot = rq->write->rows.v ? rq->write->rows.v->metrics_slot : -1;
    return slot >= 0 && slot < METRICS_MAX_VIEWS ? &rq->ctx->metrics->views[slot] : NULL;
}

static void write_answer(struct request *rq)
{
    struct write_state *ws = rq->write;
    if (ws->failed) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE,
                      "%s; %" PRIu32 " of %zu rows were written before the failure and stay (a retry of "
                      "the whole request is idempotent: last-write-wins by event time)",
                      ws->why, ws->written, ws->rows.nrows);
        return;
    }
    Featd__V1__WriteFeaturesResponse wr = FEATD__V1__WRITE_FEATURES_RESPONSE__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    wr.rows_written = ws->written;
    wr.rows_stale = ws->stale;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_WRITE_FEATURES;
    resp.write_features = &wr;
    request_answer(rq, &resp, 0);
}

static void write_fail(struct write_state *ws, const char *fmt, ...) FEATD_PRINTF(2, 3);

static void write_fail(struct write_state *ws, const char *fmt, ...)
{
    if (ws->failed) {
        return;     /* keep the first */
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->why, sizeof(ws->why), fmt, ap);
    va_end(ap);
    ws->failed = true;
}

static void write_redis_cb(redisAsyncContext *ac, void *r, void *priv);

/* Sends cmd (EVALSHA, or EVAL once cmd->evaled). */
static int write_send(struct request *rq, struct write_cmd *cmd)
{
    struct serve_ctx *ctx = rq->ctx;
    struct write_state *ws = rq->write;
    struct fbuf *sb = &ctx->scratch;
    fbuf_reset(sb);
    if (online_push_cmd(sb, cmd->evaled, cmd->key, cmd->keylen, ws->field, ws->fieldlen, cmd->row,
                        cmd->rowlen, cmd->at_ms) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return rroute_write_formatted(ctx->redis, cmd->slot, write_redis_cb, cmd, sb->data, sb->len);
}

/* Accounts one reply of cmd. */
static void write_reply(struct request *rq, struct write_cmd *cmd, const redisReply *reply)
{
    struct serve_ctx *ctx = rq->ctx;
    struct write_state *ws = rq->write;
    struct metrics_view *mv = write_mview(rq);
    if (reply == NULL) {
        write_fail(ws, "online store unavailable: %s", rroute_error(ctx->redis));
    } else if (reply->type == REDIS_REPLY_INTEGER && (reply->integer == 1 || reply->integer == 0)) {
        if (reply->integer == 1) {
            ws->written++;
            if (mv) {
                METRICS_INC(mv->push_rows[MPUSH_WRITTEN]);
                metrics_age_observe(&mv->write_event_age, util_now_us() / 1000 - cmd->event_us / 1000);
            }
        } else {
            ws->stale++;
            if (mv) {
                METRICS_INC(mv->push_rows[MPUSH_STALE]);
            }
        }
    } else if (reply->type == REDIS_REPLY_ERROR) {
        METRICS_INC(ctx->metrics->redis_errors_total);
        write_fail(ws, "online store error: %.*s", (int)(reply->len > 300 ? 300 : reply->len), reply->str);
    } else {
        METRICS_INC(ctx->metrics->redis_errors_total);
        write_fail(ws, "unexpected reply from Redis to the write script (type %d)", reply->type);
    }
}

static void write_redis_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct write_cmd *cmd = priv;
    struct request *rq = cmd->rq;
    struct serve_ctx *ctx = rq->ctx;
    redisReply *reply = r;
    (void)ac;
    rq->redis_pending--;
    if (reply && reply->type == REDIS_REPLY_ERROR && !cmd->evaled && reply->len >= 8 &&
        memcmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* the node lost its script cache: EVAL caches it again */
        cmd->evaled = true;
        if (write_send(rq, cmd) == FEATD_OK) {
            rq->redis_pending++;
            return;
        }
        write_fail(rq->write, "online store unavailable: %s", rroute_error(ctx->redis));
    } else {
        write_reply(rq, cmd, reply);
    }
    if (rq->redis_pending > 0) {
        return;
    }
    ctx->inflight--;
    METRICS_SET(ctx->metrics->inflight, ctx->inflight);
    rq->reply_us = util_mono_us();
    metrics_observe(&ctx->metrics->redis_latency, (uint64_t)(rq->reply_us - rq->sent_us));
    if (!rq->responded) {
        write_answer(rq);
    }
    request_maybe_free(rq);
}

/* Keys, rows and expiry of every row into ws->cmds (rows already past
 * their storage expiry are counted stale and get no command). */
static int write_build(struct request *rq, struct write_state *ws)
{
    struct arena *a = &rq->arena;
    const struct write_rows *wr = &ws->rows;
    const struct cfg_view *v = wr->v;
    const char *prefix = rq->reg->cfg->redis.key_prefix;
    struct fbuf *kb = &rq->ctx->scratch_keys;
    struct fbuf *sb = &rq->ctx->scratch;
    struct rroute *rt = rq->ctx->redis;
    bool cluster = rroute_is_cluster(rt);
    int64_t now_ms = util_now_us() / 1000;
    struct metrics_view *mv = write_mview(rq);
    ws->cmds = arena_alloc(a, sizeof(*ws->cmds) * wr->nrows);
    if (ws->cmds == NULL) {
        return FEATD_ENOMEM;
    }
    ws->fieldlen = online_push_field(ws->field, v);
    for (size_t r = 0; r < wr->nrows; r++) {
        int64_t ev = wr->event_us[r];
        int64_t at = online_push_expire_at_ms(v, ev, now_ms);
        if (at == 0) {
            ws->stale++;    /* past ttl + grace already: it could never be served */
            if (mv) {
                METRICS_INC(mv->push_rows[MPUSH_STALE]);
            }
            continue;
        }
        fbuf_reset(kb);
        fbuf_reset(sb);
        if (online_key_row(kb, prefix, v, &wr->keys[r * v->nkeys]) != FEATD_OK ||
            online_push_row(sb, v, ev, &wr->vals[r * v->nfeatures]) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        struct write_cmd *c = &ws->cmds[ws->ncmds];
        c->rq = rq;
        c->key = arena_memdup(a, kb->data, kb->len);
        c->row = arena_memdup(a, sb->data, sb->len);
        if (c->key == NULL || c->row == NULL) {
            return FEATD_ENOMEM;
        }
        c->keylen = kb->len;
        c->rowlen = sb->len;
        c->at_ms = at;
        c->event_us = ev;
        c->slot = cluster ? rroute_slot(rt, kb->data, kb->len) : 0;
        c->evaled = false;
        ws->ncmds++;
    }
    return FEATD_OK;
}

void write_start(struct request *rq)
{
    struct serve_ctx *ctx = rq->ctx;
    const Featd__V1__WriteFeaturesRequest *w = rq->msg->write_features;
    if (rq->sink.kind == SINK_CONN) {
        rq->type = MREQ_WRITE;  /* a built request keeps dispatch_begin's type */
    }
    if (w == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "write_features body missing");
        return;
    }
    if (!serve_auth_write(rq, w->feature_view ? w->feature_view : "")) {
        return;
    }
    struct write_state *ws = arena_alloc(&rq->arena, sizeof(*ws));
    if (ws == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "request needs more memory than allowed");
        return;
    }
    memset(ws, 0, sizeof(*ws));
    rq->write = ws;
    struct write_check_error err;
    if (write_check(rq->reg->cfg, w, &rq->arena, &ws->rows, &err) != FEATD_OK) {
        struct metrics_view *mv = write_mview(rq);
        if (mv) {
            METRICS_ADD(mv->push_rows[MPUSH_REJECTED], (uint64_t)write_check_claimed_rows(w));
        }
        request_error(rq, err.code, "%s", err.msg);
        return;
    }
    if (write_build(rq, ws) != FEATD_OK) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "request needs more memory than allowed");
        return;
    }
    if (ws->ncmds == 0) {
        write_answer(rq);   /* every row was past its storage expiry */
        return;
    }
    if (ctx->inflight >= (uint64_t)rq->reg->cfg->server.max_inflight_requests) {
        METRICS_INC(ctx->metrics->inflight_limit_hits_total);
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      "server busy: %" PRIu64 " requests already waiting on Redis (max_inflight_requests)",
                      ctx->inflight);
        return;
    }
    size_t sent = 0;
    for (size_t i = 0; i < ws->ncmds; i++) {
        if (write_send(rq, &ws->cmds[i]) != FEATD_OK) {
            write_fail(ws, "online store unavailable: %s", rroute_error(ctx->redis));
            break;
        }
        sent++;
    }
    if (sent == 0) {
        write_answer(rq);
        return;
    }
    rq->redis_pending = (uint32_t)sent;
    rq->sent_us = rq->first_sent_us = util_mono_us();
    rq->attempts = 1;
    ctx->inflight++;
    METRICS_SET(ctx->metrics->inflight, ctx->inflight);
    rq->deadline_ms = rq->reg->cfg->server.request_timeout_ms;
    request_deadline_start(rq);
}
