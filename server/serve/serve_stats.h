/*
 * serve_stats.h — what a finished lookup adds to the serving metrics of
 * DESIGN §12 (featd_value_age_seconds{view}, featd_lookup_values_total{view,
 * status}, featd_lookup_coverage_total{complete}) and, when sampled, to the
 * serving log (servlog/servlog.h). Called once per answered lookup, on the
 * serve context's thread.
 *
 * Shadow reads (generation_mode HELD) are not counted in these metrics:
 * they describe what models are served, and a held generation is not served
 * (the process-wide featd_lookup_values_total by status still counts them).
 * They are logged, with "generation_mode": "held".
 */
#ifndef FEATD_SERVE_STATS_H
#define FEATD_SERVE_STATS_H

#include <stdint.h>

struct metrics;
struct lookup_plan;
struct proto_get_answer;
struct request;

/* Counts the answer ga of plan p into m (the caller's thread owns m):
 * per view with a metrics slot, each cell's status, and once per entity
 * row that had a stored row (PRESENT, NULL_VALUE or OUTSIDE_MAX_AGE) its
 * age now_us - event time; then the request's coverage (complete when
 * every cell is PRESENT). Pure otherwise (the unit test's entry). */
void serve_stats_count(struct metrics *m, const struct lookup_plan *p, const struct proto_get_answer *ga,
                       int64_t now_us);

/* The lookup rq was answered with ga (before the answer goes out): counts
 * it (unless it is a shadow read) and logs it when the serving log samples
 * it. Serve context's thread. */
void serve_stats_answered(struct request *rq, const struct proto_get_answer *ga);

#endif
