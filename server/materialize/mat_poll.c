/*
 * mat_poll.c — one poll of one view (contract in mat_poll.h), in steps:
 *
 *   poll_open       connect, read the progress hash
 *   poll_discover   list the source; decide what a run would do
 *   poll_unchanged  nothing to do: keep the recorded state true
 *   poll_lease      take the view's lease (one-shot: wait for it)
 *   poll_run        re-read the state under the lease, run (mat_run)
 *   poll_outcome    record the result; reclaim what a flip replaced
 *
 * Every step that ends the poll returns the result through poll_end, which
 * frees what the poll holds and records the statistics.
 */
#include "materialize/mat_poll.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "materialize/mat_run.h"
#include "materialize/mat_stats.h"
#include "online/online_check.h"
#include "online/online_gen.h"
#include "online/online_key.h"
#include "redis/rhealth.h"

#define MAT_LEASE_WAIT_MS 60000         /* one-shot: wait this long for a lease */
#define POLL_GO (-1)                    /* a step's "carry on" */
#define RUN_NOTHING (-1)                /* the run found nothing left to do */

/* One poll in progress. */
struct poll {
    struct mat_ctx *x;
    const struct cfg_view *v;
    const char *kp;                     /* redis.key_prefix */
    char *msg;                          /* the caller's summary line */
    size_t msglen;
    struct mat_progress p;
    bool have_p;                        /* p was read (for the statistics) */
    struct mat_run run;
    uint64_t csig;                      /* mat_ctx_config_sig(v) */
    struct mat_listing l;
    const struct mat_snapshot *snap;    /* snapshot mode: newest complete */
    const struct mat_snapshot *incomplete;  /* a newer one without _SUCCESS */
    struct mat_files done;              /* incremental mode: done markers */
    const struct mat_file **todo;       /* incremental mode: new files */
    size_t ntodo, total, nrej_known;
    size_t nrej_files;                  /* files rejected by this run */
    char last_reject[1024];
    char err[1024];
};

/* Frees what q holds, records the statistics of the poll and returns
 * result (stats_result is what the statistics count). */
static int poll_end(struct poll *q, int result, int stats_result, bool did_work, double secs)
{
    mat_state_files_free(&q->done);
    free(q->todo);
    q->todo = NULL;
    mat_discover_listing_free(&q->l);
    mat_stats_record(q->v, q->run.rows, stats_result, q->have_p ? &q->p : NULL, did_work, secs);
    if (stats_result == MR_APPLIED || stats_result == MR_FAILED || stats_result == MR_REJECTED) {
        /* the status's runs_* count exactly what featd_materializer_runs_total counts */
        mat_ctx_count_run(q->x, q->v, stats_result == MR_APPLIED ? MAT_RUNS_OK
                                      : stats_result == MR_FAILED ? MAT_RUNS_FAILED
                                                                  : MAT_RUNS_REJECTED);
    }
    return result;
}

/* A failure that ends the poll: msg "failed: <why>". */
static int poll_fail(struct poll *q, const char *why, bool drop)
{
    snprintf(q->msg, q->msglen, "failed: %s", why);
    if (drop) {
        mat_ctx_disconnect(q->x);
    }
    return poll_end(q, MR_FAILED, MR_FAILED, false, 0);
}

static void log_applied(const struct mat_run *run, const struct mat_progress *p, double secs,
                        size_t sel_bytes)
{
    const struct cfg_view *v = run->v;
    double rate = secs > 0 ? (double)run->rows[MK_READ] / secs : 0;
    log_info("materializer", "view %s: %s %s applied%s%" PRId64 " in %.2f s: %" PRIu64 " rows read "
             "(%.0f rows/s), %" PRIu64 " entities, %" PRIu64 " written, %" PRIu64 " stale, %"
             PRIu64 " expired, %" PRIu64 " rejected, %" PRIu64 " outside max age; selection "
             "%zu bytes", v->name, v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "files up to",
             run->snap_name ? run->snap_name : "?",
             v->mat_mode == MAT_SNAPSHOT ? " as generation " : " into generation ",
             p->generation, secs, run->rows[MK_READ], rate, run->entities,
             run->rows[MK_WRITTEN], run->rows[MK_STALE], run->rows[MK_EXPIRED],
             run->rows[MK_REJECTED], run->rows[MK_OUTSIDE], sel_bytes);
}

