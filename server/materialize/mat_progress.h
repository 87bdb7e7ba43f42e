/*
 * mat_progress.h — the materializer's state in Redis: the per-view progress
 * hash, the per-file done markers of incremental views, and the lease that
 * lets one featd process of many materialize a view (DESIGN.md §5, §8).
 * Used by the materializer thread, `featd materialize` and
 * `featd-cli materialize status` (which only reads). Blocking hiredis.
 *
 * Keys (online.h layout; P = key prefix, V = view, F = fingerprint):
 *   P:v1:V:F:progress   hash, the fields of struct mat_progress (below)
 *   P:v1:V:F:files      hash, incremental mode: file name -> done marker
 *                       "<16-hex signature> <rows> <finished_at_us>" or
 *                       "rejected <16-hex signature> <reason>"
 *   P:v1:V:lease        string, the lease holder's id, with a PX expiry
 *
 * Lease: SET NX PX MAT_LEASE_MS, renewed (compare-and-PEXPIRE) at least
 * every MAT_LEASE_MS/3 during long runs and right before a flip, released
 * (compare-and-DEL) after the run. A holder id is
 * "<hostname>:<pid>:<process start time>:<random>"; a lease held by a
 * process of the same host that no longer exists (no such pid, or a pid
 * with another start time: pid reuse, container restart) is taken over at
 * once (compare-and-SET), so a kill -9'd daemon's successor does not wait
 * for the expiry. Another host's lease is only ever waited out.
 */
#ifndef FEATD_MAT_PROGRESS_H
#define FEATD_MAT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"

#define MAT_LEASE_MS 15000

/*
 * Progress fields: S(name, capacity) strings, I(name) 64-bit integers.
 * Times are µs since the epoch; counters are those of the last run that
 * did work (runs_* are cumulative).
 */
#define MAT_PROGRESS_FIELDS(S, I) \
    S(state, 16)            /* idle | running | failed | rejected */ \
    S(phase, 16)            /* while running: select | write | flip | reclaim */ \
    S(mode, 16)             /* snapshot | incremental */ \
    S(owner, 160)           /* lease holder id of the last run */ \
    S(snapshot, 512)        /* last applied snapshot (incremental: last file) */ \
    S(snapshot_sig, 20)     /* its identity (16 hex) */ \
    S(pending_snapshot, 512) /* snapshot being written into pending_generation */ \
    S(pending_sig, 20) \
    S(waiting_for, 512)     /* a newer snapshot directory without _SUCCESS */ \
    S(last_error, 1024)     /* last failure (Redis, I/O), "" after a success */ \
    S(rejected_snapshot, 512) /* last rejected snapshot or file */ \
    S(rejected_sig, 20) \
    S(rejected_reason, 1024) \
    I(generation)           /* generation serving the last applied snapshot */ \
    I(pending_generation)   /* written but not flipped yet (0 = none) */ \
    I(pending_files_done)   /* files of pending_snapshot completely written */ \
    I(prev_generation)      /* current generation when the last flip started */ \
    I(reclaim_generation)   /* a generation whose reclaim failed (retried) */ \
    I(files)                /* data files of the last run */ \
    I(rows_read) \
    I(rows_written) \
    I(rows_skipped_expired) /* past their storage expiry (ttl + grace) */ \
    I(rows_skipped_stale)   /* superseded by a newer row of the same entity */ \
    I(rows_rejected)        /* null key/time, unrepresentable value */ \
    I(rows_outside_max_age) /* written, but already older than ttl_seconds */ \
    I(entities)             /* distinct entities selected */ \
    I(select_bytes)         /* memory of the selection table */ \
    I(started_at_us) \
    I(finished_at_us) \
    I(duration_ms) \
    I(last_success_at_us) \
    I(last_error_at_us) \
    I(rejected_at_us) \
    I(max_event_ts_us)      /* newest event time materialized (lag reference) */ \
    I(runs_ok) \
    I(runs_failed) \
    I(runs_rejected)

#define MAT_PS_(name, cap) char name[cap];
#define MAT_PI_(name) int64_t name;
struct mat_progress {
    MAT_PROGRESS_FIELDS(MAT_PS_, MAT_PI_)
    bool exists;            /* the hash was found */
};
#undef MAT_PS_
#undef MAT_PI_

/* HGETALL into p (unknown fields ignored, long strings truncated). */
int mat_progress_load(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      struct mat_progress *p, char *err, size_t errlen) FEATD_MUSTCHECK;

/*
 * An HSET under construction: add fields, then send. Values are copied.
 * mat_hset_send issues one HSET of all fields (nothing when empty) and
 * resets the builder.
 */
struct mat_hset;
struct mat_hset *mat_hset_new(void);
void mat_hset_free(struct mat_hset *h);
void mat_hset_str(struct mat_hset *h, const char *field, const char *val);
void mat_hset_i64(struct mat_hset *h, const char *field, int64_t val);
/* Drops the fields added so far. */
void mat_hset_reset(struct mat_hset *h);
int mat_hset_send(struct mat_hset *h, redisContext *c, const char *key, size_t keylen,
                  char *err, size_t errlen) FEATD_MUSTCHECK;

/* ---- lease ---- */

/* This process's holder id (computed once). */
const char *mat_lease_self(void);
/*
 * Tries to take the lease of view v. FEATD_OK: taken (or already ours);
 * FEATD_EAGAIN: held by another, holder copied into holder (may be NULL);
 * FEATD_ERR: Redis error (err).
 */
int mat_lease_acquire(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      int64_t px, char *holder, size_t holderlen, char *err,
                      size_t errlen) FEATD_MUSTCHECK;
/* Extends our lease: FEATD_OK, FEATD_EAGAIN (it is not ours any more),
 * FEATD_ERR. */
int mat_lease_renew(redisContext *c, const char *key_prefix, const struct cfg_view *v, int64_t px,
                    char *err, size_t errlen) FEATD_MUSTCHECK;
/* Drops our lease if we hold it (errors ignored: it expires anyway). */
void mat_lease_release(redisContext *c, const char *key_prefix, const struct cfg_view *v);
/* Current holder and remaining ms (0 holder "" when free). */
int mat_lease_peek(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                   char *holder, size_t holderlen, int64_t *pttl_ms, char *err,
                   size_t errlen) FEATD_MUSTCHECK;
/* True when holder names a process of this host that is gone. */
bool mat_lease_holder_dead(const char *holder);

#endif
