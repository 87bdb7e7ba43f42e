/*
 * bench_redis.h — featd-bench's Redis-alone target: the commands featd's
 * lookup would send for a request, sent straight to Redis, and a scanner
 * that checks the replies without building reply objects.
 *
 * Keys come from the online-tier key functions (online/online.h) for the
 * views of a featd config file, so the baseline reads exactly the keys featd
 * reads. Everything here runs on featd-bench's threads: bench_redis_open on
 * the main thread before they start; the rest is pure (a struct bench_redis
 * is read-only after open and shared by all threads).
 */
#ifndef FEATD_BENCH_REDIS_H
#define FEATD_BENCH_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "core/fbuf.h"

enum bench_redis_cmd {
    BENCH_REDIS_FEATD,  /* featd's commands: MGET of the views' current keys, then one
                           HMGET per entity of every view's field */
    BENCH_REDIS_GET,    /* one HGET per (view, entity) row, pipelined */
};

struct bench_redis;

/* What one request's replies held (counts add up across calls). */
struct bench_redis_tally {
    uint64_t rows_found;    /* row keys with a value */
    uint64_t rows_missing;  /* row keys Redis answered nil for */
    uint64_t stale_gen;     /* featd: a view's current key no longer names the
                               generation read at open (featd would resend) */
    uint64_t errors;        /* -ERR replies */
};

/*
 * Loads the featd config at config_path (no environment overrides), takes
 * the distinct views of the view:feature refs in features[0..nfeatures) in
 * first-appearance order (each must have exactly one int64 join key), and
 * reads each view's current generation with a blocking connection. Returns
 * NULL with a message in err on any failure. Main thread, before the
 * generator threads start; free with bench_redis_free.
 */
struct bench_redis *bench_redis_open(const char *config_path, enum bench_redis_cmd cmd,
                                     char *const *features, int nfeatures, char *err, size_t errlen);
void bench_redis_free(struct bench_redis *br);
/* The Redis endpoint from the config (TCP only; NULL host for a unix socket). */
const char *bench_redis_host(const struct bench_redis *br);
int bench_redis_port(const struct bench_redis *br);
size_t bench_redis_nviews(const struct bench_redis *br);

/*
 * Appends the command(s) for one request for entity ids[0..n) to out, as
 * featd's lookup builds them: repeated ids are sent once. Returns the number
 * of distinct ids (what bench_redis_scan needs), or -1 when out of memory.
 * ids is reordered (distinct ids first); key is the caller's scratch buffer
 * for one key at a time (kept between calls, freed by the caller). Any
 * thread, each with its own out and key.
 */
int bench_redis_format(const struct bench_redis *br, struct fbuf *out, struct fbuf *key,
                       int64_t *ids, int n);

/*
 * Scans the replies to one request of ndistinct ids at p[0..len). Returns
 * the bytes they take and adds to *t; 0 when they have not all arrived yet
 * (nothing is counted); -1 when the bytes are not what Redis answers to the
 * command (*why says what). Any thread.
 */
long bench_redis_scan(const struct bench_redis *br, const char *p, size_t len, int ndistinct,
                      struct bench_redis_tally *t, const char **why);

#endif
