/*
 * mat_pace.c — the materializer's write pacing controller (contract and
 * the rules of each mode in mat_pace.h). Pure: times, row counts and
 * histograms come from the caller (mat_ctx.c).
 */
#include "materialize/mat_pace.h"

#include <string.h>

static uint64_t mat_pace_clamp(const struct mat_pace *p, uint64_t r)
{
    if (r > p->ceiling) {
        r = p->ceiling;
    }
    if (r < p->c.floor) {
        r = p->c.floor;
    }
    return r;
}

void mat_pace_init(struct mat_pace *p, const struct mat_pace_cfg *c)
{
    memset(p, 0, sizeof(*p));
    p->c = *c;
    p->ceiling = c->cap > 0 && c->cap < MAT_PACE_UNBOUNDED ? c->cap : MAT_PACE_UNBOUNDED;
    if (p->c.floor > p->ceiling) {
        p->c.floor = p->ceiling;
    }
    p->rate = mat_pace_clamp(p, MAT_PACE_START);
}

const char *mat_pace_mode_name(enum mat_pace_mode m)
{
    switch (m) {
    case MAT_PACE_ADAPTIVE: return "adaptive";
    case MAT_PACE_FIXED: return "fixed";
    default: return "off";
    }
}

uint64_t mat_pace_rate(const struct mat_pace *p)
{
    switch (p->c.mode) {
    case MAT_PACE_FIXED:
        return p->c.cap;
    case MAT_PACE_ADAPTIVE:
        return p->rate >= MAT_PACE_UNBOUNDED ? 0 : p->rate;
    default:
        return 0;
    }
}

uint64_t mat_pace_quantile(const uint64_t earlier[METRICS_NBUCKETS],
                           const uint64_t later[METRICS_NBUCKETS], double q, uint64_t *n)
{
    uint64_t d[METRICS_NBUCKETS];
    uint64_t total = 0;
    for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
        d[i] = later[i] >= earlier[i] ? later[i] - earlier[i] : 0;
        total += d[i];
    }
    if (n != NULL) {
        *n = total;
    }
    if (total == 0) {
        return 0;
    }
    double rank = q * (double)total;     /* the sample at this rank is the quantile */
    uint64_t below = 0;
    for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
        if (d[i] == 0 || (double)(below + d[i]) < rank) {
            below += d[i];
            continue;
        }
        double lo = i == 0 ? 0.0 : (double)metrics_bucket_bounds[i - 1];
        double hi = i < METRICS_NBUCKETS - 1 ? (double)metrics_bucket_bounds[i]
                                             : 2.0 * (double)metrics_bucket_bounds[i - 1];
        double frac = (rank - (double)below) / (double)d[i];
        if (frac < 0) {
            frac = 0;
        }
        return (uint64_t)(lo + frac * (hi - lo) + 0.5);
    }
    return (uint64_t)(2 * metrics_bucket_bounds[METRICS_NBUCKETS - 2]);
}

uint64_t mat_pace_budget(const struct mat_pace *p)
{
    if (p->c.budget_us > 0) {
        return p->c.budget_us;
    }
    if (p->idle_p99_us == 0) {
        return MAT_PACE_AUTO_FALLBACK_US;
    }
    uint64_t b = p->idle_p99_us * MAT_PACE_AUTO_PCT / 100;
    return b > MAT_PACE_AUTO_MIN_US ? b : MAT_PACE_AUTO_MIN_US;
}

void mat_pace_idle(struct mat_pace *p, int64_t now_us, const uint64_t hist[METRICS_NBUCKETS])
{
    if (p->idle_open) {
        return;
    }
    p->idle_open = true;
    p->idle_us = now_us;
    memcpy(p->idle_hist, hist, sizeof(p->idle_hist));
}

/* Opens the next pacing window. */
static uint64_t mat_pace_window(struct mat_pace *p, int64_t now_us, uint64_t rows,
                                const uint64_t hist[METRICS_NBUCKETS])
{
    p->open = true;
    p->win_us = now_us;
    p->win_rows = rows;
    memcpy(p->win_hist, hist, sizeof(p->win_hist));
    return mat_pace_rate(p);
}

uint64_t mat_pace_begin(struct mat_pace *p, int64_t now_us, uint64_t rows,
                        const uint64_t hist[METRICS_NBUCKETS])
{
    if (p->idle_open && now_us - p->idle_us >= MAT_PACE_IDLE_US) {
        uint64_t n = 0;
        uint64_t q = mat_pace_quantile(p->idle_hist, hist, 0.99, &n);
        if (n >= MAT_PACE_IDLE_SAMPLES) {
            p->idle_p99_us = q;
        }
        if (n < MAT_PACE_MIN_SAMPLES) {
            p->rate = p->ceiling;   /* nobody serving: nobody to hurt */
        }
    }
    p->idle_open = false;
    return mat_pace_window(p, now_us, rows, hist);
}

/* Judges the window that ends at now_us (adaptive mode): the new limit. */
static uint64_t mat_pace_judge(struct mat_pace *p, int64_t now_us, uint64_t rows,
                               const uint64_t hist[METRICS_NBUCKETS])
{
    uint64_t dt = (uint64_t)(now_us - p->win_us);
    uint64_t achieved = (rows - p->win_rows) * 1000000u / (dt ? dt : 1);
    uint64_t n = 0;
    uint64_t p99 = mat_pace_quantile(p->win_hist, hist, 0.99, &n);
    p->windows++;
    p->last_p99_us = n >= MAT_PACE_MIN_SAMPLES ? p99 : 0;
    uint64_t budget = mat_pace_budget(p);
    if (n >= MAT_PACE_MIN_SAMPLES && p99 > budget) {
        /* multiplicative decrease of what was really written: a limit far
         * above the achieved rate would not slow anything down */
        uint64_t base = achieved > 0 && achieved < p->rate ? achieved : p->rate;
        p->backoffs++;
        /* by budget/p99 (a little over: a little slower), at most halved */
        uint64_t r = p99 >= 2 * budget ? base / 2 : base * budget / p99;
        return mat_pace_clamp(p, r);
    }
    if (achieved * 2 < p->rate) {
        return p->rate;     /* the limit is not what holds the writes back */
    }
    uint64_t r;
    if (n < MAT_PACE_MIN_SAMPLES || p99 * 2 <= budget) {
        r = p->rate + p->rate / 2;
    } else {
        uint64_t inc = p->rate / 8;
        r = p->rate + (inc > p->c.floor ? inc : p->c.floor);
    }
    return mat_pace_clamp(p, r);
}

uint64_t mat_pace_step(struct mat_pace *p, int64_t now_us, uint64_t rows,
                       const uint64_t hist[METRICS_NBUCKETS], bool *changed)
{
    if (changed != NULL) {
        *changed = false;
    }
    bool backwards = !p->open || now_us < p->win_us || rows < p->win_rows;
    for (size_t i = 0; i < METRICS_NBUCKETS && !backwards; i++) {
        backwards = hist[i] < p->win_hist[i];
    }
    if (backwards) {
        return mat_pace_window(p, now_us, rows, hist);
    }
    if (now_us - p->win_us < MAT_PACE_WINDOW_US) {
        return mat_pace_rate(p);
    }
    if (p->c.mode == MAT_PACE_ADAPTIVE) {
        uint64_t before = p->rate;
        p->rate = mat_pace_judge(p, now_us, rows, hist);
        if (changed != NULL) {
            *changed = p->rate != before;
        }
    }
    return mat_pace_window(p, now_us, rows, hist);
}
