/*
 * cli_materialize.c — `featd-cli materialize status` (contract in
 * cli_materialize.h): per view, the state, the applied snapshot and its
 * generation, the last run's rows and duration, lag, a pending or waiting
 * snapshot, the last rejection and error, the lease holder.
 */
#include "cli/cli_materialize.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/jsonw.h"
#include "config/config.h"
#include "featd_client.h"
#include "materialize/mat_state.h"
#include "materialize/mat_stats.h"
#include "online/online_gen.h"
#include "online/online_key.h"
#include "redis/rbcluster.h"
#include "redis/rbconf.h"
#include "stream/stream_status.h"
#include "core/util.h"

static const char usage_text[] =
    "usage: featd-cli materialize status --config FILE [--view V] [--json]\n"
    "       featd-cli materialize purge-old-layout --config FILE [--view V]\n"
    "       featd-cli materialize promote --config FILE --view V\n"
    "       featd-cli materialize rollback --config FILE --view V\n"
    "status shows the materializer's state of every feature view with a source (or of V),\n"
    "read from Redis: state, applied snapshot and generation, rows of the last run,\n"
    "duration, lag, pending / waiting / rejected snapshots, last error, lease; for a view\n"
    "with a stream source: the group's lag, pending entries and consumers, rows written /\n"
    "stale / rejected, dead letters and the consumers' last error.\n"
    "Exit status: 0 all healthy, 1 unreachable or a view failed / was rejected, 2 usage.\n"
    "purge-old-layout deletes every key the config's views (or V) have in the previous\n"
    "online layout (" ONLINE_LAYOUT_PREVIOUS "), paced; run it once no featd older than layout "
    ONLINE_LAYOUT_VERSION " reads them.\n"
    "Exit status: 0 done, 1 Redis or the config could not be read, 2 usage.\n"
    "promote flips V to the generation its quality gate holds (the current one is kept\n"
    "for rollback); rollback flips V back to the generation the last flip replaced (the\n"
    "current one becomes held, so the materializer does not apply its snapshot again).\n"
    "Both take the view's lease: they wait for no run, and fail while one runs.\n";

