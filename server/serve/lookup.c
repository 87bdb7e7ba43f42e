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
 *   (e) Redis     serve/lookup.c      lookup_send: per attempt, in one write per node,
 *                                     "MGET" of the views' current-generation keys
 *                                     (one per slot on a cluster), then one "HMGET
 *                                     <entity hash> <generation of each view>" per
 *                                     distinct entity (online layout v2,
 *                                     docs/online-layout.md), each addressed by its
 *                                     key's slot ─► redis/rroute.c (the node owning
 *                                     the slot; redirects) ─► redis/rlink.c (async
 *                                     hiredis) ─► lookup_redis_cb per reply (rows
 *                                     copied into the request's arena). A view
 *                                     whose current generation differs from the one
 *                                     used updates the generation cache
 *                                     (serve/gencache.h) and the lookup is resent
 *                                     (bounded), as is one whose round trip took
 *                                     over ONLINE_READ_WINDOW_MS: a lookup whose
 *                                     pointers matched read one generation per
 *                                     view, never a mix (online/online_gen.h)
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
 * the first attempt's send in (e) (rq->first_sent_us), redis to the last
 * reply's lookup_redis_cb (rq->reply_us), encode to the answer in (g) (rq->ready_us), write to (h)'s
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
#include "redis/rcmd.h"
#include "online/online.h"
#include "online/online_push.h"
#include "serve/lookup_merge.h"
#include "serve/lookup_plan.h"
#include "serve/serve_auth.h"
#include "serve/serve_stats.h"

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

/* Appends the bulk string of an entity key: pfx ("P:v2:{"), E, "}". */
static int lookup_put_key(struct fbuf *out, const char *pfx, size_t pfx_len, const char *e,
                          size_t elen)
{
    if (rcmd_put_hdr(out, '$', pfx_len + elen + 1) != FEATD_OK ||
        fbuf_append(out, pfx, pfx_len) != FEATD_OK || fbuf_append(out, e, elen) != FEATD_OK ||
        fbuf_append(out, "}\r\n", 3) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

/* An entity's hash in the attempt being built: one HMGET. */
struct plan_hm {
    size_t off, len;        /* its E part in ctx->scratch_keys */
    uint32_t first, last;   /* its rows (plan_row.next links them) */
    uint32_t last_pv;       /* plan view of its last row */
};

/*
 * Builds one attempt with each view's generation from the generation cache:
 * RESP of "MGET <current key of each view>" (one MGET per slot on a
 * cluster: no command spans two slots) then one "HMGET <entity key>
 * <generation of each view>..." per distinct entity key (rows of views that
 * share join-key values share it), in ctx->scratch; cmd i spans
 * offs[i]..offs[i + 1]. Rows repeated within a view are fetched once.
 */
static int lookup_build_command(struct request *rq, size_t **offs_out)
{
    struct lookup_plan *p = rq->plan;
    const Featd__V1__GetOnlineFeaturesRequest *g = rq->msg->get_online_features;
    struct arena *a = &rq->arena;
    const char *prefix = rq->reg->cfg->redis.key_prefix;
    struct fbuf *sb = &rq->ctx->scratch;
    size_t nr = p->nrows;

    size_t maxrows = p->nviews * nr;
    size_t tcap = 16;
    while (tcap < 2 * nr * (p->nviews ? p->nviews : 1)) {
        tcap *= 2;
    }
    uint32_t *table = arena_alloc(a, sizeof(*table) * tcap);
    struct plan_hm *hm = arena_alloc(a, sizeof(*hm) * (maxrows ? maxrows : 1));
    p->rows = arena_alloc(a, sizeof(*p->rows) * (maxrows ? maxrows : 1));
    size_t maxkeys = 1;
    for (size_t i = 0; i < p->nviews; i++) {
        maxkeys = p->views[i].v->nkeys > maxkeys ? p->views[i].v->nkeys : maxkeys;
    }
    struct online_key *keys = arena_alloc(a, sizeof(*keys) * maxkeys);
    struct fbuf *kb = &rq->ctx->scratch_keys;  /* the distinct entity keys' E parts */
    if (!table || !hm || !p->rows || !keys) {
        return FEATD_ENOMEM;
    }
    memset(table, 0xff, sizeof(*table) * tcap);    /* UINT32_MAX = empty */
    fbuf_reset(kb);
    size_t nhm = 0, nrows = 0;
    int rc = online_key_row_prefix(kb, prefix);   /* kb = "P:v2:{" E1 E2 ... */
    size_t pfx_len = kb->len;
    for (size_t i = 0; i < p->nviews && rc == FEATD_OK; i++) {
        struct plan_view *pv = &p->views[i];
        uint64_t cached = p->held ? pv->held_gen : gencache_get(&rq->ctx->gens, pv->vidx);
        pv->gen = cached == GENCACHE_UNKNOWN ? 0 : cached;
        memset(pv->row_arg, 0, sizeof(int) * (nr ? nr : 1));
        if (p->held && pv->gen == 0) {
            continue;   /* a shadow read of a view without a held generation: NOT_FOUND
                           (DESIGN §12), pushed rows or not; the pointer read tells */
        }
        /* a view without a generation (as far as we know) still has its
         * pushed rows: its HMGET names the push field alone */
        for (size_t r = 0; r < nr && rc == FEATD_OK; r++) {
            size_t start = kb->len;
            lookup_key_of(pv, g, r, keys);
            rc = online_key_entity(kb, pv->v, keys);
            if (rc != FEATD_OK) {
                break;
            }
            size_t klen = kb->len - start;
            uint64_t h = util_fnv1a(UTIL_FNV_INIT, kb->data + start, klen);
            size_t slot = h & (tcap - 1);
            uint32_t e = UINT32_MAX;
            while (table[slot] != UINT32_MAX) {
                struct plan_hm *x = &hm[table[slot]];
                if (x->len == klen && memcmp(kb->data + x->off, kb->data + start, klen) == 0) {
                    e = table[slot];
                    break;
                }
                slot = (slot + 1) & (tcap - 1);
            }
            if (e != UINT32_MAX) {
                kb->len = start;    /* known key: drop the copy */
                if (hm[e].last_pv == i) {
                    pv->row_arg[r] = (int)hm[e].last + 1;     /* the same row of this view */
                    continue;
                }
            } else {
                e = (uint32_t)nhm++;
                table[slot] = e;
                hm[e] = (struct plan_hm){ .off = start, .len = klen, .first = UINT32_MAX,
                                          .last = UINT32_MAX, .last_pv = UINT32_MAX };
            }
            uint32_t row = (uint32_t)nrows++;
            p->rows[row] = (struct plan_row){ .pv = (uint32_t)i, .next = UINT32_MAX, .has_gen = pv->gen != 0 };
            if (hm[e].first == UINT32_MAX) {
                hm[e].first = row;
            } else {
                p->rows[hm[e].last].next = row;
            }
            hm[e].last = row;
            hm[e].last_pv = (uint32_t)i;
            pv->row_arg[r] = (int)row + 1;
        }
    }
    p->nrows_fetched = nrows;
    /* the views' current keys: one MGET per slot (one MGET on a single
     * node, where every key is in "slot" 0 and nothing is hashed) */
    struct rroute *rt = rq->ctx->redis;
    bool cluster = rroute_is_cluster(rt);
    unsigned *pslot = arena_alloc(a, sizeof(*pslot) * (p->nviews ? p->nviews : 1));
    uint32_t *gfirst = arena_alloc(a, sizeof(*gfirst) * (p->nviews ? p->nviews : 1));
    uint32_t *glast = arena_alloc(a, sizeof(*glast) * (p->nviews ? p->nviews : 1));
    uint32_t *gcount = arena_alloc(a, sizeof(*gcount) * (p->nviews ? p->nviews : 1));
    if (rc != FEATD_OK || !pslot || !gfirst || !glast || !gcount) {
        return FEATD_ENOMEM;
    }
    size_t npc = 0;
    for (size_t i = 0; i < p->nviews && rc == FEATD_OK; i++) {
        p->views[i].ptr_next = UINT32_MAX;
        pslot[i] = 0;
        if (cluster) {
            size_t mark = kb->len;     /* built at kb's end, then dropped */
            rc = online_key_current(kb, prefix, p->views[i].v);
            pslot[i] = rroute_slot(rt, kb->data + mark, kb->len - mark);
            kb->len = mark;
        }
        size_t gi = 0;
        while (gi < npc && pslot[gfirst[gi]] != pslot[i]) {
            gi++;
        }
        if (gi == npc) {
            gfirst[npc] = glast[npc] = (uint32_t)i;
            gcount[npc++] = 1;
        } else {
            p->views[glast[gi]].ptr_next = (uint32_t)i;
            glast[gi] = (uint32_t)i;
            gcount[gi]++;
        }
    }
    if (p->nviews == 0) {
        gfirst[0] = UINT32_MAX;     /* an empty MGET is never sent: plan has >= 1 view */
        pslot[0] = 0;
        gcount[0] = 0;
        npc = 1;
    }
    p->nptr_cmds = npc;
    p->ncmds = npc + nhm;
    p->cmds = arena_alloc(a, sizeof(*p->cmds) * p->ncmds);
    size_t *offs = arena_alloc(a, sizeof(*offs) * (p->ncmds + 1));
    if (rc != FEATD_OK || p->cmds == NULL || offs == NULL) {
        return FEATD_ENOMEM;
    }
    fbuf_reset(sb);
    for (size_t gi = 0; gi < npc && rc == FEATD_OK; gi++) {
        offs[gi] = sb->len;
        rc = rcmd_put_hdr(sb, '*', 1 + gcount[gi]);
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(sb, "MGET", 4);
        }
        for (uint32_t i = gfirst[gi]; i != UINT32_MAX && rc == FEATD_OK; i = p->views[i].ptr_next) {
            size_t mark = kb->len;
            rc = p->held ? online_key_meta(kb, prefix, p->views[i].v, "held")
                         : online_key_current(kb, prefix, p->views[i].v);
            if (rc == FEATD_OK) {
                rc = rcmd_put_bulk(sb, kb->data + mark, kb->len - mark);
            }
            kb->len = mark;
        }
        p->cmds[gi] = (struct plan_cmd){ .rq = rq, .first_row = UINT32_MAX, .first_pv = gfirst[gi],
                                         .slot = pslot[gfirst[gi] == UINT32_MAX ? 0 : gfirst[gi]] };
    }
    /* one HMGET per entity, routed by its key's slot (its hash tag: E) */
    for (size_t e = 0; e < nhm && rc == FEATD_OK; e++) {
        offs[npc + e] = sb->len;
        size_t nf = 0;
        for (uint32_t row = hm[e].first; row != UINT32_MAX; row = p->rows[row].next) {
            nf += p->rows[row].has_gen ? 2 : 1;
        }
        rc = rcmd_put_hdr(sb, '*', 2 + nf);
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(sb, "HMGET", 5);
        }
        unsigned slot = 0;
        if (rc == FEATD_OK) {
            rc = lookup_put_key(sb, kb->data, pfx_len, kb->data + hm[e].off, hm[e].len);
            size_t klen = pfx_len + hm[e].len + 1;
            slot = cluster ? rroute_slot(rt, sb->data + sb->len - 2 - klen, klen) : 0;
        }
        for (uint32_t row = hm[e].first; row != UINT32_MAX && rc == FEATD_OK;
             row = p->rows[row].next) {
            const struct plan_view *rpv = &p->views[p->rows[row].pv];
            if (p->rows[row].has_gen) {
                char field[ONLINE_FIELD_MAX];
                size_t n = online_key_field(field, rpv->gen);
                rc = rcmd_put_bulk(sb, field, n);
            }
            if (rc == FEATD_OK) {
                char pfield[ONLINE_PUSH_FIELD_MAX];
                size_t n = online_push_field(pfield, rpv->v);
                rc = rcmd_put_bulk(sb, pfield, n);
            }
        }
        p->cmds[npc + e] = (struct plan_cmd){ .rq = rq, .first_row = hm[e].first, .first_pv = UINT32_MAX,
                                              .slot = slot };
    }
    offs[p->ncmds] = sb->len;
    *offs_out = offs;
    return rc;
}

static void lookup_redis_cb(redisAsyncContext *ac, void *r, void *priv);

static void lookup_send(struct request *rq)
{
    struct serve_ctx *ctx = rq->ctx;
    struct lookup_plan *p = rq->plan;
    size_t *offs = NULL;
    int rc = lookup_build_command(rq, &offs);
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
    p->stale = false;
    p->failed = false;
    const char *cmd = ctx->scratch.data;
    size_t sent = 0;
    for (size_t i = 0; i < p->ncmds; i++) {
        if (rroute_command_formatted(ctx->redis, p->cmds[i].slot, lookup_redis_cb, &p->cmds[i],
                                     cmd + offs[i], offs[i + 1] - offs[i]) != FEATD_OK) {
            break;
        }
        sent++;
    }
    if (sent == 0) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store unavailable: %s",
                      rroute_error(ctx->redis));
        return;
    }
    if (sent < p->ncmds) {
        /* the commands sent still call back; the attempt fails when they have */
        p->failed = true;
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store unavailable: %s",
                      rroute_error(ctx->redis));
    }
    rq->redis_pending = (uint32_t)sent;
    rq->sent_us = util_mono_us();
    if (rq->first_sent_us == 0) {
        rq->first_sent_us = rq->sent_us;
    }
    rq->attempts++;
    ctx->inflight++;
    METRICS_SET(ctx->metrics->inflight, ctx->inflight);
    METRICS_ADD(ctx->metrics->keys_fetched_total, (uint64_t)p->nrows_fetched);
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

