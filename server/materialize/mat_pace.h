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
 *                  is over the budget halves the rate actually achieved
 *                  (a back-off); a window under it raises the limit (x1.5
 *                  while the p99 is under half the budget, else +1/8, at
 *                  least by the floor). A window with too few lookups to
 *                  judge counts as under budget (nobody to hurt).
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
#define MAT_PACE_START 50000u           /* adaptive: first limit of a context (rows/s) */

struct mat_pace_cfg {
    enum mat_pace_mode mode;
    uint64_t cap;           /* rows/s, 0 = none (fixed: unpaced; adaptive: no ceiling) */
    uint64_t floor;         /* adaptive: never below (a snapshot always finishes) */
    uint64_t budget_us;     /* adaptive: workers' Redis p99 budget */
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
};

/* Sets p up for c (adaptive: the limit starts at MAT_PACE_START, bounded by
 * floor and cap). Pure. */
void mat_pace_init(struct mat_pace *p, const struct mat_pace_cfg *c);
/* The limit to hand the writer (online_writer_set_rate): rows/s, 0 = none. */
uint64_t mat_pace_rate(const struct mat_pace *p);
/*
 * Opens a window at now_us with rows written so far and the workers' Redis
 * latency histogram hist (non-cumulative bucket counts, as in struct
 * metrics_hist); call when a write phase starts. Returns mat_pace_rate.
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
