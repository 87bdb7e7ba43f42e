/*
 * mat_state.h — a view's materialization state in Redis, owned here and
 * nowhere else: the progress hash, the per-file done markers of incremental
 * views, and the lease that lets one featd process of many materialize a
 * view. Every progress field name is defined once (MAT_PROGRESS_FIELDS) and
 * written through a typed setter (mat_state_set_<field>).
 * Used by the materializer thread, `featd materialize` and
 * `featd-cli materialize status` (which only reads). Blocking hiredis on a
 * caller-owned context (the calling thread's own); errors worded by
 * redis/rblock.
 *
 * Keys (online/online_key.h layout; P = key prefix, V = view, F = fingerprint):
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
#ifndef FEATD_MAT_STATE_H
#define FEATD_MAT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"

#define MAT_LEASE_MS 15000

/*
 * Progress fields: S(name, capacity) strings, I(name) 64-bit integers,
 * R(name) the cumulative run counters (64-bit integers bumped only by
 * mat_state_count_run, so they have no setter). Times are µs since the
 * epoch; the other counters are those of the last run that did work.
 */
#define MAT_PROGRESS_FIELDS(S, I, R) \
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
    I(pending_rows_done)    /* rows those files wrote (checked before a resume) */ \
    I(pending_evicted_keys) /* Redis's evicted_keys when pending_generation began */ \
    I(prev_generation)      /* current generation when the last flip started */ \
    S(prev_snapshot, 512)   /* the snapshot prev_generation holds (rollback) */ \
    S(prev_sig, 20) \
    I(held_generation)      /* written, not flipped: held by the quality gate (0 = none) */ \
    S(held_snapshot, 512) \
    S(held_sig, 20) \
    I(held_at_us) \
    S(violations, 2048)     /* the quality gate's last verdict (one rule per line), "" = clean */ \
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
    R(runs_ok) \
    R(runs_failed) \
    R(runs_rejected)

#define MAT_PS_(name, cap) char name[cap];
#define MAT_PI_(name) int64_t name;
struct mat_progress {
    MAT_PROGRESS_FIELDS(MAT_PS_, MAT_PI_, MAT_PI_)
    bool exists;            /* the hash was found */
};
#undef MAT_PS_
#undef MAT_PI_

/* Values of the state, phase and mode fields. */
#define MAT_STATE_IDLE "idle"
#define MAT_STATE_RUNNING "running"
#define MAT_STATE_FAILED "failed"
#define MAT_STATE_REJECTED "rejected"
#define MAT_STATE_HELD "held"
#define MAT_PHASE_NONE ""
#define MAT_PHASE_SELECT "select"
#define MAT_PHASE_WRITE "write"
#define MAT_PHASE_FLIP "flip"
#define MAT_PHASE_RECLAIM "reclaim"
#define MAT_MODE_SNAPSHOT "snapshot"
#define MAT_MODE_INCREMENTAL "incremental"

/* HGETALL of the progress hash into p (unknown fields ignored, long
 * strings truncated). */
int mat_state_load(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                   struct mat_progress *p, char *err, size_t errlen) FEATD_MUSTCHECK;

/*
 * A progress update under construction: set fields with the typed setters,
 * then send. Values are copied. mat_state_send issues one HSET of all fields
 * set (nothing when none) and empties the update, also on failure.
 */
struct mat_state_update;
struct mat_state_update *mat_state_update_new(void);
void mat_state_update_free(struct mat_state_update *u);
#define MAT_PS_(name, cap) void mat_state_set_##name(struct mat_state_update *u, const char *val);
#define MAT_PI_(name) void mat_state_set_##name(struct mat_state_update *u, int64_t val);
#define MAT_PR_(name)
MAT_PROGRESS_FIELDS(MAT_PS_, MAT_PI_, MAT_PR_)
#undef MAT_PS_
#undef MAT_PI_
#undef MAT_PR_
int mat_state_send(struct mat_state_update *u, redisContext *c, const char *key_prefix,
                   const struct cfg_view *v, char *err, size_t errlen) FEATD_MUSTCHECK;

