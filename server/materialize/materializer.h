/*
 * materializer.h — keeps the online tier (Redis) in sync with each feature
 * view's offline Parquet source (docs/materializer.md).
 *
 * A background thread with its own blocking Redis connection polls every
 * view that has a source.path, every materialization.interval_seconds:
 *   snapshot mode     the newest complete snapshot (mat_discover.h) is
 *                     schema-checked, reduced to the latest row per entity
 *                     (mat_select.h, two passes), written into a new
 *                     generation and made current with one atomic flip;
 *                     the previous generation is then reclaimed;
 *   incremental mode  every file not yet done is reduced the same way and
 *                     upserted last-write-wins into the view's generation.
 * Progress, per-file done markers and a lease live in Redis
 * (mat_state.h), so a restarted daemon resumes and two daemons on one
 * Redis never materialize the same view at once. Workers never wait on
 * any of this: lookups read the view's current generation pointer in the
 * same MGET as the rows, so a flip is visible everywhere at once.
 *
 * The parts: materializer.c (the thread, the one-shot entry), mat_poll (one
 * view's poll), mat_run (a run), mat_pass (its two passes), mat_ctx.h (the
 * state they share), mat_state (the view's state in Redis), mat_stats (per
 * view statistics and metrics), mat_discover, mat_select, mat_rg, mat_bind.
 *
 * Threading: materializer_start/set_registry/stop/join are called from the
 * main thread; mat_stats_write_metrics from any thread (admin); the run
 * functions only from the materializer thread or a one-shot process.
 */
#ifndef FEATD_MATERIALIZER_H
#define FEATD_MATERIALIZER_H

#include <stdio.h>

#include "config/config.h"
#include "core/featd.h"
#include "core/util.h"
#include "materialize/mat_stats.h"   /* mat_stats_write_metrics, for the admin page */

struct registry;

/* Starts the thread on a reference to reg (taken here). Views without a
 * source are ignored. FEATD_ERR when the thread cannot be created. */
int materializer_start(struct registry *reg, char *err, size_t errlen) FEATD_MUSTCHECK;
/* After a reload: the thread switches to reg (a reference is taken) at its
 * next poll; a run in progress finishes on the old registry. */
void materializer_set_registry(struct registry *reg);
/* Asks the thread to stop at the next safe point (between row groups or
 * views; never between a generation's last write and its flip being
 * recorded). Returns at once; no-op when not started. */
void materializer_stop(void);
/* Waits for the thread to exit (after materializer_stop) and drops its
 * registry reference. No-op when not started. */
void materializer_join(void);

/*
 * `featd materialize`: one pass over cfg's views (only view_name when not
 * NULL) in the calling thread, waiting up to 60 s for a lease held by
 * another process. Writes one line per view to out. Returns 0 when every
 * view is up to date or was applied, 1 when any view failed or its
 * snapshot was rejected, 2 when view_name is unknown or has no source.
 */
int materializer_run_once(const struct featd_config *cfg, const char *view_name, FILE *out);


#endif