/* promote / rollback: flips view v by hand under its lease. */
static int cli_materialize_flip(struct rbcluster *c, const struct featd_config *cfg,
                                const struct cfg_view *v, bool promote)
{
    const char *kp = cfg->redis.key_prefix, *what = promote ? "promote" : "rollback";
    char err[1024], holder[200] = "";
    redisContext *vc = online_gen_view_ctx(c, kp, v, err, sizeof(err));
    if (vc == NULL) {
        fprintf(stderr, "featd-cli materialize %s: %s\n", what, err);
        return 1;
    }
    int lr = mat_state_lease_acquire(vc, kp, v, MAT_LEASE_MS, holder, sizeof(holder), err,
                                     sizeof(err));
    if (lr != FEATD_OK) {
        fprintf(stderr, "featd-cli materialize %s: view %s: %s\n", what, v->name,
                lr == FEATD_EAGAIN ? "a materializer run holds the view's lease; try again" : err);
        if (lr == FEATD_EAGAIN && holder[0]) {
            fprintf(stderr, "  (held by %s)\n", holder);
        }
        return 1;
    }
    struct mat_progress p;
    uint64_t cur = 0;
    int rc = 1;
    struct mat_state_update *u = mat_state_update_new();
    if (u == NULL || mat_state_load(vc, kp, v, &p, err, sizeof(err)) != FEATD_OK ||
        online_gen_current(vc, kp, v, &cur, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd-cli materialize %s: view %s: %s\n", what, v->name,
                u ? err : "out of memory");
        goto out;
    }
    uint64_t target = promote ? (uint64_t)p.held_generation : (uint64_t)p.prev_generation;
    if (target == 0 || target == cur) {
        fprintf(stderr, "featd-cli materialize %s: view %s has %s\n", what, v->name,
                promote ? "no held generation" : "no previous generation kept (quality."
                "keep_generations >= 2 keeps one)");
        goto out;
    }
    uint64_t old = 0;
    if (online_gen_flip(vc, kp, v, target, &old, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd-cli materialize %s: view %s: %s\n", what, v->name, err);
        goto out;
    }
    mat_state_set_generation(u, (int64_t)target);
    mat_state_set_prev_generation(u, (int64_t)old);
    mat_state_set_prev_snapshot(u, p.snapshot);
    mat_state_set_prev_sig(u, p.snapshot_sig);
    mat_state_set_state(u, MAT_STATE_IDLE);
    if (promote) {
        mat_state_set_snapshot(u, p.held_snapshot);
        mat_state_set_snapshot_sig(u, p.held_sig);
        mat_state_set_held_generation(u, 0);
        mat_state_set_held_snapshot(u, "");
        mat_state_set_held_sig(u, "");
    } else {
        /* the rolled-back generation is held: not applied again */
        mat_state_set_snapshot(u, p.prev_snapshot);
        mat_state_set_snapshot_sig(u, p.prev_sig);
        mat_state_set_held_generation(u, (int64_t)old);
        mat_state_set_held_snapshot(u, p.snapshot);
        mat_state_set_held_sig(u, p.snapshot_sig);
        mat_state_set_held_at_us(u, util_now_us());
        mat_state_set_violations(u, "rolled back by hand");
    }
    if (online_gen_held_set(vc, kp, v, promote ? 0 : old, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd-cli materialize %s: view %s: the held pointer: %s\n", what,
                v->name, err);
    }
    if (mat_state_send(u, vc, kp, v, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd-cli materialize %s: view %s: flipped to generation %llu, but "
                "recording it failed: %s\n", what, v->name, (unsigned long long)target, err);
        goto out;
    }
    printf("view %s: generation %llu (%s) serves; generation %llu is %s\n", v->name,
           (unsigned long long)target, promote ? p.held_snapshot : p.prev_snapshot,
           (unsigned long long)old, promote ? "kept for rollback" : "held");
    rc = 0;
out:
    mat_state_update_free(u);
    mat_state_lease_release(vc, kp, v);
    return rc;
}

/* purge-old-layout: removes the views' keys of the previous layout. */
static int cli_materialize_purge(struct rbcluster *c, const struct featd_config *cfg, const char *view)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        if (view && strcmp(view, v->name) != 0) {
            continue;
        }
        char err[512];
        uint64_t del = 0;
        if (online_gen_v1_purge_rb(c, cfg->redis.key_prefix, v, 1000, NULL, &del, err, sizeof(err)) !=
            FEATD_OK) {
            fprintf(stderr, "featd-cli materialize: view %s: %s (%llu keys removed before)\n",
                    v->name, err, (unsigned long long)del);
            rc = 1;
            continue;
        }
        printf("view %s: %llu keys of online layout " ONLINE_LAYOUT_PREVIOUS " removed\n", v->name,
               (unsigned long long)del);
    }
    return rc;
}

