/*
 * main.c — featd entry point: argv, config load, init order, signals, main
 * loop, shutdown sequence.
 *
 *   featd --config FILE [--log-level L] [--log-format text|json]
 *   featd --check-config FILE
 *   featd materialize --config FILE [--view V] [--log-level L]
 *   featd --version | --help
 *
 * Init order: config (+env) -> logging -> embedded redis (if configured) ->
 * registry -> workers (listeners bound here, so bind errors fail startup) ->
 * worker threads -> main loop (signals, child reaping).
 * Signals arrive as libevent events (work runs in loop context, never in a
 * handler): SIGHUP reloads; SIGTERM/SIGINT drain (stop accepting, finish
 * in-flight requests up to server.shutdown_timeout_ms, exit 0); a second
 * SIGTERM/SIGINT exits at once with status 1.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "admin/admin.h"
#include "config/config.h"
#include "redis/embedded.h"
#include "redis/rblock.h"
#include "net/tls.h"
#include "redis/rhealth.h"
#include "core/featd.h"
#include "core/log.h"
#include "materialize/materializer.h"
#include "stream/stream.h"
#include "stream/stream_stats.h"
#include "config/registry.h"
#include "core/fbuf.h"
#include "core/util.h"
#include "net/worker.h"
#include "servlog/servlog.h"

static struct event_base *main_base;
static struct registry *main_reg;
static uint64_t main_reg_version = 1;
static char main_embedded_sock[128];

/* The serving listener's TLS context for reg's config (net/tls.h), owned by
 * reg. 0, or -1 with err (a file missing or not matching). Main thread. */
static int main_tls(struct registry *reg, char *err, size_t errlen)
{
    if (reg->cfg->tls.cert_file == NULL) {
        return 0;
    }
    reg->tls = tls_server_ctx_new(&reg->cfg->tls, err, errlen);
    return reg->tls != NULL ? 0 : -1;
}
static int main_stopping;
static int64_t main_stop_deadline_us;
static struct event *main_stop_timer;
static int main_log_json_cli = -1;     /* --log-format given: 1 json, 0 text; wins over reloads */

/* /metrics source: the materializer's per-view families (any thread). */
static int main_mat_metrics(struct fbuf *out, void *arg)
{
    (void)arg;
    return mat_stats_write_metrics(out);
}

/*
 * Keeps freed request memory mapped. Without this glibc returns the top of
 * each worker's heap to the kernel (madvise) whenever a large request frees
 * its arena, answer buffer and Redis reply, and the next request faults the
 * pages back in: batch lookups (100 entities x 50 features) spent 37% of
 * featd's CPU in page faults and their p50 was 1.25 ms instead of 0.91 ms.
 * Blocks under 4 MiB come from the heaps; up to 16 MiB free at a heap's top
 * stays mapped (bounded per malloc arena: one per worker thread at most).
 */
static void main_tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featd --config FILE [--log-level error|warn|info|debug] [--log-format text|json]\n"
            "       featd --check-config FILE\n"
            "       featd materialize --config FILE [--view V] [--log-level L]\n"
            "       featd --version\n"
            "Environment overrides: FEATD_LISTEN, FEATD_REDIS_URL, FEATD_REDIS_PASSWORD,\n"
            "FEATD_WORKERS, FEATD_LOG_LEVEL, ... — every one is listed with its key in\n"
            "docs/config.md (\"Environment overrides\").\n");
}

