/*
 * mat_profile.h — the profile of a snapshot's feature values (DESIGN §12),
 * built while the materializer reads the snapshot (no extra pass): rows;
 * per feature nulls, min, max, mean and a MAT_PROFILE_BINS-bin histogram
 * on fixed bin edges (the baseline's, else the current generation's), and
 * the population stability index of one histogram against another.
 *
 * Numbers: bool as 0/1, int32/int64/float/double as themselves,
 * timestamps as µs; strings, bytes and lists count rows and nulls only.
 * A value below the first edge falls in the first bin, one above the last
 * edge in the last (the edges come from another snapshot: new extremes
 * still count). NaN values are counted apart (nan) and binned nowhere.
 *
 * PSI = sum over bins of (a - e) * ln(a / e), a and e the bins' shares of
 * the actual and expected (baseline) non-null values; an empty bin's
 * share is MAT_PROFILE_PSI_EPS (so that one empty bin does not make the
 * index infinite). 0 = the same distribution, > 0.2 = a significant shift
 * (the usual reading).
 *
 * Plain values: the materializer thread builds them; no locking.
 */
#ifndef FEATD_MAT_PROFILE_H
#define FEATD_MAT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/featd.h"

#define MAT_PROFILE_BINS 10
#define MAT_PROFILE_PSI_EPS 1e-4
#define MAT_PROFILE_SAMPLE 2048     /* values kept (reservoir) when there are no edges */

struct mat_feature_profile {
    uint64_t values;            /* non-null values seen */
    uint64_t nulls;
    uint64_t nan;               /* NaN values (numeric; not binned) */
    bool numeric;
    double min, max, sum;       /* numeric non-NaN values; min > max while none */
    bool have_edges;
    double edges[MAT_PROFILE_BINS + 1];
    uint64_t hist[MAT_PROFILE_BINS];
    double *sample;             /* without edges: a uniform sample of the values (reservoir,
                                   MAT_PROFILE_SAMPLE, malloc'd on first use; NULL after OOM) */
    size_t nsample;
    uint64_t rng;               /* the reservoir's generator (deterministic) */
};

/* Starts p empty; edges (MAT_PROFILE_BINS + 1 ascending values) may be NULL:
 * no histogram (the first snapshot, no baseline). */
void mat_profile_init(struct mat_feature_profile *p, bool numeric, const double *edges);
void mat_profile_null(struct mat_feature_profile *p);
/* A non-null value: x for a numeric feature (ignored otherwise). */
void mat_profile_value(struct mat_feature_profile *p, double x);
/* Ends a profile without edges: edges over its own range (mat_profile_edges)
 * and the histogram of its sample on them, so that it can be the next
 * run's reference. Frees the sample. Nothing when p had edges. */
void mat_profile_finish(struct mat_feature_profile *p);
/* Frees the sample (a profile dropped without mat_profile_finish). */
void mat_profile_free(struct mat_feature_profile *p);
/* Mean of the numeric values (0 when none). */
double mat_profile_mean(const struct mat_feature_profile *p);
/* Equal-width edges over [p->min, p->max] into edges (a single value: a
 * width of 1 around it): the next snapshot's bins when no baseline exists.
 * false when p saw no numeric value. */
bool mat_profile_edges(const struct mat_feature_profile *p, double edges[MAT_PROFILE_BINS + 1]);
/* PSI of actual against expected (both MAT_PROFILE_BINS bins on the same
 * edges); -1 when either has no value. */
double mat_profile_psi(const uint64_t expected[MAT_PROFILE_BINS],
                       const uint64_t actual[MAT_PROFILE_BINS]);

/* JSON form (stored with the generation, and a baseline file's per-feature
 * entry): {"values","nulls","nan","min","max","mean","edges":[...],"hist":[...]}
 * (min/max/mean/edges/hist only when present). NULL on OOM. */
json_t *mat_profile_to_json(const struct mat_feature_profile *p);
/* The reverse; FEATD_ERR with a reason in why on a malformed object
 * (wrong types, edges not ascending, hist of another length). */
int mat_profile_from_json(const json_t *j, struct mat_feature_profile *p, char *why,
                          size_t whylen) FEATD_MUSTCHECK;

#endif
