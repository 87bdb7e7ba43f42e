/*
 * mat_ctx.h — the state shared by the materializer's files: the context of
 * one materializing thread (or one-shot process) and the record of one run.
 * Written first and included by every part (mat_pass, mat_run, mat_poll,
 * materializer); it includes none of them, so the parts form no cycle:
 *
 *   materializer (thread, one-shot) ─► mat_poll (one view's poll)
 *       ─► mat_run (snapshot / incremental run, flip, reclaim)
 *           ─► mat_pass (pass 1 select, pass 2 write)
 *   all of them ─► mat_ctx (this), mat_state, mat_stats
 *
 * Threads: a struct mat_ctx belongs to the thread that runs it (the
 * materializer thread or the `featd materialize` process); nothing in it is
 * shared.
 */
#ifndef FEATD_MAT_CTX_H
#define FEATD_MAT_CTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"
#include "materialize/mat_discover.h"
#include "materialize/mat_pace.h"
#include "materialize/mat_rg.h"
#include "materialize/mat_select.h"
#include "materialize/mat_state.h"
#include "materialize/mat_stats.h"

struct online_writer;
struct rbcluster;

#define MAT_WRITE_BATCH 2048            /* rows per pipelined batch */
#define MAT_RECLAIM_COUNT 500           /* SCAN COUNT per reclaim round */

/* How a run or one of its steps ended. */
enum mat_run_kind { RUN_OK = 0, RUN_REJECT, RUN_FAIL, RUN_STOP,
                    RUN_HELD };   /* written, not flipped: the quality gate holds it */

/* One row of the row group being selected: hashed in a first loop (with a
 * prefetch of its table slot), offered in a second. */
struct mat_rowinfo {
    struct mat_hash h;
    int64_t ev, cr;
    int st;                     /* 0 rejected, 1 candidate, 2 expired */
};

struct mat_ctx {
    const struct featd_config *cfg;
    struct rbcluster *rc;       /* the deployment's client (redis/rbconf); NULL until
                                   connected / after an error (then rebuilt: re-discovery) */
    struct mat_select sel;
    struct mat_rg rg;
    struct mat_state_update *hs;  /* the progress update being built */
    uint8_t *win;               /* per-row winner flags of a row group */
    size_t cap_win;
    struct mat_rowinfo *ri;     /* per-row hash and times of a row group */
    size_t cap_ri;
    int64_t lease_mono_us;      /* last acquire/renew */
    bool oneshot;
    struct mat_pace pace;       /* write pacing (config materialize.*) */
    _Atomic int *stop;          /* NULL: never stops early */
    int64_t (*runs_unrecorded)[MAT_RUNS__N];  /* per view: run counts Redis did not take yet */
};

/* One run of one view: what it did and why it stopped. */
struct mat_quality;

struct mat_run {
    const struct cfg_view *v;
    uint64_t rows[MK__N];
    uint64_t entities;
    uint64_t nfiles;
    int64_t max_event_us;
    int64_t started_us, started_mono;
    int64_t progress_mono;
    uint64_t ident;             /* snapshot (or file) identity incl. config */
    char ident_hex[20];
    const char *snap_name;
    size_t logged_rejects;
    int64_t flipped_mono;       /* when the flip happened (monotonic µs; 0 = none) */
    bool evicted_known;         /* Redis's evicted_keys when the run started (mat_poll) */
    uint64_t evicted_at_start;
    uint64_t building_gen;      /* the unflipped generation being written (renewed with the lease) */
    uint64_t rows_base;         /* its rows written before a resume (pending_rows_done) */
    struct mat_quality *q;      /* the quality gate of this run (mat_quality.h), NULL = none */
    uint64_t reclaim_old;       /* generation replaced by the flip, to delete */
    uint64_t reclaim_leftover;  /* an earlier generation whose delete failed */
    char why[1024];
};

/* Sets up x for cfg (which must outlive it); stop (may be NULL) asks runs
 * to stop at the next row group. FEATD_ERR on OOM. */
