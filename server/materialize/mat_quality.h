/*
 * mat_quality.h — the quality gate of one snapshot run (DESIGN §12): every
 * written row goes through mat_quality_row (profiles per feature, expect
 * rules per value with up to MAT_QUALITY_EXAMPLES example keys), then
 * mat_quality_verdict checks the view's "quality" rules against a
 * reference (the baseline file's profile, else the current generation's):
 * expect violations, max_null_fraction, min_rows, max_row_change, max_psi.
 *
 * Reference and result share one JSON form (mat_quality_to_json): stored
 * beside the generation, written by `featd-cli profile` as a baseline:
 *   {"rows": N, "features": {"<name>": <mat_profile JSON>, ...}}
 *
 * The materializer thread owns a struct mat_quality for one run.
 */
#ifndef FEATD_MAT_QUALITY_H
#define FEATD_MAT_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "materialize/mat_profile.h"
#include "online/online_key.h"
#include "online/online_row.h"

#define MAT_QUALITY_EXAMPLES 5
#define MAT_QUALITY_KEY_TEXT 128

/* A reference profile: rows and per-feature profiles (index = feature). */
struct mat_quality_ref {
    bool have;
    uint64_t rows;
    struct mat_feature_profile *features;   /* v->nfeatures, or NULL */
    bool *have_feature;
};

struct mat_quality {
    const struct cfg_view *v;
    uint64_t rows;
    struct mat_feature_profile *prof;       /* per feature */
    uint64_t *expect_bad;                   /* per feature: values breaking "expect" */
    char examples[MAT_QUALITY_EXAMPLES][MAT_QUALITY_KEY_TEXT];
    size_t nexamples;
};

/* Starts q for v, binning numeric features on ref's edges (ref may be NULL
 * or without them: no histograms). FEATD_ERR on OOM. */
int mat_quality_begin(struct mat_quality *q, const struct cfg_view *v,
                      const struct mat_quality_ref *ref) FEATD_MUSTCHECK;
void mat_quality_free(struct mat_quality *q);
/* One row as written: its join-key values (v->nkeys; formatted only for an
 * example) and its feature values. */
void mat_quality_row(struct mat_quality *q, const struct online_key *keys,
                     const struct online_value *vals);

/* After the last row: profiles without reference edges get their own (and
 * a histogram from their sample), to serve as the next run's reference. */
void mat_quality_finish(struct mat_quality *q);

/*
 * The rules of v->quality (and each feature's expect) against ref: one
 * line per violated rule into report (cap bytes), e.g.
 *   "expect: feature revenue: 12 values outside [0, 1e7] (e.g. 42, 77)"
 *   "max_psi: feature score: PSI 0.43 > 0.2"
 * Returns the number of violated rules (0 = pass). psi_out (may be NULL)
 * gets per feature the PSI against ref (-1 where not computable).
 */
size_t mat_quality_verdict(const struct mat_quality *q, const struct mat_quality_ref *ref,
                           char *report, size_t cap, double *psi_out);

json_t *mat_quality_to_json(const struct mat_quality *q);
/* Parses a reference (a stored profile or a baseline file's contents) for
 * v: features matched by name (missing ones have no reference). FEATD_ERR
 * with why on a malformed document. */
int mat_quality_ref_from_json(const json_t *j, const struct cfg_view *v,
                              struct mat_quality_ref *ref, char *why, size_t whylen) FEATD_MUSTCHECK;
void mat_quality_ref_free(struct mat_quality_ref *ref);

#endif