/* Records a failure that happened before any work (discovery, Redis). */
static void note_failure(struct mat_ctx *x, const struct cfg_view *v, const char *why,
                         struct mat_progress *p)
{
    if (!mat_ctx_live(x)) {
        return;
    }
    if (p->exists && strcmp(p->state, MAT_STATE_FAILED) == 0 && strcmp(p->last_error, why) == 0) {
        return;     /* same failure as last time: no write per poll */
    }
    mat_state_set_state(x->hs, MAT_STATE_FAILED);
    mat_state_set_last_error(x->hs, why);
    mat_state_set_last_error_at_us(x->hs, util_now_us());
    char err[256];
    if (mat_ctx_progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
        mat_ctx_disconnect(x);
    }
}

/* Notes (for /readyz and the logs) whether the view still has data in the
 * previous online layout: one EXISTS per poll. Best effort. */
static void poll_old_layout(struct poll *q)
{
    bool v1 = false;
    if (online_gen_v1_present_rb(q->x->rc, q->kp, q->v, &v1, q->err, sizeof(q->err)) != FEATD_OK) {
        log_debug("materializer", "view %s: %s", q->v->name, q->err);
        return;
    }
    int now = !v1 ? MAT_OLD_LAYOUT_NONE
                  : q->p.generation > 0 ? MAT_OLD_LAYOUT_LEFT : MAT_OLD_LAYOUT_ONLY;
    int was = mat_stats_set_old_layout(q->v->name, now);
    if (now == was) {
        return;
    }
    if (now == MAT_OLD_LAYOUT_ONLY) {
        log_warn("materializer", "view %s: its data is in the previous online layout "
                 ONLINE_LAYOUT_PREVIOUS ", which this featd does not read; re-materializing it "
                 "from its source into layout " ONLINE_LAYOUT_VERSION " (not ready until then)",
                 q->v->name);
    } else if (now == MAT_OLD_LAYOUT_LEFT) {
        log_info("materializer", "view %s: serving from online layout " ONLINE_LAYOUT_VERSION
                 "; its layout " ONLINE_LAYOUT_PREVIOUS " keys remain for featd versions still "
                 "reading them: remove them with `featd-cli materialize purge-old-layout` once "
                 "none runs", q->v->name);
    }
}

/* Refuses to write into a Redis that evicts keys (redis.eviction; /readyz
 * says the same): its rows could go missing without a trace. Notes the
 * evicted_keys count the run starts with (a flip is refused when it grew).
 * Materializer thread (or the one-shot run): its log state is static. */
static int poll_eviction(struct poll *q)
{
    struct rhealth_sample hs;
    if (online_check_eviction_rb(q->x->rc, &hs, q->err, sizeof(q->err)) != FEATD_OK) {
        log_warn("materializer", "view %s: %s", q->v->name, q->err);
        return poll_fail(q, q->err, true);
    }
    bool allow = q->x->cfg->redis.eviction == EVICT_ALLOW;
    char why[512];
    if (rhealth_problem(allow, why, sizeof(why))) {
        snprintf(q->err, sizeof(q->err), "not materializing: %s", why);
        /* once a minute, not at every poll of every view */
        static int64_t logged_mono;
        int64_t now = util_mono_us();
        if (logged_mono == 0 || now - logged_mono >= 60000000) {
            logged_mono = now;
            log_error("materializer", "view %s: %s", q->v->name, q->err);
        }
        note_failure(q->x, q->v, q->err, &q->p);
        return poll_fail(q, q->err, false);
    }
    static bool warned;
    if (allow && rhealth_policy_evicts(hs.policy) && !warned) {
        warned = true;
        log_warn("materializer", "redis maxmemory-policy is %s and redis.eviction is \"allow\": "
                 "rows Redis evicts are served as NOT_FOUND without a trace until featd notices "
                 "the evicted_keys count grow", hs.policy);
    }
    q->run.evicted_known = hs.have_evicted;
    q->run.evicted_at_start = hs.evicted_keys;
    return POLL_GO;
}

