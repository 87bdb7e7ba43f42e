/*
 * mat_pace.h — the materializer's write pacing controller: from the serving
 * workers' Redis round-trip latency (their redis_latency histogram, read
 * between batches) and the rows written, the write rate limit to apply
 * next. Pure logic: no Redis, no clock of its own, no threads — the caller
 * feeds it times, row counts and histogram snapshots, so a unit test can
 * drive it (tests/unit/check_mat_pace.c).
 *
 *   mode fixed     the limit is materialize.max_rows_per_sec (0 = none)
 *   mode off       no limit at all (the cap is ignored)
 *   mode adaptive  AIMD between a floor and the cap: each window (at least
 *                  MAT_PACE_WINDOW_US of writing) whose workers' Redis p99
 *                  is over the budget cuts the rate actually achieved by
 *                  budget/p99, at most by half (a back-off); a window under
 *                  it raises the limit (x1.5 while the p99 is under half the
 *                  budget, else +1/8, at least by the floor) unless the
 *                  writes did not reach half of it. A window with too few
 *                  lookups to judge counts as under budget (nobody to
 *                  hurt).
 *
 * The budget is materialize.pacing_latency_budget_us, or when that is 0
 * (auto, the default) 1.5 x the workers' Redis p99 while the materializer
 * was not writing (an idle window from the end of one write phase,
 * mat_pace_idle, to the start of the next, mat_pace_begin, judged when it
 * is at least MAT_PACE_IDLE_US long with MAT_PACE_IDLE_SAMPLES lookups),
 * at least MAT_PACE_AUTO_MIN_US; MAT_PACE_AUTO_FALLBACK_US until such a
 * window was seen. An idle window of MAT_PACE_IDLE_US or more without
 * MAT_PACE_MIN_SAMPLES lookups (nobody serving) starts the write phase at
 * the ceiling; otherwise it starts at the limit the last one ended with.
 *
 * Threads: a struct mat_pace belongs to one materializing thread (it lives
 * in its struct mat_ctx); nothing in it is shared.
 */
#ifndef FEATD_MAT_PACE_H
#define FEATD_MAT_PACE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/metrics.h"

/* materialize.pacing; the order is the config's word list. */
enum mat_pace_mode { MAT_PACE_ADAPTIVE = 0, MAT_PACE_FIXED, MAT_PACE_OFF };

#define MAT_PACE_WINDOW_US 250000       /* shortest window judged */
#define MAT_PACE_MIN_SAMPLES 20         /* lookups a window needs to be judged on */
#define MAT_PACE_UNBOUNDED 1000000000u  /* adaptive ceiling without a cap (rows/s) */
#define MAT_PACE_START 25000u           /* adaptive: first limit of a context (rows/s) */
#define MAT_PACE_IDLE_US 1000000        /* shortest idle window that sets the baseline */
#define MAT_PACE_IDLE_SAMPLES 100       /* lookups it needs */
#define MAT_PACE_AUTO_PCT 150           /* auto budget = this % of the idle p99 ... */
#define MAT_PACE_AUTO_MIN_US 100u       /* ... at least this */
#define MAT_PACE_AUTO_FALLBACK_US 250u  /* auto budget before any idle window */

struct mat_pace_cfg {
    enum mat_pace_mode mode;
    uint64_t cap;           /* rows/s, 0 = none (fixed: unpaced; adaptive: no ceiling) */
    uint64_t floor;         /* adaptive: never below (a snapshot always finishes) */
    uint64_t budget_us;     /* adaptive: workers' Redis p99 budget; 0 = auto */
};

struct mat_pace {
    struct mat_pace_cfg c;
    uint64_t rate;          /* current limit, rows/s (adaptive: floor..ceiling) */
    uint64_t ceiling;       /* cap, or MAT_PACE_UNBOUNDED */
    bool open;              /* a window is open */
    int64_t win_us;         /* its start (caller's monotonic µs) */
    uint64_t win_rows;      /* rows written at its start */
    uint64_t win_hist[METRICS_NBUCKETS];   /* latency histogram at its start */
    uint64_t backoffs;      /* windows over budget (since init) */
    uint64_t windows;       /* windows judged (since init) */
    uint64_t last_p99_us;   /* p99 of the last window judged (0 = too few lookups) */
    bool idle_open;         /* an idle (not writing) window is open */
    int64_t idle_us;        /* its start */
    uint64_t idle_hist[METRICS_NBUCKETS];  /* latency histogram at its start */
    uint64_t idle_p99_us;   /* p99 of the last idle window judged (0 = none yet) */
};

/* Sets p up for c (adaptive: the limit starts at MAT_PACE_START, bounded by
 * floor and cap). Pure. */
void mat_pace_init(struct mat_pace *p, const struct mat_pace_cfg *c);
/* "adaptive", "fixed" or "off" (static). */
const char *mat_pace_mode_name(enum mat_pace_mode m);
/* The limit to hand the writer (online_writer_set_rate): rows/s, 0 = none. */
uint64_t mat_pace_rate(const struct mat_pace *p);
/* The latency budget in force (µs): the configured one, or the auto one. */
uint64_t mat_pace_budget(const struct mat_pace *p);
/* Not writing (a write phase ended, or one is being prepared): opens an
 * idle window at now_us unless one is open. */
void mat_pace_idle(struct mat_pace *p, int64_t now_us, const uint64_t hist[METRICS_NBUCKETS]);
/*
 * A write phase starts: closes the idle window (its p99 becomes the idle
 * baseline when it is long enough and has lookups enough) and opens a
 * pacing window at now_us with rows written so far and the workers' Redis
 * latency histogram hist (non-cumulative bucket counts, as in struct
 * metrics_hist). Returns mat_pace_rate.
 */
uint64_t mat_pace_begin(struct mat_pace *p, int64_t now_us, uint64_t rows,
                        const uint64_t hist[METRICS_NBUCKETS]);
/*
 * Between batches of one write phase: when the open window is at least
 * MAT_PACE_WINDOW_US long, judges it (adaptive mode), adjusts the limit and
 * opens the next window. *changed (may be NULL) tells whether the limit
 * moved. Returns mat_pace_rate. Counters in hist and rows must not go
 * backwards within a phase; when they do, the window restarts.
 */
uint64_t mat_pace_step(struct mat_pace *p, int64_t now_us, uint64_t rows,
                       const uint64_t hist[METRICS_NBUCKETS], bool *changed);
/* The q quantile (0 < q < 1) in µs of the latency samples between two
 * histogram snapshots (later - earlier, per bucket), interpolated linearly
 * within its bucket (the +Inf bucket reads as twice the last bound); 0 when
 * there are none. *n (may be NULL) = how many samples. Pure. */
uint64_t mat_pace_quantile(const uint64_t earlier[METRICS_NBUCKETS],
                           const uint64_t later[METRICS_NBUCKETS], double q, uint64_t *n);

#endif
