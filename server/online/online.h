/*
 * online.h — the online-tier layout in Redis (DESIGN.md §5), shared by the
 * lookup path (async, workers) and the writers (materializer, featd-cli load;
 * blocking hiredis).
 *
 * Keys (P = redis.key_prefix, V = view name, F = 16-hex schema fingerprint):
 *   P:v1:V:F:current      string, the current generation number (absent = no data)
 *   P:v1:V:F:genseq       INCR counter that allocates generation numbers
 *   P:v1:V:F:g<G>:<E>     one packed row per (view, generation, entity)
 *   P:v1:V:F:progress     hash: materialization progress (materializer owns fields)
 *   P:v1:V:lease          materialization lease (SET NX PX)
 * E is the entity key: for each join key in view order, int64 as "i<decimal>",
 * string as "s<len>:<bytes>"; self-delimiting, so composite keys are unambiguous.
 *
 * Row value (all integers little-endian unless said otherwise):
 *   u8  codec version (ONLINE_ROW_VERSION)
 *   8B  event_ts_us, big-endian with the sign bit flipped (sorts bytewise)
 *   8B  created_ts_us, same encoding (INT64_MIN when none)
 *   ceil(nfeatures/8) bytes null bitmap (bit i set = feature i is null)
 *   per non-null feature in schema order:
 *     bool u8 | int32 4B | int64,timestamp 8B | float 4B | double 8B
 *     string,bytes: varint len + bytes
 *     float_list: varint count + count*4B;  double_list/int64_list: varint count + count*8B
 *     string_list: varint count + per element varint len + bytes
 * The 17-byte header lets the last-write-wins script compare (event, created)
 * bytewise without decoding the row.
 *
 * Storage TTL: with ttl_seconds > 0 a row expires at
 *   event_ts + ttl_seconds + online_ttl_grace(ttl_seconds)
 * so that OUTSIDE_MAX_AGE can be reported during the grace period; a row
 * already past that instant is not written (counted by the caller).
 */
#ifndef FEATD_ONLINE_H
#define FEATD_ONLINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/util.h"

#define ONLINE_LAYOUT_VERSION "v1"
#define ONLINE_ROW_VERSION 1
#define ONLINE_ROW_HEADER 17
#define ONLINE_NO_CREATED_TS INT64_MIN
#define ONLINE_MAX_LIST 1000000u    /* elements per list value */
#define ONLINE_TTL_GRACE_MIN_S 3600 /* storage grace is max(ttl_seconds, this) */

/* One join-key value (type is the join key's type: FT_INT64 or FT_STRING). */
struct online_key {
    int64_t i;
    const char *s;
    size_t slen;
};

/*
 * One feature value. Scalars use the union; string/bytes use s/slen; lists
 * use count and raw (points at count packed elements in the row encoding
 * described above: 4B/8B little-endian items, or varint-len strings).
 * Decoding fills pointers into the decoded buffer (no copies).
 */
struct online_value {
    bool is_null;
    union {
        bool b;
        int32_t i32;
        int64_t i64;    /* int64 and timestamp */
        float f;
        double d;
    } u;
    const char *s;
    size_t slen;
    uint32_t count;
    const uint8_t *raw;
    size_t rawlen;      /* bytes at raw */
};

/* Key building: append to out (does not reset it). */
int online_view_prefix(struct fbuf *out, const char *key_prefix,
                       const struct cfg_view *v) FEATD_MUSTCHECK;   /* "P:v1:V:F:" */
/* "P:v1:V:F:g<G>:" — build once per (view, generation), then append
 * online_entity_key per entity (online_row_key = this + entity key). */
int online_gen_prefix(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                      uint64_t gen) FEATD_MUSTCHECK;
int online_entity_key(struct fbuf *out, const struct cfg_view *v,
                      const struct online_key *keys) FEATD_MUSTCHECK;
int online_row_key(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                   uint64_t gen, const struct online_key *keys) FEATD_MUSTCHECK;
int online_current_key(struct fbuf *out, const char *key_prefix,
                       const struct cfg_view *v) FEATD_MUSTCHECK;
int online_meta_key(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix) FEATD_MUSTCHECK;   /* "P:v1:V:F:<suffix>" */
int online_lease_key(struct fbuf *out, const char *key_prefix,
                     const struct cfg_view *v) FEATD_MUSTCHECK;   /* "P:v1:V:lease" */

/* Grace added to the ttl for the storage expiry: max(ttl_seconds,
 * ONLINE_TTL_GRACE_MIN_S), 0 when ttl_seconds is 0 (no expiry). */