/* Connects and reads the progress hash. */
static int poll_open(struct poll *q)
{
    if (mat_ctx_connect(q->x, q->err, sizeof(q->err)) != FEATD_OK) {
        log_warn("materializer", "view %s: %s", q->v->name, q->err);
        return poll_fail(q, q->err, false);
    }
    /* once per process (materializer thread or one-shot run): the Redis
     * server must suit the online layout */
    static bool server_checked;
    if (!server_checked) {
        if (online_check_server_rb(q->x->rc, q->x->cfg, q->err, sizeof(q->err)) != FEATD_OK) {
            log_warn("materializer", "view %s: %s", q->v->name, q->err);
            return poll_fail(q, q->err, false);
        }
        server_checked = true;
    }
    if (mat_state_load(mat_ctx_vc(q->x, q->v), q->kp, q->v, &q->p, q->err,
                       sizeof(q->err)) != FEATD_OK) {
        log_warn("materializer", "view %s: %s", q->v->name, q->err);
        return poll_fail(q, q->err, true);
    }
    q->have_p = true;
    poll_old_layout(q);
    return poll_eviction(q);
}

/* Snapshot mode: the newest complete snapshot, and whether it is new. */
static int decide_snapshot(struct poll *q)
{
    struct mat_ctx *x = q->x;
    const struct cfg_view *v = q->v;
    q->snap = mat_discover_newest_complete(&q->l, &q->incomplete);
    if (q->snap != NULL) {
        q->run.ident = util_fnv1a(q->snap->sig, &q->csig, sizeof(q->csig));
        mat_ctx_hex16(q->run.ident, q->run.ident_hex);
    }
    const char *wait = q->incomplete ? q->incomplete->name : "";
    if (strcmp(wait, q->p.waiting_for) != 0) {
        if (q->incomplete) {
            log_info("materializer", "view %s: %s has no _SUCCESS marker yet; not applied "
                     "until it does", v->name, q->incomplete->name);
        }
        mat_state_set_waiting_for(x->hs, wait);
        if (mat_ctx_progress_send(x, v, q->err, sizeof(q->err)) != FEATD_OK) {
            mat_ctx_disconnect(x);
        }
    }
    if (q->p.pending_generation > 0 && q->p.pending_sig[0] && x->rc != NULL) {
        uint64_t cur = 0;
        if (online_gen_current(mat_ctx_vc(x, v), q->kp, v, &cur, q->err,
                               sizeof(q->err)) == FEATD_OK &&
            cur == (uint64_t)q->p.pending_generation) {
            mat_run_recover_flipped(x, v, &q->p);
        }
    }
    if (q->snap == NULL || strcmp(q->p.snapshot_sig, q->run.ident_hex) == 0 ||
        strcmp(q->p.held_sig, q->run.ident_hex) == 0 ||     /* held: waits for promote */
        (!x->oneshot && strcmp(q->p.rejected_sig, q->run.ident_hex) == 0)) {
        return MR_UNCHANGED;
    }
    return POLL_GO;
}

