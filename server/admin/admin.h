/*
 * admin.h — the admin HTTP server (server.admin_listen; "" disables it),
 * libevent evhttp on its own thread. That thread is a listener-less worker
 * (worker_init(..., with_listener=false)): it has its own event_base, its own
 * async Redis link and its own metrics, and JSON lookups are built decoded
 * and run with dispatch_begin/dispatch_run on its loop exactly like protobuf
 * lookups on a serving worker. Nothing on the request path takes a lock.
 *
 *   GET  /healthz               200 "ok" while the process runs
 *   GET  /readyz                200 "ready" when the registry is loaded, every
 *                               worker has its Redis link and Redis answers a
 *                               PING within redis.timeout_ms; else 503 and a
 *                               one-line reason ("not ready: ...")
 *   GET  /metrics               Prometheus text format 0.0.4, prefix featd_
 *   GET  /v1/feature-views      the registry as JSON (with live generations)
 *   POST /get-online-features   Feast-shaped JSON lookup
 *   anything else               404 (unknown path) or 405 (wrong method)
 *
 * Lifecycle (main thread): admin_start after the workers run; on SIGHUP
 * admin_set_registry(new) and admin_metrics_note_reload(ok); on SIGTERM admin_drain()
 * (readyz turns 503 so load balancers stop sending); once the workers have
 * finished, admin_stop() closes the port and joins the thread — before the
 * workers array is freed (the metrics page reads it).
 */
#ifndef FEATD_ADMIN_H
#define FEATD_ADMIN_H

#include <stdbool.h>

#include "core/featd.h"
#include "config/registry.h"
#include "core/fbuf.h"

/* Binds server.admin_listen of reg (a bind error fails startup with a message
 * in err), creates the admin worker and starts its thread. Does nothing and
 * returns FEATD_OK when admin_listen is NULL or "". Call once, after the
 * serving workers started (workers/nworkers are read by /metrics). */
int admin_start(struct registry *reg, char *err, size_t errlen) FEATD_MUSTCHECK;

/* Hands a new registry to the admin thread (takes its own reference; the
 * caller keeps its). No-op when the admin server is not running. */
void admin_set_registry(struct registry *reg);

/* Counts a SIGHUP reload: featd_reloads_total{result="ok"|"failed"} and
 * featd_config_last_reload_successful. Any thread. */
void admin_metrics_note_reload(bool ok);

/* Drain started: /readyz answers 503 "not ready: shutting down" from now on;
 * everything else keeps working. Any thread. */
void admin_drain(void);

/* Stops the admin server: closes its port, answers requests still waiting
 * with 503, stops its Redis link and joins the thread. Main thread only,
 * after the serving workers finished. No-op when not running. */
void admin_stop(void);

/*
 * Extra metrics sources (e.g. the materializer's per-view metrics).
 *
 * fn is called on the admin thread for every GET /metrics, after featd's own
 * families, and appends complete metric families in the text exposition
 * format 0.0.4 to out: for each family one "# HELP" and one "# TYPE" line
 * (prom_header, core/prom.h) followed by all of its samples, names prefixed
 * "featd_", label values escaped with prom_label. A family must not be
 * split across calls or reuse a name featd already exposes. fn reads its own
 * state thread-safely (atomics or its own lock) and must not block for long.
 * Returns FEATD_OK, or an error code when out of memory (the scrape then
 * fails with 500).
 *
 * admin_metrics_add_source may be called from any thread at any time (also
 * before admin_start); at most ADMIN_MAX_METRICS_SOURCES sources (FEATD_ERR
 * beyond). Sources stay registered for the life of the process.
 */
#define ADMIN_MAX_METRICS_SOURCES 16
typedef int (*admin_metrics_fn)(struct fbuf *out, void *arg);
int admin_metrics_add_source(admin_metrics_fn fn, void *arg) FEATD_MUSTCHECK;
/* A struct metrics owned by a thread other than the workers (e.g. the
 * stream consumer's), summed into featd's own families like a worker's. The
 * same rules as admin_metrics_add_source. */
struct metrics;
int admin_metrics_add_struct(const struct metrics *m) FEATD_MUSTCHECK;

#endif
