/*
 * mat_stats.h — the materializer's per-view statistics (process-wide, fed
 * by every poll), its poll schedule (next due time, failure backoff) and
 * the Prometheus families built from them. Thread-safe: the materializer
 * thread or a one-shot run writes, the admin thread reads.
 */
#ifndef FEATD_MAT_STATS_H
#define FEATD_MAT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"
#include "core/fbuf.h"

struct cfg_view;
struct featd_config;
struct mat_progress;

/* Row outcomes of a run (also the kind label of the rows metric). */
enum mat_kind { MK_READ, MK_WRITTEN, MK_EXPIRED, MK_STALE, MK_REJECTED, MK_OUTSIDE, MK__N };

/* The result of one poll of a view (MR__N counted results; MR_STOPPED is
 * reported as failed). */
enum mat_result { MR_APPLIED, MR_UNCHANGED, MR_REJECTED, MR_FAILED, MR_BUSY, MR_HELD, MR__N,
                  MR_STOPPED };


/* How long ago then was at now (µs), for times that come from data or
 * another replica: saturating (no int64 overflow for any inputs) and never
 * negative (a time in the future is 0 ago). */
static inline int64_t mat_stats_age_us(int64_t now, int64_t then)
{
    if (then >= now) {
        return 0;
    }
    if (then < 0 && now > INT64_MAX + then) {
        return INT64_MAX;
    }
    return now - then;
}

/* The quality rules (the rule label of featd_snapshot_violations_total). */
enum mat_rule { MAT_RULE_EXPECT, MAT_RULE_NULLS, MAT_RULE_MIN_ROWS, MAT_RULE_ROW_CHANGE,
                MAT_RULE_PSI, MAT_RULES__N };
/* A quality verdict of v: psi per feature (< 0: not computed), report as
 * mat_quality_verdict wrote it (one "rule: ..." line per broken rule). */
void mat_stats_quality(const struct cfg_view *v, const double *psi, const char *report);

/* Records one poll of v: result (an enum mat_result), the run's row counts
 * rows (per enum mat_kind) when counted_rows (a run that did work, with its
 * duration), and the gauges from the progress hash p (may be NULL). */
void mat_stats_record(const struct cfg_view *v, const uint64_t rows[MK__N], int result,
                      const struct mat_progress *p, bool counted_rows, double duration_s);
/* After a (re)load of cfg: views that are gone or lost their source stop
 * being reported. */
void mat_stats_mark_live(const struct featd_config *cfg);
/* Whether a view still has data in the previous online layout (v1; the
 * materializer checks at every poll): */
enum mat_old_layout {
    MAT_OLD_LAYOUT_NONE = 0,
    MAT_OLD_LAYOUT_ONLY,        /* v1 data and no v2 data yet: being re-materialized */
    MAT_OLD_LAYOUT_LEFT         /* v2 data live; v1 keys left (featd-cli materialize purge-old-layout) */
};
/* Sets view's state; returns the previous one. */
int mat_stats_set_old_layout(const char *view, int state);
/* How many live views are in state; their names, comma-separated, into
 * names[0..cap) (truncated). */
size_t mat_stats_old_layout(int state, char *names, size_t cap);
/* How many live views have failed every poll for longer than intervals x
 * their interval (intervals <= 0: none); their names, comma-separated, into
 * names[0..cap). */
size_t mat_stats_stuck(int64_t intervals, char *names, size_t cap);
/* When view is next due (monotonic µs; 0 = now); marks it live. */
int64_t mat_stats_due(const char *view);
/* Schedules view's next poll after a poll with result: interval_us later,
 * sooner while busy, with doubling backoff after failures. Returns the
 * due time (monotonic µs), 0 when out of memory. */
int64_t mat_stats_schedule(const char *view, int result, int64_t interval_us);

/* Publishes the write pacing state (materializing thread; relaxed atomics):
 * the mode in force (a static string: "adaptive", "fixed", "off"), the
 * current rate limit (rows/s, 0 = unpaced), back-offs since the last call,
 * the serving Redis p99 of the last window judged (µs, 0 = none), the
 * latency budget in force (µs). */
void mat_stats_pacing(const char *mode, uint64_t rate, uint64_t new_backoffs, uint64_t p99_us,
                      uint64_t budget_us);

/*
 * Prometheus text for the admin /metrics page (HELP/TYPE lines included),
 * appended to out. Per view (label view="..."):
 *   featd_materializer_rows_total{view,kind}   counter; kind = read |
 *       written | skipped_expired | skipped_stale | rejected |
 *       outside_max_age (written rows already older than ttl_seconds)
 *   featd_materializer_runs_total{view,result} counter; result = applied |
 *       unchanged | rejected | failed | busy (lease held elsewhere)
 *   featd_materializer_last_success_timestamp_seconds{view}  gauge
 *   featd_materializer_lag_seconds{view}       gauge: now - newest event
 *       time materialized (data freshness), clamped at 0 when that time is
 *       in the future; NaN-free: absent until known
 *   featd_materializer_event_time_ahead_seconds{view}  gauge: how far the
 *       newest event time is ahead of now (0 normally; > 0 flags
 *       future-dated rows, which hold the lag at 0)
 *   featd_materializer_seconds_since_success{view}  gauge: now - the last
 *       successful poll that applied or confirmed the view (the
 *       materialization clock: grows while no run succeeds, whatever the
 *       event times say), clamped at 0
 *   featd_materializer_duration_seconds{view}  gauge: last run that did work
 *   featd_materializer_generation{view}        gauge: current generation
 *   featd_materializer_up{view}                gauge: 1 when the last poll
 *       succeeded (applied, unchanged or busy), 0 when it failed/rejected
 * and process-wide with label pacing="adaptive"|"fixed"|"off" (the mode in
 * force; absent until a materializing context started; mat_pace.h):
 *   featd_materializer_rate_limit_rows_per_second  gauge: current write
 *       rate limit, 0 = unpaced
 *   featd_materializer_pacing_backoffs_total   counter: adaptive windows
 *       over the latency budget (each halved the rate)
 *   featd_materializer_pacing_redis_p99_seconds  gauge: the serving
 *       workers' Redis p99 in the last window judged (0 = too few lookups)
 *   featd_materializer_pacing_latency_budget_seconds  gauge: the budget in
 *       force (configured, or 1.5 x the p99 while not writing)
 * Every value derived from a timestamp uses mat_stats_age_us (saturating),
 * so extreme or future event times give finite, non-negative gauges.
 * Gauges are refreshed from the progress hash at every poll, so every
 * replica reports the view's state even when another one materialized it.
 * Safe from any thread; returns FEATD_ERR only when out of memory.
 */
int mat_stats_write_metrics(struct fbuf *out) FEATD_MUSTCHECK;

#endif