static void fmt_time(int64_t us, char *buf, size_t cap)
{
    if (us <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    featd_time_format(us, buf, cap);
}

/* "3.2 s", "4.0 min", "2.5 h", "1.3 d" */
static void fmt_age(double secs, char *buf, size_t cap)
{
    double a = secs < 0 ? -secs : secs;
    const char *sign = secs < 0 ? "-" : "";
    if (a < 120) {
        snprintf(buf, cap, "%s%.1f s", sign, a);
    } else if (a < 7200) {
        snprintf(buf, cap, "%s%.1f min", sign, a / 60);
    } else if (a < 172800) {
        snprintf(buf, cap, "%s%.1f h", sign, a / 3600);
    } else {
        snprintf(buf, cap, "%s%.1f d", sign, a / 86400);
    }
}

struct vstatus {
    struct mat_progress p;
    uint64_t current;
    char holder[200];
    int64_t lease_ms;
    bool has_stream;
    struct stream_status st;
};

/* The stream consumer's lines of a view with source.stream. */
static void print_stream(const struct cfg_view *v, const struct vstatus *s)
{
    const struct stream_status *t = &s->st;
    char lag[32] = "unknown";
    if (t->lag >= 0) {
        snprintf(lag, sizeof lag, "%" PRId64 " entries", t->lag);
    }
    if (!t->group_exists) {
        printf("  stream         %s, group %s not created yet (no featd has consumed it): %" PRId64
               " entries\n", v->stream_key, v->stream_group, t->length);
    } else {
        printf("  stream         %s, group %s: lag %s, %" PRId64 " pending, %" PRId64 " consumer%s, "
               "%" PRId64 " entries, last delivered %s\n", v->stream_key, v->stream_group, lag,
               t->pending, t->consumers, t->consumers == 1 ? "" : "s", t->length,
               t->last_delivered[0] ? t->last_delivered : "-");
    }
    printf("  stream rows    %" PRId64 " written, %" PRId64 " stale, %" PRId64 " rejected (%" PRId64
           " in %s:dead)\n", t->written, t->stale, t->rejected, t->dead, v->stream_key);
    if (t->last_error[0]) {
        char at[64];
        fmt_time(t->last_error_at_us, at, sizeof(at));
        printf("  stream error   %s (%s): %s\n", at, t->last_error_consumer, t->last_error);
    }
}

/* The stream part of --json: an object, or null for a view without one. */
static void write_stream_json(struct jsonw *w, const struct vstatus *s)
{
    if (!s->has_stream) {
        jsonw_lit(w, "null");
        return;
    }
    const struct stream_status *t = &s->st;
    jsonw_lit(w, "{\"group_exists\": ");
    jsonw_lit(w, t->group_exists ? "true" : "false");
    jsonw_lit(w, ", \"length\": ");
    jsonw_i64(w, t->length);
    jsonw_lit(w, ", \"lag\": ");
    if (t->lag >= 0) {
        jsonw_i64(w, t->lag);
    } else {
        jsonw_lit(w, "null");
    }
    jsonw_lit(w, ", \"pending\": ");
    jsonw_i64(w, t->pending);
    jsonw_lit(w, ", \"consumers\": ");
    jsonw_i64(w, t->consumers);
    jsonw_lit(w, ", \"last_delivered_id\": ");
    jsonw_strz(w, t->last_delivered);
    jsonw_lit(w, ", \"dead_letters\": ");
    jsonw_i64(w, t->dead);
    jsonw_lit(w, ", \"written\": ");
    jsonw_i64(w, t->written);
    jsonw_lit(w, ", \"stale\": ");
    jsonw_i64(w, t->stale);
    jsonw_lit(w, ", \"rejected\": ");
    jsonw_i64(w, t->rejected);
    jsonw_lit(w, ", \"last_error\": ");
    jsonw_strz(w, t->last_error);
    jsonw_lit(w, ", \"last_error_at_us\": ");
    jsonw_i64(w, t->last_error_at_us);
    jsonw_lit(w, ", \"last_error_consumer\": ");
    jsonw_strz(w, t->last_error_consumer);
    jsonw_char(w, '}');
}

static bool unhealthy(const struct vstatus *s)
{
    return strcmp(s->p.state, "failed") == 0 || strcmp(s->p.state, "rejected") == 0;
}

static void print_text(const struct cfg_view *v, const struct vstatus *s, int64_t now)
{
    const struct mat_progress *p = &s->p;
    char t1[64], t2[64], a1[32];
    if (v->source_path == NULL) {
        printf("view %s (stream %s)\n", v->name, v->stream_key);
        print_stream(v, s);
        return;
    }
    printf("view %s (%s, every %" PRId64 " s, source %s)\n", v->name,
           v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "incremental", v->mat_interval_seconds,
           v->source_path);
    if (s->has_stream) {
        print_stream(v, s);
    }
    if (!p->exists) {
        printf("  state          never materialized%s\n",
               s->current ? " (but a current generation exists)" : "");
        if (s->holder[0]) {
            printf("  lease          held by %s (%" PRId64 " ms left)\n", s->holder, s->lease_ms);
        }
        return;
    }
    printf("  state          %s%s%s\n", p->state[0] ? p->state : "?",
           p->phase[0] ? ", phase " : "", p->phase);
    /* a view whose polls ran but never applied anything (its source is
     * missing, every snapshot rejected, ...): say so instead of a
     * generation 0 and a run that never finished */
    if (s->current == 0 && p->last_success_at_us <= 0) {
        printf("  serving        nothing yet (no generation applied%s)\n",
               p->last_error[0] ? "; see last error" : p->rejected_reason[0]
                                 ? "; see last rejected" : "");
    } else {
        printf("  serving        generation %" PRIu64, s->current);
        if (p->snapshot[0]) {
            printf(", %s%s", v->mat_mode == MAT_SNAPSHOT ? "snapshot " : "last file ",
                   p->snapshot);
        }
        if (p->last_success_at_us > 0) {
            fmt_time(p->last_success_at_us, t1, sizeof(t1));
            fmt_age((double)mat_stats_age_us(now, p->last_success_at_us) / 1e6, a1, sizeof(a1));
            printf(" (last success %s, %s ago)", t1, a1);
        }
        putchar('\n');
    }
    if (p->finished_at_us > 0) {
        fmt_time(p->finished_at_us, t2, sizeof(t2));
        printf("  last run       finished %s in %.3f s: %" PRId64 " files, %" PRId64 " rows read, %"
               PRId64 " written, %" PRId64 " stale, %" PRId64 " expired, %" PRId64 " rejected, %"
               PRId64 " outside max age, %" PRId64 " entities\n", t2,
               (double)p->duration_ms / 1000.0, p->files, p->rows_read, p->rows_written,
               p->rows_skipped_stale, p->rows_skipped_expired, p->rows_rejected,
               p->rows_outside_max_age, p->entities);
    } else {
        printf("  last run       none finished yet\n");
    }
    if (p->max_event_ts_us != 0) {
        fmt_time(p->max_event_ts_us, t1, sizeof(t1));
        fmt_age((double)mat_stats_age_us(now, p->max_event_ts_us) / 1e6, a1, sizeof(a1));
        printf("  lag            %s (newest event time materialized: %s)\n", a1, t1);
    }
    if (p->pending_generation > 0) {
        printf("  pending        generation %" PRId64 " of snapshot %s (%" PRId64
               " files written; not visible until the flip)\n", p->pending_generation,
               p->pending_snapshot, p->pending_files_done);
    }
    if (p->waiting_for[0]) {
        printf("  waiting for    %s (no _SUCCESS marker yet)\n", p->waiting_for);
    }
    if (p->rejected_snapshot[0] || p->rejected_reason[0]) {
        fmt_time(p->rejected_at_us, t1, sizeof(t1));
        printf("  last rejected  %s at %s: %s\n", p->rejected_snapshot, t1, p->rejected_reason);
    }
    if (p->last_error[0]) {
        fmt_time(p->last_error_at_us, t1, sizeof(t1));
        printf("  last error     %s: %s\n", t1, p->last_error);
    }
    if (s->holder[0]) {
        printf("  lease          held by %s (%" PRId64 " ms left)\n", s->holder, s->lease_ms);
    }
    printf("  runs           %" PRId64 " applied, %" PRId64 " failed, %" PRId64 " rejected\n",
           p->runs_ok, p->runs_failed, p->runs_rejected);
}

/* ---- --json: one object, indented by 2 like the rest of featd-cli's JSON ---- */

/* Starts the next member of an object whose members sit at depth ind
 * (spaces): the separator, the indentation and "key": . */
static void json_key(struct jsonw *w, int ind, bool *first, const char *key)
{
    jsonw_lit(w, *first ? "\n" : ",\n");
    *first = false;
    for (int i = 0; i < ind; i++) {
        jsonw_char(w, ' ');
    }
    jsonw_strz(w, key);
    jsonw_lit(w, ": ");
}

/* Closes an object or array whose members sat at depth ind. */
static void json_close(struct jsonw *w, int ind, bool empty, char bracket)
{
    if (!empty) {
        jsonw_char(w, '\n');
        for (int i = 0; i < ind - 2; i++) {
            jsonw_char(w, ' ');
        }
    }
    jsonw_char(w, bracket);
}

/* A number that reads back as a JSON real (jansson's json_real), never as an
 * integer: "5.0", not "5". */
static void json_real(struct jsonw *w, double d)
{
    char num[JSONW_NUM_MAX];
    size_t n = jsonw_fmt_double(num, d);
    if (!isfinite(d)) {
        jsonw_double(w, d);
        return;
    }
    jsonw_raw(w, num, n);
    if (strpbrk(num, ".e") == NULL) {
        jsonw_lit(w, ".0");
    }
}

/* The whole progress hash plus derived fields as one JSON object whose
 * members sit at depth ind. */
static void write_json(struct jsonw *w, int ind, const struct cfg_view *v,
                       const struct vstatus *s, int64_t now)
{
    const struct mat_progress *p = &s->p;
    bool first = true;
    jsonw_char(w, '{');
    json_key(w, ind, &first, "view");
    jsonw_strz(w, v->name);
    /* "mode" is the progress field (the last run's mode, "" before the
     * first run), written here, in the place of the view's configured mode
     * (the JSON has always had it in this position) */
    json_key(w, ind, &first, "mode");
    jsonw_strz(w, p->mode);
    json_key(w, ind, &first, "source");
    if (v->source_path != NULL) {
        jsonw_strz(w, v->source_path);
    } else {
        jsonw_lit(w, "null");
    }
    json_key(w, ind, &first, "stream");
    write_stream_json(w, s);
    json_key(w, ind, &first, "interval_seconds");
    jsonw_i64(w, v->mat_interval_seconds);
    json_key(w, ind, &first, "materialized");
    jsonw_lit(w, p->exists ? "true" : "false");
    json_key(w, ind, &first, "current_generation");
    jsonw_u64(w, s->current);
    json_key(w, ind, &first, "healthy");
    jsonw_lit(w, unhealthy(s) ? "false" : "true");
#define MAT_JS_(name, cap) \
    if (strcmp(#name, "mode") != 0) { \
        json_key(w, ind, &first, #name); \
        jsonw_strz(w, p->name); \
    }
#define MAT_JI_(name) json_key(w, ind, &first, #name); jsonw_i64(w, p->name);
    MAT_PROGRESS_FIELDS(MAT_JS_, MAT_JI_, MAT_JI_)
#undef MAT_JS_
#undef MAT_JI_
    json_key(w, ind, &first, "lag_seconds");
    if (p->max_event_ts_us != 0) {
        json_real(w, (double)mat_stats_age_us(now, p->max_event_ts_us) / 1e6);
    } else {
        jsonw_lit(w, "null");
    }
    json_key(w, ind, &first, "lease_holder");
    if (s->holder[0]) {
        jsonw_strz(w, s->holder);
    } else {
        jsonw_lit(w, "null");
    }
    json_key(w, ind, &first, "lease_ttl_ms");
    jsonw_i64(w, s->lease_ms);
    json_close(w, ind, false, '}');
}

int cli_materialize_main_cfg(int argc, char **argv, const char *config_path)
{
    const char *view = NULL;
    bool json = false;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    bool purge = strcmp(argv[1], "purge-old-layout") == 0;
    bool promote = strcmp(argv[1], "promote") == 0, rollback = strcmp(argv[1], "rollback") == 0;
    if (strcmp(argv[1], "status") != 0 && !purge && !promote && !rollback) {
        fprintf(stderr, "featd-cli materialize: unknown subcommand \"%s\"\n%s", argv[1],
                usage_text);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        } else if (strcmp(argv[i], "--view") == 0 && i + 1 < argc) {
            view = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0 && !purge) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else {
            fprintf(stderr, "featd-cli materialize: unknown or incomplete option \"%s\"\n%s",
                    argv[i], usage_text);
            return 2;
        }
    }
    if (config_path == NULL) {
        fprintf(stderr, "featd-cli materialize: --config FILE is required\n%s", usage_text);
        return 2;
    }
    if ((promote || rollback) && view == NULL) {
        fprintf(stderr, "featd-cli materialize %s: --view V is required\n", argv[1]);
        return 2;
    }
    char err[4096];
    struct featd_config *cfg = NULL;
    if (config_load_file(config_path, true, &cfg, err, sizeof(err)) != FEATD_OK) {
        fprintf(stderr, "featd-cli materialize: config %s is invalid:\n%s\n", config_path, err);
        return 1;
    }
    if (view != NULL) {
        const struct cfg_view *v = config_find_view(cfg, view);
        if (v == NULL || (v->source_path == NULL && v->stream_key == NULL && !purge)) {
            fprintf(stderr, "featd-cli materialize: %s \"%s\"\n",
                    v == NULL ? "unknown feature view" : "no source configured for view", view);
            config_free(cfg);
            return 2;
        }
    }
    struct rbcluster *c = rbconf_connect(cfg, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "featd-cli materialize: %s\n", err);
        config_free(cfg);
        return 1;
    }
    if (promote || rollback) {
        int frc = cli_materialize_flip(c, cfg, config_find_view(cfg, view), promote);
        rbcluster_free(c);
        config_free(cfg);
        return frc;
    }
    if (purge) {
        rbcluster_set_timeout(c, rbconf_bulk_timeout_ms(cfg));
        int prc = cli_materialize_purge(c, cfg, view);
        rbcluster_free(c);
        config_free(cfg);
        return prc;
    }
    int rc = 0;
    int64_t now = util_now_us();
    /* --json: {"views": [ {...}, ... ], "now_us": N} */
    struct jsonw w;
    jsonw_init(&w);
    bool first = true;
    if (json) {
        jsonw_char(&w, '{');
        json_key(&w, 2, &first, "views");
        jsonw_char(&w, '[');
    }
    size_t shown = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        if ((v->source_path == NULL && v->stream_key == NULL) || (view && strcmp(view, v->name) != 0)) {
            continue;
        }
        struct vstatus s;
        memset(&s, 0, sizeof(s));
        /* the view's meta keys share one hash tag: one node answers them all */
        redisContext *vc = online_gen_view_ctx(c, cfg->redis.key_prefix, v, err, sizeof(err));
        if (vc == NULL ||
            mat_state_load(vc, cfg->redis.key_prefix, v, &s.p, err, sizeof(err)) != FEATD_OK ||
            online_gen_current(vc, cfg->redis.key_prefix, v, &s.current, err, sizeof(err)) !=
                FEATD_OK ||
            mat_state_lease_peek(vc, cfg->redis.key_prefix, v, s.holder, sizeof(s.holder),
                                 &s.lease_ms, err, sizeof(err)) != FEATD_OK) {
            fprintf(stderr, "featd-cli materialize: view %s: %s\n", v->name, err);
            rc = 1;
            break;
        }
        if (v->stream_key != NULL) {
            s.has_stream = true;
            if (stream_status_load(c, cfg, v, &s.st, err, sizeof(err)) != FEATD_OK) {
                fprintf(stderr, "featd-cli materialize: view %s: stream %s: %s\n", v->name, v->stream_key, err);
                rc = 1;
                break;
            }
        }
        if (unhealthy(&s)) {
            rc = 1;
        }
        if (json) {
            jsonw_lit(&w, shown > 0 ? ",\n    " : "\n    ");
            write_json(&w, 6, v, &s, now);
        } else {
            if (shown > 0) {
                putchar('\n');
            }
            print_text(v, &s, now);
        }
        shown++;
    }
    if (json) {
        json_close(&w, 4, shown == 0, ']');
        json_key(&w, 2, &first, "now_us");
        jsonw_i64(&w, now);
        json_close(&w, 2, false, '}');
        const char *text = jsonw_end(&w);
        if (text != NULL) {
            puts(text);
        } else {
            fprintf(stderr, "featd-cli materialize: out of memory\n");
            rc = 1;
        }
    } else if (shown == 0) {
        printf("no feature view has a source\n");
    }
    jsonw_free(&w);
    rbcluster_free(c);
    config_free(cfg);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "featd-cli materialize: write error\n");
        rc = 1;
    }
    return rc;
}
