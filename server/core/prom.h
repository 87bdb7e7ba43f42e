/*
 * prom.h — the Prometheus text exposition format (0.0.4), written into an
 * fbuf: family headers, escaped label values, histograms of struct
 * metrics_hist. The one writer of that format: the admin server's /metrics
 * and the materializer's per-view families both go through it.
 *
 * Every function appends to out and returns FEATD_OK, or FEATD_ENOMEM when
 * out could not grow (out then holds a partial text; callers drop it).
 * Pure functions of their arguments; any thread.
 */
#ifndef FEATD_PROM_H
#define FEATD_PROM_H

#include "core/featd.h"
#include "core/metrics.h"
#include "core/fbuf.h"

/* "# HELP <name> <help>\n# TYPE <name> <type>\n" (help escaped: \\ and \n). */
int prom_header(struct fbuf *out, const char *name, const char *type,
                const char *help) FEATD_MUSTCHECK;

/* s as a label value, without the quotes: \\, \" and \n escaped. */
int prom_label(struct fbuf *out, const char *s) FEATD_MUSTCHECK;

/* A family with one unlabelled sample; fmt formats the value. */
int prom_scalar(struct fbuf *out, const char *name, const char *type, const char *help,
                const char *fmt, ...) FEATD_PRINTF(5, 6) FEATD_MUSTCHECK;

/*
 * The samples of one histogram: name_bucket{<labels>le="..."} (cumulative),
 * name_sum (seconds) and name_count. labels is NULL or a ready label list
 * with a trailing comma ("phase=\"decode\","); the header is the caller's.
 */
int prom_hist_samples(struct fbuf *out, const char *name, const char *labels,
                      const struct metrics_hist *h) FEATD_MUSTCHECK;

/* As prom_hist_samples, for an age histogram (core/metrics_view.h). */
int prom_age_hist_samples(struct fbuf *out, const char *name, const char *labels,
                          const struct metrics_age_hist *h) FEATD_MUSTCHECK;

/* prom_header(name, "histogram", help) + prom_hist_samples(name, NULL, h). */
int prom_hist(struct fbuf *out, const char *name, const char *help,
              const struct metrics_hist *h) FEATD_MUSTCHECK;

#endif