int64_t online_ttl_grace(int64_t ttl_seconds);
/* Absolute expiry in ms since the epoch, or 0 for none. */
int64_t online_expire_at_ms(const struct cfg_view *v, int64_t event_ts_us);

/* Row codec. encode appends to out; vals has v->nfeatures entries. Lists are
 * given in the packed form (count, raw, rawlen); use the list builders below
 * to produce raw from typed arrays. */
int online_row_encode(struct fbuf *out, const struct cfg_view *v, int64_t event_ts_us,
                      int64_t created_ts_us, const struct online_value *vals) FEATD_MUSTCHECK;
/* Decodes in place: pointers in vals point into data. FEATD_ERR with a reason
 * in err on any malformed input (bad version, truncation, trailing bytes,
 * list count over ONLINE_MAX_LIST). */
int online_row_decode(const uint8_t *data, size_t len, const struct cfg_view *v,
                      int64_t *event_ts_us, int64_t *created_ts_us,
                      struct online_value *vals, char *err, size_t errlen) FEATD_MUSTCHECK;

/* Packed list builders (append element encodings to out; count is yours). */
int online_list_put_float(struct fbuf *out, float f) FEATD_MUSTCHECK;
int online_list_put_double(struct fbuf *out, double d) FEATD_MUSTCHECK;
int online_list_put_int64(struct fbuf *out, int64_t i) FEATD_MUSTCHECK;
int online_list_put_string(struct fbuf *out, const char *s, size_t n) FEATD_MUSTCHECK;
/* Packed list readers: element idx of a decoded list value (bounds already
 * validated by online_row_decode). String elements are walked sequentially
 * with online_list_next_string(&cursor, end, &s, &n). */
float online_list_float(const struct online_value *v, uint32_t idx);
double online_list_double(const struct online_value *v, uint32_t idx);
int64_t online_list_int64(const struct online_value *v, uint32_t idx);
int online_list_next_string(const uint8_t **cur, const uint8_t *end,
                            const char **s, size_t *n);

/* ---- blocking writers (materializer thread, featd-cli; never a worker) ---- */

struct online_writer;   /* a pipeline of row writes for one view */

/* batch = commands appended before a flush (e.g. 1000). The writer does not
 * own c. */
struct online_writer *online_writer_new(redisContext *c, const char *key_prefix,
                                        const struct cfg_view *v, size_t batch);
void online_writer_free(struct online_writer *w);
/* SET row into generation gen (PXAT expiry when ttl > 0). Returns FEATD_OK,
 * FEATD_EAGAIN when the row is already past its storage expiry (not
 * written), FEATD_ERR on Redis errors of this or an earlier batched command. */
int online_writer_put(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                      int64_t event_ts_us, int64_t created_ts_us,
                      const struct online_value *vals, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Last-write-wins upsert via a server-side script: written only if
 * (event_ts, created_ts) is newer than or equal to the stored row's. */
int online_writer_upsert(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                         int64_t event_ts_us, int64_t created_ts_us,
                         const struct online_value *vals, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_writer_flush(struct online_writer *w, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Counters since creation. */
uint64_t online_writer_written(const struct online_writer *w);
uint64_t online_writer_skipped(const struct online_writer *w);  /* LWW losers + expired */

/* A current-generation pointer as Redis returned it (bulk string of
 * decimal digits, integer, or nil = 0). FEATD_ERR on anything else or on
 * overflow. */
int online_gen_parse(const redisReply *r, uint64_t *gen) FEATD_MUSTCHECK;

/* Generation control (blocking). */
int online_gen_alloc(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                     uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Current generation, 0 when the view has no data. */
int online_gen_current(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Atomically point the view at gen; *old_gen gets the previous (0 = none). */
int online_gen_flip(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                    uint64_t gen, uint64_t *old_gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Delete every row of generation gen (SCAN MATCH + UNLINK in batches).
 * *deleted gets the number of keys removed. */
int online_gen_reclaim(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, uint64_t *deleted, char *err, size_t errlen) FEATD_MUSTCHECK;
/* The same in rounds of count keys, sleeping after each round as long as it
 * took, so lookups on the same Redis are not held up behind thousands of
 * deletions (the materializer's background reclaim). When *stop becomes
 * non-zero (stop may be NULL) it returns FEATD_EAGAIN between rounds; the
 * caller records the generation and reclaims it later. */
int online_gen_reclaim_paced(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             uint64_t gen, unsigned count, const _Atomic int *stop,
                             uint64_t *deleted, char *err, size_t errlen) FEATD_MUSTCHECK;
/* For incremental writers: the current generation, creating generation 1
 * and pointing at it when the view has none yet. */
int online_gen_ensure(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;

#endif
