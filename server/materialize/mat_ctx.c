/*
 * mat_ctx.c — a materializing thread's context: connection, stop flag,
 * progress sends, lease keeping and identities (contract in mat_ctx.h).
 */
#include "materialize/mat_ctx.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "materialize/mat_stats.h"
#include "net/worker.h"
#include "online/online_gen.h"
#include "online/online_writer.h"
#include "redis/rbcluster.h"
#include "redis/rbconf.h"

void mat_ctx_run_err(struct mat_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
}

bool mat_ctx_stopping(const struct mat_ctx *x)
{
    return x->stop != NULL && atomic_load(x->stop) != 0;
}

void mat_ctx_disconnect(struct mat_ctx *x)
{
    rbcluster_free(x->rc);
    x->rc = NULL;
}

bool mat_ctx_live(const struct mat_ctx *x)
{
    return x->rc != NULL && rbcluster_healthy(x->rc);
}

int mat_ctx_connect(struct mat_ctx *x, char *err, size_t errlen)
{
    if (mat_ctx_live(x)) {
        if (rbconf_check_writable(x->cfg, x->rc, err, errlen) == FEATD_OK) {
            return FEATD_OK;
        }
        log_warn("materializer", "%s: discovering the master again", err);
    }
    mat_ctx_disconnect(x);
    x->rc = rbconf_connect(x->cfg, err, errlen);
    if (x->rc == NULL) {
        return FEATD_ERR;
    }
    rbcluster_set_timeout(x->rc, rbconf_bulk_timeout_ms(x->cfg));
    return FEATD_OK;
}

redisContext *mat_ctx_vc(struct mat_ctx *x, const struct cfg_view *v)
{
    if (x->rc == NULL) {
        return NULL;
    }
    char err[512];
    redisContext *c = online_gen_view_ctx(x->rc, x->cfg->redis.key_prefix, v, err, sizeof err);
    if (c == NULL) {
        log_debug("materializer", "view %s: %s", v->name, err);
    }
    return c;
}

uint64_t mat_ctx_config_sig(const struct cfg_view *v)
{
    uint64_t h = UTIL_FNV_INIT;
    const char *s[3] = { v->source_path ? v->source_path : "", v->event_ts_column,
                         v->created_ts_column ? v->created_ts_column : "" };
    for (int i = 0; i < 3; i++) {
        h = util_fnv1a(h, s[i], strlen(s[i]) + 1);
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        h = util_fnv1a(h, v->features[i].column, strlen(v->features[i].column) + 1);
    }
    h = util_fnv1a(h, &v->ttl_seconds, sizeof(v->ttl_seconds));
    int mode = (int)v->mat_mode;
    return util_fnv1a(h, &mode, sizeof(mode));
}

void mat_ctx_hex16(uint64_t x, char *out)
{
    snprintf(out, 20, "%016" PRIx64, x);
}

/* Adds v's run counts Redis has not taken yet; those it refuses stay. */
static void mat_ctx_runs_flush(struct mat_ctx *x, const struct cfg_view *v)
{
    size_t i = (size_t)(v - x->cfg->views);
    if (x->runs_unrecorded == NULL || i >= x->cfg->nviews) {
        return;     /* a view of another config (cannot happen) */
    }
    for (int w = 0; w < MAT_RUNS__N; w++) {
        int64_t *n = &x->runs_unrecorded[i][w];
        if (*n > 0 && mat_state_count_run(mat_ctx_vc(x, v), x->cfg->redis.key_prefix, v, (enum mat_runs)w,
                                          *n) == FEATD_OK) {
            *n = 0;
        }
    }
}

void mat_ctx_count_run(struct mat_ctx *x, const struct cfg_view *v, enum mat_runs which)
{
    size_t i = (size_t)(v - x->cfg->views);
    if (x->runs_unrecorded != NULL && i < x->cfg->nviews) {
        x->runs_unrecorded[i][which]++;
        mat_ctx_runs_flush(x, v);
    }
}

int mat_ctx_progress_send(struct mat_ctx *x, const struct cfg_view *v, char *err,
                          size_t errlen)
{
    int rc = mat_state_send(x->hs, mat_ctx_vc(x, v), x->cfg->redis.key_prefix, v, err, errlen);
    if (rc == FEATD_OK) {
        mat_ctx_runs_flush(x, v);
    }
    return rc;
}

/* The serving workers' Redis latency histogram, summed (relaxed reads of
 * counters each worker writes alone; no worker in a one-shot process). */
static void mat_ctx_serving_redis_hist(uint64_t out[METRICS_NBUCKETS])
{
    memset(out, 0, sizeof(uint64_t) * METRICS_NBUCKETS);
    for (int i = 0; i < nworkers; i++) {
        for (size_t b = 0; b < METRICS_NBUCKETS; b++) {
            out[b] += METRICS_GET(workers[i].metrics.redis_latency.buckets[b]);
        }
    }
}

/* The pacing state to mat_stats (for /metrics). */
static void mat_ctx_pace_publish(const struct mat_ctx *x, uint64_t rate, uint64_t new_backoffs)
{
    mat_stats_pacing(mat_pace_mode_name(x->pace.c.mode), rate, new_backoffs,
                     x->pace.last_p99_us, mat_pace_budget(&x->pace));
}