/* The cumulative run counters (runs_ok, runs_failed, runs_rejected). */
enum mat_runs { MAT_RUNS_OK, MAT_RUNS_FAILED, MAT_RUNS_REJECTED };
#define MAT_RUNS__N 3
/* HINCRBY of one run counter by n. FEATD_OK when Redis took it (under
 * noeviction OOM it does not: mat_ctx_count_run keeps the count). */
int mat_state_count_run(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        enum mat_runs which, int64_t n) FEATD_MUSTCHECK;

/* ---- profiles hash (quality gate, materialize/mat_quality.h) ----
 * P:v2:m:{V}:F:profiles, field = generation, value = its profile JSON. */
int mat_state_profile_put(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, const char *json, char *err, size_t errlen) FEATD_MUSTCHECK;
/* *json (malloc'd) = generation gen's profile, NULL when there is none. */
int mat_state_profile_get(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, char **json, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Best effort: drops gen's profile (its rows were reclaimed). */
void mat_state_profile_forget(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                              uint64_t gen);

/* ---- files hash (incremental views) ---- */

/* The done markers as read once (HGETALL); free with mat_state_files_free. */
struct mat_files {
    redisReply *r;          /* HGETALL reply, NULL when not loaded */
};

enum mat_file_status {
    MAT_FILE_NEW = 0,       /* no marker for this identity */
    MAT_FILE_DONE,          /* written completely */
    MAT_FILE_REJECTED       /* rejected; not retried while the identity holds */
};

/* One HGETALL of the view's files hash into f (f->r stays NULL on
 * FEATD_ERR). The caller owns f and frees it with mat_state_files_free
 * (safe on an unloaded f). */
int mat_state_files_load(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                         struct mat_files *f, char *err, size_t errlen) FEATD_MUSTCHECK;
void mat_state_files_free(struct mat_files *f);
/* What the marker of file name says for identity sig_hex (16 hex). */
enum mat_file_status mat_state_file_status(const struct mat_files *f, const char *name,
                                           const char *sig_hex);
/* Marks a file done: "<sig_hex> <rows> <finished_at_us>". */
int mat_state_file_done(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        const char *name, const char *sig_hex, uint64_t rows,
                        int64_t finished_at_us, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Marks a file rejected: "rejected <sig_hex> <reason>". */
int mat_state_file_rejected(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                            const char *name, const char *sig_hex, const char *reason,
                            char *err, size_t errlen) FEATD_MUSTCHECK;
/* Number of markers loaded, and the name of marker i (not NUL-terminated). */
size_t mat_state_files_count(const struct mat_files *f);
const char *mat_state_files_name(const struct mat_files *f, size_t i, size_t *len);
/* HDEL of one marker (best effort: errors ignored). */
void mat_state_file_forget(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                           const char *name, size_t len);

/* ---- lease ---- */

/* This process's holder id (computed once). */
const char *mat_state_lease_self(void);
/*
 * Tries to take the lease of view v. FEATD_OK: taken (or already ours);
 * FEATD_EAGAIN: held by another, holder copied into holder (may be NULL);
 * FEATD_ERR: Redis error (err).
 */
int mat_state_lease_acquire(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                            int64_t px, char *holder, size_t holderlen, char *err,
                            size_t errlen) FEATD_MUSTCHECK;
/* Extends our lease: FEATD_OK, FEATD_EAGAIN (it is not ours any more),
 * FEATD_ERR. */
int mat_state_lease_renew(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          int64_t px, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Drops our lease if we hold it (errors ignored: it expires anyway). */
void mat_state_lease_release(redisContext *c, const char *key_prefix, const struct cfg_view *v);
/* Current holder and remaining ms (0 holder "" when free). */
int mat_state_lease_peek(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                         char *holder, size_t holderlen, int64_t *pttl_ms, char *err,
                         size_t errlen) FEATD_MUSTCHECK;

#endif