/* Decodes one stored row of v into *vals (arena) and *ts, *side = LOOKUP_ROW;
 * a corrupt one is counted and logged, *side = LOOKUP_CORRUPT. FEATD_ENOMEM
 * when the arena is exhausted. */
static int lookup_decode(struct request *rq, const struct cfg_view *v, const char *data, size_t len,
                         struct online_value **vals, int64_t *ts, enum lookup_side *side)
{
    char err[128];
    int64_t cts;
    *vals = arena_alloc(&rq->arena, sizeof(**vals) * (v->nfeatures ? v->nfeatures : 1));
    if (*vals == NULL) {
        return FEATD_ENOMEM;
    }
    if (online_row_decode((const uint8_t *)data, len, v, ts, &cts, *vals, err, sizeof(err)) != FEATD_OK) {
        METRICS_INC(rq->ctx->metrics->rows_corrupt_total);
        lookup_log_corrupt(v, err);
        *vals = NULL;
        *ts = 0;
        *side = LOOKUP_CORRUPT;
        return FEATD_OK;
    }
    *side = LOOKUP_ROW;
    return FEATD_OK;
}

#define ANSWER_NOMEM() do { request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, \
                          "response needs more memory than allowed"); return; } while (0)

/* Decodes each fetched (view, entity) row once, points every requested cell
 * at its value, computes statuses, and writes the answer. Row values point
 * into the rows the callbacks copied into the request's arena. */