void mat_ctx_pace_idle(struct mat_ctx *x)
{
    uint64_t h[METRICS_NBUCKETS];
    mat_ctx_serving_redis_hist(h);
    mat_pace_idle(&x->pace, util_mono_us(), h);
}

static void mat_ctx_pace_step(struct mat_ctx *x, struct online_writer *w)
{
    if (x->pace.c.mode != MAT_PACE_ADAPTIVE) {
        return;
    }
    uint64_t h[METRICS_NBUCKETS];
    mat_ctx_serving_redis_hist(h);
    uint64_t backoffs = x->pace.backoffs;
    bool changed = false;
    uint64_t rate = mat_pace_step(&x->pace, util_mono_us(), online_writer_written(w), h,
                                  &changed);
    if (changed) {
        online_writer_set_rate(w, rate);
        log_debug("materializer", "pacing: serving Redis p99 %" PRIu64 " us (budget %" PRIu64
                  " us, idle p99 %" PRIu64 " us): rate limit now %" PRIu64 " rows/s",
                  x->pace.last_p99_us, mat_pace_budget(&x->pace), x->pace.idle_p99_us, rate);
    }
    mat_ctx_pace_publish(x, rate, x->pace.backoffs - backoffs);
}

/* The writer's pacer: the adaptive step after every batch (mat_pace judges
 * a window at most every MAT_PACE_WINDOW_US). */
static void mat_ctx_pace_batch(void *arg, struct online_writer *w)
{
    mat_ctx_pace_step(arg, w);
}

void mat_ctx_pace_start(struct mat_ctx *x, struct online_writer *w)
{
    uint64_t h[METRICS_NBUCKETS];
    mat_ctx_serving_redis_hist(h);
    uint64_t rate = mat_pace_begin(&x->pace, util_mono_us(), online_writer_written(w), h);
    online_writer_set_rate(w, rate);
    online_writer_set_pacer(w, mat_ctx_pace_batch, x);
    mat_ctx_pace_publish(x, rate, 0);
}

int mat_ctx_lease_keep(struct mat_ctx *x, struct mat_run *run, bool force,
                       struct online_writer *w)
{
    int64_t now = util_mono_us();
    if (!force && now - x->lease_mono_us < (int64_t)MAT_LEASE_MS * 1000 / 3) {
        return RUN_OK;
    }
    char err[512];
    if (w != NULL && online_writer_flush(w, err, sizeof(err)) != FEATD_OK) {
        mat_ctx_run_err(run, "%s", err);
        return RUN_FAIL;
    }
    redisContext *vc = mat_ctx_vc(x, run->v);
    int rc = mat_state_lease_renew(vc, x->cfg->redis.key_prefix, run->v, MAT_LEASE_MS, err,
                                   sizeof(err));
    if (rc == FEATD_OK && run->building_gen != 0) {
        rc = online_gen_building_mark(vc, x->cfg->redis.key_prefix, run->v, run->building_gen,
                                      err, sizeof(err));
    }
    if (rc != FEATD_OK) {
        mat_ctx_run_err(run, "%s", err);
        return RUN_FAIL;
    }
    x->lease_mono_us = now;
    return RUN_OK;
}

void mat_ctx_file_ident(const struct mat_file *f, uint64_t csig, char *hex)
{
    uint64_t s = mat_discover_file_sig(f);
    mat_ctx_hex16(util_fnv1a(s, &csig, sizeof(csig)), hex);
}

int mat_ctx_init(struct mat_ctx *x, const struct featd_config *cfg, bool oneshot,
                 _Atomic int *stop)
{
    memset(x, 0, sizeof(*x));
    x->cfg = cfg;
    x->oneshot = oneshot;
    x->stop = stop;
    mat_select_init(&x->sel, 0);
    mat_rg_init(&x->rg);
    x->hs = mat_state_update_new();
    x->runs_unrecorded = calloc(cfg->nviews ? cfg->nviews : 1, sizeof(*x->runs_unrecorded));
    const struct cfg_materialize *m = &cfg->materialize;
    /* a one-shot process has no serving workers to watch: adaptive pacing
     * is its cap there */
    struct mat_pace_cfg pc = {
        .mode = m->pacing == MATP_FIXED || (m->pacing == MATP_ADAPTIVE && oneshot) ? MAT_PACE_FIXED
                : m->pacing == MATP_OFF ? MAT_PACE_OFF : MAT_PACE_ADAPTIVE,
        .cap = (uint64_t)m->max_rows_per_sec,
        .floor = (uint64_t)m->pacing_min_rows_per_sec,
        .budget_us = (uint64_t)m->pacing_latency_budget_us,
    };
    mat_pace_init(&x->pace, &pc);
    mat_ctx_pace_idle(x);
    mat_ctx_pace_publish(x, mat_pace_rate(&x->pace), 0);
    return x->hs && x->runs_unrecorded ? FEATD_OK : FEATD_ERR;
}

void mat_ctx_free(struct mat_ctx *x)
{
    mat_ctx_disconnect(x);
    mat_select_free(&x->sel);
    mat_rg_free(&x->rg);
    mat_state_update_free(x->hs);
    free(x->runs_unrecorded);
    free(x->win);
    free(x->ri);
    memset(x, 0, sizeof(*x));
}

void mat_ctx_trim(struct mat_ctx *x)
{
    mat_ctx_pace_idle(x);
    if (mat_select_bytes(&x->sel) > (64u << 20)) {
        mat_select_free(&x->sel);
    }
}