static void main_reload(void)
{
    char err[8192];
    struct featd_config *cfg = NULL;
    const char *path = main_reg->cfg->path;
    if (config_load_file(path, true, &cfg, err, sizeof(err)) != FEATD_OK) {
        log_error("reload", "config %s is invalid; keeping the running registry:\n%s", path, err);
        admin_metrics_note_reload(false);
        return;
    }
    char changes[2048];
    if (config_reload_restart_needed(main_reg->cfg, cfg, changes, sizeof(changes)) > 0) {
        log_warn("reload", "these settings changed but only take effect after a restart "
                 "(running values kept):\n%s", changes);
        config_reload_keep_restart_only(main_reg->cfg, cfg);
    }
    int lvl = log_level_parse(cfg->server.log_level);
    if (lvl >= 0) {
        log_init(lvl, main_log_json_cli >= 0 ? main_log_json_cli == 1 : cfg->server.log_format == LOGF_JSON);
    }
    struct registry *reg = registry_new(cfg, ++main_reg_version);
    if (reg == NULL) {
        config_free(cfg);
        log_error("reload", "out of memory; keeping the running registry");
        admin_metrics_note_reload(false);
        return;
    }
    char terr[512];
    if (main_tls(reg, terr, sizeof(terr)) != 0) {
        registry_unref(reg);
        log_error("reload", "%s; keeping the running registry (and its certificate)", terr);
        admin_metrics_note_reload(false);
        return;
    }
    for (int i = 0; i < nworkers; i++) {
        if (worker_send(&workers[i], WMSG_REGISTRY, registry_ref(reg)) != FEATD_OK) {
            registry_unref(reg);
            log_error("reload", "worker %d queue full; it keeps the old registry", i);
        }
    }
    admin_set_registry(reg);
    materializer_set_registry(reg);
    stream_set_registry(reg);
    if (servlog_apply(reg->cfg, terr, sizeof(terr)) != FEATD_OK) {
        log_error("reload", "%s", terr);
    }
    admin_metrics_note_reload(true);
    rhealth_reset();    /* evictions before the reload no longer make featd unready */
    registry_unref(main_reg);
    main_reg = reg;
    log_info("reload", "registry %llu loaded from %s: %zu entities, %zu feature views",
             (unsigned long long)reg->version, reg->cfg->path, cfg->nentities, cfg->nviews);
}

static void main_check_done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    int alive = 0;
    for (int i = 0; i < nworkers; i++) {
        alive += !atomic_load(&workers[i].done);
    }
    if (alive == 0) {
        event_base_loopexit(main_base, NULL);
        return;
    }
    if (util_mono_us() > main_stop_deadline_us) {
        log_warn("main", "shutdown deadline passed with %d workers still busy; closing their connections",
                 alive);
        for (int i = 0; i < nworkers; i++) {
            if (worker_send(&workers[i], WMSG_STOP, NULL) != FEATD_OK) {
                log_error("main", "worker %d queue full at stop", i);
            }
        }
        main_stop_deadline_us = INT64_MAX;
    }
}

static void main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        log_info("main", "SIGHUP: reloading %s", main_reg->cfg->path);
        main_reload();
        return;
    }
    if (sig == SIGCHLD) {
        embedded_reap();
        return;
    }
    if (main_stopping) {
        log_safe("featd: second signal, exiting now\n");
        embedded_stop();
        _exit(1);
    }
    main_stopping = 1;
    int ms = main_reg->cfg->server.shutdown_timeout_ms;
    log_info("main", "%s: draining (stop accepting, finish in-flight requests, up to %d ms)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", ms);
    main_stop_deadline_us = util_mono_us() + (int64_t)ms * 1000;
    for (int i = 0; i < nworkers; i++) {
        if (worker_send(&workers[i], WMSG_DRAIN, NULL) != FEATD_OK) {
            log_error("main", "worker %d queue full at drain", i);
        }
    }
    admin_drain();
    materializer_stop();
    stream_stop();
    main_stop_timer = event_new(main_base, -1, EV_PERSIST, main_check_done_cb, NULL);
    struct timeval tv = { 0, 10000 };
    event_add(main_stop_timer, &tv);
}

/* Loads the config (environment overrides applied) and starts logging at
 * log_level (NULL: the file's), as JSON when json is 1, as text when 0, as
 * the file says when -1. Returns 0, or the exit status after a message on
 * stderr (1 invalid config, 2 bad log level). */