/* Incremental mode: the complete files not done yet. */
static int decide_incremental(struct poll *q)
{
    if (mat_state_files_load(mat_ctx_vc(q->x, q->v), q->kp, q->v, &q->done, q->err,
                             sizeof(q->err)) !=
        FEATD_OK) {
        return poll_fail(q, q->err, true);
    }
    for (size_t i = 0; i < q->l.nsnaps; i++) {
        q->total += q->l.snaps[i].nfiles;
    }
    q->todo = calloc(q->total ? q->total : 1, sizeof(*q->todo));
    if (q->todo == NULL) {
        return poll_fail(q, "out of memory", false);
    }
    q->ntodo = mat_run_new_files(&q->l, &q->done, q->csig, q->todo, q->total, &q->nrej_known);
    return q->ntodo > 0 ? POLL_GO : MR_UNCHANGED;
}

/* Lists the source and decides: POLL_GO (work to do), MR_UNCHANGED, or
 * the poll's end (MR_FAILED). */
static int poll_discover(struct poll *q)
{
    if (mat_discover(q->v->source_path, &q->l, q->err, sizeof(q->err)) != FEATD_OK) {
        if (!(strcmp(q->p.state, MAT_STATE_FAILED) == 0 &&
              strcmp(q->p.last_error, q->err) == 0)) {
            log_error("materializer", "view %s: %s", q->v->name, q->err);
        }
        note_failure(q->x, q->v, q->err, &q->p);
        return poll_fail(q, q->err, false);
    }
    return q->v->mat_mode == MAT_SNAPSHOT ? decide_snapshot(q) : decide_incremental(q);
}

/* Nothing to do: correct a stale recorded state, summarize. */
static int poll_unchanged(struct poll *q)
{
    struct mat_ctx *x = q->x;
    const struct cfg_view *v = q->v;
    const struct mat_progress *p = &q->p;
    bool snap_rejected = q->snap && strcmp(p->rejected_sig, q->run.ident_hex) == 0;
    const char *want = snap_rejected || (v->mat_mode == MAT_INCREMENTAL && q->nrej_known > 0 &&
                                         strcmp(p->state, MAT_STATE_REJECTED) == 0)
                           ? MAT_STATE_REJECTED : MAT_STATE_IDLE;
    bool stale_running = false;
    if (p->exists && strcmp(p->state, MAT_STATE_RUNNING) == 0) {
        /* a run that died (kill -9) leaves "running"; nobody holds the
         * lease, so nobody runs */
        char holder[200];
        int64_t pttl = 0;
        stale_running = x->rc != NULL &&
                        mat_state_lease_peek(mat_ctx_vc(x, v), q->kp, v, holder, sizeof(holder),
                                             &pttl,
                                             q->err, sizeof(q->err)) == FEATD_OK &&
                        holder[0] == '\0';
    }
    if (p->exists && strcmp(p->state, want) != 0 &&
        (strcmp(p->state, MAT_STATE_RUNNING) != 0 || stale_running)) {
        mat_state_set_state(x->hs, want);
        mat_state_set_phase(x->hs, MAT_PHASE_NONE);
        if (strcmp(want, MAT_STATE_IDLE) == 0) {
            mat_state_set_last_error(x->hs, "");
        }
        if (mat_ctx_progress_send(x, v, q->err, sizeof(q->err)) != FEATD_OK) {
            mat_ctx_disconnect(x);
        }
    }
    if (strcmp(want, MAT_STATE_REJECTED) == 0) {
        snprintf(q->msg, q->msglen, "unchanged; newest snapshot %.300s was rejected: %.600s",
                 p->rejected_snapshot, p->rejected_reason);
    } else if (q->snap == NULL && v->mat_mode == MAT_SNAPSHOT) {
        snprintf(q->msg, q->msglen, "nothing to apply (no complete snapshot in %s%s%s)",
                 v->source_path, q->incomplete ? "; waiting for _SUCCESS in " : "",
                 q->incomplete ? q->incomplete->name : "");
    } else {
        snprintf(q->msg, q->msglen, "up to date (%s %s, generation %" PRId64 ")",
                 v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "last file",
                 p->snapshot[0] ? p->snapshot : "-", p->generation);
    }
    int result = MR_UNCHANGED;
    if (v->mat_mode == MAT_INCREMENTAL && q->nrej_known > 0 &&
        strcmp(want, MAT_STATE_REJECTED) == 0 && x->oneshot) {
        result = MR_REJECTED;   /* one-shot: make the status visible */
    }
    if (x->oneshot && snap_rejected) {
        result = MR_REJECTED;
    }
    return poll_end(q, result, result == MR_REJECTED ? MR_UNCHANGED : result, false, 0);
}

