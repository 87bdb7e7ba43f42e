/*
 * servlog_line.h — one serving-log line: a finished lookup as one JSON
 * object and a newline (format in docs/quality.md). Pure: any thread.
 */
#ifndef FEATD_SERVLOG_LINE_H
#define FEATD_SERVLOG_LINE_H

#include <stdint.h>

#include "featd.pb-c.h"

struct jsonw;
struct lookup_plan;
struct proto_get_answer;

/*
 * Appends the line of the lookup g (its plan p, answered with ga; answered
 * at now_us, wall clock) to j: time, request_id, generation_mode, features,
 * entities (join key -> the request's values), values, statuses and
 * event_timestamps (per feature, one entry per entity row), generations
 * (per view: the generation read, null when none).
 */
void servlog_line_json(struct jsonw *j, int64_t now_us, uint64_t request_id,
                       const Featd__V1__GetOnlineFeaturesRequest *g, const struct lookup_plan *p,
                       const struct proto_get_answer *ga);

#endif