static int main_load(const char *path, const char *log_level, int json, struct featd_config **out)
{
    char err[16384];
    struct featd_config *cfg = NULL;
    if (config_load_file(path, true, &cfg, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd: %s is invalid:\n%s\n", path, err);
        return 1;
    }
    int lvl = log_level_parse(log_level ? log_level : cfg->server.log_level);
    if (lvl < 0) {
        fprintf(stderr, "featd: unknown log level \"%s\" (expected error, warn, info or debug)\n",
                log_level ? log_level : cfg->server.log_level);
        config_free(cfg);
        return 2;
    }
    log_init(lvl, json < 0 ? cfg->server.log_format == LOGF_JSON : json == 1);
    *out = cfg;
    return 0;
}

/*
 * `featd materialize --config FILE [--view V] [--log-level L]`: one
 * materialization pass in the foreground (materializer_run_once), for batch
 * schedulers. Exit status: 0 all views up to date or applied, 1 a view
 * failed or its snapshot was rejected, 2 usage.
 */
static int main_materialize(int argc, char **argv)
{
    const char *config_path = NULL, *view = NULL, *log_level = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(a, "--view") == 0 && i + 1 < argc) {
            view = argv[++i];
        } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
            log_level = argv[++i];
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: featd materialize --config FILE [--view V] [--log-level L]\n"
                   "Runs one materialization pass of every view with a source (or of V) and\n"
                   "exits: 0 all up to date or applied, 1 a view failed or was rejected, 2 usage.\n");
            return 0;
        } else {
            fprintf(stderr, "featd materialize: unknown or incomplete argument \"%s\"\n", a);
            return 2;
        }
    }
    if (config_path == NULL) {
        fprintf(stderr, "usage: featd materialize --config FILE [--view V] [--log-level L]\n");
        return 2;
    }
    struct featd_config *cfg = NULL;
    int lrc = main_load(config_path, log_level, -1, &cfg);
    if (lrc != 0) {
        return lrc;
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = materializer_run_once(cfg, view, stdout);
    config_free(cfg);
    return rc;
}

/* What the command line asked for (the daemon form; `materialize` is
 * main_materialize's). */
struct main_args {
    const char *config_path;
    const char *check_path;
    const char *log_level;
    const char *log_format;
};

/* Parses argv into a. Returns -1 to go on, or the exit status when done
 * (--version, --help: 0; a bad argument: 2 after the usage). */
static int main_parse_args(int argc, char **argv, struct main_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if ((strcmp(arg, "--config") == 0 || strcmp(arg, "-c") == 0) && i + 1 < argc) {
            a->config_path = argv[++i];
        } else if ((strcmp(arg, "--check-config") == 0 || strcmp(arg, "-t") == 0) && i + 1 < argc) {
            a->check_path = argv[++i];
        } else if (strcmp(arg, "--log-level") == 0 && i + 1 < argc) {
            a->log_level = argv[++i];
        } else if (strcmp(arg, "--log-format") == 0 && i + 1 < argc) {
            a->log_format = argv[++i];
        } else if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
            printf("featd %s\n", FEATD_VERSION);
            return 0;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "featd: unknown or incomplete argument \"%s\"\n", arg);
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* Warns on stdout (not an error: the directory may appear later) about each
 * view whose source.path names nothing that exists yet — for a glob, its
 * literal directory part. Relative paths are resolved against the working
 * directory, which the warning names. Returns how many warnings. */
static int main_check_sources(const struct featd_config *cfg)
{
    char cwd[1024];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        util_strlcpy(cwd, "(unknown)", sizeof(cwd));
    }
    int n = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        const char *sp = cfg->views[i].source_path;
        if (sp == NULL || strstr(sp, "://") != NULL) {
            continue;
        }
        char dir[1024];
        util_strlcpy(dir, sp, sizeof(dir));
        char *glob = strpbrk(dir, "*?[");
        if (glob != NULL) {             /* the directory before the first pattern */
            *glob = '\0';
            char *slash = strrchr(dir, '/');
            if (slash == NULL) {
                util_strlcpy(dir, ".", sizeof(dir));
            } else {
                slash[slash == dir ? 1 : 0] = '\0';
            }
        }
        struct stat st;
        if (stat(dir, &st) != 0) {
            printf("featd: warning: view %s: source.path \"%s\"%s%s%s%s%s: %s (the "
                   "materializer retries each interval until it appears)\n",
                   cfg->views[i].name, sp, sp[0] == '/' ? "" : " (relative to the working "
                   "directory ", sp[0] == '/' ? "" : cwd, sp[0] == '/' ? "" : ")",
                   glob != NULL ? ", its directory " : "", glob != NULL ? dir : "",
                   strerror(errno));
            n++;
        }
    }
    return n;
}

