/*
 * mat_stats.c — the materializer's process-wide per-view statistics, its
 * poll schedule, and their Prometheus families (contract in mat_stats.h).
 * Everything here is guarded by stats_lock: the materializer thread (or a
 * one-shot run) writes, the admin thread reads; the pacing gauges are
 * relaxed atomics instead.
 */
#include "materialize/mat_stats.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "core/prom.h"
#include "core/util.h"
#include "materialize/mat_state.h"

#define MAT_BACKOFF_MIN_US 1000000      /* first retry delay after a failure */
#define MAT_BUSY_RETRY_US 2000000       /* retry delay while another holds the lease */

static const char *const kind_names[MK__N] = {
    "read", "written", "skipped_expired", "skipped_stale", "rejected", "outside_max_age"
};

static const char *const result_names[MR__N] = {
    "applied", "unchanged", "rejected", "failed", "busy", "held"
};

struct mat_vstat {
    char name[160];
    uint64_t rows[MK__N];
    uint64_t runs[MR__N];
    int64_t last_success_us;    /* 0 = unknown */
    int64_t max_event_us;       /* INT64_MIN = unknown */
    double duration_s;          /* < 0 = unknown */
    uint64_t generation;
    int up;                     /* -1 unknown */
    bool live;                  /* in the registry last time we looked */
    int old_layout;             /* enum mat_old_layout */
    int64_t failing_since_us;   /* monotonic; first of the polls failing in a row, 0 = none */
    int64_t interval_us;        /* the view's interval at its last poll */
    int64_t next_due_us;        /* monotonic; materializer thread only */
    int64_t backoff_us;
    int held;                   /* the quality gate holds a generation; -1 unknown */
    uint64_t violations[MAT_RULES__N];  /* broken quality rules, by rule */
    char **psi_names;           /* the view's features at the last verdict */
    double *psi;                /* their PSI (< 0: not computed) */
    size_t npsi;
};

