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

#include "core/util.h"
#include "online/online_writer.h"
#include "redis/rblock.h"

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
    if (x->c) {
        redisFree(x->c);
        x->c = NULL;
    }
}

int mat_ctx_connect(struct mat_ctx *x, char *err, size_t errlen)
{
    if (x->c != NULL && x->c->err == 0) {
        return FEATD_OK;
    }
    mat_ctx_disconnect(x);
    x->c = rblock_connect(x->cfg, err, errlen);
    if (x->c == NULL) {
        return FEATD_ERR;
    }
    if (rblock_bulk_timeout(x->c, x->cfg->redis.timeout_ms, err, errlen) != FEATD_OK) {
        mat_ctx_disconnect(x);
        return FEATD_ERR;
    }
    return FEATD_OK;
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

int mat_ctx_progress_send(struct mat_ctx *x, const struct cfg_view *v, char *err,
                          size_t errlen)
{
    return mat_state_send(x->hs, x->c, x->cfg->redis.key_prefix, v, err, errlen);
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
    int rc = mat_state_lease_renew(x->c, x->cfg->redis.key_prefix, run->v, MAT_LEASE_MS, err,
                                   sizeof(err));
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
    /* interim knob until the config has one: FEATD_MATERIALIZE_MAX_ROWS_PER_SEC */
    const char *rate = getenv("FEATD_MATERIALIZE_MAX_ROWS_PER_SEC");
    int64_t r = 0;
    if (rate != NULL && *rate != '\0' && util_parse_i64(rate, 0, INT64_MAX, &r)) {
        x->max_rows_per_sec = (uint64_t)r;
    }
    return x->hs ? FEATD_OK : FEATD_ERR;
}

void mat_ctx_free(struct mat_ctx *x)
{
    mat_ctx_disconnect(x);
    mat_select_free(&x->sel);
    mat_rg_free(&x->rg);
    mat_state_update_free(x->hs);
    free(x->win);
    free(x->ri);
    memset(x, 0, sizeof(*x));
}

void mat_ctx_trim(struct mat_ctx *x)
{
    if (mat_select_bytes(&x->sel) > (64u << 20)) {
        mat_select_free(&x->sel);
    }
}