/* `featd --check-config FILE`: validates (environment applied) and exits
 * 0 when valid, 1 with the errors on stderr otherwise. Prints the serving
 * and admin addresses in force (scripts/run-example.sh reads them) and
 * warns about source paths that do not exist (main_check_sources). */
static int main_check_config(const char *path)
{
    char err[16384];
    struct featd_config *cfg = NULL;
    if (config_load_file(path, true, &cfg, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd: %s is invalid:\n%s\n", path, err);
        return 1;
    }
    printf("featd: %s is valid: %zu entities, %zu feature views\n", path, cfg->nentities,
           cfg->nviews);
    const char *adm = cfg->server.admin_listen;
    printf("featd: serving port %s, admin port %s\n", cfg->server.listen,
           adm != NULL && adm[0] != '\0' ? adm : "off");
    main_check_sources(cfg);
    config_free(cfg);
    return 0;
}

/* Startup after the signals are set up: embedded Redis, the registry, the
 * workers (listeners bound, threads started), the admin port and the
 * materializer. Main thread only. Returns 0, or 1 after logging why (the
 * process then exits; only the embedded Redis is stopped). */
static int main_start(struct featd_config *cfg)
{
    char err[16384];
    if (cfg->redis.embedded) {
        if (embedded_start(cfg, main_embedded_sock, sizeof(main_embedded_sock), err, sizeof(err)) != FEATD_OK) {
            log_error("main", "%s", err);
            config_free(cfg);
            return 1;
        }
        worker_shared.redis_unix_override = main_embedded_sock;
    }

    main_reg = registry_new(cfg, main_reg_version);
    if (main_reg == NULL) {
        log_error("main", "out of memory at startup");
        embedded_stop();
        return 1;
    }
    if (main_tls(main_reg, err, sizeof(err)) != 0) {
        char cwd[1024];
        const struct cfg_tls *t = &cfg->tls;
        bool rel = (t->cert_file && t->cert_file[0] != '/') || (t->key_file && t->key_file[0] != '/') ||
                   (t->client_ca_file && t->client_ca_file[0] != '/');
        log_error("main", "%s%s%s%s", err, rel ? " (relative paths are relative to the working "
                  "directory " : "", rel ? (getcwd(cwd, sizeof cwd) ? cwd : "?") : "", rel ? ")" : "");
        embedded_stop();
        return 1;
    }
    nworkers = cfg->server.workers;
    workers = calloc((size_t)nworkers, sizeof(*workers));
    for (int i = 0; i < nworkers; i++) {
        if (worker_init(&workers[i], i, main_reg, true, err, sizeof(err)) != FEATD_OK) {
            log_error("main", "%s", err);
            embedded_stop();
            return 1;
        }
    }
    for (int i = 0; i < nworkers; i++) {
        if (worker_start(&workers[i]) != FEATD_OK) {
            log_error("main", "cannot start worker thread %d", i);
            embedded_stop();
            return 1;
        }
    }
    if (admin_start(main_reg, err, sizeof(err)) != FEATD_OK) {
        log_error("main", "%s", err);
        embedded_stop();
        return 1;
    }
    if (materializer_start(main_reg, err, sizeof(err)) != FEATD_OK) {
        log_error("main", "%s", err);
        embedded_stop();
        return 1;
    }
    if (admin_metrics_add_source(main_mat_metrics, NULL) != FEATD_OK) {
        log_warn("main", "materializer metrics are not on /metrics (too many metrics sources)");
    }
    if (stream_start(main_reg, err, sizeof(err)) != FEATD_OK) {
        log_error("main", "%s", err);
        embedded_stop();
        return 1;
    }
    if (admin_metrics_add_source(stream_stats_write_metrics, NULL) != FEATD_OK ||
        admin_metrics_add_struct(&stream_metrics) != FEATD_OK) {
        log_warn("main", "stream consumer metrics are not on /metrics (too many metrics sources)");
    }
    err[0] = '\0';
    if (servlog_apply(main_reg->cfg, err, sizeof(err)) != FEATD_OK ||
        admin_metrics_add_source(servlog_write_metrics, NULL) != FEATD_OK) {
        char cwd[1024];
        const char *sp = main_reg->cfg->serving_log.path;
        bool rel = err[0] && sp != NULL && sp[0] != '/';
        log_error("main", "serving log: %s%s%s%s", err[0] ? err : "too many metrics sources",
                  rel ? " (serving_log.path is relative to the working directory " : "",
                  rel ? (getcwd(cwd, sizeof cwd) ? cwd : "?") : "", rel ? ")" : "");
        embedded_stop();
        return 1;
    }
    return 0;
}

/* The end of the shutdown sequence, once the main loop has returned: join
 * the admin thread, the materializer and the workers, then free everything
 * (sigs are the n signal events). */
static void main_finish(struct event **sigs, int n)
{
    admin_stop();
    materializer_join();
    stream_join();
    for (int i = 0; i < nworkers; i++) {
        worker_join_and_free(&workers[i]);
    }
    servlog_stop();     /* after every producer: writes out the queued lines */
    free(workers);
    for (int i = 0; i < n; i++) {
        event_free(sigs[i]);
    }
    if (main_stop_timer) {
        event_free(main_stop_timer);
    }
    event_base_free(main_base);
    embedded_stop();
    registry_unref(main_reg);
    free((char *)worker_shared.config_path);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "materialize") == 0) {
        return main_materialize(argc - 1, argv + 1);
    }
    struct main_args args;
    int prc = main_parse_args(argc, argv, &args);
    if (prc >= 0) {
        return prc;
    }
    if (args.check_path) {
        return main_check_config(args.check_path);
    }
    if (args.config_path == NULL) {
        usage(stderr);
        return 2;
    }

    int json = -1;
    if (args.log_format) {
        if (strcmp(args.log_format, "json") != 0 && strcmp(args.log_format, "text") != 0) {
            fprintf(stderr, "featd: unknown log format \"%s\" (expected text or json)\n",
                    args.log_format);
            return 2;
        }
        json = strcmp(args.log_format, "json") == 0;
        main_log_json_cli = json;
    }
    struct featd_config *cfg = NULL;
    int lrc = main_load(args.config_path, args.log_level, json, &cfg);
    if (lrc != 0) {
        return lrc;
    }

    main_tune_malloc();
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    worker_shared.start_us = util_now_us();
    worker_shared.config_path = util_xstrdup(cfg->path);   /* outlives reloads */

    /* Signals first: a SIGTERM that arrives while we start (the listeners
     * accept connections as soon as they are bound) must not kill us with
     * the default action; it is handled once the loop runs. */
    main_base = event_base_new();
    if (main_base == NULL) {
        log_error("main", "cannot create the main event base");
        return 1;
    }
    struct event *sigs[4];
    int signos[4] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD };
    for (int i = 0; i < 4; i++) {
        sigs[i] = evsignal_new(main_base, signos[i], main_signal_cb, NULL);
        event_add(sigs[i], NULL);
    }
    if (main_start(cfg) != 0) {
        return 1;
    }

    char ep[512];
    rblock_endpoint(cfg, ep, sizeof(ep));   /* never the password of a redis:// URL */
    log_info("main", "featd %s serving %s%s with %d workers; %zu feature views; redis %s",
             FEATD_VERSION, cfg->server.listen,
             cfg->tls.cert_file == NULL ? "" : cfg->tls.client_ca_file ? " (TLS, client certificates)"
                                                                      : " (TLS)",
             nworkers, cfg->nviews, ep);

    event_base_dispatch(main_base);

    main_finish(sigs, 4);
    log_info("main", "stopped");
    return 0;
}
