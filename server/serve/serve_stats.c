/*
 * serve_stats.c — the serving metrics and the serving log's sampling of
 * each answered lookup (contract in serve_stats.h).
 */
#include "serve/serve_stats.h"

#include <stdbool.h>
#include <stdlib.h>

#include "common/jsonw.h"
#include "core/metrics.h"
#include "core/util.h"
#include "serve/lookup_plan.h"
#include "serve/request.h"
#include "servlog/servlog.h"
#include "servlog/servlog_line.h"
#include "wire/proto.h"

/* True when feature f is the first requested feature of its view. */
static bool serve_stats_first_of_view(const struct lookup_plan *p, const struct proto_get_answer *ga, size_t f)
{
    if (ga->ts_same != NULL) {
        return ga->ts_same[f] == f;
    }
    for (size_t k = 0; k < f; k++) {
        if (p->feats[k].pv == p->feats[f].pv) {
            return false;
        }
    }
    return true;
}

void serve_stats_count(struct metrics *m, const struct lookup_plan *p, const struct proto_get_answer *ga,
                       int64_t now_us)
{
    size_t nf = ga->nfeatures, nr = ga->nrows;
    bool complete = true;
    for (size_t f = 0; f < nf; f++) {
        if (!serve_stats_first_of_view(p, ga, f)) {
            continue;
        }
        size_t pv = p->feats[f].pv;
        int slot = p->views[pv].v->metrics_slot;
        uint64_t counts[METRICS_VIEW_STATUSES] = { 0 };
        for (size_t k = f; k < nf; k++) {       /* every feature of this view */
            if (p->feats[k].pv != pv) {
                continue;
            }
            const uint8_t *st = ga->statuses + k * nr;
            for (size_t r = 0; r < nr; r++) {
                counts[st[r] < METRICS_VIEW_STATUSES ? st[r] : 0]++;
            }
        }
        uint64_t cells = 0;
        for (size_t s = 0; s < METRICS_VIEW_STATUSES; s++) {
            cells += counts[s];
        }
        if (counts[FEATD__V1__FIELD_STATUS__PRESENT] != cells) {
            complete = false;
        }
        if (slot < 0 || slot >= METRICS_MAX_VIEWS) {
            continue;
        }
        struct metrics_view *mv = &m->views[slot];
        for (size_t s = 0; s < METRICS_VIEW_STATUSES; s++) {
            if (counts[s]) {
                METRICS_ADD(mv->values[s], counts[s]);
            }
        }
        for (size_t r = 0; r < nr; r++) {
            int s = ga->statuses[f * nr + r];
            if (s == FEATD__V1__FIELD_STATUS__PRESENT || s == FEATD__V1__FIELD_STATUS__NULL_VALUE ||
                s == FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE) {
                metrics_age_observe(&mv->value_age, (now_us - ga->event_ts[f * nr + r]) / 1000);
            }
        }
    }
    METRICS_INC(m->lookup_coverage[complete ? 1 : 0]);
}

void serve_stats_answered(struct request *rq, const struct proto_get_answer *ga)
{
    const struct lookup_plan *p = rq->plan;
    int64_t now = util_now_us();
    if (!p->held) {
        serve_stats_count(rq->ctx->metrics, p, ga, now);
    }
    if (!servlog_sampled(rq->reg->cfg->serving_log.sample_rate)) {
        return;
    }
    struct jsonw j;
    jsonw_init(&j);
    servlog_line_json(&j, now, rq->id, rq->msg->get_online_features, p, ga);
    if (!jsonw_ok(&j)) {
        jsonw_free(&j);
        servlog_submit(NULL, 0);    /* counted as dropped */
        return;
    }
    servlog_submit(j.buf, j.len);   /* the log takes the buffer */
}