/* Takes the lease (one-shot: waiting up to MAT_LEASE_WAIT_MS for it). */
static int poll_lease(struct poll *q)
{
    struct mat_ctx *x = q->x;
    const struct cfg_view *v = q->v;
    if (x->rc == NULL) {
        /* the connection broke while deciding (already logged at debug) */
        return poll_fail(q, "redis connection lost", false);
    }
    char holder[200] = "";
    int lrc;
    int64_t wait_until = util_mono_us() + (x->oneshot ? (int64_t)MAT_LEASE_WAIT_MS * 1000 : 0);
    for (;;) {
        lrc = mat_state_lease_acquire(mat_ctx_vc(x, v), q->kp, v, MAT_LEASE_MS, holder,
                                      sizeof(holder),
                                      q->err, sizeof(q->err));
        if (lrc != FEATD_EAGAIN || util_mono_us() >= wait_until || mat_ctx_stopping(x)) {
            break;
        }
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (lrc == FEATD_EAGAIN) {
        snprintf(q->msg, q->msglen, "busy: lease held by %s", holder);
        log_debug("materializer", "view %s: lease held by %s; not materializing", v->name,
                  holder);
        return poll_end(q, MR_BUSY, MR_BUSY, false, 0);
    }
    if (lrc != FEATD_OK) {
        log_warn("materializer", "view %s: %s", v->name, q->err);
        return poll_fail(q, q->err, true);
    }
    x->lease_mono_us = util_mono_us();
    return POLL_GO;
}

/* Under the lease: re-reads the state (another process may have just done
 * the work) and runs. Returns an enum mat_run_kind or RUN_NOTHING, or
 * the poll's end through *ended. */
static int poll_run(struct poll *q, int *ended)
{
    struct mat_ctx *x = q->x;
    const struct cfg_view *v = q->v;
    if (mat_state_load(mat_ctx_vc(x, v), q->kp, v, &q->p, q->err, sizeof(q->err)) != FEATD_OK) {
        mat_state_lease_release(mat_ctx_vc(x, v), q->kp, v);
        q->have_p = false;
        *ended = poll_fail(q, q->err, true);
        return RUN_FAIL;
    }
    if (v->mat_mode == MAT_SNAPSHOT) {
        if (strcmp(q->p.snapshot_sig, q->run.ident_hex) == 0) {
            return RUN_NOTHING;     /* someone else applied it meanwhile */
        }
        log_info("materializer", "view %s: applying snapshot %s (%zu files)", v->name,
                 q->snap->name, q->snap->nfiles);
        return mat_run_snapshot(x, &q->run, q->snap, &q->p);
    }
    /* re-read the done markers under the lease */
    mat_state_files_free(&q->done);
    if (mat_state_files_load(mat_ctx_vc(x, v), q->kp, v, &q->done, q->run.why,
                             sizeof(q->run.why)) !=
        FEATD_OK) {
        return RUN_FAIL;
    }
    q->ntodo = mat_run_new_files(&q->l, &q->done, q->csig, q->todo, q->total, &q->nrej_known);
    if (q->ntodo == 0) {
        return RUN_NOTHING;
    }
    int k = mat_run_incremental(x, &q->run, q->todo, q->ntodo, q->csig, &q->nrej_files,
                                q->last_reject, sizeof(q->last_reject));
    if (k == RUN_OK && mat_ctx_live(x)) {
        mat_run_files_prune(x, v, &q->done, &q->l);
    }
    if (k == RUN_OK && q->run.nfiles == 0 && q->nrej_files > 0) {
        /* every new file was rejected: nothing applied */
        util_strlcpy(q->run.why, q->last_reject, sizeof(q->run.why));
        k = RUN_REJECT;
        q->nrej_files = 0;
    }
    return k;
}

/* Records a run that applied something; reclaims what its flip replaced. */
static int poll_applied(struct poll *q, double secs)
{
    struct mat_ctx *x = q->x;
    const struct cfg_view *v = q->v;
    struct mat_run *run = &q->run;
    if (v->mat_mode == MAT_INCREMENTAL && q->nrej_files > 0) {
        /* files applied, some rejected: report the rejection */
        run->snap_name = run->snap_name ? run->snap_name : "";
    }
    mat_run_finish(x, run, MR_APPLIED, &q->p);
    if (q->nrej_files > 0) {
        mat_state_set_state(x->hs, MAT_STATE_REJECTED);
        mat_state_set_rejected_reason(x->hs, q->last_reject);
        mat_state_set_rejected_at_us(x->hs, util_now_us());
        if (mat_ctx_progress_send(x, v, q->err, sizeof(q->err)) != FEATD_OK) {
            log_warn("materializer", "view %s: cannot record progress: %s", v->name, q->err);
        }
    }
    if (q->p.generation <= 0 && x->rc != NULL) {
        /* incremental runs upsert into the current generation without
         * reading it into q->p (a first run creates it): read it back so
         * the log line, the summary and the generation gauge are right */
        uint64_t cur = 0;
        if (online_gen_current(mat_ctx_vc(x, v), q->kp, v, &cur, q->err, sizeof(q->err)) ==
            FEATD_OK) {
            q->p.generation = (int64_t)cur;
        } else {
            log_debug("materializer", "view %s: %s", v->name, q->err);
        }
    }
    log_applied(run, &q->p, secs, mat_select_bytes(&x->sel));
    if (run->reclaim_old != 0 || run->reclaim_leftover != 0) {
        mat_state_set_phase(x->hs, MAT_PHASE_RECLAIM);
        if (mat_ctx_progress_send(x, v, q->err, sizeof(q->err)) != FEATD_OK) {
            log_debug("materializer", "view %s: %s", v->name, q->err);
        }
        mat_run_reclaim(x, v, run->reclaim_old, "previous", run->flipped_mono);
        if (run->reclaim_leftover != 0) {
            mat_run_reclaim(x, v, run->reclaim_leftover, "leftover", 0);
            mat_state_set_reclaim_generation(x->hs, 0);
        }
        mat_state_set_phase(x->hs, MAT_PHASE_NONE);
        if (mat_ctx_progress_send(x, v, q->err, sizeof(q->err)) != FEATD_OK) {
            log_debug("materializer", "view %s: %s", v->name, q->err);
        }
    }
    snprintf(q->msg, q->msglen, "applied %s%s (generation %" PRId64 "): %" PRIu64 " rows read, %"
             PRIu64 " written, %" PRIu64 " stale, %" PRIu64 " expired, %" PRIu64
             " rejected, %.2f s%s%s",
             v->mat_mode == MAT_SNAPSHOT ? "snapshot " : "files up to ",
             run->snap_name ? run->snap_name : "?", q->p.generation, run->rows[MK_READ],
             run->rows[MK_WRITTEN], run->rows[MK_STALE], run->rows[MK_EXPIRED],
             run->rows[MK_REJECTED], secs, q->nrej_files ? "; rejected file: " : "",
             q->nrej_files ? q->last_reject : "");
    if (q->nrej_files > 0) {
        return x->oneshot ? MR_REJECTED : MR_APPLIED;
    }
    return MR_APPLIED;
}

/* Records how the run k ended, releases the lease, ends the poll. */
static int poll_outcome(struct poll *q, int k)
{
    struct mat_ctx *x = q->x;
    const struct cfg_view *v = q->v;
    struct mat_run *run = &q->run;
    const char *name = run->snap_name ? run->snap_name : "?";
    double secs = (double)(util_mono_us() - run->started_mono) / 1e6;
    int result;
    if (k == RUN_NOTHING) {
        result = MR_UNCHANGED;
        snprintf(q->msg, q->msglen, "up to date (applied by another process meanwhile)");
    } else if (k == RUN_OK) {
        result = poll_applied(q, secs);
    } else if (k == RUN_HELD) {
        result = MR_HELD;
        mat_run_finish(x, run, MR_HELD, &q->p);
        snprintf(q->msg, q->msglen, "held %s (quality gate): featd-cli materialize quality/promote",
                 name);
    } else if (k == RUN_REJECT) {
        result = MR_REJECTED;
        log_error("materializer", "view %s: snapshot %s rejected, nothing applied (generation %"
                  PRId64 " keeps serving): %s", v->name, name, q->p.generation, run->why);
        mat_run_finish(x, run, MR_REJECTED, &q->p);
        snprintf(q->msg, q->msglen, "rejected %s: %s", name, run->why);
    } else if (k == RUN_STOP) {
        result = MR_STOPPED;
        log_info("materializer", "view %s: stopped before finishing %s; the next start resumes",
                 v->name, run->snap_name ? run->snap_name : "the run");
        mat_state_set_state(x->hs, MAT_STATE_FAILED);
        mat_state_set_last_error(x->hs, "stopped (shutdown) before finishing");
        if (mat_ctx_progress_send(x, v, q->err, sizeof(q->err)) != FEATD_OK) {
            mat_ctx_disconnect(x);
        }
        snprintf(q->msg, q->msglen, "stopped");
    } else {
        result = MR_FAILED;
        log_error("materializer", "view %s: materialization failed (will retry; the current "
                  "generation keeps serving): %s", v->name, run->why);
        if (x->rc != NULL && !mat_ctx_live(x)) {
            mat_ctx_disconnect(x);
        }
        if (mat_ctx_connect(x, q->err, sizeof(q->err)) == FEATD_OK) {
            mat_run_finish(x, run, MR_FAILED, &q->p);
        }
        snprintf(q->msg, q->msglen, "failed: %s", run->why);
    }
    if (mat_ctx_live(x)) {
        mat_state_lease_release(mat_ctx_vc(x, v), q->kp, v);
    } else {
        mat_ctx_disconnect(x);
    }
    bool did_work = k == RUN_OK || k == RUN_REJECT || k == RUN_FAIL || k == RUN_HELD;
    return poll_end(q, result, result == MR_STOPPED ? MR_FAILED : result, did_work, secs);
}

int mat_poll_view(struct mat_ctx *x, const struct cfg_view *v, char *msg, size_t msglen)
{
    struct poll *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        snprintf(msg, msglen, "failed: out of memory");
        return MR_FAILED;
    }
    q->x = x;
    q->v = v;
    q->kp = x->cfg->redis.key_prefix;
    q->msg = msg;
    q->msglen = msglen;
    q->run.v = v;
    q->run.max_event_us = INT64_MIN;
    q->run.started_us = util_now_us();
    q->run.started_mono = util_mono_us();
    q->csig = mat_ctx_config_sig(v);

    int r = poll_open(q);
    if (r == POLL_GO) {
        r = poll_discover(q);
    }
    if (r == MR_UNCHANGED) {
        r = poll_unchanged(q);
    } else if (r == POLL_GO) {
        r = poll_lease(q);
    }
    if (r == POLL_GO) {
        int ended = POLL_GO;
        int k = poll_run(q, &ended);
        r = ended != POLL_GO ? ended : poll_outcome(q, k);
    }
    free(q);
    return r;
}
