/*
 * write_check.h — validation of a WriteFeatures request (DESIGN §11, §12)
 * and its conversion into rows to write: pure (no Redis, no I/O, no thread
 * state), everything in the caller's arena. serve/write.c does the rest.
 *
 * The whole request is checked before anything is written; the first
 * problem refuses it (INVALID_ARGUMENT, message naming the view, column,
 * row and rule; RESOURCE_EXHAUSTED when the arena limit is hit):
 *   - the view is known; the request has at least one row and at most
 *     server.max_entities_per_request;
 *   - every join key of the view is given once, no other entity column;
 *   - every feature of the view is given once, no other feature column;
 *   - every column has as many values as there are rows (the first entity
 *     column's length), event_timestamps_us too (one per row);
 *   - each value's kind matches its type: int64 join keys and features take
 *     int64_val or int32_val (widened), int32 int32_val, double double_val
 *     or float_val (widened), float float_val, bool bool_val, string
 *     string_val, bytes bytes_val, timestamp timestamp_us_val, lists their
 *     list kind; no value set is null (join keys may not be null);
 *   - each feature's "expect" rules: not_null, min/max (numeric features;
 *     bool as 0/1, timestamps in µs, NaN breaks either), allowed (string).
 */
#ifndef FEATD_WRITE_CHECK_H
#define FEATD_WRITE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/arena.h"
#include "featd.pb-c.h"
#include "online/online_key.h"
#include "online/online_row.h"

/* The rows of a valid request, in request order. */
struct write_rows {
    const struct cfg_view *v;
    size_t nrows;
    struct online_key *keys;        /* nrows x v->nkeys (strings point into the request) */
    struct online_value *vals;      /* nrows x v->nfeatures (lists packed in the arena) */
    const int64_t *event_us;        /* nrows (the request's array) */
};

struct write_check_error {
    int code;                       /* featd.v1.ErrorCode */
    char msg[512];
};

/* The number of rows w claims (event times given, else the first entity
 * column's length): what featd_push_rows_total{result="rejected"} counts
 * for a refused request. */
size_t write_check_claimed_rows(const Featd__V1__WriteFeaturesRequest *w);

/* Validates w against cfg and fills *out (pointing into w and a: both must
 * outlive it). FEATD_OK, or FEATD_ERR with *err filled. out->v is set as
 * soon as the view is known (even when a later check fails). */
int write_check(const struct featd_config *cfg, const Featd__V1__WriteFeaturesRequest *w,
                struct arena *a, struct write_rows *out, struct write_check_error *err) FEATD_MUSTCHECK;

#endif