static void lookup_answer(struct request *rq)
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

    /* Each fetched row is decoded once, however many request rows repeat it. */
    struct decoded_row {
        struct online_value *vals;  /* NULL: not found or corrupt */
        int64_t ts;
        int status;
        bool done;
    };
    size_t nfetched = p->nrows_fetched ? p->nrows_fetched : 1;
    struct decoded_row *rows = arena_alloc(a, sizeof(*rows) * nfetched);
    if (rows == NULL) {
        ANSWER_NOMEM();
    }
    memset(rows, 0, sizeof(*rows) * nfetched);
    uint64_t st_counts[METRICS_STATUSES] = { 0 };
    for (size_t i = 0; i < p->nviews; i++) {
        const struct plan_view *pv = &p->views[i];
        const struct cfg_view *v = pv->v;
        int64_t ttl_us = v->ttl_seconds * 1000000;
        for (size_t r = 0; r < nr; r++) {
            int arg = pv->row_arg[r];
            struct decoded_row *d = arg ? &rows[arg - 1] : NULL;
            struct decoded_row tmp = { NULL, 0, FEATD__V1__FIELD_STATUS__NOT_FOUND, true };
            if (d == NULL || !d->done) {
                const struct plan_row *e = arg ? &p->rows[arg - 1] : NULL;
                if (e != NULL && (e->data != NULL || e->push_data != NULL)) {
                    /* the snapshot row and the pushed row: the newer one
                     * is served (lookup_merge.h) */
                    struct online_value *sv = NULL, *xv = NULL;
                    int64_t sts = 0, xts = 0;
                    enum lookup_side ss = LOOKUP_ABSENT, xs = LOOKUP_ABSENT;
                    if (e->data != NULL && lookup_decode(rq, v, e->data, e->len, &sv, &sts, &ss) != FEATD_OK) {
                        ANSWER_NOMEM();
                    }
                    if (e->push_data != NULL &&
                        lookup_decode(rq, v, e->push_data, e->push_len, &xv, &xts, &xs) != FEATD_OK) {
                        ANSWER_NOMEM();
                    }
                    switch (lookup_merge_pick(ss, sts, xs, xts)) {
                    case LOOKUP_PICK_SNAPSHOT: tmp.vals = sv; tmp.ts = sts; break;
                    case LOOKUP_PICK_PUSH: tmp.vals = xv; tmp.ts = xts; break;
                    case LOOKUP_PICK_INVALID: tmp.status = FEATD__V1__FIELD_STATUS__INVALID; break;
                    default: break;
                    }
                    if (tmp.vals != NULL) {
                        tmp.status = (ttl_us > 0 && tmp.ts < now - ttl_us) ? FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE
                                                                       : FEATD__V1__FIELD_STATUS__PRESENT;
                    }
                } else if (e != NULL && e->len == PLAN_ROW_NOT_A_HASH) {
                    METRICS_INC(m->rows_corrupt_total);
                    lookup_log_corrupt(v, "the entity's key is not a hash");
                    tmp.status = FEATD__V1__FIELD_STATUS__INVALID;
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
    serve_stats_answered(rq, &ga);      /* serving metrics and log (DESIGN §12) */
    request_answer_get(rq, &ga, sizes);
}

/* The MGET of the views' current keys: notes each view's generation;
 * marks the attempt stale when one differs from the generation it used. */
static int lookup_pointers(struct request *rq, const struct plan_cmd *cmd, const redisReply *reply)
{
    struct serve_ctx *ctx = rq->ctx;
    struct lookup_plan *p = rq->plan;
    size_t n = 0;
    for (uint32_t i = cmd->first_pv; i != UINT32_MAX; i = p->views[i].ptr_next) {
        n++;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
        METRICS_INC(ctx->metrics->redis_errors_total);
        request_error(rq, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected reply from Redis to MGET");
        return FEATD_ERR;
    }
    n = 0;
    for (uint32_t i = cmd->first_pv; i != UINT32_MAX; i = p->views[i].ptr_next) {
        struct plan_view *pv = &p->views[i];
        uint64_t cur;
        if (online_gen_parse(reply->element[n++], &cur) != FEATD_OK) {
            request_error(rq, FEATD__V1__ERROR_CODE__INTERNAL,
                          "corrupt current-generation pointer for feature view \"%s\"", pv->v->name);
            return FEATD_ERR;
        }
        if (p->held) {
            pv->held_gen = cur;     /* shadow reads: no cache, the pointer of this attempt */
        } else {
            gencache_note(&ctx->gens, rq->reg, pv->vidx, cur);
        }
        if (cur != pv->gen) {
            p->stale = true;
        }
    }
    return FEATD_OK;
}

/* One entity's HMGET: copies its rows into the request's arena (hiredis
 * frees the reply when the callback returns). */
static int lookup_entity(struct request *rq, const struct plan_cmd *cmd, const redisReply *reply)
{
    struct lookup_plan *p = rq->plan;
    size_t i = 0;
    if (reply->type != REDIS_REPLY_ARRAY) {
        METRICS_INC(rq->ctx->metrics->redis_errors_total);
        request_error(rq, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected reply from Redis to HMGET");
        return FEATD_ERR;
    }
    bool bad = false;
    for (uint32_t row = (uint32_t)cmd->first_row; row != UINT32_MAX && !bad; row = p->rows[row].next) {
        struct plan_row *pr = &p->rows[row];
        pr->data = pr->push_data = NULL;
        pr->len = pr->push_len = 0;
        for (int side = pr->has_gen ? 0 : 1; side < 2; side++, i++) {
            const redisReply *e = i < reply->elements ? reply->element[i] : NULL;
            if (e == NULL || e->type == REDIS_REPLY_NIL) {
                continue;
            }
            if (e->type != REDIS_REPLY_STRING) {
                bad = true;
                break;
            }
            const char *d = arena_memdup(&rq->arena, e->str, e->len ? e->len : 1);
            if (d == NULL) {
                request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                              "response needs more memory than allowed");
                return FEATD_ERR;
            }
            if (side == 0) {
                pr->data = d;
                pr->len = e->len;
            } else {
                pr->push_data = d;
                pr->push_len = e->len;
            }
        }
    }
    if (bad || i != reply->elements) {
        METRICS_INC(rq->ctx->metrics->redis_errors_total);
        request_error(rq, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected reply from Redis to HMGET");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* The attempt's last reply is in: answer, or send the next attempt when a
 * view's generation changed (or the round trip was too long to be sure no
 * row of the generation read was reclaimed meanwhile; online_gen.h). */
static void lookup_attempt_done(struct request *rq)
{
    struct serve_ctx *ctx = rq->ctx;
    struct lookup_plan *p = rq->plan;
    bool slow = rq->reply_us - rq->sent_us > (int64_t)ONLINE_READ_WINDOW_MS * 1000;
    if (slow && !p->stale) {
        METRICS_INC(ctx->metrics->read_window_retries_total);
    }
    if ((p->stale || slow) && rq->attempts < LOOKUP_MAX_ATTEMPTS && rq->reg == ctx->reg) {
        if (p->stale) {
            METRICS_INC(ctx->metrics->generation_retries_total);
        }
        lookup_send(rq);
    } else if (p->stale || slow) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE,
                      "feature view generations kept changing during the lookup; retry");
    } else {
        lookup_answer(rq);
    }
}

static void lookup_redis_cb(redisAsyncContext *ac, void *r, void *priv)
{
    const struct plan_cmd *cmd = priv;
    struct request *rq = cmd->rq;
    struct serve_ctx *ctx = rq->ctx;
    struct lookup_plan *p = rq->plan;
    redisReply *reply = r;
    (void)ac;
    rq->redis_pending--;
    if (!rq->responded && !p->failed) {
        if (reply == NULL) {
            request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store unavailable: %s",
                          rroute_error(ctx->redis));
        } else if (reply->type == REDIS_REPLY_ERROR && cmd->first_pv == UINT32_MAX && reply->len >= 9 &&
                   memcmp(reply->str, "WRONGTYPE", 9) == 0) {
            /* something else wrote a non-hash under the entity's key: its
             * rows are INVALID, the others are served */
            for (uint32_t row = (uint32_t)cmd->first_row; row != UINT32_MAX; row = p->rows[row].next) {
                p->rows[row].data = p->rows[row].push_data = NULL;
                p->rows[row].len = PLAN_ROW_NOT_A_HASH;
                p->rows[row].push_len = 0;
            }
        } else if (reply->type == REDIS_REPLY_ERROR) {
            METRICS_INC(ctx->metrics->redis_errors_total);
            request_error(rq, FEATD__V1__ERROR_CODE__UNAVAILABLE, "online store error: %.*s",
                          (int)(reply->len > 300 ? 300 : reply->len), reply->str);
        } else if (cmd->first_pv != UINT32_MAX) {
            (void)lookup_pointers(rq, cmd, reply);
        } else if (!p->stale) {
            (void)lookup_entity(rq, cmd, reply);
        }
        if (rq->responded) {
            p->failed = true;
        }
    }
    if (rq->redis_pending > 0) {
        return;     /* more replies of this attempt to come */
    }
    ctx->inflight--;
    METRICS_SET(ctx->metrics->inflight, ctx->inflight);
    if (reply) {
        rq->reply_us = util_mono_us();
        metrics_observe(&ctx->metrics->redis_latency, (uint64_t)(rq->reply_us - rq->sent_us));
    }
    if (!rq->responded && !p->failed) {
        lookup_attempt_done(rq);
    }
    request_maybe_free(rq);
}

void lookup_start(struct request *rq)
{
    const Featd__V1__GetOnlineFeaturesRequest *g = rq->msg->get_online_features;
    struct lookup_plan_error err;
    if (!serve_auth_lookup(rq)) {
        return;
    }
    rq->plan = lookup_plan_build(rq->reg->cfg, g, &rq->arena, &err);
    if (rq->plan == NULL) {
        request_error(rq, err.code, "%s", err.msg);
        return;
    }
    METRICS_ADD(rq->ctx->metrics->entities_requested_total, rq->plan->nrows);
    request_set_size(rq, (uint32_t)rq->plan->nrows, (uint32_t)rq->plan->nfeats);
    rq->plan->held = g->generation_mode == FEATD__V1__GENERATION_MODE__HELD;
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

