/*
 * online_gen.h — a view's generations in Redis: a snapshot is written into a
 * fresh generation (online_gen_alloc), published by flipping the view's
 * current pointer (online_gen_flip) and the previous generation's rows are
 * then deleted (online_gen_reclaim*), but not before ONLINE_RECLAIM_DELAY_MS
 * after the flip. Lookups read the pointer together with the rows of the
 * generation they expect; a lookup whose pointer matched and whose round
 * trip took less than ONLINE_READ_WINDOW_MS saw only rows of that
 * generation, because no row of it is deleted sooner than that after it
 * stopped being current. So a flip is atomic for readers.
 *
 * Blocking hiredis on a caller-owned, connected context: the materializer
 * thread and featd-cli only, never a worker (workers parse the pointer with
 * online_gen_parse). Errors are worded by redis/rblock.
 */
#ifndef FEATD_ONLINE_GEN_H
#define FEATD_ONLINE_GEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"

#define ONLINE_GEN_EPOCH 1767225600      /* 2026-01-01: generations count tenths of seconds from it */
#define ONLINE_RECLAIM_DELAY_MS 2000     /* flip -> first deletion of the old generation */
#define ONLINE_READ_WINDOW_MS 500        /* a lookup round trip longer than this retries */
#define ONLINE_BUILD_LEASE_MS 60000      /* an unflipped generation not renewed this long is dead */

/* A current-generation pointer as Redis returned it (bulk string of
 * decimal digits, integer, or nil = 0). FEATD_ERR on anything else or on
 * overflow. */
int online_gen_parse(const redisReply *r, uint64_t *gen) FEATD_MUSTCHECK;

/* Generation control (blocking). A new generation number, never handed
 * out before (see online_gen.c); may wait up to ~0.1 s (longer when many
 * are allocated at once) for Redis's clock to pass it. */
int online_gen_alloc(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                     uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Current generation, 0 when the view has no data. */
int online_gen_current(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Atomically point the view at gen; *old_gen gets the previous (0 = none). */
int online_gen_flip(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                    uint64_t gen, uint64_t *old_gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* The held pointer P:v2:m:{V}:F:held (DESIGN 12: the generation the
 * quality gate holds, read by lookups with generation_mode HELD): SET to
 * gen, or DEL when gen is 0. On the view's node. */
int online_gen_held_set(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        uint64_t gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Delete every row of generation gen (SCAN MATCH over the entity keys +
 * HDEL of its field). *deleted gets the number of rows removed. Callers
 * reclaiming a generation that was current must wait
 * ONLINE_RECLAIM_DELAY_MS after the flip first. */
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
/* Counts generation gen's rows in the entity hashes (gen's field in every
 * P:v2:{*} key): a paced SCAN + HEXISTS per key, as costly as a reclaim,
 * for verifying a generation before it is resumed. A key SCAN returns twice
 * (while Redis rehashes) counts twice. FEATD_EAGAIN when *stop was set. */
int online_gen_count_rows(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, const _Atomic int *stop, uint64_t *count, char *err,
                          size_t errlen) FEATD_MUSTCHECK;
/* For incremental writers: the current generation, allocating one and
 * pointing at it when the view has none yet. */
int online_gen_ensure(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;

/*
 * Generations being written (not flipped yet) are registered in the view's
 * "building" hash with a deadline (wall-clock ms) that their writer renews
 * (online_gen_building_mark, at least every ONLINE_BUILD_LEASE_MS / 3). A
 * generation whose deadline passed belongs to a writer that died or lost
 * its lease: online_gen_building_dead lists them so that they are reclaimed
 * (their rows would otherwise stay forever in views without ttl), and a
 * writer refuses to flip or resume a generation no longer registered.
 */
int online_gen_building_mark(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             uint64_t gen, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_gen_building_clear(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                              uint64_t gen, char *err, size_t errlen) FEATD_MUSTCHECK;
/* *has: gen is registered (whatever its deadline). */
int online_gen_building_has(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                            uint64_t gen, bool *has, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Up to cap registered generations whose deadline is before now_ms
 * (entries that are not a generation and a deadline are ignored). */
int online_gen_building_dead(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             int64_t now_ms, uint64_t *gens, size_t cap, size_t *n, char *err,
                             size_t errlen) FEATD_MUSTCHECK;

/* The previous layout (v1): whether the view has data there (its current
 * pointer exists), and the paced removal of all its keys (SCAN + UNLINK;
 * FEATD_EAGAIN when *stop was set). */
int online_gen_v1_present(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          bool *present, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_gen_v1_purge(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        unsigned count, const _Atomic int *stop, uint64_t *deleted, char *err,
                        size_t errlen) FEATD_MUSTCHECK;

/*
 * ---- Routed: the same on any deployment (redis/rbcluster: one node or a
 * Redis Cluster). ----
 * A view's meta keys (current, progress, files, building, lease) share its
 * hash tag, so one node holds them all: online_gen_view_ctx gives its
 * context, on which every single-key function above (current, flip,
 * building_*) and mat_state's run. genseq has a node of its own
 * (online_gen_alloc_rb); ensure touches both. Entity hashes spread over
 * every master: reclaim, count and the previous layout's purge SCAN every
 * master of the current map in turn (paced per page, as above); an error
 * on any master fails the call (what was done stays done; the caller
 * retries later). The context returned by online_gen_view_ctx belongs to
 * rc (rbcluster.h: valid until the next rbcluster call that may reconnect;
 * never freed by the caller); NULL with err when the owner is unknown or
 * unreachable.
 */
struct rbcluster;
redisContext *online_gen_view_ctx(struct rbcluster *rc, const char *key_prefix,
                                  const struct cfg_view *v, char *err, size_t errlen);
int online_gen_alloc_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                        uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_gen_ensure_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                         uint64_t *gen, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_gen_reclaim_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, unsigned count, bool paced, const _Atomic int *stop,
                          uint64_t *deleted, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_gen_count_rows_rb(struct rbcluster *rc, const char *key_prefix,
                             const struct cfg_view *v, uint64_t gen, const _Atomic int *stop,
                             uint64_t *count, char *err, size_t errlen) FEATD_MUSTCHECK;
int online_gen_v1_present_rb(struct rbcluster *rc, const char *key_prefix,
                             const struct cfg_view *v, bool *present, char *err,
                             size_t errlen) FEATD_MUSTCHECK;
int online_gen_v1_purge_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                           unsigned count, const _Atomic int *stop, uint64_t *deleted, char *err,
                           size_t errlen) FEATD_MUSTCHECK;

#endif