static const char *const rule_names[MAT_RULES__N] = {
    "expect", "max_null_fraction", "min_rows", "max_row_change", "max_psi"
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mat_vstat *stats;
static size_t nstats;

/* Write pacing, process-wide (one materializing thread writes, relaxed). */
static _Atomic(const char *) pace_mode;     /* static name; NULL until published */
static _Atomic uint64_t pace_rate;          /* rows/s, 0 = unpaced */
static _Atomic uint64_t pace_backoffs;
static _Atomic uint64_t pace_p99_us;        /* last window judged; 0 = none */
static _Atomic uint64_t pace_budget_us;     /* the latency budget in force */

void mat_stats_pacing(const char *mode, uint64_t rate, uint64_t new_backoffs, uint64_t p99_us,
                      uint64_t budget_us)
{
    atomic_store_explicit(&pace_budget_us, budget_us, memory_order_relaxed);
    atomic_store_explicit(&pace_rate, rate, memory_order_relaxed);
    atomic_fetch_add_explicit(&pace_backoffs, new_backoffs, memory_order_relaxed);
    atomic_store_explicit(&pace_p99_us, p99_us, memory_order_relaxed);
    atomic_store_explicit(&pace_mode, mode, memory_order_relaxed);
}

/* The pacing families (process-wide; label pacing = the mode in force),
 * absent until a materializing context published them. */
static int write_pacing(struct fbuf *out)
{
    static const struct {
        const char *name, *type, *help;
        _Atomic uint64_t *v;
        bool us;                    /* µs, written in seconds */
    } fam[] = {
        { "featd_materializer_rate_limit_rows_per_second", "gauge",
          "The materializer's current write rate limit (0 = unpaced)", &pace_rate, false },
        { "featd_materializer_pacing_backoffs_total", "counter",
          "Adaptive pacing windows whose serving Redis p99 was over the budget (each slowed "
          "the writes)", &pace_backoffs, false },
        { "featd_materializer_pacing_redis_p99_seconds", "gauge",
          "Serving workers' Redis round-trip p99 in the last adaptive pacing window (0 = too "
          "few lookups)", &pace_p99_us, true },
        { "featd_materializer_pacing_latency_budget_seconds", "gauge",
          "The serving Redis p99 budget of adaptive pacing in force (configured, or 1.5 x the "
          "p99 while not writing)", &pace_budget_us, true },
    };
    const char *mode = atomic_load_explicit(&pace_mode, memory_order_relaxed);
    for (size_t i = 0; mode != NULL && i < sizeof(fam) / sizeof(fam[0]); i++) {
        uint64_t v = atomic_load_explicit(fam[i].v, memory_order_relaxed);
        if (prom_header(out, fam[i].name, fam[i].type, fam[i].help) != FEATD_OK ||
            (fam[i].us ? fbuf_appendf(out, "%s{pacing=\"%s\"} %.6f\n", fam[i].name, mode,
                                      (double)v / 1e6)
                       : fbuf_appendf(out, "%s{pacing=\"%s\"} %" PRIu64 "\n", fam[i].name, mode,
                                      v)) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

/* Finds or adds the entry of a view (stats_lock held). NULL on OOM. */
static struct mat_vstat *vstat_get(const char *name)
{
    for (size_t i = 0; i < nstats; i++) {
        if (strcmp(stats[i].name, name) == 0) {
            return &stats[i];
        }
    }
    struct mat_vstat *ns = realloc(stats, (nstats + 1) * sizeof(*ns));
    if (ns == NULL) {
        return NULL;
    }
    stats = ns;
    struct mat_vstat *s = &stats[nstats++];
    memset(s, 0, sizeof(*s));
    util_strlcpy(s->name, name, sizeof(s->name));
    s->max_event_us = INT64_MIN;
    s->duration_s = -1;
    s->up = -1;
    s->held = -1;
    s->live = true;
    return s;
}

void mat_stats_quality(const struct cfg_view *v, const double *psi, const char *report)
{
    pthread_mutex_lock(&stats_lock);
    struct mat_vstat *s = vstat_get(v->name);
    if (s != NULL) {
        for (const char *l = report; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            size_t n = strcspn(l, ":");
            for (int r = 0; r < MAT_RULES__N; r++) {
                if (strlen(rule_names[r]) == n && strncmp(l, rule_names[r], n) == 0) {
                    s->violations[r]++;
                }
            }
        }
        if (s->npsi != v->nfeatures) {
            for (size_t i = 0; i < s->npsi; i++) {
                free(s->psi_names[i]);
            }
            free(s->psi_names);
            free(s->psi);
            s->psi_names = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(char *));
            s->psi = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(double));
            s->npsi = s->psi_names && s->psi ? v->nfeatures : 0;
            for (size_t i = 0; i < s->npsi; i++) {
                s->psi_names[i] = util_xstrdup(v->features[i].name);
            }
        }
        for (size_t i = 0; i < s->npsi; i++) {
            if (strcmp(s->psi_names[i], v->features[i].name) != 0) {
                free(s->psi_names[i]);
                s->psi_names[i] = util_xstrdup(v->features[i].name);
            }
            s->psi[i] = psi[i];
        }
    }
    pthread_mutex_unlock(&stats_lock);
}

void mat_stats_record(const struct cfg_view *v, const uint64_t rows[MK__N], int result,
                      const struct mat_progress *p, bool counted_rows, double duration_s)
{
    pthread_mutex_lock(&stats_lock);
    struct mat_vstat *s = vstat_get(v->name);
    if (s != NULL) {
        if (counted_rows) {
            for (int m = 0; m < MK__N; m++) {
                s->rows[m] += rows[m];
            }
            s->duration_s = duration_s;
        }
        if (result >= 0 && result < MR__N) {
            s->runs[result]++;
        }
        /* p->exists is false on a view's first load (the progress hash was
         * read before the run wrote it), yet the run filled in its success
         * time, newest event and generation: take every field that is known,
         * so the gauges appear right after the first load. */
        if (p != NULL) {
            if (p->last_success_at_us > 0) {
                s->last_success_us = p->last_success_at_us;
            }
            if (p->max_event_ts_us != 0) {
                s->max_event_us = p->max_event_ts_us;
            }
            if (p->generation > 0) {
                s->generation = (uint64_t)p->generation;
            }
        }
        if (p != NULL && (p->exists || result == MR_APPLIED)) {
            if (!counted_rows && s->duration_s < 0 && p->duration_ms > 0) {
                s->duration_s = (double)p->duration_ms / 1000.0;
            }
            s->held = p->held_generation > 0;
        }
        if (result == MR_APPLIED || result == MR_UNCHANGED || result == MR_BUSY) {
            s->up = 1;
        } else if (result == MR_FAILED || result == MR_REJECTED) {
            s->up = 0;
        }
    }
    pthread_mutex_unlock(&stats_lock);
}

void mat_stats_mark_live(const struct featd_config *cfg)
{
    pthread_mutex_lock(&stats_lock);
    for (size_t i = 0; i < nstats; i++) {
        const struct cfg_view *v = config_find_view(cfg, stats[i].name);
        stats[i].live = v != NULL && v->source_path != NULL;
    }
    pthread_mutex_unlock(&stats_lock);
}

int mat_stats_set_old_layout(const char *view, int state)
{
    pthread_mutex_lock(&stats_lock);
    struct mat_vstat *s = vstat_get(view);
    int was = MAT_OLD_LAYOUT_NONE;
    if (s) {
        was = s->old_layout;
        s->old_layout = state;
    }
    pthread_mutex_unlock(&stats_lock);
    return was;
}

/* Appends name (the n-th) to the comma-separated names[0..cap), truncating. */
static void names_add(char *names, size_t cap, size_t *len, size_t n, const char *name)
{
    if (cap > 0 && *len + 1 < cap) {
        int w = snprintf(names + *len, cap - *len, "%s%s", n ? ", " : "", name);
        *len = w > 0 && (size_t)w < cap - *len ? *len + (size_t)w : cap - 1;
    }
}

size_t mat_stats_old_layout(int state, char *names, size_t cap)
{
    size_t n = 0, len = 0;
    if (cap > 0) {
        names[0] = '\0';
    }
    pthread_mutex_lock(&stats_lock);
    for (size_t i = 0; i < nstats; i++) {
        if (!stats[i].live || stats[i].old_layout != state) {
            continue;
        }
        names_add(names, cap, &len, n++, stats[i].name);
    }
    pthread_mutex_unlock(&stats_lock);
    return n;
}

size_t mat_stats_stuck(int64_t intervals, char *names, size_t cap)
{
    size_t n = 0, len = 0;
    if (cap > 0) {
        names[0] = '\0';
    }
    if (intervals <= 0) {
        return 0;
    }
    int64_t now = util_mono_us();
    pthread_mutex_lock(&stats_lock);
    for (size_t i = 0; i < nstats; i++) {
        const struct mat_vstat *s = &stats[i];
        if (!s->live || s->failing_since_us == 0 ||
            now - s->failing_since_us <= intervals * s->interval_us) {
            continue;
        }
        names_add(names, cap, &len, n++, s->name);
    }
    pthread_mutex_unlock(&stats_lock);
    return n;
}

int64_t mat_stats_due(const char *view)
{
    pthread_mutex_lock(&stats_lock);
    struct mat_vstat *s = vstat_get(view);
    int64_t due = s ? s->next_due_us : 0;
    if (s) {
        s->live = true;
    }
    pthread_mutex_unlock(&stats_lock);
    return due;
}

int64_t mat_stats_schedule(const char *view, int result, int64_t interval_us)
{
    int64_t next = 0;
    pthread_mutex_lock(&stats_lock);
    struct mat_vstat *s = vstat_get(view);
    if (s) {
        int64_t delay = interval_us;
        if (result == MR_FAILED) {
            s->backoff_us = s->backoff_us ? s->backoff_us * 2 : MAT_BACKOFF_MIN_US;
            if (s->backoff_us > interval_us) {
                s->backoff_us = interval_us;
            }
            delay = s->backoff_us;
        } else {
            s->backoff_us = 0;
            if (result == MR_BUSY && delay > MAT_BUSY_RETRY_US) {
                delay = MAT_BUSY_RETRY_US;
            }
        }
        int64_t now = util_mono_us();
        if (result != MR_FAILED) {
            s->failing_since_us = 0;
        } else if (s->failing_since_us == 0) {
            s->failing_since_us = now;
        }
        s->interval_us = interval_us;
        s->next_due_us = now + delay;
        next = s->next_due_us;
    }
    pthread_mutex_unlock(&stats_lock);
    return next;
}

/* ---- metrics ---- */

/* Appends "<name>{view=\"<view>\"" (the caller closes the label set). */
static int sample(struct fbuf *out, const char *name, const char *view)
{
    if (fbuf_appendf(out, "%s{view=\"", name) != FEATD_OK || prom_label(out, view) != FEATD_OK ||
        fbuf_putc(out, '"') != FEATD_OK) {
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* The two labelled counter families: rows by kind, polls by result. */
static int write_counters(struct fbuf *out)
{
    static const char rows[] = "featd_materializer_rows_total";
    static const char runs[] = "featd_materializer_runs_total";
    if (prom_header(out, rows, "counter", "Rows handled by the materializer, by outcome") !=
        FEATD_OK) {
        return FEATD_ERR;
    }
    for (size_t i = 0; i < nstats; i++) {
        for (int k = 0; stats[i].live && k < MK__N; k++) {
            if (sample(out, rows, stats[i].name) != FEATD_OK ||
                fbuf_appendf(out, ",kind=\"%s\"} %" PRIu64 "\n", kind_names[k],
                             stats[i].rows[k]) != FEATD_OK) {
                return FEATD_ERR;
            }
        }
    }
    if (prom_header(out, runs, "counter", "Materialization polls, by result") != FEATD_OK) {
        return FEATD_ERR;
    }
    for (size_t i = 0; i < nstats; i++) {
        for (int k = 0; stats[i].live && k < MR__N; k++) {
            if (sample(out, runs, stats[i].name) != FEATD_OK ||
                fbuf_appendf(out, ",result=\"%s\"} %" PRIu64 "\n", result_names[k],
                             stats[i].runs[k]) != FEATD_OK) {
                return FEATD_ERR;
            }
        }
    }
    return FEATD_OK;
}

/* The per-view gauges, each present once known. */
enum gauge { G_LAST_SUCCESS, G_LAG, G_AHEAD, G_SINCE_SUCCESS, G_DURATION, G_GENERATION, G_UP,
             G_HELD, G__N };

static const struct {
    const char *name;
    const char *help;
} gauges[G__N] = {
    { "featd_materializer_last_success_timestamp_seconds",
      "When the view was last materialized successfully (by any replica)" },
    { "featd_materializer_lag_seconds",
      "Now minus the newest event time materialized (0 when that time is in the future)" },
    { "featd_materializer_event_time_ahead_seconds",
      "How far the newest event time materialized is ahead of now (future-dated data)" },
    { "featd_materializer_seconds_since_success",
      "Seconds since the view was last materialized successfully (by any replica)" },
    { "featd_materializer_duration_seconds", "Duration of the last run that did work" },
    { "featd_materializer_generation", "Current generation of the view" },
    { "featd_materializer_up", "1 when the view's last poll succeeded, 0 when it failed "
      "or its snapshot was rejected" },
    { "featd_view_held", "1 while the quality gate holds a generation of the view (not "
      "flipped: featd-cli materialize promote or a newer snapshot)" },
};

/* The value of gauge g for s into buf; false when not known. */
static bool gauge_value(enum gauge g, const struct mat_vstat *s, int64_t now, char *buf,
                        size_t cap)
{
    switch (g) {
    case G_LAST_SUCCESS:
        return s->last_success_us > 0 &&
               snprintf(buf, cap, "%.3f", (double)s->last_success_us / 1e6) > 0;
    case G_LAG:
        return s->max_event_us != INT64_MIN && s->max_event_us != 0 &&
               snprintf(buf, cap, "%.3f",
                        (double)mat_stats_age_us(now, s->max_event_us) / 1e6) > 0;
    case G_AHEAD:
        return s->max_event_us != INT64_MIN && s->max_event_us != 0 &&
               snprintf(buf, cap, "%.3f",
                        (double)mat_stats_age_us(s->max_event_us, now) / 1e6) > 0;
    case G_SINCE_SUCCESS:
        return s->last_success_us > 0 &&
               snprintf(buf, cap, "%.3f",
                        (double)mat_stats_age_us(now, s->last_success_us) / 1e6) > 0;
    case G_DURATION:
        return s->duration_s >= 0 && snprintf(buf, cap, "%.3f", s->duration_s) > 0;
    case G_GENERATION:
        return s->generation > 0 && snprintf(buf, cap, "%" PRIu64, s->generation) > 0;
    case G_UP:
        return s->up >= 0 && snprintf(buf, cap, "%d", s->up) > 0;
    case G_HELD:
        return s->held >= 0 && snprintf(buf, cap, "%d", s->held) > 0;
    default:
        return false;
    }
}

int mat_stats_write_metrics(struct fbuf *out)
{
    int rc = FEATD_OK;
    int64_t now = util_now_us();
    if (write_pacing(out) != FEATD_OK) {
        return FEATD_ERR;
    }
    pthread_mutex_lock(&stats_lock);
    if (write_counters(out) != FEATD_OK) {
        rc = FEATD_ERR;
    }
    for (int g = 0; g < G__N && rc == FEATD_OK; g++) {
        if (prom_header(out, gauges[g].name, "gauge", gauges[g].help) != FEATD_OK) {
            rc = FEATD_ERR;
        }
        for (size_t i = 0; i < nstats && rc == FEATD_OK; i++) {
            char val[48];
            if (!stats[i].live || !gauge_value((enum gauge)g, &stats[i], now, val, sizeof(val))) {
                continue;
            }
            if (sample(out, gauges[g].name, stats[i].name) != FEATD_OK ||
                fbuf_appendf(out, "} %s\n", val) != FEATD_OK) {
                rc = FEATD_ERR;
            }
        }
    }
    if (rc == FEATD_OK &&
        prom_header(out, "featd_snapshot_violations_total", "counter",
                    "Quality rules a snapshot broke (DESIGN 12), by rule") != FEATD_OK) {
        rc = FEATD_ERR;
    }
    for (size_t i = 0; i < nstats && rc == FEATD_OK; i++) {
        for (int r = 0; stats[i].live && r < MAT_RULES__N && rc == FEATD_OK; r++) {
            if (sample(out, "featd_snapshot_violations_total", stats[i].name) != FEATD_OK ||
                fbuf_appendf(out, ",rule=\"%s\"} %" PRIu64 "\n", rule_names[r],
                             stats[i].violations[r]) != FEATD_OK) {
                rc = FEATD_ERR;
            }
        }
    }
    if (rc == FEATD_OK &&
        prom_header(out, "featd_feature_psi", "gauge",
                    "Population stability index of a numeric feature in the last snapshot "
                    "against the view's reference (baseline, else the previous generation)") !=
            FEATD_OK) {
        rc = FEATD_ERR;
    }
    for (size_t i = 0; i < nstats && rc == FEATD_OK; i++) {
        for (size_t f = 0; stats[i].live && f < stats[i].npsi && rc == FEATD_OK; f++) {
            if (stats[i].psi[f] < 0) {
                continue;
            }
            if (sample(out, "featd_feature_psi", stats[i].name) != FEATD_OK ||
                fbuf_appendf(out, ",feature=\"") != FEATD_OK ||
                prom_label(out, stats[i].psi_names[f]) != FEATD_OK ||
                fbuf_appendf(out, "\"} %.6f\n", stats[i].psi[f]) != FEATD_OK) {
                rc = FEATD_ERR;
            }
        }
    }
    pthread_mutex_unlock(&stats_lock);
    return rc;
}