int mat_ctx_init(struct mat_ctx *x, const struct featd_config *cfg, bool oneshot,
                 _Atomic int *stop) FEATD_MUSTCHECK;
void mat_ctx_free(struct mat_ctx *x);
/* Between runs: releases the selection table's memory when it is big, and
 * opens an idle window of the write pacing (mat_ctx_pace_idle). */
void mat_ctx_trim(struct mat_ctx *x);
/* A usable client in x->rc (rbconf_connect: single node, cluster or the
 * Sentinel master; rebuilt after an error, which re-discovers the
 * topology), with the bulk writers' command timeout. In Sentinel mode an
 * existing client is first checked to still talk to the master
 * (rbconf_check_writable) and rebuilt when not. */
int mat_ctx_connect(struct mat_ctx *x, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Drops the client (the next mat_ctx_connect rebuilds it). */
void mat_ctx_disconnect(struct mat_ctx *x);
/* A client is there and none of its node connections has failed. */
bool mat_ctx_live(const struct mat_ctx *x);
/* The context of the node holding v's meta keys (current, progress,
 * files, building, lease: one hash tag), owned by x->rc and valid until
 * the next call on x->rc that may reconnect; NULL (logged at debug) when
 * not connected or the owner is unknown — the functions it is passed to
 * (mat_state, online_gen) then fail with "no connection". */
redisContext *mat_ctx_vc(struct mat_ctx *x, const struct cfg_view *v);
bool mat_ctx_stopping(const struct mat_ctx *x);
/* Counts one poll of v that ended as which in the progress hash's runs_*
 * counters — for every poll the featd_materializer_runs_total metric
 * counts, so the two agree. What Redis does not take (unreachable, OOM) is
 * kept and added with the next count or progress update. */
void mat_ctx_count_run(struct mat_ctx *x, const struct cfg_view *v, enum mat_runs which);
/* Sends the progress update built in x->hs for view v. */
int mat_ctx_progress_send(struct mat_ctx *x, const struct cfg_view *v, char *err,
                          size_t errlen) FEATD_MUSTCHECK;
/* Renews the lease of run->v when a third of it has passed (or when force),
 * and the registration of run->building_gen (online_gen_building_mark).
 * A pipelined writer w (may be NULL) is flushed first: no other command may
 * interleave with its replies. RUN_OK or RUN_FAIL (run->why). */
int mat_ctx_lease_keep(struct mat_ctx *x, struct mat_run *run, bool force,
                       struct online_writer *w);
/*
 * Write pacing of the writer w of a run's write phase (the materializer's
 * thread; w is the caller's). mat_ctx_pace_start when the writer is created:
 * sets its rate limit from x->pace, opens a pacing window and makes
 * mat_ctx_pace_step w's pacer (online_writer_set_pacer: after every batch).
 * mat_ctx_pace_step judges the window that ended from the serving workers'
 * Redis latency (adaptive mode; at most every MAT_PACE_WINDOW_US) and
 * re-sets w's rate when it changed. Both publish the limit and back-offs
 * to mat_stats.
 * mat_ctx_pace_idle when not writing (mat_ctx_init, mat_ctx_trim): opens the
 * idle window whose p99 sets the automatic latency budget (mat_pace.h).
 */
void mat_ctx_pace_idle(struct mat_ctx *x);
void mat_ctx_pace_start(struct mat_ctx *x, struct online_writer *w);
/* run->why = the formatted reason. */
void mat_ctx_run_err(struct mat_run *r, const char *fmt, ...) FEATD_PRINTF(2, 3);

/* Identity of the view's materialization settings: source, timestamp
 * columns, renames, ttl and mode (the fingerprint covers the schema). */
uint64_t mat_ctx_config_sig(const struct cfg_view *v);
/* 16 hex digits of x into out (20 bytes). */
void mat_ctx_hex16(uint64_t x, char *out);
/* A data file's identity under the config signature csig, as 16 hex. */
void mat_ctx_file_ident(const struct mat_file *f, uint64_t csig, char *hex);

#endif
