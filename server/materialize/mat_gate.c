/*
 * mat_gate.c — the quality gate around a snapshot run: reference, verdict,
 * stored profile (contract in materialize/mat_gate.h).
 */
#include "materialize/mat_gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "materialize/mat_state.h"
#include "materialize/mat_stats.h"

bool mat_gate_wanted(const struct cfg_view *v)
{
    if (v->quality.has) {
        return true;
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        if (v->features[f].expect.has) {
            return true;
        }
    }
    return false;
}

int mat_gate_begin(struct mat_ctx *x, struct mat_run *run, uint64_t cur, struct mat_quality *q,
                   struct mat_quality_ref *ref)
{
    const struct cfg_view *v = run->v;
    memset(ref, 0, sizeof(*ref));
    json_t *doc = NULL;
    char why[512];
    if (v->quality.baseline != NULL) {
        json_error_t jerr;
        doc = json_load_file(v->quality.baseline, 0, &jerr);
        if (doc == NULL) {
            mat_ctx_run_err(run, "quality.baseline %s: %s", v->quality.baseline, jerr.text);
            return RUN_FAIL;
        }
    } else if (cur != 0) {
        char *text = NULL;
        if (mat_state_profile_get(mat_ctx_vc(x, v), x->cfg->redis.key_prefix, v, cur, &text, why,
                                  sizeof why) != FEATD_OK) {
            mat_ctx_run_err(run, "%s", why);
            return RUN_FAIL;
        }
        doc = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
    }
    if (doc != NULL && mat_quality_ref_from_json(doc, v, ref, why, sizeof why) != FEATD_OK) {
        if (v->quality.baseline != NULL) {
            mat_ctx_run_err(run, "quality.baseline %s: %s", v->quality.baseline, why);
            json_decref(doc);
            return RUN_FAIL;
        }
        log_warn("materializer", "view %s: the profile of generation %" PRIu64 " is unreadable "
                 "(%s): no reference this run", v->name, cur, why);
    }
    json_decref(doc);
    if (mat_quality_begin(q, v, ref) != FEATD_OK) {
        mat_quality_ref_free(ref);
        mat_ctx_run_err(run, "out of memory");
        return RUN_FAIL;
    }
    run->q = q;
    return RUN_OK;
}

int mat_gate_judge(struct mat_ctx *x, struct mat_run *run, uint64_t gen, struct mat_quality *q,
                   const struct mat_quality_ref *ref, bool *hold)
{
    const struct cfg_view *v = run->v;
    *hold = false;
    mat_quality_finish(q);
    char report[2048];
    double *psi = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(double));
    size_t bad = mat_quality_verdict(q, ref, report, sizeof report, psi);
    mat_stats_quality(v, psi, report);
    free(psi);
    json_t *j = mat_quality_to_json(q);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char why[512] = "out of memory";
    int rc = text != NULL && mat_state_profile_put(mat_ctx_vc(x, v), x->cfg->redis.key_prefix, v,
                                                   gen, text, why, sizeof why) == FEATD_OK
                 ? RUN_OK : RUN_FAIL;
    free(text);
    if (rc != RUN_OK) {
        mat_ctx_run_err(run, "storing the profile of generation %" PRIu64 ": %s", gen, why);
        return RUN_FAIL;
    }
    mat_state_set_violations(x->hs, report);
    if (bad == 0) {
        return RUN_OK;
    }
    *hold = v->quality.on_violation == VIOLATION_HOLD;
    log_warn("materializer", "view %s: snapshot %s breaks %zu quality rule%s%s:\n%s", v->name,
             run->snap_name ? run->snap_name : "?", bad, bad == 1 ? "" : "s",
             *hold ? " (held: the current generation keeps serving; featd-cli materialize "
                     "promote/rollback)" : " (on_violation warn: applied anyway)", report);
    return RUN_OK;
}
